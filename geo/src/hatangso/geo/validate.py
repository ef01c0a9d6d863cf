"""Turn raw records into the contract's clean layers, and say exactly what was wrong.

Two kinds of fault are told apart, as the contract asks:

* a fault of the *file* (a required column missing, duplicate ids, coordinates that only make
  sense swapped, x/y without a CRS, undecodable text) stops the run: every such fault of the file
  is collected and raised together in one :class:`~hatangso.geo.errors.InputError`;
* a fault of a *row* (no id, an empty or unrepairable geometry, a point outside Vietnam, a value
  that is not a number ...) sends that row to the rejects with its reason; the rest goes on.

Invalid geometries are repaired with ``shapely.make_valid`` where the result keeps the expected
type, and counted. ``read == used + rejected`` always holds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from hatangso.geo import carrier
from hatangso.geo.errors import InputError, Problem
from hatangso.geo.io import RawTable, read_table
from hatangso.geo.outline import BORDER_TOLERANCE_M, in_vietnam, vietnam_outline
from hatangso.geo.progress import Progress
from hatangso.geo.schema import COORDINATE_ALIASES, POI_KINDS, ColumnSpec, LayerSpec, spec_for
from hatangso.geo.techs import TECHNOLOGIES, parse_techs
from hatangso.geo.text import fold_key, nfc_texts, normalize_operator

__all__ = [
    "Layer",
    "columns_for",
    "load_layer",
    "load_layers",
    "parse_column_map",
    "validate_table",
]

log = logging.getLogger(__name__)

REJECT_COLUMNS = ["file", "row", "id", "reason"]

# Lon/lat boxes that hold Vietnam: the mainland with its coastal islands, the Hoàng Sa
# (Paracel) and the Trường Sa (Spratly) archipelagos. They tell swapped or non-degree coordinates
# apart cheaply; whether a point lies in Vietnam is decided by its outline (hatangso.geo.outline).
_VIETNAM_BOXES = np.array(
    [
        [102.10, 8.30, 109.70, 23.45],
        [111.00, 15.60, 113.00, 17.20],
        [111.40, 6.00, 117.90, 12.00],
    ]
)


_ENVIRONMENTS = {
    "urban": "urban",
    "dense urban": "urban",
    "thanh thi": "urban",
    "do thi": "urban",
    "noi thanh": "urban",
    "suburban": "suburban",
    "ven do": "suburban",
    "ngoai thanh": "suburban",
    "ngoai o": "suburban",
    "rural": "rural",
    "open": "rural",
    "nong thon": "rural",
    "mien nui": "rural",
    "vung sau vung xa": "rural",
}
_ENV_KEYS = {fold_key(k): v for k, v in _ENVIRONMENTS.items()}

_POI_ALIASES = {
    **{fold_key(k): k for k in POI_KINDS},
    **{
        fold_key(alias): kind
        for kind, aliases in {
            "district_centre": ("district center", "trung tam huyen", "huyen ly", "district"),
            "industrial_park": (
                "khu cong nghiep",
                "kcn",
                "cum cong nghiep",
                "ccn",
                "industrial zone",
                "industrial estate",
            ),
            "tourism": ("tourist site", "du lich", "khu du lich", "diem du lich", "tourist"),
            "commune_hq": (
                "ubnd xa",
                "tru so xa",
                "tru so ubnd xa",
                "commune office",
                "commune hq",
                "uy ban nhan dan xa",
                "ubnd phuong",
            ),
            # Concentrated production areas of a provincial plan (agriculture, forestry,
            # aquaculture) whose sensors and machines IoT serves.
            "production_zone": (
                "production area",
                "khu san xuat",
                "vung san xuat",
                "vung san xuat tap trung",
                "vung nguyen lieu",
                "khu nong nghiep cong nghe cao",
            ),
        }.items()
        for alias in aliases
    },
}

# GeoPackage and spreadsheet round trips turn 1/0 into "1.0"/"0.0": those are yes/no too.
_TRUE = {"true", "t", "yes", "y", "1", "1.0", "co", "x", "dung", "da ket noi", "ketnoi"}
_FALSE = {"false", "f", "no", "n", "0", "0.0", "khong", "chua", "chua ket noi", "sai"}
_TRUE_KEYS = {fold_key(v) for v in _TRUE}
_FALSE_KEYS = {fold_key(v) for v in _FALSE}

# Plausible ranges of the numeric columns: (low, high, inclusive-low). The sites' EIRP and
# bandwidth are checked by _check_site_eirp, which knows the technology and the likely mistake.
_RANGES: dict[str, tuple[float, float]] = {
    "population": (0.0, 1e7),
    "households": (0.0, 5e6),
    "height_m": (0.5, 400.0),
    "cost": (0.0, np.inf),
    "azimuth_deg": (-360.0, 720.0),
    "beamwidth_deg": (1.0, 360.0),
    "freq_mhz": (100.0, 100_000.0),
    "rsrp_dbm": (-160.0, -20.0),
    # Measured speeds: not negative; 10 Gb/s is above any handset's peak (5G mmWave: ~4 Gb/s).
    "download_mbps": (0.0, 10_000.0),
    "upload_mbps": (0.0, 10_000.0),
    "centre_lon": (-180.0, 180.0),
    "centre_lat": (-90.0, 90.0),
    "centre_x": (-1e8, 1e8),
    "centre_y": (-1e8, 1e8),
}
_COUNT_COLUMNS = {"population", "households"}
_THOUSANDS = re.compile(r"^\d{1,3}([.,]\d{3})+$")
# Grouped thousands that cannot be read as one decimal: Vietnamese "2.345.678,5" (points group,
# a comma decimal) or English "2,345,678.5"; a single group ("581.234") stays a decimal.
_GROUPED_POINTS = r"[-+]?\d{1,3}(?:\.\d{3})+,\d+|[-+]?\d{1,3}(?:\.\d{3}){2,}"
_GROUPED_COMMAS = r"[-+]?\d{1,3}(?:,\d{3})+\.\d+|[-+]?\d{1,3}(?:,\d{3}){2,}"
# What a number column is written like, for the fix of a value that is not one.
_NUMBER_EXAMPLES = {
    "lon": "decimal degrees such as 105.85",
    "lat": "decimal degrees such as 21.03",
    "x": "metres such as 581234.5",
    "y": "metres such as 2345678.9",
}


@dataclass(frozen=True)
class Layer:
    """A clean input layer and the account of what was refused.

    Attributes
    ----------
    kind
        The input kind (``villages``, ``sites`` ...).
    name
        The file's name.
    frame
        The rows used: the contract's columns (canonical names, NFC text, normalised operators),
        the file's other columns as they were, ``source_row`` (1-based record number in the
        file) and, for geographic kinds, the geometry in EPSG:4326. A plain DataFrame for
        ``declared``.
    rejects
        One row per refused record: ``file``, ``row``, ``id``, ``reason``.
    read
        Records in the file.
    repaired
        Used rows whose geometry was invalid and repaired.
    notes
        Warnings that did not refuse anything (unknown operator names, an assumed CRS ...).
    """

    kind: str
    name: str
    frame: pd.DataFrame
    rejects: pd.DataFrame
    read: int
    repaired: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def used(self) -> int:
        """Rows kept."""
        return len(self.frame)

    @property
    def rejected(self) -> int:
        """Rows refused."""
        return len(self.rejects)

    def counts(self) -> dict[str, int]:
        """Return the input accounting of ``kpis.json``: read, used, rejected, repaired.

        Villages whose population is unknown (blank, or 0 read as unknown) add
        ``population_unknown`` when there are any.
        """
        counts = {
            "read": self.read,
            "used": self.used,
            "rejected": self.rejected,
            "repaired": self.repaired,
        }
        if self.kind == "villages" and "population" in self.frame:
            unknown = int(pd.to_numeric(self.frame["population"], errors="coerce").isna().sum())
            if unknown:
                counts["population_unknown"] = unknown
        return counts


def parse_column_map(text: str | None) -> dict[str, str]:
    """Parse ``--columns village_id=osm_id,name=ten`` into ``{"village_id": "osm_id", ...}``.

    Raises
    ------
    InputError
        If an item is not of the form ``contract_name=file_column``.

    Examples
    --------
    >>> parse_column_map("village_id=osm_id, name=ten")
    {'village_id': 'osm_id', 'name': 'ten'}
    """
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(
                Problem(
                    file="--columns",
                    message=f"'{item.strip()}' is not of the form contract_name=file_column",
                    fix="write e.g. --columns village_id=osm_id,name=ten",
                )
            )
        mapping[key.strip()] = value.strip()
    return mapping


class _Rows:
    """Per-row reasons for refusal, collected with vectorised masks."""

    def __init__(self, n: int) -> None:
        self.reasons = np.full(n, "", dtype=object)

    def reject(
        self,
        mask: npt.NDArray[np.bool_],
        reason: str | pd.Series | Callable[[npt.NDArray[np.bool_]], npt.ArrayLike],
    ) -> None:
        """Refuse the rows of `mask` for `reason`.

        `reason` is one text, per-row texts, or a function that builds the texts of the
        masked rows only (so nothing is formatted for the good rows).
        """
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        if callable(reason):
            texts = np.asarray(reason(mask), dtype=object)
        elif isinstance(reason, pd.Series):
            texts = reason.to_numpy(dtype=object)[mask]
        else:
            texts = np.full(int(mask.sum()), reason, dtype=object)
        current = self.reasons[mask]
        self.reasons[mask] = np.where(current == "", texts, current + "; " + texts)

    @property
    def bad(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.reasons != "", dtype=bool)


def _match_columns(
    present: list[str], spec: LayerSpec, user_map: Mapping[str, str], name: str
) -> tuple[dict[str, str], list[Problem]]:
    """Map contract names (and coordinate names) to the file's columns."""
    problems: list[Problem] = []
    known = {c.name for c in spec.columns} | set(COORDINATE_ALIASES) | {"geometry", "wkt"}
    folded: dict[str, str] = {}
    for column in present:
        folded.setdefault(fold_key(column), column)
    mapping: dict[str, str] = {}
    for target, source in user_map.items():
        if target not in known:
            problems.append(
                Problem(
                    file=name,
                    column=target,
                    message=f"--columns names '{target}', which is not a column of {spec.kind}",
                    fix=f"use one of {', '.join(sorted(known - {'geometry'}))}",
                )
            )
        elif source not in present and fold_key(source) not in folded:
            problems.append(
                Problem(
                    file=name,
                    column=source,
                    message=f"--columns maps {target} to '{source}', which the file does not have "
                    f"(it has: {', '.join(present)})",
                    fix="check the spelling of the file's column",
                )
            )
        else:
            mapping[target] = source if source in present else folded[fold_key(source)]
    taken = set(mapping.values())
    candidates: list[tuple[str, tuple[str, ...]]] = [
        (c.name, (c.name, *c.aliases)) for c in spec.columns
    ]
    candidates += list(COORDINATE_ALIASES.items())
    candidates.append(("wkt", ("wkt", "geometry", "geom", "the geom", "shape")))
    # An exact canonical name anywhere beats an alias, so match in two passes.
    for exact in (True, False):
        for target, names in candidates:
            if target in mapping:
                continue
            for alias in names[:1] if exact else names[1:]:
                found = folded.get(fold_key(alias))
                if found is not None and found not in taken:
                    mapping[target] = found
                    taken.add(found)
                    break
    return mapping, problems


