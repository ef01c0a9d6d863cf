"""Write endpoints: upload input layers, run coverage, compute site plans."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from hatangso.app import versions
from hatangso.app.config import Settings
from hatangso.app.deps import (
    ExistingScenario,
    ScenarioName,
    SettingsDep,
    WorkspaceDep,
    require_write_key,
)
from hatangso.app.schemas import CoverageRun, PlanRequest, UploadReport
from hatangso.app.uploads import (
    TooLarge,
    ZipLimits,
    check_magic,
    check_zip,
    limited,
    safe_filename,
)
from hatangso.app.workspace import Workspace
from hatangso.geo.outputs import atomic_write, spreadsheet_safe, write_layer
from hatangso.geo.schema import LAYER_KINDS, spec_for

__all__ = ["router"]

log = logging.getLogger(__name__)

#: The kind of an uploaded layer: one of the province's vector layers.
UploadKind = Annotated[
    str,
    PathParam(
        pattern="^(" + "|".join(LAYER_KINDS) + ")$",
        description="Kind of input layer: " + ", ".join(LAYER_KINDS) + ".",
        json_schema_extra={"enum": list(LAYER_KINDS)},
    ),
]

router = APIRouter(
    prefix="/api/scenarios", tags=["uploads"], dependencies=[Depends(require_write_key)]
)

# Multipart framing around the file: boundaries and part headers.
_FRAMING_BYTES = 64 * 1024

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def _too_large(settings: Settings) -> HTTPException:
    return HTTPException(
        status_code=413,
        detail=f"the upload is larger than {settings.max_upload_mb:g} MB (HATANGSO_MAX_UPLOAD_MB)",
    )


async def _receive_file(request: Request, settings: Settings, folder: Path) -> tuple[Path, str]:
    """Stream the multipart body into `folder`, within the size limit; return path and name."""
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _FRAMING_BYTES:
        raise _too_large(settings)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(
            status_code=422, detail="send the file as multipart/form-data in a field named 'file'"
        )
    parser = MultiPartParser(
        request.headers,
        limited(request.stream(), limit + _FRAMING_BYTES),
        max_files=1,
        max_fields=4,
    )
    try:
        form = await parser.parse()
    except TooLarge as exc:
        raise _too_large(settings) from exc
    except MultiPartException as exc:
        raise HTTPException(status_code=422, detail=f"malformed upload: {exc.message}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(
                status_code=422, detail="the upload has no file in a field named 'file'"
            )
        if upload.size is not None and upload.size > limit:
            raise _too_large(settings)
        name, _suffix = safe_filename(upload.filename)
        path = folder / name
        await upload.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(upload.file, out, length=1 << 20)
        if path.stat().st_size > limit:
            raise _too_large(settings)
        if path.stat().st_size == 0:
            raise HTTPException(status_code=422, detail=f"{name}: the file is empty")
        return path, name
    finally:
        await form.close()


def _validate_and_store(
    workspace: Workspace,
    settings: Settings,
    name: str,
    kind: str,
    path: Path,
    shown: str,
    *,
    if_match: int | None = None,
    by: str | None = None,
) -> UploadReport:
    from hatangso.geo.validate import load_layer

    suffix = path.suffix.lower()
    check_magic(path, suffix, shown)
    if suffix in (".zip", ".xlsx"):
        check_zip(
            path,
            shown,
            ZipLimits(
                max_members=settings.max_zip_members,
                max_total_bytes=settings.max_unzipped_bytes,
                max_ratio=settings.max_zip_ratio,
            ),
        )
    layer = load_layer(path, kind)
    stem = spec_for(kind).stem
    frame = layer.frame
    if not isinstance(
        frame, gpd.GeoDataFrame
    ):  # pragma: no cover - every uploadable kind has geometry
        raise HTTPException(status_code=422, detail=f"{shown}: no geometry")
    rejects = layer.rejects
    safe_rejects = spreadsheet_safe(rejects)
    counts = layer.counts()
    # The layer and its rejected rows are published together, as one new version.
    new, old = workspace.store_layer(
        name,
        kind,
        {
            f"{stem}.gpkg": lambda p: write_layer(frame, p, layer=stem),
            f"{stem}.rejects.csv": lambda p: safe_rejects.to_csv(p, index=False, encoding="utf-8"),
        },
        file=shown,
        counts=counts,
        if_match=if_match,
        by=by,
    )
    records = rejects.astype(object).where(rejects.notna(), None).to_dict(orient="records")
    return UploadReport(
        kind=kind,
        file=shown,
        counts=counts,
        rejects=[
            {
                "file": str(r.get("file") or shown),
                "row": None if r.get("row") is None else int(r["row"]),
                "id": None if r.get("id") is None else str(r["id"]),
                "reason": str(r.get("reason") or ""),
            }
            for r in records
        ],
        notes=list(layer.notes),
        stored=f"uploads/{stem}.gpkg",
        version=new.version,
        replaced=old.record() if old.version or old.path is not None else None,
    )


@router.post(
    "/{name}/uploads/{kind}",
    response_model=UploadReport,
    summary="Upload an input layer; returns the validation report",
    openapi_extra=_UPLOAD_BODY,
    responses={
        401: {"description": "Missing or wrong X-API-Key"},
        409: {"description": "If-Match names a version the layer has moved on from"},
        413: {"description": "Larger than HATANGSO_MAX_UPLOAD_MB"},
        422: {"description": "Unknown file type, unsafe archive or a fault of the file"},
    },
)
async def upload_layer(
    request: Request,
    response: Response,
    name: ScenarioName,
    kind: UploadKind,
    workspace: WorkspaceDep,
    settings: SettingsDep,
) -> UploadReport:
    """Validate an uploaded layer as ``hatangso validate`` does and store its clean rows.

    The clean layer replaces ``uploads/<kind>.gpkg`` of the scenario atomically (the scenario
    is created when new); the rejected rows are returned and kept in
    ``uploads/<kind>.rejects.csv``.

    Every upload makes a new version of the layer: the answer gives it (``version``, also the
    ``ETag``) and the version it replaced (``replaced``). Uploads of one scenario apply one at
    a time, in arrival order. With ``If-Match: <version>`` the upload applies only if the
    layer is still at that version; otherwise 409 names the upload that replaced it.
    """
    if_match = versions.if_match(request.headers.get("if-match"))
    by = request.client.host if request.client is not None else None
    workspace.folder(name).mkdir(parents=True, exist_ok=True)
    with workspace.scratch(name) as tmp:
        path, shown = await _receive_file(request, settings, tmp)
        report = await run_in_threadpool(
            _validate_and_store,
            workspace,
            settings,
            name,
            kind,
            path,
            shown,
            if_match=if_match,
            by=by,
        )
    response.headers["ETag"] = versions.etag(report.version)
    return report


def _run(workspace: Workspace, name: str, config_doc: dict[str, Any]) -> CoverageRun:
    from hatangso.coverage.config import CoverageConfig
    from hatangso.scenarios.job import InputFiles, run_coverage

    config = CoverageConfig.model_validate(config_doc)
    layers = workspace.layer_versions(name)  # each a published version, fixed for the run
    paths = {kind: layers[kind].path for kind in LAYER_KINDS}
    if paths["villages"] is None:
        raise HTTPException(
            status_code=422,
            detail=f"scenario '{name}' has no villages: upload them first "
            f"(POST /api/scenarios/{name}/uploads/villages)",
        )
    meta = workspace.metadata(name)
    extras = {
        key: workspace.file(name, str(meta[key]))
        for key in ("dem", "roads", "population")
        if meta.get(key) and workspace.file(name, str(meta[key])).is_file()
    }
    files = InputFiles.from_paths({**paths, **extras})
    title = str(meta.get("title") or name)
    # The outputs go to a run folder of their own, published at once (readers never see a
    # mixture of two runs, and a killed run leaves the published one as it was).
    with workspace.new_run(name) as run:
        result = run_coverage(
            files, config, run.folder, title=title, extra={"scenario": name, "run": run.id}
        )
        published = workspace.publish_run(
            run,
            read={kind: layer.version for kind, layer in layers.items()},
            title=title,
            villages=len(result.assessment.villages),
            config=config_doc,
        )
    return CoverageRun(
        name=name,
        files=sorted(p.name for p in result.files.values()),
        indicators=result.kpis.get("indicators", []),
        notes=[str(n) for n in result.kpis.get("notes", [])],
        run=published.id,
        stale=published.stale,
        changed=dict(published.changed),
    )


@router.post(
    "/{name}/coverage",
    response_model=CoverageRun,
    summary="Run coverage on the scenario's inputs",
    responses={401: {"description": "Missing or wrong X-API-Key"}},
)
def run_scenario_coverage(
    name: ScenarioName,
    workspace: WorkspaceDep,
    config: Annotated[
        dict[str, Any] | None,
        Body(description="Coverage configuration (the YAML file's keys), all optional."),
    ] = None,
) -> CoverageRun:
    """Assess the scenario's uploaded (or built-in) layers and replace its results.

    The results are written apart and published at once: until then the previous ones are
    served. The answer's ``run`` is the run's id (``run`` in ``kpis.json``); ``stale`` says
    that a layer was replaced while the run read it (``changed`` names it): the results are
    published all the same, and describe the layers as the run read them.
    """
    if not workspace.folder(name).is_dir():
        raise HTTPException(status_code=404, detail=f"no scenario named '{name}'")
    return _run(workspace, name, config or {})


@router.post(
    "/{name}/plans",
    summary="Plan new sites for one operator",
    responses={401: {"description": "Missing or wrong X-API-Key"}},
)
def create_plan(
    name: ExistingScenario, workspace: WorkspaceDep, request: PlanRequest
) -> dict[str, Any]:
    """Plan new sites as ``hatangso plan`` does, and store the plan.

    The answer is the plan's GeoJSON (one point per site, in build order) with the plan's
    summary (problem, status, optimality gap, KPIs before and after, re-checked by the
    coverage engine) under ``plan``. It is stored as ``plans/<id>.geojson``.
    """
    import json

    from hatangso.coverage.config import parse_config
    from hatangso.coverage.planning import plan
    from hatangso.scenarios.job import InputFiles, load_inputs

    villages = workspace.layer_path(name, "villages")
    sites = workspace.layer_path(name, "sites")
    if villages is None or sites is None:
        raise HTTPException(
            status_code=422,
            detail=f"scenario '{name}' needs villages and sites to plan: upload them first",
        )
    meta = workspace.metadata(name)
    dem = workspace.file(name, str(meta["dem"])) if meta.get("dem") else None
    stamp = datetime.now(UTC).strftime("%Y%m%dt%H%M%S%f")
    plan_id = "".join(
        c if c.isalnum() or c in "-_" else "-" for c in f"{request.operator.lower()}-{stamp}"
    )[:80]
    config = parse_config(request.config or {}, source="config")
    layers = load_inputs(
        InputFiles(
            villages=villages, sites=sites, settlements=workspace.layer_path(name, "settlements")
        )
    )
    result = plan(
        gpd.GeoDataFrame(layers["villages"].frame),
        gpd.GeoDataFrame(layers["sites"].frame),
        operator=request.operator,
        config=config,
        budget=request.budget,
        target=request.target,
        scope=request.scope,
        method=request.method,
        tech=request.tech,
        weight=request.weight,
        settlements=(
            gpd.GeoDataFrame(layers["settlements"].frame) if "settlements" in layers else None
        ),
        dem=dem if dem is not None and dem.is_file() else None,
    )
    collection = result.features()
    document = {**collection, "plan": {"id": plan_id, **result.document}}
    text = json.dumps(document, ensure_ascii=False)
    atomic_write(
        workspace.file(name, f"plans/{plan_id}.geojson"),
        lambda p: p.write_text(text, encoding="utf-8"),
    )
    return document


_ = pd  # pandas is used through the frames' methods
