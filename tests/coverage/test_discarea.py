"""Exact area of polygon ∩ union of discs (hatangso.coverage._discarea)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from hatangso.coverage import _discarea
from hatangso.coverage._discarea import (
    polygon_rings,
    union_disc_area,
    union_disc_area_by_group,
    union_disc_share,
)

Disc = tuple[float, float, float]

# A UTM-like offset: the kernel must keep its precision far from the origin.
E0, N0 = 500_000.0, 2_000_000.0


def covered(polygon: shapely.Geometry, discs: list[Disc]) -> float:
    """Area of one polygon inside the union of ``discs``."""
    return float(covered_many([polygon], [discs])[0])


def covered_many(
    polygons: list[shapely.Geometry], discs: list[list[Disc]]
) -> npt.NDArray[np.float64]:
    rings = polygon_rings(polygons)
    flat = np.asarray([d for ds in discs for d in ds], dtype=np.float64).reshape(-1, 3)
    offsets = np.concatenate([[0], np.cumsum([len(ds) for ds in discs])])
    area = union_disc_area(
        rings.coords,
        rings.ring_offsets,
        rings.geom_ring_offsets,
        flat[:, 0],
        flat[:, 1],
        flat[:, 2],
        offsets,
    )
    return np.asarray(area, dtype=np.float64)


def lens_area(r: float, d: float) -> float:
    """Overlap of two discs of radius r whose centres are d apart.

    Each disc contributes a circular segment of half-angle α = acos(d / 2r):
    2 · (r²α − (d/2)·r·sin α) = 2r²·acos(d/2r) − (d/2)·√(4r² − d²).
    """
    return 2 * r * r * math.acos(d / (2 * r)) - d / 2 * math.sqrt(4 * r * r - d * d)


SQUARE = shapely.box(0, 0, 10, 10)


# --------------------------------------------------------------------------------------------
# Cases derived by hand


@pytest.mark.parametrize(
    ("disc", "expected"),
    [
        # Disc of radius 100 around the square: holds every corner, so the whole 10 x 10.
        ((5.0, 5.0, 100.0), 100.0),
        # Off-centre but still holding all corners (farthest corner (10, 10) at √(8²+8²) < 12).
        ((2.0, 2.0, 12.0), 100.0),
        # Radius 2 at the centre: wholly inside, πr².
        ((5.0, 5.0, 2.0), 4 * math.pi),
        # Centred on the corner (0, 0), radius 3 < 10: the square keeps one quadrant, πr²/4.
        ((0.0, 0.0, 3.0), 9 * math.pi / 4),
        # Centred on the bottom edge's midpoint: the edge's line halves the disc, πr²/2.
        ((5.0, 0.0, 3.0), 9 * math.pi / 2),
        # Circle through the corners (10, 0) and (0, 10): still exactly a quadrant, π·10²/4.
        ((0.0, 0.0, 10.0), 25 * math.pi),
        # Circumcircle: passes through all four corners, holds the square.
        ((5.0, 5.0, 5 * math.sqrt(2)), 100.0),
        # Tangent to the bottom edge from inside: whole disc.
        ((5.0, 2.0, 2.0), 4 * math.pi),
        # Tangent to the bottom edge from outside: nothing.
        ((5.0, -2.0, 2.0), 0.0),
        # Far away: nothing.
        ((50.0, 50.0, 3.0), 0.0),
        # Zero radius: nothing.
        ((5.0, 5.0, 0.0), 0.0),
    ],
)
def test_one_disc_and_a_square(disc: Disc, expected: float) -> None:
    assert covered(SQUARE, [disc]) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("angle_deg", [0.0, 30.0, 90.0, 135.0, 180.0, 270.0])
def test_externally_tangent_discs_count_whole(angle_deg: float) -> None:
    # Two unit discs touching at one point (which lies at `angle_deg` on the first circle, so
    # that the point an uncut circle is tested at falls on the tangency): 2π, no overlap.
    a = math.radians(angle_deg)
    discs = [(5.0, 5.0, 1.0), (5.0 + 2 * math.cos(a), 5.0 + 2 * math.sin(a), 1.0)]
    assert covered(SQUARE, discs) == pytest.approx(2 * math.pi, rel=1e-12)


def test_tangency_at_the_test_point_of_an_uncut_circle() -> None:
    # The right edge x = 10 of the square touches the circle centred (8, 5) r = 2 at angle 0.
    assert covered(SQUARE, [(8.0, 5.0, 2.0)]) == pytest.approx(4 * math.pi, rel=1e-12)


def test_identical_and_nested_discs_count_once() -> None:
    one = covered(SQUARE, [(3.0, 4.0, 2.5)])
    assert one == pytest.approx(math.pi * 2.5**2, rel=1e-12)
    assert covered(SQUARE, [(3.0, 4.0, 2.5)] * 3) == pytest.approx(one, rel=1e-12)
    # Duplicates up to rounding noise, and a disc wholly inside another.
    noisy = [(3.0, 4.0, 2.5), (3.0 + 1e-13, 4.0, 2.5 - 1e-13), (3.5, 4.0, 1.0)]
    assert covered(SQUARE, noisy) == pytest.approx(one, rel=1e-12)
    # Internally tangent: (4, 4) r 1.5 touches the big circle at (5.5, 4) from inside.
    assert covered(SQUARE, [(3.0, 4.0, 2.5), (4.0, 4.0, 1.5)]) == pytest.approx(one, rel=1e-12)


@pytest.mark.parametrize("d", [0.5, 1.0, 2.0, 3.0, 3.9])
def test_two_overlapping_discs_union_is_two_discs_minus_the_lens(d: float) -> None:
    r = 2.0
    expected = 2 * math.pi * r * r - lens_area(r, d)
    got = covered(SQUARE, [(5.0 - d / 2, 5.0, r), (5.0 + d / 2, 5.0, r)])
    assert got == pytest.approx(expected, rel=1e-12)


def test_lens_formula_sanity() -> None:
    # d = r: α = acos(1/2) = π/3, lens = 2r²π/3 − (r/2)·r√3 = r²(2π/3 − √3/2).
    assert lens_area(1.0, 1.0) == pytest.approx(2 * math.pi / 3 - math.sqrt(3) / 2)


def test_polygon_with_a_hole() -> None:
    # 10 x 10 square with a 4 x 4 hole in the middle (area 84).
    holed = shapely.Polygon(
        [(0, 0), (10, 0), (10, 10), (0, 10)], holes=[[(3, 3), (7, 3), (7, 7), (3, 7)]]
    )
    # r = 3 at the centre holds the hole (its corners are 2√2 < 3 away): 9π − 16.
    assert covered(holed, [(5.0, 5.0, 3.0)]) == pytest.approx(9 * math.pi - 16, rel=1e-12)
    # r = 1.5 lies inside the hole: nothing.
    assert covered(holed, [(5.0, 5.0, 1.5)]) == 0.0
    # r = 2 at the centre touches the hole's sides at their midpoints (tangent): nothing.
    assert covered(holed, [(5.0, 5.0, 2.0)]) == pytest.approx(0.0, abs=1e-12)
    # Centred on the hole's corner (3, 3), r = 1: three quadrants are in the polygon.
    assert covered(holed, [(3.0, 3.0, 1.0)]) == pytest.approx(0.75 * math.pi, rel=1e-12)
    # A disc around everything: the polygon's 84 m².
    assert covered(holed, [(5.0, 5.0, 8.0)]) == pytest.approx(84.0, rel=1e-12)


def test_multipolygon() -> None:
    two = shapely.MultiPolygon([shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)])
    # Each disc straddles one square's inner edge: half a disc of radius 2 in each, 2π + 2π.
    assert covered(two, [(10.0, 5.0, 2.0), (20.0, 5.0, 2.0)]) == pytest.approx(4 * math.pi)
    # One disc between them (x from 9 to 21 at y = 5): two circular segments of height 1,
    # r = 6, half-angle acos(5/6): each r²α − 5·√(36 − 25) = 36·acos(5/6) − 5√11.
    segment = 36 * math.acos(5 / 6) - 5 * math.sqrt(11)
    assert covered(two, [(15.0, 5.0, 6.0)]) == pytest.approx(2 * segment, rel=1e-12)


def test_island_in_a_lake() -> None:
    # A square ring (100 − 36 = 64) and a 2 x 2 island inside its hole: 68 m².
    lake = shapely.Polygon(
        [(0, 0), (10, 0), (10, 10), (0, 10)], holes=[[(2, 2), (8, 2), (8, 8), (2, 8)]]
    )
    island = shapely.box(4, 4, 6, 6)
    both = shapely.MultiPolygon([lake, island])
    assert covered(both, [(5.0, 5.0, 20.0)]) == pytest.approx(68.0, rel=1e-12)
    # r = 1 at the centre: inside the island, πr².
    assert covered(both, [(5.0, 5.0, 1.0)]) == pytest.approx(math.pi, rel=1e-12)
    # r = 2.5 at the centre: the island's 4 m² plus nothing of the lake ring (starts 3 away).
    assert covered(both, [(5.0, 5.0, 2.5)]) == pytest.approx(4.0, rel=1e-12)


def test_far_from_the_origin_and_either_orientation() -> None:
    shifted = shapely.box(E0, N0, E0 + 10, N0 + 10)
    clockwise = shapely.Polygon(list(shifted.exterior.coords)[::-1])
    assert not shapely.is_ccw(clockwise.exterior)
    for polygon in (shifted, clockwise):
        assert covered(polygon, [(E0, N0, 3.0)]) == pytest.approx(9 * math.pi / 4, rel=1e-10)
        d, r = 1.0, 2.0
        pair = [(E0 + 5 - d / 2, N0 + 5, r), (E0 + 5 + d / 2, N0 + 5, r)]
        expected = 2 * math.pi * r * r - lens_area(r, d)
        assert covered(polygon, pair) == pytest.approx(expected, rel=1e-10)


def test_polygon_rings_orients_shells_ccw_and_holes_cw() -> None:
    shell = [(0, 0), (0, 10), (10, 10), (10, 0)]  # clockwise
    hole = [(3, 3), (7, 3), (7, 7), (3, 7)]  # counter-clockwise
    rings = polygon_rings([shapely.Polygon(shell, holes=[hole])])
    c = rings.coords
    o = rings.ring_offsets

    def signed(ring: npt.NDArray[np.float64]) -> float:
        x, y = ring[:, 0], ring[:, 1]
        return float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]) / 2)

    assert signed(c[o[0] : o[1]]) == pytest.approx(100.0)
    assert signed(c[o[1] : o[2]]) == pytest.approx(-16.0)
    assert rings.geom_ring_offsets.tolist() == [0, 2]


def test_empty_missing_and_discless_villages() -> None:
    polygons = [shapely.Polygon(), None, SQUARE, SQUARE]
    got = covered_many(polygons, [[(0.0, 0.0, 5.0)], [(0.0, 0.0, 5.0)], [], [(0.0, 0.0, 5.0)]])
    assert got.tolist()[:3] == [0.0, 0.0, 0.0]
    assert got[3] == pytest.approx(25 * math.pi / 4)
    assert covered_many([], []).shape == (0,)
    share = union_disc_share([None, shapely.Polygon()], [], [], [], [0, 0, 0])
    assert share.tolist() == [0.0, 0.0]


def test_share() -> None:
    share = union_disc_share(
        [SQUARE, SQUARE, shapely.box(E0, N0, E0 + 4, N0 + 4)],
        [5.0, 0.0, E0 + 2],
        [5.0, 0.0, N0],
        [100.0, 3.0, 1.0],
        [0, 1, 2, 3],
    )
    # Whole square; a quadrant of r = 3 in 100 m²; half of r = 1 in 16 m².
    assert share == pytest.approx([1.0, 9 * math.pi / 400, math.pi / 32], rel=1e-12)


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="neither Polygon nor MultiPolygon"):
        union_disc_share([SQUARE, shapely.Point(0, 0)], [0.0], [0.0], [1.0], [0, 1, 1])
    rings = polygon_rings([SQUARE])
    arrays = (rings.coords, rings.ring_offsets, rings.geom_ring_offsets)
    with pytest.raises(ValueError, match="disc_offsets must have length 2"):
        union_disc_area(*arrays, [0.0], [0.0], [1.0], [0, 1, 1])
    with pytest.raises(ValueError, match=r"disc_offsets must lie within \[0, 1\]"):
        union_disc_area(*arrays, [0.0], [0.0], [1.0], [0, 2])
    with pytest.raises(ValueError, match="one length"):
        union_disc_area(*arrays, [0.0], [0.0, 1.0], [1.0], [0, 1])
    with pytest.raises(ValueError, match="finite"):
        union_disc_area(*arrays, [0.0], [0.0], [math.inf], [0, 1])
    with pytest.raises(ValueError, match="non-decreasing"):
        union_disc_area(rings.coords, [0, 5, 3], [0, 2], [], [], [], [0, 0])


# --------------------------------------------------------------------------------------------
# Agreement with shapely on random instances

N_SEGMENTS = 1024  # quad_segs = 256


def star(
    rng: np.random.Generator, cx: float, cy: float, r_lo: float, r_hi: float, k: int
) -> npt.NDArray[np.float64]:
    """A simple polygon: k vertices at jittered, increasing angles around (cx, cy)."""
    angle = (np.arange(k) + rng.uniform(0, 0.9, k)) * (2 * math.pi / k)
    radius = rng.uniform(r_lo, r_hi, k)
    return np.column_stack([cx + radius * np.cos(angle), cy + radius * np.sin(angle)])


def random_village(rng: np.random.Generator, cx: float, cy: float) -> shapely.Geometry:
    # Angle gaps stay below 1.9 · 360°/k, so a k-gon of radii in [lo, hi] holds the disc of
    # radius lo · cos(0.95 · 180°/k) around its centre: 527 m for the 12-gon shells (holes reach
    # 500 m), 136 m for the hexagonal holes (islands reach 90 m).
    kind = rng.integers(0, 4)
    k = int(rng.choice([3, 5, 12, 40, 200])) if kind in (0, 2) else int(rng.choice([12, 40, 200]))
    shell = star(rng, cx, cy, 600.0, 1000.0, k)
    if kind == 0:
        return shapely.Polygon(shell)
    hole = star(rng, cx, cy, 250.0, 500.0, int(rng.integers(6, 10)))
    if kind == 1:
        return shapely.Polygon(shell, holes=[hole])
    other = star(rng, cx + 2500.0, cy + 300.0, 300.0, 900.0, int(rng.integers(3, 15)))
    if kind == 2:
        return shapely.MultiPolygon([shapely.Polygon(shell), shapely.Polygon(other)])
    island = star(rng, cx, cy, 20.0, 90.0, 6)
    return shapely.MultiPolygon(
        [shapely.Polygon(shell, holes=[hole]), shapely.Polygon(island), shapely.Polygon(other)]
    )


def shapely_reference(polygon: shapely.Geometry, discs: list[Disc]) -> float:
    arr = np.asarray(discs, dtype=float).reshape(-1, 3)
    polys = shapely.buffer(shapely.points(arr[:, :2]), arr[:, 2], quad_segs=N_SEGMENTS // 4)
    return float(shapely.area(shapely.intersection(polygon, shapely.union_all(polys))))


def test_agrees_with_polygonised_discs_in_shapely() -> None:
    rng = np.random.default_rng(20240611)
    polygons: list[shapely.Geometry] = []
    discs: list[list[Disc]] = []
    for v in range(160):
        cx = E0 + 10_000.0 * v
        cy = N0 + rng.uniform(-1000, 1000)
        polygons.append(random_village(rng, cx, cy))
        n_discs = int(rng.choice([1, 2, 3, 4, 8, 40]))
        dist = rng.uniform(0, 1800, n_discs)
        theta = rng.uniform(0, 2 * math.pi, n_discs)
        radius = rng.uniform(50, 1500, n_discs)
        discs.append(
            [
                (cx + d * math.cos(t), cy + d * math.sin(t), r)
                for d, t, r in zip(dist, theta, radius, strict=True)
            ]
        )
    assert all(shapely.is_valid(polygons))
    ours = covered_many(polygons, discs)
    ref = np.array([shapely_reference(p, d) for p, d in zip(polygons, discs, strict=True)])
    # The 1024-gons are inscribed: they miss, per disc, at most the band between circle and
    # polygon, 2πr · r(1 − cos(π/N)) in area; shapely can only be smaller, by less than that.
    band = np.array(
        [
            sum(2 * math.pi * r * r * (1 - math.cos(math.pi / N_SEGMENTS)) for *_, r in d)
            for d in discs
        ]
    )
    area = shapely.area(polygons)
    slack = 1e-9 * area
    assert np.all(ref <= ours + slack)
    assert np.all(ours - ref <= band + slack)
    sizable = ref > 1e-3 * area
    assert sizable.sum() > 100
    assert np.all(np.abs(ours - ref)[sizable] < 1e-4 * ref[sizable])
    # Not all villages are trivially 0 or whole.
    partial = (ours > 0.01 * area) & (ours < 0.99 * area)
    assert partial.sum() > 60


def test_batch_equals_one_village_at_a_time() -> None:
    # 300 villages run in parallel (from _PARALLEL_MIN on); one at a time runs serially.
    n = 300
    assert n >= _discarea._PARALLEL_MIN
    rng = np.random.default_rng(7)
    polygons = [random_village(rng, 0.0, 0.0) for _ in range(n)]
    discs = [
        [
            (float(x), float(y), float(r))
            for x, y, r in rng.uniform([-900, -900, 100], [900, 900, 900], (k, 3))
        ]
        for k in rng.integers(0, 6, n)
    ]
    batch = covered_many(polygons, discs)
    single = [covered(p, d) for p, d in zip(polygons, discs, strict=True)]
    np.testing.assert_array_equal(batch, single)
    assert ((batch > 0) & (batch < shapely.area(polygons))).sum() > 100


def test_each_group_alone_in_the_same_sweep() -> None:
    # 300 villages (the parallel sweep), each with 0 to 6 discs of three groups: the total is
    # union_disc_area's and each group's area is union_disc_area of that group's discs alone,
    # bit for bit.
    n = 300
    rng = np.random.default_rng(11)
    polygons = [random_village(rng, 0.0, 0.0) for _ in range(n)]
    counts = rng.integers(0, 7, n)
    village = np.repeat(np.arange(n), counts)
    x, y, r = rng.uniform([-900, -900, 100], [900, 900, 900], (int(counts.sum()), 3)).T
    group = rng.integers(0, 3, village.size)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    rings = polygon_rings(polygons)
    arrays = (rings.coords, rings.ring_offsets, rings.geom_ring_offsets)
    area, by_group = union_disc_area_by_group(
        *arrays, x, y, r, offsets, group, n_groups=3, min_area=0.0
    )
    np.testing.assert_array_equal(area, union_disc_area(*arrays, x, y, r, offsets))
    for g in range(3):
        mine = group == g
        own = np.concatenate([[0], np.cumsum(np.bincount(village[mine], minlength=n))])
        alone = union_disc_area(*arrays, x[mine], y[mine], r[mine], own)
        np.testing.assert_array_equal(by_group[:, g], alone)
    several = np.array([np.unique(group[village == i]).size > 1 for i in range(n)])
    assert several.sum() > 100
    assert (by_group[several] > 0).sum() > 100
    # Short of min_area, no group is computed; the totals do not change.
    least = 0.5 * shapely.area(polygons)
    area2, by_group2 = union_disc_area_by_group(
        *arrays, x, y, r, offsets, group, n_groups=3, min_area=least
    )
    np.testing.assert_array_equal(area2, area)
    short = area < least
    assert 20 < short.sum() < n - 20
    assert np.isnan(by_group2[short]).all()
    np.testing.assert_array_equal(by_group2[~short], by_group[~short])


def test_one_group_takes_the_total() -> None:
    # Two 4 m squares, each with unit discs on its bottom corners: a quarter disc each. The
    # first village's discs are all of group 1, the second's of groups 0 and 2.
    box = shapely.box(0, 0, 4, 4)
    rings = polygon_rings([box, box])
    arrays = (rings.coords, rings.ring_offsets, rings.geom_ring_offsets)
    x, y, r = [0.0, 4.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0], [1.0] * 4
    area, by_group = union_disc_area_by_group(
        *arrays, x, y, r, [0, 2, 4], [1, 1, 0, 2], n_groups=3, min_area=0.0
    )
    assert area == pytest.approx([math.pi / 2] * 2, rel=1e-12)
    assert by_group[0].tolist() == [0.0, area[0], 0.0]
    assert by_group[1] == pytest.approx([math.pi / 4, 0.0, math.pi / 4], rel=1e-12)
    with pytest.raises(ValueError, match="one value per disc"):
        union_disc_area_by_group(*arrays, x, y, r, [0, 2, 4], [0], n_groups=1, min_area=0.0)
    with pytest.raises(ValueError, match=r"disc_group must lie within \[0, 2\)"):
        union_disc_area_by_group(
            *arrays, x, y, r, [0, 2, 4], [0, 1, 2, 0], n_groups=2, min_area=0.0
        )


SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.mark.shared_data
@pytest.mark.slow
def test_agrees_with_shapely_on_real_communes() -> None:
    # Ho Chi Minh City's 167 communes (57 to 7,504 vertices, 7 multipolygons) in UTM 48N.
    path = SHARED_DATA / "admin" / "hcmc" / "HCM-2.shp"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    import geopandas as gpd

    communes = gpd.read_file(path).to_crs(32648).geometry.to_numpy()
    rng = np.random.default_rng(3)
    centre = shapely.get_coordinates(shapely.point_on_surface(communes))
    n_discs = 3
    village = np.repeat(np.arange(len(communes)), n_discs)
    theta = rng.uniform(0, 2 * math.pi, village.size)
    dist = rng.uniform(0, 3000, village.size)
    x = centre[village, 0] + dist * np.cos(theta)
    y = centre[village, 1] + dist * np.sin(theta)
    r = rng.uniform(300, 4000, village.size)
    offsets = np.arange(len(communes) + 1) * n_discs
    share = union_disc_share(communes, x, y, r, offsets)
    discs = shapely.buffer(shapely.points(x, y), r, quad_segs=N_SEGMENTS // 4)
    unions = np.array(
        [shapely.union_all(discs[offsets[i] : offsets[i + 1]]) for i in range(len(communes))]
    )
    area = shapely.area(communes)
    ref = shapely.area(shapely.intersection(communes, unions)) / area
    band = (
        np.bincount(village, weights=2 * math.pi * r * r * (1 - math.cos(math.pi / N_SEGMENTS)))
        / area
    )
    assert np.all(ref <= share + 1e-9)
    assert np.all(share - ref <= band + 1e-9)
    assert ((share > 0.01) & (share < 0.99)).sum() > 50


# --------------------------------------------------------------------------------------------
# Properties

PENTAGON_WITH_HOLE = shapely.Polygon(
    [(0, 0), (100, 0), (130, 70), (50, 120), (-30, 70)],
    holes=[[(40, 30), (60, 30), (60, 60), (40, 60)]],
)
PROPERTY_POLYGONS = [SQUARE, PENTAGON_WITH_HOLE, shapely.box(0, 0, 200, 5)]

coordinate = st.floats(-60.0, 200.0, allow_nan=False)
radius = st.floats(0.5, 150.0, allow_nan=False)
discs_strategy = st.lists(st.tuples(coordinate, coordinate, radius), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    which=st.integers(0, len(PROPERTY_POLYGONS) - 1),
    discs=discs_strategy,
    extra=st.tuples(coordinate, coordinate, radius),
    seed=st.integers(0, 2**32 - 1),
)
def test_properties(which: int, discs: list[Disc], extra: Disc, seed: int) -> None:
    polygon = PROPERTY_POLYGONS[which]
    area = covered(polygon, discs)
    scale = 1e-9 * polygon.area
    # Within [0, polygon area].
    assert 0.0 <= area <= polygon.area
    # At least as much as any one disc alone, at most the sum of the discs alone.
    alone = [covered(polygon, [d]) for d in discs]
    assert area >= max(alone) - scale
    assert area <= sum(alone) + scale
    # Adding a disc never lowers the area.
    assert covered(polygon, [*discs, extra]) >= area - scale
    # Order of the discs does not matter.
    order = np.random.default_rng(seed).permutation(len(discs))
    assert covered(polygon, [discs[i] for i in order]) == pytest.approx(area, abs=scale)
