"""Raster images for maps: a DEM's hillshade and the received power, as Web Mercator PNGs.

A web map draws an image between two corners and stretches it linearly in Web Mercator
(EPSG:3857), so every grid is warped to that CRS before it is coloured; its corners are then
given in degrees, as Leaflet's ``imageOverlay`` wants them. The map pages of
:mod:`hatangso.scenarios.maps` use these images, inline (``data:`` URIs) in the command line's
self-contained pages and as files the service serves.
"""

from __future__ import annotations

import base64
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

# rasterio is imported where a grid is warped or encoded: a map without a DEM or a power
# grid (the national map) needs only this module's colours and types.
if TYPE_CHECKING:
    from affine import Affine
    from rasterio.crs import CRS

    from hatangso.coverage.rasters import Raster

__all__ = [
    "POWER_SPAN_DB",
    "LatLonBounds",
    "MercatorGrid",
    "data_uri",
    "hillshade",
    "hillshade_png",
    "png_bytes",
    "power_colours",
    "power_png",
    "read_web_mercator",
    "to_web_mercator",
]

#: ``((south, west), (north, east))`` in degrees, as Leaflet takes an image's bounds.
LatLonBounds = tuple[tuple[float, float], tuple[float, float]]

_WEB_MERCATOR = "EPSG:3857"

#: Received power above the threshold, dB, at which the power image's colour saturates.
POWER_SPAN_DB = 40.0


@dataclass(frozen=True)
class MercatorGrid:
    """A grid warped to Web Mercator, ready to be coloured for a map.

    Attributes
    ----------
    values
        The values, float64, rows from north to south; NaN where there are none.
    bounds
        The grid's corners in degrees, ``((south, west), (north, east))``.
    cell_x_m, cell_y_m
        Ground size of a cell east-west and north-south at the grid's middle latitude, metres.
    """

    values: npt.NDArray[np.float64]
    bounds: LatLonBounds
    cell_x_m: float
    cell_y_m: float


def to_web_mercator(
    values: npt.NDArray[Any],
    *,
    transform: Affine,
    crs: CRS | str,
    nodata: float | None = None,
    max_px: int = 1024,
    resampling: Literal["nearest", "bilinear"] = "bilinear",
) -> MercatorGrid:
    """Warp a north-up grid to Web Mercator, at most `max_px` cells on a side.

    Parameters
    ----------
    values
        The grid, shape ``(rows, cols)``; NaN (and `nodata`) are no data.
    transform, crs
        Its georeference.
    nodata
        A value that also means no data.
    max_px
        Largest side of the warped grid, in cells (a larger grid is coarsened).
    resampling
        ``bilinear`` for continuous values (elevation), ``nearest`` to keep values as they are.

    Returns
    -------
    MercatorGrid

    Notes
    -----
    A Web Mercator metre is ``1 / cos(latitude)`` ground metres; the cell sizes are given in
    ground metres at the grid's middle latitude (a province spans a degree or two, over which
    the factor changes by a few percent).
    """
    from affine import Affine
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

    source = np.asarray(values, dtype=np.float64)
    if nodata is not None:
        source = np.where(source == nodata, np.nan, source)
    height, width = source.shape
    left = transform.c
    top = transform.f
    right = left + width * transform.a
    bottom = top + height * transform.e
    dst_transform, dst_width, dst_height = calculate_default_transform(
        crs, _WEB_MERCATOR, width, height, left=left, bottom=bottom, right=right, top=top
    )
    if dst_width is None or dst_height is None:  # pragma: no cover - given dimensions above
        raise RuntimeError("rasterio returned no size for the warped grid")
    scale = max(dst_width, dst_height) / max_px
    if scale > 1:
        dst_width, dst_height = max(int(dst_width / scale), 1), max(int(dst_height / scale), 1)
        dst_transform = dst_transform * Affine.scale(scale, scale)
    out = np.full((dst_height, dst_width), np.nan, dtype=np.float64)
    reproject(
        source,
        out,
        src_transform=transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_transform=dst_transform,
        dst_crs=_WEB_MERCATOR,
        dst_nodata=np.nan,
        resampling=Resampling[resampling],
    )
    west, north = dst_transform * (0, 0)
    east, south = dst_transform * (dst_width, dst_height)
    w, s, e, n = transform_bounds(_WEB_MERCATOR, "EPSG:4326", west, south, east, north)
    cos_mid = float(np.cos(np.deg2rad((s + n) / 2)))
    return MercatorGrid(
        values=out,
        bounds=((float(s), float(w)), (float(n), float(e))),
        cell_x_m=abs(dst_transform.a) * cos_mid,
        cell_y_m=abs(dst_transform.e) * cos_mid,
    )