def _parse_numbers(values: pd.Series, *, counts: bool) -> pd.Series:
    """Parse numbers written with a decimal comma or (for counts) thousands separators."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    text = values.astype("string").str.strip().str.replace(" ", "", regex=False)
    if counts:
        grouped = text.str.fullmatch(_THOUSANDS.pattern).fillna(False).astype(bool)
        text = text.mask(grouped, text.str.replace(r"[.,]", "", regex=True))
    points = text.str.fullmatch(_GROUPED_POINTS).fillna(False).astype(bool)
    text = text.mask(points, text.str.replace(".", "", regex=False))
    commas = text.str.fullmatch(_GROUPED_COMMAS).fillna(False).astype(bool)
    text = text.mask(commas, text.str.replace(",", "", regex=False))
    text = text.str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _not_a_number(name: str, values: pd.Series, source: str) -> npt.NDArray[np.object_]:
    """Return the reasons why `values` (of column `source`, contract name `name`) are no number.

    Each names the value and how to write it: degrees, minutes and seconds as decimal degrees,
    one decimal separator, or a plain number.
    """
    text = values.astype("string").fillna("").str.strip()
    dms = text.str.contains("[°º′″'\"]", regex=True).to_numpy(dtype=bool)
    separators = text.str.count("[.,]").to_numpy(dtype=np.int64)
    digits = text.str.fullmatch(r"[-+]?[\d.,]+").fillna(False).to_numpy(dtype=bool)
    example = _NUMBER_EXAMPLES.get(name, "a number such as 12.5")
    fix = np.select(
        [dms, digits & (separators > 1)],
        [
            "write decimal degrees: degrees + minutes/60 + seconds/3600 (105°48'30\" is 105.8083)",
            f"write one decimal separator (a point or a comma), e.g. {example}",
        ],
        f"write {example} (a point or a comma as the decimal separator)",
    )
    reasons = f"{name} '" + text + f"' in '{source}' is not a number. Fix: " + fix
    return np.asarray(reasons.to_numpy(dtype=object), dtype=object)


def _blank(values: pd.Series) -> npt.NDArray[np.bool_]:
    if pd.api.types.is_numeric_dtype(values):
        return np.asarray(values.isna(), dtype=bool)
    text = values.astype("string").str.strip()
    return np.asarray(text.isna() | (text == "") | text.str.lower().isin(["nan", "none", "null"]))


def _as_text(values: pd.Series) -> pd.Series:
    """Text values, NFC, with integral floats written without '.0' (ids read as numbers)."""
    if pd.api.types.is_float_dtype(values):
        as_int = values.dropna()
        if (as_int == np.floor(as_int)).all():
            values = values.astype("Int64")
    return nfc_texts(values.astype("string").str.strip())


def _map_distinct(text: pd.Series, table: Mapping[str, str]) -> pd.Series:
    """Look folded values up in `table`, folding each distinct value once."""
    codes, uniques = pd.factorize(text)
    looked = np.array([table.get(fold_key(str(u))) for u in uniques] + [None], dtype=object)
    return pd.Series(looked[codes], index=text.index, dtype="string")


def _in_vietnam(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    x = np.asarray(lon, dtype=float)[..., None]
    y = np.asarray(lat, dtype=float)[..., None]
    b = _VIETNAM_BOXES
    inside = (x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3])
    return np.asarray(inside.any(axis=-1), dtype=bool)


def _parse_crs(value: str | None) -> pyproj.CRS | None:
    if value is None:
        return None
    from hatangso.geo.crs import parse_crs
    from hatangso.geo.errors import CRSError

    try:
        return parse_crs(value)
    except CRSError as exc:
        raise CRSError(f"--crs {value}: {exc}") from exc


def _row_label(rows: npt.NDArray[np.int64], limit: int = 10) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"rows {shown}{more}" if len(rows) > 1 else f"row {shown}"


class _Context:
    """What one validation run knows about its file."""

    def __init__(self, raw: RawTable, spec: LayerSpec) -> None:
        self.raw = raw
        self.spec = spec
        self.name = raw.name
        self.n = len(raw.frame)
        self.rows = _Rows(self.n)
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.source_row = np.arange(1, self.n + 1, dtype=np.int64)
        self.no_coordinates = np.zeros(self.n, dtype=bool)

    def stop(
        self, message: str, fix: str, *, column: str | None = None, row: int | None = None
    ) -> None:
        self.problems.append(
            Problem(file=self.name, message=message, fix=fix, column=column, row=row)
        )


def _coordinate_faults(
    name: str, source: str, values: pd.Series, numbers: npt.NDArray[np.float64]
) -> npt.NDArray[np.object_]:
    """Return why each value of a coordinate column is no usable number ('' where it is).

    `name` is the contract's (``lon``, ``lat``, ``x``, ``y``), `source` the file's column,
    `numbers` the values as :func:`_parse_numbers` read them. An empty cell, a value that is
    not a number (named, with how to write it) and an infinite one each have their reason.
    """
    reasons = np.full(len(numbers), "", dtype=object)
    unusable = ~np.isfinite(numbers)
    if not unusable.any():
        return reasons
    blank = _blank(values)
    reasons[blank] = f"empty '{source}' ({name}). Fix: fill in the coordinate"
    unreadable = ~blank & np.isnan(numbers)
    if unreadable.any():
        reasons[unreadable] = _not_a_number(name, values[unreadable], source)
    reasons[~blank & ~unreadable & unusable] = f"an infinite {name} in '{source}'"
    return reasons


def _coordinates(
    ctx: _Context, frame: pd.DataFrame, mapping: dict[str, str], names: tuple[str, str]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Parse a pair of coordinate columns; refuse the rows without two usable numbers.

    Returns both columns as floats and the mask of the rows refused (also kept in
    ``ctx.no_coordinates``, so that their empty geometry is not reported a second time).
    """
    parsed = []
    missing = np.zeros(ctx.n, dtype=bool)
    for name in names:
        values = frame[mapping[name]]
        numbers = _parse_numbers(values, counts=False).to_numpy(dtype=np.float64)
        reasons = _coordinate_faults(name, mapping[name], values, numbers)
        ctx.rows.reject(reasons != "", pd.Series(reasons))
        missing |= reasons != ""
        parsed.append(numbers)
    ctx.no_coordinates |= missing
    return parsed[0], parsed[1], missing


