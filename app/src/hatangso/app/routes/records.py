"""The province's record, record by record: read, edit and retire rows, and read their history.

Every kind of the record (villages, sites, access points, fiber, poles, ducts, POIs,
settlements, declarations) is a collection of rows with stable ids in the scenario's store
(:meth:`hatangso.app.workspace.Workspace.store`):

``GET /api/scenarios/{name}/{kind}``
    The live records (GeoJSON FeatureCollection, EPSG:4326), ``?as_of=YYYY-MM-DD`` (as they
    stood at the end of that day), ``?bbox=``, ``?operator=``, ``?limit=`` and ``?offset=``.
    Its ``ETag`` is the record's version: an upload sent with it as ``If-Match`` is refused
    (409) if a row it changes has changed since.
``GET /api/scenarios/{name}/{kind}/{id}``
    One record (a Feature; ``?as_of=`` too); its ``ETag`` is the record's own version.
``PATCH /api/scenarios/{name}/{kind}/{id}``
    Change attributes (a JSON object; ``geometry`` a GeoJSON geometry). ``If-Match`` with
    the record's version refuses the edit (409) if someone changed the record meanwhile.
``DELETE /api/scenarios/{name}/{kind}/{id}``
    Retire the record: it leaves every read from now on and keeps its row and history.
``GET /api/scenarios/{name}/{kind}/{id}/history``
    ``[{time, user, action, before, after, version}]``, oldest first.

The collections of villages (the published run's villages and their coverage) and towers
keep their own endpoints (:mod:`hatangso.app.routes.scenarios`); a village's record is read
here by its id.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from hatangso.app import versions
from hatangso.app.auth import ReaderDep, ScenarioWriterDep
from hatangso.app.deps import ScenarioName, SettingsDep, WorkspaceDep, require_read_key
from hatangso.app.records import (
    history_document,
    parse_as_of,
    parse_bbox,
    record_feature,
    record_features,
    record_spec,
)
from hatangso.app.workspace import Workspace, feature_collection, registered_scenarios
from hatangso.geo.errors import ConflictError, InputError, NotFoundError, Problem

__all__ = ["router"]

log = logging.getLogger(__name__)

GEOJSON = "application/geo+json"

#: The zone whose days ``as_of`` names (the store's).
_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

router = APIRouter(prefix="/api/scenarios", tags=["records"])

AsOf = Annotated[
    str | None,
    Query(
        max_length=40,
        description="YYYY-MM-DD: the record as it stood at the end of that day (Asia/Ho_Chi_Minh).",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(description="The record's version (its ETag): refuse the write if it moved on."),
]

_READ = [Depends(require_read_key)]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such scenario, kind or record (the kinds are listed)"},
    422: {"description": "A bad as_of, bbox or limit"},
    503: {"description": "The record's database is unavailable"},
}


async def record_scenario(
    name: ScenarioName, workspace: WorkspaceDep, settings: SettingsDep
) -> str:
    """Dependency: a scenario that has a record (a registered one is built first)."""
    if workspace.exists(name) or workspace.folder(name).is_dir():
        return name
    if name in registered_scenarios() and await run_in_threadpool(
        workspace.ensure, name, build=settings.demo
    ):
        return name
    raise HTTPException(status_code=404, detail=f"no scenario named '{name}'")


RecordScenario = Annotated[str, Depends(record_scenario)]


def _store(workspace: Workspace, name: str) -> Any:
    return workspace.store(name)


@router.get(
    "/{name}/{kind}",
    summary="The records of one kind as GeoJSON",
    dependencies=_READ,
    responses={200: {"content": {GEOJSON: {}}}, **_RESPONSES},
)
def list_records(
    request: Request,
    name: RecordScenario,
    kind: str,
    workspace: WorkspaceDep,
    settings: SettingsDep,
    _principal: ReaderDep,
    as_of: AsOf = None,
    bbox: Annotated[
        str | None,
        Query(max_length=200, description="min_lon,min_lat,max_lon,max_lat (degrees)."),
    ] = None,
    operator: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, description="Features per page.")] = 1000,
    offset: Annotated[int, Query(ge=0, description="Features to skip.")] = 0,
) -> Response:
    """Return the live records of `kind` (RFC 7946 FeatureCollection, EPSG:4326).

    ``numberMatched`` counts the records matching the filters, ``numberReturned`` those on
    this page; a ``next`` link points at the following page. ``?as_of=YYYY-MM-DD`` answers
    as the record stood at the end of that day. The ``ETag`` is the record's version.
    """
    spec = record_spec(kind)
    day = parse_as_of(as_of)
    box = parse_bbox(bbox)
    if limit > settings.max_page:
        raise HTTPException(status_code=422, detail=f"limit must be at most {settings.max_page}")
    store = _store(workspace, name)
    version = store.version  # read first: the rows served are of it or newer

    def load() -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
        frame = store.read(spec.kind, as_of=day, bbox=box)
        features, _ids = record_features(spec, frame)
        operators = (
            frame["operator"].astype("string").str.casefold().fillna("").to_numpy(dtype=object)
            if "operator" in frame
            else np.full(len(frame), "", dtype=object)
        )
        return features, operators

    if day is None and box is None:  # the record now: serialised once per version
        features, operators = workspace.memo(name, f"record:{spec.kind}", version, load)
    else:
        features, operators = load()
    if operator is not None:
        features = features[operators == operator.strip().casefold()]
    page = features[offset : offset + limit]
    members: dict[str, Any] = {
        "numberMatched": len(features),
        "numberReturned": len(page),
        "version": version,
    }
    if day is not None:
        members["as_of"] = day.isoformat()
    if offset + limit < len(features):
        members["links"] = [
            {
                "rel": "next",
                "type": GEOJSON,
                "href": str(request.url.include_query_params(offset=offset + limit, limit=limit)),
            }
        ]
    return Response(
        feature_collection(np.asarray(page, dtype=object), **members),
        media_type=GEOJSON,
        headers={"ETag": versions.etag(version), "X-Total-Count": str(len(features))},
    )


def _cutoff(day: Any) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=_ZONE).astimezone(UTC)


@router.get(
    "/{name}/{kind}/{record_id:path}/history",
    summary="Every change of one record",
    dependencies=_READ,
    responses=_RESPONSES,
)
def record_history(
    name: RecordScenario,
    kind: str,
    record_id: str,
    workspace: WorkspaceDep,
    _principal: ReaderDep,
    as_of: AsOf = None,
) -> list[dict[str, Any]]:
    """Return the record's changes, oldest first: ``[{time, user, action, before, after}]``.

    ``time`` is ISO 8601 with its offset; ``before`` is null for the record's addition; a
    retirement's ``after`` is its last state. ``?as_of=`` keeps the changes made by the end
    of that day.
    """
    spec = record_spec(kind)
    day = parse_as_of(as_of)
    entries = _store(workspace, name).history(spec.kind, record_id)
    if day is not None:
        cutoff = _cutoff(day)
        entries = [e for e in entries if e.time < cutoff]
        if not entries:
            raise NotFoundError(
                f"{spec.kind}: record '{record_id}' did not exist yet on {day.isoformat()}. "
                "Fix: ask for a later day, or drop as_of"
            )
    return history_document(entries)


def _feature_response(feature: dict[str, Any], version: int, status: int = 200) -> Response:
    return JSONResponse(
        feature,
        status_code=status,
        media_type=GEOJSON,
        headers={"ETag": versions.etag(version)},
    )


@router.get(
    "/{name}/{kind}/{record_id:path}",
    summary="One record as a GeoJSON Feature",
    dependencies=_READ,
    responses={200: {"content": {GEOJSON: {}}}, **_RESPONSES},
)
def get_record(
    name: RecordScenario,
    kind: str,
    record_id: str,
    workspace: WorkspaceDep,
    _principal: ReaderDep,
    as_of: AsOf = None,
) -> Response:
    """Return one live record (``?as_of=``: as it stood then); its ``ETag`` is its version.

    A retired record answers 404, naming when it was retired; its history stays readable.
    """
    spec = record_spec(kind)
    day = parse_as_of(as_of)
    record = _store(workspace, name).get(spec.kind, record_id, as_of=day)
    if record.retired:
        when = f" on {day.isoformat()}" if day is not None else ""
        raise NotFoundError(
            f"{spec.kind}: record '{record_id}' was retired{when} (version {record.version}). "
            f"Fix: its history is at /api/scenarios/{name}/{spec.kind}/{record_id}/history"
        )
    return _feature_response(record_feature(record, spec), record.version)


def _check_version(store: Any, kind: str, record_id: str, if_match: str | None) -> None:
    """Refuse (409) a write whose ``If-Match`` is not the record's version now."""
    expected = versions.if_match(if_match)
    if expected is None:
        return
    record = store.get(kind, record_id)
    if record.version == expected:
        return
    last = store.history(kind, record_id)[-1]
    raise ConflictError(
        f"{kind}: record '{record_id}' is at version {record.version}, not {expected}: "
        f"{last.actor} made a change ({last.action}) at {last.time.isoformat()} after you read "
        f"it, so your change was not applied. Fix: read the record again, check the change, "
        f"and send it with If-Match: {record.version}"
    )


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    """Return the attributes a PATCH body sets (a plain object, or a GeoJSON Feature)."""
    from shapely.geometry import shape

    if body.get("type") == "Feature":
        changes = dict(body.get("properties") or {})
        if body.get("geometry") is not None:
            changes["geometry"] = body["geometry"]
    else:
        changes = dict(body)
    for ignored in ("version", "retired"):
        changes.pop(ignored, None)
    if "geometry" in changes:
        try:
            changes["geometry"] = shape(changes["geometry"])
        except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
            raise InputError(
                Problem(
                    file="body",
                    column="geometry",
                    message=f"not a GeoJSON geometry ({exc})",
                    fix='send {"type": "Point", "coordinates": [lon, lat]} or another geometry',
                )
            ) from None
    if not changes:
        raise InputError(
            Problem(file="body", message="nothing to change", fix="send the attributes to set")
        )
    return changes


