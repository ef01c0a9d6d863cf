"""Road networks and shortest distances along them.

:func:`load_roads` reads a road network from an OSM XML, OSM PBF or GraphML file into a
:class:`RoadNetwork`: plain arrays in one metric CRS (node coordinates, undirected edges with
their geometries and lengths in metres, a sparse adjacency matrix) that numpy, shapely and
:mod:`scipy.sparse.csgraph` work on directly. :func:`network_distance` gives, for many targets at
once, the distance along the roads to the nearest of many sources, with one Dijkstra run.

Nothing here touches the network: osmnx only parses local files.
"""

from __future__ import annotations

import logging
import xml.sax
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from hatangso.geo.errors import ConfigError, CRSError, InputError, Problem

if TYPE_CHECKING:  # networkx (with osmnx) is imported when roads are read, not before
    import networkx as nx

__all__ = ["RoadNetwork", "load_roads", "network_distance"]

log = logging.getLogger(__name__)

#: File name endings read as OSM XML (osmnx opens the .bz2 and .gz ones itself).
XML_SUFFIXES = (".osm", ".xml", ".osm.bz2", ".osm.gz")
#: File name endings read as OSM PBF.
PBF_SUFFIXES = (".pbf",)
#: File name endings read as GraphML.
GRAPHML_SUFFIXES = (".graphml",)

#: ``highway=*`` values that are not roads one can lay a cable along (yet, or any more), or
#: are not lines at all.
NOT_ROADS = frozenset(
    {
        "abandoned",
        "bus_stop",
        "construction",
        "disused",
        "planned",
        "platform",
        "proposed",
        "razed",
        "rest_area",
        "services",
    }
)

