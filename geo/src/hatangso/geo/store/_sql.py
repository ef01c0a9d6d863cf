"""The store on SQLAlchemy Core: one implementation for the GeoPackage file and for PostGIS.

The two back ends differ in four places only, each a small method: how the engine is made,
how a writer takes the store's write lock (``BEGIN IMMEDIATE`` on SQLite, a transaction-level
advisory lock on PostgreSQL), how geometries are encoded (GeoPackage binary or hex EWKB) and
what the first migration creates beside the tables (the GeoPackage metadata, or the PostGIS
extension). Everything else — the diff, the change sets, the history, ``as_of`` — is one code.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy import event

from hatangso.geo.errors import (
    ConflictError,
    ForbiddenError,
    InputError,
    NotFoundError,
    Problem,
)
from hatangso.geo.io import RawTable
from hatangso.geo.schema import LayerSpec, spec_for
from hatangso.geo.store._api import AppliedChange, AsOf, BBox, ChangeSet, HistoryEntry, Record
from hatangso.geo.store._records import (
    RowSet,
    canonical_attrs,
    decode_geometries,
    diff_rows,
    encode_geometries,
    id_column,
    parse_attrs,
    record_ids,
    state_dict,
)
from hatangso.geo.store._schema import CHANGES, HISTORY, RECORDS, USERS
from hatangso.geo.store._users import (
    NewUser,
    User,
    hash_secret,
    new_token,
    same_hash,
    split_token,
    user_problems,
)
from hatangso.geo.text import normalize_operator

__all__ = ["SqlStore", "open_store", "store_url"]

log = logging.getLogger(__name__)

#: File name of the embedded store in a workspace.
STORE_FILE = "record.gpkg"

#: The time zone whose days ``as_of`` names: the province's clock.
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

_MIGRATIONS = Path(__file__).with_name("migrations")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_LOCK_KEY = 748201  # the advisory lock of the store's writers


def _utc_now() -> datetime:
    return datetime.now(UTC)


def store_url(workspace: str | Path, *, database_url: str | None = None) -> str:
    """Return the URL of the store of `workspace`.

    Parameters
    ----------
    workspace
        The workspace folder: its embedded store is ``<workspace>/record.gpkg``.
    database_url
        ``HATANGSO_DATABASE_URL`` when set (``postgresql://user:pw@host:port/db``): the
        record is kept in PostGIS instead.

    Returns
    -------
    str
        A URL for :func:`open_store`.

    Examples
    --------
    >>> store_url("/srv/ws")
    'sqlite:////srv/ws/record.gpkg'
    >>> store_url("/srv/ws", database_url="postgresql://h@db/hatangso")
    'postgresql://h@db/hatangso'
    """
    if database_url:
        return database_url
    return f"sqlite:///{Path(workspace) / STORE_FILE}"


def open_store(
    target: str | Path,
    *,
    schema: str | None = None,
    clock: Callable[[], datetime] = _utc_now,
    timezone: str = DEFAULT_TIMEZONE,
) -> SqlStore:
    """Open (creating and upgrading as needed) the store at `target`.

    Parameters
    ----------
    target
        ``postgresql://...`` for PostGIS; ``sqlite:///path.gpkg``, a ``.gpkg`` file or a
        workspace folder (its ``record.gpkg``) for the embedded store.
    schema
        PostgreSQL schema holding this store's tables (created if absent), so that several
        workspaces share one database; default the database's own search path.
    clock
        Returns the current time (timezone-aware); the time every change is stamped with.
    timezone
        The zone whose calendar days ``as_of`` names.

    Returns
    -------
    SqlStore
        The store, its schema upgraded to the newest migration.

    Raises
    ------
    InputError
        If `target` names no store hatangso can use.
    """
    text = str(target)
    if text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return SqlStore(text, schema=schema, clock=clock, timezone=timezone)
    if text.startswith("sqlite:///"):
        return SqlStore(text, clock=clock, timezone=timezone)
    if "://" in text:
        raise InputError(
            Problem(
                file="HATANGSO_DATABASE_URL",
                message=f"unsupported store URL scheme in {_redact(text)!r}",
                fix="use postgresql://user:password@host:port/database, or leave it unset for "
                "the embedded store",
            )
        )
    path = Path(text)
    if path.suffix.lower() not in {".gpkg", ".sqlite", ".db"}:
        path = path / STORE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqlStore(f"sqlite:///{path}", clock=clock, timezone=timezone)


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


class SqlStore:
    """A province's record in a SQL database (see :class:`~hatangso.geo.store.RecordStore`).

    Open it with :func:`open_store`.

    Parameters
    ----------
    url
        ``sqlite:///file.gpkg`` or ``postgresql://...``.
    schema
        PostgreSQL only: the schema of the store's tables.
    clock
        Returns the current (timezone-aware) time.
    timezone
        The zone of ``as_of``'s days.
    revision
        The migration to upgrade to: ``head`` but in tests of the migrations themselves.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
        timezone: str = DEFAULT_TIMEZONE,
        revision: str = "head",
    ) -> None:
        self._clock = clock
        self._zone = ZoneInfo(timezone)
        self._url = _redact(url)
        if url.startswith("sqlite"):
            self._engine = _sqlite_engine(url)
        else:
            self._engine = _postgres_engine(url, schema)
        self._dialect = self._engine.dialect.name
        self._upgrade(revision)

    # ------------------------------------------------------------------------------------
    # The dialect-specific parts

    @contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """Open a transaction holding the store's write lock (writers queue on it)."""
        with self._engine.connect() as conn:
            if self._dialect == "sqlite":
                conn.execution_options(hatangso_write=True)
            with conn.begin():
                if self._dialect == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))
                yield conn

    def _upgrade(self, revision: str) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self._writing() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    # ------------------------------------------------------------------------------------
    # Reading

    @property
    def url(self) -> str:
        """Where the store lives (the password hidden)."""
        return self._url

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._dialect

    @property
    def version(self) -> int:
        """Number of the last change applied (0 for an empty store)."""
        with self._engine.connect() as conn:
            return _version(conn)

    def version_at(self, as_of: AsOf = None) -> int:
        """Return the number of the last change applied by the end of day `as_of`.

        Parameters
        ----------
        as_of
            As in :meth:`read`; None: now (:attr:`version`).

        Returns
        -------
        int
            The store's version as it stood then: reading with the same `as_of` reads the
            record at exactly that change. 0 when no change was applied by then.

        Raises
        ------
        InputError
            If `as_of` is not a date.
        """
        if as_of is None:
            return self.version
        cutoff = self._cutoff_us(as_of)
        stmt = sa.select(sa.func.max(CHANGES.c.change_no)).where(CHANGES.c.time_us < cutoff)
        with self._engine.connect() as conn:
            value = conn.execute(stmt).scalar()
        return int(value or 0)

    def changes_since(self, version: int) -> list[dict[str, Any]]:
        """Return the change sets applied after `version`, oldest first.

        Each is ``{version, time, user, operator, kind, added, updated, retired, note}``:
        what a run that read the record at `version` has not seen.
        """
        stmt = (
            sa.select(CHANGES)
            .where(CHANGES.c.change_no > int(version))
            .order_by(CHANGES.c.change_no)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [
            {
                "version": int(r.change_no),
                "time": _from_us(int(r.time_us)).isoformat(),
                "user": r.actor,
                "operator": r.operator,
                "kind": r.kind,
                "added": int(r.added),
                "updated": int(r.updated),
                "retired": int(r.retired),
                "note": r.note,
            }
            for r in rows
        ]

    def close(self) -> None:
        """Release the store's connections."""
        self._engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(
        self,
        kind: str,
        *,
        as_of: AsOf = None,
        bbox: BBox | None = None,
        operator: str | None = None,
    ) -> gpd.GeoDataFrame:
        """Return the live records of `kind`.

        Parameters
        ----------
        kind
            A kind of the record (``villages``, ``sites``, ``access-points`` ...).
        as_of
            A date (``YYYY-MM-DD`` or :class:`datetime.date`): the records as they stood at
            the end of that day in the store's time zone; a timezone-aware datetime: as they
            stood just before that instant. None: now.
        bbox
            ``(min_lon, min_lat, max_lon, max_lat)``: only records whose geometry intersects it.
        operator
            Only the records of this operator.

        Returns
        -------
        geopandas.GeoDataFrame
            One row per live record, ordered by id: the kind's id column, ``operator`` (kinds
            that have one), the attributes (the contract's columns first) and ``geometry``
            (EPSG:4326; all None for ``declared``).
        """
        spec = _record_spec(kind)
        with self._engine.connect() as conn:
            rows = self._select_state(conn, spec, as_of=as_of, bbox=bbox, operator=operator)
        return self._frame(spec, rows, bbox=bbox)

    def get(self, kind: str, record_id: str, *, as_of: AsOf = None) -> Record:
        """Return one record, retired or not.

        Parameters
        ----------
        kind
            Its kind.
        record_id
            Its stable id.
        as_of
            As in :meth:`read`.

        Returns
        -------
        Record
            Its state.

        Raises
        ------
        NotFoundError
            If no record of that id existed (at `as_of`).
        """
        spec = _record_spec(kind)
        with self._engine.connect() as conn:
            rows = self._select_state(
                conn, spec, as_of=as_of, record_ids=[str(record_id)], with_retired=True
            )
        if len(rows) == 0:
            when = "" if as_of is None else f" on {as_of}"
            raise NotFoundError(
                f"{kind}: no record '{record_id}'{when}. Fix: check the id against "
                f"the list of {kind}"
            )
        geoms = decode_geometries(rows["geom"].tolist(), self._dialect)
        return Record(
            kind=spec.kind,
            record_id=str(rows["record_id"].iloc[0]),
            operator=_none(rows["operator"].iloc[0]),
            attributes={
                str(k): v for k, v in parse_attrs(rows["attrs"].tolist()).iloc[0].dropna().items()
            },
            geometry=geoms[0],
            version=int(rows["change_no"].iloc[0]),
            retired=bool(rows["retired"].iloc[0]),
        )

    def history(self, kind: str, record_id: str) -> list[HistoryEntry]:
        """Return every change of one record, oldest first.

        Parameters
        ----------
        kind
            Its kind.
        record_id
            Its stable id.

        Returns
        -------
        list of HistoryEntry
            Time, actor, action and the states before and after each change.

        Raises
        ------
        NotFoundError
            If the record never existed.
        """
        spec = _record_spec(kind)
        stmt = (
            sa.select(
                HISTORY.c.change_no,
                HISTORY.c.time_us,
                CHANGES.c.actor,
                HISTORY.c.action,
                HISTORY.c.operator,
                HISTORY.c.attrs,
                HISTORY.c.geom,
            )
            .join(CHANGES, CHANGES.c.change_no == HISTORY.c.change_no)
            .where(HISTORY.c.kind == spec.kind, HISTORY.c.record_id == str(record_id))
            .order_by(HISTORY.c.change_no)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            raise NotFoundError(
                f"{kind}: no record '{record_id}' has ever existed. Fix: check the id"
            )
        geoms = decode_geometries([r.geom for r in rows], self._dialect)
        id_name = id_column(spec)
        states = [
            state_dict(r.attrs, r.operator, g, id_name=id_name, record_id=str(record_id))
            for r, g in zip(rows, geoms, strict=True)
        ]
        return [
            HistoryEntry(
                version=int(r.change_no),
                time=_from_us(int(r.time_us)),
                actor=str(r.actor),
                action=str(r.action),
                before=states[i - 1] if i else None,
                after=states[i],
            )
            for i, r in enumerate(rows)
        ]

    # ------------------------------------------------------------------------------------
    # Changing

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
        """Validate an upload of `kind` and compare it with the record by stable id.

        Parameters
        ----------
        kind
            A kind of the record.
        frame
            The upload: a GeoDataFrame (or, for CSV-like tables, a DataFrame with coordinate
            columns), checked exactly as ``hatangso validate`` checks a file.
        actor
            Who submits it.
        operator
            The operator it is submitted for: every row it adds must name that operator and
            every stored row it touches must be that operator's. None for an official.
        mode
            ``upsert``: add new ids and update changed ones. ``replace``: the upload is the
            full layer (of `operator`, when given), so live records missing from it are
            retired too.
        name
            The upload's file name, for problems (default the kind).
        crs, columns
            As for :func:`hatangso.geo.validate.validate_table`.
        note
            Why the change is made, kept with it.

        Returns
        -------
        ChangeSet
            The diff; its ``problems`` and ``forbidden`` list every fault (then
            :meth:`apply` refuses it).

        Raises
        ------
        InputError
            For faults of the whole upload (a required column missing, duplicate ids ...).
        """
        spec = _record_spec(kind)
        label = name or spec.kind
        new, problems, notes = self._validate(spec, frame, name=label, crs=crs, columns=columns)
        with self._engine.connect() as conn:
            base = _version(conn)
            current = self._current_rows(conn, spec)
        if "operator" not in spec.required:
            # The kind has no operator column: its rows belong to whoever submits them, and a
            # change by an official keeps the owner a stored row has.
            if operator is not None:
                owners = np.full(len(new), operator, dtype=object)
            else:
                at = pd.Index(current.ids).get_indexer(pd.Index(new.ids))
                owners = np.full(len(new), None, dtype=object)
                owners[at >= 0] = current.operators[at[at >= 0]]
            new = replace(new, operators=owners)
        result = diff_rows(
            new,
            current,
            mode=mode,
            operator=operator,
            name=label,
            id_name=id_column(spec) or "record_id",
        )
        return self._changeset(
            spec,
            result.after,
            result.action,
            result.existed,
            result.changed,
            actor=actor,
            operator=operator,
            mode=mode,
            base=base,
            problems=problems,
            forbidden=result.forbidden,
            notes=notes,
            note=note,
        )

    def apply(self, changeset: ChangeSet) -> AppliedChange:
        """Apply a change set in one transaction, or refuse it whole.

        Parameters
        ----------
        changeset
            As :meth:`diff` (or :meth:`edit`, :meth:`retire`) computed it.

        Returns
        -------
        AppliedChange
            The new version and the counts.

        Raises
        ------
        ForbiddenError
            If the change touches rows its operator may not change (every one named).
        InputError
            If any row of the upload is faulty (every fault listed); nothing is changed.
        ConflictError
            If a record the change touches has changed since the change set was computed
            (the message names both versions); compute it again.
        """
        if changeset.forbidden:
            raise ForbiddenError((*changeset.forbidden, *changeset.problems))
        if changeset.problems:
            raise InputError(changeset.problems)
        rows = changeset.rows
        counts = changeset.counts()
        now = self._clock().astimezone(UTC)
        if len(rows) == 0:
            return AppliedChange(self.version, changeset.kind, now, changeset.actor, 0, 0, 0)
        ids = rows["record_id"].to_numpy(dtype=object)
        with self._writing() as conn:
            self._check_conflicts(conn, changeset, ids)
            time_us = _to_us(now)
            change_no = int(
                conn.execute(
                    CHANGES.insert()
                    .values(
                        time_us=time_us,
                        actor=changeset.actor,
                        operator=changeset.operator,
                        kind=changeset.kind,
                        added=counts["add"],
                        updated=counts["update"],
                        retired=counts["retire"],
                        note=changeset.note,
                    )
                    .returning(CHANGES.c.change_no)
                ).scalar_one()
            )
            state = self._state_columns(changeset.kind, rows)
            n = len(rows)
            existed = rows["existed"].to_numpy(dtype=bool)
            records = state | {
                "retired": (rows["action"] == "retire").to_numpy(dtype=bool).tolist(),
                "change_no": [change_no] * n,
            }
            if (~existed).any():
                self._insert(conn, RECORDS.name, _subset(records, ~existed))
            if existed.any():
                self._update_records(conn, _subset(records, existed))
            history = state | {
                "change_no": [change_no] * n,
                "action": rows["action"].astype(str).tolist(),
                "time_us": [time_us] * n,
            }
            self._insert(conn, HISTORY.name, history)
        log.info(
            "%s: change %d by %s: %d added, %d updated, %d retired",
            changeset.kind,
            change_no,
            changeset.actor,
            counts["add"],
            counts["update"],
            counts["retire"],
        )
        return AppliedChange(
            change_no,
            changeset.kind,
            now,
            changeset.actor,
            counts["add"],
            counts["update"],
            counts["retire"],
        )

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
        """Change attributes (or the ``geometry``) of one live record.

        Parameters
        ----------
        kind
            Its kind.
        record_id
            Its stable id.
        changes
            New values by column name; ``geometry`` takes a shapely geometry in EPSG:4326.
            The id cannot change.
        actor, operator, note
            As for :meth:`diff`.

        Returns
        -------
        AppliedChange
            The new version (unchanged if the values were already so).

        Raises
        ------
        NotFoundError
            If the record does not exist or is retired.
        InputError
            If the edited record fails validation, or `changes` touches its id.
        ForbiddenError
            If `operator` may not change the record.
        ConflictError
            If the record changed while the edit was made.
        """
        spec = _record_spec(kind)
        record = self.get(spec.kind, record_id)
        if record.retired:
            raise NotFoundError(
                f"{kind}: record '{record_id}' is retired. Fix: add it again with an upload"
            )
        id_name = id_column(spec)
        if id_name is not None and id_name in changes and str(changes[id_name]) != record_id:
            raise InputError(
                Problem(
                    file=spec.kind,
                    column=id_name,
                    message=f"the id of '{record_id}' cannot change",
                    fix="retire the record and add one with the new id",
                )
            )
        values: dict[str, Any] = dict(record.attributes)
        if id_name is not None:
            values[id_name] = record.record_id
        if "operator" in spec.required:
            values["operator"] = record.operator
        geometry = changes.get("geometry", record.geometry)
        values.update({k: v for k, v in changes.items() if k != "geometry"})
        frame = gpd.GeoDataFrame(
            {k: [v] for k, v in values.items()}, geometry=[geometry], crs="EPSG:4326"
        )
        changeset = self.diff(
            spec.kind, frame, actor=actor, operator=operator, mode="upsert", note=note
        )
        if (changeset.rows["record_id"] != record.record_id).any():
            # A kind keyed by its columns (a declaration's village, operator and tech).
            raise InputError(
                Problem(
                    file=spec.kind,
                    message=f"the edit changes the key of '{record_id}'",
                    fix="retire the record and add one with the new values",
                )
            )
        return self.apply(changeset)

    def retire(
        self,
        kind: str,
        record_ids: str | Sequence[str],
        *,
        actor: str,
        operator: str | None = None,
        note: str | None = None,
    ) -> AppliedChange:
        """Retire live records: they leave every read from now on and keep their history.

        Parameters
        ----------
        kind
            Their kind.
        record_ids
            One id or several.
        actor, operator, note
            As for :meth:`diff`.

        Returns
        -------
        AppliedChange
            The new version.

        Raises
        ------
        NotFoundError
            If an id names no live record (all such ids are named).
        ForbiddenError
            If `operator` may not retire one of them.
        """
        spec = _record_spec(kind)
        wanted = [record_ids] if isinstance(record_ids, str) else [str(i) for i in record_ids]
        with self._engine.connect() as conn:
            base = _version(conn)
            current = self._current_rows(conn, spec, record_ids=wanted)
        live = ~current.retired
        missing = sorted(set(wanted) - set(current.ids[live]))
        if missing:
            raise NotFoundError(
                f"{kind}: no live record {', '.join(repr(m) for m in missing)}. "
                "Fix: check the ids; a retired record stays retired"
            )
        chosen = current.take(np.flatnonzero(live))
        forbidden: list[Problem] = []
        id_name = id_column(spec) or "record_id"
        if operator is not None:
            others = pd.Series(chosen.operators, dtype=object).fillna("").to_numpy() != operator
            forbidden = [
                Problem(
                    file=spec.kind,
                    column=id_name,
                    message=f"{id_name} '{i}' belongs to {o or 'the province'}, not to {operator}",
                    fix="an operator retires its own rows only",
                )
                for i, o in zip(chosen.ids[others], chosen.operators[others], strict=True)
            ]
        n = len(chosen)
        changeset = self._changeset(
            spec,
            chosen,
            np.full(n, "retire", dtype=object),
            np.ones(n, dtype=bool),
            np.full(n, "", dtype=object),
            actor=actor,
            operator=operator,
            mode="upsert",
            base=base,
            problems=(),
            forbidden=tuple(forbidden),
            notes=(),
            note=note,
        )
        return self.apply(changeset)

    # ------------------------------------------------------------------------------------
    # Users (kept in the workspace's own store)

    def add_user(
        self,
        name: str,
        *,
        role: str,
        operator: str | None = None,
        province: str | None = None,
    ) -> NewUser:
        """Add a user and return it with its token, which is shown this once.

        Parameters
        ----------
        name
            The user's name, unique in the workspace (a revoked user's name stays taken, so
            that the history's names stay unambiguous).
        role
            ``official``, ``operator`` or ``viewer``.
        operator
            An operator user's operator (required for that role, refused for the others),
            spelled as validation spells the rows' (``vnpt`` is kept as ``VNPT``).
        province
            An official's province (None: any province).

        Returns
        -------
        NewUser
            The user and its bearer token; the store keeps only a salted hash of the token.

        Raises
        ------
        InputError
            If the name, role, operator or province is unusable (every fault listed).
        ConflictError
            If a user of that name exists (revoked or not).
        """
        # The operator as validation names it in the rows (``vnpt`` is ``VNPT``).
        operator = normalize_operator(operator.strip())[0] if operator is not None else None
        province = province.strip() if province is not None else None
        problems = user_problems(name, role, operator, province)
        if problems:
            raise InputError(problems)
        token_id, secret, token = new_token()
        salt = secrets.token_bytes(16).hex()
        now = self._clock().astimezone(UTC)
        with self._writing() as conn:
            taken = conn.execute(sa.select(USERS.c.name).where(USERS.c.name == name)).first()
            if taken is not None:
                raise ConflictError(
                    f"a user named '{name}' exists already. Fix: choose another name (a "
                    "revoked user's name stays taken, so that its changes keep their author)"
                )
            conn.execute(
                USERS.insert().values(
                    name=name,
                    role=role,
                    operator=operator,
                    province=province,
                    token_id=token_id,
                    salt=salt,
                    token_hash=hash_secret(secret, salt),
                    created_us=_to_us(now),
                )
            )
        log.info("user %s added (%s)", name, role)
        return NewUser(self._user(name), token)

    def users(self) -> list[User]:
        """Return every user, revoked ones too, ordered by name (never a token or hash)."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(*_USER_COLUMNS)).all()
        return sorted((_as_user(r) for r in rows), key=lambda u: u.name)

    def has_users(self) -> bool:
        """Whether any user was ever added (revoked ones count: revoking all opens nothing)."""
        with self._engine.connect() as conn:
            return conn.execute(sa.select(USERS.c.user_no).limit(1)).first() is not None

    def revoke_user(self, name: str) -> User:
        """Revoke a user's token: from now on it is refused (the user stays listed).

        Raises
        ------
        NotFoundError
            If there is no user of that name.
        """
        now = _to_us(self._clock())
        with self._writing() as conn:
            conn.execute(
                USERS.update()
                .where(USERS.c.name == name, USERS.c.revoked_us.is_(None))
                .values(revoked_us=now)
            )
        log.info("user %s revoked", name)
        return self._user(name)

    def authenticate(self, token: str) -> User | None:
        """Return the active user whose token `token` is, or None.

        The token's public id finds one row; its secret is hashed once with that row's salt
        and compared in constant time. The user's ``last_used`` is kept to the minute.
        """
        parts = split_token(token)
        if parts is None:
            return None
        token_id, secret = parts
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(*_USER_COLUMNS, USERS.c.salt, USERS.c.token_hash).where(
                    USERS.c.token_id == token_id
                )
            ).first()
        if row is None or row.revoked_us is not None:
            return None
        if not same_hash(hash_secret(secret, row.salt), row.token_hash):
            return None
        now = _to_us(self._clock())
        if row.last_used_us is None or now - int(row.last_used_us) >= 60_000_000:
            try:
                with self._engine.begin() as conn:
                    conn.execute(
                        USERS.update().where(USERS.c.token_id == token_id).values(last_used_us=now)
                    )
            except sa.exc.OperationalError:  # pragma: no cover - a busy database
                log.warning("the last use of user %s could not be recorded", row.name)
        return _as_user(row)

    def _user(self, name: str) -> User:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(*_USER_COLUMNS).where(USERS.c.name == name)).first()
        if row is None:
            raise NotFoundError(
                f"no user named '{name}'. Fix: `hatangso users list` shows the users"
            )
        return _as_user(row)

    # ------------------------------------------------------------------------------------
    # Internals

    def _validate(
        self,
        spec: LayerSpec,
        frame: pd.DataFrame,
        *,
        name: str,
        crs: str | None,
        columns: Mapping[str, str] | None,
    ) -> tuple[RowSet, tuple[Problem, ...], tuple[str, ...]]:
        from hatangso.geo.validate import validate_table

        has_geometry = isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in (
            frame.columns
        )
        raw = RawTable(frame=frame, name=name, encoding=None, has_geometry=has_geometry)
        layer = validate_table(raw, spec.kind, crs=crs, columns=columns)
        problems = tuple(
            _reject_problem(name, int(row), str(reason))
            for row, reason in zip(layer.rejects["row"], layer.rejects["reason"], strict=True)
        )
        clean = layer.frame
        ids = record_ids(spec, clean)
        problems += _duplicate_problems(name, ids, clean)
        operators = (
            clean["operator"].astype(object).where(clean["operator"].notna(), None).to_numpy()
            if "operator" in clean.columns
            else np.full(len(clean), None, dtype=object)
        )
        geoms = (
            np.asarray(clean.geometry.array, dtype=object)
            if isinstance(clean, gpd.GeoDataFrame)
            else np.full(len(clean), None, dtype=object)
        )
        drop = {"source_row", "operator", id_column(spec)}
        if isinstance(clean, gpd.GeoDataFrame):
            drop.add(clean.geometry.name)
        attrs = pd.DataFrame(clean[[c for c in clean.columns if c not in drop]])
        rows = (
            clean["source_row"].to_numpy(dtype=np.int64)
            if "source_row" in clean.columns
            else np.arange(1, len(clean) + 1, dtype=np.int64)
        )
        rowset = RowSet(
            ids.to_numpy(dtype=object),
            operators,
            np.asarray(canonical_attrs(attrs), dtype=object),
            geoms,
            np.zeros(len(clean), dtype=bool),
            rows,
        )
        return rowset, problems, tuple(layer.notes)

    def _current_rows(
        self, conn: sa.Connection, spec: LayerSpec, *, record_ids: list[str] | None = None
    ) -> RowSet:
        rows = self._select_state(conn, spec, record_ids=record_ids, with_retired=True)
        return RowSet(
            rows["record_id"].to_numpy(dtype=object),
            rows["operator"].astype(object).where(rows["operator"].notna(), None).to_numpy(),
            rows["attrs"].to_numpy(dtype=object),
            decode_geometries(rows["geom"].tolist(), self._dialect),
            rows["retired"].to_numpy(dtype=bool),
            np.zeros(len(rows), dtype=np.int64),
        )

    def _select_state(
        self,
        conn: sa.Connection,
        spec: LayerSpec,
        *,
        as_of: AsOf = None,
        bbox: BBox | None = None,
        operator: str | None = None,
        record_ids: list[str] | None = None,
        with_retired: bool = False,
    ) -> pd.DataFrame:
        """Rows of `spec`'s records: ``record_id, operator, attrs, geom, change_no, retired``."""
        if as_of is None:
            retired: Any = RECORDS.c.retired
            stmt = sa.select(
                RECORDS.c.record_id,
                RECORDS.c.operator,
                RECORDS.c.attrs,
                RECORDS.c.geom,
                RECORDS.c.change_no,
                retired.label("retired"),
            ).where(RECORDS.c.kind == spec.kind)
            table: Any = RECORDS
        else:
            cutoff = self._cutoff_us(as_of)
            ranked = (
                sa.select(
                    HISTORY.c.record_id,
                    HISTORY.c.operator,
                    HISTORY.c.attrs,
                    HISTORY.c.geom,
                    HISTORY.c.change_no,
                    HISTORY.c.action,
                    HISTORY.c.min_x,
                    HISTORY.c.min_y,
                    HISTORY.c.max_x,
                    HISTORY.c.max_y,
                    sa.func.row_number()
                    .over(partition_by=HISTORY.c.record_id, order_by=HISTORY.c.change_no.desc())
                    .label("rank"),
                )
                .where(HISTORY.c.kind == spec.kind, HISTORY.c.time_us < cutoff)
                .subquery()
            )
            retired = ranked.c.action == "retire"
            stmt = sa.select(
                ranked.c.record_id,
                ranked.c.operator,
                ranked.c.attrs,
                ranked.c.geom,
                ranked.c.change_no,
                retired.label("retired"),
            ).where(ranked.c.rank == 1)
            table = ranked
        if not with_retired:
            stmt = stmt.where(sa.not_(retired))
        if operator is not None:
            stmt = stmt.where(table.c.operator == operator)
        if record_ids is not None:
            stmt = stmt.where(table.c.record_id.in_(record_ids))
        if bbox is not None:
            x0, y0, x1, y1 = (float(v) for v in bbox)
            stmt = stmt.where(
                table.c.max_x >= x0, table.c.min_x <= x1, table.c.max_y >= y0, table.c.min_y <= y1
            )
        names = ["record_id", "operator", "attrs", "geom", "change_no", "retired"]
        rows = conn.execute(stmt).all()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        frame = pd.DataFrame(
            {
                name: pd.Series(values, dtype=object)
                for name, values in zip(names, columns, strict=True)
            }
        )
        # Ordered by id here rather than in SQL: the same code-point order on every
        # database, whatever its collation.
        order = np.argsort(frame["record_id"].to_numpy(dtype=object), kind="stable")
        return frame.take(order).reset_index(drop=True)

    def _frame(self, spec: LayerSpec, rows: pd.DataFrame, *, bbox: BBox | None) -> gpd.GeoDataFrame:
        geoms = decode_geometries(rows["geom"].tolist(), self._dialect)
        attrs = parse_attrs(rows["attrs"].tolist(), index=pd.RangeIndex(len(rows)))
        id_name = id_column(spec)
        data: dict[str, Any] = {}
        if id_name is not None:
            data[id_name] = rows["record_id"].astype(object).to_numpy()
        if "operator" in spec.required:
            data["operator"] = rows["operator"].to_numpy(dtype=object)
        order = [c.name for c in spec.columns if c.name in attrs.columns and c.name not in data]
        extra = sorted(c for c in attrs.columns if c not in order and c not in data)
        for column in (*order, *extra):
            values = attrs[column]
            try:
                dtype = spec.column(column).dtype
            except KeyError:
                dtype = "str"
            data[column] = pd.to_numeric(values) if dtype in {"float", "int"} else values
        frame = gpd.GeoDataFrame(
            pd.DataFrame(data, index=pd.RangeIndex(len(rows))),
            geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"),
            crs="EPSG:4326",
        )
        if bbox is not None and len(frame):
            keep = shapely.intersects(np.asarray(geoms, dtype=object), shapely.box(*bbox))
            frame = frame[np.asarray(keep, dtype=bool)].reset_index(drop=True)
        return frame

    def _changeset(
        self,
        spec: LayerSpec,
        after: RowSet,
        action: Any,
        existed: Any,
        changed: Any,
        *,
        actor: str,
        operator: str | None,
        mode: Literal["upsert", "replace"],
        base: int,
        problems: tuple[Problem, ...],
        forbidden: tuple[Problem, ...],
        notes: tuple[str, ...],
        note: str | None,
    ) -> ChangeSet:
        rows = gpd.GeoDataFrame(
            {
                "record_id": after.ids,
                "action": action,
                "operator": after.operators,
                "attrs": after.attrs,
                "changed": changed,
                "existed": np.asarray(existed, dtype=bool),
                "row": after.rows,
            },
            geometry=gpd.GeoSeries(after.geoms, crs="EPSG:4326"),
            crs="EPSG:4326",
        )
        return ChangeSet(
            kind=spec.kind,
            actor=actor,
            operator=operator,
            mode=mode,
            base_version=base,
            rows=rows,
            problems=problems,
            forbidden=forbidden,
            notes=notes,
            note=note,
        )

    def _state_columns(self, kind: str, rows: gpd.GeoDataFrame) -> dict[str, list[Any]]:
        """Return the state columns of `rows` as the database takes them, one list each."""
        geoms = np.asarray(rows.geometry.array, dtype=object)
        bounds = shapely.bounds(geoms)
        n = len(rows)
        columns: dict[str, list[Any]] = {
            "kind": [kind] * n,
            "record_id": rows["record_id"].astype(str).tolist(),
            "operator": [_none(o) for o in rows["operator"].tolist()],
            "attrs": rows["attrs"].astype(str).tolist(),
            "geom": encode_geometries(geoms, self._dialect),
        }
        for i, name in enumerate(("min_x", "min_y", "max_x", "max_y")):
            values = bounds[:, i].astype(object)
            values[~np.isfinite(bounds[:, i])] = None
            columns[name] = values.tolist()
        return columns

    def _insert(self, conn: sa.Connection, table: str, columns: dict[str, list[Any]]) -> None:
        """Insert rows given as columns: COPY on PostgreSQL, one executemany on SQLite."""
        names = list(columns)
        rows = list(zip(*columns.values(), strict=True))
        if self._dialect == "postgresql":
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" for _ in names)
        conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)

    def _update_records(self, conn: sa.Connection, columns: dict[str, list[Any]]) -> None:
        """Rewrite the current rows of stored records in one executemany."""
        keys = ("kind", "record_id")
        names = [c for c in columns if c not in keys]
        ordered = [columns[c] for c in names] + [columns[k] for k in keys]
        rows = list(zip(*ordered, strict=True))
        mark = "%s" if self._dialect == "postgresql" else "?"
        assignments = ", ".join(f"{c} = {mark}" for c in names)
        conn.exec_driver_sql(
            f"UPDATE {RECORDS.name} SET {assignments} WHERE kind = {mark} AND record_id = {mark}",
            rows,
        )

    def _check_conflicts(self, conn: sa.Connection, changeset: ChangeSet, ids: Any) -> None:
        current = _version(conn)
        if current == changeset.base_version:
            return
        changed = conn.execute(
            sa.select(HISTORY.c.record_id, sa.func.max(HISTORY.c.change_no))
            .where(
                HISTORY.c.kind == changeset.kind,
                HISTORY.c.change_no > changeset.base_version,
            )
            .group_by(HISTORY.c.record_id)
        ).all()
        if not changed:
            return
        since = pd.DataFrame(changed, columns=["record_id", "change_no"])
        hit = since[since["record_id"].isin(pd.Index(ids))]
        if len(hit):
            shown = ", ".join(
                f"'{r}' (version {v})"
                for r, v in zip(hit["record_id"][:10], hit["change_no"][:10], strict=True)
            )
            raise ConflictError(
                f"{changeset.kind}: the change set was computed at version "
                f"{changeset.base_version}, but the store is at version {current} and "
                f"{len(hit)} of its records changed since: {shown}. Fix: compute the change "
                "set again against the current record and apply that"
            )

    def _cutoff_us(self, as_of: date | datetime | str) -> int:
        if isinstance(as_of, datetime):
            if as_of.tzinfo is None:
                raise InputError(
                    Problem(
                        file="as_of",
                        message=f"the time {as_of.isoformat()} has no time zone",
                        fix="give a date (YYYY-MM-DD) or a time with its offset",
                    )
                )
            return _to_us(as_of)
        if isinstance(as_of, str):
            try:
                day = date.fromisoformat(as_of)
            except ValueError:
                raise InputError(
                    Problem(
                        file="as_of",
                        message=f"{as_of!r} is not a date",
                        fix="write the date as YYYY-MM-DD, e.g. 2026-06-30",
                    )
                ) from None
        else:
            day = as_of
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._zone)
        return _to_us(end)


