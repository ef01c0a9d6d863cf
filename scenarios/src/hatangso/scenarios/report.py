"""The scenario report, in the layout of the plans' appendix: ``report.xlsx`` and ``report.html``.

One row per indicator: TT (number), the indicator in Vietnamese, its unit, the plan's baseline,
the value computed on the base data, then for each year the target, the computed value and
whether it is met. Section I holds the geographic indicators (computed from the maps), section
II the statistics the user enters (their "computed" value is the value entered as achieved).
The report is in one language, ``vi`` (the default) or ``en``, or in ``both``: the workbook then
has a Vietnamese sheet (``Phụ lục``) and the same in English (``Appendix``), and ``report.html``
the Vietnamese part followed by the English one. ``report.html`` carries the table, an inline SVG
chart of progress against the targets, the gaps and the map of the uncovered villages of the
last year (``<year>/map.html``, a local file). Nothing is loaded from outside.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hatangso.coverage.kpis import INDICATORS
from hatangso.geo.errors import InputError, Problem
from hatangso.geo.outputs import atomic_write, spreadsheet_cell, write_json, write_text
from hatangso.scenarios.speed_report import speed_html

if TYPE_CHECKING:
    from hatangso.scenarios.run import ScenarioResult
    from hatangso.scenarios.schema import Scenario, Statistic

__all__ = [
    "IOT_CONNECTIONS_CODE",
    "LANGS",
    "ReportRow",
    "iot_html",
    "languages",
    "registry_html",
    "report_rows",
    "write_comparison_html",
    "write_html",
    "write_reports",
    "write_xlsx",
]

_MET = {"vi": ("Đạt", "Chưa đạt"), "en": ("yes", "no")}
_HEAD = {
    "vi": {
        "tt": "TT",
        "indicator": "Chỉ tiêu",
        "unit": "Đơn vị tính",
        "baseline": "Hiện trạng ({label})",
        "computed_now": "Hiện trạng tính toán",
        "target": "Mục tiêu {year}",
        "computed": "Kết quả {year}",
        "met": "Đạt {year}",
        "source": "Nguồn số liệu",
        "geo": "Hạ tầng số (tính từ bản đồ)",
        "stats": "Sử dụng dịch vụ (số liệu thống kê do người dùng nhập)",
        "map": "tính từ bản đồ",
        "entered": "số liệu nhập",
        "generated": (
            "Dữ liệu hạ tầng trong báo cáo này là dữ liệu SINH TỰ ĐỘNG, không phải dữ liệu thực."
        ),
        "sheet": "Phụ lục",
        "appendix": "Phụ lục chỉ tiêu",
        "progress": "Tiến độ so với mục tiêu",
        "gaps": "Khoảng cách đến mục tiêu",
        "legend_computed": "━ kết quả tính toán",
        "legend_plan": "┅ kế hoạch: hiện trạng và mục tiêu",
        "uncovered": "Thôn, tổ dân phố chưa được phủ sóng ({year})",
        "open_map": "mở bản đồ",
        "baseline_map": "bản đồ hiện trạng",
        "map_title": "bản đồ các thôn, tổ dân phố chưa được phủ sóng",
        "comparison": "So sánh {a} và {b}",
        "year": "Năm",
        "difference": "Chênh lệch (điểm %)",
        "baseline_year": "hiện trạng",
    },
    "en": {
        "tt": "No.",
        "indicator": "Indicator",
        "unit": "Unit",
        "baseline": "Baseline ({label})",
        "computed_now": "Computed now",
        "target": "Target {year}",
        "computed": "Computed {year}",
        "met": "Met {year}",
        "source": "Source",
        "geo": "Digital infrastructure (computed from the maps)",
        "stats": "Use of services (statistics entered by the user)",
        "map": "computed",
        "entered": "entered",
        "generated": "The infrastructure data of this report are GENERATED, not real data.",
        "sheet": "Appendix",
        "appendix": "Appendix (English)",
        "progress": "Progress against targets",
        "gaps": "Gaps to the targets",
        "legend_computed": "━ computed",
        "legend_plan": "┅ plan: baseline and targets",
        "uncovered": "Uncovered villages ({year})",
        "open_map": "open the map",
        "baseline_map": "baseline map",
        "map_title": "map of uncovered villages",
        "comparison": "{a} vs {b}",
        "year": "year",
        "difference": "difference (points)",
        "baseline_year": "baseline",
    },
}


#: English for the units the plans use, when a statistic gives no ``unit_en``.
_UNITS_EN = {
    "thuê bao/100 dân": "per 100 people",
    "kết nối/người": "per person",
}


@dataclass(frozen=True)
class ReportRow:
    """One indicator of the report; percentages (0-100) for shares, else the entered unit.

    Attributes
    ----------
    section
        ``geo`` (computed from the maps) or ``stats`` (entered).
    tt
        Row number within its section.
    baseline
        The plan's baseline.
    computed_now
        The value computed on the base data (geo only).
    targets, computed, met
        Per year.
    gaps
        Per year, the gap message when the target is missed (geo only), in the language of
        the ``kpis.json`` documents.
    gaps_en
        The same in English.
    """

    section: str
    tt: int
    code: str
    label_vi: str
    label_en: str
    unit: str
    baseline: float | None
    computed_now: float | None
    unit_en: str | None = None
    targets: dict[int, float | None] = field(default_factory=dict)
    computed: dict[int, float | None] = field(default_factory=dict)
    met: dict[int, bool | None] = field(default_factory=dict)
    gaps: dict[int, str] = field(default_factory=dict)
    gaps_en: dict[int, str] = field(default_factory=dict)

    def label(self, lang: str) -> str:
        """Return the indicator's name in `lang` (``vi`` or ``en``)."""
        return self.label_vi if lang == "vi" else self.label_en

    def gap(self, year: int, lang: str) -> str | None:
        """Return the gap message of `year` in `lang`, or None when the target is met."""
        if lang == "en":
            return self.gaps_en.get(year, self.gaps.get(year))
        return self.gaps.get(year)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 2)


