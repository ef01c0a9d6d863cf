"""Terrain-aware coverage: path loss over a DEM, per site and for a whole province.

Two models read the terrain between each site and every cell within ``radius_m``:

``"los"`` (the fast one)
    Radial sweeps from the site, one radial per cell of arc at the edge of the circle, stepping
    one cell at a time. Each step adds free-space loss and the Bullington diffraction loss of
    the terrain crossed so far (ITU-R P.452-16 §4.2.1, with the knife-edge loss of ITU-R
    P.526-15 eq. 31), in amortised O(log n) per step: the tallest obstacles form an upper convex
    hull that is updated, not rescanned. A cell takes the result of the nearest radial sample.

``"itm"``
    The Longley-Rice Irregular Terrain Model in point-to-point mode (:func:`itm_p2p_loss`),
    over the exact profile from the site to each cell's centre, sampled every ``step_m``; its
    kernels live in :mod:`hatangso.coverage.itm`, beside the model.

:func:`coverage_rasters` runs a model for every site on all cores (whole sites side by side
in a thread pool, the kernels releasing the GIL; or, with few sites, one site at a time over
radials or rows with numba's ``prange``), keeps each site's loss in a per-site cache, and
combines the sites into a best-server received-power grid, a server-count grid and one
coverage mask per operator and technology. :func:`judge_villages` applies the contract's
village rules (:mod:`hatangso.coverage.villages`) to those grids.

The kernels are compiled once and cached on disk by numba (:mod:`hatangso.coverage._jit`).
None of this module's kernels calls another module's, so numba's own check of this file keeps
the cache fresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numba
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from numba import prange
from rasterio.crs import CRS

from hatangso.coverage._jit import jit, serial_and_parallel
from hatangso.coverage.itm import (
    _Inputs,
    _point_losses,
    _window_losses_parallel,
    _window_losses_serial,
    itm_p2p_loss,
)
from hatangso.coverage.radio import (
    DEFAULT_EIRP_DBM,
    DEFAULT_FREQ_MHZ,
    DEFAULT_HEIGHT_M,
    SECTOR_MAX_ATTENUATION_DB,
    reference_eirp_dbm,
    threshold_offset_db,
)
from hatangso.coverage.rasters import Raster, polygonize, sample_points, write_cog, zonal_shares
from hatangso.coverage.villages import (
    RuleAnswer,
    VillagePoints,
    VillageRule,
    judge,
    serving_operators,
    village_points,
)
from hatangso.geo.errors import ConfigError, CRSError, InputError, Problem
from hatangso.geo.outputs import write_layer
from hatangso.geo.scratch import new_scratch, pid_alive, remove_orphans
from hatangso.geo.techs import BROADBAND, tech_token

__all__ = [
    "EARTH_RADIUS_M",
    "MOBILE_TECHS",
    "SCRATCH_PREFIX",
    "SECTOR_MAX_ATTENUATION_DB",
    "SPEED_OF_LIGHT_M_S",
    "CoverageRasters",
    "ItmParams",
    "TerrainModel",
    "bullington_loss",
    "check_grid",
    "check_work",
    "coverage_polygons",
    "coverage_rasters",
    "itm_p2p_loss",
    "judge_villages",
    "knife_edge_loss",
    "prune_cache",
    "remove_stale_scratch",
    "site_loss_at",
    "site_loss_raster",
    "window_cells",
    "write_coverage_outputs",
]

log = logging.getLogger(__name__)

TerrainModel = Literal["los", "itm"]

#: Mean Earth radius, metres (ITU-R P.452-16 uses 6371 km).
EARTH_RADIUS_M = 6_371_000.0
#: Speed of light, m/s.
SPEED_OF_LIGHT_M_S = 299_792_458.0
#: Technologies that count as mobile broadband ("4G or better") in the contract.
MOBILE_TECHS: tuple[str, ...] = BROADBAND
#: Bumped whenever a kernel's results change, so that stale cache entries are never reused.
_CACHE_VERSION = 1
#: Hull vertices scanned at each end on line-of-sight paths (all of them when the hull is short).
_HULL_SCAN = 12
#: Radials are thinned near the site by at most 2**this.
_MAX_STRIDE_LOG2 = 6
#: Profile points just before the receiver also scanned on line-of-sight paths.
_NEAR_RX = 4
_TECH_ALIASES = {"LTE": "4G", "NR": "5G", "4G LTE": "4G", "5G NR": "5G"}


# --------------------------------------------------------------------------------------------
# Knife-edge and Bullington diffraction


@jit()
def _j_of_v(v: float) -> float:
    """Single knife-edge loss J(v), ITU-R P.526-15 eq. (31); 0 for v <= -0.78."""
    if v <= -0.78:
        return 0.0
    t = v - 0.1
    return 6.9 + 20.0 * math.log10(math.sqrt(t * t + 1.0) + t)


def knife_edge_loss(v: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Diffraction loss of a single knife edge, J(v), in dB.

    Parameters
    ----------
    v
        Fresnel-Kirchhoff diffraction parameter(s), dimensionless.

    Returns
    -------
    numpy.ndarray
        ``float64`` loss in dB, 0 where ``v <= -0.78``.

    Notes
    -----
    ITU-R P.526-15 eq. (31): ``J(v) = 6.9 + 20 log10(sqrt((v - 0.1)^2 + 1) + v - 0.1)`` for
    ``v > -0.78``, an approximation of the loss given by the Fresnel integrals; J(0) is 6.03 dB
    (a grazing edge halves the field).

    Examples
    --------
    >>> round(float(knife_edge_loss(0.0)), 2)
    6.03
    """
    v = np.asarray(v, dtype=np.float64)
    t = v - 0.1
    with np.errstate(invalid="ignore"):
        loss = 6.9 + 20.0 * np.log10(np.sqrt(t * t + 1.0) + t)
    return np.asarray(np.where(v > -0.78, loss, 0.0), dtype=np.float64)


def bullington_loss(
    distance_m: npt.ArrayLike,
    elevation_m: npt.ArrayLike,
    *,
    h_tx_m: float,
    h_rx_m: float,
    freq_mhz: float,
    k_factor: float = 4.0 / 3.0,
) -> float:
    """Bullington diffraction loss over one terrain profile, in dB.

    A direct transcription of the Recommendation, O(n) per path, kept as the reference against
    which the radial sweep of the ``"los"`` model is tested.

    Parameters
    ----------
    distance_m
        Distances from the transmitter of the profile points, increasing, starting at 0.
    elevation_m
        Ground elevations at those points; the first is under the transmitter, the last under
        the receiver.
    h_tx_m, h_rx_m
        Antenna heights above ground.
    freq_mhz
        Frequency.
    k_factor
        Effective Earth-radius factor (4/3 for the median atmosphere).

    Returns
    -------
    float
        Diffraction loss in dB (0 on a path clearing its first Fresnel zone); add free-space
        loss for the total.

    Notes
    -----
    ITU-R P.452-16 §4.2.1, eqs. (14)-(22), with the effective Earth curvature
    ``C_e = 1 / (k a)``, ``a = 6371 km``. With ``H_i = h_i + d_i (d - d_i) C_e / 2``:
    the steepest slope from the transmitter ``S_tim = max (H_i - h_ts) / d_i``; the
    transmitter-receiver slope ``S_tr = (h_rs - h_ts) / d``. If ``S_tim < S_tr`` (line of
    sight) ``v = max (H_i - (h_ts (d - d_i) + h_rs d_i) / d) sqrt(2 d / (λ d_i (d - d_i)))``;
    otherwise the receiver's steepest slope ``S_rim = max (H_i - h_rs) / (d - d_i)`` meets
    the transmitter's at ``d_b = (h_rs - h_ts + S_rim d) / (S_tim + S_rim)`` and
    ``v = (h_ts + S_tim d_b - (h_ts (d - d_b) + h_rs d_b) / d) sqrt(2 d / (λ d_b (d - d_b)))``.
    ``L_uc = J(v)`` and ``L = L_uc + (1 - exp(-L_uc / 6)) (10 + 0.02 d_km)``.

    Examples
    --------
    >>> round(bullington_loss([0, 500, 1000], [0, 0, 0], h_tx_m=30, h_rx_m=1.5,
    ...                       freq_mhz=900), 2)
    0.0
    """
    d = np.asarray(distance_m, dtype=np.float64)
    h = np.asarray(elevation_m, dtype=np.float64)
    if d.shape != h.shape or d.ndim != 1 or d.size < 2:
        raise ValueError("distance_m and elevation_m must be 1-D and of one length >= 2")
    total = float(d[-1] - d[0])
    if total <= 0.0:
        raise ValueError("the profile must have a positive length")
    lam = SPEED_OF_LIGHT_M_S / (freq_mhz * 1e6)
    ce = 1.0 / (k_factor * EARTH_RADIUS_M)
    hts = h[0] + h_tx_m
    hrs = h[-1] + h_rx_m
    di = d[1:-1] - d[0]
    if di.size == 0:
        return 0.0
    hi = h[1:-1] + 0.5 * ce * di * (total - di)
    s_tim = float(np.max((hi - hts) / di))
    s_tr = (hrs - hts) / total
    if s_tim < s_tr:
        clearance = hi - (hts * (total - di) + hrs * di) / total
        v = float(np.max(clearance * np.sqrt(2.0 * total / (lam * di * (total - di)))))
    else:
        s_rim = float(np.max((hi - hrs) / (total - di)))
        if s_tim + s_rim > 1e-12:
            d_b = (hrs - hts + s_rim * total) / (s_tim + s_rim)
            height = hts + s_tim * d_b - (hts * (total - d_b) + hrs * d_b) / total
            v = height * math.sqrt(2.0 * total / (lam * d_b * (total - d_b)))
        else:  # grazing: both horizons on the direct ray, where eq. (19) is 0 / 0
            clearance = hi - (hts * (total - di) + hrs * di) / total
            v = float(np.max(clearance * np.sqrt(2.0 * total / (lam * di * (total - di)))))
    l_uc = float(knife_edge_loss(v))
    return l_uc + (1.0 - math.exp(-l_uc / 6.0)) * (10.0 + 0.02 * total / 1000.0)