_FORMATS_FIX = (
    "give the roads as OSM XML (.osm, .xml), OSM PBF (.osm.pbf) or GraphML saved by osmnx "
    "(.graphml)"
)


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """An undirected road network in a metric CRS.

    Build one with :func:`load_roads` or :meth:`RoadNetwork.from_edges`; the arrays are
    read-only.

    Attributes
    ----------
    node_xy
        ``(n, 2)`` node coordinates, metres in `crs`.
    edge_u, edge_v
        ``(e,)`` indices into `node_xy` of each edge's ends; ``edge_u <= edge_v``.
    edge_length_m
        ``(e,)`` length of each edge's geometry, metres.
    edge_geometry
        ``(e,)`` shapely LineStrings in `crs`, each running from node ``edge_u`` to ``edge_v``.
    adjacency
        ``(n, n)`` symmetric CSR matrix: the shortest edge length between two nodes, for
        :mod:`scipy.sparse.csgraph` (explicit zeros are edges of length zero).
    crs
        The projected CRS, in metres, of every coordinate above.
    """

    node_xy: npt.NDArray[np.float64]
    edge_u: npt.NDArray[np.intp]
    edge_v: npt.NDArray[np.intp]
    edge_length_m: npt.NDArray[np.float64]
    edge_geometry: npt.NDArray[np.object_]
    adjacency: sp.csr_matrix
    crs: pyproj.CRS

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return int(self.edge_u.shape[0])

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        """Spatial index of `edge_geometry`, built on first use."""
        return shapely.STRtree(self.edge_geometry)

    @classmethod
    def from_edges(
        cls,
        node_xy: npt.ArrayLike,
        edge_u: npt.ArrayLike,
        edge_v: npt.ArrayLike,
        *,
        crs: Any,
        edge_geometry: npt.ArrayLike | None = None,
    ) -> RoadNetwork:
        """Build a network from node coordinates and edge end indices.

        Parameters
        ----------
        node_xy
            ``(n, 2)`` node coordinates in metres.
        edge_u, edge_v
            ``(e,)`` node indices of each edge's ends, in either order. Directed duplicates
            (the same road once each way) collapse into one undirected edge.
        crs
            The projected CRS of the coordinates (anything :class:`pyproj.CRS` accepts).
        edge_geometry
            ``(e,)`` LineStrings; missing entries (None) and an absent array mean straight
            segments between the end nodes. A geometry that runs from ``edge_v`` to ``edge_u``
            is turned round.

        Returns
        -------
        RoadNetwork

        Raises
        ------
        CRSError
            If `crs` is not projected in metres.
        ValueError
            If there is no edge, or indices or coordinates are out of range.
        """
        metric = _metric_crs(crs)
        xy = np.array(node_xy, dtype=np.float64)  # a copy: it is made read-only below
        u = np.asarray(edge_u, dtype=np.intp).ravel()
        v = np.asarray(edge_v, dtype=np.intp).ravel()
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"node_xy must have shape (n, 2), not {xy.shape}")
        if not np.isfinite(xy).all():
            raise ValueError("node_xy holds non-finite coordinates")
        if u.shape != v.shape or u.size == 0:
            raise ValueError("edge_u and edge_v must be non-empty and of equal length")
        if min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= xy.shape[0]:
            raise ValueError("edge_u / edge_v refer to nodes that do not exist")

        # Every edge runs from its lower-numbered end node.
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        if edge_geometry is None:
            # Straight segments: the ends alone tell duplicates apart.
            _, first = np.unique(np.stack([lo, hi], axis=1), axis=0, return_index=True)
            lo, hi = lo[np.sort(first)], hi[np.sort(first)]
            geoms = shapely.linestrings(np.stack([xy[lo], xy[hi]], axis=1))
        else:
            geoms = np.asarray(edge_geometry, dtype=object).ravel()
            if geoms.shape != u.shape:
                raise ValueError("edge_geometry must have one entry per edge")
            unusable = shapely.is_missing(geoms) | shapely.is_empty(geoms)
            geoms = np.where(
                unusable, shapely.linestrings(np.stack([xy[lo], xy[hi]], axis=1)), geoms
            )
            # Turn round the geometries that start nearer to the other end.
            start = shapely.get_point(geoms, 0)
            backwards = shapely.distance(start, shapely.points(xy[hi])) < shapely.distance(
                start, shapely.points(xy[lo])
            )
            geoms[backwards] = shapely.reverse(geoms[backwards])
            # One edge per distinct (ends, geometry): the two directions of a two-way street
            # are the same road, two streets between the same crossings are not.
            _, geom_key = np.unique(shapely.to_wkb(geoms), return_inverse=True)
            keys = np.stack([lo, hi, geom_key.ravel()], axis=1)
            _, first = np.unique(keys, axis=0, return_index=True)
            first = np.sort(first)
            lo, hi, geoms = lo[first], hi[first], geoms[first]
        length_m = shapely.length(geoms).astype(np.float64)

        return cls(
            node_xy=_frozen(xy),
            edge_u=_frozen(lo),
            edge_v=_frozen(hi),
            edge_length_m=_frozen(length_m),
            edge_geometry=_frozen(geoms),
            adjacency=_undirected_adjacency(lo, hi, length_m, xy.shape[0]),
            crs=metric,
        )


