"""One coverage assessment: every indicator of the contract from clean input layers.

:func:`assess` takes validated layers (EPSG:4326, as :mod:`hatangso.geo.validate` returns
them), works in one metric CRS chosen from the villages' extent, and returns the village table
with the contract's output columns, the indicators and the shared tower locations.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from hatangso.coverage import fiber, mobile, registry, services, sharing
from hatangso.coverage.calibration import Calibration, calibrate_sites
from hatangso.coverage.config import CoverageConfig
from hatangso.coverage.iot import IotZones, iot_zone_coverage
from hatangso.coverage.kpis import INDICATORS, IndicatorValue, village_indicators
from hatangso.coverage.villages import (
    RuleAnswer,
    VillagePoints,
    representative_xy,
    rule_reasons,
    village_points,
)
from hatangso.geo.crs import metric_crs
from hatangso.geo.errors import InputError, Problem
from hatangso.geo.progress import Progress, silent

if TYPE_CHECKING:  # the terrain model (numba, rasterio) is imported when it runs
    from hatangso.coverage.distributed import ClusterOptions
    from hatangso.coverage.rasters import Raster
    from hatangso.coverage.terrain import CoverageRasters

__all__ = [
    "ADMIN_LEVELS",
    "Assessment",
    "CoverageInputs",
    "VillagePoints",
    "assess",
    "village_points",
]

log = logging.getLogger(__name__)

#: Admin levels a village table may carry, from the largest down.
ADMIN_LEVELS = ("province", "district", "commune")

KEY_AREA_KINDS = ("district_centre", "industrial_park", "tourism")


@dataclass(frozen=True)
class CoverageInputs:
    """The clean layers of one run (EPSG:4326); only villages are required.

    `calibration` (from ``hatangso calibrate``) corrects the ``hata`` model's power and reach
    per operator and environment.
    """

    villages: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame | None = None
    access_points: gpd.GeoDataFrame | None = None
    fiber: gpd.GeoDataFrame | None = None
    poles: pd.DataFrame | None = None
    ducts: gpd.GeoDataFrame | None = None
    pois: gpd.GeoDataFrame | None = None
    settlements: gpd.GeoDataFrame | None = None
    #: The registry of antenna masts: with it, sharing counts tenants per built mast.
    masts: gpd.GeoDataFrame | None = None
    roads: Path | None = None
    dem: Path | None = None
    population: Path | None = None
    calibration: Calibration | None = None


@dataclass(frozen=True)
class Assessment:
    """What one run found.

    Attributes
    ----------
    villages
        The input villages (EPSG:4326) plus ``covered_mobile``, ``covered_5g``,
        ``covered_ftth`` (bool; absent without fiber input), ``best_dbm`` (dBm of the best
        4G or 5G carrier, NaN when not modelled or uncovered), ``nearest_site_m``,
        ``serving_operators`` (';'-joined), ``ftth_distance_m`` (m, NaN beyond reach or
        without fiber input), ``mobile_share``,
        ``share_5g``, ``mobile_reason``, ``ftth_reason`` and, where people are known,
        ``population_in_village`` and ``population_covered_mobile``/``_5g``.
    indicators
        Every indicator whose inputs were given.
    towers
        Tower locations (EPSG:4326), when sites were given: the registry's built masts with
        their tenants when a registry was given, else the sites grouped by position.
    metric_crs
        The CRS the computation ran in.
    notes
        What the user should know about how the figures were obtained.
    terrain
        The terrain model's grids (best-server power, server count, coverage per operator
        and technology), when the terrain model ran.
    model
        The propagation model that decided mobile coverage.
    points
        The villages' demand points in `metric_crs` (representative points, centres,
        residential clusters), as the rule read them.
    sharing_basis
        What the BTS sharing indicators counted: ``registry`` (tenants per built mast of the
        registry), ``clustering`` (sites grouped by position) or None (neither was given).
    iot
        The industrial parks and production zones and their IoT coverage
        (:func:`hatangso.coverage.iot.iot_zone_coverage`), when sites and such zones were
        given.
    """

    villages: gpd.GeoDataFrame
    indicators: tuple[IndicatorValue, ...]
    towers: gpd.GeoDataFrame | None
    metric_crs: pyproj.CRS
    notes: tuple[str, ...] = field(default_factory=tuple)
    terrain: CoverageRasters | None = None
    model: str = "radius"
    points: VillagePoints | None = None
    sharing_basis: str | None = None
    iot: IotZones | None = None

    @property
    def levels(self) -> tuple[str, ...]:
        """Admin levels present in the village table."""
        return tuple(
            lv for lv in ADMIN_LEVELS if lv in self.villages and self.villages[lv].notna().any()
        )


def assess(
    inputs: CoverageInputs,
    config: CoverageConfig,
    *,
    progress: Progress | None = None,
    cache_dir: Path | None = None,
    cluster: ClusterOptions | None = None,
) -> Assessment:
    """Compute village coverage, fiber reach, sharing and the indicators.

    Parameters
    ----------
    inputs
        Clean layers in EPSG:4326.
    config
        The run's configuration.
    progress
        Told the name of each step as it starts, and the terrain model's carriers done of
        their total (:class:`~hatangso.geo.progress.Progress`).
    cache_dir
        Where the terrain model keeps each site's computed losses, so that a later run that
        adds one site computes only that site.
    cluster
        Run the terrain model's per-site work on a Dask cluster, local or existing
        (:mod:`hatangso.coverage.distributed`), with the same answers; None: on this machine.
        The terrain grid is written for the workers into `cache_dir` (which a cluster of
        several machines must share); the workers do not use the per-site cache.

    Returns
    -------
    Assessment
    """
    step = progress or silent
    villages = inputs.villages.reset_index(drop=True)
    crs = metric_crs(tuple(villages.total_bounds))
    points = village_points(villages, crs, settlements=inputs.settlements)
    model = effective_model(config, dem_given=inputs.dem is not None)
    if model == "terrain" and inputs.dem is None:
        raise InputError(
            Problem(
                file="configuration",
                column="mobile.model",
                message="the terrain model needs a DEM",
                fix="pass --dem (a GeoTIFF or SRTM .hgt), or set mobile.model: radius or hata",
            )
        )
    if cluster is not None and model != "terrain":
        log.warning("the %s model runs here: a Dask cluster runs only the terrain model", model)
    found = _Mobile(columns={}, indicators=(), notes=(), towers=None, grids=None)
    if inputs.sites is not None:
        step(f"mobile coverage ({model} model, {_techs(inputs.sites)})")
        found = _mobile_part(
            inputs,
            villages,
            config,
            model=model,
            crs=crs,
            points=points,
            step=step,
            cache_dir=cache_dir,
            cluster=cluster,
        )
    columns = {**found.columns, **_people_columns(villages, found.columns)}
    notes = list(found.notes)
    if inputs.access_points is not None or inputs.fiber is not None:
        step("fiber reach")
        ftth_columns, ftth_notes = _fiber_part(inputs, config, crs=crs, points=points)
        columns.update(ftth_columns)
        notes.extend(ftth_notes)
    else:
        notes.append(
            "no fiber access point or cable given: village_ftth_coverage and "
            "household_ftth_reach are not computed (left out), and covered_ftth is false"
        )
    values = [*found.indicators, *_infrastructure_indicators(inputs, crs)]
    towers = found.towers
    basis = "clustering" if inputs.sites is not None else None
    if inputs.masts is not None:
        step("tower sharing (the mast registry)")
        registered = registry.mast_sharing(inputs.masts, inputs.sites)
        values.extend([registered.indicator, registered.station_indicator])
        towers = registered.table.to_crs(4326)
        basis = "registry"
        notes.append(
            f"BTS sharing counted on the mast registry: tenants of its {len(registered.table)} "
            "built masts (listed tenants and the operators of the sites naming them)"
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
        terrain=found.grids,
        model=model,
        points=points,
        sharing_basis=basis,
        iot=found.iot,
    )


def _techs(sites: gpd.GeoDataFrame) -> str:
    """Name the technologies of the sites (``4G, 5G``), for the progress of mobile coverage."""
    if "tech" not in sites:
        return "4G"
    # A national run has a handful of distinct values over 120,000 sites: split those only.
    from hatangso.geo.techs import TECHNOLOGIES, parse_techs

    found: set[str] = set()
    for value in sites["tech"].dropna().astype(str).unique().tolist():
        found.update(parse_techs(value) or ())
    return ", ".join(t for t in TECHNOLOGIES if t in found) or "4G"


@dataclass(frozen=True, eq=False)
class _Mobile:
    """What the sites give: village columns, indicators, notes, towers and terrain grids."""

    columns: dict[str, object]
    indicators: tuple[IndicatorValue, ...]
    notes: tuple[str, ...]
    towers: gpd.GeoDataFrame | None
    grids: CoverageRasters | None
    iot: IotZones | None = None


def _mobile_part(
    inputs: CoverageInputs,
    villages: gpd.GeoDataFrame,
    config: CoverageConfig,
    *,
    model: str,
    crs: pyproj.CRS,
    points: VillagePoints,
    step: Progress,
    cache_dir: Path | None,
    cluster: ClusterOptions | None = None,
) -> _Mobile:
    """Judge the villages' mobile coverage and count tower sharing and key areas."""
    assert inputs.sites is not None
    sites_m = inputs.sites.to_crs(crs)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hatangso-towers") as pool:
        # The tower locations need the sites alone: they are grouped on the other core while
        # this thread judges the villages (k-d trees and sparse graphs let go of the GIL; on
        # 120,000 sites the grouping takes a third of the radius model's time).
        located = (
            pool.submit(_tower_sharing, sites_m, config.sharing.colocation_tolerance_m)
            if inputs.masts is None  # with a registry, sharing counts its tenants (in assess)
            else None
        )
        table, notes = _site_table(sites_m, inputs.calibration, config, model=model)
        grids, result = _judge_villages(
            inputs,
            villages,
            sites_m,
            table,
            config,
            model=model,
            crs=crs,
            points=points,
            step=step,
            cache_dir=cache_dir,
            cluster=cluster,
        )
        indicators: list[IndicatorValue] = []
        towers = None
        if located is not None:
            step("tower sharing")
            indicators, towers = located.result()
    iot = None
    if inputs.pois is not None and len(inputs.pois):
        from hatangso.coverage import warmup

        if not warmup.area_kernels_compiled():  # the IoT zones' shares of area
            step("key areas and IoT zones: compiling the area kernels (first run only)")
        indicators.extend(_poi_indicators(inputs.pois, table, crs, grids))
        iot = _iot_part(inputs.pois, table, crs, config, model=model, notes=notes)
        if iot is not None:
            indicators.append(iot.indicator)
    return _Mobile(
        columns={c: result[c].to_numpy() for c in result.columns},
        indicators=tuple(indicators),
        notes=tuple(notes),
        towers=towers,
        grids=grids,
        iot=iot,
    )


