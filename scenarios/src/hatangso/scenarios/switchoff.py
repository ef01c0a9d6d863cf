"""A scenario year's technology switch-off: the sites of that year's run no longer offer it.

A scenario's ``deployments:`` may switch technologies off from a year on
(``deployments: {2026: {switch_off: [2G]}}``): Vietnam stops its 2G networks by September
2026 (Circular 03/2024/TT-BTTTT) and 3G later. From that year on, every site's ``tech`` list
loses those technologies, and a site left with none is no longer a site of the run.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hatangso.geo.outputs import spreadsheet_cell, write_layer
from hatangso.geo.techs import SWITCH_OFF_STEPS
from hatangso.geo.validate import load_layer

__all__ = [
    "switch_off_html",
    "switch_off_rows",
    "switch_off_sheet",
    "switch_off_sites",
    "without_techs",
]

log = logging.getLogger(__name__)


def without_techs(tech: pd.Series, off: Sequence[str]) -> pd.Series:
    """Return each ``;``-separated technology list without the technologies `off`.

    A missing list is the contract's default, 4G. A list left empty is ``""``.

    Examples
    --------
    >>> without_techs(pd.Series(["2G;4G", "2G", None, "3G"]), ["2G"]).tolist()
    ['4G', '', '4G', '3G']
    """
    codes, lists = pd.factorize(tech.fillna("4G").astype(str))
    kept = [";".join(t for t in str(v).split(";") if t and t not in off) for v in lists]
    values = [kept[c] for c in codes] if len(lists) else []
    return pd.Series(values, index=tech.index, dtype=object)


def switch_off_sites(
    path: Path,
    off: Sequence[str],
    out_path: Path,
    *,
    crs: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> Path:
    """Write the sites of `path` without the technologies `off`, as a GeoPackage.

    Parameters
    ----------
    path
        The year's sites layer (any readable format).
    off
        Technologies switched off, in the contract's names (``2G``, ``3G``...).
    out_path
        Where to write the sites that still offer something.
    crs, columns
        As the scenario reads the layer (``data.crs``, ``data.columns.sites``).

    Returns
    -------
    pathlib.Path
        `out_path`, a ``sites`` layer in EPSG:4326 with the contract's columns.
    """
    layer = load_layer(path, "sites", crs=crs, columns=dict(columns or {}))
    sites = layer.frame
    tech = sites["tech"] if "tech" in sites else pd.Series("4G", index=sites.index)
    remaining = without_techs(tech, off)
    keep = (remaining != "").to_numpy(dtype=bool)
    log.info(
        "switch-off of %s: %d of %d sites offer nothing else and leave the run",
        ", ".join(off),
        int((~keep).sum()),
        len(sites),
    )
    out = sites.assign(tech=remaining)[keep]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    return write_layer(out, out_path, layer="sites")


_TEXT: dict[str, dict[str, Any]] = {
    "vi": {
        "heading": {
            "village_2g_off_loss": (
                "Thôn, tổ dân phố mất sóng di động khi tắt sóng 2G (hiện trạng tính toán)"
            ),
            "village_2g3g_off_loss": (
                "Thôn, tổ dân phố mất sóng di động khi tắt sóng 2G và 3G (hiện trạng tính toán)"
            ),
        },
        "summary": "{villages} thôn, tổ dân phố; {people} người.",
        "none": "Không có thôn, tổ dân phố nào mất sóng.",
        "operator": ("Doanh nghiệp", "Số thôn mất sóng của doanh nghiệp", "Số dân"),
        "village": ("Mã thôn", "Tên thôn", "Xã", "Huyện", "Số dân", "Doanh nghiệp mất sóng"),
        "more": "… và {n} thôn khác (xem kpis.json, villages.gpkg).",
    },
    "en": {
        "heading": {
            "village_2g_off_loss": (
                "Villages that lose mobile service when 2G is switched off (computed baseline)"
            ),
            "village_2g3g_off_loss": (
                "Villages that lose mobile service when 2G and 3G are switched off (computed "
                "baseline)"
            ),
        },
        "summary": "{villages} villages; {people} people.",
        "none": "No village loses its service.",
        "operator": ("Operator", "Villages losing the operator's service", "People"),
        "village": ("Village id", "Name", "Commune", "District", "People", "Operators lost"),
        "more": "… and {n} more villages (see kpis.json, villages.gpkg).",
    },
}

#: Villages listed per step in the report.
REPORT_LIST_LIMIT = 200


def switch_off_html(block: Mapping[str, Any], lang: str) -> str:
    """Return the report's part on the 2G and 2G/3G switch-off, from ``kpis.json``.

    Parameters
    ----------
    block
        ``kpis.json``'s ``switch_off`` block
        (:func:`hatangso.coverage.services.switch_off_table`).
    lang
        ``vi`` or ``en``.

    Returns
    -------
    str
        HTML: per step a heading, the villages and people, a table per operator and the list
        of the villages (the first :data:`REPORT_LIST_LIMIT`); every text from the data
        escaped.
    """
    text = _TEXT["en" if lang == "en" else "vi"]

    def esc(value: object) -> str:
        return html.escape("" if value is None else str(value))

    def people(value: object) -> str:
        return "—" if value is None else f"{float(str(value)):,.0f}"

    parts: list[str] = []
    for code, step in block.items():
        if code not in text["heading"]:
            continue
        parts.append(f'<h2 id="{esc(code)}-{esc(lang)}">{esc(text["heading"][code])}</h2>')
        if not step.get("villages"):
            parts.append(f"<p>{esc(text['none'])}</p>")
            continue
        summary = text["summary"].format(villages=step["villages"], people=people(step["people"]))
        parts.append(f"<p>{esc(summary)}</p>")
        head = "".join(f"<th>{esc(c)}</th>" for c in text["operator"])
        body = "".join(
            f'<tr><td class="l">{esc(row["operator"])}</td><td>{int(row["villages"])}</td>'
            f"<td>{people(row.get('people'))}</td></tr>"
            for row in step.get("by_operator", [])
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        listed = list(step.get("listed", []))
        head = "".join(f"<th>{esc(c)}</th>" for c in text["village"])
        body = "".join(
            "<tr>"
            + "".join(
                f'<td class="l">{esc(row.get(k))}</td>'
                for k in ("village_id", "name", "commune", "district")
            )
            + f"<td>{people(row.get('people'))}</td>"
            + f'<td class="l">{esc(row.get("operators"))}</td></tr>'
            for row in listed[:REPORT_LIST_LIMIT]
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        more = int(step["villages"]) - min(len(listed), REPORT_LIST_LIMIT)
        if more > 0:
            parts.append(f"<p>{esc(text['more'].format(n=more))}</p>")
    return "".join(parts)


_SHEET_TEXT: dict[str, dict[str, Any]] = {
    "vi": {
        "sheet": "Mất sóng khi tắt 2G, 3G",
        "heading": "Thôn, tổ dân phố mất sóng di động khi tắt sóng 2G và khi tắt sóng 2G, 3G "
        "(hiện trạng tính toán, trước các đợt triển khai của kế hoạch)",
        "step": {
            "village_2g_off_loss": "Khi tắt 2G: {villages} thôn, {people} người.",
            "village_2g3g_off_loss": "Khi tắt 2G và 3G: {villages} thôn, {people} người.",
        },
        "columns": (
            "Mã thôn",
            "Tên thôn",
            "Xã",
            "Doanh nghiệp đang phục vụ",
            "Số dân",
            "Mất sóng khi tắt 2G",
            "Mất sóng khi tắt 2G và 3G",
        ),
        "yes_no": ("Có", "Không"),
        "more": "Danh sách dừng ở {n} thôn mỗi bước; đủ danh sách trong villages.gpkg "
        "(cột loss_2g_off, loss_2g3g_off).",
    },
    "en": {
        "sheet": "Switch-off losses",
        "heading": "Villages that lose mobile service when 2G, then 2G and 3G, are switched off "
        "(the computed baseline, before the plan's deployments)",
        "step": {
            "village_2g_off_loss": "2G off: {villages} villages, {people} people.",
            "village_2g3g_off_loss": "2G and 3G off: {villages} villages, {people} people.",
        },
        "columns": (
            "Village id",
            "Name",
            "Commune",
            "Operators serving today",
            "People",
            "Lost when 2G is off",
            "Lost when 2G and 3G are off",
        ),
        "yes_no": ("yes", "no"),
        "more": "The list stops at {n} villages per step; villages.gpkg has them all "
        "(columns loss_2g_off, loss_2g3g_off).",
    },
}
#: The switch-off steps of the sheet, in its columns' order.
_STEPS = tuple(code for code, _, _, _ in SWITCH_OFF_STEPS)


def switch_off_rows(block: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return one row per village that loses its service at either switch-off step.

    Parameters
    ----------
    block
        ``kpis.json``'s ``switch_off`` block
        (:func:`hatangso.coverage.services.switch_off_table`).

    Returns
    -------
    list of dict
        ``village_id``, ``name``, ``commune``, ``people`` (None where unknown),
        ``operators`` (``;``-joined, sorted) and one bool per step code of the block, in the
        order the steps list the villages. A village that loses all its mobile service loses
        every operator that serves it, so the operators whose service ends there are those
        serving it today.

    Examples
    --------
    >>> block = {
    ...     "village_2g_off_loss": {"listed": [
    ...         {"village_id": "B", "name": "Thôn B", "people": 200.0, "operators": "VNPT"}]},
    ...     "village_2g3g_off_loss": {"listed": [
    ...         {"village_id": "B", "name": "Thôn B", "people": 200.0, "operators": "VNPT"},
    ...         {"village_id": "C", "name": "Thôn C", "people": None, "operators": "MobiFone"}]}}
    >>> [(r["village_id"], r["village_2g_off_loss"], r["village_2g3g_off_loss"])
    ...  for r in switch_off_rows(block)]
    [('B', True, True), ('C', False, True)]
    """
    rows: dict[str, dict[str, Any]] = {}
    for code in _STEPS:
        for listed in (block.get(code) or {}).get("listed", []):
            key = str(listed.get("village_id"))
            row = rows.setdefault(
                key,
                {
                    "village_id": key,
                    "name": listed.get("name"),
                    "commune": listed.get("commune"),
                    "people": listed.get("people"),
                    "operators": set(),
                    **dict.fromkeys(_STEPS, False),
                },
            )
            row[code] = True
            row["operators"] |= set(filter(None, str(listed.get("operators") or "").split(";")))
    return [{**row, "operators": ";".join(sorted(row["operators"]))} for row in rows.values()]


