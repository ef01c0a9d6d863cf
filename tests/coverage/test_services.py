"""2G, 3G, NB-IoT and LTE-M per village, and what the 2G/3G switch-off takes away.

Hand cases on omni sites in the radius model unless said otherwise (the default table: rural
2G 15 km, 3G 8 km, 4G 5 km; NB-IoT and LTE-M 4G's times ``10^(20/35)`` and
``10^(11.7/35)``), with the villages as points east of the masts.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from rasterio.crs import CRS
from rasterio.transform import from_origin

from hatangso.coverage import mobile, radio, services
from hatangso.coverage.propagation import hata_loss
from hatangso.coverage.rasters import Raster
from hatangso.coverage.terrain import coverage_rasters
from hatangso.coverage.villages import village_points

UTM48 = CRS.from_epsg(32648)
X0, Y0 = 600_000.0, 2_450_000.0


def sites_frame(rows: list[tuple[str, str, str, float]], **columns: object) -> gpd.GeoDataFrame:
    """Omni rural sites: (site_id, operator, tech, metres east of X0)."""
    data: dict[str, object] = {
        "site_id": [r[0] for r in rows],
        "operator": [r[1] for r in rows],
        "tech": [r[2] for r in rows],
        "height_m": [30.0] * len(rows),
        "env": ["rural"] * len(rows),
    }
    data.update(columns)
    geometry = [shapely.Point(X0 + r[3], Y0) for r in rows]
    return gpd.GeoDataFrame(data, geometry=geometry, crs=UTM48)


def village_frame(east_m: list[float], population: list[float] | None = None) -> gpd.GeoDataFrame:
    data: dict[str, object] = {
        "village_id": [f"V{i}" for i in range(len(east_m))],
        "name": [f"Thôn {i}" for i in range(len(east_m))],
    }
    if population is not None:
        data["population"] = population
    geometry = [shapely.Point(X0 + e, Y0 + 1.0) for e in east_m]
    return gpd.GeoDataFrame(data, geometry=geometry, crs=UTM48)


def judged(
    villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, model: str = "radius"
) -> pd.DataFrame:
    """Villages with covered_mobile, serving_operators and the switch-off columns."""
    table = mobile.site_table(
        sites, model=model, radius_m=radio.DEFAULT_RADIUS_M, threshold_dbm=-110.0
    )
    points = village_points(villages, villages.crs)
    result = mobile.mobile_coverage(villages, table, rule="point", min_share=0.5, points=points)
    by_tech = services.technology_coverage(
        villages, table, rule="point", min_share=0.5, points=points
    )
    columns = services.service_columns(
        by_tech,
        covered_mobile=result["covered_mobile"].to_numpy(dtype=bool),
        serving=result["serving_operators"].to_numpy(dtype=object),
    )
    return pd.concat([villages, result.assign(**columns)], axis=1)


# --------------------------------------------------------------------------------------------
# the technologies a site carries


def test_site_table_carries_a_reach_for_all_six_technologies() -> None:
    sites = sites_frame([("A", "VNPT", "2G", 0.0), ("B", "Viettel", "4G;NB-IoT", 0.0)])
    table = mobile.site_table(
        sites, model="radius", radius_m=radio.DEFAULT_RADIUS_M, threshold_dbm=-110.0
    )
    assert set(table.reach_m) == {"2G", "3G", "4G", "5G", "NB-IoT", "LTE-M"}
    assert table.reach_m["2G"].tolist() == [15_000.0, 0.0]
    assert table.reach_m["4G"].tolist() == [0.0, 5000.0]  # a 2G site gives no broadband
    assert table.reach_m["3G"].tolist() == [0.0, 0.0]
    assert table.reach_m["LTE-M"].tolist() == [0.0, 0.0]
    # the radius model: 4G's reach times 10^(20 / 35) dB per decade
    assert table.reach_m["NB-IoT"][1] == pytest.approx(5000.0 * 10 ** (20.0 / 35.0))


def test_nb_iot_reaches_20_db_further_than_lte_under_hata_by_hand() -> None:
    # COST-231 Hata at 1800 MHz, a 30 m mast, a 1.5 m handset, urban (Cm = 0):
    # L = 46.3 + 33.9 log f - 13.82 log hb - a(hm) + (44.9 - 6.55 log hb) log d_km,
    # a(hm) = (1.1 log f - 0.7) hm - (1.56 log f - 0.8). The LTE carrier radiates 32 dBm per
    # resource element against -110 dBm: 142 dB allowed; NB-IoT 20 dB more, 162 dB.
    f, hb, hm = 1800.0, 30.0, 1.5
    a_hm = (1.1 * math.log10(f) - 0.7) * hm - (1.56 * math.log10(f) - 0.8)
    intercept = 46.3 + 33.9 * math.log10(f) - 13.82 * math.log10(hb) - a_hm
    slope = 44.9 - 6.55 * math.log10(hb)
    lte_m = 1000.0 * 10 ** ((142.0 - intercept) / slope)
    nb_m = 1000.0 * 10 ** ((162.0 - intercept) / slope)
    assert nb_m / lte_m == pytest.approx(10 ** (20.0 / slope))  # 3.70 times as far
    sites = sites_frame([("A", "Viettel", "4G;NB-IoT", 0.0)], env=["urban"])
    table = mobile.site_table(
        sites, model="hata", radius_m=radio.DEFAULT_RADIUS_M, threshold_dbm=-110.0
    )
    assert table.reach_m["4G"][0] == pytest.approx(lte_m, rel=1e-6)
    assert table.reach_m["NB-IoT"][0] == pytest.approx(nb_m, rel=1e-6)
    assert hata_loss(nb_m, f, hb, hm, env="urban") == pytest.approx(162.0, abs=1e-6)
    # LTE-M: 155.7 - 144 = 11.7 dB more than LTE
    sites = sites_frame([("A", "Viettel", "4G;LTE-M", 0.0)], env=["urban"])
    table = mobile.site_table(
        sites, model="hata", radius_m=radio.DEFAULT_RADIUS_M, threshold_dbm=-110.0
    )
    assert table.reach_m["LTE-M"][0] == pytest.approx(lte_m * 10 ** (11.7 / slope), rel=1e-6)
    # a village 3 km away: beyond LTE (1.46 km), inside NB-IoT (5.4 km)
    assert lte_m < 3000.0 < nb_m
    frame = judged(
        village_frame([3000.0]),
        sites_frame([("A", "Viettel", "4G;NB-IoT", 0.0)], env=["urban"]),
        "hata",
    )
    assert frame["cov_nbiot"].tolist() == [True]
    assert frame["covered_mobile"].tolist() == [False]
    assert frame["mobile_service"].tolist() == [False]  # NB-IoT is no handset service


def test_nb_iot_agrees_across_hata_and_terrain_on_flat_ground() -> None:
    # As the 4G case of test_mobile: a flat DEM and a 200 m mast, where the terrain model
    # and hata agree cell by cell. Run at a configured threshold of -52 dBm, NB-IoT is
    # received from -72 dBm: the villages it covers are those where 32 - L(d) >= -72.
    cell = 30.0
    dem = Raster(
        np.zeros((200, 200), dtype=np.float32), from_origin(0.0, 6000.0, cell, cell), UTM48
    )
    sx, sy = 3015.0, 2985.0
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["A"],
            "operator": ["Viettel"],
            "tech": ["NB-IoT"],
            "height_m": [200.0],
            "env": ["rural"],
            "eirp_re_dbm": [32.0],
            "freq_mhz": [1800.0],
        },
        geometry=[shapely.Point(sx, sy)],
        crs=UTM48,
    )
    i = np.arange(1, 97, 4)
    xy = np.column_stack([sx + cell * i, np.full(i.size, sy)])
    d = xy[:, 0] - sx
    power = 32.0 - hata_loss(d, 1800.0, 200.0, 1.5, env="rural")
    clear = np.abs(power + 72.0) >= 0.5
    xy, power = xy[clear], power[clear]
    frame = gpd.GeoDataFrame(
        {"village_id": [f"V{k}" for k in range(len(xy))]}, geometry=shapely.points(xy), crs=UTM48
    )
    points = village_points(frame, frame.crs)
    table = mobile.site_table(
        sites, model="hata", radius_m=radio.DEFAULT_RADIUS_M, threshold_dbm=-52.0
    )
    by_hata = services.technology_coverage(
        frame, table, rule="point", min_share=0.5, points=points
    ).covered["NB-IoT"]
    grids = coverage_rasters(dem, sites, radius_m=3000.0, threshold_dbm=-52.0)
    by_terrain = services.terrain_technology_coverage(
        frame, grids, rule="point", min_share=0.5, points=points
    ).covered["NB-IoT"]
    np.testing.assert_array_equal(by_hata, power >= -72.0)
    np.testing.assert_array_equal(by_terrain, by_hata)
    assert 0 < by_hata.sum() < len(by_hata)


def test_thresholds_and_eirp_of_the_technologies() -> None:
    offsets = radio.threshold_offset_db(["2G", "3G", "4G", "5G", "NB-IoT", "LTE-M"])
    assert offsets.round(1).tolist() == [15.0, 5.0, 0.0, 0.0, -20.0, -11.7]
    resolved = radio.resolve_site_radio(
        tech=["gsm", "WCDMA", "nb-iot", "Cat-M1"],
        env="rural",
        height_m=30.0,
        eirp_dbm=float("nan"),
        freq_mhz=float("nan"),
    )
    assert resolved.tech.tolist() == ["2G", "3G", "NB-IoT", "LTE-M"]
    assert resolved.freq_mhz.tolist() == [900.0, 2100.0, 1800.0, 1800.0]
    assert resolved.eirp_dbm.tolist() == [57.0, 47.0, 32.0, 32.0]


# --------------------------------------------------------------------------------------------
# the switch-off, village by village


def test_a_village_served_only_by_2g_loses_service_without_2g() -> None:
    # 2G reaches 15 km, the 4G site 5 km from its own mast 20 km away: the village at 10 km
    # east of the 2G mast is 10 km from the 4G one.
    frame = judged(
        village_frame([10_000.0]),
        sites_frame([("G", "VNPT", "2G", 0.0), ("L", "VNPT", "4G", 20_000.0)]),
    )
    row = frame.iloc[0]
    assert (row["cov_2g"], row["cov_3g"], row["covered_mobile"]) == (True, False, False)
    assert row["mobile_service"]
    assert row["loss_2g_off"] and row["loss_2g3g_off"]
    assert row["operators_lost_2g_off"] == "VNPT"


def test_a_village_served_only_by_3g_keeps_service_without_2g_not_without_3g() -> None:
    frame = judged(village_frame([6000.0]), sites_frame([("U", "MobiFone", "3G", 0.0)]))
    row = frame.iloc[0]
    assert (row["cov_2g"], row["cov_3g"], row["covered_mobile"]) == (False, True, False)
    assert row["mobile_service"]
    assert not row["loss_2g_off"]
    assert row["loss_2g3g_off"]
    assert row["operators_lost_2g_off"] == ""
    assert row["operators_lost_2g3g_off"] == "MobiFone"


def test_a_village_with_4g_loses_nothing_and_broadband_answers_stay() -> None:
    # 2G;4G on one mast: the village at 3 km has 4G; the one at 10 km 2G alone.
    frame = judged(village_frame([3000.0, 10_000.0]), sites_frame([("A", "Viettel", "2G;4G", 0.0)]))
    assert frame["covered_mobile"].tolist() == [True, False]
    assert frame["loss_2g_off"].tolist() == [False, True]
    # the broadband answer is the one without any 2G
    alone = judged(village_frame([3000.0, 10_000.0]), sites_frame([("A", "Viettel", "4G", 0.0)]))
    assert alone["covered_mobile"].tolist() == [True, False]


def test_the_losses_per_operator_by_hand() -> None:
    # Viettel 4G (5 km) and VNPT 2G (15 km) at 0, MobiFone 3G (8 km) 3 km east.
    # V0 (2 km): all three -> no village loss; VNPT's service ends without 2G, MobiFone's
    #            too without 3G.
    # V1 (9 km): VNPT 2G and MobiFone 3G -> no loss without 2G (3G stays), loss without both.
    # V2 (12 km): VNPT 2G alone -> lost without 2G.
    # V3 (30 km): nothing -> no service, nothing to lose.
    sites = sites_frame(
        [
            ("L", "Viettel", "4G", 0.0),
            ("G", "VNPT", "2G", 0.0),
            ("U", "MobiFone", "3G", 3000.0),
        ]
    )
    frame = judged(village_frame([2000.0, 9000.0, 12_000.0, 30_000.0], [100, 200, 300, 400]), sites)
    assert frame["loss_2g_off"].tolist() == [False, False, True, False]
    assert frame["loss_2g3g_off"].tolist() == [False, True, True, False]
    assert frame["mobile_service"].tolist() == [True, True, True, False]
    assert frame["operators_lost_2g_off"].tolist() == ["VNPT", "VNPT", "VNPT", ""]
    assert frame["operators_lost_2g3g_off"].tolist() == [
        "MobiFone;VNPT",
        "MobiFone;VNPT",
        "VNPT",
        "",
    ]
    table = services.switch_off_table(frame)
    two_g = table["village_2g_off_loss"]
    assert (two_g["villages"], two_g["people"], two_g["switched_off"]) == (1, 300.0, ["2G"])
    assert two_g["by_operator"] == [{"operator": "VNPT", "villages": 3, "people": 600.0}]
    assert [v["village_id"] for v in two_g["listed"]] == ["V2"]
    both = table["village_2g3g_off_loss"]
    assert (both["villages"], both["people"]) == (2, 500.0)
    assert both["by_operator"] == [
        {"operator": "MobiFone", "villages": 2, "people": 300.0},
        {"operator": "VNPT", "villages": 3, "people": 600.0},
    ]
    assert both["listed"][0] == {
        "village_id": "V1",
        "name": "Thôn 1",
        "people": 200.0,
        "operators": "MobiFone;VNPT",
    }


def test_the_indicators_count_the_losses() -> None:
    from hatangso.coverage.kpis import village_indicators

    sites = sites_frame([("G", "VNPT", "2G", 0.0), ("U", "MobiFone", "3G", 0.0)])
    frame = judged(village_frame([1000.0, 10_000.0, 30_000.0]), sites)
    values = {
        v.code: (v.numerator, v.denominator)
        for v in village_indicators(frame, codes=["village_2g_off_loss", "village_2g3g_off_loss"])
    }
    # V0: 2G and 3G; V1 (10 km): 2G alone; V2: nothing
    assert values == {"village_2g_off_loss": (1.0, 3.0), "village_2g3g_off_loss": (2.0, 3.0)}


def test_sites_without_legacy_technologies_add_no_columns() -> None:
    assert not services.carries_legacy(sites_frame([("A", "Viettel", "4G;5G", 0.0)]))
    assert services.carries_legacy(sites_frame([("A", "Viettel", "4G;LTE-M", 0.0)]))
