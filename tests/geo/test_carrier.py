"""EIRP per resource element from a site list's total EIRP: tables, defaults, precedence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hatangso.geo.carrier import (
    DEFAULT_BANDWIDTH_MHZ,
    LTE_RESOURCE_BLOCKS,
    eirp_re_dbm,
    eirp_re_from_total_dbm,
    resource_elements,
)

NAN = float("nan")


def test_lte_subcarriers_are_twelve_per_block_of_ts_36_101() -> None:
    # TS 36.101 Table 5.6-1: 6, 15, 25, 50, 75, 100 blocks for 1.4 ... 20 MHz.
    widths = [1.4, 3.0, 5.0, 10.0, 15.0, 20.0]
    assert resource_elements("4G", widths).tolist() == [72, 180, 300, 600, 900, 1200]
    assert dict(LTE_RESOURCE_BLOCKS) == dict(zip(widths, [6, 15, 25, 50, 75, 100], strict=True))


def test_nr_subcarriers_at_30_khz_and_120_khz() -> None:
    # TS 38.101-1 Table 5.3.2-1 at 30 kHz: 273 blocks in 100 MHz, 106 in 40 MHz, 51 in 20.
    got = resource_elements("5G", [100.0, 40.0, 20.0], freq_mhz=3500.0)
    assert got.tolist() == [12 * 273, 12 * 106, 12 * 51]
    # TS 38.101-2 Table 5.3.2-1 at 120 kHz (a 26 GHz carrier): 264 blocks in 400 MHz.
    assert resource_elements("5G", 400.0, freq_mhz=26_000.0).tolist() == 12 * 264


def test_default_bandwidth_by_technology() -> None:
    assert dict(DEFAULT_BANDWIDTH_MHZ) == {"4G": 20.0, "5G": 100.0}
    assert resource_elements(["4G", "5G"], NAN).tolist() == [1200.0, 3276.0]


def test_2g_and_3g_have_no_resource_elements() -> None:
    assert np.isnan(resource_elements(["2G", "3G"], [0.2, 5.0])).all()
    assert np.isnan(eirp_re_from_total_dbm(60.0, tech="3G", bandwidth_mhz=5.0))


def test_20_mhz_lte_carrier_hand_derived() -> None:
    # 46 dBm (40 W) into a 17 dBi panel, less 1.2 dB of jumper: 61.8 dBm EIRP in all, spread
    # over 1,200 subcarriers: 61.8 - 10 log10(1200) = 61.8 - 30.79 = 31.01 dBm each.
    assert 10 * math.log10(1200) == pytest.approx(30.7918, abs=1e-4)
    got = float(eirp_re_from_total_dbm(61.8, tech="4G", bandwidth_mhz=20.0))
    assert got == pytest.approx(31.0082, abs=1e-4)
    # with no bandwidth given the 4G default (20 MHz) gives the same
    assert float(eirp_re_from_total_dbm(61.8, tech="4G")) == pytest.approx(got, abs=1e-12)


def test_100_mhz_nr_carrier_hand_derived() -> None:
    # 200 W (53 dBm) massive-MIMO radio, 24 dBi of array gain, 1 dB of losses: 76 dBm EIRP.
    # 273 blocks x 12 = 3,276 subcarriers: 10 log10(3276) = 35.153; 76 - 35.153 = 40.847.
    got = float(eirp_re_from_total_dbm(76.0, tech="5G", bandwidth_mhz=100.0, freq_mhz=3500.0))
    assert got == pytest.approx(40.8466, abs=1e-4)
    # A 10 MHz LTE carrier of the same total has half the subcarriers of 20 MHz: 3 dB more each.
    ten = float(eirp_re_from_total_dbm(61.8, tech="4G", bandwidth_mhz=10.0))
    assert ten - float(eirp_re_from_total_dbm(61.8, tech="4G")) == pytest.approx(3.0103, abs=1e-4)


def test_per_element_value_wins_over_the_total() -> None:
    got = eirp_re_dbm(
        tech="4G",
        eirp_dbm=[61.8, 61.8, NAN, NAN],
        eirp_re_dbm=[NAN, 25.0, 28.0, NAN],
        bandwidth_mhz=20.0,
    )
    assert got[0] == pytest.approx(31.0082, abs=1e-4)
    assert got[1:3].tolist() == [25.0, 28.0]
    assert np.isnan(got[3])


def test_off_table_bandwidths_are_interpolated_or_scaled() -> None:
    # 12 MHz lies between 10 MHz (50 blocks) and 15 MHz (75): 60 blocks.
    assert resource_elements("4G", 12.0).tolist() == 720.0
    # 200 MHz at 30 kHz is twice the 100 MHz entry.
    assert resource_elements("5G", 200.0).tolist() == 2 * 3276.0


@given(st.floats(1.4, 400.0), st.floats(1.0, 50.0), st.sampled_from(["4G", "5G"]))
def test_a_wider_channel_never_raises_the_power_per_element(
    width: float, extra: float, tech: str
) -> None:
    narrow, wide = eirp_re_from_total_dbm(60.0, tech=tech, bandwidth_mhz=[width, width + extra])
    assert wide <= narrow + 1e-9
