"""A national DEM as one argument: a folder of tiles or a ``.vrt`` mosaic, read by window.

The folder opens as a VRT document built from the tiles' headers (no file written); GDAL then
reads a tile only when a window touches it. The answers equal today's merge of a tile list.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import rasterio.merge
import shapely
from rasterio.transform import from_origin

from hatangso.cli import main
from hatangso.coverage.rasters import dem_tiles, mosaic_vrt, open_raster, read_dem
from hatangso.geo.errors import InputError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
TILE = DATA / "dem" / "N21E105.hgt"
SIDE = 1201  # 3 arc-second SRTM tiles


def _hgt(path: Path, array: np.ndarray) -> Path:
    """Write an SRTM tile: big-endian int16, rows from north to south."""
    array.astype(">i2").tofile(path)
    return path


def _two_tiles(folder: Path) -> tuple[Path, Path]:
    """N21E105 rising eastwards 0..1200 m, N21E106 going on from 1200 m: one slope."""
    folder.mkdir(parents=True, exist_ok=True)
    cols = np.arange(SIDE, dtype=np.int32)
    west = _hgt(folder / "N21E105.hgt", np.broadcast_to(cols, (SIDE, SIDE)))
    east = _hgt(folder / "N21E106.hgt", np.broadcast_to(cols + 1200, (SIDE, SIDE)))
    return west, east


BOUNDS = (105.90, 21.40, 106.10, 21.50)  # across the two tiles' shared edge at 106 E


def test_a_folder_reads_as_the_merge_of_its_tiles(tmp_path: Path) -> None:
    west, east = _two_tiles(tmp_path / "srtm")
    (tmp_path / "srtm" / "README.txt").write_text("not a tile", encoding="utf-8")

    assert dem_tiles(tmp_path / "srtm") == [west, east]
    as_list = read_dem([west, east], bounds_wgs84=BOUNDS, dst_crs="EPSG:32648", resolution_m=90)
    as_folder = read_dem(
        tmp_path / "srtm", bounds_wgs84=BOUNDS, dst_crs="EPSG:32648", resolution_m=90
    )

    assert as_folder.transform == as_list.transform
    np.testing.assert_array_equal(as_folder.array, as_list.array)
    # One slope across the edge: 1200 m rise per degree of longitude, ~0.2 deg wide window.
    assert np.nanmin(as_folder.array) < 1200 < np.nanmax(as_folder.array)


def test_the_mosaic_grid_by_hand(tmp_path: Path) -> None:
    _two_tiles(tmp_path)
    with open_raster(tmp_path) as ds:
        # Two 1201-wide tiles sharing their edge column: 2401 columns, the west tile's origin.
        assert (ds.width, ds.height) == (2401, 1201)
        assert ds.transform.c == pytest.approx(105 - 0.5 / 1200)
        assert ds.transform.f == pytest.approx(22 + 0.5 / 1200)
        row = ds.read(1, window=((0, 1), (1195, 1206)))[0]
    # Columns 1195..1199 from the west tile, 1200 = shared column (west wins: 1200 = 0 + 1200
    # either way), then the east tile's 1201.. values.
    assert row.tolist() == list(range(1195, 1206))


def test_a_vrt_file_reads_the_same(tmp_path: Path) -> None:
    _two_tiles(tmp_path / "srtm")
    vrt = tmp_path / "srtm.vrt"
    vrt.write_text(mosaic_vrt(tmp_path / "srtm"), encoding="utf-8")
    from_vrt = read_dem(vrt, bounds_wgs84=BOUNDS, dst_crs="EPSG:32648", resolution_m=90)
    from_folder = read_dem(
        tmp_path / "srtm", bounds_wgs84=BOUNDS, dst_crs="EPSG:32648", resolution_m=90
    )
    np.testing.assert_array_equal(from_vrt.array, from_folder.array)


def test_a_window_reads_only_the_tiles_it_touches(tmp_path: Path) -> None:
    _west, east = _two_tiles(tmp_path / "srtm")
    vrt = tmp_path / "srtm.vrt"
    vrt.write_text(mosaic_vrt(tmp_path / "srtm"), encoding="utf-8")
    east.unlink()  # the east tile is gone: a window in the west tile never needs it

    dem = read_dem(vrt, bounds_wgs84=(105.2, 21.2, 105.3, 21.3))
    assert np.isfinite(dem.array).all()
    assert dem.array.max() < 1200  # the west tile's values only

    with pytest.raises(InputError, match=r"names 1 missing tile\(s\): .*N21E106\.hgt") as info:
        read_dem(vrt, bounds_wgs84=(106.2, 21.2, 106.3, 21.3))
    assert "srtm.vrt" in str(info.value)


def test_voids_of_one_tile_do_not_paint_over_another(tmp_path: Path) -> None:
    # Two tiles covering the same degree, the first in name order all voids on its west half.
    folder = tmp_path / "overlap"
    folder.mkdir()
    first = np.full((SIDE, SIDE), 500, dtype=np.int32)
    first[:, :600] = -32768
    _hgt(folder / "N21E105.hgt", first)
    with rasterio.open(folder / "N21E105.hgt") as ds:
        profile = {"crs": ds.crs, "transform": ds.transform}
    with rasterio.open(
        folder / "z_same_place.tif",
        "w",
        driver="GTiff",
        width=SIDE,
        height=SIDE,
        count=1,
        dtype="int16",
        nodata=-32768,
        **profile,
    ) as out:
        out.write(np.full((SIDE, SIDE), 700, dtype=np.int16), 1)
    with open_raster(folder) as ds:
        values = ds.read(1)
    assert (values[:, :600] == 700).all()  # the void is filled from the second tile
    assert (values[:, 600:] == 500).all()  # elsewhere the first tile wins


def test_folder_errors_name_the_tile_and_the_fix(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"holds no \.hgt, \.tif or \.tiff tile") as info:
        read_dem(empty)
    assert str(empty) in str(info.value)

    mixed = tmp_path / "mixed"
    _two_tiles(mixed)
    with rasterio.open(
        mixed / "utm.tif",
        "w",
        driver="GTiff",
        width=4,
        height=4,
        count=1,
        dtype="float32",
        crs="EPSG:32648",
        transform=from_origin(600_000, 2_400_000, 30, 30),
    ) as out:
        out.write(np.zeros((4, 4), dtype=np.float32), 1)
    with pytest.raises(InputError, match=r"utm\.tif.*CRS .* differs|CRS .* differs") as info:
        read_dem(mixed)
    assert "utm.tif" in str(info.value) and "one CRS" in str(info.value)

    shifted = tmp_path / "shifted"
    _two_tiles(shifted)
    with rasterio.open(shifted / "N21E105.hgt") as ds:
        tf, crs = ds.transform, ds.crs
    with rasterio.open(
        shifted / "half.tif",
        "w",
        driver="GTiff",
        width=4,
        height=4,
        count=1,
        dtype="int16",
        crs=crs,
        transform=tf * tf.translation(0.5, 0),
    ) as out:
        out.write(np.zeros((4, 4), dtype=np.int16), 1)
    with pytest.raises(InputError, match=r"half\.tif.*not aligned"):
        read_dem(shifted)

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "N21E105.hgt").write_bytes(b"not an srtm tile")
    with pytest.raises(InputError, match=r"N21E105\.hgt.*cannot be read as a tile"):
        read_dem(broken)


def test_a_changed_folder_is_read_again(tmp_path: Path) -> None:
    west, _east = _two_tiles(tmp_path)
    with open_raster(tmp_path) as ds:
        assert ds.width == 2401
    _east.unlink()
    with open_raster(tmp_path) as ds:
        assert ds.width == SIDE
    assert dem_tiles(tmp_path) == [west]


@pytest.mark.skipif(not TILE.exists(), reason=f"SRTM tile {TILE} not found")
def test_the_real_tile_in_a_folder_is_the_tile(tmp_path: Path) -> None:
    folder = tmp_path / "srtm"
    folder.mkdir()
    (folder / TILE.name).symlink_to(TILE.resolve())
    bounds = (105.45, 21.35, 105.7, 21.6)  # Tam Đảo
    from_file = read_dem(TILE, bounds_wgs84=bounds, dst_crs="EPSG:32648", resolution_m=90)
    from_folder = read_dem(folder, bounds_wgs84=bounds, dst_crs="EPSG:32648", resolution_m=90)
    assert from_folder.transform == from_file.transform
    np.testing.assert_array_equal(from_folder.array, from_file.array)


# ------------------------------------------------------------------------------------------
# The command line: --dem FOLDER and --dem FILE.vrt give the answers of one merged GeoTIFF


def _coverage(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["hatangso", "coverage", *args])
    with pytest.raises(SystemExit) as info:
        main()
        sys.exit(0)
    return int(info.value.code or 0)


def test_the_command_takes_a_folder_and_a_vrt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    west, east = _two_tiles(tmp_path / "srtm")
    merged = tmp_path / "merged.tif"
    rasterio.merge.merge([str(west), str(east)], dst_path=str(merged), dst_kwds={"driver": "GTiff"})
    vrt = tmp_path / "srtm.vrt"
    vrt.write_text(mosaic_vrt(tmp_path / "srtm"), encoding="utf-8")
    # Villages either side of 106 E, sites on the slope: the terrain model sees both tiles.
    gpd.GeoDataFrame(
        {"village_id": ["W1", "W2", "E1", "E2"], "name": ["W1", "W2", "E1", "E2"]},
        geometry=shapely.points(
            [(105.97, 21.45), (105.99, 21.47), (106.01, 21.45), (106.04, 21.44)]
        ),
        crs=4326,
    ).to_file(tmp_path / "villages.geojson")
    gpd.GeoDataFrame(
        {
            "site_id": ["S1", "S2"],
            "operator": ["Viettel", "VNPT"],
            "tech": ["4G", "4G"],
            "height_m": [30.0, 30.0],
        },
        geometry=shapely.points([(105.98, 21.46), (106.02, 21.45)]),
        crs=4326,
    ).to_file(tmp_path / "sites.geojson")
    (tmp_path / "terrain.yaml").write_text(
        "mobile: {model: terrain, rule: point}\nterrain: {radius_m: 3000, resolution_m: 100}\n",
        encoding="utf-8",
    )
    answers = {}
    for label, dem in (("tif", merged), ("folder", tmp_path / "srtm"), ("vrt", vrt)):
        out = tmp_path / f"out-{label}"
        code = _coverage(
            monkeypatch,
            *("--villages", str(tmp_path / "villages.geojson")),
            *("--sites", str(tmp_path / "sites.geojson"), "--dem", str(dem)),
            *("--config", str(tmp_path / "terrain.yaml"), "--out", str(out), "--quiet"),
        )
        assert code == 0
        kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
        villages = gpd.read_file(out / "villages.gpkg")
        answers[label] = (
            json.dumps([(k["code"], k.get("value")) for k in kpis["indicators"]]),
            villages.drop(columns="geometry"),
        )
    for label in ("folder", "vrt"):
        assert answers[label][0] == answers["tif"][0]
        pd.testing.assert_frame_equal(answers[label][1], answers["tif"][1])
    assert answers["tif"][1]["covered_mobile"].any()


def test_an_empty_dem_folder_on_the_command_line_is_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "srtm").mkdir()
    gpd.GeoDataFrame(
        {"village_id": ["V1"], "name": ["V1"]}, geometry=shapely.points([(105.5, 21.5)]), crs=4326
    ).to_file(tmp_path / "villages.geojson")
    gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": ["Viettel"], "tech": ["4G"]},
        geometry=shapely.points([(105.5, 21.5)]),
        crs=4326,
    ).to_file(tmp_path / "sites.geojson")
    code = _coverage(
        monkeypatch,
        *("--villages", str(tmp_path / "villages.geojson")),
        *("--sites", str(tmp_path / "sites.geojson"), "--dem", str(tmp_path / "srtm")),
        *("--out", str(tmp_path / "out"), "--quiet"),
    )
    err = capsys.readouterr().err
    assert code != 0
    assert "holds no .hgt, .tif or .tiff tile" in err and "Traceback" not in err
    shutil.rmtree(tmp_path / "srtm")


def test_a_scenario_file_may_name_a_folder_of_tiles(tmp_path: Path) -> None:
    import yaml

    from hatangso.scenarios.run import run_scenario

    _two_tiles(tmp_path / "srtm")
    gpd.GeoDataFrame(
        {"village_id": ["W1", "E1"], "name": ["W1", "E1"], "commune": "Xã Thử"},
        geometry=shapely.points([(105.99, 21.45), (106.01, 21.45)]),
        crs=4326,
    ).to_file(tmp_path / "villages.geojson")
    gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": ["Viettel"], "tech": ["4G"], "height_m": [30.0]},
        geometry=shapely.points([(106.0, 21.45)]),
        crs=4326,
    ).to_file(tmp_path / "sites.geojson")
    scenario = {
        "name": "two-tiles",
        "title": "Hai mảnh",
        "description": "hand-made",
        "scope": {"province": "Tỉnh Thử"},
        "data": {"villages": "villages.geojson", "sites": "sites.geojson", "dem": "srtm"},
        "years": [2025],
        "model": {"terrain": {"radius_m": 3000, "resolution_m": 100}},
        "targets": {"village_mobile_coverage": {2025: 100}},
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, allow_unicode=True), encoding="utf-8")
    run_scenario(path, tmp_path / "out")
    villages = gpd.read_file(tmp_path / "out" / "villages.gpkg")
    # The terrain model ran on both tiles: a received power at each village either side.
    assert villages["best_dbm"].notna().all()
    assert villages["covered_mobile"].all()
