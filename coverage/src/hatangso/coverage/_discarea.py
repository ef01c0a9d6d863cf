"""Exact area of a polygon's intersection with a union of discs, for many villages at once.

The ``area`` coverage rule needs, for each village polygon, the share of its area inside the
union of the circular footprints that reach it. Overlaying polygonised discs in GEOS costs tens
of microseconds per village-disc pair; this module computes the same area exactly (true circles,
no polygonisation) in a compiled kernel that runs over all villages in parallel.

Layout of the arrays (the ragged layout of ``shapely.to_ragged_array``, flattened to rings):

``coords`` : float64, shape (n_coords, 2)
    Ring coordinates in a metric CRS (metres), each ring closed (last coordinate = first).
``ring_offsets`` : int64, shape (n_rings + 1,)
    Ring ``j`` is ``coords[ring_offsets[j]:ring_offsets[j + 1]]``.
``geom_ring_offsets`` : int64, shape (n_villages + 1,)
    Village ``i`` owns rings ``geom_ring_offsets[i]:geom_ring_offsets[i + 1]`` (the shells and
    holes of all its parts, in any order). Shells must run counter-clockwise and holes
    clockwise; :func:`polygon_rings` builds these arrays from shapely polygons and
    multipolygons and orients the rings so.
``disc_x``, ``disc_y``, ``disc_r`` : float64, shape (n_pairs,)
    Disc centres and radii (metres).
``disc_offsets`` : int64, shape (n_villages + 1,)
    Village ``i``'s discs are ``disc_offsets[i]:disc_offsets[i + 1]``.
``disc_group`` : int64, shape (n_pairs,)
    For :func:`union_disc_area_by_group`: the group (an operator) of each disc, in
    ``[0, n_groups)``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from numba import prange

from hatangso.coverage._jit import jit, serial_and_parallel

__all__ = [
    "PolygonRings",
    "polygon_rings",
    "union_disc_area",
    "union_disc_area_by_group",
    "union_disc_share",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Lengths that differ by less than this fraction of a village's scale (its bounding-box side
#: plus its largest radius) count as equal: containment of one disc in another, tangency.
REL_EPS = 1e-9
#: Arrays up to this length are sorted by insertion, longer ones by numpy's sort.
_SMALL_SORT = 24
_TWO_PI = 2.0 * math.pi
#: Fewer villages than this run on one thread: waking the thread pool costs more than they do.
_PARALLEL_MIN = 256


@dataclass(frozen=True)
class PolygonRings:
    """Rings of many (multi)polygons in the ragged layout of the module docstring.

    Attributes
    ----------
    coords
        Ring coordinates, shape (n_coords, 2), each ring closed.
    ring_offsets
        Ring ``j`` is ``coords[ring_offsets[j]:ring_offsets[j + 1]]``.
    geom_ring_offsets
        Geometry ``i`` owns rings ``geom_ring_offsets[i]:geom_ring_offsets[i + 1]``; shells
        counter-clockwise, holes clockwise.
    """

    coords: FloatArray
    ring_offsets: IntArray
    geom_ring_offsets: IntArray


def polygon_rings(polygons: npt.ArrayLike) -> PolygonRings:
    """Flatten polygons and multipolygons to oriented rings.

    Parameters
    ----------
    polygons
        Polygons, multipolygons, empty geometries or ``None`` (the last two have no ring).

    Returns
    -------
    PolygonRings
        Shells counter-clockwise, holes clockwise, rings closed.

    Raises
    ------
    ValueError
        If a geometry is neither a polygon nor a multipolygon.

    Examples
    --------
    >>> rings = polygon_rings([shapely.box(0, 0, 2, 1)])
    >>> rings.ring_offsets.tolist(), rings.geom_ring_offsets.tolist()
    ([0, 5], [0, 1])
    """
    geoms = np.asarray(polygons, dtype=object).reshape(-1)
    kind = shapely.get_type_id(geoms)
    empty = shapely.is_empty(geoms)
    bad = np.flatnonzero((kind != -1) & ~empty & (kind != 3) & (kind != 6))
    if bad.size:
        raise ValueError(
            f"{bad.size} geometries are neither Polygon nor MultiPolygon (first at position "
            f"{int(bad[0])}); pass polygonal geometries only"
        )
    n = geoms.size
    if n == 0 or bool(np.all((kind == -1) | empty)):
        return PolygonRings(
            np.zeros((0, 2)), np.zeros(1, dtype=np.int64), np.zeros(n + 1, dtype=np.int64)
        )
    kind_id, coords, offsets = shapely.to_ragged_array(geoms, include_z=False)
    ring_offsets = np.asarray(offsets[0], dtype=np.int64)
    if kind_id == shapely.GeometryType.POLYGON:
        part_ring_offsets = np.asarray(offsets[1], dtype=np.int64)
        geom_ring_offsets = part_ring_offsets
    else:
        part_ring_offsets = np.asarray(offsets[1], dtype=np.int64)
        geom_ring_offsets = part_ring_offsets[np.asarray(offsets[2], dtype=np.int64)]
    coords = _orient_rings(np.asarray(coords, dtype=np.float64), ring_offsets, part_ring_offsets)
    return PolygonRings(coords, ring_offsets, np.ascontiguousarray(geom_ring_offsets))


def _orient_rings(
    coords: FloatArray, ring_offsets: IntArray, part_ring_offsets: IntArray
) -> FloatArray:
    """Reverse the rings whose orientation is wrong: shells counter-clockwise, holes clockwise.

    The first ring of each polygon part is its shell. The orientation is the sign of the
    shoelace sum, taken relative to the ring's first vertex.
    """
    n_rings = ring_offsets.size - 1
    if n_rings == 0 or coords.shape[0] == 0:
        return np.ascontiguousarray(coords)
    counts = np.diff(ring_offsets)
    ring_of = np.repeat(np.arange(n_rings), counts)
    start = ring_offsets[:-1]
    local = coords - coords[start[ring_of]]
    nxt = np.roll(local, -1, axis=0)
    cross = local[:, 0] * nxt[:, 1] - nxt[:, 0] * local[:, 1]
    # The last coordinate of each ring closes it: its "next" belongs to another ring.
    cross[ring_offsets[1:][counts > 0] - 1] = 0.0
    twice_area = np.bincount(ring_of, weights=cross, minlength=n_rings)
    shell = np.zeros(n_rings, dtype=bool)
    firsts = part_ring_offsets[:-1][np.diff(part_ring_offsets) > 0]
    shell[firsts] = True
    flip = (twice_area < 0.0) == shell
    flip &= twice_area != 0.0
    if not flip.any():
        return np.ascontiguousarray(coords)
    position = np.arange(coords.shape[0])
    flipped = flip[ring_of]
    end = ring_offsets[1:]
    source = np.where(flipped, start[ring_of] + end[ring_of] - 1 - position, position)
    return np.ascontiguousarray(coords[source])


def _check_offsets(name: str, offsets: IntArray, n: int, size: int) -> None:
    """Raise if ``offsets`` is not a non-decreasing index of length ``n + 1`` into ``size``."""
    if offsets.ndim != 1 or offsets.size != n + 1:
        raise ValueError(f"{name} must have length {n + 1}, got shape {offsets.shape}")
    if offsets[0] < 0 or offsets[-1] > size:
        raise ValueError(f"{name} must lie within [0, {size}]")
    if np.any(np.diff(offsets) < 0):
        raise ValueError(f"{name} must be non-decreasing")


def _checked(
    coords: npt.ArrayLike,
    ring_offsets: npt.ArrayLike,
    geom_ring_offsets: npt.ArrayLike,
    disc_x: npt.ArrayLike,
    disc_y: npt.ArrayLike,
    disc_r: npt.ArrayLike,
    disc_offsets: npt.ArrayLike,
) -> tuple[FloatArray, IntArray, IntArray, FloatArray, FloatArray, FloatArray, IntArray]:
    """Return the kernel's arrays, contiguous and typed; raise if they do not fit together."""
    xy = np.ascontiguousarray(coords, dtype=np.float64).reshape(-1, 2)
    rings = np.ascontiguousarray(ring_offsets, dtype=np.int64)
    geom_rings = np.ascontiguousarray(geom_ring_offsets, dtype=np.int64)
    dx = np.ascontiguousarray(disc_x, dtype=np.float64).reshape(-1)
    dy = np.ascontiguousarray(disc_y, dtype=np.float64).reshape(-1)
    dr = np.ascontiguousarray(disc_r, dtype=np.float64).reshape(-1)
    discs = np.ascontiguousarray(disc_offsets, dtype=np.int64)
    if geom_rings.ndim != 1 or geom_rings.size == 0 or rings.ndim != 1 or rings.size == 0:
        raise ValueError(
            "ring_offsets and geom_ring_offsets must be 1-D arrays of n_rings + 1 and "
            "n_villages + 1 offsets"
        )
    n = geom_rings.size - 1
    _check_offsets("ring_offsets", rings, rings.size - 1, xy.shape[0])
    _check_offsets("geom_ring_offsets", geom_rings, n, rings.size - 1)
    if not (dx.size == dy.size == dr.size):
        raise ValueError(
            f"disc_x, disc_y and disc_r must have one length, got {dx.size}, {dy.size}, {dr.size}"
        )
    _check_offsets("disc_offsets", discs, n, dx.size)
    if not (np.isfinite(dx).all() and np.isfinite(dy).all() and np.isfinite(dr).all()):
        raise ValueError("disc_x, disc_y and disc_r must be finite")
    if not np.isfinite(xy).all():
        raise ValueError("coords must be finite")
    return xy, rings, geom_rings, dx, dy, dr, discs


