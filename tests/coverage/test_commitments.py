"""Operators' commitments judged on a hand-made year."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from hatangso.coverage.commitments import evaluate_commitments


@pytest.fixture
def villages() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "village_id": ["V1", "V2", "V3", "V4"],
            "name": ["Nà Hin", "Pác Nặm", "Khuổi Hát", "Bản Chang"],
            "serving_operators": ["Viettel;VNPT", "Viettel", "", None],
            "covered_5g": [True, False, False, False],
        }
    )


@pytest.fixture
def commitments() -> pd.DataFrame:
    # The plan of one year, 2025, judged on 31 December 2025.
    return pd.DataFrame(
        [
            ("V1", "Viettel", "4G", "2025-03-31"),  # done, was due
            ("V1", "VNPT", "5G", "2025-06-30"),  # done: V1 has 5G and VNPT serves it
            ("V2", "Viettel", "5G", "2025-09-30"),  # V2 has no 5G: overdue
            ("V2", "VNPT", "4G", "2025-12-31"),  # due today, not done: due
            ("V3", "Viettel", "4G", "2026-06-30"),  # not done, not yet due: due
            ("V1", "MobiFone", "4G", "2026-03-31"),  # not yet due
            ("V2", "Viettel", "4G", "2026-12-31"),  # done early
            ("V9", "Viettel", "4G", "2025-01-31"),  # no such village
        ],
        columns=["village_id", "operator", "tech", "due"],
    )


def test_commitments_of_a_year(villages, commitments) -> None:
    found = evaluate_commitments(commitments, villages, as_of=date(2025, 12, 31))
    assert found.table["status"].tolist() == [
        "done",
        "done",
        "overdue",
        "due",
        "due",
        "due",
        "done",
        "unknown_village",
    ]
    assert found.table["reached"].tolist() == [True, True, True, True, False, False, False, True]
    assert found.counts() == {"done": 3, "due": 3, "overdue": 1, "unknown_village": 1}
    # Due by the report date (the unknown village aside): four; done of them: two.
    assert (found.indicator.numerator, found.indicator.denominator) == (2.0, 4.0)
    table = found.by_operator.set_index("operator")
    assert table.loc["Viettel", ["commitments", "done", "due", "overdue", "reached"]].tolist() == [
        4,
        2,
        1,
        1,
        2,
    ]
    assert table.loc["Viettel", "on_time"] == 0.5
    assert table.loc["VNPT", "on_time"] == 0.5
    assert np.isnan(table.loc["MobiFone", "on_time"])  # nothing of it due yet
    assert found.table["name"].iloc[0] == "Nà Hin" and pd.isna(found.table["name"].iloc[-1])
    summary = found.summary()
    assert summary["as_of"] == "2025-12-31"
    mobifone = next(r for r in summary["by_operator"] if r["operator"] == "MobiFone")
    assert mobifone["on_time"] is None


def test_a_later_report_date_makes_due_overdue(villages, commitments) -> None:
    found = evaluate_commitments(commitments, villages, as_of=date(2027, 1, 1))
    assert found.counts() == {"done": 3, "due": 0, "overdue": 4, "unknown_village": 1}
    assert (found.indicator.numerator, found.indicator.denominator) == (3.0, 7.0)


def test_without_sites_nothing_is_done(commitments) -> None:
    bare = pd.DataFrame({"village_id": ["V1", "V2", "V3"]})
    found = evaluate_commitments(commitments, bare, as_of=date(2025, 12, 31))
    assert "done" not in set(found.table["status"])
