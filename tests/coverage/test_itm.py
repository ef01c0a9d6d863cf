"""The Irregular Terrain Model against NTIA's reference cases, hand derivations and properties."""

from __future__ import annotations

import csv
import inspect
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hatangso.coverage.itm import (
    ERROR_PROFILE,
    ITMParameterError,
    ITMResult,
    _area,
    _area_result,
    _as_pfl,
    _delta_h,
    _Inputs,
    _inputs,
    _least_squares_fit,
    _p2p,
    _p2p_many,
    _p2p_result,
    _p2p_unchecked,
    _validate,
    itm_area_loss,
    itm_p2p_loss,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
ITM_DATA = DATA / "itm"

# NTIA publishes p2p.csv losses to 0.01 dB and area.csv and the driver outputs to 0.1 dB.
TOL_P2P_CSV_DB = 0.01
TOL_DB = 0.1


def _need_data() -> None:
    if not ITM_DATA.is_dir():
        pytest.skip(f"NTIA ITM reference data not found at {ITM_DATA} (../shared/data/itm)")


def _read_csv(name: str) -> list[dict[str, str]]:
    path = ITM_DATA / name
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _read_pfls() -> list[list[float]]:
    path = ITM_DATA / "pfls.csv"
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    return [[float(v) for v in line.split(",") if v.strip()] for line in lines if line.strip()]


def _flat(n_intervals: int, spacing_m: float, z_m: float = 0.0) -> list[float]:
    return [float(n_intervals), spacing_m] + [z_m] * (n_intervals + 1)


#: The contract's defaults, read off itm_p2p_loss's signature.
DEFAULTS: dict[str, Any] = {
    name: p.default
    for name, p in inspect.signature(itm_p2p_loss).parameters.items()
    if p.kind is p.KEYWORD_ONLY
}


def _kernel_inputs(h_tx_m: float, h_rx_m: float, freq_mhz: float, **options: Any) -> _Inputs:
    return _inputs(h_tx_m, h_rx_m, freq_mhz, **{**DEFAULTS, **options})


def itm_p2p(pfl: Any, h_tx_m: float, h_rx_m: float, freq_mhz: float, **options: Any) -> ITMResult:
    """itm_p2p_loss's prediction with its warnings and intermediate values."""
    return _p2p_result(_as_pfl(pfl), _kernel_inputs(h_tx_m, h_rx_m, freq_mhz, **options))


def itm_area(
    d_km: float,
    h_tx_m: float,
    h_rx_m: float,
    freq_mhz: float,
    *,
    tx_siting: int,
    rx_siting: int,
    delta_h_m: float,
    **options: Any,
) -> ITMResult:
    """itm_area_loss's prediction with its warnings and intermediate values."""
    inputs = _kernel_inputs(h_tx_m, h_rx_m, freq_mhz, **options)
    return _area_result(d_km, tx_siting, rx_siting, delta_h_m, inputs)


# --------------------------------------------------------------------------------------------
# NTIA reference cases: p2p.csv (+ pfls.csv by row order) and area.csv
# --------------------------------------------------------------------------------------------

P2P_ROWS = _read_csv("p2p.csv")
AREA_ROWS = _read_csv("area.csv")


@pytest.mark.shared_data
@pytest.mark.parametrize("i", range(max(len(P2P_ROWS), 5)))
def test_p2p_reference_case(i: int) -> None:
    _need_data()
    pfls = _read_pfls()
    assert len(pfls) == len(P2P_ROWS), "pfls.csv must hold one profile per p2p.csv row"
    row, pfl = P2P_ROWS[i], pfls[i]
    radio = (float(row["h_tx__meter"]), float(row["h_rx__meter"]), float(row["f__mhz"]))
    options = {
        "epsilon": float(row["epsilon"]),
        "sigma": float(row["sigma"]),
        "n0": float(row["N_0"]),
        "climate": int(row["climate"]),
        "polarization": int(row["pol"]),
        "time": float(row["time"]),
        "location": float(row["location"]),
        "situation": float(row["situation"]),
        "mdvar": int(row["mdvar"]),
    }
    result = itm_p2p(pfl, *radio, **options)
    assert result.loss_db == pytest.approx(float(row["A__db"]), abs=TOL_P2P_CSV_DB)
    # the numba kernel and the public entry give the same number
    outcome = _p2p(np.asarray(pfl), _kernel_inputs(*radio, **options))
    assert outcome.loss_db == result.loss_db
    assert outcome.code == result.code
    assert itm_p2p_loss(pfl, *radio, **options) == result.loss_db


@pytest.mark.shared_data
@pytest.mark.parametrize("i", range(max(len(AREA_ROWS), 5)))
def test_area_reference_case(i: int) -> None:
    _need_data()
    row = AREA_ROWS[i]
    loss = itm_area_loss(
        float(row["d__km"]),
        float(row["h_tx__meter"]),
        float(row["h_rx__meter"]),
        float(row["f__mhz"]),
        tx_siting=int(row["tx_siting_criteria"]),
        rx_siting=int(row["rx_siting_criteria"]),
        delta_h_m=float(row["delta_h__meter"]),
        epsilon=float(row["epsilon"]),
        sigma=float(row["sigma"]),
        n0=float(row["N_0"]),
        climate=int(row["climate"]),
        polarization=int(row["pol"]),
        time=float(row["time"]),
        location=float(row["location"]),
        situation=float(row["situation"]),
        mdvar=int(row["mdvar"]),
    )
    assert loss == pytest.approx(float(row["A__db"]), abs=TOL_DB)


# --------------------------------------------------------------------------------------------
# NTIA driver examples (cmd_examples): losses, tables and intermediate values
# --------------------------------------------------------------------------------------------

EXAMPLES = ["areacr", "areacr_tbl", "areatls", "p2pcr", "p2pcr_tbl", "p2ptls"]


def _read_inputs(name: str) -> dict[str, list[float]]:
    lines = (ITM_DATA / "cmd_examples" / f"i_{name}.txt").read_text().splitlines()
    inputs = {}
    for line in lines:
        if line.strip():
            key, *values = line.split(",")
            inputs[key.strip()] = [float(v) for v in values]
    return inputs


def _read_output(name: str) -> tuple[dict[str, str], list[list[float]]]:
    """Return the labelled values ('Free Space' -> '114.5') and the numeric table rows."""
    text = (ITM_DATA / "cmd_examples" / f"o_{name}.txt").read_text()
    values: dict[str, str] = {}
    table: list[list[float]] = []
    in_table = False
    for line in text.splitlines():
        if line.startswith("Basic Transmission Loss Results"):
            in_table = True
            continue
        if in_table and line.strip() and re.fullmatch(r"[\d.\s]+", line):
            table.append([float(v) for v in line.split()])
            continue
        if in_table and not line.strip() and table:
            in_table = False
        match = re.match(r"(\S.*?)\s{2,}(\S+)", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values, table


def _call(name: str, inputs: dict[str, list[float]], **variability: float) -> Any:
    common: dict[str, Any] = {
        "epsilon": inputs["epsilon"][0],
        "sigma": inputs["sigma"][0],
        "n0": inputs["N_0"][0],
        "climate": int(inputs["climate"][0]),
        "polarization": int(inputs["pol"][0]),
        "mdvar": int(inputs["mdvar"][0]),
        **variability,
    }
    h_tx, h_rx, freq = inputs["h_tx__meter"][0], inputs["h_rx__meter"][0], inputs["f__mhz"][0]
    if name.startswith("p2p"):
        pfl = (ITM_DATA / "cmd_examples" / "pfl.txt").read_text().strip().split(",")
        return lambda: itm_p2p([float(v) for v in pfl], h_tx, h_rx, freq, **common)
    siting = {
        "tx_siting": int(inputs["tx_site_criteria"][0]),
        "rx_siting": int(inputs["rx_site_criteria"][0]),
        "delta_h_m": inputs["delta_h__meter"][0],
    }
    return lambda d_km: itm_area(d_km, h_tx, h_rx, freq, **siting, **common)


def _cr(confidence: float, reliability: float) -> dict[str, float]:
    # NTIA's ITM_*_CR call the TLS form with time = reliability, location = 50 and
    # situation = confidence (src/itm_p2p.cpp, src/itm_area.cpp).
    return {"time": reliability, "location": 50.0, "situation": confidence}


@pytest.mark.shared_data
@pytest.mark.parametrize("name", EXAMPLES)
def test_driver_example(name: str) -> None:
    _need_data()
    inputs = _read_inputs(name)
    values, table = _read_output(name)
    checked = 0
    if name.endswith("tls"):
        tls = {k: inputs[k][0] for k in ("time", "location", "situation")}
        run = _call(name, inputs, **tls)
        result = run() if name.startswith("p2p") else run(inputs["d__km"][0])
    elif not table:
        cr = _cr(inputs["confidence"][0], inputs["reliability"][0])
        run = _call(name, inputs, **cr)
        result = run() if name.startswith("p2p") else run(inputs["d__km"][0])
    else:
        confidences = inputs["confidence"]
        # data rows carry a leading reliability (p2p) or distance and free space (area); the
        # p2p header line of confidences alone is numeric too and is dropped here
        width = len(confidences) + (1 if name.startswith("p2p") else 2)
        table = [row for row in table if len(row) == width]
        if name.startswith("p2p"):
            assert [row[0] for row in table] == inputs["reliability"]
        else:
            assert len(table) == 19  # 10, 20, ..., 100, 200, ..., 1000 km
        for row in table:
            if name.startswith("p2p"):
                # rows: reliability, then one loss per confidence
                for conf, expected in zip(confidences, row[1:], strict=True):
                    got = _call(name, inputs, **_cr(conf, row[0]))()
                    assert got.loss_db == pytest.approx(expected, abs=TOL_DB), (row[0], conf)
                    checked += 1
                result = got
            else:
                # rows: distance km, free space, then one loss per confidence
                reliability = inputs["reliability"][0]
                for conf, expected in zip(confidences, row[2:], strict=True):
                    got = _call(name, inputs, **_cr(conf, reliability))(row[0])
                    assert got.loss_db == pytest.approx(expected, abs=TOL_DB), (row[0], conf)
                    assert got.free_space_loss_db == pytest.approx(row[1], abs=TOL_DB)
                    checked += 1
        assert checked == len(table) * len(confidences)
        if not name.startswith("p2p"):
            return  # the area table has no intermediate values
    if "Basic Transmission Loss" in values:
        assert result.loss_db == pytest.approx(float(values["Basic Transmission Loss"]), abs=0.1)
    # intermediate values, to the precision the driver prints them
    assert result.free_space_loss_db == pytest.approx(float(values["Free Space"]), abs=0.05)
    assert result.d_m / 1000 == pytest.approx(float(values["d__km"]), abs=5e-4)
    assert result.theta_hzn_rad[0] * 1e3 == pytest.approx(float(values["theta_hzn_tx"]), abs=5e-4)
    assert result.theta_hzn_rad[1] * 1e3 == pytest.approx(float(values["theta_hzn_rx"]), abs=5e-4)
    assert result.d_hzn_m[0] == pytest.approx(float(values["d_hzn_tx__meter"]), abs=0.5)
    assert result.d_hzn_m[1] == pytest.approx(float(values["d_hzn_rx__meter"]), abs=0.5)
    assert result.h_e_m[0] == pytest.approx(float(values["h_e_tx__meter"]), abs=0.05)
    assert result.h_e_m[1] == pytest.approx(float(values["h_e_rx__meter"]), abs=0.05)
    assert result.n_s == pytest.approx(float(values["N_s"]), abs=0.05)
    assert result.delta_h_m == pytest.approx(float(values["delta_h__meter"]), abs=0.05)
    assert result.reference_attenuation_db == pytest.approx(float(values["A_ref__db"]), abs=0.05)
    mode_code = int(values["Mode of Propagation"])
    assert (
        result.propagation_mode
        == {1: "line of sight", 2: "diffraction", 3: "troposcatter"}[mode_code]
    )
    assert result.warning_flags == int(values["ITM Warning Flags"], 16)
    assert result.code == int(values["ITM Return Code"])


# --------------------------------------------------------------------------------------------
# self-contained: hand derivations
# --------------------------------------------------------------------------------------------


def test_flat_sea_level_geometry_is_the_four_thirds_earth() -> None:
    # Flat ground at sea level: the mean elevation is 0, so N_s = N_0 = 301 exactly and
    # gamma_e = 157e-9 (1 - 0.04665 exp(301 / 179.3)) = 157e-9 * 0.7500 -> a_e = 8492.5 km,
    # the classic 4/3 earth. The least-squares ground line is the ground, so h_e = h, and
    # delta_h = 0; on this line-of-sight path the horizon distance is sqrt(2 h_e a_e):
    # sqrt(2 * 30 * 8.4925e6) = 22573 m for the 30 m mast, sqrt(2 * 2 * 8.4925e6) = 5828 m
    # for the 2 m mobile.
    result = itm_p2p(_flat(50, 100.0), 30.0, 2.0, 900.0)
    a_e = 1.0 / (157e-9 * (1.0 - 0.04665 * math.exp(301.0 / 179.3)))
    assert a_e == pytest.approx(8.4925e6, rel=1e-4)
    assert result.n_s == 301.0
    assert result.h_e_m == (30.0, 2.0)
    assert result.delta_h_m == 0.0
    assert result.d_hzn_m[0] == pytest.approx(22573.0, abs=1.0)
    assert result.d_hzn_m[1] == pytest.approx(5828.0, abs=1.0)
    assert result.propagation_mode == "line of sight"


def test_free_space_term_and_line_of_sight_loss() -> None:
    # 10 intervals of 100 m: d = 1 km. Free space 32.45 + 20 log10(1000 MHz) + 20 log10(1 km)
    # = 32.45 + 60 + 0 = 92.45 dB. With 30 m and 2 m antennas the ITM line-of-sight fit puts
    # A_ref at 0 on such a short smooth path, so at the medians the loss is free space within
    # the few hundredths of a dB of the all-year median V_med (climate 5, d_e << 130 km).
    result = itm_p2p(_flat(10, 100.0), 30.0, 2.0, 1000.0)
    assert result.free_space_loss_db == pytest.approx(92.45, abs=1e-9)
    assert result.reference_attenuation_db == 0.0
    assert result.loss_db == pytest.approx(92.45, abs=0.05)


def test_loss_increases_with_distance_on_flat_earth_through_all_three_modes() -> None:
    # 90 m spacing (SRTM-3), 30 m mast, 2 m mobile, 900 MHz: line of sight out to about
    # sqrt(2 a_e)(sqrt(30) + sqrt(2)) = 4121 * 6.891 = 28 km, then diffraction, then
    # troposcatter hundreds of km out.
    losses, modes = [], []
    for n in range(10, 4000, 30):
        result = itm_p2p(_flat(n, 90.0, 12.0), 30.0, 2.0, 900.0)
        losses.append(result.loss_db)
        modes.append(result.propagation_mode)
    assert np.all(np.diff(losses) > 0)
    first = {mode: modes.index(mode) for mode in set(modes)}
    assert first["line of sight"] < first["diffraction"] < first["troposcatter"]


def test_area_mode_careful_siting_raises_effective_height() -> None:
    # [Algorithm, Eqn 3.2]: h_e = h + (1 + B) exp(-min(20, 2 h / delta_h)); for h = 10 m,
    # delta_h = 90 m, careful siting B = 4: 10 + 5 exp(-0.2222) = 10 + 5 * 0.80074 = 14.004.
    # Random siting keeps h_e = h.
    careful = itm_area(20.0, 10.0, 2.0, 900.0, tx_siting=1, rx_siting=0, delta_h_m=90.0)
    assert careful.h_e_m[0] == pytest.approx(14.004, abs=1e-3)
    assert careful.h_e_m[1] == 2.0
    random = itm_area(20.0, 10.0, 2.0, 900.0, tx_siting=0, rx_siting=0, delta_h_m=90.0)
    assert careful.loss_db < random.loss_db


def test_single_ridge_sets_the_horizons() -> None:
    # A 200 m ridge half way along 10 km of flat ground is both terminals' horizon, at 5 km.
    # Horizon angle = rise / distance - distance / (2 a_e) [TN101, Eq 6.15] with the 4/3 earth
    # a_e = 8492.5 km: tx (200 - 20) / 5000 - 5000 / 16.985e6 = 0.036 - 0.000294 = 0.035706,
    # rx (200 - 2) / 5000 - 0.000294 = 0.039306. Blocking costs well over 10 dB.
    flat = _flat(100, 100.0)
    ridge = list(flat)
    ridge[2 + 50] = 200.0
    clear = itm_p2p(flat, 20.0, 2.0, 900.0)
    blocked = itm_p2p(ridge, 20.0, 2.0, 900.0)
    assert blocked.d_hzn_m == pytest.approx((5000.0, 5000.0))
    assert blocked.theta_hzn_rad[0] == pytest.approx(0.035706, abs=1e-6)
    assert blocked.theta_hzn_rad[1] == pytest.approx(0.039306, abs=1e-6)
    assert blocked.loss_db > clear.loss_db + 10.0


# --------------------------------------------------------------------------------------------
# self-contained: warnings, errors, kernels
# --------------------------------------------------------------------------------------------


def test_warnings_are_reported() -> None:
    # 30 MHz lies in 20-40 MHz: allowed with WARN__FREQUENCY (0x0004); 5 x 100 m = 500 m is
    # under 1 km: WARN__PATH_DISTANCE_TOO_SMALL_2 (0x0040). NTIA then returns code 1.
    result = itm_p2p(_flat(5, 100.0), 30.0, 2.0, 30.0)
    assert result.code == 1
    assert result.warning_flags & 0x0004
    assert result.warning_flags & 0x0040
    assert any("frequency" in text for text in result.warnings)
    assert itm_p2p_loss(_flat(5, 100.0), 30.0, 2.0, 30.0) == result.loss_db


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"freq_mhz": 19.9}, r"freq_mhz must be 20 to 20000 MHz; got freq_mhz=19\.9"),
        ({"freq_mhz": 20001.0}, r"freq_mhz must be 20 to 20000 MHz"),
        ({"h_tx_m": 0.4}, r"h_tx_m must be 0\.5 to 3000 m"),
        ({"h_rx_m": 3001.0}, r"h_rx_m must be 0\.5 to 3000 m"),
        ({"h_rx_m": math.nan}, r"h_rx_m must be 0\.5 to 3000 m; got h_rx_m=nan"),
        ({"n0": 249.0}, r"n0 must be 250 to 400 N-units"),
        ({"climate": 8}, r"climate must be 1 to 7"),
        ({"polarization": 2}, r"polarization must be 0 \(horizontal\) or 1"),
        ({"epsilon": 0.9}, r"epsilon must be >= 1"),
        ({"sigma": 0.0}, r"sigma must be > 0"),
        ({"mdvar": 4}, r"mdvar must be 0-3"),
        ({"mdvar": 1.5}, r"mdvar must be 0-3"),
        ({"time": 100.0}, r"time must be 0 < time < 100"),
        ({"location": 0.0}, r"location must be"),
        ({"situation": -1.0}, r"situation must be"),
        ({"epsilon": 1.0, "polarization": 0}, r"ITM error 1013: epsilon, sigma must be"),
        ({"pfl": [0, 100.0, 1.0, 2.0, 3.0]}, r"pfl must be .*got n_intervals=0"),
        ({"pfl": [3, 100.0, 1.0, 2.0, 3.0]}, r"n_intervals=3 with 3 elevations"),
        ({"pfl": [2, -5.0, 1.0, 2.0, 3.0]}, r"spacing_m=-5"),
        ({"pfl": [2, 100.0, 1.0, math.inf, 3.0]}, r"non-finite elevations"),
        ({"pfl": [[2, 100.0, 1.0, 2.0, 3.0]]}, r"an array of shape \(1, 5\)"),
        ({"pfl": _flat(10, 100.0, 8000.0)}, r"ITM error 1021: n0, pfl must be .*N_s=129\.2"),
    ],
)
def test_invalid_p2p_parameter_raises(kwargs: dict[str, Any], message: str) -> None:
    # The last case: flat ground at 8000 m gives N_s = 301 exp(-8000 / 9460)
    # = 301 * 0.42927 = 129.2 N-units, under the 150 that ITM accepts (error 1021).
    args: dict[str, Any] = {"pfl": _flat(10, 100.0), "h_tx_m": 30.0, "h_rx_m": 2.0}
    args["freq_mhz"] = 900.0
    args.update(kwargs)
    with pytest.raises(ITMParameterError, match=message) as info:
        itm_p2p_loss(**args)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ITMParameterError)
    assert info.value.code >= 1000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"d_km": 0.0}, r"d_km must be > 0 km"),
        ({"delta_h_m": -1.0}, r"delta_h_m must be >= 0 m"),
        ({"tx_siting": 3}, r"tx_siting must be 0 \(random\)"),
        ({"rx_siting": -1}, r"rx_siting must be 0 \(random\)"),
        ({"freq_mhz": 10.0}, r"freq_mhz must be 20 to 20000 MHz"),
    ],
)
def test_invalid_area_parameter_raises(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"d_km": 10.0, "h_tx_m": 30.0, "h_rx_m": 2.0, "freq_mhz": 900.0}
    args.update({"tx_siting": 0, "rx_siting": 0, "delta_h_m": 90.0})
    args.update(kwargs)
    with pytest.raises(ITMParameterError, match=message):
        itm_area_loss(**args)


