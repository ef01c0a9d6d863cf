"""Receiving files safely: size-limited streaming, known types only, zip archives checked.

Nothing the client sends becomes a path: a file is saved under a fresh temporary folder with a
name made of safe characters only (the client's name, cleaned, keeps error messages readable),
and a zip archive is opened only after every member has been checked for path traversal,
links, member count, declared and actual uncompressed size and compression ratio.

An upload takes the command line's options (``?crs=``, ``?columns=``, ``?sheet=``,
``?header-row=``, :class:`UploadOptions`); the engine's messages, which name the command line's
options, are reworded for the service by :func:`for_service`. Files are received in a scratch
folder of the workspace (:func:`upload_scratch`), outside every scenario, so that a refused
upload leaves nothing behind. Rasters (a DEM, a population grid) are unpacked, opened and
checked with rasterio by :func:`unpack_raster` and :func:`check_raster`.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import stat
import unicodedata
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

# GDAL's own errors (a tile of the wrong size, a truncated strip) reach Python as this class,
# which rasterio does not export publicly.
from rasterio._err import CPLE_BaseError as _GdalError

from hatangso.geo.errors import CRSError, HatangsoError, InputError, Problem
from hatangso.geo.scratch import pid_scratch

__all__ = [
    "ALLOWED_SUFFIXES",
    "RASTER_KINDS",
    "RASTER_SUFFIXES",
    "UPLOAD_SCRATCH",
    "RasterCheck",
    "TooLarge",
    "UploadOptions",
    "ZipLimits",
    "check_raster",
    "check_zip",
    "for_service",
    "limited",
    "safe_filename",
    "service_text",
    "unpack_raster",
    "upload_scratch",
    "write_geotiff",
]

log = logging.getLogger(__name__)

#: Prefix of the folders uploads are received in: ``<workspace>/.upload-<pid>-<random>``.
UPLOAD_SCRATCH = ".upload-"
#: File types accepted for upload (a shapefile must come zipped, with its .dbf, .shx, .prj).
ALLOWED_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".csv", ".tsv", ".txt", ".xlsx")
#: Raster uploads: a GeoTIFF or an SRTM tile, each possibly zipped.
RASTER_SUFFIXES = (".tif", ".tiff", ".hgt", ".zip")
#: The rasters a scenario takes, under the keys of ``scenario.json`` a coverage run reads.
RASTER_KINDS = ("dem", "population")
_ZIP_SUFFIXES = (".zip", ".xlsx")
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_MAGIC = {
    ".gpkg": (b"SQLite format 3\x00",),
    ".zip": (b"PK\x03\x04", b"PK\x05\x06"),
    ".xlsx": (b"PK\x03\x04",),
    ".tif": _TIFF_MAGIC,
    ".tiff": _TIFF_MAGIC,
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class TooLarge(Exception):  # noqa: N818 - it is a signal, caught by the route and mapped to 413
    """The request body passed the size limit."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"the upload is larger than the limit of {limit_bytes} bytes")
        self.limit_bytes = limit_bytes


def _problem(name: str, message: str, fix: str) -> InputError:
    return InputError(Problem(file=name, message=message, fix=fix))


def safe_filename(
    client_name: str | None,
    *,
    default: str = "upload",
    allowed: tuple[str, ...] = ALLOWED_SUFFIXES,
) -> tuple[str, str]:
    """Return a safe file name for `client_name` and its lower-case suffix.

    Only the last path component is kept; accents are removed, and every character outside
    letters, digits, ``.``, ``_`` and ``-`` becomes ``_``.

    Raises
    ------
    InputError
        If the suffix is not one of `allowed` (by default :data:`ALLOWED_SUFFIXES`; a raster
        upload allows :data:`RASTER_SUFFIXES`).

    Examples
    --------
    >>> safe_filename("../../etc/Thôn bản.geojson")
    ('Thon_ban.geojson', '.geojson')
    """
    raw = (client_name or default).replace("\\", "/")
    base = PurePosixPath(raw).name or default
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE.sub("_", ascii_name)
    suffix = next((s for s in allowed if cleaned.lower().endswith(s)), None)
    if suffix is None:
        given = PurePosixPath(cleaned).suffix.lower() or "(none)"
        what = (
            "a GeoTIFF or an SRTM .hgt tile, possibly zipped"
            if allowed == RASTER_SUFFIXES
            else "GeoJSON, GeoPackage, a zipped Shapefile, CSV or XLSX"
        )
        raise _problem(
            base, f"unknown file type '{given}'", f"upload {what} ({', '.join(allowed)})"
        )
    stem = cleaned[: -len(suffix)].strip("._-")[:80] or default
    return f"{stem}{suffix}", suffix


