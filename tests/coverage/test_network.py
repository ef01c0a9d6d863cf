from __future__ import annotations

import itertools
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import numpy as np
import numpy.typing as npt
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from hatangso.coverage.network import NOT_ROADS, RoadNetwork, load_roads, network_distance
from hatangso.geo.errors import CRSError, InputError

Array = npt.NDArray[np.float64]
Way = tuple[int, list[int], dict[str, str]]
UTM48N = pyproj.CRS.from_epsg(32648)
# Local origin of the hand-made map: UTM 48N E 600 000 m, N 1 100 000 m (about 9.95 N,
# 105.91 E, in the Mekong delta). Every coordinate below is metres from it.
ORIGIN = np.array([600_000.0, 1_100_000.0])
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
HCMC_OSM = SHARED_DATA / "osm" / "xml" / "hcmc_multi-tl-map.osm"

# The river map. A river runs west-east along y = 0. Road S follows the south bank (y = -100)
# with nodes at x = 0, 600, 1200, 3000; road N the north bank (y = +100) with nodes at x = 0,
# 600, 3000. The only bridge is at x = 3000 (one-way northbound-to-south, which must not matter
# for a cable). A proposed bridge at x = 600 is not built yet and must be ignored, as must the
# river itself and a school that is a lone node.
NODES = {
    1: (0.0, -100.0),
    2: (600.0, -100.0),
    3: (1200.0, -100.0),
    4: (3000.0, -100.0),
    11: (0.0, 100.0),
    12: (600.0, 100.0),
    13: (3000.0, 100.0),
    21: (-100.0, 0.0),
    22: (3100.0, 0.0),
    31: (500.0, -50.0),
}
WAYS: list[Way] = [
    (101, [1, 2, 3, 4], {"highway": "residential", "name": "south bank"}),
    (102, [11, 12, 13], {"highway": "residential", "name": "north bank"}),
    (103, [13, 4], {"highway": "residential", "bridge": "yes", "oneway": "yes"}),
    (104, [2, 12], {"highway": "proposed", "bridge": "yes"}),
    (105, [21, 22], {"waterway": "river", "name": "song"}),
]
LONE_NODE_TAGS = {31: {"amenity": "school"}}

AP = np.array([[1000.0, -120.0]])  # 20 m south of road S
# Villages and their distance to AP along the roads, by hand (AP snaps to (1000, -100), 20 m):
VILLAGES = np.array(
    [
        [1100.0, -130.0],  # B: same edge as AP. 20 + 100 + 30 = 150
        [1400.0, -90.0],  # C: past node x=1200. 20 + 200 + 200 + 10 = 430
        [1600.0, -100.0],  # D: on road S. 20 + 600 + 0 = 620
        [1000.0, 80.0],  # A: 200 m across the river; snaps to road N at (1000, 100), 20 m;
        # round by the bridge: 20 + 2000 (S to x=3000) + 200 (bridge) + 2000 (N back) + 20 = 4240
        [1000.0, -700.0],  # E: 600 m from any road; snaps to (1000, -100). 20 + 0 + 600 = 620
    ]
)
BY_HAND_M = np.array([150.0, 430.0, 620.0, 4240.0, 620.0])


def write_osm(path: Path, nodes: dict[int, tuple[float, float]], ways: list[Way]) -> Path:
    """Write OSM XML with the nodes given in local metres turned into lon/lat."""
    to_lonlat = pyproj.Transformer.from_crs(UTM48N, "EPSG:4326", always_xy=True)
    root = ET.Element("osm", version="0.6", generator="hatangso tests")
    for node_id, (x, y) in nodes.items():
        lon, lat = to_lonlat.transform(ORIGIN[0] + x, ORIGIN[1] + y)
        node = ET.SubElement(
            root, "node", id=str(node_id), version="1", lat=f"{lat:.10f}", lon=f"{lon:.10f}"
        )
        for key, value in LONE_NODE_TAGS.get(node_id, {}).items():
            ET.SubElement(node, "tag", k=key, v=value)
    for way_id, refs, tags in ways:
        way = ET.SubElement(root, "way", id=str(way_id), version="1")
        for ref in refs:
            ET.SubElement(way, "nd", ref=str(ref))
        for key, value in tags.items():
            ET.SubElement(way, "tag", k=key, v=value)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


