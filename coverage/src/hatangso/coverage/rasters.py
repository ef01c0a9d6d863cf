"""Rasters: elevation and population grids in, coverage grids out.

The terrain engine works on one north-up grid in a projected (metric) CRS. This module reads a
digital elevation model (GeoTIFF, an SRTM ``.hgt`` tile through GDAL's SRTMHGT driver, a GDAL
``.vrt`` mosaic, or a folder of tiles, see :func:`mosaic_vrt`) and a
population grid (WorldPop style, people per cell) onto such a grid, writes cloud-optimised
GeoTIFFs, turns coverage masks into polygons and measures what share of each village a mask
covers.

Only the part of a file that a run needs is read: :func:`read_dem` and :func:`read_population`
compute a window from the requested bounds and read that window alone, so a province never loads
a whole continent of elevations. A national DEM is one argument: a folder of SRTM tiles is
opened as a virtual mosaic (a GDAL VRT document built in memory from the tiles' headers), and
GDAL opens and reads a tile only when a window touches it.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.errors
import rasterio.features
import rasterio.fill
import rasterio.windows
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.io import DatasetReader
from rasterio.warp import aligned_target, calculate_default_transform, reproject, transform_bounds

from hatangso.geo.errors import CRSError, InputError, Problem
from hatangso.geo.outputs import atomic_write

__all__ = [
    "DEM_TILE_SUFFIXES",
    "Raster",
    "dem_tiles",
    "mosaic_vrt",
    "open_raster",
    "polygonize",
    "read_dem",
    "read_population",
    "sample_points",
    "write_cog",
    "zonal_shares",
]

log = logging.getLogger(__name__)

# rasterio builds the in-memory grid of `rasterio.features.shapes` (:func:`polygonize`) before
# setting its transform, and silences the warning that this raises with
# ``warnings.catch_warnings``, which is not thread-safe: when a writer thread (pyogrio uses it
# too) leaves its own at the same moment, the silencing is undone and a spurious "Dataset has
# no geotransform" is printed. hatangso never relies on that warning (its raster readers
# refuse a raster without a CRS themselves), so it is ignored here, where the grids are
# polygonized.
warnings.filterwarnings(
    "ignore",
    message="Dataset has no geotransform, gcps, or rpcs",
    category=rasterio.errors.NotGeoreferencedWarning,
)

PathLike = str | os.PathLike[str]

#: Extra source cells read around the requested bounds, so that bilinear resampling and void
#: filling at the window's edge see real neighbours.
_EDGE_CELLS = 8


@dataclass(frozen=True)
class Raster:
    """A single-band, north-up grid with its georeference.

    Attributes
    ----------
    array
        The values, shape ``(rows, cols)``. Float grids use NaN for "no data".
    transform
        Affine transform from (col, row) to (x, y) of the cells' upper-left corners.
    crs
        Coordinate reference system of ``transform``.
    """

    array: npt.NDArray[Any]
    transform: Affine
    crs: CRS

    def __post_init__(self) -> None:
        if self.array.ndim != 2:
            raise ValueError(f"a Raster holds a 2-D array, got shape {self.array.shape}")
        if self.transform.b != 0.0 or self.transform.d != 0.0 or self.transform.e >= 0.0:
            raise ValueError("a Raster must be north-up (no rotation, negative y step)")

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        rows, cols = self.array.shape
        return int(rows), int(cols)

    @property
    def res(self) -> tuple[float, float]:
        """Cell size ``(dx, dy)``, both positive, in CRS units."""
        return float(self.transform.a), float(-self.transform.e)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in CRS units."""
        rows, cols = self.shape
        left, top = float(self.transform.c), float(self.transform.f)
        dx, dy = self.res
        return left, top - rows * dy, left + cols * dx, top

    @property
    def cell_area_m2(self) -> float:
        """Area of one cell in square metres (projected CRS only).

        Raises
        ------
        CRSError
            If the CRS is geographic: an area in square degrees is meaningless.
        """
        _require_projected(self.crs, "a cell area")
        dx, dy = self.res
        return dx * dy

    def with_array(self, array: npt.NDArray[Any]) -> Raster:
        """Return a raster on the same grid holding ``array``."""
        if array.shape != self.array.shape:
            raise ValueError(f"shape {array.shape} differs from the grid's {self.array.shape}")
        return Raster(array=array, transform=self.transform, crs=self.crs)


