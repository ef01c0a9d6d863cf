"""Write endpoints: upload input layers, run coverage, compute site plans."""

from __future__ import annotations

import itertools
import logging
import math
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from hatangso.app import versions
from hatangso.app.auth import (
    ADMIN,
    Principal,
    ScenarioWriterDep,
    check_operator_rows,
    require,
    scenario_writer,
)
from hatangso.app.config import Settings
from hatangso.app.deps import ExistingScenario, ScenarioName, SettingsDep, WorkspaceDep
from hatangso.app.records import change_document, reject_problems
from hatangso.app.schemas import (
    CoverageRun,
    LayerChange,
    PlanRequest,
    RasterReport,
    UploadReport,
)
from hatangso.app.uploads import (
    ALLOWED_SUFFIXES,
    RASTER_SUFFIXES,
    TooLarge,
    UploadOptions,
    ZipLimits,
    check_magic,
    check_raster,
    check_zip,
    for_service,
    limited,
    safe_filename,
    service_text,
    unpack_raster,
    upload_scratch,
    write_geotiff,
)
from hatangso.app.worker import run_job
from hatangso.app.workspace import Workspace
from hatangso.geo.errors import ConflictError, HatangsoError, InputError, Problem
from hatangso.geo.outputs import atomic_write, spreadsheet_safe, write_layer, write_table
from hatangso.geo.schema import LAYER_KINDS, spec_for

if TYPE_CHECKING:
    from hatangso.coverage.config import CoverageConfig
    from hatangso.geo.store import ChangeSet, SqlStore
    from hatangso.geo.validate import Layer

__all__ = ["router"]

log = logging.getLogger(__name__)

#: Tables without geometry uploaded beside the layers.
UPLOAD_TABLES = ("declared", "commitments")
#: Measurement samples: kept as a file of the scenario (not rows of its record) and read by
#: its coverage runs, as ``hatangso coverage --samples`` reads them.
UPLOAD_FILES = ("samples",)
_UPLOAD_KINDS = (*LAYER_KINDS, *UPLOAD_TABLES, *UPLOAD_FILES)

#: The kind of an uploaded layer: one of the province's vector layers, or a table of them.
UploadKind = Annotated[
    str,
    PathParam(
        pattern="^(" + "|".join(_UPLOAD_KINDS) + ")$",
        description="Kind of input layer: " + ", ".join(_UPLOAD_KINDS) + ".",
        json_schema_extra={"enum": list(_UPLOAD_KINDS)},
    ),
]