def read_web_mercator(
    path: str | Path,
    *,
    max_px: int = 1024,
    resampling: Literal["nearest", "bilinear"] = "bilinear",
) -> MercatorGrid:
    """Read band 1 of a raster file warped to Web Mercator (see :func:`to_web_mercator`)."""
    from hatangso.coverage.rasters import open_raster

    with open_raster(path) as src:
        return to_web_mercator(
            src.read(1),
            transform=src.transform,
            crs=src.crs,
            nodata=src.nodata,
            max_px=max_px,
            resampling=resampling,
        )


def hillshade(
    elevation_m: npt.NDArray[np.float64],
    *,
    cell_x_m: float,
    cell_y_m: float,
    azimuth_deg: float = 315.0,
    altitude_deg: float = 45.0,
) -> npt.NDArray[np.float64]:
    """Hillshade of a DEM, in [0, 1] (NaN where the elevation is NaN).

    Parameters
    ----------
    elevation_m
        Elevations, rows from north to south.
    cell_x_m, cell_y_m
        Cell size east-west and north-south, metres.
    azimuth_deg, altitude_deg
        Sun direction (clockwise from north) and height above the horizon.

    Returns
    -------
    numpy.ndarray
        Illumination ``cos(zenith)cos(slope) + sin(zenith)sin(slope)cos(azimuth - aspect)``,
        clipped to [0, 1].

    Notes
    -----
    Slope and aspect from central differences (``numpy.gradient``); the illumination formula is
    the standard one of Burrough and McDonnell, *Principles of GIS* (1998), as used by GDAL's
    ``gdaldem hillshade``. A flat cell gets ``cos(zenith)`` = sin(altitude) (0.707 at 45 degrees).

    Examples
    --------
    >>> flat = np.zeros((3, 3))
    >>> round(float(hillshade(flat, cell_x_m=30, cell_y_m=30)[1, 1]), 3)
    0.707
    """
    dz_dy, dz_dx = np.gradient(elevation_m, cell_y_m, cell_x_m)
    # Rows run north to south, so the northward gradient is the negated row gradient.
    dz_dn = -dz_dy
    slope = np.arctan(np.hypot(dz_dx, dz_dn))
    aspect = np.arctan2(-dz_dx, -dz_dn)  # direction of steepest descent, clockwise from north
    zenith = np.deg2rad(90.0 - altitude_deg)
    azimuth = np.deg2rad(azimuth_deg)
    shade = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(
        azimuth - aspect
    )
    clipped: npt.NDArray[np.float64] = np.clip(shade, 0.0, 1.0)
    return clipped


