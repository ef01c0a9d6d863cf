"""Input text in the reports: escaped in the HTML pages, never a formula in the workbook."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from hatangso.scenarios.report import report_rows, write_comparison_html, write_html, write_xlsx
from hatangso.scenarios.schema import Scenario

#: Markup and formula payloads, as a hostile input file would carry them.
MARKUP = ("<img src=x onerror=alert(1)>", '"><script>alert(1)</script>')
FORMULAS = ('=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3")


def _scenario() -> Scenario:
    return Scenario.model_validate(
        {
            "name": "xss",
            "title": MARKUP[0],
            "description": MARKUP[1] + " javascript:alert(1)",
            "source": MARKUP[0],
            "scope": {"province": MARKUP[1]},
            "data": {"villages": "v.gpkg"},
            "years": [2025],
            "baseline": {"label": MARKUP[0], "values": {"village_mobile_coverage": 90}},
            "targets": {"village_mobile_coverage": {2025: 100}},
            "statistics": [
                {
                    "code": "speed_mbps",
                    "label_vi": MARKUP[1],
                    "label_en": MARKUP[0],
                    "unit": "Mb/s",
                    "baseline": -5,
                    "targets": {2025: 60},
                    "achieved": {2025: 61},
                }
            ],
        }
    )


def _kpis(num: int) -> dict[str, Any]:
    return {
        "indicators": [
            {
                "code": "village_mobile_coverage",
                "value": num / 10,
                "numerator": num,
                "denominator": 10,
                "target": 1.0,
                "met": num == 10,
            }
        ],
        "gaps": [{"code": "village_mobile_coverage", "message": MARKUP[1]}],
    }


def _assert_escaped(page: str) -> None:
    for payload in MARKUP:
        assert payload not in page
        assert html.escape(payload) in page
    assert "<script" not in page.lower()
    assert "onerror=" not in page.replace("onerror=alert(1)&gt;", "")
    assert 'href="javascript:' not in page and 'src="javascript:' not in page


def test_report_html_escapes_input_text(tmp_path: Path) -> None:
    scenario = _scenario()
    rows = report_rows(scenario, _kpis(9), {2025: _kpis(10)})
    page = write_html(scenario, rows, tmp_path / "report.html", map_href="2025/map.html")
    _assert_escaped(page.read_text(encoding="utf-8"))


def test_comparison_html_escapes_scenario_and_indicator_names(tmp_path: Path) -> None:
    document = {
        "a": MARKUP[0],
        "b": MARKUP[1],
        "rows": [
            {
                "year": MARKUP[0],
                "label_vi": MARKUP[0],
                "label_en": MARKUP[1],
                "value_a": 0.5,
                "value_b": -0.25,
                "difference": None,
            }
        ],
    }
    for lang in ("vi", "en", "both"):
        page = write_comparison_html(document, tmp_path / f"comparison-{lang}.html", lang=lang)
        _assert_escaped(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("payload", FORMULAS)
def test_report_workbook_cells_are_never_formulas(tmp_path: Path, payload: str) -> None:
    scenario = _scenario().model_copy(update={"title": payload, "description": payload})
    rows = report_rows(scenario, _kpis(9), {2025: _kpis(10)})
    book = openpyxl.load_workbook(write_xlsx(scenario, rows, tmp_path / "report.xlsx"))
    for sheet in book.worksheets:
        assert sheet["A1"].value == "'" + payload
        assert sheet["A1"].data_type == "s"
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))
        # Numbers stay numbers: the statistic's baseline of -5 is a negative number.
        numbers = [c.value for r in sheet.iter_rows() for c in r if c.data_type == "n"]
        assert -5 in numbers
