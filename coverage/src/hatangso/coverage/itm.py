"""The Longley-Rice Irregular Terrain Model (ITM), point-to-point and area mode.

A numba port of the ITM algorithm version 1.2.2 as implemented in NTIA/ITS's public-domain C++
reference library (github.com/NTIA/itm, library v1.4). The model predicts the basic transmission
loss of a radio path from 20 MHz to 20 GHz over irregular terrain: two-ray line of sight, a
blend of smooth-earth and knife-edge diffraction beyond the horizon, troposcatter far beyond
it, and the statistics of time, location and situation variability.

Public: :func:`itm_p2p_loss` (point-to-point, the contract's entry, re-exported by
:mod:`hatangso.coverage.terrain`) and :func:`itm_area_loss` (area mode) return the loss in dB.
Every error code becomes an :class:`ITMParameterError` (a :class:`ValueError`) naming the
parameter and its valid range; warnings are logged at DEBUG level.

Inside, the numba kernels (compiled by :mod:`hatangso.coverage._jit`) never raise: they return
NTIA's return code (``0`` success, ``1`` success with warnings, ``>= 1000`` error, loss NaN)
and warning flags in an :class:`_Outcome`. A prediction's inputs but the path travel together
as one :class:`_Inputs` (a ``NamedTuple``, which numba passes by value as one structure), and
the terminal geometry of a path as one :class:`_Path`. :func:`_p2p` and :func:`_area` are the
checked kernels; :func:`_p2p_result` and :func:`_area_result` return an :class:`ITMResult` with
the warnings decoded and NTIA's intermediate values.

ITM over a DEM (one profile from a site to each cell, :func:`_window_losses_serial`,
:func:`_window_losses_parallel` and :func:`_point_losses`) lives here too, beside the model it
compiles in, so that numba's disk cache, which watches a kernel's own file only, notices every
change to ITM (see :mod:`hatangso.coverage._jit`).

Terrain profiles use NTIA's PFL format: ``[n_intervals, spacing_m, z_0, ..., z_n]``, elevations
in metres above mean sea level, ``z_0`` under the transmitter and ``z_n`` under the receiver.

Differences from the NTIA code
------------------------------
- The kernels check the profile itself (interval count at least 1, array long enough, spacing
  finite and positive, elevations finite) and return code :data:`ERROR_PROFILE` (1100, a
  hatangso code that NTIA does not have) instead of reading outside the array or carrying a
  DEM void through.
- On an error NTIA leaves the loss unset; the kernels return NaN.
- NTIA's terrain irregularity ``delta_h`` takes the 10 % and 90 % quantiles with
  ``std::nth_element``; here the p10 lowest and p10 highest of the 245 (at most) deviations
  are kept in order as they come, which picks the same values.
- NTIA's diffraction line evaluates the smooth-earth terminal terms, the clutter term and the
  height-gain ratio at both of its distances; here they are computed once (same operations,
  same values).
- NTIA's confidence/reliability entry points (``ITM_P2P_CR``, ``ITM_AREA_CR``) are not
  separate functions: call the TLS form with ``time=reliability``, ``location=50`` and
  ``situation=confidence``, which is what NTIA does inside them.
- The Python functions raise on error codes rather than return them.

Everything else, including the order of floating-point operations where it could matter
(running horizon distances, the profile resampling of ``delta_h``), follows the reference
code; NTIA's reference cases are reproduced to the precision NTIA prints them (0.01 dB in
``p2p.csv``, 0.1 dB in ``area.csv`` and the driver examples).

References
----------
.. [1] NTIA/ITS, "Irregular Terrain Model (ITM) (Longley-Rice) (20 MHz - 20 GHz)", C++
   reference implementation, https://github.com/NTIA/itm (public domain), files
   ``src/*.cpp`` and ``include/ITS.Propagation.ITM/*.h``.
.. [2] G. A. Hufford, "The ITS Irregular Terrain Model, version 1.2.2: the Algorithm", NTIA/ITS,
   1995 ("[Algorithm]" in the comments).
.. [3] A. G. Longley and P. L. Rice, "Prediction of tropospheric radio transmission loss over
   irregular terrain: a computer method", ESSA Tech. Rep. ERL 79-ITS 67, 1968.
.. [4] P. L. Rice et al., "Transmission loss predictions for tropospheric communication
   circuits", NBS Technical Note 101, 1967 ("[TN101]").
.. [5] L. E. Vogler, "Calculation of groundwave attenuation in the far diffraction region",
   Radio Science, 68D(7), 1964.
.. [6] M. Abramowitz and I. A. Stegun, "Handbook of Mathematical Functions", 1964, eq. 26.2.23.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
from numba import prange

from hatangso.coverage._jit import jit, serial_and_parallel
from hatangso.geo.errors import HatangsoError

log = logging.getLogger(__name__)

__all__ = [
    "ERROR_PROFILE",
    "ITM_ERRORS",
    "ITM_WARNINGS",
    "PROPAGATION_MODES",
    "ITMParameterError",
    "ITMResult",
    "itm_area_loss",
    "itm_p2p_loss",
]

FloatArray = npt.NDArray[np.float64]


class _Inputs(NamedTuple):
    """A prediction's inputs but the path, as the kernels take them.

    Attributes
    ----------
    h_tx_m, h_rx_m
        Antenna heights above ground, 0.5 to 3000 m.
    freq_mhz
        Frequency, 20 to 20000 MHz.
    epsilon, sigma
        Relative permittivity (>= 1) and conductivity (S/m, > 0) of the ground.
    n0
        Surface refractivity at sea level, 250 to 400 N-units.
    climate
        Radio climate 1 to 7 (1 equatorial, 2 continental subtropical, 3 maritime
        subtropical, 4 desert, 5 continental temperate, 6 maritime temperate over land,
        7 maritime temperate over sea).
    polarization
        0 horizontal, 1 vertical.
    time, location, situation
        Quantiles in percent, strictly between 0 and 100.
    mdvar
        Mode of variability (0-3, plus 10 and/or 20).
    """

    h_tx_m: float
    h_rx_m: float
    freq_mhz: float
    epsilon: float
    sigma: float
    n0: float
    climate: int
    polarization: int
    time: float
    location: float
    situation: float
    mdvar: int


class _Path(NamedTuple):
    """Terminal geometry of a path: NTIA's ``theta_hzn``, ``d_hzn__meter``, ``h_e__meter``.

    Horizon angles (radians) and distances (m), effective antenna heights (m), terrain
    irregularity ``delta_h`` (m) and path length (m).
    """

    theta_tx: float
    theta_rx: float
    d_hzn_tx_m: float
    d_hzn_rx_m: float
    h_e_tx_m: float
    h_e_rx_m: float
    delta_h_m: float
    d_m: float


class _Outcome(NamedTuple):
    """What the kernels return: the loss, NTIA's code and flags, and intermediate values.

    On an error ``loss_db`` and the values not yet computed are NaN.
    """

    loss_db: float
    code: int
    warning_flags: int
    propagation_mode: int
    a_ref_db: float
    a_fs_db: float
    d_m: float
    delta_h_m: float
    theta_hzn_tx: float
    theta_hzn_rx: float
    d_hzn_tx_m: float
    d_hzn_rx_m: float
    h_e_tx_m: float
    h_e_rx_m: float
    n_s: float


# --------------------------------------------------------------------------------------------
# NTIA codes and constants ([1], include/ITS.Propagation.ITM/{Errors,Warnings,Enums,ITM}.h)
# --------------------------------------------------------------------------------------------

SUCCESS: Final = 0
SUCCESS_WITH_WARNINGS: Final = 1

_E_TX_HEIGHT: Final = 1000
_E_RX_HEIGHT: Final = 1001
_E_CLIMATE: Final = 1002
_E_TIME: Final = 1003
_E_LOCATION: Final = 1004
_E_SITUATION: Final = 1005
_E_REFRACTIVITY: Final = 1008
_E_FREQUENCY: Final = 1009
_E_POLARIZATION: Final = 1010
_E_EPSILON: Final = 1011
_E_SIGMA: Final = 1012
_E_GROUND_IMPEDANCE: Final = 1013
_E_MDVAR: Final = 1014
_E_EFFECTIVE_EARTH: Final = 1016
_E_PATH_DISTANCE: Final = 1017
_E_DELTA_H: Final = 1018
_E_TX_SITING: Final = 1019
_E_RX_SITING: Final = 1020
_E_NS_SMALL: Final = 1021
_E_NS_LARGE: Final = 1022
#: hatangso's own code: the PFL array is malformed (fewer than 1 interval, too short, spacing
#: not positive). NTIA has no such check.
ERROR_PROFILE: Final = 1100

#: NTIA's error codes ([1], Errors.h) with the parameter at fault and its valid range.
ITM_ERRORS: Final[dict[int, tuple[str, str]]] = {
    _E_TX_HEIGHT: ("h_tx_m", "0.5 to 3000 m"),
    _E_RX_HEIGHT: ("h_rx_m", "0.5 to 3000 m"),
    _E_CLIMATE: ("climate", "1 to 7 (1 equatorial ... 7 maritime temperate over sea)"),
    _E_TIME: ("time", "0 < time < 100 %"),
    _E_LOCATION: ("location", "0 < location < 100 %"),
    _E_SITUATION: ("situation", "0 < situation < 100 %"),
    _E_REFRACTIVITY: ("n0", "250 to 400 N-units"),
    _E_FREQUENCY: ("freq_mhz", "20 to 20000 MHz"),
    _E_POLARIZATION: ("polarization", "0 (horizontal) or 1 (vertical)"),
    _E_EPSILON: ("epsilon", ">= 1"),
    _E_SIGMA: ("sigma", "> 0 S/m"),
    _E_GROUND_IMPEDANCE: (
        "epsilon, sigma",
        "a ground impedance whose real part exceeds the magnitude of its imaginary part",
    ),
    _E_MDVAR: ("mdvar", "0-3, plus 10 and/or 20 (0-3, 10-13, 20-23, 30-33)"),
    _E_EFFECTIVE_EARTH: ("n0", "an effective earth radius of 4000 to 13333 km"),
    _E_PATH_DISTANCE: ("d_km", "> 0 km"),
    _E_DELTA_H: ("delta_h_m", ">= 0 m"),
    _E_TX_SITING: ("tx_siting", "0 (random), 1 (careful) or 2 (very careful)"),
    _E_RX_SITING: ("rx_siting", "0 (random), 1 (careful) or 2 (very careful)"),
    _E_NS_SMALL: (
        "n0, pfl",
        "a surface refractivity N_s = n0 * exp(-mean elevation / 9460 m) of at least 150",
    ),
    _E_NS_LARGE: ("n0, pfl", "a surface refractivity N_s of at most 400"),
    ERROR_PROFILE: (
        "pfl",
        "[n_intervals >= 1, spacing_m > 0, z_0, ..., z_n] with n_intervals + 3 values",
    ),
}

_W_TX_HEIGHT: Final = 0x0001
_W_RX_HEIGHT: Final = 0x0002
_W_FREQUENCY: Final = 0x0004
_W_DIST_BIG_1: Final = 0x0008
_W_DIST_BIG_2: Final = 0x0010
_W_DIST_SMALL_1: Final = 0x0020
_W_DIST_SMALL_2: Final = 0x0040
_W_TX_HZN_ANGLE: Final = 0x0080
_W_RX_HZN_ANGLE: Final = 0x0100
_W_TX_HZN_DIST_1: Final = 0x0200
_W_RX_HZN_DIST_1: Final = 0x0400
_W_TX_HZN_DIST_2: Final = 0x0800
_W_RX_HZN_DIST_2: Final = 0x1000
_W_EXTREME_VARIABILITIES: Final = 0x2000
_W_SURFACE_REFRACTIVITY: Final = 0x4000

#: NTIA's warning flags ([1], Warnings.h): bit -> meaning.
ITM_WARNINGS: Final[dict[int, str]] = {
    _W_TX_HEIGHT: "TX terminal height is near its limits (1 to 1000 m)",
    _W_RX_HEIGHT: "RX terminal height is near its limits (1 to 1000 m)",
    _W_FREQUENCY: "frequency is near its limits (40 to 10000 MHz)",
    _W_DIST_BIG_1: "path distance is near its upper limit (over 1000 km)",
    _W_DIST_BIG_2: "path distance is large (over 2000 km): take care with the result",
    _W_DIST_SMALL_1: "path distance is near its lower limit (|h_e,tx - h_e,rx| / 0.2)",
    _W_DIST_SMALL_2: "path distance is small (under 1 km): take care with the result",
    _W_TX_HZN_ANGLE: "TX horizon angle is over 200 mrad: small-angle approximations may fail",
    _W_RX_HZN_ANGLE: "RX horizon angle is over 200 mrad: small-angle approximations may fail",
    _W_TX_HZN_DIST_1: "TX horizon distance is under 1/10 of the smooth-earth horizon distance",
    _W_RX_HZN_DIST_1: "RX horizon distance is under 1/10 of the smooth-earth horizon distance",
    _W_TX_HZN_DIST_2: "TX horizon distance is over 3 times the smooth-earth horizon distance",
    _W_RX_HZN_DIST_2: "RX horizon distance is over 3 times the smooth-earth horizon distance",
    _W_EXTREME_VARIABILITIES: "a variability quantile lies far in its tail (|z| > 3.10)",
    _W_SURFACE_REFRACTIVITY: "surface refractivity N_s is small (150 to 250): take care",
}

#: NTIA's mode-of-propagation values ([1], Enums.h).
PROPAGATION_MODES: Final[dict[int, str]] = {
    0: "not set",
    1: "line of sight",
    2: "diffraction",
    3: "troposcatter",
}

_MODE_P2P: Final = 0
_MODE_AREA: Final = 1
_MDVAR_SINGLE_MESSAGE: Final = 0
_MDVAR_ACCIDENTAL: Final = 1
_MDVAR_MOBILE: Final = 2
_PROPMODE_LOS: Final = 1
_PROPMODE_DIFFRACTION: Final = 2
_PROPMODE_TROPOSCATTER: Final = 3

_THIRD: Final = 1.0 / 3.0
_SQRT2: Final = math.sqrt(2.0)
# Earth radii of [1], ITM.h: actual earth (a_0) and the 9000 km radius of [Algorithm, Eqn 5.3].
_A_0_M: Final = 6370e3
_A_9000_M: Final = 9000e3
# Curvature of the actual earth, ~1 / 6370 km ([1], InitializePointToPoint.cpp).
_GAMMA_A: Final = 157e-9

# Variability curve parameters by radio climate 1..7 ([1], Variability.cpp; TN101 Fig 10.13,
# TN101v2 Eqns III.69 and III.70; [Algorithm, Table 5.1]).
_ALL_YEAR = np.array(
    [
        [-9.67, -0.62, 1.26, -9.21, -0.62, -0.39, 3.15],
        [12.7, 9.19, 15.5, 9.05, 9.19, 2.86, 857.9],
        [144.9e3, 228.9e3, 262.6e3, 84.1e3, 228.9e3, 141.7e3, 2222.0e3],
        [190.3e3, 205.2e3, 185.2e3, 101.1e3, 205.2e3, 315.9e3, 164.8e3],
        [133.8e3, 143.6e3, 99.8e3, 98.6e3, 143.6e3, 167.4e3, 116.3e3],
    ]
)
_BSM1 = np.array([2.13, 2.66, 6.11, 1.98, 2.68, 6.86, 8.51])
_BSM2 = np.array([159.5, 7.67, 6.65, 13.11, 7.16, 10.38, 169.8])
_XSM1 = np.array([762.2e3, 100.4e3, 138.2e3, 139.1e3, 93.7e3, 187.8e3, 609.8e3])
_XSM2 = np.array([123.6e3, 172.5e3, 242.2e3, 132.7e3, 186.8e3, 169.6e3, 119.9e3])
_XSM3 = np.array([94.5e3, 136.4e3, 178.6e3, 193.5e3, 133.5e3, 108.9e3, 106.6e3])
_BSP1 = np.array([2.11, 6.87, 10.08, 3.68, 4.75, 8.58, 8.43])
_BSP2 = np.array([102.3, 15.53, 9.60, 159.3, 8.12, 13.97, 8.19])
_XSP1 = np.array([636.9e3, 138.7e3, 165.3e3, 464.4e3, 93.2e3, 216.0e3, 136.2e3])
_XSP2 = np.array([134.8e3, 143.7e3, 225.7e3, 93.1e3, 135.9e3, 152.0e3, 188.5e3])
_XSP3 = np.array([95.6e3, 98.6e3, 129.7e3, 94.2e3, 113.4e3, 122.7e3, 122.9e3])
_C_D = np.array([1.224, 0.801, 1.380, 1.000, 1.224, 1.518, 1.518])
_Z_D = np.array([1.282, 2.161, 1.282, 20.0, 1.282, 1.282, 1.282])
_BFM1 = np.array([1.0, 1.0, 1.0, 1.0, 0.92, 1.0, 1.0])
_BFM2 = np.array([0.0, 0.0, 0.0, 0.0, 0.25, 0.0, 0.0])
_BFM3 = np.array([0.0, 0.0, 0.0, 0.0, 1.77, 0.0, 0.0])
_BFP1 = np.array([1.0, 0.93, 1.0, 0.93, 0.93, 1.0, 1.0])
_BFP2 = np.array([0.0, 0.31, 0.0, 0.19, 0.31, 0.0, 0.0])
_BFP3 = np.array([0.0, 2.00, 0.0, 1.79, 2.00, 0.0, 0.0])
# Troposcatter attenuation function F(theta d) ([Algorithm, 6.9]) and H_0 curves
# ([Algorithm, 6.13]).
_F_A = np.array([133.4, 104.6, 71.8])
_F_B = np.array([0.332e-3, 0.212e-3, 0.157e-3])
_F_C = np.array([-10.0, -2.5, 5.0])
_H0_A = np.array([25.0, 80.0, 177.0, 395.0, 705.0])
_H0_B = np.array([24.0, 45.0, 68.0, 80.0, 105.0])


# --------------------------------------------------------------------------------------------
# small numba helpers
# --------------------------------------------------------------------------------------------


@jit()
def _fdim(x: float, y: float) -> float:
    """C's ``fdim``: ``x - y`` if positive, else 0."""
    return x - y if x > y else 0.0


