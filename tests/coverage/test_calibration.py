"""Calibration of the propagation model: known offsets and slopes recovered from noisy samples."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hatangso.coverage import radio
from hatangso.coverage.calibration import (
    Calibration,
    calibrate_sites,
    fit_offset,
    load_calibration,
    model_at_samples,
)
from hatangso.coverage.mobile import site_table
from hatangso.geo.errors import InputError

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


def synthetic(
    n: int, *, offset_db: float, slope_db: float = 0.0, noise_db: float = 6.0, seed: int = 1
) -> pd.DataFrame:
    """Samples drawn around the Hata model: measured = model + offset + slope*x + noise."""
    rng = np.random.default_rng(seed)
    d = 10 ** rng.uniform(np.log10(200.0), np.log10(8000.0), n)  # 200 m to 8 km
    model = radio.received_power_dbm(d, eirp_dbm=32.0, freq_mhz=1800.0, h_tx_m=30.0, env="rural")
    x = np.log10(d / 1000.0)
    measured = model + offset_db + slope_db * x + rng.normal(0.0, noise_db, n)
    return pd.DataFrame(
        {
            "operator": "Viettel",
            "env": "rural",
            "distance_m": d,
            "predicted_dbm": model,
            "rsrp_dbm": measured,
        }
    )


def test_recovers_a_known_offset():
    # 4,000 samples, noise 6 dB: the mean's standard error is 6 / sqrt(4000) = 0.095 dB, so
    # the offset comes back within 0.4 dB (4 standard errors). No slope was put in: the
    # fitted slope's standard error is 6 / (sqrt(4000) * std(x)) with std(x) = 1.6 / sqrt(12)
    # = 0.46 decade -> 0.2 dB/decade, so it stays within 1 dB/decade of 0.
    samples = synthetic(4000, offset_db=-7.5)
    cal = fit_offset(samples, min_samples=100)
    (group,) = cal.groups
    assert group.key == ("Viettel", "rural")
    assert group.status == "offset and slope"
    assert group.offset_db == pytest.approx(-7.5, abs=0.4)
    assert abs(group.slope_db_per_decade) < 1.0
    # Before: the bias is the offset, RMSE = sqrt(7.5^2 + 6^2) = 9.6 dB.
    assert group.bias_before_db == pytest.approx(-7.5, abs=0.4)
    assert group.rmse_before_db == pytest.approx(9.6, abs=0.4)
    # After: no bias (OLS residuals have mean zero), RMSE = the noise, 6 dB.
    assert group.bias_after_db == pytest.approx(0.0, abs=1e-9)
    assert group.rmse_after_db == pytest.approx(6.0, abs=0.3)
    assert cal.rmse_after_db < cal.rmse_before_db


def test_recovers_a_known_slope():
    # The model falls 12 dB per decade too slowly: measured = model + 3 - 12 log10(d / 1 km).
    samples = synthetic(4000, offset_db=3.0, slope_db=-12.0, seed=2)
    cal = fit_offset(samples, min_samples=100)
    (group,) = cal.groups
    assert group.offset_db == pytest.approx(3.0, abs=0.4)
    assert group.slope_db_per_decade == pytest.approx(-12.0, abs=1.0)
    assert group.rmse_after_db == pytest.approx(6.0, abs=0.3)


def test_offset_only_when_the_distances_do_not_spread():
    # All samples between 900 m and 1.1 km: std(log10 d) ~ 0.025 decade < 0.25, no slope.
    samples = synthetic(1000, offset_db=5.0, seed=3)
    samples["distance_m"] = np.linspace(900.0, 1100.0, len(samples))
    cal = fit_offset(samples, min_samples=100)
    assert cal.groups[0].status == "offset"
    assert cal.groups[0].slope_db_per_decade == 0.0


def test_groups_are_fitted_separately_and_small_groups_refused():
    a = synthetic(600, offset_db=4.0, seed=4)
    b = synthetic(50, offset_db=-9.0, seed=5).assign(operator="VNPT")
    cal = fit_offset(pd.concat([a, b], ignore_index=True), min_samples=100)
    fits = {g.key[0]: g for g in cal.groups}
    assert fits["Viettel"].offset_db == pytest.approx(4.0, abs=1.0)
    assert fits["VNPT"].status == "too few samples"
    assert fits["VNPT"].offset_db == 0.0
    assert fits["VNPT"].rmse_after_db == fits["VNPT"].rmse_before_db
    # The correction of an unfitted or unknown group is zero.
    keys = pd.DataFrame({"operator": ["Viettel", "VNPT", "Gmobile"], "env": "rural"})
    corr = cal.correction_db(keys, [1000.0, 1000.0, 1000.0])
    assert corr[0] == pytest.approx(fits["Viettel"].offset_db)
    assert corr[1:].tolist() == [0.0, 0.0]


def test_refuses_to_fit_too_few_samples():
    with pytest.raises(InputError, match="too few samples to calibrate"):
        fit_offset(synthetic(99, offset_db=3.0), min_samples=100)


def test_refuses_missing_columns():
    with pytest.raises(InputError, match="predicted_dbm"):
        fit_offset(synthetic(500, offset_db=0.0).drop(columns="predicted_dbm"))


def test_json_round_trip(tmp_path: Path):
    cal = fit_offset(synthetic(800, offset_db=2.0), min_samples=100)
    path = cal.to_json(tmp_path / "calibration.json")
    back = load_calibration(path)
    assert back == cal
    assert isinstance(back, Calibration)
    (tmp_path / "bad.json").write_text('{"format": "other"}', "utf-8")
    with pytest.raises(InputError, match="not a hatangso calibration"):
        load_calibration(tmp_path / "bad.json")


def one_site_table(**columns: object):
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["S0"],
            "operator": ["Viettel"],
            "tech": ["4G"],
            "height_m": [30.0],
            "env": ["rural"],
            **columns,
        },
        geometry=[shapely.Point(X0, Y0)],
        crs=UTM,
    )
    return site_table(sites, model="hata", radius_m={}, threshold_dbm=-110.0)


def test_model_at_samples_uses_the_operators_site():
    table = one_site_table()
    samples = gpd.GeoDataFrame(
        {"operator": ["Viettel", "Viettel", "VNPT"], "rsrp_dbm": [-90.0, -100.0, -95.0]},
        geometry=shapely.points([(X0 + 1000, Y0), (X0, Y0 + 3000), (X0 + 500, Y0)]),
        crs=UTM,
    )
    frame = model_at_samples(samples, table)
    # VNPT has no site: its sample drops out.
    assert frame.index.tolist() == [0, 1]
    assert frame["distance_m"].to_numpy() == pytest.approx([1000.0, 3000.0])
    expected = radio.received_power_dbm(
        [1000.0, 3000.0], eirp_dbm=32.0, freq_mhz=1800.0, h_tx_m=30.0, env="rural"
    )
    assert frame["predicted_dbm"].to_numpy() == pytest.approx(expected)


def test_model_at_samples_counts_the_sector_pattern():
    # A sector facing east (65-degree beam): 1 km east at boresight, 1 km north 90 degrees
    # off (12 (90 / 65)^2 = 23.01 dB), 1 km west behind it (25 dB): predicted as the coverage
    # models predict them, none left out.
    table = one_site_table(azimuth_deg=[90.0], beamwidth_deg=[65.0])
    samples = gpd.GeoDataFrame(
        {"operator": ["Viettel"] * 3, "rsrp_dbm": [-80.0, -100.0, -105.0]},
        geometry=shapely.points([(X0 + 1000, Y0), (X0, Y0 + 1000), (X0 - 1000, Y0)]),
        crs=UTM,
    )
    frame = model_at_samples(samples, table)
    assert frame.index.tolist() == [0, 1, 2]
    boresight = float(
        radio.received_power_dbm(1000.0, eirp_dbm=32.0, freq_mhz=1800.0, h_tx_m=30.0, env="rural")
    )
    expected = boresight - np.array([0.0, 12 * (90 / 65) ** 2, 25.0])
    assert frame["predicted_dbm"].to_numpy() == pytest.approx(expected)


def test_calibrated_sites_reach_as_far_as_the_offset_says():
    # An offset of +6 dB is 6 dB more EIRP: the reach must equal the reach of EIRP 38 dBm.
    table = one_site_table()
    cal = fit_offset(synthetic(2000, offset_db=6.0, noise_db=0.001), min_samples=100)
    exact = replace(cal.groups[0], offset_db=6.0, slope_db_per_decade=0.0)
    cal = replace(cal, groups=(exact,))
    calibrated = calibrate_sites(table, cal, threshold_dbm=-110.0)
    expected = radio.site_reach_m(
        tech=["4G"],
        model="hata",
        env=["rural"],
        height_m=30.0,
        eirp_dbm=38.0,
        freq_mhz=1800.0,
        radius_m=None,
        threshold_dbm=-110.0,
    )
    assert calibrated.reach_m["4G"] == pytest.approx(expected, rel=1e-6)
    assert calibrated.reach_m["4G"][0] > table.reach_m["4G"][0]
    assert calibrated.eirp_dbm["4G"][0] == pytest.approx(38.0)
