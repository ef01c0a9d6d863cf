"""Site planning: candidate sites, their coverage of the dark villages, and a ranked plan.

An operator asked to cover the last villages needs to know which sites to build, where, in what
order, and which of them can go on a tower another operator already has. This module builds the
three pieces :mod:`hatangso.coverage.optimize` needs and turns its answer into that plan:

1. :func:`build_candidates`: where a site could go. Other operators' towers near the villages
   (co-location, at the cheaper tenancy cost), settlement points and centres of the villages
   still dark, local high points of a DEM around them, or only the user's own candidate file;
   exclusion polygons remove candidates, and candidates closer than ``candidate_spacing_m`` are
   merged (the cheaper kind stays).
2. :func:`coverage_matrix`: the sparse candidate-by-village matrix, from the same
   :func:`~hatangso.coverage.mobile.site_table` and :func:`~hatangso.coverage.mobile.covered_points`
   the coverage engine uses, so a planned site covers in the plan what it covers in the engine;
   under the terrain model, :func:`terrain_coverage_matrix` computes each candidate's path loss
   over the DEM as the engine's terrain model does.
3. :func:`plan_sites`: the least-cost cover of a target share (LSCP) or the maximal cover within
   a budget (MCLP), exactly with HiGHS or by lazy greedy, returned as ranked sites with what each
   newly covers.

All geometry here is in the run's metric CRS (:func:`hatangso.geo.crs.metric_crs`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.spatial import cKDTree

from hatangso.coverage import mobile, sharing
from hatangso.coverage.config import MobileConfig, SitingConfig, TerrainConfig
from hatangso.coverage.optimize import (
    Method,
    Solution,
    TargetInfeasibleError,
    max_coverage,
    min_cost_cover,
)
from hatangso.coverage.villages import covered_by_each
from hatangso.geo.crs import require_projected
from hatangso.geo.errors import InfeasibleError, InputError, Problem

__all__ = [
    "CANDIDATE_COLUMNS",
    "CandidateKind",
    "PlanInfeasibleError",
    "SitePlan",
    "build_candidates",
    "candidate_sites",
    "colocation_candidates",
    "coverage_matrix",
    "high_point_candidates",
    "infeasible_message",
    "plan_sites",
    "point_candidates",
    "terrain_coverage_matrix",
    "terrain_reach_filter",
    "upgrade_candidates",
]

log = logging.getLogger(__name__)

CandidateKind = Literal[
    "upgrade", "colocation", "user", "high_point", "settlement", "village_centre", "village_point"
]

#: Columns of a candidate frame, besides its Point geometry (metric CRS).
CANDIDATE_COLUMNS = (
    "candidate_id",
    "kind",
    "cost",
    "height_m",
    "tech",
    "env",
    "colocated_with",
    "partner_operator",
    "upgrades_site",
)

#: Order in which kinds win when two candidates are merged: cheaper and surer first.
_KIND_PRIORITY: dict[str, int] = {
    "upgrade": -1,
    "colocation": 0,
    "user": 1,
    "high_point": 2,
    "settlement": 3,
    "village_centre": 4,
    "village_point": 5,
}

_FloatArray = npt.NDArray[np.float64]
_IntArray = npt.NDArray[np.int64]
_BoolArray = npt.NDArray[np.bool_]


# --------------------------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------------------------


def _frame(
    xy: _FloatArray,
    *,
    crs: Any,
    ids: npt.ArrayLike,
    kind: str,
    cost: npt.ArrayLike,
    height_m: npt.ArrayLike,
    tech: str | npt.ArrayLike,
    env: str | npt.ArrayLike,
    colocated_with: npt.ArrayLike | None = None,
    partner_operator: npt.ArrayLike | None = None,
    upgrades_site: npt.ArrayLike | None = None,
) -> gpd.GeoDataFrame:
    n = len(xy)
    none = np.full(n, None, dtype=object)
    table = pd.DataFrame(
        {
            "candidate_id": np.asarray(ids, dtype=object),
            "kind": np.full(n, kind, dtype=object),
            "cost": np.broadcast_to(np.asarray(cost, dtype=float), (n,)).copy(),
            "height_m": np.broadcast_to(np.asarray(height_m, dtype=float), (n,)).copy(),
            "tech": np.broadcast_to(np.asarray(tech, dtype=object), (n,)).copy(),
            "env": np.broadcast_to(np.asarray(env, dtype=object), (n,)).copy(),
            "colocated_with": none if colocated_with is None else np.asarray(colocated_with),
            "partner_operator": none if partner_operator is None else np.asarray(partner_operator),
            "upgrades_site": none if upgrades_site is None else np.asarray(upgrades_site),
        }
    )
    points = shapely.points(xy) if n else np.empty(0, dtype=object)
    return gpd.GeoDataFrame(table, geometry=points, crs=crs)


def colocation_candidates(
    sites: gpd.GeoDataFrame,
    *,
    operator: str,
    tolerance_m: float,
    cost: float,
    tech: str,
    env: str,
    default_height_m: float,
) -> gpd.GeoDataFrame:
    """One candidate per tower location that `operator` does not use yet.

    Parameters
    ----------
    sites
        Every operator's existing sites, Points in a projected CRS, with ``site_id``,
        ``operator`` and optionally ``height_m``.
    operator
        The planning operator.
    tolerance_m
        Sites this close form one tower location (``sharing.colocation_tolerance_m``).
    cost
        Cost of a tenancy on an existing tower.
    tech, env
        Technology and environment of the planned site.
    default_height_m
        Antenna height when the partner's sites give none.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`CANDIDATE_COLUMNS`, kind ``colocation``: the candidate stands at the position of
        the location's first site (so the engine groups it with that tower), ``colocated_with``
        is that site's id, ``partner_operator`` the location's operators (';'-joined) and
        ``height_m`` the highest antenna on the tower.
    """
    require_projected(sites.crs, what="co-location candidates")
    if len(sites) == 0:
        return _empty(sites.crs)
    towers = sharing.tower_locations(sites, tolerance_m=tolerance_m)
    location = towers.location
    n_loc = len(towers.table)
    ops = towers.table["operators"].astype(str).to_numpy(dtype=object)
    has_op = np.array([operator in o.split(";") for o in ops], dtype=bool)
    # First site of each location (rows are numbered by their first site).
    _, first = np.unique(location, return_index=True)
    height = (
        pd.to_numeric(sites["height_m"], errors="coerce").to_numpy(dtype=float)
        if "height_m" in sites
        else np.full(len(sites), np.nan)
    )
    top = np.full(n_loc, -np.inf)
    np.maximum.at(top, location, np.where(np.isnan(height), -np.inf, height))
    top = np.where(np.isfinite(top), top, default_height_m)
    keep = np.flatnonzero(~has_op)
    idx = first[keep]
    xy = np.column_stack([sites.geometry.x.to_numpy()[idx], sites.geometry.y.to_numpy()[idx]])
    site_ids = sites["site_id"].astype(str).to_numpy(dtype=object)[idx]
    return _frame(
        xy,
        crs=sites.crs,
        ids=np.array([f"COLO-{s}" for s in site_ids], dtype=object),
        kind="colocation",
        cost=cost,
        height_m=top[keep],
        tech=tech,
        env=env,
        colocated_with=site_ids,
        partner_operator=ops[keep],
    )


def _offers(tech: pd.Series, planned: str) -> _BoolArray:
    """Whether each site already offers the planned service (``4G``: 4G or better; ``5G``).

    A blank ``tech`` is the contract's default, 4G. Technologies other than 4G and 5G (2G, 3G,
    NB-IoT ...) offer neither.
    """
    aliases = {"LTE": "4G", "NR": "5G", "4G LTE": "4G", "5G NR": "5G"}
    wanted = {"4G", "5G"} if planned == "4G" else {"5G"}
    text = tech.astype("string").fillna("").str.upper().str.replace(",", ";", regex=False)

    def offers(value: str) -> bool:
        parts = [aliases.get(p.strip(), p.strip()) for p in value.split(";") if p.strip()]
        return (not parts and planned == "4G") or any(p in wanted for p in parts)

    # One call per distinct text (a handful), not per site.
    distinct = {v: offers(v) for v in text.unique().tolist()}
    return text.map(distinct).to_numpy(dtype=bool)


def upgrade_candidates(
    sites: gpd.GeoDataFrame,
    *,
    operator: str,
    tech: str,
    tolerance_m: float,
    cost: float,
    env: str,
    default_height_m: float,
) -> gpd.GeoDataFrame:
    """One candidate per tower location of `operator` that lacks the planned service.

    A 5G plan adds a 3.5 GHz carrier to a tower the operator already stands on before it
    rents space on another operator's tower or builds: the upgrade costs the radio alone.

    Parameters
    ----------
    sites
        Every operator's existing sites, Points in a projected CRS, with ``site_id``,
        ``operator`` and optionally ``tech``, ``height_m``, ``env``.
    operator
        The planning operator.
    tech
        The planned service: ``5G`` (a location counts when none of the operator's sites there
        carries 5G) or ``4G`` (none carries 4G or 5G).
    tolerance_m
        Sites this close form one tower location (``sharing.colocation_tolerance_m``).
    cost
        Cost of the upgrade (``siting.costs.upgrade``).
    env
        Environment when the operator's site there gives none.
    default_height_m
        Antenna height when no site of the location gives one.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`CANDIDATE_COLUMNS`, kind ``upgrade``, ``tech`` the planned service alone: the
        candidate stands at the operator's first site of the location, ``upgrades_site`` is
        that site's id, ``height_m`` the highest antenna on the tower and ``env`` that site's.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> sites = gpd.GeoDataFrame(
    ...     {"site_id": ["A", "B"], "operator": ["Viettel", "Viettel"], "tech": ["4G", "4G;5G"]},
    ...     geometry=shapely.points([[0, 0], [5000, 0]]), crs=32648)
    >>> upgrade_candidates(sites, operator="Viettel", tech="5G", tolerance_m=30, cost=0.2,
    ...                    env="rural", default_height_m=30.0)["upgrades_site"].tolist()
    ['A']
    """
    require_projected(sites.crs, what="upgrade candidates")
    if len(sites) == 0:
        return _empty(sites.crs)
    towers = sharing.tower_locations(sites, tolerance_m=tolerance_m)
    location = np.asarray(towers.location, dtype=np.int64)
    n_loc = len(towers.table)
    own = (sites["operator"].astype(str) == operator).to_numpy(dtype=bool)
    offers = (
        _offers(sites["tech"], tech)
        if "tech" in sites
        else np.full(len(sites), tech == "4G", dtype=bool)
    )
    has_op = np.bincount(location[own], minlength=n_loc) > 0
    served = np.bincount(location[own & offers], minlength=n_loc) > 0
    lacking = has_op & ~served
    own_rows = np.flatnonzero(own & lacking[location])
    if own_rows.size == 0:
        return _empty(sites.crs)
    # The operator's first site of each such location (rows in file order).
    locs, first = np.unique(location[own_rows], return_index=True)
    idx = own_rows[first]
    height = (
        pd.to_numeric(sites["height_m"], errors="coerce").to_numpy(dtype=float)
        if "height_m" in sites
        else np.full(len(sites), np.nan)
    )
    top = np.full(n_loc, -np.inf)
    np.maximum.at(top, location, np.where(np.isnan(height), -np.inf, height))
    top = np.where(np.isfinite(top), top, default_height_m)
    envs = np.full(idx.size, env, dtype=object)
    if "env" in sites:
        given = sites["env"].astype("string").fillna("").str.strip().str.lower()
        given_env = given.to_numpy(dtype=object)[idx]
        known = np.isin(given_env, ["urban", "suburban", "rural"])
        envs = np.where(known, given_env, envs)
    xy = np.column_stack([sites.geometry.x.to_numpy()[idx], sites.geometry.y.to_numpy()[idx]])
    site_ids = sites["site_id"].astype(str).to_numpy(dtype=object)[idx]
    return _frame(
        xy,
        crs=sites.crs,
        ids=np.array([f"UPG-{s}" for s in site_ids], dtype=object),
        kind="upgrade",
        cost=cost,
        height_m=top[locs],
        tech=tech,
        env=envs,
        upgrades_site=site_ids,
    )


def point_candidates(
    xy: _FloatArray,
    ids: npt.ArrayLike,
    *,
    crs: Any,
    kind: CandidateKind,
    cost: float,
    height_m: float,
    tech: str,
    env: str,
) -> gpd.GeoDataFrame:
    """New-tower candidates at given points (settlements, village centres, high points).

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`CANDIDATE_COLUMNS`; ``candidate_id`` is ``"<KIND>-<id>"``.
    """
    prefix = {
        "settlement": "SET",
        "village_centre": "CTR",
        "village_point": "PT",
        "high_point": "HP",
        "user": "USR",
    }
    tag = prefix.get(kind, kind.upper())
    labels = np.array([f"{tag}-{i}" for i in np.asarray(ids).tolist()], dtype=object)
    return _frame(
        np.asarray(xy, dtype=float).reshape(-1, 2),
        crs=crs,
        ids=labels,
        kind=kind,
        cost=cost,
        height_m=height_m,
        tech=tech,
        env=env,
    )


def high_point_candidates(
    dem: Any,
    demand_xy: _FloatArray,
    *,
    radius_m: float,
    window_m: float,
    max_points: int,
) -> tuple[_FloatArray, _FloatArray]:
    """Local high points of a DEM near the demand points.

    Parameters
    ----------
    dem
        A :class:`hatangso.coverage.rasters.Raster` of elevations (m) in the run's metric CRS.
    demand_xy
        ``(n, 2)`` demand points (metric CRS).
    radius_m
        Only high points this close to a demand point are kept.
    window_m
        A cell is a high point when it is the highest of the square window of this side centred
        on it, and higher than the window's lowest cell (flat ground has no high point).
    max_points
        The highest this many are kept.

    Returns
    -------
    tuple of numpy.ndarray
        ``(m, 2)`` cell centres and their ``(m,)`` elevations (m), highest first.
    """
    from scipy.ndimage import maximum_filter, minimum_filter

    z = np.asarray(dem.array, dtype=np.float64)
    if z.size == 0 or len(demand_xy) == 0:
        return np.empty((0, 2)), np.empty(0)
    dx, dy = dem.res
    size = max(3, round(window_m / min(dx, dy)) | 1)
    filled = np.where(np.isnan(z), -np.inf, z)
    peak = (filled == maximum_filter(filled, size=size, mode="nearest")) & np.isfinite(filled)
    low = minimum_filter(np.where(np.isnan(z), np.inf, z), size=size, mode="nearest")
    peak &= filled > low
    rows, cols = np.nonzero(peak)
    if rows.size == 0:
        return np.empty((0, 2)), np.empty(0)
    t = dem.transform
    x = t.c + (cols + 0.5) * t.a
    y = t.f + (rows + 0.5) * t.e
    xy = np.column_stack([x, y])
    near, _ = cKDTree(demand_xy).query(xy, k=1, distance_upper_bound=radius_m)
    keep = np.isfinite(near)
    xy, elev = xy[keep], z[rows[keep], cols[keep]]
    order = np.argsort(-elev, kind="stable")[:max_points]
    return xy[order], elev[order]


def _empty(crs: Any) -> gpd.GeoDataFrame:
    return _frame(
        np.empty((0, 2)), crs=crs, ids=[], kind="user", cost=0.0, height_m=0.0, tech="4G", env=""
    )


def _dedupe(candidates: gpd.GeoDataFrame, spacing_m: float) -> gpd.GeoDataFrame:
    """Merge candidates closer than `spacing_m`: the better kind (then cheaper, then first) stays.

    A candidate is dropped when any better-ranked candidate lies within `spacing_m`, even one
    dropped itself; in a chain of close candidates this may keep fewer than a sequential pass.
    """
    n = len(candidates)
    if n < 2 or spacing_m <= 0:
        return candidates
    rank = candidates["kind"].map(_KIND_PRIORITY).to_numpy(dtype=float)
    order = np.lexsort((np.arange(n), candidates["cost"].to_numpy(dtype=float), rank))
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    xy = np.column_stack([candidates.geometry.x, candidates.geometry.y])
    pairs = cKDTree(xy).query_pairs(r=spacing_m, output_type="ndarray")
    drop = np.zeros(n, dtype=bool)
    if len(pairs):
        a, b = pairs[:, 0], pairs[:, 1]
        worse = np.where(pos[a] > pos[b], a, b)
        drop[worse] = True
    return candidates.loc[~drop]


def _partners(
    candidates: gpd.GeoDataFrame,
    colocations: gpd.GeoDataFrame,
    *,
    tolerance_m: float,
    cost: float,
    columns: tuple[str, ...] = ("colocated_with", "partner_operator"),
) -> gpd.GeoDataFrame:
    """User candidates on an existing tower take its `columns` and `cost` (unless they give one).

    With the co-location candidates: a user candidate on another operator's tower becomes a
    co-location; with the upgrade candidates (``columns=("upgrades_site",)``): one on the
    operator's own tower becomes an upgrade.
    """
    if len(candidates) == 0 or len(colocations) == 0:
        return candidates
    cxy = np.column_stack([colocations.geometry.x, colocations.geometry.y])
    uxy = np.column_stack([candidates.geometry.x, candidates.geometry.y])
    d, i = cKDTree(cxy).query(uxy, k=1, distance_upper_bound=max(tolerance_m, 1e-9))
    hit = np.isfinite(d)
    if not hit.any():
        return candidates
    out = candidates.copy()
    j = i[hit]
    for column in columns:
        out.loc[hit, column] = colocations[column].to_numpy(dtype=object)[j]
    own = (
        out["cost_given"].to_numpy(dtype=bool) if "cost_given" in out else np.zeros(len(out), bool)
    )
    fill = hit & ~own
    out.loc[fill, "cost"] = cost
    return out


def build_candidates(
    *,
    operator: str,
    demand_xy: _FloatArray,
    crs: pyproj.CRS,
    settings: SitingConfig,
    tolerance_m: float,
    sites: gpd.GeoDataFrame | None = None,
    settlements_xy: _FloatArray | None = None,
    settlement_ids: npt.ArrayLike | None = None,
    centres_xy: _FloatArray | None = None,
    centre_ids: npt.ArrayLike | None = None,
    dem: Any | None = None,
    user: gpd.GeoDataFrame | None = None,
    exclusion: gpd.GeoDataFrame | None = None,
    tech: str = "4G",
) -> gpd.GeoDataFrame:
    """Candidate sites of `operator` for covering the demand points.

    Parameters
    ----------
    operator
        The planning operator.
    demand_xy
        ``(n, 2)`` points of the villages still to cover (metric CRS); high points are searched
        near them.
    crs
        The run's metric CRS (of every array and frame given).
    settings
        The ``siting:`` configuration.
    tolerance_m
        ``sharing.colocation_tolerance_m``.
    sites
        Existing sites of every operator (metric CRS): co-location candidates.
    settlements_xy, settlement_ids
        Residential clusters of the villages still to cover.
    centres_xy, centre_ids
        Centres of the villages still to cover.
    dem
        Elevation :class:`~hatangso.coverage.rasters.Raster` in `crs`: local high points.
    user
        The user's own candidates (metric CRS, validated as ``candidates``: ``candidate_id``
        or ``site_id``; optional ``cost``, ``height_m``, ``tech``, ``env``). When given,
        they are the only candidates: a user's file restricts the plan to it. A user candidate
        on another operator's tower is marked as a co-location (at the co-location cost unless
        the file gives a cost), one on a tower of `operator` that lacks `tech` as an upgrade
        (at the upgrade cost unless the file gives one).
    exclusion
        Polygons (metric CRS) in which no candidate may stand.
    tech
        The planned service (``4G`` or ``5G``): the towers of `operator` whose sites lack it
        are upgrade candidates (:func:`upgrade_candidates`), at ``siting.costs.upgrade``.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`CANDIDATE_COLUMNS` plus a Point geometry in `crs`, index ``0 .. n-1``.

    Notes
    -----
    Costs rank the three ways to add a carrier: an upgrade of the operator's own tower
    (``siting.costs.upgrade``, 0.2 by default), a tenancy on another operator's tower
    (``colocation``, 0.35) and a new site (``new_tower``, 1.0). Where candidates of different
    kinds stand within ``candidate_spacing_m``, the upgrade stays, then the co-location.
    """
    costs = settings.costs
    upgrades = (
        upgrade_candidates(
            sites,
            operator=operator,
            tech=tech,
            tolerance_m=tolerance_m,
            cost=costs.upgrade,
            env=settings.env,
            default_height_m=settings.height_m,
        )
        if sites is not None and len(sites)
        else _empty(crs)
    )
    colos = (
        colocation_candidates(
            sites,
            operator=operator,
            tolerance_m=tolerance_m,
            cost=costs.colocation,
            default_height_m=settings.height_m,
            tech=settings.tech,
            env=settings.env,
        )
        if sites is not None and len(sites)
        else _empty(crs)
    )
    parts: list[gpd.GeoDataFrame] = []
    if user is not None:
        on_others = _partners(
            _user_candidates(user, settings),
            colos,
            tolerance_m=tolerance_m,
            cost=costs.colocation,
        )
        parts.append(
            _partners(
                on_others,
                upgrades,
                tolerance_m=tolerance_m,
                cost=costs.upgrade,
                columns=("upgrades_site",),
            )
        )
    else:
        parts.extend([upgrades, colos])

        def new(xy: _FloatArray, ids: npt.ArrayLike, kind: CandidateKind) -> gpd.GeoDataFrame:
            return point_candidates(
                xy,
                ids,
                crs=crs,
                kind=kind,
                cost=costs.new_tower,
                height_m=settings.height_m,
                tech=settings.tech,
                env=settings.env,
            )

        if dem is not None:
            hxy, _ = high_point_candidates(
                dem,
                demand_xy,
                radius_m=settings.high_point_radius_m,
                window_m=settings.high_point_window_m,
                max_points=settings.max_candidates,
            )
            parts.append(new(hxy, np.arange(len(hxy)), "high_point"))
        if settlements_xy is not None and len(settlements_xy):
            ids = settlement_ids if settlement_ids is not None else np.arange(len(settlements_xy))
            parts.append(new(settlements_xy, ids, "settlement"))
        if centres_xy is not None and len(centres_xy):
            ids = centre_ids if centre_ids is not None else np.arange(len(centres_xy))
            parts.append(new(centres_xy, ids, "village_centre"))
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty(crs)
    candidates = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=crs)
    if exclusion is not None and len(exclusion):
        inside = np.zeros(len(candidates), dtype=bool)
        hit, _ = exclusion.sindex.query(candidates.geometry.array, predicate="intersects")
        inside[hit] = True
        if inside.any():
            log.info("%d candidates inside exclusion polygons removed", int(inside.sum()))
        candidates = candidates.loc[~inside]
    candidates = _dedupe(candidates, settings.candidate_spacing_m)
    # Unique ids: the same settlement id may appear in two kinds.
    candidates = candidates.reset_index(drop=True)
    dup = candidates["candidate_id"].duplicated(keep="first").to_numpy(dtype=bool)
    if dup.any():
        ids = candidates["candidate_id"].astype(str).to_numpy(dtype=object)
        ids[dup] = [f"{v}#{k}" for k, v in enumerate(ids[dup].tolist(), start=2)]
        candidates["candidate_id"] = ids
    cols = [c for c in CANDIDATE_COLUMNS]
    return gpd.GeoDataFrame(candidates[cols], geometry=candidates.geometry, crs=crs)


def _user_candidates(user: gpd.GeoDataFrame, settings: SitingConfig) -> gpd.GeoDataFrame:
    """Turn the user's candidate file into candidates; its ``cost`` column wins over defaults."""
    n = len(user)
    name = getattr(user, "attrs", {}).get("source", "candidates")
    cost = np.full(n, settings.costs.new_tower)
    given = np.zeros(n, dtype=bool)
    if "cost" in user:
        raw = user["cost"]
        num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        blank = raw.isna().to_numpy(dtype=bool) | (raw.astype(str).str.strip() == "").to_numpy(
            dtype=bool
        )
        bad = ~blank & (np.isnan(num) | (num < 0) | ~np.isfinite(num))
        if bad.any():
            rows = (
                user["source_row"].to_numpy()[bad]
                if "source_row" in user
                else np.flatnonzero(bad) + 1
            )
            raise InputError(
                [
                    Problem(
                        file=str(name),
                        row=int(r),
                        column="cost",
                        message=f"cost {v!r} is not a number >= 0",
                        fix="write the site's cost as a non-negative number, or leave it empty",
                    )
                    for r, v in zip(rows.tolist(), raw[bad].tolist(), strict=True)
                ]
            )
        given = ~blank
        cost = np.where(given, num, cost)

    def text(column: str, default: str) -> npt.NDArray[np.object_]:
        if column not in user:
            return np.full(n, default, dtype=object)
        missing = user[column].isna() | (user[column].astype(str).str.strip() == "")
        values = user[column].astype(object).where(~missing, default)
        return np.asarray(values.to_numpy(dtype=object), dtype=object)

    height = (
        pd.to_numeric(user["height_m"], errors="coerce").to_numpy(dtype=float)
        if "height_m" in user
        else np.full(n, np.nan)
    )
    frame = _frame(
        np.column_stack([user.geometry.x, user.geometry.y]) if n else np.empty((0, 2)),
        crs=user.crs,
        ids=user["candidate_id" if "candidate_id" in user else "site_id"]
        .astype(str)
        .to_numpy(dtype=object),
        kind="user",
        cost=cost,
        height_m=np.where(np.isnan(height), settings.height_m, height),
        tech=text("tech", settings.tech),
        env=text("env", settings.env),
    )
    frame["cost_given"] = given
    return frame