router = APIRouter(
    prefix="/api/scenarios", tags=["uploads"], dependencies=[Depends(scenario_writer)]
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


async def _receive_file(
    request: Request,
    settings: Settings,
    folder: Path,
    allowed: tuple[str, ...] = ALLOWED_SUFFIXES,
) -> tuple[Path, str]:
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
        name, _suffix = safe_filename(upload.filename, allowed=allowed)
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


#: How an upload changes the record: ``replace`` (the file is the whole layer, of the
#: uploading operator when an operator uploads: live rows missing from it are retired) or
#: ``upsert`` (it adds and updates rows only).
UploadMode = Literal["replace", "upsert"]


def _validate_and_store(
    workspace: Workspace,
    settings: Settings,
    name: str,
    kind: str,
    path: Path,
    shown: str,
    options: UploadOptions | None = None,
    *,
    if_match: int | None = None,
    by: str | None = None,
    principal: Principal | None = None,
    mode: UploadMode = "replace",
) -> UploadReport:
    """Validate an upload, compare it with the record, and (unless a dry run) apply it.

    The upload's clean rows become one change set of the scenario's record
    (:meth:`~hatangso.geo.store.SqlStore.diff`), applied under the scenario's write lock with
    the publication of the file's version, or refused whole: a row the validation rejects
    (422), a row of another operator (403), a record changed since the ``If-Match`` version
    (409).
    """
    from hatangso.geo.validate import load_layer

    options = options or UploadOptions()
    actor = principal.name if principal is not None else ADMIN.name
    operator = principal.store_operator if principal is not None else None
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
    try:
        layer = load_layer(
            path,
            kind,
            crs=options.crs,
            columns=options.columns,
            sheet=options.sheet,
            header_row=options.header_row,
        )
    except HatangsoError as exc:  # the engine names --crs; the service takes ?crs=
        raise for_service(exc) from exc
    check_operator_rows(operator, kind, layer.frame, shown)
    stem = spec_for(kind).stem
    frame = layer.frame
    table = spec_for(kind).geometry == "none"
    if not table and not isinstance(
        frame, gpd.GeoDataFrame
    ):  # pragma: no cover - every uploadable layer has geometry
        raise HTTPException(status_code=422, detail=f"{shown}: no geometry")
    clean = frame.drop(columns=["source_row"], errors="ignore")
    rejected = reject_problems(layer.rejects, shown)
    if kind in UPLOAD_FILES:
        return _store_samples(
            workspace,
            name,
            layer,
            clean,
            shown,
            options,
            rejected,
            by,
            operator,
            mode,
            if_match=if_match,
        )

    def compare(store: SqlStore) -> tuple[ChangeSet, dict[str, Any], LayerChange]:
        changeset = store.diff(
            kind,
            clean,
            actor=actor,
            operator=operator,
            mode=mode,
            name=shown,
            note=f"upload of {shown}",
        )
        before = store.read(kind)
        document = change_document(changeset, before, limit=settings.max_page, problems=rejected)
        counts = changeset.counts()
        change = LayerChange(
            rows_now=len(before),
            rows_after=len(before) + counts["add"] - counts["retire"],
            added=counts["add"],
            removed=counts["retire"],
            kept=len(before) - counts["retire"],
        )
        return changeset, document, change

    if options.dry_run:
        with _record_to_compare(workspace, name, path.parent) as store:
            _changeset, document, change = compare(store)
            version = store.version
        return _report(
            layer, kind, shown, stored=None, change=change, diff=document, record_version=version
        )
    if rejected:  # a change set with a bad row is refused whole, before anything is written
        raise InputError(rejected)
    outcome: dict[str, Any] = {}
    with _forgotten_if_refused(workspace, name):
        store = workspace.store(name)

        def apply() -> None:
            # Under the scenario's write lock: compared with the record as it is now.
            changeset, document, change = compare(store)
            if if_match is not None:
                if if_match > store.version:
                    raise ConflictError(
                        f"{kind} of scenario '{name}': the record is at version "
                        f"{store.version}, not {if_match}. Fix: send the ETag of your last "
                        f"read of /api/scenarios/{name}/{kind} as If-Match"
                    )
                # Refused (409, naming them) if a record it changes has changed since.
                changeset = replace(changeset, base_version=if_match)
            applied = store.apply(changeset)
            outcome.update(diff=document, change=change, version=applied.version)

        new, old = workspace.store_layer(
            name,
            kind,
            _layer_files(
                stem,
                lambda p: (
                    write_table(frame, p, layer=stem)
                    if table
                    else write_layer(frame, p, layer=stem)
                ),
                layer,
            ),
            file=shown,
            counts=layer.counts(),
            by=by,
            apply=apply,
        )
    return _report(
        layer,
        kind,
        shown,
        stored=f"uploads/{stem}.gpkg",
        change=outcome["change"],
        version=new.version,
        replaced=old.replaced(),
        diff=outcome["diff"],
        record_version=outcome["version"],
    )


def _store_samples(
    workspace: Workspace,
    name: str,
    layer: Layer,
    clean: pd.DataFrame,
    shown: str,
    options: UploadOptions,
    rejected: list[Problem],
    by: str | None,
    operator: str | None,
    mode: UploadMode,
    *,
    if_match: int | None = None,
) -> UploadReport:
    """Validate measurement samples and (unless a dry run) publish them as the scenario's file.

    The samples are not rows of the record: the file ``uploads/samples.gpkg`` is named under
    ``inputs`` in ``scenario.json`` and read by the coverage runs. An operator's upload
    replaces its own samples (``?mode=upsert``: adds to them) and keeps the others'.

    The file published is the samples read plus the upload, so it is published only if no
    other upload published the samples since they were read (``If-Match`` of
    :meth:`~hatangso.app.workspace.Workspace.store_layer`); else it is made again from the
    samples now published, up to :data:`_SAMPLES_ATTEMPTS` times, so that two operators
    uploading at once both keep their samples. With `if_match` (the client's ``If-Match``: the
    samples' version it last saw) it is published only if the samples are still at that
    version, else refused (409) without a second attempt: the client asked not to overwrite
    what it has not seen. The report's ``version`` is the samples' version after the upload
    (now, on a dry run): the answer's ``ETag``.
    """
    if options.dry_run:
        now = workspace.layer_version(name, "samples")
        _, change = _samples_after(now.path, clean, operator, mode)
        return _report(layer, "samples", shown, stored=None, change=change, version=now.version)
    if rejected:  # refused whole, before anything is written
        raise InputError(rejected)
    with _forgotten_if_refused(workspace, name):
        for attempt in itertools.count(1):
            now = workspace.layer_version(name, "samples")
            whole, change = _samples_after(now.path, clean, operator, mode)
            try:
                new, old = workspace.store_layer(
                    name,
                    "samples",
                    _layer_files("samples", partial(write_layer, whole, layer="samples"), layer),
                    file=shown,
                    counts=layer.counts(),
                    by=by,
                    if_match=now.version if if_match is None else if_match,
                )
            except ConflictError:
                if if_match is not None or attempt >= _SAMPLES_ATTEMPTS:
                    raise
                continue  # another upload published the samples meanwhile: merge with it
            break
    return _report(
        layer,
        "samples",
        shown,
        stored="uploads/samples.gpkg",
        change=change,
        version=new.version,
        replaced=old.replaced(),
    )


#: Times an upload of samples is merged again with the samples another upload published
#: while it was merged, before it is refused (409).
_SAMPLES_ATTEMPTS = 5


def _samples_after(
    published: Path | None, clean: pd.DataFrame, operator: str | None, mode: UploadMode
) -> tuple[gpd.GeoDataFrame, LayerChange]:
    """Return the samples an upload leaves (`published` and `clean`), and the change."""
    before = (
        gpd.read_file(published, layer="samples")
        if published is not None and published.is_file()
        else None
    )
    rows_now = 0 if before is None else len(before)
    whole = gpd.GeoDataFrame(clean)
    kept = whole.iloc[0:0]
    if before is not None and (mode == "upsert" or operator is not None):
        kept = before if mode == "upsert" else before[before["operator"].astype(str) != operator]
        whole = gpd.GeoDataFrame(pd.concat([kept, whole.to_crs(before.crs)], ignore_index=True))
    change = LayerChange(
        rows_now=rows_now,
        rows_after=len(whole),
        added=len(clean),
        removed=rows_now - len(kept),
        kept=len(kept),
    )
    return whole, change


@contextmanager
def _forgotten_if_refused(workspace: Workspace, name: str) -> Iterator[None]:
    """Forget scenario `name` if the block raises and the scenario did not exist before it.

    A refused first upload leaves no scenario behind, and removes only what it made: the
    block runs as a live job of the scenario (its shared job lock), and
    :meth:`~hatangso.app.workspace.Workspace.forget` keeps the scenario while another job
    holds it, so that another upload that created the scenario meanwhile keeps its data.
    """
    created = not workspace.folder(name).exists()
    try:
        with workspace.job(name):
            yield
    except BaseException:
        if created:
            workspace.forget(name)
        raise


def _layer_files(
    stem: str, write: Callable[[Path], object], layer: Layer
) -> dict[str, Callable[[Path], object]]:
    """Return the files of an upload's version: ``<stem>.gpkg`` by `write`, and its rejects.

    The rejects (``<stem>.rejects.csv``) are made safe to open in a spreadsheet.
    """
    safe_rejects = spreadsheet_safe(layer.rejects)
    return {
        f"{stem}.gpkg": write,
        f"{stem}.rejects.csv": lambda p: safe_rejects.to_csv(p, index=False, encoding="utf-8"),
    }


@contextmanager
def _record_to_compare(workspace: Workspace, name: str, scratch: Path) -> Iterator[SqlStore]:
    """Yield the record a dry run compares with, creating nothing in the scenario.

    The scenario's own record when it has one; else a scratch copy in `scratch`, loaded with
    the scenario's input layers as its record would be on first use.
    """
    from hatangso.geo.store import open_store

    folder = workspace.folder(name)
    if workspace.database_url or (folder / "record.gpkg").is_file():
        yield workspace.store(name)
        return
    store = open_store(scratch / "compare.gpkg")
    try:
        if folder.is_dir():
            workspace.seed(name, store, lock=False)
        yield store
    finally:
        store.close()


def _report(
    layer: Layer,
    kind: str,
    shown: str,
    *,
    stored: str | None,
    change: LayerChange,
    version: int | None = None,
    replaced: dict[str, Any] | None = None,
    diff: dict[str, Any] | None = None,
    record_version: int | None = None,
) -> UploadReport:
    rejects = layer.rejects
    counts = layer.counts()
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
        notes=[service_text(note) for note in layer.notes],
        stored=stored,
        dry_run=stored is None,
        change=change,
        version=version,
        replaced=replaced,
        diff=diff,
        record_version=record_version,
    )


