"""Reading layers: GeoJSON, GeoPackage, Shapefile (plain or zipped), CSV and XLSX.

:func:`read_table` only gets the records off the disk, with their text decoded right; turning
them into the contract's clean layers is :mod:`hatangso.geo.validate`'s work, so that every
format goes through the same checks. Writers are in :mod:`hatangso.geo.outputs`.
"""

from __future__ import annotations

import csv
import logging
import re
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from hatangso.geo import limits
from hatangso.geo.errors import InputError, Problem

__all__ = ["RawTable", "read_table"]

log = logging.getLogger(__name__)

try:  # pyarrow makes pyogrio's reads and pandas' strings several times faster
    import pyarrow  # noqa: F401

    _HAVE_ARROW = True
except ImportError:  # pragma: no cover - pyarrow is a dependency; kept optional for safety
    _HAVE_ARROW = False

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb", ".kml")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx")


@dataclass(frozen=True)
class RawTable:
    """Records as read from a file, before any checks.

    Attributes
    ----------
    frame
        A GeoDataFrame for vector formats (its CRS as the file says, possibly None), a plain
        DataFrame of strings for CSV and XLSX.
    name
        The file's name as shown to the user.
    encoding
        The text encoding used, when the format needed one to be chosen.
    has_geometry
        Whether `frame` carries a geometry column from the file.
    notes
        What the reader chose that the user should know (the sheet and header row of a
        workbook).
    """

    frame: pd.DataFrame
    name: str
    encoding: str | None
    has_geometry: bool
    notes: tuple[str, ...] = ()


def _fault(name: str, message: str, fix: str) -> InputError:
    return InputError(Problem(file=name, message=message, fix=fix))