def _union_disc_area_and_polygon_area(
    coords: npt.ArrayLike,
    ring_offsets: npt.ArrayLike,
    geom_ring_offsets: npt.ArrayLike,
    disc_x: npt.ArrayLike,
    disc_y: npt.ArrayLike,
    disc_r: npt.ArrayLike,
    disc_offsets: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Check the arrays, then run the kernel; return (covered area, polygon area)."""
    xy, rings, geom_rings, dx, dy, dr, discs = _checked(
        coords, ring_offsets, geom_ring_offsets, disc_x, disc_y, disc_r, disc_offsets
    )
    n = geom_rings.size - 1
    kernel = _union_disc_area_parallel if n >= _PARALLEL_MIN else _union_disc_area_serial
    area, polygon_area = kernel(xy, rings, geom_rings, dx, dy, dr, discs)
    return area, polygon_area


def union_disc_area(
    coords: npt.ArrayLike,
    ring_offsets: npt.ArrayLike,
    geom_ring_offsets: npt.ArrayLike,
    disc_x: npt.ArrayLike,
    disc_y: npt.ArrayLike,
    disc_r: npt.ArrayLike,
    disc_offsets: npt.ArrayLike,
) -> FloatArray:
    """Area of each village polygon inside the union of its discs, exactly.

    Parameters
    ----------
    coords, ring_offsets, geom_ring_offsets
        The villages' rings, laid out as in the module docstring (see :func:`polygon_rings`):
        shells counter-clockwise, holes clockwise, metric coordinates.
    disc_x, disc_y, disc_r
        Disc centres and radii in the same CRS. Discs with ``r <= 0`` cover nothing.
    disc_offsets
        Village ``i``'s discs are ``disc_offsets[i]:disc_offsets[i + 1]``.

    Returns
    -------
    numpy.ndarray
        float64, shape (n_villages,): area of polygon ∩ (union of discs), square metres,
        within [0, polygon area]. A village without rings or discs gets 0.

    Raises
    ------
    ValueError
        If the offsets do not index the arrays or a coordinate or radius is not finite.

    Notes
    -----
    Green's theorem: the area of a region is ½∮(x dy − y dx) along its boundary, interior on
    the left. The boundary of polygon ∩ union consists of

    (a) the parts of polygon edges inside the union: on the edge ``P0 + t(P1 − P0)`` each disc
        covers the ``t`` interval between the roots of ``|P0 + tD − C|² = r²``; the intervals
        are clipped to [0, 1] and merged, and each covered piece ``Qa → Qb`` adds
        ``½(xa·yb − xb·ya)``;
    (b) the arcs of each circle inside the polygon and outside every other disc: the circle is
        cut at its crossings with the polygon edges and the other circles, and each arc piece
        whose midpoint is inside the polygon (even-odd rule) and not strictly inside another
        disc adds, from θ0 to θ1 counter-clockwise,
        ``½[r²(θ1 − θ0) + r·cx(sin θ1 − sin θ0) − r·cy(cos θ1 − cos θ0)]``.

    Coordinates are shifted to the village's first vertex first, so that UTM magnitudes do not
    eat the precision of the cross products.

    Degenerate cases, with ``eps = REL_EPS × (bounding-box side + largest radius)``:

    - discs are taken largest first; one that lies inside an earlier kept disc to within
      ``eps`` (duplicates included) is dropped, so the kept circles cross properly or not at
      all;
    - a disc holding every polygon vertex gives the polygon's area directly;
    - discs whose bounding box misses the polygon's are dropped (they only cut arcs that lie
      outside the polygon);
    - an edge root is a cut of the circle if its parameter is within ``eps / |D|`` of [0, 1], so
      a circle through a vertex is cut there; a line or circle that misses a circle by less than
      ``eps`` (tangency) cuts it once at the nearest point, so that no arc midpoint falls on a
      tangency point;
    - arc pieces of length zero add nothing.

    Each of these changes the area by at most the order of ``eps`` times a perimeter.
    The result is clipped to [0, polygon area]. Polygons must be valid (``shapely.is_valid``):
    the edge pieces follow the rings, the arc test the even-odd rule, and the two disagree on a
    self-intersecting ring.

    Examples
    --------
    A unit disc on the corner of a 2 m square covers a quarter of itself:

    >>> rings = polygon_rings([shapely.box(0, 0, 2, 2)])
    >>> area = union_disc_area(
    ...     rings.coords, rings.ring_offsets, rings.geom_ring_offsets, [0.0], [0.0], [1.0], [0, 1]
    ... )
    >>> round(float(area[0]), 12) == round(math.pi / 4, 12)
    True
    """
    area, _ = _union_disc_area_and_polygon_area(
        coords, ring_offsets, geom_ring_offsets, disc_x, disc_y, disc_r, disc_offsets
    )
    return area


def union_disc_area_by_group(
    coords: npt.ArrayLike,
    ring_offsets: npt.ArrayLike,
    geom_ring_offsets: npt.ArrayLike,
    disc_x: npt.ArrayLike,
    disc_y: npt.ArrayLike,
    disc_r: npt.ArrayLike,
    disc_offsets: npt.ArrayLike,
    disc_group: npt.ArrayLike,
    *,
    n_groups: int,
    min_area: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Area of each village inside the union of its discs, and inside each group's union.

    One sweep over the villages gives what :func:`union_disc_area` gives and, for each group of
    discs (an operator's sites), the area the group's discs cover alone.

    Parameters
    ----------
    coords, ring_offsets, geom_ring_offsets, disc_x, disc_y, disc_r, disc_offsets
        As :func:`union_disc_area`.
    disc_group
        Group of each disc, in ``[0, n_groups)``.
    n_groups
        Number of groups (columns of the second result); 0 computes the totals alone.
    min_area
        Per village (or one value for all): the groups' areas are computed only where the
        union of all the village's discs covers at least this much (square metres). A group's
        discs are part of all of them, so no group covers more than the total: where the total
        is short of a threshold, so is every group.

    Returns
    -------
    tuple
        ``(area, group_area)``. ``area``: float64, shape (n_villages,), exactly as
        :func:`union_disc_area`, bit for bit. ``group_area``: float64, shape
        (n_villages, n_groups): area of the polygon inside the union of the village's discs of
        each group; 0 for a group with no disc at the village; ``area`` itself for the one
        group of a village whose discs all belong to it; NaN for every group where ``area`` is
        below ``min_area`` (not computed).

    Raises
    ------
    ValueError
        As :func:`union_disc_area`, or if `disc_group` does not give each disc a group in
        ``[0, n_groups)``.

    Notes
    -----
    The total is computed first, over the discs in the order given; where it reaches
    `min_area` and the discs belong to several groups, each group's discs (in the same order)
    go through the same computation again. The work avoided is that of the villages that one
    group alone reaches and of those the total leaves short.

    Examples
    --------
    Two unit discs of two groups on the bottom corners of a 2 m square, each covering a
    quarter of itself:

    >>> rings = polygon_rings([shapely.box(0, 0, 2, 2)])
    >>> area, by_group = union_disc_area_by_group(
    ...     rings.coords, rings.ring_offsets, rings.geom_ring_offsets,
    ...     [0.0, 2.0], [0.0, 0.0], [1.0, 1.0], [0, 2], [0, 1], n_groups=2, min_area=0.0,
    ... )
    >>> bool(abs(area[0] - math.pi / 2) < 1e-12), bool(abs(by_group[0, 1] - math.pi / 4) < 1e-12)
    (True, True)
    """
    xy, rings, geom_rings, dx, dy, dr, discs = _checked(
        coords, ring_offsets, geom_ring_offsets, disc_x, disc_y, disc_r, disc_offsets
    )
    n = geom_rings.size - 1
    group = np.ascontiguousarray(disc_group, dtype=np.int64).reshape(-1)
    if group.size != dx.size:
        raise ValueError(f"disc_group must have one value per disc ({dx.size}), got {group.size}")
    if n_groups < 0 or (
        group.size and n_groups > 0 and (group.min() < 0 or group.max() >= n_groups)
    ):
        raise ValueError(f"disc_group must lie within [0, {n_groups})")
    least = np.ascontiguousarray(np.broadcast_to(np.asarray(min_area, dtype=np.float64), (n,)))
    kernel = (
        _union_disc_area_by_group_parallel
        if n >= _PARALLEL_MIN
        else _union_disc_area_by_group_serial
    )
    area, group_area = kernel(xy, rings, geom_rings, dx, dy, dr, discs, group, n_groups, least)
    return area, group_area


