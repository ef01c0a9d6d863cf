"""Writing outputs: every file atomically, JSON without NaN, clean layers and the rejects.

Every writer of hatangso goes through :func:`atomic_write`: the file is written beside its
destination, flushed to disk and moved over it, so that a crash mid-write leaves the previous
file whole. JSON documents go through :func:`json_ready` first, so that NaN, infinities and
numpy scalars never reach a file or an answer.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from hatangso.geo.validate import REJECT_COLUMNS, Layer

__all__ = [
    "atomic_write",
    "json_ready",
    "spreadsheet_cell",
    "spreadsheet_safe",
    "write_clean_layer",
    "write_geojson",
    "write_json",
    "write_layer",
    "write_parquet",
    "write_rejects",
    "write_table",
    "write_text",
]


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - some file systems refuse to open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write `path` through a temporary file in the same folder and move it into place.

    Parameters
    ----------
    path
        Destination; its folder is created when missing.
    write
        Called with the temporary path (which does not exist yet, and has the destination's
        suffix, so that drivers chosen by suffix work); it must create the file.

    Returns
    -------
    Path
        `path`.

    Notes
    -----
    :func:`os.replace` is atomic on POSIX and Windows when both paths are on one file system,
    which holds because the temporary file sits beside the destination. The data are flushed
    to disk (``fsync``) before the move, and the folder after it, so that after a crash either
    the old or the new file is there, never a mixture. The temporary file (and the journal
    files SQLite leaves beside a GeoPackage) are removed whatever happens.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp{path.suffix}")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        for leftover in (
            tmp,
            tmp.with_name(tmp.name + "-journal"),
            tmp.with_name(tmp.name + "-wal"),
        ):
            leftover.unlink(missing_ok=True)
    return path


def write_text(text: str, path: str | Path) -> Path:
    """Write `text` to `path` atomically, UTF-8 (see :func:`atomic_write`)."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def json_ready(value: Any) -> Any:
    """Return `value` as plain JSON data: missing values as None, numpy scalars as Python ones.

    Mappings (keys made strings), lists, tuples and arrays are converted element by element;
    NaN, infinities, None and ``pd.NA`` become None; numpy integers, floats and booleans become
    ``int``, ``float`` and ``bool``. Anything else is returned as it is.

    Examples
    --------
    >>> json_ready({"a": np.float64("nan"), "b": [np.int64(3), np.bool_(True)], 4: 0.5})
    {'a': None, 'b': [3, True], '4': 0.5}
    """
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def write_json(document: Any, path: str | Path, *, indent: int | None = 2) -> Path:
    """Write a JSON document atomically: UTF-8, NaN written as null, a final newline.

    Values that JSON has no type for (dates, paths) are written as their text.
    """
    text = json.dumps(
        json_ready(document), ensure_ascii=False, indent=indent, allow_nan=False, default=str
    )
    return write_text(text + "\n", path)


def write_table(frame: pd.DataFrame, path: str | Path, *, layer: str) -> Path:
    """Write a table without geometry as one GeoPackage attribute table, atomically.

    The input kinds without geometry (``declared``, ``commitments``) are kept this way beside
    the layers, and read back as tables by :func:`hatangso.geo.io.read_table`.
    """
    import pyogrio

    clean = pd.DataFrame(frame).copy()
    for column in clean.columns:
        if isinstance(clean[column].dtype, pd.StringDtype):
            clean[column] = clean[column].astype(object)
    return atomic_write(
        path, lambda p: pyogrio.write_dataframe(clean, p, layer=layer, driver="GPKG")
    )


def write_layer(frame: gpd.GeoDataFrame, path: str | Path, *, layer: str) -> Path:
    """Write `frame` as one GeoPackage layer, atomically (see :func:`atomic_write`).

    Parameters
    ----------
    frame
        The layer to write; pandas string columns are written as text.
    path
        Destination ``.gpkg`` file.
    layer
        Layer name.

    Returns
    -------
    Path
        `path`.

    Notes
    -----
    Arrow hands the columns to GDAL in bulk: twice as fast on 100,000 villages. Pandas string
    columns go as Arrow strings, as they are (the same TEXT fields and values as when they
    were turned into Python objects first, which took a fifth of the time).
    """
    return atomic_write(
        path,
        lambda p: frame.to_file(p, layer=layer, driver="GPKG", engine="pyogrio", use_arrow=True),
    )


#: The decimals of a non-point GeoJSON coordinate: GDAL's, as the files have always had them
#: (1e-15°, a nanometre). Points are written exactly (see :func:`_geometry_texts`).
GEOJSON_DECIMALS = 15

#: Characters a JSON string must escape: the quote, the backslash and the control characters.
_JSON_ESCAPES = r'["\\\x00-\x1f]'


