"""Download speed: measured per commune, and predicted per village from the best server's SINR.

Measured
--------
Samples that carry ``download_mbps`` (:attr:`hatangso.coverage.measurements.SampleSummary.speeds`)
are gathered per commune and technology: the count, mean and median of the 4G (or the 5G)
samples in the commune's villages. A commune's figures are published only from
:data:`MIN_COMMUNE_SAMPLES` samples (300), the rule of VNNIC's i-Speed measurement, which
publishes a commune's speed from 300 samples (Công văn 1004/SKHCN-CNTTVTBC of the Sở Khoa
học và Công nghệ Cần Thơ, 15/9/2025, citing Công văn 2928/VNNIC of 19/8/2025); with fewer
the commune is ``insufficient``.
``commune_4g_speed`` is the share of the published communes whose mean reaches the plan's 4G
speed target (Quyết định 36/QĐ-TTg of 11/01/2024: 4G at 40 Mb/s or more by 2025, the default
when the plan gives no figure; a scenario's statistic ``mobile_download_4g_mbps`` or
``mobile_download_mbps`` gives the year's figure). ``commune_5g_speed`` is the same rule on the
5G samples against the 5G target: 100 Mb/s by default, the national end-2025 target as the
province plan summary of December 2024 (``seeds/000``, "Hạ tầng viễn thông băng rộng") writes
it, "tốc độ tải xuống trung bình tối thiểu 40 Mb/s cho mạng 4G và 100 Mb/s cho mạng 5G"; a
scenario's statistic ``mobile_download_5g_mbps`` gives the year's figure. It is computed when
some 5G sample gives a download speed.

Predicted
---------
Coverage says whether a village hears a site; a planner also needs what speed it can get. For
each village centre and each co-channel layer (one operator's carriers of one technology on
one frequency: operators hold separate blocks of a band, so they do not interfere), the best
server's SINR is

``SINR = S / (N + sum of the other co-channel carriers' received power)``

with every power the carrier's total over its channel (the engine's link budget,
:func:`hatangso.coverage.radio.received_power_dbm` with the antenna pattern, per resource
element, plus ``10 log10(N_RE)``, :func:`hatangso.geo.carrier.resource_elements`) and the
noise ``N = -174 dBm/Hz + 10 log10(B) + NF`` over the channel bandwidth ``B`` with a handset
noise figure ``NF`` of :data:`UE_NOISE_FIGURE_DB` (7 dB: an assumed figure for a current
handset; ``noise_figure_db`` changes it). The simplifications: every carrier transmits all
the time on every resource block (full load, the worst case) and there is no scheduling gain;
the handset sits at the village centre, outdoors, 1.5 m above ground, with the Hata median
path loss (no shadowing, no terrain), whatever model decided the coverage. The throughput is
the attenuated Shannon bound of 3GPP TR 36.942, Annex A (:func:`shannon_throughput_mbps`):
what one user gets with the whole carrier, for the share of the time the carrier sends
downlink: all of it for 4G (FDD), ``tdd_downlink_share_5g`` for 5G, whose carriers are TDD
(:data:`hatangso.geo.carrier.NR_TDD_DOWNLINK_SHARE`, 0.743: the ``DDDSU`` frame). 5G keeps
the single-layer cap of TR 36.942 (4.4 b/s/Hz): the attenuated Shannon bound models one
spatial layer, and NR's higher peaks (ITU-R M.2410's 30 b/s/Hz) need eight. A village's
figure is its best layer's (any operator): where it is covered yet below the target,
capacity, not coverage, is the gap.
Each village also gets its best 5G layer's figure (``pred_dl_5g_mbps``, ``sinr_5g_db``) when
the sites carry 5G: a 5G carrier that gives no ``freq_mhz`` or ``bandwidth_mhz`` is the
3.5 GHz (band n78) carrier of :data:`hatangso.coverage.radio.DEFAULT_FREQ_MHZ` over 100 MHz
(:data:`hatangso.geo.carrier.DEFAULT_BANDWIDTH_MHZ`, the widest FR1 channel at 30 kHz, TS
38.101-1 Table 5.3.2-1), and the villages covered by 5G yet predicted below the 5G target
are counted as the 4G ones are against the 4G target.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial import cKDTree

from hatangso.coverage import radio
from hatangso.coverage.kpis import IndicatorValue
from hatangso.geo.carrier import DEFAULT_BANDWIDTH_MHZ, NR_TDD_DOWNLINK_SHARE, resource_elements

__all__ = [
    "COMMUNE_SPEED_COLUMNS",
    "INTERFERENCE_RADIUS_M",
    "MAX_SPECTRAL_EFFICIENCY",
    "MIN_COMMUNE_SAMPLES",
    "NATIONAL_4G_TARGET_MBPS",
    "NATIONAL_5G_TARGET_MBPS",
    "NATIONAL_TARGETS_MBPS",
    "PREDICTED_BLOCKS",
    "SHANNON_ALPHA",
    "SINR_MIN_DB",
    "SPEED_BLOCKS",
    "SPEED_INDICATORS",
    "SPEED_STATISTICS",
    "SPEED_STATISTICS_BY_TECH",
    "THERMAL_NOISE_DBM_HZ",
    "UE_NOISE_FIGURE_DB",
    "CommuneSpeeds",
    "DownlinkPrediction",
    "SpeedResult",
    "assess_speed",
    "below_target",
    "commune_speeds",
    "noise_dbm",
    "predict_downlink",
    "prediction_block",
    "shannon_throughput_mbps",
    "speed_target_mbps",
    "speed_villages",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Samples a commune needs before its speed is published (VNNIC i-Speed's rule, see above).
MIN_COMMUNE_SAMPLES: Final = 300
#: The national 4G mean download target, Mb/s (QĐ 36/QĐ-TTg, 11/01/2024, for 2025).
NATIONAL_4G_TARGET_MBPS: Final = 40.0
#: The national 5G mean download target, Mb/s, for end-2025: the province plan summary of
#: December 2024 (``seeds/000``: "100 Mb/s cho mạng 5G").
NATIONAL_5G_TARGET_MBPS: Final = 100.0
#: The national targets by technology, Mb/s.
NATIONAL_TARGETS_MBPS: Final[Mapping[str, float]] = MappingProxyType(
    {"4G": NATIONAL_4G_TARGET_MBPS, "5G": NATIONAL_5G_TARGET_MBPS}
)
#: Scenario statistics that carry the plan's 4G speed target, the first found wins.
SPEED_STATISTICS: Final = ("mobile_download_4g_mbps", "mobile_download_mbps")
#: The statistics that carry each technology's target (a plan's "mobile speed" is 4G's).
SPEED_STATISTICS_BY_TECH: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"4G": SPEED_STATISTICS, "5G": ("mobile_download_5g_mbps",)}
)
#: The indicator of each measured technology.
SPEED_INDICATORS: Final[Mapping[str, str]] = MappingProxyType(
    {"4G": "commune_4g_speed", "5G": "commune_5g_speed"}
)
#: The ``kpis.json`` block of each technology's measured speeds (:meth:`CommuneSpeeds.as_dict`).
SPEED_BLOCKS: Final[Mapping[str, str]] = MappingProxyType(
    {"4G": "commune_speed", "5G": "commune_speed_5g"}
)
#: The ``kpis.json`` block of the predicted downlink (:func:`prediction_block`): ``4G`` holds
#: the villages covered by mobile broadband against the 4G target (their best layer, any
#: technology), ``5G`` the villages covered by 5G against the 5G target (their best 5G layer).
PREDICTED_BLOCKS: Final[Mapping[str, str]] = MappingProxyType(
    {"4G": "predicted_downlink", "5G": "predicted_downlink_5g"}
)
#: Attenuation of the Shannon bound (3GPP TR 36.942, Annex A, downlink).
SHANNON_ALPHA: Final = 0.6
#: Highest spectral efficiency, b/s/Hz (3GPP TR 36.942, Annex A, downlink ``Thr_MAX``).
MAX_SPECTRAL_EFFICIENCY: Final = 4.4
#: SINR below which the throughput is 0, dB (3GPP TR 36.942, Annex A, ``SINR_MIN``).
SINR_MIN_DB: Final = -10.0
#: Thermal noise density at 290 K, dBm/Hz.
THERMAL_NOISE_DBM_HZ: Final = -174.0
#: Handset noise figure, dB: an assumption for a current handset (``noise_figure_db`` of
#: :func:`predict_downlink` changes it).
UE_NOISE_FIGURE_DB: Final = 7.0
#: Farthest carrier counted, m: one at 15 km is received ~40 dB below one at 1 km
#: (Hata's distance slope), under the noise of a village served at all.
INTERFERENCE_RADIUS_M: Final = 15_000.0
#: Technologies with a predicted downlink (the ones with resource elements).
_SPEED_TECHS: Final = ("4G", "5G")

#: Columns of :attr:`CommuneSpeeds.table`.
COMMUNE_SPEED_COLUMNS: Final = (
    "unit",
    "n_samples",
    "mean_mbps",
    "median_mbps",
    "status",
    "reaches_target",
)


# --------------------------------------------------------------------------------------------
# Measured: per commune
# --------------------------------------------------------------------------------------------


def speed_target_mbps(
    statistics: Sequence[Any],
    year: int | None,
    *,
    default: float | None = None,
    tech: str = "4G",
) -> float:
    """Return the `tech` speed target of `year` from a scenario's statistics, else `default`.

    A year past the plan's last target keeps that target (a switch-off year after 2025 is
    still held to 2025's speed); a year before the first one, and the baseline, take
    `default`.

    Parameters
    ----------
    statistics
        The scenario's statistics (objects with ``code`` and ``targets``, ``{year: value}``).
    year
        The run's year; None (the baseline) takes `default`.
    default
        None: the national target of `tech` (:data:`NATIONAL_TARGETS_MBPS`).
    tech
        ``4G`` (statistics ``mobile_download_4g_mbps``, then ``mobile_download_mbps``) or
        ``5G`` (``mobile_download_5g_mbps``): :data:`SPEED_STATISTICS_BY_TECH`.

    Examples
    --------
    >>> from types import SimpleNamespace as S
    >>> stats = [S(code="mobile_download_4g_mbps", targets={2024: 60.0, 2025: 80.0})]
    >>> [speed_target_mbps(stats, year) for year in (2025, 2026, 2023, None)]
    [80.0, 80.0, 40.0, 40.0]
    >>> speed_target_mbps(stats, 2025, tech="5G")
    100.0
    """
    if default is None:
        default = NATIONAL_TARGETS_MBPS[tech]
    if year is None:
        return float(default)
    for code in SPEED_STATISTICS_BY_TECH[tech]:
        for stat in statistics:
            if stat.code != code:
                continue
            past = [y for y in stat.targets if y <= year]
            if past:
                return float(stat.targets[max(past)])
    return float(default)


@dataclass(frozen=True)
class CommuneSpeeds:
    """Measured download speed per commune and its indicator (``commune_4g_speed``, ...).

    Attributes
    ----------
    table
        One row per commune with samples of `tech`, in unit order: ``unit`` (the commune's
        path, ``"Huyện A / Xã B"``), ``n_samples`` (int64), ``mean_mbps`` and
        ``median_mbps`` (float64, NaN when not published), ``status`` (``published`` or
        ``insufficient``) and ``reaches_target`` (boolean, NA when not published).
    indicator
        ``commune_4g_speed`` (``commune_5g_speed`` for 5G, :data:`SPEED_INDICATORS`):
        published communes reaching the target / published communes.
    target_mbps, min_samples, tech
        What the communes were measured against.
    """

    table: pd.DataFrame
    indicator: IndicatorValue
    target_mbps: float
    min_samples: int
    tech: str

    def as_dict(self) -> dict[str, Any]:
        """Return the ``commune_speed`` block of ``kpis.json`` (:data:`SPEED_BLOCKS`)."""
        t = self.table

        def number(value: Any) -> float | None:
            return None if pd.isna(value) else round(float(value), 2)

        rows = [
            {
                "unit": str(unit),
                "n_samples": int(n),
                "mean_mbps": number(mean),
                "median_mbps": number(median),
                "status": str(status),
                "reaches_target": None if pd.isna(reaches) else bool(reaches),
            }
            for unit, n, mean, median, status, reaches in zip(
                t["unit"].tolist(),
                t["n_samples"].tolist(),
                t["mean_mbps"].tolist(),
                t["median_mbps"].tolist(),
                t["status"].tolist(),
                t["reaches_target"].tolist(),
                strict=True,
            )
        ]
        return {
            "tech": self.tech,
            "target_mbps": self.target_mbps,
            "min_samples": self.min_samples,
            "rule": (
                f"a commune's speed is published from {self.min_samples} samples (VNNIC i-Speed: "
                "Công văn 1004/SKHCN-CNTTVTBC, Sở KH&CN Cần Thơ, 15/9/2025, citing Công văn "
                "2928/VNNIC, 19/8/2025)"
            ),
            "communes": rows,
        }


def _commune_names(villages: pd.DataFrame) -> pd.Series | None:
    """Each village's commune as its path (province / district / commune), None without one."""
    if "commune" not in villages or not villages["commune"].notna().any():
        return None
    levels = [
        lv
        for lv in ("province", "district", "commune")
        if lv in villages and villages[lv].notna().any()
    ]
    keys = villages[levels].astype("string")
    names = keys[levels[0]].fillna("(không rõ)")
    for col in levels[1:]:
        names = names + " / " + keys[col].fillna("(không rõ)")
    return names.where(keys["commune"].notna())


