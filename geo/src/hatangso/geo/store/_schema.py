"""The tables of the record, in SQLAlchemy Core, for SQLite and PostGIS alike.

Three tables hold a province's record:

``store_changes``
    One row per applied change set: its number (the store's version, strictly increasing),
    time, actor, the operator it was submitted for, the kind and its counts.
``store_records``
    The current state: one row per record ever added (kind and stable id), retired rows
    included and flagged. Rewritten in place by each change; it is what a reader of "now"
    and QGIS read.
``store_history``
    Append-only: one row per record per change, holding the record's state *after* the
    change (the state before is the previous row of the same record). Rows here are never
    updated or deleted; any past state of the record is a query on it.

A fourth, ``store_users``, holds the users of the service and a salted hash of each one's
token (:mod:`hatangso.geo.store._users`); only the workspace's own store fills it.

Geometries are EPSG:4326. :class:`Geometry` is a column type with one spelling per dialect:
a PostGIS ``geometry(Geometry, 4326)`` on PostgreSQL (a GiST index comes with it), a BLOB
in the GeoPackage geometry encoding on SQLite. The store converts whole arrays at once
(:func:`hatangso.geo.store._records.encode_geometries`), so the type itself converts nothing.
Times are integer microseconds since 1970-01-01 UTC: the same comparison on both dialects.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

__all__ = ["CHANGES", "HISTORY", "METADATA", "RECORDS", "USERS", "Geometry"]


class _PostgisGeometry(UserDefinedType[Any]):
    """PostGIS ``geometry(Geometry, 4326)``; values travel as hex EWKB text."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "geometry(Geometry,4326)"


class _GeoPackageGeometry(UserDefinedType[Any]):
    """A GeoPackage geometry column: declared ``GEOMETRY``, holding GeoPackage binary."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "GEOMETRY"


class Geometry(TypeDecorator[Any]):
    """A geometry column: PostGIS geometry on PostgreSQL, a GeoPackage BLOB on SQLite.

    Values are what :func:`~hatangso.geo.store._records.encode_geometries` produced for the
    dialect (hex EWKB text, or GeoPackage binary); reads return them as the database gives
    them, for :func:`~hatangso.geo.store._records.decode_geometries`.
    """

    impl = sa.LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_PostgisGeometry())
        return dialect.type_descriptor(_GeoPackageGeometry())


# SQLite's INTEGER is 64-bit already, and GeoPackage readers know no BIGINT.
_MICROSECONDS = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

METADATA = sa.MetaData()

CHANGES = sa.Table(
    "store_changes",
    METADATA,
    sa.Column("change_no", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time_us", _MICROSECONDS, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("operator", sa.Text, nullable=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("added", sa.Integer, nullable=False),
    sa.Column("updated", sa.Integer, nullable=False),
    sa.Column("retired", sa.Integer, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
)


def _state_columns() -> list[sa.Column[Any]]:
    """Columns of one record's state, shared by the current table and the history."""
    return [
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("operator", sa.Text, nullable=True),
        sa.Column("attrs", sa.Text, nullable=False),
        sa.Column("geom", Geometry, nullable=True),
        sa.Column("min_x", sa.Float, nullable=True),
        sa.Column("min_y", sa.Float, nullable=True),
        sa.Column("max_x", sa.Float, nullable=True),
        sa.Column("max_y", sa.Float, nullable=True),
    ]


RECORDS = sa.Table(
    "store_records",
    METADATA,
    # An integer key first: GeoPackage readers (QGIS, GDAL) take it as the feature id.
    sa.Column("fid", sa.Integer, primary_key=True, autoincrement=True),
    *_state_columns(),
    sa.Column("retired", sa.Boolean, nullable=False),
    sa.Column("change_no", sa.Integer, nullable=False),
    sa.UniqueConstraint("kind", "record_id", name="uq_store_records_kind_id"),
)

HISTORY = sa.Table(
    "store_history",
    METADATA,
    sa.Column("change_no", sa.Integer, sa.ForeignKey("store_changes.change_no"), nullable=False),
    *_state_columns(),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("time_us", _MICROSECONDS, nullable=False),
    sa.PrimaryKeyConstraint("kind", "record_id", "change_no", name="pk_store_history"),
    sa.Index("ix_store_history_kind_change", "kind", "change_no"),
)

USERS = sa.Table(
    "store_users",
    METADATA,
    sa.Column("user_no", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("operator", sa.Text, nullable=True),
    sa.Column("province", sa.Text, nullable=True),
    # The token's public part, to find the row without hashing for every user.
    sa.Column("token_id", sa.Text, nullable=False, unique=True),
    sa.Column("salt", sa.Text, nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False),
    sa.Column("created_us", _MICROSECONDS, nullable=False),
    sa.Column("revoked_us", _MICROSECONDS, nullable=True),
    sa.Column("last_used_us", _MICROSECONDS, nullable=True),
)