def report_rows(
    scenario: Scenario,
    baseline_kpis: Mapping[str, Any],
    yearly_kpis: Mapping[int, Mapping[str, Any]],
) -> list[ReportRow]:
    """Build the report's rows: the plan's geographic indicators, then its statistics.

    A geographic indicator is listed when the scenario gives it a target or a baseline; its
    values come from the ``kpis.json`` documents (shares, shown as percentages).
    """
    codes = [c for c in INDICATORS if c in scenario.targets or c in scenario.baseline.values]
    now = {i["code"]: i for i in baseline_kpis["indicators"]}
    per_year = {y: {i["code"]: i for i in doc["indicators"]} for y, doc in yearly_kpis.items()}
    gap_text = {
        y: {g["code"]: g["message"] for g in doc.get("gaps", [])} for y, doc in yearly_kpis.items()
    }
    gap_en = {
        y: {g["code"]: g.get("message_en", g["message"]) for g in doc.get("gaps", [])}
        for y, doc in yearly_kpis.items()
    }
    rows: list[ReportRow] = []
    for tt, code in enumerate(codes, start=1):
        ind = INDICATORS[code]
        rows.append(
            ReportRow(
                section="geo",
                tt=tt,
                code=code,
                label_vi=ind.label_vi,
                label_en=ind.label_en,
                unit="%",
                baseline=scenario.baseline.values.get(code),
                computed_now=_pct(now[code]["value"]) if code in now else None,
                targets={y: scenario.targets.get(code, {}).get(y) for y in scenario.years},
                computed={
                    y: _pct(per_year[y][code]["value"]) if code in per_year.get(y, {}) else None
                    for y in scenario.years
                },
                met={
                    y: per_year[y][code]["met"] if code in per_year.get(y, {}) else None
                    for y in scenario.years
                },
                gaps={y: gap_text[y][code] for y in scenario.years if code in gap_text.get(y, {})},
                gaps_en={y: gap_en[y][code] for y in scenario.years if code in gap_en.get(y, {})},
            )
        )
    for tt, stat in enumerate(scenario.statistics, start=1):
        rows.append(
            ReportRow(
                section="stats",
                tt=tt,
                code=stat.code,
                label_vi=stat.label_vi,
                label_en=stat.label_en,
                unit=stat.unit,
                unit_en=stat.unit_en or _UNITS_EN.get(stat.unit),
                baseline=stat.baseline,
                computed_now=None,
                targets={y: stat.targets.get(y) for y in scenario.years},
                computed={y: stat.achieved.get(y) for y in scenario.years},
                met={y: stat.met(y) for y in scenario.years},
            )
        )
    return rows


def _header(scenario: Scenario, lang: str) -> list[str]:
    head = _HEAD[lang]
    cells = [
        head["tt"],
        head["indicator"],
        head["unit"],
        head["baseline"].format(label=scenario.baseline.label),
        head["computed_now"],
    ]
    for year in scenario.years:
        cells += [
            head["target"].format(year=year),
            head["computed"].format(year=year),
            head["met"].format(year=year),
        ]
    return [*cells, head["source"]]


def _row_cells(row: ReportRow, years: Sequence[int], lang: str) -> list[Any]:
    yes, no = _MET[lang]
    cells: list[Any] = [
        row.tt,
        row.label_vi if lang == "vi" else row.label_en,
        row.unit if lang == "vi" else (row.unit_en or row.unit),
        row.baseline,
        row.computed_now,
    ]
    for year in years:
        met = row.met.get(year)
        cells += [
            row.targets.get(year),
            row.computed.get(year),
            None if met is None else (yes if met else no),
        ]
    head = _HEAD[lang]
    return [*cells, head["map"] if row.section == "geo" else head["entered"]]


