"""Measured coverage: drive-test and crowdsourced samples aggregated to villages, and the basis.

QCVN 81:2019/BTTTT judges a radio network by its *availability*: the share of measurement
samples whose received level is at or above the minimum level, which must be at least 95 %.
:func:`aggregate_samples` streams a samples file of any size (tens of millions of rows) and
counts, per village, operator and technology, the samples and those at or above
``threshold_dbm``. :func:`decide_basis` then sets, for every village, what its mobile answer
rests on (the measurement when there are enough samples, else the prediction, with the
operators' declarations beside them) and where these disagree.

Streaming
---------
CSV files are read with :func:`pyarrow.csv.open_csv` in blocks (``chunk_rows`` rows at a time,
only the needed columns, every column as text so that one odd value refuses one row, not the
file), checked with vectorised masks and dropped; only the counts survive. Points are placed in
villages through a raster index of the village polygons (one array lookup per point); only the
points in cells that a village boundary crosses are tested exactly, with an STRtree. Memory is
bounded by the block size and the index grid, not by the file.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyproj
import shapely
from rasterio import features
from rasterio.transform import Affine
from scipy.spatial import cKDTree

from hatangso.coverage._groups import join_unique_per_group
from hatangso.coverage.villages import VillagePoints
from hatangso.geo.errors import CRSError, InputError, Problem
from hatangso.geo.outputs import atomic_write, json_ready, spreadsheet_safe
from hatangso.geo.schema import spec_for
from hatangso.geo.techs import parse_techs
from hatangso.geo.text import normalize_operator
from hatangso.geo.validate import (
    _RANGES,
    _VIETNAM_BOXES,
    REJECT_COLUMNS,
    _coordinate_faults,
    _in_vietnam,
    _match_columns,
    _parse_numbers,
)

__all__ = [
    "BASES",
    "BasisDecision",
    "SampleSummary",
    "aggregate_samples",
    "decide_basis",
    "sample_columns",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Values of ``mobile_basis``.
BASES = ("measured", "predicted", "declared")

#: Technologies counted as "4G or better" for the village's mobile answer.
BROADBAND_TECHS = ("4G", "5G")

_DEFAULT_CHUNK_ROWS = 250_000
# Bytes per CSV row assumed when turning chunk_rows into a pyarrow block size.
_ROW_BYTES = 64
# The index grid's cells: at most this many, and no finer than ~20 m.
_MAX_GRID_CELLS = 16_000_000
_MIN_CELL_DEG = 0.0002
_RSRP_LOW, _RSRP_HIGH = _RANGES["rsrp_dbm"]
# Rule points searched around each sample for one of its own village's.
_NEIGHBOURS = 8

SUMMARY_COLUMNS = ["village_id", "operator", "tech", "n_samples", "n_at_or_above", "availability"]
POINT_COLUMNS = ["village_id", "point", *SUMMARY_COLUMNS[1:]]


@dataclass(frozen=True)
class SampleSummary:
    """Samples counted per village, operator and technology.

    Attributes
    ----------
    by_operator
        One row per (village, operator, tech) with samples: ``village_id`` (str),
        ``operator`` (canonical name), ``tech`` (``2G`` ... ``5G``), ``n_samples`` (int64),
        ``n_at_or_above`` (int64, samples with ``rsrp_dbm >= threshold_dbm``) and
        ``availability`` (``n_at_or_above / n_samples``, float64).
    by_village
        One row per village of the input (in its order): ``village_id``, ``n_samples`` and
        ``n_at_or_above`` over all operators and technologies, and ``availability`` (NaN
        without samples).
    rejects
        Refused rows: ``file``, ``row`` (1-based record number in the file), ``id`` (empty:
        samples carry none) and ``reason``.
    read
        Records read.
    rejected
        Records refused.
    outside
        Valid records that fall in no village (used, but counted nowhere).
    threshold_dbm
        The level the availability was counted against.
    notes
        Warnings that refused nothing (unknown operator names ...).
    by_point
        Under the official rule: one row per (rule point, operator, tech) with samples, the
        columns of `by_operator` plus ``point`` (int64, index into
        :meth:`hatangso.coverage.villages.VillagePoints.rule_points`); None otherwise.
    points_per_village
        Under the official rule: the number of rule points of each village (in the order of
        `by_village`); None otherwise.
    speeds
        When a file gives ``download_mbps`` or ``upload_mbps``: one row per kept sample that
        gives either, ``village_id`` (string, NA outside every village), ``operator``,
        ``tech``, ``download_mbps`` and ``upload_mbps`` (float64, NaN where blank); None when
        no file gives a speed column. See :mod:`hatangso.coverage.speed`.
    """

    by_operator: pd.DataFrame
    by_village: pd.DataFrame
    rejects: pd.DataFrame
    read: int
    rejected: int
    outside: int
    threshold_dbm: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    by_point: pd.DataFrame | None = None
    points_per_village: IntArray | None = None
    speeds: pd.DataFrame | None = None

    @property
    def used(self) -> int:
        """Records kept (inside a village or not)."""
        return self.read - self.rejected

    def counts(self) -> dict[str, int]:
        """Return the input accounting of ``kpis.json``: read, used, rejected, repaired."""
        return {"read": self.read, "used": self.used, "rejected": self.rejected, "repaired": 0}


# --------------------------------------------------------------------------------------------
# Village index
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _VillageIndex:
    """A raster of village numbers (-1 none, -2 boundary cell) and an STRtree for the rest."""

    grid: npt.NDArray[np.int32]
    transform: Affine
    tree: shapely.STRtree
    points_only: bool

    def locate(self, lon: FloatArray, lat: FloatArray) -> IntArray:
        """Village number of every point (-1 when in none)."""
        out = np.full(len(lon), -1, dtype=np.int64)
        if self.points_only or not len(lon):
            return out
        inv = ~self.transform
        col_f, row_f = inv * (lon, lat)
        col = np.floor(col_f).astype(np.int64)
        row = np.floor(row_f).astype(np.int64)
        h, w = self.grid.shape
        inside = (row >= 0) & (row < h) & (col >= 0) & (col < w)
        idx = np.flatnonzero(inside)
        code = self.grid[row[idx], col[idx]].astype(np.int64)
        out[idx] = np.where(code >= 0, code, -1)
        exact = idx[code == -2]
        if len(exact):
            out[exact] = self._exact(lon[exact], lat[exact])
        return out

    def _exact(self, lon: FloatArray, lat: FloatArray) -> IntArray:
        """Point-in-polygon for points near boundaries: bounding boxes, then prepared tests."""
        result = np.full(len(lon), -1, dtype=np.int64)
        pts = shapely.points(lon, lat)
        hit_p, hit_v = self.tree.query(pts)
        geoms = self.tree.geometries
        inside = shapely.contains_xy(geoms[hit_v], lon[hit_p], lat[hit_p])
        hit_p, hit_v = hit_p[inside], hit_v[inside]
        # A point on a shared border lies in neither polygon; one in two overlapping
        # polygons goes to the first of them.
        order = np.argsort(hit_v, kind="stable")[::-1]
        result[hit_p[order]] = hit_v[order]
        return result


def _village_index(villages: gpd.GeoDataFrame) -> _VillageIndex:
    """Rasterise the village polygons; cells a boundary crosses are marked for exact tests."""
    geoms = np.asarray(villages.geometry.array, dtype=object).copy()
    shapely.prepare(geoms)
    tree = shapely.STRtree(geoms)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    if not polygonal.any():
        empty = np.full((1, 1), -1, dtype=np.int32)
        return _VillageIndex(empty, Affine.identity(), tree, points_only=True)
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms[polygonal])
    width_deg, height_deg = max(xmax - xmin, 1e-9), max(ymax - ymin, 1e-9)
    cell = max(_MIN_CELL_DEG, float(np.sqrt(width_deg * height_deg / _MAX_GRID_CELLS)))
    w = int(np.ceil(width_deg / cell)) + 2
    h = int(np.ceil(height_deg / cell)) + 2
    transform = Affine(cell, 0.0, xmin - cell, 0.0, -cell, ymax + cell)
    ids = np.flatnonzero(polygonal)
    grid = features.rasterize(
        zip(geoms[ids], ids.astype(np.int32), strict=True),
        out_shape=(h, w),
        transform=transform,
        fill=-1,
        dtype="int32",
        all_touched=False,
    )
    border = features.rasterize(
        ((b, 1) for b in shapely.boundary(geoms[ids])),
        out_shape=(h, w),
        transform=transform,
        fill=0,
        dtype="uint8",
        all_touched=True,
    ).astype(bool)
    grid[border] = -2
    log.debug("village index: %d x %d cells of %.5f deg, %d boundary", h, w, cell, border.sum())
    return _VillageIndex(grid, transform, tree, points_only=False)


@dataclass(frozen=True)
class _PointPlaces:
    """Places a sample at the nearest of its village's rule points (the centre, a cluster).

    Under the official rule a village is judged at its centre and at each residential
    cluster; a sample speaks for the point of its own village nearest to it, so the village
    is cut into one zone per point (a Voronoi partition of the polygon).
    """

    villages: _VillageIndex
    village_of: IntArray  # village of each rule point
    xy: FloatArray  # rule points, metric CRS
    order: IntArray  # rule points sorted by village
    offsets: IntArray  # start of each village's points in `order` (n_villages + 1)
    to_metric: pyproj.Transformer
    tree: cKDTree

    def locate(self, lon: FloatArray, lat: FloatArray) -> IntArray:
        """Rule point of every sample (-1 when in no village)."""
        village = self.villages.locate(lon, lat)
        out = np.full(len(lon), -1, dtype=np.int64)
        inside = np.flatnonzero(village >= 0)
        if not inside.size:
            return out
        x, y = self.to_metric.transform(lon[inside], lat[inside])
        xy = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
        v = village[inside]
        # The few nearest rule points of any village; the first of the sample's own village
        # is the answer. Samples none of whose neighbours is of their village are rare (a
        # village whose points all lie far from where it was sampled): they are compared
        # with each of their village's points.
        k = min(_NEIGHBOURS, len(self.xy))
        _, near = self.tree.query(xy, k=k)
        near = np.asarray(near, dtype=np.int64).reshape(len(v), k)
        own = self.village_of[near] == v[:, None]
        found = own.any(axis=1)
        pick = near[np.arange(len(v)), own.argmax(axis=1)]
        out[inside[found]] = pick[found]
        rest = np.flatnonzero(~found)
        if rest.size:
            out[inside[rest]] = self._nearest_of_own(v[rest], xy[rest])
        return out

    def _nearest_of_own(self, v: IntArray, xy: FloatArray) -> IntArray:
        """Nearest point of each sample's own village, comparing with all of them."""
        count = self.offsets[v + 1] - self.offsets[v]
        sample = np.repeat(np.arange(len(v)), count)
        first = np.repeat(np.cumsum(count) - count, count)
        point = self.order[np.repeat(self.offsets[v], count) + np.arange(sample.size) - first]
        d2 = np.sum((xy[sample] - self.xy[point]) ** 2, axis=1)
        best = np.lexsort((point, d2, sample))
        head = best[np.r_[True, sample[best][1:] != sample[best][:-1]]]
        out = np.full(len(v), -1, dtype=np.int64)
        out[sample[head]] = point[head]
        return out