@jit()
def _validate(inputs: _Inputs) -> tuple[int, int]:
    """Check the inputs common to both modes; return (code, warning flags).

    Ranges of [1], ValidateInputs.cpp, checked in the same order. A NaN fails every check.
    """
    (h_tx_m, h_rx_m, freq_mhz, epsilon, sigma, n0, climate, polarization, time, location,
     situation, mdvar) = inputs  # fmt: skip
    warnings = 0
    if not (1.0 <= h_tx_m <= 1000.0):
        warnings |= _W_TX_HEIGHT
    if not (0.5 <= h_tx_m <= 3000.0):
        return _E_TX_HEIGHT, warnings
    if not (1.0 <= h_rx_m <= 1000.0):
        warnings |= _W_RX_HEIGHT
    if not (0.5 <= h_rx_m <= 3000.0):
        return _E_RX_HEIGHT, warnings
    if climate < 1 or climate > 7:
        return _E_CLIMATE, warnings
    if not (250.0 <= n0 <= 400.0):
        return _E_REFRACTIVITY, warnings
    if not (40.0 <= freq_mhz <= 10000.0):
        warnings |= _W_FREQUENCY
    if not (20.0 <= freq_mhz <= 20000.0):
        return _E_FREQUENCY, warnings
    if polarization != 0 and polarization != 1:
        return _E_POLARIZATION, warnings
    if not (epsilon >= 1.0):
        return _E_EPSILON, warnings
    if not (sigma > 0.0):
        return _E_SIGMA, warnings
    if mdvar < 0 or (3 < mdvar < 10) or (13 < mdvar < 20) or (23 < mdvar < 30) or mdvar > 33:
        return _E_MDVAR, warnings
    if not (0.0 < situation < 100.0):
        return _E_SITUATION, warnings
    if not (0.0 < time < 100.0):
        return _E_TIME, warnings
    if not (0.0 < location < 100.0):
        return _E_LOCATION, warnings
    return SUCCESS, warnings


@jit()
def _initialize(inputs: _Inputs, h_sys_m: float) -> tuple[complex, float, float]:
    """Ground impedance, effective earth curvature and surface refractivity.

    Returns (Z_g, gamma_e, N_s). [1], InitializePointToPoint.cpp: N_s = N_0 exp(-h_s / 9460)
    [TN101, Eq 4.3]; gamma_e = gamma_a (1 - 0.04665 exp(N_s / 179.3)) [TN101, Eq 4.4];
    Z_g = sqrt(eps_r - 1) for horizontal polarisation, divided by eps_r for vertical, with the
    complex permittivity eps_r = epsilon + j 18000 sigma / f.
    """
    freq_mhz, epsilon, sigma, n0 = inputs.freq_mhz, inputs.epsilon, inputs.sigma, inputs.n0
    polarization = inputs.polarization
    n_s = n0 if h_sys_m == 0.0 else n0 * math.exp(-h_sys_m / 9460.0)
    gamma_e = _GAMMA_A * (1.0 - 0.04665 * math.exp(n_s / 179.3))
    ep_r = complex(epsilon, 18000.0 * sigma / freq_mhz)
    z_g = np.sqrt(ep_r - 1.0)
    if polarization == 1:
        z_g = z_g / ep_r
    return z_g, gamma_e, n_s


@jit()
def _free_space_loss(d_m: float, freq_mhz: float) -> float:
    """Free-space loss, [1] FreeSpaceLoss.cpp: 32.45 + 20 log10(f_MHz) + 20 log10(d_km)."""
    return 32.45 + 20.0 * math.log10(freq_mhz) + 20.0 * math.log10(d_m / 1000.0)


@jit()
def _terrain_roughness(d_m: float, delta_h_m: float) -> float:
    """delta_h(d) = delta_h (1 - 0.8 exp(-d / 50 km)) [ERL 79-ITS 67, Eqn 3]."""
    return delta_h_m * (1.0 - 0.8 * math.exp(-d_m / 50e3))


@jit()
def _sigma_h(delta_h_m: float) -> float:
    """RMS terrain deviation in the first Fresnel zone [ERL 79-ITS 67, Eqn 3.6a]."""
    return 0.78 * delta_h_m * math.exp(-0.5 * delta_h_m**0.25)


