"""EIRP as a site list writes it, and per resource element as the link budget needs it.

An operator's site list gives the *total* EIRP of a sector's carrier (``eirp_dbm``): the power
of the whole channel plus the antenna gain. The link budget compares received power with an
RSRP threshold, and RSRP is a power per resource element (one 15 or 30 kHz subcarrier for one
OFDM symbol), so it needs the EIRP per resource element (``eirp_re_dbm``). Spread evenly over
the ``N_RE`` subcarriers of the carrier,

``EIRP_RE = EIRP_total - 10 log10(N_RE)``, ``N_RE = 12 N_RB``

with ``N_RB`` the resource blocks of the channel bandwidth and numerology (12 subcarriers a
block, 3GPP TS 36.211 section 6.2.3 and TS 38.211 section 4.4.4.1). The evenly spread power
ignores reference-signal boosting (a few dB at most); a site list that knows the
reference-signal power writes ``eirp_re_dbm`` directly, and that value is used as given.

The tables and ranges live here, in ``geo``, because both the validation of a site list
(:mod:`hatangso.geo.validate`) and the link budget (:mod:`hatangso.coverage.radio`) need them,
and ``coverage`` depends on ``geo``, never the reverse.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "BANDWIDTH_RANGE_MHZ",
    "DEFAULT_BANDWIDTH_MHZ",
    "EIRP_RE_RANGE_DBM",
    "EIRP_TOTAL_RANGE_DBM",
    "FR1_MAX_MHZ",
    "LTE_RESOURCE_BLOCKS",
    "NARROW_BANDWIDTH_MIN_MHZ",
    "NR_FR1_30KHZ_RESOURCE_BLOCKS",
    "NR_FR2_120KHZ_RESOURCE_BLOCKS",
    "NR_TDD_DOWNLINK_SHARE",
    "eirp_re_dbm",
    "eirp_re_from_total_dbm",
    "resource_elements",
]

FloatArray = npt.NDArray[np.float64]

#: LTE resource blocks by channel bandwidth in MHz (15 kHz subcarriers, 180 kHz a block):
#: 3GPP TS 36.101, Table 5.6-1 "Transmission bandwidth configuration N_RB in E-UTRA channel
#: bandwidths". 20 MHz: 100 blocks, 1,200 subcarriers.
LTE_RESOURCE_BLOCKS: Final[Mapping[float, int]] = MappingProxyType(
    {1.4: 6, 3.0: 15, 5.0: 25, 10.0: 50, 15.0: 75, 20.0: 100}
)

#: NR resource blocks by channel bandwidth in MHz at 30 kHz subcarrier spacing, the numerology
#: of the 2.6 GHz (n41) and 3.5 GHz (n78) carriers: 3GPP TS 38.101-1, Table 5.3.2-1 "Maximum
#: transmission bandwidth configuration N_RB" (FR1). 100 MHz: 273 blocks, 3,276 subcarriers.
NR_FR1_30KHZ_RESOURCE_BLOCKS: Final[Mapping[float, int]] = MappingProxyType(
    {
        5.0: 11,
        10.0: 24,
        15.0: 38,
        20.0: 51,
        25.0: 65,
        30.0: 78,
        40.0: 106,
        50.0: 133,
        60.0: 162,
        70.0: 189,
        80.0: 217,
        90.0: 245,
        100.0: 273,
    }
)

#: NR resource blocks by channel bandwidth in MHz at 120 kHz subcarrier spacing, for
#: millimetre-wave carriers (above :data:`FR1_MAX_MHZ`): 3GPP TS 38.101-2, Table 5.3.2-1 (FR2).
NR_FR2_120KHZ_RESOURCE_BLOCKS: Final[Mapping[float, int]] = MappingProxyType(
    {50.0: 32, 100.0: 66, 200.0: 132, 400.0: 264}
)

#: Upper edge of NR frequency range 1 in MHz (3GPP TS 38.101-1, Table 5.1-1: 410-7125 MHz).
#: A 5G carrier above it is read with the FR2 table.
FR1_MAX_MHZ: Final = 7125.0

#: Channel bandwidth of a site that gives none, in MHz, by technology.
#:
#: 4G: 20 MHz, the widest LTE channel (TS 36.101 Table 5.6-1), 1,200 subcarriers; 5G:
#: 100 MHz, the widest FR1 channel at 30 kHz (TS 38.101-1 Table 5.3.2-1), 3,276
#: subcarriers, the carrier of a 3.5 GHz (n78) licence block. These are the carriers on which
#: :data:`hatangso.coverage.radio.DEFAULT_EIRP_DBM` is worked out. 2G and 3G have none here:
#: a GSM carrier (200 kHz) and a UMTS carrier (5 MHz) have no resource elements; their link
#: budget compares the carrier's own or its pilot's power
#: (:func:`hatangso.coverage.radio.reference_eirp_dbm`). NB-IoT and LTE-M ride on an LTE
#: carrier and take 4G's.
DEFAULT_BANDWIDTH_MHZ: Final[Mapping[str, float]] = MappingProxyType({"4G": 20.0, "5G": 100.0})

#: Share of a 5G TDD carrier's time that carries the downlink.
#:
#: A TDD carrier sends and receives on one channel in turn, so a handset gets the downlink only
#: in the downlink slots and symbols of the frame. The 3.5 GHz networks commonly use the
#: ``DDDSU`` pattern at 30 kHz (2.5 ms: three downlink slots, one special slot, one uplink
#: slot), the frame structure the GSMA sets out for the 3.5 GHz range ("5G TDD
#: Synchronisation: Guidelines and Recommendations for the Coexistence of TDD Networks in the
#: 3.5 GHz Range", April 2020), with a special slot of 10 downlink, 2 guard and 2 uplink
#: symbols (``10:2:2``; slot formats of 3GPP TS 38.213, section 11.1.1, Table 11.1.1-1).
#: The downlink thus has ``(3 x 14 + 10) / (5 x 14) = 52 / 70 = 0.743`` of the symbols.
#: Every 5G carrier is read as TDD: the engine's default carrier is n78 (3.5 GHz) and the
#: mid-band 5G bands (n41, n77, n78) are TDD bands. 4G carriers are FDD: the whole time.
NR_TDD_DOWNLINK_SHARE: Final = 52.0 / 70.0

#: Plausible total EIRP of a sector's carrier, in dBm, as (low, high).
#:
#: Low: 30 dBm, a Local Area base station, whose rated output is at most 24 dBm per antenna
#: connector (3GPP TS 36.104 and TS 38.104, section 6.2, base station classes), behind an
#: antenna of about 6 dBi. Home base stations (at most 20 dBm) are not in a planning office's
#: site list. High: 80 dBm, above the strongest macro sector: a 200 W (53 dBm) massive-MIMO
#: radio with a 25 dBi array is 78 dBm; a 2 x 80 W LTE radio (52 dBm) on an 18 dBi panel is
#: 70 dBm.
EIRP_TOTAL_RANGE_DBM: Final = (30.0, 80.0)

#: Plausible EIRP per resource element, in dBm, as (low, high).
#:
#: Low: -10 dBm, a Local Area cell's 24 dBm over the 1,200 subcarriers of 20 MHz
#: (``24 - 30.8 = -6.8 dBm``) behind a 0 dBi antenna, with 3 dB to spare. High: 45 dBm, the
#: 78 dBm massive-MIMO sector above over the 3,276 subcarriers of 100 MHz at 30 kHz
#: (``78 - 35.2 = 42.8 dBm``), with 2 dB to spare.
EIRP_RE_RANGE_DBM: Final = (-10.0, 45.0)

#: Plausible channel bandwidth of a row carrying 4G or 5G, in MHz, as (low, high): from the
#: narrowest LTE channel, 1.4 MHz (TS 36.101 Table 5.6-1), to the widest NR channel, 400 MHz
#: (TS 38.101-2 Table 5.3.2-1).
BANDWIDTH_RANGE_MHZ: Final = (1.4, 400.0)

#: Narrowest channel of a row carrying neither 4G nor 5G, in MHz: an NB-IoT carrier, 180 kHz
#: (one LTE resource block); a GSM carrier is 200 kHz.
NARROW_BANDWIDTH_MIN_MHZ: Final = 0.18


def _blocks(bandwidth_mhz: FloatArray, table: Mapping[float, int]) -> FloatArray:
    """Resource blocks of each bandwidth: the table's entry, else interpolated or scaled."""
    widths = np.array([0.0, *table], dtype=np.float64)
    blocks = np.array([0.0, *table.values()], dtype=np.float64)
    inside = np.interp(bandwidth_mhz, widths, blocks)
    scaled = blocks[-1] * bandwidth_mhz / widths[-1]
    return np.asarray(np.where(bandwidth_mhz > widths[-1], scaled, inside), dtype=np.float64)