@pytest.fixture
def river_osm(tmp_path: Path) -> Path:
    return write_osm(tmp_path / "river.osm", NODES, WAYS)


def distances(network: RoadNetwork, max_distance_m: float) -> Array:
    along: Array = network_distance(
        network, AP + ORIGIN, VILLAGES + ORIGIN, max_distance_m=max_distance_m
    )
    return along


# --- reading -------------------------------------------------------------------------------


def test_xml_keeps_only_roads(river_osm: Path) -> None:
    network = load_roads(river_osm, to_crs=UTM48N)
    # Nodes touched by roads: 1, 2, 3, 4, 11, 12, 13 (river ends and the school dropped).
    assert network.n_nodes == 7
    # Edges: road S 1-2, 2-3, 3-4; road N 11-12, 12-13; bridge 13-4. The proposed bridge and
    # the river are not roads; the two directions of each two-way street are one edge.
    assert network.n_edges == 6
    assert sorted(np.round(network.edge_length_m).tolist()) == [
        200.0,  # the bridge
        600.0,  # 1-2, 11-12, 2-3
        600.0,
        600.0,
        1800.0,  # 3-4
        2400.0,  # 12-13
    ]
    assert network.crs == UTM48N
    # Geometries run from edge_u to edge_v.
    start = shapely.get_coordinates(shapely.get_point(network.edge_geometry, 0))
    np.testing.assert_allclose(start, network.node_xy[network.edge_u], atol=1e-6)
    # The adjacency is symmetric and holds each edge's length.
    adjacency = network.adjacency.toarray()
    np.testing.assert_array_equal(adjacency, adjacency.T)
    assert adjacency[network.edge_u, network.edge_v].tolist() == network.edge_length_m.tolist()


def test_river_without_bridge_by_hand(river_osm: Path) -> None:
    network = load_roads(river_osm, to_crs=UTM48N)
    within_500 = distances(network, 500.0)
    np.testing.assert_allclose(within_500[:2], BY_HAND_M[:2], atol=1e-3)
    # D and E are 620 m away, A 4240 m: beyond 500 m.
    assert np.isinf(within_500[2:]).all()
    # Village A is 200 m from the access point in a straight line...
    assert np.hypot(*(VILLAGES[3] - AP[0])) == pytest.approx(200.0)
    # ...but 4240 m along the roads, the way round by the bridge (the proposed bridge at
    # x = 600 would make it 20 + 400 + 200 + 400 + 20 = 1040; a directed graph, inf).
    np.testing.assert_allclose(distances(network, 5000.0), BY_HAND_M, atol=1e-3)
    within_1000 = distances(network, 1000.0)
    np.testing.assert_allclose(within_1000[:3], BY_HAND_M[:3], atol=1e-3)
    assert np.isinf(within_1000[3])


def test_graphml_round_trip_gives_the_same_distances(river_osm: Path, tmp_path: Path) -> None:
    import osmnx as ox

    expected = distances(load_roads(river_osm, to_crs=UTM48N), 5000.0)
    # osmnx's own graph: simplified, with the river and the proposed bridge still in it.
    graph = ox.graph_from_xml(river_osm, simplify=True, retain_all=True)
    ox.save_graphml(graph, tmp_path / "river.graphml")
    from_graphml = load_roads(tmp_path / "river.graphml", to_crs=UTM48N)
    assert from_graphml.n_nodes <= 7  # simplification drops node 3 (x = 1200)
    np.testing.assert_allclose(distances(from_graphml, 5000.0), expected, atol=1e-3)
    # Saved in another projected CRS (Web Mercator): read back into UTM, the same again.
    ox.save_graphml(ox.project_graph(graph, to_crs="EPSG:3857"), tmp_path / "river_3857.graphml")
    projected = load_roads(tmp_path / "river_3857.graphml", to_crs=UTM48N)
    np.testing.assert_allclose(distances(projected, 5000.0), expected, atol=1e-3)


def test_pbf_gives_the_same_network(river_osm: Path, tmp_path: Path) -> None:
    osmium = pytest.importorskip("osmium")
    pbf = tmp_path / "river.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for item in osmium.FileProcessor(str(river_osm)):
            writer.add(item)
    from_xml = load_roads(river_osm, to_crs=UTM48N)
    from_pbf = load_roads(pbf, to_crs=UTM48N)
    assert (from_pbf.n_nodes, from_pbf.n_edges) == (from_xml.n_nodes, from_xml.n_edges)
    # PBF stores coordinates to 1e-7 degree (about 1 cm).
    np.testing.assert_allclose(distances(from_pbf, 5000.0), BY_HAND_M, atol=0.05)


