"""Tests of the synthetic demo province (hatangso.geo.demo).

The province is generated once per module (1,200 villages) and read back with the libraries a
user would use: pyogrio/geopandas, rasterio, osmnx. Metric checks are done in UTM 48N.
"""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from rasterio import features
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from hatangso.geo.demo import (
    PROVINCE,
    DemoFiles,
    _backtrack,
    _claim,
    _closure,
    _join_operators,
    _largest_remainder,
    _top_k_per_group,
    generate_demo,
)

N_VILLAGES = 1200
UTM = "EPSG:32648"
LAYERS = ("villages", "sites", "access_points", "fiber", "poles", "ducts", "pois", "settlements")
OPERATORS = {"Viettel", "VNPT", "MobiFone", "Vietnamobile"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate_demo(tmp_path_factory.mktemp("demo"), seed=2023, n_villages=N_VILLAGES)


@pytest.fixture(scope="module")
def layers(demo: DemoFiles) -> dict[str, gpd.GeoDataFrame]:
    return {name: gpd.read_file(getattr(demo, name)) for name in LAYERS}


@pytest.fixture(scope="module")
def utm(layers: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    return {name: frame.to_crs(UTM) for name, frame in layers.items()}


@pytest.fixture(scope="module")
def centres(layers: dict[str, gpd.GeoDataFrame]) -> np.ndarray:
    villages = layers["villages"]
    x, y = Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(
        villages["centre_lon"].to_numpy(), villages["centre_lat"].to_numpy()
    )
    return np.column_stack([x, y])


@pytest.fixture(scope="module")
def osm(demo: DemoFiles) -> dict[str, object]:
    """The OSM file parsed by hand: node coordinates, road ways, bridges and the river."""
    root = ET.parse(demo.roads).getroot()
    nodes = {
        int(n.get("id", "0")): (float(n.get("lon", "0")), float(n.get("lat", "0")))
        for n in root.iter("node")
    }
    roads, bridges, rivers = [], [], []
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        line = shapely.LineString([nodes[int(nd.get("ref", "0"))] for nd in way.iter("nd")])
        if tags.get("waterway") == "river":
            rivers.append(line)
        elif tags.get("bridge") == "yes":
            bridges.append(line)
        elif "highway" in tags:
            roads.append(line)
    return {"nodes": nodes, "roads": roads, "bridges": bridges, "rivers": rivers}


@pytest.fixture(scope="module")
def road_graph(demo: DemoFiles) -> nx.MultiDiGraph:
    graph = ox.graph_from_xml(demo.roads, bidirectional=False, simplify=True, retain_all=True)
    graph.remove_edges_from(
        [(u, v, k) for u, v, k, d in graph.edges(keys=True, data=True) if "highway" not in d]
    )  # the river's edges
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    return graph


def _site_distance(utm: dict[str, gpd.GeoDataFrame], xy: np.ndarray) -> np.ndarray:
    sites = utm["sites"]
    tree = cKDTree(np.column_stack([sites.geometry.x, sites.geometry.y]))
    return np.asarray(tree.query(xy)[0])


# ------------------------------------------------------------------------------- small parts


def test_backtrack_follows_predecessors() -> None:
    # pred: 1 -> 0, 2 -> 1, 3 -> 1; node 0 is the source (-9999).
    # From 2: 2, 1, 0. From 3: 3, 1, 0. From 0: just 0, then padding.
    pred = np.array([-9999, 0, 1, 1])
    assert _backtrack(pred, np.array([2, 3, 0])).tolist() == [[2, 1, 0], [3, 1, 0], [0, -1, -1]]


def test_claim_cuts_a_forest_into_ways() -> None:
    # Row 0 visits 3, 2, 1 first and ends at the source 0 (index 3). Row 1 starts at 4 and
    # meets row 0 at node 2 (index 1). Row 2 starts at 5 and meets row 0 at node 1 (index 1).
    paths = np.array([[3, 2, 1, 0], [4, 2, 1, 0], [5, 1, 0, -1]])
    stop = np.array([True, False, False, False, False, False])
    assert _claim(paths, stop).tolist() == [3, 1, 1]
    # A path starting on the network ends at once.
    assert _claim(np.array([[0, -1]]), stop).tolist() == [0]


def test_closure_adds_every_ancestor() -> None:
    # Ways 0 <- 1 <- 2 and 0 <- 3: needing way 2 needs 1 and 0, not 3.
    parent = np.array([-1, 0, 1, 0])
    seeds = np.array([False, False, True, False])
    assert _closure(parent, seeds).tolist() == [True, True, True, False]


def test_join_operators_in_canonical_order() -> None:
    member = np.array([[True, False, True, False], [False, False, False, True]])
    assert _join_operators(member).tolist() == ["Viettel;MobiFone", "Vietnamobile"]


def test_largest_remainder_by_hand() -> None:
    # 10 in thirds: quotas 3.33 each, one extra unit to the first (stable order): 4, 3, 3.
    assert _largest_remainder(10, np.array([1.0, 1.0, 1.0])).tolist() == [4, 3, 3]
    # 7 as 1:2:4 is exact.
    assert _largest_remainder(7, np.array([1.0, 2.0, 4.0])).tolist() == [1, 2, 4]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 12), st.integers(0, 12)), min_size=1, max_size=8),
    st.integers(0, 2**32 - 1),
)
def test_top_k_per_group_takes_exactly_k(groups: list[tuple[int, int]], seed: int) -> None:
    sizes = np.array([g[0] for g in groups])
    k = np.minimum(np.array([g[1] for g in groups]), sizes)
    labels = np.repeat(np.arange(len(groups)), sizes)
    rng = np.random.default_rng(seed)
    chosen = _top_k_per_group(labels, rng.uniform(0.01, 1.0, len(labels)), k, rng)
    assert np.bincount(labels[chosen], minlength=len(groups)).tolist() == k.tolist()


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 200"):
        generate_demo(tmp_path, n_villages=50)
    with pytest.raises(ValueError, match="non-negative"):
        generate_demo(tmp_path, seed=-1)
    assert not any(tmp_path.iterdir())  # nothing written