def commune_speeds(
    speeds: pd.DataFrame,
    villages: pd.DataFrame,
    *,
    target_mbps: float,
    min_samples: int = MIN_COMMUNE_SAMPLES,
    tech: str = "4G",
) -> CommuneSpeeds:
    """Mean and median download per commune, published from `min_samples` samples.

    Parameters
    ----------
    speeds
        One row per sample: ``village_id``, ``tech``, ``download_mbps`` (as
        :attr:`hatangso.coverage.measurements.SampleSummary.speeds`). Samples of other
        technologies, outside every village or without a download are not counted.
    villages
        ``village_id`` and ``commune`` (with ``district`` and ``province`` where given, to
        keep communes of the same name apart).
    target_mbps
        The speed a commune's mean must reach.
    min_samples
        Samples a commune needs to be published.
    tech
        The technology measured: ``4G`` or ``5G`` (:data:`SPEED_INDICATORS`).

    Returns
    -------
    CommuneSpeeds
        An empty table and a 0/0 indicator when no village names its commune.

    Raises
    ------
    ValueError
        If `tech` has no speed indicator.

    Examples
    --------
    >>> villages = pd.DataFrame({"village_id": ["a", "b"], "commune": ["X", "Y"]})
    >>> speeds = pd.DataFrame({"village_id": ["a"] * 300 + ["b"] * 299, "tech": "4G",
    ...                        "download_mbps": 50.0})
    >>> result = commune_speeds(speeds, villages, target_mbps=40.0)
    >>> result.table[["unit", "n_samples", "status"]].values.tolist()
    [['X', 300, 'published'], ['Y', 299, 'insufficient']]
    >>> result.indicator.numerator, result.indicator.denominator
    (1.0, 1.0)
    """
    if tech not in SPEED_INDICATORS:
        raise ValueError(
            f"no speed indicator for {tech!r}: use one of {', '.join(SPEED_INDICATORS)}"
        )
    code = SPEED_INDICATORS[tech]
    names = _commune_names(villages)
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in COMMUNE_SPEED_COLUMNS})
    if names is None or speeds.empty:
        indicator = IndicatorValue(code, 0.0, 0.0)
        return CommuneSpeeds(empty, indicator, float(target_mbps), int(min_samples), tech)
    of_village = pd.Series(names.to_numpy(), index=villages["village_id"].astype(str).to_numpy())
    of_village = of_village[~of_village.index.duplicated()]
    kept = speeds[
        (speeds["tech"].astype("string") == tech).fillna(False).to_numpy(dtype=bool)
        & speeds["download_mbps"].notna().to_numpy()
        & speeds["village_id"].notna().to_numpy()
    ]
    unit = of_village.reindex(kept["village_id"].astype(str).to_numpy()).to_numpy()
    frame = pd.DataFrame(
        {"unit": unit, "download_mbps": kept["download_mbps"].to_numpy(dtype=float)}
    ).dropna(subset=["unit"])
    stats = frame.groupby("unit", sort=True)["download_mbps"].agg(["size", "mean", "median"])
    n = stats["size"].to_numpy(dtype=np.int64)
    published = n >= min_samples
    mean = np.where(published, stats["mean"].to_numpy(dtype=float), np.nan)
    median = np.where(published, stats["median"].to_numpy(dtype=float), np.nan)
    reaches = pd.array(np.where(published, mean >= target_mbps - 1e-9, False), dtype="boolean")
    reaches[~published] = pd.NA
    table = pd.DataFrame(
        {
            "unit": stats.index.astype(str).to_numpy(dtype=object),
            "n_samples": n,
            "mean_mbps": mean,
            "median_mbps": median,
            "status": np.where(published, "published", "insufficient").astype(object),
            "reaches_target": reaches,
        },
        columns=list(COMMUNE_SPEED_COLUMNS),
    )
    met = int(np.sum(published & (mean >= target_mbps - 1e-9)))
    indicator = IndicatorValue(code, float(met), float(published.sum()))
    log.info(
        "speed: %d communes with %s samples, %d published, %d at %g Mb/s or more",
        len(table),
        tech,
        int(published.sum()),
        met,
        target_mbps,
    )
    return CommuneSpeeds(table, indicator, float(target_mbps), int(min_samples), tech)