@jit()
def _inverse_ccdf(q: float) -> float:
    """Inverse complementary normal CDF, Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4)."""
    x = 1.0 - q if q > 0.5 else q
    t = math.sqrt(-2.0 * math.log(x))
    zeta = ((0.010328 * t + 0.802853) * t + 2.515516) / (
        ((0.001308 * t + 0.189269) * t + 1.432788) * t + 1.0
    )
    z = t - zeta
    return -z if q > 0.5 else z


# --------------------------------------------------------------------------------------------
# terrain profile analysis
# --------------------------------------------------------------------------------------------


@jit()
def _find_horizons(
    pfl: FloatArray, a_e_m: float, h_tx_m: float, h_rx_m: float
) -> tuple[float, float, float, float]:
    """Horizon angles and distances of both terminals, ([1], FindHorizons.cpp).

    Returns (theta_tx, theta_rx, d_hzn_tx_m, d_hzn_rx_m). Starts from the line-of-sight angles
    [TN101, Eq 6.15] and raises them to every profile point's elevation angle, corrected for
    the earth's curvature by -d / (2 a_e).
    """
    n = int(pfl[0])
    xi = pfl[1]
    d_m = pfl[0] * pfl[1]
    z_tx = pfl[2] + h_tx_m
    z_rx = pfl[n + 2] + h_rx_m
    theta_tx = (z_rx - z_tx) / d_m - d_m / (2.0 * a_e_m)
    theta_rx = -(z_rx - z_tx) / d_m - d_m / (2.0 * a_e_m)
    d_hzn_tx = d_m
    d_hzn_rx = d_m
    d_tx = 0.0
    d_rx = d_m
    for i in range(1, n):
        # running sums, as the reference code does, so that ties resolve identically
        d_tx = d_tx + xi
        d_rx = d_rx - xi
        t_tx = (pfl[i + 2] - z_tx) / d_tx - d_tx / (2.0 * a_e_m)
        t_rx = -(z_rx - pfl[i + 2]) / d_rx - d_rx / (2.0 * a_e_m)
        if t_tx > theta_tx:
            theta_tx = t_tx
            d_hzn_tx = d_tx
        if t_rx > theta_rx:
            theta_rx = t_rx
            d_hzn_rx = d_rx
    return theta_tx, theta_rx, d_hzn_tx, d_hzn_rx


@jit()
def _least_squares_fit(pfl: FloatArray, d_start: float, d_end: float) -> tuple[float, float]:
    """Least-squares line through the profile between two distances ([1], zlsq1).

    Returns the fitted heights at the two ends of the whole profile (x = 0 and x = n). The
    points at ``d_start`` and ``d_end`` count with weight 1/2 (trapezoidal sums).
    """
    n = int(pfl[0])
    i_start = int(_fdim(d_start / pfl[1], 0.0))
    i_end = n - int(_fdim(float(n), d_end / pfl[1]))
    if i_end <= i_start:
        i_start = int(_fdim(float(i_start), 1.0))
        i_end = n - int(_fdim(float(n), i_end + 1.0))
    x_length = float(i_end - i_start)
    mid = -0.5 * x_length
    mid_end = i_end + mid
    sum_y = 0.5 * (pfl[i_start + 2] + pfl[i_end + 2])
    scaled_sum_y = 0.5 * (pfl[i_start + 2] - pfl[i_end + 2]) * mid
    k = i_start
    for _ in range(2, i_end - i_start + 1):
        k += 1
        mid += 1.0
        sum_y += pfl[k + 2]
        scaled_sum_y += pfl[k + 2] * mid
    sum_y = sum_y / x_length
    scaled_sum_y = scaled_sum_y * 12.0 / ((x_length * x_length + 2.0) * x_length)
    return sum_y - scaled_sum_y * mid_end, sum_y + scaled_sum_y * (n - mid_end)


@jit()
def _keep_smallest(kept: FloatArray, value: float) -> None:
    """Insert `value` into the ascending `kept`, dropping its largest element.

    Without branches: each slot takes the smaller of itself and the larger of its left
    neighbour and `value`, from the right, so that no comparison depends on the last.
    """
    for k in range(kept.size - 1, 0, -1):
        kept[k] = min(kept[k], max(kept[k - 1], value))
    kept[0] = min(kept[0], value)


@jit()
def _delta_h(pfl: FloatArray, d_start_m: float, d_end_m: float) -> float:
    """Terrain irregularity parameter delta_h ([1], ComputeDeltaH.cpp).

    The profile between the two distances is resampled at n = 10 p10 - 5 points
    (4 <= p10 <= 25), a least-squares line is removed, and the interdecile range of the
    residuals delta_h(d) is turned into the asymptotic delta_h by inverting
    delta_h(d) = delta_h (1 - 0.8 exp(-d / 50 km)) [ERL 79-ITS 67, Eqn 3].
    """
    n_pfl = int(pfl[0])
    x_start = d_start_m / pfl[1]
    x_end = d_end_m / pfl[1]
    if x_end - x_start < 2.0:
        return 0.0
    p10 = int(0.1 * (x_end - x_start + 8.0))
    p10 = min(max(4, p10), 25)
    n = 10 * p10 - 5
    np_s = float(n - 1)
    s = np.empty(n + 2)
    s[0] = np_s
    s[1] = 1.0
    step = (x_end - x_start) / np_s
    i = int(x_start)
    x_start -= float(i + 1)
    for j in range(n):
        while x_start > 0.0 and (i + 1) < n_pfl:
            x_start -= 1.0
            i += 1
        s[j + 2] = pfl[i + 3] + (pfl[i + 3] - pfl[i + 2]) * x_start
        x_start += step
    fit_1, fit_2 = _least_squares_fit(s, 0.0, np_s)
    slope = (fit_2 - fit_1) / np_s
    # Only the p10-th largest and the p10-th smallest residual are needed (what nth_element
    # with std::greater picks at p10 - 1 and p90): keep the p10 smallest residuals and the
    # p10 smallest negated ones, each in order, rather than sorting all n. Most residuals fall
    # between the two and cost two comparisons; the order statistics, and so the result, are
    # exactly those of a full sort.
    lowest = np.full(p10, np.inf)
    negated_highest = np.full(p10, np.inf)
    last = p10 - 1
    for j in range(n):
        residual = s[j + 2] - fit_1
        fit_1 += slope
        if residual < lowest[last]:
            _keep_smallest(lowest, residual)
        if -residual < negated_highest[last]:
            _keep_smallest(negated_highest, -residual)
    q10 = -negated_highest[last]
    q90 = lowest[last]
    return float((q10 - q90) / (1.0 - 0.8 * math.exp(-(d_end_m - d_start_m) / 50e3)))


@jit()
def _horizon_distance(h_e_m: float, a_e_m: float, delta_h_m: float) -> float:
    """Horizon distance over rough earth, sqrt(2 h_e a_e) exp(-0.07 sqrt(delta_h / max(h_e, 5))).

    [Algorithm, Eqn 3.3]; H_3 = 5 m ([1], InitializeArea.cpp and QuickPfl.cpp).
    """
    return math.sqrt(2.0 * h_e_m * a_e_m) * math.exp(-0.07 * math.sqrt(delta_h_m / max(h_e_m, 5.0)))


@jit()
def _quick_pfl(pfl: FloatArray, gamma_e: float, h_tx_m: float, h_rx_m: float) -> _Path:
    """Path geometry from the profile ([1], QuickPfl.cpp; qlrpfl of [Algorithm]).

    Terrain is considered from 15 tower heights (or a tenth of the horizon distance) away from
    each terminal [Hufford 1982, p. 25]; effective heights are heights above a least-squares
    line through the foreground. On clearly line-of-sight paths the horizons are those of the
    area-mode formulas [Algorithm, Eqns 3.3 and 3.4].
    """
    d_m = pfl[0] * pfl[1]
    n = int(pfl[0])
    a_e = 1.0 / gamma_e
    th_tx, th_rx, dh_tx, dh_rx = _find_horizons(pfl, a_e, h_tx_m, h_rx_m)
    d_start = min(15.0 * h_tx_m, 0.1 * dh_tx)
    d_end = d_m - min(15.0 * h_rx_m, 0.1 * dh_rx)
    delta_h = _delta_h(pfl, d_start, d_end)
    if dh_tx + dh_rx > 1.5 * d_m:
        fit_tx, fit_rx = _least_squares_fit(pfl, d_start, d_end)
        he_tx = h_tx_m + _fdim(pfl[2], fit_tx)
        he_rx = h_rx_m + _fdim(pfl[n + 2], fit_rx)
        dh_tx = _horizon_distance(he_tx, a_e, delta_h)
        dh_rx = _horizon_distance(he_rx, a_e, delta_h)
        combined = dh_tx + dh_rx
        if combined <= d_m:
            q = (d_m / combined) ** 2
            he_tx *= q
            he_rx *= q
            dh_tx = _horizon_distance(he_tx, a_e, delta_h)
            dh_rx = _horizon_distance(he_rx, a_e, delta_h)
        q = math.sqrt(2.0 * he_tx * a_e)
        th_tx = (0.65 * delta_h * (q / dh_tx - 1.0) - 2.0 * he_tx) / q
        q = math.sqrt(2.0 * he_rx * a_e)
        th_rx = (0.65 * delta_h * (q / dh_rx - 1.0) - 2.0 * he_rx) / q
    else:
        fit_tx, _unused = _least_squares_fit(pfl, d_start, 0.9 * dh_tx)
        he_tx = h_tx_m + _fdim(pfl[2], fit_tx)
        _unused, fit_rx = _least_squares_fit(pfl, d_m - 0.9 * dh_rx, d_end)
        he_rx = h_rx_m + _fdim(pfl[n + 2], fit_rx)
    return _Path(th_tx, th_rx, dh_tx, dh_rx, he_tx, he_rx, delta_h, d_m)


@jit()
def _initialize_area(
    siting: int, gamma_e: float, delta_h_m: float, h_m: float
) -> tuple[float, float, float]:
    """Effective height, horizon distance and angle of one area-mode terminal.

    Returns (h_e_m, d_hzn_m, theta_hzn). [1], InitializeArea.cpp; [Algorithm, Eqns 3.2-3.4]:
    careful siting adds (1 + B) exp(-min(20, 2 h / delta_h)) with B = 4 (careful) or
    9 (very careful), scaled by sin(0.1 pi h) below 5 m.
    """
    if siting == 0:
        h_e = h_m
    else:
        b = 4.0 if siting == 1 else 9.0
        if h_m < 5.0:
            b = b * math.sin(0.1 * math.pi * h_m)
        h_e = h_m + (1.0 + b) * math.exp(-min(20.0, 2.0 * h_m / max(1e-3, delta_h_m)))
    d_ls = math.sqrt(2.0 * h_e / gamma_e)
    d_hzn = _horizon_distance(h_e, 1.0 / gamma_e, delta_h_m)
    theta = (0.65 * delta_h_m * (d_ls / d_hzn - 1.0) - 2.0 * h_e) / d_ls
    return h_e, d_hzn, theta


# --------------------------------------------------------------------------------------------
# reference attenuation: line of sight, diffraction, troposcatter
# --------------------------------------------------------------------------------------------


@jit()
def _fresnel_integral(v2: float) -> float:
    """Knife-edge loss A(v, 0) from v^2 [TN101v2, Eqn III.24b-c; ERL 79-ITS 67, Eqn 3.27]."""
    if v2 < 5.76:
        return 6.02 + 9.11 * math.sqrt(v2) - 1.27 * v2
    return 12.953 + 10.0 * math.log10(v2)


