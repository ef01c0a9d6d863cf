"""Rasters: DEM and population reading, COG writing, polygons and zonal shares."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

from hatangso.coverage.rasters import (
    Raster,
    polygonize,
    read_dem,
    read_population,
    sample_points,
    write_cog,
    zonal_shares,
)
from hatangso.geo.errors import CRSError, InputError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
TILE = DATA / "dem" / "N21E105.hgt"
WORLDPOP = DATA / "worldpop" / "vnm_ppp_2020_1km_Aggregated_UNadj.tif"
UTM48 = CRS.from_epsg(32648)


def _write_tif(
    path: Path, array: np.ndarray, transform: Affine, crs: str, nodata: float | None
) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=array.shape[1],
        height=array.shape[0],
        count=1,
        dtype=array.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as ds:
        ds.write(array, 1)
    return path


def _grid(array: np.ndarray, cell: float = 10.0) -> Raster:
    return Raster(array=array, transform=from_origin(500_000.0, 2_000_000.0, cell, cell), crs=UTM48)


# ------------------------------------------------------------------------------------------
# read_dem


def test_read_dem_fills_voids_and_reads_only_the_window(tmp_path: Path) -> None:
    # a plane z = 10 * col + row on a 0.001-degree grid, two void cells in the middle
    rows, cols = 200, 300
    plane = (10.0 * np.arange(cols)[None, :] + np.arange(rows)[:, None]).astype(np.int16)
    dem = plane.copy()
    dem[100, 150] = dem[101, 151] = -32768
    path = _write_tif(
        tmp_path / "dem.tif", dem, from_origin(105.0, 21.2, 0.001, 0.001), "EPSG:4326", -32768
    )

    whole = read_dem(path)
    assert whole.shape == (rows, cols)
    assert not np.isnan(whole.array).any()
    # inverse-distance filling of a void inside a plane lands between its neighbours
    assert plane[100, 149] < whole.array[100, 150] < plane[100, 151]
    assert plane[101, 150] < whole.array[101, 151] < plane[101, 152]

    # bounds 0.05 x 0.04 degrees = 50 x 40 cells, plus 8 edge cells on each side
    part = read_dem(path, bounds_wgs84=(105.10, 21.10, 105.15, 21.14))
    assert part.shape == (40 + 16, 50 + 16)
    assert part.transform.c == pytest.approx(105.10 - 8 * 0.001)
    np.testing.assert_array_equal(part.array[8, 8], plane[60, 100])


def test_read_dem_merges_tiles(tmp_path: Path) -> None:
    # two 100 x 100 tiles side by side of a plane z = col (global column index)
    plane = np.tile(np.arange(200, dtype=np.int16), (100, 1))
    west = _write_tif(
        tmp_path / "w.tif",
        plane[:, :100].copy(),
        from_origin(105.0, 21.1, 0.001, 0.001),
        "EPSG:4326",
        -32768,
    )
    east = _write_tif(
        tmp_path / "e.tif",
        plane[:, 100:].copy(),
        from_origin(105.1, 21.1, 0.001, 0.001),
        "EPSG:4326",
        -32768,
    )
    # a window straddling the seam: 105.09 .. 105.11, plus 8 edge cells each side
    dem = read_dem([west, east], bounds_wgs84=(105.09, 21.02, 105.11, 21.04))
    assert not np.isnan(dem.array).any()
    first_col = round((dem.transform.c - 105.0) / 0.001)
    assert first_col == 90 - 8
    np.testing.assert_array_equal(dem.array[0], np.arange(first_col, first_col + dem.shape[1]))
    assert dem.shape[1] == 20 + 16


def test_read_dem_reprojects_to_metres_keeping_a_plane(tmp_path: Path) -> None:
    # z = 1000 * lon_offset_deg: bilinear resampling reproduces a field linear in lon/lat
    rows, cols = 120, 120
    lon = 105.0 + (np.arange(cols) + 0.5) * 0.001
    dem = np.tile(((lon - 105.0) * 1000.0).astype(np.float32), (rows, 1))
    path = _write_tif(
        tmp_path / "ramp.tif", dem, from_origin(105.0, 21.2, 0.001, 0.001), "EPSG:4326", None
    )
    bounds = (105.02, 21.12, 105.10, 21.18)
    # 0.001 degree is ~104 m east-west here: 150 m is coarser, so it is used
    out = read_dem(path, bounds_wgs84=bounds, dst_crs="EPSG:32648", resolution_m=150.0)
    assert out.crs == UTM48
    assert out.res == (150.0, 150.0)
    assert read_dem(path, bounds_wgs84=bounds, dst_crs=UTM48, resolution_m=30.0).res[0] > 100.0
    # the cell centres in lon/lat give the expected values
    r, c = np.mgrid[0 : out.shape[0], 0 : out.shape[1]]
    x = out.transform.c + (c + 0.5) * 150.0
    y = out.transform.f - (r + 0.5) * 150.0
    from pyproj import Transformer

    lon_c, _ = Transformer.from_crs(UTM48, "EPSG:4326", always_xy=True).transform(x, y)
    inner = np.isfinite(out.array)
    assert inner.mean() > 0.9
    # GDAL's warper approximates the transform to 1/8 of a source cell, and the field grows
    # by 1 per source cell: 0.125 at most
    np.testing.assert_allclose(out.array[inner], (lon_c[inner] - 105.0) * 1000.0, atol=0.125)


def test_read_dem_keeps_the_dems_cell_when_coarser(tmp_path: Path) -> None:
    dem = np.zeros((100, 100), dtype=np.float32)
    path = _write_tif(
        tmp_path / "flat.tif", dem, from_origin(500_000, 2_400_000, 90, 90), "EPSG:32648", None
    )
    out = read_dem(path, dst_crs="EPSG:32648", resolution_m=30.0)
    assert out.res == (90.0, 90.0)


def test_read_dem_errors(tmp_path: Path) -> None:
    bad = tmp_path / "not_a_raster.tif"
    bad.write_text("hello")
    with pytest.raises(InputError, match=r"not_a_raster\.tif"):
        read_dem(bad)
    dem = np.zeros((10, 10), dtype=np.float32)
    path = _write_tif(
        tmp_path / "d.tif", dem, from_origin(105.0, 21.0, 0.01, 0.01), "EPSG:4326", None
    )
    with pytest.raises(InputError, match="does not overlap"):
        read_dem(path, bounds_wgs84=(100.0, 10.0, 100.1, 10.1))
    with pytest.raises(CRSError, match="projected"):
        read_dem(path, dst_crs="EPSG:4326")


@pytest.mark.shared_data
def test_read_dem_real_srtm_tile() -> None:
    if not TILE.exists():
        pytest.skip(f"SRTM tile not found at {TILE} (../shared/data/dem)")
    with rasterio.open(TILE) as ds:
        raw = ds.read(1)
    voids = raw == -32768
    assert voids.sum() == 1539  # as ../shared/data/README.md says
    whole = read_dem(TILE)
    assert not np.isnan(whole.array).any()
    filled = whole.array[voids]
    assert filled.min() >= raw[~voids].min() and filled.max() <= raw[~voids].max()
    assert whole.array.max() == 1582.0  # Tam Đảo's summit cell
    # a window around Tam Đảo, in UTM 48N at 90 m
    dem = read_dem(TILE, bounds_wgs84=(105.5, 21.35, 105.7, 21.55), dst_crs=UTM48, resolution_m=90)
    assert dem.res == (90.0, 90.0)
    assert dem.shape[0] == pytest.approx(0.2 * 110_700 / 90, rel=0.05)
    assert np.nanmax(dem.array) > 1400.0


# ------------------------------------------------------------------------------------------
# read_population


def test_population_sum_is_exact_for_aggregation(tmp_path: Path) -> None:
    # 4 x 4 cells of 10 m onto 2 x 2 cells of 20 m: each target cell sums a 2 x 2 block
    people = np.arange(16, dtype=np.float32).reshape(4, 4)
    src = from_origin(500_000, 2_000_040, 10, 10)
    path = _write_tif(tmp_path / "pop.tif", people, src, "EPSG:32648", -99999)
    like = Raster(np.zeros((2, 2)), from_origin(500_000, 2_000_040, 20, 20), UTM48)
    out = read_population(path, like=like)
    # blocks: [0+1+4+5, 2+3+6+7; 8+9+12+13, 10+11+14+15]
    np.testing.assert_allclose(out.array, [[10, 18], [42, 50]])


def test_population_split_is_exact_for_refinement(tmp_path: Path) -> None:
    # one 20 m cell of 100 people onto four 10 m cells: 25 each, not 100 each
    path = _write_tif(
        tmp_path / "one.tif",
        np.array([[100.0]], dtype=np.float32),
        from_origin(0, 20, 20, 20),
        "EPSG:32648",
        None,
    )
    like = Raster(np.zeros((2, 2)), from_origin(0, 20, 10, 10), UTM48)
    np.testing.assert_allclose(read_population(path, like=like).array, 25.0)


def test_population_total_is_conserved_across_crs(tmp_path: Path) -> None:
    # WorldPop-style: 20 x 20 cells of 0.01 degree in EPSG:4326, nodata -99999 in one cell
    rng = np.random.default_rng(7)
    people = rng.uniform(0, 500, (20, 20)).astype(np.float32)
    people[3, 4] = -99999
    path = _write_tif(
        tmp_path / "wp.tif", people, from_origin(105.0, 21.2, 0.01, 0.01), "EPSG:4326", -99999
    )
    total = float(people[people >= 0].sum())
    # a 100 m UTM grid reaching beyond the source on every side
    from pyproj import Transformer

    x0, y1 = Transformer.from_crs("EPSG:4326", UTM48, always_xy=True).transform(104.98, 21.22)
    like = Raster(np.zeros((270, 250)), from_origin(x0, y1, 100, 100), UTM48)
    out = read_population(path, like=like)
    assert out.array.min() >= 0.0
    # conserved up to the projection's area distortion (UTM scale 0.9996..1.0004)
    assert float(out.array.sum()) == pytest.approx(total, rel=2e-3)


@pytest.mark.shared_data
def test_population_of_real_worldpop_is_conserved() -> None:
    if not WORLDPOP.exists():
        pytest.skip(f"WorldPop raster not found at {WORLDPOP} (../shared/data/worldpop)")
    # a 30 m grid (UTM 48N) exactly covering whole WorldPop cells around Vĩnh Yên: 36 x 24
    # cells of 30 arc-seconds, i.e. 0.3 x 0.2 degrees; the people in those cells must all land
    # in the grid, give or take the cells cut by the grid's straight edges
    with rasterio.open(WORLDPOP) as ds:
        window = ds.window(105.45, 21.2, 105.75, 21.4).round_offsets().round_lengths()
        cells = ds.read(1, window=window)
        west, south, east, north = rasterio.windows.bounds(window, ds.transform)
    expected = float(cells[cells >= 0].sum())
    x0, y0, x1, y1 = transform_bounds("EPSG:4326", UTM48, west, south, east, north, densify_pts=51)
    like = Raster(
        np.zeros((math.ceil((y1 - y0) / 30), math.ceil((x1 - x0) / 30))),
        from_origin(x0, y1, 30, 30),
        UTM48,
    )
    out = read_population(WORLDPOP, like=like)
    inside = out.array.sum()
    assert expected > 100_000  # a populated place
    # the grid's box holds the lon/lat box plus slivers of its neighbours (UTM is not aligned
    # with meridians): a little more, never less, than the cells read
    assert expected <= inside <= expected * 1.05


# ------------------------------------------------------------------------------------------
# writing and polygons


def test_write_cog_round_trips(tmp_path: Path) -> None:
    grid = _grid(np.linspace(-120, -60, 600 * 500, dtype=np.float32).reshape(600, 500))
    grid.array[0, 0] = np.nan
    path = write_cog(grid, tmp_path / "out" / "best_dbm.tif")
    with rasterio.open(path) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.crs == UTM48 and ds.transform == grid.transform
        assert math.isnan(ds.nodata)
        assert ds.overviews(1)  # internal overviews
        np.testing.assert_array_equal(ds.read(1), grid.array)
    counts = _grid(np.array([[0, 1], [2, 3]], dtype=np.uint16))
    with rasterio.open(write_cog(counts, tmp_path / "count.tif")) as ds:
        assert ds.dtypes[0] == "uint16"
        np.testing.assert_array_equal(ds.read(1), counts.array)


def test_polygonize_counts_and_areas() -> None:
    mask = np.zeros((5, 5), dtype=bool)
    mask[0, 0:2] = mask[1, 0] = True  # an L of 3 cells
    mask[4, 4] = True  # a lone cell
    polygons = polygonize(mask, from_origin(0, 50, 10, 10), UTM48)
    assert sorted(polygons["area_m2"].tolist()) == [100.0, 300.0]
    assert polygons.crs == UTM48
    assert shapely.equals(
        polygons.geometry.iloc[int(np.argmin(polygons["area_m2"]))], shapely.box(40, 0, 50, 10)
    )
    assert polygonize(np.zeros((3, 3), dtype=bool), from_origin(0, 30, 10, 10), UTM48).empty


def test_polygonize_keeps_a_hole() -> None:
    # a 3 x 3 ring of cells of 10 m around an empty centre: 30 x 30 m less 10 x 10 m
    mask = np.ones((3, 3), dtype=bool)
    mask[1, 1] = False
    (ring,) = polygonize(mask, from_origin(0, 30, 10, 10), UTM48).geometry
    assert ring.area == 800.0 and len(ring.interiors) == 1
    assert shapely.equals(ring, shapely.box(0, 0, 30, 30).difference(shapely.box(10, 10, 20, 20)))


# ------------------------------------------------------------------------------------------
# zonal shares and sampling


def test_zonal_share_of_half_covered_square() -> None:
    # a 40 x 40 m square over 4 x 4 cells of 10 m; the left two columns are covered
    covered = np.zeros((6, 6), dtype=bool)
    covered[:, :3] = True
    grid = _grid(covered)
    x0, y1 = 500_010.0, 2_000_000.0 - 10.0  # square from column 1 to 4, row 1 to 4
    zones = gpd.GeoSeries([shapely.box(x0, y1 - 40, x0 + 40, y1)], crs=UTM48)
    # columns 1, 2 covered, 3, 4 not: 8 of 16 cells
    np.testing.assert_allclose(zonal_shares(zones, grid), [0.5])
    # all the people live in the covered half: population share 1
    people = np.zeros((6, 6))
    people[1:5, 1:3] = 7.0
    np.testing.assert_allclose(zonal_shares(zones, grid, weights=_grid(people)), [1.0])
    # nobody at all: undefined
    assert np.isnan(zonal_shares(zones, grid, weights=_grid(np.zeros((6, 6))))[0])


def test_zonal_share_small_zone_and_outside() -> None:
    covered = np.zeros((4, 4), dtype=bool)
    covered[0, 0] = True
    grid = _grid(covered)
    tiny_in = shapely.box(500_001, 1_999_991, 500_003, 1_999_993)  # inside cell (0, 0)
    tiny_out = shapely.box(500_011, 1_999_991, 500_013, 1_999_993)  # inside cell (0, 1)
    far = shapely.box(0, 0, 10, 10)
    zones = gpd.GeoDataFrame(geometry=[tiny_in, tiny_out, far], crs=UTM48)
    shares = zonal_shares(zones, grid)
    np.testing.assert_array_equal(shares[:2], [1.0, 0.0])
    assert np.isnan(shares[2])
    with pytest.raises(CRSError):
        zonal_shares(gpd.GeoSeries([tiny_in]), grid)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 6),
)
def test_zonal_shares_are_shares_and_order_free(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    grid = _grid(rng.random((20, 20)) < 0.5)
    x = rng.uniform(500_000, 500_150, n)
    y = rng.uniform(1_999_850, 2_000_000, n)
    zones = gpd.GeoSeries(
        shapely.box(x, y - rng.uniform(5, 60, n), x + rng.uniform(5, 60, n), y), crs=UTM48
    )
    shares = zonal_shares(zones, grid)
    assert ((shares >= 0) & (shares <= 1)).all()
    order = rng.permutation(n)
    # disjoint zones give the same share whatever their order
    if bool(shapely.union_all(zones.values).area >= zones.area.sum() - 1e-6):
        np.testing.assert_allclose(zonal_shares(zones.iloc[order], grid), shares[order])


def test_sample_points() -> None:
    values = _grid(np.arange(9, dtype=np.float32).reshape(3, 3))
    points = gpd.GeoSeries(
        shapely.points([[500_005, 1_999_995], [500_025, 1_999_975], [400_000, 0]]), crs=UTM48
    )
    out = sample_points(values, points)
    np.testing.assert_array_equal(out[:2], [0.0, 8.0])
    assert np.isnan(out[2])
    # lon/lat points are reprojected first
    lonlat = points.iloc[:1].to_crs("EPSG:4326")
    assert sample_points(values, lonlat)[0] == 0.0