def _point_places(index: _VillageIndex, points: VillagePoints, rule: str) -> _PointPlaces:
    village_of, xy = points.rule_points(rule)
    if points.crs is None:
        raise ValueError("the village points carry no CRS; build them with village_points")
    n = points.n_villages
    order = np.argsort(village_of, kind="stable").astype(np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(village_of, minlength=n), out=offsets[1:])
    to_metric = pyproj.Transformer.from_crs(4326, points.crs, always_xy=True)
    xy = np.asarray(xy, dtype=float)
    return _PointPlaces(index, village_of, xy, order, offsets, to_metric, cKDTree(xy))


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _sniff(path: Path, encoding: str) -> tuple[list[str], str]:
    """Column names and delimiter of a CSV file, from its first lines."""
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        head = handle.read(65_536)
    if head.startswith("\ufeff"):
        head = head[1:]
    lines = head.splitlines()
    if not lines:
        raise InputError(
            Problem(file=path.name, message="the file is empty", fix="give a CSV with a header")
        )
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    header = next(csv.reader([lines[0]], delimiter=delimiter))
    return [h.strip() for h in header], delimiter


def sample_columns(path: str | Path, *, encoding: str = "utf-8") -> list[str]:
    """Return the column names of a samples file, without reading its rows.

    A CSV's header is sniffed from its first lines (as the streaming reader does); a vector
    file's fields come from its schema; any other format's columns from its reader.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return _sniff(path, encoding)[0]
    if suffix in (".gpkg", ".geojson", ".json", ".shp", ".fgb"):  # the schema, not the rows
        import pyogrio

        return [str(name) for name in pyogrio.read_info(path)["fields"]]
    from hatangso.geo.io import read_table

    raw = read_table(path, kind="samples")
    geom = raw.frame.geometry.name if raw.has_geometry else None
    return [str(c) for c in raw.frame.columns if c != geom]


@dataclass
class _Columns:
    """Which file columns give the coordinates, operator, tech and level."""

    operator: str
    tech: str
    rsrp: str
    a: str  # lon or x
    b: str  # lat or y
    projected: bool
    download: str | None = None
    upload: str | None = None

    def speed_columns(self) -> dict[str, str]:
        """Return the speed columns the file gives: contract name to file column."""
        given = {"download_mbps": self.download, "upload_mbps": self.upload}
        return {name: col for name, col in given.items() if col is not None}


def _resolve_columns(
    header: list[str], name: str, columns: Mapping[str, str] | None, crs: pyproj.CRS | None
) -> _Columns:
    spec = spec_for("samples")
    mapping, problems = _match_columns(header, spec, columns or {}, name)
    for col in ("operator", "tech", "rsrp_dbm"):
        if col not in mapping:
            problems.append(
                Problem(
                    file=name,
                    column=col,
                    message=f"required column '{col}' is missing (the file has: "
                    f"{', '.join(header)})",
                    fix=f"name a column '{col}', or pass --columns {col}=<your column>",
                )
            )
    projected = False
    a = b = ""
    if "lon" in mapping and "lat" in mapping:
        a, b = mapping["lon"], mapping["lat"]
    elif "x" in mapping and "y" in mapping:
        a, b, projected = mapping["x"], mapping["y"], True
        if crs is None or crs.is_geographic:
            problems.append(
                Problem(
                    file=name,
                    column=a,
                    message=f"the file gives projected x/y in '{a}'/'{b}' but no projected "
                    "coordinate reference system",
                    fix="pass --crs, e.g. --crs VN2000:<province> or --crs EPSG:3405",
                )
            )
    else:
        problems.append(
            Problem(
                file=name,
                message="the samples have no lon/lat or x/y columns",
                fix="add lon/lat (Kinh độ/Vĩ độ) or x/y columns",
            )
        )
    if problems:
        raise InputError(problems)
    return _Columns(
        operator=mapping["operator"],
        tech=mapping["tech"],
        rsrp=mapping["rsrp_dbm"],
        a=a,
        b=b,
        projected=projected,
        download=mapping.get("download_mbps"),
        upload=mapping.get("upload_mbps"),
    )


def _batches(
    path: Path, cols: _Columns, delimiter: str, chunk_rows: int, encoding: str
) -> Iterator[pa.RecordBatch]:
    names = [cols.operator, cols.tech, cols.rsrp, cols.a, cols.b, *cols.speed_columns().values()]
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            block_size=max(1 << 16, chunk_rows * _ROW_BYTES), encoding=encoding
        ),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(
            include_columns=names,
            column_types={n: pa.string() for n in names},
            strings_can_be_null=True,
        ),
    )
    yield from reader


def _numbers(values: pa.Array | pa.ChunkedArray) -> FloatArray:
    """Text to float64: Arrow's cast when every value parses, else the lenient parser."""
    try:
        cast = pc.cast(values, pa.float64())
        return np.asarray(cast.to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        series = pd.Series(values.to_pandas(), dtype="string")
        return np.asarray(_parse_numbers(series, counts=False).to_numpy(), dtype=np.float64)


class _Codes:
    """A growing dictionary of normalised labels (operators, technologies) to small integers."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self.index: dict[str, int] = {}
        self.raw: dict[str, int] = {}

    def code(self, label: str) -> int:
        if label not in self.index:
            self.index[label] = len(self.labels)
            self.labels.append(label)
        return self.index[label]


def _encode(
    values: pa.Array | pa.ChunkedArray, codes: _Codes, normalise: Any
) -> npt.NDArray[np.int64]:
    """Codes of `values` (-1 for blank or unknown), normalising each distinct value once."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    dictionary = encoded.dictionary.to_pylist()
    table = np.empty(len(dictionary) + 1, dtype=np.int64)
    table[-1] = -1
    for i, raw in enumerate(dictionary):
        if raw not in codes.raw:
            label = normalise(raw) if raw and raw.strip() else None
            codes.raw[raw] = -1 if label is None else codes.code(label)
        table[i] = codes.raw[raw]
    idx = encoded.indices.to_numpy(zero_copy_only=False)
    idx = np.where(pd.isna(idx), -1, idx).astype(np.int64) if idx.dtype.kind == "f" else idx
    return table[np.asarray(idx, dtype=np.int64)]


def _tech_label(raw: str) -> str | None:
    techs = parse_techs(raw)  # a sample is measured on one technology
    return techs[0] if techs is not None and len(techs) == 1 else None


# --------------------------------------------------------------------------------------------
# Aggregation
# --------------------------------------------------------------------------------------------


class _Speeds:
    """The speeds of the kept samples that give one, gathered block by block."""

    def __init__(self) -> None:
        self.given = False
        self.parts: list[tuple[IntArray, IntArray, IntArray, FloatArray, FloatArray]] = []

    def add(
        self, unit: IntArray, op: IntArray, tech: IntArray, download: FloatArray, upload: FloatArray
    ) -> None:
        """Keep the samples of a block (`unit` -1: outside every village) that give a speed."""
        some = ~(np.isnan(download) & np.isnan(upload))
        if some.any():
            self.parts.append((unit[some], op[some], tech[some], download[some], upload[some]))

    def table(
        self,
        ids: npt.NDArray[np.object_],
        village_of: IntArray | None,
        op_labels: list[str],
        tech_labels: list[str],
    ) -> pd.DataFrame | None:
        """Return :attr:`SampleSummary.speeds`; `village_of` maps rule points to villages."""
        if not self.given:
            return None

        def joined(k: int, dtype: type) -> npt.NDArray[Any]:
            parts = [p[k] for p in self.parts]
            return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)

        unit, op, tech = joined(0, np.int64), joined(1, np.int64), joined(2, np.int64)
        down, up = joined(3, np.float64), joined(4, np.float64)
        if village_of is not None:
            unit = np.where(unit >= 0, village_of[np.maximum(unit, 0)], -1)
        # One extra label, None, for the samples outside every village.
        labels = np.concatenate([ids, np.array([None], dtype=object)])
        village = pd.Series(labels[np.where(unit >= 0, unit, len(ids))], dtype="string")
        return pd.DataFrame(
            {
                "village_id": village,
                "operator": pd.Series(np.asarray(op_labels, dtype=object)[op], dtype="string"),
                "tech": pd.Series(np.asarray(tech_labels, dtype=object)[tech], dtype="string"),
                "download_mbps": down.astype(np.float64),
                "upload_mbps": up.astype(np.float64),
            }
        )