@jit()
def _knife_edge(
    d_m: float, freq_mhz: float, a_e_m: float, theta_los: float, dh_tx: float, dh_rx: float
) -> float:
    """Double knife-edge diffraction loss at distance d ([1], KnifeEdgeDiffraction.cpp)."""
    d_ml = dh_tx + dh_rx
    theta_nlos = d_m / a_e_m - theta_los
    d_nlos = d_m - d_ml
    # 0.0795775 = 1 / (4 pi) [TN101, Eqn I.7]
    c = 0.0795775 * (freq_mhz / 47.7) * theta_nlos**2
    v_1 = c * dh_tx * d_nlos / (d_nlos + dh_tx)
    v_2 = c * dh_rx * d_nlos / (d_nlos + dh_rx)
    return _fresnel_integral(v_1) + _fresnel_integral(v_2)


@jit()
def _height_function(x_km: float, k: float) -> float:
    """Vogler's height-gain function F(x, K) ([1], SmoothEarthDiffraction.cpp)."""
    if x_km < 200.0:
        w = -math.log(k)
        if k < 1e-5 or x_km * w**3 > 5495.0:
            result = -117.0
            if x_km > 1.0:
                result = 17.372 * math.log(x_km) + result
        else:
            result = 2.5e-5 * x_km**2 / k - 8.686 * w - 15.0
    else:
        result = 0.05751 * x_km - 4.343 * math.log(x_km)
        if x_km < 2000.0:
            w = 0.0134 * x_km * math.exp(-0.005 * x_km)
            result = (1.0 - w) * result + w * (17.372 * math.log(x_km) - 117.0)
    return result


@jit()
def _smooth_earth_terminals(
    freq_mhz: float, dh_tx: float, dh_rx: float, he_tx: float, he_rx: float, abs_z: float
) -> tuple[float, float, float, float, float, float]:
    """Compute the terms of :func:`_smooth_earth` that do not depend on the distance.

    Returns (f^(1/3), f^(-1/3), x_1, x_2, F(x_1, K_1), F(x_2, K_2)).
    """
    a_1 = 0.5 * dh_tx**2 / he_tx
    a_2 = 0.5 * dh_rx**2 / he_rx
    d_1_km = dh_tx / 1000.0
    d_2_km = dh_rx / 1000.0
    f_third = freq_mhz**_THIRD
    f_minus_third = freq_mhz ** (-_THIRD)
    c_1 = ((4.0 / 3.0) * _A_0_M / a_1) ** _THIRD
    c_2 = ((4.0 / 3.0) * _A_0_M / a_2) ** _THIRD
    k_1 = 0.017778 * c_1 * f_minus_third / abs_z
    k_2 = 0.017778 * c_2 * f_minus_third / abs_z
    x_1 = (1.607 - k_1) * c_1**2 * f_third * d_1_km
    x_2 = (1.607 - k_2) * c_2**2 * f_third * d_2_km
    return (
        f_third,
        f_minus_third,
        x_1,
        x_2,
        _height_function(x_1, k_1),
        _height_function(x_2, k_2),
    )


@jit()
def _smooth_earth(
    d_m: float,
    a_e_m: float,
    theta_los: float,
    d_ml: float,
    abs_z: float,
    terminals: tuple[float, float, float, float, float, float],
) -> float:
    """Smooth-earth diffraction loss by Vogler's three-radii method [5].

    [1], SmoothEarthDiffraction.cpp: radii of the diffraction path and of each terminal's
    horizon, C_0 = (4/3 a_0 / a)^(1/3), K = 0.017778 C_0 f^(-1/3) / |Z_g|, B_0 = 1.607 - K,
    x = B_0 C_0^2 f^(1/3) d_km; loss G(x_0) - F(x_1) - F(x_2) - 20 dB with
    G(x) = 0.05751 x - 10 log10(x) [TN101, Eqn 8.4]. The terminal terms come from
    :func:`_smooth_earth_terminals`, once for both distances of the diffraction line.
    """
    f_third, f_minus_third, x_1, x_2, f_x_1, f_x_2 = terminals
    theta_nlos = d_m / a_e_m - theta_los
    a_0 = (d_m - d_ml) / (d_m / a_e_m - theta_los)
    d_0_km = a_0 * theta_nlos / 1000.0
    c_0 = ((4.0 / 3.0) * _A_0_M / a_0) ** _THIRD
    k_0 = 0.017778 * c_0 * f_minus_third / abs_z
    x_0 = (1.607 - k_0) * c_0**2 * f_third * d_0_km + x_1 + x_2
    g_x = 0.05751 * x_0 - 10.0 * math.log10(x_0)
    return float(g_x - f_x_1 - f_x_2 - 20.0)


@jit()
def _diffraction_at(
    d_m: float,
    shared: tuple[float, float, float, float, float, float, float, float, float, float],
    terminals: tuple[float, float, float, float, float, float],
) -> float:
    """Compute one value of :func:`_diffraction_line` from the terms it computed once."""
    a_e_m, theta_los, dh_tx, dh_rx, d_ml, abs_z, delta_h_m, freq_mhz, term1, a_fo = shared
    a_k = _knife_edge(d_m, freq_mhz, a_e_m, theta_los, dh_tx, dh_rx)
    a_se = _smooth_earth(d_m, a_e_m, theta_los, d_ml, abs_z, terminals)
    delta_h_d = _terrain_roughness(d_m, delta_h_m)
    q = (term1 + (-theta_los * a_e_m + d_ml) / d_m) * min(delta_h_d * freq_mhz / 47.7, 6283.2)
    w = 25.1 / (25.1 + math.sqrt(q))
    return w * a_se + (1.0 - w) * a_k + a_fo


@jit()
def _diffraction_line(
    d_3: float,
    d_4: float,
    path: _Path,
    inputs: _Inputs,
    z_g: complex,
    a_e_m: float,
    mode: int,
    theta_los: float,
    d_sml_m: float,
) -> tuple[float, float]:
    """Diffraction loss at the two distances d_3 and d_4 that define the diffraction line.

    At each: weighted smooth-earth and knife-edge loss plus clutter ([1], DiffractionLoss.cpp):
    weight w = 25.1 / (25.1 + sqrt(q)) [ERL 79-ITS 67, Eqn 3.23], clutter
    A_fo = min(15, 5 log10(1 + 1e-5 h_1 h_2 f sigma_h)) [ERL 79-ITS 67, Eqn 3.38c];
    point-to-point mode adds C = 10 m^2 to h_1 h_2 [ERL 79-ITS 67, p. 3-8]. What does not
    depend on the distance is computed once; each value is the reference code's to the bit.
    """
    dh_tx, dh_rx, he_tx, he_rx, delta_h_m = path[2:7]
    h_tx_m, h_rx_m, freq_mhz = inputs.h_tx_m, inputs.h_rx_m, inputs.freq_mhz
    d_ml = dh_tx + dh_rx
    abs_z = abs(z_g)
    terminals = _smooth_earth_terminals(freq_mhz, dh_tx, dh_rx, he_tx, he_rx, abs_z)
    sigma_h_d = _sigma_h(_terrain_roughness(d_sml_m, delta_h_m))
    a_fo = min(15.0, 5.0 * math.log10(1.0 + 1e-5 * h_tx_m * h_rx_m * freq_mhz * sigma_h_d))
    q = h_tx_m * h_rx_m
    qk = he_tx * he_rx - q
    if mode == _MODE_P2P:
        q += 10.0
    term1 = math.sqrt(1.0 + qk / q)
    shared = (a_e_m, theta_los, dh_tx, dh_rx, d_ml, abs_z, delta_h_m, freq_mhz, term1, a_fo)
    return (
        _diffraction_at(d_3, shared, terminals),
        _diffraction_at(d_4, shared, terminals),
    )


@jit()
def _line_of_sight_loss(
    d_m: float,
    path: _Path,
    z_g: complex,
    m_d: float,
    a_d0: float,
    d_sml_m: float,
    freq_mhz: float,
) -> float:
    """Line-of-sight loss at distance `d_m`: two-ray model blended with the diffraction line.

    [1], LineOfSightLoss.cpp; [Algorithm, Eqns 4.46-4.50]: the rough-earth reflection
    coefficient R_e' = (sin psi - Z_g) / (sin psi + Z_g) exp(-min(10, k sigma_h sin psi)),
    the phase difference 2 k h_1 h_2 / d (folded above pi / 2), and the weight
    1 / (1 + f delta_h / max(10 km, d_Ls)).
    """
    he_tx, he_rx, delta_h_m = path[4:7]
    sigma_h_d = _sigma_h(_terrain_roughness(d_m, delta_h_m))
    wn = freq_mhz / 47.7
    h_sum = he_tx + he_rx
    sin_psi = h_sum / math.sqrt(d_m**2 + h_sum**2)
    r_e = (sin_psi - z_g) / (sin_psi + z_g) * math.exp(-min(10.0, wn * sigma_h_d * sin_psi))
    q = r_e.real**2 + r_e.imag**2
    if q < 0.25 or q < sin_psi:
        r_e = r_e * math.sqrt(sin_psi / q)
    delta_phi = wn * 2.0 * he_tx * he_rx / d_m
    if delta_phi > math.pi / 2.0:
        delta_phi = math.pi - (math.pi / 2.0) ** 2 / delta_phi
    rr = complex(math.cos(delta_phi), -math.sin(delta_phi)) + r_e
    a_t = -10.0 * math.log10(rr.real**2 + rr.imag**2)
    a_d = m_d * d_m + a_d0
    w = 1.0 / (1.0 + freq_mhz * delta_h_m / max(10e3, d_sml_m))
    return w * a_t + (1.0 - w) * a_d


@jit()
def _h0_curve(j: int, r: float) -> float:
    """One H_01(r, j) curve [Algorithm, 6.13]."""
    return 10.0 * math.log10(1.0 + _H0_A[j] * (1.0 / r) ** 4 + _H0_B[j] * (1.0 / r) ** 2)


@jit()
def _h0_function(r: float, eta_s: float) -> float:
    """Troposcatter frequency-gain function H_0 [TN101v1, ch. 9.2], interpolated in eta_s."""
    eta_s = min(max(eta_s, 1.0), 5.0)
    i = int(eta_s)
    q = eta_s - i
    result = _h0_curve(i - 1, r)
    if q != 0.0:
        result = (1.0 - q) * result + q * _h0_curve(i, r)
    return result


@jit()
def _f_function(td: float) -> float:
    """Attenuation function F(theta d) of troposcatter [Algorithm, 6.9]."""
    if td <= 10e3:
        i = 0
    elif td <= 70e3:
        i = 1
    else:
        i = 2
    return float(_F_A[i] + _F_B[i] * td + _F_C[i] * math.log10(td))