# ------------------------------------------------------------------------------- the files


def test_every_file_is_written_with_one_layer_in_wgs84(demo: DemoFiles) -> None:
    for name in LAYERS:
        path = getattr(demo, name)
        assert path.parent == demo.root
        assert path.name == f"{name}.gpkg"
        assert [str(row[0]) for row in pyogrio.list_layers(path)] == [name]
        assert pyogrio.read_info(path)["crs"] == "EPSG:4326"
    for path in (demo.roads, demo.dem, demo.population, demo.samples, demo.declared):
        assert path.is_file() and path.stat().st_size > 0


def test_counts_and_minimums(layers: dict[str, gpd.GeoDataFrame]) -> None:
    villages = layers["villages"]
    assert len(villages) == N_VILLAGES
    assert villages["commune"].nunique() >= 40
    assert villages["district"].nunique() >= 5
    assert set(villages["province"]) == {PROVINCE}
    per_commune = villages.groupby("commune").size()
    assert per_commune.min() >= 4
    sites = layers["sites"]
    counts = sites["operator"].value_counts()
    assert set(counts.index) == OPERATORS
    assert counts.idxmax() == "Viettel" and counts.idxmin() == "Vietnamobile"
    # 5G in the towns; 2G and 3G on rural 4G sites, three rural sites with nothing else, and
    # the one NB-IoT carrier
    assert set(sites["tech"]) == {"4G", "4G;5G", "2G;4G", "2G;3G;4G", "3G;4G", "2G", "3G", "NB-IoT"}
    assert sites["tech"].isin(["2G", "3G"]).sum() == 3
    assert (sites.loc[sites["tech"].str.contains("2G|3G"), "env"] == "rural").all()
    assert set(sites["env"]) == {"urban", "suburban", "rural"}
    assert 0 < sites["azimuth_deg"].notna().mean() < 0.5  # some sectorised, most omni
    assert sites["beamwidth_deg"].notna().equals(sites["azimuth_deg"].notna())
    assert 0 < sites["eirp_dbm"].isna().mean() < 1 and 0 < sites["freq_mhz"].isna().mean() < 1
    assert set(layers["access_points"]["kind"]) == {"olt", "cabinet", "splitter", "odp"}
    assert set(layers["fiber"]["operator"]) <= OPERATORS
    assert (layers["fiber"].geom_type == "LineString").all()
    assert (layers["ducts"].geom_type == "LineString").all()