def _check_archive(path: Path, name: str) -> None:
    """Refuse a zip archive (or XLSX workbook) before reading it: broken, or a member too big.

    Every member's declared size and compression ratio is held to :mod:`hatangso.geo.limits`;
    Python's zip reader never inflates a member past its declared size, so the declared
    size bounds what is read.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _fault(
            name, f"is not a readable zip archive ({exc})", "save or zip the file again"
        ) from exc
    for info in members:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.MAX_MEMBER_BYTES:
            raise _fault(
                name,
                f"member '{info.filename}' would inflate to {info.file_size} bytes, more than "
                f"the limit of {limits.MAX_MEMBER_BYTES}",
                "split the layer into smaller files",
            )
        if info.file_size > limits.RATIO_CHECK_FROM_BYTES and ratio > limits.MAX_MEMBER_RATIO:
            raise _fault(
                name,
                f"member '{info.filename}' is compressed {ratio:.0f} to 1, above the limit of "
                f"{limits.MAX_MEMBER_RATIO:.0f} (a decompression bomb?)",
                "give the file as saved by an ordinary spreadsheet or zip tool",
            )


#: Triggers GDAL and the GeoPackage standard create (spatial index, feature counts, metadata).
_STANDARD_TRIGGER = re.compile(
    r"^(rtree_.+|trigger_(insert|delete)_feature_count_.+|gpkg_.+)$", re.IGNORECASE
)


def _check_geopackage(path: Path, name: str) -> None:
    """Refuse a GeoPackage with SQL views or non-standard triggers before GDAL opens it.

    A view can be a recursive query that never ends and grows memory without bound, and a
    trigger is code run by the database; neither belongs in a layer handed in as data. The
    schema is read with SQLite itself, read-only, without running any of it.
    """
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        connection = sqlite3.connect(uri, uri=True)
        try:
            rows = connection.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger')"
            ).fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise _fault(
            name, f"is not a readable GeoPackage ({exc})", "save the layer again as GeoPackage"
        ) from exc
    views = [str(n) for t, n in rows if t == "view"]
    triggers = [str(n) for t, n in rows if t == "trigger" and not _STANDARD_TRIGGER.match(str(n))]
    if views or triggers:
        found = ", ".join([f"view '{v}'" for v in views] + [f"trigger '{t}'" for t in triggers])
        raise _fault(
            name,
            f"the GeoPackage holds SQL code ({found}); hatangso reads only plain tables",
            "save the layer as a plain table (e.g. ogr2ogr or QGIS 'Export', not a view)",
        )


def _pick_layer(path: str, name: str, kind: str | None) -> str | None:
    """Choose the layer of a multi-layer source, or None when there is only one."""
    layers = [str(row[0]) for row in pyogrio.list_layers(path)]
    if len(layers) <= 1:
        return None
    if kind is not None:
        from hatangso.geo.text import fold_key

        wanted = {fold_key(kind), fold_key(kind.replace("-", "_"))}
        matches = [layer for layer in layers if fold_key(layer) in wanted]
        if len(matches) == 1:
            return matches[0]
    raise _fault(
        name,
        f"the file holds {len(layers)} layers ({', '.join(layers)}) and none is named '{kind}'",
        f"name the layer '{kind}' or save the one you mean in a file of its own",
    )


def _shapefile_in_zip(path: Path) -> str:
    """Return the GDAL path of the one shapefile inside a zip archive."""
    with zipfile.ZipFile(path) as archive:
        shps = [n for n in archive.namelist() if n.lower().endswith(".shp")]
        others = [
            n
            for n in archive.namelist()
            if n.lower().endswith((".gpkg", ".geojson", ".json", ".csv"))
        ]
    if len(shps) == 1:
        return f"/vsizip/{path}/{shps[0]}"
    if not shps and len(others) == 1:
        return f"/vsizip/{path}/{others[0]}"
    found = ", ".join(shps + others) or "no shapefile"
    raise _fault(
        path.name,
        f"the zip archive must hold exactly one shapefile; it holds {found}",
        "zip one layer per archive",
    )


def _read_vector(path: Path, name: str, kind: str | None, encoding: str | None) -> RawTable:
    if path.suffix.lower() == ".gpkg":
        _check_geopackage(path, name)
    source = _shapefile_in_zip(path) if path.suffix.lower() == ".zip" else str(path)
    is_shapefile = source.lower().endswith(".shp")
    read_as: str | None = None
    if is_shapefile:
        from hatangso.geo.encoding import detect_dbf_encoding, pyogrio_encoding

        if encoding is None:
            encoding = detect_dbf_encoding(path)
        # GDAL gets UTF-8 or ISO-8859-1 only: its own Windows-1258 conversion drops the last
        # character of every value, and TCVN3/VNI are unknown to it. ISO-8859-1 maps each
        # byte to one code point, so the bytes survive for us to decode.
        read_as = pyogrio_encoding(encoding)
    try:
        layer = _pick_layer(source, name, kind)
        frame = gpd.read_file(
            source,
            layer=layer,
            engine="pyogrio",
            encoding=read_as,
            use_arrow=_HAVE_ARROW,
            # A geometry shapely refuses (an unclosed ring) becomes a missing one, which
            # validation refuses as a row, rather than refusing the whole file.
            on_invalid="ignore",
        )
    except InputError:
        raise
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, ...
        raise _fault(
            name,
            f"cannot be read as a vector file ({type(exc).__name__}: {exc})",
            "check that the file is complete (a shapefile needs its .shx and .dbf beside it) "
            "and is GeoJSON, GeoPackage, Shapefile or CSV",
        ) from exc
    if read_as is not None and read_as != "UTF-8" and encoding is not None:
        frame = _redecode(frame, encoding, name)
    # A table without geometry (a GeoPackage's attribute table) reads as a plain frame.
    has_geometry = isinstance(frame, gpd.GeoDataFrame)
    return RawTable(frame=frame, name=name, encoding=encoding, has_geometry=has_geometry)


def _redecode(frame: gpd.GeoDataFrame, encoding: str, name: str) -> gpd.GeoDataFrame:
    """Decode the text of a frame read as ISO-8859-1 with its real `encoding`."""
    from hatangso.geo.encoding import redecode_latin1_strings

    geometry = frame.geometry.name
    renamed = {
        c: redecode_latin1_strings([c], encoding, source=name)[0] or c
        for c in frame.columns
        if c != geometry
    }
    for column in frame.columns:
        if column != geometry and pd.api.types.is_string_dtype(frame[column]):
            values = frame[column].astype(object).where(frame[column].notna(), None).tolist()
            frame[column] = pd.Series(
                redecode_latin1_strings(values, encoding, source=name, column=column),
                index=frame.index,
                dtype="string",
            )
    return frame.rename(columns=renamed)


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _unique_names(names: list[str]) -> list[str]:
    """Make column names unique as pandas does (``a``, ``a.1``, ``a.2``), in linear time."""
    taken = set(names)
    seen: set[str] = set()
    suffix: dict[str, int] = {}
    out = []
    for name in names:
        if name not in seen:
            seen.add(name)
            out.append(name)
            continue
        n = suffix.get(name, 0) + 1
        while f"{name}.{n}" in taken:
            n += 1
        suffix[name] = n
        new = f"{name}.{n}"
        taken.add(new)
        seen.add(new)
        out.append(new)
    return out


def _check_header(names: list[str], name: str) -> None:
    """Refuse a header wider or with longer names than :mod:`hatangso.geo.limits` allows."""
    if len(names) > limits.MAX_COLUMNS:
        raise _fault(
            name,
            f"the header has {len(names)} columns, more than the limit of {limits.MAX_COLUMNS}",
            "keep only the columns the layer needs, or check the delimiter",
        )
    for index, column in enumerate(names):
        if len(column) > limits.MAX_COLUMN_NAME_CHARS:
            raise InputError(
                Problem(
                    file=name,
                    column=f"{column[:40]}...",
                    message=f"column {index + 1}'s name has {len(column)} characters, more than "
                    f"the limit of {limits.MAX_COLUMN_NAME_CHARS}",
                    fix="shorten the column name, or check that the first line is the header",
                )
            )


def _read_csv(path: Path, name: str, encoding: str | None) -> RawTable:
    from hatangso.geo.encoding import decode_bytes, detect_text_encoding

    if encoding is None:
        encoding = detect_text_encoding(path)
    raw = path.read_bytes()
    text = decode_bytes(raw, encoding, source=name)
    if not text.strip():
        raise _fault(name, "the file is empty", "export the table again with a header row")
    first_lines = "\n".join(text.splitlines()[:20])
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff_delimiter(first_lines)
    from io import StringIO

    header = next(
        (
            row
            for row in csv.reader(StringIO(text), delimiter=delimiter, skipinitialspace=True)
            if row
        ),
        [],
    )
    _check_header(header, name)
    # pandas' own de-duplication of repeated names is quadratic: give it unique names.
    names = [c if c.strip() else f"Unnamed: {i}" for i, c in enumerate(header)]
    try:
        frame = pd.read_csv(
            StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            header=0,
            names=_unique_names(names),
        )
    except pd.errors.ParserError as exc:
        raise _fault(
            name,
            f"is not a well-formed table ({exc})",
            f"check that every line has the same number of '{delimiter}'-separated fields",
        ) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return RawTable(frame=frame, name=name, encoding=encoding, has_geometry=False)


def _read_xlsx(
    path: Path, name: str, kind: str | None, sheet: str | None, header_row: int | None
) -> RawTable:
    from hatangso.geo.xlsx import read_sheet

    _check_archive(path, name)
    try:
        table = read_sheet(path, kind=kind, sheet=sheet, header_row=header_row)
    except InputError:
        raise
    except Exception as exc:  # openpyxl raises many kinds of errors on broken files
        raise _fault(
            name, f"cannot be read as an Excel workbook ({exc})", "save it again as .xlsx or CSV"
        ) from exc
    frame = table.frame
    _check_header([str(c) for c in frame.columns], name)
    frame.columns = [str(c).strip() for c in frame.columns]
    return RawTable(frame=frame, name=name, encoding=None, has_geometry=False, notes=(table.note,))


def _table_in_zip(path: Path) -> RawTable | None:
    """Read a zip archive holding one CSV/XLSX table (and no shapefile) as that table."""
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        tables = [n for n in names if n.lower().endswith(TABLE_SUFFIXES)]
        if not tables or any(n.lower().endswith(".shp") for n in names):
            return None
        if len(tables) > 1:
            raise _fault(
                path.name,
                f"the zip archive holds {len(tables)} tables ({', '.join(tables[:5])}); "
                "it must hold one",
                "zip one table per archive, without notes or other tables beside it",
            )
        member = tables[0]
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            # The member's own name is not trusted as a path: only its suffix is kept.
            target = Path(tmp) / f"table{Path(member).suffix.lower()}"
            target.write_bytes(archive.read(member))
            raw = read_table(target)
    return RawTable(
        frame=raw.frame,
        name=f"{path.name}/{Path(member).name}",
        encoding=raw.encoding,
        has_geometry=raw.has_geometry,
    )


# Rasters a user may give where a table is asked for: said so rather than "unknown file type".
_RASTER_SUFFIXES = (".tif", ".tiff", ".hgt", ".vrt", ".asc", ".img")


def read_table(
    path: str | Path,
    *,
    kind: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
) -> RawTable:
    """Read the records of one input file.

    Parameters
    ----------
    path
        A GeoJSON, GeoPackage, Shapefile (``.shp`` or a ``.zip`` holding one), CSV/TSV or
        XLSX file.
    kind
        The input kind, used to pick the layer of a multi-layer GeoPackage.
    encoding
        Text encoding; detected when None (``.cpg``, UTF-8, Windows-1258, TCVN3, VNI).
    sheet, header_row
        For XLSX: the sheet (default the first) and the 1-based header row (default the row
        naming the most columns of `kind`, see :func:`hatangso.geo.xlsx.read_sheet`).

    Returns
    -------
    RawTable
        The records, undecided about columns and geometry.

    Raises
    ------
    InputError
        If the file is missing, of an unknown type, unreadable or its text undecodable.
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise _fault(name, f"no such file: {path}", "check the path")
    suffix = path.suffix.lower()
    if suffix == ".zip":
        _check_archive(path, name)
        table = _table_in_zip(path)
        if table is not None:
            return table
    if suffix in TABLE_SUFFIXES:
        if suffix == ".xlsx":
            return _read_xlsx(path, name, kind, sheet, header_row)
        return _read_csv(path, name, encoding)
    if suffix in VECTOR_SUFFIXES:
        return _read_vector(path, name, kind, encoding)
    formats = "GeoJSON, GeoPackage, Shapefile (.shp or .zip), CSV or XLSX"
    if path.is_dir():
        raise _fault(name, f"{path} is a folder, not a file", f"give one file: {formats}")
    if suffix in _RASTER_SUFFIXES:
        raise _fault(
            name,
            f"'{suffix}' is a raster (elevation or population), not a table of features",
            f"give a raster to coverage --dem or --population; here give {formats}",
        )
    raise _fault(name, f"unknown file type '{suffix}'", f"give {formats}")
