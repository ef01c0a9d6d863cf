"""The coverage engine on cases whose answers are derived by hand."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin

from hatangso.coverage.config import CoverageConfig
from hatangso.coverage.engine import CoverageInputs, assess
from hatangso.coverage.kpis import IndicatorValue, indicators_by_unit, kpi_document
from hatangso.coverage.sharing import duct_sharing, pole_sharing, tower_locations
from hatangso.geo.validate import load_layer

# Everything is laid out in metres in UTM 48N around (600 km E, 2450 km N), in Bắc Kạn, and
# handed to the engine in EPSG:4326 as the validators would. The engine picks UTM 48N itself.
UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


def villages_at(boxes: list[tuple[float, float, float, float]], **columns) -> gpd.GeoDataFrame:
    geoms = [shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in boxes]
    n = len(geoms)
    data = {"village_id": [f"V{i}" for i in range(n)], "name": [f"Thôn {i}" for i in range(n)]}
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=geoms, crs=UTM).to_crs(4326)


def sites_at(points: list[tuple[float, float]], **columns) -> gpd.GeoDataFrame:
    n = len(points)
    data = {
        "site_id": [f"S{i}" for i in range(n)],
        "operator": columns.pop("operator", ["Viettel"] * n),
        "tech": columns.pop("tech", ["4G"] * n),
        "height_m": [30.0] * n,
        "env": columns.pop("env", ["rural"] * n),
    }
    data.update(columns)
    geoms = shapely.points([(X0 + x, Y0 + y) for x, y in points])
    return gpd.GeoDataFrame(data, geometry=geoms, crs=UTM).to_crs(4326)


def run(villages, sites=None, **config):
    return assess(
        CoverageInputs(villages=villages, sites=sites, **config.pop("inputs", {})),
        CoverageConfig.model_validate(config),
    )


def values(result) -> dict[str, float | None]:
    return {v.code: v.value for v in result.indicators}


# --- point rule ------------------------------------------------------------------------------


def test_point_rule_reach_by_environment() -> None:
    # 10 m squares whose representative points lie 4,900 m and 5,100 m east of a rural site
    # (reach 5,000 m), and 1,400 m / 1,600 m from an urban one (reach 1,500 m).
    villages = villages_at(
        [
            (4895, -5, 4905, 5),
            (5095, -5, 5105, 5),
            (-5, 20_000 - 1405, 5, 20_000 - 1395),
            (-5, 20_000 - 1605, 5, 20_000 - 1595),
        ]
    )
    sites = sites_at([(0, 0), (0, 20_000)], env=["rural", "urban"])
    result = run(villages, sites)
    assert result.villages["covered_mobile"].tolist() == [True, False, True, False]
    assert result.villages["nearest_site_m"].round(-1).tolist() == [4900, 5100, 1400, 1600]
    assert "5.1 km (reach 5.0 km)" in result.villages["mobile_reason"].iloc[1]
    assert values(result)["village_mobile_coverage"] == 0.5


def test_5g_uses_5g_sites_and_reach_and_5g_counts_as_mobile() -> None:
    # Rural 5G reach is 2,000 m. A 5G-only site also gives mobile broadband (4G or better).
    villages = villages_at([(1495, -5, 1505, 5), (2495, -5, 2505, 5), (9995, -5, 10005, 5)])
    sites = sites_at([(0, 0), (10_000, 100)], tech=["4G;5G", "5G"])
    result = run(villages, sites)
    assert result.villages["covered_5g"].tolist() == [True, False, True]
    assert result.villages["covered_mobile"].tolist() == [True, True, True]


def test_sector_reach_follows_its_pattern() -> None:
    # A sector facing east (90 deg) with a 60 deg beam, rural reach 5 km at boresight. West
    # and north it is attenuated 25 dB (north: 12 (90 / 60)^2 = 27, held to 25), which leaves
    # 5000 * 10^(-25 / 35) = 965 m of reach: a village 1 km east is covered, 1 km west and
    # 1 km north are not, but 900 m north is (a hard 60-degree wedge left it dark).
    villages = villages_at(
        [(995, -5, 1005, 5), (-1005, -5, -995, 5), (-5, 995, 5, 1005), (-5, 895, 5, 905)]
    )
    sites = sites_at([(0, 0)], azimuth_deg=[90.0], beamwidth_deg=[60.0])
    result = run(villages, sites)
    assert result.villages["covered_mobile"].tolist() == [True, False, False, True]
    reason = result.villages["mobile_reason"].iloc[1]
    assert reason.endswith("at 1.0 km (reach 1.0 km at this bearing)")


def test_serving_operators_are_sorted_and_unique() -> None:
    villages = villages_at([(-5, -5, 5, 5), (20_000, 0, 20_010, 10)])
    sites = sites_at([(0, 100), (100, 0), (50, 50)], operator=["VNPT", "Viettel", "VNPT"])
    result = run(villages, sites)
    assert result.villages["serving_operators"].tolist() == ["VNPT;Viettel", ""]


# --- area and population rules -------------------------------------------------------------


def test_area_rule_half_covered_strip() -> None:
    # A 10 km x 10 m strip starting at the site: the 5 km disc covers its first half.
    villages = villages_at([(0, 0, 10_000, 10)])
    sites = sites_at([(0, 5)])
    result = run(villages, sites, mobile={"rule": "area", "min_share": 0.4})
    share = result.villages["mobile_share"].iloc[0]
    # The disc is a 64-gon inscribed in the circle: at most 0.1% short of the true half.
    assert share == pytest.approx(0.5, abs=1e-3)
    assert bool(result.villages["covered_mobile"].iloc[0])
    result = run(villages, sites, mobile={"rule": "area", "min_share": 0.6})
    assert not bool(result.villages["covered_mobile"].iloc[0])
    assert "only 50% of the area covered" in result.villages["mobile_reason"].iloc[0]


def test_area_rule_union_of_overlapping_footprints_is_not_double_counted() -> None:
    # Two sites on the same mast cover the same half: still 0.5, not 1.0.
    villages = villages_at([(0, 0, 10_000, 10)])
    sites = sites_at([(0, 5), (1, 5)], operator=["Viettel", "VNPT"])
    result = run(villages, sites, mobile={"rule": "area"})
    assert result.villages["mobile_share"].iloc[0] == pytest.approx(0.5, abs=1e-3)


def _uniform_raster(path: Path, people_per_cell: float) -> Path:
    # 100 m cells over the test area, in UTM 48N, uniform density.
    transform = from_origin(X0 - 20_000, Y0 + 20_000, 100, 100)
    data = np.full((400, 400), people_per_cell, dtype="float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=400,
        height=400,
        count=1,
        dtype="float32",
        crs=f"EPSG:{UTM}",
        transform=transform,
    ) as dst:
        dst.write(data, 1)
    return path


def test_population_and_area_shares_agree_on_uniform_population(tmp_path: Path) -> None:
    villages = villages_at(
        [(3000, -1000, 7000, 1000), (-2000, 2000, 2000, 6000), (6000, 6000, 8000, 8000)]
    )
    sites = sites_at([(0, 0)])
    raster = _uniform_raster(tmp_path / "pop.tif", 10.0)
    area = run(villages, sites, mobile={"rule": "area"}).villages["mobile_share"]
    people = run(
        villages, sites, mobile={"rule": "population"}, inputs={"population": raster}
    ).villages
    # 100 m cells against km-sized villages: the cell grid resolves the disc edge to ~2%.
    np.testing.assert_allclose(people["mobile_share"], area, atol=0.03)
    # 4 km x 2 km = 800 cells of 10 people.
    assert people["population_in_village"].iloc[0] == pytest.approx(8000)


# --- official rule -------------------------------------------------------------------------


def test_official_rule_needs_the_centre_and_every_cluster() -> None:
    # Both villages have their centre next to the site; village 1 also has a residential
    # cluster 8 km away, out of reach, so it is not covered under the official rule although
    # the point rule calls it covered.
    villages = villages_at([(0, -500, 1000, 500), (0, 1000, 9000, 2000)])
    centres = gpd.GeoSeries(
        shapely.points([(X0 + 500, Y0), (X0 + 500, Y0 + 1500)]), crs=UTM
    ).to_crs(4326)
    villages["centre_lon"] = centres.x.to_numpy()
    villages["centre_lat"] = centres.y.to_numpy()
    settlements = gpd.GeoDataFrame(
        {"settlement_id": ["c1", "c2"], "village_id": ["V1", None]},
        geometry=shapely.points([(X0 + 8500, Y0 + 1500), (X0 + 600, Y0 + 100)]),
        crs=UTM,
    ).to_crs(4326)
    sites = sites_at([(0, 0)])
    point = run(villages, sites, mobile={"rule": "point"})
    official = run(
        villages, sites, mobile={"rule": "official"}, inputs={"settlements": settlements}
    )
    assert point.villages["covered_mobile"].tolist() == [True, True]
    assert official.villages["covered_mobile"].tolist() == [True, False]
    assert "residential cluster" in official.villages["mobile_reason"].iloc[1]


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.floats(-20_000, 20_000), st.floats(-20_000, 20_000)), min_size=1, max_size=8
    ),
    st.tuples(st.floats(-20_000, 20_000), st.floats(-20_000, 20_000)),
    st.sampled_from(["point", "area", "official"]),
)
def test_adding_a_site_never_uncovers_a_village(sites_xy, extra, rule) -> None:
    rng = np.random.default_rng(7)
    corners = rng.uniform(-15_000, 15_000, size=(12, 2))
    villages = villages_at([(x, y, x + 1500, y + 1000) for x, y in corners])
    before = run(villages, sites_at(sites_xy), mobile={"rule": rule}).villages
    after = run(villages, sites_at([*sites_xy, extra]), mobile={"rule": rule}).villages
    assert (after["covered_mobile"] >= before["covered_mobile"]).all()
    assert (after["mobile_share"] >= before["mobile_share"] - 1e-9).all()


def test_row_order_changes_nothing() -> None:
    rng = np.random.default_rng(3)
    corners = rng.uniform(-15_000, 15_000, size=(30, 2))
    villages = villages_at([(x, y, x + 1500, y + 1000) for x, y in corners])
    sites = sites_at(
        [tuple(p) for p in rng.uniform(-15_000, 15_000, size=(10, 2))],
        operator=list(rng.choice(["Viettel", "VNPT", "MobiFone"], size=10)),
    )
    a = run(villages, sites, mobile={"rule": "area"}).villages
    perm = rng.permutation(len(villages))
    b = run(villages.iloc[perm], sites.iloc[::-1], mobile={"rule": "area"}).villages
    b = b.set_index("village_id").loc[a["village_id"]].reset_index()
    for column in ("covered_mobile", "mobile_share", "serving_operators", "nearest_site_m"):
        pd.testing.assert_series_equal(a[column], b[column], check_names=False, rtol=1e-9)


# --- sharing -------------------------------------------------------------------------------


def _site_points(xs: list[float], operators: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"site_id": [f"s{i}" for i in range(len(xs))], "operator": operators},
        geometry=shapely.points([(X0 + x, Y0) for x in xs]),
        crs=UTM,
    )


def test_tower_locations_do_not_chain_beyond_the_tolerance() -> None:
    # 0 -- 10 m -- 35 m: each within 30 m of the next, but 0 and 35 are 35 m apart, so they are
    # not one location: {0, 10} (Viettel, VNPT: shared), {35} (MobiFone), {1000} (Viettel).
    # (Single linkage made one location of the first three.) 1 shared of 3 locations; 2 of 4
    # sites stand at a shared location.
    sites = _site_points([0, 10, 35, 1000], ["Viettel", "VNPT", "MobiFone", "Viettel"])
    located = tower_locations(sites, tolerance_m=30)
    assert located.location.tolist() == [0, 0, 1, 2]
    assert located.table["operators"].tolist() == ["VNPT;Viettel", "MobiFone", "Viettel"]
    assert located.indicator.value == pytest.approx(1 / 3)
    assert located.station_indicator.value == pytest.approx(2 / 4)
    # With 5 m of tolerance nothing is shared; with 40 m the first three are one location.
    assert tower_locations(sites, tolerance_m=5).indicator.value == 0.0
    assert tower_locations(sites, tolerance_m=40).location.tolist() == [0, 0, 0, 1]


def test_a_row_of_masts_25_m_apart_is_not_one_location() -> None:
    # Eight sites in a row 25 m apart, tolerance 30 m: every site is within 30 m of the next,
    # but no location may be wider than 30 m, so they pair up: {0, 25}, {50, 75}, ... Four
    # locations, each 25 m long, each with both operators.
    sites = _site_points([25.0 * i for i in range(8)], ["Viettel", "VNPT"] * 4)
    located = tower_locations(sites, tolerance_m=30)
    assert located.location.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert located.table["n_sites"].tolist() == [2, 2, 2, 2]
    width = sites.geometry.x.groupby(located.location).agg(lambda x: x.max() - x.min())
    assert width.max() <= 30.0


def test_a_station_counts_once_whatever_its_sectors() -> None:
    # Viettel's three sectors and VNPT's one at one mast, MobiFone's two sectors alone 2 km
    # away: stations (Viettel, VNPT) shared and (MobiFone) alone, 2 of 3; locations 1 of 2.
    sites = _site_points(
        [0, 0, 0, 4, 2000, 2000], ["Viettel", "Viettel", "Viettel", "VNPT", "MobiFone", "MobiFone"]
    )
    located = tower_locations(sites, tolerance_m=30)
    station = located.station_indicator
    assert (station.numerator, station.denominator) == (2.0, 3.0)
    assert (located.indicator.numerator, located.indicator.denominator) == (1.0, 2.0)


def test_station_and_location_sharing_ratios() -> None:
    # Three operators on one mast, one operator alone on another 2 km away: one shared
    # location of two (50 %), three shared stations of four (75 %).
    sites = _site_points([0, 3, 6, 2000], ["Viettel", "VNPT", "MobiFone", "Viettel"])
    located = tower_locations(sites, tolerance_m=30)
    assert (located.indicator.numerator, located.indicator.denominator) == (1.0, 2.0)
    assert located.station_indicator.code == "bts_station_sharing_ratio"
    assert (located.station_indicator.numerator, located.station_indicator.denominator) == (
        3.0,
        4.0,
    )


def test_larger_tolerance_can_lower_the_ratio_of_locations() -> None:
    # Locations A (0/10 m, shared), B (100/110 m, shared), C (5 km, alone): 2 of 3 shared.
    # At 110 m of tolerance (A and B's widest pair, 0 to 110 m) they merge: 1 of 2. The ratio
    # of locations is not monotone in the tolerance; the share of sites at shared locations is
    # (4/5 both times).
    sites = _site_points(
        [0, 10, 100, 110, 5000], ["Viettel", "VNPT", "Viettel", "VNPT", "MobiFone"]
    )
    small = tower_locations(sites, tolerance_m=30)
    large = tower_locations(sites, tolerance_m=110)
    assert small.indicator.value == pytest.approx(2 / 3)
    assert large.indicator.value == pytest.approx(1 / 2)
    assert small.share_of_sites_shared == large.share_of_sites_shared == pytest.approx(4 / 5)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 2000), st.sampled_from(["Viettel", "VNPT", "MobiFone"])),
        min_size=1,
        max_size=25,
    ),
    st.floats(0, 200),
    st.floats(0, 200),
)
def test_larger_tolerance_never_lowers_the_share_of_sites_shared(sites, t1, t2) -> None:
    frame = _site_points([x for x, _ in sites], [o for _, o in sites])
    small, large = sorted((t1, t2))
    assert (
        tower_locations(frame, tolerance_m=large).share_of_sites_shared
        >= tower_locations(frame, tolerance_m=small).share_of_sites_shared
    )


def test_pole_and_duct_sharing() -> None:
    poles = pd.DataFrame({"operators": ["VNPT;Viettel", "VNPT", "Viettel;MobiFone;VNPT", ""]})
    assert pole_sharing(poles).numerator == 2 and pole_sharing(poles).denominator == 4
    ducts = gpd.GeoDataFrame(
        {"operators": ["VNPT;Viettel", "VNPT"]},
        geometry=[
            shapely.LineString([(X0, Y0), (X0 + 300, Y0)]),
            shapely.LineString([(X0, Y0), (X0, Y0 + 100)]),
        ],
        crs=UTM,
    )
    # 300 m shared of 400 m.
    assert duct_sharing(ducts).value == pytest.approx(0.75)


# --- fiber, key areas, commune offices, the KPI document ---------------------------------------


def test_ftth_straight_line_without_roads(caplog: pytest.LogCaptureFixture) -> None:
    villages = villages_at([(-5, -5, 5, 5), (595, -5, 605, 5)], households=[10.0, 30.0])
    access_points = gpd.GeoDataFrame(
        {"ap_id": ["A"], "operator": ["VNPT"]}, geometry=shapely.points([(X0, Y0)]), crs=UTM
    ).to_crs(4326)
    result = run(villages, inputs={"access_points": access_points})
    assert result.villages["covered_ftth"].tolist() == [True, False]
    assert result.villages["ftth_distance_m"].iloc[0] == pytest.approx(0, abs=1)
    assert np.isnan(result.villages["ftth_distance_m"].iloc[1])
    got = values(result)
    assert got["village_ftth_coverage"] == 0.5
    assert got["household_ftth_reach"] == 0.25
    assert "straight line" in caplog.text


# The fiber reach of a long village. LONG is 4 x 1 km, (0, 0)-(4000, 1000); its interior point
# (point on surface) is (2000, 500) and its cultural house stands at (500, 540). FAR, a 100 m
# square at x = 10 km, gives no centre. One access point at (200, 500), on the only road, which
# runs along y = 500 from x = -1000 to 5000. By hand, from the access point:
#   LONG's centre: 300 m east and 40 m north: straight hypot(300, 40) = 302.65 m; along the road
#     300 m, then the 40 m leg to the road = 340 m. Both within 500 m.
#   LONG's interior point: 1800 m both ways, beyond 500 m. FAR: about 9.8 km.
# So with the centre given, LONG has fiber under every rule (as the province counts it, at the
# cultural house); without it, measured at the interior point, LONG has none.
LONG_CENTRE = (500.0, 540.0)
ROAD_NODES = {1: (-1000.0, 500.0), 2: (1000.0, 500.0), 3: (5000.0, 500.0)}


def _road_file(path: Path) -> Path:
    """A tiny OSM XML with one road through ROAD_NODES (local metres turned into lon/lat)."""
    to_lonlat = pyproj.Transformer.from_crs(UTM, 4326, always_xy=True)
    nodes = "".join(
        f'<node id="{i}" version="1" lon="{lon:.10f}" lat="{lat:.10f}"/>'
        for i, (x, y) in ROAD_NODES.items()
        for lon, lat in [to_lonlat.transform(X0 + x, Y0 + y)]
    )
    refs = "".join(f'<nd ref="{i}"/>' for i in ROAD_NODES)
    way = f'<way id="10" version="1">{refs}<tag k="highway" v="tertiary"/></way>'
    path.write_text(f'<?xml version="1.0"?><osm version="0.6">{nodes}{way}</osm>', "utf-8")
    return path


def _long_village(*, centre: bool) -> gpd.GeoDataFrame:
    villages = villages_at([(0, 0, 4000, 1000), (10_000, 0, 10_100, 100)], households=[40.0, 10.0])
    if centre:
        house = gpd.GeoSeries(shapely.points([(X0 + LONG_CENTRE[0], Y0 + LONG_CENTRE[1])]), crs=UTM)
        lonlat = house.to_crs(4326)
        villages["centre_lon"] = [lonlat.x.iloc[0], np.nan]  # FAR: blank, as if not given
        villages["centre_lat"] = [lonlat.y.iloc[0], np.nan]
    return villages


@pytest.mark.parametrize("rule", ["point", "area", "population", "official"])
@pytest.mark.parametrize("with_roads", [False, True], ids=["straight", "roads"])
def test_ftth_is_measured_at_the_cultural_house(
    rule: str, with_roads: bool, tmp_path: Path
) -> None:
    access_points = gpd.GeoDataFrame(
        {"ap_id": ["A"], "operator": ["VNPT"]},
        geometry=shapely.points([(X0 + 200, Y0 + 500)]),
        crs=UTM,
    ).to_crs(4326)
    inputs: dict[str, object] = {"access_points": access_points}
    if with_roads:
        inputs["roads"] = _road_file(tmp_path / "road.osm")
    how = "along the roads" if with_roads else "in a straight line"
    config = {"mobile": {"rule": rule}, "ftth": {"max_distance_m": 500}}

    result = run(_long_village(centre=True), inputs=dict(inputs), **config)
    at_centre = result.villages
    assert at_centre["covered_ftth"].tolist() == [True, False]
    expected = 340.0 if with_roads else float(np.hypot(300.0, 40.0))
    assert at_centre["ftth_distance_m"].iloc[0] == pytest.approx(expected, abs=0.1)
    assert np.isnan(at_centre["ftth_distance_m"].iloc[1])
    reason = at_centre["ftth_reason"].tolist()
    metres = f"{expected:.0f}"
    assert reason[0] == (
        f"fiber access point {metres} m from the village centre (cultural house) {how}, limit 500 m"
    )
    assert reason[1] == (
        "no fiber access point within the 500 m limit of the village's interior point "
        f"(no centre given) {how}"
    )
    got = values(result)
    assert got["village_ftth_coverage"] == 0.5
    assert got["household_ftth_reach"] == 0.8  # 40 of 50 households

    interior = run(_long_village(centre=False), inputs=dict(inputs), **config)
    assert interior.villages["covered_ftth"].tolist() == [False, False]
    assert interior.villages["ftth_distance_m"].isna().all()
    assert interior.villages["ftth_reason"].iloc[0] == (
        "no fiber access point within the 500 m limit of the village's interior point "
        f"(no centre given) {how}"
    )
    got = values(interior)
    assert got["village_ftth_coverage"] == 0.0
    assert got["household_ftth_reach"] == 0.0


def test_ftth_centre_given_in_x_y_counts_too(tmp_path: Path) -> None:
    # LONG again, its cultural house given as centre_x/centre_y in UTM 48N (as VN-2000 lists
    # give it): validation turns it into centre_lon/centre_lat, and fiber is measured there.
    villages = villages_at([(0, 0, 4000, 1000)]).to_crs(UTM)
    villages["centre_x"] = [X0 + LONG_CENTRE[0]]
    villages["centre_y"] = [Y0 + LONG_CENTRE[1]]
    villages.to_file(tmp_path / "thon.gpkg", layer="villages", engine="pyogrio")
    layer = load_layer(tmp_path / "thon.gpkg", "villages", crs=f"EPSG:{UTM}")
    access_points = gpd.GeoDataFrame(
        {"ap_id": ["A"], "operator": ["VNPT"]},
        geometry=shapely.points([(X0 + 200, Y0 + 500)]),
        crs=UTM,
    ).to_crs(4326)
    result = run(layer.frame, inputs={"access_points": access_points})
    assert result.villages["covered_ftth"].tolist() == [True]
    assert result.villages["ftth_distance_m"].iloc[0] == pytest.approx(302.65, abs=0.1)
    assert "village centre (cultural house)" in result.villages["ftth_reason"].iloc[0]


def test_key_areas_and_commune_offices() -> None:
    villages = villages_at([(-5, -5, 5, 5)])
    sites = sites_at([(0, 0)], tech=["4G;5G"])
    pois = gpd.GeoDataFrame(
        {
            "poi_id": ["d", "i", "t", "h1", "h2", "h3"],
            "kind": [
                "district_centre",
                "industrial_park",
                "tourism",
                "commune_hq",
                "commune_hq",
                "commune_hq",
            ],
            "data_network": pd.array([None, None, None, True, False, True], dtype="boolean"),
        },
        geometry=shapely.points(
            [(X0 + 1000, Y0), (X0 + 1900, Y0), (X0 + 2100, Y0), (X0, Y0), (X0, Y0), (X0, Y0)]
        ),
        crs=UTM,
    ).to_crs(4326)
    got = values(run(villages, sites, inputs={"pois": pois}))
    # 5G rural reach 2,000 m: the centre (1 km) and the park (1.9 km) are in, the tourist site
    # (2.1 km) is out.
    assert got["key_area_5g_coverage"] == pytest.approx(2 / 3)
    assert got["commune_data_network_connection"] == pytest.approx(2 / 3)


def test_kpi_document_and_units() -> None:
    villages = villages_at(
        [(-5, -5, 5, 5), (20_000, 0, 20_010, 10), (100, 0, 110, 10)],
        commune=["Xã A", "Xã A", "Xã B"],
        district=["H1", "H1", "H1"],
    )
    result = run(villages, sites_at([(0, 0)]), targets={"village_mobile_coverage": 1.0})
    doc = kpi_document(
        result.indicators,
        by_unit=indicators_by_unit(
            result.villages,
            levels=("province", "district", "commune"),
            codes=["village_mobile_coverage"],
            targets={"village_mobile_coverage": 1.0},
        ),
        inputs={"villages": {"read": 3, "used": 3, "rejected": 0, "repaired": 0}},
        targets={"village_mobile_coverage": 1.0},
    )
    first = doc["indicators"][0]
    assert first["code"] == "village_mobile_coverage"
    assert (first["numerator"], first["denominator"], first["target"], first["met"]) == (
        2,
        3,
        1.0,
        False,
    )
    assert first["label_vi"].startswith("Tỷ lệ thôn")
    assert set(doc["by_unit"]) == {"district", "commune"}
    communes = {u["unit"]: u["indicators"][0]["value"] for u in doc["by_unit"]["commune"]}
    assert communes == {"H1 / Xã A": 0.5, "H1 / Xã B": 1.0}


def test_indicator_without_denominator_has_no_value() -> None:
    assert IndicatorValue("pole_sharing_ratio", 0, 0).value is None
    assert IndicatorValue("pole_sharing_ratio", 1, 2, target=0.5).met is True


# --- terrain model through the engine --------------------------------------------------------


def _ridge_dem(path: Path) -> Path:
    # 30 m cells over 12 km x 4 km of flat ground at 100 m, with a 400 m high, 300 m thick
    # north-south wall 3 km east of the site.
    transform = from_origin(X0 - 2000, Y0 + 2000, 30, 30)
    width, height = 400, 134
    dem = np.full((height, width), 100.0, dtype="float32")
    cols_x = X0 - 2000 + (np.arange(width) + 0.5) * 30
    dem[:, (cols_x > X0 + 3000) & (cols_x < X0 + 3300)] = 500.0
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs=f"EPSG:{UTM}",
        transform=transform,
    ) as dst:
        dst.write(dem, 1)
    return path


def test_terrain_model_leaves_the_village_behind_the_ridge_dark(tmp_path: Path) -> None:
    # A 30 m mast at the origin; villages 2 km east (in front of the wall) and 5 km east
    # (behind it). Both lie within the 5 km rural radius, so the radius model covers both.
    villages = villages_at([(1950, -50, 2050, 50), (4850, -50, 4950, 50)])
    sites = sites_at([(0, 0)])
    dem = _ridge_dem(tmp_path / "ridge.tif")
    radius = run(villages, sites, mobile={"model": "radius"})
    assert radius.villages["covered_mobile"].tolist() == [True, True]
    terrain = assess(
        CoverageInputs(villages=villages, sites=sites, dem=dem),
        CoverageConfig.model_validate({"terrain": {"radius_m": 8000}}),
        cache_dir=tmp_path / "cache",
    )
    assert terrain.model == "terrain" and terrain.terrain is not None
    covered = terrain.villages["covered_mobile"].tolist()
    assert covered == [True, False]
    best = terrain.villages["best_dbm"].to_numpy()
    assert best[0] > -110 and not best[1] > -110
    assert "terrain model" in terrain.villages["mobile_reason"].iloc[1]


def test_terrain_reason_of_a_village_served_by_2g_only(tmp_path: Path) -> None:
    # A 2G-only mast at the origin and a village 2 km east, in front of the wall: the 4G mast
    # of the test above reaches it (32 dBm per resource element), so the 2G carrier, 25 dB
    # stronger (57 dBm), is received above -110 dBm there and the village has 2G; but 2G is
    # not broadband: no 4G or 5G power anywhere, so best_dbm, the power grid (the map's
    # power layer) and the server count are empty, and the village is dark.
    villages = villages_at([(1950, -50, 2050, 50)])
    sites = sites_at([(0, 0)], tech=["2G"])
    terrain = assess(
        CoverageInputs(villages=villages, sites=sites, dem=_ridge_dem(tmp_path / "ridge.tif")),
        CoverageConfig.model_validate({"terrain": {"radius_m": 8000}}),
        cache_dir=tmp_path / "cache",
    )
    row = terrain.villages.iloc[0]
    assert row["cov_2g"] and not row["covered_mobile"] and np.isnan(row["best_dbm"])
    assert terrain.terrain is not None
    assert np.isnan(terrain.terrain.best_dbm.array).all()
    assert (terrain.terrain.best_site.array == -1).all()
    assert (terrain.terrain.server_count.array == 0).all()
    assert row["mobile_reason"] == (
        "terrain model: no 4G or 5G carrier within reach or in view; nearest site is Viettel "
        "at 2.0 km"
    )
    # Under the area rule the reason is the same: no 4G or 5G power at all.
    by_area = assess(
        CoverageInputs(villages=villages, sites=sites, dem=tmp_path / "ridge.tif"),
        CoverageConfig.model_validate({"terrain": {"radius_m": 8000}, "mobile": {"rule": "area"}}),
        cache_dir=tmp_path / "cache",
    )
    assert by_area.villages["mobile_reason"].iloc[0] == row["mobile_reason"]


@pytest.mark.parametrize("model", ["hata", "terrain"])
def test_best_dbm_is_the_4g_carrier_s_beside_a_stronger_2g_one(tmp_path: Path, model: str) -> None:
    # A 4G mast at the origin and a 2G mast beside it, on the same spot, whose carrier is
    # received 25 dB stronger (57 dBm against 32 dBm per resource element): the village 2 km
    # east gets the 4G mast's power alone, as in a run without the 2G mast, and the power grid
    # is the 4G-only run's cell for cell.
    villages = villages_at([(1950, -50, 2050, 50)])
    both = sites_at([(0, 0), (0, 0)], tech=["4G", "2G"])
    alone = both.iloc[[0]]
    dem = _ridge_dem(tmp_path / "ridge.tif")
    config = CoverageConfig.model_validate(
        {"terrain": {"radius_m": 8000}, "mobile": {"model": model}}
    )

    def best(sites: gpd.GeoDataFrame):
        return assess(
            CoverageInputs(villages=villages, sites=sites, dem=dem),
            config,
            cache_dir=tmp_path / "cache",
        )

    mixed, four_g = best(both), best(alone)
    assert mixed.villages["cov_2g"].iloc[0]
    got = mixed.villages["best_dbm"].iloc[0]
    assert np.isfinite(got) and got == four_g.villages["best_dbm"].iloc[0]
    if model == "terrain":
        assert mixed.terrain is not None and four_g.terrain is not None
        np.testing.assert_array_equal(mixed.terrain.best_dbm.array, four_g.terrain.best_dbm.array)
        np.testing.assert_array_equal(
            mixed.terrain.server_count.array, four_g.terrain.server_count.array
        )


def test_terrain_model_needs_a_dem() -> None:
    from hatangso.geo.errors import InputError

    with pytest.raises(InputError, match="terrain model needs a DEM"):
        run(villages_at([(0, 0, 10, 10)]), sites_at([(0, 0)]), mobile={"model": "terrain"})


SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.mark.shared_data
@pytest.mark.skipif(
    not (SHARED / "dem" / "N21E105.hgt").exists(),
    reason=f"SRTM tile N21E105.hgt not found under {SHARED}",
)
def test_tam_dao_casts_a_shadow(tmp_path: Path) -> None:
    # Three 40 m masts in the Vĩnh Yên plain, south-west of the Tam Đảo range (up to 1,582 m).
    # The plain at their feet is covered; the far side of the range, 15-20 km north-east and
    # as far from the masts as parts of the lit plain, is not.
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["a", "b", "c"],
            "operator": ["Viettel", "VNPT", "MobiFone"],
            "height_m": [40.0] * 3,
        },
        geometry=shapely.points([(105.57, 21.31), (105.50, 21.38), (105.62, 21.36)]),
        crs=4326,
    )
    lit = shapely.box(105.52, 21.30, 105.535, 21.3135)  # the plain, ~5 km from the masts
    shadow = shapely.box(105.74, 21.52, 105.755, 21.5335)  # behind the range, ~25 km
    villages = gpd.GeoDataFrame(
        {"village_id": ["lit", "shadow"], "name": ["Đồng bằng", "Sau núi"]},
        geometry=[lit, shadow],
        crs=4326,
    )
    result = assess(
        CoverageInputs(villages=villages, sites=sites, dem=SHARED / "dem" / "N21E105.hgt"),
        CoverageConfig.model_validate(
            {"terrain": {"radius_m": 30000, "resolution_m": 90}, "mobile": {"rule": "area"}}
        ),
        cache_dir=tmp_path,
    )
    shares = result.villages["mobile_share"].tolist()
    assert shares[0] > 0.9
    assert shares[1] < 0.2
    assert result.villages["covered_mobile"].tolist() == [True, False]


@pytest.mark.parametrize("compiled", [False, True])
def test_terrain_steps_say_when_the_kernels_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    # numba compiles a kernel on its first call, for minutes on a loaded machine: the step
    # under way must say so then, and only then.
    from hatangso.coverage import warmup

    monkeypatch.setattr(warmup, "terrain_kernels_compiled", lambda model: compiled)
    monkeypatch.setattr(warmup, "area_kernels_compiled", lambda: compiled)
    steps: list[str] = []

    def progress(step: str, /, *, done: int | None = None, total: int | None = None) -> None:
        steps.append(step)

    assess(
        CoverageInputs(
            villages=villages_at([(1950, -50, 2050, 50)]),
            sites=sites_at([(0, 0)]),
            dem=_ridge_dem(tmp_path / "ridge.tif"),
        ),
        CoverageConfig.model_validate({"terrain": {"radius_m": 8000}, "mobile": {"rule": "area"}}),
        progress=progress,
    )
    terrain_label = "terrain coverage: compiling the terrain kernels (first run only)"
    judging = "judging the villages on the terrain grids"
    area_label = f"{judging}: compiling the area kernels (first run only)"
    assert (terrain_label in steps) is not compiled
    assert (area_label in steps) is not compiled
    assert (judging in steps) is compiled
    assert steps.index(terrain_label if not compiled else "terrain coverage") < steps.index(
        area_label if not compiled else judging
    )