def _judge_villages(
    inputs: CoverageInputs,
    villages: gpd.GeoDataFrame,
    sites_m: gpd.GeoDataFrame,
    table: mobile.SiteTable,
    config: CoverageConfig,
    *,
    model: str,
    crs: pyproj.CRS,
    points: VillagePoints,
    step: Progress,
    cache_dir: Path | None,
    cluster: ClusterOptions | None,
) -> tuple[CoverageRasters | None, pd.DataFrame]:
    """Return the terrain grids (None under the radius model) and the villages' mobile columns."""
    cells = None
    if inputs.population is not None:
        step("population raster")
        cells = mobile.population_cells(villages, str(inputs.population), to_crs=crs)
    if model == "terrain":
        assert inputs.dem is not None
        step("terrain coverage")
        return _terrain_coverage(
            villages,
            sites_m,
            config,
            dem_path=inputs.dem,
            crs=crs,
            points=points,
            cells=cells,
            cache_dir=cache_dir,
            nearest=table,
            population_path=inputs.population,
            step=step,
            cluster=cluster,
        )
    rule = config.mobile.rule
    # Polygons are projected only for the rules that measure their area.
    shaped = villages.to_crs(crs) if rule in ("area", "population") else villages
    judged: dict[str, Any] = {
        "rule": rule,
        "min_share": config.mobile.min_share,
        "points": points,
        "population_cells": cells,
    }
    result = mobile.mobile_coverage(shaped, table, **judged)
    if services.carries_legacy(sites_m):
        step("2G, 3G and IoT coverage")
        by_tech = services.technology_coverage(shaped, table, **judged)
        result = result.assign(**_service_columns(by_tech, result))
    return None, result