# --------------------------------------------------------------------------------------------
# numba kernels


@jit(inline="always")
def _bilinear_inside(dem: npt.NDArray[np.floating[Any]], fr: float, fc: float) -> float:
    """Elevation at fractional (row, col) of cell centres, bilinear, unchecked.

    For points known to lie within ``0 <= fr <= rows - 1`` and ``0 <= fc <= cols - 1``.
    """
    rows, cols = dem.shape
    c = min(int(fc), cols - 2)
    r = min(int(fr), rows - 2)
    tc: float = fc - c
    tr: float = fr - r
    top = float(dem[r, c]) + tc * float(dem[r, c + 1] - dem[r, c])
    bottom = float(dem[r + 1, c]) + tc * float(dem[r + 1, c + 1] - dem[r + 1, c])
    return top + tr * (bottom - top)


@jit(inline="always")
def _bilinear_rc(dem: npt.NDArray[np.floating[Any]], fr: float, fc: float) -> float:
    """Elevation at fractional (row, col) of cell centres, bilinear; NaN off the grid.

    The outer half cell takes its edge's values.
    """
    rows, cols = dem.shape
    if not (-0.5 <= fc <= cols - 0.5 and -0.5 <= fr <= rows - 0.5):
        return np.nan
    return _bilinear_inside(
        dem, min(max(fr, 0.0), float(rows) - 1.0), min(max(fc, 0.0), float(cols) - 1.0)
    )


@jit(inline="always")
def _bilinear(
    dem: npt.NDArray[np.floating[Any]],
    x_left: float,
    y_top: float,
    dx: float,
    dy: float,
    x: float,
    y: float,
) -> float:
    """Elevation at (x, y) by bilinear interpolation between cell centres; NaN outside."""
    return _bilinear_rc(dem, (y_top - y) / dy - 0.5, (x - x_left) / dx - 0.5)


@jit(inline="always")
def _hull_vertex_for_slope(
    hd: npt.NDArray[np.float64], hz: npt.NDArray[np.float64], m: int, slope: float
) -> int:
    """Vertex of an upper hull maximising ``z - slope * d`` (binary search on edge slopes)."""
    lo = 0
    hi = m - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if hz[mid + 1] - hz[mid] > slope * (hd[mid + 1] - hd[mid]):
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit(inline="always")
def _hull_tangent_from_right(
    hd: npt.NDArray[np.float64], hz: npt.NDArray[np.float64], m: int, d: float, z: float
) -> int:
    """Vertex of an upper hull seen at the steepest elevation angle from (d, z), d > all hd."""
    lo = 0
    hi = m - 1
    while lo < hi:
        mid = (lo + hi) // 2
        # edge slope > slope from the vertex to the point, cross-multiplied (both runs > 0)
        if (hz[mid + 1] - hz[mid]) * (d - hd[mid]) > (z - hz[mid]) * (hd[mid + 1] - hd[mid]):
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit(inline="always")
def _v_at(dj: float, zj: float, d: float, hts: float, hrs: float, lam: float) -> float:
    """Diffraction parameter of an edge (dj, zj) on the path (0, hts) -> (d, hrs)."""
    clearance = zj - (hts * (d - dj) + hrs * dj) / d
    return clearance * math.sqrt(2.0 * d / (lam * dj * (d - dj)))


@jit()
def _sweep_profile(
    z: npt.NDArray[np.float64],
    step_m: float,
    h_tx_m: float,
    h_rx_m: float,
    lam: float,
    inv_2r: float,
    out: npt.NDArray[np.float32],
    radial: int,
    strides: npt.NDArray[np.int64],
) -> None:
    """Bullington loss from z[0] to each z[i] (i >= 1) along one radial, into out[i - 1].

    The loss at step i is evaluated only when ``radial % strides[i - 1] == 0`` (NaN
    otherwise): near the site, where radials crowd, every other (fourth, ...) radial is enough
    for one sample per cell; the terrain is still swept on every radial.

    Heights are taken relative to the plane tangent to the Earth at the transmitter,
    ``z' = z - d^2 / (2 k a)``, in which rays are straight lines (the parabolic approximation
    that also gives P.452's bulge term). The transmitter's steepest obstacle is a running
    maximum; the receiver's is the tangent from the receiver to the upper convex hull of the
    obstacles crossed so far, found by binary search, so that a transhorizon path costs
    O(log n) and gives P.452's loss exactly. On a line-of-sight path P.452 takes the point of
    largest v; here v is the largest over the hull's vertices (its ends and the vertex highest
    above the ray when the hull is long) and the few points just before the receiver, after an
    exact early exit when no point can reach v = -0.78. That is exact when the point of largest
    v is among them, a lower bound otherwise: on random profiles over 99 % of line-of-sight
    losses are exact to 0.01 dB, the worst 3 dB short.
    """
    n = z.size - 1
    hd = np.empty(max(n, 1), dtype=np.float64)
    hz = np.empty(max(n, 1), dtype=np.float64)
    m = 0
    hts = z[0] + h_tx_m
    s_t = -np.inf
    td = 0.0
    tz = 0.0
    for i in range(1, n + 1):
        zi = z[i]
        if math.isnan(zi):
            for k in range(i - 1, n):
                out[k] = np.nan
            return
        d = i * step_m
        zp = zi - d * d * inv_2r
        hrs = zp + h_rx_m
        l_uc = 0.0
        wanted = radial % strides[i - 1] == 0
        if not wanted:
            out[i - 1] = np.nan
        elif m > 0:
            s_tr = (hrs - hts) / d
            if s_t < s_tr:
                # Early out, exact: v_j = c_j sqrt(2) / r_j with c_j < 0 the clearance and
                # r_j <= sqrt(λ d) / 2 the first Fresnel radius, so every v <= -0.78 as soon
                # as the largest clearance (a hull vertex) is below -0.78 sqrt(λ d / 8).
                k = _hull_vertex_for_slope(hd, hz, m, s_tr)
                top = hz[k] - (hts + s_tr * hd[k])
                if top <= -0.78 * math.sqrt(lam * d / 8.0):
                    v = -np.inf
                elif m <= 2 * _HULL_SCAN:
                    v = -np.inf
                    for q in range(m):
                        v = max(v, _v_at(hd[q], hz[q], d, hts, hrs, lam))
                else:
                    # long hulls (domes): the ends, nearest the antennas, weigh most in v;
                    # add the vertex highest above the direct ray
                    v = _v_at(hd[k], hz[k], d, hts, hrs, lam)
                    for q in range(_HULL_SCAN):
                        v = max(v, _v_at(hd[q], hz[q], d, hts, hrs, lam))
                        v = max(v, _v_at(hd[m - 1 - q], hz[m - 1 - q], d, hts, hrs, lam))
                    v = max(v, _v_at(td, tz, d, hts, hrs, lam))
                if v > -np.inf:
                    # points just before the receiver weigh most and may lie below the hull
                    for q in range(max(1, i - _NEAR_RX), i - 1):
                        dq = q * step_m
                        v = max(v, _v_at(dq, z[q] - dq * dq * inv_2r, d, hts, hrs, lam))
            else:
                j = _hull_tangent_from_right(hd, hz, m, d, hrs)
                s_r = (hz[j] - hrs) / (d - hd[j])
                if s_t + s_r > 1e-12:
                    d_b = (hrs - hts + s_r * d) / (s_t + s_r)
                    d_b = min(max(d_b, 1e-9 * d), (1.0 - 1e-9) * d)
                    height = hts + s_t * d_b - (hts * (d - d_b) + hrs * d_b) / d
                    v = height * math.sqrt(2.0 * d / (lam * d_b * (d - d_b)))
                else:  # grazing: both horizons on the direct ray, eq. (19) is 0 / 0
                    v = _v_at(td, tz, d, hts, hrs, lam)
            l_uc = _j_of_v(v)
        if l_uc > 0.0:
            out[i - 1] = l_uc + (1.0 - math.exp(-l_uc / 6.0)) * (10.0 + 2e-5 * d)
        elif wanted:
            out[i - 1] = 0.0
        # the point now becomes an obstacle for the points beyond it
        s_i = (zp - hts) / d
        if s_i > s_t:
            s_t = s_i
            td = d
            tz = zp
        while (
            m >= 2
            and (hd[m - 1] - hd[m - 2]) * (zp - hz[m - 2])
            - (hz[m - 1] - hz[m - 2]) * (d - hd[m - 2])
            >= 0.0
        ):
            m -= 1
        hd[m] = d
        hz[m] = zp
        m += 1


# Each sweep below is written once and compiled twice (hatangso.coverage._jit): ``_parallel``
# spreads the radials or rows over all cores (numba ``prange``), for one site at a time;
# ``_serial`` runs them in turn without holding the GIL, so that a thread pool can run many
# sites at once with no synchronisation inside a site.


