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
from hatangso.coverage.config import CoverageConfig, SitingConfig
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
        and gap, the ranked sites, the villages out of reach, the KPIs before and after,
        ``target_met_after_recheck`` (None without a target), ``missed_villages`` (demand
        villages the engine's final re-check leaves dark) and ``recheck`` (the rounds of
        repair, the shortfall and why).
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


def _check_plan_options(*, tech: str, weight: str) -> None:
    problems: list[Problem] = []
    if tech not in ("4G", "5G"):
        problems.append(_option_problem(f"--tech is {tech!r}", "use 4G or 5G"))
    if weight not in ("villages", "population"):
        problems.append(_option_problem(f"--weight is {weight!r}", "use villages or population"))
    if problems:
        raise InputError(problems)


def _siting_for(settings: SitingConfig, tech: str) -> SitingConfig:
    """Return the siting settings with the planned service among the new sites' technologies."""
    parts = [p for p in settings.tech.split(";") if p]
    if tech in parts:
        return settings
    return settings.model_copy(update={"tech": ";".join(sorted({*parts, tech}))})


def _own_candidates(
    candidates: gpd.GeoDataFrame, operator: str
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Keep the candidates of `operator` (a blank operator is the planning operator's)."""
    frame = candidates.reset_index(drop=True)
    if "operator" not in frame:
        return frame, []
    given = frame["operator"].astype("string").str.strip().fillna("")
    names = given.map(lambda v: normalize_operator(v)[0] if v else operator)
    own = (names == operator).to_numpy(dtype=bool)
    if own.all():
        return frame, []
    others = sorted(set(names[~own].astype(str)))
    note = (
        f"plan: {int((~own).sum())} candidates of {', '.join(others)} in "
        f"{_source(candidates, 'the candidates')} are not {operator}'s and were left out"
    )
    return gpd.GeoDataFrame(frame.loc[own]).reset_index(drop=True), [note]


def _source(frame: pd.DataFrame, default: str) -> str:
    """Return the name of the file a frame came from (``attrs["source"]``), for messages."""
    return str(frame.attrs.get("source", default))


def _indicators(result: Assessment, targets: Mapping[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for value in result.indicators:
        # An indicator with nothing to count (denominator 0) is left out, as in kpis.json.
        if value.code in PLAN_KPIS and value.denominator > 0:
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
    population: Path | None = None,
    tech: str = "4G",
    weight: str | None = None,
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
        The user's own candidates, clean as the ``candidates`` kind (EPSG:4326 Points,
        ``candidate_id`` or ``site_id``; optional ``cost``, ``height_m``, ``tech``, ``env``,
        ``operator``): the only candidates then (none are generated). Rows of another
        operator than `operator` are left out, with a note (a blank operator is the planning
        operator's).
    exclusion
        Polygons (any CRS) inside which no site may be planned; required when the
        configuration names a ``siting.exclusion`` file, which this function does not read.
    dem
        Elevation GeoTIFF (or SRTM tiles): its local high points near the dark villages become
        candidates. Under the terrain model (``mobile.model: terrain``, or no model named) the
        candidates' coverage and the engine's assessments run over it too.
    population
        Population raster (GeoTIFF): the people of each village, for the population
        indicators and for ``weight="population"``, as the coverage engine reads it.
    tech
        The service planned: ``4G`` (villages without 4G or better) or ``5G`` (villages
        without 5G); new sites carry it (added to ``siting.tech``).
    weight
        ``villages`` (each demand village weighs 1) or ``population`` (its people); None takes
        ``siting.weight``.
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
    The solver's coverage model (the matrix) and the engine may disagree: the matrix reads a
    village at its representative point (or centre and clusters), the engine applies the
    rule in full (area shares, combined sites, terrain). After solving, the engine re-checks
    the plan; a village the solver counts and the engine does not confirm is covered by none
    of the chosen sites, so those claims leave the matrix and the problem is solved again
    (``siting.recheck_rounds`` times at most). When the confirmed claims cannot reach the
    target, the plan covers the most they can and ``recheck.reason`` says why; plan.json's
    ``target_met_after_recheck`` and ``missed_villages`` (demand villages the final re-check
    leaves dark) report the outcome.

    A budget of sites is the maximal covering location problem (Church and ReVelle 1974); a
    target is the location set covering problem at least cost (Toregas et al. 1971). The
    coverage matrix applies the engine's rule at the points it checks: each village's
    representative point, or under the ``official`` rule its centre and residential clusters.
    """
    _check_options(budget=budget, target=target, scope=scope, method=method)
    weight_kind = config.siting.weight if weight is None else weight
    _check_plan_options(tech=tech, weight=weight_kind)
    step = progress or (lambda _name: None)
    settings = _siting_for(config.siting, tech)
    flag = "covered_mobile" if tech == "4G" else "covered_5g"
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
            villages=village_frame,
            sites=site_frame,
            settlements=settlement_frame,
            dem=terrain_dem,
            population=population,
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
                population=population,
            ),
            engine_cfg,
            cache_dir=terrain_cache,
        )
        dark = ~own_before.villages[flag].to_numpy(dtype=bool)
    else:
        dark = ~before.villages[flag].to_numpy(dtype=bool)
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
        user_frame, user_note = _own_candidates(gpd.GeoDataFrame(candidates), op)
        notes.extend(user_note)
        user_frame = user_frame.to_crs(crs)
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
            tech=tech,
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
            tech=tech,
        )
    weights, weight_notes = _demand_weights(
        demand_villages,
        before.villages.iloc[demand],
        weight=weight_kind,
        source=_source(villages, "villages"),
    )
    notes.extend(weight_notes)
    cands, matrix = _useful(cands, matrix, weights, settings.max_candidates)
    log.info("plan: %d demand villages, %d candidates", len(demand), len(cands))
    vid = demand_villages["village_id"].astype(str).to_numpy(dtype=object)
    names = demand_villages["name"].astype(str).to_numpy(dtype=object)
    taken = set(site_frame["site_id"].astype(str))

    def recheck(new_sites: gpd.GeoDataFrame) -> tuple[Assessment, Assessment]:
        """Assess with the planned sites: everything, and the scope."""
        all_sites = gpd.GeoDataFrame(
            pd.concat([site_frame, new_sites], ignore_index=True), crs=4326
        )
        after = assess(
            CoverageInputs(
                villages=village_frame,
                sites=all_sites,
                settlements=settlement_frame,
                dem=terrain_dem,
                population=population,
            ),
            engine_cfg,
            cache_dir=terrain_cache,
        )
        if scope != "own":
            return after, after
        own_sites = gpd.GeoDataFrame(
            pd.concat([site_frame.loc[own_mask], new_sites], ignore_index=True), crs=4326
        )
        scope_after = assess(
            CoverageInputs(
                villages=village_frame,
                sites=own_sites,
                settlements=settlement_frame,
                dem=terrain_dem,
                population=population,
            ),
            engine_cfg,
            cache_dir=terrain_cache,
        )
        return after, scope_after

    # Solve, re-check with the engine, and repair: a village the solver counts but the engine
    # does not confirm is not covered by any chosen site (the rules are monotone in the sites),
    # so those claims leave the matrix and the problem is solved again, for at most
    # siting.recheck_rounds more rounds.
    claims = sp.csr_array(matrix)
    goal = target
    rounds: list[dict[str, Any]] = []
    while True:
        step("solving" if not rounds else f"solving again (repair round {len(rounds)})")
        try:
            solved = _solve(
                cands, claims, weights, budget=budget, target=goal, settings=settings, method=method
            )
        except TargetInfeasibleError as exc:
            if not rounds:
                raise _infeasible(exc, ids=vid, names=names, target=float(target or 0.0)) from exc
            # The confirmed claims cannot reach the target: plan the most they can reach.
            goal = float(exc.best_share)
            solved = _solve(
                cands, claims, weights, budget=budget, target=goal, settings=settings, method=method
            )
        step("re-checking with the coverage engine")
        planned = solved.sites
        new_ids = _unique_ids(f"PLAN-{op}", len(planned), taken)
        new_sites = _new_sites(planned, new_ids, operator=op, crs=crs)
        after, scope_after = recheck(new_sites)
        lit = scope_after.villages[flag].to_numpy(dtype=bool)[demand]
        promised = np.asarray(solved.solution.covered, dtype=bool)
        broken = np.flatnonzero(promised & ~lit)
        rounds.append(
            {
                "round": len(rounds) + 1,
                "candidates": planned["candidate_id"].astype(str).tolist(),
                "cost": float(planned["cost"].sum()),
                "covered_by_plan": int(promised.sum()),
                "covered_after_recheck": int(lit.sum()),
                "not_confirmed_by_engine": [str(vid[i]) for i in broken],
            }
        )
        if broken.size == 0 or len(rounds) > settings.recheck_rounds:
            break
        log.info("plan: the engine does not confirm %d villages; solving again", broken.size)
        claims = _drop_claims(claims, np.asarray(solved.solution.selected, dtype=np.int64), broken)
    if broken.size:
        log.warning("the engine does not confirm %d villages the plan covers", broken.size)

    total_weight = float(weights.sum())
    covered_weight = float(weights[lit].sum())
    share_after = covered_weight / total_weight if total_weight > 0 else 1.0
    target_met = None if target is None else bool(share_after >= target - 1e-9)
    # Villages left dark with no candidate the engine could confirm: none reached them in the
    # solver's model at all, or every claim on them was refuted by the re-check.
    dark_after = ~lit
    claimed = np.bincount(claims.indices, minlength=len(demand)) > 0
    ever = np.bincount(sp.csr_array(matrix).indices, minlength=len(demand)) > 0
    no_candidate = np.flatnonzero(dark_after & ~claimed)
    refuted = np.flatnonzero(dark_after & ~claimed & ever)
    recheck_doc = _recheck_document(
        target=target,
        share_after=share_after,
        covered_weight=covered_weight,
        total_weight=total_weight,
        weight=weight_kind,
        rounds=rounds,
        max_rounds=settings.recheck_rounds,
        broken=broken,
        no_candidate=no_candidate,
        refuted=refuted,
        ids=vid,
        names=names,
    )
    if target_met is False:
        notes.append("plan: " + str(recheck_doc["reason"]))

    people = (
        pd.to_numeric(demand_villages["population"], errors="coerce").to_numpy(dtype=float)
        if "population" in demand_villages
        else np.full(len(demand), np.nan)
    )
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
        "tech": tech,
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
        "target_met_after_recheck": target_met,
        "missed_villages": int(dark_after.sum()),
        "weight": weight_kind,
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
            "weight": total_weight,
            "covered_by_plan": int(promised.sum()),
            "covered_weight_by_plan": solution.covered_weight,
            "covered_share_by_plan": solution.covered_share,
            "covered_after_recheck": int(lit.sum()),
            "covered_share_after_recheck": share_after,
            "not_confirmed_by_engine": [str(vid[i]) for i in broken],
        },
        "recheck": recheck_doc,
        "unreachable": [
            {"village_id": str(vid[i]), "name": str(names[i])} for i in unreachable.tolist()
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


def _demand_weights(
    demand_villages: gpd.GeoDataFrame,
    assessed: pd.DataFrame,
    *,
    weight: str,
    source: str,
) -> tuple[_FloatArray, list[str]]:
    """Each demand village's weight: 1, or its people (0 where unknown), and a note.

    With ``population`` the people are the engine's ``population_in_village`` (from the
    population raster when one was given, else the village's ``population`` column); a village
    whose people are unknown (missing, or 0: a count of 0 means not counted) weighs 0 and the
    note says how many.
    """
    n = len(demand_villages)
    if weight != "population":
        return np.ones(n), []
    if "population_in_village" in assessed:
        people = pd.to_numeric(assessed["population_in_village"], errors="coerce").to_numpy(
            dtype=float
        )
    elif "population" in demand_villages:
        people = pd.to_numeric(demand_villages["population"], errors="coerce").to_numpy(dtype=float)
    else:
        raise InputError(
            Problem(
                file=source,
                column="population",
                message="siting.weight is population but the villages have no population",
                fix="add a population column, pass --population F.tif, or use --weight villages",
            )
        )
    unknown = ~np.isfinite(people) | (people <= 0)
    notes = []
    if unknown.any():
        notes.append(
            f"plan: {int(unknown.sum())} of {n} demand villages have no known population "
            "(missing or 0) and weigh nothing under --weight population"
        )
    return np.where(unknown, 0.0, people), notes


def _solve(
    candidates: gpd.GeoDataFrame,
    claims: Any,
    weights: _FloatArray,
    *,
    budget: float | None,
    target: float | None,
    settings: Any,
    method: str,
) -> siting.SitePlan:
    return siting.plan_sites(
        candidates,
        claims,
        weights,
        budget=budget,
        target=target,
        budget_unit=settings.budget_unit,
        method=_method(method),
        time_limit_s=settings.time_limit_s,
        mip_rel_gap=settings.mip_rel_gap,
    )


def _infeasible(
    exc: TargetInfeasibleError,
    *,
    ids: npt.NDArray[np.object_],
    names: npt.NDArray[np.object_],
    target: float,
) -> siting.PlanInfeasibleError:
    idx = np.asarray(exc.unreachable, dtype=np.int64)
    message = siting.infeasible_message(exc, village_ids=ids, names=names, target=target)
    return siting.PlanInfeasibleError(
        message,
        unreachable_ids=[str(v) for v in ids[idx]],
        unreachable_names=[str(v) for v in names[idx]],
        best_share=float(exc.best_share),
    )


def _new_sites(
    planned: gpd.GeoDataFrame, new_ids: list[str], *, operator: str, crs: pyproj.CRS
) -> gpd.GeoDataFrame:
    """Return the planned sites as rows of the operator's ``sites`` (EPSG:4326)."""
    return gpd.GeoDataFrame(
        {
            "site_id": new_ids,
            "operator": [operator] * len(planned),
            "tech": planned["tech"].astype(str).tolist(),
            "height_m": planned["height_m"].to_numpy(dtype=float),
            "env": planned["env"].astype(str).tolist(),
        },
        geometry=planned.geometry.to_numpy(),
        crs=crs,
    ).to_crs(4326)


def _drop_claims(claims: Any, rows: _IntArray, cols: _IntArray) -> Any:
    """Return `claims` without the entries of `rows` in `cols` (the refuted claims)."""
    coo = sp.coo_array(claims)
    refuted = np.isin(coo.row, rows) & np.isin(coo.col, cols)
    keep = ~refuted
    out = sp.csr_array(
        (np.ones(int(keep.sum()), dtype=bool), (coo.row[keep], coo.col[keep])),
        shape=claims.shape,
    )
    out.sort_indices()
    return out


def _recheck_document(
    *,
    target: float | None,
    share_after: float,
    covered_weight: float,
    total_weight: float,
    weight: str,
    rounds: list[dict[str, Any]],
    max_rounds: int,
    broken: _IntArray,
    no_candidate: _IntArray,
    refuted: _IntArray,
    ids: npt.NDArray[np.object_],
    names: npt.NDArray[np.object_],
) -> dict[str, Any]:
    """``plan.json``'s account of the engine's re-check: the rounds, the shortfall, why."""
    shortfall = None if target is None else max(0.0, target - share_after)
    short_weight = None if target is None else max(0.0, target * total_weight - covered_weight)
    if short_weight is not None and weight == "villages":
        short_weight = float(math.ceil(short_weight - 1e-9))
    reasons: list[str] = []
    if shortfall is not None and shortfall > 1e-9:
        reasons.append(
            f"after the engine's re-check the plan covers {share_after:.1%} of the demand "
            f"against the target {target:.1%}: short by {shortfall * 100:.1f} points "
            f"({_amount(short_weight or 0.0)} {'villages' if weight == 'villages' else 'people'})"
        )
        if no_candidate.size:
            listed = ", ".join(f"{ids[i]} ({names[i]})" for i in no_candidate[:20].tolist()) + (
                f" and {no_candidate.size - 20} more" if no_candidate.size > 20 else ""
            )
            reasons.append(
                f"{no_candidate.size} dark villages have no candidate the engine confirms "
                f"covering them: {listed}; add candidates near them (--candidates, --dem, "
                "settlements)"
            )
        if broken.size:
            reasons.append(
                f"the repair stopped after {max_rounds} rounds (siting.recheck_rounds) with "
                f"{broken.size} villages still not confirmed; raise siting.recheck_rounds"
            )
    return {
        "rounds": rounds,
        "covered_share": share_after,
        "shortfall": shortfall,
        "short_by": short_weight,
        "no_candidate": [
            {"village_id": str(ids[i]), "name": str(names[i])} for i in no_candidate.tolist()
        ],
        "refuted": [str(ids[i]) for i in refuted.tolist()],
        "reason": "; ".join(reasons) if reasons else None,
    }


def _amount(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() or abs(x) >= 100 else f"{x:,.2f}"


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
