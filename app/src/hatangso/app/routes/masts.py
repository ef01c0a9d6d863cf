"""The mast registry of a scenario: its page, its filtered list and a mast's tenants.

A mast's history is the record's (``/api/scenarios/{name}/masts/{id}/history``).

The registry is the scenario's ``masts`` layer; each mast is shown with the commune it stands
in, where its permit stands today (:func:`hatangso.coverage.registry.permit_state`, with the
scenario's ``registry:`` configuration), the sites that name it and the findings of the last
run's checks (``registry_checks.csv``).
"""

from __future__ import annotations

import html
import json
import logging
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from hatangso.app.deps import ExistingScenario, WorkspaceDep, require_read_key
from hatangso.app.workspace import Workspace, feature_collection, serialise_features
from hatangso.geo.schema import MAST_STATUSES

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["registry"], dependencies=[Depends(require_read_key)])

GEOJSON = "application/geo+json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Properties of a mast in the list, in order.
MAST_PROPERTIES = [
    "mast_id",
    "owner",
    "status",
    "kind",
    "height_m",
    "commune",
    "district",
    "permit_no",
    "permit_date",
    "permit_expires",
    "permit_state",
    "tenants",
    "site_operators",
    "site_ids",
    "checks",
]

MastId = Annotated[str, PathParam(min_length=1, max_length=200)]


class Permit(StrEnum):
    """Which permits to keep."""

    missing = "missing"
    expiring = "expiring"


class MastStatus(StrEnum):
    """A mast's status."""

    planned = "planned"
    permitted = "permitted"
    built = "built"
    dismantled = "dismantled"


class Format(StrEnum):
    """How the list is written."""

    geojson = "geojson"
    json = "json"


def _registry_settings(workspace: Workspace, name: str) -> Any:
    """Return the scenario's ``registry:`` configuration (the defaults when it has none)."""
    from hatangso.app.runconfig import stored_config
    from hatangso.coverage.config import RegistryConfig

    document = stored_config(workspace, name).document.get("registry") or {}
    try:
        return RegistryConfig.model_validate(document)
    except ValueError:  # a configuration the runs refuse too: the defaults, for reading
        log.warning("scenario %s: registry configuration not valid, defaults used", name)
        return RegistryConfig()


def register(workspace: Workspace, name: str) -> gpd.GeoDataFrame:
    """Return scenario `name`'s masts with commune, permit, sites and findings (cached).

    Raises
    ------
    HTTPException
        404 when the scenario has no mast registry.
    """
    from hatangso.coverage.registry import mast_register

    masts_path = workspace.layer_path(name, "masts")
    if masts_path is None:
        raise HTTPException(
            status_code=404,
            detail=f"scenario '{name}' has no mast registry: upload one "
            f"(POST /api/scenarios/{name}/uploads/masts)",
        )
    run = workspace.results(name)
    sites_path = workspace.layer_path(name, "sites")
    checks_path = run / "registry_checks.csv"
    today = date.today()
    paths: tuple[Path, ...] = (masts_path, run / "villages.gpkg", checks_path)
    paths += (sites_path,) if sites_path is not None else ()

    def load() -> gpd.GeoDataFrame:
        settings = _registry_settings(workspace, name)
        masts = workspace.layer(name, "masts")
        assert masts is not None
        return mast_register(
            masts,
            sites=workspace.layer(name, "sites"),
            villages=workspace.villages(name, run=run).frame,
            checks=pd.read_csv(checks_path, dtype=str) if checks_path.is_file() else None,
            as_of=today,
            valid_years=settings.permit_valid_years,
            expiring_days=settings.permit_expiring_days,
        )

    frame: gpd.GeoDataFrame = workspace.cached(name, f"masts:{today.isoformat()}", paths, load)
    return frame


def _fold(values: pd.Series) -> pd.Series:
    from hatangso.geo.text import fold_key

    return values.astype("string").fillna("").map(fold_key)


