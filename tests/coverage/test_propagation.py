"""Tests of hatangso.coverage.propagation: reference values, hand derivations, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hatangso.coverage.propagation import (
    ENVIRONMENTS,
    HATA_BLEND_MHZ,
    TR38901_BLEND_MHZ,
    cost231_hata_loss,
    free_space_loss,
    hata_loss,
    okumura_hata_loss,
    tr38901_rma_loss,
    tr38901_uma_loss,
)

# ns-3 reference tables (nsnam/ns-3-dev-git) used below:
#   src/propagation/test/okumura-hata-test-suite.cc
#   src/propagation/test/three-gpp-propagation-loss-model-test-suite.cc
#   src/propagation/test/reference/loss_*.m (the Octave scripts behind the Hata values)
# ns-3 places the base station at (0, 0, hb) and the mobile at (d, 0, hm), so d is the
# horizontal distance, as here. Its Okumura-Hata model takes the 3D distance where this module
# takes the horizontal one: at d = 2000 m and hb - hm = 29 m the 3D distance is 2000.21 m and
# the loss differs by 35.22 * log10(2000.21 / 2000) = 0.002 dB, far inside the 0.1 dB used.

TOL_DB = 0.1


# --------------------------------------------------------------------------------------------
# free space
# --------------------------------------------------------------------------------------------


def test_free_space_hand_derived() -> None:
    # 4 pi d f / c = 4 pi * 1000 m * 1e9 Hz / 299 792 458 m/s = 41 916.9
    # 20 log10(41 916.9) = 20 * 4.622389 = 92.4478 dB
    assert float(free_space_loss(1000.0, 1000.0)) == pytest.approx(92.4478, abs=1e-3)
    # doubling the distance adds 20 log10(2) = 6.0206 dB; ten times the frequency adds 20 dB
    assert float(free_space_loss(2000.0, 1000.0) - free_space_loss(1000.0, 1000.0)) == (
        pytest.approx(6.0206, abs=1e-4)
    )
    assert float(free_space_loss(1000.0, 10_000.0)) == pytest.approx(112.4478, abs=1e-3)


# --------------------------------------------------------------------------------------------
# Okumura-Hata
# --------------------------------------------------------------------------------------------


def test_okumura_hata_urban_hand_derived() -> None:
    # 869 MHz, 2 km, hb 30 m, hm 1 m, medium city; log10(869) = 2.939020, log10(30) = 1.477121
    #   69.55 + 26.16 * 2.939020                 = 146.4348
    #   - 13.82 * 1.477121                       = -20.4138
    #   + (44.9 - 6.55 * 1.477121) * log10(2)    = 35.2249 * 0.301030 = 10.6038
    #   - a(hm) = -[(1.1*2.939020 - 0.7) * 1 - (1.56*2.939020 - 0.8)] = -(-1.25195) = 1.2520
    #   total                                    = 137.8768
    loss = okumura_hata_loss(2000.0, 869.0, 30.0, 1.0, env="urban")
    assert float(loss) == pytest.approx(137.8768, abs=1e-3)


@pytest.mark.parametrize(
    ("env", "large_city", "expected_db"),
    [
        # okumura-hata-test-suite.cc: "original OH Urban Large city" 137.93
        ("urban", True, 137.93),
        # "original OH Urban small city" 137.88
        ("urban", False, 137.88),
        # "original OH SubUrban" 128.03: the value of loss_OH_suburban.m, which uses the
        # small/medium-city a(hm) (ns-3 passes LargeCity; at hm = 1 m the two a(hm) differ by
        # 0.054 dB)
        ("suburban", False, 128.03),
    ],
)
def test_okumura_hata_ns3(env: str, large_city: bool, expected_db: float) -> None:
    loss = okumura_hata_loss(2000.0, 869.0, 30.0, 1.0, env=env, large_city=large_city)
    assert float(loss) == pytest.approx(expected_db, abs=TOL_DB)


def test_okumura_hata_open_area() -> None:
    # Hand: urban 137.8768 (above) + open-area correction at 869 MHz
    #   -4.78 * 2.939020^2 + 18.33 * 2.939020 - 40.94 = -41.2889 + 53.8722 - 40.94 = -28.3567
    #   = 109.5201 dB.
    # ns-3's table says 109.66 ("original OH OpenAreas"), but its own code gives 109.57 for
    # that case (large-city a(hm), 0.054 dB above medium-city) and passes only through its
    # 0.1 dB tolerance; its Octave script loss_OH_openareas.m has 4.70 for 4.78. The formula
    # of Hata is checked here, and the gap to ns-3's figure bounded.
    loss = float(okumura_hata_loss(2000.0, 869.0, 30.0, 1.0, env="rural"))
    assert loss == pytest.approx(109.5201, abs=1e-3)
    assert abs(loss - 109.66) < 0.15


def test_okumura_hata_large_city_switch_at_300_mhz() -> None:
    # medium - large a(hm) is the loss difference (large city subtracts the larger a(hm)).
    # hm = 3 m. 150 MHz, large: 8.29 log10(1.54 * 3)^2 - 1.1 = 8.29 * 0.664642^2 - 1.1 = 2.5621;
    #   medium: (1.1 * 2.176091 - 0.7) * 3 - (1.56 * 2.176091 - 0.8) = 5.0811 - 2.5947 = 2.4864.
    # 450 MHz, large: 3.2 log10(11.75 * 3)^2 - 4.97 = 3.2 * 1.547159^2 - 4.97 = 2.6898;
    #   medium: (1.1 * 2.653213 - 0.7) * 3 - (1.56 * 2.653213 - 0.8) = 6.6556 - 3.3390 = 3.3166.
    for f, large, medium in ((150.0, 2.5621, 2.4864), (450.0, 2.6898, 3.3166)):
        small_city = okumura_hata_loss(5000.0, f, 50.0, 3.0)
        large_city = okumura_hata_loss(5000.0, f, 50.0, 3.0, large_city=True)
        assert float(small_city - large_city) == pytest.approx(large - medium, abs=1e-3)


# --------------------------------------------------------------------------------------------
# COST-231 Hata
# --------------------------------------------------------------------------------------------


def test_cost231_ns3_medium_city() -> None:
    # okumura-hata-test-suite.cc: 2114 MHz (above 2000 MHz: both ns-3 and this module
    # extrapolate the formula), 2 km, hb 30, hm 1, "COST231 OH Urban small city" 150.64
    assert float(cost231_hata_loss(2000.0, 2114.0, 30.0, 1.0)) == pytest.approx(150.64, abs=TOL_DB)


def test_cost231_large_city_against_ns3() -> None:
    # ns-3's "COST231 OH Urban Large city" is 148.55, computed with a(hm) = 3.2 (log 11.75 hm)^2
    # without Hata's -4.97 (see loss_COST231_large_cities_urban.m). This module keeps the
    # -4.97, so its value is 148.55 + 4.97 = 153.52. By hand: 46.3 + 33.9 * 3.325105
    # - 20.4138 + 10.6038 - (3.2 * 1.070038^2 - 4.97) + 3 = 112.7211 + 46.3 - 20.4138 + 10.6038
    # + 1.3060 + 3 = 153.5171.
    loss = float(cost231_hata_loss(2000.0, 2114.0, 30.0, 1.0, large_city=True))
    assert loss == pytest.approx(148.55 + 4.97, abs=TOL_DB)
    assert loss == pytest.approx(153.5171, abs=1e-3)


def test_cost231_env_corrections_are_hata_s() -> None:
    f = 1800.0
    urban = cost231_hata_loss(3000.0, f, 40.0, 1.5)
    # suburban: -2 log10(1800 / 28)^2 - 5.4 = -2 * 1.808136^2 - 5.4 = -11.9387
    assert float(cost231_hata_loss(3000.0, f, 40.0, 1.5, env="suburban") - urban) == (
        pytest.approx(-11.9387, abs=1e-3)
    )
    # open: -4.78 * 3.255273^2 + 18.33 * 3.255273 - 40.94 = -50.6526 + 59.6692 - 40.94
    assert float(cost231_hata_loss(3000.0, f, 40.0, 1.5, env="rural") - urban) == (
        pytest.approx(-31.9234, abs=1e-3)
    )


# --------------------------------------------------------------------------------------------
# 3GPP TR 38.901
# --------------------------------------------------------------------------------------------

# three-gpp-propagation-loss-model-test-suite.cc, ThreeGppRmaPropagationLossModelTestCase:
# hBS 35 m, hUT 1.5 m, 5 GHz, default h = 5 m and W = 20 m, tx 0 dBm, expected rx power
# (loss = -rx).
RMA_NS3 = [
    (10.0, True, -77.3784),
    (100.0, True, -87.2965),
    (1000.0, True, -108.5577),
    (10000.0, True, -140.3896),
    (10.0, False, -77.3784),
    (100.0, False, -95.7718),
    (1000.0, False, -133.5223),
    (5000.0, False, -160.5169),
]

# Same file, ThreeGppUmaPropagationLossModelTestCase: hBS 25 m, hUT 1.5 m (so hE = 1 m with
# certainty), 5 GHz.
UMA_NS3 = [
    (10.0, True, -72.9380),
    (100.0, True, -86.2362),
    (1000.0, True, -109.7252),
    (5000.0, True, -137.6794),
    (10.0, False, -82.5131),
    (100.0, False, -106.1356),
    (1000.0, False, -144.7641),
    (5000.0, False, -172.0753),
]


@pytest.mark.parametrize(("distance_m", "los", "rx_dbm"), RMA_NS3)
def test_rma_ns3(distance_m: float, los: bool, rx_dbm: float) -> None:
    loss = tr38901_rma_loss(distance_m, 5000.0, 35.0, 1.5, los=los)
    assert float(loss) == pytest.approx(-rx_dbm, abs=TOL_DB)


@pytest.mark.parametrize(("distance_m", "los", "rx_dbm"), UMA_NS3)
def test_uma_ns3(distance_m: float, los: bool, rx_dbm: float) -> None:
    loss = tr38901_uma_loss(distance_m, 5000.0, 25.0, 1.5, los=los)
    assert float(loss) == pytest.approx(-rx_dbm, abs=TOL_DB)


def test_ns3_tables_vectorised() -> None:
    d, los, rx = (np.array(col) for col in zip(*RMA_NS3, strict=True))
    loss = np.where(
        los,
        tr38901_rma_loss(d, 5000.0, 35.0, 1.5, los=True),
        tr38901_rma_loss(d, 5000.0, 35.0, 1.5, los=False),
    )
    np.testing.assert_allclose(loss, -rx, atol=TOL_DB)


def test_uma_los_hand_derived_and_breakpoint() -> None:
    # 3.5 GHz, hBS 25, hUT 1.5: dBP' = 4 * (25 - 1) * (1.5 - 1) * 3.5e9 / 3e8 = 560 m.
    # At 200 m: d3D = hypot(200, 23.5) = 201.3759; PL1 = 28 + 22 log10(201.3759)
    #   + 20 log10(3.5) = 28 + 22 * 2.304007 + 10.881361 = 89.5695 dB.
    assert float(tr38901_uma_loss(200.0, 3500.0, 25.0, 1.5)) == pytest.approx(89.5695, abs=1e-3)
    # At d2D = dBP, PL2 - PL1 = 18 log d3D - 9 log(dBP^2 + dh^2) = 0 since d3D^2 = dBP^2 + dh^2:
    # the LOS curve is continuous at the breakpoint.
    below = tr38901_uma_loss(560.0, 3500.0, 25.0, 1.5)
    above = tr38901_uma_loss(560.0 + 1e-6, 3500.0, 25.0, 1.5)
    assert float(above - below) == pytest.approx(0.0, abs=1e-3)
    # beyond the breakpoint the slope is 40 dB per decade of d3D
    far = tr38901_uma_loss(np.array([2000.0, 20000.0]), 3500.0, 25.0, 1.5)
    d3d = np.hypot([2000.0, 20000.0], 23.5)
    assert float(far[1] - far[0]) == pytest.approx(40 * math.log10(d3d[1] / d3d[0]), abs=1e-6)


def test_rma_breakpoint_hand_derived() -> None:
    # dBP = 2 pi hBS hUT fc / c = 2 pi * 35 * 1.5 * 5e9 / 3e8 = 5497.787 m: PL2 starts from
    # PL1(dBP), so the LOS loss is (almost) continuous there.
    d_bp = 2 * math.pi * 35 * 1.5 * 5e9 / 3e8
    below = tr38901_rma_loss(d_bp - 1e-6, 5000.0, 35.0, 1.5)
    above = tr38901_rma_loss(d_bp + 1e-6, 5000.0, 35.0, 1.5)
    assert 0.0 <= float(above - below) < 0.01


def test_nlos_is_never_below_los() -> None:
    d = np.geomspace(10.0, 20_000.0, 200)
    assert np.all(
        tr38901_rma_loss(d, 3500.0, 30.0, 1.5, los=False)
        >= tr38901_rma_loss(d, 3500.0, 30.0, 1.5, los=True)
    )
    assert np.all(
        tr38901_uma_loss(d, 3500.0, 30.0, 1.5, los=False)
        >= tr38901_uma_loss(d, 3500.0, 30.0, 1.5, los=True)
    )


# --------------------------------------------------------------------------------------------
# the composite model
# --------------------------------------------------------------------------------------------


def test_hata_composite_picks_the_model_by_frequency() -> None:
    # each model alone outside the blends: Okumura-Hata to 1400 MHz, COST-231 1500-2000 MHz,
    # TR 38.901 NLOS from 3300 MHz
    d = np.array([3000.0, 3000.0, 3000.0, 3000.0, 3000.0, 3000.0, 3000.0])
    f = np.array([900.0, 1400.0, 1500.0, 2000.0, 3300.0, 3500.0, 5000.0])
    env = np.array(["urban", "suburban", "rural", "suburban", "urban", "rural", "suburban"])
    got = hata_loss(d, f, 30.0, 1.5, env=env)
    expected = [
        okumura_hata_loss(3000.0, 900.0, 30.0, 1.5, env="urban"),
        okumura_hata_loss(3000.0, 1400.0, 30.0, 1.5, env="suburban"),
        cost231_hata_loss(3000.0, 1500.0, 30.0, 1.5, env="rural"),
        cost231_hata_loss(3000.0, 2000.0, 30.0, 1.5, env="suburban"),
        tr38901_uma_loss(3000.0, 3300.0, 30.0, 1.5, los=False),
        tr38901_rma_loss(3000.0, 3500.0, 30.0, 1.5, los=False),
        tr38901_rma_loss(3000.0, 5000.0, 30.0, 1.5, los=False),
    ]
    np.testing.assert_allclose(got, np.array(expected, dtype=float), rtol=0, atol=1e-9)


def test_hata_composite_blends_halfway_at_the_geometric_mean_of_a_blend() -> None:
    # w = log(f / f_from) / log(f_to / f_from) is 1/2 at f = sqrt(f_from * f_to)
    for (low, high), lower, upper in (
        (
            HATA_BLEND_MHZ,
            lambda f: okumura_hata_loss(4000.0, f, 30.0, 1.5, env="rural"),
            lambda f: cost231_hata_loss(4000.0, f, 30.0, 1.5, env="rural"),
        ),
        (
            TR38901_BLEND_MHZ,
            lambda f: cost231_hata_loss(4000.0, f, 30.0, 1.5, env="rural"),
            lambda f: tr38901_rma_loss(4000.0, f, 30.0, 1.5, los=False),
        ),
    ):
        f = math.sqrt(low * high)
        expected = (float(lower(f)) + float(upper(f))) / 2
        assert float(hata_loss(4000.0, f, 30.0, 1.5, env="rural")) == pytest.approx(
            expected, abs=1e-9
        )
    assert HATA_BLEND_MHZ == (1400.0, 1500.0)
    assert TR38901_BLEND_MHZ == (2000.0, 3300.0)


def test_hata_composite_has_no_cliff_in_frequency() -> None:
    # No step of 10 MHz in 450-6000 MHz moves the loss by more than 1 dB, at any distance
    # (10 m to 100 km), environment or mast height. The old step switch moved rural loss at
    # 3 km by 23.7 dB between 2000 and 2000.1 MHz.
    d = np.geomspace(10.0, 100_000.0, 120)[:, None]
    f = np.arange(450.0, 6000.0 + 0.5, 1.0)[None, :]
    for env in ENVIRONMENTS:
        for h_tx in (10.0, 30.0, 150.0):
            loss = hata_loss(d, f, h_tx, 1.5, env=env)
            step = np.abs(loss[:, 10:] - loss[:, :-10])
            assert float(step.max()) <= 1.0, (env, h_tx)
    at_3km = hata_loss(3000.0, np.array([2000.0, 2000.1]), 30.0, 1.5, env="rural")
    assert abs(float(at_3km[1] - at_3km[0])) < 0.01


def test_hata_composite_is_never_below_free_space() -> None:
    # 30 m from a 30 m mast at 2140 MHz: the slant path is hypot(30, 28.5) = 41.379 m, free
    # space 32.4478 + 20 log10(2140) + 20 log10(0.041379) = 71.39 dB (ITU-R P.525), while
    # COST-231 with the open-area correction extrapolates to about 52 dB there.
    assert float(cost231_hata_loss(30.0, 2140.0, 30.0, 1.5, env="rural")) < 60.0
    loss = float(hata_loss(30.0, 2140.0, 30.0, 1.5, env="rural"))
    assert loss == pytest.approx(71.39, abs=0.01)
    assert loss == pytest.approx(float(free_space_loss(math.hypot(30.0, 28.5), 2140.0)))
    d = np.geomspace(1.0, 100_000.0, 300)[:, None]
    f = np.array([450.0, 900.0, 1800.0, 2140.0, 2600.0, 3500.0, 6000.0])[None, :]
    for env in ENVIRONMENTS:
        loss_grid = hata_loss(d, f, 30.0, 1.5, env=env)
        assert np.all(loss_grid >= free_space_loss(np.hypot(d, 28.5), f) - 1e-9)


def test_hata_composite_default_env_is_rural_and_scalar_env_broadcasts() -> None:
    d = np.array([[1000.0], [5000.0]])
    f = np.array([900.0, 1800.0, 3500.0])
    got = hata_loss(d, f, 30.0, 1.5)
    assert got.shape == (2, 3)
    np.testing.assert_array_equal(got, hata_loss(d, f, 30.0, 1.5, env="rural"))
    assert float(got[1, 0]) == pytest.approx(
        float(okumura_hata_loss(5000.0, 900.0, 30.0, 1.5, env="rural"))
    )


# --------------------------------------------------------------------------------------------
# outside the validity ranges: extrapolation, never clipping or NaN
# --------------------------------------------------------------------------------------------


def test_hata_family_extrapolates_in_distance() -> None:
    # slope (44.9 - 6.55 log10 30) = 35.2249 dB/decade holds below 1 km and beyond 20 km
    d = np.array([10.0, 1000.0, 20_000.0, 200_000.0])
    for model in (okumura_hata_loss, cost231_hata_loss):
        loss = model(d, 1000.0, 30.0, 1.5)
        assert np.all(np.isfinite(loss))
        assert float(loss[1] - loss[0]) == pytest.approx(2 * 35.2249, abs=1e-3)
        assert float(loss[3] - loss[2]) == pytest.approx(35.2249, abs=1e-3)


def test_okumura_hata_extrapolates_in_frequency() -> None:
    # hm = 1.5: a(hm) = 0.09 log f - 0.25, so L(3000) - L(1500) = (26.16 - 0.09) log10(2)
    #   = 7.8480 dB: the formula goes on past 1500 MHz, unclipped.
    diff = okumura_hata_loss(5000.0, 3000.0, 30.0, 1.5) - okumura_hata_loss(
        5000.0, 1500.0, 30.0, 1.5
    )
    assert float(diff) == pytest.approx(26.07 * math.log10(2), abs=1e-3)


def test_rma_nlos_extrapolates_beyond_5_km() -> None:
    # NLOS' slope in log d3D is 43.42 - 3.1 log10(35) = 38.6334 dB/decade (LOS stays below)
    d = np.array([50_000.0, 500_000.0])
    loss = tr38901_rma_loss(d, 3500.0, 35.0, 1.5, los=False)
    d3d = np.hypot(d, 33.5)
    assert float(loss[1] - loss[0]) == pytest.approx(
        38.6334 * math.log10(d3d[1] / d3d[0]), abs=1e-3
    )


def test_nan_propagates() -> None:
    loss = hata_loss(np.array([np.nan, 1000.0]), np.array([900.0, np.nan]), 30.0, 1.5)
    assert np.isnan(loss).all()


# --------------------------------------------------------------------------------------------
# invalid inputs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.0, 900.0, 30.0, 1.5), "distance_m"),
        ((-5.0, 900.0, 30.0, 1.5), "distance_m"),
        ((1000.0, -900.0, 30.0, 1.5), "freq_mhz"),
        ((1000.0, 0.0, 30.0, 1.5), "freq_mhz"),
        ((1000.0, 900.0, 0.0, 1.5), "h_tx_m"),
        ((1000.0, 900.0, 30.0, -1.0), "h_rx_m"),
    ],
)
def test_invalid_numbers_raise(args: tuple[float, float, float, float], match: str) -> None:
    for model in (
        okumura_hata_loss,
        cost231_hata_loss,
        tr38901_rma_loss,
        tr38901_uma_loss,
        hata_loss,
    ):
        with pytest.raises(ValueError, match=match):
            model(*args)


def test_invalid_free_space_raises() -> None:
    with pytest.raises(ValueError, match="distance_m"):
        free_space_loss(np.array([100.0, 0.0]), 900.0)
    with pytest.raises(ValueError, match="freq_mhz"):
        free_space_loss(100.0, -1.0)


def test_unknown_env_raises() -> None:
    with pytest.raises(ValueError, match="unknown env 'forest'"):
        okumura_hata_loss(1000.0, 900.0, 30.0, 1.5, env="forest")
    with pytest.raises(ValueError, match="unknown env 'Urban'"):
        cost231_hata_loss(1000.0, 1800.0, 30.0, 1.5, env="Urban")
    with pytest.raises(ValueError, match="unknown env 'dense'"):
        hata_loss([1000.0, 2000.0], 900.0, 30.0, 1.5, env=["urban", "dense"])


def test_large_city_only_in_urban() -> None:
    with pytest.raises(ValueError, match="large_city"):
        okumura_hata_loss(1000.0, 900.0, 30.0, 1.5, env="suburban", large_city=True)
    with pytest.raises(ValueError, match="large_city"):
        cost231_hata_loss(1000.0, 1800.0, 30.0, 1.5, env="rural", large_city=True)


def test_invalid_street_parameters_raise() -> None:
    with pytest.raises(ValueError, match="building_height_m"):
        tr38901_rma_loss(1000.0, 3500.0, 30.0, 1.5, building_height_m=0.0)
    with pytest.raises(ValueError, match="street_width_m"):
        tr38901_rma_loss(1000.0, 3500.0, 30.0, 1.5, los=False, street_width_m=-3.0)


def test_incompatible_shapes_raise() -> None:
    with pytest.raises(ValueError):
        hata_loss(np.ones(3) * 1000.0, np.ones(4) * 900.0, 30.0, 1.5)


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------

ENVS = st.sampled_from(["urban", "suburban", "rural"])


@given(
    d1=st.floats(1.0, 100_000.0),
    ratio=st.floats(1.001, 100.0),
    f=st.floats(100.0, 30_000.0),
    h_tx=st.floats(10.0, 150.0),
    h_rx=st.floats(1.0, 10.0),
    h_bldg=st.floats(5.0, 50.0),
    env=ENVS,
)
def test_loss_increases_with_distance(
    d1: float, ratio: float, f: float, h_tx: float, h_rx: float, h_bldg: float, env: str
) -> None:
    d = np.array([d1, d1 * ratio])
    losses = [
        free_space_loss(d, f),
        okumura_hata_loss(d, f, h_tx, h_rx, env=env),
        cost231_hata_loss(d, f, h_tx, h_rx, env=env),
        tr38901_rma_loss(d, f, h_tx, h_rx, building_height_m=h_bldg),
        tr38901_rma_loss(d, f, h_tx, h_rx, los=False, building_height_m=h_bldg),
        tr38901_uma_loss(d, f, h_tx, h_rx),
        tr38901_uma_loss(d, f, h_tx, h_rx, los=False),
        hata_loss(d, f, h_tx, h_rx, env=env),
    ]
    for loss in losses:
        assert np.all(np.isfinite(loss))
        assert loss[1] > loss[0]


@given(
    rows=st.integers(1, 4),
    cols=st.integers(1, 4),
    env=st.lists(ENVS, min_size=1, max_size=1),
)
def test_broadcasting_shapes(rows: int, cols: int, env: list[str]) -> None:
    d = np.linspace(500.0, 5000.0, rows)[:, None]
    f = np.linspace(700.0, 3700.0, cols)[None, :]
    h_tx = np.full((1, cols), 30.0)
    for loss in (
        free_space_loss(d, f),
        okumura_hata_loss(d, f, h_tx, 1.5),
        cost231_hata_loss(d, f, h_tx, 1.5),
        tr38901_rma_loss(d, f, h_tx, 1.5),
        tr38901_uma_loss(d, f, h_tx, 1.5, los=False),
        hata_loss(d, f, h_tx, 1.5, env=np.array(env * cols)),
    ):
        assert loss.shape == (rows, cols)
        assert loss.dtype == np.float64
    # each element equals the scalar call
    grid = hata_loss(d, f, h_tx, 1.5, env=env[0])
    corner = hata_loss(float(d[-1, 0]), float(f[0, -1]), 30.0, 1.5, env=env[0])
    assert float(grid[-1, -1]) == float(corner)


def test_scalar_inputs_give_a_0d_array() -> None:
    loss = hata_loss(1000.0, 900.0, 30.0, 1.5)
    assert isinstance(loss, np.ndarray)
    assert loss.shape == ()