def test_file_problems_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.osm: the road file does not exist"):
        load_roads(tmp_path / "nowhere.osm", to_crs=UTM48N)

    shp = tmp_path / "roads.shp"
    shp.write_bytes(b"\0")
    with pytest.raises(InputError, match=r"roads\.shp: the kind of road file .*Fix: .*\.graphml"):
        load_roads(shp, to_crs=UTM48N)

    for name in ("garbage.osm", "garbage.graphml", "garbage.osm.pbf", "empty.osm"):
        bad = tmp_path / name
        bad.write_text("" if name == "empty.osm" else "this is not a road file")
        with pytest.raises(InputError, match=rf"{name}: the road file cannot be read.*Fix: "):
            load_roads(bad, to_crs=UTM48N)

    river_only = write_osm(tmp_path / "river_only.osm", NODES, [WAYS[4]])
    with pytest.raises(InputError, match=r"river_only\.osm: the file holds no road"):
        load_roads(river_only, to_crs=UTM48N)

    # A way cut off at the edge of an extract: its node 99 is not in the file.
    cut = write_osm(tmp_path / "cut.osm", NODES, [(101, [1, 2, 99], {"highway": "primary"})])
    with pytest.raises(InputError, match=r"cut\.osm: .*cut ways off.*Fix: .*complete_ways"):
        load_roads(cut, to_crs=UTM48N)
    osmium = pytest.importorskip("osmium")
    with osmium.SimpleWriter(str(tmp_path / "cut.osm.pbf")) as writer:
        for item in osmium.FileProcessor(str(cut)):
            writer.add(item)
    with pytest.raises(InputError, match=r"cut\.osm\.pbf: .*cut ways off.*Fix: .*complete_ways"):
        load_roads(tmp_path / "cut.osm.pbf", to_crs=UTM48N)