def select(
    masts: pd.DataFrame,
    *,
    commune: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    permit: str | None = None,
) -> pd.DataFrame:
    """Keep the masts matching every filter given (names compared after folding accents)."""
    from hatangso.geo.text import fold_key

    keep = np.ones(len(masts), dtype=bool)
    if commune:
        keep &= (_fold(masts["commune"]) == fold_key(commune)).to_numpy(dtype=bool)
    if owner:
        keep &= (_fold(masts["owner"]) == fold_key(owner)).to_numpy(dtype=bool)
    if status:
        keep &= (masts["status"] == status).fillna(False).to_numpy(dtype=bool)
    if permit:
        keep &= (masts["permit_state"] == permit).fillna(False).to_numpy(dtype=bool)
    return masts[keep]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain JSON records of masts: their properties, ``lon`` and ``lat``."""
    columns = [c for c in MAST_PROPERTIES if c in frame]
    table = frame[columns].astype(object).where(frame[columns].notna(), None)
    table["lon"] = np.round(frame.geometry.x.to_numpy(), 6)
    table["lat"] = np.round(frame.geometry.y.to_numpy(), 6)
    return [{str(k): v for k, v in row.items()} for row in table.to_dict(orient="records")]


Commune = Annotated[str | None, Query(max_length=200, description="Commune (any accents).")]
Owner = Annotated[str | None, Query(max_length=200, description="Owner: operator or company.")]
StatusQuery = Annotated[MastStatus | None, Query(description="Status to keep.")]
PermitQuery = Annotated[
    Permit | None,
    Query(description="missing: built or permitted without a permit; expiring: ends soon."),
]


@router.get(
    "/api/scenarios/{name}/masts",
    summary="The mast registry, filtered (GeoJSON, or JSON with ?format=json)",
    responses={200: {"content": {GEOJSON: {}, "application/json": {}}}},
)
def list_masts(
    name: ExistingScenario,
    workspace: WorkspaceDep,
    commune: Commune = None,
    owner: Owner = None,
    status: StatusQuery = None,
    permit: PermitQuery = None,
    format: Annotated[Format, Query(description="geojson (default) or json.")] = Format.geojson,
) -> Response:
    """Return the masts matching every filter given.

    Each mast carries its commune and district, ``permit_state`` (``missing``, ``expiring``,
    ``valid``, ``not_needed``) and ``permit_expires`` as of today, the sites that name it and
    the codes of the last run's checks that concern it.
    """
    masts = register(workspace, name)
    picked = select(
        masts,
        commune=commune,
        owner=owner,
        status=None if status is None else status.value,
        permit=None if permit is None else permit.value,
    )
    if format is Format.json:
        body = json.dumps(
            {"numberMatched": len(picked), "masts": _records(picked)}, ensure_ascii=False
        )
        return Response(body, media_type="application/json")
    features = serialise_features(picked, columns=MAST_PROPERTIES, id_column="mast_id")
    return Response(
        feature_collection(features, numberMatched=len(picked), numberReturned=len(picked)),
        media_type=GEOJSON,
    )


@router.get("/api/scenarios/{name}/masts.xlsx", summary="The mast registry as XLSX")
def export_masts(
    name: ExistingScenario,
    workspace: WorkspaceDep,
    commune: Commune = None,
    owner: Owner = None,
    status: StatusQuery = None,
    permit: PermitQuery = None,
) -> Response:
    """Return the masts (filtered as the list is) and the last run's checks as a workbook."""
    from hatangso.geo.xlsx import workbook_bytes

    picked = select(
        register(workspace, name),
        commune=commune,
        owner=owner,
        status=None if status is None else status.value,
        permit=None if permit is None else permit.value,
    )
    sheets = {"masts": pd.DataFrame(_records(picked))}
    checks = workspace.results(name) / "registry_checks.csv"
    if checks.is_file():
        sheets["checks"] = pd.read_csv(checks, dtype=str)
    return Response(
        workbook_bytes(sheets),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}-masts.xlsx"'},
    )


def _one(masts: pd.DataFrame, mast_id: str, name: str) -> pd.Series:
    found = masts[masts["mast_id"].astype(str) == mast_id]
    if not len(found):
        raise HTTPException(
            status_code=404, detail=f"scenario '{name}' has no mast '{mast_id}' in its registry"
        )
    return found.iloc[0]