# --------------------------------------------------------------------------------------------
# Coverage matrix
# --------------------------------------------------------------------------------------------


def candidate_sites(candidates: gpd.GeoDataFrame, *, operator: str) -> gpd.GeoDataFrame:
    """Candidates as a ``sites`` frame of `operator` (omni antennas), for the coverage engine.

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id`` (the candidate id), ``operator``, ``tech``, ``height_m``, ``env``, Point
        geometry in the candidates' CRS.
    """
    return gpd.GeoDataFrame(
        {
            "site_id": candidates["candidate_id"].astype(str).to_numpy(dtype=object),
            "operator": np.full(len(candidates), operator, dtype=object),
            "tech": candidates["tech"].astype(str).to_numpy(dtype=object),
            "height_m": candidates["height_m"].to_numpy(dtype=float),
            "env": candidates["env"].astype(str).to_numpy(dtype=object),
        },
        geometry=candidates.geometry.to_numpy(),
        crs=candidates.crs,
    )


def coverage_matrix(
    candidates: gpd.GeoDataFrame,
    point_village: _IntArray,
    px: _FloatArray,
    py: _FloatArray,
    *,
    n_villages: int,
    config: MobileConfig,
    operator: str,
    tech: str = "4G",
) -> Any:
    """Which candidate covers which village, as a sparse boolean matrix.

    Parameters
    ----------
    candidates
        From :func:`build_candidates` (metric CRS).
    point_village, px, py
        The points that decide a village's coverage (metric CRS) and the village (``0 ..
        n_villages - 1``) each belongs to: one representative point per village for the
        ``point``, ``area`` and ``population`` rules, the centre and every residential cluster
        for ``official``.
    n_villages
        Number of villages (columns).
    config
        ``mobile:`` configuration: model (``radius`` or ``hata``; ``terrain`` is bounded with
        ``hata`` here, see :func:`terrain_coverage_matrix`), reach table and threshold, as the
        engine reads them.
    operator
        The planning operator (only labels the sites).
    tech
        The service planned: ``4G`` (4G or better) or ``5G``.

    Returns
    -------
    scipy.sparse.csr_array
        Boolean, ``(len(candidates), n_villages)``: true where the candidate alone covers every
        point of the village.

    Notes
    -----
    A village with several points counts as covered by a candidate only when that one
    candidate covers all its points: a conservative reading of the ``official`` rule (two
    sites may cover a village together that neither covers alone; the engine's re-check counts
    those too). Under ``area``/``population`` the representative point stands for the village.
    """
    n_cand = len(candidates)
    if n_cand == 0 or n_villages == 0:
        return sp.csr_array((n_cand, n_villages), dtype=bool)
    table = mobile.site_table(
        candidate_sites(candidates, operator=operator),
        model=config.model,
        radius_m=config.radius_m,
        threshold_dbm=config.threshold_dbm,
    )
    pairs = mobile.covered_points(px, py, table, tech)
    return covered_by_each(
        np.asarray(pairs.site, dtype=np.int64),
        np.asarray(pairs.point, dtype=np.int64),
        point_village,
        n_sources=n_cand,
        n_villages=n_villages,
    )


