"""Terrain coverage: diffraction, the radial sweep, ITM over profiles, sites, cache and villages."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS
from rasterio.transform import from_origin

import hatangso.coverage.itm as itm_module
from hatangso.coverage import terrain
from hatangso.coverage.rasters import Raster, read_dem
from hatangso.coverage.terrain import (
    EARTH_RADIUS_M,
    SPEED_OF_LIGHT_M_S,
    bullington_loss,
    coverage_polygons,
    coverage_rasters,
    itm_p2p_loss,
    judge_villages,
    knife_edge_loss,
    site_loss_at,
    site_loss_raster,
    write_coverage_outputs,
)
from hatangso.geo.errors import CRSError, InputError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
TILE = DATA / "dem" / "N21E105.hgt"
UTM48 = CRS.from_epsg(32648)
F_MHZ = 1800.0
LAMBDA_M = SPEED_OF_LIGHT_M_S / (F_MHZ * 1e6)  # 0.16655 m


def fspl_db(distance_m: np.ndarray | float, freq_mhz: float = F_MHZ) -> np.ndarray:
    """Free-space loss 20 log10(4 π d / λ), ITU-R P.525-4 eq. (4)."""
    lam = SPEED_OF_LIGHT_M_S / (freq_mhz * 1e6)
    return np.asarray(20.0 * np.log10(4.0 * np.pi * np.asarray(distance_m) / lam))


def flat_dem(rows: int, cols: int, cell_m: float, z: float = 0.0) -> Raster:
    return Raster(
        np.full((rows, cols), z, dtype=np.float32),
        from_origin(0.0, rows * cell_m, cell_m, cell_m),
        UTM48,
    )


def ridge_dem() -> Raster:
    """6 x 6 km at 30 m, flat at 0 m but for a 200 m wall, 90 m thick, across x = 2500..2590 m."""
    dem = flat_dem(200, 200, 30.0)
    dem.array[:, 83:86] = 200.0  # columns 83-85 span x = 2490..2580 m
    return dem


def sites_frame(rows: list[dict[str, object]]) -> gpd.GeoDataFrame:
    geometry = [shapely.Point(r.pop("x"), r.pop("y")) for r in rows]
    return gpd.GeoDataFrame(rows, geometry=geometry, crs=UTM48)


# ------------------------------------------------------------------------------------------
# Knife edge and Bullington


def test_knife_edge_reference_values() -> None:
    # ITU-R P.526-15 eq. (31): J(0) = 6.9 + 20 log10(sqrt(1.01) - 0.1) = 6.03 dB (grazing edge),
    # J(1) = 6.9 + 20 log10(sqrt(1.81) + 0.9) = 13.93 dB, and nothing at or below v = -0.78.
    np.testing.assert_allclose(knife_edge_loss([0.0, 1.0]), [6.03, 13.93], atol=0.005)
    np.testing.assert_array_equal(knife_edge_loss([-0.78, -1.0, -5.0]), 0.0)
    assert 0.0 < float(knife_edge_loss(-0.77)) < 0.2  # continuous at the threshold
    # far in the shadow the Fresnel-integral loss tends to 20 log10(sqrt(2) π v)
    v = np.array([5.0, 10.0, 50.0])
    np.testing.assert_allclose(
        knife_edge_loss(v), 20 * np.log10(math.sqrt(2) * math.pi * v), atol=0.15
    )


@settings(max_examples=50, deadline=None)
@given(st.floats(-0.78, 100.0), st.floats(0.0, 10.0))
def test_knife_edge_grows_with_v(v: float, dv: float) -> None:
    assert float(knife_edge_loss(v + dv)) >= float(knife_edge_loss(v)) - 1e-12


def test_bullington_single_edge_by_hand() -> None:
    # Antennas 10 m above flat ground 1 km apart, a 20 m edge midway, λ = 1 m, no curvature.
    # S_tim = (20 - 10) / 500 = 0.02 > S_tr = 0: transhorizon. S_rim = 0.02,
    # d_b = (10 - 10 + 0.02 * 1000) / 0.04 = 500 m, the edge stands 20 - 10 = 10 m above the ray:
    # v = 10 sqrt(2 * 1000 / (1 * 500 * 500)) = 0.894, J(v) = 13.23 dB,
    # L = J + (1 - exp(-J / 6)) (10 + 0.02 * 1 km) = 22.14 dB.
    v = 10 * math.sqrt(2 * 1000 / (500 * 500))
    j = 6.9 + 20 * math.log10(math.sqrt((v - 0.1) ** 2 + 1) + v - 0.1)
    expected = j + (1 - math.exp(-j / 6)) * 10.02
    loss = bullington_loss(
        [0, 500, 1000],
        [0, 20, 0],
        h_tx_m=10,
        h_rx_m=10,
        freq_mhz=SPEED_OF_LIGHT_M_S / 1e6,
        k_factor=1e12,
    )
    assert loss == pytest.approx(expected, abs=1e-9)
    assert loss == pytest.approx(22.14, abs=0.01)
    # a clear path loses nothing
    assert bullington_loss([0, 500, 1000], [0, 0, 0], h_tx_m=30, h_rx_m=30, freq_mhz=900) == 0.0


def _sweep(z: np.ndarray, step_m: float, h_tx: float, f_mhz: float) -> np.ndarray:
    out = np.empty(z.size - 1, dtype=np.float32)
    lam = SPEED_OF_LIGHT_M_S / (f_mhz * 1e6)
    terrain._sweep_profile(
        z,
        step_m,
        h_tx,
        1.5,
        lam,
        1 / (2 * 4 / 3 * EARTH_RADIUS_M),
        out,
        0,
        np.ones(z.size - 1, np.int64),
    )
    return out


def test_radial_sweep_matches_bullington_on_random_profiles() -> None:
    # The sweep finds the horizons with a convex hull instead of rescanning the profile; on
    # transhorizon paths it must give P.452's Bullington loss exactly, on line-of-sight paths
    # at most that (it may miss an edge below the hull) and nearly always exactly that.
    rng = np.random.default_rng(1)
    los_err: list[float] = []
    for _ in range(120):
        n = int(rng.integers(2, 80))
        step = float(rng.choice([30.0, 90.0]))
        z = 100 + np.cumsum(rng.normal(0, rng.choice([0.5, 5.0, 30.0]), n + 1))
        h_tx = float(rng.uniform(5, 60))
        f = float(rng.choice([900.0, 1800.0, 3500.0]))
        got = _sweep(z, step, h_tx, f)
        for i in range(2, n + 1):
            d = np.arange(i + 1) * step
            ref = bullington_loss(d, z[: i + 1], h_tx_m=h_tx, h_rx_m=1.5, freq_mhz=f)
            ce = 1 / (4 / 3 * EARTH_RADIUS_M)
            hi = z[1:i] + 0.5 * ce * d[1:i] * (d[-1] - d[1:i])
            los = np.max((hi - z[0] - h_tx) / d[1:i]) < (z[i] + 1.5 - z[0] - h_tx) / d[-1]
            if los:
                assert got[i - 1] <= ref + 1e-3
                los_err.append(ref - float(got[i - 1]))
            else:
                assert got[i - 1] == pytest.approx(ref, rel=1e-5, abs=1e-4)
    assert np.mean(np.array(los_err) < 0.01) > 0.99


# ------------------------------------------------------------------------------------------
# One site


def test_flat_dem_is_free_space_then_monotonic() -> None:
    # 60 x 60 km at 300 m, ground at 0 m, site 30 m high in the middle of cell (100, 100).
    dem = flat_dem(200, 200, 300.0)
    x0, y0 = 100 * 300 + 150.0, 200 * 300 - (100 * 300 + 150.0)
    loss = site_loss_raster(dem, x0, y0, h_tx_m=30.0, freq_mhz=F_MHZ, radius_m=29_000.0)
    east = loss[100, 101:197]  # cells due east, 300 m apart
    d = 300.0 * np.arange(1, 97)
    slant = np.hypot(d, 30.0 - 1.5)
    # Up to 3 km the first Fresnel zone clears the ground: the tightest point is the sample
    # 300 m before the receiver, where the ray is 1.5 + 28.5 * 300 / 3000 = 4.35 m up, less a
    # 2700 * 300 / (2 * 8495 km) = 0.05 m bulge, and the zone's radius is
    # sqrt(0.16655 * 2700 * 300 / 3000) = 6.71 m: v = -4.3 sqrt(2) / 6.71 = -0.91 < -0.78.
    # So free space, e.g. at 1 km 20 log10(4 π 1000.4 / 0.16655) = 97.55 dB.
    near = d <= 3000
    np.testing.assert_allclose(east[near], fspl_db(slant[near]), atol=1e-3)
    assert east[2] == pytest.approx(97.55 + 20 * math.log10(900.45 / 1000.4), abs=0.01)
    # Everywhere: free space plus the Bullington loss of the same profile (all points on
    # the earth's bulge lie on the convex hull, the sweep's longest case)
    for k in (12, 30, 60, 95):
        ref = bullington_loss(
            300.0 * np.arange(k + 2), np.zeros(k + 2), h_tx_m=30.0, h_rx_m=1.5, freq_mhz=F_MHZ
        )
        assert east[k] == pytest.approx(float(fspl_db(slant[k])) + ref, abs=1e-3)
    # Beyond the radio horizon, 4.12 (sqrt(30) + sqrt(1.5)) = 27.6 km, the bulge adds loss.
    assert east[-1] > fspl_db(slant[-1]) + 10
    assert np.all(np.diff(east) > 0)  # monotonic with distance
    # every direction agrees with the east one at the same distance (the earth is round)
    north = loss[100 - np.arange(1, 97), 100]
    np.testing.assert_allclose(north, east, atol=0.05)
    assert np.isnan(loss[0, 0])  # beyond the radius


def test_site_loss_over_a_ridge_is_free_space_plus_bullington() -> None:
    dem = ridge_dem()
    x0, y0 = 1515.0, 3015.0  # centre of cell (99, 50)
    loss = site_loss_raster(dem, x0, y0, h_tx_m=30.0, freq_mhz=F_MHZ, radius_m=3000.0)
    row = dem.array[99].astype(np.float64)
    for col in (70, 80, 95, 110, 140):  # before, behind and far behind the wall
        n = col - 50
        ref = bullington_loss(
            30.0 * np.arange(n + 1), row[50 : col + 1], h_tx_m=30.0, h_rx_m=1.5, freq_mhz=F_MHZ
        )
        slant = math.hypot(30.0 * n, 30.0 - 1.5 - row[col])
        assert loss[99, col] == pytest.approx(float(fspl_db(slant)) + ref, abs=1e-3)
    # behind the wall tens of dB are lost
    assert loss[99, 95] - float(fspl_db(45 * 30.0)) > 40


def test_site_loss_errors() -> None:
    geographic = Raster(
        np.zeros((10, 10), np.float32), from_origin(105, 21, 0.01, 0.01), CRS.from_epsg(4326)
    )
    with pytest.raises(CRSError, match="geographic"):
        site_loss_raster(geographic, 105.05, 20.95, h_tx_m=30, freq_mhz=900, radius_m=1000)
    with pytest.raises(ValueError, match="unknown terrain model"):
        site_loss_raster(
            flat_dem(10, 10, 30), 150, 150, h_tx_m=30, freq_mhz=900, radius_m=100, model="hata"
        )


# ------------------------------------------------------------------------------------------
# ITM over profiles


def test_itm_is_reexported() -> None:
    assert itm_p2p_loss is itm_module.itm_p2p_loss


@pytest.mark.slow
def test_itm_raster_runs_itm_on_each_cells_profile() -> None:
    dem = ridge_dem()
    x0, y0 = 1515.0, 3015.0
    loss = site_loss_raster(dem, x0, y0, h_tx_m=30.0, freq_mhz=F_MHZ, radius_m=3000.0, model="itm")
    row = dem.array[99].astype(np.float64)
    for col in (60, 75, 95, 120):
        n = col - 50  # an east-west profile sampled every 30 m falls on cell centres
        pfl = np.concatenate([[n, 30.0], row[50 : col + 1]])
        assert loss[99, col] == pytest.approx(itm_p2p_loss(pfl, 30.0, 1.5, F_MHZ), abs=1e-3)
    # a diagonal cell: its profile is interpolated between cell centres
    r, c = 99 - 30, 50 + 40
    dist = math.hypot(30 * 30.0, 40 * 30.0)  # 1500 m: 50 intervals of 30 m
    t = np.linspace(0, 1, 51)
    z = [
        terrain._bilinear(dem.array, 0.0, 6000.0, 30.0, 30.0, x0 + k * 1200, y0 + k * 900)
        for k in t
    ]
    pfl = np.concatenate([[50, dist / 50], z])
    assert loss[r, c] == pytest.approx(itm_p2p_loss(pfl, 30.0, 1.5, F_MHZ), abs=1e-3)
    assert loss[99, 95] > loss[99, 75] + 30  # the wall's shadow


# ------------------------------------------------------------------------------------------
# Many sites, cache, villages


def _villages() -> gpd.GeoDataFrame:
    # 90 x 90 m squares: "front" 500 m east of the site, "behind" 2 km east, past the wall
    front = shapely.box(1970, 2970, 2060, 3060)
    behind = shapely.box(3470, 2970, 3560, 3060)
    return gpd.GeoDataFrame(
        {"village_id": ["front", "behind"]}, geometry=[front, behind], crs=UTM48
    )


@pytest.mark.parametrize("model", ["los", pytest.param("itm", marks=pytest.mark.slow)])
def test_ridge_leaves_the_village_behind_it_uncovered(model: terrain.TerrainModel) -> None:
    # Link budget (hatangso.coverage.radio's 4G defaults): RSRP EIRP 32 dBm, 1800 MHz,
    # threshold -110 dBm, so 142 dB of loss is allowed.
    # Front, 500 m in clear view: free space 91.5 dB -> -59.5 dBm, covered.
    # Behind, 2 km, the 200 m wall 1 km out stands ~184 m above the ray:
    # v = 184 sqrt(2 * 2000 / (0.1666 * 1000 * 1000)) = 28.5, J = 42 dB, + 10 dB (P.452 eq. 22),
    # + 103.6 dB free space = 155.6 dB -> -123.6 dBm, not covered.
    dem = ridge_dem()
    sites = sites_frame([{"site_id": "S1", "operator": "Viettel", "x": 1515.0, "y": 3015.0}])
    cov = coverage_rasters(dem, sites, radius_m=3000.0, threshold_dbm=-110.0, model=model)
    judged = judge_villages(_villages(), cov, rule="area", min_share=0.5)
    assert judged["covered_mobile"].tolist() == [True, False]
    assert judged["serving_operators"].tolist() == ["Viettel", ""]
    assert not judged["covered_5g"].any()
    point = judge_villages(_villages(), cov, rule="point")
    assert point["covered_mobile"].tolist() == [True, False]
    assert point["best_dbm"].iloc[0] == pytest.approx(
        32 - float(fspl_db(math.hypot(500, 28.5))), abs=0.6
    )
    if model == "los":
        assert point["best_dbm"].iloc[1] == pytest.approx(-123.6, abs=3.0)


def test_distance_only_would_call_it_covered() -> None:
    # the same village with the wall removed: covered, so the wall alone uncovers it
    sites = sites_frame([{"site_id": "S1", "operator": "Viettel", "x": 1515.0, "y": 3015.0}])
    cov = coverage_rasters(flat_dem(200, 200, 30.0), sites, radius_m=3000.0, threshold_dbm=-110.0)
    assert judge_villages(_villages(), cov)["covered_mobile"].tolist() == [True, True]


def test_population_rule_uses_people_not_area() -> None:
    dem = ridge_dem()
    sites = sites_frame([{"site_id": "S1", "operator": "VNPT", "x": 1515.0, "y": 3015.0}])
    cov = coverage_rasters(dem, sites, radius_m=3000.0, threshold_dbm=-110.0)
    # one village straddling the wall: 2/3 of its area in view, all of its people behind
    village = gpd.GeoDataFrame(
        {"village_id": ["v"]}, geometry=[shapely.box(2310, 2970, 2850, 3060)], crs=UTM48
    )
    people = np.zeros(dem.shape)
    people[98:101, 87:95] = 10.0  # columns 87-94: x = 2610..2850, behind the wall
    pop = dem.with_array(people)
    by_area = judge_villages(village, cov, rule="area", min_share=0.5)
    by_people = judge_villages(village, cov, rule="population", min_share=0.5, population=pop)
    assert by_area["covered_mobile"].iloc[0]
    assert not by_people["covered_mobile"].iloc[0]
    assert by_people["mobile_share"].iloc[0] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="population grid"):
        judge_villages(village, cov, rule="population")


def test_sector_pattern_and_server_count() -> None:
    dem = flat_dem(100, 100, 30.0)
    x0, y0 = 1515.0, 1515.0  # centre of cell (49, 50)
    omni = sites_frame([{"site_id": "O", "operator": "MobiFone", "x": x0, "y": y0}])
    east = sites_frame(
        [
            {
                "site_id": "E",
                "operator": "MobiFone",
                "x": x0,
                "y": y0,
                "azimuth_deg": 90.0,
                "beamwidth_deg": 65.0,
            }
        ]
    )
    a = coverage_rasters(dem, omni, radius_m=1400.0, threshold_dbm=-80.0)
    b = coverage_rasters(dem, east, radius_m=1400.0, threshold_dbm=-80.0)
    # boresight: no attenuation; due west: min(12 (180 / 65)^2, 25) = 25 dB
    assert b.best_dbm.array[49, 80] == pytest.approx(a.best_dbm.array[49, 80])
    assert b.best_dbm.array[49, 20] == pytest.approx(a.best_dbm.array[49, 20] - 25.0, abs=1e-4)
    # 30 degrees off boresight (north of east): 12 (30 / 65)^2 = 2.556 dB
    r, c = 49 - 15, 50 + round(15 * math.sqrt(3))
    off = math.degrees(math.atan2(c - 50, 49 - r)) - 90.0
    assert b.best_dbm.array[r, c] == pytest.approx(
        a.best_dbm.array[r, c] - 12 * (off / 65) ** 2, abs=1e-4
    )
    # two sites (one carrying 4G and 5G) count as two servers, not three
    both = sites_frame(
        [
            {"site_id": "A", "operator": "Viettel", "x": x0, "y": y0, "tech": "4G;5G"},
            {"site_id": "B", "operator": "VNPT", "x": x0 + 300, "y": y0},
        ]
    )
    cov = coverage_rasters(dem, both, radius_m=1400.0, threshold_dbm=-110.0)
    assert cov.server_count.array.max() == 2
    assert set(cov.covered) == {("Viettel", "4G"), ("Viettel", "5G"), ("VNPT", "4G")}
    # 5G at its default 3500 MHz reaches less far than 4G at 1800 MHz, all else equal
    assert cov.covered[("Viettel", "5G")].array.sum() <= cov.covered[("Viettel", "4G")].array.sum()
    assert cov.best_site.array[49, 50] == 0 and cov.best_site.array[0, 0] == -1


def test_cache_recomputes_only_new_sites(tmp_path: Path) -> None:
    dem = ridge_dem()
    rows = [
        {"site_id": "S1", "operator": "Viettel", "x": 1515.0, "y": 3015.0},
        {"site_id": "S2", "operator": "VNPT", "x": 4515.0, "y": 1515.0},
        {"site_id": "S3", "operator": "MobiFone", "x": 2015.0, "y": 5015.0},
    ]
    kwargs = {"radius_m": 2000.0, "threshold_dbm": -110.0, "cache_dir": tmp_path / "cache"}
    first = coverage_rasters(dem, sites_frame([dict(r) for r in rows[:2]]), **kwargs)
    assert (first.n_computed, first.n_cached) == (2, 0)
    second = coverage_rasters(dem, sites_frame([dict(r) for r in rows]), **kwargs)
    assert (second.n_computed, second.n_cached) == (1, 2)
    fresh = coverage_rasters(
        dem, sites_frame([dict(r) for r in rows]), radius_m=2000.0, threshold_dbm=-110.0
    )
    np.testing.assert_array_equal(second.best_dbm.array, fresh.best_dbm.array)
    np.testing.assert_array_equal(second.server_count.array, fresh.server_count.array)
    # EIRP and azimuth are applied after the cache: changing them recomputes nothing
    edited = [dict(r) for r in rows]
    edited[0]["eirp_re_dbm"] = 40.0  # per resource element, 8 dB above the 4G default
    third = coverage_rasters(dem, sites_frame(edited), **kwargs)
    assert third.n_computed == 0
    assert np.nanmax(third.best_dbm.array) > np.nanmax(second.best_dbm.array)
    # a different DEM is a different key
    other = Raster(dem.array + 1.0, dem.transform, dem.crs)
    assert coverage_rasters(other, sites_frame([dict(rows[0])]), **kwargs).n_computed == 1


def test_sectors_on_one_mast_are_computed_once() -> None:
    rows = [
        {
            "site_id": f"S1-{k}",
            "operator": "Viettel",
            "x": 1515.0,
            "y": 3015.0,
            "azimuth_deg": a,
            "beamwidth_deg": 65.0,
        }
        for k, a in enumerate((0.0, 120.0, 240.0))
    ]
    cov = coverage_rasters(ridge_dem(), sites_frame(rows), radius_m=1000.0, threshold_dbm=-110.0)
    assert cov.n_computed == 1


def test_adding_a_site_never_lowers_coverage() -> None:
    dem = ridge_dem()
    rng = np.random.default_rng(3)
    rows = [
        {
            "site_id": f"S{k}",
            "operator": "Viettel",
            "x": float(rng.uniform(100, 5900)),
            "y": float(rng.uniform(100, 5900)),
        }
        for k in range(4)
    ]
    three = coverage_rasters(
        dem, sites_frame([dict(r) for r in rows[:3]]), radius_m=2000.0, threshold_dbm=-100.0
    )
    four = coverage_rasters(
        dem, sites_frame([dict(r) for r in rows]), radius_m=2000.0, threshold_dbm=-100.0
    )
    assert np.all(four.mask() >= three.mask())
    assert np.all(
        np.nan_to_num(four.best_dbm.array, nan=-999)
        >= np.nan_to_num(three.best_dbm.array, nan=-999)
    )
    assert np.all(four.server_count.array >= three.server_count.array)


def test_sites_input_checks_and_outside_sites() -> None:
    dem = ridge_dem()
    no_operator = gpd.GeoDataFrame(
        {"site_id": ["A"]}, geometry=[shapely.Point(100, 100)], crs=UTM48
    )
    with pytest.raises(InputError, match="operator"):
        coverage_rasters(dem, no_operator, radius_m=1000.0, threshold_dbm=-110.0)
    no_crs = gpd.GeoDataFrame(
        {"site_id": ["A"], "operator": ["VNPT"]}, geometry=[shapely.Point(100, 100)]
    )
    with pytest.raises(CRSError):
        coverage_rasters(dem, no_crs, radius_m=1000.0, threshold_dbm=-110.0)
    far = sites_frame([{"site_id": "far", "operator": "VNPT", "x": -5000.0, "y": 100.0}])
    cov = coverage_rasters(dem, far, radius_m=1000.0, threshold_dbm=-110.0)
    assert cov.skipped_site_ids == ("far",)
    assert np.isnan(cov.best_dbm.array).all()


def test_outputs_are_written(tmp_path: Path) -> None:
    sites = sites_frame(
        [
            {"site_id": "S1", "operator": "Viettel", "x": 1515.0, "y": 3015.0},
            {"site_id": "S2", "operator": "VNPT", "x": 4515.0, "y": 3015.0, "tech": "5G"},
        ]
    )
    cov = coverage_rasters(ridge_dem(), sites, radius_m=2500.0, threshold_dbm=-100.0)
    polygons = coverage_polygons(cov)
    assert polygons[["operator", "tech"]].values.tolist() == [["VNPT", "5G"], ["Viettel", "4G"]]
    # polygon areas are the covered cells' areas
    for _, row in polygons.iterrows():
        cells = cov.covered[(row["operator"], row["tech"])].array.sum()
        assert row["area_m2"] == pytest.approx(cells * 900.0)
        assert row.geometry.area == pytest.approx(cells * 900.0)
    paths = write_coverage_outputs(cov, tmp_path / "run")
    assert {p.name for p in paths.values()} == {"best_dbm.tif", "server_count.tif", "coverage.gpkg"}
    back = gpd.read_file(paths["polygons"], layer="coverage")
    assert len(back) == 2


# ------------------------------------------------------------------------------------------
# The real SRTM tile: Tam Đảo


@pytest.mark.shared_data
def test_tam_dao_casts_shadows() -> None:
    if not TILE.exists():
        pytest.skip(f"SRTM tile not found at {TILE} (../shared/data/dem)")
    lon, lat = 105.58, 21.43  # the plain at the south-west foot of the Tam Đảo massif
    dem = read_dem(
        TILE,
        bounds_wgs84=(lon - 0.12, lat - 0.11, lon + 0.12, lat + 0.11),
        dst_crs=UTM48,
        resolution_m=90,
    )
    assert not np.isnan(dem.array).any()
    site = gpd.GeoDataFrame(
        {"site_id": ["TD"], "operator": ["Viettel"]},
        geometry=[shapely.Point(lon, lat)],
        crs="EPSG:4326",
    )
    cov = coverage_rasters(dem, site, radius_m=10_000.0, threshold_dbm=-110.0)
    x0, y0 = shapely.get_coordinates(site.to_crs(UTM48).geometry)[0]
    r, c = np.mgrid[0 : dem.shape[0], 0 : dem.shape[1]]
    dx = dem.transform.c + (c + 0.5) * 90 - x0
    dy = dem.transform.f - (r + 0.5) * 90 - y0
    dist = np.hypot(dx, dy)
    az = np.degrees(np.arctan2(dx, dy)) % 360
    excess = 32.0 - cov.best_dbm.array - fspl_db(np.hypot(dist, 30.0))  # loss beyond free space
    ring = (dist > 6000) & (dist < 10_000)
    behind = ring & (az < 90)  # north-east, behind the ridge (up to 1,400 m)
    plain = ring & (az > 180) & (az < 270)  # south-west, the Vĩnh Phúc plain
    assert np.nanmedian(excess[behind]) > 40.0
    assert np.nanmedian(excess[plain]) < 25.0
    covered = cov.mask()
    assert covered[plain].mean() > 0.75
    assert covered[behind].mean() < 0.35


@pytest.mark.parametrize("model", ["los", pytest.param("itm", marks=pytest.mark.slow)])
def test_thread_pool_and_one_site_at_a_time_agree(model: terrain.TerrainModel) -> None:
    # six sites on two threads run one site per thread (serial kernels); on one thread, one
    # after the other with the parallel kernels: the grids must be identical
    rng = np.random.default_rng(5)
    rows = [
        {"site_id": f"S{k}", "operator": ["Viettel", "VNPT"][k % 2], "x": float(x), "y": float(y)}
        for k, (x, y) in enumerate(rng.uniform(500, 5500, (6, 2)))
    ]
    kwargs = {
        "radius_m": 1500.0 if model == "itm" else 2500.0,
        "threshold_dbm": -100.0,
        "model": model,
    }
    pooled = coverage_rasters(
        ridge_dem(), sites_frame([dict(r) for r in rows]), workers=2, **kwargs
    )
    single = coverage_rasters(
        ridge_dem(), sites_frame([dict(r) for r in rows]), workers=1, **kwargs
    )
    np.testing.assert_array_equal(pooled.best_dbm.array, single.best_dbm.array)
    np.testing.assert_array_equal(pooled.best_site.array, single.best_site.array)
    np.testing.assert_array_equal(pooled.server_count.array, single.server_count.array)
    assert pooled.n_computed == single.n_computed == 6


def _rough_dem(seed: int) -> Raster:
    """3 x 3 km at 30 m of random hills (0-300 m), with a void of 3 x 3 cells."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.0, 300.0, (12, 12))
    z = np.kron(z, np.ones((9, 9)))[:100, :100]  # blocky hills: shadows behind them
    z = z + rng.normal(0.0, 5.0, z.shape)
    dem = Raster(z.astype(np.float32), from_origin(500_000.0, 2_300_000.0, 30.0, 30.0), UTM48)
    dem.array[60:63, 20:23] = np.nan
    return dem


