"""Operators' commitments: "operator X covers village V with tech T by date D".

A plan assigns tasks (the ``commitments`` kind: ``village_id``, ``operator``, ``tech``,
``due``). Each is judged on one run's answer and one report date (``as_of``):

``done``
    the run finds the village covered by that operator for that tech: the operator is among
    the village's ``serving_operators`` (its own sites meet the coverage rule with 4G or
    better), and for 5G the village is also covered by 5G. A 2G or 3G commitment is done where
    the operator serves 4G or better.
``due``
    not done, and its due date has not passed (``due >= as_of``);
``overdue``
    not done, and its due date has passed (``due < as_of``);
``unknown_village``
    the village is not in the run's villages (counted nowhere).

``commitments_on_time`` = commitments done among those whose due date has come
(``due <= as_of``) / those commitments. The run tells whether a commitment is done on the
report date, not the day it was done: a commitment done late counts as done once it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd

from hatangso.coverage.kpis import IndicatorValue

__all__ = [
    "COMMITMENT_STATUSES",
    "CommitmentResult",
    "commitment_points",
    "evaluate_commitments",
]

#: The states of a commitment, in the order reports show them.
COMMITMENT_STATUSES = ("done", "due", "overdue", "unknown_village")

#: Columns of the per-operator table.
OPERATOR_COLUMNS = ("operator", "commitments", "done", "due", "overdue", "reached", "on_time")


@dataclass(frozen=True)
class CommitmentResult:
    """Commitments judged on one run.

    Attributes
    ----------
    table
        The commitments (``village_id``, ``operator``, ``tech``, ``due`` as ISO text) plus
        ``name`` and ``commune`` of the village where known, ``status`` (one of
        :data:`COMMITMENT_STATUSES`) and ``reached`` (its due date has come: ``due <=
        as_of``).
    by_operator
        One row per operator: ``operator``, ``commitments``, ``done``, ``due``, ``overdue``,
        ``reached`` (due date come), ``on_time`` (done of those reached / reached; NaN when
        none reached).
    as_of
        The report date.
    """

    table: pd.DataFrame
    by_operator: pd.DataFrame
    as_of: date

    @property
    def indicator(self) -> IndicatorValue:
        """``commitments_on_time``: done of those due by the report date / those."""
        known = (self.table["status"] != "unknown_village").to_numpy(dtype=bool)
        reached = self.table["reached"].to_numpy(dtype=bool) & known
        done = (self.table["status"] == "done").to_numpy(dtype=bool)
        return IndicatorValue(
            "commitments_on_time", float((reached & done).sum()), float(reached.sum())
        )

    def counts(self) -> dict[str, int]:
        """Count the commitments per status, every status named."""
        found = self.table["status"].value_counts()
        return {status: int(found.get(status, 0)) for status in COMMITMENT_STATUSES}

    def summary(self) -> dict[str, object]:
        """Return the ``commitments`` block of ``kpis.json``: date, counts, per operator."""
        rows = self.by_operator.astype(object).where(self.by_operator.notna(), None)
        return {
            "as_of": self.as_of.isoformat(),
            "counts": self.counts(),
            "by_operator": rows.to_dict("records"),
        }


def evaluate_commitments(
    commitments: pd.DataFrame, villages: pd.DataFrame, *, as_of: date
) -> CommitmentResult:
    """Judge each commitment on the run's villages at the report date `as_of`.

    Parameters
    ----------
    commitments
        Clean rows: ``village_id``, ``operator``, ``tech`` (``4G``, ``5G``, ``4G;5G`` ...),
        ``due`` (ISO date text).
    villages
        The assessed villages: ``village_id``, ``serving_operators`` (';'-joined), and
        ``covered_5g`` for 5G commitments; ``name`` and ``commune`` are carried when present.
    as_of
        The report date.

    Returns
    -------
    CommitmentResult

    Examples
    --------
    >>> import pandas as pd
    >>> villages = pd.DataFrame({"village_id": ["V1", "V2"],
    ...     "serving_operators": ["Viettel", ""], "covered_5g": [False, False]})
    >>> tasks = pd.DataFrame({"village_id": ["V1", "V2", "V2"],
    ...     "operator": ["Viettel", "VNPT", "VNPT"], "tech": ["4G", "4G", "4G"],
    ...     "due": ["2025-06-30", "2025-06-30", "2026-06-30"]})
    >>> found = evaluate_commitments(tasks, villages, as_of=date(2025, 12, 31))
    >>> found.table["status"].tolist(), found.indicator.value
    (['done', 'overdue', 'due'], 0.5)
    """
    rows = commitments.reset_index(drop=True)
    ids = villages["village_id"].astype(str).reset_index(drop=True)
    at = pd.Index(ids).get_indexer(pd.Index(rows["village_id"].astype(str)))
    known = at >= 0
    serving = (
        villages["serving_operators"].astype("string").fillna("").reset_index(drop=True)
        if "serving_operators" in villages
        else pd.Series("", index=ids.index, dtype="string")
    )
    pairs = serving.str.split(";").explode()
    pairs = pairs[pairs.fillna("") != ""]
    served = pd.Index(pairs.index.astype(str) + "\0" + pairs.astype(str))
    asked = pd.Series(at).astype(str) + "\0" + rows["operator"].astype(str)
    done = asked.isin(served).to_numpy(dtype=bool)
    needs_5g = rows["tech"].astype(str).str.contains("5G", regex=False).to_numpy(dtype=bool)
    if "covered_5g" in villages:
        has_5g = villages["covered_5g"].fillna(False).to_numpy(dtype=bool)[np.maximum(at, 0)]
    else:
        has_5g = np.zeros(len(rows), dtype=bool)
    done = done & known & (~needs_5g | has_5g)
    due_day = pd.to_datetime(rows["due"], errors="coerce")
    passed = (due_day < pd.Timestamp(as_of)).to_numpy(dtype=bool)
    reached = (due_day <= pd.Timestamp(as_of)).to_numpy(dtype=bool)
    status = np.where(
        ~known, "unknown_village", np.where(done, "done", np.where(passed, "overdue", "due"))
    )
    table = rows[["village_id", "operator", "tech", "due"]].copy()
    for column in ("name", "commune"):
        if column in villages:
            values = villages[column].astype("string").reset_index(drop=True).to_numpy()
            picked = pd.Series(values[np.maximum(at, 0)], dtype="string")
            table[column] = picked.mask(pd.Series(~known))
    table["status"] = pd.array(status, dtype="string")
    table["reached"] = reached
    return CommitmentResult(table, _by_operator(table), as_of)


def _by_operator(table: pd.DataFrame) -> pd.DataFrame:
    """Count each operator's commitments per state, and its share done of those reached."""
    counted = table[table["status"] != "unknown_village"]
    if not len(counted):
        return pd.DataFrame({c: [] for c in OPERATOR_COLUMNS})
    flags = pd.DataFrame(
        {
            "operator": counted["operator"].astype(str),
            "commitments": 1,
            "done": (counted["status"] == "done").astype(int),
            "due": (counted["status"] == "due").astype(int),
            "overdue": (counted["status"] == "overdue").astype(int),
            "reached": counted["reached"].astype(int),
            "reached_done": (counted["reached"] & (counted["status"] == "done")).astype(int),
        }
    )
    out = flags.groupby("operator", sort=True).sum().reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        reached = out["reached"].where(out["reached"] > 0)
        out["on_time"] = out["reached_done"] / reached
    return out[list(OPERATOR_COLUMNS)]


def commitment_points(table: pd.DataFrame, villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Place each judged commitment at its village's representative point (EPSG:4326), for maps.

    `table` is :attr:`CommitmentResult.table` (or ``commitments.csv`` read back); commitments
    of villages not in `villages` are left out.
    """
    v = villages.to_crs(4326).drop_duplicates("village_id")
    points = v.geometry.representative_point()
    points.index = v["village_id"].astype(str).to_numpy()
    known = table[table["village_id"].astype(str).isin(points.index)]
    geometry = points.reindex(known["village_id"].astype(str)).to_numpy()
    return gpd.GeoDataFrame(
        known.drop(columns="reached", errors="ignore").reset_index(drop=True),
        geometry=geometry,
        crs=4326,
    )