_USER_COLUMNS = (
    USERS.c.name,
    USERS.c.role,
    USERS.c.operator,
    USERS.c.province,
    USERS.c.created_us,
    USERS.c.revoked_us,
    USERS.c.last_used_us,
)


def _as_user(row: Any) -> User:
    def moment(value: Any) -> datetime | None:
        return None if value is None else _from_us(int(value))

    return User(
        name=str(row.name),
        role=row.role,
        operator=row.operator,
        province=row.province,
        created=_from_us(int(row.created_us)),
        revoked=moment(row.revoked_us),
        last_used=moment(row.last_used_us),
    )


def _record_spec(kind: str) -> LayerSpec:
    spec = spec_for(kind)
    if not (spec.record or spec.workflow) or spec.streamed:
        raise InputError(
            Problem(
                file="KIND",
                message=f"{spec.kind} are not kept in the record",
                fix="measurement samples and planning candidates are read from their files",
            )
        )
    return spec


def _reject_problem(name: str, row: int, reason: str) -> Problem:
    message, _, fix = reason.partition(". Fix: ")
    return Problem(
        file=name,
        row=row,
        message=message,
        fix=fix or "correct the row and upload the change again",
    )


def _duplicate_problems(name: str, ids: pd.Series, frame: pd.DataFrame) -> tuple[Problem, ...]:
    dup = ids.duplicated(keep="first").to_numpy()
    if not dup.any():
        return ()
    rows = (
        frame["source_row"].to_numpy()
        if "source_row" in frame.columns
        else np.arange(1, len(frame) + 1)
    )
    return tuple(
        Problem(
            file=name,
            row=int(r),
            message=f"the record '{i}' appears twice",
            fix="keep one row per record",
        )
        for r, i in zip(rows[dup], ids.to_numpy()[dup], strict=True)
    )


