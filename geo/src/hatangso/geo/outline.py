"""Viet Nam's outline with its islands, and which lon/lat points fall inside it.

The outline ships with the package as ``data/vietnam_outline.geojson``: the mainland and coastal
islands from the Digital Chart of the World (DCW-GMT, 1:1,000,000), the smaller islands from
GSHHG at full resolution, among them Bạch Long Vĩ, Lý Sơn, Phú Quý, Côn Đảo, Thổ Chu and the
Hoàng Sa (Paracel) and Trường Sa (Spratly) archipelagos, districts of Đà Nẵng and Khánh Hòa.
``data/NOTICE.md`` gives the sources, their licence and how the file was made.

A point counts as in Viet Nam when it lies within :data:`BORDER_TOLERANCE_M` of that outline:
the sources place the land border and the coast to within about a kilometre, and a village on the
border line or on a coastal spit must not be refused for it.

Growing the outline by that tolerance takes a third of a second, at every run: the grown outline
ships beside it as ``data/vietnam_outline_grown.wkb``, built by ``python -m hatangso.geo.outline``
from the shipped outline (a test checks that the two agree, to the last bit).
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from importlib import resources
from typing import Final

import numpy as np
import numpy.typing as npt
import pyproj
import shapely

__all__ = ["BORDER_TOLERANCE_M", "in_vietnam", "vietnam_outline"]

log = logging.getLogger(__name__)

BORDER_TOLERANCE_M: Final = 2_000.0
"""How far beyond the outline (land border or coast) a point still counts as in Viet Nam."""

_OUTLINE_FILE: Final = "data/vietnam_outline.geojson"
_GROWN_FILE: Final = "data/vietnam_outline_grown.wkb"

# Transverse Mercator on 108° E, the middle of 102-117.9° E: its scale error stays under 1.6 %
# over the whole country, 30 m on a 2 km buffer, where one UTM zone would not reach Trường Sa.
_BUFFER_CRS: Final = (
    "+proj=tmerc +lat_0=0 +lon_0=108 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
)

# The grown outline is simplified by this share of the tolerance (50 m for 2 km) before the test.
_SIMPLIFY_FRACTION: Final = 0.025


def _read_outline() -> shapely.MultiPolygon:
    text = resources.files("hatangso.geo").joinpath(_OUTLINE_FILE).read_text(encoding="utf-8")
    collection = json.loads(text)
    parts = [shapely.from_geojson(json.dumps(f["geometry"])) for f in collection["features"]]
    return shapely.MultiPolygon(list(shapely.get_parts(np.asarray(parts, dtype=object))))


@lru_cache(maxsize=4)
def vietnam_outline(*, tolerance_m: float = BORDER_TOLERANCE_M) -> shapely.Geometry:
    """Return Viet Nam's outline, grown by `tolerance_m`, in longitude/latitude.

    Read once from the package data and cached per tolerance; the geometry is prepared, so
    :func:`shapely.contains_xy` on it is fast.

    Parameters
    ----------
    tolerance_m
        Buffer in metres, drawn in a Transverse Mercator projection on 108° E. 0 gives the
        outline as shipped.

    Returns
    -------
    shapely.Geometry
        A (Multi)Polygon in EPSG:4326 (x = longitude, y = latitude).

    Examples
    --------
    >>> outline = vietnam_outline(tolerance_m=0.0)
    >>> [round(v, 1) for v in outline.bounds]
    [102.1, 8.0, 115.8, 23.4]
    """
    if tolerance_m == BORDER_TOLERANCE_M:
        data = resources.files("hatangso.geo").joinpath(_GROWN_FILE).read_bytes()
        outline = shapely.from_wkb(data)
    else:
        outline = grow_outline(_read_outline(), tolerance_m)
    shapely.prepare(outline)
    log.debug(
        "Viet Nam's outline read, grown by %g m: %d parts, %d vertices",
        tolerance_m,
        shapely.get_num_geometries(outline),
        shapely.get_num_coordinates(outline),
    )
    return outline


def grow_outline(outline: shapely.Geometry, tolerance_m: float) -> shapely.Geometry:
    """Return `outline` (lon/lat) grown by `tolerance_m`, simplified, back in lon/lat.

    The buffer is drawn in a Transverse Mercator projection on 108° E, then simplified by
    :data:`_SIMPLIFY_FRACTION` of the tolerance; 0 returns `outline` itself.
    """
    if tolerance_m == 0.0:
        return outline
    wgs84 = pyproj.CRS.from_epsg(4326)
    metric = pyproj.CRS.from_proj4(_BUFFER_CRS)
    forward = pyproj.Transformer.from_crs(wgs84, metric, always_xy=True)
    inverse = pyproj.Transformer.from_crs(metric, wgs84, always_xy=True)

    def project(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack(forward.transform(xy[:, 0], xy[:, 1]))

    def unproject(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack(inverse.transform(xy[:, 0], xy[:, 1]))

    # Buffering the parts one by one and joining them is several times faster than
    # buffering the MultiPolygon, whose island buffers overlap.
    parts = shapely.get_parts(shapely.transform(outline, project))
    grown = shapely.union_all(shapely.buffer(parts, tolerance_m, quad_segs=4))
    grown = shapely.simplify(grown, abs(tolerance_m) * _SIMPLIFY_FRACTION)
    return shapely.transform(grown, unproject)


def build_grown_outline() -> bytes:
    """Return the WKB of the shipped outline grown by :data:`BORDER_TOLERANCE_M`.

    What ``data/vietnam_outline_grown.wkb`` holds; ``python -m hatangso.geo.outline PATH``
    writes it to PATH.
    """
    grown = grow_outline(_read_outline(), BORDER_TOLERANCE_M)
    return bytes(shapely.to_wkb(grown, output_dimension=2, byte_order=1))


def in_vietnam(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, tolerance_m: float = BORDER_TOLERANCE_M
) -> npt.NDArray[np.bool_]:
    """Tell which points lie in Viet Nam, its islands included, or within `tolerance_m` of it.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees, WGS 84 (arrays of one shape, or scalars).
    tolerance_m
        How far beyond the land border or the coast a point still counts as inside.

    Returns
    -------
    numpy.ndarray of bool
        One flag per point, of the broadcast shape of `lon` and `lat`; NaN is False.

    Notes
    -----
    One vectorised :func:`shapely.contains_xy` against the prepared outline of
    :func:`vietnam_outline`, after a test against its bounding box; 100,000 points take about
    0.1 s once the outline is loaded.

    Examples
    --------
    Hà Nội, Vientiane, the Gulf of Tonkin at 108° E 20° N and Phú Quốc's Dương Đông:

    >>> in_vietnam([105.85, 102.60, 108.0, 103.96], [21.03, 17.97, 20.0, 10.22]).tolist()
    [True, False, False, True]
    """
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    inside = np.zeros(x.shape, dtype=np.bool_)
    if x.size == 0:
        return inside
    outline = vietnam_outline(tolerance_m=tolerance_m)
    west, south, east, north = outline.bounds
    near = (x >= west) & (x <= east) & (y >= south) & (y <= north)
    if near.any():
        inside[near] = shapely.contains_xy(outline, x[near], y[near])
    return inside


if __name__ == "__main__":  # python -m hatangso.geo.outline geo/src/hatangso/geo/data/...wkb
    import sys
    from pathlib import Path

    Path(sys.argv[1]).write_bytes(build_grown_outline())
