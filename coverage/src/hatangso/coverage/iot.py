"""IoT coverage of industrial parks and production zones (``key_area_iot_coverage``).

A provincial plan asks that its industrial parks and concentrated production zones be served
by a low-power IoT network: NB-IoT or LTE-M. A zone is a point of interest of kind
``industrial_park`` or ``production_zone``, drawn as a polygon (its outline) or given as a
point. The rule:

* a polygon zone counts as covered when at least ``iot.area_share`` (default one half) of
  its area lies within the reach of a site offering NB-IoT or LTE-M;
* a point zone counts when the point is within such a reach.

The reach of each site is the larger of its NB-IoT and its LTE-M reach
(``SiteTable.reach_m["NB-IoT"]``, ``["LTE-M"]``; a technology a site does not offer has reach
0, and one the table does not carry counts as offered by no site). The covered share of a
polygon is computed where the village ``area`` rule computes it
(:func:`hatangso.coverage.mobile.covered_points` and the exact disc-area kernel of
:mod:`hatangso.coverage._discarea`, polygon overlay for sectors).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from hatangso.coverage import mobile
from hatangso.coverage.kpis import IndicatorValue, UnitItems
from hatangso.coverage.mobile import SiteTable
from hatangso.coverage.villages import representative_xy

__all__ = [
    "IOT_TECHS",
    "IOT_ZONE_KINDS",
    "IotZones",
    "iot_site_table",
    "iot_zone_coverage",
    "zone_shares",
    "zone_villages",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: The technologies that serve IoT devices (3GPP's cellular IoT: NB-IoT and LTE-M).
IOT_TECHS: tuple[str, ...] = ("NB-IoT", "LTE-M")
#: The kinds of point of interest whose IoT coverage the indicator counts.
IOT_ZONE_KINDS: tuple[str, ...] = ("industrial_park", "production_zone")
#: The key under which :func:`iot_site_table` carries the IoT reach.
_IOT = "IoT"
#: Slack on the share rule, for rounding: a zone exactly at the share counts.
_SHARE_EPS = 1e-9


@dataclass(frozen=True)
class IotZones:
    """The IoT zones of a run and whether each is covered.

    Attributes
    ----------
    zones
        One row per zone (EPSG:4326, the input geometry): ``poi_id``, ``kind``, ``name``
        (empty where not given), ``geometry_type`` (``polygon`` or ``point``), ``iot_share``
        (float in [0, 1]: the share of the area within reach; for a point zone 1 or 0) and
        ``covered_iot`` (bool, the rule's answer).
    area_share
        The share of its area a polygon zone needs within reach.
    techs
        The technologies that count.
    """

    zones: gpd.GeoDataFrame
    area_share: float
    techs: tuple[str, ...] = IOT_TECHS

    @property
    def indicator(self) -> IndicatorValue:
        """``key_area_iot_coverage``: covered zones / zones."""
        covered = self.zones["covered_iot"].to_numpy(dtype=bool)
        return IndicatorValue("key_area_iot_coverage", float(covered.sum()), float(len(covered)))

    def unit_items(self, villages: gpd.GeoDataFrame, crs: pyproj.CRS) -> UnitItems:
        """Return the zones placed in the villages' units, for ``key_area_iot_coverage`` by unit.

        A zone belongs to the commune (district, province) of the village that holds its
        representative point (:func:`zone_villages`); it counts there when covered.
        """
        return UnitItems(
            zone_villages(self.zones, villages, crs),
            self.zones["covered_iot"].to_numpy(dtype=bool),
        )

    def block(self) -> dict[str, Any]:
        """Return the ``iot_zones`` entry of ``kpis.json``: the rule and every zone's share.

        Examples
        --------
        >>> zones = gpd.GeoDataFrame(
        ...     {"poi_id": ["IP-1"], "kind": ["industrial_park"], "name": ["KCN"],
        ...      "geometry_type": ["polygon"], "iot_share": [0.5], "covered_iot": [True]},
        ...     geometry=[shapely.box(105.8, 22.1, 105.81, 22.11)], crs=4326)
        >>> IotZones(zones, 0.5).block()["zones"][0]["share"]
        0.5
        """
        frame = self.zones
        return {
            "area_share": self.area_share,
            "techs": list(self.techs),
            "zones": [
                {
                    "poi_id": str(pid),
                    "kind": str(kind),
                    "name": str(name),
                    "geometry": str(gtype),
                    "share": round(float(share), 4),
                    "covered": bool(covered),
                }
                for pid, kind, name, gtype, share, covered in zip(
                    frame["poi_id"],
                    frame["kind"],
                    frame["name"],
                    frame["geometry_type"],
                    frame["iot_share"],
                    frame["covered_iot"],
                    strict=True,
                )
            ],
        }


def iot_site_table(sites: SiteTable, *, techs: tuple[str, ...] = IOT_TECHS) -> SiteTable:
    """Return `sites` with one service, ``IoT``: the larger of each site's `techs` reaches.

    Parameters
    ----------
    sites
        From :func:`hatangso.coverage.mobile.site_table`; ``reach_m`` may lack a technology
        of `techs` (no site offers it).
    techs
        The technologies whose union is the IoT footprint.

    Returns
    -------
    SiteTable
        The same sites, ``reach_m == {"IoT": ...}`` (0 where a site offers none of `techs`),
        under the ``radius`` model: a sector's footprint is its boresight reach shortened by
        the antenna pattern (:func:`hatangso.coverage.radio.radius_pattern_reach_m`).

    Notes
    -----
    The two technologies of a site share its antenna, so the union of their footprints is
    the footprint of the longer reach (the pattern shortens both alike). The pattern rule
    ``d <= reach · 10^(gain / 35)`` is a path-loss slope of 35 dB per decade, the slope of
    Okumura-Hata for a 30 m mast; it needs no link budget of the IoT carriers, only their
    reach.

    Examples
    --------
    >>> import dataclasses
    >>> table = SiteTable(
    ...     x=np.zeros(2), y=np.zeros(2), operator=np.array(["Viettel", "VNPT"], dtype=object),
    ...     reach_m={"4G": np.array([5e3, 5e3]), "NB-IoT": np.array([9e3, 0.0])},
    ...     azimuth_deg=np.full(2, np.nan), beamwidth_deg=np.full(2, np.nan),
    ...     eirp_dbm={}, freq_mhz={}, height_m=np.full(2, 30.0),
    ...     env=np.array(["rural", "rural"], dtype=object), model="hata", threshold_dbm=-110.0)
    >>> iot_site_table(table).reach_m["IoT"].tolist()
    [9000.0, 0.0]
    """
    zeros = np.zeros(len(sites))
    reach = zeros.copy()
    for tech in techs:
        own = np.asarray(sites.reach_m.get(tech, zeros), dtype=np.float64)
        reach = np.maximum(reach, np.where(np.isfinite(own), own, 0.0))
    return dataclasses.replace(sites, reach_m={_IOT: reach}, model="radius")


def zone_shares(geoms: npt.ArrayLike, sites: SiteTable) -> FloatArray:
    """Share of each zone within the IoT reach of `sites`: area share, or 1/0 for a point.

    Parameters
    ----------
    geoms
        Zone geometries in the sites' metric CRS: polygons and multipolygons (their area is
        measured), points (in reach or not); any other geometry (a line) is judged at its
        representative point.
    sites
        From :func:`iot_site_table`.

    Returns
    -------
    numpy.ndarray
        float64 ``(n,)`` in [0, 1].

    Examples
    --------
    A disc of radius 1 km in the middle of a square of twice its area covers half of it:

    >>> import math
    >>> r = 1000.0
    >>> half_side = math.sqrt(2 * math.pi) * r / 2
    >>> park = shapely.box(-half_side, -half_side, half_side, half_side)
    >>> table = SiteTable(
    ...     x=np.zeros(1), y=np.zeros(1), operator=np.array(["Viettel"], dtype=object),
    ...     reach_m={"IoT": np.array([r])}, azimuth_deg=np.full(1, np.nan),
    ...     beamwidth_deg=np.full(1, np.nan), eirp_dbm={}, freq_mhz={},
    ...     height_m=np.full(1, 30.0), env=np.array(["rural"], dtype=object),
    ...     model="radius", threshold_dbm=-110.0)
    >>> round(float(zone_shares([park, shapely.Point(0, 5000)], table)[0]), 9)
    0.5
    """
    values = np.asarray(geoms, dtype=object).reshape(-1)
    n = values.size
    share = np.zeros(n)
    if n == 0 or _IOT not in sites.reach_m or not (sites.reach_m[_IOT] > 0).any():
        return share
    polygon = np.isin(shapely.get_type_id(values), (3, 6)) & (shapely.area(values) > 0)
    if polygon.any():
        shares = mobile._polygon_shares(values, polygon, sites, _IOT)
        share[polygon] = shares[polygon]
    other = np.flatnonzero(~polygon)
    if other.size:
        points = shapely.point_on_surface(values[other])
        pairs = mobile.covered_points(shapely.get_x(points), shapely.get_y(points), sites, _IOT)
        share[other[np.unique(pairs.point)]] = 1.0
    return np.clip(share, 0.0, 1.0)


def iot_zone_coverage(
    pois: gpd.GeoDataFrame,
    sites: SiteTable,
    crs: pyproj.CRS,
    *,
    area_share: float = 0.5,
    techs: tuple[str, ...] = IOT_TECHS,
) -> IotZones | None:
    """Judge the IoT coverage of the industrial parks and production zones among `pois`.

    Parameters
    ----------
    pois
        A clean ``pois`` layer (any CRS): ``poi_id``, ``kind``, optional ``name``; points or
        polygons.
    sites
        From :func:`hatangso.coverage.mobile.site_table`, in `crs`.
    crs
        The run's metric CRS.
    area_share
        The share of a polygon zone's area that must be within reach (``iot.area_share``).
    techs
        The technologies that count.

    Returns
    -------
    IotZones or None
        None when `pois` hold no zone of :data:`IOT_ZONE_KINDS`.
    """
    zones = pois[pois["kind"].isin(IOT_ZONE_KINDS)]
    if not len(zones):
        return None
    values = np.asarray(zones.geometry.array, dtype=object)
    polygon = np.isin(shapely.get_type_id(values), (3, 6))
    projected = np.asarray(zones.geometry.to_crs(crs).array, dtype=object)
    # Points are judged at themselves, anything else not polygonal at its representative point.
    flat = ~polygon & (shapely.get_type_id(values) != 0)
    if flat.any():
        xy = representative_xy(zones[flat], crs)
        projected[flat] = shapely.points(xy)
    share = zone_shares(projected, iot_site_table(sites, techs=techs))
    covered = np.where(polygon, share >= area_share - _SHARE_EPS, share > 0)
    name = (
        zones["name"].astype("string").fillna("").to_numpy(dtype=object)
        if "name" in zones
        else np.full(len(zones), "", dtype=object)
    )
    frame = gpd.GeoDataFrame(
        {
            "poi_id": zones["poi_id"].astype(str).to_numpy(dtype=object),
            "kind": zones["kind"].astype(str).to_numpy(dtype=object),
            "name": name,
            "geometry_type": np.where(polygon, "polygon", "point").astype(object),
            "iot_share": share,
            "covered_iot": np.asarray(covered, dtype=bool),
        },
        geometry=values,
        crs=zones.crs,
        index=pd.RangeIndex(len(zones)),
    )
    if zones.crs is not None:
        frame = frame.to_crs(4326)
    log.info(
        "IoT zones: %d of %d covered (share %.2f of a polygon's area)",
        int(frame["covered_iot"].sum()),
        len(frame),
        area_share,
    )
    return IotZones(zones=frame, area_share=float(area_share), techs=tuple(techs))


def zone_villages(
    zones: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, crs: pyproj.CRS
) -> npt.NDArray[np.intp]:
    """Return, per zone, the village that holds its representative point (its row, 0-based).

    Parameters
    ----------
    zones
        Zones (points or polygons, any CRS).
    villages
        The run's villages (polygons or points, any CRS).
    crs
        The run's metric CRS.

    Returns
    -------
    numpy.ndarray
        intp ``(len(zones),)``: the row of the village whose polygon holds the zone's
        representative point (a point on its surface; the first such village where borders
        touch); for a point outside every polygon, or among point villages, the nearest village
        in `crs` (the village whose Voronoi cell holds it, the cells standing in for the
        village polygons as on the map). -1 for every zone when there are no villages.

    Examples
    --------
    Two square villages side by side (UTM 48N, metres); a park across both whose surface point
    lies in the first, and a point 5 km east of the second:

    >>> utm = pyproj.CRS("EPSG:32648")
    >>> villages = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1000, 1000),
    ...                                       shapely.box(1000, 0, 2000, 1000)], crs=utm)
    >>> zones = gpd.GeoDataFrame(geometry=[shapely.box(100, 100, 1200, 300),
    ...                                    shapely.Point(7000, 500)], crs=utm)
    >>> zone_villages(zones, villages, utm).tolist()
    [0, 1]
    """
    n = len(zones)
    host = np.full(n, -1, dtype=np.intp)
    if n == 0 or not len(villages):
        return host
    xy = representative_xy(zones, crs)
    back = pyproj.Transformer.from_crs(crs, villages.crs, always_xy=True)
    own = shapely.points(np.column_stack(back.transform(xy[:, 0], xy[:, 1])))
    geoms = np.asarray(villages.geometry.array, dtype=object)
    areas = np.isin(shapely.get_type_id(geoms), (3, 6))
    if areas.any():
        zone, village = shapely.STRtree(geoms).query(own, predicate="intersects")
        keep = areas[village]
        first = np.full(n, len(geoms), dtype=np.intp)
        np.minimum.at(first, zone[keep], village[keep].astype(np.intp))
        host = np.where(first < len(geoms), first, -1)
    left = np.flatnonzero(host < 0)
    if left.size:
        metric = np.asarray(villages.geometry.to_crs(crs).array, dtype=object)
        zone, village = shapely.STRtree(metric).query_nearest(
            shapely.points(xy[left]), all_matches=True
        )
        first = np.full(left.size, len(geoms), dtype=np.intp)
        np.minimum.at(first, zone, village.astype(np.intp))
        host[left] = first
    return host
