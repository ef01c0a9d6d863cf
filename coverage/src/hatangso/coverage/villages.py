"""The village coverage rules: which points decide a village, and how their answers combine.

Every model (radius, hata, terrain), the measurements, the declarations and site planning
ask the same question of a village, so the rules live here once:

``point``
    the village's representative point (``shapely.point_on_surface``, taken in the input CRS
    and projected) is covered;
``area``
    at least ``min_share`` of the village polygon is covered (a village given as a point
    falls back on its representative point);
``population``
    at least ``min_share`` of the village's people are covered (a village holding nobody
    falls back on its area share);
``official``
    the village centre (``centre_lon``/``centre_lat``, else the representative point) *and*
    every residential cluster assigned to the village are covered (Công văn 1603/BTTTT-CVT:
    a village lacks coverage when its centre or any cluster has no signal).

Fiber reach (FTTH) is not a rule of this kind: under every rule it is measured at the village
centre (the cultural house, where provinces check the service), or at the representative point
where no centre is given (:attr:`VillagePoints.centre_xy`, :attr:`VillagePoints.centre_given`).

:func:`village_points` builds the table of each village's demand points once per run.
:meth:`VillagePoints.rule_points` gives the points a rule checks; a model answers, for each
of them, whether it is covered (and, for ``area``/``population``, the covered share of each
village); :func:`judge` turns those answers into the village's. The same answers per operator
give :func:`serving_operators`, the operators whose own coverage meets the rule, so that a
per-operator answer (predicted, measured or declared) is always an answer to the same rule.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely

from hatangso.geo.errors import ConfigError, Problem

__all__ = [
    "RULES",
    "RuleAnswer",
    "VillagePoints",
    "VillageRule",
    "centre_given",
    "centre_xy",
    "covered_by_each",
    "judge",
    "representative_xy",
    "rule_reasons",
    "serving_operators",
    "settlement_owner",
    "village_points",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

VillageRule = Literal["point", "area", "population", "official"]

#: The contract's village rules (``mobile.rule``).
RULES: tuple[str, ...] = ("point", "area", "population", "official")

# Shares are compared with this slack, so that a share equal to min_share up to rounding counts.
_SHARE_SLACK = 1e-12


def surface_xy(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> FloatArray:
    """Return a point on the surface of each geometry of `frame`, in its own CRS, ``(n, 2)``.

    ``shapely.point_on_surface``: a point is itself, a polygon's point lies inside it.
    """
    pts = shapely.point_on_surface(np.asarray(frame.geometry.array, dtype=object))
    return np.column_stack([shapely.get_x(pts), shapely.get_y(pts)]).astype(float, copy=False)


def representative_xy(
    frame: gpd.GeoDataFrame | gpd.GeoSeries,
    crs: pyproj.CRS,
    *,
    surface: FloatArray | None = None,
) -> FloatArray:
    """Return representative points of `frame` in the metric CRS `crs`, as ``(n, 2)``.

    Points are taken on the surface in the frame's own CRS (EPSG:4326 in a run) and only they
    are projected: a point inside a village stays inside it under the (continuous)
    projection, and projecting 100,000 points costs a fraction of projecting 100,000
    polygons.

    Parameters
    ----------
    frame
        Geometries in any CRS.
    crs
        The run's metric CRS.
    surface
        The points of :func:`surface_xy`, when the caller has them already.

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(len(frame), 2)``: x and y in `crs` (m).
    """
    xy = surface_xy(frame) if surface is None else surface
    t = pyproj.Transformer.from_crs(frame.crs, crs, always_xy=True)
    x, y = t.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])


def centre_xy(villages: pd.DataFrame, rep_xy: FloatArray, crs: pyproj.CRS) -> FloatArray:
    """Village centres (nhà văn hóa) in the metric CRS; representative points stand in.

    Parameters
    ----------
    villages
        Villages with optional ``centre_lon``/``centre_lat`` (EPSG:4326; blank or non-numeric
        values mean "not given").
    rep_xy
        ``(n, 2)`` representative points in `crs`, from :func:`representative_xy`.
    crs
        The run's metric CRS.

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(n, 2)``.
    """
    xy = np.array(rep_xy, dtype=np.float64, copy=True)
    given = centre_given(villages)
    if given.any():
        lon = pd.to_numeric(villages["centre_lon"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(villages["centre_lat"], errors="coerce").to_numpy(dtype=float)
        t = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
        cx, cy = t.transform(lon[given], lat[given])
        xy[given, 0], xy[given, 1] = cx, cy
    return xy


def centre_given(villages: pd.DataFrame) -> BoolArray:
    """Whether each village gives its centre (both ``centre_lon`` and ``centre_lat`` numbers).

    Validation turns ``centre_x``/``centre_y`` into ``centre_lon``/``centre_lat``, so these
    two columns say it for either input.

    Parameters
    ----------
    villages
        Villages with optional ``centre_lon``/``centre_lat``.

    Returns
    -------
    numpy.ndarray
        ``bool`` per village.

    Examples
    --------
    >>> import pandas as pd
    >>> centre_given(pd.DataFrame({"centre_lon": [105.8, None], "centre_lat": [21.0, 21.0]}))
    array([ True, False])
    >>> centre_given(pd.DataFrame({"name": ["Thôn 1"]}))
    array([False])
    """
    if "centre_lon" not in villages or "centre_lat" not in villages:
        return np.zeros(len(villages), dtype=bool)
    lon = pd.to_numeric(villages["centre_lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(villages["centre_lat"], errors="coerce").to_numpy(dtype=float)
    return np.asarray(~(np.isnan(lon) | np.isnan(lat)), dtype=bool)


def settlement_owner(villages: gpd.GeoDataFrame, settlements: gpd.GeoDataFrame) -> IntArray:
    """Village row of each residential cluster, or -1 when it belongs to none.

    A cluster belongs to the village its ``village_id`` names; a cluster without a known
    ``village_id`` belongs to the village polygon holding its representative point.

    Parameters
    ----------
    villages
        The villages (``village_id``, geometry), in the same CRS as `settlements`.
    settlements
        The ``settlements`` layer (optional ``village_id``).

    Returns
    -------
    numpy.ndarray
        ``int64``, one per settlement.
    """
    n = len(villages)
    owner = np.full(len(settlements), -1, dtype=np.int64)
    if len(settlements) == 0:
        return owner
    if "village_id" in settlements and "village_id" in villages:
        lookup = pd.Series(np.arange(n), index=villages["village_id"].astype(str))
        ids = settlements["village_id"].astype("string")
        known = ids.isin(lookup.index).fillna(False).to_numpy(dtype=bool)
        owner[known] = lookup.loc[ids[known].to_numpy(dtype=str)].to_numpy()
    loose = np.flatnonzero(owner < 0)
    if loose.size:
        geoms = np.asarray(settlements.geometry.array, dtype=object)[loose]
        hit_p, hit_v = villages.sindex.query(shapely.point_on_surface(geoms), predicate="within")
        owner[loose[hit_p]] = hit_v
    return owner


@dataclass(frozen=True)
class VillagePoints:
    """Each village's demand points in the run's metric CRS.

    Attributes
    ----------
    representative_xy
        ``(n, 2)`` representative (interior) point of each village.
    centre_xy
        ``(n, 2)`` centre of each village (the representative point where none is given).
    cluster_village
        ``(k,)`` village row of each residential cluster that belongs to a village.
    cluster_xy
        ``(k, 2)`` representative point of each such cluster.
    cluster_row
        ``(k,)`` row of each such cluster in the settlements layer.
    crs
        The CRS of the coordinates (None when the caller did not say).
    has_centre
        ``(n,)`` whether the village gives its centre; where it does not, `centre_xy` is the
        representative point. When None is passed, a village has a centre where `centre_xy`
        differs from `representative_xy`.
    surface_lonlat
        ``(n, 2)`` the representative points before projection, in EPSG:4326 (longitude,
        latitude), for a map to draw them; None when the villages came in another CRS.
    """

    representative_xy: FloatArray
    centre_xy: FloatArray
    cluster_village: IntArray
    cluster_xy: FloatArray
    cluster_row: IntArray
    crs: pyproj.CRS | None = None
    has_centre: BoolArray | None = None
    surface_lonlat: FloatArray | None = None

    def __post_init__(self) -> None:
        if self.has_centre is None:
            differs = np.any(
                np.asarray(self.centre_xy) != np.asarray(self.representative_xy), axis=-1
            )
            object.__setattr__(self, "has_centre", np.asarray(differs, dtype=bool).ravel())

    @property
    def centre_given(self) -> BoolArray:
        """``(n,)`` whether each village gives its centre (`has_centre`, never None)."""
        assert self.has_centre is not None  # set in __post_init__
        return self.has_centre

    @property
    def n_villages(self) -> int:
        """Number of villages."""
        return len(self.representative_xy)

    def subset(self, rows: IntArray) -> VillagePoints:
        """Return the points of the villages at `rows` (renumbered ``0 .. len(rows) - 1``).

        Clusters keep the village they were given over the whole layer: a cluster that
        belongs to a village left out is left out with it.
        """
        new_row = np.full(self.n_villages, -1, dtype=np.int64)
        new_row[rows] = np.arange(len(rows), dtype=np.int64)
        village = new_row[self.cluster_village]
        keep = village >= 0
        return VillagePoints(
            representative_xy=self.representative_xy[rows],
            centre_xy=self.centre_xy[rows],
            cluster_village=village[keep],
            cluster_xy=self.cluster_xy.reshape(-1, 2)[keep],
            cluster_row=self.cluster_row[keep],
            crs=self.crs,
            has_centre=self.centre_given[rows],
            surface_lonlat=None if self.surface_lonlat is None else self.surface_lonlat[rows],
        )

    def rule_points(self, rule: str) -> tuple[IntArray, FloatArray]:
        """Return ``(village, xy)`` of the points `rule` checks.

        The centre and every cluster under ``official`` (centres first, in village order,
        then the clusters); the representative point otherwise (the point ``area`` and
        ``population`` fall back on).
        """
        _check_rule(rule)
        n = self.n_villages
        own = np.arange(n, dtype=np.int64)
        if rule != "official":
            return own, self.representative_xy
        return (
            np.concatenate([own, self.cluster_village]),
            np.vstack([self.centre_xy, self.cluster_xy.reshape(-1, 2)]),
        )


def village_points(
    villages: gpd.GeoDataFrame,
    crs: pyproj.CRS,
    *,
    settlements: gpd.GeoDataFrame | None = None,
) -> VillagePoints:
    """Build the demand-point table of `villages` once for a run.

    Parameters
    ----------
    villages
        Village polygons (or points) with ``village_id`` and optional ``centre_lon``/
        ``centre_lat``, in EPSG:4326 (any CRS for the geometry; the centre columns are
        EPSG:4326).
    crs
        The run's metric CRS.
    settlements
        Residential clusters (the ``settlements`` layer, same CRS as `villages`), or None.

    Returns
    -------
    VillagePoints
    """
    surface = surface_xy(villages)
    rep = representative_xy(villages, crs, surface=surface)
    centres = centre_xy(villages, rep, crs)
    given = centre_given(villages)
    lonlat = surface if villages.crs is not None and villages.crs.equals("EPSG:4326") else None
    empty_i = np.empty(0, dtype=np.int64)
    if settlements is None or len(settlements) == 0 or len(villages) == 0:
        return VillagePoints(
            rep, centres, empty_i, np.empty((0, 2)), empty_i, crs, given, surface_lonlat=lonlat
        )
    owner = settlement_owner(villages, settlements)
    keep = np.flatnonzero(owner >= 0)
    sxy = representative_xy(settlements, crs)
    return VillagePoints(
        rep,
        centres,
        owner[keep],
        sxy[keep],
        keep.astype(np.int64),
        crs,
        given,
        surface_lonlat=lonlat,
    )


@dataclass(frozen=True)
class RuleAnswer:
    """A rule's answer for each village.

    Attributes
    ----------
    covered
        ``bool`` per village.
    share
        ``float64`` in [0, 1] per village: the covered share the rule looked at (0 or 1 for
        ``point`` and ``official``).
    """

    covered: BoolArray
    share: FloatArray


def _check_rule(rule: str) -> None:
    if rule not in RULES:
        raise ConfigError(
            Problem(
                file="configuration",
                column="mobile.rule",
                message=f"unknown rule {rule!r}",
                fix="use point, area, population or official",
            )
        )


def _all_per_village(village: IntArray, hit: BoolArray, n: int) -> BoolArray:
    """Return, per village, whether it has points and every one of them is hit."""
    checked = np.bincount(village, minlength=n)
    lit = np.bincount(village, weights=np.asarray(hit, dtype=float), minlength=n)
    return np.asarray((checked > 0) & (lit == checked), dtype=bool)


def judge(
    rule: str,
    points: VillagePoints,
    *,
    hit: npt.ArrayLike,
    min_share: float,
    area_share: npt.ArrayLike | None = None,
    people_share: npt.ArrayLike | None = None,
) -> RuleAnswer:
    """Apply `rule` to a model's (or a measurement's) answers at the rule's points.

    Parameters
    ----------
    rule
        ``point``, ``area``, ``population`` or ``official``.
    points
        From :func:`village_points`.
    hit
        Whether each point of ``points.rule_points(rule)`` is covered, in that order.
    min_share
        Share needed under ``area`` and ``population``.
    area_share
        Covered share of each village's area; NaN (or None for all) where the village has
        no area (a point), which then takes its representative point's answer.
    people_share
        Covered share of each village's people; NaN (or None for all) where the village's
        people are unknown, which then takes its area share.

    Returns
    -------
    RuleAnswer

    Raises
    ------
    ValueError
        If `rule` is unknown, or `hit` does not match the rule's points.

    Examples
    --------
    >>> import numpy as np
    >>> pts = VillagePoints(
    ...     np.zeros((2, 2)), np.zeros((2, 2)), np.array([1]), np.zeros((1, 2)), np.array([0])
    ... )
    >>> judge("official", pts, hit=[True, True, False], min_share=0.5).covered.tolist()
    [True, False]
    >>> judge("area", pts, hit=[True, True], area_share=[0.4, np.nan], min_share=0.5).share
    array([0.4, 1. ])
    """
    village, _ = points.rule_points(rule)
    hit = np.asarray(hit, dtype=bool)
    if hit.shape != village.shape:
        raise ValueError(f"hit has {hit.size} values for the {village.size} points of {rule!r}")
    n = points.n_villages
    at_points = _all_per_village(village, hit, n).astype(np.float64)
    if rule in ("point", "official"):
        return RuleAnswer(covered=at_points >= 1.0, share=at_points)
    share = np.full(n, np.nan) if area_share is None else np.asarray(area_share, dtype=float)
    share = np.where(np.isnan(share), at_points, share)
    if rule == "population" and people_share is not None:
        people = np.asarray(people_share, dtype=float)
        share = np.where(np.isnan(people), share, people)
    share = np.asarray(np.clip(share, 0.0, 1.0), dtype=np.float64)
    return RuleAnswer(covered=share >= min_share - _SHARE_SLACK, share=share)


def covered_by_each(
    source: IntArray,
    point: IntArray,
    point_village: IntArray,
    *,
    n_sources: int,
    n_villages: int,
) -> sp.csr_array:
    """Which source (a candidate site) alone covers every rule point of each village.

    The ``point`` and ``official`` rules, for one source at a time: a village with one point
    (its representative point) is covered by a source that covers that point; one with a
    centre and clusters by a source that covers all of them.

    Parameters
    ----------
    source, point
        The distinct covering pairs: source index and index into the rule's points.
    point_village
        Village of each rule point (:meth:`VillagePoints.rule_points`).
    n_sources, n_villages
        The matrix's shape.

    Returns
    -------
    scipy.sparse.csr_array
        Boolean ``(n_sources, n_villages)``, indices sorted.

    Examples
    --------
    >>> import numpy as np
    >>> m = covered_by_each(
    ...     np.array([0, 0, 1]), np.array([0, 1, 1]), np.array([0, 0]), n_sources=2, n_villages=1
    ... )
    >>> m.toarray().ravel().tolist()
    [True, False]
    """
    need = np.bincount(point_village, minlength=n_villages)
    village = point_village[point]
    counts = sp.coo_array(
        (np.ones(len(village)), (source, village)), shape=(n_sources, n_villages)
    ).tocsr()
    counts.sum_duplicates()
    coo = counts.tocoo()
    full = coo.data >= need[coo.col]
    matrix = sp.csr_array(
        (np.ones(int(full.sum()), dtype=bool), (coo.row[full], coo.col[full])),
        shape=(n_sources, n_villages),
    )
    matrix.sort_indices()
    return matrix


def serving_operators(answers: Mapping[str, npt.ArrayLike], n: int) -> npt.NDArray[np.object_]:
    """Join, per village, the operators whose own coverage meets the rule.

    Parameters
    ----------
    answers
        ``{operator: covered}``: each operator's :attr:`RuleAnswer.covered` under the run's
        rule, from its own sites alone.
    n
        Number of villages.

    Returns
    -------
    numpy.ndarray
        ``object``: sorted operator names joined with ``;`` (``""`` for none).

    Examples
    --------
    >>> serving_operators({"Viettel": [True, False], "VNPT": [True, True]}, 2).tolist()
    ['VNPT;Viettel', 'VNPT']
    """
    out = np.full(n, "", dtype=object)
    for operator in sorted(answers):
        own = np.asarray(answers[operator], dtype=bool)
        out = np.where(own, np.where(out == "", operator, out + ";" + operator), out)
    return np.asarray(out, dtype=object)


def rule_reasons(rule: str, answer: RuleAnswer, *, min_share: float) -> npt.NDArray[np.object_]:
    """Say, per village, what the rule found (4G or better).

    Parameters
    ----------
    rule
        ``point``, ``area``, ``population`` or ``official``.
    answer
        The rule's answer, from :func:`judge`.
    min_share
        Share needed under ``area`` and ``population``.

    Returns
    -------
    numpy.ndarray
        ``object``: one sentence per village.

    Examples
    --------
    >>> import numpy as np
    >>> answer = RuleAnswer(np.array([True, False]), np.array([0.6, 0.2]))
    >>> rule_reasons("area", answer, min_share=0.5).tolist()
    ['60% of the area covered', 'only 20% of the area covered (needs 50%)']
    """
    _check_rule(rule)
    covered = np.asarray(answer.covered, dtype=bool)
    reasons = np.full(len(covered), "", dtype=object)
    if rule in ("area", "population"):
        what = "area" if rule == "area" else "people"
        pct = np.round(np.asarray(answer.share) * 100).astype(int).astype(str).astype(object)
        reasons[covered] = pct[covered] + f"% of the {what} covered"
        reasons[~covered] = (
            "only " + pct[~covered] + f"% of the {what} covered (needs {min_share:.0%})"
        )
    elif rule == "official":
        reasons[covered] = "centre and every residential cluster covered"
        reasons[~covered] = "the centre or a residential cluster has no signal"
    else:
        reasons[covered] = "representative point inside a site's footprint"
        reasons[~covered] = "representative point outside every footprint"
    return reasons