@jit()
def _troposcatter_loss(
    d_m: float,
    path: _Path,
    a_e_m: float,
    n_s: float,
    freq_mhz: float,
    theta_los: float,
    h0_in: float,
) -> tuple[float, float]:
    """Troposcatter loss at distance d ([1], TroposcatterLoss.cpp; [Algorithm, 4.63-4.67]).

    Returns (loss, H_0); pass the returned H_0 into the next call as NTIA's ``h0`` in/out
    argument (start with -1). A loss of 1001 means the function is undefined (both
    r_1, r_2 < 0.2).
    """
    th_tx, th_rx, dh_tx, dh_rx, he_tx, he_rx = path[:6]
    wn = freq_mhz / 47.7
    if h0_in > 15.0:
        h_0 = h0_in
    else:
        ad = dh_tx - dh_rx
        rr = he_rx / he_tx
        if ad < 0.0:
            ad = -ad
            rr = 1.0 / rr
        theta = th_tx + th_rx + d_m / a_e_m
        r_1 = 2.0 * wn * theta * he_tx
        r_2 = 2.0 * wn * theta * he_rx
        if r_1 < 0.2 and r_2 < 0.2:
            return 1001.0, h0_in
        s = (d_m - ad) / (d_m + ad)
        q = min(max(0.1, rr / s), 10.0)
        s = max(0.1, s)
        h_0_m = (d_m - ad) * (d_m + ad) * theta * 0.25 / d_m
        # scale heights Z_0 = 1.7556 km and Z_1 = 8 km [Algorithm, 4.67]; eta_s [TN101 9.3a]
        eta_s = (h_0_m / 1.7556e3) * (
            1.0
            + (0.031 - n_s * 2.32e-3 + n_s**2 * 5.67e-6) * math.exp(-(min(1.7, h_0_m / 8.0e3) ** 6))
        )
        h_00 = (_h0_function(r_1, eta_s) + _h0_function(r_2, eta_s)) / 2.0
        delta_h_0 = min(
            h_00, 6.0 * (0.6 - math.log10(max(eta_s, 1.0))) * math.log10(s) * math.log10(q)
        )
        h_0 = max(h_00 + delta_h_0, 0.0)
        if eta_s < 1.0:
            h_0 = eta_s * h_0 + (1.0 - eta_s) * 10.0 * math.log10(
                ((1.0 + _SQRT2 / r_1) * (1.0 + _SQRT2 / r_2)) ** 2
                * (r_1 + r_2)
                / (r_1 + r_2 + 2.0 * _SQRT2)
            )
        if h_0 > 15.0 and h0_in >= 0.0:
            h_0 = h0_in
    th = d_m / a_e_m - theta_los
    # D_0 = 40 km [Algorithm, 6.8]; H = 47.7 m [Algorithm, 4.63]
    loss = (
        _f_function(th * d_m)
        + 10.0 * math.log10(wn * 47.7 * th**4)
        - 0.1 * (n_s - 301.0) * math.exp(-th * d_m / 40e3)
        + h_0
    )
    return loss, h_0


@jit()
def _longley_rice(
    path: _Path, inputs: _Inputs, z_g: complex, gamma_e: float, n_s: float, mode: int
) -> tuple[int, float, int, int]:
    """Compute the attenuation below free space ([1], LongleyRice.cpp; lrprop of [Algorithm]).

    Returns (code, A_ref_db, warning flags, propagation mode). Line of sight:
    A_ref = A_o + k_1 d + k_2 ln d fitted at d_0, d_1 and the smooth-earth horizon distance
    [ERL 79-ITS 67, Eqns 3.16-3.21]; beyond it the diffraction line through d_3, d_4 or the
    troposcatter line through d_5 = d_L + 200 km, d_6 = d_L + 400 km, whichever applies at d.
    """
    th_tx, th_rx, dh_tx, dh_rx, he_tx, he_rx, _delta_h_m, d_m = path
    freq_mhz = inputs.freq_mhz
    warnings = 0
    a_e = 1.0 / gamma_e
    dhs_tx = math.sqrt(2.0 * he_tx * a_e)
    dhs_rx = math.sqrt(2.0 * he_rx * a_e)
    d_sml = dhs_tx + dhs_rx
    d_ml = dh_tx + dh_rx
    theta_los = -max(th_tx + th_rx, -d_ml / a_e)
    if abs(th_tx) > 200e-3:
        warnings |= _W_TX_HZN_ANGLE
    if abs(th_rx) > 200e-3:
        warnings |= _W_RX_HZN_ANGLE
    if dh_tx < 0.1 * dhs_tx:
        warnings |= _W_TX_HZN_DIST_1
    if dh_rx < 0.1 * dhs_rx:
        warnings |= _W_RX_HZN_DIST_1
    if dh_tx > 3.0 * dhs_tx:
        warnings |= _W_TX_HZN_DIST_2
    if dh_rx > 3.0 * dhs_rx:
        warnings |= _W_RX_HZN_DIST_2
    if n_s < 150.0:
        return _E_NS_SMALL, np.nan, warnings, 0
    if n_s > 400.0:
        return _E_NS_LARGE, np.nan, warnings, 0
    if n_s < 250.0:
        warnings |= _W_SURFACE_REFRACTIVITY
    if a_e < 4000000.0 or a_e > 13333333.0:
        return _E_EFFECTIVE_EARTH, np.nan, warnings, 0
    if z_g.real <= abs(z_g.imag):
        return _E_GROUND_IMPEDANCE, np.nan, warnings, 0

    scale = (a_e**2 / freq_mhz) ** _THIRD
    d_3 = max(d_sml, d_ml + 5.0 * scale)
    d_4 = d_3 + 10.0 * scale
    a_3, a_4 = _diffraction_line(d_3, d_4, path, inputs, z_g, a_e, mode, theta_los, d_sml)
    m_d = (a_4 - a_3) / (d_4 - d_3)
    a_d0 = a_3 - m_d * d_3

    d_min = abs(he_tx - he_rx) / 200e-3
    if d_m < d_min:
        warnings |= _W_DIST_SMALL_1
    if d_m < 1e3:
        warnings |= _W_DIST_SMALL_2
    if d_m > 1000e3:
        warnings |= _W_DIST_BIG_1
    if d_m > 2000e3:
        warnings |= _W_DIST_BIG_2

    if d_m < d_sml:
        a_sml = d_sml * m_d + a_d0
        d_0 = 0.04 * freq_mhz * he_tx * he_rx  # [ERL 79-ITS 67, Eqn 3.16a], in metres
        if a_d0 >= 0.0:
            d_0 = min(d_0, 0.5 * d_ml)
            d_1 = d_0 + 0.25 * (d_ml - d_0)  # [ERL 79-ITS 67, Eqn 3.16d]
        else:
            d_1 = max(-a_d0 / m_d, 0.25 * d_ml)
        a_1 = _line_of_sight_loss(d_1, path, z_g, m_d, a_d0, d_sml, freq_mhz)
        flag = False
        k_1 = 0.0
        k_2 = 0.0
        if d_0 < d_1:
            a_0 = _line_of_sight_loss(d_0, path, z_g, m_d, a_d0, d_sml, freq_mhz)
            q = math.log(d_sml / d_0)
            # [ERL 79-ITS 67, Eqn 3.20]
            k_2 = max(
                0.0,
                ((d_sml - d_0) * (a_1 - a_0) - (d_1 - d_0) * (a_sml - a_0))
                / ((d_sml - d_0) * math.log(d_1 / d_0) - (d_1 - d_0) * q),
            )
            flag = a_d0 > 0.0 or k_2 > 0.0
            if flag:
                # [ERL 79-ITS 67, Eqn 3.21]
                k_1 = (a_sml - a_0 - k_2 * q) / (d_sml - d_0)
                if k_1 < 0.0:
                    k_1 = 0.0
                    k_2 = _fdim(a_sml, a_0) / q
                    if k_2 == 0.0:
                        k_1 = m_d
        if not flag:
            k_1 = _fdim(a_sml, a_1) / (d_sml - d_1)
            k_2 = 0.0
            if k_1 == 0.0:
                k_1 = m_d
        a_o = a_sml - k_1 * d_sml - k_2 * math.log(d_sml)
        a_ref = a_o + k_1 * d_m + k_2 * math.log(d_m)  # [ERL 79-ITS 67, Eqn 3.19]
        propmode = _PROPMODE_LOS
    else:
        d_5 = d_ml + 200e3
        d_6 = d_ml + 400e3
        a_6, h0 = _troposcatter_loss(d_6, path, a_e, n_s, freq_mhz, theta_los, -1.0)
        a_5, h0 = _troposcatter_loss(d_5, path, a_e, n_s, freq_mhz, theta_los, h0)
        if a_5 < 1000.0:
            m_s = (a_6 - a_5) / 200e3
            d_x = max(
                max(d_sml, d_ml + 1.088 * scale * math.log(freq_mhz)),
                (a_5 - a_d0 - m_s * d_5) / (m_d - m_s),
            )
            a_s0 = (m_d - m_s) * d_x + a_d0
        else:
            m_s = m_d
            a_s0 = a_d0
            d_x = 10e6
        if d_m > d_x:
            a_ref = m_s * d_m + a_s0
            propmode = _PROPMODE_TROPOSCATTER
        else:
            a_ref = m_d * d_m + a_d0
            propmode = _PROPMODE_DIFFRACTION
    return SUCCESS, max(a_ref, 0.0), warnings, propmode


# --------------------------------------------------------------------------------------------
# variability
# --------------------------------------------------------------------------------------------


@jit()
def _curve(c1: float, c2: float, x1: float, x2: float, x3: float, d_e_m: float) -> float:
    """Curve shape of TN101v2 Eqns III.69 and III.70."""
    r = (d_e_m / x1) ** 2
    return (c1 + c2 / (1.0 + ((d_e_m - x2) / x3) ** 2)) * r / (1.0 + r)