def test_kernels_return_codes_instead_of_raising() -> None:
    pfl = np.array(_flat(10, 100.0))
    outcome = _p2p(pfl, _kernel_inputs(30.0, 2.0, 10.0))
    assert math.isnan(outcome.loss_db)
    assert outcome.code == 1009  # ERROR__FREQUENCY
    outcome = _p2p(np.array([0.0, 100.0, 5.0]), _kernel_inputs(30.0, 2.0, 900.0))
    assert math.isnan(outcome.loss_db)
    assert outcome.code == ERROR_PROFILE
    # more intervals than the array holds, and a DEM void (NaN) in the profile
    for bad in ([50.0, 100.0, 1.0, 2.0, 3.0], [2.0, 100.0, 1.0, math.nan, 3.0]):
        outcome = _p2p(np.array(bad), _kernel_inputs(30.0, 2.0, 900.0))
        assert math.isnan(outcome.loss_db)
        assert outcome.code == ERROR_PROFILE
    area = _area(-1.0, 0, 0, 90.0, _kernel_inputs(30.0, 2.0, 900.0))
    assert math.isnan(area.loss_db)
    assert area.code == 1017  # ERROR__PATH_DISTANCE


def test_many_matches_one_by_one() -> None:
    rng = np.random.default_rng(7)
    n_profiles, width = 12, 403
    pfls = np.zeros((n_profiles, width))
    expected = []
    h_tx = rng.uniform(5.0, 60.0, n_profiles)
    h_rx = rng.uniform(1.0, 10.0, n_profiles)
    for k in range(n_profiles):
        n = int(rng.integers(20, width - 3))
        z = 100.0 + np.cumsum(rng.normal(0.0, 4.0, n + 1))
        pfls[k, : n + 3] = [n, 90.0, *z]
        inputs = _kernel_inputs(h_tx[k], h_rx[k], 1800.0, climate=1)
        expected.append(_p2p(pfls[k, : n + 3], inputs))
    pfls[-1, 0] = 0.0  # a degenerate profile is flagged, not fatal
    loss, codes, flags = _p2p_many(pfls, h_tx, h_rx, _kernel_inputs(1.0, 1.0, 1800.0, climate=1))
    np.testing.assert_array_equal(loss[:-1], [e.loss_db for e in expected[:-1]])
    np.testing.assert_array_equal(codes[:-1], [e.code for e in expected[:-1]])
    np.testing.assert_array_equal(flags[:-1], [e.warning_flags for e in expected[:-1]])
    assert math.isnan(loss[-1])
    assert codes[-1] == ERROR_PROFILE


