"""A scenario year's measurement samples: those taken up to the end of that year.

``hatangso run`` measures each year on the samples known at its end: a sample whose ``time``
falls after 31 December of the year (Vietnam time, UTC+7) is left out of that year's run,
so that a year's ``commune_4g_speed`` and ``commune_5g_speed`` (and its measured coverage)
rest on what had been measured by then, against that year's targets. A sample without a
``time``, or with one that cannot be read as ISO 8601, is undated and counts in every year
(the samples validator refuses no row for its time). A time without an offset is Vietnam
time; a date alone is that day's start. The baseline takes every sample.

Only the ``time`` column is parsed; the other columns are copied as text, so that the
year's file is read and checked exactly as the scenario's file is
(:func:`hatangso.coverage.measurements.aggregate_samples`). A CSV is streamed in blocks;
other formats are read whole.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from hatangso.geo.outputs import atomic_write, write_layer
from hatangso.geo.schema import spec_for
from hatangso.geo.text import fold_key

__all__ = ["VIETNAM_OFFSET", "dated_before", "samples_until"]

log = logging.getLogger(__name__)

#: The offset of a sample time written without one (Vietnam, UTC+7, no daylight saving).
VIETNAM_OFFSET: Final = "+07:00"
# A time's UTC offset: Z, +hh:mm, +hhmm or +hh, after the time of day (so that the month of
# "2024-12" is no offset).
_OFFSET: Final = r"[T ]\d{2}(?::?\d{2}){0,2}(?:[.,]\d+)?(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
_DATE_ONLY: Final = r"^\d{4}-\d{2}-\d{2}$"
_CSV_SUFFIXES: Final = (".csv", ".txt", ".tsv")
_BLOCK_BYTES: Final = 1 << 24


def dated_before(times: pd.Series, year: int) -> npt.NDArray[np.bool_]:
    """Whether each sample time counts in `year`: on or before its 31 December, or undated.

    Parameters
    ----------
    times
        The ``time`` cells as text (ISO 8601; without an offset: Vietnam time).
    year
        The scenario year.

    Returns
    -------
    numpy.ndarray
        Boolean, one per time: False only for a readable time after the end of `year`.

    Examples
    --------
    >>> times = pd.Series(["2024-12-31T23:59:00", "2025-01-01T00:00:00+07:00",
    ...                    "2024-12-31T17:30:00Z", "2025-03-01", "", None, "soon",
    ...                    "2025-01-01T00:30:00+07"])
    >>> dated_before(times, 2024).tolist()
    [True, False, False, False, True, True, True, False]
    """
    text = times.astype("string").str.strip().fillna("")
    text = text.mask(text.str.fullmatch(_DATE_ONLY).fillna(False), text + "T00:00:00")
    naive = ~text.str.contains(_OFFSET, regex=True).fillna(False) & (text != "")
    text = text.mask(naive, text + VIETNAM_OFFSET).mask(text == "", None)
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    end = pd.Timestamp(f"{year + 1}-01-01T00:00:00{VIETNAM_OFFSET}")
    late = (parsed >= end).fillna(False).to_numpy(dtype=bool)
    return np.asarray(~late, dtype=bool)


def _time_column(header: list[str], columns: Mapping[str, str] | None) -> str | None:
    """Return the file's ``time`` column: the column map's, else the first alias found."""
    by_key = {fold_key(c): c for c in reversed(header)}
    if columns and "time" in columns:
        given = columns["time"]
        return given if given in header else by_key.get(fold_key(given))
    spec = next(c for c in spec_for("samples").columns if c.name == "time")
    for name in (spec.name, *spec.aliases):
        if fold_key(name) in by_key:
            return by_key[fold_key(name)]
    return None


def samples_until(
    path: str | Path,
    year: int,
    out_dir: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    encoding: str = "utf-8",
) -> Path:
    """Return the samples of `path` that count in `year` (see :func:`dated_before`).

    Parameters
    ----------
    path
        The scenario's samples file (CSV, or any format the samples reader takes).
    year
        The scenario year.
    out_dir
        Where the year's file is written (``samples.csv``, or ``samples.gpkg`` for a file
        with geometry), when some sample is left out.
    columns
        The scenario's column map of the samples (its ``time`` entry names the column).
    encoding
        Text encoding of a CSV.

    Returns
    -------
    pathlib.Path
        `path` itself when every sample counts (or the file has no ``time`` column), else the
        year's file.
    """
    from hatangso.coverage.measurements import sample_columns

    path = Path(path)
    time_column = _time_column(sample_columns(path, encoding=encoding), columns)
    if time_column is None:
        return path
    out_dir = Path(out_dir)
    if path.suffix.lower() in _CSV_SUFFIXES:
        written = _csv_until(path, year, time_column, out_dir / "samples.csv", encoding)
    else:
        written = _layer_until(path, year, time_column, out_dir)
    return path if written is None else written


def _delimiter(path: Path, encoding: str) -> str:
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        head = handle.read(65_536).removeprefix("\ufeff")
    try:
        return csv.Sniffer().sniff("\n".join(head.splitlines()[:20]), delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


class _EverySampleCounts(Exception):  # noqa: N818 - a signal, caught in _csv_until
    """No sample falls after the year: its file is not published (the scenario's serves)."""


def _csv_until(path: Path, year: int, time_column: str, out: Path, encoding: str) -> Path | None:
    """Stream `path` into `out` without the samples after `year`; None if none is after."""
    from hatangso.coverage.measurements import sample_columns

    header = sample_columns(path, encoding=encoding)
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES, encoding=encoding),
        parse_options=pacsv.ParseOptions(delimiter=_delimiter(path, encoding)),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header}, strings_can_be_null=False
        ),
    )
    kept = dropped = 0

    def write(partial: Path) -> None:
        nonlocal kept, dropped
        with pacsv.CSVWriter(partial, reader.schema) as writer:
            for batch in reader:
                keep = dated_before(batch.column(time_column).to_pandas(), year)
                writer.write_batch(batch.filter(pa.array(keep)))
                kept += int(keep.sum())
                dropped += int((~keep).sum())
        if not dropped:
            raise _EverySampleCounts

    try:  # written whole or not at all, flushed to disk before it takes the year's name
        atomic_write(out, write)
    except _EverySampleCounts:
        return None
    log.info("samples of %d: %d kept, %d taken after its end left out", year, kept, dropped)
    return out


def _layer_until(path: Path, year: int, time_column: str, out_dir: Path) -> Path | None:
    """Copy a non-CSV samples file without the samples after `year`; None if none is after."""
    from hatangso.geo.io import read_table

    raw = read_table(path, kind="samples")
    frame = raw.frame
    keep = dated_before(frame[time_column].astype("string"), year)
    if keep.all():
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    kept = frame.loc[keep]
    if raw.has_geometry:
        out = write_layer(gpd.GeoDataFrame(kept), out_dir / "samples.gpkg", layer="samples")
    else:
        table = pd.DataFrame(kept)
        out = atomic_write(out_dir / "samples.csv", lambda p: table.to_csv(p, index=False))
    log.info(
        "samples of %d: %d kept, %d taken after its end left out",
        year,
        len(kept),
        len(frame) - len(kept),
    )
    return out
