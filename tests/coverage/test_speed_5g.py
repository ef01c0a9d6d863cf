"""5G speed: measured per commune against 100 Mb/s, predicted per village on the 5G layer."""

from __future__ import annotations

import math
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hatangso.coverage.speed import (
    NATIONAL_5G_TARGET_MBPS,
    assess_speed,
    below_target,
    commune_speeds,
    predict_downlink,
    speed_target_mbps,
)

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


# --------------------------------------------------------------------------------------------
# Measured: commune_5g_speed, the 300-sample rule and the 100 Mb/s target
# --------------------------------------------------------------------------------------------

VILLAGES = pd.DataFrame(
    {"village_id": ["a", "b", "c"], "district": "H", "commune": ["A", "B", "C"]}
)


def samples(village: str, n: int, mbps: float | list[float], tech: str = "5G") -> pd.DataFrame:
    return pd.DataFrame(
        {"village_id": village, "tech": tech, "download_mbps": mbps}, index=range(n)
    )


def test_the_5g_target_is_100_mbps_unless_the_plan_says() -> None:
    assert NATIONAL_5G_TARGET_MBPS == 100.0
    assert speed_target_mbps([], 2025, tech="5G") == 100.0
    assert speed_target_mbps([], None, tech="5G") == 100.0
    plan = [
        SimpleNamespace(code="mobile_download_5g_mbps", targets={2026: 150.0}),
        # A plan's "mobile speed" is 4G's, never 5G's.
        SimpleNamespace(code="mobile_download_mbps", targets={2025: 42.0}),
    ]
    assert [speed_target_mbps(plan, y, tech="5G") for y in (2025, 2026, 2027)] == [
        100.0,
        150.0,
        150.0,
    ]
    assert speed_target_mbps(plan, 2025) == 42.0


@pytest.mark.parametrize(("n", "status"), [(299, "insufficient"), (300, "published")])
def test_300_sample_rule_for_5g(n: int, status: str) -> None:
    # 5G samples count toward commune_5g_speed only; 4G ones in the same commune do not.
    speeds = pd.concat([samples("b", n, 150.0), samples("b", 500, 150.0, tech="4G")])
    got = commune_speeds(speeds, VILLAGES, target_mbps=100.0, tech="5G")
    row = got.table.iloc[0]
    assert got.indicator.code == "commune_5g_speed"
    assert (row.unit, row.n_samples, row.status) == ("H / B", n, status)
    published = status == "published"
    assert got.indicator.denominator == (1.0 if published else 0.0)
    assert got.indicator.numerator == (1.0 if published else 0.0)
    block = got.as_dict()
    assert block["tech"] == "5G" and block["min_samples"] == 300


def test_communes_at_99_100_and_101_mbps() -> None:
    # 300 samples each: A at 98 and 100 Mb/s in equal numbers (mean 99), B all at 100, C at
    # 100 and 102 (mean 101). 100 Mb/s is reached from 100 on: B and C, 2 of 3.
    speeds = pd.concat(
        [
            samples("a", 300, [98.0, 100.0] * 150),
            samples("b", 300, 100.0),
            samples("c", 300, [100.0, 102.0] * 150),
        ]
    )
    got = commune_speeds(speeds, VILLAGES, target_mbps=100.0, tech="5G")
    table = got.table.set_index("unit")
    assert table["mean_mbps"].tolist() == pytest.approx([99.0, 100.0, 101.0])
    assert table["reaches_target"].tolist() == [False, True, True]
    assert (got.indicator.numerator, got.indicator.denominator) == (2.0, 3.0)
    assert got.indicator.value == pytest.approx(2.0 / 3.0)


def test_an_unknown_technology_has_no_speed_indicator() -> None:
    with pytest.raises(ValueError, match="no speed indicator for '3G'"):
        commune_speeds(samples("a", 1, 1.0), VILLAGES, target_mbps=1.0, tech="3G")


# --------------------------------------------------------------------------------------------
# Predicted: two 5G sites on a line
# --------------------------------------------------------------------------------------------


def two_sites(tech: str = "5G") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"site_id": ["A", "B"], "operator": "Viettel", "tech": tech, "env": "urban"},
        geometry=shapely.points([[X0, Y0], [X0 + 2000.0, Y0]]),
        crs=UTM,
    )


MIDPOINT = np.array([[X0 + 1000.0, Y0]])

