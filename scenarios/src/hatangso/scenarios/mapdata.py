"""The compact data of a large map: villages, sites and shared towers in one payload.

A map of the whole country (100,000 villages, 120,000 sites) cannot carry one Leaflet element
per feature: :func:`map_payload` packs every point of the map into one binary payload that the
page's canvas layers (``assets/hatangso/points.js``) draw, and :func:`read_payload` reads it
back (for tests and tools).

Layout, once inflated (zlib): a ``uint32`` little-endian length ``n``, a JSON header of ``n``
UTF-8 bytes, zero padding to a multiple of 4 bytes, then the arrays the header lists under
``arrays`` (``name``, ``type`` ``i4``/``u1``/``f4``, little-endian, ``offset`` in bytes from the
start, ``length`` in items). For each kind of point (``villages``, ``sites``, ``towers``):

- ``<kind>_dx``, ``<kind>_dy`` (``i4``): longitude and latitude in units of ``1 / scale``
  degree (``scale`` = 100,000: about a metre), delta-coded (each the difference from the
  previous point, the first from 0). Points are sorted along a Morton curve, so the deltas are
  small and the stream compresses well;
- ``villages_status`` (``u1``): bit 0 the village is covered, bit 1 it is disputed;
- ``villages_challenge`` (``u1``, only when some village is challenged): 0 for a village
  without a challenge, else 1 + the index of its challenge's status (``open``, ``answered``,
  ``upheld``, ``rejected`` ...) in ``header.villages.challenge.levels``; the popup's
  ``challenge`` field is then of kind ``challenge`` and read from this code;
- ``villages_switch_off`` (``u1``, only when some village loses all mobile service with the
  2G/3G switch-off): likewise, 1 + the index of the first step that takes its service
  (``2G``, ``2G + 3G``) in ``header.villages.switch_off.levels``; the popup's field of kind
  ``switch_off`` is read from this code;
- ``sites_operator`` (``u1``): the index of the site's operator in ``header.sites.operators``,
  whose ``start``/``end`` give each operator's contiguous run of sites;
- one array per field: numbers as ``f4`` (NaN when missing), texts as ``i4`` codes into the
  field's ``levels`` (-1 when missing). Texts are HTML-escaped (the page inserts them as
  markup), so no text of the input can become markup or script.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from hatangso.geo.errors import InputError, Problem

__all__ = ["SCALE", "Payload", "escaped", "map_payload", "read_payload"]

#: Coordinates are integers of 1 / SCALE degree.
SCALE = 100_000
_TYPES: dict[str, np.dtype[Any]] = {
    "i4": np.dtype("<i4"),
    "u1": np.dtype("u1"),
    "f4": np.dtype("<f4"),
}
_MISSING_INT = 2**31
#: What :func:`html.escape` replaces, ampersand first.
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;"))


@dataclass(frozen=True)
class Payload:
    """A packed payload and what the page needs to know of it.

    Attributes
    ----------
    data
        The zlib-compressed payload.
    operators
        The sites' operators, in the order of ``sites_operator`` codes.
    disputed
        Whether any village is disputed.
    towers
        Whether the payload holds shared towers.
    challenged
        Whether any village has a challenge to its status.
    switch_off
        Whether any village loses all mobile service with the 2G/3G switch-off.
    """

    data: bytes
    operators: tuple[str, ...]
    disputed: bool
    towers: bool = False
    challenged: bool = False
    switch_off: bool = False

    def base64(self) -> str:
        """Return the payload as base64 text, as the page carries it."""
        return base64.b64encode(self.data).decode("ascii")


def escaped(values: pd.Series) -> pd.Series:
    """Return `values` as HTML-escaped text (as :func:`html.escape`), missing values kept missing.

    Examples
    --------
    >>> text = escaped(pd.Series(["<b>Nà</b>", None]))
    >>> text[0], bool(text.isna()[1])
    ('&lt;b&gt;Nà&lt;/b&gt;', True)
    """
    text = values.astype(str)
    for raw, entity in _ENTITIES:
        text = text.str.replace(raw, entity, regex=False)
    return text.where(values.notna(), values)


def _lonlat(frame: gpd.GeoDataFrame) -> npt.NDArray[np.float64]:
    """One point per row in degrees: the point itself, or a point on the polygon's surface."""
    frame = frame.to_crs(4326) if frame.crs is not None else frame
    points = np.asarray(frame.geometry.array, dtype=object).copy()
    areas = shapely.get_type_id(points) != 0
    points[areas] = shapely.point_on_surface(points[areas])
    return np.asarray(shapely.get_coordinates(points), dtype=np.float64).reshape(-1, 2)