def _geometry_from_columns(
    ctx: _Context, frame: pd.DataFrame, mapping: dict[str, str], crs: pyproj.CRS | None
) -> gpd.GeoSeries | None:
    """Build the geometry of a table from lon/lat, x/y or WKT columns."""
    kind = ctx.spec.kind
    if "lon" in mapping and "lat" in mapping:
        lon, lat, missing = _coordinates(ctx, frame, mapping, ("lon", "lat"))
        geo_crs = crs if crs is not None and crs.is_geographic else pyproj.CRS.from_epsg(4326)
        if crs is not None and not crs.is_geographic:
            ctx.notes.append(
                f"{ctx.name}: --crs {crs.name} is projected but the file gives longitude and "
                "latitude; they are read as WGS 84"
            )
        ok = ~missing
        inside = _in_vietnam(lon[ok], lat[ok])
        swapped = _in_vietnam(lat[ok], lon[ok])
        if ok.any() and inside.mean() < 0.5 and swapped.mean() > 0.5:
            ctx.stop(
                f"the coordinates make sense only with longitude and latitude swapped "
                f"({swapped.mean():.0%} of rows fall in Vietnam when '{mapping['lon']}' is read "
                f"as latitude, {inside.mean():.0%} as given)",
                f"swap the columns, or pass --columns lon={mapping['lat']},lat={mapping['lon']}",
                column=mapping["lon"],
            )
        points = np.full(len(lon), None, dtype=object)
        points[ok] = shapely.points(lon[ok], lat[ok])
        return gpd.GeoSeries(points, crs=geo_crs)
    if "x" in mapping and "y" in mapping:
        x, y, missing = _coordinates(ctx, frame, mapping, ("x", "y"))
        ok = ~missing
        if ok.any():
            northing_like = (x[ok] > 1_000_000) & (y[ok] > 100_000) & (y[ok] < 1_000_000)
            if northing_like.mean() > 0.5:
                ctx.stop(
                    f"column '{mapping['x']}' holds northings ({np.nanmedian(x[ok]):.0f}) and "
                    f"'{mapping['y']}' eastings ({np.nanmedian(y[ok]):.0f}): Vietnamese surveys "
                    "write X for the northing, hatangso reads x as the easting",
                    f"pass --columns x={mapping['y']},y={mapping['x']}",
                    column=mapping["x"],
                )
        if (
            (crs is None or crs.is_geographic)
            and ok.any()
            and _in_vietnam(x[ok], y[ok]).mean() > 0.5
        ):
            # X/Y in degrees, as QGIS writes a WGS 84 layer's points to CSV: longitude/latitude.
            ctx.notes.append(
                f"{ctx.name}: '{mapping['x']}'/'{mapping['y']}' hold degrees in Vietnam: read as "
                "longitude/latitude"
                + ("" if crs is not None else " in WGS 84 (give --crs if another datum)")
            )
            points = np.full(len(x), None, dtype=object)
            points[ok] = shapely.points(x[ok], y[ok])
            return gpd.GeoSeries(points, crs=crs if crs is not None else pyproj.CRS.from_epsg(4326))
        if crs is None:
            ctx.stop(
                f"the file gives projected x/y in '{mapping['x']}'/'{mapping['y']}' but no "
                "coordinate reference system",
                "pass --crs, e.g. --crs VN2000:<province> for the province's VN-2000 zone or "
                "--crs EPSG:3405",
                column=mapping["x"],
            )
            return None
        if crs.is_geographic:
            ctx.stop(
                f"--crs {crs.name} is geographic but '{mapping['x']}'/'{mapping['y']}' look like "
                "projected metres",
                "give the projected CRS the coordinates were measured in (e.g. VN2000:<province>)",
                column=mapping["x"],
            )
            return None
        points = np.full(len(x), None, dtype=object)
        points[ok] = shapely.points(x[ok], y[ok])
        return gpd.GeoSeries(points, crs=crs)
    if "wkt" in mapping:
        text = frame[mapping["wkt"]].astype("string").fillna("")
        geoms = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="ignore")
        ctx.rows.reject(
            shapely.is_missing(geoms) & (text.str.strip() != "").to_numpy(),
            f"'{mapping['wkt']}' is not readable WKT",
        )
        return gpd.GeoSeries(geoms, crs=crs if crs is not None else pyproj.CRS.from_epsg(4326))
    if kind == "villages":
        fix = "add lon/lat (Kinh độ/Vĩ độ) or x/y columns, or give a GeoPackage/Shapefile"
    else:
        fix = "add lon/lat (Kinh độ/Vĩ độ), x/y or WKT columns"
    ctx.stop("the table has no geometry and no coordinate columns", fix)
    return None


_ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    "point": ("Point",),
    "polygon": ("Polygon", "MultiPolygon"),
    "line": ("LineString", "MultiLineString"),
    "point_or_polygon": ("Point", "Polygon", "MultiPolygon"),
    "any": ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"),
}
_FAMILY = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "LinearRing": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}


def _keep_family(geoms: npt.NDArray[np.object_], family: str) -> npt.NDArray[np.object_]:
    """Keep the parts of (repaired) geometries that are of `family`; empty where none is."""
    out = geoms.copy()
    type_ids = shapely.get_type_id(geoms)
    wanted = {"polygon": (3, 6), "line": (1, 2, 5), "point": (0, 4)}[family]
    mixed = ~np.isin(type_ids, wanted) & ~shapely.is_missing(geoms)
    if not mixed.any():
        return out
    sub = geoms[mixed]
    parts, index = shapely.get_parts(sub, return_index=True)
    # get_parts flattens one level: a collection may hold multi-part members.
    parts2, index2 = shapely.get_parts(parts, return_index=True)
    index2 = index[index2]
    keep = np.isin(shapely.get_type_id(parts2), {"polygon": 3, "line": 1, "point": 0}[family])
    builder = {
        "polygon": shapely.multipolygons,
        "line": shapely.multilinestrings,
        "point": shapely.multipoints,
    }[family]
    rebuilt = np.full(len(sub), None, dtype=object)
    if keep.any():
        # The builder wants indices 0, 1, 2 ... without gaps: a geometry without any part of
        # `family` (a degenerate polygon repaired into a line) leaves a gap, so renumber.
        groups, dense = np.unique(index2[keep], return_inverse=True)
        rebuilt[groups] = builder(parts2[keep], indices=dense)
    empty = shapely.is_missing(rebuilt)
    rebuilt[empty] = shapely.from_wkt("GEOMETRYCOLLECTION EMPTY")
    # A single part comes back as itself, not as a one-part multi-geometry.
    single = shapely.get_num_geometries(rebuilt) == 1
    rebuilt[single] = shapely.get_geometry(rebuilt[single], 0)
    out[mixed] = rebuilt
    return out


