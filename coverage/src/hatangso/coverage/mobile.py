"""Mobile coverage of villages per technology, by the contract's rules.

All sites and villages are handled at once: site-to-point pairs within reach come from one
k-d tree search per reach class (:class:`scipy.spatial.cKDTree`, point-to-point distances are
all we need), and everything after that is numpy over the pair arrays.

The rules themselves (``mobile.rule``: ``point``, ``area``, ``population``, ``official``)
live in :mod:`hatangso.coverage.villages`; here the footprints answer at the rule's points and
give the covered shares of area and people (exact polygon overlay, only for villages that are
neither clearly in nor out).

"4G or better" counts a site carrying 4G or 5G; 5G counts sites carrying 5G, with the 5G
reach.

A sector serves round the whole circle, less and less far from its boresight: its antenna
gain towards a point (:func:`hatangso.coverage.radio.sector_gain_db`, the 3GPP pattern, 0 to
-25 dB) enters the ``hata`` link budget (``EIRP + A(φ) - L(d) >= threshold``) and shortens the
``radius`` model's reach to ``reach · 10^(A(φ) / 35)``
(:func:`hatangso.coverage.radio.radius_pattern_reach_m`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from hatangso.coverage import radio
from hatangso.coverage.villages import (
    RuleAnswer,
    VillagePoints,
    judge,
    rule_reasons,
    serving_operators,
    village_points,
)
from hatangso.geo.errors import InputError, Problem

if TYPE_CHECKING:  # the compiled area kernels (numba) load when an area rule runs, not before
    from hatangso.coverage._discarea import PolygonRings

__all__ = [
    "PopulationCells",
    "SiteTable",
    "covered_points",
    "mobile_coverage",
    "nearest_sites",
    "population_cells",
    "site_table",
]

log = logging.getLogger(__name__)

TECHS = ("4G", "5G")
#: Every technology a :class:`SiteTable` carries a reach for: the contract's six. ``"4G"`` is
#: "4G or better" (:data:`TECHS` are the two broadband services the indicators count).
ALL_TECHS = radio.TECHNOLOGIES
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SiteTable:
    """Sites as arrays in the run's metric CRS, with their reach per technology.

    Attributes
    ----------
    x, y
        Coordinates (m).
    operator
        Canonical operator name per site.
    reach_m
        ``{"2G": ..., "3G": ..., "4G": ..., "5G": ..., "NB-IoT": ..., "LTE-M": ...}`` (every
        name of :data:`ALL_TECHS`): reach of each site for that service, 0 where the site does
        not offer it. "4G" means 4G or better: a 5G-only site reaches with its 5G reach.
        NB-IoT and LTE-M reach by their coverage enhancement (the threshold of
        :data:`hatangso.coverage.radio.RECEPTION_THRESHOLD_DBM`).
    azimuth_deg, beamwidth_deg
        Sector direction and width; NaN for omni sites.
    eirp_dbm, freq_mhz, height_m, env
        Radio parameters per site and service (``{tech: array}`` for the first two, keyed as
        `reach_m`), defaults filled in.
    model
        The propagation model the reach came from.
    threshold_dbm
        Received power needed (dBm) for 4G and 5G, against which a sector's link budget off
        boresight is judged under ``hata``; each technology's own is this plus
        :func:`hatangso.coverage.radio.threshold_offset_db`.
    """

    x: FloatArray
    y: FloatArray
    operator: npt.NDArray[np.object_]
    reach_m: Mapping[str, FloatArray]
    azimuth_deg: FloatArray
    beamwidth_deg: FloatArray
    eirp_dbm: Mapping[str, FloatArray]
    freq_mhz: Mapping[str, FloatArray]
    height_m: FloatArray
    env: npt.NDArray[np.object_]
    model: str
    threshold_dbm: float

    def __len__(self) -> int:
        return len(self.x)


def _carries(tech: pd.Series, token: str) -> BoolArray:
    """Whether each site's ';'-separated technology list names `token` (few distinct lists)."""
    codes, lists = pd.factorize(tech.fillna("").astype(str))
    has = np.array([token in str(v).split(";") for v in lists], dtype=bool)
    return has[codes] if len(lists) else np.zeros(len(tech), dtype=bool)


