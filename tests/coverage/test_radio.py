"""Tests of hatangso.coverage.radio: defaults, received power, reach, beams and footprints."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from hatangso.coverage.propagation import hata_loss, okumura_hata_loss
from hatangso.coverage.radio import (
    DEFAULT_EIRP_DBM,
    DEFAULT_FREQ_MHZ,
    DEFAULT_RADIUS_M,
    HORIZON_K_M,
    MAX_REACH_M,
    RADIUS_PATTERN_SLOPE_DB,
    SECTOR_MAX_ATTENUATION_DB,
    bearing_deg,
    footprints,
    hata_pattern_reach_m,
    in_beam,
    radius_pattern_reach_m,
    received_power_dbm,
    resolve_site_radio,
    sector_attenuation_db,
    sector_gain_db,
    site_reach_m,
)
from hatangso.geo.errors import InputError

NAN = float("nan")


# --------------------------------------------------------------------------------------------
# defaults
# --------------------------------------------------------------------------------------------


def test_resolve_fills_every_default() -> None:
    radio = resolve_site_radio(
        tech=["4G", "5g", None, ""],
        env=["Urban ", None, "suburban", ""],
        height_m=[NAN, 45.0, NAN, 20.0],
        eirp_dbm=[NAN, NAN, 40.0, NAN],
        freq_mhz=[NAN, NAN, 900.0, 2600.0],
    )
    assert radio.tech.tolist() == ["4G", "5G", "4G", "4G"]
    assert radio.env.tolist() == ["urban", "rural", "suburban", "rural"]
    assert radio.height_m.tolist() == [30.0, 45.0, 30.0, 20.0]
    assert radio.eirp_dbm.tolist() == [32.0, 33.0, 40.0, 32.0]
    assert radio.freq_mhz.tolist() == [1800.0, 3500.0, 900.0, 2600.0]


def test_resolve_rejects_bad_labels_and_numbers() -> None:
    common = {"height_m": NAN, "eirp_dbm": NAN, "freq_mhz": NAN}
    with pytest.raises(ValueError, match=r"unknown tech for site 1: '4G;5G'.*one row per"):
        resolve_site_radio(tech=["4G", "4G;5G"], env="rural", **common)
    with pytest.raises(ValueError, match=r"unknown env for site 0: 'forest'"):
        resolve_site_radio(tech=["4G"], env=["forest"], **common)
    with pytest.raises(ValueError, match="height_m must be a positive number"):
        resolve_site_radio(tech=["4G"], env="rural", height_m=-1.0, eirp_dbm=NAN, freq_mhz=NAN)
    with pytest.raises(ValueError, match="freq_mhz must be a positive number"):
        resolve_site_radio(tech=["5G"], env="rural", height_m=NAN, eirp_dbm=NAN, freq_mhz=0.0)
    with pytest.raises(ValueError, match="one value per site"):
        resolve_site_radio(
            tech=["4G", "5G"], env="rural", height_m=[1.0, 2.0, 3.0], eirp_dbm=NAN, freq_mhz=NAN
        )


# --------------------------------------------------------------------------------------------
# received power
# --------------------------------------------------------------------------------------------


def test_received_power_is_eirp_minus_hata_loss() -> None:
    d = np.array([1000.0, 5000.0, 800.0])
    env = np.array(["urban", "rural", "suburban"])
    freq = np.array([1800.0, 900.0, 3500.0])
    got = received_power_dbm(d, eirp_dbm=32.0, freq_mhz=freq, h_tx_m=30.0, env=env)
    np.testing.assert_allclose(got, 32.0 - hata_loss(d, freq, 30.0, 1.5, env=env), atol=1e-12)
    # 900 MHz rural at 5 km is Okumura-Hata's open area with a 1.5 m handset
    rural = 32.0 - okumura_hata_loss(5000.0, 900.0, 30.0, 1.5, env="rural")
    assert float(got[1]) == pytest.approx(float(rural))


# --------------------------------------------------------------------------------------------
# reach
# --------------------------------------------------------------------------------------------


def test_radius_table_lookup() -> None:
    tech = ["4G", "4G", "4G", "5G", "5G", "5G", None]
    env = ["urban", "suburban", "rural", "urban", "suburban", "rural", None]
    reach = site_reach_m(
        tech=tech,
        model="radius",
        env=env,
        height_m=NAN,
        eirp_dbm=NAN,
        freq_mhz=NAN,
        radius_m=None,
        threshold_dbm=-110.0,
    )
    # the contract's table; the last site defaults to 4G rural
    assert reach.tolist() == [1500.0, 3000.0, 5000.0, 600.0, 1000.0, 2000.0, 5000.0]
    custom = {"4G": {"rural": 7000.0}}
    assert site_reach_m(
        tech=["4G"],
        model="radius",
        env=["rural"],
        height_m=NAN,
        eirp_dbm=NAN,
        freq_mhz=NAN,
        radius_m=custom,
        threshold_dbm=-110.0,
    ).tolist() == [7000.0]
    with pytest.raises(ValueError, match="no entry for 5G/urban"):
        site_reach_m(
            tech=["4G", "5G"],
            model="radius",
            env=["rural", "urban"],
            height_m=NAN,
            eirp_dbm=NAN,
            freq_mhz=NAN,
            radius_m=custom,
            threshold_dbm=-110.0,
        )


def test_default_radius_table_is_the_contract_s() -> None:
    # The contract fixes the 4G and 5G rows; 2G and 3G are rows of their own beside them.
    assert {t: dict(v) for t, v in DEFAULT_RADIUS_M.items() if t in ("4G", "5G")} == {
        "4G": {"urban": 1500, "suburban": 3000, "rural": 5000},
        "5G": {"urban": 600, "suburban": 1000, "rural": 2000},
    }


def _hata_reach(**overrides: object) -> npt.NDArray[np.float64]:
    kwargs: dict[str, object] = {
        "tech": ["4G"],
        "model": "hata",
        "env": ["rural"],
        "height_m": NAN,
        "eirp_dbm": NAN,
        "freq_mhz": NAN,
        "radius_m": None,
        "threshold_dbm": -110.0,
    }
    kwargs.update(overrides)
    reach: npt.NDArray[np.float64] = site_reach_m(**kwargs)  # type: ignore[arg-type]
    return reach


def test_hata_reach_puts_received_power_at_the_threshold() -> None:
    tech = np.array(["4G", "4G", "4G", "5G", "5G", "4G", "4G"])
    env = np.array(["urban", "suburban", "rural", "urban", "rural", "urban", "suburban"])
    height = np.array([30.0, 25.0, 45.0, 20.0, 35.0, 40.0, 30.0])
    freq = np.array([NAN, NAN, 900.0, NAN, 2600.0, 2100.0, 1500.0])
    eirp = np.array([NAN, 35.0, NAN, NAN, 30.0, NAN, NAN])
    threshold = np.array([-110.0, -110.0, -100.0, -105.0, -110.0, -110.0, -95.0])
    reach = _hata_reach(
        tech=tech,
        env=env,
        height_m=height,
        eirp_dbm=eirp,
        freq_mhz=freq,
        threshold_dbm=threshold,
    )
    assert np.all((reach > 0) & (reach < MAX_REACH_M))
    radio = resolve_site_radio(tech=tech, env=env, height_m=height, eirp_dbm=eirp, freq_mhz=freq)
    power = received_power_dbm(
        reach,
        eirp_dbm=radio.eirp_dbm,
        freq_mhz=radio.freq_mhz,
        h_tx_m=radio.height_m,
        env=radio.env,
    )
    np.testing.assert_allclose(power, threshold, atol=0.01)


def test_hata_reach_hand_derived() -> None:
    # Okumura-Hata open area at 900 MHz, hb 30, hm 1.5: L = A + 35.2249 log10(d_km) with
    # A = L(1 km). Max loss 40 - (-100) = 140 dB, so d = 10^((140 - A) / 35.2249) km.
    a = float(okumura_hata_loss(1000.0, 900.0, 30.0, 1.5, env="rural"))
    expected_m = 1000.0 * 10 ** ((140.0 - a) / 35.2249)
    reach = _hata_reach(eirp_dbm=[40.0], freq_mhz=[900.0], threshold_dbm=-100.0, height_m=30.0)
    assert float(reach[0]) == pytest.approx(expected_m, rel=1e-4)


def test_hata_reach_is_capped_at_the_horizon_and_max() -> None:
    # 30 m mast: horizon 4120 (sqrt 30 + sqrt 1.5) = 4120 * 6.701943 = 27 612 m < 35 km;
    # 100 m mast: 4120 * 11.224745 = 46 246 m, so the 35 km maximum applies.
    reach = _hata_reach(
        tech=["4G", "4G"], env=["rural", "rural"], height_m=[30.0, 100.0], eirp_dbm=90.0
    )
    assert reach.tolist() == pytest.approx(
        [HORIZON_K_M * (math.sqrt(30.0) + math.sqrt(1.5)), MAX_REACH_M]
    )
    assert float(reach[0]) == pytest.approx(27_612.0, abs=1.0)


def test_hata_reach_zero_when_nothing_is_served() -> None:
    reach = _hata_reach(eirp_dbm=[-100.0], threshold_dbm=-60.0)
    assert reach.tolist() == [0.0]


def test_reach_defaults_equal_explicit_values() -> None:
    implicit = _hata_reach(tech=["4G", "5G"], env=["urban", "rural"])
    explicit = _hata_reach(
        tech=["4G", "5G"],
        env=["urban", "rural"],
        height_m=30.0,
        eirp_dbm=[DEFAULT_EIRP_DBM["4G"], DEFAULT_EIRP_DBM["5G"]],
        freq_mhz=[DEFAULT_FREQ_MHZ["4G"], DEFAULT_FREQ_MHZ["5G"]],
    )
    np.testing.assert_array_equal(implicit, explicit)
    # 5G at 3.5 GHz reaches less far than 4G at 1.8 GHz in the same place
    assert float(implicit[0]) > 1000.0


def test_site_reach_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="unknown model 'terrain'"):
        _hata_reach(model="terrain")
    with pytest.raises(ValueError, match="threshold_dbm"):
        _hata_reach(threshold_dbm=NAN)
    with pytest.raises(ValueError, match="unknown env"):
        _hata_reach(env=["jungle"])


@settings(max_examples=40, deadline=None)
@given(
    eirp=st.floats(0.0, 60.0),
    extra_db=st.floats(0.5, 20.0),
    height=st.floats(10.0, 80.0),
    env=st.sampled_from(["urban", "suburban", "rural"]),
    tech=st.sampled_from(["4G", "5G"]),
)
def test_more_power_never_shrinks_the_reach(
    eirp: float, extra_db: float, height: float, env: str, tech: str
) -> None:
    reach = _hata_reach(
        tech=[tech, tech], env=[env, env], height_m=height, eirp_dbm=[eirp, eirp + extra_db]
    )
    assert reach[1] >= reach[0]


# --------------------------------------------------------------------------------------------
# bearings and beams
# --------------------------------------------------------------------------------------------


def test_bearing_cardinal_points_and_wrap() -> None:
    x1 = np.array([0.0, 1.0, 0.0, -1.0, 1.0, -1.0, 0.0])
    y1 = np.array([1.0, 0.0, -1.0, 0.0, 1.0, 1.0, 0.0])
    got = bearing_deg(0.0, 0.0, x1, y1)
    np.testing.assert_allclose(got, [0.0, 90.0, 180.0, 270.0, 45.0, 315.0, 0.0])
    assert np.all((got >= 0.0) & (got < 360.0))
    # a hair west of north is just under 360, not negative
    assert float(bearing_deg(0.0, 0.0, -1e-9, 1.0)) == pytest.approx(360.0, abs=1e-6)


def test_in_beam_wraps_across_north() -> None:
    # sector facing 350 with a 60-degree beam covers 320 .. 20 (through 0)
    bearings = np.array([15.0, 30.0, 0.0, 359.9, 320.0, 20.0, 319.0, 21.0, 170.0])
    expected = [True, False, True, True, True, True, False, False, False]
    assert in_beam(bearings, 350.0, 60.0).tolist() == expected


def test_in_beam_omni_cases_and_broadcasting() -> None:
    assert bool(in_beam(180.0, NAN, 65.0))
    assert bool(in_beam(180.0, 0.0, NAN))
    assert bool(in_beam(180.0, 0.0, 360.0))
    grid = in_beam(np.array([[0.0], [90.0]]), np.array([0.0, 90.0, NAN]), 60.0)
    assert grid.tolist() == [[True, False, True], [False, True, True]]
    with pytest.raises(ValueError, match="beamwidth_deg"):
        in_beam(10.0, 0.0, 0.0)


@given(
    bearing=st.floats(0.0, 360.0),
    azimuth=st.floats(0.0, 360.0),
    width=st.floats(1.0, 359.0),
    turns=st.integers(-3, 3),
)
def test_in_beam_is_periodic(bearing: float, azimuth: float, width: float, turns: int) -> None:
    # adding whole turns to the bearing changes nothing (away from the beam's edges)
    off_axis = abs((bearing - azimuth + 180.0) % 360.0 - 180.0)
    if abs(off_axis - width / 2) < 1e-6:
        return
    assert bool(in_beam(bearing + 360.0 * turns, azimuth, width)) == (off_axis <= width / 2)


# --------------------------------------------------------------------------------------------
# the sector pattern
# --------------------------------------------------------------------------------------------


def _attenuation_by_hand(off_axis_deg: npt.ArrayLike, beamwidth_deg: float) -> np.ndarray:
    # TR 36.814 Table A.2.1.1-2: A(phi) = -min(12 (phi / phi_3dB)^2, 25)
    phi = np.asarray(off_axis_deg, dtype=float)
    return np.minimum(12.0 * (phi / beamwidth_deg) ** 2, 25.0)


def test_pattern_reference_values() -> None:
    assert SECTOR_MAX_ATTENUATION_DB == 25.0
    # A(0) = 0, A(phi3dB / 2) = -3 dB, A(phi3dB) = -12 dB, A(large) = -25 dB
    att = sector_attenuation_db(np.array([0.0, 32.5, 65.0, 120.0, 180.0]), 65.0)
    np.testing.assert_allclose(att, [0.0, 3.0, 12.0, 25.0, 25.0], atol=1e-12)
    # the flat part starts at phi3dB sqrt(25 / 12) = 93.8 degrees for a 65-degree beam
    edge = 65.0 * math.sqrt(25.0 / 12.0)
    assert float(sector_attenuation_db(np.array(edge), 65.0)) == pytest.approx(25.0)
    assert float(sector_attenuation_db(np.array(edge - 1.0), 65.0)) < 25.0
    # degrees or radians: only the ratio counts
    assert float(sector_attenuation_db(math.radians(30.0), math.radians(65.0))) == pytest.approx(
        12.0 * (30.0 / 65.0) ** 2
    )


def test_gain_is_minus_the_attenuation_off_the_wrapped_bearing() -> None:
    # a sector facing 350 degrees: 10 degrees off at 0 and 340, 180 off at 170
    gain = sector_gain_db([0.0, 340.0, 170.0, 382.5], 350.0, 65.0)
    np.testing.assert_allclose(gain, -_attenuation_by_hand([10.0, 10.0, 180.0, 32.5], 65.0))
    assert gain[3] == pytest.approx(-3.0)
    # omni (no azimuth, no beamwidth, or 360 degrees and more): no gain anywhere, not -0.0
    omni = sector_gain_db(np.array([[0.0], [180.0]]), np.array([NAN, 0.0, 0.0]), [65.0, NAN, 360.0])
    assert omni.shape == (2, 3)
    assert np.all(omni == 0.0) and not np.any(np.signbit(omni))
    with pytest.raises(InputError, match="beamwidth_deg"):
        sector_gain_db(10.0, 0.0, 0.0)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(-720.0, 720.0),
    st.floats(0.0, 360.0),
    st.floats(1.0, 359.0),
)
def test_gain_is_bounded_and_symmetric(bearing: float, azimuth: float, width: float) -> None:
    g = float(sector_gain_db(bearing, azimuth, width))
    mirrored = float(sector_gain_db(2 * azimuth - bearing, azimuth, width))
    assert -25.0 <= g <= 0.0
    assert g == pytest.approx(mirrored, abs=1e-9)


def test_radius_reach_shrinks_by_the_distance_slope() -> None:
    assert RADIUS_PATTERN_SLOPE_DB == 35.0
    # boresight: the table's reach; the 3 dB edge: 10^(-3/35) = 0.82089 of it; behind:
    # 10^(-25/35) = 0.19307 of it
    got = radius_pattern_reach_m(5000.0, [0.0, -3.0, -25.0])
    np.testing.assert_allclose(got, [5000.0, 4104.5, 965.35], atol=0.1)
    # three 65-degree sectors: a point 60 degrees off two boresights loses
    # 12 (60 / 65)^2 = 10.22 dB, which leaves 5000 * 10^(-10.22 / 35) = 2551.7 m of reach
    gain = sector_gain_db(60.0, [0.0, 120.0, 240.0], 65.0)
    np.testing.assert_allclose(gain[:2], -10.2249, atol=1e-4)
    assert gain[2] == -25.0
    assert float(radius_pattern_reach_m(5000.0, gain[0])) == pytest.approx(2551.7, abs=0.1)


def test_hata_reach_off_boresight_solves_the_link_budget() -> None:
    # EIRP + A - L(r) = threshold at the reach toward each gain
    gains = np.array([0.0, -3.0, -10.0, -25.0])
    r = hata_pattern_reach_m(
        gains, eirp_dbm=32.0, freq_mhz=1800.0, height_m=30.0, env="rural", threshold_dbm=-110.0
    )
    boresight = site_reach_m(
        tech=["4G"],
        model="hata",
        env=["rural"],
        height_m=30.0,
        eirp_dbm=32.0,
        freq_mhz=1800.0,
        radius_m=None,
        threshold_dbm=-110.0,
    )
    assert r[0] == pytest.approx(boresight[0], rel=1e-12)
    power = 32.0 + gains - hata_loss(r, 1800.0, 30.0, 1.5, env="rural")
    np.testing.assert_allclose(power, -110.0, atol=1e-6)
    # Hata's 44.9 - 6.55 log10(30) = 35.2 dB per decade: 3 dB is 0.822 of the reach
    assert r[1] / r[0] == pytest.approx(10 ** (-3.0 / 35.22), rel=1e-3)
    # per site and per direction at once: (2, 1) sites x (1, 3) gains
    grid = hata_pattern_reach_m(
        np.array([[0.0, -3.0, -25.0]]),
        eirp_dbm=np.array([[32.0], [20.0]]),
        freq_mhz=1800.0,
        height_m=30.0,
        env=np.array([["rural"], ["urban"]]),
        threshold_dbm=-110.0,
    )
    assert grid.shape == (2, 3)
    assert np.all(np.diff(grid, axis=1) < 0)


# --------------------------------------------------------------------------------------------
# footprints
# --------------------------------------------------------------------------------------------


def _pattern_area(reach: float, beamwidth: float) -> float:
    """(1/2) integral of r(t)^2 over the circle, r(t) = reach 10^(A(t) / 35), numerically."""
    fine = np.linspace(0.0, 180.0, 200_001)
    return math.pi * float(
        np.mean((reach * 10 ** (-_attenuation_by_hand(fine, beamwidth) / 35)) ** 2)
    )


def _vertices_on_the_pattern(
    shape: shapely.Polygon, x: float, y: float, reach: float, azimuth: float, beamwidth: float
) -> None:
    """Every vertex lies at the radius rule's reach towards its own bearing."""
    xy = np.asarray(shape.exterior.coords)
    bearing = np.degrees(np.arctan2(xy[:, 0] - x, xy[:, 1] - y))
    off = np.abs((bearing - azimuth + 180.0) % 360.0 - 180.0)
    expected = reach * 10 ** (-_attenuation_by_hand(off, beamwidth) / 35.0)
    np.testing.assert_allclose(np.hypot(xy[:, 0] - x, xy[:, 1] - y), expected, rtol=1e-9)