def test_pois(layers: dict[str, gpd.GeoDataFrame]) -> None:
    villages, pois = layers["villages"], layers["pois"]
    kinds = pois["kind"].value_counts()
    assert kinds["district_centre"] == villages["district"].nunique()
    assert kinds["industrial_park"] >= 1
    assert kinds["tourism"] >= 2
    assert kinds["commune_hq"] == villages["commune"].nunique()
    assert kinds["production_zone"] == 1
    zones = pois[pois["kind"].isin(["industrial_park", "production_zone"])]
    assert set(zones.geom_type) == {"Polygon"}
    assert set(pois.loc[~pois.index.isin(zones.index)].geom_type) == {"Point"}
    online = pois.loc[pois["kind"] == "commune_hq", "data_network"].astype(bool)
    assert 0.8 <= online.mean() < 1.0  # most connected, a few not


def test_ids_unique_and_names_nfc(layers: dict[str, gpd.GeoDataFrame]) -> None:
    for layer, column in (
        ("villages", "village_id"),
        ("sites", "site_id"),
        ("access_points", "ap_id"),
        ("poles", "pole_id"),
        ("ducts", "duct_id"),
        ("pois", "poi_id"),
        ("settlements", "settlement_id"),
    ):
        assert layers[layer][column].is_unique, layer
    villages = layers["villages"]
    assert villages["village_id"].str.fullmatch(r"DM-\d{2}-\d{4}").all()
    assert not villages.duplicated(["commune", "name"]).any()
    for column in ("name", "commune", "district"):
        text = villages[column]
        assert (text == text.map(lambda s: unicodedata.normalize("NFC", s))).all()
    assert villages["name"].str.match(r"(Thôn|Bản|Tổ dân phố) ").all()
    assert villages["name"].str.startswith("Tổ dân phố").sum() > 0


def test_village_polygons_tile_their_communes(utm: dict[str, gpd.GeoDataFrame]) -> None:
    villages = utm["villages"]
    assert villages.is_valid.all()
    assert set(villages.geom_type) <= {"Polygon", "MultiPolygon"}
    # no two villages overlap: the areas add up to the area of their union
    union = shapely.union_all(villages.geometry.values)
    assert villages.area.sum() == pytest.approx(union.area, rel=1e-6)
    # each commune is the union of its villages, and communes do not overlap either, so every
    # village lies inside its commune and in no other
    communes = villages.dissolve("commune")
    assert communes.area.sum() == pytest.approx(union.area, rel=1e-6)
    districts = villages.dissolve("district")
    assert districts.area.sum() == pytest.approx(union.area, rel=1e-6)
    assert (villages.groupby("commune")["district"].nunique() == 1).all()


def test_centres_inside_their_villages(layers: dict[str, gpd.GeoDataFrame]) -> None:
    villages = layers["villages"]
    centres = gpd.points_from_xy(villages["centre_lon"], villages["centre_lat"], crs=4326)
    assert villages.contains(gpd.GeoSeries(centres, index=villages.index)).all()


def test_households_about_four_people(layers: dict[str, gpd.GeoDataFrame]) -> None:
    villages = layers["villages"]
    ratio = villages["population"] / villages["households"]
    assert 4.0 < ratio.mean() < 4.4
    assert (villages["population"] > 0).all()


def test_settlements(utm: dict[str, gpd.GeoDataFrame], centres: np.ndarray) -> None:
    villages, clusters = utm["villages"], utm["settlements"]
    per_village = clusters.groupby("village_id").size().reindex(villages["village_id"])
    assert per_village.between(1, 4).all()
    assert (per_village > 1).mean() > 0.2
    people = clusters.groupby("village_id")["population"].sum().reindex(villages["village_id"])
    assert (people.to_numpy() == villages["population"].to_numpy()).all()
    joined = clusters.merge(
        villages[["village_id", "geometry"]].rename(columns={"geometry": "village"}),
        on="village_id",
    )
    inside = gpd.GeoSeries(joined["village"], crs=UTM).contains(joined.geometry)
    assert inside.mean() > 0.99
    centre = dict(zip(villages["village_id"], map(tuple, centres), strict=True))
    cxy = np.array([centre[v] for v in clusters["village_id"]])
    far = np.hypot(clusters.geometry.x - cxy[:, 0], clusters.geometry.y - cxy[:, 1])
    assert (far > 1500).sum() >= 10  # some clusters lie far from the cultural house


# ------------------------------------------------------------------------------- roads


def test_osmnx_loads_the_roads_offline(road_graph: nx.MultiDiGraph) -> None:
    largest = max(nx.weakly_connected_components(road_graph), key=len)
    assert len(largest) / len(road_graph) > 0.99
    kinds = {str(d["highway"]) for _, _, d in road_graph.edges(data=True)}
    assert {"primary", "secondary", "tertiary", "unclassified", "track"} <= kinds