def _require_projected(crs: CRS | None, what: str) -> None:
    if crs is None or not crs.is_projected:
        raise CRSError(
            f"{what} needs a projected (metric) CRS, got {crs}; reproject first, e.g. "
            "read_dem(..., dst_crs='EPSG:32648') or the province's VN-2000 zone"
        )


#: The files of a DEM folder that :func:`mosaic_vrt` takes as tiles.
DEM_TILE_SUFFIXES: tuple[str, ...] = (".hgt", ".tif", ".tiff")

_TILE_FIX = (
    "give a folder holding only tiles of one CRS and one cell size (SRTM .hgt tiles named like "
    "N21E105.hgt, or GeoTIFFs), or a .vrt mosaic"
)


def open_raster(path: PathLike) -> DatasetReader:
    """Open a raster file for reading, or name the file and the fix when GDAL cannot.

    The one way hatangso opens an input raster: a file that is not a raster (a broken
    upload, a renamed text file) is an :class:`~hatangso.geo.errors.InputError`, never
    GDAL's own error. A folder opens as the mosaic of its tiles (:func:`mosaic_vrt`); a
    ``.vrt`` file is GDAL's own mosaic. Either way no pixel is read until a window is.
    """
    if os.path.isdir(path):
        document = mosaic_vrt(path)
        try:
            return rasterio.open(document)
        except rasterio.errors.RasterioIOError as exc:
            raise _open_error(path, exc) from exc
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise _open_error(path, exc) from exc


def _open_error(path: PathLike, exc: Exception) -> InputError:
    return InputError(
        Problem(
            file=str(path),
            message=f"cannot be read as a raster ({exc})",
            fix="give a GeoTIFF, an SRTM .hgt tile (named like N21E105.hgt), a .vrt mosaic or a "
            "folder of such tiles",
        )
    )


def dem_tiles(folder: PathLike) -> list[Path]:
    """Return the tiles of a DEM folder: its ``.hgt``, ``.tif`` and ``.tiff`` files, sorted.

    Only the folder itself is listed, not its subfolders; other files (a README, checksums)
    are left alone.

    Raises
    ------
    InputError
        If the folder holds no tile.
    """
    root = Path(folder)
    tiles = sorted(
        p for p in root.iterdir() if p.is_file() and p.suffix.lower() in DEM_TILE_SUFFIXES
    )
    if not tiles:
        raise InputError(
            Problem(
                file=str(root),
                message="the folder holds no .hgt, .tif or .tiff tile",
                fix=_TILE_FIX,
            )
        )
    return tiles


