"""One coverage assessment: every indicator of the contract from clean input layers.

:func:`assess` takes validated layers (EPSG:4326, as :mod:`hatangso.geo.validate` returns
them), works in one metric CRS chosen from the villages' extent, and returns the village table
with the contract's output columns, the indicators and the shared tower locations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from hatangso.coverage import fiber, mobile, sharing
from hatangso.coverage.config import CoverageConfig
from hatangso.coverage.kpis import INDICATORS, IndicatorValue, village_indicators
from hatangso.geo.crs import metric_crs

__all__ = ["ADMIN_LEVELS", "Assessment", "CoverageInputs", "assess"]

log = logging.getLogger(__name__)

#: Admin levels a village table may carry, from the largest down.
ADMIN_LEVELS = ("province", "district", "commune")

KEY_AREA_KINDS = ("district_centre", "industrial_park", "tourism")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CoverageInputs:
    """The clean layers of one run (EPSG:4326); only villages are required."""

    villages: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame | None = None
    access_points: gpd.GeoDataFrame | None = None
    fiber: gpd.GeoDataFrame | None = None
    poles: pd.DataFrame | None = None
    ducts: gpd.GeoDataFrame | None = None
    pois: gpd.GeoDataFrame | None = None
    settlements: gpd.GeoDataFrame | None = None
    roads: Path | None = None
    dem: Path | None = None
    population: Path | None = None


@dataclass(frozen=True)
class Assessment:
    """What one run found.

    Attributes
    ----------
    villages
        The input villages (EPSG:4326) plus ``covered_mobile``, ``covered_5g``,
        ``covered_ftth`` (bool), ``best_dbm`` (dBm, NaN when not modelled or uncovered),
        ``nearest_site_m``, ``serving_operators`` (';'-joined), ``ftth_distance_m`` (m, NaN
        beyond reach or without fiber input), ``mobile_share``, ``share_5g``,
        ``mobile_reason``, ``ftth_reason`` and, where people are known,
        ``population_in_village`` and ``population_covered_mobile``/``_5g``.
    indicators
        Every indicator whose inputs were given.
    towers
        Tower locations (EPSG:4326), when sites were given.
    metric_crs
        The CRS the computation ran in.
    """

    villages: gpd.GeoDataFrame
    indicators: tuple[IndicatorValue, ...]
    towers: gpd.GeoDataFrame | None
    metric_crs: pyproj.CRS
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def levels(self) -> tuple[str, ...]:
        """Admin levels present in the village table."""
        return tuple(
            lv for lv in ADMIN_LEVELS if lv in self.villages and self.villages[lv].notna().any()
        )


def _xy(frame: gpd.GeoDataFrame, crs: pyproj.CRS) -> npt.NDArray[np.float64]:
    """Return representative points of `frame` (EPSG:4326) in the metric CRS.

    Points are taken on the surface in lon/lat and only they are projected: a point inside a
    village stays inside it under the (continuous) projection, and projecting 100,000 points
    costs a fraction of projecting 100,000 polygons.
    """
    geoms = np.asarray(frame.geometry.array, dtype=object)
    pts = shapely.point_on_surface(geoms)
    t = pyproj.Transformer.from_crs(frame.crs, crs, always_xy=True)
    x, y = t.transform(shapely.get_x(pts), shapely.get_y(pts))
    return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])


def _centres(
    villages: gpd.GeoDataFrame, rep_xy: npt.NDArray[np.float64], crs: pyproj.CRS
) -> npt.NDArray[np.float64]:
    """Village centres (cultural house) in the metric CRS; representative points stand in."""
    xy = rep_xy.copy()
    if "centre_lon" in villages and "centre_lat" in villages:
        lon = villages["centre_lon"].to_numpy(dtype=float)
        lat = villages["centre_lat"].to_numpy(dtype=float)
        given = ~(np.isnan(lon) | np.isnan(lat))
        if given.any():
            t = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
            cx, cy = t.transform(lon[given], lat[given])
            xy[given, 0], xy[given, 1] = cx, cy
    return xy


def _official_points(
    villages: gpd.GeoDataFrame,
    centres: npt.NDArray[np.float64],
    settlements: gpd.GeoDataFrame | None,
    crs: pyproj.CRS,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(village index, x, y) of each village's centre and residential clusters."""
    n = len(villages)
    v = [np.arange(n, dtype=np.int64)]
    xs = [centres[:, 0]]
    ys = [centres[:, 1]]
    if settlements is not None and len(settlements):
        sxy = _xy(settlements, crs)
        owner = np.full(len(settlements), -1, dtype=np.int64)
        if "village_id" in settlements and settlements["village_id"].notna().any():
            lookup = pd.Series(np.arange(n), index=villages["village_id"].astype(str))
            ids = settlements["village_id"].astype("string")
            known = ids.isin(lookup.index).fillna(False).to_numpy(dtype=bool)
            owner[known] = lookup.loc[ids[known].to_numpy(dtype=str)].to_numpy()
        loose = owner < 0
        if loose.any():
            # Clusters without a village id belong to the village polygon that holds them.
            geoms = np.asarray(settlements.geometry.array, dtype=object)[loose]
            hit_p, hit_v = villages.sindex.query(
                shapely.point_on_surface(geoms), predicate="within"
            )
            idx = np.flatnonzero(loose)
            owner[idx[hit_p]] = hit_v
        keep = owner >= 0
        v.append(owner[keep])
        xs.append(sxy[keep, 0])
        ys.append(sxy[keep, 1])
    return np.concatenate(v), np.concatenate(xs), np.concatenate(ys)


