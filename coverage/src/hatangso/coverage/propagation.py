"""Path-loss models for macro cells: free space, Okumura-Hata, COST-231 Hata, 3GPP TR 38.901.

Every function takes numpy arrays or scalars, broadcasts them against each other as numpy does,
and returns the median basic transmission loss in dB as a float64 array of the broadcast shape
(a 0-d array for scalar inputs). ``distance_m`` is always the horizontal distance between the
base station and the mobile; heights are above local ground.

Outside a model's validity range every function here extrapolates: it evaluates the same
formula, with no clipping and no NaN. That keeps the losses finite and increasing with
distance, which the reach search of :mod:`hatangso.coverage.radio` relies on; the validity
ranges are documented so that callers can judge how far a prediction is stretched. Inputs
that make a formula meaningless (distance, frequency, heights or the 3GPP street parameters
``<= 0``, an unknown ``env``) raise :class:`ValueError`. NaN inputs give NaN losses.

:func:`hata_loss` is the composite ``hata`` model of the configuration: Okumura-Hata below
1400 MHz, COST-231 Hata from 1500 to 2000 MHz and TR 38.901 from 3300 MHz, blended in
log-frequency across 1400-1500 and 2000-3300 MHz, and never below free space.

References
----------
.. [1] M. Hata, "Empirical formula for propagation loss in land mobile radio services",
   IEEE Trans. Veh. Technol., vol. VT-29, no. 3, pp. 317-325, 1980.
.. [2] COST Action 231, "Digital mobile radio towards future generation systems", final report,
   European Commission, 1999, section 4.4 (eqs. 4.4.1 and 4.4.3).
.. [3] 3GPP TR 38.901 V17.0.0, "Study on channel model for frequencies from 0.5 to 100 GHz",
   2022, Table 7.4.1-1.
.. [4] ITU-R P.525-4, "Calculation of free-space attenuation", 2019.
.. [5] ITU-R P.1546-6, "Method for point-to-area predictions for terrestrial services in the
   frequency range 30 MHz to 4 000 MHz", 2019, Annex 5, section 6 (interpolation of field
   strength between nominal frequencies, linear in the logarithm of frequency).
"""

from __future__ import annotations

import logging
from typing import Final

import numpy as np
import numpy.typing as npt

from hatangso.geo.errors import InputError, Problem

log = logging.getLogger(__name__)

__all__ = [
    "COST231_MAX_MHZ",
    "ENVIRONMENTS",
    "HATA_BLEND_MHZ",
    "HATA_MAX_MHZ",
    "TR38901_BLEND_MHZ",
    "cost231_hata_loss",
    "free_space_loss",
    "hata_loss",
    "okumura_hata_loss",
    "tr38901_rma_loss",
    "tr38901_uma_loss",
]

FloatArray = npt.NDArray[np.float64]

#: Environment classes understood by the Hata family (``rural`` is Hata's "open area").
ENVIRONMENTS: Final[tuple[str, ...]] = ("urban", "suburban", "rural")
#: Upper frequency of Okumura-Hata in the composite model; COST-231 Hata holds alone from here.
HATA_MAX_MHZ: Final = 1500.0
#: Upper frequency of COST-231 Hata in the composite model; the blend to TR 38.901 starts here.
COST231_MAX_MHZ: Final = 2000.0
#: The composite model's blends: ``(from, to)`` in MHz, the lower model alone at ``from`` and
#: below, the upper one alone at ``to`` and above (see :func:`hata_loss`).
HATA_BLEND_MHZ: Final = (1400.0, HATA_MAX_MHZ)
TR38901_BLEND_MHZ: Final = (COST231_MAX_MHZ, 3300.0)

_SPEED_OF_LIGHT_M_S: Final = 299_792_458.0
# TR 38.901 Table 7.4.1-1, note 1: "c = 3.0e8 m/s is the propagation velocity in free space".
_C_3GPP_M_S: Final = 3.0e8
# Hata gives the large-city a(hm) for f <= 200 MHz and f >= 400 MHz and nothing in between;
# the switch sits at the middle of that gap.
_LARGE_CITY_SWITCH_MHZ: Final = 300.0
# TR 38.901 Table 7.4.1-1, note 1: effective environment height for UMa; 1 m is the value drawn
# with probability 1/(1 + C(d2D, hUT)), which is 1 (certain) for hUT < 13 m.
_UMA_H_E_M: Final = 1.0
# RMa street parameters of the composite model: TR 38.901's default values (Table 7.4.1-1
# note, Table 7.2-3); Vietnamese villages have one- to two-storey houses on narrow lanes.
_COMPOSITE_BUILDING_HEIGHT_M: Final = 5.0
_COMPOSITE_STREET_WIDTH_M: Final = 20.0


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


