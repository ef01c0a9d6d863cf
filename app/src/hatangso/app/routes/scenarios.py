"""Read endpoints: scenarios, KPIs, villages, sites, towers, access points, fiber, plans."""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from hatangso.app.asof import AsOf, results_as_of, scenario_for
from hatangso.app.deps import (
    ExistingScenario,
    ScenarioName,
    SettingsDep,
    WorkspaceDep,
    require_read_key,
)
from hatangso.app.schemas import Indicator, ScenarioOut, Status, Units
from hatangso.app.workspace import Workspace, feature_collection, serialise_features
from hatangso.geo.errors import InputError, Problem

__all__ = ["router"]

router = APIRouter(
    prefix="/api/scenarios", tags=["scenarios"], dependencies=[Depends(require_read_key)]
)

GEOJSON = "application/geo+json"

Limit = Annotated[int, Query(ge=1, le=100_000, description="Features per page.")]
Offset = Annotated[int, Query(ge=0, description="Features to skip.")]


def _links(name: str) -> dict[str, str]:
    base = f"/api/scenarios/{name}"
    return {
        "kpis": f"{base}/kpis",
        "villages": f"{base}/villages",
        "map": f"/map/{name}",
        "report": f"{base}/exports/report.xlsx",
    }


@router.get("", response_model=list[ScenarioOut], summary="Scenarios known to the service")
def list_scenarios(workspace: WorkspaceDep, request: Request) -> list[ScenarioOut]:
    """List the scenarios with results, and those the service builds on first use.

    The scenario the service is building at start-up says its step (``building``).
    """
    state = getattr(request.app.state, "startup", None)
    building = state.snapshot() if state is not None else None
    return [
        ScenarioOut(
            name=info.name,
            title=info.title,
            ready=info.ready,
            source=info.source,
            villages=info.villages,
            updated=info.updated,
            links=_links(info.name),
            building=(
                {k: v for k, v in building.items() if k != "building"}
                if building is not None and building["building"] == info.name
                else None
            ),
        )
        for info in workspace.scenarios()
    ]


@router.get("/{name}", response_model=ScenarioOut, summary="One scenario")
def get_scenario(name: ExistingScenario, workspace: WorkspaceDep) -> ScenarioOut:
    """Describe one scenario."""
    for info in workspace.scenarios():
        if info.name == name:
            return ScenarioOut(
                name=info.name,
                title=info.title,
                ready=info.ready,
                source=info.source,
                villages=len(workspace.villages(name).features),
                updated=info.updated,
                links=_links(name),
            )
    raise HTTPException(status_code=404, detail=f"no scenario named '{name}'")  # pragma: no cover


