"""The 5G plan: a 3.5 GHz carrier on the operator's towers, then others', then new sites.

Tiny instances laid out in metres in UTM 48N and handed over in lon/lat. Under the radius
model (the default configuration, no DEM) a rural 5G carrier reaches 2 km, omni, so which
candidate covers which village is a distance test done by hand here; the plan's cost is
checked against every subset of the candidates.
"""

from __future__ import annotations

import itertools
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

from hatangso.coverage.config import CoverageConfig
from hatangso.coverage.planning import PLACEMENTS, PlanResult, plan
from hatangso.coverage.siting import PlanInfeasibleError, upgrade_candidates
from hatangso.geo.errors import InputError

UTM = 32648
X0, Y0 = 590_000.0, 2_320_000.0  # near 105.86 E, 20.98 N
REACH_5G_M = 2000.0  # the radius table's rural 5G reach
COSTS = {"own_tower": 0.2, "shared_tower": 0.35, "new_site": 1.0}  # siting.costs defaults


XY = list[tuple[float, float]] | np.ndarray


def _frame(table: dict[str, list[Any]], xy: XY) -> gpd.GeoDataFrame:
    geoms = shapely.points([(X0 + float(x), Y0 + float(y)) for x, y in xy])
    return gpd.GeoDataFrame(table, geometry=geoms, crs=UTM).to_crs(4326)