@pytest.mark.parametrize("model", ["los", "itm"])
@pytest.mark.parametrize("seed", [0, 1])
def test_loss_at_points_is_the_rasters_value(model: terrain.TerrainModel, seed: int) -> None:
    # The planner reads a candidate's loss at village points only; it must be exactly what the
    # whole raster holds in the cells of those points, or plans would not survive the engine's
    # re-check. Points: random ones inside, the site's own cell, cells on the void, beyond the
    # radius, outside the DEM, NaN coordinates and one too far for any grid index.
    dem = _rough_dem(seed)
    rng = np.random.default_rng(seed + 10)
    x0, y0 = 500_000.0 + 1_517.0, 2_300_000.0 - 1_433.0
    left, bottom, right, top = dem.bounds
    px = np.concatenate(
        [
            rng.uniform(left, right, 300),
            [x0, left + 21 * 30 + 5, x0 + 1490.0, left - 10, np.nan, 1e30],
        ]
    )
    py = np.concatenate(
        [rng.uniform(bottom, top, 300), [y0, top - 61 * 30 - 5, y0, top - 50, top - 50, y0]]
    )
    kwargs = {"h_tx_m": 30.0, "freq_mhz": F_MHZ, "radius_m": 1200.0, "model": model}
    raster = site_loss_raster(dem, x0, y0, **kwargs)
    at = site_loss_at(dem, x0, y0, px, py, **kwargs)
    col = np.floor((px - left) / 30.0)
    row = np.floor((top - py) / 30.0)
    inside = np.isfinite(col) & (col >= 0) & (col < 100) & (row >= 0) & (row < 100)
    expected = np.full(px.size, np.nan)
    expected[inside] = raster[row[inside].astype(int), col[inside].astype(int)]
    np.testing.assert_array_equal(at, expected)  # NaN where NaN, identical elsewhere
    assert np.isfinite(at[300])  # the site's own cell
    assert np.isnan(at[301])  # on the void
    assert np.isnan(at[302:]).all()  # beyond the radius, outside the DEM, NaN
    assert np.isfinite(at[:300]).sum() > 50  # the comparison is not all NaN


