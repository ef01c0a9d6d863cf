"""The map page of a scenario and the images it overlays."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import geopandas as gpd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response

from hatangso.app import storage
from hatangso.app.config import Settings
from hatangso.app.deps import ExistingScenario, SettingsDep, WorkspaceDep, require_read_key
from hatangso.app.schemas import Indicator
from hatangso.app.singleflight import SingleFlight
from hatangso.app.workspace import Workspace, signature
from hatangso.coverage.overlays import hillshade_png, power_png
from hatangso.geo.outputs import atomic_write, write_json
from hatangso.scenarios.maps import (
    HILLSHADE_LABEL,
    POWER_LABEL,
    DbmScale,
    MapLayers,
    Overlay,
    village_map,
)

__all__ = ["EncodedPage", "build_page", "encoded_page", "router", "sent_page"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["maps"], dependencies=[Depends(require_read_key)])

_ROAD_CLASSES = ("primary", "secondary", "tertiary", "trunk", "unclassified", "residential")
_RASTER_STEMS = ("coverage", "best_dbm", "rsrp")
#: The scale the coverage image is painted with (and its colour bar shows).
_POWER_SCALE = DbmScale(threshold_dbm=-110.0)


def _dem(workspace: Workspace, name: str) -> Path | None:
    relative = workspace.metadata(name).get("dem")
    if not relative:
        return None
    path = workspace.file(name, str(relative))
    return path if path.is_file() else None


def _coverage_raster(run: Path) -> Path | None:
    for path in sorted(run.glob("*.tif")):
        if path.stem.lower().startswith(_RASTER_STEMS):
            return path
    return None


def _image(
    workspace: Workspace, name: str, which: str, *, run: Path | None = None
) -> tuple[Path, tuple[tuple[float, float], tuple[float, float]]] | None:
    """Render (once per run) and return the hillshade or coverage PNG, with its bounds.

    The images are kept in the run folder (``runs/<id>/cache``) of the published run (or
    `run`), so that a page and its images always show the same run.
    """
    run = run if run is not None else workspace.results(name)
    source = _dem(workspace, name) if which == "hillshade" else _coverage_raster(run)
    if source is None:
        return None
    cache = run / "cache"
    png, meta = cache / f"{which}.png", cache / f"{which}.json"
    if (
        not png.is_file()
        or not meta.is_file()
        or png.stat().st_mtime_ns < source.stat().st_mtime_ns
    ):
        data, bounds = (
            hillshade_png(source)
            if which == "hillshade"
            else power_png(
                source,
                threshold_dbm=_POWER_SCALE.threshold_dbm,
                span_db=_POWER_SCALE.span_db,
            )
        )
        atomic_write(png, lambda p: p.write_bytes(data))
        write_json({"bounds": bounds, "source": source.name}, meta)
    bounds_doc = json.loads(meta.read_text(encoding="utf-8"))["bounds"]
    return png, (tuple(bounds_doc[0]), tuple(bounds_doc[1]))


def _roads(workspace: Workspace, name: str) -> gpd.GeoDataFrame | None:
    relative = workspace.metadata(name).get("roads")
    if not relative:
        return None
    path = workspace.file(name, str(relative))
    if not path.is_file() or path.suffix.lower() not in (".osm", ".pbf", ".gpkg", ".geojson"):
        return None
    try:
        if path.suffix.lower() in (".osm", ".pbf"):
            lines = gpd.read_file(path, layer="lines", engine="pyogrio")
        else:
            lines = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # a broken road file must not break the map
        log.warning("roads of %s not drawn: %s", name, exc)
        return None
    if "highway" in lines:
        lines = lines[lines["highway"].isin(_ROAD_CLASSES)]
    return lines


def _commitments(workspace: Workspace, name: str, run: Path) -> gpd.GeoDataFrame | None:
    """Return the run's judged commitments on their villages (None when it judged none)."""
    path = run / "commitments.csv"
    if not path.is_file():
        return None
    import pandas as pd

    from hatangso.coverage.commitments import commitment_points

    table = pd.read_csv(path, dtype=str)
    return commitment_points(table, workspace.villages(name, run=run).frame)