def test_checks_once_then_unchecked_matches_the_checked_kernel() -> None:
    # A caller with many profiles checks the inputs once and runs the rest unchecked: the
    # losses must be those of the checked kernel, and a bad input must be caught by the check.
    assert _validate(_kernel_inputs(30.0, 1.5, 1800.0))[0] == 0
    assert _validate(_kernel_inputs(30.0, 1.5, 10.0))[0] >= 1000  # below 20 MHz
    assert _validate(_kernel_inputs(30.0, 0.1, 1800.0))[0] >= 1000  # receiver below 0.5 m
    assert _validate(_kernel_inputs(30.0, 1.5, 1800.0, climate=9))[0] >= 1000
    inputs = _kernel_inputs(30.0, 1.5, 1800.0)
    rng = np.random.default_rng(11)
    for _ in range(20):
        n = int(rng.integers(1, 400))
        pfl = np.array([n, float(rng.uniform(10.0, 100.0)), *(rng.uniform(0.0, 800.0, n + 1))])
        checked = _p2p(pfl, inputs)
        unchecked = _p2p_unchecked(pfl, inputs, 0)
        assert unchecked.loss_db == checked.loss_db


def test_inputs_travel_as_one_structure() -> None:
    # The kernels take the twelve inputs as one NamedTuple, typed as numba compiles them.
    inputs = _kernel_inputs(30, 2, 900)
    assert inputs == _Inputs(30.0, 2.0, 900.0, 15.0, 0.005, 301.0, 5, 1, 50.0, 50.0, 50.0, 12)
    assert [type(v) for v in inputs] == [float] * 6 + [int, int] + [float] * 3 + [int]
    with pytest.raises(ITMParameterError, match="climate must be"):
        _kernel_inputs(30.0, 2.0, 900.0, climate=True)


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------

