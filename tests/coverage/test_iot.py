"""IoT coverage of industrial parks and production zones, on shapes whose answers are known."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from pydantic import ValidationError

from hatangso.coverage import mobile
from hatangso.coverage.config import CoverageConfig
from hatangso.coverage.engine import CoverageInputs, assess
from hatangso.coverage.iot import iot_site_table, iot_zone_coverage, zone_shares
from hatangso.coverage.mobile import SiteTable

UTM = 32648
CRS = pyproj.CRS.from_epsg(UTM)
X0, Y0 = 600_000.0, 2_450_000.0


def table(
    xy: list[tuple[float, float]],
    reach: dict[str, list[float]],
    *,
    azimuth: list[float] | None = None,
    beamwidth: list[float] | None = None,
) -> SiteTable:
    """Sites at `xy` (metres from X0, Y0) with the given reach per technology."""
    n = len(xy)
    pts = np.asarray(xy, dtype=float)
    return SiteTable(
        x=X0 + pts[:, 0],
        y=Y0 + pts[:, 1],
        operator=np.full(n, "Viettel", dtype=object),
        reach_m={"4G": np.full(n, 5000.0), **{t: np.asarray(r, float) for t, r in reach.items()}},
        azimuth_deg=np.full(n, np.nan) if azimuth is None else np.asarray(azimuth, float),
        beamwidth_deg=np.full(n, np.nan) if beamwidth is None else np.asarray(beamwidth, float),
        eirp_dbm={"4G": np.full(n, 60.0)},
        freq_mhz={"4G": np.full(n, 1800.0)},
        height_m=np.full(n, 30.0),
        env=np.full(n, "rural", dtype=object),
        model="radius",
        threshold_dbm=-110.0,
    )


def pois(geoms: list[shapely.Geometry], kinds: list[str]) -> gpd.GeoDataFrame:
    """A pois layer in EPSG:4326 from geometries in metres from X0, Y0."""
    moved = [shapely.affinity.translate(g, X0, Y0) for g in geoms]
    return gpd.GeoDataFrame(
        {
            "poi_id": [f"P{i}" for i in range(len(geoms))],
            "kind": kinds,
            "name": [f"Khu {i}" for i in range(len(geoms))],
        },
        geometry=moved,
        crs=UTM,
    ).to_crs(4326)


R = 1000.0
#: A square of twice the area of a disc of radius R, centred on the disc: half of it inside.
HALF = math.sqrt(2 * math.pi) * R / 2
PARK = shapely.box(-HALF, -HALF, HALF, HALF)


def test_park_exactly_half_inside_nb_iot_reach_counts_at_half_not_above() -> None:
    # Area of the square 2 pi R^2, of the disc (inside the square: R < HALF) pi R^2.
    assert HALF > R
    sites = table([(0.0, 0.0)], {"NB-IoT": [R]})
    zones = iot_zone_coverage(pois([PARK], ["industrial_park"]), sites, CRS, area_share=0.5)
    assert zones is not None
    assert zones.zones["iot_share"].iloc[0] == pytest.approx(0.5, abs=1e-9)
    assert zones.zones["covered_iot"].tolist() == [True]
    assert (zones.indicator.numerator, zones.indicator.denominator) == (1.0, 1.0)
    stricter = iot_zone_coverage(pois([PARK], ["industrial_park"]), sites, CRS, area_share=0.6)
    assert stricter is not None
    assert stricter.zones["covered_iot"].tolist() == [False]
    assert stricter.indicator.value == 0.0


def test_park_of_two_equal_blocks_one_in_lte_m_reach() -> None:
    # Two 200 m x 100 m blocks: one 1 km from an LTE-M site of 1.5 km reach (all of it within:
    # its far corner is sqrt(1200^2 + 50^2) = 1201 m away), one 3 km away (none of it).
    park = shapely.MultiPolygon(
        [shapely.box(1000, -50, 1200, 50), shapely.box(3000, -50, 3200, 50)]
    )
    sites = table([(0.0, 0.0)], {"LTE-M": [1500.0]})
    zones = iot_zone_coverage(pois([park], ["industrial_park"]), sites, CRS)
    assert zones is not None
    assert zones.zones["iot_share"].iloc[0] == pytest.approx(0.5, abs=1e-9)
    assert zones.zones["covered_iot"].tolist() == [True]


def test_point_zones_count_when_the_point_is_in_reach() -> None:
    # NB-IoT reach 8 km: a production zone given as a point 7.9 km away is in, one at 8.1 km
    # is out; a 4G reach of 5 km does not count.
    sites = table([(0.0, 0.0)], {"NB-IoT": [8000.0]})
    layer = pois(
        [shapely.Point(7900, 0), shapely.Point(8100, 0), shapely.Point(0, 100)],
        ["production_zone", "production_zone", "tourism"],
    )
    zones = iot_zone_coverage(layer, sites, CRS)
    assert zones is not None
    assert zones.zones["poi_id"].tolist() == ["P0", "P1"]  # tourism is no IoT zone
    assert zones.zones["covered_iot"].tolist() == [True, False]
    assert zones.zones["iot_share"].tolist() == [1.0, 0.0]
    assert zones.zones["geometry_type"].tolist() == ["point", "point"]


def test_nb_iot_and_lte_m_on_one_site_are_not_counted_twice() -> None:
    # Both on one mast: the footprint is the longer reach's disc, so the share is still half.
    sites = table([(0.0, 0.0)], {"NB-IoT": [R], "LTE-M": [R / 2]})
    assert iot_site_table(sites).reach_m["IoT"].tolist() == [R]
    assert zone_shares([shapely.affinity.translate(PARK, X0, Y0)], iot_site_table(sites))[
        0
    ] == pytest.approx(0.5, abs=1e-9)


def test_sites_without_any_iot_technology_cover_no_zone() -> None:
    # The 4G reach (5 km) covers the park, but no site offers NB-IoT or LTE-M: the table has
    # no such key at all, as one from sites that list neither.
    sites = table([(0.0, 0.0)], {})
    zones = iot_zone_coverage(pois([PARK], ["industrial_park"]), sites, CRS)
    assert zones is not None
    assert zones.zones["iot_share"].tolist() == [0.0]
    assert zones.indicator.value == 0.0


def test_no_zone_no_result() -> None:
    sites = table([(0.0, 0.0)], {"NB-IoT": [R]})
    assert iot_zone_coverage(pois([shapely.Point(0, 0)], ["tourism"]), sites, CRS) is None


def test_a_sector_serves_the_half_it_faces() -> None:
    # A thin park 2 x 0.02 km straddling a sector that faces east: the eastern half lies in
    # its boresight reach (1.5 km > 1 km); the western half is behind it, where the pattern
    # (-25 dB) leaves 1500 * 10^(-25/35) = 290 m, a sliver of 0.29 km of the 1 km half.
    park = shapely.box(-1000, -10, 1000, 10)
    sites = table([(0.0, 0.0)], {"NB-IoT": [1500.0]}, azimuth=[90.0], beamwidth=[65.0])
    zones = iot_zone_coverage(pois([park], ["industrial_park"]), sites, CRS)
    assert zones is not None
    share = float(zones.zones["iot_share"].iloc[0])
    assert 0.5 < share < 0.5 + 0.3 / 2


def test_shares_stay_in_bounds_and_grow_with_sites() -> None:
    rng = np.random.default_rng(18)
    parks = [
        shapely.box(x, y, x + w, y + h)
        for x, y, w, h in zip(
            rng.uniform(-5000, 5000, 20),
            rng.uniform(-5000, 5000, 20),
            rng.uniform(100, 2000, 20),
            rng.uniform(100, 2000, 20),
            strict=True,
        )
    ]
    moved = [shapely.affinity.translate(p, X0, Y0) for p in parks]
    xy = [(float(a), float(b)) for a, b in rng.uniform(-5000, 5000, (4, 2))]
    few = zone_shares(moved, iot_site_table(table(xy[:2], {"NB-IoT": [2000.0, 3000.0]})))
    more = zone_shares(moved, iot_site_table(table(xy, {"NB-IoT": [2000.0, 3000.0, 0.0, 2500.0]})))
    assert ((few >= 0) & (few <= 1)).all()
    assert (more >= few - 1e-12).all()


def test_area_share_is_a_setting_in_0_1() -> None:
    assert CoverageConfig().iot.area_share == 0.5
    assert CoverageConfig.model_validate({"iot": {"area_share": 1.0}}).iot.area_share == 1.0
    for bad in (0.0, 1.2):
        with pytest.raises(ValidationError, match="area_share"):
            CoverageConfig.model_validate({"iot": {"area_share": bad}})


def test_polygon_pois_through_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sites' NB-IoT reach is set here (8 km), whatever the link budget would give it.
    real = mobile.site_table

    def with_nb_iot(sites: gpd.GeoDataFrame, **kwargs: object) -> SiteTable:
        out = real(sites, **kwargs)  # type: ignore[arg-type]
        offers = sites["tech"].astype(str).str.contains("NB-IoT").to_numpy()
        return SiteTable(**{**out.__dict__, "reach_m": {**out.reach_m, "NB-IoT": offers * 8e3}})

    monkeypatch.setattr(mobile, "site_table", with_nb_iot)
    villages = gpd.GeoDataFrame(
        {"village_id": ["V"], "name": ["Thôn"]},
        geometry=[shapely.box(X0 - 5, Y0 - 5, X0 + 5, Y0 + 5)],
        crs=UTM,
    ).to_crs(4326)
    sites = gpd.GeoDataFrame(
        {"site_id": ["S"], "operator": ["Viettel"], "tech": ["4G;5G;NB-IoT"]},
        geometry=[shapely.Point(X0, Y0)],
        crs=UTM,
    ).to_crs(4326)
    # A park polygon 1.5 km east (its representative point within 5G's 2 km; all of it within
    # NB-IoT's 8 km), a production zone polygon 7-9 km east (half within 8 km, nearly: the
    # disc's edge bulges out by 8000 - sqrt(8000^2 - 50^2) = 0.16 m at its corners), a point
    # production zone 10 km east (out), a commune office.
    layer = pois(
        [
            shapely.box(1400, -100, 1600, 100),
            shapely.box(7000, -50, 9000, 50),
            shapely.Point(10_000, 0),
            shapely.Point(0, 0),
        ],
        ["industrial_park", "production_zone", "production_zone", "commune_hq"],
    ).assign(data_network=pd.array([None, None, None, True], dtype="boolean"))
    config = CoverageConfig.model_validate({"iot": {"area_share": 0.49}})
    result = assess(CoverageInputs(villages=villages, sites=sites, pois=layer), config)
    got = {v.code: (v.numerator, v.denominator) for v in result.indicators}
    assert got["key_area_5g_coverage"] == (1.0, 1.0)
    assert got["key_area_iot_coverage"] == (2.0, 3.0)
    assert got["commune_data_network_connection"] == (1.0, 1.0)
    assert result.iot is not None
    shares = result.iot.zones.set_index("poi_id")["iot_share"]
    assert shares["P0"] == pytest.approx(1.0)
    assert shares["P1"] == pytest.approx(0.5, abs=1e-4)
    assert shares["P2"] == 0.0
    assert result.iot.zones.crs.to_epsg() == 4326
    assert any("IoT zones" in note for note in result.notes)
