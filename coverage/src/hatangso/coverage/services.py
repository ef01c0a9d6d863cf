"""Which technologies serve each village, and what switching 2G (then 3G) off takes away.

The contract's coverage indicators count mobile *broadband*, 4G or better
(:mod:`hatangso.coverage.mobile`). Beside them, a village has *mobile service* when any of
2G, 3G, 4G or 5G reaches it: a handset can call and text there. Vietnam is switching its 2G
networks off (Circulars 03/2024/TT-BTTTT and 04/2024/TT-BTTTT: 2G-only handsets cut from
16 October 2024, 2G networks stopped by September 2026), and 3G after them; a village served
by 2G alone (or by 2G and 3G alone) loses its mobile service with them.

Each technology is judged on its own by the run's rule (``mobile.rule``: the representative
point, the centre and clusters, or the covered share of area or people) from the sites that
carry it, with its own reach (:data:`hatangso.coverage.radio.RECEPTION_THRESHOLD_DBM`): a
village has mobile service when the rule holds for at least one of 2G, 3G and "4G or
better" (``covered_mobile``). Under ``point`` and ``official`` this is the rule applied to
the union of the footprints; under ``area`` and ``population`` it asks one technology to
cover the share, as a handset camps on one network at a time.

The village columns (:data:`TECH_COLUMNS`, :data:`LOSS_COLUMNS`):

- ``cov_2g``, ``cov_3g``, ``cov_nbiot``, ``cov_ltem`` (bool): the technology serves the
  village (any operator);
- ``mobile_service`` (bool): 2G, 3G or 4G or better serves it;
- ``loss_2g_off`` (bool): it has mobile service today and none without 2G, i.e. 2G serves it
  and neither 3G nor 4G or better does (``village_2g_off_loss``);
- ``loss_2g3g_off`` (bool): it has mobile service today and none without 2G and 3G, i.e. 2G
  or 3G serves it and 4G or better does not (``village_2g3g_off_loss``);
- ``operators_lost_2g_off``, ``operators_lost_2g3g_off`` (``;``-joined): the operators whose
  own service to the village ends with the switch-off (an operator's service is its own
  sites' 2G, 3G and 4G or better, the last being ``serving_operators``).

:func:`switch_off_table` sums them into ``kpis.json``'s ``switch_off`` block: villages and
people, in all and per operator.

These columns rest on the prediction: measured samples and operators' declarations, which
may later re-decide ``covered_mobile`` (:mod:`hatangso.coverage.measurements`), carry no 2G or
3G answer and leave them as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from hatangso.coverage import mobile
from hatangso.coverage.villages import VillagePoints, judge, serving_operators
from hatangso.geo.techs import SWITCH_OFF_STEPS

if TYPE_CHECKING:
    from hatangso.coverage.rasters import Raster
    from hatangso.coverage.terrain import CoverageRasters

__all__ = [
    "LOSS_COLUMNS",
    "SWITCH_OFF_STEPS",
    "TECH_COLUMNS",
    "TechCoverage",
    "carries_legacy",
    "service_columns",
    "switch_off_table",
    "technology_coverage",
    "terrain_technology_coverage",
]

log = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

#: Village column of each technology judged here (4G and 5G have ``covered_mobile`` and
#: ``covered_5g``).
TECH_COLUMNS: Final[Mapping[str, str]] = {
    "2G": "cov_2g",
    "3G": "cov_3g",
    "NB-IoT": "cov_nbiot",
    "LTE-M": "cov_ltem",
}
#: Technologies whose service is counted per operator (the switch-off losses need them).
_PER_OPERATOR: Final = ("2G", "3G")
#: Loss column of each switch-off indicator.
LOSS_COLUMNS: Final[Mapping[str, str]] = {code: col for code, _, col, _ in SWITCH_OFF_STEPS}


@dataclass(frozen=True)
class TechCoverage:
    """Villages served by each technology, in all and per operator.

    Attributes
    ----------
    covered
        ``{tech: bool array}`` for every key of :data:`TECH_COLUMNS`, one value per village.
    by_operator
        ``{tech: {operator: bool array}}`` for 2G and 3G: the villages the operator's own
        sites of that technology serve (operators without such sites are absent).
    """

    covered: Mapping[str, BoolArray]
    by_operator: Mapping[str, Mapping[str, BoolArray]]


def carries_legacy(sites: pd.DataFrame) -> bool:
    """Whether any site carries 2G, 3G, NB-IoT or LTE-M (then the technology columns appear).

    Examples
    --------
    >>> carries_legacy(pd.DataFrame({"tech": ["4G", "2G;4G"]}))
    True
    >>> carries_legacy(pd.DataFrame({"tech": ["4G;5G"]})), carries_legacy(pd.DataFrame())
    (False, False)
    """
    if "tech" not in sites or not len(sites):
        return False
    lists = pd.Series(sites["tech"].dropna().astype(str).unique(), dtype=object)
    names = {t for value in lists for t in str(value).split(";")}
    return bool(names & set(TECH_COLUMNS))


def technology_coverage(
    villages: gpd.GeoDataFrame,
    sites: mobile.SiteTable,
    *,
    rule: str,
    min_share: float,
    points: VillagePoints,
    population_cells: mobile.PopulationCells | None = None,
) -> TechCoverage:
    """Judge each village's 2G, 3G, NB-IoT and LTE-M coverage with a distance model.

    Parameters
    ----------
    villages
        Village polygons (or points) in the sites' metric CRS (any CRS under the ``point``
        and ``official`` rules: only `points` are used).
    sites
        From :func:`hatangso.coverage.mobile.site_table`: ``reach_m`` of every technology.
    rule, min_share
        The run's ``mobile.rule`` and ``mobile.min_share``.
    points
        The villages' demand points in the sites' CRS.
    population_cells
        People as weighted points, for the ``population`` rule (else it uses area shares).

    Returns
    -------
    TechCoverage
        One boolean per village and technology, and per operator for 2G and 3G.

    Notes
    -----
    The footprints and the rule are :mod:`hatangso.coverage.mobile`'s, technology by
    technology: a technology no site carries serves nobody, without any work.
    """
    n = points.n_villages
    point_village, pxy = points.rule_points(rule)
    shares_needed = rule in ("area", "population")
    geoms = np.asarray(villages.geometry.array, dtype=object)
    is_polygon = np.isin(shapely.get_type_id(geoms), (3, 6)) if shares_needed else None
    codes, names = pd.factorize(pd.Series(sites.operator, dtype=object).astype(str), sort=True)
    site_operator = np.asarray(codes, dtype=np.int64)
    covered: dict[str, BoolArray] = {}
    by_operator: dict[str, dict[str, BoolArray]] = {}
    for tech in TECH_COLUMNS:
        offered = sites.reach_m[tech] > 0
        if not offered.any():
            covered[tech] = np.zeros(n, dtype=bool)
            continue
        pairs = mobile.covered_points(pxy[:, 0], pxy[:, 1], sites, tech)
        operators = sorted(
            {int(k) for k in np.unique(site_operator[offered])} if tech in _PER_OPERATOR else []
        )

        def hit(keep: BoolArray | None, pairs: mobile.Pairs = pairs) -> BoolArray:
            lit = pairs.point if keep is None else pairs.point[keep[pairs.site]]
            out = np.zeros(len(point_village), dtype=bool)
            out[lit] = True
            return out

        area: FloatArray | None = None
        area_by_op: FloatArray | None = None
        people: FloatArray | None = None
        cell_pairs: mobile.Pairs | None = None
        if shares_needed and is_polygon is not None:
            polygons = geoms.copy()
            polygons[~is_polygon] = None
            total, area_by_op = mobile._polygon_shares_by_group(
                polygons,
                is_polygon,
                sites,
                tech,
                group=site_operator,
                n_groups=len(names) if operators else 0,
                min_share=min_share,
            )
            area = np.where(is_polygon, total, np.nan)
            if rule == "population" and population_cells is not None:
                cell_pairs = mobile.covered_points(
                    population_cells.x, population_cells.y, sites, tech
                )
                people = _people_share(population_cells, cell_pairs, None, n)
        covered[tech] = judge(
            rule, points, hit=hit(None), min_share=min_share, area_share=area, people_share=people
        ).covered
        own: dict[str, BoolArray] = {}
        for k in operators:
            keep = site_operator == k
            op_area = (
                None
                if area_by_op is None or is_polygon is None
                else np.where(is_polygon, area_by_op[:, k], np.nan)
            )
            op_people = (
                None
                if cell_pairs is None or population_cells is None
                else _people_share(population_cells, cell_pairs, keep, n)
            )
            own[str(names[k])] = judge(
                rule,
                points,
                hit=hit(keep),
                min_share=min_share,
                area_share=op_area,
                people_share=op_people,
            ).covered
        if operators:
            by_operator[tech] = own
    log.debug("technology coverage: %s", {t: int(c.sum()) for t, c in covered.items()})
    return TechCoverage(covered=covered, by_operator=by_operator)


def _people_share(
    cells: mobile.PopulationCells, pairs: mobile.Pairs, keep: BoolArray | None, n: int
) -> FloatArray:
    """Covered share of each village's people (NaN where it holds nobody)."""
    lit = pairs.point if keep is None else pairs.point[keep[pairs.site]]
    hit = np.zeros(len(cells.x), dtype=bool)
    hit[lit] = True
    total = np.bincount(cells.village, weights=cells.people, minlength=n)
    covered = np.bincount(cells.village, weights=cells.people * hit, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(total > 0, covered / np.where(total > 0, total, 1), np.nan))