def test_loss_at_points_input_errors() -> None:
    dem = flat_dem(20, 20, 30.0)
    with pytest.raises(ValueError, match="px and py differ in length"):
        site_loss_at(dem, 300.0, 300.0, [1.0, 2.0], [1.0], h_tx_m=30.0, freq_mhz=F_MHZ,
                     radius_m=500.0)  # fmt: skip
    with pytest.raises(ValueError, match="unknown terrain model"):
        site_loss_at(dem, 300.0, 300.0, [1.0], [1.0], h_tx_m=30.0, freq_mhz=F_MHZ,
                     radius_m=500.0, model="okumura")  # type: ignore[arg-type]  # fmt: skip
    geographic = Raster(dem.array, dem.transform, CRS.from_epsg(4326))
    with pytest.raises(CRSError):
        site_loss_at(geographic, 0.1, 0.1, [0.1], [0.1], h_tx_m=30.0, freq_mhz=F_MHZ,
                     radius_m=500.0)  # fmt: skip


def test_itm_refusing_the_parameters_leaves_free_space_everywhere() -> None:
    # ITM takes 20 MHz to 20 GHz; at 10 MHz it refuses the site once, and every cell takes the
    # free-space loss over the slant distance (the raster and the points alike).
    dem = flat_dem(40, 40, 30.0, z=50.0)
    x0, y0 = 600.0, 600.0
    kwargs = {"h_tx_m": 30.0, "freq_mhz": 10.0, "radius_m": 500.0, "model": "itm"}
    loss = site_loss_raster(dem, x0, y0, **kwargs)
    rows, cols = np.nonzero(np.isfinite(loss))
    xc = (cols + 0.5) * 30.0 - x0
    yc = 1200.0 - (rows + 0.5) * 30.0 - y0
    slant = np.maximum(np.sqrt(xc**2 + yc**2 + (30.0 - 1.5) ** 2), 1.0)
    np.testing.assert_allclose(loss[rows, cols], fspl_db(slant, 10.0), atol=1e-4)
    assert rows.size > 600  # the whole disc of 500 m: about 870 cells
    at = site_loss_at(dem, x0, y0, xc + x0, yc + y0, **kwargs)
    np.testing.assert_array_equal(at, loss[rows, cols])