def site_table(
    sites: gpd.GeoDataFrame,
    *,
    model: str,
    radius_m: Mapping[str, Mapping[str, float]],
    threshold_dbm: float,
) -> SiteTable:
    """Arrays and per-technology reach of `sites` (a clean ``sites`` layer in a metric CRS).

    Parameters
    ----------
    sites
        Point geometries in a projected CRS; columns of the contract (``operator``, ``tech``,
        ``height_m``, ``env``, optional ``azimuth_deg``, ``beamwidth_deg``, ``eirp_dbm``
        (total EIRP of the carrier), ``eirp_re_dbm`` (per resource element, wins when both are
        given), ``bandwidth_mhz``, ``freq_mhz``). The EIRP per resource element of each
        service is derived by :func:`hatangso.geo.carrier.eirp_re_dbm` with that service's
        resource-block table.
    model
        ``radius`` or ``hata`` (``terrain`` reaches are computed on rasters elsewhere; here
        it falls back to ``hata`` for the distance bound).
    radius_m
        ``{tech: {env: metres}}`` for the ``radius`` model.
    threshold_dbm
        Received power needed, for ``hata``.
    """
    from hatangso.geo.crs import require_projected

    require_projected(sites.crs, what="site reach")
    n = len(sites)
    x = np.asarray(sites.geometry.x, dtype=float)
    y = np.asarray(sites.geometry.y, dtype=float)

    def column(name: str) -> FloatArray:
        if name in sites:
            return np.asarray(pd.to_numeric(sites[name], errors="coerce"), dtype=float)
        return np.full(n, np.nan)

    env = (
        sites["env"].fillna("rural").astype(str).to_numpy(dtype=object)
        if "env" in sites
        else np.full(n, "rural", dtype=object)
    )
    height = column("height_m")
    height = np.where(np.isnan(height), 30.0, height)
    tech = sites["tech"] if "tech" in sites else pd.Series("4G", index=sites.index)
    has = {t: _carries(tech, t) for t in ALL_TECHS}
    reach_model = "radius" if model == "radius" else "hata"
    reach: dict[str, FloatArray] = {}
    eirp: dict[str, FloatArray] = {}
    freq: dict[str, FloatArray] = {}
    f = column("freq_mhz")
    given = {name: column(name) for name in ("eirp_dbm", "eirp_re_dbm", "bandwidth_mhz")}
    # Without any EIRP given, every technology takes its default (no need to derive NaN).
    derived = not (np.isnan(given["eirp_dbm"]).all() and np.isnan(given["eirp_re_dbm"]).all())
    # The radius model's reach depends on the technology and the environment alone: it is
    # looked up for each environment present, then spread over the sites (a national run has
    # 120,000 sites in three environments).
    env_of_site, envs = pd.factorize(env)
    for t in ALL_TECHS:
        e = radio.reference_eirp_dbm(tech=t, **given, freq_mhz=f) if derived else np.full(n, np.nan)
        eirp[t] = np.where(np.isnan(e), radio.DEFAULT_EIRP_DBM[t], e)
        freq[t] = np.where(np.isnan(f), radio.DEFAULT_FREQ_MHZ[t], f)
        per_site = functools.partial(
            _site_reach_of,
            t,
            n,
            model=reach_model,
            env=env,
            height_m=height,
            eirp_dbm=eirp[t],
            freq_mhz=freq[t],
            radius_m=radius_m,
            threshold_dbm=threshold_dbm,
        )
        if reach_model == "radius" and n:
            try:
                r = radio.site_reach_m(
                    tech=np.full(len(envs), t, dtype=object),
                    model="radius",
                    env=np.asarray(envs, dtype=object),
                    height_m=30.0,
                    eirp_dbm=np.nan,
                    freq_mhz=np.nan,
                    radius_m=radius_m,
                    threshold_dbm=threshold_dbm,
                )[env_of_site]
            except InputError:
                r = per_site()  # raises again, naming the sites
        else:
            r = per_site()
        reach[t] = np.where(has[t], r, 0.0)
    # 4G or better: a site that offers only 5G still gives mobile broadband, with its 5G reach.
    reach["4G"] = np.maximum(reach["4G"], reach["5G"])
    only_5g = has["5G"] & ~has["4G"]
    eirp["4G"] = np.where(only_5g, eirp["5G"], eirp["4G"])
    freq["4G"] = np.where(only_5g, freq["5G"], freq["4G"])
    return SiteTable(
        x=x,
        y=y,
        operator=sites["operator"].astype(str).to_numpy(dtype=object),
        reach_m=reach,
        azimuth_deg=column("azimuth_deg"),
        beamwidth_deg=column("beamwidth_deg"),
        eirp_dbm=eirp,
        freq_mhz=freq,
        height_m=height,
        env=env,
        model=model,
        threshold_dbm=float(threshold_dbm),
    )


@dataclass(frozen=True)
class Pairs:
    """Point-site pairs where the point is inside the site's footprint.

    ``gain_db`` is the site's antenna gain towards the point relative to its boresight (0 for
    omni sites, down to -25 dB behind a sector).
    """

    point: IntArray
    site: IntArray
    distance_m: FloatArray
    gain_db: FloatArray


def _no_pairs() -> Pairs:
    empty = np.empty(0, dtype=np.int64)
    return Pairs(empty, empty, np.empty(0), np.empty(0))


def _site_reach_of(tech: str, n: int, **kwargs: Any) -> FloatArray:
    """Return the reach of `n` sites of `tech` (:func:`radio.site_reach_m`)."""
    reach: FloatArray = radio.site_reach_m(tech=np.full(n, tech, dtype=object), **kwargs)
    return reach


def _sectors(sites: SiteTable, s: IntArray) -> BoolArray:
    """Which of the sites `s` are sectors (an azimuth and a beamwidth under 360 degrees)."""
    az, bw = sites.azimuth_deg[s], sites.beamwidth_deg[s]
    return np.asarray(~np.isnan(az) & ~np.isnan(bw) & ~(bw >= 360.0), dtype=bool)


def _threshold(sites: SiteTable, tech: str) -> float:
    """Received power (dBm) a handset needs from `tech`: 4G's moved by the tech's offset."""
    return sites.threshold_dbm + float(radio.threshold_offset_db(tech))


def _hata_reach_toward(sites: SiteTable, tech: str, s: IntArray, gain: FloatArray) -> FloatArray:
    return radio.hata_pattern_reach_m(
        gain,
        eirp_dbm=sites.eirp_dbm[tech][s],
        freq_mhz=sites.freq_mhz[tech][s],
        height_m=sites.height_m[s],
        env=sites.env[s].astype(str),
        threshold_dbm=_threshold(sites, tech),
    )