def _check_geometry(ctx: _Context, geoms: gpd.GeoSeries) -> tuple[gpd.GeoSeries, int]:
    """Refuse empty, unrepairable, mistyped or out-of-country geometries; repair the rest."""
    family = ctx.spec.geometry
    allowed = _ALLOWED_TYPES[family]
    values = np.asarray(geoms.array, dtype=object)
    missing = shapely.is_missing(values) | shapely.is_empty(values)
    ctx.rows.reject(  # a row whose coordinates were refused has its reason already
        missing & ~ctx.no_coordinates,
        "empty geometry (or one that cannot be read, e.g. an unclosed ring)",
    )
    # One-point multipoints are points written by tools that always write multi-geometries.
    if "Point" in allowed:
        multipoint = (shapely.get_type_id(values) == 4) & (shapely.get_num_geometries(values) == 1)
        values[multipoint] = shapely.get_geometry(values[multipoint], 0)
    present = ~missing
    invalid = present & ~shapely.is_valid(values)
    repaired = 0
    if invalid.any():
        fixed = shapely.make_valid(values[invalid])
        target = "polygon" if family in ("polygon", "point_or_polygon") else family
        original_types = shapely.get_type_id(values[invalid])
        fam = np.where(np.isin(original_types, (3, 6)), "polygon", target)
        for wanted in np.unique(fam):
            sel = fam == wanted
            if wanted in ("polygon", "line", "point"):
                fixed[sel] = _keep_family(fixed[sel], str(wanted))
        gone = shapely.is_empty(fixed) | ~shapely.is_valid(fixed)
        idx = np.flatnonzero(invalid)
        reasons = shapely.is_valid_reason(values[invalid])
        bad_idx = idx[gone]
        if len(bad_idx):
            mask = np.zeros(ctx.n, dtype=bool)
            mask[bad_idx] = True
            bad_reasons = [f"unrepairable geometry ({r})" for r in np.asarray(reasons)[gone]]
            ctx.rows.reject(mask, lambda _m: bad_reasons)
        good_idx = idx[~gone]
        values[good_idx] = fixed[~gone]
        repaired_mask = np.zeros(ctx.n, dtype=bool)
        repaired_mask[good_idx] = True
        repaired_rows = repaired_mask
    else:
        repaired_rows = np.zeros(ctx.n, dtype=bool)
    types = shapely.get_type_id(values)
    type_names = np.array(
        [
            "Point",
            "LineString",
            "LinearRing",
            "Polygon",
            "MultiPoint",
            "MultiLineString",
            "MultiPolygon",
            "GeometryCollection",
        ],
        dtype=object,
    )
    names = np.where(types >= 0, type_names[np.clip(types, 0, 7)], "")
    wrong = present & ~np.isin(names, allowed) & ~ctx.rows.bad
    ctx.rows.reject(
        wrong, lambda m: [f"expected {' or '.join(allowed)}, got {n}" for n in names[m]]
    )
    result = gpd.GeoSeries(values, crs=geoms.crs)
    repaired = int((repaired_rows & ~ctx.rows.bad).sum())
    return result, repaired


def _check_in_vietnam(ctx: _Context, geoms: gpd.GeoSeries) -> None:
    values = np.asarray(geoms.array, dtype=object)
    live = ~(shapely.is_missing(values) | shapely.is_empty(values))
    bounds = np.full((len(values), 4), np.nan)
    bounds[live] = shapely.bounds(values[live])
    cx = (bounds[:, 0] + bounds[:, 2]) / 2
    cy = (bounds[:, 1] + bounds[:, 3]) / 2
    outside = live & ~in_vietnam(cx, cy)
    # The box's centre of a province or commune with islands far off its coast (Đà Nẵng with
    # Hoàng Sa, Khánh Hòa with Trường Sa, Kiên Giang) lies in the open sea: judge those by a
    # point on the geometry itself.
    if outside.any():
        points = shapely.point_on_surface(values[outside])
        cx[outside], cy[outside] = shapely.get_x(points), shapely.get_y(points)
        outside[outside] = ~in_vietnam(cx[outside], cy[outside])
    ctx.rows.reject(outside, lambda m: _outside_reasons(cx[m], cy[m]))