@jit()
def _one_radial(
    dem: npt.NDArray[np.floating[Any]],
    fr0: float,
    fc0: float,
    z0: float,
    dx: float,
    dy: float,
    h_tx_m: float,
    h_rx_m: float,
    lam: float,
    inv_2r: float,
    radial: int,
    n_radials: int,
    strides: npt.NDArray[np.int64],
    step_m: float,
    out: npt.NDArray[np.float32],
) -> None:
    """Sample one radial (azimuth ``2π radial / n_radials`` from north, clockwise), sweep it."""
    n_steps = strides.size
    az = 2.0 * math.pi * radial / n_radials
    dfr = -step_m * math.cos(az) / dy  # change of fractional (row, col) per step
    dfc = step_m * math.sin(az) / dx
    z = np.empty(n_steps + 1, dtype=np.float64)
    z[0] = z0
    for i in range(1, n_steps + 1):
        z[i] = _bilinear_rc(dem, fr0 + i * dfr, fc0 + i * dfc)
    _sweep_profile(z, step_m, h_tx_m, h_rx_m, lam, inv_2r, out, radial, strides)


def _radials(
    dem: npt.NDArray[np.floating[Any]],
    x_left: float,
    y_top: float,
    dx: float,
    dy: float,
    x0: float,
    y0: float,
    h_tx_m: float,
    h_rx_m: float,
    lam: float,
    inv_2r: float,
    n_radials: int,
    strides: npt.NDArray[np.int64],
    step_m: float,
) -> npt.NDArray[np.float32]:
    """Diffraction loss on every radial, ``out[radial, step - 1]``."""
    out = np.empty((n_radials, strides.size), dtype=np.float32)
    fr0 = (y_top - y0) / dy - 0.5
    fc0 = (x0 - x_left) / dx - 0.5
    z0 = _bilinear_rc(dem, fr0, fc0)
    if math.isnan(z0):  # the site stands on unknown ground: no prediction anywhere
        out[:] = np.nan
        return out
    for k in prange(n_radials):
        _one_radial(dem, fr0, fc0, z0, dx, dy, h_tx_m, h_rx_m, lam, inv_2r, k, n_radials,
                    strides, step_m, out[k])  # fmt: skip
    return out


_radials_serial, _radials_parallel = serial_and_parallel(_radials)


@jit()
def _radial_of(
    xc: float, yc: float, r: float, strides: npt.NDArray[np.int64], n_radials: int, step_m: float
) -> tuple[int, int]:
    """Radial and step whose diffraction sample a cell takes; step 0 (no radial) at the site.

    The nearest radial among those evaluated at the cell's distance (one in ``stride``).
    """
    s = int(r / step_m + 0.5)
    if s <= 0:
        return -1, 0
    az = math.atan2(xc, yc)
    if az < 0.0:
        az += 2.0 * math.pi
    s = min(s, strides.size)
    stride = strides[s - 1]
    dtheta = 2.0 * math.pi / n_radials
    return (int(az / (dtheta * stride) + 0.5) * stride) % n_radials, s


@jit()
def _los_cell(
    dem: npt.NDArray[np.floating[Any]],
    diffraction: npt.NDArray[np.float32],
    strides: npt.NDArray[np.int64],
    row: int,
    col: int,
    xc: float,
    yc: float,
    hts: float,
    h_rx_m: float,
    fspl0: float,
    radius_m: float,
    step_m: float,
) -> float:
    """Total loss at one cell: free space + the diffraction of its radial sample; NaN if none.

    ``xc, yc``: the cell centre's offsets from the site. Free-space loss
    ``20 log10(4 π r / λ)`` (ITU-R P.525-4 eq. 4) over the slant distance between the
    antennas, at least 1 m. NaN beyond `radius_m`, on a void and behind unknown terrain.
    """
    r = math.sqrt(xc * xc + yc * yc)
    if r > radius_m:
        return np.nan
    zc = dem[row, col]
    if math.isnan(zc):
        return np.nan
    k, s = _radial_of(xc, yc, r, strides, diffraction.shape[0], step_m)
    diff = 0.0
    if s > 0:
        diff = diffraction[k, s - 1]
        if math.isnan(diff):
            return np.nan
    dz = hts - (zc + h_rx_m)
    return fspl0 + 10.0 * math.log10(max(r * r + dz * dz, 1.0)) + diff  # 20 log10(slant)


@jit()
def _fill_row(
    dem: npt.NDArray[np.floating[Any]],
    diffraction: npt.NDArray[np.float32],
    strides: npt.NDArray[np.int64],
    row: int,
    c0: int,
    xc0: float,
    yc: float,
    dx: float,
    hts: float,
    h_rx_m: float,
    fspl0: float,
    radius_m: float,
    step_m: float,
    out: npt.NDArray[np.float32],
) -> None:
    """Total loss along one row of a window (:func:`_los_cell`); ``xc0``: its first cell's."""
    for cc in range(out.size):
        loss = _los_cell(dem, diffraction, strides, row, c0 + cc, xc0 + cc * dx, yc, hts,
                         h_rx_m, fspl0, radius_m, step_m)  # fmt: skip
        if not math.isnan(loss):
            out[cc] = loss


def _fill(
    dem: npt.NDArray[np.floating[Any]],
    diffraction: npt.NDArray[np.float32],
    strides: npt.NDArray[np.int64],
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
    h_tx_m: float,
    h_rx_m: float,
    lam: float,
    radius_m: float,
    step_m: float,
) -> npt.NDArray[np.float32]:
    """Loss on the window ``[r0:r1, c0:c1]`` from the radials, row by row."""
    out = np.full((r1 - r0, c1 - c0), np.nan, dtype=np.float32)
    hts = _bilinear(dem, x_left, y_top, dx, dy, x0, y0) + h_tx_m
    fspl0 = 20.0 * math.log10(4.0 * math.pi / lam)
    xc0 = x_left + (c0 + 0.5) * dx - x0
    for rr in prange(r1 - r0):
        yc = y_top - (r0 + rr + 0.5) * dy - y0
        _fill_row(dem, diffraction, strides, r0 + rr, c0, xc0, yc, dx, hts, h_rx_m, fspl0,
                  radius_m, step_m, out[rr])  # fmt: skip
    return out


_fill_serial, _fill_parallel = serial_and_parallel(_fill)


@jit(nogil=True)
def _los_points(
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
    h_tx_m: float,
    h_rx_m: float,
    lam: float,
    inv_2r: float,
    n_radials: int,
    strides: npt.NDArray[np.int64],
    step_m: float,
    radius_m: float,
) -> npt.NDArray[np.float32]:
    """Compute the fast model at some cells of the window, sweeping only the radials they read.

    The same radials, sweeps and fill as :func:`_radials` and :func:`_fill`, so the values are
    those of the whole raster.
    """
    out = np.full(rows_at.size, np.nan, dtype=np.float32)
    inside = np.zeros(rows_at.size, dtype=np.bool_)
    needed = np.zeros(n_radials, dtype=np.bool_)
    xc0 = x_left + (c0 + 0.5) * dx - x0
    for i in range(rows_at.size):
        row = rows_at[i]
        col = cols_at[i]
        if not (r0 <= row < r1 and c0 <= col < c1):
            continue
        inside[i] = True
        xc = xc0 + (col - c0) * dx
        yc = y_top - (row + 0.5) * dy - y0
        r = math.sqrt(xc * xc + yc * yc)
        if r <= radius_m:
            k, s = _radial_of(xc, yc, r, strides, n_radials, step_m)
            if s > 0:
                needed[k] = True
    diffraction = np.full((n_radials, strides.size), np.nan, dtype=np.float32)
    fr0 = (y_top - y0) / dy - 0.5
    fc0 = (x0 - x_left) / dx - 0.5
    z0 = _bilinear_rc(dem, fr0, fc0)
    if math.isnan(z0):  # the site stands on unknown ground: no prediction anywhere
        return out
    for k in range(n_radials):
        if needed[k]:
            _one_radial(dem, fr0, fc0, z0, dx, dy, h_tx_m, h_rx_m, lam, inv_2r, k, n_radials,
                        strides, step_m, diffraction[k])  # fmt: skip
    hts = _bilinear(dem, x_left, y_top, dx, dy, x0, y0) + h_tx_m
    fspl0 = 20.0 * math.log10(4.0 * math.pi / lam)
    for i in range(rows_at.size):
        if inside[i]:
            row = rows_at[i]
            col = cols_at[i]
            out[i] = _los_cell(dem, diffraction, strides, row, col, xc0 + (col - c0) * dx,
                               y_top - (row + 0.5) * dy - y0, hts, h_rx_m, fspl0, radius_m,
                               step_m)  # fmt: skip
    return out


@jit(inline="always")
def _pattern_db(
    ex: float, ey: float, bx: float, by: float, beamwidth_rad: float, max_attenuation_db: float
) -> float:
    """Sector attenuation ``min(12 (θ / θ3dB)^2, A_m)`` dB towards ``(ex, ey)`` from the site.

    ``(bx, by)`` is the boresight's unit vector; 0 at the site itself. The one home of the
    pattern for the grid kernels (:func:`_accumulate`, :func:`_accumulate_part`).
    """
    r = math.sqrt(ex * ex + ey * ey)
    if r <= 0.0:
        return 0.0
    along = ex * bx + ey * by  # r cos θ
    theta = math.acos(max(-1.0, min(along / r, 1.0)))
    ratio = theta / beamwidth_rad
    return min(12.0 * ratio * ratio, max_attenuation_db)


