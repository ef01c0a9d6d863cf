"""Hostile input text through the service: escaped in pages, quoted in exports, and the guard.

A village layer whose names, ids and communes carry markup and spreadsheet formulas is
uploaded and assessed; the map page must carry them only escaped, the CSV and XLSX exports
and the rejects only as quoted text. Write requests are refused by their headers, before any
of their body is read, and error messages never show where the workspace lies.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.main import create_app
from hatangso.app.workspace import Workspace

SettingsFor = Callable[..., Settings]

MARKUP = ("<img src=x onerror=alert(1)>", '"><script>alert(1)</script>')
FORMULAS = ('=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3")
JS_URL = "javascript:alert(1)"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _square(x: float, y: float) -> dict[str, Any]:
    ring = [[x - 0.005, y - 0.005], [x + 0.005, y - 0.005], [x + 0.005, y + 0.005]]
    return {"type": "Polygon", "coordinates": [[*ring, [x - 0.005, y + 0.005], ring[0]]]}


def _feature(props: dict[str, Any], geometry: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


# Village A is covered by the site, B is not; the third record has no geometry and is rejected.
VILLAGES = {
    "type": "FeatureCollection",
    "features": [
        _feature(
            {"Mã thôn": MARKUP[0], "Tên thôn": MARKUP[1], "Xã": JS_URL, "Dân số": 500},
            _square(105.8, 22.0),
        ),
        _feature(
            {"Mã thôn": FORMULAS[0], "Tên thôn": FORMULAS[1], "Xã": FORMULAS[2], "Dân số": 300},
            _square(106.0, 22.0),
        ),
        _feature({"Mã thôn": FORMULAS[3], "Tên thôn": FORMULAS[3], "Xã": "x", "Dân số": 1}, None),
    ],
}
_QUOTED = MARKUP[1].replace('"', '""')
SITES = "site_id,operator,lon,lat\n" + f'"{_QUOTED}",viettel,105.8,22.0\n'


@pytest.fixture(scope="module")
def hostile(demo_workspace: Path, settings_for: SettingsFor) -> Iterator[TestClient]:
    """A client whose scenario ``xss`` holds the hostile villages, assessed."""
    with TestClient(create_app(settings_for(demo_workspace))) as client:
        key = {"X-API-Key": "test-key-123"}
        # The record takes no faulty row: the two villages with geometry are uploaded.
        clean = {**VILLAGES, "features": VILLAGES["features"][:2]}
        data = json.dumps(clean).encode("utf-8")
        up = client.post(
            "/api/scenarios/xss/uploads/villages", files={"file": ("v.geojson", data)}, headers=key
        )
        assert up.status_code == 200, up.text
        sites = client.post(
            "/api/scenarios/xss/uploads/sites",
            files={"file": ("s.csv", SITES.encode())},
            headers=key,
        )
        assert sites.status_code == 200, sites.text
        meta = demo_workspace / "xss" / "scenario.json"
        document = json.loads(meta.read_text(encoding="utf-8"))
        meta.write_text(json.dumps({**document, "title": MARKUP[0]}), encoding="utf-8")
        run = client.post("/api/scenarios/xss/coverage", headers=key, json={})
        assert run.status_code == 200, run.text
        yield client


def test_map_page_carries_input_text_only_escaped(hostile: TestClient) -> None:
    page = hostile.get("/map/xss").text
    for payload in MARKUP:
        assert payload not in page
    assert html.escape(MARKUP[0]) in page  # the title, the village id
    assert "alert(1)</script>" not in page and "<script>alert" not in page
    assert f'href="{JS_URL}' not in page and f'src="{JS_URL}' not in page


def _assert_quoted(cells: list[Any]) -> None:
    texts = [c for c in cells if isinstance(c, str)]
    for payload in FORMULAS:
        assert payload not in texts
    assert not [t for t in texts if t.startswith(_FORMULA_STARTS)], texts


def test_csv_export_quotes_formulas(hostile: TestClient) -> None:
    response = hostile.get("/api/scenarios/xss/exports/villages.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    cells = [c for row in rows for c in row]
    _assert_quoted(cells)
    assert "'" + FORMULAS[0] in cells and "'" + FORMULAS[2] in cells


def test_xlsx_export_has_no_formula_cells(hostile: TestClient) -> None:
    response = hostile.get("/api/scenarios/xss/exports/report.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    _assert_quoted([c.value for c in cells])
    assert "'" + FORMULAS[1] in [c.value for c in cells]


def test_a_faulty_row_is_answered_as_json_and_never_stored(
    hostile: TestClient, demo_workspace: Path
) -> None:
    # The upload with the record without geometry is refused whole: its problem comes back
    # as JSON text (no spreadsheet ever holds it) and the stored rejects stay empty.
    data = json.dumps(VILLAGES).encode("utf-8")
    refused = hostile.post(
        "/api/scenarios/xss/uploads/villages",
        files={"file": ("v.geojson", data)},
        headers={"X-API-Key": "test-key-123"},
    )
    assert refused.status_code == 422, refused.text
    assert [p["row"] for p in refused.json()["problems"]] == [3]
    text = (demo_workspace / "xss" / "uploads" / "villages.rejects.csv").read_text("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) <= 1, "only the header: the record holds no faulty row"
    _assert_quoted([c for row in rows for c in row])


# --------------------------------------------------------------------------------------------
# The guard of write requests
# --------------------------------------------------------------------------------------------


def _call(app: Any, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """Call the ASGI app with a body that fails the test if any of it is read."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), body