# --------------------------------------------------------------------------------------------
# Predicted: per village
# --------------------------------------------------------------------------------------------


def noise_dbm(
    bandwidth_mhz: npt.ArrayLike,
    *,
    noise_figure_db: float = UE_NOISE_FIGURE_DB,
    thermal_dbm_hz: float = THERMAL_NOISE_DBM_HZ,
) -> FloatArray:
    """Noise power over a channel, dBm: ``thermal + 10 log10(B in Hz) + NF``.

    Examples
    --------
    >>> noise_dbm([20.0, 100.0]).round(2).tolist()
    [-93.99, -87.0]
    """
    hz = np.asarray(bandwidth_mhz, dtype=np.float64) * 1e6
    return np.asarray(thermal_dbm_hz + 10.0 * np.log10(hz) + noise_figure_db, dtype=np.float64)


def shannon_throughput_mbps(
    sinr_db: npt.ArrayLike,
    bandwidth_mhz: npt.ArrayLike,
    *,
    alpha: float = SHANNON_ALPHA,
    max_efficiency: float = MAX_SPECTRAL_EFFICIENCY,
    sinr_min_db: float = SINR_MIN_DB,
) -> FloatArray:
    """Downlink throughput by the attenuated Shannon bound of 3GPP TR 36.942, Annex A.

    Parameters
    ----------
    sinr_db
        Signal to interference plus noise ratio, dB (NaN: no server, NaN out).
    bandwidth_mhz
        Channel bandwidth, MHz.
    alpha, max_efficiency, sinr_min_db
        The attenuation (0.6), the highest spectral efficiency (4.4 b/s/Hz) and the SINR
        below which nothing gets through (-10 dB).

    Returns
    -------
    numpy.ndarray
        Mb/s, float64, of the broadcast shape.

    Notes
    -----
    ``thr = B · min(alpha · log2(1 + SINR), max_efficiency)`` for ``SINR >= SINR_min``, else
    0 (TR 36.942 section A.1: ``Thr = 0`` below ``SINR_MIN``, ``alpha · S(SINR)`` between,
    ``Thr_MAX`` above ``SINR_MAX``).

    Examples
    --------
    At 0 dB, ``0.6 · log2(2) = 0.6`` b/s/Hz, 12 Mb/s on 20 MHz:

    >>> shannon_throughput_mbps([0.0, -11.0, 30.0], 20.0).round(3).tolist()
    [12.0, 0.0, 88.0]
    """
    sinr = np.asarray(sinr_db, dtype=np.float64)
    linear = np.power(10.0, sinr / 10.0)
    efficiency = np.minimum(alpha * np.log2(1.0 + linear), max_efficiency)
    efficiency = np.where(sinr >= sinr_min_db, efficiency, np.where(np.isnan(sinr), np.nan, 0.0))
    return np.asarray(efficiency * np.asarray(bandwidth_mhz, dtype=np.float64), dtype=np.float64)