def test_roads_cross_the_river_only_on_bridges(osm: dict[str, list[shapely.LineString]]) -> None:
    assert len(osm["rivers"]) == 1
    river = osm["rivers"][0]
    assert 1 <= len(osm["bridges"]) <= 5
    assert shapely.intersects(np.array(osm["bridges"]), river).all()
    assert not shapely.intersects(np.array(osm["roads"]), river).any()


def test_a_village_across_the_river_from_its_access_point(
    utm: dict[str, gpd.GeoDataFrame],
    centres: np.ndarray,
    osm: dict[str, object],
    road_graph: nx.MultiDiGraph,
) -> None:
    aps = utm["access_points"]
    axy = np.column_stack([aps.geometry.x, aps.geometry.y])
    dist, nearest = cKDTree(axy).query(centres)
    rivers = osm["rivers"]
    assert isinstance(rivers, list)
    river = gpd.GeoSeries(rivers, crs=4326).to_crs(UTM).iloc[0]
    segments = shapely.linestrings(np.stack([centres, axy[nearest]], axis=1))
    across = np.flatnonzero((dist < 500) & shapely.intersects(segments, river))
    assert len(across) >= 1
    # by road, the same two points are many kilometres apart (the nearest bridge is far)
    graph = road_graph.to_undirected()
    ids = np.array(list(graph.nodes))
    lon = np.array([graph.nodes[n]["x"] for n in ids])
    lat = np.array([graph.nodes[n]["y"] for n in ids])
    gx, gy = Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(lon, lat)
    tree = cKDTree(np.column_stack([gx, gy]))
    v = int(across[0])
    a = ids[tree.query(centres[v])[1]]
    b = ids[tree.query(axy[nearest[v]])[1]]
    by_road = nx.shortest_path_length(graph, a, b, weight="length")
    assert by_road > 10 * dist[v] and by_road > 5000


def test_most_villages_near_an_access_point(
    utm: dict[str, gpd.GeoDataFrame], centres: np.ndarray
) -> None:
    aps = utm["access_points"]
    dist = cKDTree(np.column_stack([aps.geometry.x, aps.geometry.y])).query(centres)[0]
    assert 0.7 < (dist < 500).mean() < 0.97


# ------------------------------------------------------------------------------- rasters


def test_dem(demo: DemoFiles, layers: dict[str, gpd.GeoDataFrame]) -> None:
    with rasterio.open(demo.dem) as src:
        assert src.crs.to_epsg() == 4326
        assert src.res == pytest.approx((1 / 3600, 1 / 3600))
        assert src.nodata is not None
        assert src.compression is not None and src.compression.value.lower() == "deflate"
        assert src.profile["tiled"]
        dem = src.read(1)
        province = features.geometry_mask(
            layers["villages"].geometry, dem.shape, src.transform, invert=True
        )
    heights = dem[province].astype(float)
    assert 1200 <= heights.max() <= 1600
    assert 150 <= np.percentile(heights, 5) <= 400
    assert heights.min() >= 100


def test_population_raster_matches_villages(
    demo: DemoFiles, layers: dict[str, gpd.GeoDataFrame]
) -> None:
    villages = layers["villages"]
    with rasterio.open(demo.population) as src:
        assert src.crs.to_epsg() == 4326
        assert src.res[0] == pytest.approx(1 / 1200)
        assert src.dtypes[0] == "float32"
        people = src.read(1)
        nodata = src.nodata
        zone = features.rasterize(
            zip(villages.geometry, range(1, len(villages) + 1), strict=True),
            out_shape=people.shape,
            transform=src.transform,
            fill=0,
            dtype="int32",
        )
    valid = people != nodata
    assert (people[valid] >= 0).all()
    total = villages["population"].sum()
    assert people[valid].sum() == pytest.approx(total, rel=0.005)
    sums = np.bincount(zone[valid], people[valid].astype(float), len(villages) + 1)[1:]
    close = np.isclose(sums, villages["population"].to_numpy(), rtol=0.02)
    assert close.mean() > 0.95


# ------------------------------------------------------------------------------- coverage


def test_uncovered_mountain_villages(
    demo: DemoFiles,
    layers: dict[str, gpd.GeoDataFrame],
    utm: dict[str, gpd.GeoDataFrame],
    centres: np.ndarray,
) -> None:
    far = _site_distance(utm, centres) > 5000
    assert 0.015 <= far.mean() <= 0.05  # Bắc Kạn: 42 of about 1,400
    villages = layers["villages"]
    with rasterio.open(demo.dem) as src:
        height = np.array(
            [
                z[0]
                for z in src.sample(
                    zip(villages["centre_lon"], villages["centre_lat"], strict=True)
                )
            ]
        )
    assert np.median(height[far]) > np.percentile(height, 75)