def _reach_toward(sites: SiteTable, tech: str, s: IntArray, gain_db: FloatArray) -> FloatArray:
    """Reach (m) of the sites `s` in directions where their antenna gain is `gain_db` dB.

    Parameters
    ----------
    sites
        From :func:`site_table`.
    tech
        ``4G`` (4G or better) or ``5G``.
    s
        Site indices, ``(m,)``.
    gain_db
        Antenna gains relative to boresight, ``(m,)`` or ``(m, k)`` (``k`` directions per
        site).

    Returns
    -------
    numpy.ndarray
        Reach in metres, of the shape of `gain_db`; the boresight reach where the gain is 0
        and never more; 0 where the site does not offer `tech`.

    Notes
    -----
    ``radius``: :func:`hatangso.coverage.radio.radius_pattern_reach_m`. ``hata`` (and the
    ``hata`` bound of ``terrain``): :func:`hatangso.coverage.radio.hata_pattern_reach_m` over
    the site's link budget; for 4G or better the longer of its 4G and its 5G carrier.
    """
    gain = np.asarray(gain_db, dtype=np.float64)
    idx = s.reshape(s.shape + (1,) * (gain.ndim - s.ndim))
    boresight = np.broadcast_to(sites.reach_m[tech][idx], gain.shape)
    if sites.model == "radius":
        toward = radio.radius_pattern_reach_m(boresight, gain)
    else:
        toward = _hata_reach_toward(sites, tech, idx, gain)
        if tech == "4G":
            live_5g = np.broadcast_to(sites.reach_m["5G"][idx] > 0, gain.shape)
            if live_5g.any():
                toward = np.where(
                    live_5g, np.maximum(toward, _hata_reach_toward(sites, "5G", idx, gain)), toward
                )
    return np.asarray(np.where(boresight > 0, np.minimum(toward, boresight), 0.0), dtype=float)


def _in_pattern(
    sites: SiteTable, tech: str, s: IntArray, d: FloatArray, gain: FloatArray
) -> BoolArray:
    """Whether points at distance `d` within the boresight reach of `s` are served despite `gain`.

    ``radius``: ``d <= reach · 10^(gain / 35)``. ``hata``: ``EIRP + gain - L(d) >= threshold``
    with 4G or 5G (for 4G or better), at boresight (gain 0) the reach alone deciding.
    """
    if sites.model == "radius":
        reach = radio.radius_pattern_reach_m(sites.reach_m[tech][s], gain)
        return np.asarray(d <= reach, dtype=bool)
    keep = gain >= 0.0
    off = np.flatnonzero(~keep)
    if off.size == 0:
        return keep
    so, do, go = s[off], np.maximum(d[off], 1.0), gain[off]

    def served(carrier: str) -> BoolArray:
        power = radio.received_power_dbm(
            do,
            eirp_dbm=sites.eirp_dbm[carrier][so],
            freq_mhz=sites.freq_mhz[carrier][so],
            h_tx_m=sites.height_m[so],
            env=sites.env[so].astype(str),
        )
        return np.asarray(power + go >= _threshold(sites, carrier), dtype=bool)

    ok = served(tech)
    if tech == "4G":
        live_5g = sites.reach_m["5G"][so] > 0
        if live_5g.any():
            ok |= live_5g & served("5G")
    keep[off] = ok
    return keep


def _reach_classes(reach: FloatArray, n_classes: int = 6) -> list[tuple[float, IntArray]]:
    """Group sites into a few classes by reach, each searched with its largest reach."""
    live = np.flatnonzero(reach > 0)
    if live.size == 0:
        return []
    values = np.unique(reach[live])
    if values.size <= n_classes:
        return [(float(v), live[reach[live] == v]) for v in values]
    edges = np.quantile(reach[live], np.linspace(0, 1, n_classes + 1))
    cls = np.clip(np.searchsorted(edges[1:-1], reach[live], side="left"), 0, n_classes - 1)
    return [
        (float(reach[live[cls == c]].max()), live[cls == c])
        for c in range(n_classes)
        if (cls == c).any()
    ]


def covered_points(px: FloatArray, py: FloatArray, sites: SiteTable, tech: str) -> Pairs:
    """All (point, site) pairs where the point lies in the site's `tech` footprint.

    Parameters
    ----------
    px, py
        Point coordinates in the sites' metric CRS.
    sites
        From :func:`site_table`.
    tech
        ``4G`` (4G or better), ``5G``, or any other key of ``sites.reach_m`` (``2G``, ``3G``,
        ``NB-IoT``, ``LTE-M``), each with its own threshold.

    Returns
    -------
    Pairs
        Point index, site index, distance (m) and antenna gain (dB) of every covering pair.

    Notes
    -----
    Candidates are the pairs within each site's boresight reach (a k-d tree search per reach
    class). An omni site serves them all; a sector serves those its pattern still reaches
    (:func:`_in_pattern`: the ``hata`` link budget with the antenna gain, or the ``radius``
    reach shortened by it), and a point within 1 m of the mast whichever way it faces.
    """
    reach = sites.reach_m[tech]
    points = np.column_stack([px, py])
    if not len(points):
        return _no_pairs()
    point_tree = cKDTree(points)
    found_p: list[IntArray] = []
    found_s: list[IntArray] = []
    found_d: list[FloatArray] = []
    for radius, members in _reach_classes(reach):
        site_tree = cKDTree(np.column_stack([sites.x[members], sites.y[members]]))
        hits = site_tree.sparse_distance_matrix(point_tree, radius, output_type="ndarray")
        s = members[hits["i"].astype(np.int64)]
        p = hits["j"].astype(np.int64)
        d = hits["v"].astype(np.float64)
        keep = d <= reach[s]
        found_p.append(p[keep])
        found_s.append(s[keep])
        found_d.append(d[keep])
    if not found_p:
        return _no_pairs()
    p = np.concatenate(found_p)
    s = np.concatenate(found_s)
    d = np.concatenate(found_d)
    gain = np.zeros(len(p))
    sector = np.flatnonzero(_sectors(sites, s))
    if sector.size:
        ss, ps = s[sector], p[sector]
        bearing = radio.bearing_deg(sites.x[ss], sites.y[ss], px[ps], py[ps])
        gain[sector] = radio.sector_gain_db(bearing, sites.azimuth_deg[ss], sites.beamwidth_deg[ss])
        inside = _in_pattern(sites, tech, ss, d[sector], gain[sector])
        # A point on the mast itself is served whatever the sector's direction.
        inside |= d[sector] < 1.0
        keep = np.ones(len(p), dtype=bool)
        keep[sector[~inside]] = False
        p, s, d, gain = p[keep], s[keep], d[keep], gain[keep]
    return Pairs(p, s, d, gain)