def _iot_zones(run: Path) -> gpd.GeoDataFrame | None:
    """Return the run's IoT zones with their answers (None when it judged none)."""
    path = run / "iot_zones.geojson"
    if not path.is_file():
        return None
    return gpd.read_file(path, engine="pyogrio")


def build_page(
    workspace: Workspace,
    name: str,
    indicator: str,
    settings: Settings,
    *,
    run: Path | None = None,
) -> str:
    """Build the map page of scenario `name` (see :func:`hatangso.scenarios.maps.village_map`).

    Every result drawn comes from one run: `run`, default the published one.
    """
    run = run if run is not None else workspace.results(name)
    meta = workspace.metadata(name)
    shade = _image(workspace, name, "hillshade", run=run)
    raster = _image(workspace, name, "coverage", run=run)
    layers = MapLayers(
        villages=workspace.villages(name, run=run).frame,
        kpis=workspace.kpis(name, run=run),
        sites=workspace.layer(name, "sites"),
        towers=workspace.towers(name, run=run),
        access_points=workspace.layer(name, "access-points"),
        fiber=workspace.layer(name, "fiber"),
        roads=_roads(workspace, name),
        hillshade=None
        if shade is None
        else Overlay(f"/map/{name}/hillshade.png", shade[1], *HILLSHADE_LABEL, opacity=0.55),
        power=None
        if raster is None
        else Overlay(f"/map/{name}/coverage.png", raster[1], *POWER_LABEL, scale=_POWER_SCALE),
        masts=workspace.layer(name, "masts"),
        commitments=_commitments(workspace, name, run),
        iot_zones=_iot_zones(run),
    )
    return village_map(
        layers,
        title=str(meta.get("title") or name),
        indicator=indicator,
        static_url="/static",
        online_tiles=settings.online_tiles,
    )


#: One builder per page: the map pages being built, and the last one built, per scenario.
PAGES: SingleFlight[str] = SingleFlight()


def _page_on_disk(run: Path, version: object, build: Callable[[], str]) -> str:
    """Return the page of `version` kept in the run's cache, building it there if missing.

    A lock file per page makes one worker process build it while the others wait and then
    read it.
    """
    digest = hashlib.sha256(repr(version).encode("utf-8")).hexdigest()[:32]
    pages = run / "cache" / "pages"
    path = pages / f"{digest}.html"
    with storage.exclusive(pages / f"{digest}.lock"):
        if path.is_file():
            return path.read_text(encoding="utf-8")
        page = build()
        atomic_write(path, lambda p: p.write_text(page, encoding="utf-8"))
        return page


#: The layers a page draws besides the run's results.
_PAGE_LAYERS = ("sites", "access-points", "fiber", "masts")
#: What :func:`_page_sources` found per scenario, with the :meth:`Workspace.published` it saw.
_SOURCES: dict[tuple[str, str], tuple[object, tuple[Path, tuple[Path, ...], tuple[str, ...]]]]
_SOURCES = {}
_MAX_SOURCES = 256


def _page_sources(
    workspace: Workspace, name: str
) -> tuple[Path, tuple[Path, ...], tuple[str, ...]]:
    """Return the published run, the files a page is drawn from and the metadata it shows.

    Finding them reads ``scenario.json`` and every layer's ``upload.json``; that is done again
    only when the scenario has published something since (:meth:`Workspace.published`), not
    on every request for the page.
    """
    key = (str(workspace.root), name)
    now = workspace.published(name, _PAGE_LAYERS)
    known = _SOURCES.get(key)
    if known is not None and known[0] == now:
        return known[1]
    run = workspace.results(name)
    meta = workspace.metadata(name)
    inputs = [workspace.layer_path(name, k) for k in _PAGE_LAYERS]
    paths = (
        run / "villages.gpkg",
        run / "kpis.json",
        run / "towers.geojson",
        run / "commitments.csv",
        run / "iot_zones.geojson",
        *(p for p in inputs if p is not None),
    )
    # What the page shows of scenario.json, not the file: it changes with every upload.
    shown = tuple(str(meta.get(key)) for key in ("title", "dem", "roads"))
    if len(_SOURCES) >= _MAX_SOURCES:
        _SOURCES.clear()
    # Kept only if nothing was published while they were read: else read again next time.
    if workspace.published(name, _PAGE_LAYERS) == now:
        _SOURCES[key] = (now, (run, paths, shown))
    return run, paths, shown