def terrain_technology_coverage(
    villages: gpd.GeoDataFrame,
    grids: CoverageRasters,
    *,
    rule: str,
    min_share: float,
    points: VillagePoints,
    population: Raster | None = None,
) -> TechCoverage:
    """Judge each village's 2G, 3G, NB-IoT and LTE-M coverage on the terrain model's grids.

    Parameters
    ----------
    villages
        Village polygons in the grids' CRS.
    grids
        :func:`hatangso.coverage.terrain.coverage_rasters`: one mask per operator and
        technology, each received at its technology's threshold.
    rule, min_share
        As :func:`hatangso.coverage.terrain.judge_villages` (``population`` needs
        `population`; without it the caller passes ``area``).
    points
        The villages' demand points in the grids' CRS.
    population
        People per cell on the grids, for the ``population`` rule.

    Returns
    -------
    TechCoverage
        As :func:`technology_coverage`.
    """
    from hatangso.coverage.rasters import sample_points, zonal_shares

    grid = grids.best_dbm
    _, xy = points.rule_points(rule)
    at_points = gpd.GeoSeries(shapely.points(xy), crs=grid.crs)

    def answer(mask: BoolArray) -> BoolArray:
        raster = grid.with_array(mask)
        hit = np.nan_to_num(sample_points(raster, at_points), nan=0.0) > 0.5
        area = people = None
        if rule in ("area", "population"):
            area = zonal_shares(villages, raster)
            if population is not None:
                people = zonal_shares(villages, raster, weights=population)
        return judge(
            rule, points, hit=hit, min_share=min_share, area_share=area, people_share=people
        ).covered

    n = points.n_villages
    covered: dict[str, BoolArray] = {}
    by_operator: dict[str, dict[str, BoolArray]] = {}
    for tech in TECH_COLUMNS:
        operators = sorted({op for op, t in grids.covered if t == tech})
        if not operators:
            covered[tech] = np.zeros(n, dtype=bool)
            continue
        covered[tech] = answer(grids.mask(techs=(tech,)))
        if tech in _PER_OPERATOR:
            by_operator[tech] = {
                op: answer(grids.mask(techs=(tech,), operators=[op])) for op in operators
            }
    return TechCoverage(covered=covered, by_operator=by_operator)