def switch_off_sheet(sheet: Any, block: Mapping[str, Any], lang: str) -> None:
    """Fill a worksheet with the villages that lose their mobile service, in `lang`.

    Parameters
    ----------
    sheet
        An empty ``openpyxl`` worksheet; it is given its name in `lang`.
    block
        ``kpis.json``'s ``switch_off`` block.
    lang
        ``vi`` or ``en``.

    Notes
    -----
    Row 1 is the heading, then one line per step (villages and people), the header and one
    row per village (:func:`switch_off_rows`); the last line says where the full list is
    when ``kpis.json`` lists fewer villages than a step counts. Texts from the data go
    through :func:`hatangso.geo.outputs.spreadsheet_cell`.
    """
    from openpyxl.styles import Font

    text = _SHEET_TEXT["en" if lang == "en" else "vi"]
    yes, no = text["yes_no"]
    sheet.title = text["sheet"]
    sheet.append([text["heading"]])
    sheet["A1"].font = Font(bold=True, size=13)
    for code in _STEPS:
        step = block.get(code)
        if step is None:
            continue
        people = step.get("people")
        shown = "—" if people is None else f"{float(people):,.0f}"
        sheet.append([text["step"][code].format(villages=step.get("villages", 0), people=shown)])
    sheet.append([])
    sheet.append(list(text["columns"]))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in switch_off_rows(block):
        sheet.append(
            [
                *(spreadsheet_cell(row[k]) for k in ("village_id", "name", "commune")),
                spreadsheet_cell(row["operators"]),
                row["people"],
                *(yes if row[code] else no for code in _STEPS),
            ]
        )
    steps = [block[c] for c in _STEPS if block.get(c)]
    listed = [len(step.get("listed", [])) for step in steps]
    if any(int(step.get("villages", 0)) > n for step, n in zip(steps, listed, strict=True)):
        sheet.append([])
        sheet.append([text["more"].format(n=max(listed))])
    for letter, width in zip("ABCDEFG", (14, 28, 22, 26, 10, 18, 22), strict=True):
        sheet.column_dimensions[letter].width = width