def test_pbf_without_pyosmium_says_how_to_convert(
    river_osm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pbf = tmp_path / "roads.osm.pbf"
    pbf.write_bytes(b"\0")
    monkeypatch.setitem(sys.modules, "osmium", None)  # makes `import osmium` fail
    with pytest.raises(InputError, match=r"roads\.osm\.pbf: .*osmium.*Fix: .*osmium cat"):
        load_roads(pbf, to_crs=UTM48N)


def test_geographic_crs_is_refused(river_osm: Path) -> None:
    with pytest.raises(CRSError, match="projected CRS in metres"):
        load_roads(river_osm, to_crs="EPSG:4326")
    with pytest.raises(CRSError, match="projected CRS in metres"):
        RoadNetwork.from_edges([[0, 0], [1, 1]], [0], [1], crs="EPSG:4326")


# --- distances on small networks -------------------------------------------------------------


def line_network() -> RoadNetwork:
    """One straight road from (0, 0) to (1000, 0) through a node at (500, 0)."""
    return RoadNetwork.from_edges([[0, 0], [500, 0], [1000, 0]], [0, 1], [1, 2], crs=UTM48N)


def test_sources_and_targets_on_the_same_edge() -> None:
    network = line_network()
    sources = [[100.0, 0.0], [450.0, 0.0]]
    # (400, 0): 50 m from the second source, both on edge 0-1.
    # (200, 10): 100 along from the first + 10 access = 110.
    # (700, 0): past node 1: 50 + 200 = 250.
    # (0, -30): 100 along + 30 access = 130.
    targets = [[400.0, 0.0], [200.0, 10.0], [700.0, 0.0], [0.0, -30.0]]
    got = network_distance(network, sources, targets, max_distance_m=1000.0)
    np.testing.assert_allclose(got, [50.0, 110.0, 250.0, 130.0])


def test_points_on_nodes_and_zero_lengths() -> None:
    network = line_network()
    # A source exactly on node 1: the super-source edge and the split edges have length 0.
    got = network_distance(
        network, [[500.0, 0.0]], [[500.0, 0.0], [600.0, 0.0], [0.0, 0.0]], max_distance_m=1e9
    )
    np.testing.assert_allclose(got, [0.0, 100.0, 500.0])
    # The limit is inclusive.
    got = network_distance(network, [[500.0, 0.0]], [[600.0, 0.0]], max_distance_m=100.0)
    assert got.tolist() == [100.0]


def test_empty_and_invalid_points() -> None:
    network = line_network()
    got = network_distance(network, np.empty((0, 2)), [[1.0, 0.0]], max_distance_m=10.0)
    assert got.tolist() == [np.inf]
    assert network_distance(network, [[1.0, 0.0]], [], max_distance_m=10.0).shape == (0,)
    with pytest.raises(ValueError, match="non-finite"):
        network_distance(network, [[np.nan, 0.0]], [[1.0, 0.0]], max_distance_m=10.0)
    with pytest.raises(ValueError, match=r"shape \(k, 2\)"):
        network_distance(network, [1.0, 2.0, 3.0], [[1.0, 0.0]], max_distance_m=10.0)
    with pytest.raises(ValueError, match="max_distance_m"):
        network_distance(network, [[1.0, 0.0]], [[1.0, 0.0]], max_distance_m=-1.0)


def test_parallel_roads_and_loops() -> None:
    # Nodes 0 (0, 0) and 1 (100, 0) joined twice: a straight road (100 m) and a detour by
    # (50, 100) (2 * hypot(50, 100) = 223.61 m). A loop road leaves node 1 and comes back.
    detour = shapely.LineString([(0, 0), (50, 100), (100, 0)])
    loop = shapely.LineString([(100, 0), (200, 0), (200, 100), (100, 0)])
    network = RoadNetwork.from_edges(
        [[0, 0], [100, 0]],
        [0, 1, 1, 1],
        [1, 0, 1, 0],
        crs=UTM48N,
        edge_geometry=[None, detour.reverse(), loop, None],  # the last: 0-1 again, reversed
    )
    assert network.n_edges == 3  # straight, detour, loop
    assert not network.node_xy.flags.writeable
    assert network.adjacency[0, 1] == pytest.approx(100.0)
    # A source on the detour's apex: 111.80 m to either node; the target on the straight road
    # at (90, 0): 111.80 + 10.
    # A target on the loop at (200, 50): from node 1 by (200, 0): 100 + 50, either from the
    # source: 111.80 + 150.
    half = np.hypot(50.0, 100.0)
    got = network_distance(
        network, [[50.0, 100.0]], [[90.0, 0.0], [200.0, 50.0]], max_distance_m=1e9
    )
    np.testing.assert_allclose(got, [half + 10.0, half + 150.0])


def grid_network(
    side: int,
    spacing_m: float,
    jitter: Array,
    keep: npt.NDArray[np.bool_],
) -> RoadNetwork:
    ij = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), axis=-1)
    xy = ij.reshape(-1, 2) * spacing_m + jitter.reshape(-1, 2)
    index = np.arange(side * side).reshape(side, side)
    u = np.concatenate([index[:-1, :].ravel(), index[:, :-1].ravel()])
    v = np.concatenate([index[1:, :].ravel(), index[:, 1:].ravel()])
    return RoadNetwork.from_edges(xy, u[keep], v[keep], crs=UTM48N)


@st.composite
def grids_and_points(draw: st.DrawFn) -> tuple[RoadNetwork, Array, Array]:
    side = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    jitter = rng.uniform(-30, 30, size=(side * side, 2))
    n_edges = 2 * side * (side - 1)
    keep = rng.random(n_edges) < 0.8
    keep[0] = True
    extent = (side - 1) * 100.0
    sources = rng.uniform(-50, extent + 50, size=(draw(st.integers(1, 4)), 2))
    targets = rng.uniform(-50, extent + 50, size=(draw(st.integers(1, 20)), 2))
    return grid_network(side, 100.0, jitter, keep), sources, targets


@settings(max_examples=60, deadline=None)
@given(grids_and_points())
def test_property_never_shorter_than_a_straight_line(
    case: tuple[RoadNetwork, Array, Array],
) -> None:
    network, sources, targets = case
    along = network_distance(network, sources, targets, max_distance_m=np.inf)
    straight = np.hypot(*(targets[:, None, :] - sources[None, :, :]).transpose(2, 0, 1))
    assert (along >= straight.min(axis=1) - 1e-6).all()
    # One multi-source run is the nearest of the single-source runs...
    singles = np.stack(
        [network_distance(network, s[None], targets, max_distance_m=np.inf) for s in sources]
    )
    np.testing.assert_allclose(along, singles.min(axis=0), atol=1e-6)
    # ...each single one is symmetric...
    back = network_distance(network, targets[:1], sources[:1], max_distance_m=np.inf)
    np.testing.assert_allclose(back[0], singles[0, 0], atol=1e-6)
    # ...and a limit only cuts off what lies beyond it.
    limit = 150.0
    cut = network_distance(network, sources, targets, max_distance_m=limit)
    np.testing.assert_array_equal(cut, np.where(along <= limit, along, np.inf))