def _split(joined: npt.ArrayLike) -> list[set[str]]:
    return [set(filter(None, str(v).split(";"))) for v in np.asarray(joined, dtype=object)]


def service_columns(
    tech: TechCoverage, *, covered_mobile: npt.ArrayLike, serving: npt.ArrayLike
) -> dict[str, npt.NDArray[Any]]:
    """Return the village columns of the technologies and the switch-off losses.

    Parameters
    ----------
    tech
        From :func:`technology_coverage` or :func:`terrain_technology_coverage`.
    covered_mobile
        4G or better serves the village (``covered_mobile``).
    serving
        ``serving_operators``: the operators whose own 4G or better serves the village.

    Returns
    -------
    dict
        The columns of the module's description, one value per village.

    Examples
    --------
    A village served by 2G alone, one by 3G alone, one by 2G and 4G:

    >>> cov = TechCoverage(
    ...     covered={"2G": np.array([True, False, True]), "3G": np.array([False, True, False]),
    ...              "NB-IoT": np.zeros(3, bool), "LTE-M": np.zeros(3, bool)},
    ...     by_operator={"2G": {"VNPT": np.array([True, False, True])},
    ...                  "3G": {"Viettel": np.array([False, True, False])}})
    >>> out = service_columns(cov, covered_mobile=[False, False, True], serving=["", "", "VNPT"])
    >>> out["loss_2g_off"].tolist(), out["loss_2g3g_off"].tolist()
    ([True, False, False], [True, True, False])
    >>> out["operators_lost_2g3g_off"].tolist()
    ['VNPT', 'Viettel', '']
    """
    broadband = np.asarray(covered_mobile, dtype=bool)
    n = broadband.size
    cov = {t: np.asarray(tech.covered[t], dtype=bool) for t in TECH_COLUMNS}
    out: dict[str, npt.NDArray[Any]] = {TECH_COLUMNS[t]: cov[t] for t in TECH_COLUMNS}
    out["mobile_service"] = cov["2G"] | cov["3G"] | broadband
    own_broadband = _split(serving)
    operators = sorted(
        {op for ops in own_broadband for op in ops}
        | {op for by_op in tech.by_operator.values() for op in by_op}
    )
    none = np.zeros(n, dtype=bool)
    for _, off, loss_column, operators_column in SWITCH_OFF_STEPS:
        kept = [t for t in ("2G", "3G") if t not in off]
        lost = np.zeros(n, dtype=bool)
        for t in off:
            lost |= cov[t]
        for t in kept:
            lost &= ~cov[t]
        out[loss_column] = lost & ~broadband
        losers: dict[str, BoolArray] = {}
        for op in operators:
            has_broadband = np.array([op in ops for ops in own_broadband], dtype=bool)
            before = np.zeros(n, dtype=bool)
            for t in off:
                before |= tech.by_operator.get(t, {}).get(op, none)
            after = has_broadband.copy()
            for t in kept:
                after |= tech.by_operator.get(t, {}).get(op, none)
            losers[op] = before & ~after
        out[operators_column] = serving_operators(losers, n)
    return out


