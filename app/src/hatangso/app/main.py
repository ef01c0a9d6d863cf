"""The hatangso web service: scenarios, KPIs, villages, maps, uploads (``hatangso serve``).

Routes parse the request, call one function of the workspace or the engine and serialise the
answer. Every :class:`~hatangso.geo.errors.HatangsoError` becomes a 4xx answer here, in one
handler, with the message that names the file, row, column and the fix: 409 Conflict for an
:class:`~hatangso.geo.errors.InfeasibleError` (the request is well formed, but the data as they
stand cannot meet it: add candidates or lower the target) and for a
:class:`~hatangso.geo.errors.ConflictError` (an ``If-Match`` upload whose layer has moved on),
422 for every other error (an input, configuration or CRS the user must correct). The body
is ``{"detail": message, "problems": [{file, row, column, message, fix}, ...]}``, the list
empty but for an :class:`~hatangso.geo.errors.InputError`. A record's database that cannot be
reached (SQLAlchemy's ``OperationalError``) answers 503 with its reason, also in one handler.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import InterfaceError, OperationalError

from hatangso.app.config import Settings, get_settings
from hatangso.app.deps import workspace_for
from hatangso.app.guard import WriteGuard, hide_root
from hatangso.app.routes import (
    challenges,
    exports,
    health,
    maps,
    masts,
    me,
    ogc,
    records,
    scenarios,
    uploads,
)
from hatangso.app.startup import StartState, warm_up
from hatangso.app.worker import Jobs
from hatangso.app.workspace import Workspace
from hatangso.geo.errors import (
    ConflictError,
    ForbiddenError,
    HatangsoError,
    InfeasibleError,
    InputError,
    NotFoundError,
)

__all__ = ["app", "create_app", "serve", "status_code", "unavailable_reason"]

log = logging.getLogger(__name__)

DESCRIPTION = """
Coverage of villages by mobile broadband and fiber, BTS sharing and KPIs against the provincial
plan's targets, with maps that work without internet.

Read endpoints are open unless `HATANGSO_READ_KEY_REQUIRED` is set; write endpoints need the
`X-API-Key` header when `HATANGSO_API_KEY` is set.
"""


#: Where the service serves Swagger UI's and ReDoc's files (vendored in ``static/docs``).
DOCS_ASSETS = "/static/docs"


def status_code(exc: HatangsoError) -> int:
    """Return the HTTP status of a user error: 403, 404, 409, else 422 (its data is wrong)."""
    if isinstance(exc, ForbiddenError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, (InfeasibleError, ConflictError)):
        return 409
    return 422


def unavailable_reason(exc: BaseException) -> str:
    """Return the first line of a database error's own message, without any password."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines() or [type(original).__name__]
    return re.sub(r"://([^:/@\s]+):[^@\s]*@", r"://\1:***@", lines[0])


def _asset_dir(name: str) -> Path:
    return Path(str(resources.files("hatangso.scenarios") / "assets" / name))


def _pages_dir() -> Path:
    return Path(str(resources.files("hatangso.app") / "static" / "pages"))


def _docs_dir() -> Path:
    return Path(str(resources.files("hatangso.app") / "static" / "docs"))


def _add_docs(application: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) with their files from the service.

    FastAPI's own pages load them from a CDN and stay blank without internet; these load the
    copies vendored in ``static/docs`` (and no web fonts), so the pages work offline.
    """
    application.mount(DOCS_ASSETS, StaticFiles(directory=_docs_dir()), name="docs-assets")
    openapi_url = application.openapi_url or "/openapi.json"

    @application.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{application.title} — Swagger UI",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/swagger-ui/favicon-32x32.png",
            # No badge from the online validator: it would send the schema outside.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @application.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{application.title} — ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )


def _problems(exc: HatangsoError, root: Path) -> list[dict[str, object]]:
    if isinstance(exc, InputError):
        return [
            {
                "file": None if p.file is None else hide_root(str(p.file), root),
                "row": p.row,
                "column": p.column,
                "message": hide_root(p.message, root),
                "fix": None if p.fix is None else hide_root(p.fix, root),
            }
            for p in exc.problems
        ]
    return []


def _prewarm(settings: Settings) -> None:
    """Build every ready scenario's map page once, so the first visitor does not wait."""
    from hatangso.app.routes.maps import cached_page

    workspace = workspace_for(settings)
    for info in workspace.scenarios():
        if not info.ready:
            continue
        try:
            cached_page(workspace, info.name, "mobile", settings)
        except Exception:  # a broken scenario must not stop the service
            log.exception("map of scenario %s could not be built", info.name)


