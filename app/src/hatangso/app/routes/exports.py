"""Exports of a scenario's villages (GeoJSON, GeoPackage, CSV) and its XLSX report."""

from __future__ import annotations

import io
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response

from hatangso.app.asof import AsOf, results_as_of, scenario_for
from hatangso.app.deps import ScenarioName, SettingsDep, WorkspaceDep, require_read_key
from hatangso.app.schemas import Indicator, Status
from hatangso.app.workspace import Workspace, feature_collection
from hatangso.geo.outputs import atomic_write, spreadsheet_cell, spreadsheet_safe

__all__ = ["router", "xlsx_report"]

router = APIRouter(
    prefix="/api/scenarios", tags=["exports"], dependencies=[Depends(require_read_key)]
)


class ExportName(StrEnum):
    """Files that can be exported."""

    geojson = "villages.geojson"
    gpkg = "villages.gpkg"
    csv = "villages.csv"
    xlsx = "report.xlsx"


_MEDIA = {
    ExportName.geojson: "application/geo+json",
    ExportName.gpkg: "application/geopackage+sqlite3",
    ExportName.csv: "text/csv; charset=utf-8",
    ExportName.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _indicator_rows(
    indicators: list[dict[str, Any]], unit: str | None = None
) -> list[dict[str, Any]]:
    rows = []
    for ind in indicators:
        row = {
            "code": ind.get("code"),
            "Chỉ tiêu": ind.get("label_vi"),
            "Indicator": ind.get("label_en"),
            "value": ind.get("value"),
            "numerator": ind.get("numerator"),
            "denominator": ind.get("denominator"),
            "target": ind.get("target"),
            "met": ind.get("met"),
        }
        rows.append({"unit": unit, **row} if unit is not None else row)
    return rows


def xlsx_report(kpis: dict[str, Any], villages: gpd.GeoDataFrame) -> bytes:
    """Build the XLSX report: indicators, indicators by admin unit, inputs, uncovered villages.

    Returns
    -------
    bytes
        The workbook; sheets ``KPI``, ``<level>`` per admin level, ``Inputs`` and
        ``Uncovered`` (villages without mobile broadband, no geometry).
    """
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        spreadsheet_safe(pd.DataFrame(_indicator_rows(kpis.get("indicators", [])))).to_excel(
            writer, sheet_name="KPI", index=False
        )
        for level, units in kpis.get("by_unit", {}).items():
            rows = [
                r for u in units for r in _indicator_rows(u.get("indicators", []), u.get("unit"))
            ]
            spreadsheet_safe(pd.DataFrame(rows)).to_excel(
                writer, sheet_name=str(level)[:31], index=False
            )
        inputs = pd.DataFrame.from_dict(kpis.get("inputs", {}), orient="index")
        inputs.index.name = "kind"
        inputs = spreadsheet_safe(inputs)
        inputs.index = pd.Index([spreadsheet_cell(k) for k in inputs.index], name="kind")
        inputs.to_excel(writer, sheet_name="Inputs")
        table = pd.DataFrame(villages.drop(columns=villages.geometry.name))
        if "covered_mobile" in table:
            table = table[~table["covered_mobile"].fillna(False).astype(bool)]
        for column in table.columns:
            if isinstance(table[column].dtype, pd.StringDtype):
                table[column] = table[column].astype(object)
        spreadsheet_safe(table).to_excel(writer, sheet_name="Uncovered", index=False)
    return buffer.getvalue()


def _export_file(
    workspace: Workspace, name: str, export: ExportName, run: Path | None = None
) -> Any:
    if run is None:
        run = workspace.results(name)  # the published run: every file below is of this one run
    source = run / "villages.gpkg"
    target = run / "exports" / export.value
    sources = (source, run / "kpis.json")
    # The export is rebuilt when the results changed since it was written.
    stale = not target.is_file() or any(
        p.is_file() and p.stat().st_mtime_ns > target.stat().st_mtime_ns for p in sources
    )
    if stale:
        villages = workspace.villages(name, run=run).frame
        if export is ExportName.gpkg:
            frame = villages.copy()
            for column in frame.columns:
                if isinstance(frame[column].dtype, pd.StringDtype):
                    frame[column] = frame[column].astype(object)
            atomic_write(
                target,
                lambda p: frame.to_file(p, layer="villages", driver="GPKG", engine="pyogrio"),
            )
        elif export is ExportName.csv:
            table = pd.DataFrame(villages.drop(columns=villages.geometry.name))
            table["lon"] = villages.geometry.representative_point().x.round(6)
            table["lat"] = villages.geometry.representative_point().y.round(6)
            table = spreadsheet_safe(table)
            atomic_write(target, lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))
        elif export is ExportName.xlsx:
            data = xlsx_report(workspace.kpis(name, run=run), villages)
            atomic_write(target, lambda p: p.write_bytes(data))
    return target


@router.get(
    "/{name}/exports/{export}",
    summary="Download villages (GeoJSON, GeoPackage, CSV) or the XLSX report",
    response_class=Response,
)
async def export(
    request: Request,
    name: ScenarioName,
    export: ExportName,
    workspace: WorkspaceDep,
    settings: SettingsDep,
    status: Annotated[Status, Query()] = Status.all,
    indicator: Annotated[Indicator, Query()] = Indicator.mobile,
    as_of: AsOf = None,
) -> Response:
    """Return an export as a download. ``status``/``indicator`` filter the GeoJSON export.

    With ``as_of``, the export of the results as the record stood at the end of that day (a
    year's report made again for 31 December): see ``/kpis``.
    """
    name = await scenario_for(name, workspace, settings, as_of)
    run = None
    stem = name
    if as_of is not None:
        run = (await results_as_of(request, workspace, settings, name, as_of)).folder
        stem = f"{name}-{as_of.isoformat()}"
    headers = {"Content-Disposition": f'attachment; filename="{stem}-{export.value}"'}
    if export is ExportName.geojson:
        index = await run_in_threadpool(workspace.villages, name, run=run)
        picked = index.select(status=status.value, indicator=indicator.value, units={})
        return Response(
            feature_collection(index.features[picked]), media_type=_MEDIA[export], headers=headers
        )
    path = await run_in_threadpool(_export_file, workspace, name, export, run)
    return FileResponse(path, media_type=_MEDIA[export], headers=headers)
