"""Tests of candidate sites, the candidate-by-village matrix and ranked plans."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS

from hatangso.coverage.config import CoverageConfig, MobileConfig, SitingConfig, TerrainConfig
from hatangso.coverage.optimize import TargetInfeasibleError
from hatangso.coverage.rasters import Raster
from hatangso.coverage.siting import (
    build_candidates,
    colocation_candidates,
    coverage_matrix,
    high_point_candidates,
    plan_sites,
    point_candidates,
    terrain_coverage_matrix,
    terrain_reach_filter,
)
from hatangso.geo.errors import InputError

CRS_M = "EPSG:32648"
# An origin inside UTM 48N over northern Vietnam, so coordinates are plausible metres.
X0, Y0 = 500_000.0, 2_400_000.0
RADIUS_6KM = MobileConfig(radius_m={"4G": {"rural": 6000.0}})


def _xy(points: list[tuple[float, float]]) -> np.ndarray:
    return np.array([(X0 + x, Y0 + y) for x, y in points], dtype=float)


def _user(points: list[tuple[float, float]], ids: list[str], **cols: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"site_id": ids, "operator": ["Viettel"] * len(ids), **cols},
        geometry=shapely.points(_xy(points)),
        crs=CRS_M,
    )


def _matrix(cands: gpd.GeoDataFrame, villages: np.ndarray, config: MobileConfig) -> sp.csr_array:
    n = len(villages)
    return coverage_matrix(
        cands,
        np.arange(n, dtype=np.int64),
        villages[:, 0],
        villages[:, 1],
        n_villages=n,
        config=config,
        operator="Viettel",
    )


# The classic instance where greedy is not optimal, laid out on the ground (reach 6 km).
# Candidates L (0, 0), M (10 km, 0), R (20 km, 0). Villages:
#   0, 1 at (-3 km, +-0.5 km): 3.04 km from L, 13 km from M           -> L only
#   2, 3 at (4.5 km, +-0.5 km): 4.53 km from L, 5.52 km from M         -> L and M
#   4, 5 at (15.5 km, +-0.5 km): symmetric                             -> M and R
#   6, 7 at (23 km, +-0.5 km)                                          -> R only
#   8 at (10 km, 5.5 km): 5.5 km from M, 11.4 km from L and R          -> M only
# So L = {0,1,2,3}, M = {2,3,4,5,8}, R = {4,5,6,7}. With two sites greedy takes M (5), then
# L or R (+2) = 7 villages; the optimum is L + R = 8.
GREEDY_TRAP_VILLAGES = _xy(
    [
        (-3000, 500),
        (-3000, -500),
        (4500, 500),
        (4500, -500),
        (15500, 500),
        (15500, -500),
        (23000, 500),
        (23000, -500),
        (10000, 5500),
    ]
)
GREEDY_TRAP_SITES = [(0, 0), (10000, 0), (20000, 0)]


def _trap_candidates() -> gpd.GeoDataFrame:
    return build_candidates(
        operator="Viettel",
        demand_xy=GREEDY_TRAP_VILLAGES,
        crs=CRS_M,
        settings=SitingConfig(),
        tolerance_m=30.0,
        user=_user(GREEDY_TRAP_SITES, ["L", "M", "R"]),
    )


def test_matrix_of_hand_built_instance() -> None:
    cands = _trap_candidates()
    matrix = _matrix(cands, GREEDY_TRAP_VILLAGES, RADIUS_6KM)
    rows = {cid: set(matrix[[i]].indices.tolist()) for i, cid in enumerate(cands["candidate_id"])}
    assert rows == {"L": {0, 1, 2, 3}, "M": {2, 3, 4, 5, 8}, "R": {4, 5, 6, 7}}


def test_greedy_is_not_optimal_but_exact_is() -> None:
    cands = _trap_candidates()
    matrix = _matrix(cands, GREEDY_TRAP_VILLAGES, RADIUS_6KM)
    weights = np.ones(len(GREEDY_TRAP_VILLAGES))
    greedy = plan_sites(cands, matrix, weights, budget=2, method="greedy")
    exact = plan_sites(cands, matrix, weights, budget=2, method="milp")
    assert greedy.solution.covered_weight == 7.0
    assert greedy.sites["candidate_id"].iloc[0] == "M"
    assert greedy.solution.status == "heuristic"
    assert exact.solution.covered_weight == 8.0
    assert sorted(exact.sites["candidate_id"]) == ["L", "R"]
    assert exact.solution.status == "optimal"
    assert exact.solution.gap == 0.0
    # Ranks follow the marginal gain: 4 then 4, and the per-site villages partition the cover.
    assert exact.sites["villages_newly_covered"].tolist() == [4, 4]
    covered = sorted(v for t in exact.sites["new_villages"] for v in t)
    assert covered == list(range(8))


def test_least_cost_cover_of_hand_built_instance() -> None:
    # Covering all 9 villages needs village 8 (M only) and 0 (L only) and 6 (R only): all three
    # sites, cost 3; covering 8 of 9 (share 8/9) is done by L + R at cost 2.
    cands = _trap_candidates()
    matrix = _matrix(cands, GREEDY_TRAP_VILLAGES, RADIUS_6KM)
    weights = np.ones(len(GREEDY_TRAP_VILLAGES))
    full = plan_sites(cands, matrix, weights, target=1.0)
    assert full.solution.cost == 3.0
    part = plan_sites(cands, matrix, weights, target=8 / 9)
    assert part.solution.cost == 2.0
    assert sorted(part.sites["candidate_id"]) == ["L", "R"]
    assert part.problem == "lscp"


def test_colocation_wins_on_cost() -> None:
    # Two dark villages 2 km either side of a VNPT tower; a settlement 1 km from the tower
    # covers them as well (2.2 km each). Both candidates cover both villages, so the least
    # cost cover is the tenancy on VNPT's tower (0.35) rather than a new tower (1.0).
    villages = _xy([(-2000, 0), (2000, 0)])
    existing = gpd.GeoDataFrame(
        {"site_id": ["VNP-1"], "operator": ["VNPT"], "height_m": [40.0]},
        geometry=shapely.points(_xy([(0, 0)])),
        crs=CRS_M,
    )
    cands = build_candidates(
        operator="Viettel",
        demand_xy=villages,
        crs=CRS_M,
        settings=SitingConfig(),
        tolerance_m=30.0,
        sites=existing,
        settlements_xy=_xy([(0, 1000)]),
        settlement_ids=["S1"],
    )
    assert sorted(cands["kind"]) == ["colocation", "settlement"]
    matrix = _matrix(cands, villages, MobileConfig())
    assert matrix.toarray().all()
    plan = plan_sites(cands, matrix, np.ones(2), target=1.0)
    assert len(plan.sites) == 1
    site = plan.sites.iloc[0]
    assert site["kind"] == "colocation"
    assert site["colocated_with"] == "VNP-1"
    assert site["partner_operator"] == "VNPT"
    assert site["height_m"] == 40.0
    assert plan.solution.cost == pytest.approx(0.35)
    # With a tenancy as dear as a new tower, the tie goes either way; dearer, the new tower wins.
    dear = SitingConfig.model_validate({"costs": {"colocation": 1.5}})
    cands2 = build_candidates(
        operator="Viettel",
        demand_xy=villages,
        crs=CRS_M,
        settings=dear,
        tolerance_m=30.0,
        sites=existing,
        settlements_xy=_xy([(0, 1000)]),
        settlement_ids=["S1"],
    )
    plan2 = plan_sites(cands2, _matrix(cands2, villages, MobileConfig()), np.ones(2), target=1.0)
    assert plan2.sites["kind"].tolist() == ["settlement"]


def test_no_colocation_on_own_tower() -> None:
    existing = gpd.GeoDataFrame(
        {"site_id": ["V-1", "N-1", "N-2"], "operator": ["Viettel", "VNPT", "VNPT"]},
        geometry=shapely.points(_xy([(0, 0), (10, 0), (5000, 0)])),
        crs=CRS_M,
    )
    colos = colocation_candidates(
        existing,
        operator="Viettel",
        tolerance_m=30.0,
        cost=0.35,
        tech="4G",
        env="rural",
        default_height_m=30.0,
    )
    # The mast at the origin carries Viettel already; only VNPT's second tower is a candidate.
    assert colos["colocated_with"].tolist() == ["N-2"]


def test_infeasible_target_names_unreachable_village() -> None:
    # Village 2 is 50 km from the only candidate: 2 of 3 villages at best.
    villages = _xy([(1000, 0), (-1000, 0), (50_000, 0)])
    cands = build_candidates(
        operator="Viettel",
        demand_xy=villages,
        crs=CRS_M,
        settings=SitingConfig(),
        tolerance_m=30.0,
        user=_user([(0, 0)], ["A"]),
    )
    matrix = _matrix(cands, villages, MobileConfig())
    with pytest.raises(TargetInfeasibleError) as info:
        plan_sites(cands, matrix, np.ones(3), target=1.0)
    assert info.value.unreachable.tolist() == [2]
    assert info.value.best_share == pytest.approx(2 / 3)
    assert len(plan_sites(cands, matrix, np.ones(3), target=2 / 3).sites) == 1


def test_exactly_one_of_budget_and_target() -> None:
    cands = _trap_candidates()
    matrix = _matrix(cands, GREEDY_TRAP_VILLAGES, RADIUS_6KM)
    with pytest.raises(InputError, match="exactly one"):
        plan_sites(cands, matrix, np.ones(9), budget=1, target=0.5)
    with pytest.raises(InputError, match="exactly one"):
        plan_sites(cands, matrix, np.ones(9))


def test_budget_in_cost_units() -> None:
    # Costs L 1, M 0.5, R 1; budget 1.5 in cost: L+M (7 villages) or M+R (7) fit, L+R (2.0)
    # does not, so the best is 7.
    cands = build_candidates(
        operator="Viettel",
        demand_xy=GREEDY_TRAP_VILLAGES,
        crs=CRS_M,
        settings=SitingConfig(),
        tolerance_m=30.0,
        user=_user(GREEDY_TRAP_SITES, ["L", "M", "R"], cost=[1.0, 0.5, 1.0]),
    )
    matrix = _matrix(cands, GREEDY_TRAP_VILLAGES, RADIUS_6KM)
    plan = plan_sites(cands, matrix, np.ones(9), budget=1.5, budget_unit="cost")
    assert plan.solution.covered_weight == 7.0
    assert "M" in plan.sites["candidate_id"].tolist()
    assert plan.solution.cost <= 1.5


def test_user_cost_column_is_checked() -> None:
    with pytest.raises(InputError, match="cost"):
        build_candidates(
            operator="Viettel",
            demand_xy=GREEDY_TRAP_VILLAGES,
            crs=CRS_M,
            settings=SitingConfig(),
            tolerance_m=30.0,
            user=_user([(0, 0), (1, 1)], ["A", "B"], cost=["2", "-1"]),
        )


def test_user_candidate_on_other_tower_is_colocation() -> None:
    existing = gpd.GeoDataFrame(
        {"site_id": ["MBF-9"], "operator": ["MobiFone"]},
        geometry=shapely.points(_xy([(0, 0)])),
        crs=CRS_M,
    )
    cands = build_candidates(
        operator="Viettel",
        demand_xy=_xy([(1000, 0)]),
        crs=CRS_M,
        settings=SitingConfig(),
        tolerance_m=30.0,
        sites=existing,
        user=_user([(5, 5), (3000, 0)], ["U1", "U2"]),
    )
    by_id = cands.set_index("candidate_id")
    assert by_id.loc["U1", "colocated_with"] == "MBF-9"
    assert by_id.loc["U1", "cost"] == pytest.approx(0.35)
    assert by_id.loc["U2", "cost"] == pytest.approx(1.0)
    assert by_id.loc["U2", "colocated_with"] is None


def test_exclusion_and_spacing() -> None:
    # Settlements 50 m apart merge into one (spacing 100 m); the one inside the exclusion
    # square goes.
    zone = gpd.GeoDataFrame(
        geometry=[shapely.box(X0 + 9000, Y0 - 1000, X0 + 11000, Y0 + 1000)], crs=CRS_M
    )
    cands = build_candidates(
        operator="Viettel",
        demand_xy=_xy([(0, 0)]),
        crs=CRS_M,
        settings=SitingConfig(),
        tolerance_m=30.0,
        settlements_xy=_xy([(0, 0), (50, 0), (10000, 0), (3000, 0)]),
        settlement_ids=["a", "b", "c", "d"],
        exclusion=zone,
    )
    assert sorted(cands["candidate_id"]) == ["SET-a", "SET-d"]


def test_official_rule_needs_every_point_of_a_village() -> None:
    # Village 0: centre at 0 and a cluster at 9 km; village 1: centre at 4 km only.
    # A candidate at 2 km (reach 5 km) covers village 0's centre but not its cluster (7 km),
    # so alone it covers only village 1; a candidate at 5 km covers both of village 0's points
    # (5 and 4 km) and village 1 (1 km).
    cands = build_candidates(
        operator="Viettel",
        demand_xy=_xy([(0, 0), (4000, 0)]),
        crs=CRS_M,
        settings=SitingConfig(),
        tolerance_m=30.0,
        user=_user([(2000, 0), (5000, 0)], ["A", "B"]),
    )
    pts = _xy([(0, 0), (4000, 0), (9000, 0)])
    matrix = coverage_matrix(
        cands,
        np.array([0, 1, 0]),
        pts[:, 0],
        pts[:, 1],
        n_villages=2,
        config=MobileConfig(rule="official"),
        operator="Viettel",
    )
    assert matrix.toarray().tolist() == [[False, True], [True, True]]


def test_high_point_found() -> None:
    # A 30 m grid, flat at 100 m with a 300 m cone peaking at cell (20, 30); one village 1 km
    # from the peak. The peak is the only high point.
    rows, cols = np.mgrid[0:41, 0:61]
    z = 100.0 + np.maximum(0.0, 200.0 - 10.0 * np.hypot(rows - 20, cols - 30))
    transform = Affine(30.0, 0.0, X0, 0.0, -30.0, Y0)
    dem = Raster(array=z.astype(np.float32), transform=transform, crs=CRS.from_string(CRS_M))
    peak = (X0 + 30.5 * 30.0, Y0 - 20.5 * 30.0)
    xy, elev = high_point_candidates(
        dem, np.array([[peak[0] + 1000.0, peak[1]]]), radius_m=3000, window_m=500, max_points=10
    )
    assert xy.tolist() == [list(peak)]
    assert elev.tolist() == [300.0]
    far, _ = high_point_candidates(
        dem, np.array([[peak[0] + 9000.0, peak[1]]]), radius_m=3000, window_m=500, max_points=10
    )
    assert len(far) == 0


def test_siting_section_in_configuration() -> None:
    cfg = CoverageConfig.model_validate({"siting": {"weight": "population", "tech": "4G;5G"}})
    assert cfg.siting.weight == "population"
    assert cfg.siting.costs.new_tower == 1.0
    with pytest.raises(ValueError, match="tech"):
        SitingConfig(tech="3G")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.booleans(), min_size=7, max_size=7), min_size=2, max_size=6),
    st.integers(min_value=1, max_value=3),
)
def test_exact_matches_brute_force(rows: list[list[bool]], k: int) -> None:
    matrix = sp.csr_array(np.array(rows, dtype=bool))
    n = len(rows)
    cands = build_candidates(
        operator="Viettel",
        demand_xy=_xy([(0, 0)]),
        crs=CRS_M,
        settings=SitingConfig(candidate_spacing_m=0.0),
        tolerance_m=30.0,
        user=_user([(1000.0 * i, 0) for i in range(n)], [f"c{i}" for i in range(n)]),
    )
    weights = np.arange(1.0, 8.0)
    dense = np.array(rows, dtype=bool)
    best = max(
        float(weights[dense[list(c)].any(axis=0)].sum())
        for c in itertools.combinations(range(n), min(k, n))
    )
    plan = plan_sites(cands, matrix, weights, budget=k)
    assert plan.solution.covered_weight == best
    greedy = plan_sites(cands, matrix, weights, budget=k, method="greedy")
    assert greedy.solution.covered_weight <= best
    assert len(plan.sites) <= k


def _ridge_raster() -> Raster:
    # 90 m cells from x = -4 km to 9.5 km, y = -3 km to 3 km (150 x 67 cells), flat at 100 m
    # with a north-south ridge of triangular section: 500 m at x = 3 km, down to 100 m at
    # x = 2 km and 4 km (slopes of 0.4).
    transform = Affine(90.0, 0.0, X0 - 4000.0, 0.0, -90.0, Y0 + 3000.0)
    x = X0 - 4000.0 + (np.arange(150) + 0.5) * 90.0
    z = 100.0 + 400.0 * np.maximum(0.0, 1.0 - np.abs(x - (X0 + 3000.0)) / 1000.0)
    return Raster(
        array=np.tile(z, (67, 1)).astype(np.float32),
        transform=transform,
        crs=CRS.from_string(CRS_M),
    )


def test_terrain_matrix_sees_the_ridge() -> None:
    # Candidates (30 m masts, 4G, 1800 MHz, EIRP 32 dBm): A at x = 0 in front of the ridge,
    # B at x = 3 km on its crest (530 m above sea); village V at x = 5 km behind the ridge,
    # village W at x = 1.5 km in front of it. Threshold -110 dBm, so the loss may be at most
    # 142 dB.
    # A -> W: 1.5 km over flat ground, free-space 32.45 + 20 log10(1800) + 20 log10(1.5)
    #   = 101.1 dB: covered.
    # B -> V and B -> W: the ridge falls at 0.4 m/m, faster than the sight lines to V (428.5 m
    #   over 2 km, 0.21 m/m) and to W (0.29 m/m): clear, free space over the slant ranges,
    #   20 log10(2.04 / 1.5) = 2.7 dB above A -> W for V (~103.8 dB), ~101 dB for W: covered.
    # A -> V: the crest stands h = 500 - (130 - 28.5 * 3/5) ~ 387 m above the sight line,
    #   d1 = 3 km, d2 = 2 km, lambda = 0.167 m: v = h sqrt(2 (d1 + d2) / (lambda d1 d2)) ~ 39,
    #   a knife-edge loss of at least 44.5 dB (Bullington's equivalent edge of the sloping
    #   ridge stands higher still) on top of 111.5 dB free space: over 142 dB, not covered.
    # Hata (reach 11.8 km for a 30 m rural mast) covers all four pairs.
    cands = point_candidates(
        _xy([(0, 0), (3000, 0)]),
        ["A", "B"],
        crs=CRS_M,
        kind="user",
        cost=1.0,
        height_m=30.0,
        tech="4G",
        env="rural",
    )
    pts = _xy([(5000, 0), (1500, 0)])
    matrix = terrain_coverage_matrix(
        cands,
        np.array([0, 1]),
        pts[:, 0],
        pts[:, 1],
        n_villages=2,
        dem=_ridge_raster(),
        threshold_dbm=-110.0,
        terrain=TerrainConfig(radius_m=8000.0, resolution_m=90.0),
    )
    assert matrix.toarray().tolist() == [[False, True], [True, True]]
    hata = _matrix(cands, pts, MobileConfig(model="hata"))
    assert hata.toarray().tolist() == [[True, True], [True, True]]
    # 40 dB of clutter leaves B -> V at about 32 - 103.8 - 40 = -111.8 dBm: not covered.
    counts: list[tuple[int, int]] = []
    cluttered = terrain_coverage_matrix(
        cands,
        np.array([0, 1]),
        pts[:, 0],
        pts[:, 1],
        n_villages=2,
        dem=_ridge_raster(),
        threshold_dbm=-110.0,
        terrain=TerrainConfig(radius_m=8000.0, resolution_m=90.0, clutter_loss_db=40.0),
        progress=lambda done, total: counts.append((done, total)),
    )
    assert not cluttered.toarray()[:, 0].any()
    assert counts == [(0, 2), (1, 2), (2, 2)]  # the candidates gone through, of all


def test_terrain_reach_filter() -> None:
    # Demand at 0, 1 km and 2 km; radius 3 km. C0 at -2.5 km reaches one point, C1 at 1 km all
    # three, C2 at 10 km none (dropped). With room for one, C1 (most points near) stays.
    cands = point_candidates(
        _xy([(-2500, 0), (1000, 0), (10_000, 0)]),
        ["C0", "C1", "C2"],
        crs=CRS_M,
        kind="user",
        cost=1.0,
        height_m=30.0,
        tech="4G",
        env="rural",
    )
    pts = _xy([(0, 0), (1000, 0), (2000, 0)])
    keep = terrain_reach_filter(cands, pts[:, 0], pts[:, 1], radius_m=3000.0, max_candidates=5)
    assert keep.tolist() == [0, 1]
    one = terrain_reach_filter(cands, pts[:, 0], pts[:, 1], radius_m=3000.0, max_candidates=1)
    assert one.tolist() == [1]