# --- real OpenStreetMap data -----------------------------------------------------------------


@pytest.fixture(scope="module")
def hcmc() -> RoadNetwork:
    if not HCMC_OSM.is_file():
        pytest.skip(f"shared data not found: {HCMC_OSM}")
    return load_roads(HCMC_OSM, to_crs=UTM48N)


@pytest.mark.shared_data
def test_hcmc_counts_match_the_xml(hcmc: RoadNetwork) -> None:
    # Count by hand from the XML: nodes of road ways, and distinct unordered pairs of
    # consecutive nodes (the unsimplified, undirected graph).
    root = ET.parse(HCMC_OSM).getroot()
    nodes: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for way in root.iter("way"):
        tags = {tag.get("k"): tag.get("v") for tag in way.iter("tag")}
        if "highway" not in tags or tags["highway"] in NOT_ROADS:
            continue
        refs = [nd.get("ref") or "" for nd in way.iter("nd")]
        nodes.update(refs)
        pairs.update((min(a, b), max(a, b)) for a, b in itertools.pairwise(refs) if a != b)
    assert hcmc.n_nodes == len(nodes)
    assert hcmc.n_edges == len(pairs)
    # The block is about 1.1 x 1.2 km.
    span = hcmc.node_xy.max(axis=0) - hcmc.node_xy.min(axis=0)
    assert (span > 800).all() and (span < 2000).all()


@pytest.mark.shared_data
def test_hcmc_against_networkx_and_straight_lines(hcmc: RoadNetwork) -> None:
    rng = np.random.default_rng(7)
    low, high = hcmc.node_xy.min(axis=0), hcmc.node_xy.max(axis=0)
    sources = rng.uniform(low, high, size=(4, 2))
    targets = rng.uniform(low, high, size=(40, 2))
    along = network_distance(hcmc, sources, targets, max_distance_m=np.inf)

    # Brute force, independent of the super-source and edge splitting: snap by scanning every
    # edge, run networkx from each end of each source's edge, try the four ways through the
    # ends (and straight along a shared edge), keep the best source.
    graph = nx.Graph()
    for a, b, w in zip(hcmc.edge_u, hcmc.edge_v, hcmc.edge_length_m, strict=True):
        if not graph.has_edge(a, b) or graph[a][b]["weight"] > w:
            graph.add_edge(int(a), int(b), weight=float(w))

    def snap(point: Array) -> tuple[int, float, float]:
        p = shapely.Point(point)
        gaps = shapely.distance(p, hcmc.edge_geometry)
        e = int(np.argmin(gaps))
        return e, float(shapely.line_locate_point(hcmc.edge_geometry[e], p)), float(gaps[e])

    best = np.full(len(targets), np.inf)
    for source in sources:
        es, ts, ds = snap(source)
        ends_s = [(hcmc.edge_u[es], ts), (hcmc.edge_v[es], hcmc.edge_length_m[es] - ts)]
        reach = [nx.single_source_dijkstra_path_length(graph, int(n)) for n, _ in ends_s]
        for j, target in enumerate(targets):
            et, tt, dt = snap(target)
            ends_t = [(hcmc.edge_u[et], tt), (hcmc.edge_v[et], hcmc.edge_length_m[et] - tt)]
            options = [
                off_s + reach[i].get(int(n), np.inf) + off_t
                for i, (_, off_s) in enumerate(ends_s)
                for n, off_t in ends_t
            ]
            if es == et:
                options.append(abs(ts - tt))
            best[j] = min(best[j], ds + dt + min(options))
    np.testing.assert_allclose(along, best, rtol=1e-9, atol=1e-6)

    # Never shorter than the straight line, pair by pair.
    for source in sources:
        single = network_distance(hcmc, source[None], targets, max_distance_m=np.inf)
        assert (single >= np.hypot(*(targets - source).T) - 1e-6).all()
