"""The terminal tables in the language of ``--lang``: Vietnamese by default, English, or both."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from hatangso.cli import print_comparison, print_kpis

DOCUMENT: dict[str, Any] = {
    "indicators": [
        {
            "code": "village_mobile_coverage",
            "label_vi": "Tỷ lệ thôn, tổ dân phố được phủ sóng băng rộng di động (4G trở lên)",
            "label_en": "Villages covered by mobile broadband (4G or better)",
            "value": 0.75,
            "numerator": 3,
            "denominator": 4,
            "target": 1.0,
            "met": False,
        }
    ],
    "inputs": {"villages": {"read": 4, "used": 4, "rejected": 0, "repaired": 0}},
}

ROWS = [
    {
        "year": "baseline",
        "code": "village_mobile_coverage",
        "label_vi": "Tỷ lệ thôn, tổ dân phố được phủ sóng",
        "label_en": "Villages covered",
        "value_a": 0.5,
        "value_b": 0.75,
        "difference": 0.25,
    }
]


def _printed(function: Any, *args: Any, **options: Any) -> str:
    buffer = io.StringIO()
    function(Console(file=buffer, width=200, color_system=None), *args, **options)
    return buffer.getvalue()


def test_the_kpi_table_is_vietnamese_by_default() -> None:
    text = _printed(print_kpis, DOCUMENT)
    assert "Chỉ tiêu" in text and "Mục tiêu" in text and "Chưa đạt" in text
    assert "Dữ liệu đầu vào" in text
    assert "được phủ sóng băng rộng di động" in text
    for english in ("Indicator", "Target", "Villages covered", " no ", "inputs"):
        assert english not in text


def test_the_kpi_table_in_english() -> None:
    text = _printed(print_kpis, DOCUMENT, lang="en")
    assert "Indicator" in text and "Target" in text and " no " in text
    assert "Villages covered by mobile broadband" in text
    for vietnamese in ("Chỉ tiêu", "Mục tiêu", "Chưa đạt", "thôn"):
        assert vietnamese not in text


def test_both_prints_vietnamese_then_english() -> None:
    text = _printed(print_kpis, DOCUMENT, lang="both")
    assert text.index("Chưa đạt") < text.index("Villages covered") < len(text)


@pytest.mark.parametrize(
    ("lang", "says", "not_says"),
    [("vi", ["Năm", "hiện trạng", "được phủ sóng"], ["baseline", "Villages"]),
     ("en", ["year", "baseline", "Villages covered"], ["Năm", "thôn"])],
)  # fmt: skip
def test_the_comparison_table(lang: str, says: list[str], not_says: list[str]) -> None:
    text = _printed(print_comparison, ROWS, lang=lang)
    assert all(s in text for s in says)
    assert not any(s in text for s in not_says)


def test_the_scenario_summary_in_each_language() -> None:
    from types import SimpleNamespace

    from hatangso.scenarios.run import Gap, print_summary

    indicator = {**DOCUMENT["indicators"][0], "target": None, "met": None}
    year = SimpleNamespace(
        year=2025,
        kpis={"indicators": [DOCUMENT["indicators"][0]]},
        gaps=(Gap("village_mobile_coverage", 1, "villages", 400.0, 1),),
    )
    result: Any = SimpleNamespace(
        scenario=SimpleNamespace(title="Tỉnh Thử", generated=None),
        baseline=SimpleNamespace(kpis={"indicators": [indicator]}),
        years=(year,),
        report={},
    )
    vi = _printed(print_summary, result)
    assert "Hiện trạng tính toán" in vi and "Cần thêm 1 thôn, tổ dân phố để đạt 100%" in vi
    assert "more villages" not in vi and "computed now" not in vi
    en = _printed(print_summary, result, lang="en")
    assert "computed now" in en and "1 more villages to reach 100%" in en
    assert "Cần thêm" not in en
    both = _printed(print_summary, result, lang="both")
    assert both.index("Cần thêm") < both.index("1 more villages")