def nearest_sites(sites: SiteTable, xy: FloatArray) -> tuple[FloatArray, IntArray]:
    """Distance (m) to the nearest site of any operator and technology, and its index.

    Parameters
    ----------
    sites
        From :func:`site_table`.
    xy
        ``(n, 2)`` points in the sites' metric CRS.

    Returns
    -------
    tuple
        ``(distance_m, index)``; ``inf`` and 0 when there is no site at all.
    """
    if len(sites) == 0:
        return np.full(len(xy), np.inf), np.zeros(len(xy), dtype=np.int64)
    distance, index = cKDTree(np.column_stack([sites.x, sites.y])).query(xy, k=1)
    return np.asarray(distance, dtype=np.float64), np.asarray(index, dtype=np.int64)


def _any_per(groups: IntArray, n: int) -> BoolArray:
    out = np.zeros(n, dtype=bool)
    out[groups] = True
    return out


def _best_power(pairs: Pairs, sites: SiteTable, tech: str, n: int) -> FloatArray:
    """Best received power (dBm) per point over its covering pairs; NaN where none."""
    best = np.full(n, np.nan)
    if len(pairs.point) == 0:
        return best
    s = pairs.site
    power = radio.received_power_dbm(
        np.maximum(pairs.distance_m, 1.0),
        eirp_dbm=sites.eirp_dbm[tech][s],
        freq_mhz=sites.freq_mhz[tech][s],
        h_tx_m=sites.height_m[s],
        env=sites.env[s],
    )
    # The EIRP is the boresight's; the antenna pattern takes its share off boresight.
    power = power + pairs.gain_db
    order = np.lexsort((-power, pairs.point))
    first = np.r_[True, pairs.point[order][1:] != pairs.point[order][:-1]]
    best[pairs.point[order][first]] = power[order][first]
    return best


def _polygons_only(
    geoms: npt.NDArray[np.object_], is_polygon: BoolArray
) -> npt.NDArray[np.object_]:
    """Return the polygons of `geoms`, None where a village is a point."""
    out = geoms.copy()
    out[~is_polygon] = None
    return out


#: Operators' area shares are computed where the total share is at least ``min_share`` less
#: this: far more than the rule's own slack and any rounding of a share, so no village that the
#: rule may count as covered is left out.
_GROUP_MARGIN = 1e-9


def _polygon_shares(
    polygons: npt.NDArray[np.object_],
    candidates: BoolArray,
    sites: SiteTable,
    tech: str,
    rings: PolygonRings | None = None,
) -> FloatArray:
    """Share of each polygon's area inside the union of the `tech` footprints.

    :func:`_polygon_shares_by_group` without groups: the total alone.
    """
    share, _ = _polygon_shares_by_group(
        polygons,
        candidates,
        sites,
        tech,
        rings,
        group=np.zeros(len(sites), dtype=np.int64),
        n_groups=0,
        min_share=1.0,
    )
    return share