def _tower_sharing(
    sites_m: gpd.GeoDataFrame, tolerance_m: float
) -> tuple[list[IndicatorValue], gpd.GeoDataFrame]:
    """Return the sharing indicators of the sites' tower locations and the towers in EPSG:4326."""
    located = sharing.tower_locations(sites_m, tolerance_m=tolerance_m)
    return [located.indicator, located.station_indicator], located.table.to_crs(4326)


def _iot_part(
    pois: gpd.GeoDataFrame,
    table: mobile.SiteTable,
    crs: pyproj.CRS,
    config: CoverageConfig,
    *,
    model: str,
    notes: list[str],
) -> IotZones | None:
    """Judge the IoT zones (industrial parks, production zones); say how, in `notes`."""
    found = iot_zone_coverage(pois, table, crs, area_share=config.iot.area_share)
    if found is None:
        return None
    share = config.iot.area_share
    notes.append(
        f"IoT zones: a polygon counts when at least {share:.0%} of its area is within reach of "
        "an NB-IoT or LTE-M site, a point when it is within reach"
        + (
            " (the sites' link-budget reach; the terrain model is not applied)"
            if model == "terrain"
            else ""
        )
    )
    return found


def _site_table(
    sites_m: gpd.GeoDataFrame,
    calibration: Calibration | None,
    config: CoverageConfig,
    *,
    model: str,
) -> tuple[mobile.SiteTable, list[str]]:
    """Return the sites' link budgets (terrain: its hata bound), calibrated under hata."""
    mcfg = config.mobile
    # Reach for the distance bound and key areas: the link budget (terrain: its hata bound).
    table = mobile.site_table(
        sites_m,
        model="radius" if model == "radius" else "hata",
        radius_m=mcfg.radius_m,
        threshold_dbm=mcfg.threshold_dbm,
    )
    if calibration is None:
        return table, []
    if model != "hata":
        return table, [f"the calibration applies to the hata model, not to {model}"]
    table = calibrate_sites(table, calibration, threshold_dbm=mcfg.threshold_dbm)
    return table, ["the hata model carries the calibration fitted to measurements"]