class _Accumulator:
    """Counts per (village, operator, tech), grown as new operators appear."""

    def __init__(self, n_villages: int, n_tech: int) -> None:
        self.n_villages = n_villages
        self.n_tech = n_tech
        self.n_ops = 0
        self.count = np.zeros((n_villages + 1, 0, n_tech), dtype=np.int64)
        self.ok = np.zeros_like(self.count)
        self.speeds = _Speeds()

    def add(
        self, village: IntArray, op: IntArray, tech: IntArray, good: BoolArray, n_ops: int
    ) -> None:
        if n_ops > self.n_ops:
            pad = ((0, 0), (0, n_ops - self.n_ops), (0, 0))
            self.count = np.pad(self.count, pad)
            self.ok = np.pad(self.ok, pad)
            self.n_ops = n_ops
        # Samples outside every village go to the extra last row.
        v = np.where(village >= 0, village, self.n_villages)
        key = (v * self.n_ops + op) * self.n_tech + tech
        size = self.count.size
        self.count += np.bincount(key, minlength=size).reshape(self.count.shape)
        self.ok += np.bincount(key[good], minlength=size).reshape(self.ok.shape)

    def collapsed(self, group: IntArray, n_groups: int) -> _Accumulator:
        """Sum the counts of units into groups (rule points into villages)."""
        out = _Accumulator(n_groups, self.n_tech)
        out.n_ops = self.n_ops
        target = np.r_[group, n_groups]  # the "outside" row stays outside
        shape = (n_groups + 1, self.n_ops, self.n_tech)
        out.count = np.zeros(shape, dtype=np.int64)
        out.ok = np.zeros(shape, dtype=np.int64)
        np.add.at(out.count, target, self.count)
        np.add.at(out.ok, target, self.ok)
        return out


def aggregate_samples(
    path_or_paths: str | Path | Sequence[str | Path],
    villages: gpd.GeoDataFrame,
    *,
    threshold_dbm: float,
    chunk_rows: int = _DEFAULT_CHUNK_ROWS,
    crs: str | pyproj.CRS | None = None,
    columns: Mapping[str, str] | None = None,
    encoding: str = "utf-8",
    points: VillagePoints | None = None,
    rule: str = "point",
) -> SampleSummary:
    """Count samples and samples at or above `threshold_dbm` per village, operator and tech.

    Parameters
    ----------
    path_or_paths
        One or more samples files: CSV (streamed) or any vector format (read whole through
        :func:`hatangso.geo.validate.load_layer`). Columns as in the contract's ``samples``
        input (``operator``, ``tech``, ``rsrp_dbm``, lon/lat or x/y), aliases accepted.
    villages
        Clean village layer in EPSG:4326 (``village_id``, polygon geometry). Samples are
        counted in the polygon that contains them; villages given as points receive none.
    threshold_dbm
        Minimum received level (RSRP, dBm): a sample at or above it counts as available.
    chunk_rows
        Rows per streamed block (approximate: the block is sized in bytes).
    crs
        CRS of x/y columns; lon/lat are read as WGS 84.
    columns
        Contract name to file column, for names the aliases do not know.
    encoding
        Text encoding of CSV files.
    points, rule
        The villages' demand points (:func:`hatangso.coverage.villages.village_points`, in
        the same village order) and the run's rule. Under ``official``, samples are also
        counted per rule point: each at the centre or cluster of its village nearest to it
        (``by_point``), so that the measurement answers the rule at the rule's points.

    Returns
    -------
    SampleSummary

    Raises
    ------
    InputError
        For faults of a file: a required column missing, x/y without a CRS, lon/lat that only
        make sense swapped. Faults of rows (no coordinates, a point outside Vietnam, an
        unreadable or implausible ``rsrp_dbm`` (outside -160 to -20 dBm), a blank operator, a
        technology that is not one of 2G/3G/4G/5G) refuse the row into the rejects.

    Notes
    -----
    Availability per QCVN 81:2019/BTTTT: ``n_at_or_above / n_samples``. Per-village totals
    add every operator and technology; the per-operator rows are what coverage is judged on.
    """
    paths = (
        [Path(path_or_paths)]
        if isinstance(path_or_paths, str | Path)
        else [Path(p) for p in path_or_paths]
    )
    villages = villages.reset_index(drop=True)
    if villages.crs is None or not pyproj.CRS(villages.crs).equals(pyproj.CRS.from_epsg(4326)):
        raise CRSError(
            "aggregate_samples needs the villages in EPSG:4326; reproject them first with "
            "villages.to_crs(4326)"
        )
    user_crs = crs if isinstance(crs, pyproj.CRS) or crs is None else _parse(crs)
    places = _sample_places(villages, points, rule)
    n_units = len(places.village_of) if isinstance(places, _PointPlaces) else len(villages)
    ops, techs = _Codes(), _Codes()
    for t in ("2G", "3G", "4G", "5G"):
        techs.code(t)
    acc = _Accumulator(n_units, len(techs.labels))
    read, rejects, notes = _read_samples(
        paths,
        places,
        acc,
        ops,
        techs,
        threshold_dbm=threshold_dbm,
        chunk_rows=chunk_rows,
        user_crs=user_crs,
        crs=crs,
        columns=columns,
        encoding=encoding,
    )
    reject_frame = (
        pd.concat(rejects, ignore_index=True)
        if rejects
        else pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
    )
    for note in notes:
        log.warning(note)
    by_point = None
    points_per_village = None
    speeds = acc.speeds.table(
        villages["village_id"].astype(str).to_numpy(dtype=object),
        places.village_of if isinstance(places, _PointPlaces) else None,
        ops.labels,
        techs.labels,
    )
    if isinstance(places, _PointPlaces):
        by_point = _point_table(villages, places, acc, ops.labels, techs.labels)
        points_per_village = np.bincount(places.village_of, minlength=len(villages))
        acc = acc.collapsed(places.village_of, len(villages))
    by_operator, by_village = _tables(villages, acc, ops.labels, techs.labels)
    outside = int(acc.count[-1].sum())
    outside_note = _outside_note(villages, outside, read - len(reject_frame))
    if outside_note is not None:
        log.warning(outside_note)
        notes = [*notes, outside_note]
    log.info(
        "samples: %d read, %d rejected, %d outside every village", read, len(reject_frame), outside
    )
    return SampleSummary(
        by_operator=by_operator,
        by_village=by_village,
        rejects=reject_frame,
        read=read,
        rejected=len(reject_frame),
        outside=outside,
        threshold_dbm=float(threshold_dbm),
        notes=tuple(notes),
        by_point=by_point,
        points_per_village=points_per_village,
        speeds=speeds,
    )