_RADIO = {
    "freq_mhz": st.floats(20.0, 20000.0),
    "h_tx_m": st.floats(0.5, 3000.0),
    "h_rx_m": st.floats(0.5, 3000.0),
    "climate": st.integers(1, 7),
    "mdvar": st.sampled_from([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23, 30, 33]),
}


@settings(max_examples=60, deadline=None)
@given(
    n_near=st.integers(10, 2000),
    extra=st.integers(1, 2000),
    spacing_m=st.floats(30.0, 100.0),
    z_m=st.floats(0.0, 1500.0),
    **_RADIO,
)
def test_median_loss_grows_with_distance_on_flat_ground(
    n_near: int,
    extra: int,
    spacing_m: float,
    z_m: float,
    freq_mhz: float,
    h_tx_m: float,
    h_rx_m: float,
    climate: int,
    mdvar: int,
) -> None:
    # At the medians (time = location = situation = 50 %) every ITM term grows with distance
    # on a flat path: the line-of-sight fit has k_1, k_2 >= 0 and the diffraction and
    # troposcatter lines have positive slope. (Away from the medians the time variability can
    # grow faster than the loss, so the property is only claimed at 50 %.)
    kw = {"climate": climate, "mdvar": mdvar}
    near = itm_p2p_loss(_flat(n_near, spacing_m, z_m), h_tx_m, h_rx_m, freq_mhz, **kw)
    far = itm_p2p_loss(_flat(n_near + extra, spacing_m, z_m), h_tx_m, h_rx_m, freq_mhz, **kw)
    assert far > near


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 3000), spacing_m=st.floats(10.0, 200.0), z_m=st.floats(0.0, 2000.0), **_RADIO
)
def test_flat_ground_is_reciprocal(
    n: int,
    spacing_m: float,
    z_m: float,
    freq_mhz: float,
    h_tx_m: float,
    h_rx_m: float,
    climate: int,
    mdvar: int,
) -> None:
    # Over flat ground nothing tells the ends apart, so swapping the antennas changes nothing
    # (up to the rounding of the running horizon distances).
    kw = {"climate": climate, "mdvar": mdvar}
    forward = itm_p2p_loss(_flat(n, spacing_m, z_m), h_tx_m, h_rx_m, freq_mhz, **kw)
    backward = itm_p2p_loss(_flat(n, spacing_m, z_m), h_rx_m, h_tx_m, freq_mhz, **kw)
    assert backward == pytest.approx(forward, abs=1e-6)


