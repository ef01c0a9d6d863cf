"""The villages that lose all mobile service with the 2G/3G switch-off, on the maps and in the
workbook.

The switch-off province (conftest's ``write_switch_off_province``): four square villages of
1 km about 21 km apart along 21° N, A under a 4G site, B under a 2G site (VNPT), C under a 3G
site (MobiFone), D under a site carrying 2G and 4G (radius model, rural 2G 15 km, 3G 8 km, 4G
5 km: each site serves its own village and no other). By hand: switching 2G off leaves B
without any service; switching 2G and 3G off leaves B and C. A and D keep their 4G and are on
no list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import openpyxl
import pytest
import shapely

from hatangso.scenarios.mapdata import read_payload
from hatangso.scenarios.maps import (
    _SWITCH_OFF_RADIUS,
    _SWITCH_OFF_STYLE,
    MapLayers,
    village_map,
)
from hatangso.scenarios.report import report_rows, write_xlsx
from hatangso.scenarios.run import run_scenario
from hatangso.scenarios.schema import load_scenario
from hatangso.scenarios.switchoff import switch_off_rows, switch_off_sheet

LAYER = "Thôn mất sóng khi tắt 2G / 2G+3G"
POPUP = "Mất hết sóng di động khi tắt"
#: The first step that takes each village's service, by hand.
LOST = {"B": "2G", "C": "2G + 3G"}
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, write_switch_off_province: Callable[..., Path]
) -> Path:
    folder = tmp_path_factory.mktemp("switch-off-map")
    scenario = write_switch_off_province(
        folder,
        name="switch-off-map",
        years=[2025],
    )
    run_scenario(scenario, folder / "out")
    return folder / "out"


def _villages(run: Path, kind: str) -> gpd.GeoDataFrame:
    villages = gpd.read_file(run / "villages.gpkg")
    if kind == "point":
        centres = shapely.centroid(np.asarray(villages.geometry.array))  # squares of 1 km
        villages = villages.set_geometry(gpd.GeoSeries(centres, crs=villages.crs))
    return villages


def _geojson_layers(page: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(style, feature collection)`` of every GeoJSON layer of a Folium page."""
    found = []
    for styler in re.finditer(
        r"function (geo_json_\w+)_styler\(feature\) \{.*?return (\{.*?\});", page, re.DOTALL
    ):
        data = re.search(rf"{styler.group(1)}_add\((\{{.*?\}})\);", page)
        assert data is not None
        found.append((json.loads(styler.group(2)), json.loads(data.group(1))))
    return found


@pytest.mark.parametrize("kind", ["polygon", "point"])
def test_the_map_rings_b_and_c_but_not_the_villages_with_4g(run: Path, kind: str) -> None:
    villages = _villages(run, kind)
    page = village_map(MapLayers(villages=villages), title="t", compact=False)
    ringed = [fc for style, fc in _geojson_layers(page) if style == _SWITCH_OFF_STYLE]
    assert len(ringed) == 1
    shown = {f["properties"]["name"]: f["properties"]["switch_off"] for f in ringed[0]["features"]}
    assert shown == {"Thôn &lt;B&gt;": "2G", "Thôn C": "2G + 3G"}
    # The popup says it, on every village layer (folium writes its aliases as JSON); the layer
    # and its key are named.
    assert json.dumps(POPUP)[1:-1] in page and "Loses all mobile service when off" in page
    assert LAYER in page
    legend = page[page.index('id="hts-legend"') :]
    legend = legend[: legend.index("</div>")]
    assert f"border:3px dotted {_SWITCH_OFF_STYLE['color']}" in legend and LAYER in legend
    # A point village is ringed by a circle of the ring's radius; a polygon by its outline.
    assert (f'"radius": {_SWITCH_OFF_RADIUS}' in page) == (kind == "point")