@router.patch(
    "/{name}/{kind}/{record_id:path}",
    summary="Edit one record",
    responses={
        401: {"description": "No credentials"},
        403: {"description": "A viewer, or another operator's record"},
        409: {"description": "If-Match names a version the record has moved on from"},
        **_RESPONSES,
    },
)
def edit_record(
    name: RecordScenario,
    kind: str,
    record_id: str,
    workspace: WorkspaceDep,
    principal: ScenarioWriterDep,
    body: Annotated[
        dict[str, Any],
        Body(
            description="Attributes to set; `geometry` a GeoJSON geometry (or a whole Feature).",
            examples=[{"name": "Thôn Nà Hin", "population": 430}],
        ),
    ],
    if_match: IfMatch = None,
) -> Response:
    """Change attributes (or the geometry) of one live record; answer the record after it.

    The edited record is validated as an upload's row is. ``If-Match`` (optional) with the
    record's version refuses the edit (409) if someone changed the record meanwhile; an
    operator edits its own rows only (403).
    """
    spec = record_spec(kind)
    changes = _changes(body)
    store = _store(workspace, name)
    with workspace.writing(name):
        _check_version(store, spec.kind, record_id, if_match)
        store.edit(
            spec.kind,
            record_id,
            changes,
            actor=principal.name,
            operator=principal.store_operator,
            note="edited through the service",
        )
        record = store.get(spec.kind, record_id)
    return _feature_response(record_feature(record, spec), record.version)


@router.delete(
    "/{name}/{kind}/{record_id:path}",
    summary="Retire one record (it keeps its history)",
    responses={
        401: {"description": "No credentials"},
        403: {"description": "A viewer, or another operator's record"},
        409: {"description": "If-Match names a version the record has moved on from"},
        **_RESPONSES,
    },
)
def retire_record(
    name: RecordScenario,
    kind: str,
    record_id: str,
    workspace: WorkspaceDep,
    principal: ScenarioWriterDep,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Retire one live record: it leaves every read from now on; its row and history stay."""
    spec = record_spec(kind)
    store = _store(workspace, name)
    with workspace.writing(name):
        _check_version(store, spec.kind, record_id, if_match)
        applied = store.retire(
            spec.kind,
            [record_id],
            actor=principal.name,
            operator=principal.store_operator,
            note="retired through the service",
        )
    return {
        "kind": spec.kind,
        "id": record_id,
        "retired": True,
        "version": applied.version,
        "time": applied.time.isoformat(),
        "user": applied.actor,
    }