@jit(inline="always")
def _fold(
    loss: npt.NDArray[np.float32],
    r0: int,
    c0: int,
    x_left: float,
    y_top: float,
    dx: float,
    dy: float,
    x0: float,
    y0: float,
    eirp_dbm: float,
    clutter_loss_db: float,
    azimuth_rad: float,
    beamwidth_rad: float,
    max_attenuation_db: float,
    threshold_dbm: float,
    site_index: int,
    group: int,
    broadband: bool,
    part_r0: int,
    part_c0: int,
    partial: bool,
    best: npt.NDArray[np.float32],
    server: npt.NDArray[np.int32],
    above: npt.NDArray[np.int32],
    count: npt.NDArray[np.uint16],
    last_counted: npt.NDArray[np.int32],
    masks: npt.NDArray[np.bool_],
) -> None:
    """Fold one carrier into grids whose cell ``[0, 0]`` is the grid's ``[part_r0, part_c0]``.

    The one home of the received power, the sector pattern, the count and the masks of
    :func:`_accumulate` and :func:`_accumulate_part`, which differ only in how a cell keeps its
    best server: with `partial` false, `server` is the best site and `above` is not touched;
    with `partial` true, `server` and `above` are ``first`` and ``above`` of
    :func:`_accumulate_part`. A carrier that is not `broadband` (2G, 3G, NB-IoT, LTE-M) sets
    its group's mask alone: the best server and the count are those of the 4G and 5G carriers
    (:data:`MOBILE_TECHS`), the mobile broadband the indicators and the power layer speak of.
    """
    rows, cols = loss.shape
    sector = not math.isnan(beamwidth_rad) and not math.isnan(azimuth_rad)
    # boresight unit vector (x east, y north; azimuth clockwise from north)
    bx = math.sin(azimuth_rad) if sector else 0.0
    by = math.cos(azimuth_rad) if sector else 1.0
    for rr in range(rows):
        ey = y_top - (r0 + rr + 0.5) * dy - y0
        for cc in range(cols):
            path_loss = loss[rr, cc]
            if math.isnan(path_loss):
                continue
            p = eirp_dbm - path_loss - clutter_loss_db
            R = r0 + rr - part_r0
            C = c0 + cc - part_c0
            b = best[R, C]
            if p < threshold_dbm and not (broadband and (math.isnan(b) or p > b)):
                continue  # the pattern only lowers p: nothing here can change
            if sector:
                ex = x_left + (c0 + cc + 0.5) * dx - x0
                p -= _pattern_db(ex, ey, bx, by, beamwidth_rad, max_attenuation_db)
            if broadband and (math.isnan(b) or p > b):
                if not partial:
                    best[R, C] = p
                    server[R, C] = site_index
                else:
                    p32 = np.float32(p)
                    if math.isnan(b) or p32 > b:  # a new best value
                        best[R, C] = p32
                        server[R, C] = site_index
                        above[R, C] = site_index if p > p32 else -1
                    else:  # rounds to the best value, strictly above it
                        above[R, C] = site_index
            if p >= threshold_dbm:
                masks[group, R, C] = True
                if broadband and last_counted[R, C] != site_index and count[R, C] < 65535:
                    count[R, C] += 1
                    last_counted[R, C] = site_index


@jit(nogil=True)
def _accumulate(
    loss: npt.NDArray[np.float32],
    r0: int,
    c0: int,
    x_left: float,
    y_top: float,
    dx: float,
    dy: float,
    x0: float,
    y0: float,
    eirp_dbm: float,
    clutter_loss_db: float,
    azimuth_rad: float,
    beamwidth_rad: float,
    max_attenuation_db: float,
    threshold_dbm: float,
    site_index: int,
    group: int,
    broadband: bool,
    best: npt.NDArray[np.float32],
    best_site: npt.NDArray[np.int32],
    count: npt.NDArray[np.uint16],
    last_counted: npt.NDArray[np.int32],
    masks: npt.NDArray[np.bool_],
) -> None:
    """Fold one carrier's received power into the province grids, in place.

    ``count`` counts distinct sites: ``last_counted`` remembers the last site counted in each
    cell, and a site's carriers are folded one after the other.

    Received power ``EIRP - A(θ) - L - clutter``; ``A(θ) = min(12 (θ / θ3dB)^2, A_m)`` dB is the
    horizontal sector pattern of 3GPP TR 36.814 Table A.2.1.1-2
    (:func:`hatangso.coverage.radio.sector_attenuation_db`, whose ``A_m`` the caller passes as
    `max_attenuation_db`; omni when the beamwidth is NaN), θ the angle between the boresight and
    the cell centre seen from the site (0 at the site), computed by :func:`_pattern_db`: a
    cached kernel calls only kernels of its own module (:mod:`._jit`), and a test holds it and
    the radio module's to the same values.
    A cell where even the unattenuated power neither reaches the threshold nor beats the best
    server is left alone.
    """
    _fold(loss, r0, c0, x_left, y_top, dx, dy, x0, y0, eirp_dbm, clutter_loss_db, azimuth_rad,
          beamwidth_rad, max_attenuation_db, threshold_dbm, site_index, group, broadband, 0, 0,
          False, best, best_site, best_site, count, last_counted, masks)  # fmt: skip


@jit(nogil=True)
def _accumulate_part(
    loss: npt.NDArray[np.float32],
    r0: int,
    c0: int,
    x_left: float,
    y_top: float,
    dx: float,
    dy: float,
    x0: float,
    y0: float,
    eirp_dbm: float,
    clutter_loss_db: float,
    azimuth_rad: float,
    beamwidth_rad: float,
    max_attenuation_db: float,
    threshold_dbm: float,
    site_index: int,
    group: int,
    broadband: bool,
    part_r0: int,
    part_c0: int,
    best: npt.NDArray[np.float32],
    first: npt.NDArray[np.int32],
    above: npt.NDArray[np.int32],
    count: npt.NDArray[np.uint16],
    last_counted: npt.NDArray[np.int32],
    masks: npt.NDArray[np.bool_],
) -> None:
    """Fold one carrier into partial grids, as :func:`_accumulate` does into whole ones.

    The partial grids' cell ``[0, 0]`` is the grid's ``[part_r0, part_c0]``; partials of any
    sets of sites combine into exactly the best server of :func:`_accumulate`.

    :func:`_accumulate` stores the best power as ``float32`` and replaces it when a later
    carrier's ``float64`` power is strictly above the stored value, so among the carriers whose
    power rounds to the final best ``F`` it keeps the last one strictly above ``F`` or, when
    none is, the first. This kernel keeps both per cell, ``first`` and ``above`` (-1: none), for
    carriers folded in site order; :func:`hatangso.coverage.distributed` combines partials
    (higher ``F`` wins; equal ``F``: the smaller ``first``, the larger ``above``) and takes
    ``above`` where set, else ``first``. The power, the pattern, the count and the masks are
    those of :func:`_accumulate`: both are :func:`_fold`; a test holds the two to the same grids.
    """
    _fold(loss, r0, c0, x_left, y_top, dx, dy, x0, y0, eirp_dbm, clutter_loss_db, azimuth_rad,
          beamwidth_rad, max_attenuation_db, threshold_dbm, site_index, group, broadband,
          part_r0, part_c0, True, best, first, above, count, last_counted, masks)  # fmt: skip


# --------------------------------------------------------------------------------------------
# One site


@dataclass(frozen=True)
class ItmParams:
    """Parameters of the Irregular Terrain Model (defaults as the contract's ``itm_p2p_loss``).

    Attributes
    ----------
    epsilon, sigma
        Ground relative permittivity and conductivity (S/m): 15 and 0.005 are "average ground".
    n0
        Surface refractivity, N-units.
    climate
        Radio climate code 1-7 (5: continental temperate).
    polarization
        0 horizontal, 1 vertical.
    time, location, situation
        Reliability and confidence percentages.
    mdvar
        Variability mode (12: broadcast, location variability eliminated, as SPLAT! uses).
    """

    epsilon: float = 15.0
    sigma: float = 0.005
    n0: float = 301.0
    climate: int = 5
    polarization: int = 1
    time: float = 50.0
    location: float = 50.0
    situation: float = 50.0
    mdvar: int = 12


@dataclass(frozen=True)
class _SiteLoss:
    """Path loss over the window ``[r0:r0+h, c0:c0+w]`` of the DEM grid."""

    r0: int
    c0: int
    loss_db: npt.NDArray[np.float32]


def _grid(dem: Raster) -> tuple[float, float, float, float]:
    if not dem.crs.is_projected:
        raise CRSError(
            f"the DEM is in {dem.crs}, a geographic CRS; terrain needs metres: read it with "
            "read_dem(..., dst_crs=<projected CRS>)"
        )
    if min(dem.shape) < 2:
        raise InputError(
            Problem(
                file="DEM",
                message=f"the DEM needs at least 2 x 2 cells, got {dem.shape}",
                fix="give a DEM (--dem) that covers the area with at least 2 x 2 cells",
            )
        )
    left, _, _, top = dem.bounds
    dx, dy = dem.res
    return left, top, dx, dy


def _window(dem: Raster, x: float, y: float, radius_m: float) -> tuple[int, int, int, int]:
    left, top, dx, dy = _grid(dem)
    rows, cols = dem.shape
    c0 = max(math.floor((x - radius_m - left) / dx), 0)
    c1 = min(math.ceil((x + radius_m - left) / dx), cols)
    r0 = max(math.floor((top - (y + radius_m)) / dy), 0)
    r1 = min(math.ceil((top - (y - radius_m)) / dy), rows)
    return r0, max(r1, r0), c0, max(c1, c0)