def _polygon_shares_by_group(
    polygons: npt.NDArray[np.object_],
    candidates: BoolArray,
    sites: SiteTable,
    tech: str,
    rings: PolygonRings | None = None,
    *,
    group: IntArray,
    n_groups: int,
    min_share: float,
) -> tuple[FloatArray, FloatArray]:
    """Share of each polygon's area inside the union of the `tech` footprints, and per group.

    Omnidirectional footprints are true circles and the area of polygon ∩ union of circles is
    computed exactly (:func:`hatangso.coverage._discarea.union_disc_area_by_group`, Green's
    theorem, compiled). Villages that a sector's footprint may touch are overlaid with shapely
    instead, the sectors' pattern-shaped footprints (:func:`hatangso.coverage.radio.footprints`)
    and the discs together. Villages no footprint can touch get 0 without any work.

    Parameters
    ----------
    polygons
        Village geometries in the metric CRS.
    candidates
        Which villages to compute (the others get 0).
    sites
        From :func:`site_table`.
    tech
        ``4G`` or ``5G``.
    rings
        :func:`~hatangso.coverage._discarea.polygon_rings` of `polygons`, when the caller
        computes shares for several technologies.
    group
        Group of each site (its operator), in ``[0, n_groups)``.
    n_groups
        Number of groups; 0 for the total alone.
    min_share
        The rule's share: groups' shares are computed only where the total reaches it.

    Returns
    -------
    tuple
        ``(share, group_share)``: float64 ``(n,)`` in [0, 1], and float64 ``(n, n_groups)``,
        each group's share from its own footprints alone (as if the other groups' sites were
        absent). NaN where not computed: where footprints touch a village but their total share
        is below ``min_share`` less :data:`_GROUP_MARGIN`, no group's footprints (a part of all
        of them) reach ``min_share`` either. A village no footprint touches has 0 throughout.

    Notes
    -----
    The groups come in the same pass as the total: one search for the footprints that may
    touch each village, then one compiled sweep in which a village reached by one group's
    discs alone takes the total for that group and a village reached by several computes each
    group's union again. Where a group's footprints at a village include a sector, that
    group's share there is an overlay of its own footprints, as the total's is.
    """
    n = len(polygons)
    share = np.zeros(n)
    group_share = np.zeros((n, n_groups))
    reach = sites.reach_m[tech]
    idx = np.flatnonzero(candidates)
    if idx.size == 0 or not (reach > 0).any():
        return share, group_share
    bounds = shapely.bounds(polygons[idx])
    cx = (bounds[:, 0] + bounds[:, 2]) / 2
    cy = (bounds[:, 1] + bounds[:, 3]) / 2
    half_diag = np.hypot(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]) / 2
    # Pairs whose footprint may touch the polygon: bbox centre within reach + half diagonal.
    slack = float(half_diag.max()) if half_diag.size else 0.0
    widened = dataclasses.replace(
        sites,
        reach_m={tech: np.where(reach > 0, reach + slack, 0.0)},
        azimuth_deg=np.full(len(sites), np.nan),
        beamwidth_deg=np.full(len(sites), np.nan),
    )
    near = covered_points(cx, cy, widened, tech)
    touch = near.distance_m <= reach[near.site] + half_diag[near.point]
    p, s = idx[near.point[touch]], near.site[touch]
    if p.size == 0:
        return share, group_share
    return _shares_of_pairs(
        polygons, p, s, sites, tech, rings, group=group, n_groups=n_groups, min_share=min_share
    )


def _shares_of_pairs(
    polygons: npt.NDArray[np.object_],
    p: IntArray,
    s: IntArray,
    sites: SiteTable,
    tech: str,
    rings: PolygonRings | None,
    *,
    group: IntArray,
    n_groups: int,
    min_share: float,
) -> tuple[FloatArray, FloatArray]:
    """Return the shares of :func:`_polygon_shares_by_group` from the pairs that touch."""
    n = len(polygons)
    share = np.zeros(n)
    group_share = np.zeros((n, n_groups))
    reach = sites.reach_m[tech]
    sector = _sectors(sites, s)
    with_sector = np.zeros(n, dtype=bool)
    with_sector[p[sector]] = True
    overlaid = with_sector[p]
    total = shapely.area(polygons)
    positive = total > 0
    safe = np.where(positive, total, 1.0)
    least = max(min_share - _GROUP_MARGIN, 0.0)
    if (~overlaid).any():
        pe, se = p[~overlaid], s[~overlaid]
        order = np.argsort(pe, kind="stable")
        pe, se = pe[order], se[order]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(pe, minlength=n), out=offsets[1:])
        from hatangso.coverage._discarea import polygon_rings, union_disc_area_by_group

        if rings is None:
            is_polygon = np.isin(shapely.get_type_id(polygons), (3, 6))
            rings = polygon_rings(_polygons_only(polygons, is_polygon))
        area, group_area = union_disc_area_by_group(
            rings.coords,
            rings.ring_offsets,
            rings.geom_ring_offsets,
            sites.x[se],
            sites.y[se],
            reach[se],
            offsets,
            group[se],
            n_groups=n_groups,
            min_area=least * total,
        )
        done = np.unique(pe)
        share[done] = np.where(positive[done], area[done] / safe[done], 0.0)
        group_share[done] = np.where(positive[done, None], group_area[done] / safe[done, None], 0.0)
    if overlaid.any():
        po, so = p[overlaid], s[overlaid]
        share = _overlay_shares(polygons, po, so, sites, tech, share)
        if n_groups:
            group_share = _overlay_group_shares(
                polygons, po, so, sites, tech, share, group_share, group=group, least=least
            )
    return np.clip(share, 0.0, 1.0), np.clip(group_share, 0.0, 1.0)


def _overlay_group_shares(
    polygons: npt.NDArray[np.object_],
    p: IntArray,
    s: IntArray,
    sites: SiteTable,
    tech: str,
    share: FloatArray,
    group_share: FloatArray,
    *,
    group: IntArray,
    least: float,
) -> FloatArray:
    """Return the groups' shares at the villages a sector may touch (`p`, `s`: their pairs).

    A village reached by one group alone takes its total `share`; elsewhere each (village,
    group) becomes a village of its own, whose share is computed from that group's pairs as
    the total's is (disc kernel, or overlay where the group has a sector there).
    """
    n_groups = group_share.shape[1]
    out = group_share.copy()
    villages = np.unique(p)
    reached = share[villages] >= least
    out[villages[~reached]] = np.nan
    out[villages[reached]] = 0.0
    keep = reached[np.searchsorted(villages, p)]
    p, s = p[keep], s[keep]
    keys, key_of_pair = np.unique(p * n_groups + group[s], return_inverse=True)
    key_village, key_group = keys // n_groups, keys % n_groups
    single = np.bincount(key_village, minlength=len(polygons))[key_village] == 1
    out[key_village[single], key_group[single]] = share[key_village[single]]
    if (~single).any():
        multi = np.flatnonzero(~single)
        pair = ~single[key_of_pair]
        own, _ = _shares_of_pairs(
            polygons[key_village[multi]],
            np.searchsorted(multi, key_of_pair[pair]),
            s[pair],
            sites,
            tech,
            None,
            group=group,
            n_groups=0,
            min_share=1.0,
        )
        out[key_village[multi], key_group[multi]] = own
    return out


