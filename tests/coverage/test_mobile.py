"""Sectors in the radius and hata models: the antenna pattern, not a hard wedge.

Three 65-degree sectors (azimuths 0, 120, 240) on one 30 m rural 4G mast at the origin unless
said otherwise; reach 5 km in the radius table, about 12 km by the hata link budget (EIRP 32 dBm
per resource element, 1800 MHz, threshold -110 dBm). A point ``φ`` degrees off a boresight
loses ``min(12 (φ / 65)^2, 25)`` dB (3GPP TR 36.814 Table A.2.1.1-2).
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS
from rasterio.transform import from_origin

from hatangso.coverage import mobile, radio
from hatangso.coverage.propagation import hata_loss
from hatangso.coverage.rasters import Raster
from hatangso.coverage.terrain import coverage_rasters, judge_villages
from hatangso.geo.errors import InputError

UTM48 = CRS.from_epsg(32648)
X0, Y0 = 600_000.0, 2_450_000.0
AZIMUTHS = (0.0, 120.0, 240.0)


def three_sectors(x: float = X0, y: float = Y0, **columns: object) -> gpd.GeoDataFrame:
    data: dict[str, object] = {
        "site_id": ["A", "B", "C"],
        "operator": ["Viettel"] * 3,
        "tech": ["4G"] * 3,
        "height_m": [30.0] * 3,
        "env": ["rural"] * 3,
        "azimuth_deg": list(AZIMUTHS),
        "beamwidth_deg": [65.0] * 3,
    }
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=[shapely.Point(x, y)] * 3, crs=UTM48)


def table(sites: gpd.GeoDataFrame, model: str, threshold_dbm: float = -110.0) -> mobile.SiteTable:
    return mobile.site_table(
        sites, model=model, radius_m=radio.DEFAULT_RADIUS_M, threshold_dbm=threshold_dbm
    )


def at(bearing_deg: np.ndarray | float, distance_m: np.ndarray | float) -> np.ndarray:
    """Points at bearings (clockwise from north) and distances from (X0, Y0)."""
    t = np.radians(np.asarray(bearing_deg, dtype=float))
    d = np.asarray(distance_m, dtype=float)
    return np.column_stack(np.broadcast_arrays(X0 + d * np.sin(t), Y0 + d * np.cos(t)))


def villages(xy: np.ndarray) -> gpd.GeoDataFrame:
    ids = [f"V{i}" for i in range(len(xy))]
    return gpd.GeoDataFrame({"village_id": ids}, geometry=shapely.points(xy), crs=UTM48)


def covered(xy: np.ndarray, sites: mobile.SiteTable) -> np.ndarray:
    pairs = mobile.covered_points(xy[:, 0], xy[:, 1], sites, "4G")
    hit = np.zeros(len(xy), dtype=bool)
    hit[pairs.point] = True
    return hit


# --------------------------------------------------------------------------------------------
# the village between two sectors


@pytest.mark.parametrize("model", ["radius", "hata"])
def test_a_village_60_degrees_off_two_boresights_is_covered(model: str) -> None:
    # 1 km at bearing 60: 60 degrees off the sectors facing 0 and 120, outside both 3 dB beams
    # (32.5 degrees each side), so a hard wedge left it dark. It loses 12 (60 / 65)^2 = 10.22 dB.
    # radius: reach 5000 * 10^(-10.22 / 35) = 2551.7 m >= 1000 m.
    # hata: 32 - 104.27 (hata_loss at 1 km) - 10.22 = -82.5 dBm >= -110 dBm.
    xy = at(60.0, 1000.0)
    assert not radio.in_beam(60.0, np.array(AZIMUTHS), 65.0).any()
    sites = table(three_sectors(), model)
    result = mobile.mobile_coverage(villages(xy), sites, rule="point", min_share=0.5)
    assert result["covered_mobile"].tolist() == [True]
    assert result["mobile_reason"].iloc[0] != ""
    pairs = mobile.covered_points(xy[:, 0], xy[:, 1], sites, "4G")
    order = np.argsort(pairs.site)
    if model == "radius":
        # both neighbouring sectors; the back of the third reaches 5000 * 10^(-25/35) = 965 m
        assert pairs.site[order].tolist() == [0, 1]
        np.testing.assert_allclose(pairs.gain_db, -12 * (60 / 65) ** 2)
    else:
        # so strong is the rural link budget at 1 km that the back lobe serves too:
        # -72.27 - 25 = -97.3 dBm
        assert pairs.site[order].tolist() == [0, 1, 2]
        np.testing.assert_allclose(pairs.gain_db[order], [-10.2249, -10.2249, -25.0], atol=1e-4)
        expected = 32.0 - float(hata_loss(1000.0, 1800.0, 30.0, 1.5, env="rural")) - 10.2249
        assert expected == pytest.approx(-82.5, abs=0.05)
        assert result["best_dbm"].iloc[0] == pytest.approx(expected, abs=1e-3)


def test_the_back_of_a_lone_sector() -> None:
    # one sector facing east: behind it (25 dB) the radius reach is 5000 * 10^(-25/35) = 965 m;
    # due north (90 degrees off, 12 (90 / 65)^2 = 23.0 dB) 5000 * 10^(-23.0 / 35) = 1101 m
    sites = table(three_sectors().iloc[[0]].assign(azimuth_deg=[90.0]), "radius")
    xy = at([270.0, 270.0, 0.0, 0.0], [900.0, 1000.0, 1050.0, 1150.0])
    assert covered(xy, sites).tolist() == [True, False, True, False]
    # the mast itself is served whichever way the sector faces
    assert covered(at(270.0, 0.5), sites).tolist() == [True]


# --------------------------------------------------------------------------------------------
# the share of a circle covered


def _ring_share(sites: mobile.SiteTable, radius_m: float, n: int = 3600) -> float:
    bearings = (np.arange(n) + 0.5) * 360.0 / n
    return float(covered(at(bearings, radius_m), sites).mean())


def _share_by_hand(margin_db: float) -> float:
    """Share of the circle where 12 (φ / 65)^2 <= margin, φ the angle to the nearest boresight."""
    if margin_db >= 25.0:
        return 1.0
    phi_max = 65.0 * math.sqrt(margin_db / 12.0)
    return min(1.0, 6.0 * phi_max / 360.0)


def test_share_of_the_circle_covered_radius_model() -> None:
    sites = table(three_sectors(), "radius")
    # at 4 km the margin is 35 log10(5 / 4) = 3.39 dB: phi_max = 65 sqrt(3.39 / 12) = 34.56
    # degrees each side of each boresight, 6 * 34.56 / 360 = 0.576 of the circle (the hard
    # wedges: 3 * 65 / 360 = 0.542 at any radius)
    assert _share_by_hand(35 * math.log10(5 / 4)) == pytest.approx(0.5760, abs=1e-4)
    assert _ring_share(sites, 4000.0) == pytest.approx(0.5760, abs=1e-3)
    # at 2.5 km the margin is 35 log10(2) = 10.54 dB > 10.22 dB at 60 degrees: all of it
    assert _ring_share(sites, 2500.0) == 1.0
    # just inside the boresight reach, only the boresights
    assert 0.0 < _ring_share(sites, 4999.0) < 0.05
    assert _ring_share(sites, 5001.0) == 0.0


def test_share_of_the_circle_covered_hata_model() -> None:
    sites = table(three_sectors(), "hata")
    for radius_m in (8000.0, 10_000.0):
        # margin 32 + 110 - L(r): 5.92 dB at 8 km (share 0.761), 2.50 dB at 10 km (0.494)
        margin = 142.0 - float(hata_loss(radius_m, 1800.0, 30.0, 1.5, env="rural"))
        expected = _share_by_hand(margin)
        assert _ring_share(sites, radius_m) == pytest.approx(expected, abs=1e-3)
    assert _share_by_hand(142.0 - 136.0846) == pytest.approx(0.761, abs=1e-3)


@pytest.mark.parametrize("model", ["radius", "hata"])
def test_area_share_of_a_ring_agrees_with_its_points(model: str) -> None:
    # A 20 m wide ring at 4 km (radius) or 8 km (hata): the area rule overlays the footprints,
    # pattern-shaped polygons sampled at 128 bearings, and finds the share the points find.
    radius_m = 4000.0 if model == "radius" else 8000.0
    sites = table(three_sectors(), model)
    centre = shapely.Point(X0, Y0)
    ring = centre.buffer(radius_m + 10.0, quad_segs=256).difference(
        centre.buffer(radius_m - 10.0, quad_segs=256)
    )
    frame = gpd.GeoDataFrame({"village_id": ["ring"]}, geometry=[ring], crs=UTM48)
    result = mobile.mobile_coverage(frame, sites, rule="area", min_share=0.5)
    assert result["mobile_share"].iloc[0] == pytest.approx(_ring_share(sites, radius_m), abs=0.01)


# --------------------------------------------------------------------------------------------
# reasons


def test_reason_gives_the_reach_at_the_village_s_bearing() -> None:
    # one sector facing north; a village 1.2 km south, behind it: reach there 965 m
    lone = three_sectors().iloc[[0]]
    sites = table(lone, "radius")
    result = mobile.mobile_coverage(villages(at(180.0, 1200.0)), sites, rule="point", min_share=0.5)
    assert not result["covered_mobile"].iloc[0]
    assert result["mobile_reason"].iloc[0] == (
        "no site within reach: nearest is Viettel at 1.2 km (reach 1.0 km at this bearing)"
    )
    # three sectors: 3 km at bearing 60 is out of the 2.55 km the two nearest sectors reach;
    # the best of the mast's rows is named
    sites = table(three_sectors(), "radius")
    result = mobile.mobile_coverage(villages(at(60.0, 3000.0)), sites, rule="point", min_share=0.5)
    assert result["mobile_reason"].iloc[0].endswith("at 3.0 km (reach 2.6 km at this bearing)")
    # an omni site keeps its plain reach
    omni = table(lone.assign(azimuth_deg=[np.nan], beamwidth_deg=[np.nan]), "radius")
    result = mobile.mobile_coverage(villages(at(180.0, 5100.0)), omni, rule="point", min_share=0.5)
    assert result["mobile_reason"].iloc[0].endswith("at 5.1 km (reach 5.0 km)")


# --------------------------------------------------------------------------------------------
# the hata and terrain models agree on flat ground


def test_hata_and_terrain_cover_the_same_villages_on_a_flat_dem() -> None:
    # The terrain model on flat ground is free space (plus Bullington diffraction, nil with
    # the ground far below every ray), and the hata model is never below free space. On a
    # 200 m mast at 1800 MHz, rural, the Hata fit stays below free space out to 3 km (COST-231:
    # 46.3 + 33.9 log f - 13.82 log 200 + 29.83 log d - 31.6 open-area), so within 3 km both
    # models are free space over the slant distance. Threshold -72 dBm with EIRP 32 dBm allows
    # 104 dB: a boresight reach of 2.09 km. Both apply the same sector pattern, so the same
    # points are covered; villages stand on cell centres of the 30 m grid (the terrain model
    # answers per cell), and the few whose margin is within 0.5 dB of the threshold are left
    # out, the two models' free space differing by the speed of light they use (0.01 dB) and
    # the terrain model sampling radials.
    cell = 30.0
    dem = Raster(
        np.zeros((200, 200), dtype=np.float32), from_origin(0.0, 6000.0, cell, cell), UTM48
    )
    sx, sy = 3015.0, 2985.0  # the centre of cell (100, 100)
    sites = three_sectors(
        sx, sy, height_m=[200.0] * 3, eirp_re_dbm=[32.0] * 3, freq_mhz=[1800.0] * 3
    )
    threshold = -72.0
    i, j = np.meshgrid(np.arange(-80, 81, 8), np.arange(-80, 81, 8))
    xy = np.column_stack([sx + cell * i.ravel(), sy + cell * j.ravel()])
    d = np.hypot(xy[:, 0] - sx, xy[:, 1] - sy)
    xy = xy[(d > 0) & (d <= 2900.0)]
    d = np.hypot(xy[:, 0] - sx, xy[:, 1] - sy)
    bearing = radio.bearing_deg(sx, sy, xy[:, 0], xy[:, 1])
    gain = radio.sector_gain_db(bearing[:, None], np.array(AZIMUTHS), 65.0).max(axis=1)
    power = 32.0 + gain - hata_loss(d, 1800.0, 200.0, 1.5, env="rural")
    clear = np.abs(power - threshold) >= 0.5
    assert clear.mean() > 0.9
    frame = villages(xy[clear])

    by_hata = mobile.mobile_coverage(
        frame, table(sites, "hata", threshold), rule="point", min_share=0.5
    )["covered_mobile"].to_numpy()
    grids = coverage_rasters(dem, sites, radius_m=3000.0, threshold_dbm=threshold)
    by_terrain = judge_villages(frame, grids, rule="point")["covered_mobile"].to_numpy()
    np.testing.assert_array_equal(by_hata, power[clear] >= threshold)
    np.testing.assert_array_equal(by_terrain, by_hata)
    # the case is not trivial: some covered, some not, some only off the 3 dB beams
    off_beam = gain[clear] < -3.0
    assert 0.2 < by_hata.mean() < 0.8
    assert (by_hata & off_beam).sum() > 10


# --------------------------------------------------------------------------------------------
# the rule, point by point


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.floats(0.0, 359.0),
    st.floats(10.0, 120.0),
    st.sampled_from(["radius", "hata"]),
)
def test_covered_points_apply_the_rule_by_hand(
    seed: int, azimuth: float, beamwidth: float, model: str
) -> None:
    rng = np.random.default_rng(seed)
    sites = table(
        three_sectors().iloc[[0]].assign(azimuth_deg=[azimuth], beamwidth_deg=[beamwidth]), model
    )
    reach = 5000.0 if model == "radius" else float(sites.reach_m["4G"][0])
    bearings = rng.uniform(0.0, 360.0, 400)
    d = reach * np.sqrt(rng.uniform(0.0, 1.2, 400)) + 2.0
    off = np.abs((bearings - azimuth + 180.0) % 360.0 - 180.0)
    att = np.minimum(12.0 * (off / beamwidth) ** 2, 25.0)
    if model == "radius":
        expected = d <= reach * 10 ** (-att / 35.0)
    else:
        power = 32.0 - att - hata_loss(d, 1800.0, 30.0, 1.5, env="rural")
        expected = (d <= reach) & (power >= -110.0)
    # leave out points within a hair of the edge, where rounding may go either way
    if model == "radius":
        edge = np.abs(d / (reach * 10 ** (-att / 35.0)) - 1.0) < 1e-9
    else:
        edge = (np.abs(power + 110.0) < 1e-6) | (np.abs(d / reach - 1.0) < 1e-9)
    got = covered(at(bearings, d), sites)
    np.testing.assert_array_equal(got[~edge], expected[~edge])


def test_the_radius_reach_is_the_table_s_for_each_site_s_technology_and_environment() -> None:
    """Looked up per environment present and spread over the sites, as written or not."""
    sites = three_sectors(
        env=["Urban", None, " rural"], tech=["4G", "5G", "4G;5G"], azimuth_deg=[np.nan] * 3
    )
    reach = table(sites, "radius").reach_m
    r = radio.DEFAULT_RADIUS_M
    # 4G or better takes the larger of the site's 4G and 5G reach; a missing env is rural
    assert reach["4G"].tolist() == [
        r["4G"]["urban"],
        r["5G"]["rural"],
        max(r["4G"]["rural"], r["5G"]["rural"]),
    ]
    assert reach["5G"].tolist() == [0.0, r["5G"]["rural"], r["5G"]["rural"]]


def test_an_unknown_environment_names_its_site_under_the_radius_model() -> None:
    sites = three_sectors(env=["rural", "rural", "forest"])
    with pytest.raises(InputError, match=r"unknown env for site 2: 'forest'"):
        table(sites, "radius")
