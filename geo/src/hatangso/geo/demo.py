"""The demo province: a synthetic, fictional "Tỉnh Demo", generated from a seed.

Nothing here describes a real place. The province is invented so that every part of the
coverage engine has something to chew on, and it is laid where a province of the northern
mountains would lie (105.6-106.2 E, 21.9-22.5 N, the VN-2000 zone of meridian 106°30' used by
Bắc Kạn), with the shape of such a province's problems:

* a 1 arc-second DEM of ridges (up to about 1,500 m) and valleys (150-400 m), cut by a river that
  roads cross only at a few bridges;
* districts, communes and villages (Voronoi cells, the villages drawn towards flat valley
  floors), each village with its cultural house (``centre_lon``/``centre_lat``), 1-4 residential
  clusters and a population that the 3 arc-second population raster reproduces;
* an OSM road network of least-cost paths over the terrain: primary and secondary roads between
  district towns, tertiary roads to communes, unclassified roads and tracks to villages;
* four operators' sites, about a fifth of the tower locations shared, 5G in the district towns
  and at the industrial park, and three mountain massifs without coverage, so that about 3 % of
  the villages (like Bắc Kạn's 42 of about 1,400) are more than 5 km from every site;
* fiber cables along the roads with their access points, shared poles and (rarely shared)
  ducts in the towns, points of interest, a drive test, and Viettel's declaration of the villages
  it covers, a few of them wrongly.

One pair of villages faces each other across the river far from any bridge: the one without
an access point of its own lies a few hundred metres from its neighbour's, in a straight line,
and many kilometres away by road.

All metric work is done in UTM zone 48N (EPSG:32648); the files are written in EPSG:4326.
Everything is deterministic: the same seed gives the same data. Each part draws from its own
random stream, named after it, so that changing one part leaves the others' draws alone.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import rasterio
import scipy.fft
import shapely
from pyproj import Transformer
from rasterio import features
from rasterio.transform import from_origin
from scipy import ndimage, sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from hatangso.geo.carrier import resource_elements
from hatangso.geo.errors import InputError, Problem
from hatangso.geo.progress import Progress, silent
from hatangso.geo.schema import LAYER_KINDS, spec_for

__all__ = ["PROVINCE", "DemoFiles", "PlaceFiles", "generate_demo", "generate_place"]

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
Str = npt.NDArray[np.str_]

#: Name of the synthetic province.
PROVINCE = "Tỉnh Demo"

WORK_CRS = "EPSG:32648"
_WEST, _EAST, _SOUTH, _NORTH = 105.6, 106.2, 21.9, 22.5
_LON0, _LAT0 = 105.9, 22.2
_KM_LAT = 110.574
_KM_LON = 111.320 * math.cos(math.radians(_LAT0))
_DEM_PER_DEG = 3600  # 1 arc-second
_COARSE = 4  # coarse terrain grid: 4 arc-seconds
_ROAD = 8  # road grid: 8 arc-seconds (about 230 m)
_POP_PER_DEG = 1200  # 3 arc-seconds (about 90 m)
_DEM_NODATA = -32768
_POP_NODATA = -99999.0

_OPERATORS = ("Viettel", "VNPT", "MobiFone", "Vietnamobile")
_OP_CODE = ("VTL", "VNP", "MBF", "VNM")
_OP_WEIGHT = np.array([0.42, 0.25, 0.22, 0.11])
_RADIUS_4G_M = {"urban": 1500.0, "suburban": 3000.0, "rural": 5000.0}
_SAMPLE_ROWS = 20_000
_SAMPLE_SPACING_M = 25.0
_UNCOVERED_SHARE = 0.03
# A 20 MHz LTE carrier's total EIRP less its EIRP per resource element: 10 log10(1200) dB.
_LTE_20MHZ_DB = float(10.0 * np.log10(resource_elements("4G", 20.0)))

_TAY_FIRST = tuple(
    "Nà Khuổi Pác Phiêng Cốc Bó Lủng Nặm Khau Pò Đon Slam Còn Tổng Pù Thôm Kéo Vằng".split()
)
_TAY_SECOND = tuple(
    "Mằm Hát Slảo Phầy Lạn Cáy Mu Luông Pục Vài Thoi Đán Ngòa Lào Quân Héo Chang Sliến Tạ Dài "
    "Mạ Nưa Tẩu Phai Kham Nọi Pẻn Ỏi Lầy Bưa Cải Mòn Hin Tà Mỏ Tặc Khoang Vẹ Nghè Khét".split()
)
_KINH_VILLAGE = tuple(
    "Tân Lập, Đồng Tâm, Bình Minh, Thống Nhất, Quyết Tiến, Tiến Bộ, Hợp Thành, Làng Mới, "
    "Đoàn Kết, Hòa Bình, Xuân Phong, Tân Tiến, Thanh Bình, Hưng Thịnh, Đồng Xuân, Phố Chợ, "
    "Trung Tâm, Cầu Đá, Đồng Vinh, Tân Hòa, Bình Sơn, Nông Trường".split(", ")
)
_HAN_FIRST = tuple(
    "Cao Bằng Đồng Quảng Yên Lãng Thượng Hà Xuân Kim Nam Bình Phúc Lương Vân Thanh Đức Hòa Tân "
    "Văn Quang Mỹ Nghĩa Hữu".split()
)
_HAN_SECOND = tuple(
    "Sơn Thành Lạc Phong Hưng Lộc Thịnh Vinh Tiến Minh Hiệp Trung Lâm Khê Tùng Bình Quang Phú "
    "An Yên".split()
)


@dataclass(frozen=True)
class DemoFiles:
    """Paths of the files :func:`generate_demo` wrote.

    Attributes
    ----------
    root
        The output folder.
    villages, sites, access_points, fiber, poles, ducts, pois, settlements
        GeoPackages, one layer each named as the file's stem, EPSG:4326.
    roads
        OSM XML (``roads.osm``): the road network and the river (``waterway=river``).
    dem
        Elevation GeoTIFF, metres, int16, 1 arc-second.
    population
        People per 3 arc-second cell, float32 GeoTIFF (nodata outside the province).
    samples
        Drive-test CSV: ``lon``, ``lat``, ``operator``, ``tech``, ``rsrp_dbm``, ``time``,
        ``source``, ``download_mbps``.
    declared
        CSV of the villages Viettel declares covered: ``village_id``, ``operator``, ``tech``.
    masts
        The registry of antenna masts (GeoPackage): one built mast per tower location, whose
        sites name it (``sites.mast_id``), and a few others (see :func:`_registry`).
    commitments
        CSV of operators' commitments: ``village_id``, ``operator``, ``tech``, ``due``.
    """

    root: Path
    villages: Path
    sites: Path
    access_points: Path
    fiber: Path
    poles: Path
    ducts: Path
    pois: Path
    settlements: Path
    roads: Path
    dem: Path
    population: Path
    samples: Path
    declared: Path
    masts: Path
    commitments: Path


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _rng(seed: int, stream: str) -> np.random.Generator:
    """Return the random stream `stream` of `seed` (independent of the other streams)."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


@lru_cache(maxsize=1)
def _transformers() -> tuple[Transformer, Transformer]:
    forward = Transformer.from_crs("EPSG:4326", WORK_CRS, always_xy=True)
    inverse = Transformer.from_crs(WORK_CRS, "EPSG:4326", always_xy=True)
    return forward, inverse


def _to_xy(lon: F64, lat: F64) -> tuple[F64, F64]:
    x, y = _transformers()[0].transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, float), np.asarray(y, float)


def _to_lonlat(x: F64, y: F64) -> tuple[F64, F64]:
    lon, lat = _transformers()[1].transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon, float), np.asarray(lat, float)


def _geoms_to_lonlat(geoms: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Reproject shapely geometries from the working CRS to EPSG:4326."""
    series = gpd.GeoSeries(geoms, crs=WORK_CRS).to_crs("EPSG:4326")
    return np.asarray(series.values, dtype=object)


def _local_km(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[F64, F64]:
    """Equirectangular kilometres around the province centre (used to shape the terrain)."""
    x = (np.asarray(lon, float) - _LON0) * _KM_LON
    y = (np.asarray(lat, float) - _LAT0) * _KM_LAT
    return x, y


def _disc(
    rng: np.random.Generator, n: int | tuple[int, ...], r_min: float, r_max: float
) -> tuple[F64, F64]:
    """Random offsets, uniform in area in the ring `r_min`..`r_max` metres."""
    r = np.sqrt(rng.uniform(r_min**2, r_max**2, n))
    a = rng.uniform(0.0, 2 * np.pi, n)
    return r * np.cos(a), r * np.sin(a)


def _top_k_per_group(groups: I64, weights: F64, k: I64, rng: np.random.Generator) -> Bool:
    """Weighted sampling without replacement of ``k[g]`` items in every group ``g``.

    Notes
    -----
    Efraimidis and Spirakis (2006), "Weighted random sampling with a reservoir": the items with
    the largest keys ``u ** (1 / w)`` (here ``log(u) / w``) form a weighted sample.
    """
    keys = np.log(rng.uniform(1e-12, 1.0, len(groups))) / np.maximum(weights, 1e-12)
    order = np.lexsort((-keys, groups))
    sorted_groups = groups[order]
    starts = np.searchsorted(sorted_groups, sorted_groups, side="left")
    rank = np.arange(len(order)) - starts
    chosen = np.zeros(len(groups), bool)
    chosen[order] = rank < k[sorted_groups]
    return chosen


def _largest_remainder(total: int, weights: F64) -> I64:
    """Split `total` into integers proportional to `weights` (Hamilton's method)."""
    quota = total * weights / weights.sum()
    base = np.floor(quota).astype(np.int64)
    rest = total - int(base.sum())
    base[np.argsort(-(quota - base), kind="stable")[:rest]] += 1
    return np.asarray(base, np.int64)


def _lloyd(sample: F64, weights: F64, seeds: F64, n_fixed: int, iterations: int) -> F64:
    """Weighted Lloyd relaxation of `seeds` over `sample` points; the first `n_fixed` stay.

    Notes
    -----
    Lloyd (1982), "Least squares quantization in PCM": each seed moves to the weighted
    centroid of the sample points nearest to it; the cells become compact, smaller where the
    weights are large.
    """
    seeds = seeds.copy()
    for _ in range(iterations):  # a few sequential relaxation steps
        _, nearest = cKDTree(seeds).query(sample)
        mass = np.bincount(nearest, weights, len(seeds))
        cx = np.bincount(nearest, weights * sample[:, 0], len(seeds))
        cy = np.bincount(nearest, weights * sample[:, 1], len(seeds))
        moving = mass > 0
        moving[:n_fixed] = False
        seeds[moving, 0] = cx[moving] / mass[moving]
        seeds[moving, 1] = cy[moving] / mass[moving]
    return seeds


def _distance_to_line(xy: F64, line: shapely.LineString) -> F64:
    """Distance (m) from each point to `line`, through an STRtree of the line's segments."""
    coords = shapely.get_coordinates(line)
    tree = shapely.STRtree(shapely.linestrings(np.stack([coords[:-1], coords[1:]], axis=1)))
    index, dist = tree.query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
    out = np.empty(len(xy))
    out[index[0]] = dist
    return out


def _uniform_in(polygon: shapely.Polygon, n: int, rng: np.random.Generator) -> F64:
    """`n` points uniform in `polygon` (rejection sampling in its bounds)."""
    x0, y0, x1, y1 = polygon.bounds
    share = polygon.area / ((x1 - x0) * (y1 - y0))
    xy = rng.uniform((x0, y0), (x1, y1), (int(n / share * 1.3) + 100, 2))
    inside = shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])
    return np.asarray(xy[inside][:n], float)


# --------------------------------------------------------------------------------------------
# Province outline, river, terrain
# --------------------------------------------------------------------------------------------


def _outline(rng: np.random.Generator) -> shapely.Polygon:
    """Draw an irregular outline: a 26 km circle deformed by random harmonics (working CRS)."""
    theta = np.linspace(0.0, 2 * np.pi, 720, endpoint=False)
    orders = np.arange(2, 13)
    amplitude = rng.uniform(0.4, 1.0, len(orders)) * 0.07 / orders**0.8
    phase = rng.uniform(0.0, 2 * np.pi, len(orders))
    wobble = (amplitude[:, None] * np.cos(orders[:, None] * theta + phase[:, None])).sum(0)
    radius_km = 26.0 * (1.0 + 0.12 * wobble / np.abs(wobble).max())
    lon = _LON0 + radius_km * np.cos(theta) / _KM_LON
    lat = _LAT0 + radius_km * np.sin(theta) / _KM_LAT
    x, y = _to_xy(lon, lat)
    return shapely.Polygon(np.column_stack([x, y]))


def _river_lonlat(rng: np.random.Generator) -> F64:
    """Draw the river's course, north to south, as (lon, lat) beyond both edges of the extent.

    Longitude is a function of latitude (a base line plus three meander harmonics), so the
    course never doubles back and splits the extent into two banks.
    """
    lat = np.linspace(_NORTH + 0.06, _SOUTH - 0.06, 1400)
    along = (_NORTH + 0.06 - lat) / (_NORTH - _SOUTH + 0.12)
    lon = 105.80 + 0.20 * along
    for amplitude, wavelength in ((0.016, 0.16), (0.008, 0.07), (0.004, 0.031)):
        lon = lon + amplitude * np.sin(2 * np.pi * lat / wavelength + rng.uniform(0, 2 * np.pi))
    return np.column_stack([lon, lat])


def _noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    *,
    cell_km: tuple[float, float],
    wavelength_km: tuple[float, float],
    beta: float,
    angle_deg: float = 0.0,
    stretch: float = 1.0,
) -> F64:
    """Band-limited power-law noise, unit variance, by filtering white noise in Fourier space.

    Notes
    -----
    Amplitude ``k ** (-beta / 2)`` between the wavelengths (Gaussian roll-offs), so the power
    spectrum falls as ``k ** -beta`` (Voss, "Random fractal forgeries", 1985). With
    ``stretch > 1`` features are elongated along `angle_deg` (ridges of one trend).
    """
    ky = np.fft.fftfreq(shape[0], d=cell_km[0]).astype(np.float32)[:, None]
    kx = np.fft.rfftfreq(shape[1], d=cell_km[1]).astype(np.float32)[None, :]
    a = math.radians(angle_deg)
    ku = kx * math.cos(a) + ky * math.sin(a)
    kv = -kx * math.sin(a) + ky * math.cos(a)
    k = np.hypot(ku * stretch, kv)
    short, long = wavelength_km
    amp = np.where(k > 0, np.maximum(k, 1e-9) ** (-beta / 2), 0.0).astype(np.float32)
    amp *= np.exp(-((k * short) ** 2)) * (1.0 - np.exp(-((k * long) ** 2)))
    white = rng.standard_normal(shape, dtype=np.float32)  # single precision: half the work
    field = scipy.fft.irfft2(scipy.fft.rfft2(white) * amp, s=shape).astype(float)
    return np.asarray((field - field.mean()) / field.std(), float)