def _outside_note(villages: gpd.GeoDataFrame, outside: int, kept: int) -> str | None:
    """Say how many kept samples count for no village, and why when the villages are points.

    Examples
    --------
    >>> v = gpd.GeoDataFrame({"village_id": ["A"]}, geometry=gpd.points_from_xy([105.0], [21.0]),
    ...                      crs=4326)
    >>> _outside_note(v, 900, 900)[:60]
    'samples: none of the 900 kept samples counts for a village: '
    >>> _outside_note(v, 0, 900) is None
    True
    """
    if outside <= 0:
        return None
    polygonal = np.isin(shapely.get_type_id(np.asarray(villages.geometry.array)), (3, 6))
    if not polygonal.any():
        return (
            f"samples: none of the {kept:,} kept samples counts for a village: samples are "
            "counted inside village polygons and the villages are points; give the villages' "
            "outlines to measure coverage and commune speeds"
        )
    return (
        f"samples: {outside:,} of the {kept:,} kept samples lie outside every village polygon "
        "and count for none"
    )


def _sample_places(
    villages: gpd.GeoDataFrame, points: VillagePoints | None, rule: str
) -> _VillageIndex | _PointPlaces:
    """Where samples are counted: the village polygons, or the official rule's points."""
    index = _village_index(villages)
    if points is None or rule != "official":
        return index
    if points.n_villages != len(villages):
        raise ValueError("points must be built from the same villages, in the same order")
    return _point_places(index, points, rule)


def _read_samples(
    paths: list[Path],
    places: _VillageIndex | _PointPlaces,
    acc: _Accumulator,
    ops: _Codes,
    techs: _Codes,
    *,
    threshold_dbm: float,
    chunk_rows: int,
    user_crs: pyproj.CRS | None,
    crs: str | pyproj.CRS | None,
    columns: Mapping[str, str] | None,
    encoding: str,
) -> tuple[int, list[pd.DataFrame], list[str]]:
    """Count every file's samples into `acc`; return rows read, rejects and notes."""
    rejects: list[pd.DataFrame] = []
    notes: list[str] = []
    read = 0
    for path in paths:
        if path.suffix.lower() in (".csv", ".txt", ".tsv"):
            n, rej = _stream_csv(
                path,
                places,
                acc,
                ops,
                techs,
                threshold_dbm,
                chunk_rows,
                user_crs,
                columns,
                encoding,
            )
        else:
            n, rej = _whole_layer(path, places, acc, ops, techs, threshold_dbm, crs, columns)
        read += n
        rejects.extend(rej)
        unknown = sorted(name for name in ops.labels if not normalize_operator(name)[1])
        if unknown:
            notes.append(
                f"{path.name}: unknown operator name(s) kept as written: {', '.join(unknown)}"
            )
    return read, rejects, notes


def _parse(crs: str) -> pyproj.CRS:
    from hatangso.geo.crs import parse_crs

    return parse_crs(crs)


def _in_country(lon: FloatArray, lat: FloatArray) -> BoolArray:
    """:func:`hatangso.geo.validate._in_vietnam`, testing the mainland box first."""
    x0, y0, x1, y1 = _VIETNAM_BOXES[0]
    inside = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    rest = np.flatnonzero(~inside)
    if len(rest):
        inside[rest] = _in_vietnam(lon[rest], lat[rest])
    return np.asarray(inside, dtype=bool)


def _check_rows(
    name: str,
    first_row: int,
    a: FloatArray,
    b: FloatArray,
    rsrp: FloatArray,
    op: IntArray,
    tech: IntArray,
    places: npt.NDArray[np.object_],
    speeds: Mapping[str, tuple[str, FloatArray, BoolArray]] | None = None,
) -> tuple[BoolArray, pd.DataFrame | None]:
    """Vectorised row checks; returns the good mask and the rejects of the block.

    `places` holds why each row's coordinates are unusable, '' where they are fine.

    `speeds` maps ``download_mbps``/``upload_mbps`` to the file's column, its values and
    where the cell is blank: a blank speed is no speed, an unreadable or implausible one
    refuses the row.
    """
    n = len(a)
    reasons = np.asarray(places, dtype=object).copy()

    def reject(mask: BoolArray, text: str) -> None:
        if mask.any():
            cur = reasons[mask]
            reasons[mask] = np.where(cur == "", text, cur + "; " + text)

    missing = np.isnan(a) | np.isnan(b) | (places != "")
    reject(~missing & ~_in_country(a, b), "point outside Vietnam")
    reject(np.isnan(rsrp), "rsrp_dbm is blank or not a number")
    reject(
        ~np.isnan(rsrp) & ((rsrp < _RSRP_LOW) | (rsrp > _RSRP_HIGH)),
        f"rsrp_dbm outside {_RSRP_LOW:g} to {_RSRP_HIGH:g} dBm",
    )
    reject(op < 0, "operator is blank")
    reject(tech < 0, "tech is not one of 2G, 3G, 4G, 5G (one per sample)")
    for speed, (column, values, blank) in (speeds or {}).items():
        low, high = _RANGES[speed]
        unreadable = ~blank & np.isnan(values)
        reject(unreadable, f"{speed} in '{column}' is not a number (write Mb/s, e.g. 42.5)")
        reject(
            ~np.isnan(values) & ((values < low) | (values > high)),
            f"{speed} in '{column}' outside {low:g} to {high:g} Mb/s",
        )
    bad = reasons != ""
    if not bad.any():
        return np.ones(n, dtype=bool), None
    rows = first_row + np.flatnonzero(bad)
    frame = pd.DataFrame({"file": name, "row": rows, "id": "", "reason": reasons[bad]})
    return ~bad, frame[REJECT_COLUMNS]


