"""Tests of the map images (hatangso.coverage.overlays): hillshade, power, Web Mercator."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

from hatangso.coverage.overlays import hillshade, power_png, to_web_mercator
from hatangso.coverage.rasters import Raster


def test_hillshade_hand_values() -> None:
    # Flat ground: illumination = cos(zenith) = sin(altitude) = sin(45 deg) = 0.7071.
    assert hillshade(np.zeros((5, 5)), cell_x_m=30, cell_y_m=30)[2, 2] == pytest.approx(
        0.70711, abs=1e-4
    )
    # A plane rising towards the south-east with slope 45 deg faces the north-west sun
    # (azimuth 315): illumination = cos45 cos45 + sin45 sin45 cos(0) = 1.
    # z = a x_east + a y_south with a = 1/sqrt(2) gives |grad z| = 1, i.e. 45 deg.
    a = 1 / np.sqrt(2)
    rows, cols = np.mgrid[0:5, 0:5] * 10.0
    facing = hillshade(a * cols + a * rows, cell_x_m=10, cell_y_m=10)
    assert facing[2, 2] == pytest.approx(1.0, abs=1e-9)
    # The opposite plane faces away: cos45 cos45 + sin45 sin45 cos(180 deg) = 0.
    away = hillshade(-(a * cols + a * rows), cell_x_m=10, cell_y_m=10)
    assert away[2, 2] == pytest.approx(0.0, abs=1e-9)


def _utm_grid(values: np.ndarray) -> Raster:
    # 100 m cells in UTM 48N, north-west corner near 22.0 N, 105.5 E.
    return Raster(
        array=values,
        transform=Affine(100.0, 0, 551_000.0, 0, -100.0, 2_433_000.0),
        crs=CRS.from_epsg(32648),
    )


def test_web_mercator_bounds_are_degrees_around_the_grid() -> None:
    grid = _utm_grid(np.zeros((40, 60)))
    warped = to_web_mercator(grid.array, transform=grid.transform, crs=grid.crs, max_px=32)
    (south, west), (north, east) = warped.bounds
    assert 21.9 < south < north < 22.1 and 105.4 < west < east < 105.6
    assert max(warped.values.shape) <= 32
    # 6 km east-west and 4 km north-south on the ground, whatever the cell count.
    rows, cols = warped.values.shape
    assert cols * warped.cell_x_m == pytest.approx(6000, rel=0.03)
    assert rows * warped.cell_y_m == pytest.approx(4000, rel=0.03)


def test_power_below_the_threshold_is_transparent() -> None:
    values = np.full((20, 20), -130.0)
    values[:, 10:] = -80.0  # the east half is covered
    values[0, 0] = np.nan
    png, _ = power_png(_utm_grid(values), threshold_dbm=-110.0, max_px=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a PNG has no georeference
        with rasterio.open(io.BytesIO(png)) as image:
            alpha = image.read(4)
    assert alpha[:, : alpha.shape[1] // 2 - 1].max() == 0
    assert alpha[:, alpha.shape[1] // 2 + 1 :].min() == 255


def test_a_dem_that_is_not_a_raster_is_named_with_its_fix(tmp_path: Path) -> None:
    from hatangso.coverage.overlays import hillshade_png
    from hatangso.geo.errors import InputError

    broken = tmp_path / "dem.tif"
    broken.write_bytes(b"not a GeoTIFF")
    with pytest.raises(InputError, match=r"dem\.tif.*cannot be read as a raster.*GeoTIFF"):
        hillshade_png(broken)


def _dem_with_void(path: Path, elevation_m: np.ndarray) -> Path:
    # SRTM-like: int16 on 3-arc-second cells (1/1200 degree) near 21.5 N, 105.5 E, nodata -32768,
    # with a 10 x 12 cell void in the middle.
    z = elevation_m.astype(np.int16)
    z[25:35, 20:32] = -32768
    profile = {
        "driver": "GTiff",
        "width": z.shape[1],
        "height": z.shape[0],
        "count": 1,
        "dtype": "int16",
        "crs": "EPSG:4326",
        "transform": Affine(1 / 1200, 0, 105.5, 0, -1 / 1200, 21.5),
        "nodata": -32768,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(z, 1)
    return path


def _grey_and_alpha(png: bytes) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a PNG has no georeference
        with rasterio.open(io.BytesIO(png)) as image:
            return image.read(1).astype(int), image.read(2)


def test_hillshade_has_no_hole_over_a_void(tmp_path: Path) -> None:
    from hatangso.coverage.overlays import hillshade_png

    # Flat ground at 100 m with a void: filled from its neighbours it is flat too, so every
    # pixel is opaque and lit sin(45 deg) = 0.7071, i.e. grey level round(0.7071 * 31) = 22 of
    # 31, stored as int(22 * 255 / 31) = 180. Unfilled, the void was a transparent hole.
    flat = _dem_with_void(tmp_path / "flat.tif", np.full((60, 60), 100))
    grey, alpha = _grey_and_alpha(hillshade_png(flat, max_px=60)[0])
    assert alpha.min() == 255
    assert np.unique(grey).tolist() == [180]

    # A ramp rising 20 m a cell eastwards: cells 1/1200 degree wide are 92.77 m x cos(21.475
    # deg) = 86.33 m on the ground, a slope of atan(20 / 86.33) = 13.04 deg facing west; under
    # the sun at azimuth 315 the light is cos45 cos13.04 + sin45 sin13.04 cos45 = 0.8017, grey
    # level 25, stored 205. The void is interpolated from both sides, not a cliff: its shade
    # stays within two of the 31 levels of the plane's (the interpolation is not exactly
    # planar), and the image is opaque throughout.
    ramp = _dem_with_void(tmp_path / "ramp.tif", np.mgrid[0:60, 0:60][1] * 20)
    grey, alpha = _grey_and_alpha(hillshade_png(ramp, max_px=60)[0])
    assert alpha.min() == 255
    inner = grey[2:-2, 2:-2]  # the outermost cells have one-sided gradients
    assert np.median(inner) == 205
    levels = np.round(inner * 31 / 255)
    assert np.abs(levels - 25).max() <= 2
