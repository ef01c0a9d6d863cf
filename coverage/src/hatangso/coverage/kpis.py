"""Indicators of the contract: their definitions, labels, and the KPI document.

Each indicator is a share ``numerator / denominator`` in [0, 1]. An indicator whose inputs were
not given is left out of the report, never shown as 0, and so is one with nothing to count (a
denominator of 0: no households known, no commune office given), never shown as ``null, 0/0``.
A village whose population is unknown (missing, or 0, which OSM and registers write for "not
counted") is left out of both sides of the population indicators, which say how many villages
that was (``villages_without_population``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "INDICATORS",
    "Indicator",
    "IndicatorValue",
    "UnitItems",
    "indicators_by_unit",
    "kpi_document",
]


@dataclass(frozen=True)
class Indicator:
    """Definition of one indicator code."""

    code: str
    label_vi: str
    label_en: str
    basis: str
    definition_vi: str
    definition_en: str


INDICATORS: dict[str, Indicator] = {
    ind.code: ind
    for ind in (
        Indicator(
            "village_mobile_coverage",
            "Tỷ lệ thôn, tổ dân phố được phủ sóng băng rộng di động (4G trở lên)",
            "Villages covered by mobile broadband (4G or better)",
            "villages",
            (
                "Số thôn, tổ dân phố có sóng 4G trở lên của ít nhất một nhà mạng theo quy tắc phủ"
                " sóng đã chọn, chia cho tổng số thôn, tổ dân phố."
            ),
            (
                "Villages where at least one operator's 4G or better is received under the chosen"
                " coverage rule, divided by all villages."
            ),
        ),
        Indicator(
            "village_5g_coverage",
            "Tỷ lệ thôn, tổ dân phố được phủ sóng 5G",
            "Villages covered by 5G",
            "villages",
            (
                "Số thôn, tổ dân phố có sóng 5G theo quy tắc phủ sóng đã chọn, chia cho tổng số "
                "thôn, tổ dân phố."
            ),
            (
                "Villages where 5G is received under the chosen coverage rule, divided by all "
                "villages."
            ),
        ),
        Indicator(
            "village_ftth_coverage",
            "Tỷ lệ thôn, tổ dân phố có cáp quang băng rộng cố định (FTTH)",
            "Villages reached by fiber (FTTH)",
            "villages",
            (
                "Số thôn, tổ dân phố có điểm truy nhập cáp quang trong khoảng cách cho phép, chia"
                " cho tổng số thôn, tổ dân phố."
            ),
            (
                "Villages within the configured distance of a fiber access point, divided by all "
                "villages."
            ),
        ),
        Indicator(
            "population_mobile_coverage",
            "Tỷ lệ dân số được phủ sóng băng rộng di động (4G trở lên)",
            "Population covered by mobile broadband (4G or better)",
            "people",
            "Số dân ở nơi có sóng 4G trở lên, chia cho tổng số dân.",
            "People living where 4G or better is received, divided by all people.",
        ),
        Indicator(
            "population_5g_coverage",
            "Tỷ lệ dân số được phủ sóng 5G",
            "Population covered by 5G",
            "people",
            "Số dân ở nơi có sóng 5G, chia cho tổng số dân.",
            "People living where 5G is received, divided by all people.",
        ),
        Indicator(
            "village_2g_off_loss",
            "Tỷ lệ thôn, tổ dân phố mất sóng di động khi tắt sóng 2G",
            "Villages that lose mobile service when 2G is switched off",
            "villages",
            (
                "Số thôn, tổ dân phố đang có dịch vụ di động (2G, 3G, 4G hoặc 5G) nhưng không còn"
                " dịch vụ nào khi tắt sóng 2G (chỉ có sóng 2G), chia cho tổng số thôn, tổ dân "
                "phố."
            ),
            (
                "Villages with mobile service today (2G, 3G, 4G or 5G) that have none once 2G is"
                " switched off (served by 2G alone), divided by all villages."
            ),
        ),
        Indicator(
            "village_2g3g_off_loss",
            "Tỷ lệ thôn, tổ dân phố mất sóng di động khi tắt sóng 2G và 3G",
            "Villages that lose mobile service when 2G and 3G are switched off",
            "villages",
            (
                "Số thôn, tổ dân phố đang có dịch vụ di động nhưng không còn dịch vụ nào khi tắt"
                " sóng 2G và 3G (không có sóng 4G trở lên), chia cho tổng số thôn, tổ dân phố."
            ),
            (
                "Villages with mobile service today that have none once 2G and 3G are switched "
                "off (no 4G or better), divided by all villages."
            ),
        ),
        Indicator(
            "household_ftth_reach",
            "Tỷ lệ hộ gia đình có khả năng tiếp cận cáp quang",
            "Households within reach of fiber",
            "households",
            "Số hộ gia đình của các thôn có cáp quang, chia cho tổng số hộ gia đình.",
            "Households of the villages reached by fiber, divided by all households.",
        ),
        Indicator(
            "bts_site_sharing_ratio",
            "Tỷ lệ dùng chung vị trí trạm BTS",
            "BTS tower locations shared by two or more operators",
            "tower locations",
            (
                "Số vị trí trạm (cột ăng-ten) có từ hai nhà mạng trở lên dùng chung, chia cho "
                "tổng số vị trí trạm; các trạm cách nhau không quá dung sai đồng vị trí là một vị"
                " trí."
            ),
            (
                "Tower locations used by two or more operators, divided by all tower locations; "
                "sites no farther apart than the co-location tolerance are one location."
            ),
        ),
        Indicator(
            "bts_station_sharing_ratio",
            "Tỷ lệ trạm BTS đặt tại vị trí dùng chung",
            "BTS sites standing at shared tower locations",
            "sites",
            (
                "Số trạm BTS đặt tại vị trí trạm có từ hai nhà mạng trở lên dùng chung, chia cho "
                "tổng số trạm BTS."
            ),
            (
                "BTS sites standing at a tower location used by two or more operators, divided by"
                " all BTS sites."
            ),
        ),
        Indicator(
            "pole_sharing_ratio",
            "Tỷ lệ dùng chung cột treo cáp",
            "Cable poles carrying two or more operators",
            "poles",
            "Số cột treo cáp của từ hai nhà mạng trở lên, chia cho tổng số cột treo cáp.",
            "Poles carrying two or more operators' cables, divided by all poles.",
        ),
        Indicator(
            "duct_sharing_ratio",
            "Tỷ lệ dùng chung cống bể cáp",
            "Duct length carrying two or more operators",
            "metres of duct",
            (
                "Chiều dài cống bể cáp có từ hai nhà mạng trở lên, chia cho tổng chiều dài cống "
                "bể cáp."
            ),
            "Length of duct carrying two or more operators, divided by all duct length.",
        ),
        Indicator(
            "key_area_5g_coverage",
            "Tỷ lệ trung tâm huyện, khu công nghiệp, khu du lịch có dịch vụ 5G",
            "District centres, industrial parks and tourist sites with 5G",
            "key areas",
            (
                "Số trung tâm huyện, khu công nghiệp, khu du lịch nằm trong vùng phủ sóng 5G, "
                "chia cho tổng số các điểm đó."
            ),
            (
                "District centres, industrial parks and tourist sites inside 5G coverage, divided"
                " by all of them."
            ),
        ),
        Indicator(
            "key_area_iot_coverage",
            "Tỷ lệ khu công nghiệp, vùng sản xuất được phủ sóng IoT (NB-IoT, LTE-M)",
            "Industrial parks and production zones covered by IoT (NB-IoT, LTE-M)",
            "IoT zones",
            (
                "Số khu công nghiệp, vùng sản xuất có ít nhất tỷ lệ diện tích quy định (mặc định"
                " một nửa) nằm trong vùng phủ của trạm có NB-IoT hoặc LTE-M (khu cho dưới dạng "
                "điểm: điểm nằm trong vùng phủ), chia cho tổng số khu công nghiệp, vùng sản "
                "xuất."
            ),
            (
                "Industrial parks and production zones with at least the configured share of "
                "their area (half by default) within reach of a site offering NB-IoT or LTE-M "
                "(a zone given as a point: the point within reach), divided by all of them."
            ),
        ),
        Indicator(
            "commune_data_network_connection",
            "Tỷ lệ UBND cấp xã kết nối mạng truyền số liệu chuyên dùng",
            "Commune offices on the specialised data network",
            "commune offices",
            (
                "Số trụ sở UBND cấp xã kết nối mạng truyền số liệu chuyên dùng, chia cho tổng số "
                "trụ sở UBND cấp xã."
            ),
            (
                "Commune offices connected to the specialised data network, divided by all "
                "commune offices."
            ),
        ),
        Indicator(
            "commune_4g_speed",
            "Tỷ lệ xã đạt tốc độ tải xuống trung bình 4G mục tiêu (đo thực tế)",
            "Communes whose measured mean 4G download reaches the target",
            "communes",
            (
                "Số xã có tốc độ tải xuống trung bình 4G đo được (từ 300 mẫu đo trở lên) đạt "
                "tốc độ mục tiêu, chia cho số xã có từ 300 mẫu đo trở lên."
            ),
            (
                "Communes whose measured mean 4G download (from at least 300 samples) reaches "
                "the target speed, divided by the communes with at least 300 samples."
            ),
        ),
        Indicator(
            "commune_5g_speed",
            "Tỷ lệ xã đạt tốc độ tải xuống trung bình 5G mục tiêu (đo thực tế)",
            "Communes whose measured mean 5G download reaches the target",
            "communes",
            (
                "Số xã có tốc độ tải xuống trung bình 5G đo được (từ 300 mẫu đo 5G trở lên) đạt "
                "tốc độ mục tiêu (mặc định 100 Mb/s), chia cho số xã có từ 300 mẫu đo 5G trở lên."
            ),
            (
                "Communes whose measured mean 5G download (from at least 300 5G samples) reaches "
                "the target speed (100 Mb/s by default), divided by the communes with at least "
                "300 5G samples."
            ),
        ),
        Indicator(
            "commitments_on_time",
            "Tỷ lệ cam kết phủ sóng hoàn thành đúng hạn",
            "Coverage commitments done on time",
            "commitments",
            (
                "Số cam kết của doanh nghiệp (phủ sóng một thôn bằng một công nghệ trước một "
                "ngày) đã hoàn thành trong số các cam kết đã đến hạn tại ngày báo cáo, chia cho "
                "số cam kết đã đến hạn."
            ),
            (
                "Operators' commitments (to cover a village with a technology by a date) found "
                "done among those whose due date has come by the report date, divided by those."
            ),
        ),
    )
}


@dataclass(frozen=True)
class IndicatorValue:
    """One computed indicator.

    Attributes
    ----------
    code
        Indicator code.
    numerator, denominator
        The counts (or sums) the share is made of.
    target
        The target share, if one was set.
    unknown
        Villages left out of a population indicator because their people are unknown.
    """

    code: str
    numerator: float
    denominator: float
    target: float | None = None
    unknown: int = 0

    @property
    def value(self) -> float | None:
        """``numerator / denominator``; None when the denominator is zero."""
        if self.denominator <= 0:
            return None
        return float(min(max(self.numerator / self.denominator, 0.0), 1.0))

    @property
    def met(self) -> bool | None:
        """Whether the value reaches the target (a tolerance of 1e-9 for rounding)."""
        if self.target is None or self.value is None:
            return None
        return bool(self.value >= self.target - 1e-9)

    def with_target(self, targets: Mapping[str, float]) -> IndicatorValue:
        """Return the same value with its target from `targets` (if any)."""
        return IndicatorValue(
            self.code, self.numerator, self.denominator, targets.get(self.code), self.unknown
        )

    def as_dict(self, *, lang: str = "vi") -> dict[str, Any]:
        """Return the contract's JSON object for this indicator.

        ``definition`` is in `lang` (``vi``, ``en``; ``both`` gives the Vietnamese, the first
        language); ``definition_en`` always carries the English, for readers of either.
        """
        return _indicator_dict(
            self.code,
            self.value,
            self.numerator,
            self.denominator,
            self.target,
            self.met,
            self.unknown,
            lang=lang,
        )


def _indicator_dict(
    code: str,
    value: float | None,
    numerator: float,
    denominator: float,
    target: float | None,
    met: bool | None,
    unknown: int,
    *,
    lang: str,
    definition: bool = True,
) -> dict[str, Any]:
    """Return the contract's JSON object of one indicator (see `IndicatorValue.as_dict`).

    Without `definition`, the object has no ``definition`` and ``definition_en`` (the rows of
    ``by_unit``: the document's ``indicators`` define each code once).
    """
    ind = INDICATORS[code]
    defined = (
        {
            "definition": ind.definition_en if lang == "en" else ind.definition_vi,
            "definition_en": ind.definition_en,
        }
        if definition
        else {}
    )
    return {
        "code": code,
        "label_vi": ind.label_vi,
        "label_en": ind.label_en,
        "value": value,
        "numerator": _number(numerator),
        "denominator": _number(denominator),
        "target": target,
        "met": met,
        **defined,
        **({"villages_without_population": unknown} if unknown else {}),
    }


def _number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(float(x), 3)


# Village columns behind each village-based indicator: (flag column, weight column or None).
_VILLAGE_INDICATORS: dict[str, tuple[str, str | None]] = {
    "village_mobile_coverage": ("covered_mobile", None),
    "village_5g_coverage": ("covered_5g", None),
    "village_ftth_coverage": ("covered_ftth", None),
    "household_ftth_reach": ("covered_ftth", "households"),
    # The 2G/3G switch-off (hatangso.coverage.services): villages that lose mobile service.
    "village_2g_off_loss": ("loss_2g_off", None),
    "village_2g3g_off_loss": ("loss_2g3g_off", None),
}


def village_indicators(villages: pd.DataFrame, *, codes: Sequence[str]) -> list[IndicatorValue]:
    """Compute the village-based indicators of `codes` from a village table.

    Parameters
    ----------
    villages
        With boolean ``covered_mobile``, ``covered_5g``, ``covered_ftth`` and, for the
        population indicators, ``population_covered_mobile``/``population_covered_5g`` and
        ``population_in_village`` (people), ``households`` for ``household_ftth_reach``.
    codes
        Which indicators to compute.
    """
    values: list[IndicatorValue] = []
    for code in codes:
        if code in _VILLAGE_INDICATORS:
            flag, weight = _VILLAGE_INDICATORS[code]
            if flag not in villages:
                continue
            covered = villages[flag].fillna(False).to_numpy(dtype=bool)
            if weight is None:
                values.append(IndicatorValue(code, float(covered.sum()), float(len(covered))))
            elif weight in villages:
                w = villages[weight].fillna(0.0).to_numpy(dtype=float)
                values.append(IndicatorValue(code, float(w[covered].sum()), float(w.sum())))
        elif code in ("population_mobile_coverage", "population_5g_coverage"):
            column = "population_covered_" + code.split("_")[1]
            if column not in villages or "population_in_village" not in villages:
                continue
            people = villages["population_in_village"].to_numpy(dtype=float)
            known = np.isfinite(people)
            num = float(np.nansum(villages[column].to_numpy(dtype=float)[known]))
            den = float(np.sum(people[known]))
            unknown = int((~known).sum())
            values.append(IndicatorValue(code, num, den, unknown=unknown))
    return values


@dataclass(frozen=True)
class UnitItems:
    """Things other than villages that an indicator counts, each placed in a village's units.

    An industrial park counts in the commune, district and province of the village that holds
    its representative point (:meth:`hatangso.coverage.iot.IotZones.unit_items`).

    Attributes
    ----------
    village
        Per item, the position (0-based row) of its village in the village table; -1 for an
        item placed in no unit.
    counted
        Per item, whether it counts in the numerator (a zone covered).
    """

    village: npt.NDArray[np.intp]
    counted: npt.NDArray[np.bool_]


def indicators_by_unit(
    villages: pd.DataFrame,
    *,
    levels: Sequence[str],
    codes: Sequence[str],
    targets: Mapping[str, float],
    lang: str = "vi",
    columns: Mapping[str, str] | None = None,
    items: Mapping[str, UnitItems] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Compute the village indicators per admin unit, for every level present in the data.

    Units are named by their path (``"Huyện A / Xã B"``) so that two communes of the same name
    in different districts stay apart. `columns` maps a level to the village column that
    holds its units (default: the level's own name), so that one village frame is counted in
    either hierarchy of the 2025 reform (``{"commune": "commune_new", ...}``, see
    :func:`hatangso.geo.units.unit_columns`); the output stays keyed by level. `items` gives
    the indicators of `codes` that count other things than villages (``key_area_iot_coverage``:
    the IoT zones), each in the units of its village: a unit holds such an indicator when it
    holds any of its items. A unit's indicators carry no ``definition``: the document's own
    ``indicators`` give it once for each code.

    Examples
    --------
    Two communes; a zone in the village of B, covered, and one in A's, not:

    >>> villages = pd.DataFrame({"commune": ["A", "B"], "covered_mobile": [True, False]})
    >>> zones = UnitItems(np.array([1, 0]), np.array([True, False]))
    >>> out = indicators_by_unit(villages, levels=["commune"], targets={},
    ...     codes=["village_mobile_coverage", "key_area_iot_coverage"],
    ...     items={"key_area_iot_coverage": zones})
    >>> [(u["unit"], [(i["code"], i["value"]) for i in u["indicators"]]) for u in out["commune"]]
    [('A', [('village_mobile_coverage', 1.0), ('key_area_iot_coverage', 0.0)]), ('B', [('village_mobile_coverage', 0.0), ('key_area_iot_coverage', 1.0)])]
    """  # noqa: E501
    out: dict[str, list[dict[str, Any]]] = {}
    column_of = dict(columns or {})
    present = [
        lv
        for lv in levels
        if column_of.get(lv, lv) in villages and villages[column_of.get(lv, lv)].notna().any()
    ]
    for depth, level in enumerate(present):
        path_cols = [column_of.get(lv, lv) for lv in present[: depth + 1]]
        groups, names = _unit_groups(villages, path_cols)
        sums = _unit_sums(villages, groups, len(names), codes=codes)
        sums += _item_sums(items or {}, groups, len(names), codes=codes)
        entries = [
            _unit_entries(code, num, den, unknown, targets.get(code), lang=lang)
            for code, num, den, unknown in sums
        ]
        out[level] = [
            {
                "unit": str(unit),
                "indicators": [e[g] for e in entries if e[g] is not None],
            }
            for g, unit in enumerate(names)
        ]
    return out


_UNKNOWN_UNIT = "(không rõ)"


def _unit_groups(
    villages: pd.DataFrame, path_cols: Sequence[str]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]:
    """Return each village's unit number and the units' paths (``"Huyện A / Xã B"``), sorted.

    Text columns are factorized one by one and
    only the distinct paths are spelt out (a national run has 100,000 villages in 10,000
    communes); other columns are spelt out row by row, as text.
    """
    columns = [villages[c] for c in path_cols]
    if not all(isinstance(c.dtype, pd.StringDtype) for c in columns):
        keys = villages[path_cols].astype("string").fillna(_UNKNOWN_UNIT)
        unit_names = keys[path_cols[0]]
        for col in path_cols[1:]:
            unit_names = unit_names + " / " + keys[col]
        by_row: tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]
        by_row = pd.factorize(unit_names.to_numpy(dtype=object), sort=True)
        return by_row
    combined = np.zeros(len(villages), dtype=np.int64)
    for column in columns:
        code, distinct = pd.factorize(column)
        combined = pd.factorize(combined * (len(distinct) + 1) + code + 1)[0].astype(np.int64)
    first = np.unique(combined, return_index=True)[1]  # a village of each distinct path
    parts = []
    for column in columns:
        text = column.to_numpy(dtype=object)[first]
        text[pd.isna(text)] = _UNKNOWN_UNIT
        parts.append(text)
    paths = np.array([" / ".join(row) for row in zip(*parts, strict=True)], dtype=object)
    # Two distinct rows may spell one path ("A / B", "C" and "A", "B / C"): one unit.
    of_path, names = pd.factorize(paths, sort=True)
    groups: npt.NDArray[np.intp] = of_path[combined]
    return groups, names