def test_a_map_without_losses_has_no_ring(run: Path) -> None:
    villages = _villages(run, "polygon")
    kept = villages[villages["village_id"].isin(["A", "D"])]
    page = village_map(MapLayers(villages=kept), title="t", compact=False)
    assert LAYER not in page and "Loses all mobile service" not in page
    assert not [s for s, _ in _geojson_layers(page) if s == _SWITCH_OFF_STYLE]


@pytest.mark.parametrize("kind", ["polygon", "point"])
def test_the_canvas_map_carries_one_byte_per_village(run: Path, kind: str) -> None:
    villages = _villages(run, kind)
    page = village_map(MapLayers(villages=villages), title="t", compact=True)
    found = re.search(r'<script type="application/octet-stream" id="[^"]+">([^<]*)</script>', page)
    assert found is not None
    data = read_payload(found.group(1))
    header, arrays = data["header"], data["arrays"]
    codes = np.asarray(arrays["villages_switch_off"])
    assert codes.dtype == np.uint8
    levels = header["villages"]["switch_off"]["levels"]
    assert levels == ["2G", "2G + 3G"]
    # Each payload point back to its village: the one whose centre is nearest.
    lonlat = shapely.points(np.column_stack([data["villages_lon"], data["villages_lat"]]))
    centres = shapely.centroid(np.asarray(villages.geometry.array))
    _, nearest = shapely.STRtree(centres).query_nearest(lonlat)
    ids = villages["village_id"].to_numpy()[nearest]
    shown = {
        str(i): (levels[c - 1] if c else None) for i, c in zip(ids, codes.tolist(), strict=True)
    }
    assert shown == {"A": None, "B": "2G", "C": "2G + 3G", "D": None}
    fields = {f["column"]: f for f in header["villages"]["fields"]}
    assert fields["switch_off"]["kind"] == "switch_off"
    assert POPUP in fields["switch_off"]["label"]
    # The canvas layer: the Folium ring's colour, weight and radius, from one place.
    assert '"status": "switch_off"' in page
    assert f'"radius": {_SWITCH_OFF_RADIUS}' in page
    assert f'"color": "{_SWITCH_OFF_STYLE["color"]}"' in page
    legend = page[page.index('id="hts-legend"') :]
    assert LAYER in legend[: legend.index("</div>")]


def test_the_run_draws_the_layer_and_lists_b_and_c_in_the_workbook(run: Path) -> None:
    assert LAYER in (run / "map.html").read_text(encoding="utf-8")
    book = openpyxl.load_workbook(run / "report.xlsx")
    assert book.sheetnames == ["Phụ lục", "Mất sóng khi tắt 2G, 3G"]
    rows = [list(r) for r in book["Mất sóng khi tắt 2G, 3G"].iter_rows(values_only=True)]
    # The losses are the baseline's (the report's switch_off block), and the sheet says so.
    assert rows[0][0].endswith("(hiện trạng tính toán, trước các đợt triển khai của kế hoạch)")
    assert rows[1][0] == "Khi tắt 2G: 1 thôn, 200 người."
    assert rows[2][0] == "Khi tắt 2G và 3G: 2 thôn, 500 người."
    header = rows.index(
        [
            "Mã thôn",
            "Tên thôn",
            "Xã",
            "Doanh nghiệp đang phục vụ",
            "Số dân",
            "Mất sóng khi tắt 2G",
            "Mất sóng khi tắt 2G và 3G",
        ]
    )
    assert rows[header + 1 :] == [
        ["B", "Thôn <B>", "Xã Thử", "VNPT", 200, "Có", "Có"],
        ["C", "Thôn C", "Xã Thử", "MobiFone", 300, "Không", "Có"],
    ]