def _outside_reasons(lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]) -> list[str]:
    """Say where each point outside Vietnam is and what the likely fault is."""
    degrees = (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    swapped = in_vietnam(lat, lon)
    hints = np.where(
        swapped,
        ": longitude and latitude swapped? Fix: swap the two columns",
        np.where(
            degrees,
            f": more than {BORDER_TOLERANCE_M / 1000:g} km beyond Vietnam's border or coast. "
            "Fix: correct the point, or give --crs if it is x/y in another CRS",
            ": not a longitude/latitude in degrees. Fix: correct the point, or give --crs "
            "if the file is x/y in a projected CRS",
        ),
    )
    return [
        f"outside Vietnam (lon {x:.4f}, lat {y:.4f}){hint}"
        for x, y, hint in zip(lon, lat, hints, strict=True)
    ]


def _normalise_value_column(
    ctx: _Context, col: ColumnSpec, values: pd.Series, source: str
) -> pd.Series:
    """Parse one contract column; refuse rows with unusable values."""
    blank = _blank(values)
    if col.required and col.name != ctx.spec.id_column:
        ctx.rows.reject(blank, f"empty '{source}' ({col.name})")
    if col.dtype in ("int", "float"):
        numbers = _parse_numbers(values, counts=col.name in _COUNT_COLUMNS)
        unparsed = ~blank & numbers.isna().to_numpy()
        text = values.astype("string")
        ctx.rows.reject(
            unparsed,
            lambda m: f"{col.name} '" + text[m].fillna("") + f"' in '{source}' is not a number",
        )
        low, high = _RANGES.get(col.name, (-np.inf, np.inf))
        out_of_range = ~unparsed & ~blank & ((numbers < low) | (numbers > high)).to_numpy()
        ctx.rows.reject(
            out_of_range,
            lambda m: (
                f"{col.name} "
                + numbers[m].astype("string").fillna("")
                + f" is outside the plausible range {low:g} to {high:g}"
            ),
        )
        if col.default is not None:
            numbers = numbers.fillna(float(col.default))  # type: ignore[arg-type]
        if col.name == "population":
            # OSM places and many registers write 0 for "not counted": a population of 0 is
            # unknown (NaN), never a village where nobody lives.
            zero = (numbers == 0).fillna(False).to_numpy(dtype=bool)
            if zero.any():
                numbers = numbers.mask(zero)
                ctx.notes.append(
                    f"{ctx.name}: population 0 in '{source}' on {int(zero.sum())} rows read as "
                    "unknown (0 means not counted); population indicators leave them out"
                )
        if col.name == "azimuth_deg":
            numbers = numbers % 360.0
        return numbers
    if col.dtype == "bool":
        booleans = {**{k: "1" for k in _TRUE_KEYS}, **{k: "0" for k in _FALSE_KEYS}}
        keys = _map_distinct(values.astype("string"), booleans)
        truth = keys == "1"
        falsity = keys == "0"
        unknown = ~blank & ~(truth | falsity).fillna(False).to_numpy()
        ctx.rows.reject(
            unknown,
            lambda m: (
                f"{col.name} '"
                + values[m].astype("string").fillna("")
                + "' is not yes/no (write true/false, có/không, 1/0)"
            ),
        )
        result = pd.Series(pd.NA, index=values.index, dtype="boolean")
        result[truth.fillna(False).to_numpy()] = True
        result[falsity.fillna(False).to_numpy()] = False
        return result
    if col.dtype == "operators":
        return _normalise_operator_lists(ctx, values, source, blank)
    if col.dtype == "date":
        return _normalise_dates(ctx, col, values, source, blank)
    text = _as_text(values)
    if col.choices:
        return _normalise_choices(ctx, col, text, source, blank)
    if col.name == "owner":
        # An operator (its name normalised) or a tower company (kept as written).
        codes, uniques = pd.factorize(text.mask(pd.Series(blank, index=text.index)))
        owners = np.array([normalize_operator(str(u))[0] for u in uniques] + [None], dtype=object)
        return pd.Series(owners[codes], index=text.index, dtype="string")
    if col.name == "operator":
        return _normalise_operators(ctx, text, source, blank)
    if col.name == "tech":
        return _normalise_tech(ctx, text, source, blank, col)
    if col.name == "env":
        env = _map_distinct(text, _ENV_KEYS)
        unknown = ~blank & env.isna().to_numpy()
        ctx.rows.reject(
            unknown,
            lambda m: "env '" + text[m].fillna("") + "' is not one of urban, suburban, rural",
        )
        return env.fillna(str(col.default)).astype("string")
    if col.name == "kind" and ctx.spec.kind == "pois":
        kinds = _map_distinct(text, _POI_ALIASES)
        unknown = ~blank & kinds.isna().to_numpy()
        ctx.rows.reject(
            unknown,
            lambda m: "kind '" + text[m].fillna("") + f"' is not one of {', '.join(POI_KINDS)}",
        )
        return kinds.astype("string")
    if col.default is not None:
        text = text.mask(pd.Series(blank, index=text.index), str(col.default))
    return text


def _normalise_dates(
    ctx: _Context, col: ColumnSpec, values: pd.Series, source: str, blank: npt.NDArray[np.bool_]
) -> pd.Series:
    """Parse a date column to ISO text (``2025-06-30``); refuse what is not a date.

    ISO dates (``2025-06-30``, also with a time) are read as such; others day first, as
    Vietnamese offices write them (``30/06/2025``, ``30-6-2025``). Spreadsheet cells that
    hold dates arrive as timestamps and are kept.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, errors="coerce")
    else:
        text = _as_text(values).str.strip()
        iso = text.str.match(r"^\d{4}-\d{1,2}-\d{1,2}").fillna(False).to_numpy(dtype=bool)
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
        if iso.any():
            parsed[iso] = pd.to_datetime(
                text[iso].str.slice(0, 10), errors="coerce", format="%Y-%m-%d"
            )
        other = ~iso & ~blank
        if other.any():
            parsed[other] = pd.to_datetime(
                text[other].str.replace(r"[.\-]", "/", regex=True),
                errors="coerce",
                format="%d/%m/%Y",
            )
    unparsed = ~blank & parsed.isna().to_numpy()
    shown = values.astype("string")
    ctx.rows.reject(
        unparsed,
        lambda m: (
            f"{col.name} '"
            + shown[m].fillna("")
            + f"' in '{source}' is not a date (write 2025-06-30 or 30/06/2025)"
        ),
    )
    return parsed.dt.strftime("%Y-%m-%d").astype("string")


def _normalise_choices(
    ctx: _Context, col: ColumnSpec, text: pd.Series, source: str, blank: npt.NDArray[np.bool_]
) -> pd.Series:
    """Map a closed-list column to its canonical values; refuse the others."""
    table = {
        **{fold_key(alias): value for alias, value in col.choice_aliases},
        **{fold_key(value): value for value in col.choices},
    }
    mapped = _map_distinct(text, table)
    unknown = ~blank & mapped.isna().to_numpy()
    ctx.rows.reject(
        unknown,
        lambda m: (
            f"{col.name} '" + text[m].fillna("") + f"' is not one of {', '.join(col.choices)}"
        ),
    )
    if col.default is not None:
        mapped = mapped.fillna(str(col.default))
    return mapped.astype("string")


def _normalise_operators(
    ctx: _Context, text: pd.Series, source: str, blank: npt.NDArray[np.bool_]
) -> pd.Series:
    # A blank operator is no name (an optional column's default applies later), not an
    # unknown operator called "".
    codes, uniques = pd.factorize(text.mask(pd.Series(blank, index=text.index)))
    table = [normalize_operator(str(u)) for u in uniques]
    unknown = sorted({name for name, known in table if not known})
    if unknown:
        ctx.notes.append(
            f"{ctx.name}: unknown operator name(s) in '{source}' kept as written: "
            f"{', '.join(unknown)} (known: Viettel, VNPT, MobiFone, Vietnamobile, Gmobile)"
        )
    lookup = np.array([name for name, _ in table] + [None], dtype=object)
    return pd.Series(lookup[codes], index=text.index, dtype="string")


def _normalise_operator_lists(
    ctx: _Context, values: pd.Series, source: str, blank: npt.NDArray[np.bool_]
) -> pd.Series:
    text = _as_text(values)
    order = {"Viettel": 0, "VNPT": 1, "MobiFone": 2, "Vietnamobile": 3, "Gmobile": 4}
    codes, uniques = pd.factorize(text)
    unknown: set[str] = set()
    joined: list[str] = []
    for u in uniques:
        names = []
        for token in re.split(r"[;,/+&]| và | and ", str(u)):
            if token.strip():
                name, known = normalize_operator(token)
                if not known:
                    unknown.add(name)
                if name not in names:
                    names.append(name)
        joined.append(";".join(sorted(names, key=lambda n: (order.get(n, 9), n))))
    if unknown:
        ctx.notes.append(
            f"{ctx.name}: unknown operator name(s) in '{source}' kept as written: "
            f"{', '.join(sorted(unknown))}"
        )
    lookup = np.array([*joined, None], dtype=object)
    return pd.Series(lookup[codes], index=text.index, dtype="string")


def _normalise_tech(
    ctx: _Context, text: pd.Series, source: str, blank: npt.NDArray[np.bool_], col: ColumnSpec
) -> pd.Series:
    codes, uniques = pd.factorize(text)
    parsed: list[str | None] = []
    for u in uniques:
        techs = parse_techs(str(u))
        parsed.append(None if techs is None else ";".join(techs))
    lookup = np.array([*parsed, None], dtype=object)
    result = pd.Series(lookup[codes], index=text.index, dtype="string")
    unknown = ~blank & result.isna().to_numpy()
    ctx.rows.reject(
        unknown,
        lambda m: (
            "tech '"
            + text[m].fillna("")
            + "' is not a list of "
            + ", ".join(TECHNOLOGIES)
            + " (separated by ';')"
        ),
    )
    default = "" if col.default is None else str(col.default)
    return result.fillna(default).astype("string")


def _check_ids(ctx: _Context, ids: pd.Series, source: str) -> None:
    blank = _blank(ids)
    ctx.rows.reject(blank, f"missing {ctx.spec.id_column} ('{source}')")
    present = ids[~blank]
    dup = present.duplicated(keep=False)
    if dup.any():
        groups = (
            pd.DataFrame({"id": present[dup], "row": ctx.source_row[~blank][dup.to_numpy()]})
            .groupby("id", sort=False)["row"]
            .apply(list)
        )
        shown = "; ".join(
            f"'{k}' on {_row_label(np.asarray(v))}" for k, v in list(groups.items())[:10]
        )
        more = f" and {len(groups) - 10} more" if len(groups) > 10 else ""
        ctx.stop(
            f"{len(groups)} duplicate {ctx.spec.id_column} value(s) in '{source}': {shown}{more}",
            f"give every row its own {ctx.spec.id_column}, or map another column with "
            f"--columns {ctx.spec.id_column}=<unique column>",
            column=source,
        )


def _village_centres(
    ctx: _Context, frame: pd.DataFrame, out: dict[str, pd.Series], crs: pyproj.CRS | None
) -> None:
    """Express village centres given in x/y as centre_lon/centre_lat (EPSG:4326)."""
    have_xy = "centre_x" in out and "centre_y" in out
    have_ll = "centre_lon" in out and "centre_lat" in out
    if have_xy and not have_ll:
        if crs is None or crs.is_geographic:
            ctx.stop(
                "the village centres are given as x/y but no projected CRS is known",
                "pass --crs with the CRS of centre_x/centre_y (e.g. VN2000:<province>)",
                column="centre_x",
            )
            return
        transformer = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
        lon, lat = transformer.transform(
            out["centre_x"].to_numpy(dtype=float), out["centre_y"].to_numpy(dtype=float)
        )
        out["centre_lon"] = pd.Series(lon, index=frame.index)
        out["centre_lat"] = pd.Series(lat, index=frame.index)
    if "centre_lon" in out and "centre_lat" in out:
        lon = out["centre_lon"].to_numpy(dtype=float)
        lat = out["centre_lat"].to_numpy(dtype=float)
        given = ~(np.isnan(lon) | np.isnan(lat))
        outside = given & ~in_vietnam(lon, lat)
        ctx.rows.reject(
            outside,
            lambda m: [
                f"village centre (centre_lon/centre_lat) is {reason}"
                for reason in _outside_reasons(lon[m], lat[m])
            ],
        )


def _carries(tech: pd.Series, token: str) -> npt.NDArray[np.bool_]:
    """Whether each ';'-separated technology list names `token`."""
    found = tech.astype("string").fillna("").str.contains(rf"(?:^|;){token}(?:;|$)", regex=True)
    return np.asarray(found.fillna(False), dtype=bool)


def _unit_hint(value: float, low: float, high: float) -> str:
    """Say which unit would put `value` inside ``[low, high]`` dBm: watts or milliwatts."""
    if not value > 0:
        return ""
    hints = []
    as_watts = 10.0 * np.log10(value) + 30.0
    as_milliwatts = 10.0 * np.log10(value)
    if low <= as_watts <= high:
        hints.append(f"watts ({value:g} W = {as_watts:.1f} dBm, dBm = 10 log10(W) + 30)")
    if low <= as_milliwatts <= high:
        hints.append(f"milliwatts ({value:g} mW = {as_milliwatts:.1f} dBm, dBm = 10 log10(mW))")
    return " or ".join(hints)


def _eirp_total_reason(value: float) -> str:
    low, high = carrier.EIRP_TOTAL_RANGE_DBM
    re_low, re_high = carrier.EIRP_RE_RANGE_DBM
    causes = []
    if value <= 0:
        causes.append(
            f"{value:g} dBm is {10 ** (value / 10):g} mW, no base station's EIRP; if it is "
            "unknown, leave the cell empty for the default"
        )
    elif value < low and re_low <= value <= re_high:
        causes.append(
            "probably the EIRP per resource element written in the total column: move it to "
            "eirp_re_dbm"
        )
    units = _unit_hint(value, low, high)
    if units:
        causes.append(f"if it is in {units}, write it in dBm")
    if not causes:
        causes.append("check the unit: eirp_dbm is in dBm")
    return (
        f"eirp_dbm {value:g} is outside {low:g} to {high:g} dBm, the total EIRP of a sector's "
        "carrier (from a Local Area cell, 24 dBm on a small antenna, to a 200 W massive-MIMO "
        f"macro); fix: {'; '.join(causes)}"
    )


def _eirp_re_reason(value: float) -> str:
    low, high = carrier.EIRP_RE_RANGE_DBM
    causes = []
    total_low, total_high = carrier.EIRP_TOTAL_RANGE_DBM
    if value > high and total_low <= value <= total_high:
        causes.append(
            "probably the total EIRP of the carrier written in the per-resource-element "
            "column: move it to eirp_dbm"
        )
    elif value > high and _unit_hint(value, low, high):
        causes.append(f"if it is in {_unit_hint(value, low, high)}, write it in dBm")
    if not causes:
        causes.append("check the sign and the unit: eirp_re_dbm is in dBm per resource element")
    return (
        f"eirp_re_dbm {value:g} is outside {low:g} to {high:g} dBm, the EIRP per resource "
        "element of a Local Area cell to a massive-MIMO macro (its total EIRP over its "
        f"subcarriers); fix: {'; '.join(causes)}"
    )


def _bandwidth_reason(value: float, low: float) -> str:
    high = carrier.BANDWIDTH_RANGE_MHZ[1]
    causes = []
    if value > high and low <= value / 1000.0 <= high:
        causes.append(f"if it is in kHz, {value:g} kHz = {value / 1000.0:g} MHz")
    elif carrier.NARROW_BANDWIDTH_MIN_MHZ <= value < low:
        causes.append(
            "narrower than any LTE or NR channel (a GSM or NB-IoT carrier?): give the width "
            "of the row's 4G or 5G carrier"
        )
    elif 0 < value < low and low <= value * 1000.0 <= high:
        causes.append(f"if it is in GHz, {value:g} GHz = {value * 1000.0:g} MHz")
    if not causes:
        causes.append("give the channel bandwidth in MHz (e.g. 20 for LTE, 100 for 5G)")
    what = "a 4G or 5G channel" if low == carrier.BANDWIDTH_RANGE_MHZ[0] else "a channel"
    return (
        f"bandwidth_mhz {value:g} is outside {low:g} to {high:g} MHz, the width of {what} "
        f"(3GPP TS 36.101 and TS 38.101); fix: {'; '.join(causes)}"
    )


def _check_site_eirp(ctx: _Context, out: dict[str, pd.Series]) -> None:
    """Refuse EIRP and bandwidth values no carrier has, saying what they probably are.

    The ranges and their sources are those of :mod:`hatangso.geo.carrier`. Rows giving both
    ``eirp_dbm`` and ``eirp_re_dbm`` that disagree by more than 1 dB (the total spread over the
    subcarriers of the row's 4G carrier, or 5G if it carries no 4G) are noted, not refused:
    ``eirp_re_dbm`` is used.
    """
    nan = np.full(ctx.n, np.nan)

    def numbers(name: str) -> npt.NDArray[np.float64]:
        return out[name].to_numpy(dtype=float, na_value=np.nan) if name in out else nan

    tech = out["tech"] if "tech" in out else pd.Series("4G", index=range(ctx.n))
    lte, nr = _carries(tech, "4G"), _carries(tech, "5G")
    total, per_re, bandwidth = numbers("eirp_dbm"), numbers("eirp_re_dbm"), numbers("bandwidth_mhz")
    low, high = carrier.EIRP_TOTAL_RANGE_DBM
    bad = (total < low) | (total > high)
    ctx.rows.reject(bad, lambda m: [_eirp_total_reason(v) for v in total[m]])
    low, high = carrier.EIRP_RE_RANGE_DBM
    bad = (per_re < low) | (per_re > high)
    ctx.rows.reject(bad, lambda m: [_eirp_re_reason(v) for v in per_re[m]])
    narrowest = np.where(lte | nr, carrier.BANDWIDTH_RANGE_MHZ[0], carrier.NARROW_BANDWIDTH_MIN_MHZ)
    bad = (bandwidth < narrowest) | (bandwidth > carrier.BANDWIDTH_RANGE_MHZ[1])
    ctx.rows.reject(
        bad,
        lambda m: [
            _bandwidth_reason(v, w) for v, w in zip(bandwidth[m], narrowest[m], strict=True)
        ],
    )

    # A total a per-element figure could also be (30-45 dBm) is a small cell's, or a file
    # written when eirp_dbm was read per element: say so once, with the way out.
    small = (total <= carrier.EIRP_RE_RANGE_DBM[1]) & np.isnan(per_re) & ~ctx.rows.bad
    if small.any():
        ctx.notes.append(
            f"{ctx.name}: {int(small.sum())} site(s) give a total EIRP (eirp_dbm) of at most "
            f"{carrier.EIRP_RE_RANGE_DBM[1]:g} dBm, a small cell's; if the column holds EIRP "
            "per resource element, name it eirp_re_dbm (or pass --columns "
            "eirp_re_dbm=<your column>)"
        )
    both = ~np.isnan(total) & ~np.isnan(per_re) & (lte | nr) & ~ctx.rows.bad
    if not both.any():
        return
    derived = carrier.eirp_re_from_total_dbm(
        total, tech=np.where(lte, "4G", "5G"), bandwidth_mhz=bandwidth, freq_mhz=numbers("freq_mhz")
    )
    apart = both & (np.abs(derived - per_re) > 1.0)
    if apart.any():
        ids = out["site_id"] if "site_id" in out else pd.Series("", index=range(ctx.n))
        first = int(np.flatnonzero(apart)[0])
        ctx.notes.append(
            f"{ctx.name}: {int(apart.sum())} site(s) give both eirp_dbm and eirp_re_dbm, more "
            f"than 1 dB apart (site {ids.iloc[first]}, row {ctx.source_row[first]}: total "
            f"{total[first]:g} dBm is {derived[first]:.1f} dBm per resource element, "
            f"eirp_re_dbm says {per_re[first]:g}); eirp_re_dbm is used. Check the bandwidth "
            "(bandwidth_mhz) or drop one of the two"
        )


def validate_table(
    raw: RawTable,
    kind: str,
    *,
    crs: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> Layer:
    """Check and clean the records of one file as input `kind` of the contract.

    Parameters
    ----------
    raw
        Records as :func:`hatangso.geo.io.read_table` returned them.
    kind
        Input kind, one of :data:`hatangso.geo.schema.KINDS`.
    crs
        CRS of inputs that carry none (CSV with x/y, a shapefile without ``.prj``): an EPSG
        code, a PROJ string or ``VN2000:<province>``.
    columns
        Contract name to file column, for names the aliases do not know.

    Returns
    -------
    Layer
        The clean rows (EPSG:4326), the rejects and the counts.

    Raises
    ------
    InputError
        With every fault of the file at once: a missing required column, duplicate ids,
        swapped coordinates, x/y without a CRS.
    """
    spec = spec_for(kind)
    ctx = _Context(raw, spec)
    frame = raw.frame.reset_index(drop=True)
    user_crs = _parse_crs(crs)
    present = [c for c in frame.columns if not (raw.has_geometry and c == frame.geometry.name)]
    mapping, problems = _match_columns(present, spec, columns or {}, ctx.name)
    ctx.problems.extend(problems)
    for col in spec.columns:
        if col.required and col.name not in mapping:
            names = ", ".join(f"'{a}'" for a in (col.name, *col.aliases[:4]))
            ctx.stop(
                f"required column '{col.name}' is missing (the file has: {', '.join(present)})",
                f"name a column {names}, or pass --columns {col.name}=<your column>",
                column=col.name,
            )
    geometry: gpd.GeoSeries | None = None
    if spec.geometry != "none":
        if raw.has_geometry:
            geometry = gpd.GeoSeries(frame.geometry.array, crs=frame.crs)
            geometry = _assign_crs(ctx, geometry, user_crs)
        else:
            geometry = _geometry_from_columns(ctx, frame, mapping, user_crs)
    if ctx.problems:
        raise InputError(ctx.problems)

    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name in mapping:
            out[col.name] = _normalise_value_column(
                ctx, col, frame[mapping[col.name]], mapping[col.name]
            )
        elif col.default is not None:
            value = col.default
            dtype = "float64" if col.dtype == "float" else "string"
            out[col.name] = pd.Series(value, index=frame.index, dtype=dtype)
    if spec.id_column is not None:
        out[spec.id_column] = _as_text(frame[mapping[spec.id_column]])
        _check_ids(ctx, frame[mapping[spec.id_column]], mapping[spec.id_column])
    if spec.kind == "villages":
        _village_centres(ctx, frame, out, user_crs)
    if spec.kind == "sites":
        _check_site_eirp(ctx, out)
    if geometry is not None:
        geometry, repaired = _check_geometry(ctx, geometry)
        if geometry.crs is not None and not geometry.crs.equals(pyproj.CRS.from_epsg(4326)):
            geometry = _to_wgs84(ctx, geometry)
        _check_in_vietnam(ctx, geometry)
    else:
        repaired = 0
    if ctx.problems:
        raise InputError(ctx.problems)

    consumed = set(mapping.values())
    extras = {c: frame[c] for c in present if c not in consumed and c not in out}
    ordered = {c.name: out[c.name] for c in spec.columns if c.name in out}
    data = pd.DataFrame({**ordered, **extras}, index=frame.index)
    data["source_row"] = ctx.source_row
    bad = ctx.rows.bad
    id_values = (
        out[spec.id_column].fillna("").to_numpy(dtype=object)
        if spec.id_column is not None
        else np.full(ctx.n, "", dtype=object)
    )
    rejects = pd.DataFrame(
        {
            "file": ctx.name,
            "row": ctx.source_row[bad],
            "id": id_values[bad],
            "reason": ctx.rows.reasons[bad],
        },
        columns=REJECT_COLUMNS,
    )
    kept = data.loc[~bad].reset_index(drop=True)
    result: pd.DataFrame
    if geometry is not None:
        result = gpd.GeoDataFrame(
            kept, geometry=np.asarray(geometry.array, dtype=object)[~bad], crs=4326
        )
    else:
        result = kept
    notes = tuple(ctx.notes)
    for note in notes:
        log.warning(note)
    return Layer(
        kind=spec.kind,
        name=ctx.name,
        frame=result,
        rejects=rejects,
        read=ctx.n,
        repaired=repaired,
        notes=notes,
    )


def _assign_crs(
    ctx: _Context, geometry: gpd.GeoSeries, user_crs: pyproj.CRS | None
) -> gpd.GeoSeries:
    """Give a file's geometry its CRS: the file's own, else --crs, else WGS 84 if it fits."""
    if geometry.crs is not None:
        if geometry.crs.is_geographic and _mostly_not_degrees(geometry):
            ctx.stop(
                f"the file declares {geometry.crs.name}, but its coordinates are not degrees "
                "(projected metres labelled as longitude/latitude?)",
                "declare the file's own CRS (QGIS: Layer > Set CRS; or ogr2ogr -a_srs "
                "EPSG:<code> out.gpkg in.gpkg; VN-2000 / UTM 48N is EPSG:3405); --crs applies "
                "only to files without a CRS",
            )
        elif user_crs is not None and not user_crs.equals(geometry.crs):
            ctx.notes.append(
                f"{ctx.name}: the file declares {geometry.crs.name}; --crs applies only to "
                "inputs without a CRS and was not used"
            )
        return geometry
    if user_crs is not None:
        return geometry.set_crs(user_crs)
    values = np.asarray(geometry.array, dtype=object)
    live = ~(shapely.is_missing(values) | shapely.is_empty(values))
    if live.any():
        b = shapely.bounds(values[live])
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        if _in_vietnam(cx, cy).mean() > 0.5:
            ctx.notes.append(
                f"{ctx.name}: the file declares no CRS; its coordinates are longitude/latitude "
                "in Vietnam and were read as WGS 84 (EPSG:4326)"
            )
            return geometry.set_crs(4326)
    ctx.stop(
        "the file declares no coordinate reference system (a shapefile without its .prj?)",
        "add the .prj file, or pass --crs (e.g. --crs VN2000:<province> or --crs EPSG:4326)",
    )
    return geometry


def _mostly_not_degrees(geometry: gpd.GeoSeries) -> bool:
    """Whether most of the geometries' box centres lie beyond ±180° / ±90°."""
    values = np.asarray(geometry.array, dtype=object)
    live = ~(shapely.is_missing(values) | shapely.is_empty(values))
    if not live.any():
        return False
    b = shapely.bounds(values[live])
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    return bool(((np.abs(cx) > 180) | (np.abs(cy) > 90)).mean() > 0.5)


def _to_wgs84(ctx: _Context, geometry: gpd.GeoSeries) -> gpd.GeoSeries:
    values = np.asarray(geometry.array, dtype=object)
    live = ~(shapely.is_missing(values) | shapely.is_empty(values))
    transformed = geometry.to_crs(4326)
    out = np.asarray(transformed.array, dtype=object)
    broken = live & ~np.asarray(shapely.is_valid(out) & ~shapely.is_empty(out), dtype=bool)
    b = np.where(live[:, None], shapely.bounds(out), np.nan)
    broken |= live & ~np.isfinite(b).all(axis=1)
    ctx.rows.reject(
        broken & ~ctx.rows.bad,
        f"coordinates cannot be transformed from {geometry.crs.name if geometry.crs else '?'} "
        "to WGS 84",
    )
    return transformed


def load_layer(
    path: str | Path,
    kind: str,
    *,
    crs: str | None = None,
    columns: Mapping[str, str] | str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
) -> Layer:
    r"""Read and validate one input file.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile (plain or zipped), CSV or XLSX.
    kind
        One of :data:`hatangso.geo.schema.KINDS` (``villages``, ``sites``, ``access-points``
        ...).
    crs
        CRS for inputs that carry none.
    columns
        ``{"village_id": "osm_id"}`` or the command line's ``"village_id=osm_id,name=ten"``.
    encoding
        Text encoding, detected when None.
    sheet, header_row
        For XLSX: the sheet (default the first) and the 1-based header row (default found:
        the row naming the most columns of `kind`). The layer's notes say which were used.

    Returns
    -------
    Layer
        See :func:`validate_table`.

    Raises
    ------
    InputError
        For faults of the file, all of them at once.

    Examples
    --------
    A CSV of two villages, the second with a latitude typed wrong:

    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "villages.csv"
    >>> _ = path.write_text(
    ...     "village_id,name,lon,lat\nT1,Thôn Nà Hin,105.80,21.00\nT2,Bản Chang,105.90,210.1\n",
    ...     encoding="utf-8",
    ... )
    >>> layer = load_layer(path, "villages")
    >>> layer.counts()
    {'read': 2, 'used': 1, 'rejected': 1, 'repaired': 0}
    >>> layer.rejects.loc[0, "reason"]  # doctest: +ELLIPSIS
    'outside Vietnam (lon 105.9000, lat 210.1000): not a longitude/latitude in degrees. Fix: ...'
    """
    column_map = (
        parse_column_map(columns) if isinstance(columns, str) or columns is None else columns
    )
    raw = read_table(
        path, kind=spec_for(kind).kind, encoding=encoding, sheet=sheet, header_row=header_row
    )
    return _validate_with_read_notes(raw, kind, crs=crs, columns=column_map)


def columns_for(present: Sequence[str], kind: str, column_map: Mapping[str, str]) -> dict[str, str]:
    """Return the entries of a shared column map that a file of `kind` takes.

    An entry ``name=column`` applies to a file that has ``column`` among `present` (matched as
    the aliases are, by :func:`~hatangso.geo.text.fold_key`) and whose kind knows ``name``.

    Examples
    --------
    >>> columns_for(["Ma thon", "Dan so"], "villages", {"village_id": "ma thon", "rsrp_dbm": "x"})
    {'village_id': 'ma thon'}
    """
    folded = {fold_key(c) for c in present}
    known = {c.name for c in spec_for(kind).columns} | set(COORDINATE_ALIASES)
    return {
        k: v
        for k, v in column_map.items()
        if k in known and (v in present or fold_key(v) in folded)
    }


def load_layers(
    files: Mapping[str, tuple[Path, str]],
    columns: Mapping[str, str] | str | None = None,
    *,
    crs: str | None = None,
    own_columns: Mapping[str, Mapping[str, str]] | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
    progress: Progress | None = None,
    taken: Collection[str] = (),
) -> dict[str, Layer]:
    """Read and validate several files with one ``--columns`` map for all of them.

    Parameters
    ----------
    files
        ``{name: (path, kind)}``.
    columns
        One column map for every file (``--columns village_id=osm_id,name=ten``): an entry
        ``name=column`` applies to each file that has ``column`` (matched as the aliases are)
        and whose kind knows ``name``.
    crs
        CRS for inputs that carry none.
    own_columns
        ``{name: column map}`` of a single file, applied after (and over) `columns`.
    sheet, header_row
        For workbooks (XLSX): the sheet and the header row, as :func:`load_layer` takes them.
    progress
        Told ``reading <kind>`` before each file is read and ``validating <kind>`` before it
        is checked (:class:`~hatangso.geo.progress.Progress`).
    taken
        Entries of `columns` that an input read elsewhere takes (the streamed samples, see
        :func:`columns_for`): not reported as unused.

    Returns
    -------
    dict of str to Layer
        The validated layers, by the names of `files`.

    Raises
    ------
    InputError
        For the faults of every file at once, and for an entry of `columns` that no file can
        take (``file`` is ``--columns``): a misspelt column would otherwise be silently unused.
    """
    column_map = (
        parse_column_map(columns) if isinstance(columns, str) or columns is None else columns
    )
    step = progress or (lambda _name: None)
    layers: dict[str, Layer] = {}
    problems: list[Problem] = []
    used: set[str] = set(taken)
    # One thread reads the files in turn while this one validates: GDAL and shapely let go of
    # the GIL, so the next file is read while the last one is checked.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hatangso-read") as pool:
        reads = {
            name: pool.submit(_read_file, path, kind, sheet=sheet, header_row=header_row)
            for name, (path, kind) in files.items()
        }
        if files:
            # Viet Nam's outline (grown by the border tolerance, once per process) is drawn
            # while the first file is read: GEOS too lets go of the GIL.
            vietnam_outline(tolerance_m=BORDER_TOLERANCE_M)
        for name, (_path, kind) in files.items():
            step(f"reading {kind}")
            try:
                layers[name] = _validate_read(
                    reads[name].result(),
                    kind,
                    column_map,
                    own=(own_columns or {}).get(name, {}),
                    crs=crs,
                    step=step,
                    used=used,
                )
            except InputError as exc:
                problems.extend(exc.problems)
    problems.extend(
        Problem(
            file="--columns",
            column=key,
            message=f"maps {key} to '{column_map[key]}', which no input file has under that name",
            fix="check the spelling of the column, or drop the entry",
        )
        for key in column_map
        if key not in used
    )
    if problems:
        raise InputError(problems)
    return layers


def _read_file(path: Path, kind: str, *, sheet: str | None, header_row: int | None) -> RawTable:
    return read_table(path, kind=spec_for(kind).kind, sheet=sheet, header_row=header_row)


def _validate_read(
    raw: RawTable,
    kind: str,
    column_map: Mapping[str, str],
    *,
    own: Mapping[str, str],
    crs: str | None,
    step: Callable[[str], None],
    used: set[str],
) -> Layer:
    """Validate one file read by :func:`load_layers`; add the shared map's entries it took."""
    frame = raw.frame
    geom = frame.geometry.name if raw.has_geometry else None
    present = [c for c in frame.columns if c != geom]
    mine = columns_for(present, kind, column_map)
    used.update(mine)
    step(f"validating {kind}")
    return _validate_with_read_notes(raw, kind, crs=crs, columns={**mine, **own})


def _validate_with_read_notes(
    raw: RawTable, kind: str, *, crs: str | None, columns: Mapping[str, str]
) -> Layer:
    """Validate `raw`, its reading's notes (the sheet and header row read) first.

    Each note is logged once, as :func:`validate_table` logs the checks' own.
    """
    for note in raw.notes:
        log.warning(note)
    layer = validate_table(raw, kind, crs=crs, columns=columns)
    return replace(layer, notes=(*raw.notes, *layer.notes)) if raw.notes else layer
