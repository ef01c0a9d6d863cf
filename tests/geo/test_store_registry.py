"""The mast registry and the commitments in the record, embedded and on PostGIS."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from hatangso.geo.store import SqlStore, open_store

POSTGIS_URL = os.environ.get("HATANGSO_TEST_DATABASE_URL")
POSTGIS_SKIP = os.environ.get("HATANGSO_TEST_POSTGIS_SKIP") or (
    "HATANGSO_TEST_DATABASE_URL is not set: run `make test` (it starts a private PostgreSQL "
    "15 + PostGIS) or point it at a PostGIS database"
)


@pytest.fixture(params=["embedded", "postgis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "embedded":
        opened = open_store(tmp_path / "ws")
        yield opened
        opened.close()
        return
    if not POSTGIS_URL:
        pytest.skip(POSTGIS_SKIP)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    opened = open_store(POSTGIS_URL, schema=schema)
    yield opened
    opened.close()
    engine = sa.create_engine(POSTGIS_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


def test_masts_keep_their_history(store: SqlStore) -> None:
    masts = gpd.GeoDataFrame(
        {
            "mast_id": ["M1", "M2"],
            "owner": ["Viettel", "Tower Co"],
            "status": ["built", "planned"],
            "permit_date": ["15/03/2024", None],
            "tenants": ["Viettel;Vinaphone", None],
        },
        geometry=shapely.points([(105.83, 22.15), (105.84, 22.15)]),
        crs=4326,
    )
    store.apply(store.diff("masts", masts, actor="so-tt"))
    store.apply(store.diff("masts", masts.assign(status=["built", "permitted"]), actor="so-tt-2"))
    frame = store.read("masts").set_index("mast_id")
    assert frame.loc["M1", "tenants"] == "Viettel;VNPT"
    assert frame.loc["M1", "permit_date"] == "2024-03-15"
    history = store.history("masts", "M2")
    assert [(h.action, h.actor) for h in history] == [("add", "so-tt"), ("update", "so-tt-2")]
    assert history[1].before is not None and history[1].before["status"] == "planned"
    assert history[1].after["status"] == "permitted"


def test_a_commitment_is_keyed_by_village_operator_and_tech(store: SqlStore) -> None:
    commitments = pd.DataFrame(
        {
            "village_id": ["V1", "V1"],
            "operator": ["Viettel", "VNPT"],
            "tech": ["4G", "4G"],
            "due": ["2025-06-30", "31/12/2025"],
        }
    )
    store.apply(store.diff("commitments", commitments, actor="so-tt"))
    assert store.get("commitments", "V1/VNPT/4G").attributes["due"] == "2025-12-31"
    moved = commitments.assign(due=["2025-09-30", "2025-12-31"])
    change = store.diff("commitments", moved, actor="so-tt")
    assert change.counts() == {"add": 0, "update": 1, "retire": 0}