@router.get(
    "/{name}/kpis",
    summary="The kpis.json document",
    responses={200: {"content": {"application/json": {}}}},
)
async def get_kpis(
    request: Request,
    name: ScenarioName,
    workspace: WorkspaceDep,
    settings: SettingsDep,
    as_of: AsOf = None,
    units: Annotated[
        Units | None,
        Query(
            description="Admin hierarchy of by_unit: old (provinces, districts and communes "
            "before 1 July 2025) or new (provinces and communes after it); default: the "
            "villages' own columns as written. The document's 'units' names the one used."
        ),
    ] = None,
) -> Response:
    """Return the scenario's ``kpis.json``: indicators, by admin unit, input accounting.

    With ``as_of``, the KPIs as the scenario's record stood at the end of that day: the
    answer says its ``as_of`` and ``record_version``. A run made from that version answers;
    without one, the run is made first (a job, within the limits of every run) and kept. A day
    before the record's first change: 404. With ``units``, ``by_unit`` in that hierarchy.
    """
    name = await scenario_for(name, workspace, settings, as_of)
    if as_of is None:
        if units is None:
            return Response(workspace.kpis_text(name), media_type="application/json")
        document = workspace.kpis(name)
    else:
        past = await results_as_of(request, workspace, settings, name, as_of)
        answer = await past.kpis_answer(workspace, name)
        if units is None:
            return Response(answer, media_type="application/json")
        document = json.loads(answer)
    by_unit = document.get("by_unit_in", {}).get(units.value)
    if by_unit is None:
        raise InputError(
            Problem(
                file=f"scenario '{name}'",
                message=f"no village of the scenario was placed in the {units.value} units "
                "(its villages name no province or commune of the official lists)",
                fix="give the villages' commune and province (names or codes, before or after "
                "the 2025 reform), or ask without 'units'",
            )
        )
    return Response(
        json.dumps(
            {**document, "by_unit": by_unit, "units": units.value},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8"),
        media_type="application/json",
    )


def _page(
    request: Request,
    features: np.ndarray[Any, Any],
    picked: np.ndarray[Any, Any],
    limit: int,
    offset: int,
) -> Response:
    page = picked[offset : offset + limit]
    members: dict[str, Any] = {"numberMatched": len(picked), "numberReturned": len(page)}
    if offset + limit < len(picked):
        members["links"] = [
            {
                "rel": "next",
                "type": GEOJSON,
                "href": str(request.url.include_query_params(offset=offset + limit, limit=limit)),
            }
        ]
    return Response(
        feature_collection(features[page], **members),
        media_type=GEOJSON,
        headers={"X-Total-Count": str(len(picked))},
    )


@router.get(
    "/{name}/villages",
    summary="Villages as GeoJSON, filtered and paginated",
    responses={200: {"content": {GEOJSON: {}}}},
)
async def get_villages(
    request: Request,
    name: ScenarioName,
    workspace: WorkspaceDep,
    settings: SettingsDep,
    status: Annotated[Status, Query(description="Coverage status to keep.")] = Status.all,
    indicator: Annotated[Indicator, Query(description="Coverage that decides it.")] = (
        Indicator.mobile
    ),
    province: Annotated[str | None, Query(max_length=200)] = None,
    district: Annotated[str | None, Query(max_length=200)] = None,
    commune: Annotated[str | None, Query(max_length=200)] = None,
    basis: Annotated[
        str | None,
        Query(
            pattern="^(measured|predicted|declared|challenge)$",
            description="What the mobile answer rests on (challenge: an upheld challenge).",
        ),
    ] = None,
    disputed: Annotated[
        bool | None, Query(description="Only villages whose bases disagree (or agree).")
    ] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
    as_of: AsOf = None,
) -> Response:
    """Return the villages (RFC 7946 FeatureCollection, EPSG:4326).

    ``numberMatched`` counts the villages matching the filters, ``numberReturned`` those on
    this page; a ``next`` link points at the following page. With ``as_of``, the villages
    assessed on the record as it stood at the end of that day (as ``/kpis`` answers it).
    """
    if limit > settings.max_page:
        raise HTTPException(status_code=422, detail=f"limit must be at most {settings.max_page}")
    name = await scenario_for(name, workspace, settings, as_of)
    if as_of is None:
        index = workspace.villages(name)
    else:
        past = await results_as_of(request, workspace, settings, name, as_of)
        index = workspace.villages(name, run=past.folder)  # as the current villages are read
    picked = index.select(
        status=status.value,
        indicator=indicator.value,
        units={"province": province, "district": district, "commune": commune},
        basis=basis,
        disputed=disputed,
    )
    return _page(request, index.features, picked, limit, offset)


@router.get(
    "/{name}/towers",
    summary="Tower locations (shared ones marked) as GeoJSON",
    responses={200: {"content": {GEOJSON: {}}}},
)
async def get_towers(
    request: Request,
    name: ScenarioName,
    workspace: WorkspaceDep,
    settings: SettingsDep,
    shared: Annotated[bool | None, Query(description="Only shared (or only unshared).")] = None,
    limit: Limit = 10_000,
    offset: Offset = 0,
    as_of: AsOf = None,
) -> Response:
    """Return the tower locations: connected groups of co-located sites.

    With ``as_of``, those of the sites as the record stood at the end of that day.
    """
    name = await scenario_for(name, workspace, settings, as_of)
    if as_of is None:
        run = workspace.results(name)
    else:
        run = (await results_as_of(request, workspace, settings, name, as_of)).folder
    return await run_in_threadpool(
        _towers_page, request, workspace, name, run, shared, limit, offset
    )


def _towers_page(
    request: Request,
    workspace: Workspace,
    name: str,
    run: Any,
    shared: bool | None,
    limit: int,
    offset: int,
) -> Response:
    towers = workspace.towers(name, run=run)
    if towers is None:
        raise HTTPException(status_code=404, detail=f"scenario '{name}' has no towers")
    path = run / "towers.geojson"
    columns = ["location", "n_sites", "n_operators", "operators", "shared", "site_ids"]
    features = workspace.cached(
        name,
        f"features:towers:{run}",
        (path,),
        lambda: serialise_features(towers, columns=columns, id_column="location"),
    )
    keep = np.ones(len(features), dtype=bool)
    if shared is not None and "shared" in towers:
        flag = towers["shared"].fillna(False).astype(bool).to_numpy()
        keep &= flag if shared else ~flag
    return _page(request, features, np.flatnonzero(keep), limit, offset)


@router.get("/{name}/plans", summary="Site plans of the scenario")
def list_plans(name: ExistingScenario, workspace: WorkspaceDep) -> list[dict[str, Any]]:
    """List the plans computed for the scenario (newest first)."""
    folder = workspace.folder(name) / "plans"
    if not folder.is_dir():
        return []
    plans = []
    for path in sorted(folder.glob("*.geojson"), key=lambda p: p.stat().st_mtime, reverse=True):
        document = json.loads(path.read_text(encoding="utf-8"))
        plans.append({"id": path.stem, **document.get("plan", {})})
    return plans


@router.get(
    "/{name}/plans/{plan_id}",
    summary="One plan as GeoJSON",
    responses={200: {"content": {GEOJSON: {}}}},
)
def get_plan(
    name: ExistingScenario,
    workspace: WorkspaceDep,
    plan_id: Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9_-]{0,80}$")],
) -> Response:
    """Return one plan: the chosen sites, in build order, with what each one newly covers."""
    path = workspace.file(name, f"plans/{plan_id}.geojson")
    if not path.is_file():
        raise HTTPException(status_code=404, detail=f"no plan '{plan_id}' in scenario '{name}'")
    return Response(path.read_bytes(), media_type=GEOJSON)


__all__ += ["ScenarioName"]