@jit()
def _variability(inputs: _Inputs, path: _Path, a_ref_db: float) -> tuple[float, int]:
    """Attenuation below free space at the asked time, location and situation quantiles.

    Returns (A_db, warning flags). [1], Variability.cpp; [Algorithm, section 5]: effective
    distance d_e [Eqn 5.3], all-year median V_med and time variability sigma_T by climate
    (TN101 Fig 10.13), location variability sigma_L = 10 k delta_h(d) / (k delta_h(d) + 13),
    situation variability sigma_S = 5 + 3 exp(-d_e / 100 km) [Eqn 5.10], combined by the mode
    of variability ``mdvar`` (0 single message, 1 accidental, 2 mobile, 3 broadcast; +10 drops
    location variability, +20 drops direct situation variability). A negative result is
    compressed as A (29 - A) / (29 - 10 A) [Algorithm, Eqn 52].
    """
    freq_mhz, climate, mdvar = inputs.freq_mhz, inputs.climate, inputs.mdvar
    time, location, situation = inputs.time, inputs.location, inputs.situation
    he_tx, he_rx, delta_h_m, d_m = path[4:]
    warnings = 0
    z_t = _inverse_ccdf(time / 100.0)
    z_l = _inverse_ccdf(location / 100.0)
    z_s = _inverse_ccdf(situation / 100.0)
    c = climate - 1
    wn = freq_mhz / 47.7
    d_ex = (
        math.sqrt(2.0 * _A_9000_M * he_tx)
        + math.sqrt(2.0 * _A_9000_M * he_rx)
        + (575.7e12 / wn) ** _THIRD
    )
    if d_m < d_ex:
        d_e = 130e3 * d_m / d_ex
    else:
        d_e = 130e3 + d_m - d_ex

    md = mdvar
    plus20 = md >= 20
    if plus20:
        md -= 20
    sigma_s = 0.0 if plus20 else 5.0 + 3.0 * math.exp(-d_e / 100e3)
    plus10 = md >= 10
    if plus10:
        md -= 10

    v_med = _curve(
        _ALL_YEAR[0, c], _ALL_YEAR[1, c], _ALL_YEAR[2, c], _ALL_YEAR[3, c], _ALL_YEAR[4, c], d_e
    )
    if md == _MDVAR_SINGLE_MESSAGE:
        z_t = z_s
        z_l = z_s
    elif md == _MDVAR_ACCIDENTAL:
        z_l = z_s
    elif md == _MDVAR_MOBILE:
        z_l = z_t
    if abs(z_t) > 3.10 or abs(z_l) > 3.10 or abs(z_s) > 3.10:
        warnings |= _W_EXTREME_VARIABILITIES

    if plus10:
        sigma_l = 0.0
    else:
        delta_h_d = _terrain_roughness(d_m, delta_h_m)
        sigma_l = 10.0 * wn * delta_h_d / (wn * delta_h_d + 13.0)
    y_l = sigma_l * z_l

    q = math.log(0.133 * wn)
    g_minus = _BFM1[c] + _BFM2[c] / ((_BFM3[c] * q) ** 2 + 1.0)
    g_plus = _BFP1[c] + _BFP2[c] / ((_BFP3[c] * q) ** 2 + 1.0)
    sigma_t_minus = _curve(_BSM1[c], _BSM2[c], _XSM1[c], _XSM2[c], _XSM3[c], d_e) * g_minus
    sigma_t_plus = _curve(_BSP1[c], _BSP2[c], _XSP1[c], _XSP2[c], _XSP3[c], d_e) * g_plus
    sigma_td = _C_D[c] * sigma_t_plus
    tgtd = (sigma_t_plus - sigma_td) * _Z_D[c]
    if z_t < 0.0:
        sigma_t = sigma_t_minus
    elif z_t <= _Z_D[c]:
        sigma_t = sigma_t_plus
    else:
        sigma_t = sigma_td + tgtd / z_t
    y_t = sigma_t * z_t

    y_s_temp = sigma_s**2 + y_t**2 / (7.8 + z_s**2) + y_l**2 / (24.0 + z_s**2)
    if md == _MDVAR_SINGLE_MESSAGE:
        y_r = 0.0
        y_s = math.sqrt(sigma_t**2 + sigma_l**2 + y_s_temp) * z_s
    elif md == _MDVAR_ACCIDENTAL:
        y_r = y_t
        y_s = math.sqrt(sigma_l**2 + y_s_temp) * z_s
    elif md == _MDVAR_MOBILE:
        y_r = math.sqrt(sigma_t**2 + sigma_l**2) * z_t
        y_s = math.sqrt(y_s_temp) * z_s
    else:
        y_r = y_t + y_l
        y_s = math.sqrt(y_s_temp) * z_s

    result = a_ref_db - v_med - y_r - y_s
    if result < 0.0:
        result = result * (29.0 - result) / (29.0 - 10.0 * result)
    return result, warnings


# --------------------------------------------------------------------------------------------
# numba entry points
# --------------------------------------------------------------------------------------------


@jit()
def _profile_ok(pfl: FloatArray) -> bool:
    """Whether ``pfl`` is a usable PFL: >= 1 interval, spacing > 0, finite elevations."""
    if pfl.shape[0] < 4 or not (1.0 <= pfl[0] <= pfl.shape[0] - 3.0):
        return False
    if not (0.0 < pfl[1] < math.inf):
        return False
    for i in range(2, int(pfl[0]) + 3):
        if not math.isfinite(pfl[i]):
            return False
    return True


@jit()
def _failure(code: int, warnings: int, d_m: float, n_s: float) -> _Outcome:
    """Return the kernels' answer on an error: NaN loss and intermediate values."""
    nan = np.nan
    return _Outcome(nan, code, warnings, 0, nan, nan, d_m, nan, nan, nan, nan, nan, nan, nan, n_s)


@jit()
def _finish(
    path: _Path,
    inputs: _Inputs,
    z_g: complex,
    gamma_e: float,
    n_s: float,
    warnings: int,
    mode: int,
) -> _Outcome:
    """Add the reference attenuation, free space and variability to a path's geometry.

    What both modes share once they have the terminal geometry ([1], the second half of
    ``ITM_P2P_TLS_Ex`` and ``ITM_AREA_TLS_Ex``); `warnings` are those raised so far.
    """
    code, a_ref, lr_warnings, propmode = _longley_rice(path, inputs, z_g, gamma_e, n_s, mode)
    warnings |= lr_warnings
    if code != SUCCESS:
        return _failure(code, warnings, path.d_m, n_s)
    a_fs = _free_space_loss(path.d_m, inputs.freq_mhz)
    a_var, var_warnings = _variability(inputs, path, a_ref)
    warnings |= var_warnings
    code = SUCCESS_WITH_WARNINGS if warnings != 0 else SUCCESS
    return _Outcome(
        a_var + a_fs,
        code,
        warnings,
        propmode,
        a_ref,
        a_fs,
        path.d_m,
        path.delta_h_m,
        path.theta_tx,
        path.theta_rx,
        path.d_hzn_tx_m,
        path.d_hzn_rx_m,
        path.h_e_tx_m,
        path.h_e_rx_m,
        n_s,
    )


@jit()
def _p2p(pfl: FloatArray, inputs: _Inputs) -> _Outcome:
    """ITM point-to-point prediction (numba kernel; never raises).

    Parameters
    ----------
    pfl
        Terrain profile, ``[n_intervals, spacing_m, z_0, ..., z_n]`` (NTIA's PFL format),
        elevations in metres; entries past ``z_n`` are ignored.
    inputs
        Heights, frequency, ground, climate and variability.

    Returns
    -------
    _Outcome
        The loss, NTIA's return code (0 success, 1 success with warnings, ``>= 1000`` an
        error of :data:`ITM_ERRORS`, loss NaN), the warning flags and the intermediate values.

    Notes
    -----
    [1], itm_p2p.cpp ``ITM_P2P_TLS_Ex``: the surface refractivity uses the mean profile
    elevation without its first and last 10 %; the loss is free space plus the variability
    adjusted reference attenuation.
    """
    if not _profile_ok(pfl):
        return _failure(ERROR_PROFILE, 0, np.nan, np.nan)
    code, warnings = _validate(inputs)
    if code != SUCCESS:
        return _failure(code, warnings, pfl[0] * pfl[1], np.nan)
    return _p2p_unchecked(pfl, inputs, warnings)


