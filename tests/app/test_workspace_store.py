"""The record of a scenario: one store per scenario, opened once, shared by pickled copies."""

from __future__ import annotations

import pickle
from pathlib import Path

import geopandas as gpd
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