def _service_columns(
    by_tech: services.TechCoverage, judged: pd.DataFrame
) -> dict[str, npt.NDArray[Any]]:
    """Return the technology and switch-off columns of villages judged for 4G or better."""
    return services.service_columns(
        by_tech,
        covered_mobile=judged["covered_mobile"].to_numpy(dtype=bool),
        serving=judged["serving_operators"].to_numpy(dtype=object),
    )


def _people_columns(villages: gpd.GeoDataFrame, columns: Mapping[str, object]) -> dict[str, object]:
    """Return the people columns from ``population`` when no raster counted them."""
    if "population_in_village" in columns or "population" not in villages:
        return {}
    people = villages["population"].to_numpy(dtype=float)
    out: dict[str, object] = {"population_in_village": people}
    if "covered_mobile" in columns:
        out["population_covered_mobile"] = np.where(
            np.asarray(columns["covered_mobile"], dtype=bool), people, 0.0
        )
        out["population_covered_5g"] = np.where(
            np.asarray(columns["covered_5g"], dtype=bool), people, 0.0
        )
    return out


def _fiber_part(
    inputs: CoverageInputs, config: CoverageConfig, *, crs: pyproj.CRS, points: VillagePoints
) -> tuple[dict[str, object], list[str]]:
    """Return the FTTH columns (distance, reach, reason) and a note on straight lines."""
    network = None
    if inputs.roads is not None:
        from hatangso.coverage.network import load_roads

        network = load_roads(inputs.roads, to_crs=crs)
    # Under every rule, fiber reach is the service at the village centre (the cultural
    # house, as provinces count it); the representative point stands in where none is given.
    targets = points.centre_xy
    ap_xy = (
        representative_xy(inputs.access_points, crs)
        if inputs.access_points is not None
        else np.empty((0, 2))
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
    notes = ["no road network given: FTTH distances are straight lines"] if network is None else []
    columns: dict[str, object] = {
        "covered_ftth": fiber.villages_within(distance, max_distance_m=limit),
        "ftth_distance_m": np.where(np.isfinite(distance), distance, np.nan),
        "ftth_reason": fiber.ftth_reasons(
            distance,
            at_centre=points.centre_given,
            access_points_xy=ap_xy,
            cables=cables,
            network=network,
            max_distance_m=limit,
        ),
    }
    return columns, notes


def _infrastructure_indicators(inputs: CoverageInputs, crs: pyproj.CRS) -> list[IndicatorValue]:
    """Return the indicators of poles, ducts and the commune headquarters' data network."""
    values: list[IndicatorValue] = []
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
    return values


_VILLAGE_CODES = {
    "village_mobile_coverage",
    "village_5g_coverage",
    "village_ftth_coverage",
    "population_mobile_coverage",
    "population_5g_coverage",
    "household_ftth_reach",
    *services.LOSS_COLUMNS,
}


def _poi_indicators(
    pois: gpd.GeoDataFrame,
    table: mobile.SiteTable,
    crs: pyproj.CRS,
    grids: CoverageRasters | None = None,
) -> list[IndicatorValue]:
    key = pois[pois["kind"].isin(KEY_AREA_KINDS)]
    if not len(key):
        return []
    xy = representative_xy(key, crs)
    if grids is not None:
        covered = _sample_mask(grids, ("5G",), xy)
    else:
        pairs = mobile.covered_points(xy[:, 0], xy[:, 1], table, "5G")
        covered = np.zeros(len(key), dtype=bool)
        covered[pairs.point] = True
    return [IndicatorValue("key_area_5g_coverage", float(covered.sum()), float(len(key)))]


def effective_model(config: CoverageConfig, *, dem_given: bool) -> str:
    """Return the propagation model of a run.

    The configured one, or ``terrain`` when a DEM is given and the configuration names none.
    """
    if dem_given and "model" not in config.mobile.model_fields_set:
        return "terrain"
    return config.mobile.model


def _sample_mask(
    grids: CoverageRasters,
    techs: tuple[str, ...],
    xy: npt.NDArray[np.float64],
    operators: tuple[str, ...] | None = None,
) -> npt.NDArray[np.bool_]:
    """Whether each point (in the grids' CRS) is covered by `techs` (and `operators`)."""
    from hatangso.coverage.rasters import sample_points

    mask = grids.best_dbm.with_array(grids.mask(techs=techs, operators=operators))
    values = sample_points(mask, gpd.GeoSeries(shapely.points(xy), crs=grids.best_dbm.crs))
    return np.asarray(np.nan_to_num(values, nan=0.0) > 0.5, dtype=bool)


def _terrain_coverage(
    villages: gpd.GeoDataFrame,
    sites_m: gpd.GeoDataFrame,
    config: CoverageConfig,
    *,
    dem_path: Path,
    crs: pyproj.CRS,
    points: VillagePoints,
    cells: mobile.PopulationCells | None,
    cache_dir: Path | None,
    nearest: mobile.SiteTable,
    population_path: Path | None,
    step: Progress,
    cluster: ClusterOptions | None = None,
) -> tuple[CoverageRasters, pd.DataFrame]:
    """Village coverage from the terrain model's grids, with the contract's rules."""
    from hatangso.coverage import rasters, terrain, warmup

    mcfg, tcfg = config.mobile, config.terrain
    # Read the DEM over the villages and the sites, plus the terrain radius around them.
    west, south, east, north = villages.total_bounds
    s_w, s_s, s_e, s_n = (
        sites_m.to_crs(4326).total_bounds if len(sites_m) else (west, south, east, north)
    )
    margin_deg = tcfg.radius_m / 111_000.0 / max(np.cos(np.radians((south + north) / 2)), 0.2)
    bounds = (
        min(west, s_w) - margin_deg,
        min(south, s_s) - margin_deg,
        max(east, s_e) + margin_deg,
        max(north, s_n) + margin_deg,
    )
    # The grid's size is known before the DEM is read: refuse one past the limit now.
    mid_lat = np.radians((bounds[1] + bounds[3]) / 2)
    terrain.check_grid(
        (bounds[2] - bounds[0]) * 111_320.0 * max(float(np.cos(mid_lat)), 0.0),
        (bounds[3] - bounds[1]) * 110_574.0,
        tcfg.resolution_m,
        limit=config.limits.max_terrain_grid_cells,
    )
    dem = rasters.read_dem(
        dem_path, bounds_wgs84=bounds, dst_crs=crs, resolution_m=tcfg.resolution_m
    )
    if cluster is None:
        if not warmup.terrain_kernels_compiled(tcfg.method):
            step("terrain coverage: compiling the terrain kernels (first run only)")
        grids = terrain.coverage_rasters(
            dem,
            sites_m,
            radius_m=tcfg.radius_m,
            threshold_dbm=mcfg.threshold_dbm,
            model=tcfg.method,
            clutter_loss_db=tcfg.clutter_loss_db,
            cache_dir=cache_dir,
            cache_max_bytes=config.limits.max_cache_bytes,
            max_work_cells=config.limits.max_terrain_work_cells,
            progress=lambda done, total: step("terrain coverage", done=done, total=total),
        )
    else:
        grids = _terrain_on_cluster(dem, sites_m, config, cluster, cache_dir=cache_dir, step=step)
    rule = mcfg.rule
    population = None
    if rule == "population" and population_path is not None:
        population = rasters.read_population(population_path, like=dem)
    # Without a population grid the population rule falls back on area shares, as the
    # distance models do.
    judge_rule = "area" if rule == "population" and population is None else rule
    judging = "judging the villages on the terrain grids"
    if judge_rule in ("area", "population") and not warmup.area_kernels_compiled():
        judging += ": compiling the area kernels (first run only)"
    step(judging)
    projected = villages.to_crs(crs)  # read by the 4G/5G rules and the other technologies
    judged = terrain.judge_villages(
        projected,
        grids,
        rule=judge_rule,
        min_share=mcfg.min_share,
        population=population,
        points=points,
    )
    n = len(villages)
    out = pd.DataFrame(index=villages.index)
    for column in (
        "covered_mobile",
        "covered_5g",
        "mobile_share",
        "share_5g",
        "best_dbm",
        "serving_operators",
    ):
        out[column] = judged[column].to_numpy()
    if services.carries_legacy(sites_m):
        by_tech = services.terrain_technology_coverage(
            projected,
            grids,
            rule=judge_rule,
            min_share=mcfg.min_share,
            points=points,
            population=population,
        )
        out = out.assign(**_service_columns(by_tech, out))
    if cells is not None:
        cxy = np.column_stack([cells.x, cells.y])
        total = np.bincount(cells.village, weights=cells.people, minlength=n)
        for tech, column in (("4G", "population_covered_mobile"), ("5G", "population_covered_5g")):
            techs = ("4G", "5G") if tech == "4G" else ("5G",)
            hit = _sample_mask(grids, techs, cxy)
            out[column] = np.bincount(cells.village, weights=cells.people * hit, minlength=n)
        out["population_in_village"] = total
    dist, idx = mobile.nearest_sites(nearest, points.representative_xy)
    dist = np.where(np.isfinite(dist), dist, np.nan)
    op = nearest.operator[idx] if len(nearest) else np.full(n, "", dtype=object)
    out["nearest_site_m"] = dist
    out["mobile_reason"] = _terrain_reasons(out, dist, op, config)
    return grids, out


def _terrain_on_cluster(
    dem: Raster,
    sites_m: gpd.GeoDataFrame,
    config: CoverageConfig,
    cluster: ClusterOptions,
    *,
    cache_dir: Path | None,
    step: Progress,
) -> CoverageRasters:
    """Compute the terrain grids on a Dask cluster; the step names its dashboard."""
    from hatangso.coverage import distributed

    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
    name = ["terrain coverage on the Dask cluster"]

    def dashboard(link: str) -> None:
        name[0] = f"terrain coverage on the Dask cluster (dashboard {link})"
        step(name[0])

    with distributed.dask_client(cluster, dashboard=dashboard) as client:
        return distributed.coverage_rasters_dask(
            dem,
            sites_m,
            client=client,
            radius_m=config.terrain.radius_m,
            threshold_dbm=config.mobile.threshold_dbm,
            model=config.terrain.method,
            clutter_loss_db=config.terrain.clutter_loss_db,
            scratch_dir=cache_dir,
            max_work_cells=config.limits.max_terrain_work_cells,
            progress=lambda done, total: step(name[0], done=done, total=total),
        )


def _terrain_reasons(
    judged: pd.DataFrame,
    dist: npt.NDArray[np.float64],
    op: npt.NDArray[np.object_],
    config: CoverageConfig,
) -> npt.NDArray[np.object_]:
    """Return why the terrain model covers each village or not (``mobile_reason``).

    ``best_dbm`` is the best 4G or 5G carrier at the representative point (2G, 3G and IoT
    carriers never count): a dark village whose best server reaches the threshold there is
    dark because too little of it has 4G (``area``, ``population``).
    """
    mcfg = config.mobile
    rule = mcfg.rule
    best = judged["best_dbm"].to_numpy(dtype=float)
    covered = judged["covered_mobile"].to_numpy(dtype=bool)
    threshold = mcfg.threshold_dbm
    power = np.char.mod("%.0f", np.nan_to_num(best, nan=-999.0)).astype(object)
    km = np.char.mod("%.1f", np.asarray(dist, dtype=float) / 1000).astype(object)
    if rule in ("area", "population"):
        share = np.char.mod("%.0f", 100 * judged["mobile_share"].to_numpy(dtype=float))
        weak = (
            "terrain model: 4G or better over "
            + share.astype(object)
            + f"% of the village's {'area' if rule == 'area' else 'people'}, below the "
            f"{mcfg.min_share:.0%} the {rule} rule asks"
        )
    else:
        weak = (
            "terrain model: best 4G or 5G server "
            + power
            + f" dBm at the village's point, yet not covered under the {rule} rule"
        )
    reasons = np.where(
        covered,
        "terrain model: best server " + power + f" dBm (threshold {threshold:.0f} dBm)",
        np.where(
            np.isnan(best),
            "terrain model: no 4G or 5G carrier within reach or in view; nearest site is "
            + np.asarray(op, dtype=object)
            + " at "
            + km
            + " km",
            np.where(
                best >= threshold,
                weak,
                "terrain model: best server " + power + f" dBm, below {threshold:.0f} dBm "
                "(terrain shadow or distance)",
            ),
        ),
    )
    if rule == "official":
        # The best server at the representative point does not decide this rule: say what
        # the centre and the clusters found.
        answer = RuleAnswer(covered=covered, share=judged["mobile_share"].to_numpy(dtype=float))
        reasons = "terrain model: " + rule_reasons(rule, answer, min_share=mcfg.min_share)
    return np.asarray(reasons, dtype=object)