_ROMAN = {"geo": "I", "stats": "II"}


def _table(scenario: Scenario, rows: Sequence[ReportRow], lang: str) -> list[list[Any]]:
    """Lay out the appendix table as rows of cells: header, section headings, indicator rows."""
    table: list[list[Any]] = [_header(scenario, lang)]
    for section in ("geo", "stats"):
        members = [r for r in rows if r.section == section]
        if not members:
            continue
        table.append([_ROMAN[section], _HEAD[lang][section]])
        table += [_row_cells(r, scenario.years, lang) for r in members]
    return table


def _definitions(rows: Sequence[ReportRow], lang: str) -> list[tuple[str, str]]:
    """``(label, definition)`` of each geographic indicator of the report, in `lang`."""
    out = []
    for row in rows:
        if row.section == "geo":
            ind = INDICATORS[row.code]
            if lang == "vi":
                out.append((ind.label_vi, ind.definition_vi))
            else:
                out.append((ind.label_en, ind.definition_en))
    return out


_DEFINITIONS_HEADING = {"vi": "Định nghĩa chỉ tiêu", "en": "Definitions"}

#: The values of ``--lang``.
LANGS = ("vi", "en", "both")


def languages(lang: str) -> tuple[str, ...]:
    """Return the languages of a report in `lang`: ``both`` is Vietnamese, then English.

    Raises
    ------
    InputError
        `lang` is not ``vi``, ``en`` or ``both``.
    """
    if lang not in LANGS:
        raise InputError(
            Problem(
                file="options",
                column="lang",
                message=f"unknown language {lang!r}",
                fix="use --lang vi, --lang en or --lang both",
            )
        )
    return ("vi", "en") if lang == "both" else (lang,)


def _description(scenario: Scenario, lang: str) -> str:
    text = scenario.description_vi if lang == "vi" and scenario.description_vi else None
    return " ".join((text or scenario.description).split())


