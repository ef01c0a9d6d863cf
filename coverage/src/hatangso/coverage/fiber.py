"""Fiber (FTTH) reach: how far each village is from a fiber access point.

:func:`ftth_distance_m` measures along the roads when a :class:`~hatangso.coverage.network.
RoadNetwork` is given, and otherwise in a straight line (with a warning in the log, since a
straight line crosses rivers and hills a cable cannot). :func:`villages_within`,
:func:`village_ftth_share` and :func:`household_ftth_share` turn the distances into the
indicators ``village_ftth_coverage`` and ``household_ftth_reach``; :func:`ftth_reasons` says,
per village, where the distance was measured and what it found.

The coverage engine measures at each village's centre (the cultural house, nhà văn hóa: the
service there is how provinces count a village's fiber) under every coverage rule, and at the
village's interior (representative) point where no centre is given.

The sources are a plain array, so one operator's reach is the same call with that operator's
access points::

    viettel = access_points["operator"] == "Viettel"
    ftth_distance_m(village_xy, access_points_xy=ap_xy[viettel], network=roads,
                    max_distance_m=500)
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import shapely

from hatangso.coverage.network import RoadNetwork, _as_xy, network_distance
from hatangso.geo.errors import ConfigError, Problem

__all__ = [
    "ftth_distance_m",
    "ftth_reasons",
    "villages_within",
]

log = logging.getLogger(__name__)


def ftth_distance_m(
    targets_xy: npt.ArrayLike,
    *,
    access_points_xy: npt.ArrayLike,
    cables: npt.ArrayLike | None = None,
    network: RoadNetwork | None = None,
    max_distance_m: float,
) -> npt.NDArray[np.float64]:
    """Distance from each target to fiber: along the roads when roads are given.

    Parameters
    ----------
    targets_xy
        ``(t, 2)`` village centres (or any points), metres in the run's CRS.
    access_points_xy
        ``(a, 2)`` fiber access points (OLT, cabinet, splitter, ODP) in the same CRS; may be
        empty. Pass one operator's points for that operator's reach.
    cables
        Fiber cables as shapely LineStrings in the same CRS, used only when there is no access
        point: the distance is then the straight line to the nearest cable.
    network
        The roads; with it and at least one access point, distances follow the roads.
    max_distance_m
        ``ftth.max_distance_m``: distances beyond it come back as ``inf``.

    Returns
    -------
    numpy.ndarray
        ``(t,)`` float64, metres; ``inf`` beyond `max_distance_m` or when there is no fiber.

    Raises
    ------
    ValueError
        If the coordinates are not ``(k, 2)`` finite numbers or `max_distance_m` is negative.

    Notes
    -----
    In order of preference:

    1. access points and roads: :func:`~hatangso.coverage.network.network_distance` (each
       point snapped to its nearest road, the access legs counted);
    2. access points, no roads: Euclidean distance to the nearest access point;
    3. no access point, cables: Euclidean distance to the nearest cable, since a village near
       a cable may still be far from any point where it can be tapped;
    4. neither: ``inf`` everywhere.

    Cases 2 to 4 log a warning. A straight line ignores rivers without a bridge and the
    detours of the roads: to the same access points it is never longer than the route along
    the roads, so it overstates fiber reach.
    """
    if not max_distance_m >= 0:  # also rejects NaN
        raise ConfigError(
            Problem(
                file="configuration",
                column="ftth.max_distance_m",
                message=f"max_distance_m must be >= 0, not {max_distance_m}",
                fix="give the longest drop from an access point in metres, e.g. 500",
            )
        )
    targets = _as_xy("targets_xy", targets_xy)
    access_points = _as_xy("access_points_xy", access_points_xy)
    if access_points.shape[0] > 0:
        if network is not None:
            along_roads: npt.NDArray[np.float64] = network_distance(
                network, access_points, targets, max_distance_m=max_distance_m
            )
            return along_roads
        log.warning(
            "no road network given: FTTH distances are straight lines to the access points, "
            "which cross rivers and hills a cable cannot; give --roads for distances along roads"
        )
        return _nearest_distance(shapely.points(access_points), targets, max_distance_m)

    lines = _usable_geometries(cables)
    if lines.size > 0:
        log.warning(
            "no fiber access point given: FTTH distances are straight lines to the nearest cable%s",
            ", not along the roads" if network is not None else "",
        )
        return _nearest_distance(lines, targets, max_distance_m)

    log.warning("no fiber access point and no cable given: no village is within FTTH reach")
    return np.full(targets.shape[0], np.inf)


def villages_within(distance_m: npt.ArrayLike, *, max_distance_m: float) -> npt.NDArray[np.bool_]:
    """Whether each village is within `max_distance_m` of fiber (the ``covered_ftth`` column).

    Parameters
    ----------
    distance_m
        Distances from :func:`ftth_distance_m`; ``inf`` and NaN count as out of reach.
    max_distance_m
        ``ftth.max_distance_m``.

    Returns
    -------
    numpy.ndarray
        Boolean, same shape as `distance_m`.

    Examples
    --------
    >>> villages_within([0.0, 500.0, 500.5, float("inf")], max_distance_m=500).tolist()
    [True, True, False, False]
    """
    distance = np.asarray(distance_m, dtype=np.float64)
    return np.asarray(distance <= max_distance_m, dtype=np.bool_)


def ftth_reasons(
    distance_m: npt.ArrayLike,
    *,
    at_centre: npt.ArrayLike,
    access_points_xy: npt.ArrayLike,
    cables: npt.ArrayLike | None = None,
    network: RoadNetwork | None = None,
    max_distance_m: float,
) -> npt.NDArray[np.object_]:
    """Say, per village, where fiber reach was measured and what it found (``ftth_reason``).

    Parameters
    ----------
    distance_m
        Distances from :func:`ftth_distance_m`.
    at_centre
        Whether each distance was measured at the village centre (the cultural house, nhà
        văn hóa) rather than at the village's interior (representative) point, because the
        village gives no centre.
    access_points_xy, cables, network, max_distance_m
        What was given to :func:`ftth_distance_m`, which say how it measured.

    Returns
    -------
    numpy.ndarray
        ``object``: one sentence per village.

    Examples
    --------
    >>> for reason in ftth_reasons(
    ...     [320.0, float("inf")], at_centre=[True, False], access_points_xy=[[0.0, 0.0]],
    ...     max_distance_m=500,
    ... ):
    ...     print(reason)  # doctest: +NORMALIZE_WHITESPACE
    fiber access point 320 m from the village centre (cultural house) in a straight line,
        limit 500 m
    no fiber access point within the 500 m limit of the village's interior point
        (no centre given) in a straight line
    """
    distance = np.asarray(distance_m, dtype=np.float64)
    centre = np.broadcast_to(np.asarray(at_centre, dtype=bool), distance.shape)
    where = np.where(
        centre,
        "the village centre (cultural house)",
        "the village's interior point (no centre given)",
    ).astype(object)
    limit = f"{max_distance_m:.0f} m"
    if _as_xy("access_points_xy", access_points_xy).shape[0] > 0:
        to = "access point"
        how = " along the roads" if network is not None else " in a straight line"
    elif _usable_geometries(cables).size > 0:
        to, how = "cable", " in a straight line"
    else:
        reasons = f"no fiber access point or cable given, so none within the {limit} limit of "
        return np.asarray(reasons + where, dtype=object)
    within = np.isfinite(distance) & (distance <= max_distance_m)
    metres = np.char.mod("%.0f", np.where(within, distance, 0.0)).astype(object)
    return np.asarray(
        np.where(
            within,
            f"fiber {to} " + metres + " m from " + where + how + f", limit {limit}",
            f"no fiber {to} within the {limit} limit of " + where + how,
        ),
        dtype=object,
    )


def _usable_geometries(geometries: npt.ArrayLike | None) -> npt.NDArray[np.object_]:
    if geometries is None:
        return np.empty(0, dtype=object)
    array: npt.NDArray[np.object_] = np.asarray(geometries, dtype=object).ravel()
    usable: npt.NDArray[np.bool_] = ~(shapely.is_missing(array) | shapely.is_empty(array))
    return array[usable]


def _nearest_distance(
    geometries: npt.NDArray[np.object_],
    targets: npt.NDArray[np.float64],
    max_distance_m: float,
) -> npt.NDArray[np.float64]:
    """Euclidean distance from each target to the nearest geometry, ``inf`` beyond the limit."""
    result = np.full(targets.shape[0], np.inf)
    if targets.shape[0] == 0:
        return result
    tree = shapely.STRtree(geometries)
    (which, _), distance = tree.query_nearest(
        shapely.points(targets),
        max_distance=max_distance_m if 0 < max_distance_m < np.inf else None,
        all_matches=False,
        return_distance=True,
    )
    keep = distance <= max_distance_m
    result[which[keep]] = distance[keep]
    return result