def _stream_csv(
    path: Path,
    index: _VillageIndex | _PointPlaces,
    acc: _Accumulator,
    ops: _Codes,
    techs: _Codes,
    threshold_dbm: float,
    chunk_rows: int,
    crs: pyproj.CRS | None,
    columns: Mapping[str, str] | None,
    encoding: str,
) -> tuple[int, list[pd.DataFrame]]:
    if not path.exists():
        raise InputError(
            Problem(file=path.name, message=f"no such file: {path}", fix="check the path")
        )
    header, delimiter = _sniff(path, encoding)
    cols = _resolve_columns(header, path.name, columns, crs)
    to_wgs84 = (
        pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
        if cols.projected and crs is not None
        else None
    )
    read = 0
    rejects: list[pd.DataFrame] = []
    first = True
    for batch in _batches(path, cols, delimiter, chunk_rows, encoding):
        n = batch.num_rows
        if not n:
            continue
        a = _numbers(batch.column(cols.a))
        b = _numbers(batch.column(cols.b))
        places = _place_faults(batch, cols, a, b)
        if to_wgs84 is not None:
            a, b = (np.asarray(v, dtype=np.float64) for v in to_wgs84.transform(a, b))
        elif first:
            _check_swapped(path.name, a, b, cols)
        first = False
        rsrp = _numbers(batch.column(cols.rsrp))
        op = _encode(batch.column(cols.operator), ops, lambda s: normalize_operator(s)[0])
        tech = _encode(batch.column(cols.tech), techs, _tech_label)
        speeds = {
            name: (column, _numbers(batch.column(column)), _blank_cells(batch.column(column)))
            for name, column in cols.speed_columns().items()
        }
        good, rej = _check_rows(path.name, read + 1, a, b, rsrp, op, tech, places, speeds)
        if rej is not None:
            rejects.append(rej)
        keep = np.flatnonzero(good)
        village = index.locate(a[keep], b[keep])
        acc.add(village, op[keep], tech[keep], rsrp[keep] >= threshold_dbm, len(ops.labels))
        if speeds:
            acc.speeds.given = True
            none = np.full(n, np.nan)
            down = speeds["download_mbps"][1] if "download_mbps" in speeds else none
            up = speeds["upload_mbps"][1] if "upload_mbps" in speeds else none
            acc.speeds.add(village, op[keep], tech[keep], down[keep], up[keep])
        read += n
    return read, rejects


def _place_faults(
    batch: pa.RecordBatch, cols: _Columns, a: FloatArray, b: FloatArray
) -> npt.NDArray[np.object_]:
    """Return why each row's coordinates are unusable ('' where they are fine)."""
    names = ("x", "y") if cols.projected else ("lon", "lat")
    faults = []
    for name, column, numbers in zip(names, (cols.a, cols.b), (a, b), strict=True):
        values = (
            pd.Series(batch.column(column).to_pandas(), dtype="string")
            if not np.isfinite(numbers).all()  # the text is needed only to say what is wrong
            else pd.Series(pd.NA, index=range(len(numbers)), dtype="string")
        )
        faults.append(_coordinate_faults(name, column, values, numbers))
    first, second = faults
    return np.where(first == "", second, np.where(second == "", first, first + "; " + second))


def _blank_cells(values: pa.Array | pa.ChunkedArray) -> BoolArray:
    """Whether each text cell is null or only spaces."""
    blank = pc.or_kleene(pc.is_null(values), pc.equal(pc.utf8_trim_whitespace(values), ""))
    return np.asarray(pc.fill_null(blank, True).to_numpy(zero_copy_only=False), dtype=bool)


def _check_swapped(name: str, lon: FloatArray, lat: FloatArray, cols: _Columns) -> None:
    ok = ~(np.isnan(lon) | np.isnan(lat))
    if not ok.any():
        return
    inside = _in_vietnam(lon[ok], lat[ok]).mean()
    swapped = _in_vietnam(lat[ok], lon[ok]).mean()
    if inside < 0.5 and swapped > 0.5:
        raise InputError(
            Problem(
                file=name,
                column=cols.a,
                message=f"the coordinates make sense only with longitude and latitude swapped "
                f"({swapped:.0%} of rows fall in Vietnam when '{cols.a}' is read as latitude)",
                fix=f"swap the columns, or pass --columns lon={cols.b},lat={cols.a}",
            )
        )


def _whole_layer(
    path: Path,
    index: _VillageIndex | _PointPlaces,
    acc: _Accumulator,
    ops: _Codes,
    techs: _Codes,
    threshold_dbm: float,
    crs: str | pyproj.CRS | None,
    columns: Mapping[str, str] | None,
) -> tuple[int, list[pd.DataFrame]]:
    """Count a non-CSV samples file, validated whole by the layer validator."""
    from hatangso.geo.validate import load_layer

    layer = load_layer(
        path,
        "samples",
        crs=crs if isinstance(crs, str) or crs is None else crs.to_string(),
        columns=columns,
    )
    frame = layer.frame
    tech_code = np.array(
        [techs.index.get(str(t), -1) for t in frame["tech"].astype(str)], dtype=np.int64
    )
    op_code = np.array([ops.code(str(o)) for o in frame["operator"].astype(str)], dtype=np.int64)
    single = tech_code >= 0
    extra = None
    if not single.all():
        extra = pd.DataFrame(
            {
                "file": layer.name,
                "row": frame["source_row"].to_numpy()[~single],
                "id": "",
                "reason": "a sample has one technology (2G, 3G, 4G or 5G)",
            }
        )
    geoms = np.asarray(frame.geometry.array, dtype=object)[single]
    village = index.locate(shapely.get_x(geoms), shapely.get_y(geoms))
    rsrp = frame["rsrp_dbm"].to_numpy(dtype=float)[single]
    acc.add(village, op_code[single], tech_code[single], rsrp >= threshold_dbm, len(ops.labels))
    given = [name for name in ("download_mbps", "upload_mbps") if name in frame]
    if given:
        acc.speeds.given = True
        speed = {
            name: (
                frame[name].to_numpy(dtype=float, na_value=np.nan)[single]
                if name in frame
                else np.full(int(single.sum()), np.nan)
            )
            for name in ("download_mbps", "upload_mbps")
        }
        acc.speeds.add(
            village,
            op_code[single],
            tech_code[single],
            speed["download_mbps"],
            speed["upload_mbps"],
        )
    rejects = [layer.rejects] + ([extra] if extra is not None else [])
    return layer.read, rejects


def _tables(
    villages: gpd.GeoDataFrame, acc: _Accumulator, op_labels: list[str], tech_labels: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = villages["village_id"].astype(str).to_numpy(dtype=object)
    count = acc.count[:-1]
    ok = acc.ok[:-1]
    v, o, t = np.nonzero(count)
    n = count[v, o, t]
    k = ok[v, o, t]
    by_operator = pd.DataFrame(
        {
            "village_id": pd.Series(ids[v], dtype="string"),
            "operator": pd.Series(np.asarray(op_labels, dtype=object)[o], dtype="string"),
            "tech": pd.Series(np.asarray(tech_labels, dtype=object)[t], dtype="string"),
            "n_samples": n.astype(np.int64),
            "n_at_or_above": k.astype(np.int64),
            "availability": k / n,
        },
        columns=SUMMARY_COLUMNS,
    )
    total = count.sum(axis=(1, 2))
    good = ok.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, good / np.maximum(total, 1), np.nan)
    by_village = pd.DataFrame(
        {
            "village_id": pd.Series(ids, dtype="string"),
            "n_samples": total.astype(np.int64),
            "n_at_or_above": good.astype(np.int64),
            "availability": share,
        }
    )
    return by_operator, by_village


def _point_table(
    villages: gpd.GeoDataFrame,
    places: _PointPlaces,
    acc: _Accumulator,
    op_labels: list[str],
    tech_labels: list[str],
) -> pd.DataFrame:
    ids = villages["village_id"].astype(str).to_numpy(dtype=object)
    count = acc.count[:-1]
    ok = acc.ok[:-1]
    p, o, t = np.nonzero(count)
    n = count[p, o, t]
    k = ok[p, o, t]
    return pd.DataFrame(
        {
            "village_id": pd.Series(ids[places.village_of[p]], dtype="string"),
            "point": p.astype(np.int64),
            "operator": pd.Series(np.asarray(op_labels, dtype=object)[o], dtype="string"),
            "tech": pd.Series(np.asarray(tech_labels, dtype=object)[t], dtype="string"),
            "n_samples": n.astype(np.int64),
            "n_at_or_above": k.astype(np.int64),
            "availability": k / n,
        },
        columns=POINT_COLUMNS,
    )


# --------------------------------------------------------------------------------------------
# Basis and disputes
# --------------------------------------------------------------------------------------------

DISPUTE_COLUMNS = [
    "village_id",
    "name",
    "operator",
    "declared",
    "predicted",
    "measured",
    "samples",
    "basis",
    "reason",
]