def test_sector_footprint_follows_the_pattern() -> None:
    # radius rule: r(t) = R 10^(A(t) / 35) at every vertex
    reach, bw = 1000.0, 65.0
    (shape,) = footprints([500.0], [200.0], [reach], [90.0], [bw])
    assert shape.is_valid
    _vertices_on_the_pattern(shape, 500.0, 200.0, reach, 90.0, bw)
    # 64 steps across the lobe (+-93.8 degrees), 32 round the back: 96 + 1 points, closed
    assert len(shape.exterior.coords) == 3 * 32 + 1
    # the sampled outline is within 0.3 % of the continuous one
    assert shape.area == pytest.approx(_pattern_area(reach, bw), rel=3e-3)
    assert shape.area < _pattern_area(reach, bw)  # inscribed
    # facing east: the farthest vertex is at boresight, the outline reaches 0.193 R behind
    xs = np.asarray(shape.exterior.coords)[:, 0]
    assert xs.max() == pytest.approx(500.0 + reach)
    assert xs.min() == pytest.approx(500.0 - reach * 10 ** (-25 / 35), rel=1e-9)
    assert shape.centroid.y == pytest.approx(200.0, abs=1e-6)


@pytest.mark.parametrize("beamwidth", [10.0, 30.0, 90.0, 120.0, 200.0])
def test_footprint_area_for_any_beam(beamwidth: float) -> None:
    (shape,) = footprints([0.0], [0.0], [1000.0], [33.0], [beamwidth])
    assert shape.is_valid
    _vertices_on_the_pattern(shape, 0.0, 0.0, 1000.0, 33.0, beamwidth)
    assert shape.area == pytest.approx(_pattern_area(1000.0, beamwidth), rel=3e-3)


