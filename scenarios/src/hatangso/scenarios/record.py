"""The province's record as the coverage job reads it: its layers as they stood on a day.

:func:`inputs_as_of` reads every kind of the record (:mod:`hatangso.geo.store`) as it stood at
the end of a day, or now, and writes the kinds that have rows as files, the files
:func:`hatangso.scenarios.job.run_coverage` takes; the kinds without rows are left to the
scenario's own files. The layers written are those of exactly one change of the record, whose
number (:attr:`RecordInputs.version`) a run keeps, so a result names the record it describes
and a year's report can be made again from the record as it stood on 31 December.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hatangso.geo.errors import InputError, NotFoundError, Problem
from hatangso.geo.outputs import atomic_write, write_layer
from hatangso.geo.schema import RECORD_KINDS, spec_for

if TYPE_CHECKING:
    from hatangso.geo.store import RecordStore, SqlStore

__all__ = [
    "RecordInputs",
    "as_of_text",
    "inputs_as_of",
    "open_record",
    "record_schema",
    "record_version",
]

log = logging.getLogger(__name__)

#: How often a read of "now" is tried again when a change lands while it reads.
_ATTEMPTS = 5


@dataclass(frozen=True)
class RecordInputs:
    """The record's layers written as files for one run.

    Attributes
    ----------
    version
        The record's change number the layers are of.
    as_of
        The day asked (``YYYY-MM-DD``), None for the record as it stands now.
    paths
        Kind (``villages``, ``sites``, ``access-points`` ...) to the file written, for the
        kinds that had rows; ready for :meth:`hatangso.scenarios.job.InputFiles.from_paths`.
    counts
        Rows written per kind.
    """

    version: int
    as_of: str | None
    paths: Mapping[str, Path] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """Return what a run keeps of its record: version, day and rows per kind."""
        return {"version": self.version, "as_of": self.as_of, "counts": dict(self.counts)}


def record_schema(name: str) -> str:
    """Return the PostgreSQL schema that holds the record of scenario `name`.

    >>> record_schema("ca-mau")
    'record_ca_mau'
    """
    return "record_" + name.replace("-", "_")


def open_record(target: str | Path, *, name: str) -> SqlStore:
    """Open the record at `target` to read it: a record file, or a PostGIS database.

    Parameters
    ----------
    target
        A record file (``record.gpkg``), a scenario folder of the service holding one, or
        ``postgresql://user:password@host:port/database``.
    name
        The scenario's name: in a database, its record is the schema :func:`record_schema`
        of it, as the service keeps it.

    Raises
    ------
    InputError
        If `target` is a file path where there is no record.
    """
    from hatangso.geo.store import open_store  # SQLAlchemy: only when a record is read

    text = str(target)
    if text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return _open_database(text, name)
    path = Path(text)
    if path.is_dir():
        path = path / "record.gpkg"
    fix = (
        "give the record's file (record.gpkg, in the scenario's folder of the service's "
        "workspace) or its database as postgresql://user:pw@host:port/db"
    )
    if not path.is_file():
        raise InputError(Problem(file=str(target), message="there is no record there", fix=fix))
    if not _is_record_file(path):
        # Opened as a record, another GeoPackage (the villages, say) would be written to.
        raise InputError(
            Problem(
                file=str(target), message="the file is not a record (no record tables)", fix=fix
            )
        )
    return open_store(path)


def _is_record_file(path: Path) -> bool:
    """Whether `path` is an SQLite file holding a record's tables (only read, never written)."""
    import sqlite3

    # A plain connection, not a read-only one: a record in write-ahead-log mode may need its
    # shared-memory file made to be read at all.
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            found = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_records'"
            ).fetchone()
    except sqlite3.DatabaseError:  # not an SQLite file at all (a CSV, a shapefile ...)
        return False
    return found is not None