def _listing_key(tiles: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    key = []
    for tile in tiles:
        try:
            stat = tile.stat()
        except OSError as exc:
            raise _open_error(tile, exc) from exc
        key.append((str(tile.resolve()), stat.st_size, stat.st_mtime_ns))
    return tuple(key)


def mosaic_vrt(source: PathLike | Sequence[PathLike]) -> str:
    """Return a GDAL VRT document that mosaics the tiles of a DEM folder, or a list of tiles.

    Parameters
    ----------
    source
        A folder of tiles (:func:`dem_tiles`), or the tiles themselves: SRTM ``.hgt`` tiles,
        GeoTIFFs, or both, of one CRS and one cell size, on one grid.

    Returns
    -------
    str
        The VRT XML (GDAL's VRT format, https://gdal.org/drivers/raster/vrt.html), with the
        tiles' absolute paths. :func:`open_raster` opens it without writing a file.

    Raises
    ------
    InputError
        If the folder holds no tile, a tile cannot be read, or tiles differ in CRS or cell
        size, or are not aligned on one grid; the message names the tile.

    Notes
    -----
    Only each tile's header is read here, never its pixels. Where tiles overlap (SRTM tiles
    share their edge rows and columns) the first tile wins (a folder's in name order); a
    tile's voids (its nodata) never paint over another tile's
    elevations. The document is cached per folder listing (names, sizes, modification
    times), so a changed folder is read again.

    Examples
    --------
    Two made-up SRTM tiles side by side make one grid 2 401 cells wide (they share a column):

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name, height in (("N21E105.hgt", 10), ("N21E106.hgt", 20)):
    ...     np.full((1201, 1201), height, dtype=">i2").tofile(folder / name)
    >>> with open_raster(folder) as ds:
    ...     ds.width, ds.height, int(ds.read(1)[0, 0]), int(ds.read(1)[0, -1])
    (2401, 1201, 10, 20)
    """
    if isinstance(source, str | os.PathLike):
        tiles = dem_tiles(source)
    else:
        tiles = [Path(p) for p in source]
    return _mosaic_document(_listing_key(tiles))


@functools.lru_cache(maxsize=16)
def _mosaic_document(listing: tuple[tuple[str, int, int], ...]) -> str:
    headers = []
    for name, _size, _mtime in listing:
        try:
            with rasterio.open(name) as ds:
                headers.append(
                    (name, ds.crs, ds.transform, ds.width, ds.height, ds.dtypes[0], ds.nodata)
                )
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(
                Problem(file=name, message=f"cannot be read as a tile ({exc})", fix=_TILE_FIX)
            ) from exc
    first_name, crs, tf0, *_rest = headers[0]
    if crs is None:
        raise CRSError(f"{first_name}: the tile has no CRS; assign one (e.g. with gdal_edit)")
    dx, dy = tf0.a, -tf0.e
    lefts, tops, cols, rows = [], [], [], []
    for name, tile_crs, tf, width, height, _dtype, _nodata in headers:
        if tile_crs != crs:
            raise InputError(
                Problem(
                    file=name,
                    message=f"its CRS {tile_crs} differs from {crs} of {first_name}",
                    fix=_TILE_FIX,
                )
            )
        if (
            tf.b
            or tf.d
            or not math.isclose(tf.a, dx, rel_tol=1e-9)
            or not math.isclose(-tf.e, dy, rel_tol=1e-9)
        ):
            raise InputError(
                Problem(
                    file=name,
                    message=f"its cells ({tf.a:g} x {-tf.e:g}) differ from {dx:g} x {dy:g} of "
                    f"{first_name}, or it is rotated",
                    fix=_TILE_FIX,
                )
            )
        col, row = (tf.c - tf0.c) / dx, (tf0.f - tf.f) / dy
        if abs(col - round(col)) > 1e-3 or abs(row - round(row)) > 1e-3:
            raise InputError(
                Problem(
                    file=name,
                    message=f"it is not aligned on the grid of {first_name} (offset by a "
                    "fraction of a cell)",
                    fix=_TILE_FIX,
                )
            )
        lefts.append(round(col))
        tops.append(round(row))
        cols.append(width)
        rows.append(height)
    col0, row0 = min(lefts), min(tops)
    width = max(c + w for c, w in zip(lefts, cols, strict=True)) - col0
    height = max(r + h for r, h in zip(tops, rows, strict=True)) - row0
    dtypes = {h[5] for h in headers}
    dtype = dtypes.pop() if len(dtypes) == 1 else "float32"
    gdal_type = {
        "int16": "Int16",
        "uint16": "UInt16",
        "int32": "Int32",
        "uint32": "UInt32",
        "float32": "Float32",
        "float64": "Float64",
        "uint8": "Byte",
        "int8": "Int8",
    }.get(dtype, "Float32")
    nodata = headers[0][6]
    origin_x, origin_y = tf0.c + col0 * dx, tf0.f - row0 * dy
    sources = []
    # GDAL paints sources in order, the last on top: the first tile is written last, so it wins.
    for (name, *_h, tile_nodata), col, row, w, h in reversed(
        list(zip(headers, lefts, tops, cols, rows, strict=True))
    ):
        no = "" if tile_nodata is None else f"<NODATA>{tile_nodata!r}</NODATA>"
        sources.append(
            "<ComplexSource>"
            f'<SourceFilename relativeToVRT="0">{_xml_text(name)}</SourceFilename>'
            "<SourceBand>1</SourceBand>"
            f'<SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
            f'<DstRect xOff="{col - col0}" yOff="{row - row0}" xSize="{w}" ySize="{h}"/>'
            f"{no}</ComplexSource>"
        )
    band_nodata = "" if nodata is None else f"<NoDataValue>{nodata!r}</NoDataValue>"
    return (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">'
        f"<SRS>{_xml_text(crs.to_wkt())}</SRS>"
        f"<GeoTransform>{origin_x!r}, {dx!r}, 0, {origin_y!r}, 0, {-dy!r}</GeoTransform>"
        f'<VRTRasterBand dataType={quoteattr(gdal_type)} band="1">{band_nodata}'
        + "".join(sources)
        + "</VRTRasterBand></VRTDataset>"
    )


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_VRT_SOURCE = re.compile(r"<SourceFilename[^>]*>([^<]*)</SourceFilename>")


def _missing_sources(path: PathLike) -> list[str]:
    """Return the source files a ``.vrt`` file names that do not exist (small files only)."""
    if not str(path).lower().endswith(".vrt") or os.path.isdir(path):
        return []
    try:
        if os.path.getsize(path) > 16 << 20:
            return []
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    base = Path(path).resolve().parent
    missing = []
    for match in _VRT_SOURCE.finditer(text):
        source = match.group(1).strip()
        if source.startswith("/vsi"):
            continue
        full = Path(source) if Path(source).is_absolute() else base / source
        if not full.exists():
            missing.append(str(full))
    return missing


def _window_for(
    ds: DatasetReader,
    bounds: tuple[float, float, float, float] | None,
    *,
    name: PathLike | None = None,
) -> rasterio.windows.Window:
    """Whole-cell window of `ds` covering `bounds` (dataset CRS) plus an edge, clipped.

    `name` is the file the user gave (a folder's mosaic has no file name of its own).
    """
    if bounds is None:
        return rasterio.windows.Window(0, 0, ds.width, ds.height)
    inv = ~ds.transform
    left, bottom, right, top = bounds
    cols_rows = [
        inv * (x, y) for x, y in ((left, top), (right, top), (left, bottom), (right, bottom))
    ]
    col0 = math.floor(min(c for c, _ in cols_rows)) - _EDGE_CELLS
    col1 = math.ceil(max(c for c, _ in cols_rows)) + _EDGE_CELLS
    row0 = math.floor(min(r for _, r in cols_rows)) - _EDGE_CELLS
    row1 = math.ceil(max(r for _, r in cols_rows)) + _EDGE_CELLS
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, ds.width), min(row1, ds.height)
    if col1 <= col0 or row1 <= row0:
        raise InputError(
            Problem(
                file=str(ds.name if name is None else name),
                message=f"does not overlap the requested area {bounds} (in {ds.crs})",
                fix="give the raster that covers the province, or check the bounds' CRS",
            )
        )
    return rasterio.windows.Window(col0, row0, col1 - col0, row1 - row0)