def _upsample(grid: F64, factor: int) -> F64:
    """Bilinear interpolation of a square grid to `factor` times finer cells (cell centres).

    Separable: rows first, then columns; cells beyond the edge take the edge value.
    """
    n = grid.shape[0]
    pos = (np.arange(n * factor) + 0.5) / factor - 0.5
    lo = np.clip(np.floor(pos).astype(np.int64), 0, n - 1)
    hi = np.clip(lo + 1, 0, n - 1)
    w = np.clip(pos - np.floor(pos), 0.0, 1.0)
    rows = grid[lo] * (1.0 - w)[:, None] + grid[hi] * w[:, None]
    return np.asarray(rows[:, lo] * (1.0 - w)[None, :] + rows[:, hi] * w[None, :], float)


@dataclass(frozen=True)
class _Terrain:
    """Elevation on the 1 arc-second grid and on a 4 arc-second grid, and helpers."""

    dem: npt.NDArray[np.int16]
    coarse: F64
    slope: F64

    def _index(self, x: F64, y: F64, per_deg: int, size: int) -> tuple[I64, I64]:
        lon, lat = _to_lonlat(x, y)
        col = np.clip(np.floor((lon - _WEST) * per_deg), 0, size - 1).astype(np.int64)
        row = np.clip(np.floor((_NORTH - lat) * per_deg), 0, size - 1).astype(np.int64)
        return row, col

    def elevation(self, x: F64, y: F64) -> F64:
        """Elevation (m) of the 1 arc-second cell under each point."""
        row, col = self._index(x, y, _DEM_PER_DEG, self.dem.shape[0])
        return self.dem[row, col].astype(float)

    def slope_at(self, x: F64, y: F64) -> F64:
        """Slope (m/m) of the 4 arc-second cell under each point."""
        row, col = self._index(x, y, _DEM_PER_DEG // _COARSE, self.coarse.shape[0])
        return np.asarray(self.slope[row, col], float)


def _terrain(rng: np.random.Generator, river: F64, massifs: F64) -> _Terrain:
    """Synthesise the DEM.

    Notes
    -----
    On a 4 arc-second grid: a smooth regional swell (power-law noise, wavelengths 12-60 km),
    ridged noise trending west-north-west (``(1 - |n| / 1.7) ** 2`` of anisotropic band-pass noise,
    the "ridged multifractal" idea of Musgrave, "Texturing and Modeling", 1994), three
    Gaussian massifs, and the river valley: within a few km of the river the elevation is pulled
    down towards a floor that falls from 380 m upstream to 150 m downstream. Heights above
    1,000 m are compressed with ``tanh`` so that the highest peaks stay near 1,500 m. The grid
    is then interpolated to 1 arc-second and given fine relief (wavelengths 0.1-1.5 km).
    """
    n = (round((_NORTH - _SOUTH) * _DEM_PER_DEG)) // _COARSE
    step = _COARSE / _DEM_PER_DEG
    lon = _WEST + (np.arange(n) + 0.5) * step
    lat = _NORTH - (np.arange(n) + 0.5) * step
    gx, gy = _local_km(lon, lat)
    cell_km = (step * _KM_LAT, step * _KM_LON)
    swell = _noise(rng, (n, n), cell_km=cell_km, wavelength_km=(12.0, 60.0), beta=3.0)
    swell = np.clip((swell + 1.8) / 3.6, 0.0, 1.0)
    ridged = _noise(
        rng,
        (n, n),
        cell_km=cell_km,
        wavelength_km=(2.0, 10.0),
        beta=2.5,
        angle_deg=35.0,
        stretch=2.5,
    )
    ridged = np.clip(1.0 - np.abs(ridged) / 1.7, 0.0, 1.0) ** 2
    z = 230.0 + 520.0 * swell**1.3 + 600.0 * ridged * (0.25 + 0.75 * swell)
    mx, my = _local_km(massifs[:, 0], massifs[:, 1])
    heights = rng.uniform(600.0, 720.0, len(mx))
    sigmas = rng.uniform(3.5, 4.5, len(mx))
    d2 = (gx[None, None, :] - mx[:, None, None]) ** 2 + (gy[None, :, None] - my[:, None, None]) ** 2
    z = z + (heights[:, None, None] * np.exp(-d2 / (2 * sigmas[:, None, None] ** 2))).sum(0)

    # the river valley: distance to the river and the floor at the nearest river cell
    dense = shapely.get_coordinates(shapely.segmentize(shapely.LineString(river), 0.0003))
    col = np.floor((dense[:, 0] - _WEST) / step).astype(np.int64)
    row = np.floor((_NORTH - dense[:, 1]) / step).astype(np.int64)
    ok = (row >= 0) & (row < n) & (col >= 0) & (col < n)
    not_river = np.ones((n, n), bool)
    not_river[row[ok], col[ok]] = False
    dist_km, (irow, _icol) = ndimage.distance_transform_edt(
        not_river, sampling=cell_km, return_indices=True
    )
    river_lat = _NORTH - (irow + 0.5) * step
    floor = 150.0 + 230.0 * np.clip((river_lat - _SOUTH) / (_NORTH - _SOUTH), 0.0, 1.0)
    valley = 1.0 - np.exp(-((dist_km / 2.3) ** 2))
    z = np.where(z > floor, floor + (z - floor) * valley, z)
    z = np.where(z > 1000.0, 1000.0 + 520.0 * np.tanh((z - 1000.0) / 520.0), z)

    slope_y, slope_x = np.gradient(z, cell_km[0] * 1000.0, cell_km[1] * 1000.0)
    slope = np.hypot(slope_x, slope_y)

    fine_n = n * _COARSE
    full = _upsample(z, _COARSE)
    relief = _noise(
        rng,
        (fine_n, fine_n),
        cell_km=(cell_km[0] / _COARSE, cell_km[1] / _COARSE),
        wavelength_km=(0.1, 1.5),
        beta=2.0,
    )
    roughness = 8.0 + 30.0 * np.clip((full - 300.0) / 600.0, 0.0, 1.0)
    dem = np.clip(np.rint(full + roughness * relief), 100, 1600).astype(np.int16)
    return _Terrain(dem=dem, coarse=np.asarray(z, float), slope=np.asarray(slope, float))


# --------------------------------------------------------------------------------------------
# Administrative units and villages
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Admin:
    towns: F64  # (D, 2) district towns, the capital first
    commune_seeds: F64  # (C, 2), the first D are the towns' communes
    communes: npt.NDArray[Any]  # (C,) polygons
    commune_district: I64  # (C,)
    district_names: tuple[str, ...]
    commune_names: tuple[str, ...]


def _han_names(rng: np.random.Generator, count: int) -> list[str]:
    """`count` distinct two-syllable Sino-Vietnamese names."""
    pairs = [f"{a} {b}" for a in _HAN_FIRST for b in _HAN_SECOND if a != b]
    picked = rng.permutation(len(pairs))[:count]
    return [pairs[int(i)] for i in picked]


def _admin(
    rng: np.random.Generator,
    province: shapely.Polygon,
    terrain: _Terrain,
    river_line: shapely.LineString,
    n_districts: int,
    n_communes: int,
) -> _Admin:
    """Districts (towns in valleys) and communes (weighted Lloyd cells clipped to the outline)."""
    sample = _uniform_in(province, 25_000, rng)
    elevation = terrain.elevation(sample[:, 0], sample[:, 1])
    lowness = np.exp(-(elevation - 150.0) / 300.0)

    start = sample[rng.choice(len(sample), n_districts, replace=False, p=lowness / lowness.sum())]
    district_seeds = _lloyd(sample, lowness, start, 0, 12)
    inner = province.buffer(-2500.0)
    allowed = shapely.contains_xy(inner, sample[:, 0], sample[:, 1]) & (
        _distance_to_line(sample, river_line) > 500.0
    )
    d = np.hypot(
        sample[None, :, 0] - district_seeds[:, None, 0],
        sample[None, :, 1] - district_seeds[:, None, 1],
    )
    # the lowest allowed point within 5 km of the seed (the nearest allowed one if none)
    score = np.where(
        allowed[None, :], elevation[None, :] + 0.02 * d + np.where(d < 5000.0, 0.0, 1e6), np.inf
    )
    towns = sample[np.argmin(score, axis=1)]
    capital = int(np.argmin(_distance_to_line(towns, river_line)))
    order = np.concatenate([[capital], np.delete(np.arange(n_districts), capital)])
    towns = towns[order]

    others = sample[
        rng.choice(
            len(sample),
            n_communes - n_districts,
            replace=False,
            p=lowness**0.5 / (lowness**0.5).sum(),
        )
    ]
    seeds = _lloyd(sample, lowness**0.5, np.vstack([towns, others]), n_districts, 10)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=province, ordered=True)
    )
    communes = shapely.intersection(cells, province)
    _, district = cKDTree(towns).query(seeds)

    names = _han_names(rng, n_districts + n_communes)
    return _Admin(
        towns=towns,
        commune_seeds=seeds,
        communes=np.asarray(communes, dtype=object),
        commune_district=np.asarray(district, np.int64),
        district_names=tuple(names[:n_districts]),
        commune_names=tuple(names[n_districts:]),
    )


@dataclass(frozen=True)
class _Villages:
    xy: F64  # centres (cultural houses)
    commune: I64
    polygon: npt.NDArray[Any]
    elevation: F64
    town: Bool  # a residential group (tổ dân phố) of a district town
    population: I64
    households: I64
    hq: Bool  # holds the commune's People's Committee
    name: tuple[str, ...]
    village_id: tuple[str, ...]
    detour_pair: tuple[int, int]  # (village without own access point, its neighbour across)


def _pair_site(
    river_xy: F64, bridges_t: F64, towns: F64, province: shapely.Polygon, east: shapely.Polygon
) -> tuple[F64, F64]:
    """Two points 190 m either side of the river, far from bridges and towns (east, west)."""
    line = shapely.LineString(river_xy)
    length = line.length
    candidates = np.concatenate([np.linspace(0.25, 0.42, 12), np.linspace(0.60, 0.76, 12)])
    far_bridge = np.abs(candidates[:, None] - bridges_t[None, :]).min(1) * length > 8000.0
    p = shapely.get_coordinates(shapely.line_interpolate_point(line, candidates * length))
    q = shapely.get_coordinates(shapely.line_interpolate_point(line, candidates * length + 50))
    tangent = (q - p) / np.hypot(*(q - p).T)[:, None]
    normal = np.column_stack([tangent[:, 1], -tangent[:, 0]])
    a, b = p + 190.0 * normal, p - 190.0 * normal
    inner = province.buffer(-3000.0)
    ok = far_bridge & shapely.contains_xy(inner, *a.T) & shapely.contains_xy(inner, *b.T)
    a_east = shapely.contains_xy(east, *a.T)
    ok &= a_east != shapely.contains_xy(east, *b.T)
    town_d = np.hypot(p[:, None, 0] - towns[None, :, 0], p[:, None, 1] - towns[None, :, 1]).min(1)
    pick = int(np.argmax(np.where(ok, town_d, -1.0)))
    if not ok[pick]:
        raise InputError(
            Problem(
                file="options",
                column="seed",
                message="no place for the river-crossing village pair in this seed's province",
                fix="try another seed",
            )
        )
    if a_east[pick]:
        return a[pick], b[pick]
    return b[pick], a[pick]


def _place_villages(
    rng: np.random.Generator,
    n_villages: int,
    province: shapely.Polygon,
    terrain: _Terrain,
    admin: _Admin,
    river_line: shapely.LineString,
    pair: tuple[F64, F64],
) -> tuple[F64, I64]:
    """Village centres: district towns and the river pair, then weighted draws per commune.

    Candidates lie on a jittered grid (so centres stay about 200 m apart); their weight favours
    low, flat land, the surroundings of district towns and the river plain.
    """
    forced = np.vstack([admin.towns, pair[0], pair[1]])
    cell = math.sqrt(province.area / (7.0 * n_villages))
    x0, y0, x1, y1 = province.bounds
    gx, gy = np.meshgrid(np.arange(x0, x1, cell), np.arange(y0, y1, cell))
    xy = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(0.2, 0.8, (gx.size, 2)) * cell
    keep = shapely.contains_xy(province, xy[:, 0], xy[:, 1])
    xy = xy[keep]
    river_d = _distance_to_line(xy, river_line)
    forced_d = np.hypot(xy[:, None, 0] - forced[None, :, 0], xy[:, None, 1] - forced[None, :, 1])
    keep = (river_d > 150.0) & (forced_d.min(1) > 350.0)
    xy, river_d = xy[keep], river_d[keep]
    town_d = np.hypot(
        xy[:, None, 0] - admin.towns[None, :, 0], xy[:, None, 1] - admin.towns[None, :, 1]
    ).min(1)
    elevation = terrain.elevation(xy[:, 0], xy[:, 1])
    slope = terrain.slope_at(xy[:, 0], xy[:, 1])
    weight = (
        np.exp(-(elevation - 150.0) / 300.0)
        * np.exp(-slope / 0.45)
        * (1.0 + 6.0 * np.exp(-((town_d / 1800.0) ** 2)))
        * (1.0 + 1.5 * np.exp(-((river_d / 1500.0) ** 2)))
    )
    _, commune = cKDTree(admin.commune_seeds).query(xy)
    _, forced_commune = cKDTree(admin.commune_seeds).query(forced)
    n_communes = len(admin.commune_seeds)
    available = np.bincount(commune, minlength=n_communes)
    free = n_villages - len(forced)
    quota = np.bincount(commune, weight, n_communes).astype(float)
    k = 4 + _largest_remainder(free - 4 * n_communes, quota)
    over = k > available
    if over.any():  # tiny communes: give their surplus to the largest ones
        surplus = int((k - available)[over].sum())
        k = np.minimum(k, available)
        k[np.argsort(-available, kind="stable")[:surplus]] += 1
    chosen = _top_k_per_group(commune, weight, k, rng)
    centres = np.vstack([forced, xy[chosen]])
    communes = np.concatenate([forced_commune, commune[chosen]]).astype(np.int64)
    return centres, communes