def terrain_reach_filter(
    candidates: gpd.GeoDataFrame,
    px: _FloatArray,
    py: _FloatArray,
    *,
    radius_m: float,
    max_candidates: int,
) -> _IntArray:
    """Rows of the candidates worth a terrain computation, at most `max_candidates`.

    A candidate farther than `radius_m` from every demand point cannot cover any (the terrain
    model computes nothing beyond it). When more remain than `max_candidates`, those with the
    most demand points within `radius_m` are kept, the cheaper first among equals.

    Returns
    -------
    numpy.ndarray
        Sorted ``int64`` row positions into `candidates`.
    """
    n = len(candidates)
    if n == 0 or len(px) == 0:
        return np.empty(0, dtype=np.int64)
    cxy = np.column_stack([candidates.geometry.x.to_numpy(), candidates.geometry.y.to_numpy()])
    tree = cKDTree(np.column_stack([px, py]))
    near = np.asarray(tree.query_ball_point(cxy, r=radius_m, return_length=True), dtype=np.int64)
    keep = np.flatnonzero(near > 0)
    if keep.size > max_candidates:
        cost = candidates["cost"].to_numpy(dtype=float)[keep]
        order = np.lexsort((keep, cost, -near[keep]))[:max_candidates]
        keep = np.sort(keep[order])
        log.info("plan: terrain candidates limited to the %d nearest most demand", max_candidates)
    return keep.astype(np.int64)


