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

import dataclasses
import logging
import math
from collections.abc import Mapping
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
    VillagePoints,
    assess,
    effective_model,
    village_points,
)
from hatangso.coverage.optimize import Method, TargetInfeasibleError
from hatangso.geo.errors import InputError, Problem
from hatangso.geo.outputs import json_ready
from hatangso.geo.progress import Progress, silent
from hatangso.geo.text import normalize_operator

__all__ = ["PLACEMENTS", "PLAN_KPIS", "PlanResult", "check_plan_options", "plan"]

log = logging.getLogger(__name__)


#: Indicators reported before and after the plan (those the engine computes from sites).
PLAN_KPIS = (
    "village_mobile_coverage",
    "population_mobile_coverage",
    "village_5g_coverage",
    "population_5g_coverage",
    "bts_site_sharing_ratio",
)

#: Where a planned carrier goes, cheapest first: on a tower of the planning operator (an
#: upgrade), on another operator's tower (a tenancy), or on a new site.
PLACEMENTS = ("own_tower", "shared_tower", "new_site")

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
        (``upgrade``, ``colocation``, ``settlement``, ``village_centre``, ``high_point``,
        ``user``), ``placement`` (:data:`PLACEMENTS`: ``own_tower``, ``shared_tower`` or
        ``new_site``), ``operator``, ``cost`` (``siting.costs`` units), ``colocated_with`` and
        ``partner_operator`` (the partner's tower, or None), ``upgrades_site`` (the
        operator's own site an upgrade adds its carrier beside, or None),
        ``villages_newly_covered`` (count), ``people_newly_covered`` (the people of those
        villages, as the engine counts them: from the population raster when one was given,
        else the ``population`` column), ``village_ids`` (list of those villages' ids),
        ``tech``, ``height_m`` (m).
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
        repair, the shortfall and why); ``target_of`` and ``target_share_of_demand`` (what
        the target is a share of, and the share of the demand it asks), ``overall`` (the
        share of everyone before and after, ``measured_by`` the engine's indicator or the
        plan's own village weights), ``by_placement`` (sites, cost and people per
        :data:`PLACEMENTS`) and ``carrier_model`` (which propagation model judged the
        planned carrier).
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


def _check_plan_options(*, tech: str, weight: str, target_of: str | None = None) -> None:
    problems: list[Problem] = []
    if tech not in ("4G", "5G"):
        problems.append(_option_problem(f"--tech is {tech!r}", "use 4G or 5G"))
    if weight not in ("villages", "population"):
        problems.append(_option_problem(f"--weight is {weight!r}", "use villages or population"))
    if target_of not in (None, "demand", "all"):
        problems.append(_option_problem(f"--target-of is {target_of!r}", "use demand or all"))
    if problems:
        raise InputError(problems)


def check_plan_options(
    *,
    budget: float | None,
    target: float | None,
    scope: str = "any",
    method: str = "milp",
    tech: str = "4G",
    weight: str | None = None,
    target_of: str | None = None,
) -> None:
    """Check a plan's options before any file is read (what :func:`plan` checks first).

    Raises
    ------
    InputError
        Naming every bad option (exit 2): both or neither of `budget` and `target`, a target
        outside [0, 1], an unknown scope, method, technology, weight or target basis.
    """
    try:
        _check_options(budget=budget, target=target, scope=scope, method=method)
    except InputError as exc:
        first = list(exc.problems)
    else:
        first = []
    try:
        _check_plan_options(tech=tech, weight=weight or "villages", target_of=target_of)
    except InputError as exc:
        first.extend(exc.problems)
    if first:
        raise InputError(first)


def _target_of(settings: SitingConfig, tech: str, given: str | None) -> str:
    """Return what the target is a share of: the option, the configuration, else by tech."""
    chosen = given or settings.target_of
    if chosen is not None:
        return chosen
    return "all" if tech == "5G" else "demand"


def _carrier_note(engine_cfg: CoverageConfig, tech: str, *, terrain: bool) -> str:
    """Say which propagation model judges the planned carrier, for ``plan.json``."""
    from hatangso.coverage.radio import DEFAULT_FREQ_MHZ

    freq = DEFAULT_FREQ_MHZ[tech]
    model = engine_cfg.mobile.model
    if terrain:
        return (
            f"{tech} at {freq:g} MHz: the terrain model over the DEM "
            f"(terrain.method {engine_cfg.terrain.method})"
        )
    if model == "hata" and tech == "5G":
        return (
            f"5G NR at {freq:g} MHz (band n78): 3GPP TR 38.901 path loss, UMa NLOS for urban "
            "sites, RMa NLOS for suburban and rural ones (mobile.model hata)"
        )
    if model == "hata":
        return f"{tech} at {freq:g} MHz: the hata model (Okumura-Hata / COST-231 Hata)"
    reach = engine_cfg.mobile.radius_m.get(tech, {})
    table = ", ".join(f"{env} {float(r):g} m" for env, r in reach.items())
    return (
        f"{tech}: the radius table mobile.radius_m.{tech} ({table}), no path loss; name "
        "mobile.model: hata for 3GPP TR 38.901 at 3500 MHz"
        if tech == "5G"
        else f"{tech}: the radius table mobile.radius_m.{tech} ({table})"
    )


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
    from hatangso.coverage.terrain import check_grid

    margin = margin_m + 2.0 * config.terrain.resolution_m
    x0, y0 = xy.min(axis=0) - margin
    x1, y1 = xy.max(axis=0) + margin
    check_grid(
        float(x1 - x0),
        float(y1 - y0),
        config.terrain.resolution_m,
        limit=config.limits.max_terrain_grid_cells,
    )
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
    target_of: str | None = None,
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
    target_of
        What `target` is a share of: ``demand`` (the dark villages of the scope) or ``all``
        (every village, or every person, of the layer: those covered today count towards it).
        None takes ``siting.target_of``, else ``all`` for 5G and ``demand`` for 4G.
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

    A target of everyone (``target_of="all"``, the default of 5G) is turned into a share of
    the demand: with ``W`` the weight of all villages, ``C`` that of the villages outside the
    demand (covered today) and ``D`` the demand's, the plan must add ``T W - C``, the share
    ``(T W - C) / D`` of the demand (none when today's coverage meets it). Under scope ``any``
    the engine's indicator (``population_5g_coverage`` ...) then judges the target; with a
    population raster it counts people cell by cell, fewer than the solver's whole villages,
    and the demand's share is raised by the people missing until the indicator holds or the
    candidates reach no more.

    Candidates are ranked by cost: an upgrade of the operator's own towers that lack the
    planned service (``siting.costs.upgrade``), a tenancy on another operator's tower
    (``colocation``), a new site (``new_tower``). A demand village no candidate reaches gets
    one on the point its rule checks (kind ``village_point``), unless the user's candidate
    file restricts the plan.

    A budget of sites is the maximal covering location problem (Church and ReVelle 1974); a
    target is the location set covering problem at least cost (Toregas et al. 1971). The
    coverage matrix applies the engine's rule at the points it checks: each village's
    representative point, or under the ``official`` rule its centre and residential clusters.
    """
    check_plan_options(
        budget=budget,
        target=target,
        scope=scope,
        method=method,
        tech=tech,
        weight=config.siting.weight if weight is None else weight,
        target_of=target_of,
    )
    run, notes = _prepare(
        villages,
        sites,
        operator=operator,
        config=config,
        scope=scope,
        tech=tech,
        weight=config.siting.weight if weight is None else weight,
        settlements=settlements,
        exclusion=exclusion,
        dem=dem,
        population=population,
        cache_dir=cache_dir,
    )
    step = progress or silent

    step("coverage today")
    before = _assess_with(run, run.sites)
    demand = _demand(run, before)

    step("candidate sites")
    raster = _candidate_dem(run, demand)
    cands, candidate_notes = _candidates(run, demand, raster, candidates, exclusion)
    notes.extend(candidate_notes)
    step("coverage matrix")
    cands, matrix = _coverage_matrix(run, demand, cands, raster, step)
    if candidates is None:
        cands, matrix = _point_fallback(run, demand, cands, matrix, raster, exclusion)
    weights, weight_notes = _demand_weights(
        demand.villages,
        before.villages.iloc[demand.index],
        weight=run.weight,
        source=_source(villages, "villages"),
    )
    notes.extend(weight_notes)
    cands, matrix = _useful(cands, matrix, weights, run.settings.max_candidates)
    log.info("plan: %d demand villages, %d candidates", len(demand.index), len(cands))
    overall = _overall(
        run, before, weights, target=target, target_of=_target_of(run.settings, tech, target_of)
    )
    carrier = _carrier_note(run.engine_cfg, tech, terrain=run.terrain_dem is not None)

    repaired = _solve_and_recheck(
        run,
        demand,
        cands,
        matrix,
        weights,
        budget=budget,
        target=overall.goal,
        method=method,
        step=step,
        overall=overall,
    )
    repaired, overall = _top_up(
        run,
        demand,
        cands,
        matrix,
        weights,
        repaired,
        overall,
        budget=budget,
        method=method,
        step=step,
    )
    outcome = _outcome(run, demand, matrix, weights, repaired, target=target, overall=overall)
    if outcome.target_met is False:
        notes.append("plan: " + str(outcome.recheck["reason"]))
    out_sites = _planned_sites(run, demand, repaired, before)
    document = _plan_document(
        run,
        demand,
        cands,
        repaired,
        outcome,
        out_sites,
        budget=budget,
        target=target,
        overall=overall,
        kpis_before=_indicators(before, config.targets),
        notes=notes,
    )
    document["carrier_model"] = carrier
    return PlanResult(
        sites=out_sites,
        plan=repaired.solved,
        before=before,
        after=repaired.after,
        demand=demand.index,
        confirmed=repaired.lit,
        document=document,
    )


@dataclass(frozen=True, eq=False)
class _Run:
    """The fixed setup of one plan: operator, options, clean frames and the engine's model."""

    op: str
    scope: str
    tech: str
    flag: str
    weight: str
    config: CoverageConfig
    engine_cfg: CoverageConfig
    settings: SitingConfig
    dem: Path | None
    terrain_dem: Path | None
    terrain_cache: Path | None
    population: Path | None
    villages: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    settlements: gpd.GeoDataFrame | None
    own_mask: npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class _Demand:
    """The dark villages the plan is for and the points the engine's rule checks in them."""

    index: _IntArray
    villages: gpd.GeoDataFrame
    crs: pyproj.CRS
    points: VillagePoints
    point_village: _IntArray
    pxy: _FloatArray
    ids: npt.NDArray[np.object_]
    names: npt.NDArray[np.object_]


@dataclass(frozen=True, eq=False)
class _Repaired:
    """The last round of solving and re-checking: the plan, its sites and what the engine found."""

    solved: siting.SitePlan
    new_ids: list[str]
    new_sites: gpd.GeoDataFrame
    after: Assessment
    lit: npt.NDArray[np.bool_]
    promised: npt.NDArray[np.bool_]
    broken: _IntArray
    claims: Any
    rounds: list[dict[str, Any]]


@dataclass(frozen=True)
class _Overall:
    """The target as a share of the demand, and the weight of all villages behind it.

    Under ``target_of="all"`` the target is a share of every village (or person) of the
    layer: ``all_weight`` in all, of which ``covered_before`` (the villages outside the
    demand) is covered today, so the demand must give ``target * all_weight -
    covered_before`` more, the share ``goal`` of its weight.
    """

    target_of: str
    target: float | None
    all_weight: float
    covered_before: float
    goal: float | None
    #: The engine's indicator that judges the target (``population_5g_coverage`` ...), or
    #: None when the plan's own village weights do (a target of the demand, scope ``own``).
    indicator: str | None = None

    def share(self, covered_demand_weight: float) -> float:
        """Return the share of all weight covered when the demand gives that much more."""
        if self.all_weight <= 0:
            return 1.0
        return (self.covered_before + covered_demand_weight) / self.all_weight


@dataclass(frozen=True)
class _Outcome:
    """The demand covered after the engine's re-check, against the target."""

    total_weight: float
    share_after: float
    covered_all: float
    all_weight: float
    target_met: bool | None
    dark_after: npt.NDArray[np.bool_]
    recheck: dict[str, Any]


def _prepare(
    villages: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    *,
    operator: str,
    config: CoverageConfig,
    scope: str,
    tech: str,
    weight: str,
    settlements: gpd.GeoDataFrame | None,
    exclusion: gpd.GeoDataFrame | None,
    dem: Path | None,
    population: Path | None,
    cache_dir: Path | None,
) -> tuple[_Run, list[str]]:
    """Check the plan's options and set up its frames and engine model, with notes."""
    _check_plan_options(tech=tech, weight=weight)
    settings = _siting_for(config.siting, tech)
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
    op, known = normalize_operator(operator)
    site_frame = gpd.GeoDataFrame(sites).reset_index(drop=True)
    if op not in set(site_frame["operator"].astype(str)):
        notes.append(f"plan: {op} has no site in {_source(sites, 'the sites')}")
        if not known:
            log.warning("operator %r is not a known operator name", operator)
    run = _Run(
        op=op,
        scope=scope,
        tech=tech,
        flag="covered_mobile" if tech == "4G" else "covered_5g",
        weight=weight,
        config=config,
        engine_cfg=engine_cfg,
        settings=settings,
        dem=dem,
        terrain_dem=terrain_dem,
        terrain_cache=cache_dir if terrain_dem is not None else None,
        population=population,
        villages=gpd.GeoDataFrame(villages).reset_index(drop=True),
        sites=site_frame,
        settlements=(
            gpd.GeoDataFrame(settlements).reset_index(drop=True)
            if settlements is not None
            else None
        ),
        own_mask=(site_frame["operator"].astype(str) == op).to_numpy(dtype=bool),
    )
    return run, notes


def _assess_with(run: _Run, sites: gpd.GeoDataFrame) -> Assessment:
    """Assess the villages with `sites` under the plan's engine model."""
    return assess(
        CoverageInputs(
            villages=run.villages,
            sites=sites,
            settlements=run.settlements,
            dem=run.terrain_dem,
            population=run.population,
        ),
        run.engine_cfg,
        cache_dir=run.terrain_cache,
    )


def _demand(run: _Run, before: Assessment) -> _Demand:
    """Return the dark villages of the scope and the points the rule checks in them."""
    scoped = before if run.scope != "own" else _assess_with(run, run.sites.loc[run.own_mask])
    dark = ~scoped.villages[run.flag].to_numpy(dtype=bool)
    index = np.flatnonzero(dark).astype(np.int64)
    villages = gpd.GeoDataFrame(run.villages.iloc[index]).reset_index(drop=True)
    # The points the engine's rule checks, restricted to the demand villages: each cluster
    # belongs to the village it belongs to over the whole layer, as in the engine.
    points = village_points(run.villages, before.metric_crs, settlements=run.settlements).subset(
        index
    )
    point_village, pxy = points.rule_points(run.config.mobile.rule)
    return _Demand(
        index=index,
        villages=villages,
        crs=before.metric_crs,
        points=points,
        point_village=point_village,
        pxy=pxy,
        ids=villages["village_id"].astype(str).to_numpy(dtype=object),
        names=villages["name"].astype(str).to_numpy(dtype=object),
    )


def _candidate_dem(run: _Run, demand: _Demand) -> Any:
    """Read the DEM around the demand (None without a DEM or without demand)."""
    if not len(demand.index):
        return None
    crs = demand.crs
    settings, config = run.settings, run.config
    if run.terrain_dem is not None:
        # One read on the terrain grid serves the high points and the coverage matrix: every
        # candidate that matters stands within terrain.radius_m of a demand point.
        return _terrain_dem(
            run.terrain_dem,
            np.vstack([demand.points.representative_xy, demand.pxy]),
            crs,
            config,
            margin_m=max(settings.high_point_radius_m, config.terrain.radius_m),
        )
    if run.dem is None:
        return None
    from hatangso.coverage.rasters import read_dem

    margin = settings.high_point_radius_m / 111_000.0 + 0.01
    w, s, e, n = demand.villages.total_bounds
    return read_dem(
        run.dem, bounds_wgs84=(w - margin, s - margin, e + margin, n + margin), dst_crs=crs
    )


def _candidates(
    run: _Run,
    demand: _Demand,
    raster: Any,
    candidates: gpd.GeoDataFrame | None,
    exclusion: gpd.GeoDataFrame | None,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Build the candidate sites (metric CRS), with notes on the user's candidates left out."""
    crs = demand.crs
    points = demand.points
    notes: list[str] = []
    user_frame = None
    if candidates is not None:
        user_frame, notes = _own_candidates(gpd.GeoDataFrame(candidates), run.op)
        user_frame = user_frame.to_crs(crs)
        user_frame.attrs["source"] = _source(candidates, "candidates")
    clustered = len(points.cluster_row) > 0
    cands = siting.build_candidates(
        operator=run.op,
        demand_xy=points.representative_xy,
        crs=crs,
        settings=run.settings,
        tolerance_m=run.config.sharing.colocation_tolerance_m,
        sites=run.sites.to_crs(crs),
        settlements_xy=points.cluster_xy if clustered else None,
        settlement_ids=(
            run.settlements["settlement_id"].astype(str).to_numpy(dtype=object)[points.cluster_row]
            if run.settlements is not None and clustered
            else None
        ),
        centres_xy=points.centre_xy,
        centre_ids=demand.ids,
        dem=raster,
        user=user_frame,
        exclusion=_exclusion(exclusion, crs) if exclusion is not None else None,
        tech=run.tech,
    )
    return cands, notes


def _coverage_matrix(
    run: _Run, demand: _Demand, cands: gpd.GeoDataFrame, raster: Any, step: Progress = silent
) -> tuple[gpd.GeoDataFrame, Any]:
    """Return the candidates and which demand villages each covers (terrain or link budget)."""
    pxy = demand.pxy
    px = pxy[:, 0] if len(pxy) else np.empty(0)
    py = pxy[:, 1] if len(pxy) else np.empty(0)
    config = run.config
    if run.terrain_dem is None:
        matrix = siting.coverage_matrix(
            cands,
            demand.point_village,
            px,
            py,
            n_villages=len(demand.index),
            config=run.engine_cfg.mobile,
            operator=run.op,
            tech=run.tech,
        )
        return cands, matrix
    reach = siting.terrain_reach_filter(
        cands,
        px,
        py,
        radius_m=config.terrain.radius_m,
        max_candidates=run.settings.max_candidates,
    )
    cands = gpd.GeoDataFrame(cands.iloc[reach]).reset_index(drop=True)
    matrix = siting.terrain_coverage_matrix(
        cands,
        demand.point_village,
        px,
        py,
        n_villages=len(demand.index),
        dem=raster,
        threshold_dbm=config.mobile.threshold_dbm,
        terrain=config.terrain,
        tech=run.tech,
        progress=lambda done, total: step("coverage matrix", done=done, total=total),
    )
    return cands, matrix


def _point_fallback(
    run: _Run,
    demand: _Demand,
    cands: gpd.GeoDataFrame,
    matrix: Any,
    raster: Any,
    exclusion: gpd.GeoDataFrame | None,
) -> tuple[gpd.GeoDataFrame, Any]:
    """Add a new site at the checked point of each demand village no candidate reaches.

    Under the ``point``, ``area`` and ``population`` rules the village's representative point
    decides, which in a large village may lie farther from its centre and clusters than a
    short-reach carrier (5G's 1-2 km) carries: a candidate standing on that point is then the
    only sure one (kind ``village_point``, at the new-tower cost). The ``official`` rule's
    points are the centre and clusters, candidates already.
    """
    n = len(demand.index)
    if run.config.mobile.rule == "official" or n == 0:
        return cands, matrix
    reached = np.bincount(sp.csr_array(matrix).indices, minlength=n) > 0
    missing = np.flatnonzero(~reached)
    if missing.size == 0:
        return cands, matrix
    settings = run.settings
    extra = siting.point_candidates(
        demand.pxy[missing],
        demand.ids[missing],
        crs=demand.crs,
        kind="village_point",
        cost=settings.costs.new_tower,
        height_m=settings.height_m,
        tech=settings.tech,
        env=settings.env,
    )
    if exclusion is not None and len(exclusion):
        polygons = _exclusion(exclusion, demand.crs)
        hit, _ = polygons.sindex.query(extra.geometry.array, predicate="intersects")
        extra = gpd.GeoDataFrame(extra.drop(index=extra.index[np.unique(hit)]))
    if not len(extra):
        return cands, matrix
    extra = extra.reset_index(drop=True)
    extra, more = _coverage_matrix(run, demand, extra, raster)
    log.info("plan: %d candidates at the points of villages no other reaches", len(extra))
    joined = gpd.GeoDataFrame(pd.concat([cands, extra], ignore_index=True), crs=cands.crs)
    return joined, sp.csr_array(sp.vstack([sp.csr_array(matrix), sp.csr_array(more)]))


def _recheck(run: _Run, new_sites: gpd.GeoDataFrame) -> tuple[Assessment, Assessment]:
    """Assess with the planned sites: everything, and the scope."""
    all_sites = gpd.GeoDataFrame(pd.concat([run.sites, new_sites], ignore_index=True), crs=4326)
    after = _assess_with(run, all_sites)
    if run.scope != "own":
        return after, after
    own_sites = gpd.GeoDataFrame(
        pd.concat([run.sites.loc[run.own_mask], new_sites], ignore_index=True), crs=4326
    )
    return after, _assess_with(run, own_sites)


def _overall(
    run: _Run,
    before: Assessment,
    weights: _FloatArray,
    *,
    target: float | None,
    target_of: str,
) -> _Overall:
    """Turn the target into a share of the demand (see :class:`_Overall`)."""
    demand_weight = float(weights.sum())
    if target_of != "all":
        return _Overall("demand", target, demand_weight, 0.0, target)
    every, _ = _demand_weights(
        run.villages, before.villages, weight=run.weight, source=_source(run.villages, "villages")
    )
    all_weight = float(every.sum())
    covered_before = max(0.0, all_weight - demand_weight)
    goal = None
    if target is not None:
        need = target * all_weight - covered_before
        tol = 1e-12 * max(1.0, all_weight)
        goal = 0.0 if need <= tol or demand_weight <= 0 else min(1.0, need / demand_weight)
        log.info(
            "plan: target %.4g of all weight %.6g (%.6g covered today): %.4g of the demand",
            target,
            all_weight,
            covered_before,
            goal,
        )
    indicator = None
    if run.scope == "any":
        service = "5g" if run.tech == "5G" else "mobile"
        kind = "population" if run.weight == "population" else "village"
        indicator = f"{kind}_{service}_coverage"
    return _Overall("all", target, all_weight, covered_before, goal, indicator)


def _measure(overall: _Overall, assessed: Assessment) -> tuple[float, float] | None:
    """Return the engine's (numerator, denominator) of the target's indicator, if it judges."""
    if overall.indicator is None:
        return None
    for value in assessed.indicators:
        if value.code == overall.indicator and value.denominator > 0:
            return float(value.numerator), float(value.denominator)
    return None


def _top_up(
    run: _Run,
    demand: _Demand,
    cands: gpd.GeoDataFrame,
    matrix: Any,
    weights: _FloatArray,
    repaired: _Repaired,
    overall: _Overall,
    *,
    budget: float | None,
    method: str,
    step: Progress,
) -> tuple[_Repaired, _Overall]:
    """Raise the demand's share until the engine's indicator meets a target of everyone.

    The solver counts a village's people whole once the rule says it is covered; with a
    population raster the engine counts the people of each cell the service reaches, fewer
    in a large village whose outskirts lie beyond a short 5G reach. While the engine's
    indicator falls short, the people missing are asked of the demand again (its share raised
    by them, up to all it can reach), at most ``siting.recheck_rounds`` times.
    """
    if overall.target is None or overall.goal is None or budget is not None:
        return repaired, overall
    total = float(weights.sum())
    reachable = np.bincount(sp.csr_array(matrix).indices, minlength=len(demand.index)) > 0
    ceiling = float(weights[reachable].sum()) / total if total > 0 else 0.0
    goal = overall.goal
    for _ in range(run.settings.recheck_rounds):
        measured = _measure(overall, repaired.after)
        if measured is None or measured[0] >= overall.target * measured[1] - 1e-9:
            break
        missing = overall.target * measured[1] - measured[0]
        raised = min(ceiling, goal + missing / total) if total > 0 else goal
        if raised <= goal + 1e-12:
            break
        goal = raised
        log.info(
            "plan: the engine counts %.6g people short; the demand's share is now %.4g",
            missing,
            goal,
        )
        repaired = _solve_and_recheck(
            run,
            demand,
            cands,
            matrix,
            weights,
            budget=None,
            target=goal,
            method=method,
            step=step,
            overall=overall,
        )
    return repaired, dataclasses.replace(overall, goal=goal)


def _solve_and_recheck(
    run: _Run,
    demand: _Demand,
    cands: gpd.GeoDataFrame,
    matrix: Any,
    weights: _FloatArray,
    *,
    budget: float | None,
    target: float | None,
    method: str,
    step: Progress,
    overall: _Overall,
) -> _Repaired:
    """Solve, re-check with the engine and repair until the engine confirms the plan.

    A village the solver counts but the engine does not confirm is not covered by any chosen
    site (the rules are monotone in the sites), so those claims leave the matrix and the
    problem is solved again, for at most ``siting.recheck_rounds`` more rounds.
    """
    settings = run.settings
    taken = set(run.sites["site_id"].astype(str))
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
                best = overall.share(float(exc.best_share) * float(weights.sum()))
                raise _infeasible(
                    TargetInfeasibleError(str(exc), unreachable=exc.unreachable, best_share=best),
                    ids=demand.ids,
                    names=demand.names,
                    target=float(overall.target or 0.0),
                ) from exc
            # The confirmed claims cannot reach the target: plan the most they can reach.
            goal = float(exc.best_share)
            solved = _solve(
                cands, claims, weights, budget=budget, target=goal, settings=settings, method=method
            )
        step("re-checking with the coverage engine")
        planned = solved.sites
        new_ids = _unique_ids(f"PLAN-{run.op}", len(planned), taken)
        new_sites = _new_sites(planned, new_ids, operator=run.op, crs=demand.crs)
        after, scope_after = _recheck(run, new_sites)
        lit = scope_after.villages[run.flag].to_numpy(dtype=bool)[demand.index]
        promised = np.asarray(solved.solution.covered, dtype=bool)
        broken = np.flatnonzero(promised & ~lit)
        rounds.append(_round_record(len(rounds) + 1, planned, promised, lit, demand.ids[broken]))
        if broken.size == 0 or len(rounds) > settings.recheck_rounds:
            break
        log.info("plan: the engine does not confirm %d villages; solving again", broken.size)
        claims = _drop_claims(claims, np.asarray(solved.solution.selected, dtype=np.int64), broken)
    if broken.size:
        log.warning("the engine does not confirm %d villages the plan covers", broken.size)
    return _Repaired(
        solved=solved,
        new_ids=new_ids,
        new_sites=new_sites,
        after=after,
        lit=lit,
        promised=promised,
        broken=broken,
        claims=claims,
        rounds=rounds,
    )


def _round_record(
    number: int,
    planned: gpd.GeoDataFrame,
    promised: npt.NDArray[np.bool_],
    lit: npt.NDArray[np.bool_],
    refuted_ids: npt.NDArray[np.object_],
) -> dict[str, Any]:
    """Return one round of the re-check as ``plan.json`` lists it."""
    return {
        "round": number,
        "candidates": planned["candidate_id"].astype(str).tolist(),
        "cost": float(planned["cost"].sum()),
        "covered_by_plan": int(promised.sum()),
        "covered_after_recheck": int(lit.sum()),
        "not_confirmed_by_engine": [str(v) for v in refuted_ids],
    }


def _outcome(
    run: _Run,
    demand: _Demand,
    matrix: Any,
    weights: _FloatArray,
    repaired: _Repaired,
    *,
    target: float | None,
    overall: _Overall,
) -> _Outcome:
    """Measure the confirmed cover against the target and say why villages stay dark."""
    n = len(demand.index)
    lit = repaired.lit
    covered_weight = overall.covered_before + float(weights[lit].sum())
    total_weight = overall.all_weight
    share_after = overall.share(float(weights[lit].sum()))
    measured = _measure(overall, repaired.after)
    if measured is not None:
        # The engine's indicator judges a target of everyone (see _top_up).
        covered_weight, total_weight = measured
        share_after = covered_weight / total_weight
    # Villages left dark with no candidate the engine could confirm: none reached them in the
    # solver's model at all, or every claim on them was refuted by the re-check.
    dark_after = ~lit
    claimed = np.bincount(repaired.claims.indices, minlength=n) > 0
    ever = np.bincount(sp.csr_array(matrix).indices, minlength=n) > 0
    recheck_doc = _recheck_document(
        target=target,
        share_after=share_after,
        covered_weight=covered_weight,
        total_weight=total_weight,
        weight=run.weight,
        rounds=repaired.rounds,
        max_rounds=run.settings.recheck_rounds,
        broken=repaired.broken,
        no_candidate=np.flatnonzero(dark_after & ~claimed),
        refuted=np.flatnonzero(dark_after & ~claimed & ever),
        ids=demand.ids,
        names=demand.names,
        basis="the demand"
        if overall.target_of == "demand"
        else ("all villages" if run.weight == "villages" else "all people"),
    )
    if (
        measured is not None
        and run.population is not None
        and target is not None
        and share_after < target - 1e-9
    ):
        cells = (
            f"{overall.indicator} counts the people of each cell of the population raster "
            f"the service reaches, not whole villages: with the plan, {share_after:.1%} of the "
            f"people live where {run.tech} is received; add candidates near the people left "
            "out (--candidates, settlements, --dem)"
        )
        recheck_doc["reason"] = "; ".join(r for r in (recheck_doc["reason"], cells) if r)
    return _Outcome(
        total_weight=float(weights.sum()),
        share_after=share_after,
        covered_all=covered_weight,
        all_weight=total_weight,
        target_met=None if target is None else bool(share_after >= target - 1e-9),
        dark_after=dark_after,
        recheck=recheck_doc,
    )


def _placements(planned: pd.DataFrame) -> list[str]:
    """Say where each planned carrier goes (:data:`PLACEMENTS`)."""
    upgrade = planned["upgrades_site"].notna().to_numpy(dtype=bool)
    shared = planned["colocated_with"].notna().to_numpy(dtype=bool)
    labels = np.where(upgrade, PLACEMENTS[0], np.where(shared, PLACEMENTS[1], PLACEMENTS[2]))
    return [str(v) for v in labels.tolist()]


def _people(demand: _Demand, assessed: pd.DataFrame) -> _FloatArray:
    """People of each demand village: the engine's (the raster's when one was given)."""
    if "population_in_village" in assessed:
        column = assessed["population_in_village"]
    elif "population" in demand.villages:
        column = demand.villages["population"]
    else:
        return np.full(len(demand.index), np.nan)
    return np.asarray(pd.to_numeric(column, errors="coerce"), dtype=np.float64)


def _planned_sites(
    run: _Run, demand: _Demand, repaired: _Repaired, before: Assessment
) -> gpd.GeoDataFrame:
    """Return the planned sites as :attr:`PlanResult.sites` documents them (EPSG:4326)."""
    planned = repaired.solved.sites
    vid = demand.ids
    people = _people(demand, before.villages.iloc[demand.index])
    return gpd.GeoDataFrame(
        {
            "rank": planned["rank"].to_numpy(dtype=np.int64),
            "site_id": repaired.new_ids,
            "candidate_id": planned["candidate_id"].astype(str).tolist(),
            "kind": planned["kind"].astype(str).tolist(),
            "placement": _placements(planned),
            "operator": [run.op] * len(planned),
            "cost": planned["cost"].to_numpy(dtype=float),
            "colocated_with": [_none(v) for v in planned["colocated_with"].tolist()],
            "partner_operator": [_none(v) for v in planned["partner_operator"].tolist()],
            "upgrades_site": [_none(v) for v in planned["upgrades_site"].tolist()],
            "villages_newly_covered": planned["villages_newly_covered"].to_numpy(dtype=np.int64),
            "people_newly_covered": [
                float(np.nansum(people[list(v)])) for v in planned["new_villages"].tolist()
            ],
            "village_ids": [[str(vid[i]) for i in v] for v in planned["new_villages"].tolist()],
            "tech": planned["tech"].astype(str).tolist(),
            "height_m": planned["height_m"].to_numpy(dtype=float),
        },
        geometry=repaired.new_sites.geometry.to_numpy(),
        crs=4326,
    )


def _plan_document(
    run: _Run,
    demand: _Demand,
    cands: gpd.GeoDataFrame,
    repaired: _Repaired,
    outcome: _Outcome,
    out_sites: gpd.GeoDataFrame,
    *,
    budget: float | None,
    target: float | None,
    overall: _Overall,
    kpis_before: dict[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    """Return the ``plan.json`` document (see :attr:`PlanResult.document`)."""
    solved, after = repaired.solved, repaired.after
    solution = solved.solution
    vid, names = demand.ids, demand.names
    unreachable = np.asarray(solution.unreachable, dtype=np.int64)
    return {
        "operator": run.op,
        "scope": run.scope,
        "tech": run.tech,
        "problem": solved.problem,
        "method": solution.method,
        "status": solution.status,
        "objective": solution.objective,
        "bound": solution.bound,
        "gap": solution.gap,
        "runtime_s": solution.runtime_s,
        "budget": budget,
        "budget_unit": run.settings.budget_unit if budget is not None else None,
        "target": target,
        "target_met_after_recheck": outcome.target_met,
        "missed_villages": int(outcome.dark_after.sum()),
        "target_of": overall.target_of,
        "target_share_of_demand": overall.goal,
        "overall": {
            "measured_by": overall.indicator or "plan",
            "weight": outcome.all_weight,
            "share_before": (
                kpis_before.get(overall.indicator, {}).get("value", overall.share(0.0))
                if overall.indicator
                else overall.share(0.0)
            ),
            "covered_after_recheck": outcome.covered_all,
            "share_after_recheck": outcome.share_after,
        },
        "by_placement": _by_placement(out_sites),
        "weight": run.weight,
        "model": after.model,
        "matrix_model": "terrain" if run.terrain_dem is not None else run.engine_cfg.mobile.model,
        "recheck_model": after.model,
        "rule": run.engine_cfg.mobile.rule,
        "costs": run.settings.costs.model_dump(),
        "cost": float(out_sites["cost"].sum()),
        "n_sites": len(out_sites),
        "n_candidates": len(cands),
        "candidates_by_kind": {
            str(k): int(v) for k, v in cands["kind"].value_counts(sort=False).items()
        },
        "demand": {
            "villages": len(demand.index),
            "weight": outcome.total_weight,
            "covered_by_plan": int(repaired.promised.sum()),
            "covered_weight_by_plan": solution.covered_weight,
            "covered_share_by_plan": solution.covered_share,
            "covered_after_recheck": int(repaired.lit.sum()),
            "covered_share_after_recheck": _share(repaired.solved.weights, repaired.lit),
            "not_confirmed_by_engine": [str(vid[i]) for i in repaired.broken],
        },
        "recheck": outcome.recheck,
        "unreachable": [
            {"village_id": str(vid[i]), "name": str(names[i])} for i in unreachable.tolist()
        ],
        "sites": _site_records(out_sites),
        "kpis_before": kpis_before,
        "kpis_after": _indicators(after, run.config.targets),
        "notes": notes,
    }


def _share(weights: _FloatArray, lit: npt.NDArray[np.bool_]) -> float:
    """Return the share of the demand weight in the `lit` villages (1 without demand weight)."""
    total = float(np.sum(weights))
    return float(np.sum(weights[lit])) / total if total > 0 else 1.0


def _by_placement(out_sites: gpd.GeoDataFrame) -> dict[str, dict[str, float]]:
    """Sites, cost and people newly covered per placement (:data:`PLACEMENTS`)."""
    table = pd.DataFrame(
        {
            "placement": out_sites["placement"].astype(str).to_numpy(dtype=object),
            "cost": out_sites["cost"].to_numpy(dtype=float),
            "people": out_sites["people_newly_covered"].to_numpy(dtype=float),
        }
    )
    where = table["placement"].to_numpy(dtype=object)
    cost = table["cost"].to_numpy(dtype=float)
    people = table["people"].to_numpy(dtype=float)
    return {
        name: {
            "sites": int((where == name).sum()),
            "cost": float(cost[where == name].sum()),
            "people_newly_covered": float(np.nansum(people[where == name])),
        }
        for name in PLACEMENTS
    }


def _site_records(out_sites: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Return the planned sites as ``plan.json`` records, with ``lon`` and ``lat``."""
    return [
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
    ]


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
    basis: str = "the demand",
) -> dict[str, Any]:
    """``plan.json``'s account of the engine's re-check: the rounds, the shortfall, why."""
    shortfall = None if target is None else max(0.0, target - share_after)
    short_weight = None if target is None else max(0.0, target * total_weight - covered_weight)
    if short_weight is not None and weight == "villages":
        short_weight = float(math.ceil(short_weight - 1e-9))
    reasons: list[str] = []
    if shortfall is not None and shortfall > 1e-9:
        reasons.append(
            f"after the engine's re-check the plan covers {share_after:.1%} of {basis} "
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
