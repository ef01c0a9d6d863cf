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

from hatangso.geo.outputs import write_layer
from hatangso.geo.validate import load_layer

__all__ = ["switch_off_html", "switch_off_sites", "without_techs"]

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
            "village_2g_off_loss": "Thôn, tổ dân phố mất sóng di động khi tắt sóng 2G",
            "village_2g3g_off_loss": "Thôn, tổ dân phố mất sóng di động khi tắt sóng 2G và 3G",
        },
        "summary": "{villages} thôn, tổ dân phố; {people} người.",
        "none": "Không có thôn, tổ dân phố nào mất sóng.",
        "operator": ("Doanh nghiệp", "Số thôn mất sóng của doanh nghiệp", "Số dân"),
        "village": ("Mã thôn", "Tên thôn", "Xã", "Huyện", "Số dân", "Doanh nghiệp mất sóng"),
        "more": "… và {n} thôn khác (xem kpis.json, villages.gpkg).",
    },
    "en": {
        "heading": {
            "village_2g_off_loss": "Villages that lose mobile service when 2G is switched off",
            "village_2g3g_off_loss": (
                "Villages that lose mobile service when 2G and 3G are switched off"
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
