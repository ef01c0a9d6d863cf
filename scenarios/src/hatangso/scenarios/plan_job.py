"""The planning job behind ``hatangso plan``: read the files, plan, write the plan.

:func:`run_plan` reads and validates the inputs and the configuration, calls the engine's
planner (:func:`hatangso.coverage.planning.plan`, which assesses today's coverage, builds and
solves the siting problem and re-checks the plan with the coverage engine), and writes its
outputs.

Outputs in ``out_dir``: ``plan.geojson`` (one Point per planned site, EPSG:4326), ``plan.json``
(the problem, the solver's status, bound and gap, the ranked sites, the villages out of reach,
the KPIs before and after, whether the target holds after the engine's re-check and how many
demand villages it leaves dark) and ``rejects.csv`` (every refused row of every file read, the
candidates of other operators among them).

Options
-------
``--budget K`` counts sites unless the configuration sets ``siting.budget_unit: cost``, when it
is the sum of the sites' costs (``siting.costs``: relative units by default, a new tower 1.0 and
a co-location 0.35; any money unit when the costs and the candidate file's ``cost`` column are
written in it). ``--target SHARE`` is the share of the *demand* to cover at the least cost: of
the dark villages (``--scope any``: villages no operator covers; ``own``: villages the operator
does not cover), each village weighing 1, or its ``population`` with ``siting.weight:
population``. With ``--target-of all`` (the default of ``--tech 5G``) it is the share of *all*
villages or people, those covered today included: ``--tech 5G --weight population --target
0.99`` plans 5G for 99 % of the population, upgrading the operator's own towers
(``siting.costs.upgrade``) before renting other operators' (``colocation``) before building
(``new_tower``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from hatangso.coverage import siting
from hatangso.coverage.config import load_config
from hatangso.coverage.engine import Assessment
from hatangso.coverage.planning import PlanResult, check_plan_options, plan
from hatangso.geo.confine import checked_file
from hatangso.geo.errors import InputError, Problem
from hatangso.geo.limits import WorkLimits
from hatangso.geo.outputs import write_json, write_rejects
from hatangso.geo.progress import Progress
from hatangso.geo.text import normalize_operator
from hatangso.geo.validate import Layer, load_layers, parse_column_map

__all__ = ["PlanRun", "read_exclusion", "run_plan"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class PlanRun:
    """A finished plan and the files written from it.

    Attributes
    ----------
    result
        The engine's plan (:class:`hatangso.coverage.planning.PlanResult`).
    files
        The files written: ``plan_geojson``, ``plan_json``, ``rejects``.
    """

    result: PlanResult
    files: Mapping[str, Path]

    @property
    def plan(self) -> siting.SitePlan:
        """The solver's ranked plan (metric CRS, candidate and village indices)."""
        return self.result.plan

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """The planned sites as written to ``plan.geojson`` (EPSG:4326), in build order."""
        return self.result.sites

    @property
    def document(self) -> dict[str, Any]:
        """The ``plan.json`` document."""
        return self.result.document

    @property
    def before(self) -> Assessment:
        """The engine's assessment without the planned sites."""
        return self.result.before

    @property
    def after(self) -> Assessment:
        """The engine's assessment with the planned sites."""
        return self.result.after

    @property
    def demand(self) -> npt.NDArray[np.int64]:
        """Rows of ``before.villages`` the plan is for."""
        return self.result.demand


def read_exclusion(
    path: Path | None, *, max_bytes: int, source: str = "configuration"
) -> gpd.GeoDataFrame | None:
    """Read the ``siting.exclusion`` polygons (a path :func:`parse_config` resolved).

    Raises
    ------
    ConfigError
        The file is not a regular file or is larger than `max_bytes` (checked before reading).
    InputError
        It is not a vector layer.
    """
    if path is None:
        return None
    checked_file(path, key="siting.exclusion", source=source, shown=path.name, max_bytes=max_bytes)
    try:
        frame = gpd.read_file(path)
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(
            Problem(
                file=source,
                column="siting.exclusion",
                message=f"'{path.name}' is not a readable vector layer ({type(exc).__name__})",
                fix="give polygons as GeoJSON, GeoPackage or a zipped Shapefile",
            )
        ) from exc
    frame.attrs["source"] = path.name
    return frame


def _note_absent_operator(sites: Layer, operator: str) -> None:
    """Log a warning when the planning operator has no site in `sites` (a misspelt name?).

    A newcomer to the province may have none, so the plan goes on: on other operators' towers
    and new sites only.
    """
    name = normalize_operator(operator)[0]
    present = sites.frame["operator"].astype("string").dropna().unique().tolist()
    if name in present:
        return
    log.warning(
        "%s: no site of %s (its operators: %s); the plan has no own tower to start from. "
        "Check the spelling of --operator if %s has sites there",
        sites.name,
        name,
        ", ".join(sorted(map(str, present))) or "none",
        name,
    )


