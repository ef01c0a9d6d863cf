"""Indicators with nothing to count are left out; unknown people are left out and counted."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hatangso.coverage.kpis import (
    INDICATORS,
    IndicatorValue,
    indicators_by_unit,
    kpi_document,
    village_indicators,
)


def _villages() -> pd.DataFrame:
    # Three villages of one commune: A (100 people, covered), B (people unknown, covered),
    # C (300 people, not covered). No household is known anywhere (0 households).
    return pd.DataFrame(
        {
            "commune": ["Xã Một"] * 3,
            "covered_mobile": [True, True, False],
            "covered_ftth": [False, False, False],
            "households": [0.0, 0.0, 0.0],
            "population_in_village": [100.0, np.nan, 300.0],
            "population_covered_mobile": [100.0, np.nan, 0.0],
        }
    )


def test_population_indicator_counts_known_people_and_says_how_many_are_unknown() -> None:
    codes = ["population_mobile_coverage", "village_mobile_coverage"]
    values = {v.code: v for v in village_indicators(_villages(), codes=codes)}
    people = values["population_mobile_coverage"].as_dict()
    # 100 covered of the 400 people known (A and C); B is left out of both sides.
    assert (people["numerator"], people["denominator"], people["value"]) == (100, 400, 0.25)
    assert people["villages_without_population"] == 1
    # Villages count whatever their people: 2 of 3.
    assert "villages_without_population" not in values["village_mobile_coverage"].as_dict()


def test_nothing_to_count_is_left_out_everywhere() -> None:
    villages = _villages()
    codes = ["village_mobile_coverage", "household_ftth_reach"]
    # household_ftth_reach: 0 of 0 households: not an indicator of this data.
    document = kpi_document(
        [*village_indicators(villages, codes=codes), IndicatorValue("pole_sharing_ratio", 0, 0)],
        by_unit=indicators_by_unit(villages, levels=["commune"], codes=codes, targets={}),
        inputs={},
        targets={"household_ftth_reach": 1.0},
    )
    assert [i["code"] for i in document["indicators"]] == ["village_mobile_coverage"]
    (unit,) = document["by_unit"]["commune"]
    assert [i["code"] for i in unit["indicators"]] == ["village_mobile_coverage"]


def test_the_definition_follows_the_report_language() -> None:
    value = IndicatorValue("village_mobile_coverage", 3, 4)
    ind = INDICATORS["village_mobile_coverage"]
    for lang, definition in (("vi", ind.definition_vi), ("both", ind.definition_vi),
                             ("en", ind.definition_en)):  # fmt: skip
        doc = value.as_dict(lang=lang)
        assert doc["definition"] == definition
        assert doc["definition_en"] == ind.definition_en
    assert value.as_dict()["definition"] == ind.definition_vi  # Vietnamese by default
    document = kpi_document([value], by_unit={}, inputs={}, targets={}, lang="en")
    assert document["indicators"][0]["definition"] == ind.definition_en


def test_a_unit_row_is_the_indicator_without_its_definition() -> None:
    """The definitions, the same sentences in every unit, are given once at the top."""
    villages = pd.DataFrame({"commune": ["A", "A", "B"], "covered_mobile": [True, False, True]})
    by_unit = indicators_by_unit(
        villages, levels=["commune"], codes=["village_mobile_coverage"], targets={}
    )
    (a, b) = by_unit["commune"]
    row = a["indicators"][0]
    whole = IndicatorValue("village_mobile_coverage", 1, 2).as_dict()
    assert row == {k: v for k, v in whole.items() if k not in ("definition", "definition_en")}
    assert (a["unit"], row["value"], b["unit"], b["indicators"][0]["value"]) == ("A", 0.5, "B", 1.0)


def test_units_by_path_are_the_same_from_text_and_from_other_columns() -> None:
    # Text columns are grouped by their distinct paths, other columns row by row: the same
    # units either way, two rows spelling one path are one unit, a blank is "(không rõ)".
    villages = pd.DataFrame(
        {
            "district": ["A / B", "A", "A", None, "Huyện Hai", "Huyện Hai", ""],
            "commune": ["C", "B / C", "Xã 1", "Xã 2", None, "Xã 3", "Xã 1"],
            "covered_mobile": [True, False, True, True, False, True, False],
        }
    )
    codes = ["village_mobile_coverage"]
    as_text = villages.astype({"district": "string", "commune": "string"})
    as_objects = villages.astype({"district": object, "commune": object})
    by_text = indicators_by_unit(as_text, levels=["district", "commune"], codes=codes, targets={})
    by_rows = indicators_by_unit(
        as_objects, levels=["district", "commune"], codes=codes, targets={}
    )
    assert by_text == by_rows
    communes = {u["unit"]: u["indicators"][0]["denominator"] for u in by_text["commune"]}
    assert communes["A / B / C"] == 2
    assert communes["(không rõ) / Xã 2"] == 1
    assert communes["Huyện Hai / (không rõ)"] == 1
    assert list(communes) == sorted(communes)