def _delta_h_by_sorting(z: np.ndarray) -> float:
    """delta_h of a profile that _delta_h resamples onto itself, by a full sort of the residuals.

    With d_start = 0, d_end = the whole path and n = 10 p10 - 5 points, the resampling step is
    exactly one profile interval, so the residuals are those of the profile itself.
    """
    n = z.size
    p10 = (n + 5) // 10
    pfl = np.concatenate(([n - 1.0, 1.0], z))
    fit_1, fit_2 = _least_squares_fit(pfl, 0.0, n - 1.0)
    slope = (fit_2 - fit_1) / (n - 1.0)
    residuals = np.empty(n)
    for j in range(n):  # the running sum of the kernel, so that the residuals agree to the bit
        residuals[j] = z[j] - fit_1
        fit_1 += slope
    ordered = np.sort(residuals)
    interdecile = ordered[n - p10] - ordered[p10 - 1]  # p10-th largest minus p10-th smallest
    return float(interdecile / (1.0 - 0.8 * math.exp(-(n - 1.0) / 50e3)))


@settings(max_examples=150, deadline=None)
@given(
    p10=st.integers(4, 25),
    data=st.data(),
    ties=st.booleans(),
)
def test_delta_h_picks_the_deciles_a_full_sort_picks(
    p10: int, data: st.DataObject, ties: bool
) -> None:
    # _delta_h keeps only the p10 lowest and highest residuals as they come; the deciles must
    # be those of sorting all of them, ties (flat stretches, repeated heights) included.
    n = 10 * p10 - 5
    values = st.integers(0, 3).map(float) if ties else st.floats(-500.0, 3000.0)
    z = np.array(data.draw(st.lists(values, min_size=n, max_size=n)), dtype=np.float64)
    pfl = np.concatenate(([n - 1.0, 1.0], z))
    # The kernel's least-squares line may round in the last bit differently from numpy's
    # (fused multiply-add); a wrong pick of deciles would differ by whole residuals.
    assert _delta_h(pfl, 0.0, n - 1.0) == pytest.approx(_delta_h_by_sorting(z), rel=1e-12, abs=1e-9)


def test_delta_h_of_a_known_profile() -> None:
    # 35 points (p10 = 4) at 100 m, +10 m at points 3, 9, 25, 31 and -10 m at 5, 11, 23, 29:
    # the bumps sum to zero and so do their moments (3 + 9 + 25 + 31 = 5 + 11 + 23 + 29), so
    # the least-squares line is z = 100 m and the 4th largest and 4th smallest residuals are
    # +10 m and -10 m: delta_h = 20 m / (1 - 0.8 exp(-34 m / 50 km)).
    z = np.full(35, 100.0)
    z[[3, 9, 25, 31]] += 10.0
    z[[5, 11, 23, 29]] -= 10.0
    pfl = np.concatenate(([34.0, 1.0], z))
    value = _delta_h(pfl, 0.0, 34.0)
    assert value == pytest.approx(20.0 / (1.0 - 0.8 * math.exp(-34.0 / 50e3)), rel=1e-12)
    assert value == _delta_h_by_sorting(z)