@jit()
def _p2p_from_python(pfl: FloatArray, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Compute :func:`_p2p` for a caller in Python: plain tuples in, a plain tuple out.

    numba types a ``NamedTuple`` argument and boxes a ``NamedTuple`` result in Python code
    on every call (about 1.5 µs of a 2 µs dispatch), a plain tuple in C; `values` are the
    fields of an :class:`_Inputs` in order, the result those of an :class:`_Outcome`.
    """
    return _p2p(pfl, _Inputs(*values))[:]


@jit()
def _p2p_unchecked(pfl: FloatArray, inputs: _Inputs, warnings: int) -> _Outcome:
    """:func:`_p2p` past its checks of the profile and the inputs.

    For a caller running many profiles with the same inputs: it checks those once with
    :func:`_validate` (code below 1000; `warnings` are the flags it raised) and builds
    profiles of at least one interval, a positive spacing and finite elevations. The outcome
    is then :func:`_p2p`'s; its code is 0, 1 with warnings, or ``>= 1000`` for an error of the
    path (surface refractivity or effective earth radius out of range), loss NaN.
    """
    n = int(pfl[0])
    p10 = int(0.1 * n)
    h_sys = 0.0
    for i in range(p10, n - p10 + 1):
        h_sys += pfl[i + 2]
    h_sys = h_sys / (n - 2 * p10 + 1)
    z_g, gamma_e, n_s = _initialize(inputs, h_sys)
    path = _quick_pfl(pfl, gamma_e, inputs.h_tx_m, inputs.h_rx_m)
    return _finish(path, inputs, z_g, gamma_e, n_s, warnings, _MODE_P2P)


@jit()
def _with_heights(inputs: _Inputs, h_tx_m: float, h_rx_m: float) -> _Inputs:
    """Return `inputs` with other antenna heights."""
    return _Inputs(h_tx_m, h_rx_m, inputs.freq_mhz, inputs.epsilon, inputs.sigma, inputs.n0,
                   inputs.climate, inputs.polarization, inputs.time, inputs.location,
                   inputs.situation, inputs.mdvar)  # fmt: skip


@jit(parallel=True)
def _p2p_many(
    pfls: FloatArray, h_tx_m: FloatArray, h_rx_m: FloatArray, inputs: _Inputs
) -> tuple[FloatArray, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """:func:`_p2p` on many profiles over all cores (numba kernel; never raises).

    Parameters
    ----------
    pfls
        ``(n_profiles, width)``: one PFL per row, padded on the right to the common width
        (padding is ignored).
    h_tx_m, h_rx_m
        ``(n_profiles,)`` antenna heights in metres; those of `inputs` are not used.
    inputs
        The other inputs, shared by all profiles.

    Returns
    -------
    tuple
        ``(loss_db, code, warning_flags)``, each ``(n_profiles,)``; float64, int64, int64.
    """
    n_profiles = pfls.shape[0]
    loss = np.empty(n_profiles)
    codes = np.empty(n_profiles, dtype=np.int64)
    flags = np.empty(n_profiles, dtype=np.int64)
    for k in prange(n_profiles):
        outcome = _p2p(pfls[k], _with_heights(inputs, h_tx_m[k], h_rx_m[k]))
        loss[k] = outcome.loss_db
        codes[k] = outcome.code
        flags[k] = outcome.warning_flags
    return loss, codes, flags


@jit()
def _area(
    d_km: float, tx_siting: int, rx_siting: int, delta_h_m: float, inputs: _Inputs
) -> _Outcome:
    """ITM area-mode prediction (numba kernel; never raises).

    Parameters
    ----------
    d_km
        Path distance, > 0 km.
    tx_siting, rx_siting
        Siting criteria: 0 random, 1 careful, 2 very careful.
    delta_h_m
        Terrain irregularity parameter, >= 0 m (0 for water or flat plains, about 30 for
        rolling plains, 90 for hills, 200 for mountains; [Algorithm]).
    inputs
        Heights, frequency, ground, climate and variability.

    Returns
    -------
    _Outcome
        As :func:`_p2p`.

    Notes
    -----
    [1], itm_area.cpp ``ITM_AREA_TLS_Ex``: N_s = N_0 (no elevation), the terminal geometry
    from :func:`_initialize_area`, then the same reference attenuation and variability as
    point-to-point mode (without the C = 10 m^2 of the diffraction weight).
    """
    code, warnings = _validate(inputs)
    if code == SUCCESS:
        if not (d_km > 0.0):
            code = _E_PATH_DISTANCE
        elif not (delta_h_m >= 0.0):
            code = _E_DELTA_H
        elif tx_siting < 0 or tx_siting > 2:
            code = _E_TX_SITING
        elif rx_siting < 0 or rx_siting > 2:
            code = _E_RX_SITING
    d_m = d_km * 1000.0
    if code != SUCCESS:
        return _failure(code, warnings, d_m, np.nan)
    z_g, gamma_e, n_s = _initialize(inputs, 0.0)
    he_tx, dh_tx, th_tx = _initialize_area(tx_siting, gamma_e, delta_h_m, inputs.h_tx_m)
    he_rx, dh_rx, th_rx = _initialize_area(rx_siting, gamma_e, delta_h_m, inputs.h_rx_m)
    path = _Path(th_tx, th_rx, dh_tx, dh_rx, he_tx, he_rx, delta_h_m, d_m)
    return _finish(path, inputs, z_g, gamma_e, n_s, warnings, _MODE_AREA)


# --------------------------------------------------------------------------------------------
# ITM over a DEM: one profile from a site to each cell
# --------------------------------------------------------------------------------------------
# These kernels live here, beside the model they compile in, so that numba's disk cache (which
# watches each kernel's own file) notices a change to ITM; see hatangso.coverage._jit.

#: Speed of light, m/s (as :data:`hatangso.coverage.terrain.SPEED_OF_LIGHT_M_S`).
_SPEED_OF_LIGHT_M_S: Final = 299_792_458.0


@jit(inline="always")
def _bilinear_inside(dem: npt.NDArray[np.floating[Any]], fr: float, fc: float) -> float:
    """Elevation at fractional (row, col) of cell centres, bilinear, unchecked.

    For points known to lie within ``0 <= fr <= rows - 1`` and ``0 <= fc <= cols - 1``. The
    same arithmetic as the radial sweeps' of :mod:`hatangso.coverage.terrain`, written here
    again so that no kernel of this module compiles in another module's code.
    """
    rows, cols = dem.shape
    c = min(int(fc), cols - 2)
    r = min(int(fr), rows - 2)
    tc: float = fc - c
    tr: float = fr - r
    top = float(dem[r, c]) + tc * float(dem[r, c + 1] - dem[r, c])
    bottom = float(dem[r + 1, c]) + tc * float(dem[r + 1, c + 1] - dem[r + 1, c])
    return top + tr * (bottom - top)


@jit()
def _dem_origin(
    dem: npt.NDArray[np.floating[Any]],
    x_left: float,
    y_top: float,
    dx: float,
    dy: float,
    x0: float,
    y0: float,
) -> tuple[float, float, float]:
    """Place the site in fractional (row, col) of cell centres, on the grid; and its ground.

    Clamped so that every profile point of :func:`_cell_loss` lies inside the grid (convex).
    """
    rows, cols = dem.shape
    fr0 = min(max((y_top - y0) / dy - 0.5, 0.0), rows - 1.0)
    fc0 = min(max((x0 - x_left) / dx - 0.5, 0.0), cols - 1.0)
    return fr0, fc0, _bilinear_inside(dem, fr0, fc0)


@jit()
def _cell_loss(
    dem: npt.NDArray[np.floating[Any]],
    row: int,
    col: int,
    xc: float,
    yc: float,
    origin: tuple[float, float, float],
    radius_m: float,
    step_m: float,
    inputs: _Inputs,
    inputs_ok: bool,
    pfl: FloatArray,
) -> tuple[float, bool]:
    """ITM loss from the site to one cell centre, and whether it fell back to free space.

    The profile runs straight from the site to the cell centre (offsets ``xc, yc``) in
    ``max(1, round(r / step_m))`` equal intervals, elevations interpolated bilinearly, and goes
    to ITM in NTIA's ``[intervals, spacing, z0 .. zn]`` form (`pfl` is the scratch buffer).
    A cell closer than half an interval, or where ITM reports an error (every cell when not
    `inputs_ok`, checked once per site with :func:`_validate`), takes the free-space loss.
    `origin`: the site's place and ground (:func:`_dem_origin`). NaN beyond `radius_m`, on a
    void and behind one.
    """
    fr0, fc0, z0 = origin
    h_tx_m, h_rx_m, freq_mhz = inputs.h_tx_m, inputs.h_rx_m, inputs.freq_mhz
    r = math.sqrt(xc * xc + yc * yc)
    if r > radius_m:
        return np.nan, False
    zc = float(dem[row, col])
    if math.isnan(zc):
        return np.nan, False
    n = int(r / step_m + 0.5)
    loss = np.nan
    if n >= 1:
        pfl[0] = n
        pfl[1] = r / n
        pfl[2] = z0
        dfr = (row - fr0) / n
        dfc = (col - fc0) / n
        total = z0 + zc
        for i in range(1, n):
            zi = _bilinear_inside(dem, fr0 + i * dfr, fc0 + i * dfc)
            pfl[2 + i] = zi
            total += zi
        pfl[2 + n] = zc
        if not math.isfinite(total):  # a void on the way (NaN propagates through the sum)
            return np.nan, False
        if inputs_ok:  # checked once per site; the profile is sound
            outcome = _p2p_unchecked(pfl[: n + 3], inputs, 0)
            loss = outcome.loss_db
            if outcome.code >= 1000 or not math.isfinite(loss):
                loss = np.nan
    if not math.isnan(loss):
        return loss, False
    lam = _SPEED_OF_LIGHT_M_S / (freq_mhz * 1e6)
    dz = z0 + h_tx_m - (zc + h_rx_m)
    slant = max(math.sqrt(r * r + dz * dz), 1.0)
    return 20.0 * math.log10(4.0 * math.pi / lam) + 20.0 * math.log10(slant), True


def _window_losses(
    dem: npt.NDArray[np.floating[Any]],
    x_left: float,
    y_top: float,
    dx: float,
    dy: float,
    r0: int,
    r1: int,
    c0: int,
    c1: int,
    x0: float,
    y0: float,
    radius_m: float,
    step_m: float,
    inputs: _Inputs,
) -> tuple[npt.NDArray[np.float32], int]:
    """ITM loss on the DEM window ``[r0:r1, c0:c1]`` from a site at (x0, y0); the fallbacks.

    The grid: top-left corner (`x_left`, `y_top`), cells `dx` by `dy`. Each cell as
    :func:`_cell_loss`, NaN where it gives none; the fallbacks count the cells that took the
    free-space loss. Compiled twice, rows in turn or over all cores:
    :func:`_window_losses_serial` and :func:`_window_losses_parallel`.
    """
    out = np.full((r1 - r0, c1 - c0), np.nan, dtype=np.float32)
    origin = _dem_origin(dem, x_left, y_top, dx, dy, x0, y0)
    inputs_ok = _validate(inputs)[0] < 1000
    n_max = int(radius_m / step_m + 0.5) + 2
    xc0 = x_left + (c0 + 0.5) * dx - x0
    fallbacks = np.zeros(r1 - r0, dtype=np.int64)
    for rr in prange(r1 - r0):
        pfl = np.empty(n_max + 3, dtype=np.float64)
        yc = y_top - (r0 + rr + 0.5) * dy - y0
        row_fallbacks = 0
        for cc in range(c1 - c0):
            loss, fell_back = _cell_loss(dem, r0 + rr, c0 + cc, xc0 + cc * dx, yc, origin,
                                         radius_m, step_m, inputs, inputs_ok, pfl)  # fmt: skip
            row_fallbacks += fell_back
            if not math.isnan(loss):
                out[rr, cc] = loss
        fallbacks[rr] = row_fallbacks
    return out, int(fallbacks.sum())


_window_losses_serial, _window_losses_parallel = serial_and_parallel(_window_losses)


@jit(nogil=True)
def _point_losses(
    dem: npt.NDArray[np.floating[Any]],
    rows_at: npt.NDArray[np.int64],
    cols_at: npt.NDArray[np.int64],
    x_left: float,
    y_top: float,
    dx: float,
    dy: float,
    r0: int,
    r1: int,
    c0: int,
    c1: int,
    x0: float,
    y0: float,
    radius_m: float,
    step_m: float,
    inputs: _Inputs,
) -> npt.NDArray[np.float32]:
    """:func:`_window_losses`'s values at some cells of its window ``[r0:r1, c0:c1]`` only."""
    out = np.full(rows_at.size, np.nan, dtype=np.float32)
    origin = _dem_origin(dem, x_left, y_top, dx, dy, x0, y0)
    inputs_ok = _validate(inputs)[0] < 1000
    n_max = int(radius_m / step_m + 0.5) + 2
    xc0 = x_left + (c0 + 0.5) * dx - x0
    pfl = np.empty(n_max + 3, dtype=np.float64)
    for i in range(rows_at.size):
        row = rows_at[i]
        col = cols_at[i]
        if not (r0 <= row < r1 and c0 <= col < c1):
            continue
        yc = y_top - (row + 0.5) * dy - y0
        xc = xc0 + (col - c0) * dx
        loss, _fell_back = _cell_loss(dem, row, col, xc, yc, origin, radius_m, step_m, inputs,
                                      inputs_ok, pfl)  # fmt: skip
        out[i] = loss
    return out


# --------------------------------------------------------------------------------------------
# Python API
# --------------------------------------------------------------------------------------------


# mypy does not resolve hatangso.geo through the package-dir mapping and sees Any here
class ITMParameterError(HatangsoError, ValueError):
    """An ITM input lies outside the model's domain.

    Parameters
    ----------
    code
        NTIA's error code (:data:`ITM_ERRORS`), or :data:`ERROR_PROFILE`.
    detail
        The offending values, as text.

    Attributes
    ----------
    code
        NTIA's error code.
    parameter
        The parameter (or parameters) at fault.
    valid
        Its valid range.
    """

    def __init__(self, code: int, detail: str) -> None:
        self.code = code
        self.parameter, self.valid = ITM_ERRORS.get(code, ("?", "see NTIA's error codes"))
        super().__init__(f"ITM error {code}: {self.parameter} must be {self.valid}; got {detail}")


@dataclass(frozen=True)
class ITMResult:
    """Outcome of one ITM prediction with NTIA's intermediate values.

    Attributes
    ----------
    loss_db
        Basic transmission loss, dB.
    code
        NTIA's return code: 0 success, 1 success with warnings.
    warning_flags
        NTIA's warning bits (:data:`ITM_WARNINGS`).
    warnings
        The meaning of every set warning bit, lowest bit first.
    propagation_mode
        ``"line of sight"``, ``"diffraction"`` or ``"troposcatter"``.
    free_space_loss_db
        Free-space basic transmission loss, dB.
    reference_attenuation_db
        Median attenuation relative to free space before variability, dB.
    d_m
        Path distance, m.
    delta_h_m
        Terrain irregularity parameter, m.
    theta_hzn_rad
        Horizon elevation angles (tx, rx), radians.
    d_hzn_m
        Horizon distances (tx, rx), m.
    h_e_m
        Effective antenna heights (tx, rx), m.
    n_s
        Surface refractivity, N-units.
    """

    loss_db: float
    code: int
    warning_flags: int
    warnings: tuple[str, ...]
    propagation_mode: str
    free_space_loss_db: float
    reference_attenuation_db: float
    d_m: float
    delta_h_m: float
    theta_hzn_rad: tuple[float, float]
    d_hzn_m: tuple[float, float]
    h_e_m: tuple[float, float]
    n_s: float


def _decode_warnings(flags: int) -> tuple[str, ...]:
    return tuple(text for bit, text in ITM_WARNINGS.items() if flags & bit)


def _to_result(raw: _Outcome, details: Callable[[], dict[int, str]]) -> ITMResult:
    """Decode a kernel's outcome; on an error raise, describing it with `details` (called then)."""
    code = int(raw.code)
    if code >= 1000:
        raise ITMParameterError(code, details().get(code, "values outside the model's domain"))
    flags = int(raw.warning_flags)
    return ITMResult(
        loss_db=float(raw.loss_db),
        code=code,
        warning_flags=flags,
        warnings=_decode_warnings(flags),
        propagation_mode=PROPAGATION_MODES[int(raw.propagation_mode)],
        free_space_loss_db=float(raw.a_fs_db),
        reference_attenuation_db=float(raw.a_ref_db),
        d_m=float(raw.d_m),
        delta_h_m=float(raw.delta_h_m),
        theta_hzn_rad=(float(raw.theta_hzn_tx), float(raw.theta_hzn_rx)),
        d_hzn_m=(float(raw.d_hzn_tx_m), float(raw.d_hzn_rx_m)),
        h_e_m=(float(raw.h_e_tx_m), float(raw.h_e_rx_m)),
        n_s=float(raw.n_s),
    )


def _details(inputs: _Inputs) -> dict[int, str]:
    """Describe, for each error code the inputs can raise, the offending values."""
    i = inputs
    return {
        _E_TX_HEIGHT: f"h_tx_m={i.h_tx_m:g}",
        _E_RX_HEIGHT: f"h_rx_m={i.h_rx_m:g}",
        _E_CLIMATE: f"climate={i.climate}",
        _E_TIME: f"time={i.time:g}",
        _E_LOCATION: f"location={i.location:g}",
        _E_SITUATION: f"situation={i.situation:g}",
        _E_REFRACTIVITY: f"n0={i.n0:g}",
        _E_FREQUENCY: f"freq_mhz={i.freq_mhz:g}",
        _E_POLARIZATION: f"polarization={i.polarization}",
        _E_EPSILON: f"epsilon={i.epsilon:g}",
        _E_SIGMA: f"sigma={i.sigma:g}",
        _E_GROUND_IMPEDANCE: f"epsilon={i.epsilon:g}, sigma={i.sigma:g}, freq_mhz={i.freq_mhz:g}",
        _E_MDVAR: f"mdvar={i.mdvar}",
        _E_EFFECTIVE_EARTH: f"n0={i.n0:g}",
    }


def _check_int(name: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ITMParameterError(
            {
                "climate": _E_CLIMATE,
                "polarization": _E_POLARIZATION,
                "mdvar": _E_MDVAR,
                "tx_siting": _E_TX_SITING,
                "rx_siting": _E_RX_SITING,
            }[name],
            f"{name}={value!r}",
        )
    return int(value)


def _inputs(
    h_tx_m: float,
    h_rx_m: float,
    freq_mhz: float,
    *,
    epsilon: float,
    sigma: float,
    n0: float,
    climate: int,
    polarization: int,
    time: float,
    location: float,
    situation: float,
    mdvar: int,
) -> _Inputs:
    """Gather Python numbers into the kernels' :class:`_Inputs`, as float64 and int64.

    Raises
    ------
    ITMParameterError
        If `climate`, `polarization` or `mdvar` is not an integer (a bool is not).
    """
    return _Inputs(
        float(h_tx_m),
        float(h_rx_m),
        float(freq_mhz),
        float(epsilon),
        float(sigma),
        float(n0),
        _check_int("climate", climate),
        _check_int("polarization", polarization),
        float(time),
        float(location),
        float(situation),
        _check_int("mdvar", mdvar),
    )


def _as_pfl(pfl: npt.ArrayLike) -> FloatArray:
    arr = np.ascontiguousarray(pfl, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 4:
        raise ITMParameterError(ERROR_PROFILE, f"an array of shape {arr.shape}")
    n = arr[0]
    if not (np.isfinite(n) and n >= 1 and n == np.floor(n)):
        raise ITMParameterError(ERROR_PROFILE, f"n_intervals={n:g}")
    if arr.size != int(n) + 3:
        raise ITMParameterError(
            ERROR_PROFILE, f"n_intervals={int(n)} with {arr.size - 2} elevations"
        )
    if not (np.isfinite(arr[1]) and arr[1] > 0):
        raise ITMParameterError(ERROR_PROFILE, f"spacing_m={arr[1]:g}")
    if not np.all(np.isfinite(arr[2:])):
        raise ITMParameterError(ERROR_PROFILE, "non-finite elevations")
    return arr


def _p2p_result(pfl: FloatArray, inputs: _Inputs) -> ITMResult:
    """ITM point-to-point prediction with its warnings and intermediate values.

    Parameters
    ----------
    pfl
        A profile :func:`_as_pfl` accepted.
    inputs
        The other inputs (:func:`_inputs`).

    Returns
    -------
    ITMResult
        Loss, NTIA's return code and warning flags, and the intermediate values.

    Raises
    ------
    ITMParameterError
        For any NTIA error code, naming the parameter and its valid range.

    Examples
    --------
    >>> defaults = {"epsilon": 15.0, "sigma": 0.005, "n0": 301.0, "climate": 5,
    ...             "polarization": 1, "time": 50.0, "location": 50.0, "situation": 50.0,
    ...             "mdvar": 12}
    >>> pfl = _as_pfl([10, 100.0] + [0.0] * 11)
    >>> result = _p2p_result(pfl, _inputs(30.0, 2.0, 900.0, **defaults))
    >>> result.propagation_mode, result.warnings
    ('line of sight', ())
    """
    raw = _Outcome._make(_p2p_from_python(pfl, tuple(inputs)))

    def details() -> dict[int, str]:
        ns = f"n0={inputs.n0:g} and a mean profile elevation giving N_s={float(raw.n_s):.1f}"
        return {**_details(inputs), _E_NS_SMALL: ns, _E_NS_LARGE: ns}

    result = _to_result(raw, details)
    if result.warning_flags:
        log.debug("ITM p2p warnings 0x%04x: %s", result.warning_flags, "; ".join(result.warnings))
    return result


def itm_p2p_loss(
    pfl: npt.ArrayLike,
    h_tx_m: float,
    h_rx_m: float,
    freq_mhz: float,
    *,
    epsilon: float = 15.0,
    sigma: float = 0.005,
    n0: float = 301.0,
    climate: int = 5,
    polarization: int = 1,
    time: float = 50.0,
    location: float = 50.0,
    situation: float = 50.0,
    mdvar: int = 12,
) -> float:
    """ITM point-to-point basic transmission loss in dB.

    Parameters
    ----------
    pfl
        Terrain profile in NTIA's PFL format, ``[n_intervals, spacing_m, z_0, ..., z_n]``
        (exactly ``n_intervals + 3`` values), elevations in metres above mean sea level from
        the transmitter (``z_0``) to the receiver (``z_n``).
    h_tx_m, h_rx_m
        Antenna heights above ground, 0.5 to 3000 m (a warning outside 1 to 1000 m).
    freq_mhz
        Frequency, 20 to 20000 MHz (a warning outside 40 to 10000 MHz).
    epsilon
        Relative permittivity of the ground, >= 1 (15 is average ground).
    sigma
        Ground conductivity in S/m, > 0 (0.005 is average ground).
    n0
        Surface refractivity at sea level, 250 to 400 N-units.
    climate
        Radio climate, 1 to 7 (5 continental temperate; Vietnam's lowlands are closest to
        1 equatorial or 3 maritime subtropical).
    polarization
        0 horizontal, 1 vertical.
    time, location, situation
        Quantiles in percent, strictly between 0 and 100.
    mdvar
        Mode of variability: 0 single message, 1 accidental, 2 mobile, 3 broadcast; add 10
        to drop location variability, 20 to drop direct situation variability. The default
        12 is mobile mode for a given location.

    Returns
    -------
    float
        Basic transmission loss, dB. NTIA's warnings are logged at DEBUG level.

    Raises
    ------
    ITMParameterError
        (a :class:`ValueError`) for any NTIA error code or a malformed profile, naming the
        parameter and its valid range.

    Notes
    -----
    NTIA's ``ITM_P2P_TLS`` [1]; the algorithm and its sources are in the kernels'
    docstrings. For NTIA's confidence/reliability form pass ``time=reliability``,
    ``location=50`` and ``situation=confidence``.

    Examples
    --------
    Ten 100 m intervals of flat ground, a 30 m mast and a 2 m mobile at 900 MHz:

    >>> round(itm_p2p_loss([10, 100.0] + [0.0] * 11, 30.0, 2.0, 900.0), 1)
    91.5
    """
    arr = _as_pfl(pfl)
    inputs = _inputs(h_tx_m, h_rx_m, freq_mhz, epsilon=epsilon, sigma=sigma, n0=n0,
                     climate=climate, polarization=polarization, time=time,
                     location=location, situation=situation, mdvar=mdvar)  # fmt: skip
    return _p2p_result(arr, inputs).loss_db


def _area_result(
    d_km: float, tx_siting: int, rx_siting: int, delta_h_m: float, inputs: _Inputs
) -> ITMResult:
    """ITM area-mode prediction with its warnings and intermediate values.

    Parameters are those of :func:`_area`; raises :class:`ITMParameterError` for any NTIA
    error code.
    """
    raw = _area(d_km, tx_siting, rx_siting, delta_h_m, inputs)

    def details() -> dict[int, str]:
        return {
            **_details(inputs),
            _E_PATH_DISTANCE: f"d_km={d_km:g}",
            _E_DELTA_H: f"delta_h_m={delta_h_m:g}",
            _E_TX_SITING: f"tx_siting={tx_siting}",
            _E_RX_SITING: f"rx_siting={rx_siting}",
        }

    result = _to_result(raw, details)
    if result.warning_flags:
        log.debug("ITM area warnings 0x%04x: %s", result.warning_flags, "; ".join(result.warnings))
    return result


def itm_area_loss(
    d_km: float,
    h_tx_m: float,
    h_rx_m: float,
    freq_mhz: float,
    *,
    tx_siting: int,
    rx_siting: int,
    delta_h_m: float,
    epsilon: float = 15.0,
    sigma: float = 0.005,
    n0: float = 301.0,
    climate: int = 5,
    polarization: int = 1,
    time: float = 50.0,
    location: float = 50.0,
    situation: float = 50.0,
    mdvar: int = 12,
) -> float:
    """ITM area-mode basic transmission loss in dB.

    Parameters
    ----------
    d_km
        Path distance, > 0 km.
    h_tx_m, h_rx_m, freq_mhz
        As in :func:`itm_p2p_loss`.
    tx_siting, rx_siting
        Siting criteria: 0 random, 1 careful, 2 very careful.
    delta_h_m
        Terrain irregularity parameter, >= 0 m.
    epsilon, sigma, n0, climate, polarization, time, location, situation, mdvar
        As in :func:`itm_p2p_loss`.

    Returns
    -------
    float
        Basic transmission loss, dB. NTIA's warnings are logged at DEBUG level.

    Raises
    ------
    ITMParameterError
        (a :class:`ValueError`) for any NTIA error code.

    Notes
    -----
    NTIA's ``ITM_AREA_TLS`` [1]; effective heights and horizons [Algorithm, Eqns 3.2-3.4].
    """
    inputs = _inputs(h_tx_m, h_rx_m, freq_mhz, epsilon=epsilon, sigma=sigma, n0=n0,
                     climate=climate, polarization=polarization, time=time,
                     location=location, situation=situation, mdvar=mdvar)  # fmt: skip
    tx = _check_int("tx_siting", tx_siting)
    rx = _check_int("rx_siting", rx_siting)
    return _area_result(float(d_km), tx, rx, float(delta_h_m), inputs).loss_db