def _overlay_shares(
    polygons: npt.NDArray[np.object_],
    p: IntArray,
    s: IntArray,
    sites: SiteTable,
    tech: str,
    share: FloatArray,
) -> FloatArray:
    """Covered shares by polygon overlay (for villages that sector footprints may touch)."""
    reach = sites.reach_m[tech]
    used, which = np.unique(s, return_inverse=True)

    def reach_at(rows: IntArray, gain_db: FloatArray) -> FloatArray:
        if sites.model == "radius":
            return _reach_toward(sites, tech, used[rows], gain_db)
        # The pattern is symmetric and flat round the back: solve each site's link budget once
        # per distinct gain (about a third of the outline's vertices).
        site = np.broadcast_to(used[rows][:, None], gain_db.shape).ravel()
        level = np.round(gain_db, 9).ravel()
        keys, inverse = np.unique(np.column_stack([site, level]), axis=0, return_inverse=True)
        far = _reach_toward(sites, tech, keys[:, 0].astype(np.int64), keys[:, 1].astype(float))
        return np.asarray(far[inverse.ravel()].reshape(gain_db.shape), dtype=np.float64)

    # One footprint per site, however many villages it touches.
    shapes = radio.footprints(
        sites.x[used],
        sites.y[used],
        reach[used],
        sites.azimuth_deg[used],
        sites.beamwidth_deg[used],
        reach_at=reach_at,
    )[which]
    order = np.argsort(p, kind="stable")
    p, shapes = p[order], shapes[order]
    groups = np.unique(p)
    # One multipolygon of a village's footprints; 'structure' make_valid merges overlaps.
    merged = shapely.multipolygons(shapes, indices=np.searchsorted(groups, p))
    merged = shapely.make_valid(merged, method="structure", keep_collapsed=False)
    targets = polygons[groups]
    inter = shapely.intersection(targets, merged)
    area = shapely.area(targets)
    out = share.copy()
    out[groups] = np.where(area > 0, shapely.area(inter) / np.where(area > 0, area, 1), 0.0)
    return out


@dataclass(frozen=True)
class PopulationCells:
    """People of a population raster, as weighted points assigned to villages."""

    village: IntArray
    x: FloatArray
    y: FloatArray
    people: FloatArray