def _as_float(value: npt.ArrayLike) -> FloatArray:
    return np.asarray(value, dtype=np.float64)


def _require_positive(name: str, values: FloatArray, unit: str) -> None:
    bad = values <= 0  # NaN compares False and is let through
    if np.any(bad):
        shown = ", ".join(f"{v:g}" for v in np.unique(values[bad])[:5])
        raise InputError(
            Problem(
                file="arguments",
                column=name,
                message=f"{name} must be greater than 0 {unit}; got {shown}",
                fix=f"give {name} in {unit}, greater than 0",
            )
        )


def _check_inputs(
    distance_m: npt.ArrayLike,
    freq_mhz: npt.ArrayLike,
    h_tx_m: npt.ArrayLike,
    h_rx_m: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    d = _as_float(distance_m)
    f = _as_float(freq_mhz)
    h_tx = _as_float(h_tx_m)
    h_rx = _as_float(h_rx_m)
    _require_positive("distance_m", d, "m")
    _require_positive("freq_mhz", f, "MHz")
    _require_positive("h_tx_m", h_tx, "m")
    _require_positive("h_rx_m", h_rx, "m")
    np.broadcast_shapes(d.shape, f.shape, h_tx.shape, h_rx.shape)  # fail early on bad shapes
    return d, f, h_tx, h_rx


def _check_env(env: str) -> None:
    if env not in ENVIRONMENTS:
        raise InputError(
            Problem(
                file="arguments",
                column="env",
                message=f"unknown env {env!r}",
                fix=f"use one of {', '.join(ENVIRONMENTS)}",
            )
        )


def _env_codes(env: str | npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Map env strings (scalar or array) to 0 urban, 1 suburban, 2 rural; raise on others."""
    names = np.asarray(env, dtype=object)
    codes = np.full(names.shape, -1, dtype=np.int8)
    for code, name in enumerate(ENVIRONMENTS):
        codes[names == name] = code
    if np.any(codes < 0):
        unknown = sorted({repr(v) for v in names[codes < 0].ravel().tolist()})
        raise InputError(
            Problem(
                file="arguments",
                column="env",
                message=f"unknown env {', '.join(unknown[:5])}",
                fix=f"use one of {', '.join(ENVIRONMENTS)}",
            )
        )
    return codes


# --------------------------------------------------------------------------------------------
# free space
# --------------------------------------------------------------------------------------------


def free_space_loss(distance_m: npt.ArrayLike, freq_mhz: npt.ArrayLike) -> FloatArray:
    """Free-space basic transmission loss between isotropic antennas.

    Parameters
    ----------
    distance_m
        Path length in metres, > 0.
    freq_mhz
        Carrier frequency in MHz, > 0.

    Returns
    -------
    numpy.ndarray
        Loss in dB, float64, of the broadcast shape of the inputs.

    Raises
    ------
    InputError
        If a distance or frequency is not positive.

    Notes
    -----
    ``L = 20 log10(4 pi d f / c)`` with ``c = 299 792 458 m/s``, which is
    ``32.4478 + 20 log10(f_MHz) + 20 log10(d_km)`` (ITU-R P.525 [4]_, Friis). Valid in the far
    field (``d`` well beyond a wavelength); closer in the formula is evaluated all the same
    (extrapolated), and it falls below 0 dB when ``d < lambda / (4 pi)``.

    Examples
    --------
    >>> round(float(free_space_loss(1000.0, 1000.0)), 2)
    92.45
    """
    d = _as_float(distance_m)
    f = _as_float(freq_mhz)
    _require_positive("distance_m", d, "m")
    _require_positive("freq_mhz", f, "MHz")
    loss: FloatArray = 20.0 * np.log10(4.0 * np.pi * d * (f * 1e6) / _SPEED_OF_LIGHT_M_S)
    return np.asarray(loss, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Okumura-Hata and COST-231 Hata
# --------------------------------------------------------------------------------------------


def _a_hm_medium(f_mhz: FloatArray, h_rx_m: FloatArray) -> FloatArray:
    """Mobile-antenna correction a(hm) of Hata for small and medium cities."""
    log_f = np.log10(f_mhz)
    out: FloatArray = (1.1 * log_f - 0.7) * h_rx_m - (1.56 * log_f - 0.8)
    return out


def _a_hm_large(f_mhz: FloatArray, h_rx_m: FloatArray) -> FloatArray:
    """Mobile-antenna correction a(hm) of Hata for large cities."""
    low = 8.29 * np.log10(1.54 * h_rx_m) ** 2 - 1.1
    high = 3.2 * np.log10(11.75 * h_rx_m) ** 2 - 4.97
    out: FloatArray = np.where(f_mhz <= _LARGE_CITY_SWITCH_MHZ, low, high)
    return out


def _suburban_correction(f_mhz: FloatArray) -> FloatArray:
    """Hata's suburban correction, added to the urban loss (negative)."""
    out: FloatArray = -2.0 * np.log10(f_mhz / 28.0) ** 2 - 5.4
    return out


def _open_area_correction(f_mhz: FloatArray) -> FloatArray:
    """Hata's open-area correction, added to the urban loss (negative)."""
    log_f = np.log10(f_mhz)
    out: FloatArray = -4.78 * log_f**2 + 18.33 * log_f - 40.94
    return out


def _hata_distance_term(d_m: FloatArray, h_tx_m: FloatArray) -> FloatArray:
    out: FloatArray = (44.9 - 6.55 * np.log10(h_tx_m)) * np.log10(d_m / 1000.0)
    return out


def _okumura_hata_urban(
    d_m: FloatArray, f_mhz: FloatArray, h_tx_m: FloatArray, a_hm: FloatArray
) -> FloatArray:
    out: FloatArray = (
        69.55
        + 26.16 * np.log10(f_mhz)
        - 13.82 * np.log10(h_tx_m)
        - a_hm
        + _hata_distance_term(d_m, h_tx_m)
    )
    return out


def _cost231_urban(
    d_m: FloatArray, f_mhz: FloatArray, h_tx_m: FloatArray, a_hm: FloatArray
) -> FloatArray:
    out: FloatArray = (
        46.3
        + 33.9 * np.log10(f_mhz)
        - 13.82 * np.log10(h_tx_m)
        - a_hm
        + _hata_distance_term(d_m, h_tx_m)
    )
    return out


def _env_correction(f_mhz: FloatArray, env: str) -> FloatArray | float:
    if env == "suburban":
        return _suburban_correction(f_mhz)
    if env == "rural":
        return _open_area_correction(f_mhz)
    return 0.0


def _check_city(env: str, large_city: bool) -> None:
    _check_env(env)
    if large_city and env != "urban":
        # Programmer error: no file, option or configuration key sets large_city.
        raise ValueError(
            f"large_city=True applies only to env='urban' (got env={env!r}); Hata's suburban "
            "and open-area corrections are defined on the medium-city urban loss"
        )


def okumura_hata_loss(
    distance_m: npt.ArrayLike,
    freq_mhz: npt.ArrayLike,
    h_tx_m: npt.ArrayLike,
    h_rx_m: npt.ArrayLike,
    *,
    env: str = "urban",
    large_city: bool = False,
) -> FloatArray:
    """Okumura-Hata median path loss.

    Parameters
    ----------
    distance_m
        Horizontal distance in metres, > 0.
    freq_mhz
        Carrier frequency in MHz, > 0.
    h_tx_m
        Base-station antenna height above ground in metres, > 0.
    h_rx_m
        Mobile antenna height above ground in metres, > 0.
    env
        ``"urban"``, ``"suburban"`` or ``"rural"`` (Hata's open area).
    large_city
        Use the large-city mobile correction ``a(hm)``; only with ``env="urban"``.

    Returns
    -------
    numpy.ndarray
        Loss in dB, float64, of the broadcast shape of the inputs.

    Raises
    ------
    InputError
        On a non-positive distance, frequency or height, or an unknown ``env``.
    ValueError
        On ``large_city=True`` with an ``env`` other than ``"urban"``.

    Notes
    -----
    Hata's fit of Okumura's curves ([1]_; COST 231 eq. 4.4.1 [2]_), with ``f`` in MHz, ``d`` in
    km and heights in m::

        L_urban = 69.55 + 26.16 log f - 13.82 log hb - a(hm) + (44.9 - 6.55 log hb) log d
        a(hm)   = (1.1 log f - 0.7) hm - (1.56 log f - 0.8)           small/medium city
        a(hm)   = 3.2 (log 11.75 hm)^2 - 4.97   (f >= 300 MHz)        large city
        a(hm)   = 8.29 (log 1.54 hm)^2 - 1.1    (f <  300 MHz)        large city
        L_suburban = L_urban - 2 (log(f / 28))^2 - 5.4
        L_open     = L_urban - 4.78 (log f)^2 + 18.33 log f - 40.94

    Hata gives the large-city ``a(hm)`` for ``f <= 200`` and ``f >= 400`` MHz; the switch is
    put at 300 MHz. ``d`` is the horizontal distance, as in Hata's paper.

    Validity: 150-1500 MHz, 1-20 km, ``hb`` 30-200 m, ``hm`` 1-10 m. Outside it the formula
    is extrapolated as is (no clipping, no NaN); below about 100 m it can predict less than
    free-space loss.

    Examples
    --------
    >>> round(float(okumura_hata_loss(2000.0, 869.0, 30.0, 1.0, env="suburban")), 2)
    128.03
    """
    _check_city(env, large_city)
    d, f, h_tx, h_rx = _check_inputs(distance_m, freq_mhz, h_tx_m, h_rx_m)
    a_hm = _a_hm_large(f, h_rx) if large_city else _a_hm_medium(f, h_rx)
    loss = _okumura_hata_urban(d, f, h_tx, a_hm) + _env_correction(f, env)
    return np.asarray(loss, dtype=np.float64)


def cost231_hata_loss(
    distance_m: npt.ArrayLike,
    freq_mhz: npt.ArrayLike,
    h_tx_m: npt.ArrayLike,
    h_rx_m: npt.ArrayLike,
    *,
    env: str = "urban",
    large_city: bool = False,
) -> FloatArray:
    """COST-231 Hata median path loss (the Hata extension to 1500-2000 MHz).

    Parameters
    ----------
    distance_m
        Horizontal distance in metres, > 0.
    freq_mhz
        Carrier frequency in MHz, > 0.
    h_tx_m
        Base-station antenna height above ground in metres, > 0.
    h_rx_m
        Mobile antenna height above ground in metres, > 0.
    env
        ``"urban"``, ``"suburban"`` or ``"rural"`` (open area).
    large_city
        Metropolitan centre: large-city ``a(hm)`` and ``Cm = 3 dB``; only with ``env="urban"``.

    Returns
    -------
    numpy.ndarray
        Loss in dB, float64, of the broadcast shape of the inputs.

    Raises
    ------
    InputError
        On a non-positive distance, frequency or height, or an unknown ``env``.
    ValueError
        On ``large_city=True`` with an ``env`` other than ``"urban"``.

    Notes
    -----
    COST 231 final report, eq. 4.4.3 [2]_ (``f`` in MHz, ``d`` in km, heights in m)::

        L = 46.3 + 33.9 log f - 13.82 log hb - a(hm) + (44.9 - 6.55 log hb) log d + Cm

    with Hata's ``a(hm)`` (see :func:`okumura_hata_loss`), ``Cm = 0 dB`` for medium cities and
    suburban centres and ``3 dB`` for metropolitan centres. COST 231 defines no rural variant;
    for ``env="suburban"`` and ``"rural"`` Hata's suburban and open-area corrections are added
    to the medium-city loss, as the ``hata`` model of the configuration prescribes.

    Some implementations (ns-3's ``OkumuraHataPropagationLossModel`` among them) drop the
    ``-4.97`` of the large-city ``a(hm)`` above 1500 MHz; this function keeps Hata's formula,
    so its large-city losses are 4.97 dB above theirs.

    Validity: 1500-2000 MHz, 1-20 km, ``hb`` 30-200 m, ``hm`` 1-10 m. Outside it the formula
    is extrapolated as is (no clipping, no NaN).

    Examples
    --------
    >>> round(float(cost231_hata_loss(2000.0, 2114.0, 30.0, 1.0)), 2)
    150.64
    """
    _check_city(env, large_city)
    d, f, h_tx, h_rx = _check_inputs(distance_m, freq_mhz, h_tx_m, h_rx_m)
    if large_city:
        loss = _cost231_urban(d, f, h_tx, _a_hm_large(f, h_rx)) + 3.0
    else:
        loss = _cost231_urban(d, f, h_tx, _a_hm_medium(f, h_rx)) + _env_correction(f, env)
    return np.asarray(loss, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# 3GPP TR 38.901
# --------------------------------------------------------------------------------------------


def _distance_3d(d_m: FloatArray, h_tx_m: FloatArray, h_rx_m: FloatArray) -> FloatArray:
    out: FloatArray = np.hypot(d_m, h_tx_m - h_rx_m)
    return out


def _rma_pl1(d3d_m: FloatArray, f_ghz: FloatArray, h_bldg_m: FloatArray) -> FloatArray:
    h172 = h_bldg_m**1.72
    out: FloatArray = (
        20.0 * np.log10(40.0 * np.pi * d3d_m * f_ghz / 3.0)
        + np.minimum(0.03 * h172, 10.0) * np.log10(d3d_m)
        - np.minimum(0.044 * h172, 14.77)
        + 0.002 * np.log10(h_bldg_m) * d3d_m
    )
    return out


def _rma_los(
    d: FloatArray, f: FloatArray, h_tx: FloatArray, h_rx: FloatArray, h_bldg: FloatArray
) -> FloatArray:
    f_ghz = f / 1000.0
    d3d = _distance_3d(d, h_tx, h_rx)
    d_bp = 2.0 * np.pi * h_tx * h_rx * (f * 1e6) / _C_3GPP_M_S
    pl1 = _rma_pl1(d3d, f_ghz, h_bldg)
    pl2 = _rma_pl1(d_bp, f_ghz, h_bldg) + 40.0 * np.log10(d3d / d_bp)
    out: FloatArray = np.where(d <= d_bp, pl1, pl2)
    return out


def _rma_nlos(
    d: FloatArray,
    f: FloatArray,
    h_tx: FloatArray,
    h_rx: FloatArray,
    h_bldg: FloatArray,
    w_street: FloatArray,
) -> FloatArray:
    d3d = _distance_3d(d, h_tx, h_rx)
    log_htx = np.log10(h_tx)
    nlos = (
        161.04
        - 7.1 * np.log10(w_street)
        + 7.5 * np.log10(h_bldg)
        - (24.37 - 3.7 * (h_bldg / h_tx) ** 2) * log_htx
        + (43.42 - 3.1 * log_htx) * (np.log10(d3d) - 3.0)
        + 20.0 * np.log10(f / 1000.0)
        - (3.2 * np.log10(11.75 * h_rx) ** 2 - 4.97)
    )
    out: FloatArray = np.maximum(_rma_los(d, f, h_tx, h_rx, h_bldg), nlos)
    return out


def tr38901_rma_loss(
    distance_m: npt.ArrayLike,
    freq_mhz: npt.ArrayLike,
    h_tx_m: npt.ArrayLike,
    h_rx_m: npt.ArrayLike,
    *,
    los: bool = True,
    building_height_m: npt.ArrayLike = 5.0,
    street_width_m: npt.ArrayLike = 20.0,
) -> FloatArray:
    """3GPP TR 38.901 rural macro (RMa) path loss, without shadow fading.

    Parameters
    ----------
    distance_m
        Horizontal (2D) distance in metres, > 0.
    freq_mhz
        Carrier frequency in MHz, > 0.
    h_tx_m
        Base-station antenna height in metres, > 0.
    h_rx_m
        User-terminal antenna height in metres, > 0.
    los
        Line-of-sight (``True``) or non-line-of-sight (``False``) formula.
    building_height_m
        Average building height ``h`` in metres, > 0.
    street_width_m
        Average street width ``W`` in metres, > 0.

    Returns
    -------
    numpy.ndarray
        Loss in dB, float64, of the broadcast shape of the inputs.

    Raises
    ------
    InputError
        On a non-positive distance, frequency, height, building height or street width.

    Notes
    -----
    TR 38.901 Table 7.4.1-1 [3]_, ``fc`` in GHz, distances in m, ``d3D`` the distance between
    the antennas computed from ``distance_m`` and the heights::

        PL1(d) = 20 log(40 pi d fc / 3) + min(0.03 h^1.72, 10) log d
                 - min(0.044 h^1.72, 14.77) + 0.002 log(h) d
        LOS    = PL1(d3D)                          if d2D <= dBP
               = PL1(dBP) + 40 log(d3D / dBP)      otherwise
        dBP    = 2 pi hBS hUT fc / c,   fc in Hz, c = 3.0e8 m/s
        PL'    = 161.04 - 7.1 log W + 7.5 log h - (24.37 - 3.7 (h / hBS)^2) log hBS
                 + (43.42 - 3.1 log hBS)(log d3D - 3) + 20 log fc
                 - (3.2 (log 11.75 hUT)^2 - 4.97)
        NLOS   = max(LOS, PL')

    Validity: 0.5-30 GHz; ``d2D`` 10 m-10 km (LOS) and 10 m-5 km (NLOS); ``hBS`` 10-150 m,
    ``hUT`` 1-10 m, ``h`` 5-50 m, ``W`` 5-50 m. Outside it the formulas are extrapolated as
    is (no clipping, no NaN): below 10 m ``PL1`` goes on, beyond 10 km ``PL2`` goes on.

    Examples
    --------
    >>> round(float(tr38901_rma_loss(1000.0, 5000.0, 35.0, 1.5)), 2)
    108.56
    """
    d, f, h_tx, h_rx = _check_inputs(distance_m, freq_mhz, h_tx_m, h_rx_m)
    h_bldg = _as_float(building_height_m)
    w_street = _as_float(street_width_m)
    _require_positive("building_height_m", h_bldg, "m")
    _require_positive("street_width_m", w_street, "m")
    if los:
        loss = _rma_los(d, f, h_tx, h_rx, h_bldg)
    else:
        loss = _rma_nlos(d, f, h_tx, h_rx, h_bldg, w_street)
    return np.asarray(loss, dtype=np.float64)


def _uma_los(d: FloatArray, f: FloatArray, h_tx: FloatArray, h_rx: FloatArray) -> FloatArray:
    d3d = _distance_3d(d, h_tx, h_rx)
    log_f = np.log10(f / 1000.0)
    # Breakpoint on effective heights; a terminal at or below h_E has none (PL2 throughout).
    d_bp = np.maximum(
        4.0 * (h_tx - _UMA_H_E_M) * (h_rx - _UMA_H_E_M) * (f * 1e6) / _C_3GPP_M_S, 0.0
    )
    pl1 = 28.0 + 22.0 * np.log10(d3d) + 20.0 * log_f
    with np.errstate(divide="ignore"):  # equal heights and no breakpoint: log10(0) = -inf
        pl2 = (
            28.0
            + 40.0 * np.log10(d3d)
            + 20.0 * log_f
            - 9.0 * np.log10(d_bp**2 + (h_tx - h_rx) ** 2)
        )
    out: FloatArray = np.where(d <= d_bp, pl1, pl2)
    return out


def _uma_nlos(d: FloatArray, f: FloatArray, h_tx: FloatArray, h_rx: FloatArray) -> FloatArray:
    d3d = _distance_3d(d, h_tx, h_rx)
    nlos = 13.54 + 39.08 * np.log10(d3d) + 20.0 * np.log10(f / 1000.0) - 0.6 * (h_rx - 1.5)
    out: FloatArray = np.maximum(_uma_los(d, f, h_tx, h_rx), nlos)
    return out


def tr38901_uma_loss(
    distance_m: npt.ArrayLike,
    freq_mhz: npt.ArrayLike,
    h_tx_m: npt.ArrayLike,
    h_rx_m: npt.ArrayLike,
    *,
    los: bool = True,
) -> FloatArray:
    """3GPP TR 38.901 urban macro (UMa) path loss, without shadow fading.

    Parameters
    ----------
    distance_m
        Horizontal (2D) distance in metres, > 0.
    freq_mhz
        Carrier frequency in MHz, > 0.
    h_tx_m
        Base-station antenna height in metres, > 0.
    h_rx_m
        User-terminal antenna height in metres, > 0.
    los
        Line-of-sight (``True``) or non-line-of-sight (``False``) formula.

    Returns
    -------
    numpy.ndarray
        Loss in dB, float64, of the broadcast shape of the inputs.

    Raises
    ------
    InputError
        On a non-positive distance, frequency or height.

    Notes
    -----
    TR 38.901 Table 7.4.1-1 [3]_, ``fc`` in GHz, distances in m, ``d3D`` the distance between
    the antennas computed from ``distance_m`` and the heights::

        PL1  = 28.0 + 22 log d3D + 20 log fc
        PL2  = 28.0 + 40 log d3D + 20 log fc - 9 log(dBP'^2 + (hBS - hUT)^2)
        LOS  = PL1 if d2D <= dBP' else PL2
        dBP' = 4 (hBS - hE)(hUT - hE) fc / c,   fc in Hz, c = 3.0e8 m/s
        PL'  = 13.54 + 39.08 log d3D + 20 log fc - 0.6 (hUT - 1.5)
        NLOS = max(LOS, PL')

    The effective environment height ``hE`` is random in TR 38.901 (note 1): 1 m with
    probability ``1 / (1 + C(d2D, hUT))``, which is certain for ``hUT < 13 m``. This function
    is deterministic and always takes ``hE = 1 m``. A terminal at or below 1 m has no
    breakpoint and gets ``PL2`` throughout.

    Validity: 0.5-100 GHz; ``d2D`` 10 m-5 km; ``hBS`` 25 m; ``hUT`` 1.5-22.5 m. Outside it
    the formulas are extrapolated as is (no clipping, no NaN); other base-station heights
    change only the LOS breakpoint and ``PL2``.

    Examples
    --------
    >>> round(float(tr38901_uma_loss(1000.0, 5000.0, 25.0, 1.5)), 2)
    109.73
    """
    d, f, h_tx, h_rx = _check_inputs(distance_m, freq_mhz, h_tx_m, h_rx_m)
    loss = _uma_los(d, f, h_tx, h_rx) if los else _uma_nlos(d, f, h_tx, h_rx)
    return np.asarray(loss, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# the composite "hata" model of the configuration
# --------------------------------------------------------------------------------------------


def _log_frequency_weight(f: FloatArray, band: tuple[float, float]) -> FloatArray:
    """Weight of the upper model: 0 at and below ``band[0]``, 1 at and above ``band[1]``."""
    low, high = band
    w: FloatArray = np.clip(np.log(f / low) / np.log(high / low), 0.0, 1.0)
    return w


def _blend(lower: FloatArray, upper: FloatArray, w: FloatArray) -> FloatArray:
    """``lower`` where ``w`` is 0, ``upper`` where it is 1 (exactly), linear in between."""
    mixed = lower + w * (upper - lower)
    out: FloatArray = np.where(w <= 0.0, lower, np.where(w >= 1.0, upper, mixed))
    return out


def _hata_composite(
    d: FloatArray,
    f: FloatArray,
    h_tx: FloatArray,
    h_rx: FloatArray,
    env_codes: npt.NDArray[np.int8],
) -> FloatArray:
    """Composite loss on checked inputs; every branch is evaluated, then weighted per element."""
    urban = env_codes == 0
    suburban = env_codes == 1
    correction = np.where(
        urban, 0.0, np.where(suburban, _suburban_correction(f), _open_area_correction(f))
    )
    a_hm = _a_hm_medium(f, h_rx)
    okumura = _okumura_hata_urban(d, f, h_tx, a_hm) + correction
    cost231 = _cost231_urban(d, f, h_tx, a_hm) + correction
    h_bldg = np.asarray(_COMPOSITE_BUILDING_HEIGHT_M, dtype=np.float64)
    w_street = np.asarray(_COMPOSITE_STREET_WIDTH_M, dtype=np.float64)
    gpp = np.where(
        urban, _uma_nlos(d, f, h_tx, h_rx), _rma_nlos(d, f, h_tx, h_rx, h_bldg, w_street)
    )
    hata = _blend(okumura, cost231, _log_frequency_weight(f, HATA_BLEND_MHZ))
    blended = _blend(hata, gpp, _log_frequency_weight(f, TR38901_BLEND_MHZ))
    floor = free_space_loss(_distance_3d(d, h_tx, h_rx), f)
    out: FloatArray = np.maximum(blended, floor)
    return out


def _hata_checked(
    distance_m: npt.ArrayLike,
    freq_mhz: npt.ArrayLike,
    h_tx_m: npt.ArrayLike,
    h_rx_m: npt.ArrayLike,
    env: str | npt.ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.int8]]:
    d, f, h_tx, h_rx = _check_inputs(distance_m, freq_mhz, h_tx_m, h_rx_m)
    codes = _env_codes(env)
    np.broadcast_shapes(d.shape, f.shape, h_tx.shape, h_rx.shape, codes.shape)
    return d, f, h_tx, h_rx, codes


def hata_loss(
    distance_m: npt.ArrayLike,
    freq_mhz: npt.ArrayLike,
    h_tx_m: npt.ArrayLike,
    h_rx_m: npt.ArrayLike,
    *,
    env: str | npt.ArrayLike = "rural",
) -> FloatArray:
    """Compute the loss of the configuration's composite ``hata`` model, element by element.

    Parameters
    ----------
    distance_m
        Horizontal distance in metres, > 0.
    freq_mhz
        Carrier frequency in MHz, > 0.
    h_tx_m
        Base-station antenna height above ground in metres, > 0.
    h_rx_m
        Mobile antenna height above ground in metres, > 0 (1.5 m for a handset).
    env
        ``"urban"``, ``"suburban"`` or ``"rural"``, or an array of them broadcast with the
        other inputs.

    Returns
    -------
    numpy.ndarray
        Loss in dB, float64, of the broadcast shape of the inputs.

    Raises
    ------
    InputError
        On a non-positive distance, frequency or height, or an unknown ``env``.

    Notes
    -----
    ========================  ================================================================
    frequency                 model
    ========================  ================================================================
    below 1400 MHz            :func:`okumura_hata_loss`, medium-city ``a(hm)``; urban: none,
                              suburban and rural: Hata's suburban and open-area corrections
    1400 to 1500 MHz          blend of the two Hata models
    1500 to 2000 MHz          :func:`cost231_hata_loss`, medium-city ``a(hm)``, ``Cm = 0``;
                              the same corrections for suburban and rural
    2000 to 3300 MHz          blend of COST-231 Hata and TR 38.901
    from 3300 MHz             urban: :func:`tr38901_uma_loss`; suburban and rural:
                              :func:`tr38901_rma_loss` with ``h = 5 m``, ``W = 20 m``;
                              both NLOS
    ========================  ================================================================

    Then the loss is raised to free space (:func:`free_space_loss` over the slant distance
    between the antennas) wherever it is below it: near the mast the empirical fits
    extrapolate to less loss than free space, which no real path has [4]_.

    **Blends.** Across each band of the table marked "blend" the loss is the lower model's
    plus a weight ``w = log(f / f_from) / log(f_to / f_from)`` times the difference of the
    two, the way ITU-R P.1546 interpolates between its nominal frequencies [5]_: each model
    alone at the band's ends, and the loss continuous in frequency. A step switch is not: at
    2000 MHz (30 m mast, 1.5 m handset) TR 38.901 RMa NLOS is 19-28 dB above COST-231 Hata
    with the open-area correction, so that rural 4G reach would fall from 11 km at 2000 MHz to
    2.3 km at 2100 MHz; and COST-231 is 1.3 dB above Okumura-Hata at 1500 MHz. The difference
    comes from what the models describe: Hata's open-area correction open fields, RMa NLOS a
    village among houses and trees. The blend leaves the Hata models alone where they were
    fitted (to 2000 MHz; LTE band 3 at 1800 MHz is COST-231 Hata) and TR 38.901 alone in the
    5G band n78 (3300-3800 MHz), and moves gradually in between: band 1 (2110-2170 MHz) takes
    about a tenth of the difference, band 7 (2620-2690 MHz) about half. No step of 10 MHz
    between 450 and 6000 MHz changes the loss by more than about 0.4 dB.

    The 3GPP models are taken NLOS, that is ``max(LOS, NLOS')``, for three reasons. The
    question asked of them is whether a handset at 1.5 m in a village, among houses, trees and
    relief, is served; line of sight to the mast is the exception there, and nothing in the
    inputs says where it holds. The Hata curves used below 2 GHz are fits to measurements that
    are themselves mostly non-line-of-sight, so NLOS keeps the bands comparable, whereas LOS
    would predict a 3.5 GHz cell reaching further than a 1.8 GHz cell on the same mast.
    And NLOS is the conservative side for a coverage indicator. Each model keeps its own
    validity range (see the functions above) and is extrapolated outside it, as they are.

    Examples
    --------
    >>> round(float(hata_loss(5000.0, 900.0, 30.0, 1.5, env="rural")), 1)
    122.5
    """
    d, f, h_tx, h_rx, codes = _hata_checked(distance_m, freq_mhz, h_tx_m, h_rx_m, env)
    return np.asarray(_hata_composite(d, f, h_tx, h_rx, codes), dtype=np.float64)