def png_bytes(rgba: npt.NDArray[np.uint8]) -> bytes:
    """Encode bands ``(count, rows, cols)`` of uint8 (grey, grey + alpha, RGB or RGBA) as a PNG.

    Written directly (PNG specification, W3C 2003: signature, IHDR, one zlib IDAT of
    filter-0 scanlines, IEND), not through GDAL: GDAL's PNG driver warns that a PNG is not
    georeferenced, and silencing that warning is not thread-safe while the outputs are
    written side by side. The page places the image by its bounds.
    """
    bands, height, width = rgba.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[bands]
    pixels = np.ascontiguousarray(np.moveaxis(np.asarray(rgba, dtype=np.uint8), 0, -1))
    rows = pixels.reshape(height, width * bands)
    raw = np.concatenate([np.zeros((height, 1), dtype=np.uint8), rows], axis=1).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def data_uri(png: bytes) -> str:
    """Return a PNG as a ``data:`` URI, for a page that must load nothing."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def hillshade_png(dem: str | Path, *, max_px: int = 1024) -> tuple[bytes, LatLonBounds]:
    """Render a DEM's hillshade as a grey PNG in Web Mercator, with its bounds.

    Voids (SRTM's -32768, the file's nodata) are filled from their neighbours as the terrain
    model fills them (:func:`~hatangso.coverage.rasters.read_dem`) before the grid is warped
    and shaded, so the image has no holes over them; only what lies outside the DEM (and a
    void too large to fill) is transparent.
    """
    from hatangso.coverage.rasters import read_dem

    elevation = read_dem(dem)
    grid = to_web_mercator(
        elevation.array,
        transform=elevation.transform,
        crs=elevation.crs,
        max_px=max_px,
        resampling="bilinear",
    )
    valid = np.isfinite(grid.values)
    filled = np.where(valid, grid.values, np.nanmean(grid.values) if valid.any() else 0.0)
    shade = hillshade(filled, cell_x_m=grid.cell_x_m, cell_y_m=grid.cell_y_m)
    # 32 grey levels: the eye sees no banding under a 55 % opacity overlay, and the PNG
    # compresses several times better than with 256.
    grey = ((shade * 31).round() * (255 / 31)).astype(np.uint8)
    alpha = np.where(valid, 255, 0).astype(np.uint8)
    return png_bytes(np.stack([grey, alpha])), grid.bounds


def power_png(
    power: Raster | str | Path,
    *,
    threshold_dbm: float = -110.0,
    span_db: float = POWER_SPAN_DB,
    max_px: int = 1400,
) -> tuple[bytes, LatLonBounds]:
    """Render a received-power grid (dBm) as a colour PNG in Web Mercator, with its bounds.

    Parameters
    ----------
    power
        The grid (the terrain model's best-server power) or a GeoTIFF of it.
    threshold_dbm
        Power below which a cell is left transparent: terrain shadows show as gaps.
    span_db
        Power above the threshold at which the colour saturates.
    max_px
        Largest side of the image.

    Returns
    -------
    tuple of bytes and LatLonBounds
        The PNG and its corners.

    Notes
    -----
    Cells at or above the threshold run from yellow (weak) to dark green (strong); cells below
    it, and cells no site reaches (NaN), are transparent. Nearest-neighbour warping keeps each
    cell's value, so the edge of coverage stays where the model put it.
    """
    from hatangso.coverage.rasters import Raster

    if isinstance(power, Raster):
        grid = to_web_mercator(
            power.array,
            transform=power.transform,
            crs=power.crs,
            max_px=max_px,
            resampling="nearest",
        )
    else:
        grid = read_web_mercator(power, max_px=max_px, resampling="nearest")
    values = grid.values
    rgba = np.zeros((4, *values.shape), dtype=np.uint8)
    rgba[:3] = power_colours(values, threshold_dbm=threshold_dbm, span_db=span_db)
    rgba[3] = np.where(np.isfinite(values) & (values >= threshold_dbm), 255, 0)
    return png_bytes(rgba), grid.bounds


def power_colours(
    power_dbm: npt.ArrayLike, *, threshold_dbm: float, span_db: float = POWER_SPAN_DB
) -> npt.NDArray[np.uint8]:
    """Colour of received power: bands ``(3, *shape)`` of red, green and blue, uint8.

    The colour runs from yellow at `threshold_dbm` to dark green at ``threshold_dbm +
    span_db`` and above; a map's colour bar takes its stops from here, so that it shows the
    colours :func:`power_png` paints. NaN takes the threshold's colour (the image hides it).

    Examples
    --------
    >>> power_colours([-110.0, -70.0], threshold_dbm=-110.0)[:, 0].tolist()
    [230, 200, 40]
    >>> power_colours([-110.0, -70.0], threshold_dbm=-110.0)[:, 1].tolist()
    [0, 110, 80]
    """
    values = np.asarray(power_dbm, dtype=np.float64)
    t = np.nan_to_num(np.clip((values - threshold_dbm) / span_db, 0.0, 1.0), nan=0.0)
    return np.stack(
        [
            np.round(255 * (1 - t) * 0.9).astype(np.uint8),
            np.round(200 - 90 * t).astype(np.uint8),
            np.round(40 + 40 * t).astype(np.uint8),
        ]
    )