@pytest.mark.parametrize("path", ["/api/scenarios/demo/coverage", "/api/scenarios/x/plans"])
def test_wrong_key_on_a_large_body_is_401_before_the_body_is_read(
    demo_workspace: Path, settings_for: SettingsFor, path: str
) -> None:
    app = create_app(settings_for(demo_workspace))
    large = {"content-type": "application/json", "content-length": str(200 * 1024 * 1024)}
    status, body = _call(app, "POST", path, {**large, "x-api-key": "wrong"})
    assert status == 401 and b"X-API-Key" in body
    status, _ = _call(app, "POST", path, large)
    assert status == 401
    # With the right key, the declared size alone is refused (413), still unread.
    status, body = _call(app, "POST", path, {**large, "x-api-key": "test-key-123"})
    assert status == 413 and b"HATANGSO_MAX_UPLOAD_MB" in body


def test_large_upload_with_wrong_key_is_401_unread(
    demo_workspace: Path, settings_for: SettingsFor
) -> None:
    app = create_app(settings_for(demo_workspace))
    headers = {
        "content-type": "multipart/form-data; boundary=x",
        "content-length": str(200 * 1024 * 1024),
        "x-api-key": "nope",
    }
    assert _call(app, "POST", "/api/scenarios/demo/uploads/villages", headers)[0] == 401


# --------------------------------------------------------------------------------------------
# Error messages
# --------------------------------------------------------------------------------------------


def test_upload_and_run_errors_do_not_show_the_workspace_path(
    demo_workspace: Path, settings_for: SettingsFor
) -> None:
    root = str(demo_workspace.resolve())
    key = {"X-API-Key": "test-key-123"}
    with TestClient(create_app(settings_for(demo_workspace))) as client:
        upload = client.post(
            "/api/scenarios/xss-paths/uploads/sites",
            files={"file": ("s.csv", b"site_id,lon,lat\nS1,105.8,22\n")},
            headers=key,
        )
        assert upload.status_code == 422
        assert "s.csv" in upload.text
        assert root not in upload.text and str(demo_workspace) not in upload.text
        # A run whose DEM file went bad: the error names it, relative to the workspace.
        good = json.dumps({**VILLAGES, "features": VILLAGES["features"][:2]}).encode("utf-8")
        client.post(
            "/api/scenarios/xss-paths/uploads/villages",
            files={"file": ("v.geojson", good)},
            headers=key,
        )
        stored = demo_workspace / "xss-paths" / "uploads" / "dem.tif"
        stored.write_bytes(b"not a GeoTIFF")
        Workspace(demo_workspace).update_metadata("xss-paths", dem="uploads/dem.tif")
        run = client.post("/api/scenarios/xss-paths/coverage", headers=key, json={})
        assert run.status_code == 422, run.text
        assert root not in run.text and str(demo_workspace) not in run.text
        assert "dem.tif" in run.text


# --------------------------------------------------------------------------------------------
# In a browser
# --------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_no_dialog_fires_in_chromium(
    hostile: TestClient,
    demo_workspace: Path,
    settings_for: SettingsFor,
    tmp_path: Path,
    serve: Any,
    offline_page: Callable[..., Any],
) -> None:
    """The map page and a report of the hostile inputs open in Chromium without a dialog."""
    from hatangso.scenarios.report import report_rows, write_html
    from hatangso.scenarios.schema import Scenario

    scenario = Scenario.model_validate(
        {
            "name": "xss",
            "title": MARKUP[1],
            "description": MARKUP[0],
            "scope": {"province": "x"},
            "data": {"villages": "v.gpkg"},
            "years": [2025],
            "baseline": {"label": MARKUP[0], "values": {"village_mobile_coverage": 90}},
            "targets": {"village_mobile_coverage": {2025: 100}},
        }
    )
    kpis = hostile.get("/api/scenarios/xss/kpis").json()
    report = write_html(
        scenario, report_rows(scenario, kpis, {2025: kpis}), tmp_path / "report.html"
    )

    dialogs: list[str] = []
    with serve(create_app(settings_for(demo_workspace))) as url:
        opened = offline_page(1280, 720, schemes=("data:", "file:"), hosts=("127.0.0.1",))
        page, blocked = opened.page, opened.blocked
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{url}/map/xss", wait_until="load", timeout=60_000)
        page.wait_for_selector("path.leaflet-interactive", timeout=30_000)
        shown: list[str] = []
        for path in page.locator("path.leaflet-interactive").all()[:4]:
            # Open the popups with the hostile names; a click event, since a polygon
            # may lie outside the viewport.
            path.dispatch_event("click")
            page.wait_for_timeout(200)
            shown += page.locator(".leaflet-popup-content").all_inner_texts()
        # The payloads were shown, as text: escaped, not run.
        assert any("<script>" in text or "onerror" in text for text in shown), shown
        page.goto(report.as_uri(), wait_until="load", timeout=60_000)
        page.wait_for_timeout(500)
    assert dialogs == []
    assert blocked == [], blocked
