"""Sharing of passive infrastructure: tower locations, cable poles and ducts.

A *tower location* is a connected group of sites each within ``colocation_tolerance_m`` of
another in the group (single linkage): two operators' antennas on one mast are surveyed a few
metres apart, and a chain of such sites is still one location. A location is shared when two
or more operators use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

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


def tower_locations(sites: gpd.GeoDataFrame, *, tolerance_m: float) -> TowerLocations:
    """Group `sites` (metric CRS) into tower locations.

    Parameters
    ----------
    sites
        Points with ``site_id`` and ``operator``, in a projected CRS.
    tolerance_m
        Sites closer than this (m) belong to the same location.

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