def _radial_plan(
    radius_m: float, step_m: float, cell_m: float
) -> tuple[int, npt.NDArray[np.int64]]:
    """Return the number of radials and, per step, the stride between radials evaluated.

    Radials are one cell apart at `radius_m`; at distance ``d`` one radial in ``2^p`` is enough
    for one cell of arc, ``2^p <= radius_m / d``. The count is a multiple of the largest stride so
    that strides wrap around north evenly.
    """
    n_steps = max(1, math.ceil(radius_m / step_m))
    d = np.arange(1, n_steps + 1, dtype=np.float64) * step_m
    ratio = np.maximum(radius_m / np.maximum(d, cell_m), 1.0)
    power = np.minimum(np.floor(np.log2(ratio)), _MAX_STRIDE_LOG2).astype(np.int64)
    strides = np.left_shift(np.int64(1), power)
    largest = int(strides.max())
    wanted = max(8, math.ceil(2.0 * math.pi * radius_m / cell_m))
    return math.ceil(wanted / largest) * largest, strides


def _step_and_wavelength(dem: Raster, step_m: float | None, freq_mhz: float) -> tuple[float, float]:
    """Return the profile step (the DEM's cell when not given) and the wavelength."""
    step = float(step_m) if step_m is not None else min(dem.res)
    if step <= 0.0:
        raise ValueError(f"step_m must be positive, got {step}")
    return step, SPEED_OF_LIGHT_M_S / (freq_mhz * 1e6)


def _itm_inputs(itm: ItmParams, h_tx_m: float, h_rx_m: float, freq_mhz: float) -> _Inputs:
    """Gather a site's ITM inputs as the kernels take them (ITM itself judges the values)."""
    return _Inputs(float(h_tx_m), float(h_rx_m), float(freq_mhz), float(itm.epsilon),
                   float(itm.sigma), float(itm.n0), int(itm.climate), int(itm.polarization),
                   float(itm.time), float(itm.location), float(itm.situation),
                   int(itm.mdvar))  # fmt: skip


def _site_loss(
    dem: Raster,
    x: float,
    y: float,
    *,
    h_tx_m: float,
    h_rx_m: float,
    freq_mhz: float,
    radius_m: float,
    model: TerrainModel,
    k_factor: float,
    itm: ItmParams,
    step_m: float | None,
    parallel: bool = True,
) -> _SiteLoss:
    """Loss over the window of one site; all cores (`parallel`) or one without the GIL."""
    left, top, dx, dy = _grid(dem)
    r0, r1, c0, c1 = _window(dem, x, y, radius_m)
    step, lam = _step_and_wavelength(dem, step_m, freq_mhz)
    if model == "los":
        n_radials, strides = _radial_plan(radius_m, step, min(dx, dy))
        inv_2r = 1.0 / (2.0 * k_factor * EARTH_RADIUS_M)
        radials = _radials_parallel if parallel else _radials_serial
        fill = _fill_parallel if parallel else _fill_serial
        diffraction = radials(dem.array, left, top, dx, dy, x, y, h_tx_m, h_rx_m, lam, inv_2r,
                              n_radials, strides, step)  # fmt: skip
        loss = fill(dem.array, diffraction, strides, left, top, dx, dy, r0, r1, c0, c1, x, y,
                    h_tx_m, h_rx_m, lam, radius_m, step)  # fmt: skip
    elif model == "itm":
        inputs = _itm_inputs(itm, h_tx_m, h_rx_m, freq_mhz)
        kernel = _window_losses_parallel if parallel else _window_losses_serial
        loss, fallbacks = kernel(dem.array, left, top, dx, dy, r0, r1, c0, c1, x, y, radius_m,
                                 step, inputs)  # fmt: skip
        if fallbacks:
            log.debug("ITM: %d cells took free-space loss (too close or ITM error)", fallbacks)
    else:
        raise ConfigError(
            Problem(
                file="configuration",
                column="terrain.method",
                message=f"unknown terrain model {model!r}",
                fix="use 'los' or 'itm'",
            )
        )
    return _SiteLoss(r0=r0, c0=c0, loss_db=loss)


def site_loss_raster(
    dem: Raster,
    x: float,
    y: float,
    *,
    h_tx_m: float,
    h_rx_m: float = 1.5,
    freq_mhz: float,
    radius_m: float,
    model: TerrainModel = "los",
    k_factor: float = 4.0 / 3.0,
    itm: ItmParams | None = None,
    step_m: float | None = None,
) -> npt.NDArray[np.float64]:
    """Compute the basic transmission loss from one site to every DEM cell within a radius.

    Parameters
    ----------
    dem
        Elevations on a projected grid (:func:`hatangso.coverage.rasters.read_dem`).
    x, y
        Site position in the DEM's CRS.
    h_tx_m, h_rx_m
        Antenna heights above ground of the site and of the receiver.
    freq_mhz
        Carrier frequency.
    radius_m
        Cells farther than this from the site are left NaN.
    model
        ``"los"``: free space plus Bullington diffraction on radial sweeps (fast);
        ``"itm"``: Longley-Rice point-to-point on each cell's profile.
    k_factor
        Effective Earth-radius factor for ``"los"`` (ITM derives its own from ``n0``).
    itm
        ITM parameters (defaults: :class:`ItmParams`).
    step_m
        Sampling step along the profiles; the DEM's cell size when omitted.

    Returns
    -------
    numpy.ndarray
        ``float64`` loss in dB on the DEM's grid, NaN beyond `radius_m`, outside the DEM and
        behind unknown terrain.

    Raises
    ------
    CRSError
        If the DEM is not in a projected CRS.

    Notes
    -----
    ``"los"``: ``L = 20 log10(4 π r / λ) + L_b`` with ``r`` the slant distance (ITU-R P.525-4)
    and ``L_b`` the Bullington loss of ITU-R P.452-16 §4.2.1 (see :func:`bullington_loss`), on
    a 4/3 Earth. ``"itm"``: the basic transmission loss of ITM 1.2.2 (Hufford, NTIA).
    """
    result = _site_loss(
        dem,
        float(x),
        float(y),
        h_tx_m=float(h_tx_m),
        h_rx_m=float(h_rx_m),
        freq_mhz=float(freq_mhz),
        radius_m=float(radius_m),
        model=model,
        k_factor=float(k_factor),
        itm=itm or ItmParams(),
        step_m=step_m,
    )
    full = np.full(dem.shape, np.nan, dtype=np.float64)
    h, w = result.loss_db.shape
    full[result.r0 : result.r0 + h, result.c0 : result.c0 + w] = result.loss_db
    return full


def site_loss_at(
    dem: Raster,
    x: float,
    y: float,
    px: npt.ArrayLike,
    py: npt.ArrayLike,
    *,
    h_tx_m: float,
    h_rx_m: float = 1.5,
    freq_mhz: float,
    radius_m: float,
    model: TerrainModel = "los",
    k_factor: float = 4.0 / 3.0,
    itm: ItmParams | None = None,
    step_m: float | None = None,
) -> npt.NDArray[np.float64]:
    """Compute the loss :func:`site_loss_raster` gives at the cells holding some points.

    The same profiles, sweeps and values as the raster, computed for those cells alone:
    ``"itm"`` runs one profile per point, ``"los"`` sweeps only the radials the points read.
    For a planner that needs a candidate's loss at a few hundred village points, this is the
    raster's answer at a fraction of its cost.

    Parameters
    ----------
    dem, x, y, h_tx_m, h_rx_m, freq_mhz, radius_m, model, k_factor, itm, step_m
        As for :func:`site_loss_raster`.
    px, py
        Points in the DEM's CRS; each is read at the DEM cell that holds it.

    Returns
    -------
    numpy.ndarray
        ``float64`` loss in dB per point: ``site_loss_raster(...)[row, col]`` of its cell, NaN
        beyond `radius_m`, outside the DEM and behind unknown terrain.

    Raises
    ------
    CRSError
        If the DEM is not in a projected CRS.
    """
    x, y = float(x), float(y)
    px_arr = np.asarray(px, dtype=np.float64).ravel()
    py_arr = np.asarray(py, dtype=np.float64).ravel()
    if px_arr.shape != py_arr.shape:
        raise ValueError(f"px and py differ in length: {px_arr.size} and {py_arr.size}")
    left, top, dx, dy = _grid(dem)
    col_f = np.floor((px_arr - left) / dx)
    row_f = np.floor((top - py_arr) / dy)
    n_rows, n_cols = dem.shape
    ok = (col_f >= 0) & (col_f < n_cols) & (row_f >= 0) & (row_f < n_rows)  # NaN compares false
    cols = np.where(ok, col_f, -1.0).astype(np.int64)
    rows = np.where(ok, row_f, -1.0).astype(np.int64)
    r0, r1, c0, c1 = _window(dem, x, y, float(radius_m))
    step, lam = _step_and_wavelength(dem, step_m, float(freq_mhz))
    if model == "los":
        n_radials, strides = _radial_plan(float(radius_m), step, min(dx, dy))
        inv_2r = 1.0 / (2.0 * float(k_factor) * EARTH_RADIUS_M)
        loss = _los_points(dem.array, rows, cols, left, top, dx, dy, r0, r1, c0, c1, x, y,
                           float(h_tx_m), float(h_rx_m), lam, inv_2r, n_radials, strides, step,
                           float(radius_m))  # fmt: skip
    elif model == "itm":
        inputs = _itm_inputs(itm or ItmParams(), float(h_tx_m), float(h_rx_m), float(freq_mhz))
        loss = _point_losses(dem.array, rows, cols, left, top, dx, dy, r0, r1, c0, c1, x, y,
                             float(radius_m), step, inputs)  # fmt: skip
    else:
        raise ConfigError(
            Problem(
                file="configuration",
                column="terrain.method",
                message=f"unknown terrain model {model!r}",
                fix="use 'los' or 'itm'",
            )
        )
    return loss.astype(np.float64)


