"""The planning job behind ``hatangso plan``: where an operator should build to light dark villages.

:func:`run_plan` reads and validates the inputs, assesses today's coverage with the coverage
engine, builds the candidate sites and their coverage matrix (:mod:`hatangso.coverage.siting`),
solves the least-cost cover of a target share or the maximal cover of a budget
(:mod:`hatangso.coverage.optimize`), and then *re-checks* the plan: the engine assesses the
existing sites plus the planned ones (new rows of the operator; a co-located site at its
partner's tower), so the coverage and the KPIs it reports are the engine's, not the solver's.
With a DEM and the terrain model the candidates' coverage is computed over the terrain
(:func:`hatangso.coverage.siting.terrain_coverage_matrix`) and the re-check runs the engine's
terrain model; ``plan.json`` names both models (``matrix_model``, ``recheck_model``).

Outputs in ``out_dir``: ``plan.geojson`` (one Point per planned site, EPSG:4326), ``plan.json``
(the problem, the solver's status, bound and gap, the ranked sites, the villages out of reach,
the KPIs before and after) and ``rejects.csv``.

Options
-------
``--budget K`` counts sites unless the configuration sets ``siting.budget_unit: cost``, when it
is the sum of the sites' costs (``siting.costs``: relative units by default, a new tower 1.0 and
a co-location 0.35; any money unit when the costs and the candidate file's ``cost`` column are
written in it). ``--target SHARE`` is the share of the *demand* to cover at the least cost: of
the dark villages (``--scope any``: villages no operator covers; ``own``: villages the operator
does not cover), each village weighing 1, or its ``population`` with ``siting.weight:
population``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from hatangso.coverage import siting
from hatangso.coverage.config import CoverageConfig, load_config
from hatangso.coverage.engine import Assessment, CoverageInputs, assess, effective_model
from hatangso.coverage.optimize import Method, TargetInfeasibleError
from hatangso.geo.errors import InputError, Problem
from hatangso.geo.outputs import json_ready, write_json, write_rejects
from hatangso.geo.text import normalize_operator
from hatangso.geo.validate import Layer, load_layer
from hatangso.scenarios.job import InputFiles, load_inputs

__all__ = ["PlanResult", "run_plan"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

#: Indicators reported before and after the plan (those the engine computes from sites).
PLAN_KPIS = (
    "village_mobile_coverage",
    "population_mobile_coverage",
    "village_5g_coverage",
    "population_5g_coverage",
    "bts_site_sharing_ratio",
)

_FloatArray = npt.NDArray[np.float64]
_IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class PlanResult:
    """A finished plan.

    Attributes
    ----------
    plan
        The solver's ranked plan (metric CRS, candidate and village indices).
    sites
        The planned sites as written to ``plan.geojson`` (EPSG:4326), in build order.
    document
        The ``plan.json`` document.
    before, after
        The engine's assessment without and with the planned sites.
    demand
        Indices (rows of ``before.villages``) of the villages the plan is for.
    files
        The files written: ``plan_geojson``, ``plan_json``, ``rejects``.
    """

    plan: siting.SitePlan
    sites: gpd.GeoDataFrame
    document: dict[str, Any]
    before: Assessment
    after: Assessment
    demand: _IntArray
    files: Mapping[str, Path]


def _option_problem(message: str, fix: str, column: str | None = None) -> Problem:
    return Problem(file="options", message=message, fix=fix, column=column)


def _check_options(*, budget: float | None, target: float | None, scope: str, method: str) -> None:
    problems: list[Problem] = []
    if (budget is None) == (target is None):
        problems.append(
            _option_problem(
                "give exactly one of --budget and --target",
                "--budget K (a number of sites) or --target SHARE (0..1)",
            )
        )
    if budget is not None and not (math.isfinite(budget) and budget >= 0):
        problems.append(_option_problem(f"--budget is {budget}", "give a number >= 0"))
    if target is not None and not (math.isfinite(target) and 0 <= target <= 1):
        problems.append(
            _option_problem(f"--target is {target}", "give a share between 0 and 1, e.g. 0.95")
        )
    if scope not in ("any", "own"):
        problems.append(_option_problem(f"--scope is {scope!r}", "use any or own"))
    if method not in ("milp", "greedy"):
        problems.append(_option_problem(f"--method is {method!r}", "use milp or greedy"))
    if problems:
        raise InputError(problems)


def _points_xy(frame: gpd.GeoDataFrame, crs: pyproj.CRS) -> _FloatArray:
    """Return representative points of `frame` (EPSG:4326) in `crs`, as the engine does."""
    pts = shapely.point_on_surface(np.asarray(frame.geometry.array, dtype=object))
    t = pyproj.Transformer.from_crs(frame.crs, crs, always_xy=True)
    x, y = t.transform(shapely.get_x(pts), shapely.get_y(pts))
    return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])


def _centres_xy(villages: gpd.GeoDataFrame, rep_xy: _FloatArray, crs: pyproj.CRS) -> _FloatArray:
    """Village centres (``centre_lon``/``centre_lat``) in `crs`; representative points stand in."""
    xy = rep_xy.copy()
    if "centre_lon" in villages and "centre_lat" in villages:
        lon = pd.to_numeric(villages["centre_lon"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(villages["centre_lat"], errors="coerce").to_numpy(dtype=float)
        given = ~(np.isnan(lon) | np.isnan(lat))
        if given.any():
            t = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
            cx, cy = t.transform(lon[given], lat[given])
            xy[given, 0], xy[given, 1] = cx, cy
    return xy


def _settlement_owner(villages: gpd.GeoDataFrame, settlements: gpd.GeoDataFrame) -> _IntArray:
    """Village row of each settlement (by ``village_id``, else the polygon holding it), or -1."""
    owner = np.full(len(settlements), -1, dtype=np.int64)
    if len(settlements) == 0:
        return owner
    if "village_id" in settlements:
        lookup = pd.Series(np.arange(len(villages)), index=villages["village_id"].astype(str))
        ids = settlements["village_id"].astype("string")
        known = ids.isin(lookup.index).fillna(False).to_numpy(dtype=bool)
        owner[known] = lookup.loc[ids[known].to_numpy(dtype=str)].to_numpy()
    loose = np.flatnonzero(owner < 0)
    if loose.size:
        pts = shapely.point_on_surface(np.asarray(settlements.geometry.array, dtype=object)[loose])
        hit_p, hit_v = villages.sindex.query(pts, predicate="within")
        owner[loose[hit_p]] = hit_v
    return owner


def _indicators(result: Assessment, targets: Mapping[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for value in result.indicators:
        if value.code in PLAN_KPIS:
            out[value.code] = value.with_target(targets).as_dict()
    return out


def _engine_config(config: CoverageConfig, *, dem_given: bool) -> tuple[CoverageConfig, list[str]]:
    """Return the engine's configuration and notes: the terrain model needs the DEM.

    With the terrain model and a DEM, the configuration is kept (the engine runs the terrain
    model). With the terrain model named but no DEM, the plan falls back to Hata.
    """
    if effective_model(config, dem_given=dem_given) != "terrain" or dem_given:
        return config, []
    mobile_cfg = config.mobile.model_copy(update={"model": "hata"})
    note = (
        "plan: mobile.model is terrain but no DEM was given; coverage of candidates and the "
        "re-check use the Hata model (pass --dem to plan with the terrain model)"
    )
    return config.model_copy(update={"mobile": mobile_cfg}), [note]


def _terrain_dem(
    dem: Path, xy: _FloatArray, crs: pyproj.CRS, config: CoverageConfig, *, margin_m: float
) -> Any:
    """Read the DEM on the terrain grid (``terrain.resolution_m``) over `xy` plus `margin_m`."""
    from hatangso.coverage.rasters import read_dem

    margin = margin_m + 2.0 * config.terrain.resolution_m
    x0, y0 = xy.min(axis=0) - margin
    x1, y1 = xy.max(axis=0) + margin
    to_wgs84 = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    west, south, east, north = to_wgs84.transform_bounds(
        float(x0), float(y0), float(x1), float(y1), densify_pts=21
    )
    return read_dem(
        dem,
        bounds_wgs84=(float(west), float(south), float(east), float(north)),
        dst_crs=crs,
        resolution_m=config.terrain.resolution_m,
    )


def _read_exclusion(
    path: Path | None, config_path: Path | None, crs: pyproj.CRS
) -> gpd.GeoDataFrame | None:
    if path is None:
        return None
    if not path.is_absolute() and config_path is not None:
        path = config_path.parent / path
    if not path.exists():
        raise InputError(
            Problem(
                file=str(config_path.name if config_path else "config"),
                column="siting.exclusion",
                message=f"no such file: {path}",
                fix="give the path of a polygon file (relative to the configuration file)",
            )
        )
    frame = gpd.read_file(path)
    if frame.crs is None:
        raise InputError(
            Problem(
                file=path.name,
                message="the exclusion file has no CRS",
                fix="save it with a CRS, e.g. EPSG:4326",
            )
        )
    polygons = frame[
        frame.geometry.notna() & frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    ]
    return polygons.to_crs(crs)


def _unique_ids(prefix: str, n: int, taken: set[str]) -> list[str]:
    ids: list[str] = []
    k = 1
    while len(ids) < n:
        candidate = f"{prefix}-{k:03d}"
        if candidate not in taken:
            ids.append(candidate)
        k += 1
    return ids


def _feature_collection(sites: gpd.GeoDataFrame) -> dict[str, Any]:
    """RFC 7946 FeatureCollection of the planned sites (EPSG:4326 Points)."""
    props = [c for c in sites.columns if c != sites.geometry.name]
    features = []
    lon = sites.geometry.x.to_numpy(dtype=float)
    lat = sites.geometry.y.to_numpy(dtype=float)
    records = sites[props].to_dict(orient="records")
    for x, y, record in zip(lon.tolist(), lat.tolist(), records, strict=True):
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
                "properties": {k: json_ready(v) for k, v in record.items()},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def run_plan(
    *,
    villages: Path,
    sites: Path,
    operator: str,
    budget: float | None,
    target: float | None,
    out_dir: Path,
    dem: Path | None = None,
    candidates: Path | None = None,
    config: Path | None = None,
    scope: str = "any",
    method: str = "milp",
    settlements: Path | None = None,
    progress: Progress | None = None,
) -> PlanResult:
    """Plan the sites `operator` should build, re-check them with the engine, write the plan.

    Parameters
    ----------
    villages, sites
        The contract's ``villages`` and ``sites`` files (every operator's sites).
    operator
        The planning operator (aliases such as ``vinaphone`` are recognised).
    budget
        MCLP: at most this many sites (or this total cost with ``siting.budget_unit: cost``).
    target
        LSCP: the share of the demand weight to cover at the least cost.
    out_dir
        Output folder (created).
    dem
        Elevation GeoTIFF: its local high points near the dark villages become candidates.
        Under the terrain model (``mobile.model: terrain``, or no model named), the
        candidates' coverage and the engine's assessments run over it too, the per-site
        losses of the assessments cached in ``out_dir/terrain_cache``.
    candidates
        A ``sites`` file of the user's own candidates (optional ``cost`` column): the only
        candidates then (none are generated).
    config
        Configuration YAML (``mobile:``, ``sharing:``, ``siting:``).
    scope
        ``any``: plan for villages no operator covers; ``own``: villages `operator` does not
        cover.
    method
        ``milp`` (exact, HiGHS, with time limit and gap) or ``greedy``.
    settlements
        Residential clusters: candidate points, and the ``official`` rule's points.
    progress
        Called with the name of each step.

    Returns
    -------
    PlanResult

    Raises
    ------
    InputError
        Bad options or input files (exit 2).
    hatangso.coverage.siting.PlanInfeasibleError
        (an ``InfeasibleError``, exit 2) when the target exceeds what the candidates reach; it
        names the villages out of reach and the best achievable share.
    """
    _check_options(budget=budget, target=target, scope=scope, method=method)
    step = progress or (lambda _name: None)
    out_dir = Path(out_dir)
    cfg = load_config(config)
    engine_cfg, notes = _engine_config(cfg, dem_given=dem is not None)
    model = effective_model(engine_cfg, dem_given=dem is not None)
    terrain_dem = Path(dem) if model == "terrain" and dem is not None else None
    cache_dir = out_dir / "terrain_cache" if terrain_dem is not None else None
    settings = cfg.siting
    op, known = normalize_operator(operator)
    layers: dict[str, Layer] = load_inputs(
        InputFiles(villages=Path(villages), sites=Path(sites), settlements=settlements),
        progress=progress,
    )
    user_layer = None
    if candidates is not None:
        step("reading candidates")
        user_layer = load_layer(candidates, "sites")
    village_frame = gpd.GeoDataFrame(layers["villages"].frame).reset_index(drop=True)
    site_frame = gpd.GeoDataFrame(layers["sites"].frame).reset_index(drop=True)
    settlement_frame = (
        gpd.GeoDataFrame(layers["settlements"].frame).reset_index(drop=True)
        if "settlements" in layers
        else None
    )
    operators = set(site_frame["operator"].astype(str))
    if op not in operators:
        notes.append(f"plan: {op} has no site in {Path(sites).name}")
        if not known:
            log.warning("operator %r is not a known operator name", operator)

    step("coverage today")
    before = assess(
        CoverageInputs(
            villages=village_frame, sites=site_frame, settlements=settlement_frame, dem=terrain_dem
        ),
        engine_cfg,
        cache_dir=cache_dir,
    )
    own_mask = (site_frame["operator"].astype(str) == op).to_numpy(dtype=bool)
    if scope == "own":
        own_before = assess(
            CoverageInputs(
                villages=village_frame,
                sites=site_frame.loc[own_mask],
                settlements=settlement_frame,
                dem=terrain_dem,
            ),
            engine_cfg,
            cache_dir=cache_dir,
        )
        dark = ~own_before.villages["covered_mobile"].to_numpy(dtype=bool)
    else:
        dark = ~before.villages["covered_mobile"].to_numpy(dtype=bool)
    demand = np.flatnonzero(dark).astype(np.int64)
    crs = before.metric_crs
    demand_villages = gpd.GeoDataFrame(village_frame.iloc[demand]).reset_index(drop=True)
    rep_xy = _points_xy(demand_villages, crs) if len(demand) else np.empty((0, 2))
    centres = _centres_xy(demand_villages, rep_xy, crs) if len(demand) else rep_xy

    # Points deciding a village's coverage, as the engine's rule reads them.
    point_village = np.arange(len(demand), dtype=np.int64)
    pxy = rep_xy
    owner = np.empty(0, dtype=np.int64)
    settle_xy = np.empty((0, 2))
    if settlement_frame is not None and len(demand):
        owner = _settlement_owner(demand_villages, settlement_frame)
        settle_xy = _points_xy(settlement_frame, crs)
    if cfg.mobile.rule == "official":
        pxy = centres
        inside = owner >= 0
        if inside.any():
            point_village = np.concatenate([point_village, owner[inside]])
            pxy = np.vstack([pxy, settle_xy[inside]])

    step("candidate sites")
    raster = None
    if terrain_dem is not None and len(demand):
        # One read on the terrain grid serves the high points and the coverage matrix: every
        # candidate that matters stands within terrain.radius_m of a demand point.
        raster = _terrain_dem(
            terrain_dem,
            np.vstack([rep_xy, pxy]),
            crs,
            cfg,
            margin_m=max(settings.high_point_radius_m, cfg.terrain.radius_m),
        )
    elif dem is not None and len(demand):
        from hatangso.coverage.rasters import read_dem

        margin = settings.high_point_radius_m / 111_000.0 + 0.01
        w, s, e, n = demand_villages.total_bounds
        raster = read_dem(
            dem, bounds_wgs84=(w - margin, s - margin, e + margin, n + margin), dst_crs=crs
        )
    user_frame = None
    if user_layer is not None:
        user_frame = gpd.GeoDataFrame(user_layer.frame).to_crs(crs)
        user_frame.attrs["source"] = user_layer.name
    in_demand = owner >= 0
    cands = siting.build_candidates(
        operator=op,
        demand_xy=rep_xy,
        crs=crs,
        settings=settings,
        tolerance_m=cfg.sharing.colocation_tolerance_m,
        sites=site_frame.to_crs(crs),
        settlements_xy=settle_xy[in_demand] if len(owner) else None,
        settlement_ids=(
            settlement_frame["settlement_id"].astype(str).to_numpy(dtype=object)[in_demand]
            if settlement_frame is not None and len(owner)
            else None
        ),
        centres_xy=centres,
        centre_ids=demand_villages["village_id"].astype(str).to_numpy(dtype=object),
        dem=raster,
        user=user_frame,
        exclusion=_read_exclusion(settings.exclusion, config, crs),
    )
    step("coverage matrix")
    px = pxy[:, 0] if len(pxy) else np.empty(0)
    py = pxy[:, 1] if len(pxy) else np.empty(0)
    if terrain_dem is not None:
        reach = siting.terrain_reach_filter(
            cands,
            px,
            py,
            radius_m=cfg.terrain.radius_m,
            max_candidates=settings.max_candidates,
        )
        cands = gpd.GeoDataFrame(cands.iloc[reach]).reset_index(drop=True)
        matrix = siting.terrain_coverage_matrix(
            cands,
            point_village,
            px,
            py,
            n_villages=len(demand),
            dem=raster,
            threshold_dbm=cfg.mobile.threshold_dbm,
            terrain=cfg.terrain,
        )
    else:
        matrix = siting.coverage_matrix(
            cands,
            point_village,
            px,
            py,
            n_villages=len(demand),
            config=engine_cfg.mobile,
            operator=op,
        )
    if settings.weight == "population":
        if "population" not in demand_villages:
            raise InputError(
                Problem(
                    file=Path(villages).name,
                    column="population",
                    message="siting.weight is population but the villages have no population",
                    fix="add a population column or set siting.weight: villages",
                )
            )
        weights = np.nan_to_num(
            pd.to_numeric(demand_villages["population"], errors="coerce").to_numpy(dtype=float)
        )
    else:
        weights = np.ones(len(demand))
    cands, matrix = _useful(cands, matrix, weights, settings.max_candidates)
    log.info("plan: %d demand villages, %d candidates", len(demand), len(cands))

    step("solving")
    try:
        plan = siting.plan_sites(
            cands,
            matrix,
            weights,
            budget=budget,
            target=target,
            budget_unit=settings.budget_unit,
            method=_method(method),
            time_limit_s=settings.time_limit_s,
            mip_rel_gap=settings.mip_rel_gap,
        )
    except TargetInfeasibleError as exc:
        idx = np.asarray(exc.unreachable, dtype=np.int64)
        ids = demand_villages["village_id"].astype(str).to_numpy(dtype=object)
        names = demand_villages["name"].astype(str).to_numpy(dtype=object)
        message = siting.infeasible_message(
            exc, village_ids=ids, names=names, target=float(target or 0.0)
        )
        raise siting.PlanInfeasibleError(
            message,
            unreachable_ids=[str(v) for v in ids[idx]],
            unreachable_names=[str(v) for v in names[idx]],
            best_share=float(exc.best_share),
        ) from exc

    step("re-checking with the coverage engine")
    planned = plan.sites
    new_ids = _unique_ids(f"PLAN-{op}", len(planned), set(site_frame["site_id"].astype(str)))
    new_sites = gpd.GeoDataFrame(
        {
            "site_id": new_ids,
            "operator": [op] * len(planned),
            "tech": planned["tech"].astype(str).tolist(),
            "height_m": planned["height_m"].to_numpy(dtype=float),
            "env": planned["env"].astype(str).tolist(),
        },
        geometry=planned.geometry.to_numpy(),
        crs=crs,
    ).to_crs(4326)
    all_sites = gpd.GeoDataFrame(pd.concat([site_frame, new_sites], ignore_index=True), crs=4326)
    after = assess(
        CoverageInputs(
            villages=village_frame, sites=all_sites, settlements=settlement_frame, dem=terrain_dem
        ),
        engine_cfg,
        cache_dir=cache_dir,
    )
    if scope == "own":
        own_sites = gpd.GeoDataFrame(
            pd.concat([site_frame.loc[own_mask], new_sites], ignore_index=True), crs=4326
        )
        scope_after = assess(
            CoverageInputs(
                villages=village_frame,
                sites=own_sites,
                settlements=settlement_frame,
                dem=terrain_dem,
            ),
            engine_cfg,
            cache_dir=cache_dir,
        )
    else:
        scope_after = after
    lit = scope_after.villages["covered_mobile"].to_numpy(dtype=bool)[demand]
    promised = np.asarray(plan.solution.covered, dtype=bool)
    broken = np.flatnonzero(promised & ~lit)
    if broken.size:
        log.warning("the engine does not confirm %d villages the plan covers", broken.size)

    people = (
        pd.to_numeric(demand_villages["population"], errors="coerce").to_numpy(dtype=float)
        if "population" in demand_villages
        else np.full(len(demand), np.nan)
    )
    vid = demand_villages["village_id"].astype(str).to_numpy(dtype=object)
    out_sites = gpd.GeoDataFrame(
        {
            "rank": planned["rank"].to_numpy(dtype=np.int64),
            "site_id": new_ids,
            "candidate_id": planned["candidate_id"].astype(str).tolist(),
            "kind": planned["kind"].astype(str).tolist(),
            "operator": [op] * len(planned),
            "cost": planned["cost"].to_numpy(dtype=float),
            "colocated_with": [_none(v) for v in planned["colocated_with"].tolist()],
            "partner_operator": [_none(v) for v in planned["partner_operator"].tolist()],
            "villages_newly_covered": planned["villages_newly_covered"].to_numpy(dtype=np.int64),
            "people_newly_covered": [
                float(np.nansum(people[list(v)])) for v in planned["new_villages"].tolist()
            ],
            "village_ids": [[str(vid[i]) for i in v] for v in planned["new_villages"].tolist()],
            "tech": planned["tech"].astype(str).tolist(),
            "height_m": planned["height_m"].to_numpy(dtype=float),
        },
        geometry=new_sites.geometry.to_numpy(),
        crs=4326,
    )
    solution = plan.solution
    unreachable = np.asarray(solution.unreachable, dtype=np.int64)
    document: dict[str, Any] = {
        "operator": op,
        "scope": scope,
        "problem": plan.problem,
        "method": solution.method,
        "status": solution.status,
        "objective": solution.objective,
        "bound": solution.bound,
        "gap": solution.gap,
        "runtime_s": solution.runtime_s,
        "budget": budget,
        "budget_unit": settings.budget_unit if budget is not None else None,
        "target": target,
        "weight": settings.weight,
        "model": after.model,
        "matrix_model": "terrain" if terrain_dem is not None else engine_cfg.mobile.model,
        "recheck_model": after.model,
        "rule": engine_cfg.mobile.rule,
        "costs": settings.costs.model_dump(),
        "cost": float(out_sites["cost"].sum()),
        "n_sites": len(out_sites),
        "n_candidates": len(cands),
        "candidates_by_kind": {
            str(k): int(v) for k, v in cands["kind"].value_counts(sort=False).items()
        },
        "demand": {
            "villages": len(demand),
            "weight": float(weights.sum()),
            "covered_by_plan": int(promised.sum()),
            "covered_weight_by_plan": solution.covered_weight,
            "covered_share_by_plan": solution.covered_share,
            "covered_after_recheck": int(lit.sum()),
            "covered_share_after_recheck": (
                float(weights[lit].sum() / weights.sum()) if weights.sum() > 0 else 1.0
            ),
            "not_confirmed_by_engine": [str(vid[i]) for i in broken],
        },
        "unreachable": [
            {"village_id": str(vid[i]), "name": str(demand_villages["name"].iloc[i])}
            for i in unreachable.tolist()
        ],
        "sites": [
            {
                **{k: json_ready(v) for k, v in rec.items() if k != "geometry"},
                "lon": float(g.x),
                "lat": float(g.y),
            }
            for rec, g in zip(
                out_sites.drop(columns="geometry").to_dict(orient="records"),
                out_sites.geometry,
                strict=True,
            )
        ],
        "kpis_before": _indicators(before, cfg.targets),
        "kpis_after": _indicators(after, cfg.targets),
        "notes": notes,
    }
    step("writing outputs")
    out_dir.mkdir(parents=True, exist_ok=True)
    geo_path = write_json(
        _feature_collection(out_sites.drop(columns=["village_ids"])),
        out_dir / "plan.geojson",
        indent=1,
    )
    files = {
        "plan_geojson": geo_path,
        "plan_json": write_json(document, out_dir / "plan.json"),
        "rejects": write_rejects(
            [*layers.values(), *([user_layer] if user_layer is not None else [])], out_dir
        ),
    }
    return PlanResult(
        plan=plan,
        sites=out_sites,
        document=document,
        before=before,
        after=after,
        demand=demand,
        files=files,
    )


def _none(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def _method(method: str) -> Method:
    return "greedy" if method == "greedy" else "milp"


def _useful(
    candidates: gpd.GeoDataFrame, matrix: Any, weights: _FloatArray, max_candidates: int
) -> tuple[gpd.GeoDataFrame, Any]:
    """Drop candidates covering no demand; keep the `max_candidates` covering the most weight."""
    import scipy.sparse as sp

    csr = sp.csr_array(matrix)
    gain = csr.astype(np.float64) @ weights if csr.shape[0] else np.zeros(0)
    reach = np.diff(csr.indptr) > 0
    keep = np.flatnonzero(reach)
    if keep.size > max_candidates:
        cost = candidates["cost"].to_numpy(dtype=float)[keep]
        order = np.lexsort((keep, cost, -gain[keep]))[:max_candidates]
        keep = np.sort(keep[order])
        log.info("plan: candidates limited to the %d covering the most", max_candidates)
    out = gpd.GeoDataFrame(candidates.iloc[keep]).reset_index(drop=True)
    sub = sp.csr_array(csr[keep])
    return out, sub