def _number_texts(numbers: pa.Array) -> pa.Array:
    """Floats as JSON numbers: the shortest decimal that reads back the same double.

    Integral values keep a ``.0`` (``100.0``, not ``100``), so that a reader keeps a float
    column real; null stays null.
    """
    text = pc.cast(numbers, pa.string())
    integral = pc.invert(pc.match_substring_regex(text, "[.e]"))
    return pc.if_else(integral, pc.binary_join_element_wise(text, ".0", ""), text)


def _json_texts(values: pd.Series) -> pa.Array | None:
    """Return each value of `values` as JSON text, None for a column kind left to GDAL.

    Booleans, integers, floats and text, as an Arrow string array (the text is built by
    Arrow's kernels, which leave the interpreter free for the other outputs); missing values,
    NaN and infinities as ``null``. Floats are written as :func:`_number_texts` writes them;
    text with a character to escape (a quote, a backslash, a control character) through
    Python's JSON encoder, the rest as it is between quotes.
    """
    dtype = values.dtype
    if pd.api.types.is_float_dtype(dtype) and not isinstance(
        dtype, pd.api.extensions.ExtensionDtype
    ):
        numbers = values.to_numpy(dtype=np.float64)
        return _number_texts(pa.array(numbers, mask=~np.isfinite(numbers))).fill_null("null")
    kind = pd.api.types.infer_dtype(values, skipna=True)
    simple = (
        pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_integer_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )
    if not simple or kind not in ("string", "boolean", "integer", "empty"):
        return None
    if kind == "empty":
        return pa.array(np.full(len(values), "null", dtype=object), type=pa.string())
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # text beside other values: GDAL's
        return None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_boolean(array.type):
        text = pc.if_else(array, "true", "false")
    elif pa.types.is_integer(array.type):
        text = pc.cast(array, pa.string())
    elif pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        array = array.cast(pa.string())
        text = pc.binary_join_element_wise('"', array, '"', "")
        escape = pc.match_substring_regex(array, _JSON_ESCAPES).fill_null(False)
        if pc.any(escape).as_py():
            escaped = [json.dumps(t, ensure_ascii=False) for t in array.filter(escape).to_pylist()]
            text = pc.replace_with_mask(text, escape, pa.array(escaped, type=pa.string()))
    else:
        return None
    return text.fill_null("null")


def _geometry_texts(geometries: gpd.GeoSeries) -> pa.Array:
    """Return each geometry as GeoJSON text, as an Arrow string array (``null`` for none).

    Points (the towers) are formatted by Arrow, each coordinate the shortest decimal that
    reads back the same double: the point itself, no closer to GDAL's 15 decimals or further.
    Other geometries go through GEOS, their coordinates rounded to :data:`GEOJSON_DECIMALS`.
    """
    data = geometries.to_numpy()
    xy = shapely.get_coordinates(data)
    points = (
        len(data) > 0
        and bool((shapely.get_type_id(data) == 0).all())
        and len(xy) == len(data)
        and not bool(shapely.has_z(data).any())
    )
    if points:
        x = pc.cast(pa.array(xy[:, 0]), pa.string())
        y = pc.cast(pa.array(xy[:, 1]), pa.string())
        return pc.binary_join_element_wise('{"type":"Point","coordinates":[', x, ",", y, "]}", "")
    rounded = shapely.transform(data, lambda c: np.round(c, GEOJSON_DECIMALS), include_z=None)
    texts = shapely.to_geojson(rounded)
    texts[pd.isna(texts)] = "null"
    return pa.array(texts, type=pa.string())