# --------------------------------------------------------------------------------------------
# Many sites


@dataclass(frozen=True)
class CoverageRasters:
    """Province-wide grids of a terrain coverage run.

    Attributes
    ----------
    best_dbm
        ``float32`` best-server received power of the mobile broadband carriers (4G and 5G,
        :data:`MOBILE_TECHS`), dBm; NaN where none reaches. 2G, 3G, NB-IoT and LTE-M carriers
        are left out: this is the grid the power layer draws against the broadband threshold.
    best_site
        ``int32`` index into `site_ids` of that best server; -1 where none.
    server_count
        ``uint16`` number of sites whose 4G or 5G carrier is received at or above
        `threshold_dbm`.
    covered
        One boolean grid per ``(operator, tech)``: received at or above `threshold_dbm` from at
        least one of that operator's sites carrying that technology.
    site_ids
        The sites, in input order.
    threshold_dbm
        Received power needed for coverage.
    n_computed, n_cached
        Sites whose loss was computed in this run, and read from the cache.
    skipped_site_ids
        Sites left out because they lie outside the DEM.
    """

    best_dbm: Raster
    best_site: Raster
    server_count: Raster
    covered: Mapping[tuple[str, str], Raster]
    site_ids: tuple[str, ...]
    threshold_dbm: float
    n_computed: int = 0
    n_cached: int = 0
    skipped_site_ids: tuple[str, ...] = field(default=())

    def mask(
        self, *, techs: Sequence[str] = MOBILE_TECHS, operators: Sequence[str] | None = None
    ) -> npt.NDArray[np.bool_]:
        """Union of the coverage masks of some technologies and operators (all by default)."""
        out = np.zeros(self.best_dbm.shape, dtype=bool)
        for (operator, tech), grid in self.covered.items():
            if tech in techs and (operators is None or operator in operators):
                out |= np.asarray(grid.array, dtype=bool)
        return out


def _normalise_techs(value: object) -> tuple[str, ...]:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ("4G",)
    techs = []
    for part in str(value).replace(",", ";").split(";"):
        tech = part.strip().upper()
        if tech:
            techs.append(tech_token(tech) or _TECH_ALIASES.get(tech, tech))
    return tuple(dict.fromkeys(techs)) or ("4G",)


def receive_dbm(threshold_dbm: float, tech: str) -> float:
    """Return the power a carrier of `tech` must be received at, given the run's threshold.

    Each technology is received from its own level (NB-IoT and LTE-M further down, by their
    coverage enhancement): :data:`hatangso.coverage.radio.RECEPTION_THRESHOLD_DBM`.
    """
    return float(threshold_dbm) + float(threshold_offset_db(tech))


def _column(sites: gpd.GeoDataFrame, name: str, default: float) -> npt.NDArray[np.float64]:
    if name not in sites.columns:
        return np.full(len(sites), default, dtype=np.float64)
    values = pd.to_numeric(sites[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isnan(values), default, values)


def _dem_digest(dem: Raster) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(dem.array).tobytes())
    digest.update(repr(tuple(dem.transform)).encode())
    digest.update(str(dem.array.dtype).encode())
    digest.update(dem.crs.to_wkt().encode())
    return digest.hexdigest()


def _cache_key(dem_digest: str, params: Mapping[str, object]) -> str:
    payload = json.dumps({"v": _CACHE_VERSION, "dem": dem_digest, **params}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:40]


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:  # removed meanwhile by another run: nothing to keep
        pass


def _load_cached(path: Path) -> _SiteLoss | None:
    try:
        with np.load(path) as stored:
            return _SiteLoss(
                r0=int(stored["offset"][0]),
                c0=int(stored["offset"][1]),
                loss_db=np.asarray(stored["loss_db"], dtype=np.float32),
            )
    except (OSError, KeyError, ValueError) as exc:
        log.warning("ignoring unreadable cache entry %s (%s)", path, exc)
        return None


def _store(path: Path, result: _SiteLoss, scratch: Path) -> None:
    """Write one cache entry: in the run's scratch folder first, then moved into place."""
    tmp = scratch / f"{path.stem}.tmp.npz"
    np.savez(tmp, offset=np.array([result.r0, result.c0], dtype=np.int64), loss_db=result.loss_db)
    os.replace(tmp, path)


#: Prefix of a run's scratch folder inside the cache: ``.scratch-<pid>-<random>`` (runs in
#: threads of one process, as the service's, each have their own).
SCRATCH_PREFIX = ".scratch-"


def remove_stale_scratch(cache_dir: Path) -> list[Path]:
    """Remove the scratch folders (and old-style scratch files) of runs that are gone.

    A run writes its cache entries through ``<cache>/.scratch-<pid>-*``, removed when it ends
    or fails; a killed run cannot remove it, so the next run does, for every pid that no
    longer runs.

    Returns
    -------
    list of Path
        What was removed.
    """
    removed = remove_orphans(cache_dir, SCRATCH_PREFIX)
    if not cache_dir.is_dir():
        return removed
    for entry in cache_dir.glob("*.tmp.npz"):  # written beside the entries by earlier versions
        pid_text = entry.name.removesuffix(".tmp.npz").rpartition(".")[2]
        if pid_text.isdigit() and not pid_alive(int(pid_text)):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def prune_cache(cache_dir: Path, max_bytes: int) -> list[Path]:
    """Remove the least recently used entries until the cache holds at most `max_bytes`.

    An entry's modification time is its last use: :func:`coverage_rasters` touches the
    entries it reads.

    Returns
    -------
    list of Path
        The entries removed, oldest first.
    """
    entries = []
    for path in cache_dir.glob("*.npz"):
        try:
            info = path.stat()
        except OSError:  # removed meanwhile by another run
            continue
        entries.append((info.st_mtime_ns, path.name, info.st_size, path))
    total = sum(e[2] for e in entries)
    removed: list[Path] = []
    for _mtime, _name, size, path in sorted(entries):
        if total <= max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
        removed.append(path)
    if removed:
        log.info(
            "terrain cache %s: %d least recently used entries removed to stay within %.0f MB",
            cache_dir,
            len(removed),
            max_bytes / 1024 / 1024,
        )
    return removed


def window_cells(radius_m: float, dx: float, dy: float) -> int:
    """Cells of a site's square window of `radius_m` on a grid of `dx` by `dy` m.

    Examples
    --------
    >>> window_cells(3000.0, 30.0, 30.0)
    40401
    """
    return (2 * math.ceil(radius_m / dx) + 1) * (2 * math.ceil(radius_m / dy) + 1)


def check_work(n_sites: int, cells_per_site: int, *, radius_m: float, limit: int | None) -> None:
    """Refuse a terrain run of more than `limit` cells (sites x cells per site).

    Raises
    ------
    ConfigError
        Naming ``terrain.radius_m`` and ``terrain.resolution_m``, the figures and the setting.
    """
    work = n_sites * cells_per_site
    if limit is not None and work > limit:
        raise ConfigError(
            Problem(
                file="configuration",
                column="terrain.radius_m",
                message=f"the terrain model would compute {n_sites:,} sites x "
                f"{cells_per_site:,} cells (radius {radius_m:g} m) = {work:,} cells, above "
                f"the limit of {limit:,}",
                fix="lower terrain.radius_m, coarsen terrain.resolution_m or give fewer sites "
                "(or raise the limit with the setting HATANGSO_MAX_TERRAIN_WORK_CELLS)",
            )
        )


def check_grid(width_m: float, height_m: float, resolution_m: float, *, limit: int) -> None:
    """Refuse a terrain grid of more than `limit` cells, before the DEM is read.

    Raises
    ------
    ConfigError
        Naming ``terrain.resolution_m``, the figures and the setting.
    """
    cells = math.ceil(max(width_m, 0.0) / resolution_m) * math.ceil(
        max(height_m, 0.0) / resolution_m
    )
    if cells > limit:
        raise ConfigError(
            Problem(
                file="configuration",
                column="terrain.resolution_m",
                message=f"the terrain grid would be {width_m / 1000:,.1f} x "
                f"{height_m / 1000:,.1f} km at {resolution_m:g} m = {cells:,} cells, above "
                f"the limit of {limit:,}",
                fix="coarsen terrain.resolution_m, lower terrain.radius_m or cover a smaller "
                "area (or raise the limit with the setting HATANGSO_MAX_TERRAIN_GRID_CELLS)",
            )
        )


@dataclass(frozen=True)
class _CarrierPlan:
    """The carriers of a terrain run, planned once for the local and the distributed runs.

    Each site's position, pattern and operator, and per carrier ``(site index, tech, EIRP,
    key)`` (None: outside the DEM), in site order. ``physical`` gives each key's ``(x, y,
    antenna height, frequency)``: sectors on one mast and frequency share one key, hence one
    loss window.
    """

    xs: npt.NDArray[np.float64]
    ys: npt.NDArray[np.float64]
    azimuths: npt.NDArray[np.float64]
    beamwidths: npt.NDArray[np.float64]
    site_ids: tuple[str, ...]
    operators: list[str]
    groups: list[tuple[str, str]]
    group_index: dict[tuple[str, str], int]
    carriers: list[tuple[int, str, float, str] | None]
    skipped: set[str]
    physical: dict[str, tuple[float, float, float, float]]