def _village_cells(xy: F64, commune: I64, communes: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Voronoi cells of the village centres within each commune, clipped to the commune."""
    order = np.argsort(commune, kind="stable")
    multipoints = shapely.multipoints(shapely.points(xy[order]), indices=commune[order])
    present = np.unique(commune[order])
    diagrams = shapely.voronoi_polygons(multipoints, extend_to=communes[present], ordered=True)
    cells, which = shapely.get_parts(diagrams, return_index=True)
    if len(cells) != len(xy):
        raise RuntimeError("a commune's Voronoi diagram lost a village")  # a generator bug
    clipped = shapely.intersection(cells, communes[present][which])
    polygons = np.empty(len(xy), dtype=object)
    polygons[order] = clipped
    return polygons


def _village_names(
    rng: np.random.Generator, town: Bool, commune: I64, elevation: F64, town_rank: I64
) -> list[str]:
    """Names: "Tổ dân phố k" in towns, "Bản …" high up, "Thôn …" elsewhere, unique per commune."""
    n = len(town)
    tay = np.array([f"{a} {b}" for a in _TAY_FIRST for b in _TAY_SECOND])
    is_tay = rng.uniform(size=n) < np.clip((elevation - 200.0) / 400.0, 0.25, 0.95)
    core = np.where(
        is_tay,
        tay[rng.integers(0, len(tay), n)],
        np.array(_KINH_VILLAGE)[rng.integers(0, len(_KINH_VILLAGE), n)],
    )
    prefix = np.where(is_tay & (elevation > 520.0), "Bản ", "Thôn ")
    frame = pd.DataFrame({"commune": commune, "core": core})
    repeat = frame.groupby(["commune", "core"]).cumcount().to_numpy()
    suffix = np.where(repeat > 0, np.char.add(" ", (repeat + 1).astype(str)), "")
    rural = np.char.add(np.char.add(prefix, core.astype(str)), suffix)
    urban = np.char.add("Tổ dân phố ", town_rank.astype(str))
    return [str(s) for s in np.where(town, urban, rural)]


def _villages(
    rng: np.random.Generator,
    n_villages: int,
    province: shapely.Polygon,
    terrain: _Terrain,
    admin: _Admin,
    river_line: shapely.LineString,
    pair: tuple[F64, F64],
) -> _Villages:
    xy, commune = _place_villages(rng, n_villages, province, terrain, admin, river_line, pair)
    n_towns = len(admin.towns)
    polygons = _village_cells(xy, commune, admin.communes)
    elevation = terrain.elevation(xy[:, 0], xy[:, 1])
    town_commune = commune < n_towns
    town_d = np.hypot(
        xy[:, 0] - admin.towns[np.minimum(commune, n_towns - 1), 0],
        xy[:, 1] - admin.towns[np.minimum(commune, n_towns - 1), 1],
    )
    town = town_commune & (town_d < 2200.0)
    town_rank = (
        pd.Series(np.where(town, town_d, np.inf))
        .groupby(commune)
        .rank(method="first")
        .to_numpy()
        .astype(np.int64)
    )

    median = np.where(town, 430.0, np.clip(260.0 * np.exp(-(elevation - 200.0) / 800.0), 90, None))
    population = np.maximum(35, np.rint(median * rng.lognormal(0.0, 0.4, len(xy))))
    pair_idx = (n_towns, n_towns + 1)
    # the commune's People's Committee sits in its largest village (the town in a town commune)
    candidate = np.where(np.isin(np.arange(len(xy)), pair_idx), -1.0, population)
    candidate[:n_towns] = np.inf
    hq_of = (
        pd.Series(candidate)
        .groupby(commune)
        .idxmax()
        .reindex(np.arange(len(admin.communes)))
        .to_numpy()
    )
    hq = np.zeros(len(xy), bool)
    hq[hq_of[~np.isnan(hq_of)].astype(np.int64)] = True
    population = np.where(hq & ~town, np.rint(population * 1.4), population).astype(np.int64)
    households = np.maximum(8, np.rint(population / rng.normal(4.2, 0.25, len(xy))))

    names = _village_names(rng, town, commune, elevation, town_rank)
    district = admin.commune_district[commune]
    order = np.lexsort((-xy[:, 1], commune, district))
    seq = np.empty(len(xy), np.int64)
    seq[order] = pd.Series(district[order]).groupby(district[order]).cumcount().to_numpy() + 1
    ids = [f"DM-{d + 1:02d}-{s:04d}" for d, s in zip(district, seq, strict=True)]
    return _Villages(
        xy=xy,
        commune=commune,
        polygon=polygons,
        elevation=elevation,
        town=town,
        population=population,
        households=households.astype(np.int64),
        hq=hq,
        name=tuple(names),
        village_id=tuple(ids),
        detour_pair=pair_idx,
    )


# --------------------------------------------------------------------------------------------
# Settlements and the population raster
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settlements:
    xy: F64
    village: I64
    population: I64
    rank: I64  # 1 for the main cluster at the cultural house


def _settlements(rng: np.random.Generator, villages: _Villages, terrain: _Terrain) -> _Settlements:
    """1-4 residential clusters a village: the main one at the centre, the others in its polygon.

    Bigger villages have more clusters. Extra clusters are drawn among 24 random points of the
    polygon, favouring low ground at least 300 m from the centre; the population is split with
    the main cluster taking the largest share.
    """
    n = len(villages.xy)
    area_km2 = shapely.area(villages.polygon) / 1e6
    wanted = np.clip(1 + rng.poisson(0.45 * area_km2 + 0.3), 1, 4)
    tries = 24
    bounds = shapely.bounds(villages.polygon)
    u = rng.uniform(size=(n, tries, 2))
    cx = bounds[:, None, 0] + u[..., 0] * (bounds[:, None, 2] - bounds[:, None, 0])
    cy = bounds[:, None, 1] + u[..., 1] * (bounds[:, None, 3] - bounds[:, None, 1])
    owner = np.repeat(np.arange(n), tries)
    inside = shapely.contains_xy(villages.polygon[owner], cx.ravel(), cy.ravel())
    dist = np.hypot(cx.ravel() - villages.xy[owner, 0], cy.ravel() - villages.xy[owner, 1])
    ok = inside & (dist > 300.0)
    elevation = terrain.elevation(cx.ravel(), cy.ravel())
    weight = np.exp(-(elevation - villages.elevation[owner]) / 150.0) * ok
    chosen = _top_k_per_group(owner, weight, wanted - 1, rng) & ok
    extra_village = owner[chosen]
    main_xy = villages.xy + np.column_stack(_disc(rng, n, 0.0, 60.0))
    xy = np.vstack([main_xy, np.column_stack([cx.ravel()[chosen], cy.ravel()[chosen]])])
    village = np.concatenate([np.arange(n), extra_village])
    order = np.lexsort((np.arange(len(village)), village))
    xy, village = xy[order], village[order]
    rank = pd.Series(village).groupby(village).cumcount().to_numpy() + 1
    count = np.bincount(village, minlength=n)
    share = np.where(rank == 1, 2.5, 1.0) * rng.uniform(0.6, 1.4, len(village))
    pvals = np.zeros((n, 4))
    pvals[village, rank - 1] = share
    pvals /= pvals.sum(1, keepdims=True)
    split = rng.multinomial(villages.population, pvals)
    population = split[village, rank - 1]
    log.debug(
        "settlements: %d clusters, %d villages with more than one",
        len(village),
        int((count > 1).sum()),
    )
    return _Settlements(
        xy=xy,
        village=village.astype(np.int64),
        population=population.astype(np.int64),
        rank=rank.astype(np.int64),
    )


def _population_raster(
    villages: _Villages, polygons_ll: npt.NDArray[Any], settlements: _Settlements
) -> tuple[npt.NDArray[np.float32], Any]:
    """People per 3 arc-second cell whose sum over each village is its population.

    Notes
    -----
    Every cluster's people are put in its cell and smoothed with a Gaussian kernel (sigma 1.3
    cells); a tenth of each village's people is spread evenly over the village. The result is
    then scaled, village by village, so that its cells sum to the village's population
    (dasymetric mapping: Mennis, "Generating surface models of population using dasymetric
    mapping", 2003). Villages smaller than a cell put their people in the cell of their centre.
    """
    size = round((_NORTH - _SOUTH) * _POP_PER_DEG)
    transform = from_origin(_WEST, _NORTH, 1 / _POP_PER_DEG, 1 / _POP_PER_DEG)
    zone = features.rasterize(
        zip(polygons_ll, range(1, len(polygons_ll) + 1), strict=True),
        out_shape=(size, size),
        transform=transform,
        fill=0,
        dtype="int32",
    ).astype(np.int64)
    lon, lat = _to_lonlat(settlements.xy[:, 0], settlements.xy[:, 1])
    row = np.clip(np.floor((_NORTH - lat) * _POP_PER_DEG), 0, size - 1).astype(np.int64)
    col = np.clip(np.floor((lon - _WEST) * _POP_PER_DEG), 0, size - 1).astype(np.int64)
    mass = np.zeros((size, size))
    np.add.at(mass, (row, col), settlements.population.astype(float))
    mass = ndimage.gaussian_filter(mass, 1.3)
    n = len(villages.xy)
    pop = villages.population.astype(float)
    cells = np.bincount(zone.ravel(), minlength=n + 1)[1:]
    flat = np.concatenate([[0.0], 0.1 * pop / np.maximum(cells, 1)])
    mass = mass + flat[zone]
    total = np.bincount(zone.ravel(), mass.ravel(), n + 1)[1:]
    scale = np.concatenate([[0.0], np.where(total > 0, pop / np.where(total > 0, total, 1), 0.0)])
    people = mass * scale[zone]
    empty = np.flatnonzero(cells == 0)
    if len(empty):
        clon, clat = _to_lonlat(villages.xy[empty, 0], villages.xy[empty, 1])
        np.add.at(
            people,
            (
                np.floor((_NORTH - clat) * _POP_PER_DEG).astype(np.int64),
                np.floor((clon - _WEST) * _POP_PER_DEG).astype(np.int64),
            ),
            pop[empty],
        )
    people = np.where(zone > 0, people, _POP_NODATA)
    return people.astype(np.float32), transform


# --------------------------------------------------------------------------------------------
# Roads: least-cost paths on a terrain graph
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Roads:
    """Road ways as a ragged array over nodes (grid nodes first, then one node per village).

    Way ``w`` is ``nodes[ptr[w]:ptr[w + 1]]``, drawn from its start (a town or village centre)
    towards the network it joins; `parent` is the way it joins (-1 for the first).
    """

    node_xy: F64
    nodes: I64
    ptr: I64
    highway: tuple[str, ...]
    parent: I64
    village_way: I64  # the way that starts at each village (-1 if none)
    bridges: I64  # (k, 2) node pairs of the bridge edges
    village_paths: I64  # full grid paths of the villages reached at the last level (padded -1)
    village_path_rows: I64  # village of each row of village_paths

    def way_nodes(self, way: int) -> I64:
        """Nodes of one way."""
        return self.nodes[self.ptr[way] : self.ptr[way + 1]]

    def lines(self, ways: I64) -> npt.NDArray[Any]:
        """LineStrings (working CRS) of the given ways."""
        lengths = self.ptr[ways + 1] - self.ptr[ways]
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        idx = np.repeat(self.ptr[ways], lengths) + within
        return np.asarray(
            shapely.linestrings(
                self.node_xy[self.nodes[idx]], indices=np.repeat(np.arange(len(ways)), lengths)
            ),
            dtype=object,
        )


def _backtrack(pred: npt.NDArray[np.integer[Any]], targets: I64) -> I64:
    """Paths from every target back to its source along a predecessor array, padded with -1.

    All targets step back together, one array operation a step (sequential only in the path
    length). A node whose predecessor is negative (a source) ends its path.

    Examples
    --------
    >>> _backtrack(np.array([-9999, 0, 1, 1]), np.array([2, 3, 0])).tolist()
    [[2, 1, 0], [3, 1, 0], [0, -1, -1]]
    """
    columns = [np.asarray(targets, np.int64)]
    current = columns[0]
    while True:
        step = np.where(current >= 0, pred[np.maximum(current, 0)], -1).astype(np.int64)
        step[step < 0] = -1
        if not (step >= 0).any():
            break
        columns.append(step)
        current = step
    return np.stack(columns, axis=1)


def _claim(paths: I64, stop: Bool) -> I64:
    """Where each path's own stretch ends: at a stop node or a node an earlier path holds.

    Paths of one shortest-path forest share their tails, so the nodes a path is the first to
    visit form a prefix of it; the returned index is the node where that prefix joins the
    network (a stop node) or an earlier path.

    Examples
    --------
    >>> paths = np.array([[3, 2, 1, 0], [4, 2, 1, 0], [5, 1, 0, -1]])
    >>> stop = np.array([True, False, False, False, False, False])
    >>> _claim(paths, stop).tolist()
    [3, 1, 1]
    """
    valid = paths >= 0
    rows = np.broadcast_to(np.arange(len(paths))[:, None], paths.shape)
    first_row = np.full(len(stop), len(paths), np.int64)
    np.minimum.at(first_row, paths[valid], rows[valid])
    safe = np.maximum(paths, 0)
    end = valid & ((first_row[safe] != rows) | stop[safe])
    return np.asarray(end.argmax(axis=1), np.int64)


def _road_graph(
    terrain: _Terrain,
    province: shapely.Polygon,
    river_pieces: shapely.STRtree,
    bridge_points: F64,
    rng: np.random.Generator,
) -> tuple[F64, F64, sparse.csr_matrix, I64, npt.NDArray[np.int64]]:
    """Grid nodes (8 arc-seconds, jittered), their elevation, the cost graph and bridge edges.

    Notes
    -----
    8-connected grid. An edge costs its length times ``1 + (grade / 0.07)²`` (grades above
    7 % cost fast, as road design limits them) times ``1 + max(z - 450, 0) / 600`` (high
    ground is avoided). Edges that cross the river are removed, except the one closest to each
    bridge point.
    """
    size = round((_NORTH - _SOUTH) * _DEM_PER_DEG) // _ROAD
    step = _ROAD / _DEM_PER_DEG
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    jitter = rng.uniform(-0.3, 0.3, (2, size, size))
    lon = _WEST + (cols + 0.5 + jitter[0]) * step
    lat = _NORTH - (rows + 0.5 + jitter[1]) * step
    x, y = _to_xy(lon.ravel(), lat.ravel())
    active = shapely.contains_xy(province.buffer(1500.0), x, y)
    index = np.full(size * size, -1, np.int64)
    index[active] = np.arange(int(active.sum()))
    xy = np.column_stack([x[active], y[active]])
    z = terrain.elevation(xy[:, 0], xy[:, 1])
    grid = index.reshape(size, size)
    pairs = []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):  # the four edge directions
        c0, c1 = max(0, -dc), size - max(0, dc)
        a = grid[0 : size - dr, c0:c1]
        b = grid[dr:size, c0 + dc : c1 + dc]
        ok = (a >= 0) & (b >= 0)
        pairs.append(np.column_stack([a[ok], b[ok]]))
    edges = np.vstack(pairs)
    segments = shapely.linestrings(np.stack([xy[edges[:, 0]], xy[edges[:, 1]]], axis=1))
    hit = river_pieces.query(segments, predicate="intersects")
    crossing = np.zeros(len(edges), bool)
    crossing[hit[0]] = True
    cross_idx = np.flatnonzero(crossing)
    mid = (xy[edges[cross_idx, 0]] + xy[edges[cross_idx, 1]]) / 2
    _, nearest = cKDTree(mid).query(bridge_points)
    bridge_edges = edges[cross_idx[nearest]]
    keep = ~crossing
    keep[cross_idx[nearest]] = True
    edges = edges[keep]
    length = np.hypot(*(xy[edges[:, 0]] - xy[edges[:, 1]]).T)
    grade = np.abs(z[edges[:, 0]] - z[edges[:, 1]]) / length
    height = (z[edges[:, 0]] + z[edges[:, 1]]) / 2
    cost = length * (1.0 + (grade / 0.07) ** 2) * (1.0 + np.maximum(height - 450.0, 0.0) / 600.0)
    n = len(xy)
    graph = sparse.coo_matrix((cost, (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    return xy, z, graph, bridge_edges, grid


def _attach(
    points: F64,
    grid: npt.NDArray[np.int64],
    node_xy: F64,
    usable: Bool,
    river_pieces: shapely.STRtree,
) -> I64:
    """For each point, the nearest usable grid node in its 5 x 5 neighbourhood on its bank."""
    size = grid.shape[0]
    step = _ROAD / _DEM_PER_DEG
    lon, lat = _to_lonlat(points[:, 0], points[:, 1])
    r0 = np.floor((_NORTH - lat) / step).astype(np.int64)
    c0 = np.floor((lon - _WEST) / step).astype(np.int64)
    dr, dc = np.meshgrid(np.arange(-2, 3), np.arange(-2, 3), indexing="ij")
    r = np.clip(r0[:, None] + dr.ravel()[None, :], 0, size - 1)
    c = np.clip(c0[:, None] + dc.ravel()[None, :], 0, size - 1)
    cand = grid[r, c]
    ok = cand >= 0
    ok[ok] = usable[cand[ok]]
    safe = np.maximum(cand, 0)
    dist = np.hypot(node_xy[safe, 0] - points[:, None, 0], node_xy[safe, 1] - points[:, None, 1])
    owner = np.repeat(np.arange(len(points)), cand.shape[1])
    spur = shapely.linestrings(
        np.stack([np.repeat(points, cand.shape[1], axis=0), node_xy[safe.ravel()]], axis=1)
    )
    crosses = np.zeros(len(owner), bool)
    crosses[river_pieces.query(spur, predicate="intersects")[0]] = True
    ok &= ~crosses.reshape(cand.shape)
    if not ok.any(axis=1).all():
        raise RuntimeError("a village has no road-grid node on its bank within 5 cells")  # a bug
    return np.asarray(
        cand[np.arange(len(points)), np.argmin(np.where(ok, dist, np.inf), 1)], np.int64
    )


def _roads(
    terrain: _Terrain,
    province: shapely.Polygon,
    river_xy: F64,
    bridge_points: F64,
    villages: _Villages,
    n_towns: int,
    rng: np.random.Generator,
) -> _Roads:
    """Least-cost road network in three levels.

    1. District towns, joined one at a time to the network grown from the capital (Prim's
       algorithm with least-cost paths): primary for the first two links, secondary after.
    2. Each commune's People's Committee to the nearest point of that network: tertiary.
    3. Every other village to the nearest point of levels 1-2: unclassified when the way serves
       three villages or more or a large one, track otherwise, residential in towns.

    Each level is one multi-source Dijkstra (scipy.sparse.csgraph) and a vectorised backtrack;
    the paths form a forest, cut into ways with :func:`_claim`.
    """
    pieces = shapely.get_parts(shapely.segmentize(shapely.LineString(river_xy), 200.0))
    coords = shapely.get_coordinates(pieces)
    river_tree = shapely.STRtree(shapely.linestrings(np.stack([coords[:-1], coords[1:]], 1)))
    node_xy, _z, graph, bridges, grid = _road_graph(
        terrain, province, river_tree, bridge_points, rng
    )
    n_grid = len(node_xy)
    _, label = csgraph.connected_components(graph, directed=False)
    usable = label == np.bincount(label).argmax()
    attach = _attach(villages.xy, grid, node_xy, usable, river_tree)
    all_xy = np.vstack([node_xy, villages.xy])

    network = np.zeros(n_grid, bool)
    owner = np.full(n_grid, -1, np.int64)
    ways: list[I64] = [np.array([n_grid + 0, attach[0]])]
    highway = ["primary"]
    parent = [-1]
    network[attach[0]] = True
    owner[attach[0]] = 0
    joined = np.zeros(n_towns, bool)
    joined[0] = True
    for link in range(n_towns - 1):  # Prim's algorithm over the towns: sequential, few steps
        dist, pred, _ = csgraph.dijkstra(
            graph,
            directed=False,
            indices=np.flatnonzero(network),
            min_only=True,
            return_predecessors=True,
        )
        town = int(np.argmin(np.where(joined, np.inf, dist[attach[:n_towns]])))
        path = _backtrack(pred, np.array([attach[town]]))[0]
        path = path[path >= 0]
        ways.append(np.concatenate([[n_grid + town], path]))
        highway.append("primary" if link < 2 else "secondary")
        parent.append(int(owner[path[-1]]))
        owner[path[:-1]] = len(ways) - 1
        network[path] = True
        joined[town] = True

    village_way = np.full(len(villages.xy), -1, np.int64)
    village_way[np.array([w[0] - n_grid for w in ways])] = np.arange(len(ways))

    levels = (
        (np.flatnonzero(villages.hq & (villages.commune >= n_towns)), "tertiary"),
        (np.flatnonzero(~villages.hq & (np.arange(len(villages.xy)) >= n_towns)), ""),
    )
    paths3 = np.zeros((0, 1), np.int64)
    rows3 = np.zeros(0, np.int64)
    flat = [np.concatenate(ways)]
    lengths = [np.array([len(w) for w in ways])]
    classes = list(highway)
    parents = [np.array(parent)]
    n_ways = len(ways)
    for targets, level_class in levels:
        dist, pred, _ = csgraph.dijkstra(
            graph,
            directed=False,
            indices=np.flatnonzero(network),
            min_only=True,
            return_predecessors=True,
        )
        order = targets[np.argsort(-dist[attach[targets]], kind="stable")]
        paths = _backtrack(pred, attach[order])
        end = _claim(paths, network)
        k = len(order)
        rows = np.broadcast_to(np.arange(k)[:, None], paths.shape)
        cols = np.broadcast_to(np.arange(paths.shape[1])[None, :], paths.shape)
        own = (cols < end[:, None]) & (paths >= 0)
        owner[paths[own]] = n_ways + rows[own]
        junction = paths[np.arange(k), end]
        parents.append(owner[junction].copy())
        full = np.column_stack([n_grid + order, paths])
        keep = np.arange(full.shape[1])[None, :] <= end[:, None] + 1
        flat.append(full[keep])
        lengths.append(end + 2)
        if level_class:
            classes.extend([level_class] * k)
        else:
            served = np.zeros(n_grid, np.int64)
            np.add.at(served, paths[paths >= 0], 1)
            busy = served[paths[np.arange(k), np.maximum(end - 1, 0)]] >= 3
            big = villages.population[order] >= 400
            classes.extend(
                np.where(
                    villages.town[order],
                    "residential",
                    np.where(busy | big, "unclassified", "track"),
                ).tolist()
            )
            paths3, rows3 = paths, order
        village_way[order] = n_ways + np.arange(k)
        network[paths[own]] = True
        n_ways += k
    lengths_all = np.concatenate(lengths)
    return _Roads(
        node_xy=all_xy,
        nodes=np.concatenate(flat).astype(np.int64),
        ptr=np.concatenate([[0], np.cumsum(lengths_all)]).astype(np.int64),
        highway=tuple(classes),
        parent=np.concatenate(parents).astype(np.int64),
        village_way=village_way,
        bridges=np.asarray(bridges, np.int64),
        village_paths=paths3,
        village_path_rows=rows3,
    )


def _write_osm(path: Path, roads: _Roads, river_ll: F64) -> None:
    """Write the roads and the river as OSM XML (API 0.6) that osmnx reads offline.

    Ways are split at the bridge edges, which become ways of their own tagged ``bridge=yes``.
    Serialising is a loop over ways (about one per village).
    """
    # cut the ways at the bridge edges: a bridge edge (i, i + 1) ends one piece, is a piece of
    # its own and starts the next; pieces are (first, last) positions in the node array
    way_of = np.repeat(np.arange(len(roads.highway)), np.diff(roads.ptr))
    big = int(roads.nodes.max()) + 1
    a, b = roads.nodes[:-1], roads.nodes[1:]
    keys = np.minimum(a, b) * big + np.maximum(a, b)
    bridge_keys = roads.bridges.min(1) * big + roads.bridges.max(1)
    at_bridge = np.flatnonzero((way_of[:-1] == way_of[1:]) & np.isin(keys, bridge_keys))
    first = np.sort(np.concatenate([roads.ptr[:-1], at_bridge, at_bridge + 1]))
    last = np.sort(np.concatenate([roads.ptr[1:] - 1, at_bridge, at_bridge + 1]))
    keep = last > first
    first, last = first[keep], last[keep]
    is_bridge = np.isin(first, at_bridge) & (last == first + 1)
    used = np.unique(roads.nodes)
    lon, lat = _to_lonlat(roads.node_xy[used, 0], roads.node_xy[used, 1])
    first_river = int(used.max()) + 2
    river_ids = np.arange(first_river, first_river + len(river_ll))
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<osm version="0.6" generator="hatangso demo (synthetic data)">',
        f'  <bounds minlat="{_SOUTH}" minlon="{_WEST}" maxlat="{_NORTH}" maxlon="{_EAST}"/>',
    ]
    lines += [
        f'  <node id="{i + 1}" version="1" lat="{b:.7f}" lon="{a:.7f}"/>'
        for i, a, b in zip(used.tolist(), lon.tolist(), lat.tolist(), strict=True)
    ]
    lines += [
        f'  <node id="{i}" version="1" lat="{b:.7f}" lon="{a:.7f}"/>'
        for i, a, b in zip(
            river_ids.tolist(), river_ll[:, 0].tolist(), river_ll[:, 1].tolist(), strict=True
        )
    ]
    refs = {"primary": "QL.D1", "secondary": "ĐT.D2"}
    pieces = zip(first.tolist(), last.tolist(), is_bridge.tolist(), strict=True)
    for way_id, (start, end, bridge) in enumerate(pieces, start=1):  # serialising: one a way
        cls = roads.highway[int(way_of[start])]
        lines.append(f'  <way id="{way_id}" version="1">')
        lines += [f'    <nd ref="{n + 1}"/>' for n in roads.nodes[start : end + 1].tolist()]
        lines.append(f'    <tag k="highway" v="{cls}"/>')
        if cls in refs:
            lines.append(f'    <tag k="ref" v={quoteattr(refs[cls])}/>')
        if bridge:
            lines.append('    <tag k="bridge" v="yes"/>')
            lines.append('    <tag k="layer" v="1"/>')
        lines.append("  </way>")
    lines.append(f'  <way id="{len(first) + 1}" version="1">')
    lines += [f'    <nd ref="{i}"/>' for i in river_ids.tolist()]
    lines.append('    <tag k="waterway" v="river"/>')
    lines.append(f'    <tag k="name" v={quoteattr("Sông Demo")}/>')
    lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Points of interest, sites
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pois:
    xy: F64
    kind: tuple[str, ...]
    name: tuple[str, ...]
    data_network: tuple[bool | None, ...]


def _pois(
    rng: np.random.Generator,
    villages: _Villages,
    admin: _Admin,
    roads: _Roads,
    river_line: shapely.LineString,
) -> _Pois:
    """District centres, one industrial park, three tourism sites, commune People's Committees."""
    n_towns = len(admin.towns)
    xy: list[F64] = []
    kind: list[str] = []
    name: list[str] = []
    dn: list[bool | None] = []
    off = np.column_stack(_disc(rng, n_towns, 60.0, 150.0))
    xy.append(admin.towns + off)
    kind += ["district_centre"] * n_towns
    name += [f"UBND huyện {d}" for d in admin.district_names]
    dn += [None] * n_towns

    # the industrial park: beside a primary road about 4.5 km from the capital
    primary = np.flatnonzero(np.array(roads.highway) == "primary")
    nodes = np.unique(np.concatenate([roads.way_nodes(int(w)) for w in primary]))
    d = np.hypot(*(roads.node_xy[nodes] - admin.towns[0]).T)
    pick = nodes[np.argmin(np.abs(d - 4500.0))]
    park = roads.node_xy[pick] + np.array(_disc(rng, 1, 150.0, 250.0)).ravel()
    xy.append(park[None, :])
    kind.append("industrial_park")
    name.append("Khu công nghiệp Demo")
    dn.append(None)

    # tourism: a riverside village far from towns, a high village, a mid-slope village
    vd = np.hypot(
        villages.xy[:, None, 0] - admin.towns[None, :, 0],
        villages.xy[:, None, 1] - admin.towns[None, :, 1],
    ).min(1)
    river_d = _distance_to_line(villages.xy, river_line)
    plain = np.where((vd > 6000) & (river_d < 1500), -villages.elevation, -np.inf)
    high = np.where(vd > 6000, villages.elevation, -np.inf)
    mid = np.where(
        (villages.elevation > 400) & (villages.elevation < 700) & (vd > 4000),
        rng.uniform(size=len(vd)),
        -np.inf,
    )
    spots = [int(np.argmax(plain)), int(np.argmax(high)), int(np.argmax(mid))]
    xy.append(villages.xy[spots] + np.column_stack(_disc(rng, 3, 200.0, 400.0)))
    kind += ["tourism"] * 3
    name += ["Khu du lịch sinh thái hồ Nà Demo", "Điểm ngắm cảnh đỉnh Phja Demo", "Động Khuổi Demo"]
    dn += [None] * 3

    hq = np.flatnonzero(villages.hq)
    hq = hq[np.argsort(villages.commune[hq], kind="stable")]
    xy.append(villages.xy[hq] + np.column_stack(_disc(rng, len(hq), 30.0, 90.0)))
    kind += ["commune_hq"] * len(hq)
    prefix = ["Thị trấn" if c < n_towns else "xã" for c in villages.commune[hq]]
    cname = [
        admin.district_names[c] if c < n_towns else admin.commune_names[c]
        for c in villages.commune[hq]
    ]
    name += [f"UBND {p} {c}" for p, c in zip(prefix, cname, strict=True)]
    connected = rng.uniform(size=len(hq)) > 0.07
    connected[np.argmax(villages.elevation[hq])] = False  # at least one commune is offline
    connected[villages.commune[hq] < n_towns] = True
    dn += [bool(c) for c in connected]
    return _Pois(xy=np.vstack(xy), kind=tuple(kind), name=tuple(name), data_network=tuple(dn))


#: The NB-IoT reach the demo's NB-IoT carrier is placed for. NB-IoT's maximum coupling loss is
#: 164 dB against about 144 dB for LTE (3GPP TR 45.820): 20 dB more, which at Okumura-Hata's
#: slope of 35 dB per decade stretches the rural 4G radius of 5 km to 5000 * 10^(20 / 35),
#: about 18.7 km. Under another reach the park is more or less than half inside.
_NB_IOT_REACH_M = 5000.0 * 10.0 ** (20.0 / 35.0)
#: The industrial park's outline: length (along the line to the NB-IoT carrier) and width (m).
_PARK_SIZE_M = (2000.0, 800.0)
#: Side of the production zone's square outline (m).
_PRODUCTION_ZONE_SIDE_M = 1500.0


@dataclass(frozen=True)
class _IotZones:
    """The IoT zones' outlines and the NB-IoT carrier placed for the park (working CRS)."""

    park: shapely.Polygon
    production: shapely.Polygon
    production_name: str
    site: pd.DataFrame  # one row, the columns of the sites plus ``mast_id``
    mast: pd.DataFrame  # one row, the columns of the registry


def _iot_zones(
    villages: _Villages, admin: _Admin, pois: _Pois, province: shapely.Polygon, next_location: int
) -> _IotZones:
    """Outline the industrial park half inside an NB-IoT carrier's reach, and a production zone.

    The carrier (Viettel, ``tech`` ``NB-IoT``, omni, on a mast of its own) stands
    50 m short of :data:`_NB_IOT_REACH_M` from the park's point, in the direction that keeps
    it deepest inside the province; the park is a 2 km x 0.8 km rectangle centred on its
    point, its long side along that direction, so the edge of the carrier's reach cuts it
    about in half (just over: it counts under the rule's default share of one half, not at
    0.6). The
    production zone (a tea-growing area) is a 1.5 km square on the village farthest from every
    district town, where no IoT carrier reaches.
    """
    park_xy = pois.xy[np.array(pois.kind) == "industrial_park"][0]
    angle = np.radians(np.arange(0.0, 360.0, 10.0))
    # 50 m nearer than the reach: the reach's edge runs 50 m past the park's middle, so that
    # just over half of it (about 52%) lies inside whatever the projection's small distortion.
    distance = _NB_IOT_REACH_M - 50.0
    ends = park_xy + distance * np.column_stack([np.cos(angle), np.sin(angle)])
    depth = np.where(
        shapely.contains_xy(province, ends[:, 0], ends[:, 1]),
        shapely.distance(province.exterior, shapely.points(ends)),
        -np.inf,
    )
    site_xy = ends[int(np.argmax(depth))]
    along = (park_xy - site_xy) / distance
    across = np.array([-along[1], along[0]])
    half_l, half_w = _PARK_SIZE_M[0] / 2, _PARK_SIZE_M[1] / 2
    corners = [park_xy + a * half_l * along + b * half_w * across for a, b in _CORNER_SIGNS]
    park = shapely.Polygon(corners)
    far = np.hypot(
        villages.xy[:, None, 0] - admin.towns[None, :, 0],
        villages.xy[:, None, 1] - admin.towns[None, :, 1],
    ).min(1)
    cx, cy = villages.xy[int(np.argmax(far))]
    half = _PRODUCTION_ZONE_SIDE_M / 2
    production = shapely.box(cx - half, cy - half, cx + half, cy + half)
    site = pd.DataFrame(
        {
            "site_id": ["VTL-IOT-1"],
            "operator": ["Viettel"],
            "tech": ["NB-IoT"],
            "height_m": [35.0],
            "azimuth_deg": [np.nan],
            "beamwidth_deg": [np.nan],
            "eirp_dbm": [np.nan],
            "eirp_re_dbm": [np.nan],
            "freq_mhz": [np.nan],
            "env": ["rural"],
            "x": [site_xy[0]],
            "y": [site_xy[1]],
            "location": [next_location],
            "mast_id": ["MA-IOT1"],
        }
    )
    mast = pd.DataFrame(
        {
            "mast_id": ["MA-IOT1"],
            "owner": ["Viettel"],
            "height_m": [35.0],
            "kind": ["ground"],
            "status": ["built"],
            "permit_no": ["27/GPXD"],
            "permit_date": ["2024-05-20"],
            "tenants": ["Viettel"],
            "x": [site_xy[0]],
            "y": [site_xy[1]],
        }
    )
    return _IotZones(
        park=park,
        production=production,
        production_name="Vùng sản xuất chè tập trung Demo",
        site=site,
        mast=mast,
    )


#: The corners of a rectangle, in order round it: (along, across) signs.
_CORNER_SIGNS = ((1.0, 1.0), (1.0, -1.0), (-1.0, -1.0), (-1.0, 1.0))


@dataclass(frozen=True)
class _Locations:
    xy: F64
    kind: Str  # centre, town, park, tourism, hq, village, fill
    env: Str
    five_g: Bool


def _high_ground(
    rng: np.random.Generator,
    xy: F64,
    radius_m: float,
    tries: int,
    terrain: _Terrain,
    province: shapely.Polygon,
) -> F64:
    """For each point, the highest of `tries` random points within `radius_m` in the province."""
    dx, dy = _disc(rng, (len(xy), tries), 0.0, radius_m)
    cx, cy = xy[:, None, 0] + dx, xy[:, None, 1] + dy
    z = terrain.elevation(cx.ravel(), cy.ravel()).reshape(cx.shape)
    z = np.where(shapely.contains_xy(province, cx, cy), z, -np.inf)
    best = np.argmax(z, axis=1)
    rows = np.arange(len(xy))
    out = np.column_stack([cx[rows, best], cy[rows, best]])
    return np.where(np.isfinite(z[rows, best])[:, None], out, xy)


def _tower_locations(
    rng: np.random.Generator,
    villages: _Villages,
    admin: _Admin,
    pois: _Pois,
    terrain: _Terrain,
    province: shapely.Polygon,
    massifs: F64,
) -> tuple[_Locations, Bool]:
    """Place the tower locations, fill the gaps, then clear the massifs.

    Locations: district towns (the first at the centre), the industrial park, one tourism site,
    commune seats and populous villages (on high ground nearby). The massifs are then cleared
    until about 3 % of the villages are beyond the 4G radius of every site.

    Returns the locations and, for each village, whether its centre is covered by the contract's
    default radius model (4G: urban 1.5 km, suburban 3 km, rural 5 km).

    Notes
    -----
    The gap filling is a greedy set cover, one tower at a time on the high ground next to the
    most populous village left uncovered (sequential, a few dozen steps). The clearing removes
    the towers nearest the massif centres, as many as a bisection finds necessary.
    """
    n_towns = len(admin.towns)
    per_town = rng.integers(3, 6, n_towns)
    lead = np.concatenate([[0], np.cumsum(per_town)[:-1]])
    town_xy = np.repeat(admin.towns, per_town, axis=0) + np.column_stack(
        _disc(rng, int(per_town.sum()), 150.0, 1200.0)
    )
    town_xy[lead] = admin.towns + np.column_stack(_disc(rng, n_towns, 50.0, 200.0))
    town_kind = np.where(np.isin(np.arange(len(town_xy)), lead), "centre", "town")
    kinds = np.array(pois.kind)
    park = pois.xy[kinds == "industrial_park"]
    park = park + np.column_stack(_disc(rng, len(park), 100.0, 300.0))
    tourism = pois.xy[kinds == "tourism"][:1] + np.column_stack(_disc(rng, 1, 80.0, 200.0))
    hq = np.flatnonzero(villages.hq & (villages.commune >= n_towns))
    hq_xy = _high_ground(rng, villages.xy[hq], 800.0, 8, terrain, province)
    hq_env = np.where(villages.elevation[hq] < 450.0, "suburban", "rural")
    others = np.flatnonzero(~villages.hq & ~villages.town)
    p = villages.population[others].astype(float)
    chosen = others[
        rng.choice(len(others), round(0.12 * len(villages.xy)), replace=False, p=p / p.sum())
    ]
    village_xy = _high_ground(rng, villages.xy[chosen], 1200.0, 6, terrain, province)

    xy = np.vstack([town_xy, park, tourism, hq_xy, village_xy])
    kind = np.concatenate(
        [
            town_kind,
            np.full(len(park), "park"),
            np.full(len(tourism), "tourism"),
            np.full(len(hq_xy), "hq"),
            np.full(len(village_xy), "village"),
        ]
    )
    env = np.concatenate(
        [
            np.full(len(town_xy), "urban"),
            np.full(len(park) + len(tourism), "suburban"),
            hq_env,
            np.full(len(village_xy), "rural"),
        ]
    )
    five_g = np.isin(kind, ["centre", "town", "park", "tourism"])
    # thin: a later location within 300 m of an earlier one is dropped
    close = cKDTree(xy).query_pairs(300.0, output_type="ndarray")
    drop = np.zeros(len(xy), bool)
    drop[np.maximum(close[:, 0], close[:, 1])] = True
    drop[kind == "tourism"] = False
    xy, kind, env, five_g = xy[~drop], kind[~drop], env[~drop], five_g[~drop]

    radius = np.vectorize(_RADIUS_4G_M.__getitem__, otypes=[float])
    reach = radius(env) - 150.0
    gap = (
        np.hypot(villages.xy[:, None, 0] - xy[None, :, 0], villages.xy[:, None, 1] - xy[None, :, 1])
        - reach[None, :]
    )
    uncovered = (gap > 0).all(1)
    fill: list[F64] = []
    while uncovered.any():  # greedy set cover: sequential by nature, a few dozen steps
        v = int(np.argmax(np.where(uncovered, villages.population, -1)))
        spot = _high_ground(rng, villages.xy[v : v + 1], 1000.0, 6, terrain, province)[0]
        fill.append(spot)
        d = np.hypot(villages.xy[:, 0] - spot[0], villages.xy[:, 1] - spot[1])
        uncovered &= d > _RADIUS_4G_M["rural"] - 150.0
    if fill:
        xy = np.vstack([xy, np.array(fill)])
        kind = np.concatenate([kind, np.full(len(fill), "fill")])
        env = np.concatenate([env, np.full(len(fill), "rural")])
        five_g = np.concatenate([five_g, np.zeros(len(fill), bool)])

    # clear the massifs
    dist = np.hypot(
        villages.xy[:, None, 0] - xy[None, :, 0], villages.xy[:, None, 1] - xy[None, :, 1]
    )
    covers = dist <= radius(env)[None, :]
    to_massif = np.hypot(
        xy[:, None, 0] - massifs[None, :, 0], xy[:, None, 1] - massifs[None, :, 1]
    ).min(1)
    removable = np.isin(kind, ["hq", "village", "fill"]) & (to_massif < 15000.0)
    order = np.flatnonzero(removable)[np.argsort(to_massif[removable], kind="stable")]
    target = max(1, round(_UNCOVERED_SHARE * len(villages.xy)))

    def count(m: int) -> int:
        keep = np.ones(len(xy), bool)
        keep[order[:m]] = False
        return int((~covers[:, keep].any(1)).sum())

    lo, hi = 0, len(order)
    while lo < hi:  # bisection on the number of towers removed (the count only grows)
        mid = (lo + hi) // 2
        if count(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    keep = np.ones(len(xy), bool)
    keep[order[:lo]] = False
    covered = covers[:, keep].any(1)
    log.debug(
        "tower locations: %d kept, %d cleared from the massifs, %d villages uncovered",
        int(keep.sum()),
        lo,
        int((~covered).sum()),
    )
    return _Locations(xy=xy[keep], kind=kind[keep], env=env[keep], five_g=five_g[keep]), covered


def _sites(rng: np.random.Generator, loc: _Locations) -> pd.DataFrame:
    """Sites of the four operators on the tower locations (working CRS ``x``, ``y``).

    About a fifth of the locations carry a second or third operator, each a few metres from the
    first (0-25 m). Town sites are often three 120° sectors. 5G: Viettel at every district
    centre, the industrial park and one tourism site; Viettel or VNPT on the other town towers
    they lead.
    """
    n = len(loc.xy)
    weights = np.tile(_OP_WEIGHT, (n, 1))
    weights[loc.kind == "fill"] = [0.62, 0.25, 0.13, 0.0]
    weights[loc.kind == "town"] = [0.35, 0.30, 0.25, 0.10]
    weights[np.isin(loc.kind, ["centre", "park", "tourism"])] = [1.0, 0.0, 0.0, 0.0]
    keys = np.log(rng.uniform(1e-12, 1.0, (n, 4))) / np.maximum(weights, 1e-12)
    ranked = np.argsort(-keys, axis=1)
    share_p = np.select(
        [np.isin(loc.kind, ["centre", "town"]), loc.kind == "park", loc.kind == "fill"],
        [0.45, 0.5, 0.12],
        0.24,
    )
    shared = rng.uniform(size=n) < share_p
    n_ops = 1 + shared * (1 + (rng.uniform(size=n) < 0.25))
    cols = np.arange(4)[None, :] < n_ops[:, None]
    loc_idx = np.broadcast_to(np.arange(n)[:, None], (n, 4))[cols]
    op = ranked[cols]
    first = np.broadcast_to(np.arange(4)[None, :] == 0, (n, 4))[cols]
    dx, dy = _disc(rng, len(op), 3.0, 25.0)
    x = loc.xy[loc_idx, 0] + np.where(first, 0.0, dx)
    y = loc.xy[loc_idx, 1] + np.where(first, 0.0, dy)
    env = loc.env[loc_idx]
    five_g = loc.five_g[loc_idx] & first & (op <= 1)
    sectors = np.where((env == "urban") & (rng.uniform(size=len(op)) < 0.7), 3, 1)
    rep = np.repeat(np.arange(len(op)), sectors)
    sector_no = np.arange(len(rep)) - np.repeat(np.cumsum(sectors) - sectors, sectors)
    base_az = rng.uniform(0.0, 120.0, len(op))
    azimuth = np.where(
        sectors[rep] == 3, np.round((base_az[rep] + 120.0 * sector_no) % 360), np.nan
    )
    beam = np.where(sectors[rep] == 3, 120.0, np.nan)
    height = np.select(
        [env == "urban", env == "suburban"],
        [rng.uniform(18, 30, len(op)), rng.uniform(25, 40, len(op))],
        rng.uniform(30, 45, len(op)),
    )
    # EIRP per resource element: a 20 MHz LTE carrier's total EIRP of 58-63 dBm spread over
    # its 1,200 subcarriers (10 log10 1200 = 30.8 dB), rounded to 0.5 dB. The site list
    # writes the total, as an operator's does: that per-element value plus 10 log10 1200,
    # unrounded, so that hatangso.geo.carrier gives the per-element value back. Rows that also
    # carry 5G give it per element too (eirp_re_dbm): their 5G carrier radiates the same
    # power per element, which its 3,276 subcarriers would not give from the LTE total.
    missing = rng.uniform(size=len(op)) < 0.3
    total_eirp = rng.uniform(58.0, 63.0, len(op))
    eirp = np.where(missing, np.nan, np.round((total_eirp - _LTE_20MHZ_DB) * 2) / 2)
    band = np.where(
        (op == 1) | (op == 2), np.where(rng.uniform(size=len(op)) < 0.5, 1800.0, 2100.0), 1800.0
    )
    freq = np.where(rng.uniform(size=len(op)) < 0.2, np.nan, band)
    codes = np.array(_OP_CODE)[op]
    site_base = [f"{c}-{i:04d}" for c, i in zip(codes.tolist(), loc_idx.tolist(), strict=True)]
    site_id = [
        site_base[r] + (f"-{s + 1}" if sectors[r] == 3 else "")
        for r, s in zip(rep.tolist(), sector_no.tolist(), strict=True)
    ]
    frame = pd.DataFrame(
        {
            "site_id": site_id,
            "operator": np.array(_OPERATORS)[op][rep],
            "tech": np.where(five_g[rep], "4G;5G", "4G"),
            "height_m": np.round(height[rep]),
            "azimuth_deg": azimuth,
            "beamwidth_deg": beam,
            "eirp_dbm": eirp[rep] + _LTE_20MHZ_DB,
            "eirp_re_dbm": np.where(five_g[rep], eirp[rep], np.nan),
            "freq_mhz": freq[rep],
            "env": env[rep],
            "x": x[rep],
            "y": y[rep],
            "location": loc_idx[rep],
        }
    )
    return frame


def _legacy_techs(rng: np.random.Generator, sites: pd.DataFrame, loc: _Locations) -> pd.DataFrame:
    """Give rural sites the 2G and 3G layers they still carry, and a few of them nothing else.

    Off the towns, about half the omni 4G rows also carry 2G (``2G;4G``, or ``2G;3G;4G``) and
    a tenth carry 3G (``3G;4G``): their 2G reaches further than their 4G, so some villages
    are served by 2G alone and lose their mobile service at the 2G switch-off. Three rural
    rows (gap fillers where there are three, else village towers) carry no 4G at all: two
    ``2G`` and one ``3G``. Only ``tech`` changes (no site is
    added or moved), so tower sharing, the mast registry and the samples stay as they were.
    """
    tech = sites["tech"].to_numpy(dtype=object).copy()
    kind = loc.kind[sites["location"].to_numpy()]
    rural = (
        (tech == "4G")
        & (sites["env"].to_numpy() == "rural")
        & sites["azimuth_deg"].isna().to_numpy()
        & np.isin(kind, ["fill", "village", "hq"])
    )
    draw = rng.uniform(size=len(sites))
    tech = np.where(rural & (draw < 0.35), "2G;4G", tech)
    tech = np.where(rural & (draw >= 0.35) & (draw < 0.5), "2G;3G;4G", tech)
    tech = np.where(rural & (draw >= 0.5) & (draw < 0.6), "3G;4G", tech)
    # the gap fillers when there are enough of them (the small demos), else village towers
    remote = np.flatnonzero(rural & (kind == "fill"))
    if remote.size < 3:
        remote = np.flatnonzero(rural & (kind == "village"))
    if remote.size >= 3:
        chosen = rng.choice(remote, size=3, replace=False)
        tech[chosen] = ["2G", "2G", "3G"]
    return sites.assign(tech=tech)


# --------------------------------------------------------------------------------------------
# Fiber, access points, poles, ducts
# --------------------------------------------------------------------------------------------


def _closure(parent: I64, seeds: Bool) -> Bool:
    """Ways needed to reach the seed ways from the root: the seeds and all their ancestors."""
    needed = seeds.copy()
    frontier = np.flatnonzero(needed)
    while len(frontier):  # one step up the way tree per pass, all ways at once
        up = parent[frontier]
        up = np.unique(up[up >= 0])
        frontier = up[~needed[up]]
        needed[frontier] = True
    return needed


def _fiber(
    rng: np.random.Generator,
    roads: _Roads,
    villages: _Villages,
    covered: Bool,
    admin: _Admin,
    river_line: shapely.LineString,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fiber cables along the roads and their access points (working CRS).

    Each of Viettel, VNPT and MobiFone serves a share of the villages (fewer in the
    mountains); its cables are the road ways from those villages back to the district towns.
    Access points: an OLT per town, a cabinet at each served commune seat, a splitter on each
    served tertiary road, an ODP 0-650 m (0-250 m in towns) along the road from each served
    village.
    """
    n_towns = len(admin.towns)
    n = len(villages.xy)
    mountain = (villages.elevation > 550.0) | ~covered
    p_serve = {0: (0.88, 0.35), 1: (0.72, 0.25), 2: (0.30, 0.03)}
    far, near = villages.detour_pair
    cables: list[tuple[int, Any]] = []
    aps: list[pd.DataFrame] = []
    n_ways = len(roads.highway)
    highway = np.array(roads.highway)
    for op, (p_low, p_high) in p_serve.items():  # three operators
        served = rng.uniform(size=n) < np.where(mountain, p_high, p_low)
        served |= (villages.town | villages.hq) & (op < 2)
        served[far] = False
        if op == 0:
            served[near] = True
        seeds = np.zeros(n_ways, bool)
        has_way = roads.village_way >= 0
        seeds[roads.village_way[served & has_way]] = True
        seeds[roads.village_way[:n_towns]] = True
        needed = _closure(roads.parent, seeds)
        ways = np.flatnonzero(needed)
        lines = roads.lines(ways)
        merged = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(lines)))
        cables += [(op, g) for g in merged]

        town_pts = admin.towns + np.column_stack(_disc(rng, n_towns, 5.0, 40.0))
        idx = np.flatnonzero(served & has_way)
        vlines = roads.lines(roads.village_way[idx])
        reach = np.where(villages.town[idx], 250.0, 650.0)
        along = np.minimum(rng.uniform(0.0, 1.0, len(idx)) * reach, shapely.length(vlines))
        along[idx == near] = 0.0
        odp = shapely.get_coordinates(shapely.line_interpolate_point(vlines, along))
        hq_idx = np.flatnonzero(served & villages.hq & ~villages.town)
        hlines = roads.lines(roads.village_way[hq_idx])
        cab = shapely.get_coordinates(
            shapely.line_interpolate_point(
                hlines, np.minimum(rng.uniform(20.0, 80.0, len(hq_idx)), shapely.length(hlines))
            )
        )
        tertiary = ways[highway[ways] == "tertiary"]
        tlines = roads.lines(tertiary)
        spl = shapely.get_coordinates(shapely.line_interpolate_point(tlines, 0.5, normalized=True))
        xy = np.vstack([town_pts, cab, spl, odp])
        kind = (
            ["olt"] * n_towns
            + ["cabinet"] * len(cab)
            + ["splitter"] * len(spl)
            + ["odp"] * len(odp)
        )
        aps.append(
            pd.DataFrame({"operator": _OPERATORS[op], "kind": kind, "x": xy[:, 0], "y": xy[:, 1]})
        )
    ap = pd.concat(aps, ignore_index=True)
    # the far village of the river pair has no access point on its own bank within 600 m
    seg = shapely.linestrings(
        np.stack(
            [np.repeat(villages.xy[far : far + 1], len(ap), 0), ap[["x", "y"]].to_numpy()], axis=1
        )
    )
    d = np.hypot(ap["x"] - villages.xy[far, 0], ap["y"] - villages.xy[far, 1]).to_numpy()
    same_bank = ~shapely.intersects(seg, river_line)
    ap = ap[~((d < 600.0) & same_bank)].reset_index(drop=True)
    codes = dict(zip(_OPERATORS, _OP_CODE, strict=True))
    number = ap.groupby(["operator", "kind"]).cumcount() + 1
    ap.insert(
        0,
        "ap_id",
        [
            f"{codes[o]}-{k.upper()}-{i:05d}"
            for o, k, i in zip(ap["operator"], ap["kind"], number, strict=True)
        ],
    )
    fiber = pd.DataFrame(
        {"operator": [_OPERATORS[o] for o, _ in cables], "geometry": [g for _, g in cables]}
    )
    return fiber, ap


def _join_operators(member: Bool) -> npt.NDArray[np.object_]:
    """``;``-separated operator names from an (n, 4) membership table, in canonical order."""
    out = np.full(len(member), "", dtype=object)
    for k, name in enumerate(_OPERATORS):  # four columns, each a whole-array operation
        out = np.where(member[:, k], np.where(out == "", name, out + ";" + name), out)
    return out


def _poles_and_ducts(
    rng: np.random.Generator, roads: _Roads, admin: _Admin
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Poles every 35 m along the roads within 1.5 km of each town; ducts within 700 m.

    Pole operators: 1 (15 %), 2 (45 %), 3 (30 %) or 4 (10 %) of the operators, drawn by weight;
    ducts: one operator, a tenth of them two.
    """
    all_ways = np.arange(len(roads.highway))
    lines = roads.lines(all_ways)
    town_disc = shapely.buffer(shapely.points(admin.towns), 1500.0)
    tree = shapely.STRtree(lines)
    pairs = tree.query(town_disc, predicate="intersects")
    clipped = shapely.intersection(lines[pairs[1]], town_disc[pairs[0]])
    parts, which = shapely.get_parts(clipped, return_index=True)
    town_of = pairs[0][which]
    length = shapely.length(parts)
    count = np.floor(length / 35.0).astype(np.int64) + 1
    owner = np.repeat(np.arange(len(parts)), count)
    offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    pts = shapely.get_coordinates(shapely.line_interpolate_point(parts[owner], offset * 35.0))
    close = cKDTree(pts).query_pairs(5.0, output_type="ndarray")
    keep = np.ones(len(pts), bool)
    keep[np.maximum(close[:, 0], close[:, 1])] = False
    pts, pole_town = pts[keep], town_of[owner][keep]
    n_ops = rng.choice([1, 2, 3, 4], len(pts), p=[0.15, 0.45, 0.30, 0.10])
    keys = np.log(rng.uniform(1e-12, 1.0, (len(pts), 4))) / np.array([0.4, 0.35, 0.17, 0.08])
    ranked = np.argsort(-keys, axis=1)
    member = np.zeros((len(pts), 4), bool)
    np.put_along_axis(member, ranked, np.arange(4)[None, :] < n_ops[:, None], axis=1)
    pole_ops = _join_operators(member)
    number = pd.Series(pole_town).groupby(pole_town).cumcount().to_numpy() + 1
    poles = pd.DataFrame(
        {
            "pole_id": [f"P-{t + 1:02d}-{i:05d}" for t, i in zip(pole_town, number, strict=True)],
            "operators": pole_ops,
            "x": pts[:, 0],
            "y": pts[:, 1],
        }
    )

    highway = np.array(roads.highway)
    main = np.isin(highway, ["primary", "secondary", "tertiary", "residential"])
    duct_disc = shapely.buffer(shapely.points(admin.towns), 700.0)
    pairs = shapely.STRtree(lines[main]).query(duct_disc, predicate="intersects")
    pieces, which = shapely.get_parts(
        shapely.intersection(lines[main][pairs[1]], duct_disc[pairs[0]]), return_index=True
    )
    pieces = pieces[shapely.length(pieces) > 50.0]
    first = rng.choice([0, 1, 2], len(pieces), p=[0.45, 0.45, 0.10])
    second = (first + rng.integers(1, 3, len(pieces))) % 3
    member = np.zeros((len(pieces), 4), bool)
    member[np.arange(len(pieces)), first] = True
    member[np.arange(len(pieces)), second] |= rng.uniform(size=len(pieces)) < 0.10
    duct_ops = _join_operators(member)
    ducts = pd.DataFrame(
        {
            "duct_id": [f"D-{i + 1:04d}" for i in range(len(pieces))],
            "operators": duct_ops,
            "geometry": pieces,
        }
    )
    return poles, ducts


# --------------------------------------------------------------------------------------------
# Drive test and declaration
# --------------------------------------------------------------------------------------------


def _rsrp_dbm(points: F64, sites: pd.DataFrame, rng: np.random.Generator) -> F64:
    """Best-server RSRP (dBm) of one operator's sites at the points, with shadowing.

    Notes
    -----
    Log-distance path loss (Rappaport, "Wireless Communications", 2nd ed., section 4.9), the
    free-space loss at 1 km plus 15 dB of clutter and 40 dB a decade beyond it, never below the
    free-space loss; the reference-signal power is ``eirp_re_dbm`` where given, else the
    total EIRP less ``10 log10(1200)`` dB (1,200 subcarriers of a 20 MHz carrier), else
    32 dBm; sector antennas lose ``min(12 (phi / beamwidth)², 20)``
    dB off axis (3GPP TR 36.814, table A.2.1.1-2). Shadowing: log-normal, 7 dB, correlated
    along the route (white noise smoothed by a Gaussian of 3 samples, about 75 m).
    """
    d_m = np.maximum(
        np.hypot(
            points[:, None, 0] - sites["x"].to_numpy()[None, :],
            points[:, None, 1] - sites["y"].to_numpy()[None, :],
        ),
        30.0,
    )
    f = sites["freq_mhz"].fillna(1800.0).to_numpy()[None, :]
    fspl = 32.45 + 20 * np.log10(f) + 20 * np.log10(d_m / 1000.0)
    loss = np.maximum(fspl, 32.45 + 20 * np.log10(f) + 15.0 + 40 * np.log10(d_m / 1000.0))
    bearing = np.degrees(
        np.arctan2(
            points[:, None, 0] - sites["x"].to_numpy()[None, :],
            points[:, None, 1] - sites["y"].to_numpy()[None, :],
        )
    )
    azimuth = sites["azimuth_deg"].to_numpy()[None, :]
    beam = sites["beamwidth_deg"].to_numpy()[None, :]
    phi = np.abs((bearing - np.nan_to_num(azimuth) + 180.0) % 360.0 - 180.0)
    pattern = np.where(
        np.isnan(azimuth), 0.0, np.minimum(12.0 * (phi / np.nan_to_num(beam, nan=120.0)) ** 2, 20.0)
    )
    # Reference-signal EIRP per resource element; where absent, 32 dBm, the 4G default of
    # hatangso.coverage.radio (not imported: geo does not depend on coverage).
    per_element = sites["eirp_re_dbm"].fillna(sites["eirp_dbm"] - _LTE_20MHZ_DB)
    rs = per_element.fillna(32.0).to_numpy()[None, :]
    best = (rs - loss - pattern).max(axis=1)
    white = rng.normal(0.0, 1.0, len(points))
    smooth = ndimage.gaussian_filter1d(white, 3.0, mode="nearest")
    correlated = 7.0 * smooth / smooth.std()
    return np.asarray(np.clip(np.round(best + correlated, 1), -140.0, -44.0), float)


def _samples(
    rng: np.random.Generator, roads: _Roads, villages: _Villages, covered: Bool, sites: pd.DataFrame
) -> pd.DataFrame:
    """Drive-test the roads of some villages: a sample every 25 m for each of the four operators.

    Each sample also carries the ``download_mbps`` of a speed test (:func:`_download_mbps`).

    Routes follow each chosen village's road from its centre for up to 3 km; the uncovered
    villages come first, then random others, until about 20,000 rows.
    """
    rows = roads.village_path_rows
    paths = roads.village_paths
    coords_idx = np.column_stack([len(roads.node_xy) - len(villages.xy) + rows, paths])
    valid = coords_idx >= 0
    lines = shapely.linestrings(
        roads.node_xy[coords_idx[valid]],
        indices=np.broadcast_to(np.arange(len(rows))[:, None], coords_idx.shape)[valid],
    )
    length = np.minimum(shapely.length(lines), 3000.0)
    first = ~covered[rows]
    order = np.concatenate([np.flatnonzero(first), rng.permutation(np.flatnonzero(~first))])
    order = order[length[order] > 300.0]
    per_route = np.floor(length[order] / _SAMPLE_SPACING_M).astype(np.int64) + 1
    budget = _SAMPLE_ROWS // len(_OPERATORS)
    take = np.searchsorted(np.cumsum(per_route), budget) + 1
    order, per_route = order[:take], per_route[:take]
    route = np.repeat(np.arange(len(order)), per_route)
    step = np.arange(int(per_route.sum())) - np.repeat(np.cumsum(per_route) - per_route, per_route)
    pts = shapely.get_coordinates(
        shapely.line_interpolate_point(lines[order][route], step * _SAMPLE_SPACING_M)
    )
    start = np.datetime64("2024-09-09T08:00:00") + (route * 900).astype("timedelta64[s]")
    moment = start + np.floor(step * _SAMPLE_SPACING_M / 11.0).astype("timedelta64[s]")
    stamp = np.char.add(np.datetime_as_string(moment, unit="s").astype(str), "+07:00")
    lon, lat = _to_lonlat(pts[:, 0], pts[:, 1])
    frames = []
    for op, name in enumerate(_OPERATORS):  # one drive per operator's phone
        rsrp = _rsrp_dbm(pts, sites[sites["operator"] == name], rng)
        frames.append(
            pd.DataFrame(
                {
                    "lon": np.round(lon, 7),
                    "lat": np.round(lat, 7),
                    "operator": name,
                    "tech": "4G",
                    "rsrp_dbm": rsrp,
                    "time": stamp,
                    "source": "drive_test",
                    "_order": np.arange(len(pts)) * 4 + op,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True).sort_values("_order", kind="stable")
    table = table.drop(columns="_order").reset_index(drop=True)
    return table.assign(download_mbps=_download_mbps(table["rsrp_dbm"].to_numpy(dtype=float)))


#: Seed of the demo's measured speeds, apart from the province's generator so that adding
#: them moved nothing else.
_SPEED_SEED = 36


def _download_mbps(rsrp_dbm: F64) -> F64:
    """Measured download (Mb/s) of a speed test at each sample, from its RSRP.

    Notes
    -----
    The SNR over a 15 kHz subcarrier against a noise floor of -125.2 dBm (-174 dBm/Hz +
    10 log10(15 kHz) + 7 dB noise figure), the attenuated Shannon bound of 3GPP TR 36.942
    Annex A on 20 MHz (``0.6 log2(1 + SNR)``, at most 4.4 b/s/Hz, 0 below -10 dB), times the
    share of the cell a user gets (uniform, 0.2 to 0.9, for the other users and the load).
    """
    rng = np.random.default_rng(_SPEED_SEED)
    snr_db = rsrp_dbm + 125.2
    efficiency = np.minimum(0.6 * np.log2(1.0 + 10.0 ** (snr_db / 10.0)), 4.4)
    efficiency = np.where(snr_db >= -10.0, efficiency, 0.0)
    share = rng.uniform(0.2, 0.9, len(rsrp_dbm))
    return np.asarray(np.round(20.0 * efficiency * share, 1), dtype=np.float64)


#: The demo's tower company (fictional), owner of some shared masts.
DEMO_TOWER_COMPANY = "Công ty Hạ tầng Tỉnh Demo"


def _registry(
    rng: np.random.Generator, sites: pd.DataFrame, loc: _Locations
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw the mast registry (working CRS ``x``, ``y``); name each site's mast.

    One built mast per tower location (``MA-0000`` ...), owned by its first operator or, for
    a tenth of the shared ones, by the demo's tower company; its tenants are the operators of
    its sites, its permit issued between 2016 and 2024. So that the registry's checks have
    something to find: one built mast has no permit; a planned mast of another owner stands
    60 m from a town mast (candidates to share); two sites alone on their mast name none. A
    permitted mast and a dismantled one complete the statuses.
    """
    first = sites.drop_duplicates("location").set_index("location").sort_index()
    n = len(loc.xy)
    tenants = (
        sites.groupby("location")["operator"].agg(lambda s: ";".join(sorted(set(s)))).sort_index()
    )
    n_tenants = tenants.str.count(";").to_numpy() + 1
    owner = first["operator"].to_numpy(dtype=object)
    company = (n_tenants >= 2) & (rng.uniform(size=n) < 0.1)
    owner = np.where(company, DEMO_TOWER_COMPANY, owner)
    kind = np.where(
        loc.kind == "tourism",
        "camouflage",
        np.where((loc.env == "urban") & (rng.uniform(size=n) < 0.7), "rooftop", "ground"),
    )
    issued = np.datetime64("2016-01-01") + rng.integers(0, 9 * 365, n).astype("timedelta64[D]")
    permit_no = np.array([f"{100 + i}/GPXD" for i in range(n)], dtype=object)
    permit_date = np.datetime_as_string(issued, unit="D").astype(object)
    # One built mast without a permit: a rural tower's.
    rural = np.flatnonzero(np.isin(loc.kind, ["hq", "village", "fill"]))
    unpermitted = int(rng.choice(rural))
    permit_no[unpermitted] = None
    permit_date[unpermitted] = None
    masts = pd.DataFrame(
        {
            "mast_id": [f"MA-{i:04d}" for i in range(n)],
            "owner": owner,
            "height_m": sites.groupby("location")["height_m"].max().sort_index().to_numpy(),
            "kind": kind,
            "status": "built",
            "permit_no": permit_no,
            "permit_date": permit_date,
            "tenants": tenants.to_numpy(dtype=object),
            "x": loc.xy[:, 0],
            "y": loc.xy[:, 1],
        }
    )
    town = int(np.flatnonzero(loc.kind == "town")[0])
    other = next(op for op in _OPERATORS if op != owner[town])
    far = int(rng.choice(rural[rural != unpermitted]))
    extra = pd.DataFrame(
        {
            "mast_id": ["MA-P001", "MA-P002", "MA-D001"],
            "owner": [other, "VNPT", "MobiFone"],
            "height_m": [30.0, 40.0, 35.0],
            "kind": ["rooftop", "ground", "ground"],
            "status": ["planned", "permitted", "dismantled"],
            "permit_no": [None, "412/GPXD", "88/GPXD"],
            "permit_date": [None, "2025-03-14", "2012-05-02"],
            "tenants": [None, None, None],
            "x": [loc.xy[town, 0] + 60.0, loc.xy[far, 0] + 900.0, loc.xy[far, 0] - 1500.0],
            "y": [loc.xy[town, 1], loc.xy[far, 1] + 400.0, loc.xy[far, 1]],
        }
    )
    named = sites.assign(mast_id=[f"MA-{i:04d}" for i in sites["location"].to_numpy()])
    alone = np.flatnonzero(n_tenants == 1)
    for location in rng.choice(alone, 2, replace=False):
        named.loc[named["location"] == location, "mast_id"] = None
    return pd.concat([masts, extra], ignore_index=True), named


def _commitments(villages: _Villages, sites: pd.DataFrame, covered_any: Bool) -> pd.DataFrame:
    """Write the commitments of a 2025 plan: some done, some overdue, some not yet due.

    Viettel commits (by mid-2025) to the three villages whose centres stand nearest to its
    sites (the demo's terrain model finds two of them covered, the third behind a ridge);
    VNPT (by September 2025) and MobiFone (by mid-2026) to villages no tower reaches, which
    stay dark: on 31 December 2025 those of VNPT are overdue, those of MobiFone still due.
    """
    vid = np.array(villages.village_id)
    own = sites[sites["operator"] == "Viettel"][["x", "y"]].to_numpy()
    nearest = np.hypot(
        villages.xy[:, None, 0] - own[None, :, 0], villages.xy[:, None, 1] - own[None, :, 1]
    ).min(1)
    done = np.argsort(nearest, kind="stable")[:3]
    dark = np.flatnonzero(~covered_any)
    rows = [
        *((vid[v], "Viettel", "4G", "2025-06-30") for v in done),
        *((vid[v], "VNPT", "4G", "2025-09-30") for v in dark[:2]),
        *((vid[v], "MobiFone", "4G", "2026-06-30") for v in dark[2:4]),
    ]
    return pd.DataFrame(rows, columns=["village_id", "operator", "tech", "due"])


def _declared(
    rng: np.random.Generator, villages: _Villages, sites: pd.DataFrame, covered_any: Bool
) -> pd.DataFrame:
    """Viettel's declaration: the villages its 4G covers, plus six it does not (disputes)."""
    own = sites[sites["operator"] == "Viettel"]
    radius = own["env"].map(_RADIUS_4G_M).to_numpy()
    d = np.hypot(
        villages.xy[:, None, 0] - own["x"].to_numpy()[None, :],
        villages.xy[:, None, 1] - own["y"].to_numpy()[None, :],
    )
    by_viettel = (d <= radius[None, :]).any(1)
    nobody = np.flatnonzero(~covered_any)
    others_only = np.flatnonzero(covered_any & ~by_viettel)
    wrong = np.concatenate(
        [
            rng.choice(nobody, min(3, len(nobody)), replace=False),
            rng.choice(others_only, min(3, len(others_only)), replace=False),
        ]
    )
    claimed = np.zeros(len(villages.xy), bool)
    claimed[by_viettel] = True
    claimed[wrong.astype(np.int64)] = True
    idx = np.flatnonzero(claimed)
    return pd.DataFrame(
        {"village_id": np.array(villages.village_id)[idx], "operator": "Viettel", "tech": "4G"}
    )


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _write_gpkg(frame: gpd.GeoDataFrame, path: Path) -> Path:
    path.unlink(missing_ok=True)
    frame.to_file(path, layer=path.stem, driver="GPKG", engine="pyogrio")
    return path


def _points_frame(table: pd.DataFrame) -> gpd.GeoDataFrame:
    """Turn a table with working-CRS ``x``/``y`` columns into a GeoDataFrame in EPSG:4326."""
    lon, lat = _to_lonlat(table["x"].to_numpy(), table["y"].to_numpy())
    data = table.drop(columns=["x", "y"]).reset_index(drop=True)
    return gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def _lines_frame(table: pd.DataFrame) -> gpd.GeoDataFrame:
    data = table.drop(columns="geometry").reset_index(drop=True)
    geoms = _geoms_to_lonlat(np.asarray(table["geometry"].to_numpy(), dtype=object))
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")


def _write_raster(
    path: Path, array: npt.NDArray[Any], transform: Any, nodata: float, predictor: int
) -> Path:
    path.unlink(missing_ok=True)
    profile = {
        "driver": "GTiff",
        "height": array.shape[0],
        "width": array.shape[1],
        "count": 1,
        "dtype": array.dtype.name,
        "crs": "EPSG:4326",
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
        "predictor": predictor,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)
    return path


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def generate_demo(
    out_dir: str | Path,
    *,
    seed: int = 2023,
    n_villages: int = 1300,
    progress: Progress | None = None,
) -> DemoFiles:
    """Generate the demo province and write its inputs to `out_dir`.

    Parameters
    ----------
    out_dir
        Folder to write to (created if needed; files of the same names are replaced).
    seed
        Seed of every random draw (a non-negative integer): the same seed gives the same data.
    n_villages
        Number of villages (at least 200). Communes: ``max(min(40, n // 5), n // 16)``;
        districts: between 5 and 9.
    progress
        Told ``generating the demo province`` and ``writing the demo's files`` as each
        starts (:class:`~hatangso.geo.progress.Progress`); None reports nothing.

    Returns
    -------
    DemoFiles
        The paths written.

    Raises
    ------
    InputError
        If `n_villages` is below 200 or `seed` is negative.

    Notes
    -----
    Files, all in EPSG:4326 (GeoPackages have one layer named as the file's stem):

    - ``villages.gpkg``: ``village_id`` (``DM-<district>-<number>``), ``name``, ``commune``,
      ``district``, ``province``, ``population``, ``households``, ``centre_lon``,
      ``centre_lat`` (the cultural house, inside the polygon), polygons.
    - ``sites.gpkg``: ``site_id``, ``operator``, ``tech`` (``4G`` or ``4G;5G``; rural rows
      also ``2G`` and ``3G``, three of them ``2G`` or ``3G`` alone; ``NB-IoT`` on the one
      IoT carrier, ``VTL-IOT-1``), ``height_m``,
      ``azimuth_deg``, ``beamwidth_deg`` (NaN for omni sites), ``eirp_dbm`` (total EIRP of
      a 20 MHz LTE carrier), ``eirp_re_dbm`` (per resource element, on the 4G;5G rows only),
      ``freq_mhz``
      (some NaN), ``env``, points.
    - ``access_points.gpkg``: ``ap_id``, ``operator``, ``kind`` (olt, cabinet, splitter, odp).
    - ``fiber.gpkg``: ``operator``, LineStrings along the roads.
    - ``poles.gpkg`` (``pole_id``, ``operators``) and ``ducts.gpkg`` (``duct_id``,
      ``operators``, LineStrings), operators ``;``-separated.
    - ``pois.gpkg``: ``poi_id``, ``kind``, ``name``, ``data_network`` (commune seats only);
      points, but the industrial park (a 2 km x 0.8 km outline, just over half of it inside
      the reach of the NB-IoT carrier ``VTL-IOT-1`` when that reach is about 18.7 km) and
      one ``production_zone`` (a 1.5 km square far from the towns), which are polygons.
    - ``settlements.gpkg``: ``settlement_id``, ``village_id``, ``population``, points.
    - ``roads.osm``: highway ways (primary to track, ``bridge=yes`` where they cross the river)
      and one ``waterway=river`` way. ``osmnx.graph_from_xml`` loads every way, so the river
      becomes edges without a ``highway`` attribute: drop those before routing.
    - ``dem.tif`` (int16 m, nodata -32768), ``population.tif`` (float32 people per cell,
      nodata -99999 outside the province), both deflate-compressed and tiled.
    - ``samples.csv``, ``declared.csv``.

    It takes a few seconds (about 5 s for 1,300 villages on two cores).

    Examples
    --------
    >>> import tempfile
    >>> import geopandas
    >>> files = generate_demo(tempfile.mkdtemp(), seed=1, n_villages=200)
    >>> files.villages.name
    'villages.gpkg'
    >>> len(geopandas.read_file(files.villages))
    200
    """
    if n_villages < 200:
        raise InputError(
            Problem(
                file="options",
                column="n_villages",
                message=f"n_villages must be at least 200, got {n_villages}",
                fix="ask for 200 villages or more",
            )
        )
    if seed < 0:
        raise InputError(
            Problem(
                file="options",
                column="seed",
                message=f"seed must be a non-negative integer, got {seed}",
                fix="give --seed 0 or more",
            )
        )
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    step = progress or silent
    timer = time.perf_counter()
    step("generating the demo province")
    demo = _build(seed, n_villages)
    built = time.perf_counter()
    step("writing the demo's files")
    files = _write_all(root, demo)
    log.info(
        "demo province (%d villages) built in %.1f s and written to %s in %.1f s",
        n_villages,
        built - timer,
        root,
        time.perf_counter() - built,
    )
    return files


@dataclass(frozen=True)
class _Setting:
    """The outline, the river and its bridges, the massif centres (working CRS)."""

    province: shapely.Polygon
    river_ll: F64
    river_xy: F64
    river_line: shapely.LineString
    east: shapely.Polygon  # the east bank, beyond the extent
    reach_xy: F64  # the river inside the province
    bridges_t: F64  # bridge positions along the reach, as shares of its length
    bridge_xy: F64
    massifs: F64


def _setting(seed: int) -> _Setting:
    """Draw the outline, the river, three bridges and three massif centres."""
    province = _outline(_rng(seed, "outline"))
    river_ll = _river_lonlat(_rng(seed, "river"))
    river_xy = np.column_stack(_to_xy(river_ll[:, 0], river_ll[:, 1]))
    river_line = shapely.LineString(river_xy)
    far_east = np.column_stack(
        _to_xy(np.array([106.9, 106.9]), np.array([_SOUTH - 0.06, _NORTH + 0.06]))
    )
    east = shapely.Polygon(np.vstack([river_xy, far_east]))
    reach = max(shapely.get_parts(shapely.intersection(river_line, province)), key=shapely.length)
    bridges_t = np.array([0.14, 0.52, 0.88]) + _rng(seed, "bridges").uniform(-0.03, 0.03, 3)
    bridge_xy = shapely.get_coordinates(
        shapely.line_interpolate_point(reach, bridges_t, normalized=True)
    )
    rng = _rng(seed, "massifs")
    cand = _uniform_in(province.buffer(-6000.0), 4000, rng)
    cand = cand[_distance_to_line(cand, river_line) > 9000.0]
    chosen = [int(rng.integers(len(cand)))]
    for _ in range(2):  # farthest-point sampling of the other two massif centres
        d = np.hypot(
            cand[:, None, 0] - cand[None, chosen, 0], cand[:, None, 1] - cand[None, chosen, 1]
        ).min(1)
        chosen.append(int(np.argmax(d)))
    return _Setting(
        province=province,
        river_ll=river_ll,
        river_xy=river_xy,
        river_line=river_line,
        east=east,
        reach_xy=shapely.get_coordinates(reach),
        bridges_t=bridges_t,
        bridge_xy=bridge_xy,
        massifs=cand[chosen],
    )


@dataclass(frozen=True)
class _Demo:
    """Everything generated, before writing."""

    setting: _Setting
    terrain: _Terrain
    admin: _Admin
    villages: _Villages
    polygons_ll: npt.NDArray[Any]
    settlements: _Settlements
    people: npt.NDArray[np.float32]
    pop_transform: Any
    roads: _Roads
    pois: _Pois
    sites: pd.DataFrame
    aps: pd.DataFrame
    fiber: pd.DataFrame
    poles: pd.DataFrame
    ducts: pd.DataFrame
    samples: pd.DataFrame
    declared: pd.DataFrame
    masts: pd.DataFrame
    commitments: pd.DataFrame
    iot: _IotZones


def _build(seed: int, n_villages: int) -> _Demo:
    """Generate the province in memory; each step draws from its own random stream."""
    n_communes = max(min(40, n_villages // 5), n_villages // 16)
    n_districts = int(np.clip(n_communes // 11, 5, 9))
    setting = _setting(seed)
    province, river_line = setting.province, setting.river_line
    massifs_ll = np.column_stack(_to_lonlat(setting.massifs[:, 0], setting.massifs[:, 1]))
    terrain = _terrain(_rng(seed, "terrain"), setting.river_ll, massifs_ll)
    admin = _admin(_rng(seed, "admin"), province, terrain, river_line, n_districts, n_communes)
    pair = _pair_site(setting.reach_xy, setting.bridges_t, admin.towns, province, setting.east)
    villages = _villages(
        _rng(seed, "villages"), n_villages, province, terrain, admin, river_line, pair
    )
    polygons_ll = _geoms_to_lonlat(villages.polygon)
    settlements = _settlements(_rng(seed, "settlements"), villages, terrain)
    people, pop_transform = _population_raster(villages, polygons_ll, settlements)
    roads = _roads(
        terrain,
        province,
        setting.river_xy,
        setting.bridge_xy,
        villages,
        n_districts,
        _rng(seed, "roads"),
    )
    pois = _pois(_rng(seed, "pois"), villages, admin, roads, river_line)
    locations, covered = _tower_locations(
        _rng(seed, "towers"), villages, admin, pois, terrain, province, setting.massifs
    )
    sites = _sites(_rng(seed, "sites"), locations)
    masts, sites = _registry(_rng(seed, "registry"), sites, locations)
    fiber, aps = _fiber(_rng(seed, "fiber"), roads, villages, covered, admin, river_line)
    poles, ducts = _poles_and_ducts(_rng(seed, "poles"), roads, admin)
    iot = _iot_zones(villages, admin, pois, province, int(sites["location"].max()) + 1)
    return _Demo(
        setting=setting,
        terrain=terrain,
        admin=admin,
        villages=villages,
        polygons_ll=polygons_ll,
        settlements=settlements,
        people=people,
        pop_transform=pop_transform,
        roads=roads,
        pois=pois,
        # The NB-IoT carrier joins the sites after the samples and declarations, which are of
        # 4G, and after the commitments.
        sites=pd.concat(
            [_legacy_techs(_rng(seed, "legacy"), sites, locations), iot.site],
            ignore_index=True,
        ),
        aps=aps,
        fiber=fiber,
        poles=poles,
        ducts=ducts,
        samples=_samples(_rng(seed, "samples"), roads, villages, covered, sites),
        declared=_declared(_rng(seed, "declared"), villages, sites, covered),
        masts=pd.concat([masts, iot.mast], ignore_index=True),
        commitments=_commitments(villages, sites, covered),
        iot=iot,
    )


def _with_iot_zones(pois: gpd.GeoDataFrame, zones: _IotZones) -> gpd.GeoDataFrame:
    """Return the POIs with the industrial park outlined and the production zone added."""
    outlines = _geoms_to_lonlat(np.array([zones.park, zones.production], dtype=object))
    geoms = np.asarray(pois.geometry.array, dtype=object).copy()
    geoms[(pois["kind"] == "industrial_park").to_numpy()] = outlines[0]
    production = gpd.GeoDataFrame(
        {
            "poi_id": ["PZ-001"],
            "kind": ["production_zone"],
            "name": [zones.production_name],
            "data_network": pd.array([None], dtype="boolean"),
        },
        geometry=[outlines[1]],
        crs="EPSG:4326",
    )
    return pd.concat([pois.set_geometry(geoms), production], ignore_index=True)


def _write_all(root: Path, demo: _Demo) -> DemoFiles:
    """Write every file; GeoPackages and rasters are replaced, never appended to."""
    villages, admin, settlements, pois = demo.villages, demo.admin, demo.settlements, demo.pois
    n_towns = len(admin.towns)
    lon, lat = _to_lonlat(villages.xy[:, 0], villages.xy[:, 1])
    district = admin.commune_district[villages.commune]
    commune_name = np.array(
        [
            f"Thị trấn {admin.district_names[c]}" if c < n_towns else f"Xã {admin.commune_names[c]}"
            for c in range(len(admin.communes))
        ]
    )
    district_name = np.array([f"Huyện {d}" for d in admin.district_names])
    village_frame = (
        gpd.GeoDataFrame(
            {
                "village_id": list(villages.village_id),
                "name": list(villages.name),
                "commune": commune_name[villages.commune],
                "district": district_name[district],
                "province": PROVINCE,
                "population": villages.population,
                "households": villages.households,
                "centre_lon": np.round(lon, 7),
                "centre_lat": np.round(lat, 7),
            },
            geometry=list(demo.polygons_ll),
            crs="EPSG:4326",
        )
        .sort_values("village_id")
        .reset_index(drop=True)
    )

    vid = np.array(villages.village_id)
    settlement_frame = _points_frame(
        pd.DataFrame(
            {
                "settlement_id": [
                    f"{vid[v]}-{r}"
                    for v, r in zip(settlements.village, settlements.rank, strict=True)
                ],
                "village_id": vid[settlements.village],
                "population": settlements.population,
                "x": settlements.xy[:, 0],
                "y": settlements.xy[:, 1],
            }
        )
    )
    site_frame = _points_frame(demo.sites.drop(columns="location"))
    mast_frame = _points_frame(demo.masts)
    ap_frame = _points_frame(demo.aps)
    pole_frame = _points_frame(demo.poles)
    fiber_frame = _lines_frame(demo.fiber)
    duct_frame = _lines_frame(demo.ducts)
    kinds = np.array(pois.kind)
    number = pd.Series(kinds).groupby(kinds).cumcount().to_numpy() + 1
    prefix = {"district_centre": "DC", "industrial_park": "IP", "tourism": "TR", "commune_hq": "HQ"}
    poi_points = _points_frame(
        pd.DataFrame(
            {
                "poi_id": [f"{prefix[k]}-{i:03d}" for k, i in zip(kinds, number, strict=True)],
                "kind": kinds,
                "name": list(pois.name),
                "data_network": pd.array(list(pois.data_network), dtype="boolean"),
                "x": pois.xy[:, 0],
                "y": pois.xy[:, 1],
            }
        )
    )
    poi_frame = _with_iot_zones(poi_points, demo.iot)

    files = DemoFiles(
        root=root,
        villages=_write_gpkg(village_frame, root / "villages.gpkg"),
        sites=_write_gpkg(site_frame, root / "sites.gpkg"),
        access_points=_write_gpkg(ap_frame, root / "access_points.gpkg"),
        fiber=_write_gpkg(fiber_frame, root / "fiber.gpkg"),
        poles=_write_gpkg(pole_frame, root / "poles.gpkg"),
        ducts=_write_gpkg(duct_frame, root / "ducts.gpkg"),
        pois=_write_gpkg(poi_frame, root / "pois.gpkg"),
        settlements=_write_gpkg(settlement_frame, root / "settlements.gpkg"),
        roads=root / "roads.osm",
        dem=_write_raster(
            root / "dem.tif",
            demo.terrain.dem,
            from_origin(_WEST, _NORTH, 1 / _DEM_PER_DEG, 1 / _DEM_PER_DEG),
            _DEM_NODATA,
            2,
        ),
        population=_write_raster(
            root / "population.tif", demo.people, demo.pop_transform, _POP_NODATA, 3
        ),
        samples=root / "samples.csv",
        declared=root / "declared.csv",
        masts=_write_gpkg(mast_frame, root / "masts.gpkg"),
        commitments=root / "commitments.csv",
    )
    _write_osm(files.roads, demo.roads, demo.setting.river_ll)
    demo.samples.to_csv(files.samples, index=False)
    demo.declared.to_csv(files.declared, index=False)
    demo.commitments.to_csv(files.commitments, index=False)
    return files


# --------------------------------------------------------------------------------------------
# The demo province moved to another place (generated data for the shipped scenarios)
# --------------------------------------------------------------------------------------------

_VECTOR_LAYERS = tuple(spec_for(kind).stem for kind in LAYER_KINDS)


@dataclass(frozen=True)
class PlaceFiles:
    """Paths of the vector layers :func:`generate_place` wrote (GeoPackages, EPSG:4326).

    A moved province carries no roads, DEM or population raster: the coverage job then uses
    straight-line fiber distances, and the village ``population`` column.
    """

    root: Path
    villages: Path
    sites: Path
    access_points: Path
    fiber: Path
    poles: Path
    ducts: Path
    pois: Path
    settlements: Path
    masts: Path


def _moved(geoms: npt.NDArray[Any], centre_lonlat: tuple[float, float]) -> npt.NDArray[Any]:
    """Move geometries from around the demo centre to around `centre_lonlat`, keeping distances.

    Notes
    -----
    Equirectangular: ``lat' = lat0' + (lat - lat0)`` and
    ``lon' = lon0' + (lon - lon0) cos(lat0) / cos(lat0')``, so east-west distances in km stay
    those of the demo province (to well under 1 % across a province of 50 km).
    """
    lon1, lat1 = centre_lonlat
    scale = math.cos(math.radians(_LAT0)) / math.cos(math.radians(lat1))

    def move(xy: F64) -> F64:
        return np.column_stack([lon1 + (xy[:, 0] - _LON0) * scale, lat1 + (xy[:, 1] - _LAT0)])

    return np.asarray(shapely.transform(geoms, move), dtype=object)


def generate_place(
    out_dir: str | Path,
    *,
    province: str,
    centre_lonlat: tuple[float, float],
    seed: int = 2023,
    n_villages: int = 1300,
    keep_villages: int | None = None,
    district: str | None = None,
    commune: str | None = None,
) -> PlaceFiles:
    """Generate the demo province and move its vector layers to another place and name.

    The shipped scenarios of real plans have no real infrastructure data here; this gives
    each of them generated data lying in its own province, clearly labelled as generated.

    Parameters
    ----------
    out_dir
        Output folder (created); the demo province is generated first into ``out_dir/_demo``.
    province
        Name written into the villages' ``province`` column.
    centre_lonlat
        Where the centre of the demo province (105.9 E, 22.2 N) goes.
    seed, n_villages
        As for :func:`generate_demo`.
    keep_villages
        Keep only this many villages: the one nearest the centre and its nearest neighbours
        (a single commune); the other layers are cut to the villages' extent plus 0.08°.
    district, commune
        Names written into the villages' ``district`` / ``commune`` columns (kept if None).

    Returns
    -------
    PlaceFiles
    """
    root = Path(out_dir)
    demo = generate_demo(root / "_demo", seed=seed, n_villages=n_villages)
    frames = {name: gpd.read_file(getattr(demo, name)) for name in _VECTOR_LAYERS}
    villages = frames["villages"]
    if keep_villages is not None:
        if keep_villages < 1:
            raise InputError(
                Problem(
                    file="options",
                    column="keep_villages",
                    message=f"keep_villages must be at least 1, got {keep_villages}",
                    fix="keep 1 village or more, or leave keep_villages out to keep them all",
                )
            )
        centres = villages[["centre_lon", "centre_lat"]].to_numpy(dtype=float)
        tree = cKDTree(centres)
        _, first = tree.query([_LON0, _LAT0])
        _, chosen = tree.query(centres[int(first)], k=min(keep_villages, len(villages)))
        villages = villages.iloc[np.sort(np.atleast_1d(chosen))].reset_index(drop=True)
        x0, y0, x1, y1 = villages.total_bounds
        box = shapely.box(x0 - 0.08, y0 - 0.08, x1 + 0.08, y1 + 0.08)
        kept = set(villages["village_id"])
        for name in _VECTOR_LAYERS[1:]:
            frame = frames[name]
            if name == "settlements":
                frames[name] = frame[frame["village_id"].isin(kept)].reset_index(drop=True)
            else:
                frames[name] = frame[frame.intersects(box)].reset_index(drop=True)
    villages = villages.assign(province=province)
    if district is not None:
        villages = villages.assign(district=district)
    if commune is not None:
        villages = villages.assign(commune=commune)
    lon1, lat1 = centre_lonlat
    scale = math.cos(math.radians(_LAT0)) / math.cos(math.radians(lat1))
    villages = villages.assign(
        centre_lon=np.round(lon1 + (villages["centre_lon"] - _LON0) * scale, 7),
        centre_lat=np.round(lat1 + (villages["centre_lat"] - _LAT0), 7),
    )
    frames["villages"] = villages
    # GeoPackage keeps a nullable boolean as a float column; write it back as booleans.
    network = frames["pois"]["data_network"]
    frames["pois"] = frames["pois"].assign(
        data_network=pd.array(
            [None if pd.isna(v) else bool(v) for v in network.tolist()], dtype="boolean"
        )
    )
    paths: dict[str, Path] = {}
    for name in _VECTOR_LAYERS:
        frame = frames[name]
        moved = gpd.GeoDataFrame(
            frame.drop(columns="geometry"),
            geometry=_moved(np.asarray(frame.geometry.values, dtype=object), centre_lonlat),
            crs="EPSG:4326",
        )
        paths[name] = _write_gpkg(moved, root / f"{name}.gpkg")
    log.info("generated %s: %d villages at %s", province, len(villages), centre_lonlat)
    return PlaceFiles(root=root, **paths)