@router.get("/api/scenarios/{name}/masts/{mast_id}/tenants", summary="A mast's tenants")
def mast_tenants(
    name: ExistingScenario, mast_id: MastId, workspace: WorkspaceDep
) -> dict[str, Any]:
    """Return who uses the mast: each operator listed by the registry or with a site on it.

    ``listed`` says whether the registry names it a tenant; ``sites`` are its sites naming the
    mast. An operator with sites but not listed is a tenancy the registry lacks.
    """
    mast = _one(register(workspace, name), mast_id, name)
    listed = [t for t in str(mast.get("tenants") or "").split(";") if t]
    sites = workspace.layer(name, "sites")
    on: pd.DataFrame = pd.DataFrame(columns=["site_id", "operator"])
    if sites is not None and "mast_id" in sites:
        on = sites[sites["mast_id"].astype("string") == mast_id][["site_id", "operator"]]
    operators = sorted({*listed, *on["operator"].astype(str)})
    return {
        "mast_id": mast_id,
        "owner": mast.get("owner"),
        "status": mast.get("status"),
        "shared": len(operators) >= 2,
        "tenants": [
            {
                "operator": op,
                "listed": op in listed,
                "sites": sorted(on.loc[on["operator"].astype(str) == op, "site_id"].astype(str)),
            }
            for op in operators
        ],
    }


# --------------------------------------------------------------------------------------------
# The registry's page
# --------------------------------------------------------------------------------------------

_STATUS_COLOURS = {
    "planned": "#9e9ac8",
    "permitted": "#3182bd",
    "built": "#252525",
    "dismantled": "#bdbdbd",
}

_CSS = """
body{font-family:system-ui,sans-serif;margin:1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}
th,td{border:1px solid #bbb;padding:3px 6px;text-align:left}
th{background:#ddebf7} td.n{text-align:right} .warn{color:#c00000;font-weight:bold}
form label{margin-right:1em} #masts-map{height:420px;border:1px solid #bbb;margin:.5em 0}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;border:1px solid #000}
"""