@dataclass(frozen=True)
class DownlinkPrediction:
    """Best predicted downlink per point.

    Attributes
    ----------
    sinr_db
        SINR of the best layer's best server, dB; NaN where no carrier is within
        :data:`INTERFERENCE_RADIUS_M`.
    pred_dl_mbps
        Its throughput, Mb/s (:func:`shannon_throughput_mbps`); NaN likewise.
    operator, tech
        The best layer's operator and technology (None where NaN).
    tech_sinr_db, tech_dl_mbps
        Per technology that some site carries (``4G``, ``5G``): the SINR and throughput of
        the point's best layer of that technology, NaN where it has none within reach.
    """

    sinr_db: FloatArray
    pred_dl_mbps: FloatArray
    operator: npt.NDArray[np.object_]
    tech: npt.NDArray[np.object_]
    tech_sinr_db: Mapping[str, FloatArray] = field(default_factory=dict)
    tech_dl_mbps: Mapping[str, FloatArray] = field(default_factory=dict)


def _carries(tech: pd.Series, token: str) -> npt.NDArray[np.bool_]:
    codes, lists = pd.factorize(tech.fillna("4G").astype(str))
    has = np.array([token in str(v).replace(" ", "").split(";") for v in lists], dtype=bool)
    return has[codes] if len(lists) else np.zeros(len(tech), dtype=bool)