def test_footprint_agrees_with_the_pattern_reach() -> None:
    # sector facing 350 degrees: 15 degrees off (at 5 degrees) reaches
    # 1000 * 10^(-12 (15 / 60)^2 / 35) = 1000 * 10^(-0.75 / 35) = 951.9 m; 40 off (at 30
    # degrees) 1000 * 10^(-5.333 / 35) = 704.1 m
    (shape,) = footprints([0.0], [0.0], [1000.0], [350.0], [60.0], segments=360)
    reach = radius_pattern_reach_m(1000.0, sector_gain_db([5.0, 30.0], 350.0, 60.0))
    np.testing.assert_allclose(reach, [951.9, 704.1], atol=0.1)
    for bearing, r in zip([5.0, 30.0], reach, strict=True):
        t = math.radians(bearing)
        inside = shapely.points(0.99 * r * math.sin(t), 0.99 * r * math.cos(t))
        outside = shapely.points(1.01 * r * math.sin(t), 1.01 * r * math.cos(t))
        assert shapely.contains(shape, inside) and not shapely.contains(shape, outside)


def test_footprint_takes_the_reach_it_is_given() -> None:
    # the hata model hands its own reach per direction; rows are the sectors' input rows
    seen: list[np.ndarray] = []

    def reach_at(rows: np.ndarray, gain: np.ndarray) -> np.ndarray:
        seen.append(rows)
        return np.where(gain > -3.0, 800.0, 0.0)

    polys = footprints(
        [0.0, 5000.0, 10_000.0],
        [0.0] * 3,
        [900.0] * 3,
        [NAN, 0.0, 180.0],
        [NAN, 65.0, 65.0],
        reach_at=reach_at,
    )
    assert seen[0].tolist() == [1, 2]
    # inside the 3 dB beam 800 m, elsewhere the 1 m floor: nearly a 65-degree wedge of 800 m
    wedge_area = math.pi * 800.0**2 * 65.0 / 360.0
    assert polys[1].area == pytest.approx(wedge_area, rel=0.05)
    assert polys[2].centroid.y < 0 < polys[1].centroid.y
    assert polys[1].is_valid and polys[2].is_valid