@dataclass(frozen=True)
class BasisDecision:
    """What each village's mobile answer rests on, and where the bases disagree.

    Attributes
    ----------
    villages
        Indexed like the input villages: ``measured_availability`` (float, NaN without
        samples), ``n_samples`` (int64), ``measured_operator`` (the operator those two
        describe, NA without samples), ``measured_status`` (``covered``, ``uncovered``,
        ``insufficient samples`` or ``no samples``), ``predicted_mobile`` (the prediction as
        it came, nullable bool), ``declared_operators`` (';'-joined, empty when none),
        ``mobile_basis`` (``measured``, ``predicted``, ``declared``; NA when no basis exists),
        ``covered_mobile`` (bool, the answer on that basis) and ``disputed`` (bool).
    disputes
        One row per disputed (village, operator): ``village_id``, ``name``, ``operator``,
        ``declared`` and ``predicted`` (nullable bool: NA when that basis was not given),
        ``measured`` (availability, NaN when the samples are insufficient or absent),
        ``samples`` (int64), ``basis`` (the village's) and ``reason`` (plain words).
    counts
        ``{"measured", "predicted", "declared", "none", "insufficient_samples",
        "disputed_villages", "disputes", "declared_unknown_villages"}``: numbers of villages
        (the last: declaration rows naming a village id not in the village layer).
    """

    villages: pd.DataFrame
    disputes: pd.DataFrame
    counts: dict[str, int]

    def write_disputes(self, path: str | Path) -> Path:
        """Write the dispute list as CSV (UTF-8, the columns of `disputes`); return the path.

        The file is written even when there is no dispute, with its header only.
        """
        table = spreadsheet_safe(self.disputes)
        return atomic_write(path, lambda p: table.to_csv(p, index=False, encoding="utf-8"))

    def kpis_block(self, *, limit: int | None = None) -> dict[str, Any]:
        """Return the ``basis`` and ``disputes`` entries for ``kpis.json`` (JSON-ready).

        Parameters
        ----------
        limit
            Keep at most this many dispute rows (all when None); ``disputes_total`` tells
            how many there are.
        """
        rows = self.disputes if limit is None else self.disputes.head(limit)
        records = [{k: json_ready(v) for k, v in rec.items()} for rec in rows.to_dict("records")]
        for rec in records:
            if rec["measured"] is not None:
                rec["measured"] = round(float(rec["measured"]), 4)
        return {
            "basis": dict(self.counts),
            "disputes_total": len(self.disputes),
            "disputes": records,
        }


def _known_or_none(known: BoolArray, value: BoolArray) -> pd.arrays.BooleanArray:
    out = np.full(len(known), None, dtype=object)
    out[known] = value[known]
    return pd.array(out, dtype="boolean")


def _broadband(tech: pd.Series) -> BoolArray:
    """Whether each ';'-joined technology list holds 4G or 5G."""
    text = tech.fillna("").astype(str)
    codes, uniques = pd.factorize(text)
    has = np.array(
        [bool(set(str(u).split(";")) & set(BROADBAND_TECHS)) for u in uniques], dtype=bool
    )
    return has[codes] if len(uniques) else np.zeros(len(tech), dtype=bool)


def decide_basis(
    villages: pd.DataFrame,
    summary: SampleSummary | None,
    declared: pd.DataFrame | None,
    *,
    min_samples: int,
    min_availability: float,
) -> BasisDecision:
    """Choose each village's mobile basis; list where measurement, prediction, declaration differ.

    Parameters
    ----------
    villages
        The assessed villages: ``village_id``, ``name`` and, when sites were given,
        ``covered_mobile`` (bool, the prediction under the configured rule) and
        ``serving_operators`` (';'-joined operators whose own predicted coverage meets the
        same rule, :func:`hatangso.coverage.villages.serving_operators`).
    summary
        From :func:`aggregate_samples`, or None without samples.
    declared
        The clean ``declared`` layer (``village_id``, ``operator``, ``tech``), or None.
    min_samples
        Samples one operator needs in a village for its measurement to count (``samples.
        min_samples``).
    min_availability
        Share of samples at or above the threshold for an operator to count as
        measured-covered (``samples.min_availability``, 0.95 by QCVN 81:2019).

    Returns
    -------
    BasisDecision

    Notes
    -----
    Everything is judged for "4G or better" (samples and declarations of 4G or 5G), per
    operator, then per village.

    For each village *v* and operator *o* three answers may exist:

    * measured ``M``: known when *o* has at least `min_samples` 4G/5G samples in *v*; true
      when their availability (share at or above the threshold) is at least
      `min_availability`. Fewer samples leave ``M`` unknown ("insufficient samples"): a few
      samples never make a village covered;
    * predicted ``P``: known when the prediction was run; true when *o* is among the serving
      operators of *v*, i.e. *o*'s own predicted coverage meets the rule;
    * declared ``D``: known when *o* filed a declaration list; true when *v* is on it.

    Operator *o* covers *v* by ``M`` when it is known, else by ``P``, else by ``D``. A
    village where some operator's ``M`` is known is covered when some operator covers it; any
    other village keeps the prediction's answer when the prediction was run (the rule's own
    answer, which the operators' answers need not add up to), else its declarations'. Its
    ``mobile_basis`` is ``measured`` when some operator's ``M`` is known, else ``predicted``
    when the prediction was run, else ``declared`` when declarations were given (NA when
    nothing was).

    (*v*, *o*) is **disputed** when the known answers disagree: ``M`` known and (``D`` known
    and ``D != M``, or ``P`` known and ``P != M``); or ``M`` unknown and ``D`` and ``P``
    both known and ``D != P``. Examples: declared covered but measured 40 % with enough
    samples; declared covered, not predicted and not measured; measured covered but predicted
    uncovered. A village is disputed when any of its operators is.

    ``measured_availability`` and ``n_samples`` describe one operator: among operators with
    enough samples the one with the highest availability, else the one with the most samples.
    """
    n = len(villages)
    ids = villages["village_id"].astype(str).to_numpy(dtype=object)
    position = pd.Series(np.arange(n), index=pd.Index(ids))
    has_prediction = "covered_mobile" in villages
    declared_part, unknown_declared, filed = _declared_pairs(declared, position)
    parts = [
        part
        for part in (
            _predicted_pairs(villages) if has_prediction else None,
            declared_part,
            _measured_pairs(summary, position),
        )
        if part is not None
    ]
    pairs = _pair_verdicts(
        _merged_pairs(parts),
        summary,
        ids,
        filed=filed,
        has_prediction=has_prediction,
        min_samples=min_samples,
        min_availability=min_availability,
    )
    out = _village_answers(
        villages, pairs, has_prediction=has_prediction, has_declared=declared is not None
    )
    disputes = _disputes_table(
        villages,
        ids,
        pairs,
        out["mobile_basis"].to_numpy(dtype=object),
        min_samples=min_samples,
        min_availability=min_availability,
    )
    counts = _basis_counts(out, disputes, unknown_declared)
    log.info("mobile basis: %s", counts)
    return BasisDecision(villages=out, disputes=disputes, counts=counts)


def _predicted_pairs(villages: pd.DataFrame) -> pd.DataFrame:
    """Return (position ``v``, ``operator``, ``P``) per serving operator of a covered village."""
    covered = villages["covered_mobile"].fillna(False).to_numpy(dtype=bool)
    serving = (
        villages["serving_operators"].fillna("").astype(str)
        if "serving_operators" in villages
        else pd.Series("", index=villages.index)
    )
    lists = serving.str.split(";")
    exploded = pd.DataFrame({"v": np.arange(len(villages)), "operator": lists.to_numpy()}).explode(
        "operator"
    )
    exploded = exploded[exploded["operator"].fillna("").astype(str) != ""]
    exploded = exploded[covered[exploded["v"].to_numpy(dtype=np.int64)]]
    pairs: pd.DataFrame = exploded.assign(P=True)[["v", "operator", "P"]]
    return pairs