def _spread(v: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Spread the low 16 bits of `v` to the even bits (for a Morton key)."""
    v = v & np.uint64(0xFFFF)
    v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
    v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
    v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
    return (v | (v << np.uint64(1))) & np.uint64(0x55555555)


def _morton_order(q: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Order of quantised points along a Morton curve (cells of 2**6 units, about 640 m)."""
    if not len(q):
        return np.zeros(0, dtype=np.intp)
    cells = ((q - q.min(axis=0)) >> 6).astype(np.uint64)
    key = _spread(cells[:, 0]) | (_spread(cells[:, 1]) << np.uint64(1))
    return np.argsort(key, kind="stable")


class _Writer:
    """Collects the header and the arrays of a payload."""

    def __init__(self) -> None:
        self.header: dict[str, Any] = {"version": 1, "scale": SCALE, "arrays": []}
        self.arrays: list[tuple[str, str, npt.NDArray[Any]]] = []

    def add(self, name: str, kind: str, values: npt.ArrayLike) -> None:
        array = np.ascontiguousarray(np.asarray(values), dtype=_TYPES[kind])
        if kind == "i4":
            # Zigzag (0, -1, 1, -2 ... as 0, 1, 2, 3 ...), then byte planes (all low bytes, then
            # the next ...): small integers of either sign leave whole planes of zeros, which
            # deflate packs far better than interleaved 4-byte words.
            zigzag = ((array << 1) ^ (array >> 31)).view(np.uint32)
            kind, array = "i4s", np.ascontiguousarray(zigzag.view(np.uint8).reshape(-1, 4).T)
        self.arrays.append((name, kind, array))

    def coordinates(self, prefix: str, q: npt.NDArray[np.int64]) -> None:
        deltas = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
        self.add(f"{prefix}_dx", "i4", deltas[:, 0])
        self.add(f"{prefix}_dy", "i4", deltas[:, 1])

    def field(
        self, prefix: str, column: str, values: pd.Series, *, decimals: int = 0
    ) -> dict[str, Any]:
        """Add one field; return its description (without its label)."""
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            scaled = np.round(numbers * 10**decimals)
            known = np.isfinite(scaled)
            if np.all(np.abs(scaled[known]) < _MISSING_INT):
                # Whole numbers of 10**-decimals, missing as the smallest int32.
                self.add(f"{prefix}_{column}", "i4", np.where(known, scaled, -_MISSING_INT))
                return {
                    "column": column,
                    "kind": "number",
                    "decimals": decimals,
                    "scale": 10**decimals,
                }
            self.add(f"{prefix}_{column}", "f4", np.round(numbers, decimals))
            return {"column": column, "kind": "number", "decimals": decimals, "scale": 0}
        codes, levels = pd.factorize(values, use_na_sentinel=True)
        self.add(f"{prefix}_{column}", "i4", codes)
        shown = escaped(pd.Series(levels, dtype=object)).tolist() if len(levels) else []
        return {"column": column, "kind": "text", "levels": shown}

    def pack(self) -> bytes:
        entries: list[dict[str, Any]] = []
        self.header["arrays"] = entries
        for name, kind, values in self.arrays:
            entries.append(
                {
                    "name": name,
                    "type": kind,
                    "offset": 0,
                    "length": int(values.size // 4 if kind == "i4s" else values.size),
                }
            )
        # The offsets depend on the header's own length: lay out with growing guesses. The
        # rest of the header (the popups' texts: megabytes on a national map) is encoded once.
        rest = {key: value for key, value in self.header.items() if key != "arrays"}
        head = json.dumps(rest, ensure_ascii=False, separators=(",", ":")).encode()
        head = head[:-1] + (b',"arrays":' if rest else b'"arrays":')
        start = 0
        for _ in range(8):
            text = head + json.dumps(entries, separators=(",", ":")).encode() + b"}"
            first = 4 + len(text)
            first += -first % 4
            if first == start:
                break
            start = first
            offset = start
            for entry, (_, _, values) in zip(entries, self.arrays, strict=True):
                entry["offset"] = offset
                offset += values.nbytes + (-values.nbytes % 4)
        parts = [
            np.uint32(len(text)).astype("<u4").tobytes(),
            text,
            b"\0" * (start - 4 - len(text)),
        ]
        for _, _, values in self.arrays:
            parts.append(values.tobytes())
            parts.append(b"\0" * (-values.nbytes % 4))
        return zlib.compress(b"".join(parts), 1)


def _quantised(
    frame: gpd.GeoDataFrame, lonlat: npt.NDArray[np.float64] | None = None
) -> npt.NDArray[np.int64]:
    return np.round((_lonlat(frame) if lonlat is None else lonlat) * SCALE).astype(np.int64)


def map_payload(
    villages: gpd.GeoDataFrame,
    *,
    status: npt.NDArray[np.bool_],
    disputed: npt.NDArray[np.bool_],
    fields: Sequence[tuple[str, str]],
    sites: gpd.GeoDataFrame | None = None,
    towers: gpd.GeoDataFrame | None = None,
    tower_prefix: str = "",
    challenge: pd.Series | None = None,
    switch_off: pd.Series | None = None,
    village_lonlat: npt.NDArray[np.float64] | None = None,
) -> Payload:
    """Pack the points of a map into one compressed payload (layout in the module's notes).

    Parameters
    ----------
    villages
        Village points or polygons (a polygon is drawn at a point on its surface).
    status, disputed
        Per village: covered by the map's indicator; disputed.
    fields
        ``(column, label)`` of the popup, in order; `label` is markup (the page shows it as is).
    sites
        BTS sites with ``operator``, and optionally ``site_id`` and ``tech``.
    towers
        Shared towers (``operators``); only the rows whose ``shared`` is true are packed.
    tower_prefix
        Markup put before a tower's operators in its tooltip.
    challenge
        Per village (in the order of `villages`), the status of its challenge (``open``,
        ``answered``, ``upheld``, ``rejected``), missing for a village without one: packed
        as one byte per village and a table of the statuses.
    switch_off
        Per village (in the order of `villages`), the first switch-off step that leaves it
        without mobile service (``2G``, ``2G + 3G``), missing for the others: packed as
        `challenge` is.
    village_lonlat
        ``(n, 2)`` longitude and latitude of each village's point, when the caller has them
        (the engine's points on the surface, :attr:`hatangso.coverage.villages.VillagePoints.
        surface_lonlat`); None: taken here, the same way.

    Returns
    -------
    Payload
    """
    writer = _Writer()
    q = _quantised(villages, village_lonlat)
    order = _morton_order(q)
    writer.coordinates("villages", q[order])
    flags = np.asarray(status, dtype=np.uint8) | (np.asarray(disputed, dtype=np.uint8) << 1)
    writer.add("villages_status", "u1", flags[order])
    writer.header["villages"] = {"n": len(villages)}
    packed = {
        column: _add_byte_field(writer, column, values, order)
        for column, values in (("challenge", challenge), ("switch_off", switch_off))
    }
    described = []
    for column, label in fields:
        if packed.get(column):
            described.append({"column": column, "kind": column, "label": label})
            continue
        values = villages[column].iloc[order].reset_index(drop=True)
        entry = writer.field(
            "villages", column, values, decimals=2 if column == "measured_availability" else 0
        )
        described.append({**entry, "label": label})
    writer.header["villages"]["fields"] = described

    operators: tuple[str, ...] = ()
    if sites is not None and len(sites):
        names = sites["operator"].fillna("").astype(str).to_numpy()
        operators = tuple(str(o) for o in np.unique(names))
        code = np.searchsorted(np.asarray(operators, dtype=object), names)
        q = _quantised(sites)
        morton = _morton_order(q)
        order = morton[np.argsort(code[morton], kind="stable")]
        writer.coordinates("sites", q[order])
        writer.add("sites_operator", "u1", code[order])
        ends = np.cumsum(np.bincount(code, minlength=len(operators)))
        ids = sites["site_id"] if "site_id" in sites else pd.Series([""] * len(sites))
        techs = sites["tech"].fillna("4G") if "tech" in sites else pd.Series(["4G"] * len(sites))
        shown = escaped(pd.Series(operators, dtype=object)).tolist()
        writer.header["sites"] = {
            "n": len(sites),
            "operators": [
                {"name": name, "start": int(end - count), "end": int(end)}
                for name, end, count in zip(shown, ends, np.diff(ends, prepend=0), strict=True)
            ],
            "site_id": writer.field(
                "sites", "site_id", ids.astype(str).iloc[order].reset_index(drop=True)
            ),
            "tech": writer.field(
                "sites", "tech", techs.astype(str).iloc[order].reset_index(drop=True)
            ),
        }

    has_towers = False
    if towers is not None and "shared" in towers and len(towers):
        shared = towers[towers["shared"].fillna(False).astype(bool).to_numpy()]
        if len(shared):
            q = _quantised(shared)
            order = _morton_order(q)
            writer.coordinates("towers", q[order])
            ops = shared["operators"].astype(str).iloc[order].reset_index(drop=True)
            writer.header["towers"] = {
                "n": len(shared),
                "prefix": tower_prefix,
                "operators": writer.field("towers", "operators", ops),
            }
            has_towers = True
    return Payload(
        writer.pack(),
        operators,
        bool(np.asarray(disputed).any()),
        has_towers,
        packed["challenge"],
        packed["switch_off"],
    )


#: What to give the villages when a field packed as a byte has too many distinct values.
_BYTE_FIELD_FIX = {
    "challenge": "give each village one of the statuses open, answered, upheld, rejected",
    "switch_off": "give each village 2G, 2G + 3G or nothing",
}


def _add_byte_field(
    writer: _Writer, column: str, given: pd.Series | None, order: npt.NDArray[np.intp]
) -> bool:
    """Add one byte per village coding `given` and its table; return whether any has a value.

    The byte is 0 where the value is missing or empty, else 1 + its place in the sorted
    table ``header.villages[column].levels``.
    """
    if given is None:
        return False
    values = pd.Series(np.asarray(given, dtype=object)[order], dtype=object)
    values = values.where(values.notna() & (values.astype(str) != ""), None)
    codes, levels = pd.factorize(values, sort=True, use_na_sentinel=True)
    if not len(levels):
        return False
    if len(levels) > 255:
        raise InputError(
            Problem(
                file="villages",
                column=column,
                message=f"{len(levels)} distinct {column} values; at most 255 are drawn",
                fix=_BYTE_FIELD_FIX[column],
            )
        )
    writer.add(f"villages_{column}", "u1", codes + 1)
    shown = escaped(pd.Series(levels, dtype=object)).tolist()
    writer.header["villages"][column] = {"levels": shown}
    return True


def read_payload(data: bytes | str) -> dict[str, Any]:
    """Read a payload back: its header, and per kind of point the degrees and arrays.

    Parameters
    ----------
    data
        The compressed payload, or its base64 text.

    Returns
    -------
    dict
        ``header`` (the JSON header), ``arrays`` (name to numpy array) and, per kind present,
        ``<kind>_lon``/``<kind>_lat`` (degrees, in the payload's order).
    """
    raw = zlib.decompress(base64.b64decode(data) if isinstance(data, str) else data)
    length = int(np.frombuffer(raw[:4], dtype="<u4")[0])
    header: dict[str, Any] = json.loads(raw[4 : 4 + length].decode("utf-8"))
    arrays = {}
    for a in header["arrays"]:
        if a["type"] == "i4s":
            planes = np.frombuffer(raw, dtype=np.uint8, count=4 * a["length"], offset=a["offset"])
            zigzag = planes.reshape(4, -1).T.copy().view("<u4").ravel()
            arrays[a["name"]] = (zigzag >> 1).astype(np.int32) ^ -(zigzag & 1).astype(np.int32)
        else:
            arrays[a["name"]] = np.frombuffer(
                raw, dtype=_TYPES[a["type"]], count=a["length"], offset=a["offset"]
            )
    out: dict[str, Any] = {"header": header, "arrays": arrays}
    for kind in ("villages", "sites", "towers"):
        if kind in header:
            out[f"{kind}_lon"] = np.cumsum(arrays[f"{kind}_dx"], dtype=np.int64) / header["scale"]
            out[f"{kind}_lat"] = np.cumsum(arrays[f"{kind}_dy"], dtype=np.int64) / header["scale"]
    return out