def test_rules_disagree_somewhere(utm: dict[str, gpd.GeoDataFrame], centres: np.ndarray) -> None:
    villages, sites = utm["villages"], utm["sites"]
    centre_far = _site_distance(utm, centres) > 5000
    # partly covered: the polygon reaches within 5 km of a site, the centre does not
    tree = shapely.STRtree(sites.geometry.values)
    near = np.unique(tree.query(villages.geometry.values, predicate="dwithin", distance=5000)[0])
    polygon_near = np.isin(np.arange(len(villages)), near)
    assert (polygon_near & centre_far).sum() >= 2
    # the official rule (every cluster) is stricter than the centre rule somewhere
    clusters = utm["settlements"]
    cluster_far = (
        _site_distance(utm, np.column_stack([clusters.geometry.x, clusters.geometry.y])) > 5000
    )
    stricter = villages["village_id"].isin(clusters.loc[cluster_far, "village_id"])
    assert (stricter & ~centre_far).sum() >= 1


def test_tower_sharing_share(utm: dict[str, gpd.GeoDataFrame]) -> None:
    sites = utm["sites"]
    xy = np.column_stack([sites.geometry.x, sites.geometry.y])
    pairs = cKDTree(xy).query_pairs(30.0, output_type="ndarray")
    adjacency = coo_matrix(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(xy), len(xy))
    )
    _, location = connected_components(adjacency, directed=False)
    operators = pd.Series(sites["operator"].to_numpy()).groupby(location).nunique()
    assert 0.15 <= (operators >= 2).mean() <= 0.35
    # the sites of one location are within 25 m of its first site, locations far apart
    assert pd.Series(location).value_counts().max() <= 4 * 3


def test_5g_at_district_centres_and_the_park(utm: dict[str, gpd.GeoDataFrame]) -> None:
    sites, pois = utm["sites"], utm["pois"]
    five = sites[sites["tech"] == "4G;5G"]
    tree = cKDTree(np.column_stack([five.geometry.x, five.geometry.y]))
    key = pois[pois["kind"].isin(["district_centre", "industrial_park"])]
    # The park is an outline: the engine judges 5G at its representative point.
    spot = key.geometry.representative_point()
    dist = tree.query(np.column_stack([spot.x, spot.y]))[0]
    assert (dist < 600).all()  # the contract's urban 5G radius
    assert 10 <= five["site_id"].str[:8].nunique() <= 40


def test_sharing_of_poles_and_ducts(utm: dict[str, gpd.GeoDataFrame]) -> None:
    poles = utm["poles"]
    assert len(poles) > 100
    assert 0.8 <= (poles["operators"].str.count(";") >= 1).mean() <= 0.9
    for ops in poles["operators"]:
        assert set(ops.split(";")) <= OPERATORS
    ducts = utm["ducts"]
    shared = ducts["operators"].str.contains(";")
    share = ducts.length[shared].sum() / ducts.length.sum()
    assert 0 < share < 0.25


# ------------------------------------------------------------------------------- tables


def test_drive_test_samples(demo: DemoFiles) -> None:
    samples = pd.read_csv(demo.samples)
    assert list(samples.columns) == [
        "lon",
        "lat",
        "operator",
        "tech",
        "rsrp_dbm",
        "time",
        "source",
        "download_mbps",
    ]
    assert samples["download_mbps"].between(0, 88).all()
    assert 18_000 <= len(samples) <= 22_000
    assert set(samples["operator"]) == OPERATORS
    assert set(samples["source"]) == {"drive_test"}
    assert samples["rsrp_dbm"].between(-140, -44).all()
    assert 0.3 < (samples["rsrp_dbm"] >= -110).mean() < 0.95
    times = pd.to_datetime(samples["time"], format="ISO8601")
    assert times.notna().all()
    assert samples["lon"].between(105.6, 106.2).all() and samples["lat"].between(21.9, 22.5).all()


