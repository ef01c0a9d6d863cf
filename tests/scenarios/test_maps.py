"""Text from the inputs reaches the map page only as text, never as markup or script."""

from __future__ import annotations

import geopandas as gpd
import shapely

from hatangso.scenarios.maps import MapLayers, village_map

EVIL = "<img src=x onerror=alert(1)>"


def _villages() -> gpd.GeoDataFrame:
    squares = shapely.box([105.0, 105.02], [21.0, 21.0], [105.01, 105.03], [21.01, 21.01])
    return gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2"],
            "name": [EVIL, "Bản Nà Mạ"],
            "commune": ["Xa A", EVIL],
            "district": [EVIL, EVIL],
            "covered_mobile": [False, True],
            "mobile_reason": [EVIL, None],
            "population": [120, 80],
            "disputed": [True, False],
        },
        geometry=squares,
        crs=4326,
    )


def test_village_texts_are_escaped_in_the_page() -> None:
    page = village_map(MapLayers(villages=_villages()), title=EVIL)

    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page
    # JSON-escaped markup would still become markup once a popup shows it.
    assert "\\u003cimg" not in page
    assert "Xa A" in page


def test_site_and_tower_tooltips_cannot_leave_their_script_literal() -> None:
    sites = gpd.GeoDataFrame(
        {"site_id": ["S-${alert(1)}`\\"], "operator": ["Viettel"], "tech": ["4G"]},
        geometry=shapely.points([[105.005, 21.005]]),
        crs=4326,
    )
    towers = gpd.GeoDataFrame(
        {"shared": [True], "operators": [f"Viettel;{EVIL}${{x}}"]},
        geometry=shapely.points([[105.025, 21.005]]),
        crs=4326,
    )
    page = village_map(MapLayers(villages=_villages(), sites=sites, towers=towers), title="t")

    assert "${alert(1)}" not in page
    assert "${x}" not in page
    assert "S-&#36;{alert(1)}&#96;&#92;" in page
    assert "<img src=x" not in page


def test_texts_are_not_run_as_templates() -> None:
    # The page is rendered by jinja: a title, KPI label or operator holding template code
    # must reach the page as the text it is, never be evaluated on the server.
    code = "{{ 7*7 }}{% if true %}T{% endif %}"
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": [code], "tech": ["4G"]},
        geometry=shapely.points([[105.005, 21.005]]),
        crs=4326,
    )
    kpis = {"indicators": [{"label_vi": code, "label_en": code, "value": 0.5}]}
    page = village_map(MapLayers(villages=_villages(), sites=sites, kpis=kpis), title=code)

    assert "49T" not in page
    # The title as it is; labels with jinja's openers as entities (the same text on screen).
    assert page.count(code) >= 2
    assert page.count("&#123;{ 7*7 }}&#123;% if true %}T&#123;% endif %}") >= 3


def test_the_kpi_panel_heads_the_value_and_the_met_mark_apart() -> None:
    # 1 of 2 villages covered against 100 %: the panel's value column reads 50.0 %, headed
    # "Giá trị" (value); "Đạt" (met) heads the ✘, not the value.
    kpis = {
        "indicators": [
            {
                "code": "village_mobile_coverage",
                "label_vi": "Tỷ lệ thôn được phủ sóng",
                "label_en": "Villages covered",
                "value": 0.5,
                "target": 1.0,
                "met": False,
            }
        ]
    }
    page = village_map(MapLayers(villages=_villages(), kpis=kpis), title="t")
    panel = page[page.index('id="hts-kpis"') :]
    panel = panel[: panel.index("</table>")]
    heads = panel[: panel.index("</tr>")]
    assert (
        heads.index('<span class="vi">Giá trị</span>')
        < heads.index('<span class="vi">Mục tiêu</span>')
        < heads.index('<span class="vi">Đạt</span><span class="en">Met</span>')
    )
    assert "<td>50.0%</td><td>100%</td><td>✘</td>" in panel


def test_the_popup_names_the_basis_in_vietnamese() -> None:
    villages = _villages().assign(mobile_basis=["measured", "predicted"])
    page = village_map(MapLayers(villages=villages), title="t")
    # The page's GeoJSON writes non-ASCII letters as \\u escapes.
    assert '"mobile_basis": "\\u0111o ki\\u1ec3m (measured)"' in page
    assert '"mobile_basis": "d\\u1ef1 b\\u00e1o (predicted)"' in page
    assert '"mobile_basis": "measured"' not in page