def union_disc_share(
    polygons: npt.ArrayLike,
    disc_x: npt.ArrayLike,
    disc_y: npt.ArrayLike,
    disc_r: npt.ArrayLike,
    disc_offsets: npt.ArrayLike,
) -> FloatArray:
    """Share of each polygon's area inside the union of its discs.

    Parameters
    ----------
    polygons
        Polygons or multipolygons (holes allowed) in a metric CRS; empty or ``None`` allowed.
    disc_x, disc_y, disc_r
        Disc centres and radii, metres.
    disc_offsets
        Polygon ``i``'s discs are ``disc_offsets[i]:disc_offsets[i + 1]``.

    Returns
    -------
    numpy.ndarray
        float64, shape (n_polygons,), in [0, 1]; 0 for empty polygons and polygons of zero area.

    Raises
    ------
    ValueError
        As :func:`polygon_rings` and :func:`union_disc_area`.

    Notes
    -----
    :func:`union_disc_area` divided by the polygon's shoelace area, computed in the same pass.

    Examples
    --------
    A disc of radius 1 centred on the middle of a 4 m square's bottom edge covers half of
    itself, π/2 of the square's 16 m²:

    >>> share = union_disc_share([shapely.box(0, 0, 4, 4)], [2.0], [0.0], [1.0], [0, 1])
    >>> bool(abs(share[0] - math.pi / 32) < 1e-12)
    True
    """
    rings = polygon_rings(polygons)
    area, polygon_area = _union_disc_area_and_polygon_area(
        rings.coords,
        rings.ring_offsets,
        rings.geom_ring_offsets,
        disc_x,
        disc_y,
        disc_r,
        disc_offsets,
    )
    positive = polygon_area > 0.0
    share = np.zeros(polygon_area.size)
    share[positive] = area[positive] / polygon_area[positive]
    return np.clip(share, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# numba kernels


@jit()
def _sort_prefix(values: FloatArray, n: int) -> None:
    """Sort ``values[:n]`` in place."""
    if n > _SMALL_SORT:
        values[:n].sort()
        return
    for i in range(1, n):
        v = values[i]
        j = i - 1
        while j >= 0 and values[j] > v:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = v


@jit()
def _sort_intervals(start: FloatArray, end: FloatArray, n: int) -> None:
    """Sort the intervals ``(start[:n], end[:n])`` by start, in place."""
    if n > _SMALL_SORT:
        order = np.argsort(start[:n], kind="mergesort")
        s = start[:n][order]
        e = end[:n][order]
        start[:n] = s
        end[:n] = e
        return
    for i in range(1, n):
        s = start[i]
        e = end[i]
        j = i - 1
        while j >= 0 and start[j] > s:
            start[j + 1] = start[j]
            end[j + 1] = end[j]
            j -= 1
        start[j + 1] = s
        end[j + 1] = e


@jit(inline="always")
def _wrap_angle(theta: float) -> float:
    """``theta`` moved into [-π, π)."""
    while theta < -math.pi:
        theta += _TWO_PI
    while theta >= math.pi:
        theta -= _TWO_PI
    return theta


@jit()
def _inside_polygon(
    px: float,
    py: float,
    ex: FloatArray,
    ey: FloatArray,
    edx: FloatArray,
    edy: FloatArray,
    n_edges: int,
) -> bool:
    """Even-odd point-in-polygon test over all edges (shells and holes)."""
    inside = False
    for e in range(n_edges):
        y0 = ey[e]
        y1 = y0 + edy[e]
        if (y0 > py) != (y1 > py):
            x_cross = ex[e] + (py - y0) * edx[e] / edy[e]
            if px < x_cross:
                inside = not inside
    return inside


@jit()
def _inside_other_disc(
    px: float, py: float, k: int, cx: FloatArray, cy: FloatArray, rr: FloatArray, m: int
) -> bool:
    """Whether ``(px, py)`` is strictly inside a disc other than ``k``."""
    for j in range(m):
        if j == k:
            continue
        ddx = px - cx[j]
        ddy = py - cy[j]
        if ddx * ddx + ddy * ddy < rr[j] * rr[j]:
            return True
    return False


@jit()
def _village_area(
    coords: FloatArray,
    ring_offsets: IntArray,
    ring0: int,
    ring1: int,
    disc_x: FloatArray,
    disc_y: FloatArray,
    disc_r: FloatArray,
    d0: int,
    d1: int,
) -> tuple[float, float]:
    """(area inside the union of discs ``d0:d1``, polygon area) of one village."""
    if ring1 <= ring0:
        return 0.0, 0.0
    # Polygon area and bounding box, relative to the first vertex.
    ox = coords[ring_offsets[ring0], 0]
    oy = coords[ring_offsets[ring0], 1]
    n_edges = 0
    twice_polygon = 0.0
    xmin = math.inf
    xmax = -math.inf
    ymin = math.inf
    ymax = -math.inf
    for j in range(ring0, ring1):
        for v in range(ring_offsets[j], ring_offsets[j + 1] - 1):
            x0 = coords[v, 0] - ox
            y0 = coords[v, 1] - oy
            x1 = coords[v + 1, 0] - ox
            y1 = coords[v + 1, 1] - oy
            twice_polygon += x0 * y1 - x1 * y0
            xmin = min(xmin, x0, x1)
            xmax = max(xmax, x0, x1)
            ymin = min(ymin, y0, y1)
            ymax = max(ymax, y0, y1)
            n_edges += 1
    polygon_area = max(0.5 * twice_polygon, 0.0)
    if polygon_area == 0.0:
        return 0.0, 0.0
    # Discs that can touch the polygon's bounding box.
    m_all = 0
    max_r = 0.0
    for q in range(d0, d1):
        r = disc_r[q]
        x = disc_x[q] - ox
        y = disc_y[q] - oy
        if r > 0.0 and x + r >= xmin and x - r <= xmax and y + r >= ymin and y - r <= ymax:
            max_r = max(max_r, r)
            m_all += 1
    if m_all == 0:
        return 0.0, polygon_area

    # One scratch buffer: edges, candidate discs, kept discs, edge intervals, circle cuts.
    buf = np.empty(6 * n_edges + 10 * m_all)
    ex = buf[:n_edges]
    ey = buf[n_edges : 2 * n_edges]
    edx = buf[2 * n_edges : 3 * n_edges]
    edy = buf[3 * n_edges : 4 * n_edges]
    cuts = buf[4 * n_edges : 6 * n_edges + 2 * m_all]
    rest = buf[6 * n_edges + 2 * m_all :]
    all_x = rest[:m_all]
    all_y = rest[m_all : 2 * m_all]
    all_r = rest[2 * m_all : 3 * m_all]
    cx = rest[3 * m_all : 4 * m_all]
    cy = rest[4 * m_all : 5 * m_all]
    rr = rest[5 * m_all : 6 * m_all]
    iv_start = rest[6 * m_all : 7 * m_all]
    iv_end = rest[7 * m_all : 8 * m_all]
    k = 0
    for j in range(ring0, ring1):
        for v in range(ring_offsets[j], ring_offsets[j + 1] - 1):
            x0 = coords[v, 0] - ox
            y0 = coords[v, 1] - oy
            ex[k] = x0
            ey[k] = y0
            edx[k] = coords[v + 1, 0] - ox - x0
            edy[k] = coords[v + 1, 1] - oy - y0
            k += 1
    m = 0
    for q in range(d0, d1):
        r = disc_r[q]
        x = disc_x[q] - ox
        y = disc_y[q] - oy
        if r > 0.0 and x + r >= xmin and x - r <= xmax and y + r >= ymin and y - r <= ymax:
            all_x[m] = x
            all_y[m] = y
            all_r[m] = r
            m += 1
    eps = REL_EPS * (max(xmax - xmin, ymax - ymin) + max_r)
    # Most villages lie wholly inside one disc. A disc holding every vertex that no disc before
    # it in the order below (larger, or as large and listed earlier) holds to within eps is
    # kept by that pass and found by the test after it: the answer, without the pass.
    for q in range(m_all):
        x = all_x[q]
        y = all_y[q]
        r = all_r[q]
        r2 = r * r
        holds_all = True
        for e in range(n_edges):
            ddx = ex[e] - x
            ddy = ey[e] - y
            if ddx * ddx + ddy * ddy > r2:
                holds_all = False
                break
        if not holds_all:
            continue
        dropped = False
        for j in range(m_all):
            before = all_r[j] > r or (all_r[j] == r and j < q)
            if before and math.hypot(x - all_x[j], y - all_y[j]) + r <= all_r[j] + eps:
                dropped = True
                break
        if not dropped:
            return polygon_area, polygon_area
    # Largest first; a disc inside a kept one (to within eps) adds nothing.
    order = np.argsort(-all_r, kind="mergesort")
    n_kept = 0
    for q in order:
        x = all_x[q]
        y = all_y[q]
        r = all_r[q]
        covered = False
        for j in range(n_kept):
            if math.hypot(x - cx[j], y - cy[j]) + r <= rr[j] + eps:
                covered = True
                break
        if covered:
            continue
        cx[n_kept] = x
        cy[n_kept] = y
        rr[n_kept] = r
        n_kept += 1
    m = n_kept

    # A disc holding every vertex holds the polygon (discs are convex).
    for q in range(m):
        r2 = rr[q] * rr[q]
        holds_all = True
        for e in range(n_edges):
            ddx = ex[e] - cx[q]
            ddy = ey[e] - cy[q]
            if ddx * ddx + ddy * ddy > r2:
                holds_all = False
                break
        if holds_all:
            return polygon_area, polygon_area

    twice_area = 0.0
    # (a) Pieces of edges inside the union of discs.
    for e in range(n_edges):
        x0 = ex[e]
        y0 = ey[e]
        dx = edx[e]
        dy = edy[e]
        a = dx * dx + dy * dy
        if a == 0.0:
            continue
        lo_x = min(x0, x0 + dx)
        hi_x = max(x0, x0 + dx)
        lo_y = min(y0, y0 + dy)
        hi_y = max(y0, y0 + dy)
        n_iv = 0
        for q in range(m):
            r = rr[q]
            if hi_x < cx[q] - r or lo_x > cx[q] + r or hi_y < cy[q] - r or lo_y > cy[q] + r:
                continue
            t_mid = ((cx[q] - x0) * dx + (cy[q] - y0) * dy) / a
            fx = x0 + t_mid * dx - cx[q]
            fy = y0 + t_mid * dy - cy[q]
            s2 = r * r - (fx * fx + fy * fy)
            if s2 <= 0.0:
                continue
            half = math.sqrt(s2 / a)
            t0 = max(t_mid - half, 0.0)
            t1 = min(t_mid + half, 1.0)
            if t0 < t1:
                iv_start[n_iv] = t0
                iv_end[n_iv] = t1
                n_iv += 1
        if n_iv == 0:
            continue
        _sort_intervals(iv_start, iv_end, n_iv)
        run_start = iv_start[0]
        run_end = iv_end[0]
        for p in range(1, n_iv + 1):
            if p < n_iv and iv_start[p] <= run_end:
                run_end = max(run_end, iv_end[p])
                continue
            xa = x0 + run_start * dx
            ya = y0 + run_start * dy
            xb = x0 + run_end * dx
            yb = y0 + run_end * dy
            twice_area += xa * yb - xb * ya
            if p < n_iv:
                run_start = iv_start[p]
                run_end = iv_end[p]

    # (b) Arcs of each circle inside the polygon and outside every other disc.
    for q in range(m):
        x = cx[q]
        y = cy[q]
        r = rr[q]
        n_cuts = 0
        for e in range(n_edges):
            x0 = ex[e]
            y0 = ey[e]
            dx = edx[e]
            dy = edy[e]
            if (
                max(x0, x0 + dx) < x - r - eps
                or min(x0, x0 + dx) > x + r + eps
                or max(y0, y0 + dy) < y - r - eps
                or min(y0, y0 + dy) > y + r + eps
            ):
                continue
            a = dx * dx + dy * dy
            if a == 0.0:
                continue
            tau = eps / math.sqrt(a)
            t_mid = ((x - x0) * dx + (y - y0) * dy) / a
            fx = x0 + t_mid * dx - x
            fy = y0 + t_mid * dy - y
            h2 = fx * fx + fy * fy
            if h2 <= r * r:
                half = math.sqrt((r * r - h2) / a)
                for t in (t_mid - half, t_mid + half):
                    if -tau <= t <= 1.0 + tau:
                        cuts[n_cuts] = math.atan2(y0 + t * dy - y, x0 + t * dx - x)
                        n_cuts += 1
            elif math.sqrt(h2) - r <= eps and -tau <= t_mid <= 1.0 + tau:
                cuts[n_cuts] = math.atan2(fy, fx)
                n_cuts += 1
        for j in range(m):
            if j == q:
                continue
            ddx = cx[j] - x
            ddy = cy[j] - y
            d = math.hypot(ddx, ddy)
            rj = rr[j]
            if d >= r + rj + eps:
                continue
            base = math.atan2(ddy, ddx)
            if d >= r + rj - eps:
                cuts[n_cuts] = base
                n_cuts += 1
                continue
            cos_half = (d * d + r * r - rj * rj) / (2.0 * d * r)
            half = math.acos(min(max(cos_half, -1.0), 1.0))
            cuts[n_cuts] = _wrap_angle(base - half)
            cuts[n_cuts + 1] = _wrap_angle(base + half)
            n_cuts += 2
        if n_cuts == 0:
            if _inside_polygon(x + r, y, ex, ey, edx, edy, n_edges) and not _inside_other_disc(
                x + r, y, q, cx, cy, rr, m
            ):
                twice_area += _TWO_PI * r * r
            continue
        _sort_prefix(cuts, n_cuts)
        for p in range(n_cuts):
            th0 = cuts[p]
            th1 = cuts[p + 1] if p + 1 < n_cuts else cuts[0] + _TWO_PI
            if th1 <= th0:
                continue
            th = 0.5 * (th0 + th1)
            px = x + r * math.cos(th)
            py = y + r * math.sin(th)
            if _inside_other_disc(px, py, q, cx, cy, rr, m):
                continue
            if not _inside_polygon(px, py, ex, ey, edx, edy, n_edges):
                continue
            twice_area += (
                r * r * (th1 - th0)
                + r * x * (math.sin(th1) - math.sin(th0))
                - r * y * (math.cos(th1) - math.cos(th0))
            )
    area = 0.5 * twice_area
    return min(max(area, 0.0), polygon_area), polygon_area


@jit()
def _village_into(
    i: int,
    coords: FloatArray,
    ring_offsets: IntArray,
    geom_ring_offsets: IntArray,
    disc_x: FloatArray,
    disc_y: FloatArray,
    disc_r: FloatArray,
    disc_offsets: IntArray,
    area: FloatArray,
    polygon_area: FloatArray,
) -> None:
    """Write village ``i``'s covered and polygon areas into ``area`` and ``polygon_area``."""
    a, p = _village_area(
        coords,
        ring_offsets,
        geom_ring_offsets[i],
        geom_ring_offsets[i + 1],
        disc_x,
        disc_y,
        disc_r,
        disc_offsets[i],
        disc_offsets[i + 1],
    )
    area[i] = a
    polygon_area[i] = p


def _union_disc_area(
    coords: FloatArray,
    ring_offsets: IntArray,
    geom_ring_offsets: IntArray,
    disc_x: FloatArray,
    disc_y: FloatArray,
    disc_r: FloatArray,
    disc_offsets: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """(covered area, polygon area) of every village.

    Compiled twice: over all cores (``_parallel``) and on one thread (``_serial``, no thread
    start-up cost for a few villages).
    """
    n = geom_ring_offsets.size - 1
    area = np.zeros(n)
    polygon_area = np.zeros(n)
    for i in prange(n):
        _village_into(
            i,
            coords,
            ring_offsets,
            geom_ring_offsets,
            disc_x,
            disc_y,
            disc_r,
            disc_offsets,
            area,
            polygon_area,
        )
    return area, polygon_area


_union_disc_area_serial, _union_disc_area_parallel = serial_and_parallel(_union_disc_area)


@jit()
def _village_groups_into(
    i: int,
    coords: FloatArray,
    ring_offsets: IntArray,
    geom_ring_offsets: IntArray,
    disc_x: FloatArray,
    disc_y: FloatArray,
    disc_r: FloatArray,
    disc_offsets: IntArray,
    disc_group: IntArray,
    min_area: FloatArray,
    area: FloatArray,
    group_area: FloatArray,
) -> None:
    """Write village ``i``'s covered area and its groups' areas into ``area``, ``group_area``."""
    ring0 = geom_ring_offsets[i]
    ring1 = geom_ring_offsets[i + 1]
    d0 = disc_offsets[i]
    d1 = disc_offsets[i + 1]
    total, _ = _village_area(coords, ring_offsets, ring0, ring1, disc_x, disc_y, disc_r, d0, d1)
    area[i] = total
    n_groups = group_area.shape[1]
    if n_groups == 0:
        return
    if not total >= min_area[i]:
        for g in range(n_groups):
            group_area[i, g] = np.nan
        return
    if d1 == d0:
        return
    first = disc_group[d0]
    single = True
    for q in range(d0 + 1, d1):
        if disc_group[q] != first:
            single = False
            break
    if single:
        # The group's discs are all the discs: nothing more to compute.
        group_area[i, first] = total
        return
    count = np.zeros(n_groups, dtype=np.int64)
    for q in range(d0, d1):
        count[disc_group[q]] += 1
    gx = np.empty(d1 - d0)
    gy = np.empty(d1 - d0)
    gr = np.empty(d1 - d0)
    for g in range(n_groups):
        if count[g] == 0:
            continue
        k = 0
        for q in range(d0, d1):
            if disc_group[q] == g:
                gx[k] = disc_x[q]
                gy[k] = disc_y[q]
                gr[k] = disc_r[q]
                k += 1
        covered, _ = _village_area(coords, ring_offsets, ring0, ring1, gx, gy, gr, 0, k)
        group_area[i, g] = covered


def _union_disc_area_by_group(
    coords: FloatArray,
    ring_offsets: IntArray,
    geom_ring_offsets: IntArray,
    disc_x: FloatArray,
    disc_y: FloatArray,
    disc_r: FloatArray,
    disc_offsets: IntArray,
    disc_group: IntArray,
    n_groups: int,
    min_area: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """(covered area, covered area per group) of every village.

    Compiled twice, as :func:`_union_disc_area` is.
    """
    n = geom_ring_offsets.size - 1
    area = np.zeros(n)
    group_area = np.zeros((n, n_groups))
    for i in prange(n):
        _village_groups_into(
            i,
            coords,
            ring_offsets,
            geom_ring_offsets,
            disc_x,
            disc_y,
            disc_r,
            disc_offsets,
            disc_group,
            min_area,
            area,
            group_area,
        )
    return area, group_area


_union_disc_area_by_group_serial, _union_disc_area_by_group_parallel = serial_and_parallel(
    _union_disc_area_by_group
)