def test_declaration_includes_disputes(
    demo: DemoFiles, utm: dict[str, gpd.GeoDataFrame], centres: np.ndarray
) -> None:
    declared = pd.read_csv(demo.declared)
    assert list(declared.columns) == ["village_id", "operator", "tech"]
    assert set(declared["operator"]) == {"Viettel"}
    villages = utm["villages"]
    assert declared["village_id"].isin(villages["village_id"]).all()
    assert declared["village_id"].is_unique
    viettel = utm["sites"][utm["sites"]["operator"] == "Viettel"]
    radius = viettel["env"].map({"urban": 1500.0, "suburban": 3000.0, "rural": 5000.0})
    d = np.hypot(
        centres[:, None, 0] - viettel.geometry.x.to_numpy()[None, :],
        centres[:, None, 1] - viettel.geometry.y.to_numpy()[None, :],
    )
    covered = (d <= radius.to_numpy()[None, :]).any(axis=1)
    claimed = villages["village_id"].isin(declared["village_id"]).to_numpy()
    assert (claimed & ~covered).sum() >= 3
    assert (covered & ~claimed).sum() == 0


# ------------------------------------------------------------------------------- determinism


@pytest.mark.slow
def test_same_seed_same_data(
    demo: DemoFiles, layers: dict[str, gpd.GeoDataFrame], tmp_path: Path
) -> None:
    again = generate_demo(tmp_path, seed=2023, n_villages=N_VILLAGES)
    for name in LAYERS:
        assert_geodataframe_equal(gpd.read_file(getattr(again, name)), layers[name])
    for raster in ("dem", "population"):
        with rasterio.open(getattr(demo, raster)) as a, rasterio.open(getattr(again, raster)) as b:
            assert np.array_equal(a.read(1), b.read(1))
            assert a.transform == b.transform
    for table in ("roads", "samples", "declared"):
        assert getattr(demo, table).read_bytes() == getattr(again, table).read_bytes()


@pytest.mark.slow
def test_another_seed_other_data(layers: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    other = generate_demo(tmp_path, seed=7, n_villages=200)
    villages = gpd.read_file(other.villages)
    assert len(villages) == 200
    assert villages["commune"].nunique() == 40
    assert not np.isin(villages["centre_lon"], layers["villages"]["centre_lon"]).any()


def test_mast_registry_and_commitments(
    demo: DemoFiles, layers: dict[str, gpd.GeoDataFrame]
) -> None:
    from hatangso.coverage.registry import registry_checks
    from hatangso.geo.validate import load_layer

    assert [str(row[0]) for row in pyogrio.list_layers(demo.masts)] == ["masts"]
    masts = load_layer(demo.masts, "masts")
    assert masts.rejected == 0
    registry = masts.frame
    assert set(registry["status"]) == {"planned", "permitted", "built", "dismantled"}
    sites = layers["sites"]
    # Every site but two names a mast of the registry; a mast's tenants are its sites' operators.
    assert int(sites["mast_id"].isna().sum()) == 2
    assert set(sites["mast_id"].dropna()) <= set(registry["mast_id"])
    on = sites.dropna(subset=["mast_id"]).groupby("mast_id")["operator"].agg(set)
    tenants = registry.set_index("mast_id")["tenants"].dropna().str.split(";").map(set)
    assert all(on[m] <= tenants[m] for m in on.index)
    found = registry_checks(registry, sites, crs=UTM).counts()
    assert found["station_on_no_mast"] == 2 and found["built_without_permit"] == 1
    assert found["share_candidate"] >= 1 and found["in_no_build"] == 0
    commitments = load_layer(demo.commitments, "commitments")
    assert commitments.rejected == 0
    assert list(pd.read_csv(demo.commitments).columns) == ["village_id", "operator", "tech", "due"]
    assert set(commitments.frame["village_id"]) <= set(layers["villages"]["village_id"])


def test_industrial_park_half_inside_the_nb_iot_carriers_reach(
    utm: dict[str, gpd.GeoDataFrame],
) -> None:
    from hatangso.geo.demo import _NB_IOT_REACH_M

    sites, pois = utm["sites"], utm["pois"]
    (carrier,) = sites.loc[sites["tech"] == "NB-IoT", "geometry"]
    (park,) = pois.loc[pois["kind"] == "industrial_park", "geometry"]
    assert park.area == pytest.approx(2000 * 800, rel=0.01)
    reach = carrier.buffer(_NB_IOT_REACH_M, quad_segs=1024)
    # Just over half: counted at the default share of one half, not at 0.6.
    assert 0.5 < park.intersection(reach).area / park.area < 0.6
    (zone,) = pois.loc[pois["kind"] == "production_zone", "geometry"]
    assert zone.distance(carrier) > _NB_IOT_REACH_M