_RASTER_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong X-API-Key"},
    413: {"description": "Larger than HATANGSO_MAX_UPLOAD_MB"},
    422: {
        "description": "Not a GeoTIFF or SRTM tile, no CRS, too many pixels "
        "(HATANGSO_MAX_RASTER_PIXELS), outside Viet Nam or the villages, or only nodata"
    },
}
DryRun = Annotated[
    bool,
    Query(description="Validate and report what would change; store nothing."),
]


def _villages_bounds(path: Path | None) -> tuple[float, float, float, float] | None:
    """Return the bounds (degrees) of a villages layer, None without one."""
    if path is None:
        return None
    import pyogrio
    from pyproj import CRS, Transformer

    info = pyogrio.read_info(path, force_total_bounds=True)
    west, south, east, north = (float(b) for b in info["total_bounds"])
    crs = info.get("crs")
    if crs and not CRS.from_user_input(crs).equals(CRS.from_epsg(4326)):
        to_wgs84 = Transformer.from_crs(crs, 4326, always_xy=True)
        west, south, east, north = to_wgs84.transform_bounds(west, south, east, north)
    return (west, south, east, north)


def _check_and_store_raster(
    workspace: Workspace,
    settings: Settings,
    name: str,
    kind: str,
    path: Path,
    shown: str,
    dry_run: bool = False,
) -> RasterReport:
    limits = ZipLimits(
        max_members=settings.max_zip_members,
        max_total_bytes=settings.max_unzipped_bytes,
        max_ratio=settings.max_zip_ratio,
    )
    raster = unpack_raster(
        path, shown, path.parent / "unpacked", limits=limits, max_pixels=settings.max_raster_pixels
    )
    check = check_raster(
        raster,
        shown,
        kind=kind,
        max_pixels=settings.max_raster_pixels,
        villages_bounds=_villages_bounds(workspace.layer_path(name, "villages")),
    )
    before = workspace.metadata(name).get(kind)
    stored: str | None = None
    if not dry_run:
        stored = f"uploads/{kind}.tif"
        with workspace.writing(name):  # one writer at a time, as every change of the scenario
            write_geotiff(raster, workspace.file(name, stored))
            workspace.update_metadata(
                name,
                **{kind: stored},
                uploads={
                    kind: {
                        "file": shown,
                        "crs": check.crs,
                        "size": [check.width, check.height],
                        "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    }
                },
            )
    low, high = check.value_range
    return RasterReport(
        kind=kind,
        file=shown,
        crs=check.crs,
        width=check.width,
        height=check.height,
        resolution=check.resolution,
        bounds_wgs84=check.bounds_wgs84,
        nodata=check.nodata,
        value_range=None if math.isnan(low) else (low, high),
        notes=list(check.notes),
        replaces=None if before is None else str(before),
        stored=stored,
        dry_run=dry_run,
    )


async def _upload_raster(
    request: Request,
    name: str,
    kind: str,
    workspace: Workspace,
    settings: Settings,
    dry_run: bool,
) -> RasterReport:
    workspace.folder(name)  # refuses a name that is not plain, before any byte is received
    with upload_scratch(workspace.root) as tmp:
        path, shown = await _receive_file(request, settings, tmp, RASTER_SUFFIXES)
        return await run_job(
            request,
            "the upload",
            _check_and_store_raster,
            workspace,
            settings,
            name,
            kind,
            path,
            shown,
            dry_run,
        )


@router.post(
    "/{name}/uploads/dem",
    response_model=RasterReport,
    dependencies=[Depends(require("admin", "official"))],
    summary="Upload the scenario's elevation model (GeoTIFF or SRTM .hgt, possibly zipped)",
    openapi_extra=_UPLOAD_BODY,
    responses=_RASTER_RESPONSES,
)
async def upload_dem(
    request: Request,
    name: ScenarioName,
    workspace: WorkspaceDep,
    settings: SettingsDep,
    dry_run: DryRun = False,
) -> RasterReport:
    """Check a DEM with rasterio and make it the scenario's: coverage then runs on the terrain.

    The raster needs a CRS, at most ``HATANGSO_MAX_RASTER_PIXELS`` pixels, bounds in Viet Nam
    overlapping the scenario's villages, and elevations in metres. It is stored as
    ``uploads/dem.tif`` and named under ``dem`` in ``scenario.json``; a coverage run without
    ``mobile.model`` then uses the terrain model, as ``hatangso coverage --dem`` does.
    """
    return await _upload_raster(request, name, "dem", workspace, settings, dry_run)


@router.post(
    "/{name}/uploads/population",
    response_model=RasterReport,
    dependencies=[Depends(require("admin", "official"))],
    summary="Upload the scenario's population raster (people per cell, GeoTIFF)",
    openapi_extra=_UPLOAD_BODY,
    responses=_RASTER_RESPONSES,
)
async def upload_population(
    request: Request,
    name: ScenarioName,
    workspace: WorkspaceDep,
    settings: SettingsDep,
    dry_run: DryRun = False,
) -> RasterReport:
    """Check a population raster with rasterio and make it the scenario's.

    Checked as the DEM is; stored as ``uploads/population.tif`` and named under
    ``population`` in ``scenario.json``, so that the population indicators weigh by it.
    """
    return await _upload_raster(request, name, "population", workspace, settings, dry_run)


@router.post(
    "/{name}/uploads/{kind}",
    response_model=UploadReport,
    summary="Upload an input layer; returns the validation report",
    openapi_extra=_UPLOAD_BODY,
    responses={
        401: {"description": "Missing or wrong X-API-Key"},
        409: {"description": "If-Match names a version the layer has moved on from"},
        413: {
            "description": "Larger than HATANGSO_MAX_UPLOAD_MB, or its validation needs "
            "more than HATANGSO_JOB_MEMORY_MB"
        },
        422: {"description": "Unknown file type, unsafe archive or a fault of the file"},
        503: {"description": "Over HATANGSO_JOB_SECONDS, or HATANGSO_JOBS jobs already run"},
    },
)
async def upload_layer(
    request: Request,
    response: Response,
    principal: ScenarioWriterDep,
    name: ScenarioName,
    kind: UploadKind,
    workspace: WorkspaceDep,
    settings: SettingsDep,
    crs: Annotated[
        str | None,
        Query(
            max_length=200,
            description="CRS of a file without one (x/y CSV): EPSG:…, PROJ, VN2000:<province>.",
        ),
    ] = None,
    columns: Annotated[
        str | None,
        Query(max_length=2000, description="Map columns: village_id=osm_id,name=ten."),
    ] = None,
    dry_run: DryRun = False,
    mode: Annotated[
        UploadMode,
        Query(
            description="replace: the file is the whole layer (an operator's: of its rows), so "
            "live rows missing from it are retired; upsert: it only adds and updates rows."
        ),
    ] = "replace",
    sheet: Annotated[
        str | None, Query(max_length=200, description="XLSX: the sheet (default the first).")
    ] = None,
    header_row: Annotated[
        int | None,
        Query(alias="header-row", ge=1, le=10_000, description="XLSX: the header's row number."),
    ] = None,
) -> UploadReport:
    """Validate an uploaded layer as ``hatangso validate`` does and apply it to the record.

    ``?crs=``, ``?columns=``, ``?sheet=`` and ``?header-row=`` are the command line's
    ``--crs``, ``--columns``, ``--sheet`` and ``--header-row``. The upload is one change set
    of the scenario's record (the scenario is created when new): ``?mode=replace`` (the
    default) takes the file as the whole layer, of the uploading operator when an operator
    uploads, and retires the live rows it lacks; ``?mode=upsert`` only adds and updates.
    It applies whole or not at all: a row the validation rejects refuses it (422, every
    problem listed), so does a row of another operator (403). ``diff`` lists the change
    record by record; ``change`` counts the rows before and after. With ``?dry_run=true``
    the report is the same (the rejects too) and nothing is stored. A refused upload changes
    nothing and leaves nothing behind.

    ``declared`` (coverage the operators declare) is a table of the record, as
    ``commitments``; ``samples`` (drive and speed tests) are kept as the scenario's file
    ``uploads/samples.gpkg``, not as rows of the record, and a coverage run reads them as
    ``hatangso coverage --samples`` does.

    The file as received is kept as a new version of the layer, for provenance (``version``,
    ``replaced``). Uploads of one scenario apply one at a time, in arrival order. The answer's
    ``ETag`` is the record's version after it (``record_version``); sent as
    ``If-Match: <version>``, an upload is refused (409, naming them) if a record it changes
    has changed since that version. The samples, a file rather than records, answer the
    file's ``version`` as their ``ETag``: sent as ``If-Match``, their upload is refused (409)
    if the samples were published again since.
    """
    options = UploadOptions(
        crs=crs, columns=columns, sheet=sheet, header_row=header_row, dry_run=dry_run
    )
    if_match = versions.if_match(request.headers.get("if-match"))
    by = principal.name
    workspace.folder(name)  # refuses a name that is not plain, before any byte is received
    with upload_scratch(workspace.root) as tmp:
        path, shown = await _receive_file(request, settings, tmp)
        report = await run_job(
            request,
            "the upload",
            _validate_and_store,
            workspace,
            settings,
            name,
            kind,
            path,
            shown,
            options,
            if_match=if_match,
            by=by,
            principal=principal,
            mode=mode,
        )
    # Samples are a file of the scenario, not rows of its record: their ETag is the file's.
    tag = report.version if kind in UPLOAD_FILES else report.record_version
    response.headers["ETag"] = versions.etag(tag)
    return report


def _parse_config(
    workspace: Workspace, settings: Settings, name: str, config_doc: dict[str, Any]
) -> CoverageConfig:
    """Validate a request's configuration: files by the name of the scenario's uploads only."""
    from hatangso.coverage.config import parse_config

    return parse_config(
        config_doc,
        source="config",
        base=workspace.folder(name) / "uploads",
        where=f"the uploaded files of scenario '{name}'",
        plain_names=True,
        limits=settings.work_limits,
    )


def _run(
    workspace: Workspace, settings: Settings, name: str, config_doc: dict[str, Any]
) -> CoverageRun:
    from hatangso.app.asof import run_inputs
    from hatangso.app.runconfig import run_config
    from hatangso.scenarios.job import run_coverage

    # The scenario's own configuration (its file's, its last run's), the request's keys over it.
    chosen = run_config(workspace, name, config_doc)
    config_doc = chosen.document
    config = _parse_config(workspace, settings, name, config_doc)
    title = str(workspace.metadata(name).get("title") or name)
    # The outputs go to a run folder of their own, published at once (readers never see a
    # mixture of two runs, and a killed run leaves the published one as it was).
    from hatangso.scenarios.challenges import read_challenges

    # The decided challenges set their villages' answers; every one is counted in kpis.json.
    challenges = read_challenges(workspace.store(name))
    with workspace.new_run(name) as run, workspace.scratch(name) as scratch:
        # The record's layers where it has rows (its version kept), else the scenario's files.
        inputs = run_inputs(workspace, name, scratch)
        record = inputs.record
        extra: dict[str, Any] = {"scenario": name, "run": run.id}
        if record is not None:
            extra["record_version"] = record.version
        result = run_coverage(
            inputs.files, config, run.folder, title=title, extra=extra, challenges=challenges
        )
        published = workspace.publish_run(
            run,
            read=inputs.layers,
            record_read=record.version if record is not None else None,
            title=title,
            villages=len(result.assessment.villages),
            config=config_doc,
            record=record.describe() if record is not None else None,
        )
        if record is not None:
            # Kept as the run of its record version too: a past day whose record this is
            # is answered from it (?as_of=) after later runs have replaced it.
            from hatangso.app.asof import asof_key

            workspace.keep_asof_run(
                name, asof_key(record.version, config_doc), run.folder, keep=settings.asof_runs
            )
    return CoverageRun(
        name=name,
        files=sorted(p.name for p in result.files.values()),
        indicators=result.kpis.get("indicators", []),
        notes=[str(n) for n in result.kpis.get("notes", [])],
        config=config_doc,
        config_source=chosen.source,
        model=result.kpis.get("model"),
        rule=result.kpis.get("rule"),
        run=published.id,
        stale=published.stale,
        changed=dict(published.changed),
        record_version=record.version if record is not None else None,
    )


@router.post(
    "/{name}/coverage",
    response_model=CoverageRun,
    summary="Run coverage on the scenario's inputs",
    responses={
        401: {"description": "Missing or wrong X-API-Key"},
        413: {"description": "Body over HATANGSO_MAX_JSON_MB, or over HATANGSO_JOB_MEMORY_MB"},
        503: {"description": "Over HATANGSO_JOB_SECONDS, or HATANGSO_JOBS jobs already run"},
    },
)
async def run_scenario_coverage(
    request: Request,
    name: ScenarioName,
    workspace: WorkspaceDep,
    settings: SettingsDep,
    config: Annotated[
        dict[str, Any] | None,
        Body(description="Coverage configuration (the YAML file's keys), all optional."),
    ] = None,
) -> CoverageRun:
    """Assess the scenario's uploaded (or built-in) layers and replace its results.

    The configuration is the scenario's (its last run's, else the one it was built with: the
    shipped scenario file's ``model:``, the demo's), with the body's keys merged over it
    section by section; the answer gives it (``config``), where it came from
    (``config_source``), and the model and rule that ran.

    The results are written apart and published at once: until then the previous ones are
    served. The answer's ``run`` is the run's id (``run`` in ``kpis.json``); ``stale`` says
    that a layer was replaced while the run read it (``changed`` names it): the results are
    published all the same, and describe the layers as the run read them.
    """
    if not workspace.folder(name).is_dir():
        raise HTTPException(status_code=404, detail=f"no scenario named '{name}'")
    return await run_job(request, "the coverage run", _run, workspace, settings, name, config or {})


@router.post(
    "/{name}/plans",
    summary="Plan new sites for one operator",
    responses={
        401: {"description": "Missing or wrong X-API-Key"},
        413: {"description": "Body over HATANGSO_MAX_JSON_MB, or over HATANGSO_JOB_MEMORY_MB"},
        503: {"description": "Over HATANGSO_JOB_SECONDS, or HATANGSO_JOBS jobs already run"},
    },
)
async def create_plan(
    http_request: Request,
    name: ExistingScenario,
    workspace: WorkspaceDep,
    settings: SettingsDep,
    request: PlanRequest,
) -> dict[str, Any]:
    """Plan new sites as ``hatangso plan`` does, and store the plan.

    The answer is the plan's GeoJSON (one point per site, in build order) with the plan's
    summary (problem, status, optimality gap, KPIs before and after, re-checked by the
    coverage engine) under ``plan``. It is stored as ``plans/<id>.geojson``.
    """
    return await run_job(http_request, "the plan", _plan, workspace, settings, name, request)


def _plan(
    workspace: Workspace, settings: Settings, name: str, request: PlanRequest
) -> dict[str, Any]:
    import json

    from hatangso.coverage.planning import plan
    from hatangso.scenarios.job import InputFiles, load_inputs
    from hatangso.scenarios.plan_job import read_exclusion

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
    config = _parse_config(workspace, settings, name, request.config or {})
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
        exclusion=read_exclusion(
            config.siting.exclusion,
            max_bytes=config.limits.max_referenced_file_bytes,
            source="config",
        ),
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