_PAGE_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('masts-data').textContent);
  var colours = JSON.parse(document.getElementById('masts-colours').textContent);
  // No tile layer sets a zoom range: give one, or a single mast would zoom without end.
  var map = L.map('masts-map', {minZoom: 5, maxZoom: 18});
  var layer = L.featureGroup().addTo(map);
  data.forEach(function (m) {
    var marker = L.circleMarker([m.lat, m.lon], {
      radius: 6, weight: 1, color: '#000', fillOpacity: 0.9,
      fillColor: colours[m.status] || '#252525'
    });
    var tip = document.createElement('div');
    var line = function (text) {
      var p = document.createElement('div'); p.textContent = text; tip.appendChild(p);
    };
    line(m.mast_id + ' — ' + (m.owner || ''));
    line(m.status + (m.tenants ? ' — ' + m.tenants : ''));
    if (m.checks) { line('! ' + m.checks); }
    marker.bindTooltip(tip);
    marker.addTo(layer);
  });
  if (data.length) { map.fitBounds(layer.getBounds().pad(0.1), {maxZoom: 16}); }
  else { map.setView([16, 106], 5); }
  window.hatangsoMastsReady = true;
})();
"""

_LABELS = {
    "title": ("Sổ đăng ký cột ăng-ten", "Mast registry"),
    "filter": ("Lọc", "Filter"),
    "all": ("tất cả", "all"),
    "commune": ("Xã", "Commune"),
    "owner": ("Chủ sở hữu", "Owner"),
    "status": ("Trạng thái", "Status"),
    "permit": ("Giấy phép", "Permit"),
    "checks": ("Kết quả kiểm tra (lần chạy gần nhất)", "Checks (last run)"),
    "masts": ("cột", "masts"),
    "map": ("bản đồ", "map"),
}


def _label(key: str) -> str:
    vi, en = _LABELS[key]
    return f"{html.escape(vi)} / {html.escape(en)}"


def _options(values: list[str], chosen: str | None) -> str:
    out = [f'<option value="">{_label("all")}</option>']
    for value in values:
        mark = " selected" if value == chosen else ""
        out.append(f'<option value="{html.escape(value)}"{mark}>{html.escape(value)}</option>')
    return "".join(out)


def _script_json(value: Any) -> str:
    """JSON for a ``<script type="application/json">``: nothing in it can close the element."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def registry_page(
    workspace: Workspace,
    name: str,
    *,
    commune: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    permit: str | None = None,
) -> str:
    """Build the registry's HTML page: filters, the findings, a map and the table of masts."""
    from hatangso.coverage.registry import CHECKS

    masts = register(workspace, name)
    picked = select(masts, commune=commune, owner=owner, status=status, permit=permit)
    title = str(workspace.metadata(name).get("title") or name)
    query = {
        k: v
        for k, v in (("commune", commune), ("owner", owner), ("status", status), ("permit", permit))
        if v
    }
    suffix = "&".join(f"{k}={html.escape(v)}" for k, v in query.items())
    api = f"/api/scenarios/{html.escape(name)}/masts"
    communes = sorted({str(c) for c in masts["commune"].dropna()})
    owners = sorted({str(o) for o in masts["owner"].dropna()})
    parts = [
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">',
        f"<title>{_label('title')} — {html.escape(title)}</title>",
        '<link rel="stylesheet" href="/static/leaflet/leaflet.css">',
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_label('title')} — {html.escape(title)}</h1>",
        f'<form method="get"><label>{_label("commune")} <select name="commune">'
        f"{_options(communes, commune)}</select></label>"
        f'<label>{_label("owner")} <select name="owner">{_options(owners, owner)}</select></label>'
        f'<label>{_label("status")} <select name="status">'
        f"{_options(list(MAST_STATUSES), status)}</select></label>"
        f'<label>{_label("permit")} <select name="permit">'
        f"{_options([p.value for p in Permit], permit)}</select></label>"
        f'<button type="submit">{_label("filter")}</button></form>',
        f'<p id="masts-count">{len(picked)} / {len(masts)} {_label("masts")} · '
        f'<a href="{api}?{suffix}">GeoJSON</a> · '
        f'<a href="{api}?format=json{"&" + suffix if suffix else ""}">JSON</a> · '
        f'<a href="{api}.xlsx?{suffix}">XLSX</a> · '
        f'<a href="/map/{html.escape(name)}">{_label("map")}</a></p>',
    ]
    findings = workspace.kpis(name).get("registry", {}).get("checks", {})
    if findings:
        rows = "".join(
            f"<tr><td>{html.escape(CHECKS[code][0])} / {html.escape(CHECKS[code][1])}</td>"
            f'<td class="n{" warn" if count else ""}">{int(count)}</td></tr>'
            for code, count in findings.items()
            if code in CHECKS
        )
        parts.append(f'<h2>{_label("checks")}</h2><table id="masts-checks">{rows}</table>')
    legend = " ".join(
        f'<span class="dot" style="background:{colour}"></span> {html.escape(state)}'
        for state, colour in _STATUS_COLOURS.items()
    )
    parts.append(f'<div id="masts-map"></div><p>{legend}</p>')
    head = "".join(
        f"<th>{html.escape(c)}</th>" for c in [c for c in MAST_PROPERTIES if c in picked]
    )
    body = []
    for record in _records(picked):
        cells = []
        for column in MAST_PROPERTIES:
            if column not in picked:
                continue
            value = record.get(column)
            text = "" if value is None else str(value)
            if column == "mast_id":
                mast = html.escape(text)
                cells.append(
                    f'<td>{mast} <a href="{api}/{mast}/tenants">tenants</a> '
                    f'<a href="{api}/{mast}/history">history</a></td>'
                )
            else:
                warn = column in ("checks", "permit_state") and text in (
                    *CHECKS,
                    "missing",
                    "expiring",
                )
                cells.append(
                    f"<td{' class=warn' if warn or (column == 'checks' and text) else ''}>"
                    f"{html.escape(text)}</td>"
                )
        body.append("<tr>" + "".join(cells) + "</tr>")
    parts.append(
        f'<table id="masts-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    points = [
        {k: r.get(k) for k in ("mast_id", "owner", "status", "tenants", "checks", "lon", "lat")}
        for r in _records(picked)
    ]
    parts += [
        f'<script type="application/json" id="masts-data">{_script_json(points)}</script>',
        f'<script type="application/json" id="masts-colours">{_script_json(_STATUS_COLOURS)}'
        "</script>",
        '<script src="/static/leaflet/leaflet.js"></script>',
        f"<script>{_PAGE_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts)


# The page's form sends every filter, "" for "all".
_PAGE_STATUS = "^(" + "|".join(MAST_STATUSES) + ")?$"


@router.get(
    "/scenarios/{name}/masts",
    response_class=HTMLResponse,
    summary="The mast registry's page",
)
def get_registry_page(
    name: ExistingScenario,
    workspace: WorkspaceDep,
    commune: Commune = None,
    owner: Owner = None,
    status: Annotated[str | None, Query(pattern=_PAGE_STATUS)] = None,
    permit: Annotated[str | None, Query(pattern="^(missing|expiring)?$")] = None,
) -> HTMLResponse:
    """Return the registry's page: filters, the last run's checks, a map and the masts.

    It loads nothing from outside the service.
    """
    page = registry_page(
        workspace,
        name,
        commune=commune or None,
        owner=owner or None,
        status=status or None,
        permit=permit or None,
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})