def test_the_sheet_in_english_and_a_cut_list(run: Path) -> None:
    block = json.loads((run / "kpis.json").read_text(encoding="utf-8"))["switch_off"]
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    switch_off_sheet(sheet, block, "en")
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert sheet.title == "Switch-off losses"
    assert ["B", "Thôn <B>", "Xã Thử", "VNPT", 200, "yes", "yes"] in rows
    assert not any("more" in str(r[0]) for r in rows)
    # kpis.json listing fewer villages than a step counts: the sheet says where the rest are.
    cut = {**block, "village_2g3g_off_loss": {**block["village_2g3g_off_loss"], "villages": 9}}
    switch_off_sheet(book.create_sheet(), cut, "vi")
    assert "villages.gpkg" in str(book.worksheets[-1].cell(book.worksheets[-1].max_row, 1).value)
    # A name that reads as a formula stays text.
    evil = {"village_2g_off_loss": {"listed": [{"village_id": "=1+1", "operators": "@x"}]}}
    assert switch_off_rows(evil)[0]["operators"] == "@x"
    switch_off_sheet(book.create_sheet(), evil, "vi")
    assert book.worksheets[-1]["A5"].value == "'=1+1"
    assert book.worksheets[-1]["D5"].value == "'@x"


def test_both_languages_give_both_sheets(run: Path, tmp_path: Path) -> None:
    scenario = load_scenario(run.parent / "scenario.yaml")
    kpis = json.loads((run / "kpis.json").read_text(encoding="utf-8"))
    rows = report_rows(scenario, kpis, {2025: kpis})
    path = write_xlsx(
        scenario, rows, tmp_path / "r.xlsx", lang="both", switch_off=kpis["switch_off"]
    )
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [
        "Phụ lục",
        "Appendix",
        "Mất sóng khi tắt 2G, 3G",
        "Switch-off losses",
    ]
    assert ["C", "Thôn C", "Xã Thử", "MobiFone", 300, "no", "yes"] in [
        list(r) for r in book["Switch-off losses"].iter_rows(values_only=True)
    ]


@pytest.mark.browser
def test_a_village_that_loses_service_in_chromium(run: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (python)")
    villages = _villages(run, "point")
    path = tmp_path / "map.html"
    path.write_text(village_map(MapLayers(villages=villages), title="t", compact=True), "utf-8")
    errors: list[str] = []
    blocked: list[str] = []

    def route(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()  # type: ignore[attr-defined]
        else:
            blocked.append(url)
            route.abort()  # type: ignore[attr-defined]

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            tab = browser.new_page(viewport={"width": 900, "height": 700})
            tab.route("**/*", route)
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.goto(path.as_uri(), wait_until="load", timeout=60_000)
            tab.wait_for_function("window.hatangsoReady === true", timeout=30_000)
            assert LAYER in tab.locator("#hts-legend").inner_text()
            for village_id, step in LOST.items():
                point = villages.geometry[villages["village_id"] == village_id].iloc[0]
                x, y, zoom = tab.evaluate(
                    """([lat, lon]) => {
                      const map = window[Object.keys(window).find(k => k.startsWith('map_'))];
                      map.closePopup();
                      map.setView([lat, lon], 14, {animate: false});
                      const p = map.latLngToContainerPoint([lat, lon]);
                      return [p.x, p.y, map.getZoom()];
                    }""",
                    [point.y, point.x],
                )
                assert zoom == 14  # the page opened without a zoom animation that eats setView
                tab.wait_for_timeout(300)
                drawn = tab.evaluate(
                    """() => Object.keys(window).filter(k => k.startsWith('canvas_points_'))
                      .map(k => window[k]).find(l => l.options.status === 'switch_off')
                      ._drawn.n"""
                )
                assert drawn == 1  # only this village is in view at zoom 14
                tab.mouse.click(x, y)
                popup = tab.locator(".leaflet-popup-content")
                popup.wait_for(timeout=10_000)
                text = popup.inner_text()
                assert POPUP in text
                assert re.search(rf"{POPUP}\s+{re.escape(step)}\s*$", text, re.MULTILINE), text
        finally:
            browser.close()
    assert errors == [] and blocked == []