def predict_downlink(
    xy: FloatArray,
    sites: gpd.GeoDataFrame,
    *,
    noise_figure_db: float = UE_NOISE_FIGURE_DB,
    thermal_dbm_hz: float = THERMAL_NOISE_DBM_HZ,
    interference_radius_m: float = INTERFERENCE_RADIUS_M,
    h_rx_m: float = 1.5,
    downlink_share_5g: float = NR_TDD_DOWNLINK_SHARE,
) -> DownlinkPrediction:
    """Predict each point's best downlink: SINR per co-channel layer, attenuated Shannon.

    Parameters
    ----------
    xy
        ``(n, 2)`` points (the village centres) in the sites' metric CRS.
    sites
        A clean ``sites`` layer in a projected CRS (``operator``, ``tech``, optional
        ``height_m``, ``env``, ``azimuth_deg``, ``beamwidth_deg``, ``eirp_dbm``,
        ``eirp_re_dbm``, ``freq_mhz``, ``bandwidth_mhz``); each row's 4G and 5G carriers
        count, with the engine's defaults (:mod:`hatangso.coverage.radio`,
        :data:`hatangso.geo.carrier.DEFAULT_BANDWIDTH_MHZ`).
    noise_figure_db, thermal_dbm_hz
        The handset's noise figure and the thermal noise density (``-inf``: no noise).
    interference_radius_m
        Carriers farther than this from a point are neither servers nor interferers.
    h_rx_m
        Handset height, m.
    downlink_share_5g
        Share of a 5G (TDD) carrier's time that carries the downlink; the 5G throughput is
        the carrier's times it (4G carriers are FDD: 1).

    Returns
    -------
    DownlinkPrediction

    Notes
    -----
    See the module's notes. The (point, carrier) pairs within reach are found by one k-d tree
    search per block of 4,096 points (:meth:`scipy.spatial.cKDTree.sparse_distance_matrix`),
    which bounds the memory; the received powers, the sums and the best per (point, layer)
    are numpy over the pairs.
    """
    from hatangso.coverage.mobile import site_table

    n = len(xy)
    nan = np.full(n, np.nan)
    none = np.full(n, None, dtype=object)
    if n == 0 or len(sites) == 0:
        return DownlinkPrediction(nan, nan.copy(), none, none.copy())
    table = site_table(sites, model="radius", radius_m=radio.DEFAULT_RADIUS_M, threshold_dbm=-110.0)
    tech_col = sites["tech"] if "tech" in sites else pd.Series("4G", index=sites.index)
    bandwidth_col = (
        np.asarray(pd.to_numeric(sites["bandwidth_mhz"], errors="coerce"), dtype=float)
        if "bandwidth_mhz" in sites
        else np.full(len(sites), np.nan)
    )
    site_idx, techs, eirp, freq, bandwidth, share = [], [], [], [], [], []
    for t in _SPEED_TECHS:  # two technologies, not a loop over geometries
        rows = np.flatnonzero(_carries(tech_col, t))
        site_idx.append(rows)
        techs.append(np.full(len(rows), t, dtype=object))
        eirp.append(table.eirp_dbm[t][rows])
        freq.append(table.freq_mhz[t][rows])
        bw = bandwidth_col[rows]
        bandwidth.append(np.where(np.isnan(bw), DEFAULT_BANDWIDTH_MHZ[t], bw))
        share.append(np.full(len(rows), downlink_share_5g if t == "5G" else 1.0))
    c_site = np.concatenate(site_idx)
    if c_site.size == 0:
        return DownlinkPrediction(nan, nan.copy(), none, none.copy())
    c_tech = np.concatenate(techs)
    c_eirp = np.concatenate(eirp)
    c_freq = np.concatenate(freq)
    c_bw = np.concatenate(bandwidth)
    # Total carrier power = per resource element + 10 log10(subcarriers).
    c_spread = 10.0 * np.log10(resource_elements(c_tech, c_bw, freq_mhz=c_freq))
    layer_key = pd.MultiIndex.from_arrays([table.operator[c_site], c_tech, np.round(c_freq, 3)])
    c_layer, layers = pd.factorize(layer_key)
    c_layer = np.asarray(c_layer, dtype=np.int64)
    present = [t for t in _SPEED_TECHS if (c_tech == t).any()]
    carriers = _Carriers(
        x=table.x[c_site],
        y=table.y[c_site],
        layer=np.asarray(c_layer, dtype=np.int64),
        n_layers=len(layers),
        operator=table.operator[c_site],
        tech=c_tech,
        eirp_dbm=c_eirp,
        freq_mhz=c_freq,
        bandwidth_mhz=c_bw,
        downlink_share=np.concatenate(share),
        spread_db=c_spread,
        height_m=table.height_m[c_site],
        env=table.env[c_site].astype(str),
        azimuth_deg=table.azimuth_deg[c_site],
        beamwidth_deg=table.beamwidth_deg[c_site],
    )
    tree = cKDTree(np.column_stack([carriers.x, carriers.y]))
    out = DownlinkPrediction(
        nan,
        nan.copy(),
        none,
        none.copy(),
        tech_sinr_db={t: nan.copy() for t in present},
        tech_dl_mbps={t: nan.copy() for t in present},
    )
    xy = np.asarray(xy, dtype=float)
    # Blocks of points bound the pairs held at once (a city's village sees hundreds of carriers).
    for first in range(0, n, _BLOCK_POINTS):
        block = slice(first, min(first + _BLOCK_POINTS, n))
        _predict_block(
            xy[block],
            carriers,
            tree,
            out=out,
            rows=block,
            noise_figure_db=noise_figure_db,
            thermal_dbm_hz=thermal_dbm_hz,
            radius_m=interference_radius_m,
            h_rx_m=h_rx_m,
        )
    return out


