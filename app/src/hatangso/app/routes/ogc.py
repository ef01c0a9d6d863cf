"""OGC API - Features at ``/ogc``: the record and the coverage, as QGIS and GDAL read them.

Implements *OGC API - Features - Part 1: Core* (OGC 17-069r4, version 1.0.1), conformance
classes Core, GeoJSON and OpenAPI 3.0 (:data:`CONFORMANCE`):

``GET /ogc``
    The landing page: links to itself, the API definition (``service-desc``, the service's
    ``/openapi.json``; ``service-doc``, ``/docs``), the conformance declaration and the
    collections (``data``).
``GET /ogc/conformance``
    The conformance classes claimed.
``GET /ogc/collections``, ``GET /ogc/collections/{collectionId}``
    The collections, each with its spatial extent (CRS84, computed from its features) and links.
``GET /ogc/collections/{collectionId}/items``
    A GeoJSON FeatureCollection with ``numberMatched``, ``numberReturned``, ``timeStamp`` and
    links ``self``, ``alternate``, ``next`` and ``prev`` (offset paging). Parameters: ``bbox``
    (four numbers, CRS84; a west edge greater than the east edge crosses the antimeridian),
    ``limit`` (default :data:`DEFAULT_LIMIT`; one above the service's ``max_page`` is
    lowered to it, as /req/core/fc-limit-response-1 asks, not refused), ``offset``,
    ``datetime``, ``f`` (``json`` or ``geojson``).
``GET /ogc/collections/{collectionId}/items/{featureId}``
    One feature (404 when there is none of that id).

Collections
-----------
Every scenario with published results offers ``{scenario}-{kind}``:

``villages``
    The published run's villages with their coverage columns, as
    ``/api/scenarios/{name}/villages`` serves them.
``towers``
    The published run's tower locations (connected groups of co-located sites).
``sites``, ``access-points``, ``fiber`` ... (every kind of the record with a geometry,
:data:`hatangso.geo.schema.LAYER_KINDS`)
    The record's live rows (:meth:`hatangso.app.workspace.Workspace.store`); while the record
    holds no live row of the kind, the scenario's current input layer of that kind.

``datetime`` is a date (``2026-06-30``: the record as it stood at the end of that day in
Asia/Ho_Chi_Minh, the store's ``as_of``) or an RFC 3339 instant with its offset
(``2026-06-30T09:00:00Z``: the record just before it). Intervals are refused (400): the record
answers for one moment. A run's villages and towers, and an input layer not yet in the
record, keep no history: they have no temporal geometry, and so every ``datetime`` matches
them (/req/core/fc-time-response, part C). GDAL, and so QGIS, repeats the query of the URL
it is given on every request (``OAPIF:http://host:8000/ogc?datetime=2026-06-30``): the other
operations take ``datetime`` too, the collections then giving their extents at that moment
and ``/items/{featureId}`` the feature as it stood.

The API definition is the service's own ``/openapi.json``. FastAPI writes it in OpenAPI 3.1,
not the 3.0 that the OpenAPI 3.0 class names; GDAL reads its operations and parameters all
the same, and the ``service-desc`` link gives its media type with ``version=3.1`` so that no
client is told otherwise.

A parameter the operation does not define, or a value it cannot read, is answered 400 Bad
Request (/req/core/query-param-unknown, /req/core/query-param-invalid). Reads need the read
key when the service requires one, as every read of the service does.

Features are filtered with the frame's spatial index and numpy masks and serialised once per
published version (:func:`hatangso.app.workspace.serialise_features`); a page is a slice.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.datastructures import URL

from hatangso.app.auth import reader
from hatangso.app.config import Settings
from hatangso.app.deps import SettingsDep, WorkspaceDep, require_read_key
from hatangso.app.workspace import (
    Workspace,
    feature_collection,
    serialise_features,
    signature,
)
from hatangso.geo.errors import InputError
from hatangso.geo.schema import LAYER_KINDS, spec_for

__all__ = ["CONFORMANCE", "CRS84", "DEFAULT_LIMIT", "collection_kinds", "router"]

log = logging.getLogger(__name__)

#: WGS 84 longitude/latitude, the CRS of every geometry served here.
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

#: The conformance classes of OGC 17-069r4 this API implements.
CONFORMANCE: tuple[str, ...] = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)

#: Features per page when the request names no ``limit``.
DEFAULT_LIMIT = 100

GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.1"

#: Collections computed by a coverage run rather than kept in the record.
RUN_KINDS: tuple[str, ...] = ("villages", "towers")

_TOWER_COLUMNS = ["location", "n_sites", "n_operators", "operators", "shared", "site_ids"]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

_ITEMS_PARAMETERS = frozenset({"bbox", "limit", "offset", "datetime", "f"})
# GDAL (and so QGIS) repeats the query of the URL it was given on every request: a
# ``datetime`` there reaches the metadata too, where it sets the moment of the extents.
_PLAIN_PARAMETERS = frozenset({"f", "datetime"})


def collection_kinds() -> tuple[str, ...]:
    """Return the kinds that make a collection of each scenario, in the order listed.

    The run's villages and towers, then every kind of the record with a geometry
    (:data:`~hatangso.geo.schema.LAYER_KINDS`: a kind added there gets its collection).

    >>> collection_kinds()[:3]
    ('villages', 'towers', 'sites')
    """
    return (*RUN_KINDS, *(kind for kind in LAYER_KINDS if kind not in RUN_KINDS))


# --------------------------------------------------------------------------------------------
# Invalid parameters answer 400, as the standard asks
# --------------------------------------------------------------------------------------------


def _bad_request(message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=message)


class _OgcRoute(APIRoute):
    """A route whose unreadable parameters answer 400 Bad Request (FastAPI's own: 422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in error.get('loc', ())[1:])}: {error.get('msg')}"
                    for error in exc.errors()
                )
                return JSONResponse(status_code=400, content={"detail": problems})

        return route