def _open_database(url: str, name: str) -> SqlStore:
    """Open the record in the database at `url`; a database out of reach is the user's fault."""
    import sqlalchemy as sa

    from hatangso.geo.store import open_store

    try:
        return open_store(url, schema=record_schema(name))
    except sa.exc.OperationalError as exc:
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise InputError(
            Problem(
                file=shown,
                message=f"the record's database cannot be reached ({reason})",
                fix="check the host, port, database, user and password, and that the server "
                "runs and accepts connections from here",
            )
        ) from exc


def as_of_text(as_of: date | str | None) -> str | None:
    """Return `as_of` as ``YYYY-MM-DD`` (None stays None).

    Examples
    --------
    >>> as_of_text(date(2024, 12, 31))
    '2024-12-31'
    """
    if as_of is None:
        return None
    if isinstance(as_of, datetime):
        return as_of.isoformat()
    return as_of.isoformat() if isinstance(as_of, date) else str(as_of)


def record_version(
    store: RecordStore, as_of: date | str | None, *, label: str = "the record"
) -> int:
    """Return the record's version at the end of day `as_of` (now when None).

    Raises
    ------
    NotFoundError
        If the record had no change by then (a day before its first change, or an empty
        record).
    InputError
        If `as_of` is not a date.
    """
    version = store.version_at(as_of)
    if version == 0:
        when = "yet" if as_of is None else f"by the end of {as_of_text(as_of)}"
        raise NotFoundError(
            f"{label} had no change {when}: there is nothing to answer for that day. Fix: ask "
            "for a day on or after the record's first change"
        )
    return version


def inputs_as_of(
    store: RecordStore,
    as_of: date | str | None,
    folder: str | Path,
    *,
    kinds: tuple[str, ...] = RECORD_KINDS,
) -> RecordInputs:
    """Write the record's layers as they stood at the end of day `as_of` into `folder`.

    Parameters
    ----------
    store
        The record.
    as_of
        A day (``YYYY-MM-DD`` or :class:`datetime.date`): the record at the end of it, in the
        store's time zone; None: as it stands now.
    folder
        Where the files go (created): ``<stem>.gpkg`` per kind with a geometry,
        ``declared.csv`` for declarations.
    kinds
        The kinds to read (default every kind of the record; the streamed samples are skipped).

    Returns
    -------
    RecordInputs
        The version read and the files written. A kind without rows is not written: the
        run takes it from its files, if it has any.

    Raises
    ------
    InputError
        If `as_of` is not a date.

    Notes
    -----
    A read of a past day reads exactly the change current at its end (later changes are
    stamped later). A read of now may race a change being applied: the version is read before
    and after the layers, and the read is made again until the two agree.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = [k for k in kinds if not spec_for(k).streamed and spec_for(k).record]
    for _attempt in range(_ATTEMPTS if as_of is None else 1):
        version = store.version_at(as_of)
        frames = {kind: store.read(kind, as_of=as_of) for kind in wanted}
        if as_of is not None or store.version == version:
            break
        log.info("the record changed while it was read (version %d); reading again", version)
    paths: dict[str, Path] = {}
    counts: dict[str, int] = {}
    for kind, frame in frames.items():
        if frame.empty:
            continue
        spec = spec_for(kind)
        if spec.geometry == "none":
            paths[spec.kind] = _write_table(
                pd.DataFrame(frame.drop(columns=frame.geometry.name)), folder / f"{spec.stem}.csv"
            )
        else:
            paths[spec.kind] = write_layer(frame, folder / f"{spec.stem}.gpkg", layer=spec.stem)
        counts[spec.kind] = len(frame)
    log.info(
        "record version %d%s: %s",
        version,
        "" if as_of is None else f" (as of {as_of_text(as_of)})",
        ", ".join(f"{n} {k}" for k, n in counts.items()) or "no rows",
    )
    return RecordInputs(version=version, as_of=as_of_text(as_of), paths=paths, counts=counts)


def _write_table(table: pd.DataFrame, path: Path) -> Path:
    """Write a kind without geometry (declarations) as CSV, atomically."""
    return atomic_write(path, lambda p: table.to_csv(p, index=False, encoding="utf-8"))
