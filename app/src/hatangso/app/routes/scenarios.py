"""Read endpoints: scenarios, KPIs, villages, sites, towers, access points, fiber, plans."""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from hatangso.app import versions
from hatangso.app.asof import AsOf, results_as_of, scenario_for
from hatangso.app.deps import (
    ExistingScenario,
    ScenarioName,
    SettingsDep,
    WorkspaceDep,
    require_read_key,
)
from hatangso.app.schemas import Indicator, ScenarioOut, Status
from hatangso.app.workspace import Workspace, feature_collection, serialise_features
from hatangso.geo.schema import spec_for

__all__ = ["router"]

router = APIRouter(
    prefix="/api/scenarios", tags=["scenarios"], dependencies=[Depends(require_read_key)]
)

GEOJSON = "application/geo+json"

# Properties served per layer kind (the id column is the kind's, geo.schema's).
_LAYER_COLUMNS: dict[str, list[str]] = {
    "sites": ["site_id", "operator", "tech", "height_m", "azimuth_deg", "beamwidth_deg", "env"],
    "access-points": ["ap_id", "operator", "kind"],
    "fiber": ["operator"],
    "poles": ["pole_id", "operators"],
    "ducts": ["duct_id", "operators"],
}

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
) -> Response:
    """Return the scenario's ``kpis.json``: indicators, by admin unit, input accounting.

    With ``as_of``, the KPIs as the scenario's record stood at the end of that day: the
    answer says its ``as_of`` and ``record_version``. A run made from that version answers;
    without one, the run is made first (a job, within the limits of every run) and kept. A day
    before the record's first change: 404.
    """
    name = await scenario_for(name, workspace, settings, as_of)
    if as_of is None:
        return Response(workspace.kpis_text(name), media_type="application/json")
    past = await results_as_of(request, workspace, settings, name, as_of)
    return Response(await past.kpis_answer(), media_type="application/json")


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
            pattern="^(measured|predicted|declared)$",
            description="What the mobile answer rests on.",
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


def _layer_features(workspace: Workspace, name: str, kind: str) -> tuple[Any, Any]:
    path = workspace.layer_path(name, kind)
    if path is None:
        raise HTTPException(status_code=404, detail=f"scenario '{name}' has no {kind} layer")
    columns, id_column = _LAYER_COLUMNS[kind], spec_for(kind).id_column

    def load() -> tuple[Any, Any]:
        frame = workspace.layer(name, kind)
        assert frame is not None
        operators = (
            frame["operator"].astype(str).to_numpy(dtype=object)
            if "operator" in frame
            else np.full(len(frame), "", dtype=object)
        )
        return serialise_features(frame, columns=columns, id_column=id_column), operators

    result: tuple[Any, Any] = workspace.cached(name, f"features:{kind}", (path,), load)
    return result


def _layer_route(kind: str) -> Any:
    def endpoint(
        request: Request,
        name: ExistingScenario,
        workspace: WorkspaceDep,
        operator: Annotated[str | None, Query(max_length=40)] = None,
        limit: Limit = 10_000,
        offset: Offset = 0,
    ) -> Response:
        # The version is read first: the features served are of it or newer, so an upload
        # sent with this ETag as If-Match never overwrites a version its sender has not seen.
        version = workspace.layer_version(name, kind).version
        features, operators = _layer_features(workspace, name, kind)
        keep = np.ones(len(features), dtype=bool)
        if operator is not None:
            keep &= np.char.lower(operators.astype(str)) == operator.strip().lower()
        response = _page(request, features, np.flatnonzero(keep), limit, offset)
        response.headers["ETag"] = versions.etag(version)
        return response

    endpoint.__doc__ = (
        f"Return the scenario's {kind} (GeoJSON), optionally of one operator. The ``ETag`` is "
        "the layer's version: send it as ``If-Match`` with an upload that replaces the layer."
    )
    return endpoint


for _kind in _LAYER_COLUMNS:
    router.add_api_route(
        f"/{{name}}/{_kind}",
        _layer_route(_kind),
        methods=["GET"],
        summary=f"{_kind.capitalize()} as GeoJSON",
        responses={200: {"content": {GEOJSON: {}}}},
    )


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