def _only(request: Request, allowed: frozenset[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise _bad_request(
            f"unknown query parameter {', '.join(unknown)}: this operation takes "
            f"{', '.join(sorted(allowed))}"
        )


def _media_type(request: Request, f: str | None) -> str:
    """Return the media type of a feature answer: ``f`` first, then the Accept header."""
    if f is not None:
        wanted = f.strip().lower()
        if wanted in {"json", JSON}:
            return JSON
        if wanted in {"geojson", GEOJSON}:
            return GEOJSON
        raise _bad_request(f"f={f!r} is not a format served here: use f=geojson or f=json")
    accept = request.headers.get("accept", "")
    if JSON in accept and GEOJSON not in accept:
        return JSON
    return GEOJSON


def _check_json(f: str | None) -> None:
    if f is not None and f.strip().lower() not in {"json", JSON}:
        raise _bad_request(f"f={f!r} is not a format served here: use f=json")


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Read ``bbox``: four numbers, CRS84 (west, south, east, north).

    Raises
    ------
    HTTPException
        400 for anything else: another count, a word, a latitude out of [-90, 90], a
        longitude out of [-180, 180] or a south edge above the north edge.

    Examples
    --------
    >>> parse_bbox("105.1,9.0,105.6,9.4")
    (105.1, 9.0, 105.6, 9.4)
    """
    parts = [p.strip() for p in text.split(",")]
    fix = "give bbox as four numbers in CRS84: west,south,east,north (e.g. 105.1,9.0,105.6,9.4)"
    if len(parts) != 4:
        raise _bad_request(f"bbox={text!r} has {len(parts)} values, not 4: {fix}")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise _bad_request(f"bbox={text!r} is not four numbers: {fix}") from None
    if not all(np.isfinite([west, south, east, north])):
        raise _bad_request(f"bbox={text!r} is not four finite numbers: {fix}")
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise _bad_request(f"bbox={text!r}: longitudes lie in [-180, 180]: {fix}")
    if not (-90 <= south <= north <= 90):
        raise _bad_request(
            f"bbox={text!r}: latitudes lie in [-90, 90], the south edge first: {fix}"
        )
    return west, south, east, north


def parse_datetime(text: str) -> date | datetime:
    """Read ``datetime``: a date, or an RFC 3339 instant with its offset.

    Raises
    ------
    HTTPException
        400 for an interval or anything unreadable.

    Examples
    --------
    >>> parse_datetime("2026-06-30")
    datetime.date(2026, 6, 30)
    >>> parse_datetime("2026-06-30T09:00:00Z").isoformat()
    '2026-06-30T09:00:00+00:00'
    """
    value = text.strip()
    if "/" in value:
        raise _bad_request(
            f"datetime={text!r} is an interval: the record answers for one moment; give a date "
            "(2026-06-30: the record at the end of that day) or an instant "
            "(2026-06-30T09:00:00Z)"
        )
    try:
        if _DATE.match(value):
            return date.fromisoformat(value)
        if _INSTANT.match(value):
            return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        pass
    raise _bad_request(
        f"datetime={text!r} is neither a date (2026-06-30) nor an RFC 3339 instant with its "
        "offset (2026-06-30T09:00:00Z)"
    )


# --------------------------------------------------------------------------------------------
# The features of a collection
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CollectionFeatures:
    """The features of one collection at one moment, serialised once for paging.

    Attributes
    ----------
    frame
        The features (EPSG:4326), one row each, in the order served.
    ids
        Each feature's id, as text (the kind's id column; else its 1-based row).
    features
        Each feature as RFC 7946 GeoJSON text (:func:`serialise_features`).
    temporal
        Whether the features are the record's as of a moment (``datetime`` selects them);
        False for a run's outputs and input layers, which keep no history.
    """

    frame: gpd.GeoDataFrame
    ids: npt.NDArray[np.object_]
    features: npt.NDArray[np.object_]
    temporal: bool

    def extent(self) -> list[float] | None:
        """Return the bounding box of every geometry (CRS84), None when there is none."""
        bounds = self.frame.total_bounds
        if len(self.frame) == 0 or not np.isfinite(bounds).all():
            return None
        return [float(v) for v in bounds]

    def select(self, bbox: tuple[float, float, float, float] | None) -> npt.NDArray[np.intp]:
        """Return the positions of the features whose geometry meets `bbox`, in order."""
        if bbox is None:
            return np.arange(len(self.frame), dtype=np.intp)
        west, south, east, north = bbox
        boxes = (
            [shapely.box(west, south, east, north)]
            if west <= east
            else [shapely.box(west, south, 180.0, north), shapely.box(-180.0, south, east, north)]
        )
        hits = self.frame.sindex.query(np.array(boxes, dtype=object), predicate="intersects")[1]
        return np.unique(hits).astype(np.intp)


def _ids(frame: gpd.GeoDataFrame, column: str | None) -> npt.NDArray[np.object_]:
    ids: npt.NDArray[np.object_]
    if column is not None and column in frame:
        ids = frame[column].astype(str).to_numpy(dtype=object)
    else:
        ids = np.arange(1, len(frame) + 1).astype(str).astype(object)
    return ids


def _prepared(
    frame: gpd.GeoDataFrame, *, columns: list[str], id_column: str | None, temporal: bool
) -> CollectionFeatures:
    frame = frame.to_crs(4326) if frame.crs is not None else frame.set_crs(4326)
    frame = frame.reset_index(drop=True)
    key = id_column if id_column is not None and id_column in frame else None
    return CollectionFeatures(
        frame=frame,
        ids=_ids(frame, key),
        features=serialise_features(frame, columns=columns, id_column=key),
        temporal=temporal,
    )


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


def _record_id_column(kind: str, frame: gpd.GeoDataFrame) -> str | None:
    """Return the kind's id column; for a kind without one, the id the record gives."""
    spec = spec_for(kind)
    if spec.id_column is not None:
        return spec.id_column
    named = f"{spec.stem}_id"
    return named if named in frame else None


def collection_features(
    workspace: Workspace, name: str, kind: str, *, as_of: date | datetime | None = None
) -> CollectionFeatures:
    """Return the features of collection ``{name}-{kind}`` (at `as_of` for the record's kinds).

    Parameters
    ----------
    workspace
        The workspace.
    name
        A scenario with published results.
    kind
        One of :func:`collection_kinds`.
    as_of
        For the record's kinds: a date (the end of that day in the store's time zone) or an
        aware instant (just before it); None: now. Ignored by the run's outputs and by an
        input layer served in place of the record, which keep no history.

    Returns
    -------
    CollectionFeatures
        Cached: computed again only when the run, the layer or the record changed.
    """
    if kind == "villages":
        run = workspace.results(name)

        def load_villages() -> CollectionFeatures:
            index = workspace.villages(name, run=run)
            frame = index.frame.reset_index(drop=True)
            return CollectionFeatures(
                frame=frame,
                ids=_ids(frame, "village_id"),
                features=index.features,
                temporal=False,
            )

        built: CollectionFeatures = workspace.cached(
            name, "ogc:villages", (run / "villages.gpkg",), load_villages
        )
        return built
    if kind == "towers":
        run = workspace.results(name)
        path = run / "towers.geojson"

        def load_towers() -> CollectionFeatures:
            towers = workspace.towers(name, run=run)
            return _prepared(
                towers if towers is not None else _empty(),
                columns=_TOWER_COLUMNS,
                id_column="location",
                temporal=False,
            )

        built = workspace.cached(name, "ogc:towers", (path,), load_towers)
        return built
    store = workspace.store(name)
    layer_path = workspace.layer_path(name, kind)
    key = (store.version, signature(layer_path) if layer_path is not None else None)

    def load_record() -> CollectionFeatures:
        live = store.read(kind)
        if live.empty:  # not in the record yet: the scenario's current input layer
            layer = workspace.layer(name, kind)
            frame = layer if layer is not None else _empty()
            spec = spec_for(kind)
            columns = [c.name for c in spec.columns if c.name in frame]
            return _prepared(frame, columns=columns, id_column=spec.id_column, temporal=False)
        frame = live if as_of is None else store.read(kind, as_of=as_of)
        columns = [str(c) for c in frame.columns if c != frame.geometry.name]
        return _prepared(
            frame, columns=columns, id_column=_record_id_column(kind, frame), temporal=True
        )

    moment = "now" if as_of is None else as_of.isoformat()
    built = workspace.cached_as(name, f"ogc:{kind}:{moment}", key, load_record)
    return built


# --------------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------------


def _link(href: str | URL, rel: str, media: str, title: str | None = None) -> dict[str, str]:
    link = {"href": str(href), "rel": rel, "type": media}
    if title is not None:
        link["title"] = title
    return link


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _split(collection_id: str) -> tuple[str, str]:
    """Return (scenario, kind) of a collection id, the longest kind first."""
    for kind in sorted(collection_kinds(), key=len, reverse=True):
        suffix = f"-{kind}"
        if collection_id.endswith(suffix) and len(collection_id) > len(suffix):
            return collection_id[: -len(suffix)], kind
    raise HTTPException(
        status_code=404,
        detail=f"no collection '{collection_id}': collections are named <scenario>-<kind>, "
        f"kind one of {', '.join(collection_kinds())}; see /ogc/collections",
    )


def _scenario(workspace: Workspace, settings: Settings, name: str, collection_id: str) -> None:
    """Make sure scenario `name` has results (a registered one is built now), else 404."""
    try:
        if workspace.exists(name) or workspace.ensure(name, build=settings.demo):
            return
    except InputError:  # not a scenario name at all
        pass
    raise HTTPException(
        status_code=404,
        detail=f"no collection '{collection_id}': there is no scenario '{name}' with results",
    )


_LABELS = {
    "villages": "villages and their coverage (the published run)",
    "towers": "tower locations (the published run)",
}


def _collection(
    request: Request,
    workspace: Workspace,
    name: str,
    title: str,
    kind: str,
    *,
    as_of: date | datetime | None = None,
) -> dict[str, Any]:
    collection_id = f"{name}-{kind}"
    base = f"{_root(request)}/collections/{collection_id}"
    label = _LABELS.get(kind, f"{kind} of the record")
    document: dict[str, Any] = {
        "id": collection_id,
        "title": f"{title}: {kind}",
        "description": f"{title} ({name}): {label}.",
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link(base, "self", JSON, "this collection"),
            _link(f"{base}/items", "items", GEOJSON, f"{collection_id} as GeoJSON"),
            _link(f"{base}/items?f=json", "items", JSON, f"{collection_id} as JSON"),
        ],
    }
    extent = collection_features(workspace, name, kind, as_of=as_of).extent()
    if extent is not None:
        document["extent"] = {"spatial": {"bbox": [extent], "crs": CRS84}}
    return document


