"""One view per kind of the record: its live rows with the contract's columns.

QGIS (or any GIS) opens ``villages``, ``sites`` ... from the GeoPackage, or from the PostGIS
schema, as ordinary layers: the id column, ``operator``, each contract column of the kind
taken out of the JSON attributes (numbers as numbers), ``attrs`` (every attribute, the
upload's own columns too), ``version`` (the last change of the row) and the geometry. Retired
rows are left out. The views hold no data: a later migration may drop and recreate them when
the contract's columns change.

Revision ID: r0003
Revises: r0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "r0003"
down_revision: str | None = "r0002"
branch_labels: str | None = None
depends_on: str | None = None

# The kinds and their columns as the contract had them when this migration was written:
# (kind, view, id column, has an operator column, [(column, is a number)], has a geometry).
_KINDS: list[tuple[str, str, str | None, bool, list[tuple[str, bool]], bool]] = [
    (
        "villages",
        "villages",
        "village_id",
        False,
        [
            ("name", False),
            ("commune", False),
            ("district", False),
            ("province", False),
            ("population", True),
            ("households", True),
        ],
        True,
    ),
    (
        "sites",
        "sites",
        "site_id",
        True,
        [
            ("tech", False),
            ("height_m", True),
            ("azimuth_deg", True),
            ("beamwidth_deg", True),
            ("eirp_dbm", True),
            ("eirp_re_dbm", True),
            ("bandwidth_mhz", True),
            ("freq_mhz", True),
            ("env", False),
        ],
        True,
    ),
    ("access-points", "access_points", "ap_id", True, [("kind", False)], True),
    ("fiber", "fiber", "fiber_id", True, [], True),
    ("poles", "poles", "pole_id", False, [("operators", False)], True),
    ("ducts", "ducts", "duct_id", False, [("operators", False)], True),
    ("pois", "pois", "poi_id", False, [("kind", False), ("name", False)], True),
    (
        "settlements",
        "settlements",
        "settlement_id",
        False,
        [("village_id", False), ("population", True)],
        True,
    ),
    ("declared", "declared", None, True, [("village_id", False), ("tech", False)], False),
]


def _field(dialect: str, name: str, number: bool) -> str:
    if dialect == "postgresql":
        text = f"(attrs::jsonb ->> '{name}')"
        return f"{text}::double precision" if number else text
    text = f"json_extract(attrs, '$.{name}')"
    return f"CAST({text} AS REAL)" if number else text


def upgrade() -> None:
    """Create the views (and, in a GeoPackage, register them as layers)."""
    dialect = op.get_bind().dialect.name
    for kind, view, id_name, has_operator, fields, has_geometry in _KINDS:
        columns = ["fid"]
        if id_name is not None:
            columns.append(f"record_id AS {id_name}")
        if has_operator:
            columns.append("operator")
        columns += [f"{_field(dialect, name, number)} AS {name}" for name, number in fields]
        columns += ["attrs", "change_no AS version"]
        if has_geometry:
            columns.append("geom")
        op.execute(
            f"CREATE VIEW {view} AS SELECT {', '.join(columns)} FROM store_records "
            f"WHERE store_records.kind = '{kind}' AND NOT store_records.retired"
        )
        if dialect != "sqlite":
            continue
        data_type = "features" if has_geometry else "attributes"
        op.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)"
            f" VALUES ('{view}', '{data_type}', '{view}', 'hatangso record: live {kind}', 4326)"
        )
        if has_geometry:
            op.execute(
                f"INSERT INTO gpkg_geometry_columns VALUES ('{view}', 'geom', 'GEOMETRY', 4326,"
                " 0, 0)"
            )


def downgrade() -> None:
    """Drop the views."""
    dialect = op.get_bind().dialect.name
    for _kind, view, *_ in _KINDS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
        if dialect == "sqlite":
            op.execute(f"DELETE FROM gpkg_geometry_columns WHERE table_name = '{view}'")
            op.execute(f"DELETE FROM gpkg_contents WHERE table_name = '{view}'")