def _open_records(workspace: Workspace) -> None:
    """Open the scenarios' records now, not at the first read of a past day.

    Importing the store and checking its migrations take seconds, once per process.
    """
    try:
        for info in workspace.scenarios():
            folder = workspace.folder(info.name)
            if folder.is_dir() and (workspace.database_url or (folder / "record.gpkg").is_file()):
                workspace.store(info.name)
    except Exception:  # a broken record must not stop the service; its reads will say why
        log.exception("a scenario's record could not be opened")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI application.

    Parameters
    ----------
    settings
        The settings; None reads them from the environment (:func:`get_settings`).

    Returns
    -------
    FastAPI
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        active: Settings = application.state.settings
        workspace = workspace_for(active)
        # What killed jobs left (temporary and unpublished folders) goes, live jobs' excepted.
        await run_in_threadpool(workspace.clean)
        # Building the demo takes tens of seconds: done in the background, while the service
        # answers and /health says how far the build is.
        threading.Thread(
            target=warm_up,
            args=(workspace, active, application.state.startup),
            kwargs={"prewarm": _prewarm if active.prewarm else None},
            name="hatangso-start",
            daemon=True,
        ).start()
        threading.Thread(
            target=_open_records, args=(workspace,), name="hatangso-records", daemon=True
        ).start()
        # The fork server of the jobs imports the engine once (seconds): not at the first job.
        threading.Thread(target=Jobs.start_server, name="hatangso-forkserver", daemon=True).start()
        try:
            yield
        finally:
            application.state.jobs.close()  # no job process outlives the service

    application = FastAPI(
        title="hatangso",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    # Routes read the settings from here (hatangso.app.deps.app_settings). A dependency
    # override would work too, but FastAPI re-inspects an override on every request.
    application.state.settings = settings if settings is not None else get_settings()
    # Uploads' validation, coverage runs and plans run in child processes, within limits.
    application.state.jobs = Jobs.from_settings(application.state.settings)
    application.state.startup = StartState()

    @application.exception_handler(HatangsoError)
    async def hatangso_error(request: Request, exc: HatangsoError) -> JSONResponse:
        code = status_code(exc)
        # Files are named relative to the workspace, never by their place on the server.
        root = Path(request.app.state.settings.workspace)
        content = {"detail": hide_root(str(exc), root), "problems": _problems(exc, root)}
        return JSONResponse(status_code=code, content=content)

    @application.exception_handler(OperationalError)
    @application.exception_handler(InterfaceError)
    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The one place where a record's database that went away (a PostGIS server stopped,
        # a store file that cannot be opened) becomes an answer: 503, with the reason.
        root = Path(request.app.state.settings.workspace)
        reason = unavailable_reason(exc)
        log.warning("the record's database is unavailable: %s", reason)
        detail = (
            f"the record's database is unavailable ({hide_root(reason, root)}); nothing was "
            "changed. Fix: try again later, or ask the administrator to check the database "
            "(HATANGSO_DATABASE_URL)"
        )
        content = {"detail": detail, "problems": []}
        return JSONResponse(status_code=503, content=content, headers={"Retry-After": "5"})

    # The key and the declared size of a write request are checked before its body is read.
    application.add_middleware(WriteGuard)
    application.include_router(health.router)
    application.include_router(scenarios.router)
    # Before any route of a generic kind: /masts, /masts.xlsx and /masts/{id}/... are these.
    application.include_router(masts.router)
    application.include_router(exports.router)
    application.include_router(uploads.router)
    application.include_router(maps.router)
    application.include_router(challenges.router)
    application.include_router(challenges.page_router)
    application.include_router(me.router)
    application.include_router(ogc.router)
    # Last: its /{name}/{kind} routes answer what no route above does.
    application.include_router(records.router)
    # Leaflet and its plugin are vendored once, beside the map builder; the command line's
    # maps carry them inline, the service serves the same copies.
    for asset in ("leaflet", "markercluster", "hatangso"):
        application.mount(f"/static/{asset}", StaticFiles(directory=_asset_dir(asset)), name=asset)
    # The service's own pages' scripts (the challenges' forms).
    application.mount("/static/pages", StaticFiles(directory=_pages_dir()), name="pages")
    _add_docs(application)

    @application.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse(url="/docs")

    return application


app = create_app()


def serve(host: str = "127.0.0.1", port: int = 8000, *, workers: int = 1) -> None:
    """Run the service with uvicorn until interrupted (``hatangso serve``).

    With `workers` above 1, that many processes answer requests on the same port; they share
    the workspace through its file locks (one writer per scenario, results published at once).
    """
    import uvicorn

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if workers > 1:  # uvicorn imports the application in each worker by its name
        uvicorn.run(
            "hatangso.app.main:app", host=host, port=port, workers=workers, log_level="info"
        )
    else:
        uvicorn.run(app, host=host, port=port, log_level="info")
