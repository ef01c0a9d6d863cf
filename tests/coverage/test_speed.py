"""Download speed: measured per commune (the 300-sample rule), predicted per village (SINR)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hatangso.coverage.measurements import aggregate_samples
from hatangso.coverage.speed import (
    below_target,
    commune_speeds,
    noise_dbm,
    predict_downlink,
    shannon_throughput_mbps,
    speed_target_mbps,
)

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


# --------------------------------------------------------------------------------------------
# Throughput: the attenuated Shannon bound of TR 36.942 Annex A, by hand
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sinr_db", "bandwidth_mhz", "expected_mbps"),
    [
        (0.0, 20.0, 12.0),  # 0.6 * log2(2) = 0.6 b/s/Hz
        (10.0, 20.0, 41.5132),  # 0.6 * log2(11) = 0.6 * 3.45943 = 2.07566 b/s/Hz
        (-10.0, 20.0, 1.6500),  # 0.6 * log2(1.1) = 0.6 * 0.137504 = 0.0825 b/s/Hz
        (-10.5, 20.0, 0.0),  # below SINR_min
        (30.0, 20.0, 88.0),  # 0.6 * log2(1001) = 5.98 > 4.4 b/s/Hz: capped
        (10.0, 100.0, 207.566),  # five times the 20 MHz figure
    ],
)
def test_throughput_by_hand(sinr_db: float, bandwidth_mhz: float, expected_mbps: float) -> None:
    got = float(shannon_throughput_mbps(sinr_db, bandwidth_mhz))
    assert got == pytest.approx(expected_mbps, abs=1e-3)


def test_no_sinr_no_throughput() -> None:
    assert np.isnan(shannon_throughput_mbps(float("nan"), 20.0))


def test_noise_over_the_channel() -> None:
    # -174 + 10 log10(20e6) + 7 = -174 + 73.0103 + 7
    assert float(noise_dbm(20.0)) == pytest.approx(-93.9897, abs=1e-4)


# --------------------------------------------------------------------------------------------
# SINR: two equal sites on a line
# --------------------------------------------------------------------------------------------


def two_sites(*, operators: tuple[str, str] = ("Viettel", "Viettel")) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "site_id": ["A", "B"],
            "operator": list(operators),
            "tech": "4G",
            "env": "urban",
            "height_m": 30.0,
        },
        geometry=shapely.points([[X0, Y0], [X0 + 2000.0, Y0]]),
        crs=UTM,
    )


MIDPOINT = np.array([[X0 + 1000.0, Y0]])

# COST-231 Hata (1800 MHz, medium city, Cm = 0) at 1 km, 30 m mast, 1.5 m handset:
#   a(hm) = (1.1 log f - 0.7) 1.5 - (1.56 log f - 0.8) = 4.32120 - 4.27823 = 0.04297 dB
#   L = 46.3 + 33.9 log 1800 - 13.82 log 30 - a(hm) + 0 = 46.3 + 110.35376 - 20.41382 - 0.04297
#     = 136.19697 dB
# Per resource element: 32 dBm (the 4G default) - 136.19697 = -104.19697 dBm; over the 1,200
# subcarriers of 20 MHz, + 10 log10(1200) = 30.79181 dB: S = -73.40516 dBm.
S_DBM = 32.0 - 136.19697 + 30.79181
N_DBM = -174.0 + 10.0 * math.log10(20e6) + 7.0  # -93.98970 dBm


def test_equal_sites_midpoint_without_noise_is_0_db() -> None:
    got = predict_downlink(MIDPOINT, two_sites(), thermal_dbm_hz=-np.inf)
    assert got.sinr_db[0] == pytest.approx(0.0, abs=1e-9)
    assert got.pred_dl_mbps[0] == pytest.approx(12.0, abs=1e-6)  # 0.6 b/s/Hz on 20 MHz
    assert got.operator[0] == "Viettel" and got.tech[0] == "4G"


def test_equal_sites_midpoint_with_noise_by_hand() -> None:
    # S = I = -73.40516 dBm; N/I = 10^((-93.98970 + 73.40516) / 10) = 10^-2.058454 = 0.0087397
    # SINR = S / (I + N) = 1 / 1.0087397 -> -0.03779 dB
    expected = -10.0 * math.log10(1.0 + 10.0 ** ((N_DBM - S_DBM) / 10.0))
    assert expected == pytest.approx(-0.03779, abs=1e-5)
    got = predict_downlink(MIDPOINT, two_sites())
    assert got.sinr_db[0] == pytest.approx(expected, abs=1e-3)


def test_one_site_is_limited_by_noise_only() -> None:
    # SNR = S - N = -73.40516 + 93.98970 = 20.58454 dB
    got = predict_downlink(MIDPOINT, two_sites().iloc[[0]])
    assert got.sinr_db[0] == pytest.approx(S_DBM - N_DBM, abs=1e-3)
    assert got.sinr_db[0] == pytest.approx(20.5845, abs=1e-3)


def test_other_operators_do_not_interfere() -> None:
    # Operators hold separate blocks of a band: each is its own co-channel layer.
    got = predict_downlink(MIDPOINT, two_sites(operators=("Viettel", "VNPT")))
    assert got.sinr_db[0] == pytest.approx(S_DBM - N_DBM, abs=1e-3)


def test_other_frequencies_do_not_interfere() -> None:
    sites = two_sites().assign(freq_mhz=[1800.0, 900.0])
    got = predict_downlink(MIDPOINT, sites)
    # The 1800 MHz carrier alone: its SNR, higher than 0 dB.
    assert got.sinr_db[0] > 15.0


def test_nearer_server_wins_and_far_points_get_nothing() -> None:
    xy = np.array([[X0 + 100.0, Y0], [X0 + 1000.0, Y0 + 50_000.0]])
    got = predict_downlink(xy, two_sites(), thermal_dbm_hz=-np.inf)
    assert got.sinr_db[0] > 20.0  # near A, B 1.9 km away
    assert np.isnan(got.sinr_db[1]) and np.isnan(got.pred_dl_mbps[1])
    assert got.operator[1] is None


def test_row_order_changes_nothing() -> None:
    rng = np.random.default_rng(7)
    n = 12
    sites = gpd.GeoDataFrame(
        {
            "site_id": [f"S{i}" for i in range(n)],
            "operator": rng.choice(["Viettel", "VNPT"], n),
            "tech": rng.choice(["4G", "4G;5G"], n),
            "azimuth_deg": np.where(rng.random(n) < 0.5, np.nan, rng.uniform(0, 360, n)),
            "beamwidth_deg": 65.0,
        },
        geometry=shapely.points(X0 + rng.uniform(0, 8000, (n, 2))),
        crs=UTM,
    )
    xy = X0 + rng.uniform(0, 8000, (30, 2))
    a = predict_downlink(xy, sites)
    perm = rng.permutation(n)
    b = predict_downlink(xy, sites.iloc[perm].reset_index(drop=True))
    np.testing.assert_allclose(a.sinr_db, b.sinr_db, atol=1e-9)
    np.testing.assert_allclose(a.pred_dl_mbps, b.pred_dl_mbps, atol=1e-9)


# --------------------------------------------------------------------------------------------
# Measured: the 300-sample rule and commune_4g_speed
# --------------------------------------------------------------------------------------------

VILLAGES = pd.DataFrame(
    {
        "village_id": ["a1", "a2", "b1", "c1", "d1"],
        "district": ["H", "H", "H", "H", "K"],
        "commune": ["A", "A", "B", "C", "A"],
    }
)


def samples(village: str, n: int, mbps: float | list[float], tech: str = "4G") -> pd.DataFrame:
    return pd.DataFrame(
        {"village_id": village, "tech": tech, "download_mbps": mbps}, index=range(n)
    )


@pytest.mark.parametrize(("n", "status"), [(299, "insufficient"), (300, "published")])
def test_300_sample_rule(n: int, status: str) -> None:
    got = commune_speeds(samples("b1", n, 50.0), VILLAGES, target_mbps=40.0)
    row = got.table.iloc[0]
    assert (row.unit, row.n_samples, row.status) == ("H / B", n, status)
    if status == "published":
        assert row.mean_mbps == 50.0 and row.median_mbps == 50.0 and row.reaches_target
        assert (got.indicator.numerator, got.indicator.denominator) == (1.0, 1.0)
    else:
        assert np.isnan(row.mean_mbps) and pd.isna(row.reaches_target)
        assert got.indicator.denominator == 0.0 and got.indicator.value is None


def test_commune_4g_speed_on_a_hand_made_set() -> None:
    speeds = pd.concat(
        [
            # H / A: 200 samples at 30 and 200 at 60 Mb/s over its two villages: mean 45,
            # median 45 -> reaches 40.
            samples("a1", 200, 30.0),
            samples("a2", 200, 60.0),
            # H / B: 300 samples, 100 at 10 and 200 at 50: mean 36.67 < 40, median 50.
            samples("b1", 100, 10.0),
            samples("b1", 200, 50.0),
            # H / C: 250 samples: insufficient, left out of both sides.
            samples("c1", 250, 90.0),
            # K / A (another commune A, in district K): 5G only -> not counted.
            samples("d1", 400, 300.0, tech="5G"),
            # Outside every village: not counted.
            pd.DataFrame({"village_id": [None] * 50, "tech": "4G", "download_mbps": 1.0}),
        ],
        ignore_index=True,
    )
    got = commune_speeds(speeds, VILLAGES, target_mbps=40.0)
    table = got.table.set_index("unit")
    assert table.index.tolist() == ["H / A", "H / B", "H / C"]
    assert table.loc["H / A", "n_samples"] == 400
    assert table.loc["H / A", "mean_mbps"] == pytest.approx(45.0)
    assert table.loc["H / A", "median_mbps"] == pytest.approx(45.0)
    assert table.loc["H / B", "mean_mbps"] == pytest.approx(110.0 / 3.0)
    assert table.loc["H / B", "median_mbps"] == pytest.approx(50.0)
    assert table.loc["H / C", "status"] == "insufficient"
    assert bool(table.loc["H / A", "reaches_target"]) and not table.loc["H / B", "reaches_target"]
    # 1 of the 2 published communes reaches 40 Mb/s.
    assert (got.indicator.numerator, got.indicator.denominator) == (1.0, 2.0)
    assert got.indicator.value == 0.5
    # Against Cà Mau's 2023 target of 45 Mb/s, H / A (mean exactly 45) still reaches it.
    assert commune_speeds(speeds, VILLAGES, target_mbps=45.0).indicator.numerator == 1.0
    block = got.as_dict()
    assert block["min_samples"] == 300 and "2928/VNNIC" in block["rule"]
    assert block["communes"][2] == {
        "unit": "H / C",
        "n_samples": 250,
        "mean_mbps": None,
        "median_mbps": None,
        "status": "insufficient",
        "reaches_target": None,
    }


def test_no_commune_column_gives_nothing_to_count() -> None:
    got = commune_speeds(samples("a1", 400, 50.0), VILLAGES.drop(columns="commune"), target_mbps=40)
    assert got.table.empty and got.indicator.denominator == 0.0


def test_target_comes_from_the_scenario_statistic() -> None:
    ca_mau = [
        SimpleNamespace(code="mobile_download_4g_mbps", targets={2023: 45, 2024: 60, 2025: 80})
    ]
    assert [speed_target_mbps(ca_mau, y) for y in (2023, 2024, 2025)] == [45.0, 60.0, 80.0]
    hong_phong = [SimpleNamespace(code="mobile_download_mbps", targets={2025: 42})]
    assert speed_target_mbps(hong_phong, 2025) == 42.0
    assert speed_target_mbps([], 2025) == 40.0  # QĐ 36/QĐ-TTg


def test_covered_villages_below_target() -> None:
    villages = pd.DataFrame(
        {
            "village_id": ["v1", "v2", "v3", "v4"],
            "name": ["Một", "Hai", "Ba", "Bốn"],
            "covered_mobile": [True, True, False, True],
            "pred_dl_mbps": [12.0, 80.0, 5.0, np.nan],
            "sinr_db": [0.0, 25.0, -3.0, np.nan],
        }
    )
    slow = below_target(villages, 40.0)
    # v3 is not covered (a coverage gap, not a capacity one); v4 covered, nothing predicted.
    assert slow["village_id"].tolist() == ["v1", "v4"]


# --------------------------------------------------------------------------------------------
# Samples with speeds: read, validated
# --------------------------------------------------------------------------------------------


def _village() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"village_id": ["V0"], "name": ["Thôn 0"], "commune": ["Xã A"]},
        geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)],
        crs=UTM,
    ).to_crs(4326)


def _points(n: int) -> tuple[np.ndarray, np.ndarray]:
    pts = gpd.GeoSeries(
        shapely.points(np.linspace(X0 + 10, X0 + 990, n), np.full(n, Y0 + 500)), crs=UTM
    ).to_crs(4326)
    return pts.x.to_numpy().round(7), pts.y.to_numpy().round(7)


def test_sample_speeds_are_read_and_bad_ones_rejected(tmp_path: Path) -> None:
    lon, lat = _points(5)
    path = tmp_path / "samples.csv"
    pd.DataFrame(
        {
            "lon": lon,
            "lat": lat,
            "operator": "Viettel",
            "tech": "4G",
            "rsrp_dbm": -90,
            "Tốc độ tải xuống": ["42.5", "", "abc", "-3", "55"],
            "upload_mbps": ["10", "5", "5", "5", ""],
        }
    ).to_csv(path, index=False)
    summary = aggregate_samples(path, _village(), threshold_dbm=-110)
    assert summary.speeds is not None
    assert summary.speeds["download_mbps"].tolist()[0] == 42.5
    assert np.isnan(summary.speeds["download_mbps"].tolist()[1])  # blank: no speed, kept
    assert summary.speeds["upload_mbps"].tolist()[1] == 5.0
    assert summary.speeds["village_id"].tolist() == ["V0", "V0", "V0"]
    reasons = dict(zip(summary.rejects["row"], summary.rejects["reason"], strict=True))
    assert sorted(reasons) == [3, 4]
    assert "download_mbps in 'Tốc độ tải xuống' is not a number" in reasons[3]
    assert "download_mbps in 'Tốc độ tải xuống' outside 0 to 10000 Mb/s" in reasons[4]
    assert set(summary.rejects["file"]) == {"samples.csv"}


def test_samples_without_speed_columns_have_no_speeds(tmp_path: Path) -> None:
    lon, lat = _points(3)
    path = tmp_path / "samples.csv"
    pd.DataFrame(
        {"lon": lon, "lat": lat, "operator": "Viettel", "tech": "4G", "rsrp_dbm": -90}
    ).to_csv(path, index=False)
    assert aggregate_samples(path, _village(), threshold_dbm=-110).speeds is None


def test_geopackage_samples_with_speeds(tmp_path: Path) -> None:
    lon, lat = _points(3)
    path = tmp_path / "samples.gpkg"
    gpd.GeoDataFrame(
        {"operator": "VNPT", "tech": "4G", "rsrp_dbm": -95.0, "download_mbps": [1.0, 2.0, -1.0]},
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    ).to_file(path)
    summary = aggregate_samples(path, _village(), threshold_dbm=-110)
    assert summary.speeds is not None
    assert summary.speeds["download_mbps"].tolist() == [1.0, 2.0]
    assert summary.rejected == 1
    assert "download_mbps" in summary.rejects["reason"].iloc[0]


def test_blocks_of_points_give_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    import hatangso.coverage.speed as speed

    rng = np.random.default_rng(11)
    sites = gpd.GeoDataFrame(
        {"site_id": ["A", "B", "C"], "operator": "Viettel", "tech": ["4G", "4G;5G", "5G"]},
        geometry=shapely.points(X0 + rng.uniform(0, 6000, (3, 2))),
        crs=UTM,
    )
    xy = X0 + rng.uniform(0, 6000, (25, 2))
    whole = predict_downlink(xy, sites)
    monkeypatch.setattr(speed, "_BLOCK_POINTS", 4)
    blocks = predict_downlink(xy, sites)
    np.testing.assert_array_equal(whole.sinr_db, blocks.sinr_db)
    np.testing.assert_array_equal(whole.pred_dl_mbps, blocks.pred_dl_mbps)
    assert whole.tech.tolist() == blocks.tech.tolist()


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("ca-mau", {2023: 45.0, 2024: 60.0, 2025: 80.0, 2026: 80.0}),  # plan 250/KH-UBND
        ("demo", {2024: 40.0, 2025: 40.0}),  # QĐ 36/QĐ-TTg
        ("hong-phong", {2025: 42.0, 2026: 42.0}),  # 2026: 2G off, 2025's speed kept
    ],
)
def test_shipped_scenarios_give_their_speed_target(scenario: str, expected: dict) -> None:
    from hatangso.scenarios.schema import load_scenario

    path = Path(__file__).parents[2] / "scenarios" / f"{scenario}.yaml"
    loaded = load_scenario(path, check_files=False)
    got = {year: speed_target_mbps(loaded.statistics, year) for year in loaded.years}
    assert got == expected
    assert speed_target_mbps(loaded.statistics, None) == 40.0  # the baseline: national