def resource_elements(
    tech: npt.ArrayLike,
    bandwidth_mhz: npt.ArrayLike = np.nan,
    *,
    freq_mhz: npt.ArrayLike = np.nan,
) -> FloatArray:
    """Subcarriers (resource elements per OFDM symbol) of each carrier.

    Parameters
    ----------
    tech
        ``"4G"`` or ``"5G"`` per carrier (or one for all); any other technology has no
        resource elements.
    bandwidth_mhz
        Channel bandwidth in MHz; NaN -> :data:`DEFAULT_BANDWIDTH_MHZ` of the technology.
    freq_mhz
        Carrier frequency in MHz, used for 5G only: above :data:`FR1_MAX_MHZ` the carrier is
        read as FR2 at 120 kHz; NaN or below, as FR1 at 30 kHz.

    Returns
    -------
    numpy.ndarray
        ``12 N_RB``, float64, of the broadcast shape; NaN for a technology other than 4G or
        5G.

    Notes
    -----
    ``N_RB`` comes from :data:`LTE_RESOURCE_BLOCKS` (4G), :data:`NR_FR1_30KHZ_RESOURCE_BLOCKS`
    or :data:`NR_FR2_120KHZ_RESOURCE_BLOCKS` (5G). A bandwidth between two entries of its table
    is interpolated linearly (from 0 blocks at 0 MHz below the first); one beyond the last
    entry is scaled in proportion to it. Either is an estimate for a channel the standard does
    not define; one resource block more or less moves the result by well under 0.1 dB.

    Examples
    --------
    >>> resource_elements(["4G", "5G", "5G", "2G"], [20.0, 100.0, float("nan"), 0.2]).tolist()
    [1200.0, 3276.0, 3276.0, nan]
    >>> resource_elements("4G", [1.4, 10.0]).tolist()
    [72.0, 600.0]
    """
    tech_a = np.asarray(tech, dtype=object)
    bandwidth = np.asarray(bandwidth_mhz, dtype=np.float64)
    freq = np.asarray(freq_mhz, dtype=np.float64)
    tech_a, bandwidth, freq = np.broadcast_arrays(tech_a, bandwidth, freq)
    lte = tech_a == "4G"
    nr = tech_a == "5G"
    default = np.where(lte, DEFAULT_BANDWIDTH_MHZ["4G"], DEFAULT_BANDWIDTH_MHZ["5G"])
    width = np.where(np.isnan(bandwidth), default, bandwidth)
    fr2 = nr & (freq > FR1_MAX_MHZ)
    blocks = np.select(
        [lte, fr2, nr],
        [
            _blocks(width, LTE_RESOURCE_BLOCKS),
            _blocks(width, NR_FR2_120KHZ_RESOURCE_BLOCKS),
            _blocks(width, NR_FR1_30KHZ_RESOURCE_BLOCKS),
        ],
        np.nan,
    )
    return np.asarray(12.0 * blocks, dtype=np.float64)