def _own_candidates(layer: Layer, operator: str) -> Layer:
    """Move candidates of another operator than `operator` to the layer's rejects."""
    frame = layer.frame
    if "operator" not in frame or not len(frame):
        return layer
    given = frame["operator"].astype("string").fillna("")
    names = given.map(lambda v: normalize_operator(v)[0] if v.strip() else operator)
    other = (names != operator).to_numpy(dtype=bool)
    if not other.any():
        return layer
    rows = frame.loc[other]
    extra = pd.DataFrame(
        {
            "file": layer.name,
            "row": rows["source_row"].to_numpy(),
            "id": rows["candidate_id"].astype(str).to_numpy(dtype=object),
            "reason": [f"a candidate of {n}; the plan is for {operator}" for n in names[other]],
        }
    )
    return dataclasses.replace(
        layer,
        frame=frame.loc[~other].reset_index(drop=True),
        rejects=pd.concat([layer.rejects, extra], ignore_index=True),
    )


def _frame(layer: Layer, source: str) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(layer.frame).reset_index(drop=True)
    frame.attrs["source"] = source
    return frame


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
    population: Path | None = None,
    tech: str = "4G",
    weight: str | None = None,
    target_of: str | None = None,
    columns: Mapping[str, str] | str | None = None,
    progress: Progress | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
    limits: WorkLimits | None = None,
) -> PlanRun:
    """Plan the sites `operator` should build, re-checked by the engine, and write the plan.

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
        The user's own candidates (the ``candidates`` kind: points with ``candidate_id`` or
        ``site_id``; optional ``cost``, ``height_m``, ``tech``, ``env``, ``operator``): the
        only candidates then (none are generated). A bad row, or a candidate of another
        operator, goes to ``rejects.csv`` with its reason.
    config
        Configuration YAML (``mobile:``, ``sharing:``, ``siting:``).
    scope
        ``any``: plan for villages no operator covers; ``own``: villages `operator` does not
        cover.
    method
        ``milp`` (exact, HiGHS, with time limit and gap) or ``greedy``.
    settlements
        Residential clusters: candidate points, and the ``official`` rule's points.
    population
        Population raster (GeoTIFF): people per village, for the population indicators and
        ``weight="population"``.
    tech
        ``4G`` (plan for villages without 4G or better) or ``5G`` (without 5G).
    weight
        ``villages`` or ``population`` (overrides ``siting.weight``).
    target_of
        ``demand`` (the target is a share of the dark villages of the scope) or ``all`` (of
        every village or person, those covered today included); None takes
        ``siting.target_of``, else ``all`` for 5G and ``demand`` for 4G.
    columns
        One column map for every file (``--columns village_id=osm_id,name=ten``): an entry
        applies to each file that has that column and whose kind knows the name.
    progress
        Called with the name of each step.
    sheet, header_row
        For XLSX inputs: the sheet and the 1-based header row (found when None).
    limits
        The limits on the work the configuration may ask for (the defaults when None).

    Returns
    -------
    PlanRun

    Raises
    ------
    InputError
        Bad options or input files (exit 2).
    hatangso.coverage.siting.PlanInfeasibleError
        (an ``InfeasibleError``, exit 2) when the target exceeds what the candidates reach; it
        names the villages out of reach and the best achievable share.
    """
    step = progress or (lambda _name: None)
    out_dir = Path(out_dir)
    # Bad options stop before any file is read.
    check_plan_options(
        budget=budget,
        target=target,
        scope=scope,
        method=method,
        tech=tech,
        weight=weight,
        target_of=target_of,
    )
    cfg = load_config(config, limits=limits)
    column_map = (
        parse_column_map(columns) if isinstance(columns, str) or columns is None else columns
    )
    inputs = {"villages": (Path(villages), "villages"), "sites": (Path(sites), "sites")}
    if settlements is not None:
        inputs["settlements"] = (Path(settlements), "settlements")
    if candidates is not None:
        inputs["candidates"] = (Path(candidates), "candidates")
    layers = load_layers(inputs, column_map, progress=progress, sheet=sheet, header_row=header_row)
    _note_absent_operator(layers["sites"], operator)
    user_layer = None
    if "candidates" in layers:
        user_layer = _own_candidates(layers.pop("candidates"), normalize_operator(operator)[0])
    result = plan(
        _frame(layers["villages"], Path(villages).name),
        _frame(layers["sites"], Path(sites).name),
        operator=operator,
        config=cfg,
        budget=budget,
        target=target,
        scope=scope,
        method=method,
        settlements=(
            _frame(layers["settlements"], layers["settlements"].name)
            if "settlements" in layers
            else None
        ),
        candidates=_frame(user_layer, user_layer.name) if user_layer is not None else None,
        exclusion=read_exclusion(
            cfg.siting.exclusion,
            max_bytes=cfg.limits.max_referenced_file_bytes,
            source="configuration" if config is None else Path(config).name,
        ),
        dem=None if dem is None else Path(dem),
        population=None if population is None else Path(population),
        tech=tech,
        weight=weight,
        target_of=target_of,
        cache_dir=out_dir / "terrain_cache",
        progress=progress,
    )
    step("writing outputs")
    out_dir.mkdir(parents=True, exist_ok=True)
    geo_path = write_json(result.features(), out_dir / "plan.geojson", indent=1)
    files = {
        "plan_geojson": geo_path,
        "plan_json": write_json(result.document, out_dir / "plan.json"),
        "rejects": write_rejects(
            [*layers.values(), *([user_layer] if user_layer is not None else [])], out_dir
        ),
    }
    return PlanRun(result=result, files=files)