def _unit_entries(
    code: str,
    num: npt.NDArray[Any],
    den: npt.NDArray[Any],
    unknown: npt.NDArray[np.int64],
    target: float | None,
    *,
    lang: str,
) -> list[dict[str, Any] | None]:
    """Return the JSON object of `code` in each unit, None where its denominator is 0.

    The objects of ``IndicatorValue(...).with_target(targets).as_dict(lang=lang)`` but their
    definition, made from plain numbers: a national run has tens of thousands of them, and
    the definitions, the same sentences in every unit, were half of ``kpis.json``.
    """
    entries: list[dict[str, Any] | None] = []
    for n, d, u in zip(num.tolist(), den.tolist(), unknown.tolist(), strict=True):
        if not d > 0:
            entries.append(None)
            continue
        value = float(min(max(n / d, 0.0), 1.0))
        met = None if target is None else bool(value >= target - 1e-9)
        entries.append(
            _indicator_dict(code, value, n, d, target, met, u, lang=lang, definition=False)
        )
    return entries


#: ``(code, numerators, denominators, unknown villages)``, one item per group.
_Sums = tuple[str, npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[np.int64]]


def _unit_sums(
    villages: pd.DataFrame, groups: npt.NDArray[np.intp], n: int, *, codes: Sequence[str]
) -> list[_Sums]:
    """Numerators, denominators and unknown villages of `codes` per group, as arrays.

    The same rules as :func:`village_indicators`, summed per group with ``np.bincount`` (one
    pass over the villages for all groups, not one frame per group).
    """
    sums: list[_Sums] = []
    none = np.zeros(n, dtype=np.int64)
    for code in codes:
        if code in _VILLAGE_INDICATORS:
            flag, weight = _VILLAGE_INDICATORS[code]
            if flag not in villages:
                continue
            covered = villages[flag].fillna(False).to_numpy(dtype=bool)
            if weight is None:
                num = np.bincount(groups, weights=covered.astype(float), minlength=n)
                den = np.bincount(groups, minlength=n).astype(float)
            elif weight in villages:
                w = villages[weight].fillna(0.0).to_numpy(dtype=float)
                num = np.bincount(groups, weights=np.where(covered, w, 0.0), minlength=n)
                den = np.bincount(groups, weights=w, minlength=n)
            else:
                continue
            sums.append((code, num, den, none))
        elif code in ("population_mobile_coverage", "population_5g_coverage"):
            column = "population_covered_" + code.split("_")[1]
            if column not in villages or "population_in_village" not in villages:
                continue
            people = villages["population_in_village"].to_numpy(dtype=float)
            reached = villages[column].to_numpy(dtype=float)
            known = np.isfinite(people)
            num = np.bincount(
                groups, weights=np.where(known & ~np.isnan(reached), reached, 0.0), minlength=n
            )
            den = np.bincount(groups, weights=np.where(known, people, 0.0), minlength=n)
            unknown = np.bincount(groups, weights=(~known).astype(float), minlength=n)
            sums.append((code, num, den, unknown.astype(np.int64)))
    return sums


