"""Sharing of passive infrastructure: tower locations, cable poles and ducts.

A *tower location* is a group of sites every two of which stand within
``colocation_tolerance_m`` of each other: two operators' antennas on one mast are surveyed a few
metres apart. A location is shared when two or more operators use it.

The extent of a location is bounded: no two of its sites are farther apart than the tolerance.
Chaining sites that are each within the tolerance of the next (single linkage) would not bound
it: eight masts 25 m apart in a row would become one location 175 m long. The groups are those
of complete-linkage clustering cut at the tolerance, computed only inside the connected groups
of single linkage whose extent exceeds the tolerance (elsewhere the two agree), so the work stays
that of one neighbour search. A larger tolerance only ever merges locations.

Two ratios are reported, as the provinces' plans count sharing in two ways:
``bts_site_sharing_ratio`` (the contract's) counts tower *locations* used by two or more
operators among all locations; ``bts_station_sharing_ratio`` counts *stations* (one operator's
equipment at one location, however many sector rows it has) that stand at such a location among
all stations. Three operators on one mast and one operator alone on another make one shared
location of two (50 %) but three shared stations of four (75 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist

from hatangso.coverage._groups import join_unique_per_group
from hatangso.coverage.kpis import IndicatorValue
from hatangso.geo.crs import require_projected

__all__ = ["TowerLocations", "duct_sharing", "pole_sharing", "tower_locations"]


@dataclass(frozen=True)
class TowerLocations:
    """Sites grouped into tower locations.

    Attributes
    ----------
    location
        Location number of each site (0 .. n_locations - 1), in the order of the input rows.
    table
        One row per location: ``location``, ``n_sites``, ``n_operators``, ``operators``
        (';'-joined, sorted), ``shared`` (bool), ``site_ids`` (';'-joined) and a Point
        geometry (the mean position of its sites) in the sites' CRS.
    """

    location: npt.NDArray[np.int64]
    table: gpd.GeoDataFrame

    @property
    def share_of_sites_shared(self) -> float:
        """Share of sites standing at a location used by 2+ operators.

        Unlike the ratio of locations, this never falls when the tolerance grows: a larger
        tolerance only merges locations, and a merged location keeps every operator of its
        parts. (The ratio of locations can fall: merging two shared locations turns 2 shared
        of 3 into 1 shared of 2.)
        """
        if len(self.location) == 0:
            return float("nan")
        shared = self.table["shared"].to_numpy(dtype=bool)[self.location]
        return float(shared.mean())

    @property
    def indicator(self) -> IndicatorValue:
        """``bts_site_sharing_ratio``: shared locations / locations."""
        return IndicatorValue(
            "bts_site_sharing_ratio",
            float(self.table["shared"].sum()),
            float(len(self.table)),
        )

    @property
    def station_indicator(self) -> IndicatorValue:
        """``bts_station_sharing_ratio``: stations at a shared location / stations.

        A station is one operator's equipment at one tower location: the rows of its sectors
        (or carriers) count once.
        """
        table = self.table
        n_operators = table["n_operators"].to_numpy(dtype=np.int64)
        shared = table["shared"].to_numpy(dtype=bool)
        return IndicatorValue(
            "bts_station_sharing_ratio",
            float(n_operators[shared].sum()),
            float(n_operators.sum()),
        )


def tower_locations(sites: gpd.GeoDataFrame, *, tolerance_m: float) -> TowerLocations:
    """Group `sites` (metric CRS) into tower locations.

    Parameters
    ----------
    sites
        Points with ``site_id`` and ``operator``, in a projected CRS.
    tolerance_m
        Largest distance (m) between two sites of one location.

    Returns
    -------
    TowerLocations

    Examples
    --------
    Two operators 10 m apart share one mast; a third site 500 m away stands alone:

    >>> import geopandas as gpd, shapely
    >>> sites = gpd.GeoDataFrame(
    ...     {"site_id": ["a", "b", "c"], "operator": ["Viettel", "VNPT", "Viettel"]},
    ...     geometry=shapely.points([(0, 0), (10, 0), (500, 0)]), crs=3405)
    >>> t = tower_locations(sites, tolerance_m=30)
    >>> t.table["shared"].tolist(), t.indicator.value
    ([True, False], 0.5)
    """
    require_projected(sites.crs, what="tower co-location")
    n = len(sites)
    xy = np.column_stack([sites.geometry.x, sites.geometry.y]) if n else np.empty((0, 2))
    if n == 0:
        empty = gpd.GeoDataFrame(
            {
                "location": [],
                "n_sites": [],
                "n_operators": [],
                "operators": [],
                "shared": [],
                "site_ids": [],
            },
            geometry=[],
            crs=sites.crs,
        )
        return TowerLocations(np.empty(0, dtype=np.int64), empty)
    pairs = cKDTree(xy).query_pairs(r=tolerance_m, output_type="ndarray")
    graph = (
        coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        if len(pairs)
        else coo_matrix((n, n))
    )
    _, labels = connected_components(graph, directed=False)
    labels = _split_wide_groups(xy, labels, tolerance_m)
    # Number locations in order of their first site, so results do not depend on scipy's order.
    _, first = np.unique(labels, return_index=True)
    renumber = np.empty(labels.max() + 1, dtype=np.int64)
    renumber[np.argsort(np.argsort(first))] = np.arange(len(first))
    location = renumber[labels]
    n_loc = int(location.max()) + 1
    operator = sites["operator"].astype(str).to_numpy(dtype=object)
    n_sites = np.bincount(location, minlength=n_loc)
    operators = join_unique_per_group(location, operator, n_loc)
    n_operators = np.char.count(operators.astype(str), ";") + 1
    table = pd.DataFrame(
        {
            "location": np.arange(n_loc),
            "n_sites": n_sites,
            "n_operators": n_operators,
            "operators": operators,
            "shared": n_operators >= 2,
            "site_ids": join_unique_per_group(
                location, sites["site_id"].astype(str).to_numpy(dtype=object), n_loc
            ),
        }
    )
    cx = np.bincount(location, weights=xy[:, 0], minlength=n_loc) / n_sites
    cy = np.bincount(location, weights=xy[:, 1], minlength=n_loc) / n_sites
    located = gpd.GeoDataFrame(table, geometry=shapely.points(cx, cy), crs=sites.crs)
    return TowerLocations(location, located)


def _split_wide_groups(
    xy: npt.NDArray[np.float64], labels: npt.NDArray[np.int32], tolerance_m: float
) -> npt.NDArray[np.int64]:
    """Split single-linkage groups wider than the tolerance by complete linkage.

    A group whose bounding box has a diagonal within the tolerance has every pair of sites
    within it, and stays whole; only the others (chains of masts, rare) are clustered one by
    one.
    """
    n_groups = int(labels.max()) + 1
    lo_x = np.full(n_groups, np.inf)
    lo_y = np.full(n_groups, np.inf)
    hi_x = np.full(n_groups, -np.inf)
    hi_y = np.full(n_groups, -np.inf)
    np.minimum.at(lo_x, labels, xy[:, 0])
    np.minimum.at(lo_y, labels, xy[:, 1])
    np.maximum.at(hi_x, labels, xy[:, 0])
    np.maximum.at(hi_y, labels, xy[:, 1])
    wide = np.flatnonzero(np.hypot(hi_x - lo_x, hi_y - lo_y) > tolerance_m)
    if wide.size == 0:
        return labels.astype(np.int64)
    part = np.zeros(len(labels), dtype=np.int64)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.column_stack([wide, wide + 1]))
    for start, stop in bounds:
        members = order[start:stop]
        distances = pdist(xy[members])
        if distances.max() <= tolerance_m:
            continue
        tree = linkage(distances, method="complete")
        part[members] = fcluster(tree, t=tolerance_m, criterion="distance")
    _, split = np.unique(np.column_stack([labels, part]), axis=0, return_inverse=True)
    return np.asarray(split, dtype=np.int64).ravel()


def _operator_counts(operators: pd.Series) -> npt.NDArray[np.int64]:
    return np.asarray(
        operators.fillna("")
        .astype(str)
        .str.split(";")
        .map(lambda names: len({n for n in names if n})),
        dtype=np.int64,
    )


def pole_sharing(poles: pd.DataFrame) -> IndicatorValue:
    """``pole_sharing_ratio``: poles carrying 2+ operators / poles.

    Examples
    --------
    >>> import pandas as pd
    >>> pole_sharing(pd.DataFrame({"operators": ["VNPT;Viettel", "VNPT", "A;B;C"]})).value
    0.6666666666666666
    """
    counts = _operator_counts(poles["operators"])
    return IndicatorValue("pole_sharing_ratio", float((counts >= 2).sum()), float(len(counts)))


def duct_sharing(ducts: gpd.GeoDataFrame) -> IndicatorValue:
    """``duct_sharing_ratio``: duct length carrying 2+ operators / duct length (metric CRS)."""
    require_projected(ducts.crs, what="duct length")
    counts = _operator_counts(ducts["operators"])
    length = np.asarray(shapely.length(np.asarray(ducts.geometry.array, dtype=object)))
    return IndicatorValue(
        "duct_sharing_ratio", float(length[counts >= 2].sum()), float(length.sum())
    )