def mobile_coverage(
    villages: gpd.GeoDataFrame,
    sites: SiteTable,
    *,
    rule: str,
    min_share: float,
    population_cells: PopulationCells | None = None,
    points: VillagePoints | None = None,
) -> pd.DataFrame:
    """Mobile coverage of each village, for 4G-or-better and for 5G.

    The footprints answer at the rule's points (and, for ``area``/``population``, give the
    covered shares); :func:`hatangso.coverage.villages.judge` applies the rule.

    Parameters
    ----------
    villages
        Village polygons (or points) in the same metric CRS as `sites`. With the ``point``
        or ``official`` rule and `points` given, `villages` may be in any CRS: only the
        points are used.
    sites
        From :func:`site_table`.
    rule
        ``point``, ``area``, ``population`` or ``official``.
    min_share
        Share of area or people needed under ``area``/``population``.
    population_cells
        People as weighted points (from a raster); without them ``population`` spreads a
        village's people evenly over its polygon, i.e. equals ``area``.
    points
        The villages' demand points in the sites' CRS
        (:func:`hatangso.coverage.villages.village_points`); built from `villages` alone
        (representative points as centres, no clusters) when None.

    Returns
    -------
    pandas.DataFrame
        Indexed like `villages`: ``covered_mobile``, ``covered_5g`` (bool), ``mobile_share``,
        ``share_5g`` (the covered share the rule used: 0/1 for point rules), ``best_dbm``
        (float: the best 4G or 5G carrier, NaN with the radius model or when uncovered),
        ``nearest_site_m``, ``serving_operators`` (';'-joined operators whose own
        4G-or-better footprints meet the rule), ``population_covered_mobile``,
        ``population_covered_5g``,
        ``population_in_village`` (people, where known) and ``mobile_reason`` (why the
        village is or is not covered).
    """
    n = len(villages)
    if points is None:
        points = village_points(villages, villages.crs)
    geoms = np.asarray(villages.geometry.array, dtype=object)
    rep = points.representative_xy
    rx, ry = rep[:, 0], rep[:, 1]
    point_village, pxy = points.rule_points(rule)
    is_polygon = np.isin(shapely.get_type_id(geoms), (3, 6))
    pairs_rep = {t: covered_points(rx, ry, sites, t) for t in TECHS}
    pairs_rule = (
        {t: covered_points(pxy[:, 0], pxy[:, 1], sites, t) for t in TECHS}
        if rule == "official"
        else pairs_rep
    )
    point_cov = {t: _any_per(pairs_rep[t].point, n) for t in TECHS}
    shares_needed = rule in ("area", "population")
    rings: PolygonRings | None = None
    if shares_needed and is_polygon.any():
        from hatangso.coverage._discarea import polygon_rings

        rings = polygon_rings(_polygons_only(geoms, is_polygon))
    cell_pairs: dict[str, Pairs] = {}
    pop_cov: dict[str, FloatArray] = {}
    pop_total: FloatArray | None = None
    if population_cells is not None:
        cells = population_cells
        pop_total = np.bincount(cells.village, weights=cells.people, minlength=n).astype(float)
        for t in TECHS:
            cell_pairs[t] = covered_points(cells.x, cells.y, sites, t)
            hit = _any_per(cell_pairs[t].point, len(cells.x))
            pop_cov[t] = np.bincount(cells.village, weights=cells.people * hit, minlength=n).astype(
                float
            )

    # Each site's operator as a number, operators in sorted order (a hash, not a string sort).
    codes, names = pd.factorize(pd.Series(sites.operator, dtype=object).astype(str), sort=True)
    site_operator = np.asarray(codes, dtype=np.int64)
    operators = np.asarray(names, dtype=object)

    def hits(tech: str, keep: BoolArray | None = None) -> BoolArray:
        """Whether each rule point is covered, by all sites or by the sites in `keep`."""
        pairs = pairs_rule[tech]
        lit = pairs.point if keep is None else pairs.point[keep[pairs.site]]
        return _any_per(lit, len(point_village))

    def people_share(tech: str, keep: BoolArray | None = None) -> FloatArray | None:
        """Covered share of each village's people (NaN where unknown); None without cells."""
        if rule != "population" or population_cells is None or pop_total is None:
            return None
        if keep is None:
            covered = pop_cov[tech]
        else:
            cp = cell_pairs[tech]
            cell_hit = _any_per(cp.point[keep[cp.site]], len(population_cells.x))
            covered = np.bincount(
                population_cells.village,
                weights=population_cells.people * cell_hit,
                minlength=n,
            ).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(
                np.where(pop_total > 0, covered / np.where(pop_total > 0, pop_total, 1), np.nan),
                dtype=float,
            )

    def area_needed(people: FloatArray | None) -> BoolArray:
        """Villages whose area share the rule may fall back on: polygons, no people known."""
        return is_polygon if people is None else is_polygon & np.isnan(people)

    # The operators' own area shares (4G or better) come in the same pass as the total.
    by_operator = np.zeros((n, len(operators)))
    answers: dict[str, RuleAnswer] = {}
    for t in TECHS:
        if not shares_needed:
            answers[t] = judge(rule, points, hit=hits(t), min_share=min_share)
            continue
        people = people_share(t)
        if t == "4G":
            share, by_operator = _polygon_shares_by_group(
                geoms,
                area_needed(people),
                sites,
                t,
                rings,
                group=site_operator,
                n_groups=len(operators),
                min_share=min_share,
            )
        else:
            share = _polygon_shares(geoms, area_needed(people), sites, t, rings)
        answers[t] = judge(
            rule,
            points,
            hit=hits(t),
            min_share=min_share,
            area_share=np.where(is_polygon, share, np.nan),
            people_share=people,
        )
    covered = {t: answers[t].covered for t in TECHS}
    shares = {t: answers[t].share for t in TECHS}
    # One operator's footprints are part of all of them: it can meet the rule only where all
    # of them do, so its area shares are needed only there (and computed only there).
    own: dict[str, BoolArray] = {}
    for k, op in enumerate(operators):
        keep = site_operator == k
        if not shares_needed:
            own[str(op)] = judge(rule, points, hit=hits("4G", keep), min_share=min_share).covered
            continue
        people = people_share("4G", keep)
        need = area_needed(people) & covered["4G"]
        area = np.where(is_polygon, np.where(need, by_operator[:, k], 0.0), np.nan)
        own[str(op)] = judge(
            rule,
            points,
            hit=hits("4G", keep),
            min_share=min_share,
            area_share=area,
            people_share=people,
        ).covered

    out: dict[str, object] = {}
    nearest_m, nearest_idx = nearest_sites(sites, rep)
    best = (
        _best_power(pairs_rep["4G"], sites, "4G", n)
        if sites.model in ("hata", "terrain")
        else np.full(n, np.nan)
    )
    out["covered_mobile"] = covered["4G"]
    out["covered_5g"] = covered["5G"]
    out["mobile_share"] = shares["4G"]
    out["share_5g"] = shares["5G"]
    out["best_dbm"] = best
    out["nearest_site_m"] = np.where(np.isfinite(nearest_m), nearest_m, np.nan)
    out["serving_operators"] = serving_operators(own, n)
    if population_cells is not None and pop_total is not None:
        out["population_covered_mobile"] = pop_cov["4G"]
        out["population_covered_5g"] = pop_cov["5G"]
        out["population_in_village"] = pop_total
    out["mobile_reason"] = _reasons(
        rule=rule,
        min_share=min_share,
        covered=covered["4G"],
        share=shares["4G"],
        point_covered=point_cov["4G"],
        nearest_m=np.asarray(nearest_m, dtype=float),
        nearest_idx=np.asarray(nearest_idx, dtype=np.int64),
        sites=sites,
        xy=rep,
    )
    return pd.DataFrame(out, index=villages.index)


#: Sector rows at one mast looked at when saying how far the nearest mast reaches a village.
_MAST_ROWS = 8