def _mobile_techs(value: object) -> tuple[str, ...]:
    """Return the mobile technologies (4G, 5G) of a ``tech`` text; 4G when none."""
    aliases = {"LTE": "4G", "NR": "5G", "4G LTE": "4G", "5G NR": "5G"}
    parts = [p.strip().upper() for p in str(value).replace(",", ";").split(";")]
    techs = [aliases.get(p, p) for p in parts if p]
    mobile_techs = tuple(t for t in dict.fromkeys(techs) if t in ("4G", "5G"))
    return mobile_techs or ("4G",)


def terrain_coverage_matrix(
    candidates: gpd.GeoDataFrame,
    point_village: _IntArray,
    px: _FloatArray,
    py: _FloatArray,
    *,
    n_villages: int,
    dem: Any,
    threshold_dbm: float,
    terrain: TerrainConfig,
    h_rx_m: float = 1.5,
    tech: str = "4G",
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Which candidate covers which village under the terrain model, as a sparse matrix.

    Parameters
    ----------
    candidates
        From :func:`build_candidates` (the DEM's metric CRS); ``tech`` and ``height_m`` are
        read, every candidate is an omni antenna.
    point_village, px, py
        The points deciding a village's coverage and their village, as in
        :func:`coverage_matrix`.
    n_villages
        Number of villages (columns).
    dem
        Elevation :class:`~hatangso.coverage.rasters.Raster` on the run's metric grid
        (``terrain.resolution_m``), covering the demand points and `terrain.radius_m` around
        them.
    threshold_dbm
        Received power (RSRP) needed for coverage (``mobile.threshold_dbm``).
    terrain
        The ``terrain:`` configuration: radius, method (``los``/``itm``), clutter loss.
    h_rx_m
        Receiver height above ground.
    tech
        The service planned: ``4G`` (any of the candidate's carriers counts) or ``5G`` (its
        5G carrier alone).
    progress
        Called as ``progress(done, total)`` as the candidates are gone through.

    Returns
    -------
    scipy.sparse.csr_array
        Boolean, ``(len(candidates), n_villages)``: true where the candidate alone reaches
        every point of the village at or above `threshold_dbm`.

    Notes
    -----
    Received power per resource element ``P = EIRP - L - clutter`` (as
    :func:`hatangso.coverage.terrain.coverage_rasters` computes it for an omni site), with
    ``L`` the basic transmission loss of :func:`hatangso.coverage.terrain.site_loss_raster`
    on the DEM cell holding the point (computed for those cells alone by
    :func:`hatangso.coverage.terrain.site_loss_at`), and EIRP and frequency the defaults of
    :mod:`hatangso.coverage.radio` for each of the candidate's technologies (4G, 5G; the best
    carrier counts). Each candidate's loss is computed at the demand points within
    `terrain.radius_m` of it only, so candidates farther than that from every demand point
    are skipped.
    """
    from hatangso.coverage.radio import DEFAULT_EIRP_DBM, DEFAULT_FREQ_MHZ
    from hatangso.coverage.terrain import site_loss_at

    n_cand = len(candidates)
    if n_cand == 0 or n_villages == 0 or len(px) == 0:
        return sp.csr_array((n_cand, n_villages), dtype=bool)
    radius_m = float(terrain.radius_m)
    cx = candidates.geometry.x.to_numpy(dtype=float)
    cy = candidates.geometry.y.to_numpy(dtype=float)
    heights = candidates["height_m"].to_numpy(dtype=float)
    techs = [
        tuple(t for t in _mobile_techs(v) if tech != "5G" or t == "5G")
        for v in candidates["tech"].tolist()
    ]
    tree = cKDTree(np.column_stack([px, py]))
    near = tree.query_ball_point(np.column_stack([cx, cy]), r=radius_m)
    left, bottom, right, top = dem.bounds
    rows_hit: list[_IntArray] = []
    points_hit: list[_IntArray] = []
    computed = 0
    # Per candidate within reach of some demand point, the loss at those points only: what the
    # engine's raster holds in their cells, for a fraction of the work.
    for j in range(n_cand):
        if progress is not None:
            progress(j, n_cand)
        idx = np.asarray(near[j], dtype=np.int64)
        if idx.size == 0 or not (left <= cx[j] < right and bottom < cy[j] <= top):
            continue
        best = np.full(idx.size, -np.inf)
        if not techs[j]:
            continue
        for carrier in techs[j]:
            loss = site_loss_at(
                dem,
                cx[j],
                cy[j],
                px[idx],
                py[idx],
                h_tx_m=float(heights[j]),
                h_rx_m=h_rx_m,
                freq_mhz=DEFAULT_FREQ_MHZ[carrier],
                radius_m=radius_m,
                model=terrain.method,
            )
            power = DEFAULT_EIRP_DBM[carrier] - loss - terrain.clutter_loss_db
            best = np.fmax(best, np.nan_to_num(power, nan=-np.inf))
        computed += 1
        hit = idx[best >= threshold_dbm]
        rows_hit.append(np.full(hit.size, j, dtype=np.int64))
        points_hit.append(hit)
    if progress is not None:
        progress(n_cand, n_cand)
    log.info("terrain coverage matrix: %d of %d candidates computed", computed, n_cand)
    site = np.concatenate(rows_hit) if rows_hit else np.empty(0, dtype=np.int64)
    point = np.concatenate(points_hit) if points_hit else np.empty(0, dtype=np.int64)
    return covered_by_each(site, point, point_village, n_sources=n_cand, n_villages=n_villages)


# --------------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SitePlan:
    """A ranked set of planned sites and the solver's account of it.

    Attributes
    ----------
    problem
        ``"lscp"`` (least cost for a target share) or ``"mclp"`` (most coverage for a budget).
    solution
        The optimiser's :class:`~hatangso.coverage.optimize.Solution`; its indices are rows of
        ``candidates``.
    sites
        One row per planned site in build order: ``rank`` (1 ..), ``candidate`` (row of
        ``candidates``), :data:`CANDIDATE_COLUMNS`, ``new_villages`` (tuple of village indices
        it newly covers), ``villages_newly_covered`` (count), ``weight_newly_covered``; Point
        geometry in the candidates' CRS.
    candidates
        Every candidate the solver saw.
    weights
        Weight of each village.
    """

    problem: Literal["lscp", "mclp"]
    solution: Solution
    sites: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    weights: _FloatArray


def plan_sites(
    candidates: gpd.GeoDataFrame,
    matrix: Any,
    weights: npt.ArrayLike,
    *,
    budget: float | None = None,
    target: float | None = None,
    budget_unit: Literal["sites", "cost"] = "sites",
    method: Method = "milp",
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
) -> SitePlan:
    """Solve the siting problem on a coverage matrix and rank the chosen sites.

    Parameters
    ----------
    candidates
        Candidate frame (its ``cost`` column is used).
    matrix
        ``(len(candidates), n_villages)`` from :func:`coverage_matrix`.
    weights
        Weight of each village (1, or its people).
    budget
        MCLP: cover the most weight with at most this many sites (``budget_unit="sites"``) or
        sites costing at most this much in total (``"cost"``).
    target
        LSCP: cover at least this share of the total weight at the least total cost.
    budget_unit
        What `budget` counts.
    method
        ``"milp"`` (HiGHS, with a proven gap) or ``"greedy"``.
    time_limit_s, mip_rel_gap
        Passed to the solver.

    Returns
    -------
    SitePlan

    Raises
    ------
    InputError
        Unless exactly one of `budget` and `target` is given.
    TargetInfeasibleError
        When `target` exceeds what all candidates together can cover (an ``InfeasibleError``).

    Notes
    -----
    With a site budget, every site counts 1 and the solver maximises covered weight only
    (Church and ReVelle 1974); cost then plays no part. A target is solved as the generalised
    location set covering problem at least cost (Toregas et al. 1971), where a co-location
    costs ``siting.costs.colocation`` against ``siting.costs.new_tower`` for a new tower.
    """
    if (budget is None) == (target is None):
        raise InputError(
            Problem(
                file="options",
                message="give exactly one of --budget and --target",
                fix="--budget K (sites, or cost with siting.budget_unit: cost) or --target SHARE",
            )
        )
    w = np.asarray(weights, dtype=np.float64)
    costs = candidates["cost"].to_numpy(dtype=float)
    problem: Literal["lscp", "mclp"]
    if target is not None:
        problem = "lscp"
        solution = min_cost_cover(
            matrix,
            w,
            costs=costs,
            target_share=float(target),
            method=method,
            time_limit_s=time_limit_s,
            mip_rel_gap=mip_rel_gap,
        )
    else:
        assert budget is not None
        problem = "mclp"
        solution = max_coverage(
            matrix,
            w,
            costs=costs if budget_unit == "cost" else None,
            budget=float(budget),
            method=method,
            time_limit_s=time_limit_s,
            mip_rel_gap=mip_rel_gap,
        )
    sites = _ranked(candidates, matrix, w, solution)
    return SitePlan(
        problem=problem, solution=solution, sites=sites, candidates=candidates, weights=w
    )


def _ranked(
    candidates: gpd.GeoDataFrame, matrix: Any, weights: _FloatArray, solution: Solution
) -> gpd.GeoDataFrame:
    """List the selected candidates in build order, with the villages each newly covers."""
    selected = np.asarray(solution.selected, dtype=np.int64)
    csr = sp.csr_array(matrix)
    covered = np.zeros(csr.shape[1], dtype=bool)
    new: list[tuple[int, ...]] = []
    # One step per planned site (a handful): the order matters, each sees the ones before.
    for j in selected.tolist():
        cols = csr.indices[csr.indptr[j] : csr.indptr[j + 1]]
        fresh = cols[~covered[cols]]
        covered[fresh] = True
        new.append(tuple(int(c) for c in fresh.tolist()))
    rows = candidates.iloc[selected]
    out = gpd.GeoDataFrame(
        {
            "rank": np.arange(1, selected.size + 1),
            "candidate": selected,
            **{c: rows[c].to_numpy() for c in CANDIDATE_COLUMNS},
            "new_villages": pd.Series(new, dtype=object).to_numpy(),
            "villages_newly_covered": np.array([len(v) for v in new], dtype=np.int64),
            "weight_newly_covered": np.array(
                [float(weights[list(v)].sum()) for v in new], dtype=float
            ),
        },
        geometry=rows.geometry.to_numpy(),
        crs=candidates.crs,
    )
    return out


def infeasible_message(
    error: TargetInfeasibleError,
    *,
    village_ids: npt.ArrayLike,
    names: npt.ArrayLike,
    target: float,
    limit: int = 20,
) -> str:
    """Say which villages no candidate reaches and the best share, for an infeasible target."""
    idx = np.asarray(error.unreachable, dtype=np.int64)
    ids = np.asarray(village_ids, dtype=object)[idx]
    nm = np.asarray(names, dtype=object)[idx]
    listed = ", ".join(f"{i} ({n})" for i, n in zip(ids[:limit], nm[:limit], strict=True))
    more = f" and {idx.size - limit} more" if idx.size > limit else ""
    return (
        f"the target share {target:g} cannot be reached: {idx.size} villages are out of reach of "
        f"every candidate site: {listed}{more}; the best achievable share is "
        f"{error.best_share:.4f}. Fix: lower --target to at most {error.best_share:.4f}, or add "
        "candidate sites near those villages (--candidates, --dem, settlements)"
    )


class PlanInfeasibleError(InfeasibleError):
    """A plan's target exceeds what the candidates reach, with the villages out of reach.

    Attributes
    ----------
    unreachable_ids, unreachable_names
        Ids and names of the villages no candidate reaches.
    best_share
        The best share of the demand weight the candidates can cover.
    """

    def __init__(
        self,
        message: str,
        *,
        unreachable_ids: list[str],
        unreachable_names: list[str],
        best_share: float,
    ) -> None:
        super().__init__(message)
        self.unreachable_ids = unreachable_ids
        self.unreachable_names = unreachable_names
        self.best_share = best_share
