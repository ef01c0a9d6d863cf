"""Residential clusters from a population raster, for the official village coverage rule.

The official rule (Công văn 1603/BTTTT-CVT) checks a village's centre *and each of its
residential clusters*. When no settlements layer is given, clusters are derived from a
population raster: the cells whose density reaches a threshold, grouped into connected
components (:func:`scipy.ndimage.label`); each cluster becomes one point, its population-weighted
centre, with its population and the village that contains it. The result has the columns of the
contract's ``settlements`` input, so it goes wherever a settlements layer goes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import rasterio
import shapely
from rasterio.transform import Affine
from scipy import ndimage

from hatangso.geo.errors import InputError, Problem

__all__ = ["clusters_from_raster", "residential_clusters"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Mean earth radius (IUGG), m, for cell areas of geographic rasters.
EARTH_RADIUS_M = 6_371_008.8

#: Default density threshold, people per km²: the density of an "urban cluster" cell in the
#: Degree of Urbanisation (Eurostat/UN-Habitat, "Applying the Degree of Urbanisation", 2021).
DEFAULT_MIN_DENSITY_PER_KM2 = 300.0


def _cell_area_km2(transform: Affine, crs: pyproj.CRS | None, height: int) -> FloatArray:
    """Area of the cells of each raster row, km² (one value per row)."""
    if crs is not None and crs.is_geographic:
        # Spherical: a cell of dlon x dlat degrees at latitude phi has area
        # R² dlon dlat cos(phi) (radians), evaluated at the row's centre latitude.
        rows = np.arange(height) + 0.5
        lat = transform.f + transform.e * rows
        dlon = np.radians(abs(transform.a))
        dlat = np.radians(abs(transform.e))
        return np.asarray(
            EARTH_RADIUS_M**2 * dlon * dlat * np.cos(np.radians(lat)) / 1e6, dtype=np.float64
        )
    return np.full(height, abs(transform.a * transform.e - transform.b * transform.d) / 1e6)


def residential_clusters(
    people: npt.ArrayLike,
    transform: Affine,
    crs: pyproj.CRS | str | int,
    villages: gpd.GeoDataFrame | None = None,
    *,
    min_density_per_km2: float = DEFAULT_MIN_DENSITY_PER_KM2,
    min_population: float = 0.0,
    connectivity: int = 8,
) -> gpd.GeoDataFrame:
    """Find connected groups of populated cells: points with their population and village.

    Parameters
    ----------
    people
        2-D array of people per cell (NaN or negative for no data, counted as 0).
    transform, crs
        The raster's affine transform and CRS.
    villages
        Village polygons (any CRS; ``village_id``) to assign each cluster to the one that
        contains its point; None leaves ``village_id`` empty.
    min_density_per_km2
        A cell belongs to a cluster when its people per km² reach this.
    min_population
        Clusters with fewer people are dropped.
    connectivity
        8 (cells touching at a corner are connected) or 4 (sides only).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per cluster, largest first: ``settlement_id`` (``C00001`` ...),
        ``village_id`` (string, NA when in no village), ``population`` (float), ``n_cells``
        (int), ``area_km2`` (float) and a Point geometry (the population-weighted centre,
        moved to the cluster's most populated cell when the centre falls outside the cluster,
        as it can for a crescent-shaped cluster).

    Raises
    ------
    ValueError
        For a raster that is not 2-D, a negative threshold or a connectivity other than 4/8.

    Notes
    -----
    Density = people / cell area; geographic rasters use the spherical cell area
    ``R² Δλ Δφ cos φ`` (R = 6,371,008.8 m) at each row's latitude. Connected components:
    :func:`scipy.ndimage.label` with the 3x3 (8) or cross (4) structuring element.
    """
    grid = np.asarray(people, dtype=np.float64)
    if grid.ndim != 2:
        raise ValueError(f"the population raster must be 2-D, got shape {grid.shape}")
    if min_density_per_km2 < 0:
        raise InputError(
            Problem(
                file="arguments",
                column="min_density_per_km2",
                message=f"min_density_per_km2 must be >= 0, got {min_density_per_km2}",
                fix="give the density of a residential cell in people per km², 0 or more",
            )
        )
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    crs = pyproj.CRS.from_user_input(crs)
    grid = np.where(np.isfinite(grid) & (grid > 0), grid, 0.0)
    area = _cell_area_km2(transform, crs, grid.shape[0])
    density = grid / area[:, None]
    mask = (density >= min_density_per_km2) & (grid > 0)
    structure = ndimage.generate_binary_structure(2, 2 if connectivity == 8 else 1)
    labels, n = ndimage.label(mask, structure=structure)
    flat = labels.ravel()
    rows, cols = np.indices(grid.shape)
    weights = grid.ravel()
    pop = np.bincount(flat, weights=weights, minlength=n + 1)[1:]
    cells = np.bincount(flat, minlength=n + 1)[1:]
    cell_area = np.bincount(
        flat, weights=np.broadcast_to(area[:, None], grid.shape).ravel(), minlength=n + 1
    )[1:]
    row_mass = np.bincount(flat, weights=(rows.ravel() + 0.5) * weights, minlength=n + 1)[1:]
    col_mass = np.bincount(flat, weights=(cols.ravel() + 0.5) * weights, minlength=n + 1)[1:]
    # Every labelled cell has people (> 0), so no cluster has zero population.
    mean_row = np.asarray(row_mass / pop, dtype=np.float64)
    mean_col = np.asarray(col_mass / pop, dtype=np.float64)
    ids = np.arange(1, n + 1)
    if n:
        r_cell = np.clip(np.floor(mean_row).astype(np.int64), 0, grid.shape[0] - 1)
        c_cell = np.clip(np.floor(mean_col).astype(np.int64), 0, grid.shape[1] - 1)
        outside = labels[r_cell, c_cell] != ids
        if outside.any():
            peaks = np.asarray(
                ndimage.maximum_position(grid, labels, ids[outside]), dtype=np.float64
            ).reshape(-1, 2)
            mean_row[outside] = peaks[:, 0] + 0.5
            mean_col[outside] = peaks[:, 1] + 0.5
    keep = pop >= max(min_population, np.finfo(float).tiny)
    order = np.argsort(-pop[keep], kind="stable")
    x, y = transform * (mean_col[keep][order], mean_row[keep][order])
    points = gpd.GeoSeries(shapely.points(np.asarray(x), np.asarray(y)), crs=crs).to_crs(4326)
    k = int(keep.sum())
    village_id = pd.array([pd.NA] * k, dtype="string")
    if villages is not None and len(villages) and k:
        polys = villages.to_crs(4326)
        hit_p, hit_v = polys.sindex.query(np.asarray(points.array), predicate="within")
        first = np.full(k, -1, dtype=np.int64)
        rev = np.argsort(hit_v, kind="stable")[::-1]
        first[hit_p[rev]] = hit_v[rev]
        found = first >= 0
        names = polys["village_id"].astype(str).to_numpy(dtype=object)
        values = np.full(k, None, dtype=object)
        values[found] = names[first[found]]
        village_id = pd.array(values, dtype="string")
    out = gpd.GeoDataFrame(
        {
            "settlement_id": [f"C{i:05d}" for i in range(1, k + 1)],
            "village_id": village_id,
            "population": pop[keep][order],
            "n_cells": cells[keep][order].astype(np.int64),
            "area_km2": cell_area[keep][order],
        },
        geometry=np.asarray(points.array, dtype=object),
        crs=4326,
    )
    log.info(
        "residential clusters: %d (%.0f people) at >= %g people/km², %d in no village",
        k,
        float(out["population"].sum()),
        min_density_per_km2,
        int(out["village_id"].isna().sum()),
    )
    return out


def clusters_from_raster(
    path: str | Path,
    villages: gpd.GeoDataFrame | None = None,
    *,
    min_density_per_km2: float = DEFAULT_MIN_DENSITY_PER_KM2,
    min_population: float = 0.0,
    connectivity: int = 8,
) -> gpd.GeoDataFrame:
    """Read a population raster (people per cell, band 1) and return its residential clusters.

    See :func:`residential_clusters` for the parameters and the result. No-data cells count
    as empty.
    """
    with rasterio.open(path) as src:
        band = src.read(1, masked=True)
        people = np.ma.filled(band.astype(np.float64), 0.0)
        transform, crs = src.transform, src.crs
    if crs is None:
        from hatangso.geo.errors import InputError, Problem

        raise InputError(
            Problem(
                file=Path(path).name,
                message="the population raster has no CRS",
                fix="give a GeoTIFF with its coordinate reference system",
            )
        )
    return residential_clusters(
        people,
        transform,
        pyproj.CRS.from_user_input(crs.to_wkt()),
        villages,
        min_density_per_km2=min_density_per_km2,
        min_population=min_population,
        connectivity=connectivity,
    )
