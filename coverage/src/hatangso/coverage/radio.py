"""The downlink link budget of every site at once: defaults, received power, reach, footprints.

A site radiates ``eirp_dbm``; a handset at ``h_rx_m`` receives ``eirp_dbm - loss_db`` and is
served when that reaches ``threshold_dbm``. ``threshold_dbm`` is compared with RSRP (the
measured samples carry ``rsrp_dbm``), a power per resource element, so the ``eirp_dbm`` of the
functions here is the EIRP of the reference signal per resource element (RS EPRE for 4G,
SS/PBCH EPRE for 5G, plus antenna gain, minus feeder loss): the sites column ``eirp_re_dbm``.

A site list gives the total EIRP of the carrier instead (the sites column ``eirp_dbm``); the
functions take it as ``total_eirp_dbm`` with the channel's ``bandwidth_mhz`` and spread it over
the carrier's subcarriers, ``EIRP_RE = EIRP_total - 10 log10(N_RE)`` (30.8 dB for a 20 MHz LTE
carrier, 35.2 dB for a 100 MHz NR carrier at 30 kHz): see :mod:`hatangso.geo.carrier` for
the resource-block tables and the default bandwidths. A per-element value given wins over a
derived one.

The reach of a site is either read from a table (``model="radius"``) or found by inverting the
composite ``hata`` path loss of :mod:`hatangso.coverage.propagation` (``model="hata"``).

A sector radiates its EIRP at boresight and less to the sides, by the horizontal antenna
pattern of 3GPP TR 36.814 Table A.2.1.1-2 (:func:`sector_attenuation_db`, the one definition
the ``terrain`` model uses too). Under ``hata`` the pattern enters the link budget; under
``radius`` it shortens the table's reach by the distance slope of the path loss
(:func:`radius_pattern_reach_m`). Footprints are discs for omnidirectional sites and
pattern-shaped polygons for sectors, built with shapely 2's array functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from hatangso.coverage.propagation import ENVIRONMENTS, hata_loss
from hatangso.geo import carrier as _carrier
from hatangso.geo import techs as _techs
from hatangso.geo.errors import ConfigError, InputError, Problem

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_EIRP_DBM",
    "DEFAULT_ENV",
    "DEFAULT_FREQ_MHZ",
    "DEFAULT_HEIGHT_M",
    "DEFAULT_RADIUS_M",
    "DEFAULT_TECH",
    "HORIZON_K_M",
    "MAX_COUPLING_LOSS_DB",
    "MAX_REACH_M",
    "MIN_REACH_M",
    "RADIUS_PATTERN_SLOPE_DB",
    "RECEPTION_THRESHOLD_DBM",
    "SECTOR_MAX_ATTENUATION_DB",
    "TECHNOLOGIES",
    "SiteRadio",
    "bearing_deg",
    "footprints",
    "hata_pattern_reach_m",
    "in_beam",
    "radius_pattern_reach_m",
    "received_power_dbm",
    "reference_eirp_dbm",
    "resolve_site_radio",
    "sector_attenuation_db",
    "sector_gain_db",
    "site_reach_m",
    "threshold_offset_db",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]

#: Technologies with a link budget: all six of the contract (``2G``, ``3G``, ``4G``, ``5G``,
#: ``NB-IoT``, ``LTE-M``), named as :mod:`hatangso.geo.techs` spells them.
TECHNOLOGIES: Final[tuple[str, ...]] = _techs.TECHNOLOGIES
#: Technology of a site that names none (the contract's default).
DEFAULT_TECH: Final = "4G"
#: Environment of a site that names none (the contract's default).
DEFAULT_ENV: Final = "rural"
#: Antenna height of a site that gives none, in metres (the contract's default).
DEFAULT_HEIGHT_M: Final = 30.0

#: Carrier frequency of a site that gives none, in MHz.
#:
#: 4G: 1800 MHz, LTE band 3, the band on which Viettel, VNPT and MobiFone built their
#: nationwide 4G layers (2100 and 2600 MHz carriers add capacity in towns). 5G: 3500 MHz, NR
#: band n78; Vietnam's commercial 5G runs on the 2.6 and 3.5 GHz bands licensed to Viettel,
#: VNPT and MobiFone, and 3.5 GHz, the band with the higher loss, is the conservative choice.
#: 2G: 900 MHz (GSM 900, 3GPP TS 45.005 band P-GSM/E-GSM), the band of the rural GSM layers
#: (the 1800 MHz DCS carriers add capacity in towns). 3G: 2100 MHz, UMTS band I (TS 25.101),
#: Vietnam's only 3G band. NB-IoT and LTE-M run inside (or beside) an LTE carrier, so they
#: take the site's LTE band: the site's ``freq_mhz`` when given, else the 4G default.
DEFAULT_FREQ_MHZ: Final[Mapping[str, float]] = MappingProxyType(
    {"2G": 900.0, "3G": 2100.0, "4G": 1800.0, "5G": 3500.0, "NB-IoT": 1800.0, "LTE-M": 1800.0}
)

#: Reference-signal EIRP per resource element of a site that gives no EIRP at all (neither
#: ``eirp_dbm`` nor ``eirp_re_dbm``), in dBm.
#:
#: 4G: a 20 MHz carrier (1200 subcarriers) at 40 W (46 dBm) per port gives an RS EPRE of
#: ``46 - 10 log10(1200) = 15.2 dBm``; a 65-degree macro panel adds about 18 dBi and the
#: jumper from a tower-top radio costs about 1 dB: ``15.2 + 18 - 1 ~ 32 dBm``. 5G: a 100 MHz
#: n78 carrier at 30 kHz spacing (273 resource blocks, 3276 subcarriers) from a 200 W
#: (53 dBm) massive-MIMO unit gives ``53 - 10 log10(3276) = 17.8 dBm`` per resource element;
#: its SSB broadcast beams add about 16 dBi, less 1 dB of losses: ``~ 33 dBm``. With the
#: default threshold of -110 dBm these put the ``hata`` reach of a 30 m 4G site at about 1.5,
#: 3.2 and 12 km (urban, suburban, rural), and of a 5G site at 1.1, 1.9 and 1.9 km: of the
#: order of the default radius table, longer in rural areas, where Hata's open-area
#: correction assumes open fields.
#:
#: 2G compares the power of the whole 200 kHz BCCH carrier (RxLev), sent at full power: a
#: 20 W (43 dBm) transceiver on a 17 dBi panel behind about 3 dB of combiner and feeder gives
#: ``43 + 17 - 3 = 57 dBm``. 3G compares the pilot (CPICH RSCP), by custom 10 % of a 20 W
#: cell's power (33 dBm): ``33 + 17 - 3 = 47 dBm``. NB-IoT and LTE-M ride on the LTE carrier
#: and take the 4G value; their coverage enhancement is in the threshold
#: (:data:`RECEPTION_THRESHOLD_DBM`), not in the EIRP.
DEFAULT_EIRP_DBM: Final[Mapping[str, float]] = MappingProxyType(
    {"2G": 57.0, "3G": 47.0, "4G": 32.0, "5G": 33.0, "NB-IoT": 32.0, "LTE-M": 32.0}
)

#: Share of a 3G cell's total power carried by its pilot (CPICH), in dB: 10 %, the usual
#: setting of UMTS networks. A site list's total ``eirp_dbm`` of a 3G carrier is the pilot's
#: EIRP plus this.
CPICH_SHARE_DB: Final = -10.0

#: Maximum coupling loss (MCL) of each technology, dB: the largest loss between the antenna
#: connectors at which the service still works, as 3GPP worked it out for the cellular IoT
#: studies: 144 dB for LTE (the reference of 3GPP TR 36.888 and TR 45.820), 164 dB for NB-IoT
#: (TR 45.820, the 20 dB coverage enhancement the study aimed at and showed) and 155.7 dB for
#: LTE-M (Cat-M1 with coverage enhancement, TR 36.888 / TR 45.820). NB-IoT and LTE-M reach by
#: their margin over LTE: the allowed path loss grows by ``MCL(tech) - MCL(LTE)``, 20 dB and
#: 11.7 dB, under every model.
MAX_COUPLING_LOSS_DB: Final[Mapping[str, float]] = MappingProxyType(
    {"4G": 144.0, "NB-IoT": 164.0, "LTE-M": 155.7}
)

#: Received power a handset needs, by technology, at the contract's default
#: ``mobile.threshold_dbm`` of -110 dBm (4G and 5G RSRP); a run's threshold for a technology
#: is the configured one plus that technology's offset from 4G (:func:`threshold_offset_db`),
#: so moving the configured threshold moves them all.
#:
#: 4G, 5G: -110 dBm RSRP (SS-RSRP for 5G), the contract's default. 2G: RxLev -95 dBm, 7 dB
#: above the -102 dBm reference sensitivity of a GSM 900 handset (3GPP TS 45.005 section 6.2),
#: the outdoor level GSM coverage is planned on. 3G: CPICH RSCP -105 dBm: at the reference
#: sensitivity of a band I handset (TS 25.101 section 7.3, ``Ior = -106.7 dBm``) a pilot at
#: 10 % of the cell's power arrives at -116.7 dBm, and -105 dBm keeps about 12 dB over it.
#: NB-IoT and LTE-M: -110 dBm less their margin of maximum coupling loss over LTE
#: (:data:`MAX_COUPLING_LOSS_DB`): -130 and -121.7 dBm.
RECEPTION_THRESHOLD_DBM: Final[Mapping[str, float]] = MappingProxyType(
    {
        "2G": -95.0,
        "3G": -105.0,
        "4G": -110.0,
        "5G": -110.0,
        "NB-IoT": -110.0 - (MAX_COUPLING_LOSS_DB["NB-IoT"] - MAX_COUPLING_LOSS_DB["4G"]),
        "LTE-M": -110.0 - (MAX_COUPLING_LOSS_DB["LTE-M"] - MAX_COUPLING_LOSS_DB["4G"]),
    }
)

#: Reach by technology and environment for ``model="radius"``, in metres (the contract's
#: default ``mobile.radius_m``).
#:
#: 4G and 5G: the contract's table. 2G and 3G keep 4G's proportions to the ``hata`` reach of
#: their default link budgets (about 3.5 and 1.7 times 4G's in towns): GSM 900 at 57 dBm
#: against -95 dBm allows 152 dB, UMTS 2100 at 47 dBm against -105 dBm 152 dB too, 4G 142 dB.
#: NB-IoT and LTE-M have no entry: their reach is 4G's times ``10^(margin / 35)``, the
#: margin of :data:`MAX_COUPLING_LOSS_DB` on the distance slope of
#: :data:`RADIUS_PATTERN_SLOPE_DB` (:func:`_radius_lookup`), 3.7 and 2.2 times 4G's.
DEFAULT_RADIUS_M: Final[Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {
        "2G": MappingProxyType({"urban": 5000.0, "suburban": 10000.0, "rural": 15000.0}),
        "3G": MappingProxyType({"urban": 2500.0, "suburban": 5000.0, "rural": 8000.0}),
        "4G": MappingProxyType({"urban": 1500.0, "suburban": 3000.0, "rural": 5000.0}),
        "5G": MappingProxyType({"urban": 600.0, "suburban": 1000.0, "rural": 2000.0}),
    }
)

#: Upper bound of any ``hata`` reach, in metres. Each site is also held to its smooth-earth
#: radio horizon (see :data:`HORIZON_K_M`), which this bound undercuts only for masts above
#: about 53 m (``4.12 (sqrt 53 + sqrt 1.5) = 35 km``); no macro cell is planned to serve
#: handsets further out, and the Hata fits stop at 20 km.
MAX_REACH_M: Final = 35_000.0
#: Lower end of the reach search, in metres: a site that cannot serve a handset this close
#: serves nobody (reach 0).
MIN_REACH_M: Final = 1.0
#: Radio-horizon factor in m per sqrt(m): ``d = K (sqrt h_tx + sqrt h_rx)`` for a 4/3 earth.
HORIZON_K_M: Final = 4120.0

_BISECTION_STEPS: Final = 48  # halves a 4.5-decade bracket to ~1e-14 decade

#: Largest horizontal attenuation of a sector antenna, dB: the front-to-back ratio ``A_m`` of
#: 3GPP TR 36.814 Table A.2.1.1-2 and TR 38.901 Table 7.3-1.
SECTOR_MAX_ATTENUATION_DB: Final = 25.0
#: Distance slope of the path loss, dB per decade, by which ``model="radius"`` turns a sector's
#: attenuation off boresight into a shorter reach (:func:`radius_pattern_reach_m`).
#:
#: Hata's loss grows by ``44.9 - 6.55 log10(h_tx)`` dB per decade of distance: 35.2 at the
#: default 30 m mast (Okumura-Hata and COST-231 Hata alike; 38.4 at 10 m, 31.8 at 100 m). The
#: radius table knows no mast height, so the slope at the default height stands for all:
#: ``A`` dB less power reaches ``10^(A / 35)`` as far, 0.82 of the reach at the 3 dB edge of
#: the beam and 0.19 of it behind the sector.
RADIUS_PATTERN_SLOPE_DB: Final = 35.0


# --------------------------------------------------------------------------------------------
# per-site parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteRadio:
    """Radio parameters of every site, with each missing value replaced by its default.

    Attributes
    ----------
    tech
        ``"4G"`` or ``"5G"``, one per site.
    env
        ``"urban"``, ``"suburban"`` or ``"rural"``, one per site.
    height_m
        Antenna height above ground in metres.
    eirp_dbm
        Reference-signal EIRP per resource element in dBm.
    freq_mhz
        Carrier frequency in MHz.
    """

    tech: StrArray
    env: StrArray
    height_m: FloatArray
    eirp_dbm: FloatArray
    freq_mhz: FloatArray


def _labels(name: str, values: npt.ArrayLike, default: str, allowed: tuple[str, ...]) -> StrArray:
    """Normalise labels (strip; missing -> default) and check them against ``allowed``."""
    raw = np.atleast_1d(np.asarray(values, dtype=object))
    # Each distinct label is normalised once (a national run has 120,000 sites, a few labels);
    # missing values take the code -1, hence the default, the last of `distinct`.
    codes, uniques = pd.factorize(raw)
    distinct = np.array([*(str(u) for u in uniques), default], dtype=np.str_)
    distinct = np.char.strip(distinct)
    distinct = np.where(distinct == "", default, distinct)
    if name == "tech":
        distinct = np.array([_techs.tech_token(u) or u for u in distinct.tolist()], dtype=np.str_)
    else:
        distinct = np.char.lower(distinct)
    text = distinct[codes]
    bad = ~np.isin(text, allowed)
    if np.any(bad):
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"site {i}: {raw[i]!r}" for i in rows[:5])
        more = f" and {rows.size - 5} more" if rows.size > 5 else ""
        hint = (
            "; give one technology per site (split '4G;5G' into one row per technology)"
            if name == "tech"
            else ""
        )
        raise InputError(
            Problem(
                file="sites",
                column=name,
                message=f"unknown {name} for {shown}{more}",
                fix=f"use one of {', '.join(allowed)}{hint}",
            )
        )
    return text.astype(np.str_)


def _per_site(name: str, values: npt.ArrayLike, n: int) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    try:
        return np.array(np.broadcast_to(arr, (n,)), dtype=np.float64)
    except ValueError:
        # Programmer error: the per-site arrays come from one site table.
        raise ValueError(
            f"{name} has shape {arr.shape}; expected one value per site ({n})"
        ) from None


def _by_tech(tech: StrArray, table: Mapping[str, float]) -> FloatArray:
    out = np.full(tech.shape, np.nan)
    for key, value in table.items():
        out[tech == key] = value
    return out


def threshold_offset_db(tech: npt.ArrayLike) -> FloatArray:
    """How far each technology's reception threshold lies from 4G's, in dB.

    Parameters
    ----------
    tech
        Technology names of :data:`TECHNOLOGIES` (an unknown name counts as 4G).

    Returns
    -------
    numpy.ndarray
        ``RECEPTION_THRESHOLD_DBM[tech] - RECEPTION_THRESHOLD_DBM["4G"]``, float64, of the
        shape of `tech`: add it to the configured ``mobile.threshold_dbm``.

    Examples
    --------
    >>> threshold_offset_db(["2G", "3G", "4G", "5G", "NB-IoT", "LTE-M"]).round(1).tolist()
    [15.0, 5.0, 0.0, 0.0, -20.0, -11.7]
    """
    names = np.asarray(tech, dtype=np.str_)
    relative = {t: v - RECEPTION_THRESHOLD_DBM["4G"] for t, v in RECEPTION_THRESHOLD_DBM.items()}
    offset = _by_tech(names, relative)
    return np.asarray(np.nan_to_num(offset, nan=0.0), dtype=np.float64)


def reference_eirp_dbm(
    *,
    tech: npt.ArrayLike,
    eirp_dbm: npt.ArrayLike = np.nan,
    eirp_re_dbm: npt.ArrayLike = np.nan,
    bandwidth_mhz: npt.ArrayLike = np.nan,
    freq_mhz: npt.ArrayLike = np.nan,
) -> FloatArray:
    """EIRP of the signal each technology's threshold is compared with, from a site list.

    Parameters
    ----------
    tech
        Technology per carrier (or one for all), of :data:`TECHNOLOGIES`.
    eirp_dbm
        Total EIRP of the carrier in dBm (the ``eirp_dbm`` column); NaN if not given.
    eirp_re_dbm
        EIRP of the reference signal in dBm (the ``eirp_re_dbm`` column: per resource element
        for 4G, 5G, NB-IoT and LTE-M, the pilot's for 3G, the BCCH carrier's for 2G); wins
        where given.
    bandwidth_mhz, freq_mhz
        As :func:`hatangso.geo.carrier.resource_elements` (4G, 5G, NB-IoT and LTE-M only).

    Returns
    -------
    numpy.ndarray
        dBm, float64, of the broadcast shape; NaN where neither EIRP is given (the link
        budget then takes :data:`DEFAULT_EIRP_DBM`).

    Notes
    -----
    4G and 5G: per resource element, :func:`hatangso.geo.carrier.eirp_re_dbm`. NB-IoT and
    LTE-M: the same as their LTE carrier's (a 20 MHz carrier by default). 2G: the total, since
    RxLev is the power of the whole BCCH carrier. 3G: the total plus :data:`CPICH_SHARE_DB`
    (the pilot's share of the cell's power).

    Examples
    --------
    >>> reference_eirp_dbm(tech=["2G", "3G", "NB-IoT"], eirp_dbm=61.8).round(2).tolist()
    [61.8, 51.8, 31.01]
    """
    names = np.asarray(tech, dtype=np.str_)
    total = np.asarray(eirp_dbm, dtype=np.float64)
    given = np.asarray(eirp_re_dbm, dtype=np.float64)
    names, total, given = np.broadcast_arrays(names, total, given)
    ofdm = np.where(np.isin(names, _techs.IOT), "4G", names)
    per_re = _carrier.eirp_re_dbm(
        tech=ofdm, eirp_dbm=total, eirp_re_dbm=given, bandwidth_mhz=bandwidth_mhz, freq_mhz=freq_mhz
    )
    from_total = np.select([names == "2G", names == "3G"], [total, total + CPICH_SHARE_DB], np.nan)
    legacy = np.where(np.isnan(given), from_total, given)
    return np.asarray(np.where(np.isin(names, ("2G", "3G")), legacy, per_re), dtype=np.float64)


def resolve_site_radio(
    *,
    tech: npt.ArrayLike,
    env: npt.ArrayLike,
    height_m: npt.ArrayLike,
    eirp_dbm: npt.ArrayLike,
    freq_mhz: npt.ArrayLike,
    total_eirp_dbm: npt.ArrayLike = np.nan,
    bandwidth_mhz: npt.ArrayLike = np.nan,
) -> SiteRadio:
    """Fill in the defaults of every site's radio parameters and check them.

    Parameters
    ----------
    tech
        Technology per site (``"4G"`` or ``"5G"``, case-insensitive); missing -> ``"4G"``.
    env
        Environment per site (``"urban"``, ``"suburban"``, ``"rural"``, case-insensitive);
        missing -> ``"rural"``.
    height_m
        Antenna height per site in metres; NaN -> :data:`DEFAULT_HEIGHT_M`.
    eirp_dbm
        Reference-signal EIRP per resource element in dBm (the sites column
        ``eirp_re_dbm``); NaN -> derived from ``total_eirp_dbm``, else
        :data:`DEFAULT_EIRP_DBM` of the site's technology.
    freq_mhz
        Carrier frequency in MHz; NaN -> :data:`DEFAULT_FREQ_MHZ` of the site's technology.
    total_eirp_dbm
        Total EIRP of the carrier in dBm (the sites column ``eirp_dbm``), used where
        ``eirp_dbm`` is NaN: ``total - 10 log10(N_RE)``, see
        :func:`hatangso.geo.carrier.eirp_re_from_total_dbm`.
    bandwidth_mhz
        Channel bandwidth in MHz for that derivation; NaN ->
        :data:`hatangso.geo.carrier.DEFAULT_BANDWIDTH_MHZ` of the site's technology (20 MHz
        for 4G, 100 MHz for 5G).

    Returns
    -------
    SiteRadio
        One value per site in each field, with no missing value. The number of sites is the
        length of ``tech``; scalars in the other arguments apply to every site.

    Raises
    ------
    InputError
        On an unknown technology or environment, a height or frequency that is not positive
        or an infinite EIRP, naming the ``sites`` column.
    ValueError
        On arrays whose lengths differ (a programmer error).

    Notes
    -----
    "Missing" is NaN, None or pandas' NA for numbers and any of those or an empty string for
    labels. See :data:`DEFAULT_FREQ_MHZ` and :data:`DEFAULT_EIRP_DBM` for how the defaults
    were chosen.

    Examples
    --------
    >>> radio = resolve_site_radio(tech=["4G", "5G"], env=[None, "Urban"], height_m=float("nan"),
    ...                            eirp_dbm=[40.0, float("nan")], freq_mhz=float("nan"))
    >>> radio.env.tolist(), radio.eirp_dbm.tolist(), radio.freq_mhz.tolist()
    (['rural', 'urban'], [40.0, 33.0], [1800.0, 3500.0])

    A total EIRP of 61.8 dBm on a 20 MHz LTE carrier is 31.0 dBm per resource element:

    >>> radio = resolve_site_radio(tech=["4G"], env="rural", height_m=30.0, eirp_dbm=float("nan"),
    ...                            freq_mhz=1800.0, total_eirp_dbm=61.8, bandwidth_mhz=20.0)
    >>> radio.eirp_dbm.round(2).tolist()
    [31.01]
    """
    tech_s = _labels("tech", tech, DEFAULT_TECH, TECHNOLOGIES)
    n = tech_s.size
    env_per_site = np.broadcast_to(np.asarray(env, dtype=object), (n,))
    env_s = _labels("env", env_per_site, DEFAULT_ENV, ENVIRONMENTS)
    height = _per_site("height_m", height_m, n)
    eirp = _per_site("eirp_dbm", eirp_dbm, n)
    freq = _per_site("freq_mhz", freq_mhz, n)
    total = _per_site("total_eirp_dbm", total_eirp_dbm, n)
    bandwidth = _per_site("bandwidth_mhz", bandwidth_mhz, n)
    height = np.where(np.isnan(height), DEFAULT_HEIGHT_M, height)
    # A reference EIRP given is kept as it is (reference_eirp_dbm returns it); only the sites
    # without one derive it (a site table passes every site's, resolved already).
    missing = np.isnan(eirp)
    if missing.any():
        eirp[missing] = reference_eirp_dbm(
            tech=tech_s[missing],
            eirp_dbm=total[missing],
            eirp_re_dbm=eirp[missing],
            bandwidth_mhz=bandwidth[missing],
            freq_mhz=freq[missing],
        )
    eirp = np.where(np.isnan(eirp), _by_tech(tech_s, DEFAULT_EIRP_DBM), eirp)
    freq = np.where(np.isnan(freq), _by_tech(tech_s, DEFAULT_FREQ_MHZ), freq)
    for name, values in (("height_m", height), ("freq_mhz", freq)):
        bad = ~(values > 0) | ~np.isfinite(values)
        if np.any(bad):
            rows = np.flatnonzero(bad)
            shown = ", ".join(f"site {i}: {values[i]:g}" for i in rows[:5])
            raise InputError(
                Problem(
                    file="sites",
                    column=name,
                    message=f"{name} must be a positive number; got {shown}",
                    fix=f"give {name} in {'MHz' if name == 'freq_mhz' else 'metres'}, "
                    "greater than 0, or leave it empty for the default",
                )
            )
    if not np.all(np.isfinite(eirp)):
        rows = np.flatnonzero(~np.isfinite(eirp))
        raise InputError(
            Problem(
                file="sites",
                column="eirp_dbm",
                message=f"eirp_dbm must be finite; got infinity at sites {rows[:5].tolist()}",
                fix="give the total EIRP in dBm (eirp_dbm) or the EIRP per resource element "
                "(eirp_re_dbm), or leave both empty for the default",
            )
        )
    return SiteRadio(tech=tech_s, env=env_s, height_m=height, eirp_dbm=eirp, freq_mhz=freq)


# --------------------------------------------------------------------------------------------
# received power and reach
# --------------------------------------------------------------------------------------------


def received_power_dbm(
    distance_m: npt.ArrayLike,
    *,
    eirp_dbm: npt.ArrayLike,
    freq_mhz: npt.ArrayLike,
    h_tx_m: npt.ArrayLike,
    h_rx_m: npt.ArrayLike = 1.5,
    env: str | npt.ArrayLike,
) -> FloatArray:
    """Median received power over site-handset pairs with the composite ``hata`` model.

    Parameters
    ----------
    distance_m
        Horizontal distance of each pair in metres, > 0.
    eirp_dbm
        Reference-signal EIRP per resource element in dBm.
    freq_mhz
        Carrier frequency in MHz.
    h_tx_m
        Site antenna height in metres.
    h_rx_m
        Handset height in metres.
    env
        ``"urban"``, ``"suburban"`` or ``"rural"``, or an array of them.

    Returns
    -------
    numpy.ndarray
        Received power in dBm (comparable with RSRP), float64, of the broadcast shape of the
        inputs.

    Raises
    ------
    ValueError
        As :func:`hatangso.coverage.propagation.hata_loss`.

    Notes
    -----
    ``P = EIRP - L_hata(d, f, h_tx, h_rx, env)``, the power at a sector's boresight (or around
    an omni site); off boresight add the antenna gain :func:`sector_gain_db` (<= 0). Shadow
    fading, body and building losses are not modelled.

    Examples
    --------
    >>> p = received_power_dbm([1000.0, 5000.0], eirp_dbm=32.0, freq_mhz=1800.0, h_tx_m=30.0,
    ...                        env=["urban", "rural"])
    >>> p.round(1).tolist()
    [-104.2, -96.9]
    """
    loss_db = hata_loss(distance_m, freq_mhz, h_tx_m, h_rx_m, env=env)
    return np.asarray(np.asarray(eirp_dbm, dtype=np.float64) - loss_db, dtype=np.float64)


def _radius_lookup(
    radio: SiteRadio, radius_m: Mapping[str, Mapping[str, float]] | None
) -> FloatArray:
    """Reach of ``model="radius"``: the table's, NB-IoT and LTE-M from 4G's by their margin.

    NB-IoT and LTE-M reach ``10^(margin / RADIUS_PATTERN_SLOPE_DB)`` times the 4G entry of
    their environment, the margin being ``MCL(tech) - MCL(LTE)`` (20 and 11.7 dB): the same
    rule by which the radius model turns a sector's attenuation into a shorter reach.
    """
    table = DEFAULT_RADIUS_M if radius_m is None else radius_m
    # Looked up once per distinct technology and environment, then spread over the sites.
    tech_code, techs = pd.factorize(radio.tech)
    env_code, envs = pd.factorize(radio.env)
    grid = np.full((len(techs), len(envs)), np.nan)
    for i, tech in enumerate(techs.tolist()):
        for j, env in enumerate(envs.tolist()):
            if tech in _techs.IOT and env in table.get("4G", {}):
                margin_db = MAX_COUPLING_LOSS_DB[tech] - MAX_COUPLING_LOSS_DB["4G"]
                grid[i, j] = float(table["4G"][env]) * 10.0 ** (margin_db / RADIUS_PATTERN_SLOPE_DB)
            elif env in table.get(tech, {}):
                grid[i, j] = float(table[tech][env])
    reach: FloatArray = (
        grid[tech_code, env_code] if len(grid) else np.full(radio.tech.shape, np.nan)
    )
    unknown = np.isnan(reach)
    if np.any(unknown):
        pairs = sorted(
            {f"{t}/{e}" for t, e in zip(radio.tech[unknown], radio.env[unknown], strict=True)}
        )
        raise ConfigError(
            Problem(
                file="configuration",
                column="mobile.radius_m",
                message=f"radius_m has no entry for {', '.join(pairs)}",
                fix="add it to mobile.radius_m",
            )
        )
    if np.any(reach < 0):
        raise ConfigError(
            Problem(
                file="configuration",
                column="mobile.radius_m",
                message="radius_m values must be >= 0 m",
                fix="give every radius in metres, 0 or more",
            )
        )
    return reach


def _hata_reach(radio: SiteRadio, threshold_dbm: FloatArray, h_rx_m: FloatArray) -> FloatArray:
    max_loss_db = radio.eirp_dbm - threshold_dbm
    cap_m = np.minimum(MAX_REACH_M, HORIZON_K_M * (np.sqrt(radio.height_m) + np.sqrt(h_rx_m)))

    def loss_at(log_d: FloatArray) -> FloatArray:
        loss_db: FloatArray = hata_loss(
            10.0**log_d, radio.freq_mhz, radio.height_m, h_rx_m, env=radio.env
        )
        return loss_db

    lo = np.full(max_loss_db.shape, np.log10(MIN_REACH_M))
    hi = np.log10(cap_m)
    reaches_cap = loss_at(hi) <= max_loss_db
    serves_nobody = loss_at(lo) > max_loss_db
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        within = loss_at(mid) <= max_loss_db
        lo = np.where(within, mid, lo)
        hi = np.where(within, hi, mid)
    reach: FloatArray = np.where(reaches_cap, cap_m, np.where(serves_nobody, 0.0, 10.0**lo))
    log.debug(
        "hata reach of %d sites: %d at the cap, %d serve nobody",
        reach.size,
        int(reaches_cap.sum()),
        int(serves_nobody.sum()),
    )
    return reach


def site_reach_m(
    *,
    tech: npt.ArrayLike,
    model: str,
    env: npt.ArrayLike,
    height_m: npt.ArrayLike,
    eirp_dbm: npt.ArrayLike,
    freq_mhz: npt.ArrayLike,
    radius_m: Mapping[str, Mapping[str, float]] | None,
    threshold_dbm: npt.ArrayLike,
    h_rx_m: float = 1.5,
    total_eirp_dbm: npt.ArrayLike = np.nan,
    bandwidth_mhz: npt.ArrayLike = np.nan,
) -> FloatArray:
    """Reach of every site: the horizontal distance up to which it serves a handset.

    Parameters
    ----------
    tech, env, height_m, eirp_dbm, freq_mhz, total_eirp_dbm, bandwidth_mhz
        One value per site, missing values meaning the default; see
        :func:`resolve_site_radio` (``eirp_dbm`` is per resource element, ``total_eirp_dbm``
        the carrier's total).
    model
        ``"radius"``: read ``radius_m[tech][env]``. ``"hata"``: invert the composite path loss.
    radius_m
        The ``mobile.radius_m`` table, technology -> environment -> metres; None for
        :data:`DEFAULT_RADIUS_M`. Used by ``model="radius"`` only.
    threshold_dbm
        Received power needed, in dBm (RSRP), a scalar or one per site. Used by ``"hata"`` only.
    h_rx_m
        Handset height in metres.

    Returns
    -------
    numpy.ndarray
        Reach in metres, float64, one per site, in the order of ``tech``; 0 for a site that
        serves nobody.

    Raises
    ------
    ConfigError
        On an unknown model, a table without the entry a site needs or with a negative
        radius, or a non-finite threshold, naming the configuration key.
    InputError
        On a handset height that is not positive, or the errors of
        :func:`resolve_site_radio`.

    Notes
    -----
    For ``"hata"`` the reach ``r`` solves ``L_hata(r) = EIRP - threshold`` (the maximum
    allowed path loss). The loss increases with distance, so a bisection on ``log10(r)``
    between :data:`MIN_REACH_M` and the cap, run on all sites at once for a fixed number of
    halvings, finds it to far below 0.01 dB. The cap is the smaller of :data:`MAX_REACH_M` and
    the smooth-earth radio horizon ``4.12 (sqrt h_tx + sqrt h_rx) km`` (4/3 earth radius); a
    site whose loss at the cap is still allowed gets the cap. This is a sector's reach at
    boresight; off boresight see :func:`hata_pattern_reach_m` and
    :func:`radius_pattern_reach_m`.

    Examples
    --------
    >>> site_reach_m(tech=["4G", "5G"], model="radius", env=["urban", None], height_m=30.0,
    ...              eirp_dbm=float("nan"), freq_mhz=float("nan"), radius_m=None,
    ...              threshold_dbm=-110.0).tolist()
    [1500.0, 2000.0]
    """
    if model not in ("radius", "hata"):
        raise ConfigError(
            Problem(
                file="configuration",
                column="mobile.model",
                message=f"unknown model {model!r} for a site reach",
                fix="use 'radius' or 'hata' (the 'terrain' model computes coverage per raster "
                "cell, not a reach)",
            )
        )
    radio = resolve_site_radio(
        tech=tech,
        env=env,
        height_m=height_m,
        eirp_dbm=eirp_dbm,
        freq_mhz=freq_mhz,
        total_eirp_dbm=total_eirp_dbm,
        bandwidth_mhz=bandwidth_mhz,
    )
    if model == "radius":
        return _radius_lookup(radio, radius_m)
    threshold = _per_site("threshold_dbm", threshold_dbm, radio.tech.size)
    if not np.all(np.isfinite(threshold)):
        raise ConfigError(
            Problem(
                file="configuration",
                column="mobile.threshold_dbm",
                message="threshold_dbm must be a finite number of dBm",
                fix="give the RSRP a handset needs, e.g. -110",
            )
        )
    h_rx = np.float64(h_rx_m)
    if not h_rx > 0:
        raise InputError(
            Problem(
                file="arguments",
                message=f"h_rx_m must be greater than 0 m; got {h_rx_m:g}",
                fix="give the handset height in metres, e.g. 1.5",
            )
        )
    threshold = threshold + threshold_offset_db(radio.tech)
    return _hata_reach(radio, threshold, np.full(radio.tech.shape, h_rx))


# --------------------------------------------------------------------------------------------
# geometry: bearings, beams, footprints
# --------------------------------------------------------------------------------------------


def bearing_deg(
    x0: npt.ArrayLike, y0: npt.ArrayLike, x1: npt.ArrayLike, y1: npt.ArrayLike
) -> FloatArray:
    """Grid bearing from ``(x0, y0)`` to ``(x1, y1)``, clockwise from grid north.

    Parameters
    ----------
    x0, y0
        Origin coordinates (eastings, northings) in a projected CRS.
    x1, y1
        Target coordinates in the same CRS.

    Returns
    -------
    numpy.ndarray
        Bearing in degrees in ``[0, 360)``, float64, of the broadcast shape; 0 where the two
        points coincide.

    Notes
    -----
    ``atan2(x1 - x0, y1 - y0)`` taken modulo 360. Grid north differs from true north by the
    meridian convergence of the projection (under 2 degrees within a UTM or VN-2000 zone in
    Vietnam), which is negligible next to sector beamwidths.

    Examples
    --------
    >>> bearing_deg(0.0, 0.0, [0.0, 1.0, 0.0, -1.0], [1.0, 0.0, -1.0, 0.0]).tolist()
    [0.0, 90.0, 180.0, 270.0]
    """
    dx = np.asarray(x1, dtype=np.float64) - np.asarray(x0, dtype=np.float64)
    dy = np.asarray(y1, dtype=np.float64) - np.asarray(y0, dtype=np.float64)
    bearing = np.mod(np.degrees(np.arctan2(dx, dy)), 360.0)
    return np.asarray(np.where(bearing >= 360.0, 0.0, bearing), dtype=np.float64)


def _check_beamwidth(beamwidth: FloatArray) -> None:
    if np.any(beamwidth <= 0):
        raise InputError(
            Problem(
                file="sites",
                column="beamwidth_deg",
                message="beamwidth_deg must be greater than 0",
                fix="give the sector's beamwidth in degrees, or leave it empty for an omni site",
            )
        )


def in_beam(
    bearing_deg: npt.ArrayLike, azimuth_deg: npt.ArrayLike, beamwidth_deg: npt.ArrayLike
) -> BoolArray:
    """Whether each bearing falls inside a sector's beam.

    Parameters
    ----------
    bearing_deg
        Bearing from the site to the point, degrees clockwise from north.
    azimuth_deg
        Sector azimuth (centre of the beam), degrees clockwise from north; NaN for omni.
    beamwidth_deg
        Horizontal beamwidth in degrees, > 0; NaN (or 360 and above) for omni.

    Returns
    -------
    numpy.ndarray
        Boolean array of the broadcast shape; True where the site is omni or
        ``|bearing - azimuth| <= beamwidth / 2`` on the circle.

    Raises
    ------
    InputError
        If a beamwidth is 0 or negative.

    Notes
    -----
    The angular difference is wrapped to ``[-180, 180)`` by ``(b - a + 180) mod 360 - 180``,
    so a sector facing 350 degrees with a 60-degree beam covers 320 to 20 degrees. Edges are
    inside (with 1e-9 degree of slack against rounding). This is the 3 dB beam alone; coverage
    does not stop at its edge but follows the pattern (:func:`sector_gain_db`).

    Examples
    --------
    >>> in_beam([15.0, 30.0, 200.0], 350.0, 60.0).tolist()
    [True, False, False]
    >>> in_beam(200.0, float("nan"), 60.0).tolist()
    True
    """
    bearing = np.asarray(bearing_deg, dtype=np.float64)
    azimuth = np.asarray(azimuth_deg, dtype=np.float64)
    width = np.asarray(beamwidth_deg, dtype=np.float64)
    _check_beamwidth(width)
    omni = np.isnan(azimuth) | np.isnan(width) | (width >= 360.0)
    off_axis = np.abs(np.mod(bearing - azimuth + 180.0, 360.0) - 180.0)
    inside = off_axis <= 0.5 * width + 1e-9
    return np.asarray(omni | inside, dtype=np.bool_)


# --------------------------------------------------------------------------------------------
# the sector antenna pattern
# --------------------------------------------------------------------------------------------


def sector_attenuation_db(
    off_axis: FloatArray | float, beamwidth: FloatArray | float
) -> FloatArray:
    """Horizontal attenuation of a sector antenna off its boresight, in dB.

    Parameters
    ----------
    off_axis
        Angle ``φ`` between the boresight and the direction, in ``[0, 180]`` degrees or the
        equivalent in radians.
    beamwidth
        Half-power (3 dB) beamwidth ``φ3dB`` (the full width of the beam), > 0, in the unit of
        `off_axis`.

    Returns
    -------
    numpy.ndarray
        Attenuation ``min(12 (φ / φ3dB)^2, A_m)`` in dB, >= 0, of the broadcast shape (a float
        for scalars). The antenna gain relative to boresight is its negative.

    Notes
    -----
    The horizontal pattern of 3GPP TR 36.814 Table A.2.1.1-2 and TR 38.901 Table 7.3-1,
    ``A(φ) = -min(12 (φ / φ3dB)^2, A_m)`` with ``A_m`` = :data:`SECTOR_MAX_ATTENUATION_DB`:
    0 dB at boresight, 3 dB at the beam's edge ``φ3dB / 2``, and the flat 25 dB from
    ``φ3dB sqrt(25 / 12)`` (94 degrees off a 65-degree beam) round the back. This is the one
    definition of the pattern: the ``terrain`` model compiles this very function into its numba
    kernel (scalars in radians), so it stays a plain expression without checks;
    :func:`sector_gain_db` checks and wraps bearings.

    Examples
    --------
    >>> sector_attenuation_db(np.array([0.0, 32.5, 65.0, 180.0]), 65.0).tolist()
    [0.0, 3.0, 12.0, 25.0]
    """
    ratio = off_axis / beamwidth
    attenuation: FloatArray = np.minimum(12.0 * ratio * ratio, SECTOR_MAX_ATTENUATION_DB)
    return attenuation


def sector_gain_db(
    bearing_deg: npt.ArrayLike, azimuth_deg: npt.ArrayLike, beamwidth_deg: npt.ArrayLike
) -> FloatArray:
    """Gain of each antenna towards each bearing, relative to its boresight, in dB.

    Parameters
    ----------
    bearing_deg
        Bearing from the site to the point, degrees clockwise from north.
    azimuth_deg
        Sector azimuth (boresight), degrees clockwise from north; NaN for omni.
    beamwidth_deg
        Half-power beamwidth in degrees, > 0; NaN (or 360 and above) for omni.

    Returns
    -------
    numpy.ndarray
        Gain in dB, in ``[-25, 0]``, float64, of the broadcast shape; 0 for omni sites.

    Raises
    ------
    InputError
        If a beamwidth is 0 or negative.

    Notes
    -----
    ``-`` :func:`sector_attenuation_db` of the off-axis angle, the difference of bearing and
    azimuth wrapped to ``[0, 180]`` by ``|(b - a + 180) mod 360 - 180|``.

    Examples
    --------
    >>> sector_gain_db([90.0, 122.5, 180.0, 270.0], 90.0, 65.0).round(2).tolist()
    [0.0, -3.0, -23.01, -25.0]
    >>> sector_gain_db(270.0, float("nan"), 65.0).tolist()
    0.0
    """
    bearing = np.asarray(bearing_deg, dtype=np.float64)
    azimuth = np.asarray(azimuth_deg, dtype=np.float64)
    width = np.asarray(beamwidth_deg, dtype=np.float64)
    _check_beamwidth(width)
    omni = np.isnan(azimuth) | np.isnan(width) | (width >= 360.0)
    off_axis = np.abs(np.mod(bearing - azimuth + 180.0, 360.0) - 180.0)
    attenuation = sector_attenuation_db(np.where(omni, 0.0, off_axis), np.where(omni, 360.0, width))
    return np.asarray(0.0 - attenuation, dtype=np.float64)


def radius_pattern_reach_m(
    reach_m: npt.ArrayLike, gain_db: npt.ArrayLike, *, slope_db: float = RADIUS_PATTERN_SLOPE_DB
) -> FloatArray:
    """Reach of ``model="radius"`` in a direction where the antenna gain is `gain_db`.

    Parameters
    ----------
    reach_m
        Reach at boresight (the radius table's), metres.
    gain_db
        Antenna gain towards the direction relative to boresight, dB (<= 0), as
        :func:`sector_gain_db` gives.
    slope_db
        Distance slope of the path loss, dB per decade; see :data:`RADIUS_PATTERN_SLOPE_DB`.

    Returns
    -------
    numpy.ndarray
        ``reach · 10^(gain / slope)`` in metres, float64, of the broadcast shape.

    Notes
    -----
    A radius table is a link budget in disguise: the reach is where the path loss has used up
    the margin. Losing ``|A|`` dB of antenna gain moves that point in by ``|A| / slope``
    decades of distance, on a loss that grows ``slope`` dB per decade. At boresight the reach is
    the table's; at the 3 dB edge of the beam ``10^(-3/35) = 0.82`` of it; behind the sector
    (25 dB) ``10^(-25/35) = 0.19`` of it.

    Examples
    --------
    >>> radius_pattern_reach_m(5000.0, [0.0, -3.0, -25.0]).round(0).tolist()
    [5000.0, 4104.0, 965.0]
    """
    reach = np.asarray(reach_m, dtype=np.float64)
    gain = np.asarray(gain_db, dtype=np.float64)
    return np.asarray(reach * 10.0 ** (gain / slope_db), dtype=np.float64)


def hata_pattern_reach_m(
    gain_db: npt.ArrayLike,
    *,
    eirp_dbm: npt.ArrayLike,
    freq_mhz: npt.ArrayLike,
    height_m: npt.ArrayLike,
    env: str | npt.ArrayLike,
    threshold_dbm: npt.ArrayLike,
    h_rx_m: float = 1.5,
) -> FloatArray:
    """Reach of ``model="hata"`` in a direction where the antenna gain is `gain_db`.

    Parameters
    ----------
    gain_db
        Antenna gain towards the direction relative to boresight, dB (<= 0).
    eirp_dbm, freq_mhz, height_m, env
        The site's radio parameters, defaults already filled in (:func:`resolve_site_radio`);
        ``eirp_dbm`` is the boresight EIRP.
    threshold_dbm
        Received power needed, dBm.
    h_rx_m
        Handset height in metres.

    Returns
    -------
    numpy.ndarray
        Reach in metres, float64, of the broadcast shape of all inputs; 0 where the site
        serves nobody in that direction.

    Notes
    -----
    The reach of :func:`site_reach_m` for a site radiating ``EIRP + gain``: the distance where
    ``EIRP + A(φ) - L_hata(d) = threshold``, with the same bisection and the same cap. With
    ``gain_db = 0`` it is the boresight reach.

    Examples
    --------
    >>> r = hata_pattern_reach_m([0.0, -10.0], eirp_dbm=32.0, freq_mhz=1800.0, height_m=30.0,
    ...                          env="urban", threshold_dbm=-110.0)
    >>> (r[1] / r[0]).round(3).item()  # 10 dB on Hata's 35.2 dB per decade
    0.52
    """
    gain = np.asarray(gain_db, dtype=np.float64)
    eirp = np.asarray(eirp_dbm, dtype=np.float64)
    freq = np.asarray(freq_mhz, dtype=np.float64)
    height = np.asarray(height_m, dtype=np.float64)
    threshold = np.asarray(threshold_dbm, dtype=np.float64)
    env_s = np.asarray(env, dtype=np.str_)
    shape = np.broadcast_shapes(
        gain.shape, eirp.shape, freq.shape, height.shape, threshold.shape, env_s.shape
    )

    def full(values: FloatArray) -> FloatArray:
        return np.array(np.broadcast_to(values, shape), dtype=np.float64)

    site = SiteRadio(
        tech=np.full(shape, DEFAULT_TECH, dtype=np.str_),
        env=np.array(np.broadcast_to(env_s, shape), dtype=np.str_),
        height_m=full(height),
        eirp_dbm=full(eirp + gain),
        freq_mhz=full(freq),
    )
    return _hata_reach(site, full(threshold), np.full(shape, np.float64(h_rx_m)))


# --------------------------------------------------------------------------------------------
# footprints
# --------------------------------------------------------------------------------------------

#: Reach of every sector towards sampled bearings: called with the sectors' rows (``(m,)``)
#: and their antenna gains (``(m, k)`` dB), it returns the reaches (``(m, k)`` metres).
ReachAtGain = Callable[[npt.NDArray[np.int64], FloatArray], FloatArray]


def footprints(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    reach_m: npt.ArrayLike,
    azimuth_deg: npt.ArrayLike,
    beamwidth_deg: npt.ArrayLike,
    *,
    segments: int = 32,
    reach_at: ReachAtGain | None = None,
) -> npt.NDArray[np.object_]:
    """Coverage footprint of every site: a disc for omni sites, the pattern's shape for sectors.

    Parameters
    ----------
    x, y
        Site coordinates in a projected (metric) CRS, one per site.
    reach_m
        Reach per site in metres (a sector's at boresight), >= 0; 0 or NaN gives an empty
        polygon.
    azimuth_deg
        Sector azimuth per site, degrees clockwise from grid north; NaN for omni.
    beamwidth_deg
        Beamwidth per site in degrees, > 0; NaN, or 360 and above, for omni.
    segments
        Straight segments approximating a full circle (a disc), >= 4; a sector's outline has
        ``2 * segments`` across its main lobe and ``segments`` round its back.
    reach_at
        How far a sector reaches where its antenna gain is ``A`` dB: called as
        ``reach_at(rows, gain_db)`` with the sectors' rows in the input and their gains at the
        sampled bearings (``(m, k)``). None for ``model="radius"``'s rule,
        :func:`radius_pattern_reach_m` of `reach_m`; the ``hata`` model passes
        :func:`hata_pattern_reach_m` over its link budget.

    Returns
    -------
    numpy.ndarray
        Object array of shapely Polygons, one per site in input order, in the CRS of ``x`` and
        ``y``.

    Raises
    ------
    ValueError
        On a negative reach, a beamwidth <= 0, ``segments < 4``, or arrays of different
        lengths.

    Notes
    -----
    Discs come from one ``shapely.buffer`` call on all omni sites with their radii
    (``quad_segs = segments // 4``). A sector's outline is star-shaped about the site: the
    vertex at bearing ``t`` lies at ``(x + r sin t, y + r cos t)`` with ``r`` the reach where
    the gain is :func:`sector_gain_db` ``(t)``, held to at least 1 m (a handset at the mast is
    served whichever way the sector faces). The pattern changes only within
    ``φ_flat = φ3dB sqrt(25 / 12)`` of boresight (94 degrees for a 65-degree beam), so the
    bearings are ``2 * segments`` equal steps across ``azimuth +- φ_flat`` (boresight one of
    them) and ``segments`` round the back, where the outline is an arc of a circle. All
    outlines are one ``(m, 3 segments + 1, 2)`` coordinate array (closed) passed to
    ``shapely.polygons``. At 32 segments a sector's area is within 0.3 % of
    ``(1/2) integral r(t)^2 dt`` for beams of 10 to 200 degrees.

    Examples
    --------
    >>> polys = footprints([0.0, 0.0], [0.0, 0.0], [100.0, 100.0], [float("nan"), 90.0],
    ...                    [float("nan"), 65.0], segments=64)
    >>> [round(p.area / (3.14159265 * 100.0**2), 2) for p in polys]
    [1.0, 0.27]
    """
    if segments < 4:
        # Programmer error: no file, option or configuration key sets the segments.
        raise ValueError(f"segments must be at least 4; got {segments}")
    xs = np.atleast_1d(np.asarray(x, dtype=np.float64))
    n = xs.size
    ys = _per_site("y", y, n)
    reach = _per_site("reach_m", reach_m, n)
    azimuth = _per_site("azimuth_deg", azimuth_deg, n)
    width = _per_site("beamwidth_deg", beamwidth_deg, n)
    if np.any(reach < 0):
        # Programmer error: reaches come from site_reach_m, never negative.
        raise ValueError("reach_m must be >= 0 m (0 or NaN for no footprint)")
    _check_beamwidth(width)

    result = np.full(n, shapely.Polygon(), dtype=object)
    has_reach = np.isfinite(reach) & (reach > 0)
    omni = np.isnan(azimuth) | np.isnan(width) | (width >= 360.0)

    disc = has_reach & omni
    if np.any(disc):
        centres = shapely.points(xs[disc], ys[disc])
        result[disc] = shapely.buffer(centres, reach[disc], quad_segs=max(1, segments // 4))

    rows = np.flatnonzero(has_reach & ~omni)
    if rows.size:
        # main lobe: 2 * segments equal steps of off-axis angle across +-flat, boresight
        # among them; the flat back, an arc of a circle: segments steps
        flat = np.minimum(width[rows] * np.sqrt(SECTOR_MAX_ATTENUATION_DB / 12.0), 180.0)
        lobe = np.linspace(-1.0, 1.0, 2 * segments + 1)[None, :] * flat[:, None]
        back = flat[:, None] + np.linspace(0.0, 1.0, segments + 1)[None, 1:] * (
            360.0 - 2.0 * flat[:, None]
        )
        bearing = azimuth[rows][:, None] + np.concatenate([lobe, back], axis=1)
        gain = sector_gain_db(bearing, azimuth[rows][:, None], width[rows][:, None])
        if reach_at is None:
            r = radius_pattern_reach_m(reach[rows][:, None], gain)
        else:
            r = np.asarray(reach_at(rows, gain), dtype=np.float64)
        r = np.maximum(np.minimum(r, reach[rows][:, None]), 1.0)
        r[:, -1] = r[:, 0]  # the ring closes exactly
        theta = np.radians(bearing)
        ring = np.stack(
            [xs[rows][:, None] + r * np.sin(theta), ys[rows][:, None] + r * np.cos(theta)],
            axis=-1,
        )
        ring[:, -1] = ring[:, 0]
        result[rows] = shapely.polygons(ring)
    return result