def _read_window(
    paths: Sequence[PathLike], bounds_wgs84: tuple[float, float, float, float] | None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_], Affine, CRS]:
    """Read the part of one or several tiles covering `bounds_wgs84`, with a validity mask."""
    try:
        return _read_window_of(paths, bounds_wgs84)
    except rasterio.errors.RasterioIOError as exc:
        raise _read_error(paths[0], exc) from exc


def _read_error(path: PathLike, exc: Exception) -> InputError:
    missing = _missing_sources(path)
    if missing:
        return InputError(
            Problem(
                file=str(path),
                message=f"the mosaic names {len(missing)} missing tile(s): "
                + ", ".join(missing[:5]),
                fix="put the missing tiles back, or rebuild the .vrt from the tiles you have",
            )
        )
    return InputError(
        Problem(
            file=str(path),
            message=f"cannot be read ({exc})",
            fix="check the file (and, for a mosaic, every tile it names) is a complete raster",
        )
    )


def _read_window_of(
    paths: Sequence[PathLike], bounds_wgs84: tuple[float, float, float, float] | None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_], Affine, CRS]:
    # Several tiles are one mosaic: GDAL reads each only where the window touches it, on the
    # tiles' own grid (no resampling at the seams).
    source = open_raster(paths[0]) if len(paths) == 1 else rasterio.open(mosaic_vrt(paths))
    with source as ds:
        crs = ds.crs
        if crs is None:
            raise CRSError(f"{paths[0]}: the raster has no CRS; assign one (e.g. with gdal_edit)")
        src_bounds = None
        if bounds_wgs84 is not None:
            src_bounds = transform_bounds("EPSG:4326", crs, *bounds_wgs84, densify_pts=21)
        nodata = ds.nodata
        window = _window_for(ds, src_bounds, name=paths[0])
        data = ds.read(1, window=window, out_dtype="float32")
        transform = ds.window_transform(window)
    valid = np.isfinite(data)
    if nodata is not None and not math.isnan(nodata):
        valid &= data != np.float32(nodata)
    return data, valid, transform, crs


