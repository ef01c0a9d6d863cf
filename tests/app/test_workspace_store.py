"""The record of a scenario: one store per scenario, opened once, shared by pickled copies."""

from __future__ import annotations

import os
import pickle
import uuid
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import sqlalchemy as sa
from shapely import Point

from hatangso.app.workspace import Workspace, record_schema


def test_each_scenario_keeps_its_record_in_its_folder(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    store = workspace.store("ca-mau")
    assert workspace.store("ca-mau") is store
    assert (tmp_path / "ca-mau" / "record.gpkg").is_file()
    villages = gpd.GeoDataFrame(
        {"village_id": ["T1"], "name": ["Ấp 1"], "population": [300]},
        geometry=[Point(105.1, 9.2)],
        crs="EPSG:4326",
    )
    store.apply(store.diff("villages", villages, actor="so-tt-tt"))
    assert workspace.store("demo").read("villages").empty
    copy = pickle.loads(pickle.dumps(workspace))
    assert copy.store("ca-mau").read("villages")["village_id"].tolist() == ["T1"]
    workspace.close_stores()
    copy.close_stores()


def test_postgis_schemas_are_plain_identifiers() -> None:
    assert record_schema("tien-giang") == "record_tien_giang"


def test_users_live_beside_the_scenarios_records(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    assert not workspace.has_users()
    assert not (tmp_path / "record.gpkg").exists()  # not made just to look
    new = workspace.users().add_user("xem", role="viewer")
    assert (tmp_path / "record.gpkg").is_file() and workspace.has_users()
    assert workspace.store("ca-mau").read("villages").empty
    user = workspace.users().authenticate(new.token)
    assert user is not None and user.name == "xem"
    workspace.close_stores()


def test_on_postgis_users_and_records_keep_to_their_schemas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hatangso.app import workspace as workspace_module

    url = os.environ.get("HATANGSO_TEST_DATABASE_URL")
    if not url:
        pytest.skip("HATANGSO_TEST_DATABASE_URL is not set (make test starts a PostGIS)")
    tag = uuid.uuid4().hex[:8]
    name = f"t-{tag}"
    users_schema = f"users_{tag}"
    monkeypatch.setattr(workspace_module, "USERS_SCHEMA", users_schema)
    workspace = Workspace(tmp_path, database_url=url)
    try:
        # The users first: the scenario's record must still get tables of its own.
        workspace.users().add_user("xem", role="viewer")
        store = workspace.store(name)
        villages = gpd.GeoDataFrame(
            {"village_id": ["T1"], "name": ["Ấp 1"], "population": [300]},
            geometry=[Point(105.1, 9.2)],
            crs="EPSG:4326",
        )
        store.apply(store.diff("villages", villages, actor="so-tt-tt"))
        assert store.read("villages")["village_id"].tolist() == ["T1"]
        assert [u.name for u in workspace.users().users()] == ["xem"]
    finally:
        workspace.close_stores()
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            for schema in (users_schema, record_schema(name)):
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


def test_a_record_holding_only_challenges_still_gets_the_scenarios_layers(
    tmp_path: Path,
) -> None:
    # The demo is built with its challenges filed in its record before the service first
    # opens it: the input layers must still become the record's rows.
    folder = tmp_path / "demo"
    (folder / "data").mkdir(parents=True)
    gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "operator": ["Viettel", "VNPT"]},
        geometry=[Point(105.8, 21.0), Point(105.81, 21.0)],
        crs="EPSG:4326",
    ).to_file(folder / "data" / "sites.gpkg")
    (folder / "scenario.json").write_text(
        '{"name": "demo", "title": "Tỉnh Demo", "inputs": {"sites": "data/sites.gpkg"}}',
        encoding="utf-8",
    )
    from hatangso.geo.store import open_store, store_url

    challenges = pd.DataFrame(
        {
            "challenge_id": ["CH-0001"],
            "village_id": ["V1"],
            "operator": ["Viettel"],
            "tech": ["4G"],
            "claim": ["covered"],
            "status": ["open"],
        }
    )
    with open_store(store_url(folder)) as filed:
        filed.apply(filed.diff("challenges", challenges, actor="so-tttt"))
        assert filed.version == 1

    workspace = Workspace(tmp_path)
    store = workspace.store("demo")
    assert sorted(store.read("sites")["site_id"]) == ["S1", "S2"]
    assert store.read("challenges")["challenge_id"].tolist() == ["CH-0001"]
    # Seeded once: a second process opening it loads nothing again.
    assert Workspace(tmp_path).seed("demo", store, lock=False) == 0
    workspace.close_stores()


def test_an_input_named_after_the_record_was_loaded_joins_it_once(tmp_path: Path) -> None:
    # A demo built before its declared coverage was named among its inputs: its record holds
    # the sites only. Opened again, the declared are loaded; the sites are not loaded twice.
    folder = tmp_path / "demo"
    (folder / "data").mkdir(parents=True)
    gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": ["Viettel"]},
        geometry=[Point(105.8, 21.0)],
        crs="EPSG:4326",
    ).to_file(folder / "data" / "sites.gpkg")
    (folder / "data" / "declared.csv").write_text(
        "village_id,operator,tech\nV1,Viettel,4G\nV2,Viettel,4G\n", encoding="utf-8"
    )
    metadata = folder / "scenario.json"
    metadata.write_text('{"name": "demo", "inputs": {"sites": "data/sites.gpkg"}}', "utf-8")
    first = Workspace(tmp_path)
    assert first.store("demo").version == 1 and first.store("demo").read("declared").empty
    first.close_stores()
    metadata.write_text(
        '{"name": "demo", "inputs": {"sites": "data/sites.gpkg", "declared": "data/declared.csv"}}',
        "utf-8",
    )
    again = Workspace(tmp_path)
    store = again.store("demo")
    assert store.version == 2
    assert sorted(store.read("declared")["village_id"]) == ["V1", "V2"]
    assert store.read("sites")["site_id"].tolist() == ["S1"]
    assert Workspace(tmp_path).seed("demo", store, lock=False) == 0
    again.close_stores()