def _reasons(
    *,
    rule: str,
    min_share: float,
    covered: BoolArray,
    share: FloatArray,
    point_covered: BoolArray,
    nearest_m: FloatArray,
    nearest_idx: IntArray,
    sites: SiteTable,
    xy: FloatArray,
) -> npt.NDArray[np.object_]:
    """Say, per village, why it is or is not covered (4G or better).

    An uncovered village far from every site names the nearest mast and how far it reaches
    towards the village: the longest reach at the village's bearing among the rows standing
    within 1 m of the nearest (a mast's sectors), "at this bearing" when that is a sector's.
    """
    n = len(covered)
    reasons = np.full(n, "", dtype=object)
    if len(sites) == 0:
        reasons[:] = "no sites given"
        return reasons
    no_site = ~covered & ~point_covered & (share <= 0)
    rows = np.flatnonzero(no_site)
    # Only the villages far from every site are written here: their rows alone are spelt out.
    op = sites.operator[nearest_idx[rows]].astype(str)
    reach = sites.reach_m["4G"][nearest_idx[rows]].astype(float)
    toward = np.zeros(rows.size, dtype=bool)
    if rows.size:
        k = min(len(sites), _MAST_ROWS)
        tree = cKDTree(np.column_stack([sites.x, sites.y]))
        dist, idx = tree.query(xy[rows], k=k)
        dist = np.asarray(dist, dtype=float).reshape(rows.size, k)
        idx = np.asarray(idx, dtype=np.int64).reshape(rows.size, k)
        mast = dist <= dist[:, :1] + 1.0
        bearing = radio.bearing_deg(
            sites.x[idx], sites.y[idx], xy[rows, 0][:, None], xy[rows, 1][:, None]
        )
        gain = radio.sector_gain_db(bearing, sites.azimuth_deg[idx], sites.beamwidth_deg[idx])
        far = _reach_toward(sites, "4G", idx.ravel(), gain.ravel()).reshape(rows.size, k)
        far = np.where(mast, far, -1.0)
        best = np.argmax(far, axis=1)
        at = np.arange(rows.size)
        chosen = idx[at, best]
        reach = far[at, best]
        op = sites.operator[chosen].astype(str)
        toward = _sectors(sites, chosen)
    km = np.round(nearest_m[rows] / 1000, 1).astype(str)
    reach_km = np.round(reach / 1000, 1).astype(str)
    unit = np.where(toward, " km at this bearing)", " km)").astype(object)
    reasons[rows] = (
        "no site within reach: nearest is "
        + op.astype(object)
        + " at "
        + km.astype(object)
        + " km (reach "
        + reach_km.astype(object)
        + unit
    )
    answer = RuleAnswer(covered=covered, share=share)
    said = rule_reasons(rule, answer, min_share=min_share)
    reasons[~no_site] = said[~no_site]
    return reasons


def population_cells(villages: gpd.GeoDataFrame, path: str, *, to_crs: object) -> PopulationCells:
    """People of a population raster (WorldPop style: people per cell) assigned to villages.

    Only the window of the raster that covers the villages is read. A cell belongs to the
    village that contains its centre (``rasterio.features.rasterize`` without
    ``all_touched``), so every person is counted once; a village too small to hold a cell
    centre gets no people of its own and its neighbour counts them.

    Parameters
    ----------
    villages
        Village polygons (any CRS; reprojected to the raster's).
    path
        The raster file.
    to_crs
        The run's metric CRS, in which the cell centres are returned.

    Returns
    -------
    PopulationCells
        One weighted point per populated cell inside a village.
    """
    import rasterio
    from rasterio.features import rasterize
    from rasterio.windows import from_bounds

    from hatangso.geo.errors import InputError

    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(
            Problem(
                file=str(path),
                message=f"cannot be read as a raster ({exc})",
                fix="give a GeoTIFF of people per cell",
            )
        ) from exc
    with src:
        if src.crs is None:
            raise InputError(
                Problem(
                    file=str(path),
                    message="the raster has no CRS",
                    fix="assign one, e.g. gdal_edit.py -a_srs EPSG:4326",
                )
            )
        local = villages.to_crs(src.crs)
        left, bottom, right, top = local.total_bounds
        # One cell of margin, so that rounding the window never clips a village's edge.
        dx, dy = abs(src.transform.a), abs(src.transform.e)
        window = from_bounds(left - dx, bottom - dy, right + dx, top + dy, transform=src.transform)
        window = window.round_offsets().round_lengths()
        window = window.intersection(rasterio.windows.Window(0, 0, src.width, src.height))
        people = src.read(1, window=window, masked=True).astype("float64").filled(0.0)
        transform = src.window_transform(window)
        crs = src.crs
    people[~np.isfinite(people) | (people < 0)] = 0.0
    shapes = zip(local.geometry.array, range(len(local)), strict=True)
    zone = rasterize(shapes, out_shape=people.shape, transform=transform, fill=-1, dtype="int32")
    rows, cols = np.nonzero((zone >= 0) & (people > 0))
    xs, ys = rasterio.transform.xy(transform, rows, cols, offset="center")
    import pyproj

    transformer = pyproj.Transformer.from_crs(crs, to_crs, always_xy=True)
    mx, my = transformer.transform(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
    return PopulationCells(
        village=zone[rows, cols].astype(np.int64),
        x=np.asarray(mx, dtype=float),
        y=np.asarray(my, dtype=float),
        people=people[rows, cols],
    )