#: Points predicted at once.
_BLOCK_POINTS: Final = 4096


@dataclass(frozen=True)
class _Carriers:
    """One row per (site, technology) carrier, in the metric CRS, defaults filled in."""

    x: FloatArray
    y: FloatArray
    layer: IntArray
    n_layers: int
    operator: npt.NDArray[np.object_]
    tech: npt.NDArray[np.object_]
    eirp_dbm: FloatArray
    freq_mhz: FloatArray
    bandwidth_mhz: FloatArray
    downlink_share: FloatArray
    spread_db: FloatArray
    height_m: FloatArray
    env: npt.NDArray[np.str_]
    azimuth_deg: FloatArray
    beamwidth_deg: FloatArray


def _predict_block(
    xy: FloatArray,
    carriers: _Carriers,
    tree: cKDTree,
    *,
    out: DownlinkPrediction,
    rows: slice,
    noise_figure_db: float,
    thermal_dbm_hz: float,
    radius_m: float,
    h_rx_m: float,
) -> None:
    """Fill `out[rows]` with the best layer of each point of `xy` (see predict_downlink)."""
    hits = tree.sparse_distance_matrix(cKDTree(xy), radius_m, output_type="ndarray")
    c = hits["i"].astype(np.int64)
    p = hits["j"].astype(np.int64)
    d = hits["v"].astype(np.float64)
    if c.size == 0:
        return
    power = radio.received_power_dbm(
        np.maximum(d, 1.0),
        eirp_dbm=carriers.eirp_dbm[c],
        freq_mhz=carriers.freq_mhz[c],
        h_tx_m=carriers.height_m[c],
        h_rx_m=h_rx_m,
        env=carriers.env[c],
    )
    sector = ~np.isnan(carriers.azimuth_deg[c]) & ~np.isnan(carriers.beamwidth_deg[c])
    gain = np.zeros(len(c))
    if sector.any():
        k = np.flatnonzero(sector)
        ck = c[k]
        bearing = radio.bearing_deg(carriers.x[ck], carriers.y[ck], xy[p[k], 0], xy[p[k], 1])
        gain[k] = radio.sector_gain_db(
            bearing, carriers.azimuth_deg[ck], carriers.beamwidth_deg[ck]
        )
    mw = np.power(10.0, (power + gain + carriers.spread_db[c]) / 10.0)
    # One group per (point, layer): its summed power and its best server.
    n_layers = carriers.n_layers
    group, first_of = np.unique(p * n_layers + carriers.layer[c], return_inverse=True)
    first_of = np.asarray(first_of, dtype=np.int64).ravel()
    summed = np.bincount(first_of, weights=mw, minlength=len(group))
    order = np.lexsort((-mw, first_of))
    head = order[np.r_[True, first_of[order][1:] != first_of[order][:-1]]]
    best_pair = np.empty(len(group), dtype=np.int64)
    best_pair[first_of[head]] = head
    signal = mw[best_pair]
    interference = np.maximum(summed - signal, 0.0)
    bw_best = carriers.bandwidth_mhz[c[best_pair]]
    noise_mw = np.power(
        10.0,
        noise_dbm(bw_best, noise_figure_db=noise_figure_db, thermal_dbm_hz=thermal_dbm_hz) / 10.0,
    )
    with np.errstate(divide="ignore"):
        sinr = 10.0 * np.log10(signal / (interference + noise_mw))
    thr = shannon_throughput_mbps(sinr, bw_best) * carriers.downlink_share[c[best_pair]]
    g_point = group // n_layers
    top = _best_per_point(g_point, thr, sinr)
    where = rows.start + g_point[top]
    best_carrier = c[best_pair[top]]
    out.sinr_db[where] = sinr[top]
    out.pred_dl_mbps[where] = thr[top]
    out.operator[where] = carriers.operator[best_carrier]
    out.tech[where] = carriers.tech[best_carrier]
    group_tech = carriers.tech[c[best_pair]]
    for t in out.tech_dl_mbps:  # two technologies at most, not a loop over geometries
        of_tech = np.flatnonzero(group_tech == t)
        top = of_tech[_best_per_point(g_point[of_tech], thr[of_tech], sinr[of_tech])]
        where = rows.start + g_point[top]
        out.tech_sinr_db[t][where] = sinr[top]
        out.tech_dl_mbps[t][where] = thr[top]