def _plan_carriers(
    dem: Raster,
    sites: gpd.GeoDataFrame,
    *,
    model: TerrainModel,
    h_rx_m: float,
    radius_m: float,
    k_factor: float,
    itm: ItmParams,
    step_m: float | None,
    default_height_m: float,
    default_eirp_dbm: Mapping[str, float],
    default_freq_mhz: Mapping[str, float],
    digest: str,
) -> _CarrierPlan:
    """Plan the carriers of :func:`coverage_rasters` (and of its distributed run)."""
    missing = [c for c in ("site_id", "operator") if c not in sites.columns]
    if missing:
        raise InputError(
            Problem(
                file="sites",
                message=f"missing column(s) {', '.join(missing)}",
                fix="give every site a site_id and an operator",
            )
        )
    left, top, dx, dy = _grid(dem)
    rows, cols = dem.shape
    if sites.crs is None:
        raise CRSError("the sites carry no CRS; set one (EPSG:4326 for lon/lat)")
    if CRS.from_user_input(sites.crs) != dem.crs:
        sites = sites.to_crs(dem.crs)
    geoms = np.asarray(sites.geometry.values, dtype=object)
    xs = shapely.get_x(geoms)
    ys = shapely.get_y(geoms)
    heights = _column(sites, "height_m", default_height_m)
    freqs = _column(sites, "freq_mhz", np.nan)
    total_eirps = _column(sites, "eirp_dbm", np.nan)
    re_eirps = _column(sites, "eirp_re_dbm", np.nan)
    bandwidths = _column(sites, "bandwidth_mhz", np.nan)
    azimuths = np.radians(_column(sites, "azimuth_deg", np.nan))
    beamwidths = np.radians(_column(sites, "beamwidth_deg", np.nan))
    site_ids = tuple(str(v) for v in sites["site_id"])
    operators = [str(v) for v in sites["operator"]]
    techs = (
        [_normalise_techs(v) for v in sites["tech"]]
        if "tech" in sites.columns
        else [("4G",)] * len(sites)
    )
    carriers = [(i, tech) for i in range(len(sites)) for tech in techs[i]]
    # EIRP per resource element of every site as each technology's carrier (NaN: default)
    eirps = {
        tech: reference_eirp_dbm(tech=tech, eirp_dbm=total_eirps, eirp_re_dbm=re_eirps,
                                 bandwidth_mhz=bandwidths, freq_mhz=freqs)
        for tech in {t for _, t in carriers}
    }  # fmt: skip
    groups = sorted({(operators[i], tech) for i, tech in carriers})
    group_index = {g: k for k, g in enumerate(groups)}

    model_params: dict[str, object] = {
        "model": model,
        "h_rx_m": float(h_rx_m),
        "radius_m": float(radius_m),
        "step_m": None if step_m is None else float(step_m),
        "k_factor": float(k_factor) if model == "los" else None,
        "itm": [getattr(itm, f) for f in ItmParams.__dataclass_fields__]
        if model == "itm"
        else None,
    }
    # 1. plan: each carrier's cache key (sectors on one mast and frequency share one)
    plans: list[tuple[int, str, float, str] | None] = []
    skipped: set[str] = set()
    physical: dict[str, tuple[float, float, float, float]] = {}
    for i, tech in carriers:
        x, y = float(xs[i]), float(ys[i])
        inside = bool(np.isfinite(x) and np.isfinite(y))
        if not (inside and left <= x < left + cols * dx and top - rows * dy < y <= top):
            if site_ids[i] not in skipped:
                log.warning("site %s lies outside the DEM: left out", site_ids[i])
            skipped.add(site_ids[i])
            plans.append(None)
            continue
        freq = (
            float(freqs[i])
            if np.isfinite(freqs[i])
            else default_freq_mhz.get(tech, default_freq_mhz["4G"])
        )
        eirp = (
            float(eirps[tech][i])
            if np.isfinite(eirps[tech][i])
            else default_eirp_dbm.get(tech, default_eirp_dbm["4G"])
        )
        where = {"x": round(x, 3), "y": round(y, 3), "h_tx_m": float(heights[i]), "freq_mhz": freq}
        key = _cache_key(digest, {**model_params, **where})
        physical.setdefault(key, (x, y, float(heights[i]), freq))
        plans.append((i, tech, eirp, key))
    return _CarrierPlan(
        xs=xs,
        ys=ys,
        azimuths=azimuths,
        beamwidths=beamwidths,
        site_ids=site_ids,
        operators=operators,
        groups=groups,
        group_index=group_index,
        carriers=plans,
        skipped=skipped,
        physical=physical,
    )


def coverage_rasters(
    dem: Raster,
    sites: gpd.GeoDataFrame,
    *,
    radius_m: float,
    threshold_dbm: float,
    model: TerrainModel = "los",
    h_rx_m: float = 1.5,
    default_height_m: float = DEFAULT_HEIGHT_M,
    default_eirp_dbm: Mapping[str, float] = DEFAULT_EIRP_DBM,
    default_freq_mhz: Mapping[str, float] = DEFAULT_FREQ_MHZ,
    clutter_loss_db: float = 0.0,
    k_factor: float = 4.0 / 3.0,
    itm: ItmParams | None = None,
    step_m: float | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache_max_bytes: int | None = None,
    max_work_cells: int | None = None,
) -> CoverageRasters:
    """Best-server power, server count and per-operator coverage of many sites over a DEM.

    Parameters
    ----------
    dem
        Elevations on a projected grid; the outputs share it.
    sites
        One row per site (or sector): ``site_id``, ``operator``, Point geometry; optional
        ``tech`` (``4G``, ``4G;5G``; default 4G), ``height_m``, ``eirp_dbm`` (total EIRP of
        the carrier) or ``eirp_re_dbm`` (reference-signal EIRP per resource element, as
        :mod:`hatangso.coverage.radio` defines it; wins when both are given),
        ``bandwidth_mhz``, ``freq_mhz``, ``azimuth_deg`` and ``beamwidth_deg`` (omni when
        absent or empty). Reprojected to the DEM's CRS. A row carrying several technologies is
        one carrier per technology, each at the row's frequency and EIRP (the total spread
        over that technology's subcarriers, :func:`hatangso.geo.carrier.eirp_re_dbm`) or,
        where empty, at that technology's defaults.
    radius_m
        How far from each site the model computes.
    threshold_dbm
        Received power (RSRP) needed for coverage.
    model
        ``"los"`` (fast) or ``"itm"``; see :func:`site_loss_raster`.
    h_rx_m
        Receiver height above ground.
    default_height_m, default_eirp_dbm, default_freq_mhz
        Values used where a site's column is absent or empty, the last two by technology
        (an unknown technology takes the 4G values); by default :mod:`hatangso.coverage.radio`'s.
    clutter_loss_db
        Extra loss applied everywhere (vegetation, buildings), dB.
    k_factor, itm, step_m
        Model parameters, as in :func:`site_loss_raster`.
    cache_dir
        Directory of per-site results. An entry is keyed on the DEM's content and grid, the
        site's position, antenna height, frequency and the model's parameters (not on EIRP,
        azimuth or operator, which are applied afterwards), so adding or editing one site
        recomputes only that site. Sectors sharing a mast and frequency are computed once.
        Entries are written through the run's scratch folder ``.scratch-<pid>-*``, removed
        when the run ends or fails (and by the next run, when the process was killed).
    workers
        Threads for sites computed side by side (numba's thread count by default). With at
        least two sites per thread to compute, each thread runs whole sites, the kernels
        releasing the GIL; with fewer, sites run one after the other, each spread over all
        cores.
    progress
        Called as ``progress(done, total)`` after each carrier (site and technology).
    cache_max_bytes
        Cap of `cache_dir`: after the run, the least recently used entries are removed
        until it holds at most this (None: no cap).
    max_work_cells
        Refuse the run, before computing, when the sites to compute times the cells of a
        site's window exceed this (None: no limit).

    Returns
    -------
    CoverageRasters
        The grids, on the DEM's grid.

    Raises
    ------
    ConfigError
        If the work exceeds `max_work_cells`.
    InputError
        If a required column is missing.
    CRSError
        If the DEM is not projected or the sites carry no CRS.

    Notes
    -----
    Received power ``EIRP - A(θ) - L - clutter`` with ``L`` the model's basic transmission
    loss and ``A(θ) = min(12 (θ / θ3dB)^2, 25)`` dB the horizontal sector pattern of 3GPP
    TR 36.814 Table A.2.1.1-2 (no vertical pattern: downtilt is not modelled).
    """
    itm = itm or ItmParams()
    cache = Path(cache_dir) if cache_dir is not None else None
    digest = _dem_digest(dem) if cache is not None else ""
    planned = _plan_carriers(
        dem,
        sites,
        model=model,
        h_rx_m=h_rx_m,
        radius_m=radius_m,
        k_factor=k_factor,
        itm=itm,
        step_m=step_m,
        default_height_m=default_height_m,
        default_eirp_dbm=default_eirp_dbm,
        default_freq_mhz=default_freq_mhz,
        digest=digest,
    )
    left, top, dx, dy = _grid(dem)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        remove_stale_scratch(cache)
    xs, ys, azimuths, beamwidths = planned.xs, planned.ys, planned.azimuths, planned.beamwidths
    site_ids, operators, group_index = planned.site_ids, planned.operators, planned.group_index
    plans, skipped, physical = planned.carriers, planned.skipped, planned.physical
    groups = planned.groups

    rows, cols = dem.shape
    best = np.full((rows, cols), np.nan, dtype=np.float32)
    best_site = np.full((rows, cols), -1, dtype=np.int32)
    count = np.zeros((rows, cols), dtype=np.uint16)
    last_counted = np.full((rows, cols), -1, dtype=np.int32)
    masks = np.zeros((len(groups), rows, cols), dtype=bool)
    uses = Counter(plan[3] for plan in plans if plan is not None)
    to_compute = [key for key in uses if cache is None or not (cache / f"{key}.npz").exists()]
    check_work(
        len(to_compute), window_cells(radius_m, dx, dy), radius_m=radius_m, limit=max_work_cells
    )
    scratch = None
    if cache is not None and to_compute:
        scratch = new_scratch(cache, SCRATCH_PREFIX)
    n_workers = max(1, int(workers) if workers is not None else numba.get_num_threads())
    pooled = n_workers > 1 and len(to_compute) >= 2 * n_workers

    def compute(key: str) -> _SiteLoss:
        x, y, h_tx, freq = physical[key]
        result = _site_loss(dem, x, y, h_tx_m=h_tx, h_rx_m=float(h_rx_m), freq_mhz=freq,
                            radius_m=float(radius_m), model=model, k_factor=float(k_factor),
                            itm=itm, step_m=step_m, parallel=not pooled)  # fmt: skip
        if cache is not None and scratch is not None:
            _store(cache / f"{key}.npz", result, scratch)
        return result

    # 2. compute: with many sites to do, one site per thread (kernels without the GIL); with
    # few, one site after the other, each over all cores
    executor = ThreadPoolExecutor(max_workers=n_workers) if pooled else None
    futures = {key: executor.submit(compute, key) for key in to_compute} if executor else {}
    held: dict[str, _SiteLoss] = {}
    computed = cached = 0
    try:
        for done, plan in enumerate(plans, start=1):
            if plan is not None:
                i, tech, eirp, key = plan
                result = held.get(key)
                if result is None and key in futures:
                    result = futures.pop(key).result()
                    computed += 1
                if result is None and cache is not None and key not in to_compute:
                    result = _load_cached(cache / f"{key}.npz")
                    cached += result is not None
                    if result is not None:  # its last use, for the cap's eviction
                        _touch(cache / f"{key}.npz")
                if result is None:
                    result = compute(key)
                    computed += 1
                uses[key] -= 1
                if uses[key]:
                    held[key] = result
                else:
                    held.pop(key, None)
                _accumulate(result.loss_db, result.r0, result.c0, left, top, dx, dy,
                            float(xs[i]), float(ys[i]), eirp, float(clutter_loss_db),
                            float(azimuths[i]), float(beamwidths[i]), SECTOR_MAX_ATTENUATION_DB,
                            receive_dbm(threshold_dbm, tech), i,
                            group_index[(operators[i], tech)], tech in MOBILE_TECHS, best,
                            best_site, count, last_counted, masks)  # fmt: skip
            if progress is not None:
                progress(done, len(plans))
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if cache is not None and cache_max_bytes is not None:
        prune_cache(cache, cache_max_bytes)
    total = len(plans)
    log.info(
        "terrain coverage: %d carriers of %d sites, %d computed, %d from cache, %d sites "
        "outside the DEM",
        total,
        len(sites),
        computed,
        cached,
        len(skipped),
    )
    return CoverageRasters(
        best_dbm=dem.with_array(best),
        best_site=dem.with_array(best_site),
        server_count=dem.with_array(count),
        covered={g: dem.with_array(masks[k]) for g, k in group_index.items()},
        site_ids=site_ids,
        threshold_dbm=float(threshold_dbm),
        n_computed=computed,
        n_cached=cached,
        skipped_site_ids=tuple(s for s in site_ids if s in skipped),
    )