def assess(
    inputs: CoverageInputs,
    config: CoverageConfig,
    *,
    progress: Progress | None = None,
) -> Assessment:
    """Compute village coverage, fiber reach, sharing and the indicators.

    Parameters
    ----------
    inputs
        Clean layers in EPSG:4326.
    config
        The run's configuration.
    progress
        Called with the name of each step as it starts.

    Returns
    -------
    Assessment
    """
    step = progress or (lambda _name: None)
    villages = inputs.villages.reset_index(drop=True)
    crs = metric_crs(tuple(villages.total_bounds))
    rep_xy = _xy(villages, crs)
    centres = _centres(villages, rep_xy, crs)
    columns: dict[str, object] = {}
    values: list[IndicatorValue] = []
    notes: list[str] = []
    mcfg = config.mobile
    towers: gpd.GeoDataFrame | None = None

    if inputs.sites is not None:
        step("mobile coverage")
        sites_m = inputs.sites.to_crs(crs)
        if mcfg.model == "terrain":
            raise NotImplementedError("the terrain model is run by hatangso.coverage.terrain")
        table = mobile.site_table(
            sites_m, model=mcfg.model, radius_m=mcfg.radius_m, threshold_dbm=mcfg.threshold_dbm
        )
        cells = None
        if inputs.population is not None:
            step("population raster")
            cells = mobile.population_cells(villages, str(inputs.population), to_crs=crs)
        official = None
        if mcfg.rule == "official":
            official = _official_points(villages, centres, inputs.settlements, crs)
        # Polygons are projected only for the rules that measure their area.
        shaped = villages.to_crs(crs) if mcfg.rule in ("area", "population") else villages
        result = mobile.mobile_coverage(
            shaped,
            table,
            rule=mcfg.rule,
            min_share=mcfg.min_share,
            population_cells=cells,
            official_points=official,
            points_xy=rep_xy,
        )
        columns.update({c: result[c].to_numpy() for c in result.columns})
        step("tower sharing")
        located = sharing.tower_locations(
            sites_m, tolerance_m=config.sharing.colocation_tolerance_m
        )
        values.append(located.indicator)
        towers = located.table.to_crs(4326)
        if inputs.pois is not None and len(inputs.pois):
            values.extend(_poi_indicators(inputs.pois, table, crs))
    if "population_in_village" not in columns and "population" in villages:
        people = villages["population"].to_numpy(dtype=float)
        columns["population_in_village"] = people
        if "covered_mobile" in columns:
            columns["population_covered_mobile"] = np.where(
                np.asarray(columns["covered_mobile"], dtype=bool), people, 0.0
            )
            columns["population_covered_5g"] = np.where(
                np.asarray(columns["covered_5g"], dtype=bool), people, 0.0
            )

    if inputs.access_points is not None or inputs.fiber is not None:
        step("fiber reach")
        network = None
        if inputs.roads is not None:
            from hatangso.coverage.network import load_roads

            network = load_roads(inputs.roads, to_crs=crs)
        targets = centres if mcfg.rule == "official" else rep_xy
        ap_xy = (
            _xy(inputs.access_points, crs) if inputs.access_points is not None else np.empty((0, 2))
        )
        cables = (
            np.asarray(inputs.fiber.to_crs(crs).geometry.array, dtype=object)
            if inputs.fiber is not None
            else None
        )
        limit = config.ftth.max_distance_m
        distance = fiber.ftth_distance_m(
            targets,
            access_points_xy=ap_xy,
            cables=cables,
            network=network,
            max_distance_m=limit,
        )
        if network is None:
            notes.append("no road network given: FTTH distances are straight lines")
        within = np.isfinite(distance) & (distance <= limit)
        columns["covered_ftth"] = within
        columns["ftth_distance_m"] = np.where(np.isfinite(distance), distance, np.nan)
        how = "along the roads" if network is not None else "in a straight line"
        columns["ftth_reason"] = np.where(
            within,
            "fiber access point within "
            + np.char.mod("%.0f", np.nan_to_num(distance))
            + f" m {how}",
            f"no fiber access point within {limit:.0f} m {how}",
        )
    if inputs.poles is not None and len(inputs.poles):
        values.append(sharing.pole_sharing(inputs.poles))
    if inputs.ducts is not None and len(inputs.ducts):
        values.append(sharing.duct_sharing(inputs.ducts.to_crs(crs)))
    if inputs.pois is not None:
        hq = inputs.pois[inputs.pois["kind"] == "commune_hq"]
        if len(hq) and "data_network" in hq:
            connected = hq["data_network"].fillna(False).to_numpy(dtype=bool)
            values.append(
                IndicatorValue(
                    "commune_data_network_connection", float(connected.sum()), float(len(hq))
                )
            )

    out = villages.copy()
    for name, column in columns.items():
        out[name] = column
    codes = [c for c in INDICATORS if c in _VILLAGE_CODES]
    values = village_indicators(out, codes=codes) + values
    return Assessment(
        villages=out,
        indicators=tuple(values),
        towers=towers,
        metric_crs=crs,
        notes=tuple(notes),
    )


_VILLAGE_CODES = {
    "village_mobile_coverage",
    "village_5g_coverage",
    "village_ftth_coverage",
    "population_mobile_coverage",
    "population_5g_coverage",
    "household_ftth_reach",
}


def _poi_indicators(
    pois: gpd.GeoDataFrame, table: mobile.SiteTable, crs: pyproj.CRS
) -> list[IndicatorValue]:
    key = pois[pois["kind"].isin(KEY_AREA_KINDS)]
    if not len(key):
        return []
    xy = _xy(key, crs)
    pairs = mobile.covered_points(xy[:, 0], xy[:, 1], table, "5G")
    covered = np.zeros(len(key), dtype=bool)
    covered[pairs.point] = True
    return [IndicatorValue("key_area_5g_coverage", float(covered.sum()), float(len(key)))]
