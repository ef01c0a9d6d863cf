"""The report's part on download speed: measured per commune, predicted per village.

From one run's ``kpis.json`` (its ``commune_speed`` and ``predicted_downlink`` blocks, and
their 5G counterparts ``commune_speed_5g`` and ``predicted_downlink_5g``, see
:mod:`hatangso.coverage.speed`); every text that comes from the inputs is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from hatangso.coverage.radio import DEFAULT_FREQ_MHZ
from hatangso.coverage.speed import PREDICTED_BLOCKS, SPEED_BLOCKS
from hatangso.geo.carrier import DEFAULT_BANDWIDTH_MHZ, NR_TDD_DOWNLINK_SHARE

__all__ = ["speed_html"]

_TEXT: dict[str, dict[str, Any]] = {
    "vi": {
        "measured": "Tốc độ tải xuống {tech} đo được theo xã (mục tiêu {target:g} Mb/s)",
        "rule": (
            "Chỉ công bố tốc độ của xã có từ {n} mẫu đo trở lên (theo cách công bố của hệ "
            "thống i-Speed, VNNIC: Công văn 1004/SKHCN-CNTTVTBC ngày 15/9/2025 của Sở Khoa học "
            "và Công nghệ Cần Thơ, dẫn Công văn 2928/VNNIC ngày 19/8/2025); xã có ít mẫu hơn "
            "ghi “chưa đủ mẫu”."
        ),
        "columns": ("Xã", "Số mẫu", "Trung bình (Mb/s)", "Trung vị (Mb/s)", "Trạng thái", "Đạt"),
        "status": {"published": "công bố", "insufficient": "chưa đủ mẫu"},
        "yes_no": ("Đạt", "Chưa đạt"),
        "predicted": "Thôn có sóng nhưng tốc độ dự báo dưới {target:g} Mb/s ({n} thôn)",
        "predicted_5g": ("Thôn có sóng 5G nhưng tốc độ 5G dự báo dưới {target:g} Mb/s ({n} thôn)"),
        "thousands": ".",
        "method_5g": (
            "Tốc độ 5G dự báo từ lớp 5G tốt nhất của thôn; sóng mang 5G không ghi tần số, "
            "băng thông được lấy là {freq} MHz (băng n78), {bandwidth} MHz. Sóng mang 5G song "
            "công phân thời gian (TDD): chỉ tính phần thời gian đường xuống của khung, "
            "{share:.0%}."
        ),
        "method": (
            "Dự báo tốc độ tải xuống tại trung tâm thôn từ tỷ số tín hiệu trên nhiễu và can "
            "nhiễu (SINR) của trạm phục vụ tốt nhất, mọi trạm cùng nhà mạng, công nghệ và tần "
            "số phát đầy tải; công thức Shannon suy giảm của 3GPP TR 36.942 (Phụ lục A). Nơi "
            "thôn có sóng mà tốc độ dự báo thấp, thiếu là dung lượng, không phải vùng phủ."
        ),
        "predicted_columns": ("Mã thôn", "Tên thôn", "Xã", "Tốc độ dự báo (Mb/s)", "SINR (dB)"),
        "more": "… và {n} thôn khác (xem kpis.json và villages.gpkg)",
    },
    "en": {
        "measured": "Measured {tech} download per commune (target {target:g} Mb/s)",
        "rule": (
            "A commune's speed is published from {n} samples (VNNIC's i-Speed rule: Công văn "
            "1004/SKHCN-CNTTVTBC of the Cần Thơ Department of Science and Technology, "
            "15/9/2025, citing Công văn 2928/VNNIC of 19/8/2025); fewer: “insufficient”."
        ),
        "columns": ("Commune", "Samples", "Mean (Mb/s)", "Median (Mb/s)", "Status", "Met"),
        "status": {"published": "published", "insufficient": "insufficient"},
        "yes_no": ("yes", "no"),
        "predicted": "Villages covered but predicted below {target:g} Mb/s ({n} villages)",
        "predicted_5g": (
            "Villages covered by 5G but predicted below {target:g} Mb/s on 5G ({n} villages)"
        ),
        "thousands": ",",
        "method_5g": (
            "The 5G figure is the village's best 5G layer; a 5G carrier that gives no "
            "frequency or bandwidth is taken as {freq} MHz (band n78) over {bandwidth} MHz. "
            "5G carriers are TDD: only the frame's downlink share, {share:.0%}, counts."
        ),
        "method": (
            "Predicted downlink at the village centre from the best server's SINR, every "
            "carrier of the same operator, technology and frequency at full load; the "
            "attenuated Shannon bound of 3GPP TR 36.942 (Annex A). Where a covered village is "
            "predicted slow, capacity, not coverage, is the gap."
        ),
        "predicted_columns": ("Village id", "Village", "Commune", "Predicted (Mb/s)", "SINR (dB)"),
        "more": "… and {n} more villages (see kpis.json and villages.gpkg)",
    },
}


def _cell(value: Any) -> str:
    if value is None:
        return "<td>—</td>"
    if isinstance(value, float):
        return f'<td class="num">{value:,.1f}</td>'
    if isinstance(value, int):
        return f'<td class="num">{value:,}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table(columns: tuple[str, ...], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f'<table class="speed"><tr>{head}</tr>{body}</table>'


def speed_html(kpis: Mapping[str, Any], lang: str) -> str:
    """Return the report's section on download speed in `lang` (``vi`` or ``en``).

    Empty when the run measured no speed and predicted none.

    Examples
    --------
    >>> kpis = {"commune_speed": {"target_mbps": 40.0, "min_samples": 300, "communes": [
    ...     {"unit": "Xã <A>", "n_samples": 310, "mean_mbps": 45.0, "median_mbps": 44.0,
    ...      "status": "published", "reaches_target": True}]}}
    >>> "Xã &lt;A&gt;" in speed_html(kpis, "vi") and "chưa đủ mẫu" in speed_html(kpis, "vi")
    True
    """
    text = _TEXT[lang]
    parts: list[str] = []
    for tech, key in SPEED_BLOCKS.items():
        measured = kpis.get(key)
        if measured:
            parts.append(_measured_html(measured, text, measured.get("tech", tech)))
    for tech, key in PREDICTED_BLOCKS.items():
        predicted = kpis.get(key)
        if predicted:
            parts.append(_predicted_html(predicted, text, tech))
    return "".join(parts)


def _measured_html(measured: Mapping[str, Any], text: Mapping[str, Any], tech: str) -> str:
    yes, no = text["yes_no"]
    rows = [
        [
            c["unit"],
            c["n_samples"],
            c["mean_mbps"],
            c["median_mbps"],
            text["status"].get(c["status"], c["status"]),
            None if c["reaches_target"] is None else (yes if c["reaches_target"] else no),
        ]
        for c in measured.get("communes", [])
    ]
    heading = text["measured"].format(tech=tech, target=measured["target_mbps"])
    return (
        f"<h2>{html.escape(heading)}</h2>"
        f"<p>{html.escape(text['rule'].format(n=measured['min_samples']))}</p>"
        + _table(text["columns"], rows)
    )


def _predicted_html(predicted: Mapping[str, Any], text: Mapping[str, Any], tech: str) -> str:
    listed = predicted.get("villages_below_target", [])
    total = int(predicted.get("covered_below_target", len(listed)))
    title = text["predicted"] if tech == "4G" else text["predicted_5g"]
    heading = title.format(target=predicted["target_mbps"], n=total)
    method = text["method"]
    if tech != "4G":
        method_5g = text["method_5g"].format(
            freq=f"{DEFAULT_FREQ_MHZ['5G']:,.0f}".replace(",", text["thousands"]),
            bandwidth=f"{DEFAULT_BANDWIDTH_MHZ['5G']:g}",
            share=float(predicted.get("downlink_share", NR_TDD_DOWNLINK_SHARE)),
        )
        method = f"{method} {method_5g}"
    rows = [
        [
            v.get("village_id"),
            v.get("name"),
            v.get("commune"),
            v.get("pred_dl_mbps"),
            v.get("sinr_db"),
        ]
        for v in listed
    ]
    part = f"<h2>{html.escape(heading)}</h2><p>{html.escape(method)}</p>" + (
        _table(text["predicted_columns"], rows) if rows else ""
    )
    if total > len(listed):
        part += f"<p>{html.escape(text['more'].format(n=total - len(listed)))}</p>"
    return part