def _page_version(
    paths: tuple[Path, ...], shown: tuple[str, ...], indicator: str, settings: Settings
) -> tuple[object, ...]:
    return (signature(*paths), shown, indicator, settings.online_tiles)


def _flight_key(key: tuple[str, str, str, bool]) -> tuple[str, str, str, str]:
    return (key[0], key[1], key[2], str(key[3]))


def _page_of(
    workspace: Workspace,
    name: str,
    indicator: str,
    settings: Settings,
    run: Path,
    version: tuple[object, ...],
) -> str:
    return PAGES.get(
        _flight_key(_page_key(workspace, name, indicator, settings)),
        version,
        lambda: _page_on_disk(
            run, version, lambda: build_page(workspace, name, indicator, settings, run=run)
        ),
    )


def cached_page(workspace: Workspace, name: str, indicator: str, settings: Settings) -> str:
    """Return the map page, rebuilt only when the scenario's results or inputs changed.

    A page is built once per result, by one request; the others meanwhile get the previous
    page at once (or, when there is none, wait for the one being built). Built pages are kept
    in the run's folder (``cache/pages``), so that other worker processes read them rather
    than build them again.
    """
    run, paths, shown = _page_sources(workspace, name)
    version = _page_version(paths, shown, indicator, settings)
    return _page_of(workspace, name, indicator, settings, run, version)


@dataclass(frozen=True)
class EncodedPage:
    """A map page as sent: UTF-8, gzip-compressed, and its ETag.

    The ETag is weak (``W/"…"``): the compressed and the plain page are the same page.
    """

    raw: bytes
    packed: bytes
    etag: str


@functools.lru_cache(maxsize=8)
def _encoded(page: str, run: Path) -> EncodedPage:
    """Return `page` encoded, compressed once per page built (the demo's 2 MB page: 8 to 1).

    The page cache hands out the same string until the results change, so this is a lookup
    by identity on every call but the first. Compressed as tightly as gzip goes, once: the
    compressed page is kept beside the page in the run's cache (``cache/pages/<etag>.gz``),
    where the other worker processes read it rather than compress it again.
    """
    raw = page.encode("utf-8")
    digest = hashlib.sha256(raw).hexdigest()[:32]
    path = run / "cache" / "pages" / f"{digest}.gz"
    try:
        packed = path.read_bytes()
    except FileNotFoundError:
        packed = gzip.compress(raw, compresslevel=9, mtime=0)
        try:
            atomic_write(path, lambda p: p.write_bytes(packed))
        except OSError as exc:  # not kept: each process compresses it then, once
            log.warning("compressed map page not kept at %s: %s", path, exc)
    return EncodedPage(raw, packed, f'W/"{digest}"')


#: The pages as sent, per (workspace, scenario, indicator, online tiles), each with the
#: :meth:`Workspace.published` it was built for.
_ENCODED: dict[tuple[str, str, str, bool], tuple[tuple[object, ...], EncodedPage]] = {}


def _page_key(
    workspace: Workspace, name: str, indicator: str, settings: Settings
) -> tuple[str, str, str, bool]:
    return (str(workspace.root), name, indicator, settings.online_tiles)


def sent_page(
    workspace: Workspace, name: str, indicator: str, settings: Settings
) -> EncodedPage | None:
    """Return the page as sent if nothing was published since it was built, else None.

    A few stats and link reads (:meth:`Workspace.published`), no file read, no JSON, no
    compression: what a request for an unchanged page costs.
    """
    known = _ENCODED.get(_page_key(workspace, name, indicator, settings))
    if known is not None and known[0] == workspace.published(name, _PAGE_LAYERS):
        return known[1]
    return None


