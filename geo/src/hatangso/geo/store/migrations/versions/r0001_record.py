"""The record: changes, current records and their append-only history.

On SQLite the file is also made a GeoPackage (its metadata tables, EPSG:4326, and the
records table registered as a feature table), so that QGIS and GDAL open it directly.

Revision ID: r0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hatangso.geo.store._schema import Geometry

# SQLite's INTEGER is 64-bit already, and GeoPackage readers know no BIGINT.
_MICROSECONDS = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "r0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)


def _state_columns() -> list[sa.Column[object]]:
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


def upgrade() -> None:
    """Create the tables (and the GeoPackage metadata, or the PostGIS extension)."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public")
    op.create_table(
        "store_changes",
        sa.Column("change_no", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time_us", _MICROSECONDS, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("operator", sa.Text, nullable=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("retired", sa.Integer, nullable=False),
    )
    op.create_table(
        "store_records",
        sa.Column("fid", sa.Integer, primary_key=True, autoincrement=True),
        *_state_columns(),
        sa.Column("retired", sa.Boolean, nullable=False),
        sa.Column("change_no", sa.Integer, nullable=False),
        sa.UniqueConstraint("kind", "record_id", name="uq_store_records_kind_id"),
    )
    op.create_table(
        "store_history",
        sa.Column(
            "change_no", sa.Integer, sa.ForeignKey("store_changes.change_no"), nullable=False
        ),
        *_state_columns(),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("time_us", _MICROSECONDS, nullable=False),
        sa.PrimaryKeyConstraint("kind", "record_id", "change_no", name="pk_store_history"),
    )
    op.create_index("ix_store_history_kind_change", "store_history", ["kind", "change_no"])
    if dialect == "postgresql":
        op.execute("CREATE INDEX ix_store_records_geom ON store_records USING gist (geom)")
    elif dialect == "sqlite":
        _geopackage()


def _geopackage() -> None:
    op.execute("PRAGMA application_id = 1196444487")  # 'GPKG'
    op.execute("PRAGMA user_version = 10300")  # GeoPackage 1.3
    op.execute(
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,"
        " organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL,"
        " definition TEXT NOT NULL, description TEXT)"
    )
    op.execute(
        "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY,"
        " data_type TEXT NOT NULL, identifier TEXT UNIQUE, description TEXT DEFAULT '',"
        " last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
        " min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,"
        " CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))"
    )
    op.execute(
        "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,"
        " geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL,"
        " m TINYINT NOT NULL, CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),"
        " CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),"
        " CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))"
    )
    srs = sa.table(
        "gpkg_spatial_ref_sys",
        sa.column("srs_name"),
        sa.column("srs_id"),
        sa.column("organization"),
        sa.column("organization_coordsys_id"),
        sa.column("definition"),
        sa.column("description"),
    )
    op.bulk_insert(
        srs,
        [
            {
                "srs_name": "Undefined cartesian SRS",
                "srs_id": -1,
                "organization": "NONE",
                "organization_coordsys_id": -1,
                "definition": "undefined",
                "description": "undefined cartesian coordinate reference system",
            },
            {
                "srs_name": "Undefined geographic SRS",
                "srs_id": 0,
                "organization": "NONE",
                "organization_coordsys_id": 0,
                "definition": "undefined",
                "description": "undefined geographic coordinate reference system",
            },
            {
                "srs_name": "WGS 84 geodetic",
                "srs_id": 4326,
                "organization": "EPSG",
                "organization_coordsys_id": 4326,
                "definition": _WGS84_WKT,
                "description": "longitude/latitude coordinates in decimal degrees on WGS 84",
            },
        ],
    )
    op.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)"
        " VALUES ('store_records', 'features', 'store_records',"
        " 'hatangso record: every record of every kind, retired ones flagged', 4326)"
    )
    op.execute(
        "INSERT INTO gpkg_geometry_columns VALUES ('store_records', 'geom', 'GEOMETRY', 4326, 2, 0)"
    )


def downgrade() -> None:
    """Drop everything (the record is lost: only for tests)."""
    op.drop_table("store_history")
    op.drop_table("store_records")
    op.drop_table("store_changes")