async def limited(stream: AsyncIterator[bytes], limit_bytes: int) -> AsyncGenerator[bytes, None]:
    """Pass the chunks of `stream` on, raising :class:`TooLarge` once `limit_bytes` is passed."""
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit_bytes:
            raise TooLarge(limit_bytes)
        yield chunk


def check_magic(path: Path, suffix: str, name: str) -> None:
    """Check that a binary file starts as its type says (GeoPackage, zip, xlsx)."""
    expected = _MAGIC.get(suffix)
    if expected is None:
        return
    with open(path, "rb") as handle:
        head = handle.read(16)
    if not any(head.startswith(magic) for magic in expected):
        raise _problem(
            name,
            f"the content is not a {suffix} file",
            "upload the file itself, saved in the format its name says",
        )


@dataclass(frozen=True)
class ZipLimits:
    """Limits on a zip archive: members, total uncompressed bytes, compression ratio."""

    max_members: int = 200
    max_total_bytes: int = 1024 * 1024 * 1024
    max_ratio: float = 200.0


def _unsafe_member(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\x00" in name:
        return "a NUL character in its name"
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        return "an absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "a '..' path component"
    mode = info.external_attr >> 16
    if mode and stat.S_ISLNK(mode):
        return "a symbolic link"
    return None


def check_zip(path: Path, name: str, limits: ZipLimits) -> None:
    """Check a zip archive (or xlsx workbook) before anything reads its members.

    Every member is decompressed in a streaming pass that counts bytes and stops as soon as a
    limit is passed, so a member whose header understates its size is caught too.

    Raises
    ------
    InputError
        If the archive is broken, encrypted, has too many members, a member escapes the
        archive's folder (``..``, an absolute path, a link), or it would inflate past
        `limits.max_total_bytes` or at a ratio above `limits.max_ratio`.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _problem(name, f"is not a readable zip archive ({exc})", "zip it again") from exc
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise _problem(
                name,
                f"the archive holds {len(members)} members, more than {limits.max_members}",
                "zip only the layer's files",
            )
        declared = 0
        for info in members:
            reason = _unsafe_member(info)
            if reason is not None:
                raise _problem(
                    name,
                    f"member '{info.filename}' has {reason}",
                    "zip the files with plain relative names",
                )
            if info.flag_bits & 0x1:
                raise _problem(
                    name, f"member '{info.filename}' is encrypted", "zip without a password"
                )
            declared += info.file_size
            if declared > limits.max_total_bytes:
                raise _problem(
                    name,
                    f"the archive would inflate to more than {limits.max_total_bytes} bytes",
                    "upload a smaller layer",
                )
        total = 0
        for info in members:
            if info.is_dir():
                continue
            budget = min(info.file_size, limits.max_total_bytes - total)
            size = 0
            try:
                with archive.open(info) as member:
                    while chunk := member.read(1 << 16):
                        size += len(chunk)
                        if size > budget:
                            raise _problem(
                                name,
                                f"member '{info.filename}' inflates past its declared size or "
                                "the archive's limit",
                                "upload an archive made by an ordinary zip tool",
                            )
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise _problem(
                    name, f"member '{info.filename}' cannot be read ({exc})", "zip it again"
                ) from exc
            total += size
            ratio = size / max(info.compress_size, 1)
            if size > 1 << 20 and ratio > limits.max_ratio:
                raise _problem(
                    name,
                    f"member '{info.filename}' is compressed {ratio:.0f} to 1, above the limit "
                    f"of {limits.max_ratio:.0f} (a decompression bomb?)",
                    "upload the layer uncompressed or zipped by an ordinary tool",
                )


# --------------------------------------------------------------------------------------------
# The command line's options, as query parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadOptions:
    """What ``hatangso validate`` takes as options, given to an upload as query parameters.

    Attributes
    ----------
    crs
        CRS of an input without one (``?crs=EPSG:9210``, ``?crs=VN2000:<province>``).
    columns
        Column map in the command line's syntax (``?columns=village_id=osm_id,name=ten``).
    sheet, header_row
        For XLSX: the sheet and the 1-based header row (``?sheet=``, ``?header-row=``).
    dry_run
        Validate and report what would change, store nothing (``?dry_run=true``).
    """

    crs: str | None = None
    columns: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    dry_run: bool = False


# An option of the command line, and its value when one follows (it holds '=', ':', '<' or a
# digit: "--crs EPSG:3405", "--columns lon=b,lat=a", "--header-row 3").
_CLI_OPTION = re.compile(r"--(crs|columns|sheet|header-row)\b(?: (?=[^\s,]*[=:<\d]))?")


def service_text(text: str) -> str:
    """Reword a message of the engine for the service: ``--crs X`` becomes ``?crs=X``.

    Examples
    --------
    >>> service_text("pass --crs, e.g. --crs VN2000:<province> or --crs EPSG:3405")
    'pass ?crs=, e.g. ?crs=VN2000:<province> or ?crs=EPSG:3405'
    >>> service_text("pass --columns x=b,y=a")
    'pass ?columns=x=b,y=a'
    """
    return _CLI_OPTION.sub(lambda m: f"?{m.group(1)}=", text)


def for_service(exc: HatangsoError) -> HatangsoError:
    """Return `exc` with its messages naming the service's query parameters, not the options.

    An :class:`InputError` (or subclass) keeps its class and every problem; a
    :class:`CRSError` its class; any other error is returned as it is.
    """
    if isinstance(exc, InputError):
        return type(exc)(
            [
                replace(
                    p,
                    file=service_text(p.file),
                    message=service_text(p.message),
                    fix=service_text(p.fix),
                )
                for p in exc.problems
            ]
        )
    if isinstance(exc, CRSError):
        return CRSError(service_text(str(exc)))
    return exc


@contextmanager
def upload_scratch(root: Path) -> Iterator[Path]:
    """Yield a fresh folder in the workspace `root`, outside every scenario; removed afterwards.

    Its name starts with a dot, which no scenario name does, so the scenario list never
    shows it; it sits on the workspace's file system, so a stored file is moved, not copied.
    It carries the receiving process's pid (:data:`UPLOAD_SCRATCH`), so that what a killed
    server left is removed when the service starts again
    (:meth:`hatangso.app.workspace.Workspace.clean`).
    """
    with pid_scratch(root, UPLOAD_SCRATCH) as tmp:
        yield tmp


# --------------------------------------------------------------------------------------------
# Rasters: a DEM or a population grid
# --------------------------------------------------------------------------------------------

_RASTER_FIX = (
    "upload a GeoTIFF (.tif) or an SRTM tile named like N21E105.hgt, or a zip holding one "
    "GeoTIFF or SRTM tiles"
)
#: Elevations outside this range (metres) are not heights on Earth's land.
_ELEVATION_RANGE_M = (-500.0, 9000.0)
#: Cells read (per side, at most) to check the values: a decimated view, never the whole grid.
_SAMPLE_CELLS = 1024


@dataclass(frozen=True)
class RasterCheck:
    """What :func:`check_raster` found in a raster upload.

    Attributes
    ----------
    kind
        ``dem`` or ``population``.
    crs
        The raster's CRS, as text (``EPSG:4326`` when it has a code).
    width, height
        Size in pixels.
    resolution
        Cell size ``(x, y)`` in the CRS's units.
    bounds_wgs84
        ``(west, south, east, north)`` in degrees.
    nodata
        The declared nodata value, None when the file declares none.
    value_range
        Smallest and largest valid value of a decimated read.
    notes
        What the user should know (no nodata declared, partial cover of the villages ...).
    """

    kind: str
    crs: str
    width: int
    height: int
    resolution: tuple[float, float]
    bounds_wgs84: tuple[float, float, float, float]
    nodata: float | None
    value_range: tuple[float, float]
    notes: tuple[str, ...]


def _raster_members(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".tif", ".tiff", ".hgt")
    )


def unpack_raster(
    path: Path, name: str, workdir: Path, *, limits: ZipLimits, max_pixels: int
) -> Path:
    """Return the raster file of an upload: the file itself, or what its zip archive holds.

    A zip archive is checked (:func:`check_zip`) and unpacked into `workdir` (member names
    flattened and cleaned). It must hold one GeoTIFF, or SRTM ``.hgt`` tiles: several tiles
    are merged into one GeoTIFF, within `max_pixels`.

    Raises
    ------
    InputError
        An unsafe or broken archive, no raster or several GeoTIFFs in it, or tiles of several
        CRSs or past the pixel limit.
    """
    import rasterio
    import rasterio.merge

    suffix = path.suffix.lower()
    check_magic(path, suffix, name)
    if suffix != ".zip":
        return path
    check_zip(path, name, limits)
    workdir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            member = PurePosixPath(info.filename.replace("\\", "/")).name
            if not member.lower().endswith((".tif", ".tiff", ".hgt")):
                continue
            safe, _suffix = safe_filename(member, allowed=(".tif", ".tiff", ".hgt"))
            with archive.open(info) as source, open(workdir / safe, "wb") as out:
                shutil.copyfileobj(source, out, length=1 << 20)
    rasters = _raster_members(workdir)
    if not rasters:
        raise _problem(name, "the archive holds no .tif, .tiff or .hgt file", _RASTER_FIX)
    if len(rasters) == 1:
        return rasters[0]
    if any(p.suffix.lower() != ".hgt" for p in rasters):
        raise _problem(
            name,
            f"the archive holds {len(rasters)} rasters ({', '.join(p.name for p in rasters[:5])})",
            "upload one GeoTIFF, or only SRTM .hgt tiles (they are merged)",
        )
    pixels = 0
    for tile in rasters:
        try:
            with rasterio.open(tile) as ds:
                pixels += ds.width * ds.height
        except rasterio.errors.RasterioIOError as exc:
            raise _problem(f"{name}: {tile.name}", f"cannot be read ({exc})", _RASTER_FIX) from exc
    if pixels > max_pixels:
        raise _problem(
            name,
            f"its {len(rasters)} tiles hold {pixels:,} pixels, more than the limit of "
            f"{max_pixels:,} (HATANGSO_MAX_RASTER_PIXELS)",
            "upload only the tiles that cover the province",
        )
    merged = workdir / "merged.tif"
    try:
        rasterio.merge.merge(
            [str(t) for t in rasters], dst_path=str(merged), dst_kwds={"driver": "GTiff"}
        )
    except (rasterio.errors.RasterioError, _GdalError, ValueError) as exc:
        raise _problem(
            name, f"its tiles cannot be merged ({exc})", "upload tiles of one CRS"
        ) from exc
    return merged


def check_raster(
    path: Path,
    name: str,
    *,
    kind: str,
    max_pixels: int,
    villages_bounds: tuple[float, float, float, float] | None = None,
) -> RasterCheck:
    """Open a raster with rasterio and check that a coverage run can use it.

    Parameters
    ----------
    path
        The raster (see :func:`unpack_raster`).
    name
        The file's name as the client gave it (cleaned), for the messages.
    kind
        ``dem`` (elevations in metres) or ``population`` (people per cell).
    max_pixels
        Most pixels accepted (``HATANGSO_MAX_RASTER_PIXELS``).
    villages_bounds
        ``(west, south, east, north)`` of the scenario's villages, when it has them: the
        raster must overlap them.

    Returns
    -------
    RasterCheck

    Raises
    ------
    InputError
        Every fault found, each naming the file and the fix: unreadable, no CRS, rotated, too
        many pixels, outside Viet Nam or the villages, nothing but nodata, values that are
        not elevations (DEM).
    """
    import numpy as np
    import rasterio
    import shapely
    from rasterio.enums import Resampling
    from rasterio.warp import transform_bounds

    from hatangso.geo.outline import vietnam_outline

    try:
        ds = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise _problem(name, "cannot be read as a raster", _RASTER_FIX) from exc
    problems: list[Problem] = []
    notes: list[str] = []

    def fault(message: str, fix: str) -> None:
        problems.append(Problem(file=name, message=message, fix=fix))

    with ds:
        width, height = ds.width, ds.height
        pixels = width * height
        if pixels > max_pixels:
            fault(
                f"it is {width:,} x {height:,} = {pixels:,} pixels, more than the limit of "
                f"{max_pixels:,} (HATANGSO_MAX_RASTER_PIXELS)",
                "clip it to the province, or coarsen it (e.g. gdalwarp -te ... -tr ...)",
            )
        if ds.transform.b != 0 or ds.transform.d != 0:
            fault("the grid is rotated", "warp it north-up (gdalwarp) and upload it again")
        crs = ds.crs
        if crs is None:
            raise InputError(
                [
                    *problems,
                    Problem(
                        file=name,
                        message="the raster has no coordinate reference system",
                        fix="assign one (e.g. gdal_edit.py -a_srs EPSG:4326 FILE) and upload it "
                        "again",
                    ),
                ]
            )
        try:
            west, south, east, north = transform_bounds(
                crs, "EPSG:4326", *ds.bounds, densify_pts=21
            )
        except rasterio.errors.RasterioError as exc:
            raise _problem(
                name, f"its bounds cannot be put in longitude/latitude ({exc})", "check its CRS"
            ) from exc
        bounds = (float(west), float(south), float(east), float(north))
        footprint = shapely.box(*bounds)
        if not all(math.isfinite(b) for b in bounds) or not footprint.intersects(vietnam_outline()):
            fault(
                f"it lies outside Viet Nam (bounds {_bounds_text(bounds)} in longitude/latitude, "
                f"from {crs.to_string()})",
                "upload the raster of the province, and check the CRS it declares",
            )
        elif villages_bounds is not None:
            villages = shapely.box(*villages_bounds)
            if not footprint.intersects(villages):
                fault(
                    f"it does not overlap the scenario's villages (raster {_bounds_text(bounds)}, "
                    f"villages {_bounds_text(villages_bounds)})",
                    "upload the raster that covers the scenario's villages",
                )
            elif not footprint.contains(villages):
                notes.append(
                    f"{name}: covers only part of the villages' extent "
                    f"({_bounds_text(villages_bounds)}); the rest has no {kind}"
                )
        rows, cols = min(height, _SAMPLE_CELLS), min(width, _SAMPLE_CELLS)
        try:
            sample = ds.read(1, out_shape=(rows, cols), masked=True, resampling=Resampling.nearest)
        except (rasterio.errors.RasterioError, _GdalError) as exc:
            raise _problem(name, f"its cells cannot be read ({exc})", _RASTER_FIX) from exc
        values = np.asarray(sample.compressed(), dtype=np.float64)
        values = values[np.isfinite(values)]
        nodata = None if ds.nodata is None else float(ds.nodata)
        if nodata is None:
            notes.append(f"{name}: declares no nodata value; every cell counts as data")
        if values.size == 0:
            fault(
                "it holds no data: every cell is nodata"
                + ("" if nodata is None else f" ({nodata:g})"),
                "upload the raster with its values",
            )
            low = high = math.nan
        else:
            low, high = float(values.min()), float(values.max())
            if kind == "dem" and (low < _ELEVATION_RANGE_M[0] or high > _ELEVATION_RANGE_M[1]):
                fault(
                    f"its values run from {low:g} to {high:g}: not elevations in metres",
                    "upload a DEM in metres, with its void value declared as nodata",
                )
            if kind == "population" and low < 0:
                notes.append(f"{name}: negative cells (down to {low:g}) count as nobody")
        resolution = (float(ds.res[0]), float(ds.res[1]))
        epsg = crs.to_epsg()
        crs_text = f"EPSG:{epsg}" if epsg is not None else crs.to_string()
    if problems:
        raise InputError(problems)
    return RasterCheck(
        kind=kind,
        crs=crs_text,
        width=width,
        height=height,
        resolution=resolution,
        bounds_wgs84=bounds,
        nodata=nodata,
        value_range=(low, high),
        notes=tuple(notes),
    )


def _bounds_text(bounds: tuple[float, float, float, float]) -> str:
    return "(" + ", ".join(f"{b:.3f}" for b in bounds) + ")"


def write_geotiff(source: Path, destination: Path) -> Path:
    """Copy the raster `source` to `destination` as a tiled, compressed GeoTIFF, atomically."""
    import rasterio.shutil

    from hatangso.geo.outputs import atomic_write

    return atomic_write(
        destination,
        lambda tmp: rasterio.shutil.copy(
            str(source),
            str(tmp),
            driver="GTiff",
            COMPRESS="DEFLATE",
            TILED="YES",
            BIGTIFF="IF_SAFER",
        ),
    )
