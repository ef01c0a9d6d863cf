"""Site planning as one engine function: where an operator should build to light dark villages.

:func:`plan` takes clean layers (EPSG:4326, as :mod:`hatangso.geo.validate` returns them) and a
:class:`~hatangso.coverage.config.CoverageConfig`. It assesses today's coverage with the coverage
engine, builds the candidate sites and their coverage matrix (:mod:`hatangso.coverage.siting`),
solves the least-cost cover of a target share or the maximal cover of a budget
(:mod:`hatangso.coverage.optimize`), and then *re-checks* the plan: the engine assesses the
existing sites plus the planned ones (new rows of the operator; a co-located site at its
partner's tower), so the coverage and the KPIs it reports are the engine's, not the solver's.
With a DEM and the terrain model the candidates' coverage is computed over the terrain
(:func:`hatangso.coverage.siting.terrain_coverage_matrix`) and the re-check runs the engine's
terrain model; the plan document names both models (``matrix_model``, ``recheck_model``).

It reads no input file but the DEM (by window) and writes nothing, unless a ``cache_dir`` is
given for the terrain model's per-site losses. :func:`hatangso.scenarios.plan_job.run_plan`
(``hatangso plan``) reads the files and writes ``plan.json``, ``plan.geojson`` and
``rejects.csv``; the service answers with :meth:`PlanResult.features` and
:attr:`PlanResult.document`.

A frame's ``attrs["source"]`` (a file name), when set, names the file in messages.

Budget and target
-----------------
A budget counts sites unless the configuration sets ``siting.budget_unit: cost``, when it is
the sum of the sites' costs (``siting.costs``: relative units by default, a new tower 1.0 and a
co-location 0.35; any money unit when the costs and the candidates' ``cost`` column are written
in it). A target is the share of the *demand* to cover at the least cost: of the dark villages
(scope ``any``: villages no operator covers; ``own``: villages the operator does not cover),
each village weighing 1, or its ``population`` with ``siting.weight: population``.
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
import scipy.sparse as sp

from hatangso.coverage import siting
from hatangso.coverage.config import CoverageConfig
from hatangso.coverage.engine import (
    Assessment,
    CoverageInputs,
    assess,
    effective_model,
    village_points,
)
from hatangso.coverage.optimize import Method, TargetInfeasibleError
from hatangso.geo.errors import InputError, Problem
from hatangso.geo.outputs import json_ready
from hatangso.geo.text import normalize_operator

__all__ = ["PLAN_KPIS", "PlanResult", "plan"]

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
    """A finished plan, re-checked by the coverage engine.

    Attributes
    ----------
    sites
        The planned sites in build order (EPSG:4326 Points, index ``0 .. n-1``): ``rank``
        (1 ..), ``site_id`` (``PLAN-<operator>-001`` ..), ``candidate_id``, ``kind``
        (``colocation``, ``settlement``, ``village_centre``, ``high_point``, ``user``),
        ``operator``, ``cost`` (``siting.costs`` units), ``colocated_with`` and
        ``partner_operator`` (the partner's tower, or None), ``villages_newly_covered``
        (count), ``people_newly_covered`` (sum of their ``population``), ``village_ids``
        (list of those villages' ids), ``tech``, ``height_m`` (m).
    plan
        The solver's ranked plan (metric CRS, candidate and village indices) and its
        :class:`~hatangso.coverage.optimize.Solution`.
    before, after
        The engine's assessment without and with the planned sites.
    demand
        Rows of ``before.villages`` the plan is for (the dark villages of the scope).
    confirmed
        For each demand village, whether the engine's re-check finds it covered (in the
        scope: with the operator's sites alone under ``own``).
    document
        The plan's summary, written as ``plan.json``: the problem, the solver's status, bound
        and gap, the ranked sites, the villages out of reach, the KPIs before and after.
    """

    sites: gpd.GeoDataFrame
    plan: siting.SitePlan
    before: Assessment
    after: Assessment
    demand: _IntArray
    confirmed: npt.NDArray[np.bool_]
    document: dict[str, Any]

    @property
    def status(self) -> str:
        """The solver's status (``optimal``, ``time_limit``, ``heuristic`` ...)."""
        return self.plan.solution.status

    @property
    def gap(self) -> float | None:
        """The solver's relative optimality gap (None when unknown)."""
        return self.plan.solution.gap

    def features(self) -> dict[str, Any]:
        """Return the planned sites as an RFC 7946 FeatureCollection (``plan.geojson``).

        Every column of :attr:`sites` but ``village_ids`` is a property; coordinates are
        rounded to 7 decimals (about 1 cm).
        """
        return _feature_collection(self.sites.drop(columns=["village_ids"]))


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


def _source(frame: pd.DataFrame, default: str) -> str:
    """Return the name of the file a frame came from (``attrs["source"]``), for messages."""
    return str(frame.attrs.get("source", default))


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


def _exclusion(frame: gpd.GeoDataFrame, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """Return the polygons of an exclusion layer, in `crs`."""
    if frame.crs is None:
        raise InputError(
            Problem(
                file=_source(frame, "exclusion"),
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


def plan(
    villages: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    *,
    operator: str,
    config: CoverageConfig,
    budget: float | None = None,
    target: float | None = None,
    scope: str = "any",
    method: str = "milp",
    settlements: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    exclusion: gpd.GeoDataFrame | None = None,
    dem: Path | None = None,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> PlanResult:
    """Plan the sites `operator` should build and re-check them with the coverage engine.

    Parameters
    ----------
    villages
        Clean villages (EPSG:4326): ``village_id``, ``name``, Polygon or Point geometry;
        optional ``population``, ``centre_lon``/``centre_lat``.
    sites
        Clean sites of every operator (EPSG:4326 Points): ``site_id``, ``operator``, and the
        optional columns of the contract.
    operator
        The planning operator (aliases such as ``vinaphone`` are recognised).
    config
        The configuration: ``mobile:`` (model and rule), ``terrain:``, ``sharing:``
        (co-location tolerance), ``siting:`` (costs, weight, budget unit, solver limits) and
        ``targets:``.
    budget
        MCLP: at most this many sites (or this total cost with ``siting.budget_unit: cost``).
    target
        LSCP: the share of the demand weight to cover at the least cost.
    scope
        ``any``: plan for villages no operator covers; ``own``: villages `operator` does not
        cover.
    method
        ``milp`` (exact, HiGHS, with time limit and gap) or ``greedy``.
    settlements
        Clean residential clusters (EPSG:4326; optional ``village_id``): candidate points, and
        the ``official`` rule's points.
    candidates
        The user's own candidates, clean as ``sites`` (EPSG:4326 Points; optional ``cost``):
        the only candidates then (none are generated).
    exclusion
        Polygons (any CRS) inside which no site may be planned; required when the
        configuration names a ``siting.exclusion`` file, which this function does not read.
    dem
        Elevation GeoTIFF (or SRTM tiles): its local high points near the dark villages become
        candidates. Under the terrain model (``mobile.model: terrain``, or no model named) the
        candidates' coverage and the engine's assessments run over it too.
    cache_dir
        Where the terrain model keeps each site's computed losses; None keeps nothing.
    progress
        Called with the name of each step.

    Returns
    -------
    PlanResult
        The planned sites (EPSG:4326), the solver's plan, the assessments before and after
        and the ``plan.json`` document.

    Raises
    ------
    InputError
        Bad options, an exclusion named by the configuration but not given, or villages
        without ``population`` under ``siting.weight: population`` (exit 2).
    hatangso.coverage.siting.PlanInfeasibleError
        (an ``InfeasibleError``, exit 2) when the target exceeds what the candidates reach; it
        names the villages out of reach and the best achievable share.

    Notes
    -----
    A budget of sites is the maximal covering location problem (Church and ReVelle 1974); a
    target is the location set covering problem at least cost (Toregas et al. 1971). The
    coverage matrix applies the engine's rule at the points it checks: each village's
    representative point, or under the ``official`` rule its centre and residential clusters.
    """
    _check_options(budget=budget, target=target, scope=scope, method=method)
    step = progress or (lambda _name: None)
    settings = config.siting
    if settings.exclusion is not None and exclusion is None:
        raise InputError(
            Problem(
                file="configuration",
                column="siting.exclusion",
                message=f"names {settings.exclusion}, but no exclusion polygons were given",
                fix="read the file and pass its polygons as exclusion, or drop siting.exclusion",
            )
        )
    engine_cfg, notes = _engine_config(config, dem_given=dem is not None)
    model = effective_model(engine_cfg, dem_given=dem is not None)
    terrain_dem = Path(dem) if model == "terrain" and dem is not None else None
    terrain_cache = cache_dir if terrain_dem is not None else None
    op, known = normalize_operator(operator)
    village_frame = gpd.GeoDataFrame(villages).reset_index(drop=True)
    site_frame = gpd.GeoDataFrame(sites).reset_index(drop=True)
    settlement_frame = (
        gpd.GeoDataFrame(settlements).reset_index(drop=True) if settlements is not None else None
    )
    operators = set(site_frame["operator"].astype(str))
    if op not in operators:
        notes.append(f"plan: {op} has no site in {_source(sites, 'the sites')}")
        if not known:
            log.warning("operator %r is not a known operator name", operator)

    step("coverage today")
    before = assess(
        CoverageInputs(
            villages=village_frame, sites=site_frame, settlements=settlement_frame, dem=terrain_dem
        ),
        engine_cfg,
        cache_dir=terrain_cache,
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
            cache_dir=terrain_cache,
        )
        dark = ~own_before.villages["covered_mobile"].to_numpy(dtype=bool)
    else:
        dark = ~before.villages["covered_mobile"].to_numpy(dtype=bool)
    demand = np.flatnonzero(dark).astype(np.int64)
    crs = before.metric_crs
    demand_villages = gpd.GeoDataFrame(village_frame.iloc[demand]).reset_index(drop=True)

    # The points the engine's rule checks, restricted to the demand villages: each cluster
    # belongs to the village it belongs to over the whole layer, as in the engine.
    points = village_points(village_frame, crs, settlements=settlement_frame).subset(demand)
    rep_xy, centres = points.representative_xy, points.centre_xy
    point_village, pxy = points.rule_points(config.mobile.rule)

    step("candidate sites")
    raster = None
    if terrain_dem is not None and len(demand):
        # One read on the terrain grid serves the high points and the coverage matrix: every
        # candidate that matters stands within terrain.radius_m of a demand point.
        raster = _terrain_dem(
            terrain_dem,
            np.vstack([rep_xy, pxy]),
            crs,
            config,
            margin_m=max(settings.high_point_radius_m, config.terrain.radius_m),
        )
    elif dem is not None and len(demand):
        from hatangso.coverage.rasters import read_dem

        margin = settings.high_point_radius_m / 111_000.0 + 0.01
        w, s, e, n = demand_villages.total_bounds
        raster = read_dem(
            dem, bounds_wgs84=(w - margin, s - margin, e + margin, n + margin), dst_crs=crs
        )
    user_frame = None
    if candidates is not None:
        user_frame = gpd.GeoDataFrame(candidates).to_crs(crs)
        user_frame.attrs["source"] = _source(candidates, "candidates")
    cands = siting.build_candidates(
        operator=op,
        demand_xy=rep_xy,
        crs=crs,
        settings=settings,
        tolerance_m=config.sharing.colocation_tolerance_m,
        sites=site_frame.to_crs(crs),
        settlements_xy=points.cluster_xy if len(points.cluster_row) else None,
        settlement_ids=(
            settlement_frame["settlement_id"].astype(str).to_numpy(dtype=object)[points.cluster_row]
            if settlement_frame is not None and len(points.cluster_row)
            else None
        ),
        centres_xy=centres,
        centre_ids=demand_villages["village_id"].astype(str).to_numpy(dtype=object),
        dem=raster,
        user=user_frame,
        exclusion=_exclusion(exclusion, crs) if exclusion is not None else None,
    )
    step("coverage matrix")
    px = pxy[:, 0] if len(pxy) else np.empty(0)
    py = pxy[:, 1] if len(pxy) else np.empty(0)
    if terrain_dem is not None:
        reach = siting.terrain_reach_filter(
            cands,
            px,
            py,
            radius_m=config.terrain.radius_m,
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
            threshold_dbm=config.mobile.threshold_dbm,
            terrain=config.terrain,
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
                    file=_source(villages, "villages"),
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
        solved = siting.plan_sites(
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
    planned = solved.sites
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
        cache_dir=terrain_cache,
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
            cache_dir=terrain_cache,
        )
    else:
        scope_after = after
    lit = scope_after.villages["covered_mobile"].to_numpy(dtype=bool)[demand]
    promised = np.asarray(solved.solution.covered, dtype=bool)
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
    solution = solved.solution
    unreachable = np.asarray(solution.unreachable, dtype=np.int64)
    document: dict[str, Any] = {
        "operator": op,
        "scope": scope,
        "problem": solved.problem,
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
        "kpis_before": _indicators(before, config.targets),
        "kpis_after": _indicators(after, config.targets),
        "notes": notes,
    }
    return PlanResult(
        sites=out_sites,
        plan=solved,
        before=before,
        after=after,
        demand=demand,
        confirmed=lit,
        document=document,
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
