"""The planner as an engine function: frames and a config in, a frozen result out, no files."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from hatangso.coverage.config import CoverageConfig
from hatangso.coverage.planning import PlanResult, plan
from hatangso.coverage.siting import PlanInfeasibleError
from hatangso.geo.errors import InputError

# Laid out in metres in UTM 48N (the CRS the engine picks here) and handed over in lon/lat, as
# the validators would.
UTM = 32648
X0, Y0 = 590_000.0, 2_320_000.0  # near 105.86 E, 20.98 N


def _frame(table: dict[str, list[object]], xy: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    geoms = shapely.points([(X0 + x, Y0 + y) for x, y in xy])
    return gpd.GeoDataFrame(table, geometry=geoms, crs=UTM).to_crs(4326)


def _villages() -> gpd.GeoDataFrame:
    # V1 and V2 are 2 km either side of VNPT's mast; V3 is 40 km north of everything.
    return _frame(
        {
            "village_id": ["V1", "V2", "V3"],
            "name": ["Thôn Một", "Thôn Hai", "Thôn Ba"],
            "population": [300.0, 500.0, 200.0],
        },
        [(-2000, 0), (2000, 0), (0, 40_000)],
    )


def _sites() -> gpd.GeoDataFrame:
    # Both masts beam a 30 degree sector north, away from every village: all three are dark.
    return _frame(
        {
            "site_id": ["VNP-1", "VTL-1"],
            "operator": ["VNPT", "Viettel"],
            "tech": ["4G", "4G"],
            "height_m": [40.0, 30.0],
            "env": ["rural", "rural"],
            "azimuth_deg": [0.0, 0.0],
            "beamwidth_deg": [30.0, 30.0],
        },
        [(0, 0), (0, -20_000)],
    )


def _settlements() -> gpd.GeoDataFrame:
    return _frame({"settlement_id": ["S1"], "village_id": ["V1"]}, [(-2000, 500)])


def _reserve() -> gpd.GeoDataFrame:
    # No site within 10 km of V3: it is out of every candidate's reach.
    box = shapely.box(X0 - 10_000, Y0 + 30_000, X0 + 10_000, Y0 + 50_000)
    return gpd.GeoDataFrame(geometry=[box], crs=UTM)


def _colocation_plan(target: float = 2 / 3) -> PlanResult:
    return plan(
        _villages(),
        _sites(),
        operator="viettel",
        config=CoverageConfig(),
        target=target,
        settlements=_settlements(),
        exclusion=_reserve(),
    )


def test_colocation_on_the_partner_mast_is_the_cheapest_cover() -> None:
    # A tenancy on VNPT's mast (0.35) covers V1 and V2 (2 km, reach 5 km); a new tower at S1
    # would too, for 1.0. V3 is out of reach: 2 of the 3 dark villages is the best share.
    result = _colocation_plan()
    assert result.status == "optimal"
    assert result.gap == 0.0
    assert result.document["objective"] == pytest.approx(0.35)
    assert result.sites.crs.to_epsg() == 4326
    assert result.sites["site_id"].tolist() == ["PLAN-Viettel-001"]
    assert result.sites["colocated_with"].tolist() == ["VNP-1"]
    assert result.sites["partner_operator"].tolist() == ["VNPT"]
    assert result.sites["people_newly_covered"].tolist() == [800.0]
    assert sorted(result.sites["village_ids"].iloc[0]) == ["V1", "V2"]
    # The engine's re-check: V1 and V2 lit, V3 still dark.
    assert result.demand.tolist() == [0, 1, 2]
    assert result.confirmed.tolist() == [True, True, False]
    assert result.before.villages["covered_mobile"].tolist() == [False, False, False]
    assert result.after.villages["covered_mobile"].tolist() == [True, True, False]
    assert [u["village_id"] for u in result.document["unreachable"]] == ["V3"]
    assert result.document["kpis_after"]["bts_site_sharing_ratio"]["value"] == 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.sites = result.sites  # type: ignore[misc]


def test_features_are_the_sites_on_the_partner_mast() -> None:
    result = _colocation_plan()
    collection = result.features()
    (feature,) = collection["features"]
    assert collection["type"] == "FeatureCollection"
    assert "village_ids" not in feature["properties"]
    assert feature["properties"]["rank"] == 1
    mast = _sites().geometry.iloc[0]
    lon, lat = feature["geometry"]["coordinates"]
    assert lon == pytest.approx(mast.x, abs=1e-7) and lat == pytest.approx(mast.y, abs=1e-7)


def test_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _colocation_plan()
    plan(_villages(), _sites(), operator="Viettel", config=CoverageConfig(), budget=1)
    assert list(tmp_path.iterdir()) == []


def test_inputs_untouched_and_index_labels_ignored() -> None:
    villages, sites, settlements = _villages(), _sites(), _settlements()
    kept = (villages.copy(), sites.copy(), settlements.copy())
    labelled = villages.set_axis([70, 30, 50])
    first = plan(villages, sites, operator="Viettel", config=CoverageConfig(), target=2 / 3)
    second = plan(labelled, sites, operator="Viettel", config=CoverageConfig(), target=2 / 3)
    for before, after in zip(kept, (villages, sites, settlements), strict=True):
        assert_geodataframe_equal(before, after)
    drop = ("runtime_s",)
    assert {k: v for k, v in first.document.items() if k not in drop} == {
        k: v for k, v in second.document.items() if k not in drop
    }


def test_exclusion_named_but_not_given_is_refused() -> None:
    config = CoverageConfig.model_validate({"siting": {"exclusion": "reserve.geojson"}})
    with pytest.raises(InputError, match=r"siting\.exclusion"):
        plan(_villages(), _sites(), operator="Viettel", config=config, budget=1)


def test_bad_options_are_refused_together() -> None:
    with pytest.raises(InputError, match="exactly one") as info:
        plan(
            _villages(),
            _sites(),
            operator="Viettel",
            config=CoverageConfig(),
            scope="mine",
            method="simplex",
        )
    assert len(info.value.problems) == 3


def test_population_weight_names_the_source() -> None:
    villages = _villages().drop(columns="population")
    villages.attrs["source"] = "thon.geojson"
    config = CoverageConfig.model_validate({"siting": {"weight": "population"}})
    with pytest.raises(InputError, match=r"thon\.geojson"):
        plan(villages, _sites(), operator="Viettel", config=config, budget=1)


def test_infeasible_target_names_the_village() -> None:
    with pytest.raises(PlanInfeasibleError, match=r"V3 \(Thôn Ba\)"):
        _colocation_plan(target=1.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_budget_plan_matches_brute_force(seed: int) -> None:
    # Eight villages and five candidates of the user's own, scattered over 16 km; nobody's
    # mast is within reach (Viettel's stands 60 km away). Under the radius model a rural 4G
    # site covers the villages within 5 km, so the best two sites are found by trying all 10
    # pairs by hand.
    rng = np.random.default_rng(seed)
    village_xy = rng.uniform(0, 16_000, size=(8, 2))
    cand_xy = rng.uniform(0, 16_000, size=(5, 2))
    villages = _frame(
        {"village_id": [f"V{i}" for i in range(8)], "name": [f"Thôn {i}" for i in range(8)]},
        [(float(x), float(y)) for x, y in village_xy],
    )
    sites = _frame(
        {"site_id": ["VTL-1"], "operator": ["Viettel"], "tech": ["4G"], "env": ["rural"]},
        [(0, -60_000)],
    )
    candidates = _frame(
        {"site_id": [f"C{j}" for j in range(5)], "operator": ["Viettel"] * 5},
        [(float(x), float(y)) for x, y in cand_xy],
    )
    result = plan(
        villages,
        sites,
        operator="Viettel",
        config=CoverageConfig(),
        budget=2,
        candidates=candidates,
    )
    reach = np.linalg.norm(cand_xy[:, None, :] - village_xy[None, :, :], axis=2) <= 5000.0
    best = max(
        int(reach[list(pair)].any(axis=0).sum()) for pair in itertools.combinations(range(5), 2)
    )
    assert result.status == "optimal"
    assert result.document["objective"] == pytest.approx(best)
    assert int(result.confirmed.sum()) == best


def test_terrain_plan_writes_nothing_without_a_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The DEM is the one file the planner reads: flat at 100 m with a north-south ridge (500 m
    # at x = 3 km) between candidate A (x = 0) and village V (x = 5 km); B stands on the crest.
    # Over the terrain only B sees V (tests/scenarios/test_plan_job.py works the losses out).
    import rasterio
    from rasterio.transform import from_origin

    dem = tmp_path_factory.mktemp("dem") / "ridge.tif"
    x = X0 - 4000.0 + (np.arange(150) + 0.5) * 90.0
    z = 100.0 + 400.0 * np.maximum(0.0, 1.0 - np.abs(x - (X0 + 3000.0)) / 1000.0)
    with rasterio.open(
        dem,
        "w",
        driver="GTiff",
        width=150,
        height=67,
        count=1,
        dtype="float32",
        crs=f"EPSG:{UTM}",
        transform=from_origin(X0 - 4000.0, Y0 + 3000.0, 90.0, 90.0),
    ) as dst:
        dst.write(np.tile(z, (67, 1)).astype(np.float32), 1)
    villages = _frame({"village_id": ["V"], "name": ["Thôn Sau Núi"]}, [(5000, 0)])
    sites = _frame(
        {
            "site_id": ["VNP-1"],
            "operator": ["VNPT"],
            "tech": ["4G"],
            "height_m": [30.0],
            "env": ["rural"],
            "azimuth_deg": [270.0],
            "beamwidth_deg": [30.0],
        },
        [(-2500, 0)],
    )
    candidates = _frame(
        {"site_id": ["A", "B"], "operator": ["Viettel"] * 2, "cost": [0.5, 1.0]},
        [(0, 0), (3000, 0)],
    )
    config = CoverageConfig.model_validate({"terrain": {"radius_m": 8000, "resolution_m": 90}})
    work = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(work)
    result = plan(
        villages,
        sites,
        operator="Viettel",
        config=config,
        target=1.0,
        candidates=candidates,
        dem=dem,
    )
    assert result.document["matrix_model"] == result.after.model == "terrain"
    assert result.sites["candidate_id"].tolist() == ["B"]
    assert result.confirmed.tolist() == [True]
    assert list(work.iterdir()) == []
    assert [p.name for p in dem.parent.iterdir()] == ["ridge.tif"]


# --- the engine's re-check and the repair ---------------------------------------------------


def _strip_village() -> gpd.GeoDataFrame:
    # One village, a strip 16 km long and 1 km wide (x 0..16 km, y -0.5..0.5 km): its
    # representative point is near (8 km, 0).
    strip = shapely.box(X0, Y0 - 500, X0 + 16_000, Y0 + 500)
    return gpd.GeoDataFrame(
        {"village_id": ["V1"], "name": ["Thôn Dài"], "population": [400.0]},
        geometry=[strip],
        crs=UTM,
    ).to_crs(4326)


def _far_site() -> gpd.GeoDataFrame:
    # Viettel's only site, 30 km south: nothing is covered today.
    return _frame(
        {"site_id": ["VTL-9"], "operator": ["Viettel"], "tech": ["4G"], "env": ["rural"]},
        [(8000, -30_000)],
    )


def _strip_candidates(keep: list[str]) -> gpd.GeoDataFrame:
    # A at the village's point, suburban (reach 3 km), cost 1; B 1 km west, rural (5 km), cost 2.
    table = _frame(
        {"candidate_id": ["A", "B"], "cost": [1.0, 2.0], "env": ["suburban", "rural"]},
        [(8000, 0), (7000, 0)],
    )
    return table[table["candidate_id"].isin(keep)].reset_index(drop=True)


_AREA = CoverageConfig.model_validate({"mobile": {"model": "radius", "rule": "area"}})


def test_recheck_refutes_the_cheap_site_and_the_repair_finds_one_the_engine_confirms() -> None:
    # The solver reads the village at its point: A (0 m away, reach 3 km) and B (1 km, 5 km)
    # both cover it, and A is cheaper. The engine's area rule wants half of the strip: A's
    # disc covers about 6 of its 16 km (37%), B's about 10 km (62%). Round 1 plans A, the
    # re-check refutes it; A's claim leaves the matrix and round 2 plans B, which holds.
    result = plan(
        _strip_village(),
        _far_site(),
        operator="Viettel",
        config=_AREA,
        target=1.0,
        candidates=_strip_candidates(["A", "B"]),
    )
    doc = result.document
    rounds = doc["recheck"]["rounds"]
    assert [r["candidates"] for r in rounds] == [["A"], ["B"]]
    assert rounds[0]["not_confirmed_by_engine"] == ["V1"]
    assert rounds[1]["not_confirmed_by_engine"] == []
    assert result.sites["candidate_id"].tolist() == ["B"]
    assert doc["cost"] == 2.0
    assert doc["target_met_after_recheck"] is True
    assert doc["missed_villages"] == 0
    assert doc["recheck"]["shortfall"] == 0.0
    assert doc["recheck"]["reason"] is None
    assert result.confirmed.tolist() == [True]


def test_recheck_says_when_no_candidate_can_cover_a_village() -> None:
    # With A alone, the engine refutes its only claim: no candidate is left for V1, the plan
    # covers nothing, and the document says the target misses by the whole village.
    result = plan(
        _strip_village(),
        _far_site(),
        operator="Viettel",
        config=_AREA,
        target=1.0,
        candidates=_strip_candidates(["A"]),
    )
    doc = result.document
    assert [r["candidates"] for r in doc["recheck"]["rounds"]] == [["A"], []]
    assert len(result.sites) == 0
    assert doc["target_met_after_recheck"] is False
    assert doc["missed_villages"] == 1
    assert doc["recheck"]["shortfall"] == 1.0
    assert doc["recheck"]["short_by"] == 1.0
    assert doc["recheck"]["no_candidate"] == [{"village_id": "V1", "name": "Thôn Dài"}]
    assert doc["recheck"]["refuted"] == ["V1"]
    assert "V1 (Thôn Dài)" in doc["recheck"]["reason"]
    assert any("short by 100.0 points" in n for n in doc["notes"])


def test_budget_plan_has_no_target_verdict() -> None:
    result = _colocation_plan()
    assert result.document["target_met_after_recheck"] is True
    assert result.document["missed_villages"] == 1  # V3, out of every candidate's reach
    budget = plan(_villages(), _sites(), operator="Viettel", config=CoverageConfig(), budget=1)
    assert budget.document["target_met_after_recheck"] is None