def _json(document: dict[str, Any]) -> Response:
    return Response(
        json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        media_type=JSON,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------

router = APIRouter(
    prefix="/ogc",
    tags=["OGC API - Features"],
    dependencies=[Depends(require_read_key), Depends(reader)],
    route_class=_OgcRoute,
)

Format = Annotated[
    str | None, Query(description="`json` (or `geojson` for features); else the Accept header.")
]
Moment = Annotated[
    str | None,
    Query(
        alias="datetime",
        max_length=100,
        description=(
            "A date (the record at the end of that day, Asia/Ho_Chi_Minh) or an RFC 3339 "
            "instant (the record just before it). Intervals are not supported."
        ),
    ),
]


def _moment(text: str | None) -> date | datetime | None:
    return parse_datetime(text) if text is not None else None


@router.get(
    "", summary="Landing page", responses={200: {"content": {JSON: {}}}}, operation_id="ogcLanding"
)
def landing(request: Request, f: Format = None, datetime_: Moment = None) -> Response:
    """Return the landing page of the OGC API: links to the API, conformance and data."""
    _only(request, _PLAIN_PARAMETERS)
    _check_json(f)
    _moment(datetime_)
    root = _root(request)
    base = str(request.base_url).rstrip("/")
    openapi = request.app.openapi_url or "/openapi.json"
    return _json(
        {
            "title": "hatangso: the province's record and its coverage",
            "description": (
                "Villages with their coverage, tower locations and the record's sites, access "
                "points, fiber, poles and ducts of each scenario, as OGC API - Features."
            ),
            "links": [
                _link(root, "self", JSON, "this document"),
                _link(f"{base}{openapi}", "service-desc", OPENAPI, "the API definition"),
                _link(f"{base}/docs", "service-doc", "text/html", "the API documentation"),
                _link(f"{root}/conformance", "conformance", JSON, "conformance classes"),
                _link(f"{root}/collections", "data", JSON, "the collections"),
            ],
        }
    )


@router.get(
    "/conformance",
    summary="Conformance classes",
    responses={200: {"content": {JSON: {}}}},
    operation_id="ogcConformance",
)
def conformance(request: Request, f: Format = None, datetime_: Moment = None) -> Response:
    """Return the conformance classes of OGC API - Features this API implements."""
    _only(request, _PLAIN_PARAMETERS)
    _check_json(f)
    _moment(datetime_)
    return _json({"conformsTo": list(CONFORMANCE)})


@router.get(
    "/collections",
    summary="Collections",
    responses={200: {"content": {JSON: {}}}},
    operation_id="ogcCollections",
)
def collections(
    request: Request, workspace: WorkspaceDep, f: Format = None, datetime_: Moment = None
) -> Response:
    """Return the collections of every scenario with results, with their extents.

    With ``datetime``, the extents of the record's kinds are those of that moment.
    """
    _only(request, _PLAIN_PARAMETERS)
    _check_json(f)
    as_of = _moment(datetime_)
    root = _root(request)
    listed = [
        _collection(request, workspace, info.name, info.title, kind, as_of=as_of)
        for info in workspace.scenarios()
        if info.ready
        for kind in collection_kinds()
    ]
    return _json(
        {
            "links": [_link(f"{root}/collections", "self", JSON, "this document")],
            "collections": listed,
        }
    )


@router.get(
    "/collections/{collectionId}",
    summary="One collection",
    responses={200: {"content": {JSON: {}}}},
    operation_id="ogcCollection",
)
def collection(
    request: Request,
    collection_id: Annotated[str, PathParam(alias="collectionId", max_length=200)],
    workspace: WorkspaceDep,
    settings: SettingsDep,
    f: Format = None,
    datetime_: Moment = None,
) -> Response:
    """Return one collection: its extent (at ``datetime``, if given) and links to its items."""
    _only(request, _PLAIN_PARAMETERS)
    _check_json(f)
    as_of = _moment(datetime_)
    name, kind = _split(collection_id)
    _scenario(workspace, settings, name, collection_id)
    title = workspace.metadata(name).get("title") or name
    return _json(_collection(request, workspace, name, str(title), kind, as_of=as_of))


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection",
    responses={200: {"content": {GEOJSON: {}, JSON: {}}}},
    operation_id="ogcItems",
)
def items(
    request: Request,
    collection_id: Annotated[str, PathParam(alias="collectionId", max_length=200)],
    workspace: WorkspaceDep,
    settings: SettingsDep,
    limit: Annotated[
        int,
        Query(
            ge=1,
            description="Features per page; one above the service's `max_page` is lowered to it.",
        ),
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="Features to skip.")] = 0,
    bbox: Annotated[
        str | None,
        Query(
            max_length=200,
            description="west,south,east,north in CRS84: only features whose geometry meets it.",
        ),
    ] = None,
    datetime_: Moment = None,
    f: Format = None,
) -> Response:
    """Return the features of a collection as a GeoJSON FeatureCollection, one page."""
    _only(request, _ITEMS_PARAMETERS)
    media = _media_type(request, f)
    box = parse_bbox(bbox) if bbox is not None else None
    as_of = _moment(datetime_)
    limit = min(limit, settings.max_page)
    name, kind = _split(collection_id)
    _scenario(workspace, settings, name, collection_id)
    found = collection_features(workspace, name, kind, as_of=as_of)
    picked = found.select(box)
    page = picked[offset : offset + limit]
    url = request.url
    other = JSON if media == GEOJSON else GEOJSON
    links = [
        _link(url, "self", media, "this page"),
        _link(
            url.include_query_params(f="json" if other == JSON else "geojson"),
            "alternate",
            other,
            "this page as " + other,
        ),
    ]
    if offset + limit < len(picked):
        links.append(
            _link(
                url.include_query_params(offset=offset + limit, limit=limit),
                "next",
                media,
                "the next page",
            )
        )
    if offset > 0:
        links.append(
            _link(
                url.include_query_params(offset=max(0, offset - limit), limit=limit),
                "prev",
                media,
                "the previous page",
            )
        )
    members = {
        "links": links,
        "timeStamp": _now(),
        "numberMatched": len(picked),
        "numberReturned": len(page),
    }
    return Response(feature_collection(found.features[page], **members), media_type=media)


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One feature",
    responses={200: {"content": {GEOJSON: {}, JSON: {}}}},
    operation_id="ogcItem",
)
def item(
    request: Request,
    collection_id: Annotated[str, PathParam(alias="collectionId", max_length=200)],
    feature_id: Annotated[str, PathParam(alias="featureId", max_length=200)],
    workspace: WorkspaceDep,
    settings: SettingsDep,
    f: Format = None,
    datetime_: Moment = None,
) -> Response:
    """Return one feature of a collection (at ``datetime``; 404 when it has none of that id)."""
    _only(request, _PLAIN_PARAMETERS)
    media = _media_type(request, f)
    as_of = _moment(datetime_)
    name, kind = _split(collection_id)
    _scenario(workspace, settings, name, collection_id)
    found = collection_features(workspace, name, kind, as_of=as_of)
    hits = np.flatnonzero(found.ids == feature_id)
    if len(hits) == 0:
        raise HTTPException(
            status_code=404, detail=f"collection '{collection_id}' has no feature '{feature_id}'"
        )
    feature: dict[str, Any] = json.loads(found.features[hits[0]])
    base = f"{_root(request)}/collections/{collection_id}"
    feature["links"] = [
        _link(request.url, "self", media, "this feature"),
        _link(base, "collection", JSON, "the collection"),
    ]
    return Response(
        json.dumps(feature, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        media_type=media,
    )