def _item_sums(
    items: Mapping[str, UnitItems],
    groups: npt.NDArray[np.intp],
    n: int,
    *,
    codes: Sequence[str],
) -> list[_Sums]:
    """Numerators and denominators of the `items` of `codes` per group of their villages."""
    sums: list[_Sums] = []
    for code in codes:
        if code not in items:
            continue
        village = np.asarray(items[code].village, dtype=np.intp)
        placed = village >= 0
        group = groups[village[placed]]
        counted = np.asarray(items[code].counted, dtype=bool)[placed]
        num = np.bincount(group, weights=counted.astype(float), minlength=n)
        den = np.bincount(group, minlength=n).astype(float)
        sums.append((code, num, den, np.zeros(n, dtype=np.int64)))
    return sums


def kpi_document(
    indicators: Sequence[IndicatorValue],
    *,
    by_unit: Mapping[str, list[dict[str, Any]]],
    inputs: Mapping[str, Mapping[str, int]],
    targets: Mapping[str, float],
    extra: Mapping[str, Any] | None = None,
    lang: str = "vi",
) -> dict[str, Any]:
    """Assemble ``kpis.json``: indicators (in the contract's order), by_unit, inputs.

    Each indicator's ``definition`` is in `lang` (see `IndicatorValue.as_dict`).
    """
    order = {code: i for i, code in enumerate(INDICATORS)}
    # Nothing to count (denominator 0) is no indicator: left out, not shown as null.
    rows = sorted((v for v in indicators if v.denominator > 0), key=lambda v: order[v.code])
    document: dict[str, Any] = {
        "indicators": [v.with_target(targets).as_dict(lang=lang) for v in rows],
        "by_unit": dict(by_unit),
        "inputs": {kind: dict(c) for kind, c in inputs.items()},
    }
    if extra:
        document.update(extra)
    return document