@pytest.mark.parametrize("model", ["los", "itm"])
def test_a_site_on_a_void_predicts_nothing(model: terrain.TerrainModel) -> None:
    # A site whose own ground is unknown (one void cell under it) gives no loss anywhere,
    # whichever kernel runs it: the whole raster, the points alone, or one site per thread in
    # a province run; none may fail (the radial sweep once divided by zero there).
    dem = _rough_dem(0)
    cells = [(30, 70), (30, 40), (70, 70), (50, 50)]
    for r, c in cells:
        dem.array[r, c] = np.nan
    xs = [500_000.0 + (c + 0.5) * 30.0 for _, c in cells]
    ys = [2_300_000.0 - (r + 0.5) * 30.0 for r, _ in cells]
    kwargs = {"h_tx_m": 30.0, "freq_mhz": F_MHZ, "radius_m": 900.0, "model": model}
    assert np.isnan(site_loss_raster(dem, xs[0], ys[0], **kwargs)).all()
    assert np.isnan(site_loss_at(dem, xs[0], ys[0], [xs[0] + 300.0], [ys[0]], **kwargs)).all()
    sites = sites_frame(
        [{"site_id": f"S{k}", "operator": "Viettel", "x": x, "y": y} for k, (x, y) in
         enumerate(zip(xs, ys, strict=True))]
    )  # fmt: skip
    cov = coverage_rasters(dem, sites, radius_m=900.0, threshold_dbm=-100.0, model=model,
                           workers=2)  # fmt: skip
    assert np.isnan(cov.best_dbm.array).all()