def write_geojson(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write `frame` as a GeoJSON FeatureCollection in EPSG:4326, atomically.

    Parameters
    ----------
    frame
        The features: one geometry column and attribute columns of booleans, integers, floats
        or text (the file's properties, in the frame's order). A frame in another CRS is
        written in EPSG:4326.
    path
        Destination ``.geojson`` file; the collection's ``name`` is its stem.

    Returns
    -------
    Path
        `path`.

    Notes
    -----
    The file reads back as the one GDAL's GeoJSON driver writes (RFC 7946 features in
    longitude and latitude, the ``crs`` member naming CRS84, the same properties and types),
    but it is built from the columns in bulk by Arrow's string kernels instead of feature by
    feature, and the interpreter stays free meanwhile for the outputs written beside it: a
    national run's 120,000 towers took 0.7 s of the interpreter's time in Python's string
    operations, 1.2 s in GDAL's writer. Attribute columns of other kinds (dates) are left to
    GDAL. Point coordinates are exact (:func:`_geometry_texts`), where GDAL writes 15 decimals
    and trims what looks like round-off.
    """
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs(4326)
    geometry = frame.geometry.name
    columns = {column: _json_texts(frame[column]) for column in frame.columns if column != geometry}
    if any(values is None for values in columns.values()):
        name = Path(path).stem  # the collection's, not the temporary file's
        return atomic_write(
            path,
            lambda p: frame.to_file(
                p, driver="GeoJSON", engine="pyogrio", use_arrow=True, layer=name
            ),
        )
    crs = (
        '"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},\n'
        if frame.crs is not None
        else ""
    )
    head = (
        '{\n"type":"FeatureCollection",\n'
        f'"name":{json.dumps(Path(path).stem, ensure_ascii=False)},\n{crs}"features":[\n'
    )
    if not len(frame):
        return write_text(head + "]\n}\n", path)
    parts: list[Any] = ['{"type":"Feature","properties":{']
    for i, (column, texts) in enumerate(columns.items()):
        parts += [("," if i else "") + json.dumps(str(column), ensure_ascii=False) + ":", texts]
    parts += ['},"geometry":', _geometry_texts(frame.geometry), "}"]
    features = pc.binary_join_element_wise(*parts, "").cast(pa.large_string())
    # All the features in one buffer, a comma and a line break between two.
    bounds = pa.array([0, len(features)], type=pa.int64())
    body = pc.binary_join(
        pa.LargeListArray.from_arrays(bounds, features), pa.scalar(",\n", pa.large_string())
    )[0]

    def write(p: Path) -> None:
        with p.open("wb") as out:
            out.write(head.encode("utf-8"))
            out.write(memoryview(body.as_buffer()))
            out.write(b"\n]\n}\n")

    return atomic_write(path, write)


def write_parquet(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write `frame` as GeoParquet, atomically (see :func:`atomic_write`).

    Parameters
    ----------
    frame
        The layer to write; its columns and rows are those :func:`write_layer` writes.
    path
        Destination ``.parquet`` file.

    Returns
    -------
    Path
        `path`.

    Notes
    -----
    Text columns holding other values too (numbers beside text) are written as text, as a
    GeoPackage would store them: Parquet wants one type per column. The geometry is the last
    column, where a GeoPackage read back has it.
    """
    geometry = frame.geometry.name
    clean = frame[[*(c for c in frame.columns if c != geometry), geometry]].copy()
    for column in clean.columns:
        if column == clean.geometry.name:
            continue
        values = clean[column]
        if isinstance(values.dtype, pd.StringDtype):
            continue
        if pd.api.types.infer_dtype(values, skipna=True) in ("mixed", "mixed-integer"):
            clean[column] = values.astype("string")
    return atomic_write(path, lambda p: clean.to_parquet(p, index=False))


#: First characters with which a spreadsheet reads a cell as a formula (or a DDE call).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """Return `value` so that a spreadsheet shows it as text, never runs it as a formula.

    Text that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a single
    quote in front, as OWASP's advice on CSV injection says
    (https://owasp.org/www-community/attacks/CSV_Injection). Numbers, booleans, None and
    other text are returned unchanged, so a negative number stays a number.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of `frame` whose text cells go through :func:`spreadsheet_cell`.

    Every CSV or XLSX table that hatangso writes for people passes through here. Only columns
    of text (object or string dtype) are touched; numeric columns keep their dtype.
    """
    out = pd.DataFrame(frame).copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype):
            text = series.map(spreadsheet_cell, na_action="ignore")
            out[column] = text.astype(series.dtype) if text.dtype != series.dtype else text
    out.columns = pd.Index([spreadsheet_cell(c) for c in out.columns])
    return out


def write_clean_layer(layer: Layer, out_dir: str | Path) -> Path:
    """Write a validated layer as ``<kind>.gpkg`` (``<kind>.csv`` when it has no geometry)."""
    out_dir = Path(out_dir)
    stem = layer.kind.replace("-", "_")
    if isinstance(layer.frame, gpd.GeoDataFrame):
        return write_layer(layer.frame, out_dir / f"{stem}.gpkg", layer=stem)
    frame = layer.frame
    return atomic_write(out_dir / f"{stem}.csv", lambda p: frame.to_csv(p, index=False))


def write_rejects(
    layers: Iterable[Layer], out_dir: str | Path, *, extra: Iterable[pd.DataFrame] = ()
) -> Path:
    """Write ``rejects.csv`` (``file``, ``row``, ``id``, ``reason``) for all `layers`.

    `extra` adds rejects of inputs that are streamed rather than loaded as layers (samples).
    The file is written even when nothing was rejected, so its absence never has to be
    interpreted.
    """
    frames = [layer.rejects for layer in layers if len(layer.rejects)]
    frames += [frame[REJECT_COLUMNS] for frame in extra if len(frame)]
    rejects = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    safe = spreadsheet_safe(rejects)
    return atomic_write(
        Path(out_dir) / "rejects.csv", lambda p: safe.to_csv(p, index=False, encoding="utf-8")
    )
