"""The province's registry of antenna masts: sharing by tenants, permits, and the checks.

A registry (the ``masts`` kind: ``mast_id``, a point, ``owner``, ``status``, ``permit_no``,
``permit_date``, ``tenants``) says which operators use which mast. With one, the sharing
indicators count *tenants per built mast* rather than guessing co-location from the sites'
positions (:func:`hatangso.coverage.sharing.tower_locations`):

* ``bts_site_sharing_ratio`` = built masts with two or more tenants / built masts;
* ``bts_station_sharing_ratio`` = tenancies on such masts / tenancies (a tenancy is one
  operator on one mast: the stations of the contract).

A mast's tenants are those the registry lists plus the operators of the sites that name it
(``sites.mast_id``): a site on a mast is its operator's tenancy there, listed or not.

The checks an official needs (:func:`registry_checks`), one row per finding:

``station_on_no_mast``
    a site that names no mast, or a mast the registry does not have, or a dismantled one;
``built_without_permit``
    a built mast with no permit number;
``share_candidate``
    two masts (planned, permitted or built) of different owners within ``share_distance_m``
    of each other: candidates to share one;
``in_no_build``
    a mast (not dismantled) inside a no-build polygon.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from hatangso.coverage._groups import join_unique_per_group
from hatangso.coverage.kpis import IndicatorValue
from hatangso.geo.crs import require_projected

__all__ = [
    "CHECKS",
    "CHECK_COLUMNS",
    "MastSharing",
    "RegistryChecks",
    "mast_register",
    "mast_sharing",
    "permit_state",
    "registry_checks",
]

log = logging.getLogger(__name__)

#: The checks of :func:`registry_checks`, in the order they are reported, with their
#: Vietnamese and English labels.
CHECKS: dict[str, tuple[str, str]] = {
    "station_on_no_mast": ("Trạm không gắn với cột nào", "Station on no mast"),
    "built_without_permit": ("Cột đã xây chưa có giấy phép", "Built mast without a permit"),
    "share_candidate": (
        "Cột của hai chủ sở hữu cách nhau dưới ngưỡng (nên dùng chung)",
        "Masts of different owners close together (candidates to share)",
    ),
    "in_no_build": ("Cột nằm trong vùng cấm xây dựng", "Mast inside a no-build area"),
}

#: Columns of the checks' table (``registry_checks.csv``).
CHECK_COLUMNS = (
    "check",
    "mast_id",
    "site_id",
    "operator",
    "owner",
    "other_mast_id",
    "other_owner",
    "distance_m",
    "detail",
)

_LIVE = ("planned", "permitted", "built")


def _text(frame: pd.DataFrame, column: str) -> npt.NDArray[np.object_]:
    """Return `column` as stripped text ('' where missing or absent)."""
    if column not in frame:
        return np.full(len(frame), "", dtype=object)
    return np.asarray(frame[column].astype("string").fillna("").str.strip(), dtype=object)


def _status(masts: pd.DataFrame) -> npt.NDArray[np.object_]:
    """Each mast's status (``built`` where not given, as the contract's default)."""
    status = _text(masts, "status")
    return np.where(status == "", "built", status)


@dataclass(frozen=True)
class MastSharing:
    """Sharing counted on the registry's built masts.

    Attributes
    ----------
    table
        One row per built mast, in the registry's order: ``location`` (0 ..), ``mast_id``,
        ``owner``, ``n_sites`` (sites naming it), ``n_operators`` (tenants), ``operators``
        (';'-joined, sorted), ``shared`` (2+ tenants), ``site_ids`` (';'-joined) and its
        Point, in the masts' CRS: the columns of
        :attr:`hatangso.coverage.sharing.TowerLocations.table`, so that maps and outputs
        take either.
    """

    table: gpd.GeoDataFrame

    @property
    def indicator(self) -> IndicatorValue:
        """``bts_site_sharing_ratio``: built masts with 2+ tenants / built masts."""
        return IndicatorValue(
            "bts_site_sharing_ratio", float(self.table["shared"].sum()), float(len(self.table))
        )

    @property
    def station_indicator(self) -> IndicatorValue:
        """``bts_station_sharing_ratio``: tenancies on shared masts / tenancies."""
        tenants = self.table["n_operators"].to_numpy(dtype=np.int64)
        shared = self.table["shared"].to_numpy(dtype=bool)
        return IndicatorValue(
            "bts_station_sharing_ratio", float(tenants[shared].sum()), float(tenants.sum())
        )


def mast_sharing(masts: gpd.GeoDataFrame, sites: pd.DataFrame | None = None) -> MastSharing:
    """Count the tenants of every built mast of the registry.

    Parameters
    ----------
    masts
        The registry (``mast_id``, ``owner``, optional ``status`` and ``tenants``), any CRS.
    sites
        Sites with ``site_id``, ``operator`` and optional ``mast_id``; each site naming a
        mast makes its operator a tenant there.

    Returns
    -------
    MastSharing

    Examples
    --------
    Viettel and VNPT on one mast, Viettel alone on another: one shared mast of two, two
    tenancies on it of three:

    >>> import geopandas as gpd, shapely
    >>> masts = gpd.GeoDataFrame(
    ...     {"mast_id": ["M1", "M2"], "owner": ["Viettel", "Viettel"],
    ...      "tenants": ["Viettel;VNPT", "Viettel"]},
    ...     geometry=shapely.points([(105.8, 21.0), (105.9, 21.0)]), crs=4326)
    >>> found = mast_sharing(masts)
    >>> found.indicator.value, round(found.station_indicator.value, 3)
    (0.5, 0.667)
    """
    built = masts[_status(masts) == "built"].reset_index(drop=True)
    n = len(built)
    ids = _text(built, "mast_id")
    position = pd.Index(ids)
    tenant_lists = pd.Series(_text(built, "tenants")).str.split(";").explode()
    tenant_lists = tenant_lists[tenant_lists.str.strip() != ""]
    groups = [np.asarray(tenant_lists.index, dtype=np.int64)]
    labels = [tenant_lists.str.strip().to_numpy(dtype=object)]
    site_ids = np.full(n, "", dtype=object)
    n_sites = np.zeros(n, dtype=np.int64)
    if sites is not None and len(sites) and "mast_id" in sites:
        at = position.get_indexer(pd.Index(_text(sites, "mast_id")))
        on = at >= 0
        groups.append(at[on].astype(np.int64))
        labels.append(_text(sites, "operator")[on])
        n_sites = np.bincount(at[on], minlength=n).astype(np.int64)
        site_ids = join_unique_per_group(at[on], _text(sites, "site_id")[on], n)
    operators = join_unique_per_group(np.concatenate(groups), np.concatenate(labels), n)
    text = operators.astype(str)
    n_operators = np.where(text == "", 0, np.char.count(text, ";") + 1).astype(np.int64)
    table = gpd.GeoDataFrame(
        {
            "location": np.arange(n),
            "mast_id": ids,
            "owner": _text(built, "owner"),
            "n_sites": n_sites,
            "n_operators": n_operators,
            "operators": operators,
            "shared": n_operators >= 2,
            "site_ids": site_ids,
        },
        geometry=np.asarray(built.geometry.array, dtype=object),
        crs=masts.crs,
    )
    return MastSharing(table)


def permit_state(
    masts: pd.DataFrame, *, as_of: date, valid_years: float, expiring_days: int
) -> pd.Series:
    """Say where each mast stands with its permit on `as_of`.

    Parameters
    ----------
    masts
        The registry (``status``, ``permit_no``, ``permit_date``).
    as_of
        The day the question is asked.
    valid_years
        How long a permit runs from its ``permit_date``.
    expiring_days
        A permit that ends within this many days of `as_of` (or has ended) is expiring.

    Returns
    -------
    pandas.Series
        Per mast, like `masts`: ``missing`` (built or permitted, no permit number),
        ``expiring`` (its permit ends by ``as_of + expiring_days``), ``valid``, or
        ``not_needed`` (planned or dismantled, without a permit).
    """
    status = _status(masts)
    number = _text(masts, "permit_no")
    issued = pd.to_datetime(
        pd.Series(_text(masts, "permit_date")).replace("", None), errors="coerce"
    )
    ends = issued + pd.Timedelta(days=round(valid_years * 365.25))
    horizon = pd.Timestamp(as_of + timedelta(days=expiring_days))
    needs = np.isin(status, ("permitted", "built"))
    has = number != ""
    expiring = has & (ends <= horizon).fillna(False).to_numpy(dtype=bool)
    state = np.where(
        needs & ~has,
        "missing",
        np.where(expiring, "expiring", np.where(has, "valid", "not_needed")),
    )
    return pd.Series(state, index=masts.index, dtype="string")


def mast_register(
    masts: gpd.GeoDataFrame,
    *,
    sites: pd.DataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
    checks: pd.DataFrame | None = None,
    as_of: date,
    valid_years: float,
    expiring_days: int,
) -> gpd.GeoDataFrame:
    """Return the registry as an official reads it: each mast with its place, permit and sites.

    Parameters
    ----------
    masts
        The registry (EPSG:4326).
    sites
        The sites (``site_id``, ``operator``, ``mast_id``), or None.
    villages
        The villages (``commune``, ``district``; polygons or points, EPSG:4326), or None.
    checks
        A run's findings (:attr:`RegistryChecks.table`), or None.
    as_of, valid_years, expiring_days
        As :func:`permit_state` takes them.

    Returns
    -------
    geopandas.GeoDataFrame
        `masts` (its row order, ``status`` filled with ``built``) plus ``commune`` and
        ``district`` (of the village whose polygon holds the mast, else the nearest
        village's; NA without villages), ``permit_state``, ``permit_expires`` (ISO date, NA
        without a permit date), ``site_ids`` and ``site_operators`` (';'-joined: the sites
        naming the mast) and ``checks`` (';'-joined codes of the findings about it).
    """
    out = masts.reset_index(drop=True).copy()
    n = len(out)
    out["status"] = pd.array(_status(out), dtype="string")
    out["permit_state"] = permit_state(
        out, as_of=as_of, valid_years=valid_years, expiring_days=expiring_days
    )
    issued = pd.to_datetime(pd.Series(_text(out, "permit_date")).replace("", None), errors="coerce")
    ends = issued + pd.Timedelta(days=round(valid_years * 365.25))
    out["permit_expires"] = ends.dt.strftime("%Y-%m-%d").astype("string").to_numpy()
    for column in ("commune", "district"):
        out[column] = pd.Series(pd.NA, index=out.index, dtype="string")
    if villages is not None and len(villages) and n:
        vgeoms = np.asarray(villages.geometry.array, dtype=object)
        points = np.asarray(out.geometry.array, dtype=object)
        tree = shapely.STRtree(vgeoms)
        which = np.full(n, -1, dtype=np.int64)
        mast, village = tree.query(points, predicate="within")
        which[mast[::-1]] = village[::-1]  # the first village holding it
        rest = np.flatnonzero(which < 0)
        if len(rest):
            # Nearest in degrees: good enough to name a commune, never used as a distance.
            _, nearest = tree.query_nearest(points[rest], all_matches=False)
            which[rest] = nearest
        for column in ("commune", "district"):
            if column in villages:
                values = villages[column].astype("string").to_numpy()
                out[column] = pd.array(values[which], dtype="string")
    site_ids = np.full(n, "", dtype=object)
    site_operators = np.full(n, "", dtype=object)
    if sites is not None and len(sites) and "mast_id" in sites:
        at = pd.Index(_text(out, "mast_id")).get_indexer(pd.Index(_text(sites, "mast_id")))
        on = at >= 0
        site_ids = join_unique_per_group(at[on], _text(sites, "site_id")[on], n)
        site_operators = join_unique_per_group(at[on], _text(sites, "operator")[on], n)
    out["site_ids"] = pd.array(site_ids, dtype="string")
    out["site_operators"] = pd.array(site_operators, dtype="string")
    found = np.full(n, "", dtype=object)
    if checks is not None and len(checks):
        by_mast = pd.concat(
            [
                checks[["check", "mast_id"]],
                checks[["check", "other_mast_id"]].rename(columns={"other_mast_id": "mast_id"}),
            ]
        ).dropna()
        at = pd.Index(_text(out, "mast_id")).get_indexer(pd.Index(by_mast["mast_id"].astype(str)))
        on = at >= 0
        found = join_unique_per_group(at[on], by_mast["check"].astype(str).to_numpy()[on], n)
    out["checks"] = pd.array(found, dtype="string")
    return out


@dataclass(frozen=True)
class RegistryChecks:
    """The findings of :func:`registry_checks`.

    Attributes
    ----------
    table
        One row per finding, with :data:`CHECK_COLUMNS`: ``check`` (a key of :data:`CHECKS`),
        the mast and site concerned, the other mast of a pair, ``distance_m`` (pairs, and a
        station's nearest built mast; NaN otherwise) and ``detail`` (a sentence in English).
    """

    table: pd.DataFrame

    def counts(self) -> dict[str, int]:
        """Count the findings per check, every check named (0 when none)."""
        found = self.table["check"].value_counts()
        return {check: int(found.get(check, 0)) for check in CHECKS}


def registry_checks(
    masts: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame | None,
    *,
    crs: object,
    share_distance_m: float = 100.0,
    no_build: gpd.GeoDataFrame | None = None,
) -> RegistryChecks:
    """Check the registry against the sites, itself and the no-build areas.

    Parameters
    ----------
    masts
        The registry (EPSG:4326 or any CRS).
    sites
        The sites (``site_id``, ``operator``, optional ``mast_id``), or None.
    crs
        The run's metric CRS, in which distances are measured.
    share_distance_m
        Masts of different owners closer than this are candidates to share.
    no_build
        Polygons where no mast may stand (``siting.exclusion``), or None.

    Returns
    -------
    RegistryChecks

    Notes
    -----
    Pairs come from one ``STRtree.query(..., predicate="dwithin")`` over the live masts, the
    no-build containment from one ``query(..., predicate="intersects")``, each station's nearest
    built mast from one ``query_nearest``.
    """
    m = masts.reset_index(drop=True).to_crs(crs)
    require_projected(m.crs, what="the mast registry's checks")
    status = _status(m)
    ids = _text(m, "mast_id")
    owner = _text(m, "owner")
    geoms = np.asarray(m.geometry.array, dtype=object)
    parts: list[pd.DataFrame] = []

    if sites is not None and len(sites):
        parts.append(_stations_on_no_mast(sites.to_crs(m.crs), ids, status, geoms))

    unpermitted = np.flatnonzero((status == "built") & (_text(m, "permit_no") == ""))
    parts.append(
        pd.DataFrame(
            {
                "check": "built_without_permit",
                "mast_id": ids[unpermitted],
                "owner": owner[unpermitted],
                "detail": "built, but the registry has no permit number",
            }
        )
    )

    live = np.flatnonzero(np.isin(status, _LIVE))
    tree = shapely.STRtree(geoms[live])
    i, j = tree.query(geoms[live], predicate="dwithin", distance=share_distance_m)
    i, j = live[i], live[j]
    pair = (i < j) & (owner[i] != owner[j])
    i, j = i[pair], j[pair]
    distance = shapely.distance(geoms[i], geoms[j])
    parts.append(
        pd.DataFrame(
            {
                "check": "share_candidate",
                "mast_id": ids[i],
                "owner": owner[i],
                "other_mast_id": ids[j],
                "other_owner": owner[j],
                "distance_m": np.round(distance, 1),
                "detail": [
                    f"{a} ({oa}) and {b} ({ob}) stand {d:.0f} m apart: one could carry both"
                    for a, oa, b, ob, d in zip(
                        ids[i], owner[i], ids[j], owner[j], distance, strict=True
                    )
                ],
            }
        )
    )

    if no_build is not None and len(no_build):
        zones = no_build.to_crs(m.crs).reset_index(drop=True)
        zone_geoms = np.asarray(zones.geometry.array, dtype=object)
        k, z = shapely.STRtree(zone_geoms).query(geoms[live], predicate="intersects")
        k = live[k]
        first = ~pd.Series(k).duplicated().to_numpy()
        k, z = k[first], z[first]
        name_column = next((c for c in ("name", "ten", "id") if c in zones), None)
        names = _text(zones, name_column) if name_column is not None else np.full(len(zones), "")
        parts.append(
            pd.DataFrame(
                {
                    "check": "in_no_build",
                    "mast_id": ids[k],
                    "owner": owner[k],
                    "detail": [
                        f"inside no-build area {name or f'#{int(zi) + 1}'}"
                        for name, zi in zip(names[z], z, strict=True)
                    ],
                }
            )
        )
    table = pd.concat([p for p in parts if len(p)] or [pd.DataFrame()], ignore_index=True)
    table = table.reindex(columns=list(CHECK_COLUMNS))
    order = {check: n for n, check in enumerate(CHECKS)}
    table = table.sort_values(
        by="check", key=lambda c: c.map(order), kind="stable", ignore_index=True
    )
    for column in CHECK_COLUMNS:
        if column != "distance_m":
            table[column] = table[column].astype("string")
    table["distance_m"] = table["distance_m"].astype(float)
    return RegistryChecks(table)


def _stations_on_no_mast(
    sites: gpd.GeoDataFrame,
    ids: npt.NDArray[np.object_],
    status: npt.NDArray[np.object_],
    geoms: npt.NDArray[np.object_],
) -> pd.DataFrame:
    """Sites naming no mast, an unknown one or a dismantled one, with their nearest built mast."""
    named = _text(sites, "mast_id")
    at = pd.Index(ids).get_indexer(pd.Index(named))
    gone = (at >= 0) & (status[np.maximum(at, 0)] == "dismantled")
    lost = np.flatnonzero((at < 0) | gone)
    if not len(lost):
        return pd.DataFrame()
    reason = np.where(
        named[lost] == "",
        "names no mast",
        np.where(
            gone[lost],
            "names mast " + named[lost].astype(str) + ", dismantled",
            "names mast " + named[lost].astype(str) + ", not in the registry",
        ),
    )
    built = np.flatnonzero(status == "built")
    nearest_id = np.full(len(lost), "", dtype=object)
    nearest_m = np.full(len(lost), np.nan)
    if len(built):
        points = np.asarray(sites.geometry.array, dtype=object)[lost]
        (which, mast), dist = shapely.STRtree(geoms[built]).query_nearest(
            points, return_distance=True, all_matches=False
        )
        nearest_id[which] = ids[built[mast]]
        nearest_m[which] = np.round(dist, 1)
    detail = [
        f"{why}; nearest built mast {near} at {d:.0f} m" if near else why
        for why, near, d in zip(reason.tolist(), nearest_id.tolist(), nearest_m, strict=True)
    ]
    return pd.DataFrame(
        {
            "check": "station_on_no_mast",
            "site_id": _text(sites, "site_id")[lost],
            "operator": _text(sites, "operator")[lost],
            "other_mast_id": nearest_id,
            "distance_m": nearest_m,
            "detail": detail,
        }
    )