def encoded_page(
    workspace: Workspace, name: str, indicator: str, settings: Settings
) -> EncodedPage:
    """Return the page as sent (:func:`cached_page`, encoded), kept per publication.

    Built, read and compressed once per publication of the scenario (a run, an upload, its
    metadata); until the next one, :func:`sent_page` answers.
    """
    key = _page_key(workspace, name, indicator, settings)
    now = workspace.published(name, _PAGE_LAYERS)
    run, paths, shown = _page_sources(workspace, name)
    version = _page_version(paths, shown, indicator, settings)
    page = _encoded(_page_of(workspace, name, indicator, settings, run, version), run)
    # Kept only when it is the page of what is published now: not the previous page handed
    # out while another request builds the new one, nor one read while something changed.
    if PAGES.holds(_flight_key(key), version) and workspace.published(name, _PAGE_LAYERS) == now:
        if len(_ENCODED) >= _MAX_SOURCES:
            _ENCODED.clear()
        _ENCODED[key] = (now, page)
    return page


def _matches(header: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names `tag` (or ``*``), compared weakly.

    Examples
    --------
    >>> _matches('"a", W/"b"', 'W/"b"'), _matches('"b"', 'W/"b"'), _matches(None, 'W/"b"')
    (True, True, False)
    """
    if not header:
        return False
    if header.strip() == "*":
        return True
    opaque = tag.removeprefix("W/")
    return any(item.strip().removeprefix("W/") == opaque for item in header.split(","))


def accepts_gzip(header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header accepts gzip (``gzip`` or ``*``, not ``q=0``).

    Examples
    --------
    >>> accepts_gzip("gzip, deflate, br"), accepts_gzip("br;q=1, gzip;q=0"), accepts_gzip(None)
    (True, False, False)
    """
    for item in (header or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        q = params.strip().lower()
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False


@router.get("/map/{name}", response_class=HTMLResponse, summary="Map of uncovered villages")
async def get_map(
    request: Request,
    name: ExistingScenario,
    workspace: WorkspaceDep,
    settings: SettingsDep,
    indicator: Annotated[Indicator, Query(description="Coverage that colours villages.")] = (
        Indicator.mobile
    ),
) -> Response:
    """Return the map page; it loads nothing from outside the service (``?lang=en``: English).

    Sent gzip-compressed to a client that accepts it (every browser), compressed once per page.
    A client that sends the page's ETag back (``If-None-Match``) gets ``304 Not Modified``
    while the page is the same. An unchanged page is answered here, in the event loop (a few
    stats); a page to build or read is made in a worker thread.
    """
    page = sent_page(workspace, name, indicator.value, settings)
    if page is None:
        page = await run_in_threadpool(encoded_page, workspace, name, indicator.value, settings)
    headers = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding", "ETag": page.etag}
    if _matches(request.headers.get("if-none-match"), page.etag):
        return Response(status_code=304, headers=headers)
    if accepts_gzip(request.headers.get("accept-encoding")):
        headers["Content-Encoding"] = "gzip"
        return Response(page.packed, media_type="text/html; charset=utf-8", headers=headers)
    return Response(page.raw, media_type="text/html; charset=utf-8", headers=headers)


@router.get(
    "/map/{name}/{image}.png",
    response_class=FileResponse,
    summary="Hillshade or terrain coverage image of the map",
)
def get_image(name: ExistingScenario, image: str, workspace: WorkspaceDep) -> FileResponse:
    """Return the hillshade (``hillshade``) or terrain coverage (``coverage``) image."""
    if image not in ("hillshade", "coverage"):
        raise HTTPException(status_code=404, detail=f"no image '{image}'")
    found = _image(workspace, name, image)
    if found is None:
        raise HTTPException(status_code=404, detail=f"scenario '{name}' has no {image} image")
    return FileResponse(found[0], media_type="image/png", headers={"Cache-Control": "max-age=3600"})
