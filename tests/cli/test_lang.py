"""The terminal tables in the language of ``--lang``: Vietnamese by default, English, or both."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from hatangso.cli import print_comparison, print_disputes, print_kpis, print_registry

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


def test_the_disputes_registry_and_commitments_in_each_language() -> None:
    import pandas as pd

    # 16 disputes, one more than the 15 printed; the first declared, predicted not, measured
    # at 40 % on 50 samples: the basis is the measurement.
    disputes = pd.DataFrame(
        {
            "village_id": [f"V{i}" for i in range(16)],
            "name": "Bản Nà Nọi",
            "operator": "Viettel",
            "declared": True,
            "predicted": False,
            "measured": 0.4,
            "samples": 50,
            "basis": "measured",
        }
    )
    document = {
        "registry": {"masts": 3, "checks": {"station_on_no_mast": 1}},
        "commitments": {
            "as_of": "2025-12-31",
            "by_operator": [
                {
                    "operator": "VNPT",
                    "commitments": 2,
                    "done": 1,
                    "due": 0,
                    "overdue": 1,
                    "on_time": 0.5,
                }
            ],
        },
    }
    vi = _printed(print_disputes, disputes) + _printed(print_registry, document)
    assert "Thôn có tranh chấp (16)" in vi and "đo kiểm" in vi and "40%" in vi
    assert "… và 1 thôn khác trong disputes.csv" in vi
    registry = "Sổ đăng ký cột ăng-ten: 3 cột; kiểm tra (registry_checks.csv): station_on_no_mast 1"
    assert registry in vi
    assert "Cam kết của doanh nghiệp, tính đến 2025-12-31" in vi and "50%" in vi
    for english in ("disputes (", "more in", "mast registry", "commitments as of", "measured"):
        assert english not in vi
    en = _printed(print_disputes, disputes, lang="en") + _printed(
        print_registry, document, lang="en"
    )
    assert "disputes (16)" in en and "… and 1 more in disputes.csv" in en
    assert "mast registry: 3 masts" in en and "commitments as of 2025-12-31" in en
    assert "thôn" not in en.replace("Bản Nà Nọi", "")


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