def _instance(
    own_xy: XY, other_xy: XY, new_xy: XY, village_xy: XY, people: list[float]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Villages; Viettel's 4G towers and VNPT's (the second carries 5G); the candidates.

    The candidates are the planner's list: one on each tower (Viettel's own and VNPT's) and
    the new sites, ``T*``, ``N*`` and ``C*``.
    """
    n_own, n_other = len(own_xy), len(other_xy)
    villages = _frame(
        {
            "village_id": [f"V{i}" for i in range(len(village_xy))],
            "name": [f"Thôn {i}" for i in range(len(village_xy))],
            "population": people,
        },
        village_xy,
    )
    sites = _frame(
        {
            "site_id": [f"VTL-{i}" for i in range(n_own)] + [f"VNP-{i}" for i in range(n_other)],
            "operator": ["Viettel"] * n_own + ["VNPT"] * n_other,
            "tech": ["4G"] * n_own + ["4G", "4G;5G"][:n_other],
            "env": ["rural"] * (n_own + n_other),
        },
        [*map(tuple, np.asarray(own_xy)), *map(tuple, np.asarray(other_xy))],
    )
    cand_xy = [*map(tuple, np.asarray(own_xy)), *map(tuple, np.asarray(other_xy))]
    cand_xy += [*map(tuple, np.asarray(new_xy))]
    candidates = _frame(
        {
            "candidate_id": [f"T{i}" for i in range(n_own)]
            + [f"N{i}" for i in range(n_other)]
            + [f"C{i}" for i in range(len(new_xy))],
            "env": ["rural"] * len(cand_xy),
        },
        cand_xy,
    )
    return villages, sites, candidates


def _placement(candidate_id: str) -> str:
    return {"T": "own_tower", "N": "shared_tower", "C": "new_site"}[candidate_id[0]]


def _plan_5g(
    villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, cands: gpd.GeoDataFrame, **kw: Any
) -> PlanResult:
    return plan(
        villages,
        sites,
        operator="Viettel",
        config=CoverageConfig(),
        candidates=cands,
        tech="5G",
        weight="population",
        **kw,
    )


@pytest.mark.parametrize("seed", [1, 3, 7, 12, 14])
def test_least_cost_5g_plan_matches_brute_force(seed: int) -> None:
    # 3 Viettel towers (4G only), 2 VNPT towers (the second with 5G: the people within 2 km of
    # it have 5G today), 4 new sites, 8 villages with people, all within 6 km. Target: 90% of
    # all the people (the 5G plan's target is a share of everyone, those covered today in).
    rng = np.random.default_rng(seed)
    own_xy, other_xy, new_xy = (rng.uniform(0, 6000, size=(k, 2)) for k in (3, 2, 4))
    village_xy = rng.uniform(0, 6000, size=(8, 2))
    people = rng.integers(50, 2000, size=8).astype(float).tolist()
    villages, sites, cands = _instance(own_xy, other_xy, new_xy, village_xy, people)
    cand_xy = np.vstack([own_xy, other_xy, new_xy])
    ids = cands["candidate_id"].tolist()
    cost = np.array([COSTS[_placement(c)] for c in ids])
    reach = np.linalg.norm(cand_xy[:, None, :] - village_xy[None, :, :], axis=2) <= REACH_5G_M
    today = np.linalg.norm(village_xy - other_xy[1], axis=1) <= REACH_5G_M
    w = np.asarray(people)
    target = 0.9
    best_cost, best_share = np.inf, 0.0
    for k in range(len(ids) + 1):
        for subset in itertools.combinations(range(len(ids)), k):
            lit = today | reach[list(subset)].any(axis=0)
            share = float(w[lit].sum() / w.sum())
            best_share = max(best_share, share)
            if share >= target - 1e-9:
                best_cost = min(best_cost, float(cost[list(subset)].sum()))
    if not np.isfinite(best_cost):
        with pytest.raises(PlanInfeasibleError, match=f"{best_share:.4f}"):
            _plan_5g(villages, sites, cands, target=target)
        return
    result = _plan_5g(villages, sites, cands, target=target)
    doc = result.document
    assert doc["status"] == "optimal"
    assert doc["target_of"] == "all"
    assert doc["cost"] == pytest.approx(best_cost)
    assert doc["target_met_after_recheck"] is True
    assert doc["overall"]["share_after_recheck"] >= target - 1e-9
    assert doc["overall"]["share_before"] == pytest.approx(w[today].sum() / w.sum())
    assert doc["kpis_after"]["population_5g_coverage"]["value"] == pytest.approx(
        doc["overall"]["share_after_recheck"]
    )
    for site in doc["sites"]:
        assert site["placement"] == _placement(site["candidate_id"])
        assert site["cost"] == pytest.approx(COSTS[site["placement"]])
    chosen = [ids.index(s["candidate_id"]) for s in doc["sites"]]
    lit = today | reach[chosen].any(axis=0)
    assert w[lit].sum() / w.sum() >= target - 1e-9
    # The people each site adds, in build order, sum to what the plan adds.
    added = sum(s["people_newly_covered"] for s in doc["sites"])
    assert added == pytest.approx(w[lit & ~today].sum())


def test_own_tower_before_shared_before_new_at_equal_coverage() -> None:
    # One village V0 (1,200 people) at (1 km, 0). Viettel's tower T0 at the origin, VNPT's N0
    # at (2 km, 0) and a new site C0 at (1 km, 1 km) each stand 1 km from it and from no other
    # village (V1 far away is lit by VNPT's 5G tower N1): all three cover exactly V0.
    own, other, new = [(0.0, 0.0)], [(2000.0, 0.0), (40_000.0, 0.0)], [(1000.0, 1000.0)]
    village_xy = [(1000.0, 0.0), (40_500.0, 0.0)]
    villages, sites, cands = _instance(own, other, new, village_xy, [1200.0, 800.0])

    def chosen(keep: list[str]) -> list[tuple[str, str, float]]:
        some = cands[cands["candidate_id"].isin(keep)]
        doc = _plan_5g(villages, sites, some, target=0.99).document
        return [(s["candidate_id"], s["placement"], s["cost"]) for s in doc["sites"]]

    assert chosen(["T0", "N0", "C0"]) == [("T0", "own_tower", 0.2)]
    assert chosen(["N0", "C0"]) == [("N0", "shared_tower", 0.35)]
    assert chosen(["C0"]) == [("C0", "new_site", 1.0)]


def test_generated_candidates_upgrade_own_towers_first() -> None:
    # No candidate file: the upgrades of Viettel's towers, tenancies on VNPT's and new sites at
    # the village centres are generated. V0, 1 km from Viettel's VTL-0, takes its upgrade
    # (0.2); V1 has 5G today from VNPT's VNP-1; V2, 1 km from VNPT's VNP-0 (4G only), takes a
    # tenancy there (0.35); V3, 10 km from every tower, a new site at its centre (1.0).
    own, other = [(0.0, 0.0)], [(10_000.0, 0.0), (40_000.0, 0.0)]
    village_xy = [(1000.0, 0.0), (40_500.0, 0.0), (11_000.0, 0.0), (20_000.0, 0.0)]
    villages, sites, _ = _instance(own, other, [], village_xy, [500.0, 800.0, 300.0, 400.0])
    result = plan(
        villages,
        sites,
        operator="Viettel",
        config=CoverageConfig(),
        target=1.0,
        tech="5G",
        weight="population",
    )
    doc = result.document
    got = {
        (s["placement"], s["upgrades_site"] or s["colocated_with"], tuple(s["village_ids"]))
        for s in doc["sites"]
    }
    assert got == {
        ("own_tower", "VTL-0", ("V0",)),
        ("shared_tower", "VNP-0", ("V2",)),
        ("new_site", None, ("V3",)),
    }
    assert doc["cost"] == pytest.approx(0.2 + 0.35 + 1.0)
    assert doc["by_placement"] == {
        "own_tower": {"sites": 1, "cost": 0.2, "people_newly_covered": 500.0},
        "shared_tower": {"sites": 1, "cost": 0.35, "people_newly_covered": 300.0},
        "new_site": {"sites": 1, "cost": 1.0, "people_newly_covered": 400.0},
    }
    assert set(doc["by_placement"]) == set(PLACEMENTS)
    assert doc["costs"]["upgrade"] == 0.2
    assert "radius table" in doc["carrier_model"]
    # The upgrade is a 5G carrier beside Viettel's 4G on its own tower: the engine's re-check
    # sees one more Viettel site there, not a shared tower.
    assert doc["kpis_after"]["population_5g_coverage"]["value"] == 1.0
    assert doc["missed_villages"] == 0


def test_target_already_met_plans_nothing() -> None:
    # VNPT's 5G tower covers V1 (800 of 1,000 people): 80% have 5G today, so a 5G target of
    # 0.8 of all people needs no site, while 0.8 of the dark villages' people would need V0.
    villages, sites, cands = _instance(
        [(0.0, 0.0)], [(20_000.0, 0.0), (40_000.0, 0.0)], [], [(1000.0, 0.0), (40_500.0, 0.0)],
        [200.0, 800.0],
    )  # fmt: skip
    doc = _plan_5g(villages, sites, cands, target=0.8).document
    assert doc["n_sites"] == 0 and doc["target_met_after_recheck"] is True
    assert doc["target_share_of_demand"] == 0.0
    demand = _plan_5g(villages, sites, cands, target=0.8, target_of="demand").document
    assert [s["candidate_id"] for s in demand["sites"]] == ["T0"]


def test_upgrade_candidates_skip_towers_that_carry_the_service() -> None:
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["A", "A2", "B", "C", "D"],
            "operator": ["Viettel", "Viettel", "Viettel", "VNPT", "Viettel"],
            "tech": ["4G", "5G", "4G", "4G", None],
            "height_m": [30.0, 45.0, 25.0, 40.0, None],
            "env": ["urban", "urban", "bogus", "rural", None],
        },
        geometry=shapely.points([[0, 0], [10, 0], [5000, 0], [9000, 0], [15_000, 0]]),
        crs=UTM,
    )
    out = upgrade_candidates(
        sites,
        operator="Viettel",
        tech="5G",
        tolerance_m=30.0,
        cost=0.2,
        env="rural",
        default_height_m=30.0,
    )
    # A's location already has Viettel's 5G (A2); C is VNPT's; B and D lack 5G.
    assert out["upgrades_site"].tolist() == ["B", "D"]
    assert out["kind"].tolist() == ["upgrade", "upgrade"]
    assert out["tech"].tolist() == ["5G", "5G"]
    assert out["env"].tolist() == ["rural", "rural"]
    assert out["height_m"].tolist() == [25.0, 30.0]
    # For 4G every Viettel tower offers 4G or better (a blank tech is 4G): nothing to upgrade.
    four = upgrade_candidates(
        sites,
        operator="Viettel",
        tech="4G",
        tolerance_m=30.0,
        cost=0.2,
        env="rural",
        default_height_m=30.0,
    )
    assert len(four) == 0


def test_upgrade_must_cost_less_than_a_new_site() -> None:
    with pytest.raises(ValueError, match=r"costs\.upgrade"):
        CoverageConfig.model_validate({"siting": {"costs": {"upgrade": 1.0, "new_tower": 1.0}}})
    cfg = CoverageConfig.model_validate({"siting": {"costs": {"upgrade": 0.1}}})
    assert cfg.siting.costs.upgrade == 0.1


def test_bad_5g_options_are_refused_together() -> None:
    villages, sites, _ = _instance([(0.0, 0.0)], [], [], [(1000.0, 0.0)], [100.0])
    with pytest.raises(InputError) as info:
        plan(
            villages,
            sites,
            operator="Viettel",
            config=CoverageConfig(),
            target=1.5,
            tech="6G",
            target_of="some",
        )
    text = str(info.value)
    assert "--target is 1.5" in text and "--tech is '6G'" in text and "--target-of" in text


def test_a_village_whose_point_no_candidate_reaches_gets_one_there() -> None:
    # A 6 km x 1 km village whose centre (nhà văn hóa) stands at its west end, (0.5 km, 0.5 km):
    # the point rule reads it at its representative point near (3 km, 0.5 km), 2.5 km from the
    # centre, beyond 5G's rural 2 km. The only generated candidate (the centre) cannot cover
    # it; a new site on the representative point can, and the plan takes it.
    lon, lat = _lonlat([0.0, 6000.0, 500.0], [0.0, 1000.0, 500.0])
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["V1"],
            "name": ["Thôn Dài"],
            "population": [700.0],
            "centre_lon": [lon[2]],
            "centre_lat": [lat[2]],
        },
        geometry=[shapely.box(lon[0], lat[0], lon[1], lat[1])],
        crs=4326,
    )
    sites = _frame(
        {"site_id": ["VTL-1"], "operator": ["Viettel"], "tech": ["4G"]}, [(0.0, -30_000.0)]
    )
    doc = plan(
        villages, sites, operator="Viettel", config=CoverageConfig(), target=1.0, tech="5G"
    ).document
    assert [(s["kind"], s["placement"]) for s in doc["sites"]] == [("village_point", "new_site")]
    # The centre, covering nothing, is not among the candidates the solver saw.
    assert doc["candidates_by_kind"] == {"village_point": 1}
    assert doc["target_met_after_recheck"] is True


def _lonlat(x: list[float], y: list[float]) -> tuple[list[float], list[float]]:
    import pyproj

    to_lonlat = pyproj.Transformer.from_crs(UTM, 4326, always_xy=True)
    lon, lat = to_lonlat.transform([X0 + v for v in x], [Y0 + v for v in y])
    return list(lon), list(lat)