def load_roads(path: str | Path, *, to_crs: Any) -> RoadNetwork:
    """Read a road network from OSM XML, OSM PBF or GraphML.

    Parameters
    ----------
    path
        ``.osm`` / ``.xml`` (also ``.osm.bz2``, ``.osm.gz``): OSM XML, as exported from
        openstreetmap.org or written by osmium. ``.osm.pbf`` / ``.pbf``: OSM PBF, as Geofabrik
        serves provinces. ``.graphml``: a graph saved by ``osmnx.save_graphml`` (in any CRS).
    to_crs
        The projected CRS, in metres, of the run (anything :class:`pyproj.CRS` accepts).

    Returns
    -------
    RoadNetwork
        Undirected, with every node that some road touches.

    Raises
    ------
    InputError
        If the file is missing, unreadable, of an unknown kind, or holds no road.
    CRSError
        If `to_crs` is not projected in metres.

    Notes
    -----
    Roads are the OSM ways tagged ``highway=*`` except the values in :data:`NOT_ROADS`
    (proposed or abandoned roads, platforms); rivers, buildings, power lines and the rest are
    dropped. A GraphML graph with no ``highway`` attribute at all is taken as all roads.
    Direction does not matter for a cable: one-way streets count both ways. The graph is not
    simplified and every component is kept, so an island's roads stay.
    Lengths are measured on the projected geometries, not taken from osmnx's great-circle
    ``length`` attribute, so that they agree with the snapping in :func:`network_distance`.
    OSM XML and GraphML are parsed by osmnx; PBF, which osmnx cannot read, by pyosmium (the
    ``osmium`` package), with the same rules, so that a PBF and its XML give the same network.
    """
    metric = _metric_crs(to_crs)
    name = str(path)
    file = Path(path)
    lower = file.name.lower()
    if not file.is_file():
        raise _fault(name, "the road file does not exist", "check the path given to --roads")
    if lower.endswith(GRAPHML_SUFFIXES):
        graph = _read_graph(name, lambda: _load_graphml(file))
        network = _network_from_graph(graph, name=name, to_crs=metric, osm=False)
    elif lower.endswith(PBF_SUFFIXES):
        network = _network_from_pbf(file, name=name, to_crs=metric)
    elif lower.endswith(XML_SUFFIXES):
        graph = _read_graph(name, lambda: _graph_from_xml(file))
        network = _network_from_graph(graph, name=name, to_crs=metric, osm=True)
    else:
        raise _fault(name, "the kind of road file is not known from its name", _FORMATS_FIX)
    log.info("%s: %d road nodes, %d road edges", name, network.n_nodes, network.n_edges)
    return network