def _subset(columns: dict[str, list[Any]], mask: Any) -> dict[str, list[Any]]:
    index = np.flatnonzero(mask)
    return {name: [values[i] for i in index] for name, values in columns.items()}


def _version(conn: sa.Connection) -> int:
    value = conn.execute(sa.select(sa.func.max(CHANGES.c.change_no))).scalar()
    return int(value or 0)


def _to_us(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def _none(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _sqlite_engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin() decide when a transaction starts (pysqlite's own
        # handling would start it late, after the write lock should have been taken).
        dbapi_connection.isolation_level = None
        # Write-ahead log: readers read the last commit while a change set is written and
        # committed, instead of waiting on the writer's lock (in the rollback journal's mode,
        # a commit locks every reader out, and a waiting reader sleeps up to 100 ms a try).
        # Kept in the file: set once, a no-op afterwards; an in-memory store stays as it is.
        dbapi_connection.execute("PRAGMA journal_mode=WAL").close()

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("hatangso_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgres_engine(url: str, schema: str | None) -> sa.Engine:
    driver_url = re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql+psycopg://", url)
    connect_args: dict[str, Any] = {}
    if schema is not None:
        if not _SCHEMA_NAME.match(schema):
            raise InputError(
                Problem(
                    file="schema",
                    message=f"{schema!r} is not a plain schema name",
                    fix="use lower-case letters, digits and underscores",
                )
            )
        connect_args["options"] = f"-c search_path={schema},public"
        bootstrap = sa.create_engine(driver_url)
        try:
            with bootstrap.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        finally:
            bootstrap.dispose()
    return sa.create_engine(driver_url, connect_args=connect_args)
