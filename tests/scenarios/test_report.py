"""Tests of the scenario report (hatangso.scenarios.report): the appendix's cells, the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest

from hatangso.scenarios.maps import find_outside_loads
from hatangso.scenarios.report import report_rows, write_html, write_xlsx
from hatangso.scenarios.schema import Scenario, Statistic

SCENARIO = Scenario.model_validate(
    {
        "name": "tiny",
        "title": "Tỉnh Thử — kế hoạch",
        "description": "hand-made",
        "scope": {"province": "Tỉnh Thử"},
        "data": {"villages": "v.gpkg"},
        "generated": {"kind": "demo"},
        "years": [2024, 2025],
        "baseline": {"label": "6/2023", "values": {"village_mobile_coverage": 99}},
        "targets": {
            "village_mobile_coverage": {2024: 100, 2025: 100},
            "bts_site_sharing_ratio": {2025: 25},
        },
        "statistics": [
            {
                "code": "speed_mbps",
                "label_vi": "Tốc độ 4G",
                "label_en": "4G speed",
                "unit": "Mb/s",
                "baseline": 40,
                "targets": {2024: 60, 2025: 80},
                "achieved": {2024: 61},
            }
        ],
    }
)


def _kpis(mobile: tuple[int, int], sharing: tuple[int, int], year: int | None) -> dict[str, Any]:
    targets = {} if year is None else SCENARIO.targets_for(year)

    def row(code: str, num: int, den: int) -> dict[str, Any]:
        target = targets.get(code)
        value = num / den
        return {
            "code": code,
            "value": value,
            "numerator": num,
            "denominator": den,
            "target": target,
            "met": None if target is None else value >= target,
        }

    gaps = []
    if year == 2024:
        gaps = [
            {
                "code": "village_mobile_coverage",
                "message": "Cần thêm 3 thôn, tổ dân phố để đạt 100%",
                "message_en": "3 more villages to reach 100%",
            }
        ]
    return {
        "indicators": [
            row("village_mobile_coverage", *mobile),
            row("bts_site_sharing_ratio", *sharing),
        ],
        "gaps": gaps,
    }


# Baseline 195/200 villages (97.5 %), 2024: 197/200 (98.5 %), 2025: 200/200 (100 %).
# Sharing 20/100 (20 %) in every run; target 25 % in 2025 only.
BASE = _kpis((195, 200), (20, 100), None)
YEARS = {2024: _kpis((197, 200), (20, 100), 2024), 2025: _kpis((200, 200), (20, 100), 2025)}


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    rows = report_rows(SCENARIO, BASE, YEARS)
    path = write_xlsx(SCENARIO, rows, tmp_path_factory.mktemp("xlsx") / "report.xlsx", lang="both")
    return openpyxl.load_workbook(path)


def _values(sheet: Any, row: int) -> list[Any]:
    return [c.value for c in sheet[row]]


def test_vietnamese_sheet_layout(workbook: openpyxl.Workbook) -> None:
    assert workbook.sheetnames == ["Phụ lục", "Appendix"]
    sheet = workbook["Phụ lục"]
    assert sheet["A1"].value == "Tỉnh Thử — kế hoạch"
    assert "SINH TỰ ĐỘNG" in sheet["A2"].value  # generated data said plainly
    assert _values(sheet, 4) == [
        "TT", "Chỉ tiêu", "Đơn vị tính", "Hiện trạng (6/2023)", "Hiện trạng tính toán",
        "Mục tiêu 2024", "Kết quả 2024", "Đạt 2024",
        "Mục tiêu 2025", "Kết quả 2025", "Đạt 2025", "Nguồn số liệu",
    ]  # fmt: skip
    assert _values(sheet, 5)[:2] == ["I", "Hạ tầng số (tính từ bản đồ)"]
    # Mobile: baseline 99 (the plan's), computed now 97.5, 2024 target 100 vs 98.5: not met;
    # 2025 target 100 vs 100: met.
    assert _values(sheet, 6) == [
        1,
        "Tỷ lệ thôn, tổ dân phố được phủ sóng băng rộng di động (4G trở lên)",
        "%", 99, 97.5, 100, 98.5, "Chưa đạt", 100, 100.0, "Đạt", "tính từ bản đồ",
    ]  # fmt: skip
    # Sharing: no baseline, no 2024 target (blank cells), 2025: 20 % against 25 %: not met.
    assert _values(sheet, 7) == [
        2, "Tỷ lệ dùng chung vị trí trạm BTS", "%", None, 20.0,
        None, 20.0, None, 25, 20.0, "Chưa đạt", "tính từ bản đồ",
    ]  # fmt: skip
    assert _values(sheet, 8)[:1] == ["II"]
    # The entered statistic: 61 against 60 in 2024 (met); nothing achieved yet in 2025.
    assert _values(sheet, 9) == [
        1, "Tốc độ 4G", "Mb/s", 40, None, 60, 61, "Đạt", 80, None, None, "số liệu nhập",
    ]  # fmt: skip


def test_english_sheet(workbook: openpyxl.Workbook) -> None:
    sheet = workbook["Appendix"]
    assert _values(sheet, 4)[:5] == [
        "No.",
        "Indicator",
        "Unit",
        "Baseline (6/2023)",
        "Computed now",
    ]
    row = _values(sheet, 6)
    assert row[1] == "Villages covered by mobile broadband (4G or better)"
    assert (row[7], row[10]) == ("no", "yes")
    assert _values(sheet, 9)[7] == "yes"


def test_html_table_chart_and_map(tmp_path: Path) -> None:
    rows = report_rows(SCENARIO, BASE, YEARS)
    page = write_html(
        SCENARIO, rows, tmp_path / "report.html", map_href="2025/map.html", lang="both"
    ).read_text(encoding="utf-8")
    assert "<table>" in page and "Chưa đạt" in page and "Appendix (English)" in page
    assert page.count("<svg") == 4  # one chart per geographic indicator and language
    # The computed series of the mobile chart: baseline, 2024, 2025.
    assert page.count('class="computed"') >= 3
    assert "2024: Villages covered by mobile broadband (4G or better) — 3 more villages" in page
    assert '<iframe src="2025/map.html"' in page
    assert "dữ liệu SINH TỰ ĐỘNG" in page
    assert find_outside_loads(page) == []


def test_definitions_of_the_indicators_in_both_languages(
    workbook: openpyxl.Workbook, tmp_path: Path
) -> None:
    # The plans count BTS sharing in two ways; the report says which one its figure is.
    vi_cells = [c for row in workbook["Phụ lục"].iter_rows(values_only=True) for c in row if c]
    en_cells = [c for row in workbook["Appendix"].iter_rows(values_only=True) for c in row if c]
    assert "Định nghĩa chỉ tiêu" in vi_cells
    assert "Definitions" in en_cells
    sharing_vi = next(c for c in vi_cells if str(c).startswith("Tỷ lệ dùng chung vị trí trạm BTS:"))
    assert "chia cho tổng số vị trí trạm" in sharing_vi
    sharing_en = next(
        c
        for c in en_cells
        if str(c).startswith("BTS tower locations shared by two or more operators:")
    )
    assert "divided by all tower locations" in sharing_en
    rows = report_rows(SCENARIO, BASE, YEARS)
    page = write_html(SCENARIO, rows, tmp_path / "report.html", lang="both").read_text(
        encoding="utf-8"
    )
    assert "<h3>Định nghĩa chỉ tiêu</h3>" in page and "<h3>Definitions</h3>" in page
    assert "divided by all tower locations" in page


def _page(tmp_path: Path, lang: str) -> str:
    rows = report_rows(SCENARIO, BASE, YEARS)
    path = write_html(SCENARIO, rows, tmp_path / f"report-{lang}.html", lang=lang)
    return path.read_text(encoding="utf-8")


def test_vietnamese_report_is_vietnamese_throughout(tmp_path: Path) -> None:
    page = _page(tmp_path, "vi")
    assert '<html lang="vi">' in page
    for heading in ("Phụ lục chỉ tiêu", "Tiến độ so với mục tiêu", "Khoảng cách đến mục tiêu"):
        assert f"<h2>{heading}</h2>" in page
    assert (
        "2024: Tỷ lệ thôn, tổ dân phố được phủ sóng băng rộng di động (4G trở lên) — "
        "Cần thêm 3 thôn, tổ dân phố để đạt 100%"
    ) in page
    for english in ("Progress against targets", "Gaps to the targets", "Appendix", "more villages"):
        assert english not in page
    rows = report_rows(SCENARIO, BASE, YEARS)
    book = openpyxl.load_workbook(write_xlsx(SCENARIO, rows, tmp_path / "vi.xlsx", lang="vi"))
    assert book.sheetnames == ["Phụ lục"]
    assert _values(book["Phụ lục"], 4)[:3] == ["TT", "Chỉ tiêu", "Đơn vị tính"]


def test_english_report_is_english_throughout(tmp_path: Path) -> None:
    page = _page(tmp_path, "en")
    assert '<html lang="en">' in page
    for heading in ("Appendix (English)", "Progress against targets", "Gaps to the targets"):
        assert f"<h2>{heading}</h2>" in page
    assert "2024: Villages covered by mobile broadband (4G or better) — 3 more villages" in page
    for vietnamese in ("Tiến độ", "Khoảng cách", "Cần thêm", "Chưa đạt"):
        assert vietnamese not in page
    rows = report_rows(SCENARIO, BASE, YEARS)
    book = openpyxl.load_workbook(write_xlsx(SCENARIO, rows, tmp_path / "en.xlsx", lang="en"))
    assert book.sheetnames == ["Appendix"]
    assert _values(book["Appendix"], 4)[:3] == ["No.", "Indicator", "Unit"]


def test_both_is_vietnamese_then_english(tmp_path: Path) -> None:
    page = _page(tmp_path, "both")
    order = [page.index(h) for h in ("Tiến độ so với mục tiêu", "Progress against targets")]
    assert order == sorted(order)
    assert page.index("Cần thêm 3 thôn") < page.index("3 more villages")


def test_the_vietnamese_sheet_carries_the_vietnamese_description(tmp_path: Path) -> None:
    scenario = SCENARIO.model_copy(
        update={"description": "English text", "description_vi": "Mô tả tiếng Việt"}
    )
    rows = report_rows(scenario, BASE, YEARS)
    book = openpyxl.load_workbook(write_xlsx(scenario, rows, tmp_path / "r.xlsx", lang="both"))
    assert str(book["Phụ lục"]["A2"].value).endswith("Mô tả tiếng Việt")
    assert str(book["Appendix"]["A2"].value).endswith("English text")


def test_chart_titles_wrap_whole_words(tmp_path: Path) -> None:
    import re

    for lang, label in (
        ("vi", "Tỷ lệ thôn, tổ dân phố được phủ sóng băng rộng di động (4G trở lên)"),
        ("en", "Villages covered by mobile broadband (4G or better)"),
    ):
        page = _page(tmp_path, lang)
        titles = re.findall(r'<text class="title"[^>]*>(.*?)</text>', page)
        assert len(titles) == 2
        lines = re.findall(r"<tspan[^>]*>(.*?)</tspan>", titles[0])
        # The whole name, over lines that break between words only.
        assert " ".join(lines) == label
        assert all(len(line) <= 58 for line in lines)
    assert len(re.findall(r"<tspan", titles[0])) >= 1


def test_an_unknown_language_is_refused(tmp_path: Path) -> None:
    from hatangso.geo.errors import InputError

    with pytest.raises(InputError, match="--lang vi"):
        _page(tmp_path, "fr")


def test_the_challenges_table(tmp_path: Path) -> None:
    block = {
        "open": 1,
        "answered": 0,
        "decided": 1,
        "upheld": 1,
        "rejected": 0,
        "list": [
            {
                "challenge_id": "CH-0001",
                "village_id": "<b>V1</b>",
                "operator": "Viettel",
                "tech": "4G",
                "claim": "not_covered",
                "status": "decided",
                "decision": "upheld",
                "due": "2027-02-01",
            }
        ],
    }
    rows = report_rows(SCENARIO, BASE, YEARS)
    page = write_html(
        SCENARIO, rows, tmp_path / "report.html", lang="both", challenges=block
    ).read_text(encoding="utf-8")
    assert "Khiếu nại về hiện trạng phủ sóng" in page and "Challenges to the coverage" in page
    assert "<td>không phủ sóng</td><td>đã quyết định</td><td>chấp nhận</td>" in page
    assert "<td>not covered</td><td>decided</td><td>upheld</td>" in page
    assert "Đang mở 1 · đã trả lời 0 · đã quyết định 1 (chấp nhận 1, bác bỏ 0)" in page
    assert "&lt;b&gt;V1&lt;/b&gt;" in page and "<b>V1</b>" not in page
    plain = write_html(SCENARIO, rows, tmp_path / "plain.html").read_text(encoding="utf-8")
    assert "Khiếu nại" not in plain


def test_the_iot_zones_and_the_missing_measure_of_connections(tmp_path: Path) -> None:
    scenario = SCENARIO.model_copy(
        update={
            "statistics": [
                *SCENARIO.statistics,
                Statistic(
                    code="iot_connections_per_person",
                    label_vi="Số kết nối IoT/người",
                    label_en="IoT connections per person",
                    unit="kết nối/người",
                    targets={2030: 4},
                ),
            ]
        }
    )
    block = {
        "area_share": 0.5,
        "techs": ["NB-IoT", "LTE-M"],
        "zones": [
            {
                "poi_id": "IP-001",
                "kind": "industrial_park",
                "name": "KCN <Thanh Bình>",
                "geometry": "polygon",
                "share": 0.5243,
                "covered": True,
            },
            {
                "poi_id": "PZ-001",
                "kind": "production_zone",
                "name": "Vùng chè",
                "geometry": "point",
                "share": 0.0,
                "covered": False,
            },
        ],
    }
    rows = report_rows(scenario, BASE, YEARS)
    page = write_html(scenario, rows, tmp_path / "r.html", lang="both", iot=block).read_text(
        encoding="utf-8"
    )
    assert "Phủ sóng IoT (NB-IoT, LTE-M) tại khu công nghiệp, vùng sản xuất" in page
    assert "ít nhất 50% diện tích" in page and "Đã phủ 1/2 khu." in page
    assert "<td>52%</td>" in page and "điểm: ngoài vùng phủ" in page
    assert "KCN &lt;Thanh Bình&gt;" in page
    # No figure is made up for the connections: the report says none was measured.
    assert "Số kết nối IoT/người: mục tiêu 4 (2030). Chưa có số liệu đo" in page
    assert "IoT connections per person: target 4 (2030). No measure" in page
    assert find_outside_loads(page) == []
    book = openpyxl.load_workbook(
        write_xlsx(scenario, rows, tmp_path / "r.xlsx", lang="vi", iot=block)
    )
    assert book.sheetnames == ["Phụ lục", "IoT"]
    sheet = book["IoT"]
    assert str(sheet["A2"].value).startswith("Một khu được tính là có phủ sóng IoT")
    assert _values(sheet, 4) == ["Mã", "Tên", "Loại", "Diện tích trong vùng phủ", "Có IoT"]
    assert _values(sheet, 5) == ["IP-001", "KCN <Thanh Bình>", "Khu công nghiệp", 0.5243, "Đạt"]
    assert _values(sheet, 6)[2:] == ["Vùng sản xuất", 0.0, "Chưa đạt"]
    # Nothing about IoT when neither is given.
    plain_rows = report_rows(SCENARIO, BASE, YEARS)
    plain = write_html(SCENARIO, plain_rows, tmp_path / "p.html").read_text(encoding="utf-8")
    assert "IoT" not in plain