def network_distance(
    network: RoadNetwork,
    sources_xy: npt.ArrayLike,
    targets_xy: npt.ArrayLike,
    *,
    max_distance_m: float,
) -> npt.NDArray[np.float64]:
    """Distance along the roads from each target to the nearest source.

    Parameters
    ----------
    network
        The roads, in the CRS of the points.
    sources_xy
        ``(s, 2)`` source coordinates (e.g. fiber access points), metres.
    targets_xy
        ``(t, 2)`` target coordinates (e.g. village centres), metres.
    max_distance_m
        Search radius: distances beyond it come back as ``inf``. ``inf`` searches the
        whole network.

    Returns
    -------
    numpy.ndarray
        ``(t,)`` float64, metres: for each target, the shortest route to any source, or
        ``inf`` when there is none within `max_distance_m` (or no source at all).

    Raises
    ------
    ValueError
        If the coordinates are not ``(k, 2)`` finite numbers or `max_distance_m` is negative.

    Notes
    -----
    Each point is snapped to the nearest point of the nearest edge (not the nearest node).
    A route is the point's straight *access leg* to its snap point, the part of its edge from
    there to an end node (or straight along the edge to a source on the same edge), the
    roads in between, and the other point's part edge and access leg. The access legs count
    towards `max_distance_m`, which bounds them without a separate snapping tolerance: a
    village 600 m from any road is never within 500 m. A point is snapped only to its nearest
    edge, which is the right one unless that edge belongs to a piece of road cut off from the
    rest.

    All sources are handled by one Dijkstra run (:func:`scipy.sparse.csgraph.dijkstra` with
    ``limit``) from a virtual super-source: every snap point becomes a node that splits its
    edge, the super-source reaches each source's snap node through an edge as long as its
    access leg, and a target's distance is its snap node's plus its own access leg. The
    splitting makes a source and a target on the same edge meet along it directly. Every
    route is a polyline from target to source, so the result is never below the straight-line
    distance to the nearest source. The super-source reduces the many-source problem to one
    single-source search, the construction of the extra vertex in Johnson's algorithm (Cormen,
    Leiserson, Rivest and Stein, *Introduction to Algorithms*, 3rd ed., 2009, sec. 25.3);
    the search is Dijkstra's (Numerische Mathematik 1, 1959, pp. 269-271).

    An access leg is a straight line: a village whose nearest road lies across a river is
    snapped across it. Where that matters, give the village centre (``centre_lon``,
    ``centre_lat``) beside a road on its own bank.

    Examples
    --------
    One road from (0, 0) to (1000, 0); a source 20 m off it at x = 100. A target 10 m off at
    x = 400 is 20 + 300 + 10 m away; one 700 m off at x = 900 is beyond 500 m.

    >>> roads = RoadNetwork.from_edges([[0, 0], [1000, 0]], [0], [1], crs="EPSG:32648")
    >>> network_distance(roads, [[100, 20]], [[400, -10], [900, 700]], max_distance_m=500)
    array([330.,  inf])
    """
    if not max_distance_m >= 0:  # also rejects NaN
        raise ConfigError(
            Problem(
                file="configuration",
                column="ftth.max_distance_m",
                message=f"max_distance_m must be >= 0, not {max_distance_m}",
                fix="give the longest route from an access point in metres, e.g. 500",
            )
        )
    sources = _as_xy("sources_xy", sources_xy)
    targets = _as_xy("targets_xy", targets_xy)
    result = np.full(targets.shape[0], np.inf)
    if sources.shape[0] == 0 or targets.shape[0] == 0:
        return result

    n = network.n_nodes
    n_src = sources.shape[0]
    edge, offset_m, access_m = _snap(network, np.concatenate([sources, targets]))
    n_pts = edge.shape[0]
    super_node = n
    point_node = n + 1 + np.arange(n_pts)

    # Split every edge that carries snap points into a chain end-u, p1, p2, ..., end-v.
    order = np.lexsort((offset_m, edge))
    e_sorted, t_sorted, node_sorted = edge[order], offset_m[order], point_node[order]
    new_edge_group = np.r_[True, e_sorted[1:] != e_sorted[:-1]]
    last_of_group = np.r_[new_edge_group[1:], True]
    prev_node = np.where(new_edge_group, network.edge_u[e_sorted], np.roll(node_sorted, 1)).astype(
        np.intp
    )
    prev_offset = np.where(new_edge_group, 0.0, np.roll(t_sorted, 1))
    chain_from = np.concatenate([prev_node, node_sorted[last_of_group]])
    chain_to = np.concatenate([node_sorted, network.edge_v[e_sorted[last_of_group]]])
    chain_len = np.concatenate(
        [
            t_sorted - prev_offset,
            network.edge_length_m[e_sorted[last_of_group]] - t_sorted[last_of_group],
        ]
    )
    rows, cols, weights = _min_entries(
        np.concatenate([chain_from, chain_to]),
        np.concatenate([chain_to, chain_from]),
        np.concatenate([chain_len, chain_len]),
    )
    # The super-source's edges go one way only, so no route passes through it.
    base = network.adjacency.tocoo()
    size = n + 1 + n_pts
    graph = sp.csr_matrix(
        (
            np.concatenate([base.data, weights, access_m[:n_src]]),
            (
                np.concatenate([base.row, rows, np.full(n_src, super_node)]),
                np.concatenate([base.col, cols, point_node[:n_src]]),
            ),
        ),
        shape=(size, size),
    )
    along = dijkstra(graph, directed=True, indices=super_node, limit=max_distance_m)
    total = along[point_node[n_src:]] + access_m[n_src:]
    result[total <= max_distance_m] = total[total <= max_distance_m]
    return result


# --- reading -------------------------------------------------------------------------------


def _fault(name: str, message: str, fix: str) -> InputError:
    return InputError(Problem(file=name, message=message, fix=fix))


def _no_road(name: str) -> InputError:
    return _fault(
        name,
        "the file holds no road (no way tagged highway=*)",
        "export the roads of the area (ways with a highway tag) with their nodes",
    )


def _cut_ways(name: str) -> InputError:
    return _fault(
        name,
        "some roads refer to nodes that are not in the file (the extract cut ways off)",
        "extract the area with complete ways (osmium extract --strategy complete_ways)",
    )


def _metric_crs(crs: Any) -> pyproj.CRS:
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(f"unknown CRS {crs!r}: {exc}") from exc
    units = {axis.unit_name.lower() for axis in parsed.axis_info}
    if not parsed.is_projected or not units <= {"metre", "meter"}:
        raise CRSError(
            f"road distances need a projected CRS in metres, not {parsed.name}; "
            "use the run's UTM zone or VN-2000 zone"
        )
    return parsed