def _as_paths(path: PathLike | Sequence[PathLike]) -> list[PathLike]:
    if isinstance(path, str | os.PathLike):
        return [path]
    paths = list(path)
    if not paths:
        raise ValueError("no raster path given")
    return paths


def read_dem(
    path: PathLike | Sequence[PathLike],
    *,
    bounds_wgs84: tuple[float, float, float, float] | None = None,
    dst_crs: str | CRS | None = None,
    resolution_m: float | None = None,
    max_fill_distance_cells: float = 100.0,
) -> Raster:
    """Read a digital elevation model onto a metric grid, voids filled.

    Parameters
    ----------
    path
        A GeoTIFF or SRTM ``.hgt`` tile, a GDAL ``.vrt`` mosaic, a folder of such tiles (one
        mosaic, :func:`mosaic_vrt`), or several tiles of one CRS (merged, first wins where
        they overlap). Of a mosaic only the tiles the window touches are opened and read, so
        the memory a read takes is bounded by the window (rows x columns x 4 bytes, twice
        over while voids are filled), not by the mosaic.
    bounds_wgs84
        ``(west, south, east, north)`` in degrees: only the window covering it (plus a few cells)
        is read. The whole file when omitted. Include the terrain radius around the sites.
    dst_crs
        Projected CRS to reproject to (bilinear). Kept as the file's when omitted.
    resolution_m
        Cell size of the reprojected grid, in metres. The DEM's own cell size (rounded to whole
        metres) is kept when it is coarser than this (upsampling adds no terrain detail), and
        used when this is omitted. Only with `dst_crs`.
    max_fill_distance_cells
        How far, in cells, a void is filled from valid neighbours.

    Returns
    -------
    Raster
        ``float32`` elevations in metres; NaN only outside the source's coverage or in voids too
        large to fill.

    Raises
    ------
    InputError
        If the file cannot be read or does not overlap `bounds_wgs84`.
    CRSError
        If the file has no CRS or `dst_crs` is not projected.

    Notes
    -----
    Voids (SRTM's -32768 and the file's nodata) are filled by GDAL's inverse-distance
    interpolation (``GDALFillNodata``, through :func:`rasterio.fill.fillnodata`) before
    reprojection, so that the bilinear resampling never mixes a void into valid cells.

    Examples
    --------
    A made-up SRTM tile (3", 1201 x 1201 big-endian int16) whose ground rises one metre a row
    southwards, read around Tam Đảo onto 90 m cells of UTM 48N:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> tile = Path(tempfile.mkdtemp()) / "N21E105.hgt"
    >>> np.broadcast_to(np.arange(1201, dtype=">i2")[:, None], (1201, 1201)).tofile(tile)
    >>> dem = read_dem(tile, bounds_wgs84=(105.4, 21.3, 105.5, 21.4),
    ...                dst_crs="EPSG:32648", resolution_m=90.0)
    >>> dem.shape, dem.res
    ((125, 117), (90.0, 90.0))
    >>> round(float(dem.array.min())), round(float(dem.array.max()))
    (720, 841)
    """
    paths = _as_paths(path)
    data, valid, transform, src_crs = _read_window(paths, bounds_wgs84)
    n_void = int(valid.size - np.count_nonzero(valid))
    if n_void:
        # GDALFillNodata rewrites the cells whose mask is 0 from their valid neighbours; voids
        # farther than the search distance keep their input value, NaN.
        data = rasterio.fill.fillnodata(
            np.where(valid, data, np.float32(np.nan)),
            mask=valid.astype(np.uint8),
            max_search_distance=max_fill_distance_cells,
        ).astype(np.float32)
        log.info(
            "%s: filled %d of %d void cells",
            paths[0],
            n_void - int(np.count_nonzero(np.isnan(data))),
            n_void,
        )
    if dst_crs is None:
        if resolution_m is not None:
            raise ValueError("resolution_m needs dst_crs (the grid to resample onto)")
        return Raster(array=data, transform=transform, crs=src_crs)
    dst = CRS.from_user_input(dst_crs)
    _require_projected(dst, "the terrain grid")
    rows, cols = data.shape
    left, top = transform.c, transform.f
    right, bottom = left + cols * transform.a, top + rows * transform.e
    default_tf, _, _ = calculate_default_transform(
        src_crs, dst, cols, rows, left, bottom, right, top
    )
    native_m = float(round(default_tf.a))  # whole metres: 3 arc-seconds give 90 m, not 89.7
    res = native_m if resolution_m is None else max(float(resolution_m), native_m)
    if bounds_wgs84 is not None:
        x0, y0, x1, y1 = transform_bounds("EPSG:4326", dst, *bounds_wgs84, densify_pts=21)
    else:
        x0, y0, x1, y1 = transform_bounds(src_crs, dst, left, bottom, right, top, densify_pts=21)
    width = max(1, math.ceil((x1 - x0) / res))
    height = max(1, math.ceil((y1 - y0) / res))
    dst_tf, width, height = aligned_target(Affine(res, 0.0, x0, 0.0, -res, y1), width, height, res)
    out = np.full((height, width), np.nan, dtype=np.float32)
    reproject(
        source=data,
        destination=out,
        src_transform=transform,
        src_crs=src_crs,
        src_nodata=np.nan,
        dst_transform=dst_tf,
        dst_crs=dst,
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    return Raster(array=out, transform=dst_tf, crs=dst)


def read_population(path: PathLike, *, like: Raster) -> Raster:
    """Resample a people-per-cell grid onto `like`'s grid, conserving people.

    Parameters
    ----------
    path
        A population raster (e.g. WorldPop's ``ppp`` GeoTIFF: people per cell).
    like
        The grid to resample onto (typically the DEM's).

    Returns
    -------
    Raster
        ``float64`` people per cell of `like`; 0 where the source has no data.

    Raises
    ------
    InputError
        If the file cannot be read or does not overlap `like`.

    Notes
    -----
    People are counts, so cells are summed, not averaged: GDAL's ``sum`` resampling (GDAL >= 3.1)
    weights each source cell by the fraction of its area falling in the target cell, in both
    directions (many source cells into one, or one split over many). The total over the common
    area is thus kept, up to the map projection's area distortion (below 0.1 % in a UTM zone).
    Source nodata and negative values count as nobody.
    """
    with open_raster(path) as ds:
        if ds.crs is None:
            raise CRSError(f"{path}: the population raster has no CRS; assign one")
        src_bounds = transform_bounds(like.crs, ds.crs, *like.bounds, densify_pts=21)
        window = _window_for(ds, src_bounds)
        people = ds.read(1, window=window, out_dtype="float64")
        valid = np.isfinite(people) & (people > 0.0)
        if ds.nodata is not None and not math.isnan(ds.nodata):
            valid &= people != ds.nodata
        people = np.where(valid, people, 0.0)
        src_tf = ds.window_transform(window)
        src_crs = ds.crs
    out = np.zeros(like.shape, dtype=np.float64)
    reproject(
        source=people,
        destination=out,
        src_transform=src_tf,
        src_crs=src_crs,
        dst_transform=like.transform,
        dst_crs=like.crs,
        resampling=Resampling.sum,
    )
    return like.with_array(out)


def write_cog(raster: Raster, path: PathLike, *, nodata: float | None = None) -> Path:
    """Write a cloud-optimised GeoTIFF (tiled, DEFLATE, internal overviews).

    Parameters
    ----------
    raster
        The grid to write; its array's dtype is kept (bool is written as ``uint8``).
    path
        Output file.
    nodata
        Nodata value to declare; NaN for float grids when omitted.

    Returns
    -------
    Path
        The path written.

    Notes
    -----
    GDAL's COG driver lays the file out with the overviews and tile index first, so that an HTTP
    client can read any window with range requests. The file is written beside the destination
    and moved into place (:func:`hatangso.geo.outputs.atomic_write`): a reader never sees half
    of it.
    """
    array = raster.array
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    if nodata is None and np.issubdtype(array.dtype, np.floating):
        nodata = float("nan")
    overview = "average" if np.issubdtype(array.dtype, np.floating) else "nearest"
    rows, cols = raster.shape

    def write(tmp: Path) -> None:
        with rasterio.open(
            tmp,
            "w",
            driver="COG",
            width=cols,
            height=rows,
            count=1,
            dtype=array.dtype,
            crs=raster.crs,
            transform=raster.transform,
            nodata=nodata,
            compress="DEFLATE",
            blocksize=256,
            overview_resampling=overview,
        ) as ds:
            ds.write(array, 1)

    return atomic_write(Path(path), write)


def polygonize(mask: npt.NDArray[np.bool_], transform: Affine, crs: CRS | str) -> gpd.GeoDataFrame:
    """Turn the true cells of a mask into polygons.

    Parameters
    ----------
    mask
        Boolean grid.
    transform, crs
        Its georeference.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per 4-connected group of true cells: ``area_m2`` (float, in CRS units
        squared) and ``geometry`` (Polygon, possibly with holes), in `crs`; a default
        RangeIndex. Empty when no cell is true.
    """
    mask = np.asarray(mask, dtype=bool)
    pieces = rasterio.features.shapes(
        mask.astype(np.uint8), mask=mask, transform=transform, connectivity=4
    )
    # GDAL hands each polygon over as GeoJSON-like rings; their coordinates are gathered into
    # one array and the polygons built at once (shapely.geometry.shape per polygon took most of
    # the time on a province's coverage grids).
    ring_sizes: list[int] = []
    rings_per_polygon: list[int] = []
    coords: list[tuple[float, float]] = []
    for geojson, _ in pieces:
        rings = geojson["coordinates"]
        rings_per_polygon.append(len(rings))
        for ring in rings:
            ring_sizes.append(len(ring))
            coords.extend(ring)
    if rings_per_polygon:
        array = shapely.from_ragged_array(
            shapely.GeometryType.POLYGON,
            np.asarray(coords, dtype=np.float64).reshape(-1, 2),
            (
                np.concatenate([[0], np.cumsum(ring_sizes)]).astype(np.int64),
                np.concatenate([[0], np.cumsum(rings_per_polygon)]).astype(np.int64),
            ),
        )
    else:
        array = np.empty(0, dtype=object)
    return gpd.GeoDataFrame(
        {"area_m2": shapely.area(array).astype(np.float64)}, geometry=list(array), crs=crs
    )


def _cell_index(
    raster: Raster, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Row, column and inside-flag of points, vectorised."""
    left, _, _, top = raster.bounds
    dx, dy = raster.res
    with np.errstate(invalid="ignore"):
        col = np.floor((x - left) / dx)
        row = np.floor((top - y) / dy)
    rows, cols = raster.shape
    inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
    col = np.where(inside, col, 0).astype(np.intp)
    row = np.where(inside, row, 0).astype(np.intp)
    return row, col, inside


def _to_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS, what: str) -> Any:
    if frame.crs is None:
        raise CRSError(f"the {what} carry no CRS; set one before comparing with the raster")
    return frame if CRS.from_user_input(frame.crs) == crs else frame.to_crs(crs)


def sample_points(raster: Raster, points: gpd.GeoSeries) -> npt.NDArray[np.float64]:
    """Values of the cells under points.

    Parameters
    ----------
    raster
        The grid.
    points
        Point geometries (other geometries are sampled at their representative point), in any
        CRS (reprojected to the raster's).

    Returns
    -------
    numpy.ndarray
        ``float64``, one per point, in order; NaN outside the grid or for empty geometries.
    """
    points = _to_crs(points, raster.crs, "points")
    geoms = shapely.point_on_surface(np.asarray(points.values, dtype=object))
    x = shapely.get_x(geoms)
    y = shapely.get_y(geoms)
    row, col, inside = _cell_index(raster, x, y)
    values = raster.array[row, col].astype(np.float64)
    return np.where(inside, values, np.nan)


def zonal_shares(
    zones: gpd.GeoDataFrame | gpd.GeoSeries,
    mask: Raster,
    *,
    weights: Raster | None = None,
) -> npt.NDArray[np.float64]:
    """Share of each zone's area (or weight) that a mask covers.

    Parameters
    ----------
    zones
        Polygons (villages), in any CRS (reprojected to the mask's).
    mask
        Boolean grid: covered cells are true.
    weights
        Optional grid on the same grid as `mask` (e.g. people per cell): the share is then of
        the zone's weight, not its area.

    Returns
    -------
    numpy.ndarray
        ``float64`` in [0, 1], one per zone, in order. A zone smaller than every cell centre it
        touches takes the mask's value (0 or 1) at its representative point. NaN for a zone
        outside the grid, and, with `weights`, for a zone whose cells weigh nothing in total.

    Raises
    ------
    ValueError
        If `weights` is not on `mask`'s grid.

    Notes
    -----
    A cell belongs to the zone containing its centre (GDAL rasterisation without
    ``all_touched``); where zones overlap, the later one takes the cell. Shares are then two
    ``numpy.bincount`` over the zone labels: ``sum(w * covered) / sum(w)`` with ``w = 1`` for
    area shares.
    """
    zones = _to_crs(zones, mask.crs, "zones")
    geoms = np.asarray(gpd.GeoSeries(zones.geometry).values, dtype=object)
    n = len(geoms)
    if weights is not None and (weights.shape != mask.shape or weights.transform != mask.transform):
        raise ValueError("weights must be on the mask's grid (same shape and transform)")
    if n == 0:
        return np.empty(0, dtype=np.float64)
    covered = np.asarray(mask.array, dtype=bool)
    ok = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    labels = np.zeros(mask.shape, dtype=np.int32)
    if ok.any():
        labels = rasterio.features.rasterize(
            zip(geoms[ok], np.nonzero(ok)[0] + 1, strict=True),
            out_shape=mask.shape,
            transform=mask.transform,
            fill=0,
            dtype="int32",
        )
    flat = labels.ravel()
    if weights is None:
        w = np.ones(flat.size, dtype=np.float64)
    else:
        w = np.nan_to_num(np.asarray(weights.array, dtype=np.float64).ravel(), nan=0.0)
    cells = np.bincount(flat, minlength=n + 1)[1:]
    total = np.bincount(flat, weights=w, minlength=n + 1)[1:]
    hit = np.bincount(flat, weights=w * covered.ravel(), minlength=n + 1)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0.0, hit / total, np.nan)
    small = (cells == 0) & ok
    if small.any():
        share[small] = sample_points(
            mask.with_array(covered), gpd.GeoSeries(geoms[small], crs=mask.crs)
        )
    return np.asarray(np.clip(share, 0.0, 1.0), dtype=np.float64)