def eirp_re_from_total_dbm(
    total_eirp_dbm: npt.ArrayLike,
    *,
    tech: npt.ArrayLike,
    bandwidth_mhz: npt.ArrayLike = np.nan,
    freq_mhz: npt.ArrayLike = np.nan,
) -> FloatArray:
    """EIRP per resource element of carriers given their total EIRP.

    Parameters
    ----------
    total_eirp_dbm
        Total EIRP of each carrier in dBm (a site list's ``eirp_dbm``).
    tech, bandwidth_mhz, freq_mhz
        As :func:`resource_elements`.

    Returns
    -------
    numpy.ndarray
        ``EIRP_total - 10 log10(N_RE)`` in dBm, float64, of the broadcast shape; NaN where the
        total is missing or the technology has no resource elements.

    Examples
    --------
    A 20 MHz LTE carrier of 46 dBm on a 17 dBi panel, less 1.2 dB of feeder (61.8 dBm in
    all), over its 1,200 subcarriers (30.79 dB):

    >>> round(float(eirp_re_from_total_dbm(61.8, tech="4G", bandwidth_mhz=20.0)), 2)
    31.01
    """
    n_re = resource_elements(tech, bandwidth_mhz, freq_mhz=freq_mhz)
    total = np.asarray(total_eirp_dbm, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.asarray(total - 10.0 * np.log10(n_re), dtype=np.float64)


def eirp_re_dbm(
    *,
    tech: npt.ArrayLike,
    eirp_dbm: npt.ArrayLike = np.nan,
    eirp_re_dbm: npt.ArrayLike = np.nan,
    bandwidth_mhz: npt.ArrayLike = np.nan,
    freq_mhz: npt.ArrayLike = np.nan,
) -> FloatArray:
    """EIRP per resource element of each carrier from a site list's columns.

    Parameters
    ----------
    tech
        ``"4G"`` or ``"5G"`` per carrier (or one for all).
    eirp_dbm
        Total EIRP in dBm (the ``eirp_dbm`` column); NaN if not given.
    eirp_re_dbm
        EIRP per resource element in dBm (the ``eirp_re_dbm`` column); NaN if not given.
    bandwidth_mhz, freq_mhz
        As :func:`resource_elements`.

    Returns
    -------
    numpy.ndarray
        dBm per resource element, float64, of the broadcast shape: ``eirp_re_dbm`` where given,
        else derived from ``eirp_dbm`` by :func:`eirp_re_from_total_dbm`; NaN where neither is
        given (the link budget then takes its default).

    Notes
    -----
    Where both are given, ``eirp_re_dbm`` wins: it is the quantity RSRP is compared with, and
    it carries what the derivation cannot know (reference-signal boosting, a numerology other
    than the default). :mod:`hatangso.geo.validate` notes the rows where the two disagree by
    more than 1 dB.

    Examples
    --------
    >>> eirp_re_dbm(tech="5G", eirp_dbm=[70.0, 70.0], eirp_re_dbm=[float("nan"), 33.0]).round(2)
    array([34.85, 33.  ])
    """
    given = np.asarray(eirp_re_dbm, dtype=np.float64)
    derived = eirp_re_from_total_dbm(
        eirp_dbm, tech=tech, bandwidth_mhz=bandwidth_mhz, freq_mhz=freq_mhz
    )
    given, derived = np.broadcast_arrays(given, derived)
    return np.asarray(np.where(np.isnan(given), derived, given), dtype=np.float64)