# What a malformed or truncated file makes the readers raise: xml.etree's ParseError is a
# SyntaxError, osmnx's InsufficientResponseError a ValueError, osmium raises RuntimeError;
# networkx's NetworkXError is added where osmnx reads (networkx is imported only then).
_READ_ERRORS = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    SyntaxError,
    RuntimeError,
    xml.sax.SAXException,
)


def _read_graph(name: str, read: Callable[[], nx.MultiDiGraph]) -> nx.MultiDiGraph:
    import networkx

    try:
        graph: nx.MultiDiGraph = read()
    except (*_READ_ERRORS, networkx.NetworkXError) as exc:
        if isinstance(exc, ValueError) and "missing nodes" in str(exc):
            raise _cut_ways(name) from exc  # osmnx's words for a way whose node is absent
        raise _fault(
            name,
            f"the road file cannot be read ({type(exc).__name__}: {exc})",
            f"check that the file is complete and of the kind its name says; {_FORMATS_FIX}",
        ) from exc
    return graph


def _graph_from_xml(file: Path) -> nx.MultiDiGraph:
    import osmnx as ox

    return ox.graph_from_xml(file, bidirectional=False, simplify=False, retain_all=True)


def _load_graphml(file: Path) -> nx.MultiDiGraph:
    import osmnx as ox

    return ox.load_graphml(file)


def _is_road(highway: Any) -> bool:
    if highway is None:
        return False
    if isinstance(highway, list | tuple | set):
        return any(_is_road(value) for value in highway)
    return str(highway) not in NOT_ROADS