def _declared_pairs(
    declared: pd.DataFrame | None, position: pd.Series
) -> tuple[pd.DataFrame | None, int, set[str]]:
    """Return the 4G/5G declarations as (``v``, ``operator``, ``D``) pairs.

    Also returns the number of broadband rows naming a village id not in the layer, and the
    operators that filed a declaration list (of any technology).
    """
    if declared is None or not len(declared):
        return None, 0, set()
    d = declared[_broadband(declared["tech"])]
    did = d["village_id"].astype(str)
    known = did.isin(position.index).to_numpy(dtype=bool)
    unknown_declared = int((~known).sum())
    if unknown_declared:
        names = pd.unique(did[~known].to_numpy(dtype=object))
        shown = ", ".join(repr(str(v)) for v in names[:5])
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        log.warning(
            "declarations: %d row(s) name village ids not in the village layer (%s%s) and "
            "count for no village; correct their village_id to one of the villages' ids",
            unknown_declared,
            shown,
            more,
        )
    filed = set(declared["operator"].astype(str))
    pairs = pd.DataFrame(
        {
            "v": position.loc[did[known].to_numpy(dtype=object)].to_numpy(),
            "operator": d["operator"].astype(str).to_numpy(dtype=object)[known],
            "D": True,
        }
    ).drop_duplicates(["v", "operator"])
    return pairs, unknown_declared, filed


def _measured_pairs(summary: SampleSummary | None, position: pd.Series) -> pd.DataFrame | None:
    """4G/5G samples ``n`` and samples at or above the threshold ``k`` per (``v``, ``operator``)."""
    if summary is None or not len(summary.by_operator):
        return None
    s = summary.by_operator[_broadband(summary.by_operator["tech"])]
    s = s[s["village_id"].astype(str).isin(position.index)]
    sums = (
        s.assign(operator=s["operator"].astype(str), village_id=s["village_id"].astype(str))
        .groupby(["village_id", "operator"], sort=False)[["n_samples", "n_at_or_above"]]
        .sum()
        .reset_index()
    )
    return pd.DataFrame(
        {
            "v": position.loc[sums["village_id"].to_numpy(dtype=object)].to_numpy(),
            "operator": sums["operator"].to_numpy(dtype=object),
            "n": sums["n_samples"].to_numpy(dtype=np.int64),
            "k": sums["n_at_or_above"].to_numpy(dtype=np.int64),
        }
    )