def _people(villages: pd.DataFrame) -> FloatArray | None:
    for column in ("population_in_village", "population"):
        if column in villages:
            return np.asarray(pd.to_numeric(villages[column], errors="coerce"), dtype=float)
    return None


def switch_off_table(villages: pd.DataFrame, *, list_limit: int | None = None) -> dict[str, Any]:
    """Return ``kpis.json``'s ``switch_off`` block: what each switch-off step takes away.

    Parameters
    ----------
    villages
        With the columns of :func:`service_columns`; optional ``population_in_village`` (else
        ``population``), ``village_id``, ``name``.
    list_limit
        Most villages listed per step (None: all).

    Returns
    -------
    dict
        ``{code: {"switched_off": [...], "villages": int, "people": float | None,
        "people_unknown": int, "by_operator": [{"operator", "villages", "people"}],
        "listed": [{"village_id", "name", "commune", "district", "people", "operators"}]}}``
        for each code of :data:`SWITCH_OFF_STEPS` whose column is present: the villages with
        mobile service today and none after the step, the people living in them (villages
        whose people are unknown are counted in ``people_unknown``), per operator the
        villages (and people) where that operator's own service ends, and the villages
        themselves (``name``, ``commune``, ``district`` where the villages carry them;
        ``people`` None where unknown; ``operators`` whose service ends there, ``;``-joined).
        Empty when the columns are absent.

    Examples
    --------
    >>> v = pd.DataFrame({"village_id": ["a", "b"], "population": [100.0, 50.0],
    ...                   "loss_2g_off": [True, False], "operators_lost_2g_off": ["VNPT", ""],
    ...                   "loss_2g3g_off": [True, True],
    ...                   "operators_lost_2g3g_off": ["VNPT", "VNPT;Viettel"]})
    >>> t = switch_off_table(v)
    >>> t["village_2g_off_loss"]["villages"], t["village_2g3g_off_loss"]["people"]
    (1, 150.0)
    >>> t["village_2g3g_off_loss"]["by_operator"]
    [{'operator': 'VNPT', 'villages': 2, 'people': 150.0}, {'operator': 'Viettel', 'villages': 1, 'people': 50.0}]
    """  # noqa: E501
    people = _people(villages)
    ids: Sequence[str] = (
        villages["village_id"].astype(str).tolist()
        if "village_id" in villages
        else [str(i) for i in villages.index]
    )
    labels = {
        c: villages[c].astype("string").fillna("").tolist()
        for c in ("name", "commune", "district")
        if c in villages
    }
    table: dict[str, Any] = {}
    for code, off, loss_column, operators_column in SWITCH_OFF_STEPS:
        if loss_column not in villages:
            continue
        lost = villages[loss_column].fillna(False).to_numpy(dtype=bool)
        known = np.isfinite(people) if people is not None else np.zeros(len(lost), dtype=bool)
        weight = np.where(known, people, 0.0) if people is not None else np.zeros(len(lost))
        rows: list[dict[str, Any]] = []
        if operators_column in villages:
            per_village = _split(villages[operators_column].fillna("").to_numpy(dtype=object))
            for op in sorted({op for ops in per_village for op in ops}):
                mine = np.array([op in ops for ops in per_village], dtype=bool)
                rows.append(
                    {
                        "operator": op,
                        "villages": int(mine.sum()),
                        "people": round(float(weight[mine].sum()), 1)
                        if people is not None
                        else None,
                    }
                )
        rows_lost = np.flatnonzero(lost)
        if list_limit is not None:
            rows_lost = rows_lost[:list_limit]
        losers = (
            villages[operators_column].fillna("").astype(str).to_numpy(dtype=object)
            if operators_column in villages
            else np.full(len(lost), "", dtype=object)
        )
        listed = [
            {
                "village_id": ids[int(i)],
                **{c: values[int(i)] for c, values in labels.items()},
                "people": round(float(people[i]), 1)
                if people is not None and np.isfinite(people[i])
                else None,
                "operators": str(losers[i]),
            }
            for i in rows_lost
        ]
        table[code] = {
            "switched_off": list(off),
            "villages": int(lost.sum()),
            "people": round(float(weight[lost].sum()), 1) if people is not None else None,
            "people_unknown": int((lost & ~known).sum()) if people is not None else int(lost.sum()),
            "by_operator": rows,
            "listed": listed,
        }
    return table