# 3GPP TR 38.901 UMa NLOS (3500 MHz, urban) at 1 km from a 30 m mast, handset at 1.5 m:
#   d3D = sqrt(1000^2 + 28.5^2) = 1000.40604 m
#   PL' = 13.54 + 39.08 log10(d3D) + 20 log10(3.5) - 0.6 (1.5 - 1.5)
#       = 13.54 + 117.24689 + 10.88136 = 141.66825 dB (above UMa LOS, so the NLOS loss)
# Per resource element: 33 dBm (the 5G default) - 141.66825 = -108.66825 dBm; over the
# 3,276 subcarriers of 100 MHz at 30 kHz, + 10 log10(3276) = 35.15344 dB: S = -73.51481 dBm.
PL_DB = 13.54 + 39.08 * math.log10(math.hypot(1000.0, 28.5)) + 20.0 * math.log10(3.5)
S_DBM = 33.0 - PL_DB + 10.0 * math.log10(3276)
N_DBM = -174.0 + 10.0 * math.log10(100e6) + 7.0  # -87 dBm over 100 MHz


def test_5g_midpoint_without_noise_is_0_db_and_44_6_mbps() -> None:
    # 0 dB: 0.6 log2(1 + 1) = 0.6 b/s/Hz; on the 100 MHz 5G carrier, 60 Mb/s while it sends
    # downlink, which a DDDSU frame (10:2:2 special slot) does 52 of 70 symbols:
    # 60 * 52 / 70 = 44.5714 Mb/s.
    got = predict_downlink(MIDPOINT, two_sites(), thermal_dbm_hz=-np.inf)
    assert got.sinr_db[0] == pytest.approx(0.0, abs=1e-9)
    assert got.pred_dl_mbps[0] == pytest.approx(44.5714286, abs=1e-6)
    assert got.tech[0] == "5G"
    assert got.tech_sinr_db["5G"][0] == pytest.approx(0.0, abs=1e-9)
    assert got.tech_dl_mbps["5G"][0] == pytest.approx(44.5714286, abs=1e-6)
    assert "4G" not in got.tech_dl_mbps  # no 4G carrier at all


@pytest.mark.parametrize(("share", "mbps"), [(1.0, 60.0), (0.5, 30.0), (0.8, 48.0)])
def test_the_5g_downlink_share_scales_5g_alone(share: float, mbps: float) -> None:
    # The same 0 dB midpoint: 60 Mb/s times the share. A 4G carrier of A (FDD) at the
    # midpoint keeps its figure whatever the share: alone on its layer, noise-free, it is
    # capped at 4.4 b/s/Hz, 88 Mb/s on 20 MHz.
    sites = two_sites().assign(tech=["4G;5G", "5G"])
    got = predict_downlink(MIDPOINT, sites, thermal_dbm_hz=-np.inf, downlink_share_5g=share)
    assert got.tech_dl_mbps["5G"][0] == pytest.approx(mbps, abs=1e-6)
    assert got.tech_dl_mbps["4G"][0] == pytest.approx(88.0, abs=1e-6)


def test_5g_midpoint_with_noise_by_hand() -> None:
    # S = I = -73.51481 dBm, N = -87 dBm: N/I = 10^(-1.3485188) = 0.0448210
    # SINR = 1 / 1.0448210 = 0.9571018 -> -0.19042 dB; 0.6 log2(1.9571018) = 0.6 * 0.9687188
    #      = 0.5812313 b/s/Hz -> 58.1231 Mb/s on 100 MHz; times the downlink share 52 / 70:
    #      43.1772 Mb/s.
    assert PL_DB == pytest.approx(141.66825, abs=1e-5)
    assert S_DBM == pytest.approx(-73.51481, abs=1e-5)
    sinr_db = -10.0 * math.log10(1.0 + 10.0 ** ((N_DBM - S_DBM) / 10.0))
    assert sinr_db == pytest.approx(-0.19042, abs=1e-5)
    expected = 100.0 * 0.6 * math.log2(1.0 + 10.0 ** (sinr_db / 10.0)) * 52.0 / 70.0
    assert expected == pytest.approx(43.1772, abs=1e-4)
    got = predict_downlink(MIDPOINT, two_sites())
    assert got.tech_sinr_db["5G"][0] == pytest.approx(sinr_db, abs=1e-3)
    assert got.tech_dl_mbps["5G"][0] == pytest.approx(expected, abs=1e-2)


