"""The store's interface and its results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from hatangso.geo.errors import Problem

__all__ = ["AppliedChange", "ChangeSet", "HistoryEntry", "Record", "RecordStore"]

Action = Literal["add", "update", "retire"]
AsOf = date | datetime | str | None
BBox = tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class ChangeSet:
    """A computed change to one kind of the record, not yet applied (a dry run shows it).

    Attributes
    ----------
    kind
        The kind (``villages`` ...).
    actor
        Who submits it.
    operator
        The operator it is submitted for; None for the province (an official).
    mode
        ``upsert`` or ``replace`` (see :meth:`RecordStore.diff`).
    base_version
        The store's version the change was computed against.
    rows
        One row per record the change adds, updates or retires, in its state after the change:
        ``record_id`` (str), ``action`` (``add``/``update``/``retire``), ``operator``,
        ``attrs`` (canonical JSON), ``changed`` (names of the changed attributes, comma
        separated), ``existed`` (a row of that id is stored, retired or not), ``row`` (1-based
        row of the upload, 0 for a retired record) and the geometry (EPSG:4326).
    problems
        Every fault of a row of the upload (as validation reports them); any refuses the
        change whole.
    forbidden
        Every row the submitting operator may not touch; any refuses the change whole.
    notes
        Warnings of the validation that refuse nothing.
    note
        Free text kept with the change (why it was made).
    """

    kind: str
    actor: str
    operator: str | None
    mode: Literal["upsert", "replace"]
    base_version: int
    rows: gpd.GeoDataFrame
    problems: tuple[Problem, ...] = ()
    forbidden: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    note: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the change can be applied (no problem, nothing forbidden)."""
        return not self.problems and not self.forbidden

    def counts(self) -> dict[str, int]:
        """Return how many records the change adds, updates and retires."""
        action = self.rows["action"]
        return {a: int((action == a).sum()) for a in ("add", "update", "retire")}

    def table(self) -> pd.DataFrame:
        """Return the diff as a plain table: ``record_id``, ``action``, ``changed``."""
        return pd.DataFrame(self.rows[["record_id", "action", "changed"]]).reset_index(drop=True)


@dataclass(frozen=True)
class AppliedChange:
    """The outcome of an applied change set.

    Attributes
    ----------
    version
        The store's version after the change (its change number); unchanged when the change
        set was empty.
    kind
        The kind changed.
    time
        When it was applied (UTC).
    actor
        Who applied it.
    added, updated, retired
        Records added, updated and retired.
    """

    version: int
    kind: str
    time: datetime
    actor: str
    added: int
    updated: int
    retired: int


@dataclass(frozen=True, eq=False)
class Record:
    """One record as it stands (or stood at a date).

    Attributes
    ----------
    kind
        Its kind.
    record_id
        Its stable id.
    operator
        The operator it belongs to, None for the province's.
    attributes
        Its attributes (the contract's columns and the upload's others).
    geometry
        Its geometry in EPSG:4326, None for kinds without one.
    version
        Number of the last change that touched it (an ETag).
    retired
        Whether it is retired.
    """

    kind: str
    record_id: str
    operator: str | None
    attributes: Mapping[str, Any]
    geometry: BaseGeometry | None
    version: int
    retired: bool


@dataclass(frozen=True, eq=False)
class HistoryEntry:
    """One change of one record.

    Attributes
    ----------
    version
        The change number.
    time
        When (UTC).
    actor
        Who made it.
    action
        ``add``, ``update`` or ``retire``.
    before
        The record's state before (None for its first addition): its id column, ``operator``,
        its attributes and ``geometry`` (a GeoJSON geometry).
    after
        Its state after (for a retirement, the last state).
    """

    version: int
    time: datetime
    actor: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any]


class RecordStore(Protocol):
    """A province's record: rows with stable ids, change sets and their history.

    Two implementations share one code base: an embedded GeoPackage file (the default) and
    PostGIS (:func:`hatangso.geo.store.open_store`).
    """

    @property
    def url(self) -> str:
        """Where the store lives (a database URL, without password)."""
        ...

    @property
    def version(self) -> int:
        """Number of the last change applied (0 for an empty store); usable as an ETag."""
        ...

    def version_at(self, as_of: AsOf = None) -> int:
        """Return the number of the last change applied by the end of day `as_of` (0: none)."""
        ...

    def diff(
        self,
        kind: str,
        frame: pd.DataFrame,
        *,
        actor: str,
        operator: str | None = None,
        mode: Literal["upsert", "replace"] = "upsert",
        name: str | None = None,
        crs: str | None = None,
        columns: Mapping[str, str] | None = None,
        note: str | None = None,
    ) -> ChangeSet:
        """Validate an upload of `kind` and compare it with the record by stable id."""
        ...

    def apply(self, changeset: ChangeSet) -> AppliedChange:
        """Apply a change set in one transaction, or refuse it whole."""
        ...

    def read(
        self,
        kind: str,
        *,
        as_of: AsOf = None,
        bbox: BBox | None = None,
        operator: str | None = None,
    ) -> gpd.GeoDataFrame:
        """Return the live records of `kind` (now, or at the end of day `as_of`)."""
        ...

    def get(self, kind: str, record_id: str, *, as_of: AsOf = None) -> Record:
        """Return one record."""
        ...

    def edit(
        self,
        kind: str,
        record_id: str,
        changes: Mapping[str, Any],
        *,
        actor: str,
        operator: str | None = None,
        note: str | None = None,
    ) -> AppliedChange:
        """Change attributes (or ``geometry``) of one live record."""
        ...

    def retire(
        self,
        kind: str,
        record_ids: str | Sequence[str],
        *,
        actor: str,
        operator: str | None = None,
        note: str | None = None,
    ) -> AppliedChange:
        """Retire live records: they leave every read from now on and keep their history."""
        ...

    def history(self, kind: str, record_id: str) -> list[HistoryEntry]:
        """Return every change of one record, oldest first."""
        ...

    def changes_since(self, version: int) -> list[dict[str, Any]]:
        """Return the change sets applied after `version`, oldest first."""
        ...

    def close(self) -> None:
        """Release the store's connections."""
        ...