def test_the_kernels_sector_pattern_is_the_link_budgets() -> None:
    # One row of five cells (centres x = 0.5 .. 4.5, y = -0.5) seen from a site at (2.5, 10.5)
    # whose 65-degree sector faces south: each cell's power is EIRP - A(theta) with A the
    # pattern of radio.sector_attenuation_db, theta the angle off the boresight.
    from hatangso.coverage.radio import SECTOR_MAX_ATTENUATION_DB, sector_attenuation_db
    from hatangso.coverage.terrain import _accumulate

    loss = np.zeros((1, 5), dtype=np.float32)
    best = np.full((1, 5), np.nan, dtype=np.float32)
    best_site = np.full((1, 5), -1, dtype=np.int32)
    count = np.zeros((1, 5), dtype=np.uint16)
    last = np.full((1, 5), -1, dtype=np.int32)
    masks = np.zeros((1, 1, 5), dtype=bool)
    beam = np.radians(65.0)
    _accumulate(loss, 0, 0, 0.0, 0.0, 1.0, 1.0, 2.5, 10.5, 40.0, 0.0, np.pi, beam,
                SECTOR_MAX_ATTENUATION_DB, -200.0, 0, 0, True, best, best_site, count, last,
                masks)  # fmt: skip
    dx = np.arange(5) + 0.5 - 2.5
    theta = np.arccos(11.0 / np.hypot(dx, 11.0))
    expected = 40.0 - sector_attenuation_db(theta, beam)
    np.testing.assert_allclose(best[0], expected, atol=1e-4)
    assert float(best[0, 2]) == pytest.approx(40.0)