def test_the_5g_layer_is_kept_apart_from_the_best_layer() -> None:
    # A carries 4G and 5G, B 5G only. At the midpoint A's 4G carrier is alone on its layer
    # (SNR 20.5845 dB, as the 4G test derives: 0.6 log2(1 + 114.3) = 4.1104 b/s/Hz, 82.21 Mb/s
    # on 20 MHz) and beats the 5G layer, where B interferes: 43.1772 Mb/s. The village's best
    # figure is 4G's; its 5G figure stays the 5G layer's.
    sites = two_sites().assign(tech=["4G;5G", "5G"])
    got = predict_downlink(MIDPOINT, sites)
    assert set(got.tech_dl_mbps) == {"4G", "5G"}
    assert got.tech[0] == "4G"
    assert got.tech_sinr_db["4G"][0] == pytest.approx(20.5845, abs=1e-3)
    snr = 10.0 ** (got.tech_sinr_db["4G"][0] / 10.0)
    assert got.pred_dl_mbps[0] == pytest.approx(20.0 * 0.6 * math.log2(1.0 + snr), abs=1e-6)
    assert got.pred_dl_mbps[0] == pytest.approx(82.207, abs=1e-3)
    assert got.tech_dl_mbps["5G"][0] == pytest.approx(43.1772, abs=1e-3)


def test_villages_covered_by_5g_below_100_mbps() -> None:
    villages = pd.DataFrame(
        {
            "village_id": ["v1", "v2", "v3", "v4"],
            "name": ["Một", "Hai", "Ba", "Bốn"],
            "covered_mobile": True,
            "covered_5g": [True, True, False, True],
            "pred_dl_mbps": [88.0, 88.0, 88.0, 88.0],
            "sinr_db": 30.0,
            "pred_dl_5g_mbps": [60.0, 272.6, 12.0, 100.0],
            "sinr_5g_db": [0.0, 13.5, -8.0, 2.2],
        }
    )
    slow = below_target(villages, 100.0, tech="5G")
    # v3 is not covered by 5G; v4 is at the target exactly.
    assert slow["village_id"].tolist() == ["v1"]
    assert slow["pred_dl_mbps"].tolist() == [60.0] and slow["sinr_db"].tolist() == [0.0]


def test_assess_speed_adds_the_5g_blocks_only_where_5g_is() -> None:
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["m", "far"],
            "name": ["Giữa", "Xa"],
            "commune": "A",
            "covered_mobile": [True, True],
            "covered_5g": [True, False],
        },
        geometry=shapely.points([[X0 + 1000.0, Y0], [X0 + 1000.0, Y0 + 30_000.0]]),
        crs=UTM,
    ).to_crs(4326)
    result = assess_speed(
        villages,
        sites=two_sites().to_crs(4326),
        centres_xy=None,
        metric_crs=UTM,
        speeds=pd.concat([samples("m", 300, 120.0), samples("m", 300, 30.0, tech="4G")]),
    )
    assert result.target_5g_mbps == 100.0
    block = result.blocks["predicted_downlink_5g"]
    assert block["tech"] == "5G" and block["target_mbps"] == 100.0
    # m: 43.18 Mb/s at the midpoint, below 100; far: not covered by 5G (and out of reach).
    assert block["covered_below_target"] == 1 and block["villages_predicted"] == 1
    assert block["villages_below_target"][0]["pred_dl_mbps"] == pytest.approx(43.18)
    assert block["downlink_share"] == pytest.approx(52.0 / 70.0)
    assert "3500 MHz, 100 MHz" in block["method"]
    codes = {v.code: (v.numerator, v.denominator) for v in result.indicators}
    assert codes == {"commune_4g_speed": (0.0, 1.0), "commune_5g_speed": (1.0, 1.0)}
    assert result.blocks["commune_speed_5g"]["communes"][0]["mean_mbps"] == 120.0

    four_g = assess_speed(
        villages,
        sites=two_sites(tech="4G").to_crs(4326),
        centres_xy=None,
        metric_crs=UTM,
        speeds=samples("m", 300, 30.0, tech="4G"),
    )
    assert "predicted_downlink_5g" not in four_g.blocks
    assert "pred_dl_5g_mbps" not in four_g.villages
    assert [v.code for v in four_g.indicators] == ["commune_4g_speed"]


def test_the_demo_scenario_holds_5g_to_100_mbps() -> None:
    from pathlib import Path

    from hatangso.scenarios.schema import load_scenario

    path = Path(__file__).parents[2] / "scenarios" / "demo.yaml"
    loaded = load_scenario(path, check_files=False)
    got = {year: speed_target_mbps(loaded.statistics, year, tech="5G") for year in loaded.years}
    assert got == {2024: 100.0, 2025: 100.0}
