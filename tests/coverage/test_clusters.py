"""Residential clusters from a population raster, and the official rule that checks them."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from hatangso.coverage.clusters import clusters_from_raster, residential_clusters
from hatangso.coverage.config import CoverageConfig
from hatangso.coverage.engine import CoverageInputs, assess

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0
# 100 m cells: one cell is 0.01 km², so 3 people in a cell are 300 people/km².
TRANSFORM = from_origin(X0, Y0 + 1000.0, 100.0, 100.0)


def grid() -> np.ndarray:
    """A 10 x 10 raster (rows from the north) with two clusters and scattered people.

    Cluster A: rows 1-2, cols 1-2 (a 2x2 block) with 10, 10, 10, 30 people.
    Cluster B: row 6 col 6 (20 people) and row 7 col 7 (20 people), touching at a corner only.
    Scattered: 2 people (200/km², under 300) at row 4 col 8 and row 9 col 0.
    """
    g = np.zeros((10, 10))
    g[1, 1], g[1, 2], g[2, 1], g[2, 2] = 10, 10, 10, 30
    g[6, 6] = g[7, 7] = 20
    g[4, 8] = g[9, 0] = 2
    return g


def test_clusters_population_and_weighted_centre():
    out = residential_clusters(grid(), TRANSFORM, UTM, min_density_per_km2=300.0)
    assert len(out) == 2
    a, b = out.iloc[0], out.iloc[1]
    # Largest first: A has 60 people on 4 cells, B 40 on 2 (8-connected).
    assert (a.population, a.n_cells, b.population, b.n_cells) == (60.0, 4, 40.0, 2)
    assert a.area_km2 == pytest.approx(0.04)
    # A's weighted centre in cell units: rows (1.5*20 + 2.5*40) / 60 = 2.1667,
    # cols the same -> x = X0 + 216.67 m, y = Y0 + 1000 - 216.67 m.
    centre = gpd.GeoSeries([a.geometry], crs=4326).to_crs(UTM).iloc[0]
    assert centre.x == pytest.approx(X0 + 216.667, abs=0.01)
    assert centre.y == pytest.approx(Y0 + 783.333, abs=0.01)
    # B's centre (6.5+7.5)/2 = 7.0 falls on the corner between its two cells: cell (7, 7) is
    # in the cluster, so the centre stays at x = X0 + 700, y = Y0 + 300.
    centre_b = gpd.GeoSeries([b.geometry], crs=4326).to_crs(UTM).iloc[0]
    assert (centre_b.x, centre_b.y) == pytest.approx((X0 + 700.0, Y0 + 300.0), abs=0.01)
    assert out["village_id"].isna().all()


def test_four_connectivity_splits_diagonal_cells():
    out = residential_clusters(grid(), TRANSFORM, UTM, min_density_per_km2=300.0, connectivity=4)
    assert sorted(out["population"].tolist()) == [20.0, 20.0, 60.0]


def test_threshold_and_min_population():
    # At 150/km² the 2-person cells (200/km²) join as clusters of their own.
    assert len(residential_clusters(grid(), TRANSFORM, UTM, min_density_per_km2=150.0)) == 4
    kept = residential_clusters(grid(), TRANSFORM, UTM, min_population=50.0)
    assert kept["population"].tolist() == [60.0]


def test_crescent_centre_moves_into_the_cluster():
    # A U-shaped cluster of 160 people. Weighted centre in cell units: row (0.5*90 + 1.5*20 +
    # 2.5*50) / 160 = 1.25, col (0.5*70 + 1.5*20 + 2.5*20 + 3.5*20 + 4.5*30) / 160 = 2.0, i.e.
    # cell (1, 2), which is empty; the point moves to the most populated cell, (0, 0).
    g = np.zeros((3, 5))
    g[0, :] = [50, 10, 10, 10, 10]
    g[1, 0] = g[1, 4] = g[2, 0] = g[2, 4] = 10
    g[2, 1:4] = 10
    g[1, 1:4] = 0
    out = residential_clusters(g, from_origin(X0, Y0 + 300.0, 100.0, 100.0), UTM)
    assert len(out) == 1
    p = gpd.GeoSeries([out.geometry.iloc[0]], crs=4326).to_crs(UTM).iloc[0]
    assert (p.x, p.y) == pytest.approx((X0 + 50.0, Y0 + 250.0), abs=0.01)


def test_geographic_cell_area():
    # A 0.001-degree cell at 22 N: R (0.001 pi/180) = 6371.0088 km x 1.74533e-5 = 0.111195 km,
    # squared 0.0123644 km², times cos 22° = 0.927184 -> 0.011464 km². 4 people there are
    # 348.9 people/km² (kept at 300), 3 are 261.7 (dropped).
    g = np.array([[4.0, 0.0, 3.0]])
    out = residential_clusters(g, from_origin(105.0, 22.0005, 0.001, 0.001), 4326)
    assert out["population"].tolist() == [4.0]
    assert out["area_km2"].iloc[0] == pytest.approx(0.011464, rel=1e-4)


def test_clusters_from_a_file_are_assigned_to_villages(tmp_path: Path):
    path = tmp_path / "people.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=10,
        height=10,
        count=1,
        dtype="float32",
        crs=f"EPSG:{UTM}",
        transform=TRANSFORM,
        nodata=-1.0,
    ) as dst:
        g = grid().astype("float32")
        g[0, 9] = -1.0  # no data counts as empty
        dst.write(g, 1)
    villages = gpd.GeoDataFrame(
        {"village_id": ["WEST", "EAST"]},
        geometry=[
            shapely.box(X0, Y0, X0 + 500, Y0 + 1000),
            shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 1000),
        ],
        crs=UTM,
    ).to_crs(4326)
    out = clusters_from_raster(path, villages)
    assert out["village_id"].tolist() == ["WEST", "EAST"]
    assert set(out.columns) >= {"settlement_id", "village_id", "population", "geometry"}


def test_an_uncovered_cluster_makes_the_village_uncovered_under_the_official_rule():
    # One village 4 km x 1 km; its centre (cultural house) at (500, 500), a site at (0, 500)
    # with a 2 km rural 4G radius, and a residential cluster at (3500, 500), 3.5 km from the
    # site. Centre covered, cluster not: the village is not covered under the official rule.
    village = gpd.GeoDataFrame(
        {"village_id": ["V0"], "name": ["Thôn 0"]},
        geometry=[shapely.box(X0, Y0, X0 + 4000, Y0 + 1000)],
        crs=UTM,
    ).to_crs(4326)
    centre = gpd.GeoSeries([shapely.Point(X0 + 500, Y0 + 500)], crs=UTM).to_crs(4326).iloc[0]
    village["centre_lon"], village["centre_lat"] = centre.x, centre.y
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["S0"],
            "operator": ["Viettel"],
            "tech": ["4G"],
            "height_m": [30.0],
            "env": ["rural"],
        },
        geometry=[shapely.Point(X0, Y0 + 500)],
        crs=UTM,
    ).to_crs(4326)
    radius = {"4G": {"rural": 2000.0}}

    def run(cluster_x: float | None) -> bool:
        settlements = None
        if cluster_x is not None:
            settlements = gpd.GeoDataFrame(
                {"settlement_id": ["C1"], "village_id": ["V0"], "population": [80.0]},
                geometry=[shapely.Point(X0 + cluster_x, Y0 + 500)],
                crs=UTM,
            ).to_crs(4326)
        result = assess(
            CoverageInputs(villages=village, sites=sites, settlements=settlements),
            CoverageConfig.model_validate({"mobile": {"rule": "official", "radius_m": radius}}),
        )
        return bool(result.villages["covered_mobile"].iloc[0])

    assert run(None) is True  # the centre alone: 500 m from the site
    assert run(1500.0) is True  # a cluster 1.5 km from the site: covered too
    assert run(3500.0) is False  # a cluster 3.5 km away: the village is not covered