def test_discs_empties_and_order() -> None:
    polys = footprints(
        [0.0, 100.0, 200.0, 300.0, 400.0],
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [500.0, 0.0, NAN, 500.0, 250.0],
        [NAN, 90.0, NAN, 45.0, 0.0],
        [NAN, 65.0, NAN, 90.0, 400.0],
    )
    assert polys.dtype == object
    assert len(polys) == 5
    # disc: a 32-gon, area 16 r^2 sin(2 pi / 32) = 0.9936 pi r^2
    assert polys[0].area == pytest.approx(16 * 500.0**2 * math.sin(2 * math.pi / 32))
    assert polys[1].is_empty and polys[2].is_empty
    _vertices_on_the_pattern(polys[3], 300.0, 0.0, 500.0, 45.0, 90.0)
    assert polys[3].area == pytest.approx(_pattern_area(500.0, 90.0), rel=3e-3)
    # beamwidth >= 360 is omni: a disc centred on its own site
    assert polys[4].centroid.x == pytest.approx(400.0, abs=1e-6)
    assert polys[4].area == pytest.approx(16 * 250.0**2 * math.sin(2 * math.pi / 32))


def test_footprints_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="reach_m"):
        footprints([0.0], [0.0], [-1.0], [NAN], [NAN])
    with pytest.raises(ValueError, match="segments"):
        footprints([0.0], [0.0], [1.0], [NAN], [NAN], segments=2)
    with pytest.raises(ValueError, match="one value per site"):
        footprints([0.0, 1.0], [0.0], [1.0, 2.0, 3.0], [NAN], [NAN])