def _best_per_point(point: IntArray, thr: FloatArray, sinr: FloatArray) -> IntArray:
    """Index of each point's best group: the highest throughput, then the highest SINR."""
    if point.size == 0:
        return np.empty(0, dtype=np.int64)
    pick = np.lexsort((-sinr, -thr, point))
    return np.asarray(pick[np.r_[True, point[pick][1:] != point[pick][:-1]]], dtype=np.int64)


def speed_villages(villages: gpd.GeoDataFrame, prediction: DownlinkPrediction) -> gpd.GeoDataFrame:
    """Return `villages` with ``sinr_db``, ``pred_dl_mbps`` and ``pred_dl_operator``.

    When some site carries 5G, also ``sinr_5g_db`` and ``pred_dl_5g_mbps`` (float64, NaN
    where no 5G carrier is within reach): the best 5G layer's.
    """
    extra = {}
    if "5G" in prediction.tech_dl_mbps:
        extra = {
            "sinr_5g_db": np.round(prediction.tech_sinr_db["5G"], 2),
            "pred_dl_5g_mbps": np.round(prediction.tech_dl_mbps["5G"], 2),
        }
    return villages.assign(
        sinr_db=np.round(prediction.sinr_db, 2),
        pred_dl_mbps=np.round(prediction.pred_dl_mbps, 2),
        pred_dl_operator=pd.array(prediction.operator, dtype="string"),
        **extra,
    )


#: Per technology of :data:`PREDICTED_BLOCKS`: the coverage column, the predicted downlink and
#: its SINR.
_PREDICTED_COLUMNS: Final[Mapping[str, tuple[str, str, str]]] = MappingProxyType(
    {
        "4G": ("covered_mobile", "pred_dl_mbps", "sinr_db"),
        "5G": ("covered_5g", "pred_dl_5g_mbps", "sinr_5g_db"),
    }
)


def below_target(villages: pd.DataFrame, target_mbps: float, *, tech: str = "4G") -> pd.DataFrame:
    """Villages covered by mobile broadband whose predicted downlink is below `target_mbps`.

    Parameters
    ----------
    villages
        The run's villages with the predicted downlink (:func:`speed_villages`).
    target_mbps
        The speed a covered village should get.
    tech
        ``4G``: the villages covered by mobile broadband (``covered_mobile``) and their best
        layer (``pred_dl_mbps``); ``5G``: the villages covered by 5G (``covered_5g``) and
        their best 5G layer (``pred_dl_5g_mbps``).

    Returns
    -------
    pandas.DataFrame
        ``village_id``, ``name`` (and ``commune`` when given), ``pred_dl_mbps``, ``sinr_db``,
        ``pred_dl_operator``, slowest first (for 5G, ``pred_dl_mbps`` and ``sinr_db`` hold
        the 5G layer's figures and there is no operator).
    """
    covered_col, pred_col, sinr_col = _PREDICTED_COLUMNS[tech]
    if pred_col not in villages or covered_col not in villages:
        return pd.DataFrame(columns=["village_id", "name", "pred_dl_mbps", "sinr_db"])
    covered = villages[covered_col].fillna(False).to_numpy(dtype=bool)
    pred = villages[pred_col].to_numpy(dtype=float)
    slow = covered & (np.nan_to_num(pred, nan=0.0) < target_mbps)
    shown = ("pred_dl_operator",) if tech == "4G" else ()
    columns = [
        c for c in ("village_id", "name", "commune", pred_col, sinr_col, *shown) if c in villages
    ]
    return (
        pd.DataFrame(villages.loc[slow, columns])
        .rename(columns={pred_col: "pred_dl_mbps", sinr_col: "sinr_db"})
        .sort_values(["pred_dl_mbps", "village_id"], kind="stable")
        .reset_index(drop=True)
    )


def prediction_block(
    villages: pd.DataFrame,
    target_mbps: float,
    *,
    limit: int = 200,
    tech: str = "4G",
    downlink_share: float = 1.0,
) -> Mapping[str, Any]:
    """Return the ``predicted_downlink`` block of ``kpis.json``: method, counts, slow villages.

    `tech` ``5G`` gives the ``predicted_downlink_5g`` block: the villages covered by 5G
    against the 5G target (see :func:`below_target`); `downlink_share` is then the TDD
    downlink share the prediction used (``downlink_share`` of the block).
    """
    slow = below_target(villages, target_mbps, tech=tech)
    pred = villages[_PREDICTED_COLUMNS[tech][1]].to_numpy(dtype=float)
    layers = (
        ""
        if tech == "4G"
        else (
            "best 5G layer (a carrier without freq_mhz or bandwidth_mhz: "
            f"{radio.DEFAULT_FREQ_MHZ['5G']:g} MHz, {DEFAULT_BANDWIDTH_MHZ['5G']:g} MHz); "
            f"TDD: times the downlink share {downlink_share:.3g} of the frame; "
        )
    )
    return {
        "tech": tech,
        "target_mbps": target_mbps,
        "downlink_share": 1.0 if tech == "4G" else downlink_share,
        "method": (
            f"{layers}best server SINR per co-channel layer (operator, technology, "
            "frequency), full load, no scheduling gain; noise -174 dBm/Hz + 10 log10(B) + "
            f"{UE_NOISE_FIGURE_DB:g} dB UE noise figure; throughput {SHANNON_ALPHA:g} B "
            f"log2(1 + SINR), at most {MAX_SPECTRAL_EFFICIENCY:g} b/s/Hz, 0 below "
            f"{SINR_MIN_DB:g} dB (3GPP TR 36.942 Annex A)"
        ),
        "villages_predicted": int(np.isfinite(pred).sum()),
        "covered_below_target": len(slow),
        "villages_below_target": [
            {
                k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
                for k, v in row.items()
            }
            for row in slow.head(limit).to_dict(orient="records")
        ],
    }