# --------------------------------------------------------------------------------------------
# Outputs and villages


def coverage_polygons(coverage: CoverageRasters) -> gpd.GeoDataFrame:
    """Coverage areas as polygons, one row per operator and technology.

    Parameters
    ----------
    coverage
        The result of :func:`coverage_rasters`.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``operator`` (str), ``tech`` (str), ``area_m2`` (float) and ``geometry``
        (MultiPolygon, possibly empty), in the DEM's CRS; sorted by operator then tech.
    """
    rows: list[dict[str, object]] = []
    for (operator, tech), grid in sorted(coverage.covered.items()):
        pieces = polygonize(np.asarray(grid.array, dtype=bool), grid.transform, grid.crs)
        geom = shapely.multipolygons(np.asarray(pieces.geometry.values, dtype=object))
        rows.append(
            {
                "operator": operator,
                "tech": tech,
                "area_m2": float(pieces["area_m2"].sum()),
                "geometry": geom,
            }
        )
    if not rows:
        return gpd.GeoDataFrame(
            {"operator": [], "tech": [], "area_m2": []}, geometry=[], crs=coverage.best_dbm.crs
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=coverage.best_dbm.crs)


def write_coverage_outputs(
    coverage: CoverageRasters, out_dir: str | os.PathLike[str]
) -> dict[str, Path]:
    """Write a run's grids and polygons.

    Parameters
    ----------
    coverage
        The result of :func:`coverage_rasters`.
    out_dir
        Directory (created if needed).

    Returns
    -------
    dict
        ``{"best_dbm": best_dbm.tif, "server_count": server_count.tif, "polygons":
        coverage.gpkg}``: two cloud-optimised GeoTIFFs and a GeoPackage whose layer
        ``coverage`` holds :func:`coverage_polygons`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "best_dbm": write_cog(coverage.best_dbm, out / "best_dbm.tif"),
        "server_count": write_cog(coverage.server_count, out / "server_count.tif"),
    }
    polygons_path = out / "coverage.gpkg"
    paths["polygons"] = write_layer(coverage_polygons(coverage), polygons_path, layer="coverage")
    return paths


def judge_villages(
    villages: gpd.GeoDataFrame,
    coverage: CoverageRasters,
    *,
    rule: VillageRule = "point",
    min_share: float = 0.5,
    population: Raster | None = None,
    points: VillagePoints | None = None,
) -> gpd.GeoDataFrame:
    """Apply the contract's village rules to terrain coverage grids.

    The grids answer at the rule's points (:meth:`VillagePoints.rule_points`) and give the
    covered shares of area and people; :func:`hatangso.coverage.villages.judge` applies the
    rule.

    Parameters
    ----------
    villages
        Village polygons (or points, for which only ``rule="point"`` is meaningful), any CRS.
    coverage
        The result of :func:`coverage_rasters`.
    rule
        ``"point"``: the village's representative point must be covered; ``"area"``: at least
        `min_share` of its area; ``"population"``: at least `min_share` of its people (from
        `population`; a village holding nobody in the grid falls back to its area share);
        ``"official"``: the centre and every residential cluster of `points`.
    min_share
        Share needed by the ``area`` and ``population`` rules.
    population
        People per cell on the DEM's grid (:func:`hatangso.coverage.rasters.read_population`);
        required by ``rule="population"``.
    points
        The villages' demand points in the grids' CRS
        (:func:`hatangso.coverage.villages.village_points`); built from `villages` alone
        (representative points as centres, no clusters) when None.

    Returns
    -------
    geopandas.GeoDataFrame
        `villages` (same index, CRS and columns) plus ``best_dbm`` (float, the best 4G or 5G
        carrier at the representative point; NaN where none reaches), ``mobile_share`` and
        ``share_5g`` (float in [0, 1]: the share the rule looks at; 0 or 1 for ``point`` and
        ``official``),
        ``covered_mobile`` and ``covered_5g`` (bool; 4G or better, any operator) and
        ``serving_operators`` (``;``-separated, sorted: operators whose own 4G+ coverage meets
        the rule).

    Raises
    ------
    ValueError
        If `rule` is unknown, or ``population`` is missing for ``rule="population"``.
    """
    if rule == "population" and population is None:
        raise ConfigError(
            Problem(
                file="configuration",
                column="mobile.rule",
                message="rule='population' needs the population grid",
                fix="pass the population raster (--population F.tif) or choose the point or "
                "area rule",
            )
        )
    grid = coverage.best_dbm
    crs = pyproj.CRS.from_user_input(grid.crs)
    if points is None:
        points = village_points(villages, crs)
    _, xy = points.rule_points(rule)
    at_points = gpd.GeoSeries(shapely.points(xy), crs=crs)

    def answer(mask: npt.NDArray[np.bool_]) -> RuleAnswer:
        covered = grid.with_array(mask)
        hit = np.nan_to_num(sample_points(covered, at_points), nan=0.0) > 0.5
        area = people = None
        if rule in ("area", "population"):
            area = zonal_shares(villages, covered)
            if population is not None:
                people = zonal_shares(villages, covered, weights=population)
        return judge(
            rule, points, hit=hit, min_share=min_share, area_share=area, people_share=people
        )

    mobile = answer(coverage.mask(techs=MOBILE_TECHS))
    five_g = answer(coverage.mask(techs=("5G",)))
    operators = sorted({op for op, _ in coverage.covered})
    own = {
        op: answer(coverage.mask(techs=MOBILE_TECHS, operators=[op])).covered for op in operators
    }
    rep = gpd.GeoSeries(shapely.points(points.representative_xy), crs=crs)
    return villages.assign(
        best_dbm=sample_points(grid, rep),
        mobile_share=mobile.share,
        share_5g=five_g.share,
        covered_mobile=mobile.covered,
        covered_5g=five_g.covered,
        serving_operators=serving_operators(own, len(villages)),
    )