# --------------------------------------------------------------------------------------------
# total EIRP (a site list's eirp_dbm) to EIRP per resource element
# --------------------------------------------------------------------------------------------


def test_resolve_spreads_the_total_eirp_over_the_subcarriers() -> None:
    radio = resolve_site_radio(
        tech=["4G", "5G", "4G", "4G"],
        env="rural",
        height_m=NAN,
        eirp_dbm=[NAN, NAN, 25.0, NAN],
        freq_mhz=NAN,
        total_eirp_dbm=[61.8, 76.0, 61.8, NAN],
        bandwidth_mhz=[20.0, NAN, 20.0, 10.0],
    )
    # 61.8 - 10 log10(1200) = 31.008; 76 - 10 log10(3276) = 40.847 (100 MHz, 30 kHz, by
    # default); a per-element value given wins; neither given: the 4G default.
    np.testing.assert_allclose(radio.eirp_dbm, [31.0082, 40.8466, 25.0, 32.0], atol=1e-4)


def test_reach_from_a_total_equals_the_reach_from_its_per_element_value() -> None:
    from_total = _hata_reach(tech=["4G", "5G"], env=["rural", "urban"], total_eirp_dbm=[61.8, 76.0])
    per_element = _hata_reach(
        tech=["4G", "5G"],
        env=["rural", "urban"],
        eirp_dbm=[61.8 - 10 * math.log10(1200), 76.0 - 10 * math.log10(3276)],
    )
    np.testing.assert_allclose(from_total, per_element, rtol=1e-12)
    # and a total of 61.8 dBm reaches less far than 61.8 dBm per element would
    assert float(from_total[0]) < float(_hata_reach(eirp_dbm=[61.8])[0])


def test_an_infinite_total_names_the_eirp_column() -> None:
    with pytest.raises(ValueError, match=r"column 'eirp_dbm'.*infinity.*eirp_re_dbm"):
        resolve_site_radio(
            tech=["4G"], env="rural", height_m=NAN, eirp_dbm=NAN, freq_mhz=NAN,
            total_eirp_dbm=math.inf,
        )  # fmt: skip