@dataclass(frozen=True)
class SpeedResult:
    """What the speed part adds to a run.

    Attributes
    ----------
    villages
        The villages with ``sinr_db``, ``pred_dl_mbps``, ``pred_dl_operator`` (and
        ``sinr_5g_db``, ``pred_dl_5g_mbps`` where sites carry 5G) when sites were given
        (:func:`speed_villages`), else as they came.
    indicators
        ``commune_4g_speed`` when samples gave download speeds (it may count nothing: 0/0);
        ``commune_5g_speed`` when some 5G sample gave one.
    blocks
        The ``kpis.json`` entries: ``commune_speed`` and ``commune_speed_5g``
        (:meth:`CommuneSpeeds.as_dict`), ``predicted_downlink`` and ``predicted_downlink_5g``
        (:func:`prediction_block`), each when computed.
    target_mbps
        The 4G speed target the run was measured against.
    target_5g_mbps
        The 5G speed target.
    """

    villages: gpd.GeoDataFrame
    indicators: tuple[IndicatorValue, ...]
    blocks: Mapping[str, Any]
    target_mbps: float
    target_5g_mbps: float = NATIONAL_5G_TARGET_MBPS


def assess_speed(
    villages: gpd.GeoDataFrame,
    *,
    sites: gpd.GeoDataFrame | None,
    centres_xy: FloatArray | None,
    metric_crs: Any,
    speeds: pd.DataFrame | None,
    target_mbps: float | None = None,
    target_5g_mbps: float | None = None,
    downlink_share_5g: float = NR_TDD_DOWNLINK_SHARE,
) -> SpeedResult:
    """Predict each village's downlink and measure each commune's speed.

    Parameters
    ----------
    villages
        The run's villages (EPSG:4326) with ``covered_mobile``.
    sites
        The clean sites layer (any CRS; projected to `metric_crs`), or None.
    centres_xy
        ``(n, 2)`` village centres in `metric_crs` (the run's
        :attr:`~hatangso.coverage.villages.VillagePoints.centre_xy`); None: the villages'
        representative points.
    metric_crs
        The run's metric CRS.
    speeds
        :attr:`hatangso.coverage.measurements.SampleSummary.speeds`, or None.
    target_mbps
        The 4G speed target (None: :data:`NATIONAL_4G_TARGET_MBPS`).
    target_5g_mbps
        The 5G speed target (None: :data:`NATIONAL_5G_TARGET_MBPS`).
    downlink_share_5g
        Share of a 5G (TDD) carrier's time that carries the downlink
        (``speed.tdd_downlink_share_5g``).

    Returns
    -------
    SpeedResult
    """
    targets = {
        "4G": NATIONAL_4G_TARGET_MBPS if target_mbps is None else float(target_mbps),
        "5G": NATIONAL_5G_TARGET_MBPS if target_5g_mbps is None else float(target_5g_mbps),
    }
    blocks: dict[str, Any] = {}
    indicators: list[IndicatorValue] = []
    if sites is not None and len(sites) and len(villages):
        if centres_xy is None or len(centres_xy) != len(villages):
            reps = villages.geometry.representative_point().to_crs(metric_crs)
            centres_xy = np.column_stack([reps.x.to_numpy(), reps.y.to_numpy()])
        prediction = predict_downlink(
            np.asarray(centres_xy, dtype=float),
            sites.to_crs(metric_crs),
            downlink_share_5g=downlink_share_5g,
        )
        villages = speed_villages(villages, prediction)
        for tech, key in PREDICTED_BLOCKS.items():
            covered_col, pred_col, _ = _PREDICTED_COLUMNS[tech]
            if pred_col in villages and covered_col in villages:
                share = downlink_share_5g if tech == "5G" else 1.0
                blocks[key] = dict(
                    prediction_block(villages, targets[tech], tech=tech, downlink_share=share)
                )
    if speeds is not None:
        for tech, key in SPEED_BLOCKS.items():
            # 4G: whenever samples give speeds (0/0 without any); 5G: when 5G ones do.
            if tech != "4G" and not _measures(speeds, tech):
                continue
            measured = commune_speeds(speeds, villages, target_mbps=targets[tech], tech=tech)
            indicators.append(measured.indicator)
            blocks[key] = measured.as_dict()
    return SpeedResult(villages, tuple(indicators), blocks, targets["4G"], targets["5G"])


def _measures(speeds: pd.DataFrame, tech: str) -> bool:
    """Whether some sample of `tech` gives a download speed."""
    of_tech = (speeds["tech"].astype("string") == tech).fillna(False).to_numpy(dtype=bool)
    return bool((of_tech & speeds["download_mbps"].notna().to_numpy()).any())