def _network_from_graph(
    graph: nx.MultiDiGraph, *, name: str, to_crs: pyproj.CRS, osm: bool
) -> RoadNetwork:
    """Turn an osmnx graph (nodes with x/y, edges maybe with geometry) into arrays.

    With `osm` (a graph just parsed from OSM data) only edges tagged ``highway`` are roads;
    otherwise that filter applies only when some edge carries the tag.
    """
    edges = list(graph.edges(data=True))
    filtered = osm or any("highway" in data for _, _, data in edges)
    roads = [(a, b, data) for a, b, data in edges if not filtered or _is_road(data.get("highway"))]
    if not roads:
        raise _no_road(name)
    used = {node for a, b, _ in roads for node in (a, b)}
    nodes = [node for node in graph.nodes if node in used]
    index = {node: i for i, node in enumerate(nodes)}
    try:
        node_xy = np.array(
            [(graph.nodes[node]["x"], graph.nodes[node]["y"]) for node in nodes],
            dtype=np.float64,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _cut_ways(name) from exc
    return _project(
        node_xy,
        np.array([index[a] for a, _, _ in roads], dtype=np.intp),
        np.array([index[b] for _, b, _ in roads], dtype=np.intp),
        np.array([data.get("geometry") for _, _, data in roads], dtype=object),
        from_crs=pyproj.CRS.from_user_input(graph.graph.get("crs", "EPSG:4326")),
        to_crs=to_crs,
        name=name,
    )


def _network_from_pbf(file: Path, *, name: str, to_crs: pyproj.CRS) -> RoadNetwork:
    """Read the ``highway`` ways of an OSM PBF file with pyosmium, as osmnx reads XML."""
    try:
        import osmium
    except ImportError as exc:
        raise _fault(
            name,
            "reading OSM PBF needs the Python package osmium, which is not installed",
            f"install it (pip install osmium) or convert the file: osmium cat {name} -o roads.osm",
        ) from exc
    ends_from: list[int] = []
    ends_to: list[int] = []
    lonlat: dict[int, tuple[float, float]] = {}
    cut = False
    ways_only = osmium.filter.KeyFilter("highway")
    ways_only.enable_for(osmium.osm.WAY)  # nodes pass, for their locations
    try:
        processor = osmium.FileProcessor(str(file), osmium.osm.NODE | osmium.osm.WAY)
        for way in processor.with_locations().with_filter(ways_only):
            if not isinstance(way, osmium.osm.Way) or not _is_road(way.tags.get("highway")):
                continue
            refs: list[int] = []
            for node in way.nodes:
                if not node.location.valid():
                    cut = True
                    break
                if not refs or refs[-1] != node.ref:  # repeated nodes, as osmnx drops them
                    refs.append(node.ref)
                    lonlat[node.ref] = (node.lon, node.lat)
            ends_from.extend(refs[:-1])
            ends_to.extend(refs[1:])
    except _READ_ERRORS as exc:
        raise _fault(
            name,
            f"the road file cannot be read ({type(exc).__name__}: {exc})",
            f"check that the file is complete and of the kind its name says; {_FORMATS_FIX}",
        ) from exc
    if cut:
        raise _cut_ways(name)
    if not ends_from:
        raise _no_road(name)
    ids = np.array(sorted(lonlat), dtype=np.int64)
    return _project(
        np.array([lonlat[i] for i in ids.tolist()], dtype=np.float64),
        np.searchsorted(ids, np.array(ends_from, dtype=np.int64)).astype(np.intp),
        np.searchsorted(ids, np.array(ends_to, dtype=np.int64)).astype(np.intp),
        None,
        from_crs=pyproj.CRS.from_epsg(4326),
        to_crs=to_crs,
        name=name,
    )


def _project(
    node_xy: npt.NDArray[np.float64],
    edge_u: npt.NDArray[np.intp],
    edge_v: npt.NDArray[np.intp],
    geometry: npt.NDArray[np.object_] | None,
    *,
    from_crs: pyproj.CRS,
    to_crs: pyproj.CRS,
    name: str,
) -> RoadNetwork:
    """Project nodes and edge geometries into `to_crs` and build the network."""
    transformer = pyproj.Transformer.from_crs(from_crs, to_crs, always_xy=True)

    def project(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    projected = project(node_xy)
    if not np.isfinite(projected).all():
        raise _fault(
            name,
            f"some road nodes fall outside the area of {to_crs.name}",
            "choose a CRS that covers the roads, or clip the road file to the province",
        )
    if geometry is not None:
        has_geometry = ~shapely.is_missing(geometry)
        geometry[has_geometry] = shapely.transform(geometry[has_geometry], project)
    return RoadNetwork.from_edges(projected, edge_u, edge_v, crs=to_crs, edge_geometry=geometry)


# --- arrays --------------------------------------------------------------------------------


def _frozen(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.setflags(write=False)
    return array


def _as_xy(label: str, xy: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(xy, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 2)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{label} must have shape (k, 2), not {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{label} holds non-finite coordinates")
    return array


def _min_entries(
    rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp], weights: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Keep the smallest weight of each (row, col): a sparse matrix would add duplicates up."""
    order = np.lexsort((weights, cols, rows))
    rows, cols, weights = rows[order], cols[order], weights[order]
    first = np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])]
    return rows[first], cols[first], weights[first]


def _undirected_adjacency(
    u: npt.NDArray[np.intp], v: npt.NDArray[np.intp], length_m: npt.NDArray[np.float64], n: int
) -> sp.csr_matrix:
    rows, cols, weights = _min_entries(
        np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([length_m, length_m])
    )
    return sp.csr_matrix((weights, (rows, cols)), shape=(n, n))


def _snap(
    network: RoadNetwork, xy: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Nearest edge of each point, the offset of its snap point along it, and the access leg."""
    points = shapely.points(xy)
    (which, edge_of), distance = network.edge_tree.query_nearest(
        points, all_matches=False, return_distance=True
    )
    edge = np.empty(xy.shape[0], dtype=np.intp)
    access_m = np.empty(xy.shape[0], dtype=np.float64)
    edge[which] = edge_of
    access_m[which] = distance
    offset_m = shapely.line_locate_point(network.edge_geometry[edge], points)
    offset_m = np.clip(offset_m, 0.0, network.edge_length_m[edge])
    return edge, offset_m, access_m