def write_xlsx(
    scenario: Scenario,
    rows: Sequence[ReportRow],
    path: Path,
    *,
    lang: str = "vi",
    iot: Mapping[str, Any] | None = None,
    switch_off: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``report.xlsx``: sheet ``Phụ lục`` (Vietnamese), ``Appendix`` (English) or both.

    Row 1 is the title, row 2 the description (and the generated-data warning), row 4 the
    header, then section headings (I, II) and one row per indicator; below the table, the
    definition of each geographic indicator. `lang` is ``vi``, ``en`` or ``both``. `iot`
    (``kpis.json``'s ``iot_zones``) adds the sheet ``IoT``: each industrial park and
    production zone, its share of area within IoT reach and the answer, in the first
    language. `switch_off` (``kpis.json``'s ``switch_off``) adds, per language, the sheet of
    the villages that lose their mobile service when 2G, then 2G and 3G, are switched off
    (``Mất sóng khi tắt 2G, 3G``, :func:`hatangso.scenarios.switchoff.switch_off_sheet`).
    """
    # openpyxl is imported here, not with the module: the command line asks this module for
    # its languages at the end of every run.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    red, green = Font(color="C00000"), Font(color="007A33")
    for index, one in enumerate(languages(lang)):
        sheet = book.active if index == 0 else book.create_sheet()
        assert sheet is not None
        sheet.title = _HEAD[one]["sheet"]
        sheet["A1"] = spreadsheet_cell(scenario.title)
        sheet["A1"].font = Font(bold=True, size=13)
        note = _description(scenario, one)
        if scenario.generated is not None:
            note = _HEAD[one]["generated"] + " " + note
        sheet["A2"] = spreadsheet_cell(note)
        table = _table(scenario, rows, one)
        for r, cells in enumerate(table, start=4):
            for c, value in enumerate(cells, start=1):
                cell = sheet.cell(row=r, column=c, value=spreadsheet_cell(value))
                if r == 4:
                    cell.font, cell.fill = bold, fill
                    cell.alignment = Alignment(wrap_text=True, vertical="center")
                elif len(cells) == 2:
                    cell.font = bold
                elif isinstance(value, float):
                    cell.number_format = "0.00"
                if value in _MET[one]:
                    cell.font = green if value == _MET[one][0] else red
        first = 4 + len(table) + 1
        definitions = _definitions(rows, one)
        if definitions:
            sheet.cell(row=first, column=1, value=_DEFINITIONS_HEADING[one]).font = bold
            for r, (label, text) in enumerate(definitions, start=first + 1):
                sheet.cell(row=r, column=2, value=spreadsheet_cell(f"{label}: {text}"))
        sheet.column_dimensions["B"].width = 62
        for c in range(3, len(table[0]) + 1):
            sheet.column_dimensions[get_column_letter(c)].width = 13
        sheet.freeze_panes = "C5"
    if iot is not None:
        _iot_sheet(book.create_sheet("IoT"), iot, languages(lang)[0])
    if switch_off:
        from hatangso.scenarios.switchoff import switch_off_sheet

        for one in languages(lang):
            switch_off_sheet(book.create_sheet(), switch_off, one)
    return atomic_write(path, book.save)


def _iot_sheet(sheet: Any, block: Mapping[str, Any], lang: str) -> None:
    """Fill a sheet with the IoT zones of ``kpis.json``'s ``iot_zones`` (see :func:`iot_html`)."""
    text = _IOT_TEXT[lang]
    yes, no = _MET[lang]
    zones = list(block.get("zones", []))
    covered = sum(bool(z.get("covered")) for z in zones)
    sheet["A1"] = text["heading"]
    sheet["A2"] = text["rule"].format(
        share=float(block.get("area_share", 0.5)), covered=covered, total=len(zones)
    )
    sheet.append([])
    sheet.append(list(text["columns"]))
    for zone in zones:
        kind = str(zone.get("kind", ""))
        sheet.append(
            [
                spreadsheet_cell(str(zone.get("poi_id", ""))),
                spreadsheet_cell(str(zone.get("name", ""))),
                text["kinds"].get(kind, kind),
                round(float(zone.get("share") or 0.0), 4),
                yes if zone.get("covered") else no,
            ]
        )


def _wrap(text: str, width: int) -> list[str]:
    """Break `text` into lines of at most `width` characters, at spaces only.

    A word longer than `width` stands alone on its line, whole: nothing is cut mid-word.
    """
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _svg_chart(scenario: Scenario, row: ReportRow, baseline_label: str, *, lang: str = "vi") -> str:
    """Draw an inline SVG line chart: computed values (solid), targets (dashed), in %.

    The title is the indicator's name in `lang`, wrapped over as many lines as it needs.
    """
    title = _wrap(row.label(lang), 58)
    width, left, bottom = 360, 38, 28
    top = 10 + 13 * len(title)
    height = 166 + top
    labels = [baseline_label, *(str(y) for y in scenario.years)]
    computed = [row.computed_now, *(row.computed.get(y) for y in scenario.years)]
    targets = [row.baseline, *(row.targets.get(y) for y in scenario.years)]
    values = [v for v in (*computed, *targets) if v is not None]
    low = min(0.0, *values) if values else 0.0
    high = max(100.0, *values) if values else 100.0
    step = (width - left - 12) / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return left + i * step

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - low) / (high - low or 1.0))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(row.label(lang))}">',
        '<text class="title" x="4" y="14" font-size="11" font-weight="bold">'
        + "".join(
            f'<tspan x="4" dy="{0 if i == 0 else 13}">{html.escape(line)}</tspan>'
            for i, line in enumerate(title)
        )
        + "</text>",
    ]
    for tick in (0, 25, 50, 75, 100):
        if low <= tick <= high:
            parts.append(
                f'<line x1="{left}" x2="{width - 8}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                f'stroke="#ddd"/><text x="4" y="{y(tick) + 4:.1f}" font-size="10">{tick}%</text>'
            )
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - 8}" font-size="10" text-anchor="middle">'
            f"{html.escape(label)}</text>"
        )
    for series, colour, dash, name in (
        (targets, "#d7301f", "5,3", "target"),
        (computed, "#2171b5", "", "computed"),
    ):
        points = [(x(i), y(v)) for i, v in enumerate(series) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(
                f'<polyline class="{name}" points="{path}" fill="none" stroke="{colour}" '
                f'stroke-width="2" stroke-dasharray="{dash}"/>'
            )
        parts += [
            f'<circle class="{name}" cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>'
            for px, py in points
        ]
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #bbb;padding:3px 6px;text-align:right}
th{background:#ddebf7} td.l{text-align:left} tr.section td{font-weight:bold;background:#f3f3f3}
.yes{color:#007a33;font-weight:bold} .no{color:#c00000;font-weight:bold}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:.6em}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.legend span{margin-right:1em}
iframe{width:100%;height:640px;border:1px solid #bbb}
"""


def _cell_html(value: Any, lang: str) -> str:
    if value is None:
        return "<td></td>"
    if value in _MET[lang]:
        return f'<td class="{"yes" if value == _MET[lang][0] else "no"}">{html.escape(value)}</td>'
    if isinstance(value, float):
        return f"<td>{value:,.2f}</td>"
    if isinstance(value, int):
        return f"<td>{value}</td>"
    return f'<td class="l">{html.escape(str(value))}</td>'


def _table_html(scenario: Scenario, rows: Sequence[ReportRow], lang: str) -> str:
    table = _table(scenario, rows, lang)
    out = ["<table><thead><tr>"]
    out += [f"<th>{html.escape(str(h))}</th>" for h in table[0]]
    out.append("</tr></thead><tbody>")
    for cells in table[1:]:
        if len(cells) == 2:
            out.append(
                f'<tr class="section"><td class="l">{html.escape(str(cells[0]))}</td>'
                f'<td class="l" colspan="{len(table[0]) - 1}">{html.escape(cells[1])}</td></tr>'
            )
        else:
            out.append("<tr>" + "".join(_cell_html(v, lang) for v in cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _definitions_html(rows: Sequence[ReportRow], lang: str) -> str:
    items = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(text)}</dd>"
        for label, text in _definitions(rows, lang)
    )
    return f"<h3>{_DEFINITIONS_HEADING[lang]}</h3><dl>{items}</dl>" if items else ""


_CHALLENGE_TEXT = {
    "vi": {
        "heading": "Khiếu nại về hiện trạng phủ sóng",
        "counts": "Đang mở {open} · đã trả lời {answered} · đã quyết định {decided} "
        "(chấp nhận {upheld}, bác bỏ {rejected})",
        "columns": (
            "Mã",
            "Thôn",
            "Nhà mạng",
            "Công nghệ",
            "Nội dung",
            "Trạng thái",
            "Quyết định",
            "Hạn trả lời",
        ),
        "values": {
            "covered": "có phủ sóng",
            "not_covered": "không phủ sóng",
            "open": "đang mở",
            "answered": "đã trả lời",
            "decided": "đã quyết định",
            "upheld": "chấp nhận",
            "rejected": "bác bỏ",
        },
    },
    "en": {
        "heading": "Challenges to the coverage status",
        "counts": "Open {open} · answered {answered} · decided {decided} "
        "(upheld {upheld}, rejected {rejected})",
        "columns": (
            "Id",
            "Village",
            "Operator",
            "Tech",
            "Claim",
            "Status",
            "Decision",
            "Answer due",
        ),
        "values": {"not_covered": "not covered"},
    },
}


def _challenges_html(block: Mapping[str, Any], lang: str) -> str:
    """Return the section of the challenges (``kpis.json``'s ``challenges``) in `lang`."""
    text = _CHALLENGE_TEXT[lang]
    values: Mapping[str, str] = text["values"]  # type: ignore[assignment]
    counts = str(text["counts"]).format(
        **{k: block.get(k, 0) for k in ("open", "answered", "decided", "upheld", "rejected")}
    )
    keys = ("challenge_id", "village_id", "operator", "tech", "claim", "status", "decision", "due")
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in text["columns"])
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(values.get(str(item.get(k) or ''), str(item.get(k) or '')))}</td>"
            for k in keys
        )
        + "</tr>"
        for item in block.get("list", [])
    )
    return (
        f'<h2 class="challenges">{html.escape(str(text["heading"]))}</h2>'
        f"<p>{html.escape(counts)}</p>"
        f'<table class="challenges"><tr>{head}</tr>{body}</table>'
    )


_IOT_TEXT: dict[str, dict[str, Any]] = {
    "vi": {
        "heading": "Phủ sóng IoT (NB-IoT, LTE-M) tại khu công nghiệp, vùng sản xuất",
        "rule": (
            "Một khu được tính là có phủ sóng IoT khi ít nhất {share:.0%} diện tích của khu nằm "
            "trong vùng phủ của trạm có NB-IoT hoặc LTE-M; khu cho dưới dạng điểm: khi điểm "
            "nằm trong vùng phủ. Đã phủ {covered}/{total} khu."
        ),
        "columns": ("Mã", "Tên", "Loại", "Diện tích trong vùng phủ", "Có IoT"),
        "kinds": {"industrial_park": "Khu công nghiệp", "production_zone": "Vùng sản xuất"},
        "point": "điểm: {answer}",
        "in": "trong vùng phủ",
        "out": "ngoài vùng phủ",
        "no_measure": (
            "{label}: mục tiêu {targets}. Chưa có số liệu đo: số kết nối IoT không tính được "
            "từ bản đồ hạ tầng; chỉ tiêu này cần số liệu thống kê của doanh nghiệp, nhập vào "
            "mục achieved của kịch bản."
        ),
    },
    "en": {
        "heading": "IoT coverage (NB-IoT, LTE-M) of industrial parks and production zones",
        "rule": (
            "A zone counts as covered when at least {share:.0%} of its area lies within reach "
            "of a site offering NB-IoT or LTE-M; a zone given as a point, when the point is "
            "within reach. {covered} of {total} zones covered."
        ),
        "columns": ("Id", "Name", "Kind", "Area within reach", "IoT"),
        "kinds": {"industrial_park": "Industrial park", "production_zone": "Production zone"},
        "point": "point: {answer}",
        "in": "within reach",
        "out": "out of reach",
        "no_measure": (
            "{label}: target {targets}. No measure: IoT connections cannot be computed from "
            "the infrastructure maps; they need the operators' statistics, entered as the "
            "scenario's achieved values."
        ),
    },
}

#: The plan's statistic of IoT connections per person (Bac Kan: 4 by 2030).
IOT_CONNECTIONS_CODE = "iot_connections_per_person"


def iot_html(
    block: Mapping[str, Any] | None,
    lang: str,
    *,
    connections: Statistic | None = None,
) -> str:
    """Return the report's part on the IoT zones (``kpis.json``'s ``iot_zones``) in `lang`.

    Lists every industrial park and production zone with its share of area within IoT reach
    and the answer. `connections` is the scenario's statistic of IoT connections per person:
    when it has no value entered, the part says that no measure exists rather than showing
    a figure. Empty when there is neither.
    """
    text = _IOT_TEXT["en" if lang == "en" else "vi"]
    yes, no = _MET["en" if lang == "en" else "vi"]
    parts: list[str] = []
    if block is not None:
        zones = list(block.get("zones", []))
        covered = sum(bool(z.get("covered")) for z in zones)
        rule = text["rule"].format(
            share=float(block.get("area_share", 0.5)), covered=covered, total=len(zones)
        )
        head = "".join(f"<th>{html.escape(c)}</th>" for c in text["columns"])
        body = []
        for zone in zones:
            share = float(zone.get("share") or 0.0)
            if zone.get("geometry") == "point":
                shown = text["point"].format(answer=text["in"] if share > 0 else text["out"])
            else:
                shown = f"{share:.0%}"
            ok = bool(zone.get("covered"))
            kind = str(zone.get("kind", ""))
            body.append(
                f'<tr><td class="l">{html.escape(str(zone.get("poi_id", "")))}</td>'
                f'<td class="l">{html.escape(str(zone.get("name", "")))}</td>'
                f'<td class="l">{html.escape(text["kinds"].get(kind, kind))}</td>'
                f"<td>{html.escape(shown)}</td>"
                f'<td class="{"yes" if ok else "no"}">{yes if ok else no}</td></tr>'
            )
        parts.append(
            f"<p>{html.escape(rule)}</p>"
            f'<table class="iot"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            "</table>"
        )
    if connections is not None and not connections.achieved:
        targets = ", ".join(f"{v:g} ({y})" for y, v in sorted(connections.targets.items()))
        label = connections.label_vi if lang != "en" else connections.label_en
        parts.append(
            '<p class="warn">'
            + html.escape(text["no_measure"].format(label=label, targets=targets or "—"))
            + "</p>"
        )
    if not parts:
        return ""
    return f'<h2 id="iot-{lang}">{html.escape(text["heading"])}</h2>' + "".join(parts)


def write_html(
    scenario: Scenario,
    rows: Sequence[ReportRow],
    path: Path,
    *,
    map_href: str | None = None,
    lang: str = "vi",
    registry: Mapping[str, Any] | None = None,
    registry_folder: str = "",
    challenges: Mapping[str, Any] | None = None,
    iot: Mapping[str, Any] | None = None,
    switch_off: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``report.html``: the table, definitions, charts, gaps and the map, in `lang`.

    `lang` is ``vi``, ``en`` or ``both`` (the Vietnamese part, then the English one; the
    map once, at the end). `map_href` is a path relative to the report (``2025/map.html``)
    shown in an iframe. `registry` is the ``kpis.json`` of the run whose mast registry checks
    and commitments the report shows (its files in `registry_folder`, e.g. ``2025/``), with
    its download speeds (measured per commune, covered villages predicted below the target).
    `challenges` (``kpis.json``'s entry of the baseline) adds the table
    of the challenges to villages' status. `iot` (``kpis.json``'s ``iot_zones`` of the last
    run) adds the IoT zones and their covered shares (:func:`iot_html`), with the note on
    the scenario's IoT connections per person. `switch_off` (``kpis.json``'s entry of the baseline)
    lists the villages that lose their mobile service when 2G, then 2G and 3G, are switched off.
    """
    langs = languages(lang)
    title = html.escape(scenario.title)
    parts = [
        f'<!DOCTYPE html><html lang="{langs[0]}"><head><meta charset="utf-8">'
        f"<title>{title}</title>",
        f"<style>{_CSS}</style></head><body><h1>{title}</h1>",
    ]
    if scenario.generated is not None:
        warnings = "<br>".join(html.escape(_HEAD[one]["generated"]) for one in langs)
        parts.append(f'<p class="warn">{warnings}</p>')
    for one in langs:
        parts.append(f'<p lang="{one}">{html.escape(_description(scenario, one))}</p>')
    if scenario.source:
        parts.append(f"<p><em>{html.escape(scenario.source)}</em></p>")
    for one in langs:
        head = _HEAD[one]
        parts.append(
            f'<section lang="{one}"><h2>{html.escape(head["appendix"])}</h2>'
            + _table_html(scenario, rows, one)
        )
        parts.append(_definitions_html(rows, one))
        parts.append(f"<h2>{html.escape(head['progress'])}</h2>")
        parts.append(
            f'<p class="legend"><span style="color:#2171b5">{html.escape(head["legend_computed"])}'
            f'</span><span style="color:#d7301f">{html.escape(head["legend_plan"])}</span></p>'
        )
        label = scenario.baseline.label
        charts = [_svg_chart(scenario, r, label, lang=one) for r in rows if r.section == "geo"]
        parts.append('<div class="charts">' + "".join(charts) + "</div>")
        gap_items = [
            f"<li>{year}: {html.escape(r.label(one))} — {html.escape(text)}</li>"
            for r in rows
            for year in sorted(r.gaps)
            if (text := r.gap(year, one)) is not None
        ]
        if gap_items:
            parts.append(f"<h2>{html.escape(head['gaps'])}</h2><ul>" + "".join(gap_items) + "</ul>")
        if registry is not None:
            parts.append(registry_html(registry, one, folder=registry_folder))
            parts.append(speed_html(registry, one))
        if challenges is not None:
            parts.append(_challenges_html(challenges, one))
        connections = next((s for s in scenario.statistics if s.code == IOT_CONNECTIONS_CODE), None)
        parts.append(iot_html(iot, one, connections=connections))
        if switch_off:
            from hatangso.scenarios.switchoff import switch_off_html

            parts.append(switch_off_html(switch_off, one))
        parts.append("</section>")
    if map_href is not None:
        href = html.escape(map_href)
        head = _HEAD[langs[0]]
        parts.append(
            f"<h2>{html.escape(head['uncovered'].format(year=href.split('/')[0]))}</h2>"
            f'<p><a href="{href}">{head["open_map"]}</a> · '
            f'<a href="map.html">{head["baseline_map"]}</a></p>'
            f'<iframe src="{href}" title="{head["map_title"]}"></iframe>'
        )
    parts.append("</body></html>")
    return write_text("\n".join(parts), path)


_REGISTRY_TEXT: dict[str, dict[str, Any]] = {
    "vi": {
        "registry": "Sổ đăng ký cột ăng-ten: kết quả kiểm tra ({n} cột, ngày {date})",
        "check": "Nội dung kiểm tra",
        "found": "Số trường hợp",
        "file": "danh sách chi tiết",
        "commitments": "Cam kết của doanh nghiệp (tính đến ngày {date})",
        "columns": (
            "Doanh nghiệp",
            "Số cam kết",
            "Đã hoàn thành",
            "Chưa đến hạn",
            "Quá hạn",
            "Đúng hạn",
        ),
        "basis": {
            "registry": "Tỷ lệ dùng chung tính theo sổ đăng ký cột (số doanh nghiệp trên mỗi cột).",
            "clustering": "Tỷ lệ dùng chung tính theo vị trí các trạm (gộp các trạm gần nhau).",
        },
    },
    "en": {
        "registry": "Mast registry: checks ({n} masts, as of {date})",
        "check": "Check",
        "found": "Found",
        "file": "the list",
        "commitments": "Operators' commitments (as of {date})",
        "columns": ("Operator", "Commitments", "Done", "Due", "Overdue", "On time"),
        "basis": {
            "registry": "Sharing counted on the mast registry (tenants per built mast).",
            "clustering": "Sharing counted on the sites' positions (sites close together grouped).",
        },
    },
}


def registry_html(kpis: Mapping[str, Any], lang: str, *, folder: str = "") -> str:
    """Return the report's part on the mast registry's checks and the commitments.

    From one run's ``kpis.json`` (its ``sharing_basis``, ``registry`` and ``commitments``);
    empty when the run had neither a registry nor commitments. `lang` is ``vi`` or ``en``;
    `folder` is where the run's ``registry_checks.csv`` is, relative to the report.
    """
    from hatangso.coverage.commitments import COMMITMENT_STATUSES
    from hatangso.coverage.registry import CHECKS

    text = _REGISTRY_TEXT["en" if lang == "en" else "vi"]
    parts: list[str] = []
    basis = kpis.get("sharing_basis")
    registry = kpis.get("registry")
    if registry:
        heading = text["registry"].format(n=registry["masts"], date=registry.get("report_date"))
        href = html.escape(f"{folder}registry_checks.csv")
        rows = "".join(
            f'<tr><td class="l">{html.escape(CHECKS[code][0 if lang != "en" else 1])}</td>'
            f"<td>{int(count)}</td></tr>"
            for code, count in registry["checks"].items()
            if code in CHECKS
        )
        parts.append(
            f'<h2 id="registry-{lang}">{html.escape(heading)}</h2>'
            f"<table><thead><tr><th>{html.escape(text['check'])}</th>"
            f"<th>{html.escape(text['found'])}</th></tr></thead><tbody>{rows}</tbody></table>"
            f'<p><a href="{href}">{html.escape(text["file"])}: registry_checks.csv</a></p>'
        )
    if basis in text["basis"] and (registry or kpis.get("commitments")):
        parts.append(f"<p>{html.escape(text['basis'][basis])}</p>")
    commitments = kpis.get("commitments")
    if commitments:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in text["columns"])
        body = []
        for row in commitments["by_operator"]:
            on_time = row.get("on_time")
            overdue = int(row["overdue"])
            body.append(
                f'<tr><td class="l">{html.escape(str(row["operator"]))}</td>'
                + "".join(f"<td>{int(row[k])}</td>" for k in ("commitments", "done", "due"))
                + f'<td class="{"no" if overdue else ""}">{overdue}</td>'
                + f"<td>{'—' if on_time is None else f'{float(on_time):.0%}'}</td></tr>"
            )
        unknown = commitments["counts"].get(COMMITMENT_STATUSES[-1], 0)
        note = (
            f"<p>{unknown} "
            + (
                "commitments name a village not in the data"
                if lang == "en"
                else "cam kết ghi mã thôn không có trong dữ liệu"
            )
            + "</p>"
            if unknown
            else ""
        )
        parts.append(
            f'<h2 id="commitments-{lang}">'
            f"{html.escape(text['commitments'].format(date=commitments['as_of']))}</h2>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"
        )
    return "".join(parts)


def write_reports(result: ScenarioResult, out_dir: Path, *, lang: str = "vi") -> dict[str, Path]:
    """Write ``report.xlsx``, ``report.html`` and ``summary.json`` for a scenario run.

    `lang` is ``vi`` (the default), ``en`` or ``both``.
    """
    scenario = result.scenario
    rows = report_rows(scenario, result.baseline.kpis, result.kpis_by_year())
    last = max(scenario.years)
    iot = (result.years[-1].kpis if result.years else result.baseline.kpis).get("iot_zones")
    summary = {
        "scenario": scenario.name,
        "title": scenario.title,
        "generated_data": scenario.generated is not None,
        "years": scenario.years,
        "rows": [
            {
                "section": r.section,
                "code": r.code,
                "unit": r.unit,
                "baseline": r.baseline,
                "computed_now": r.computed_now,
                "by_year": {
                    str(y): {
                        "target": r.targets.get(y),
                        "computed": r.computed.get(y),
                        "met": r.met.get(y),
                        "gap": r.gaps.get(y),
                    }
                    for y in scenario.years
                },
            }
            for r in rows
        ],
    }
    return {
        "xlsx": write_xlsx(
            scenario,
            rows,
            out_dir / "report.xlsx",
            lang=lang,
            iot=iot,
            switch_off=result.baseline.kpis.get("switch_off"),
        ),
        "html": write_html(
            scenario,
            rows,
            out_dir / "report.html",
            map_href=f"{last}/map.html",
            lang=lang,
            registry=result.years[-1].kpis if result.years else None,
            registry_folder=f"{last}/",
            challenges=result.baseline.kpis.get("challenges"),
            iot=iot,
            switch_off=result.baseline.kpis.get("switch_off"),
        ),
        "summary": write_json(summary, out_dir / "summary.json"),
    }


def write_comparison_html(document: Mapping[str, Any], path: Path, *, lang: str = "vi") -> Path:
    """Write ``comparison.html``: each indicator of two scenarios per year, and the difference.

    `lang` is ``vi``, ``en`` or ``both`` (one table per language, Vietnamese first).
    """
    langs = languages(lang)
    a, b = html.escape(str(document["a"])), html.escape(str(document["b"]))
    title = _HEAD[langs[0]]["comparison"].format(a=a, b=b)
    out = [
        f'<!DOCTYPE html><html lang="{langs[0]}"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_CSS}</style></head><body><h1>{title}</h1>"
    ]
    for one in langs:
        head = _HEAD[one]
        out.append(
            f'<table lang="{one}"><thead><tr><th>{html.escape(head["year"])}</th>'
            f"<th>{html.escape(head['indicator'])}</th><th>{a}</th><th>{b}</th>"
            f"<th>{html.escape(head['difference'])}</th></tr></thead><tbody>"
        )
        for row in document["rows"]:
            va, vb, diff = row["value_a"], row["value_b"], row["difference"]
            year = head["baseline_year"] if row["year"] == "baseline" else row["year"]
            out.append(
                f'<tr><td class="l">{html.escape(year)}</td>'
                f'<td class="l">{html.escape(row["label_vi" if one == "vi" else "label_en"])}</td>'
                + "".join(
                    "<td></td>" if v is None else f"<td>{100 * v:,.2f}</td>" for v in (va, vb, diff)
                )
                + "</tr>"
            )
        out.append("</tbody></table>")
    out.append("</body></html>")
    return write_text("".join(out), path)