def _merged_pairs(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per (``v``, ``operator``), sorted, joining the bases' pair tables."""
    if not parts:
        return pd.DataFrame({"v": np.empty(0, np.int64), "operator": np.empty(0, object)})
    pairs = pd.concat(parts, ignore_index=True)
    for column in ("P", "D"):
        if column in pairs:
            pairs[column] = pairs[column].eq(True).to_numpy(dtype=bool)
    for column in ("n", "k"):
        if column in pairs:
            pairs[column] = pairs[column].fillna(0).to_numpy(dtype=np.int64)
    pairs["operator"] = pairs["operator"].astype(str)
    agg = {c: "max" for c in ("P", "D") if c in pairs} | {
        c: "sum" for c in ("n", "k") if c in pairs
    }
    return pairs.groupby(["v", "operator"], sort=True).agg(agg).reset_index()


@dataclass(frozen=True)
class _PairVerdicts:
    """The three answers of each (village, operator) pair, and what they make of it.

    ``v`` is the village's position, ``op`` the operator, ``n_s`` and ``avail`` the 4G/5G
    samples and their availability (NaN without samples); ``*_known`` and ``*_val`` say
    whether each basis answers and what. ``at_points`` is whether the measured answers were
    taken at the official rule's points.
    """

    v: IntArray
    op: npt.NDArray[np.object_]
    n_s: IntArray
    avail: FloatArray
    m_known: BoolArray
    m_val: BoolArray
    p_known: BoolArray
    p_val: BoolArray
    d_known: BoolArray
    d_val: BoolArray
    at_points: bool

    @property
    def covers(self) -> BoolArray:
        """Whether the operator covers the village: by ``M``, else ``P``, else ``D``."""
        return np.where(
            self.m_known,
            self.m_val,
            np.where(self.p_known, self.p_val, self.d_known & self.d_val),
        )

    @property
    def disputed(self) -> BoolArray:
        """Whether the known answers disagree."""
        disputed: BoolArray = np.where(
            self.m_known,
            (self.d_known & (self.d_val != self.m_val))
            | (self.p_known & (self.p_val != self.m_val)),
            self.d_known & self.p_known & (self.d_val != self.p_val),
        )
        return disputed


def _pair_verdicts(
    pairs: pd.DataFrame,
    summary: SampleSummary | None,
    ids: npt.NDArray[np.object_],
    *,
    filed: set[str],
    has_prediction: bool,
    min_samples: int,
    min_availability: float,
) -> _PairVerdicts:
    """Measured, predicted and declared answers of each pair of :func:`_merged_pairs`."""
    m = len(pairs)
    v = pairs["v"].to_numpy(dtype=np.int64)
    op = pairs["operator"].to_numpy(dtype=object)

    def flag(column: str) -> BoolArray:
        if column not in pairs:
            return np.zeros(m, dtype=bool)
        return np.asarray(pairs[column].to_numpy(dtype=bool), dtype=bool)

    n_s = pairs["n"].to_numpy(dtype=np.int64) if "n" in pairs else np.zeros(m, np.int64)
    k_s = pairs["k"].to_numpy(dtype=np.int64) if "k" in pairs else np.zeros(m, np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        avail = np.where(n_s > 0, k_s / np.maximum(n_s, 1), np.nan)
    m_known = n_s >= min_samples
    m_val = m_known & (avail >= min_availability)
    at_points = summary is not None and summary.by_point is not None
    if summary is not None and summary.by_point is not None:
        m_known, m_val = _measured_at_points(
            summary.by_point,
            pd.Series(
                summary.points_per_village,
                index=summary.by_village["village_id"].astype(str),
                dtype="int64",
            ),
            ids[v],
            op,
            min_samples=min_samples,
            min_availability=min_availability,
        )
    return _PairVerdicts(
        v=v,
        op=op,
        n_s=n_s,
        avail=avail,
        m_known=m_known,
        m_val=m_val,
        p_known=np.full(m, has_prediction),
        p_val=flag("P"),
        d_known=np.isin(op, list(filed)) if filed else np.zeros(m, dtype=bool),
        d_val=flag("D"),
        at_points=at_points,
    )


def _shown_measurement(
    pairs: _PairVerdicts, n: int
) -> tuple[npt.NDArray[np.object_], FloatArray, IntArray]:
    """Operator, availability and samples shown per village.

    The operator with the best availability among the measured, else the one with the most
    samples; None, NaN and 0 for a village without samples.
    """
    v, n_s = pairs.v, pairs.n_s
    rank = np.where(
        pairs.m_known, 2.0 + np.nan_to_num(pairs.avail), n_s / (1.0 + n_s.max(initial=0))
    )
    shown_op = np.full(n, None, dtype=object)
    shown_av = np.full(n, np.nan)
    shown_n = np.zeros(n, dtype=np.int64)
    sampled_pair = n_s > 0
    if sampled_pair.any():
        idx = np.flatnonzero(sampled_pair)
        order = idx[np.lexsort((-rank[idx], v[idx]))]
        first = order[np.r_[True, v[order][1:] != v[order][:-1]]]
        shown_op[v[first]] = pairs.op[first]
        shown_av[v[first]] = pairs.avail[first]
        shown_n[v[first]] = n_s[first]
    return shown_op, shown_av, shown_n


def _village_answers(
    villages: pd.DataFrame,
    pairs: _PairVerdicts,
    *,
    has_prediction: bool,
    has_declared: bool,
) -> pd.DataFrame:
    """Build the columns of :attr:`BasisDecision.villages` from the pairs' verdicts."""
    n = len(villages)
    v = pairs.v
    covered_any = np.bincount(v, weights=pairs.covers, minlength=n) > 0
    measured_any = np.bincount(v, weights=pairs.m_known, minlength=n) > 0
    if has_prediction:
        # Where nothing was measured the village keeps the prediction's own answer to the
        # rule: the operators' answers need not add up to it (two operators may together
        # cover a share that neither covers alone).
        covered_any = np.where(
            measured_any, covered_any, villages["covered_mobile"].fillna(False).to_numpy(bool)
        )
    sampled_any = np.bincount(v, weights=pairs.n_s, minlength=n) > 0
    measured_cov = np.bincount(v, weights=pairs.m_val, minlength=n) > 0
    disputed_v = np.bincount(v, weights=pairs.disputed, minlength=n) > 0
    shown_op, shown_av, shown_n = _shown_measurement(pairs, n)

    if has_prediction:
        fallback = "predicted"
    elif has_declared:
        fallback = "declared"
    else:
        fallback = None
    basis = np.where(measured_any, "measured", fallback if fallback else "").astype(object)
    basis[basis == ""] = None
    status = np.where(
        measured_any,
        np.where(measured_cov, "covered", "uncovered"),
        np.where(sampled_any, "insufficient samples", "no samples"),
    )
    declared_ops = join_unique_per_group(v[pairs.d_val], pairs.op[pairs.d_val], n)
    predicted = (
        pd.array(villages["covered_mobile"].to_numpy(dtype=bool), dtype="boolean")
        if has_prediction
        else pd.array([pd.NA] * n, dtype="boolean")
    )
    return pd.DataFrame(
        {
            "measured_availability": shown_av,
            "n_samples": shown_n,
            "measured_operator": pd.array(shown_op, dtype="string"),
            "measured_status": pd.array(status, dtype="string"),
            "predicted_mobile": predicted,
            "declared_operators": pd.array(declared_ops, dtype="string"),
            "mobile_basis": pd.array(basis, dtype="string"),
            "covered_mobile": covered_any,
            "disputed": disputed_v,
        },
        index=villages.index,
    )


def _disputes_table(
    villages: pd.DataFrame,
    ids: npt.NDArray[np.object_],
    pairs: _PairVerdicts,
    basis: npt.NDArray[np.object_],
    *,
    min_samples: int,
    min_availability: float,
) -> pd.DataFrame:
    """:attr:`BasisDecision.disputes`: the disputed pairs, sorted by village and operator."""
    names = (
        villages["name"].astype("string").to_numpy(dtype=object)
        if "name" in villages
        else np.full(len(villages), None, dtype=object)
    )
    dd = np.flatnonzero(pairs.disputed)
    v = pairs.v[dd]
    d_known, d_val = pairs.d_known[dd], pairs.d_val[dd]
    p_known, p_val = pairs.p_known[dd], pairs.p_val[dd]
    m_known, avail, n_s = pairs.m_known[dd], pairs.avail[dd], pairs.n_s[dd]
    disputes = pd.DataFrame(
        {
            "village_id": pd.array(ids[v], dtype="string"),
            "name": pd.array(names[v], dtype="string"),
            "operator": pd.array(pairs.op[dd], dtype="string"),
            "declared": _known_or_none(d_known, d_val),
            "predicted": _known_or_none(p_known, p_val),
            "measured": np.where(m_known, avail, np.nan),
            "samples": n_s,
            "basis": pd.array(basis[v], dtype="string"),
            "reason": _reasons(
                d_known,
                d_val,
                p_known,
                p_val,
                m_known,
                avail,
                n_s,
                min_samples,
                min_availability,
                at_points=pairs.m_val[dd] if pairs.at_points else None,
            ),
        },
        columns=DISPUTE_COLUMNS,
    )
    return disputes.sort_values(["village_id", "operator"], kind="stable").reset_index(drop=True)


def _basis_counts(
    out: pd.DataFrame, disputes: pd.DataFrame, unknown_declared: int
) -> dict[str, int]:
    """:attr:`BasisDecision.counts` from the village answers and the disputes."""
    basis = out["mobile_basis"]
    return {
        "measured": int((basis == "measured").sum()),
        "predicted": int((basis == "predicted").sum()),
        "declared": int((basis == "declared").sum()),
        "none": int(basis.isna().sum()),
        "insufficient_samples": int((out["measured_status"] == "insufficient samples").sum()),
        "disputed_villages": int(out["disputed"].sum()),
        "disputes": len(disputes),
        "declared_unknown_villages": unknown_declared,
    }


def _measured_at_points(
    by_point: pd.DataFrame,
    points_per_village: pd.Series,
    village_ids: npt.NDArray[np.object_],
    operators: npt.NDArray[np.object_],
    *,
    min_samples: int,
    min_availability: float,
) -> tuple[BoolArray, BoolArray]:
    """Each (village, operator)'s measured answer to the official rule, from its points.

    `by_point` is :attr:`SampleSummary.by_point`; `points_per_village` the number of rule
    points of each village, indexed by ``village_id``. A point is measured when the operator
    has at least `min_samples` 4G/5G samples there, and covered when their availability
    reaches `min_availability`. The operator is measured-uncovered in the village when some
    point is measured uncovered, measured-covered when every point is measured covered, and
    unmeasured otherwise.
    """
    bp = by_point[_broadband(by_point["tech"])]
    sums = (
        bp.assign(village_id=bp["village_id"].astype(str), operator=bp["operator"].astype(str))
        .groupby(["village_id", "point", "operator"], sort=False)[["n_samples", "n_at_or_above"]]
        .sum()
        .reset_index()
    )
    n = sums["n_samples"].to_numpy(dtype=np.int64)
    k = sums["n_at_or_above"].to_numpy(dtype=np.int64)
    known = n >= min_samples
    good = known & (k / np.maximum(n, 1) >= min_availability)
    per = (
        sums.assign(good=good, bad=known & ~good)
        .groupby(["village_id", "operator"], sort=False)
        .agg(n_good=("good", "sum"), bad=("bad", "any"))
    )
    need = points_per_village.loc[per.index.get_level_values(0)].to_numpy()
    full = per["n_good"].to_numpy() >= need
    bad = per["bad"].to_numpy(dtype=bool)
    key = pd.MultiIndex.from_arrays(
        [village_ids.astype(str), operators.astype(str)], names=["village_id", "operator"]
    )
    m_known = pd.Series(bad | full, index=per.index).reindex(key, fill_value=False)
    m_val = pd.Series(~bad & full, index=per.index).reindex(key, fill_value=False)
    return m_known.to_numpy(dtype=bool), m_val.to_numpy(dtype=bool)


def _reasons(
    d_known: BoolArray,
    d_val: BoolArray,
    p_known: BoolArray,
    p_val: BoolArray,
    m_known: BoolArray,
    avail: FloatArray,
    n_s: IntArray,
    min_samples: int,
    min_availability: float,
    *,
    at_points: BoolArray | None = None,
) -> npt.NDArray[np.object_]:
    """Plain-words account of each disputed pair.

    `at_points` gives the measured answers when they were taken at the official rule's
    points (the centre and each cluster) rather than over the village.
    """

    def said(known: BoolArray, value: BoolArray, yes: str, no: str) -> npt.NDArray[np.str_]:
        return np.where(known, np.where(value, yes, no), "")

    pct = np.char.mod("%.0f%%", np.nan_to_num(avail) * 100.0)
    measured = np.where(
        m_known,
        np.char.add(
            np.char.add(np.char.add("measured ", pct), np.char.mod(" of %d samples", n_s)),
            np.where(
                avail >= min_availability,
                f" (>= {min_availability:.0%})",
                f" (< {min_availability:.0%})",
            ),
        ),
        np.where(
            n_s > 0,
            np.char.add(np.char.mod("%d samples", n_s), f" (< {min_samples}: insufficient)"),
            "not measured",
        ),
    )
    if at_points is not None:
        overall = np.char.add(np.char.mod(" (%d samples, ", n_s), np.char.add(pct, " overall)"))
        measured = np.where(
            m_known,
            np.char.add(
                np.where(
                    at_points,
                    f"measured at the centre and every cluster (>= {min_availability:.0%})",
                    f"measured below {min_availability:.0%} at the centre or a cluster",
                ),
                overall,
            ),
            np.where(
                n_s > 0,
                np.char.add(
                    np.char.mod("%d samples", n_s),
                    f" (fewer than {min_samples} at the centre or a cluster: insufficient)",
                ),
                "not measured",
            ),
        )
    pieces = [
        said(d_known, d_val, "declared covered", "not declared"),
        said(p_known, p_val, "predicted covered", "predicted uncovered"),
        measured,
    ]
    out = np.empty(len(n_s), dtype=object)
    for i, row in enumerate(zip(*pieces, strict=True)):
        out[i] = "; ".join(p for p in row if p)
    return out
