"""The record over HTTP: read, edit, retire and history by id, as_of, uploads as change sets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import pytest
from fastapi.testclient import TestClient
from shapely import Point

from hatangso.app.auth import Principal
from hatangso.app.config import Settings
from hatangso.geo.store import open_store

SettingsFor = Callable[..., Settings]
Upload = Callable[..., httpx.Response]
ActAs = Callable[[TestClient, Principal | None], None]

# Two villages a tenth of a degree apart, and a site of each of two operators.
VILLAGES = (
    "village_id,name,population,lon,lat\n"
    "V1,Thôn Một,100,105.80,22.00\n"
    "V2,Thôn Hai,200,105.90,22.10\n"
)
SITES = "site_id,operator,lon,lat\nS1,viettel,105.80,22.00\nS2,mobifone,105.90,22.10\n"


def test_a_record_is_read_edited_retired_and_keeps_its_history(
    service: TestClient, key: dict[str, str], upload: Upload
) -> None:
    assert upload(service, key, "rec", "villages", VILLAGES).status_code == 200
    one = service.get("/api/scenarios/rec/villages/V1")
    assert one.status_code == 200, one.text
    feature = one.json()
    assert feature["type"] == "Feature" and feature["id"] == "V1"
    assert feature["properties"]["name"] == "Thôn Một"
    assert feature["geometry"] == {"type": "Point", "coordinates": [105.8, 22.0]}
    assert one.headers["ETag"] == '"1"'

    edited = service.patch(
        "/api/scenarios/rec/villages/V1",
        json={"name": "Thôn Nà Hin", "geometry": {"type": "Point", "coordinates": [105.81, 22.0]}},
        headers=key,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["properties"]["name"] == "Thôn Nà Hin"
    assert edited.json()["geometry"]["coordinates"] == [105.81, 22.0]
    assert edited.headers["ETag"] == '"2"'

    retired = service.delete("/api/scenarios/rec/villages/V1", headers=key)
    assert retired.status_code == 200, retired.text
    assert retired.json()["retired"] is True and retired.json()["version"] == 3
    gone = service.get("/api/scenarios/rec/villages/V1")
    assert gone.status_code == 404 and "retired" in gone.json()["detail"]
    assert service.delete("/api/scenarios/rec/villages/V1", headers=key).status_code == 404

    history = service.get("/api/scenarios/rec/villages/V1/history")
    assert history.status_code == 200, history.text
    entries = history.json()
    assert [e["action"] for e in entries] == ["add", "update", "retire"]
    assert [e["user"] for e in entries] == ["admin"] * 3
    assert entries[0]["before"] is None and entries[0]["after"]["name"] == "Thôn Một"
    assert entries[1]["before"]["name"] == "Thôn Một"
    assert entries[1]["after"]["name"] == "Thôn Nà Hin"
    assert entries[2]["after"]["name"] == "Thôn Nà Hin"  # a retirement keeps the last state
    for entry in entries:  # ISO 8601 with its offset
        assert datetime.fromisoformat(entry["time"]).utcoffset() is not None
    # The other village stays; the retired one has left the collection.
    listed = service.get("/api/scenarios/rec/sites")
    assert listed.status_code == 200 and listed.json()["features"] == []
    assert service.get("/api/scenarios/rec/villages/V2").status_code == 200


def _dated_record(root: Path) -> None:
    """Scenario ``dated``: S1 and S2 added in 2024; in 2025 S1 moved, S2 retired, S3 added."""
    times = iter(
        [
            datetime(2024, 3, 1, 3, 0, tzinfo=UTC),
            datetime(2025, 6, 1, 3, 0, tzinfo=UTC),
            datetime(2025, 6, 2, 3, 0, tzinfo=UTC),
        ]
    )
    store = open_store(root / "dated" / "record.gpkg", clock=lambda: next(times))
    year1 = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "operator": ["Viettel", "VNPT"], "height_m": [30.0, 40.0]},
        geometry=[Point(105.80, 22.00), Point(106.50, 22.50)],
        crs="EPSG:4326",
    )
    store.apply(store.diff("sites", year1, actor="so-tt-tt"))
    year2 = gpd.GeoDataFrame(
        {"site_id": ["S1", "S3"], "operator": ["Viettel", "MobiFone"], "height_m": [45.0, 30.0]},
        geometry=[Point(105.80, 22.00), Point(105.85, 22.05)],
        crs="EPSG:4326",
    )
    store.apply(store.diff("sites", year2, actor="so-tt-tt", mode="replace"))
    villages = gpd.GeoDataFrame(
        {"village_id": ["V1"], "name": ["Thôn Một"]}, geometry=[Point(105.8, 22.0)], crs=4326
    )
    store.apply(store.diff("villages", villages, actor="so-tt-tt"))
    store.close()


def test_collections_answer_as_they_stood_on_a_day(
    service: TestClient, settings_for: SettingsFor
) -> None:
    _dated_record(Path(service.app.state.settings.workspace))  # type: ignore[attr-defined]

    def ids(**params: Any) -> list[str]:
        response = service.get("/api/scenarios/dated/sites", params=params)
        assert response.status_code == 200, response.text
        return [f["id"] for f in response.json()["features"]]

    assert ids() == ["S1", "S3"]
    assert ids(as_of="2024-12-31") == ["S1", "S2"]
    assert ids(as_of="2025-06-01") == ["S1", "S3"]  # the end of that day, in Viet Nam
    assert ids(as_of="2024-01-01") == []
    assert ids(operator="viettel") == ["S1"]
    assert ids(bbox="105.84,22.04,105.86,22.06") == ["S3"]
    assert ids(bbox="106,22.4,107,23", as_of="2024-12-31") == ["S2"]

    old = service.get("/api/scenarios/dated/sites/S1", params={"as_of": "2024-12-31"})
    assert old.status_code == 200 and old.json()["properties"]["height_m"] == 30.0
    now = service.get("/api/scenarios/dated/sites/S1")
    assert now.json()["properties"]["height_m"] == 45.0
    retired = service.get("/api/scenarios/dated/sites/S2", params={"as_of": "2024-12-31"})
    assert retired.status_code == 200 and retired.json()["properties"]["operator"] == "VNPT"
    assert (
        service.get("/api/scenarios/dated/sites/S3", params={"as_of": "2024-12-31"}).status_code
        == 404
    )
    history = service.get("/api/scenarios/dated/sites/S1/history", params={"as_of": "2024-12-31"})
    assert [e["action"] for e in history.json()] == ["add"]

    # Paging: one a page, with a link to the next; limits within HATANGSO_MAX_PAGE.
    page = service.get("/api/scenarios/dated/sites", params={"limit": 1})
    document = page.json()
    assert (document["numberMatched"], document["numberReturned"]) == (2, 1)
    assert "offset=1" in document["links"][0]["href"]
    assert page.headers["ETag"] == '"3"'
    assert service.get("/api/scenarios/dated/sites", params={"limit": 10**6}).status_code == 422


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/scenarios/dated/masts-and-more", 404, "villages, sites"),
        ("/api/scenarios/dated/sites?as_of=2024-13-01", 422, "YYYY-MM-DD"),
        ("/api/scenarios/dated/sites/S1?as_of=yesterday", 422, "YYYY-MM-DD"),
        ("/api/scenarios/dated/sites?bbox=1,2,3", 422, "min_lon"),
        ("/api/scenarios/dated/sites/S9", 404, "S9"),
        ("/api/scenarios/dated/sites/S9/history", 404, "S9"),
        ("/api/scenarios/nowhere/sites", 404, "nowhere"),
    ],
)
def test_what_the_record_does_not_hold_is_named(
    service: TestClient, path: str, status: int, words: str
) -> None:
    _dated_record(Path(service.app.state.settings.workspace))  # type: ignore[attr-defined]
    response = service.get(path)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


def test_a_dry_run_shows_the_change_and_changes_nothing(
    service: TestClient, key: dict[str, str], upload: Upload
) -> None:
    first = upload(service, key, "dry", "villages", VILLAGES)
    assert first.status_code == 200 and first.headers["ETag"] == '"1"'
    changed = VILLAGES.replace("Thôn Hai,200", "Thôn Hai,250").replace("V1,", "V3,")
    dry = upload(service, key, "dry", "villages", changed, dry_run="true")
    assert dry.status_code == 200, dry.text
    diff = dry.json()["diff"]
    assert diff["counts"] == {"add": 1, "update": 1, "retire": 1}
    rows = {r["id"]: r for r in diff["rows"]}
    assert rows["V2"]["changed"] == ["population"]
    assert rows["V2"]["before"] == {"population": 200.0}
    assert rows["V2"]["after"] == {"population": 250.0}
    assert rows["V3"]["action"] == "add" and rows["V3"]["after"]["name"] == "Thôn Một"
    assert rows["V1"]["action"] == "retire" and rows["V1"]["before"]["name"] == "Thôn Một"
    assert dry.json()["record_version"] == 1
    # Nothing changed: the record is at version 1, V1 is there and V2 has 200 people.
    assert service.get("/api/scenarios/dry/villages/V1").headers["ETag"] == '"1"'
    assert service.get("/api/scenarios/dry/villages/V2").json()["properties"]["population"] == 200
    # ?mode=upsert adds and updates only: V1 stays.
    upsert = upload(service, key, "dry", "villages", changed, mode="upsert")
    assert upsert.status_code == 200 and upsert.json()["diff"]["counts"]["retire"] == 0
    assert service.get("/api/scenarios/dry/villages/V1").status_code == 200


def test_a_change_set_with_a_bad_row_is_refused_whole(
    service: TestClient, key: dict[str, str], upload: Upload
) -> None:
    assert upload(service, key, "whole", "villages", VILLAGES).status_code == 200
    bad = VILLAGES.replace("Thôn Hai,200", "Thôn Hai Mới,220") + ",Không mã,5,105.7,22.0\n"
    refused = upload(service, key, "whole", "villages", bad, name="thon.csv")
    assert refused.status_code == 422, refused.text
    problems = refused.json()["problems"]
    assert [(p["file"], p["row"]) for p in problems] == [("thon.csv", 3)]
    assert all(p["fix"] for p in problems)
    # Nothing changed: V2 keeps its name, the record its version.
    v2 = service.get("/api/scenarios/whole/villages/V2")
    assert v2.json()["properties"]["name"] == "Thôn Hai" and v2.headers["ETag"] == '"1"'


def test_an_operator_changes_its_own_rows_only(
    service: TestClient, key: dict[str, str], upload: Upload, act_as: ActAs
) -> None:
    assert upload(service, key, "ops", "sites", SITES).status_code == 200
    mobifone = Principal(name="mbf-hn", role="operator", operator="MobiFone")
    act_as(service, mobifone)
    try:
        # Its upload replaces its own rows: S2 missing is retired, S4 added, S1 untouched.
        own = "site_id,operator,lon,lat\nS4,mobifone,105.95,22.10\n"
        answer = upload(service, key, "ops", "sites", own)
        assert answer.status_code == 200, answer.text
        assert answer.json()["diff"]["counts"] == {"add": 1, "update": 0, "retire": 1}
        listed = service.get("/api/scenarios/ops/sites").json()
        assert sorted(f["id"] for f in listed["features"]) == ["S1", "S4"]
        history = service.get("/api/scenarios/ops/sites/S4/history").json()
        assert history[0]["user"] == "mbf-hn"
        # Another operator's rows: refused whole (403), every one named.
        foreign = "site_id,operator,lon,lat\nS4,mobifone,105.95,22.10\nS1,mobifone,105.8,22.0\n"
        refused = upload(service, key, "ops", "sites", foreign)
        assert refused.status_code == 403, refused.text
        assert "S1" in refused.json()["detail"]
        sites = "/api/scenarios/ops/sites"
        assert service.patch(f"{sites}/S1", json={"height_m": 50}, headers=key).status_code == 403
        assert service.delete(f"{sites}/S1", headers=key).status_code == 403
        ok = service.patch(f"{sites}/S4", json={"height_m": 50}, headers=key)
        assert ok.status_code == 200 and ok.json()["properties"]["height_m"] == 50
        # A viewer reads only.
        act_as(service, Principal(name="guest", role="viewer"))
        assert service.patch(f"{sites}/S4", json={"height_m": 60}, headers=key).status_code == 403
        assert service.get("/api/scenarios/ops/sites/S4").status_code == 200
    finally:
        act_as(service, None)
    # Without credentials where a key is configured: 401.
    assert service.delete("/api/scenarios/ops/sites/S4").status_code == 401


def test_a_stale_edit_is_refused_naming_the_change(
    service: TestClient, key: dict[str, str], upload: Upload
) -> None:
    assert upload(service, key, "stale", "villages", VILLAGES).status_code == 200
    tag = service.get("/api/scenarios/stale/villages/V1").headers["ETag"]
    first = service.patch(
        "/api/scenarios/stale/villages/V1",
        json={"population": 110},
        headers={**key, "If-Match": tag},
    )
    assert first.status_code == 200, first.text
    late = service.patch(
        "/api/scenarios/stale/villages/V1",
        json={"population": 120},
        headers={**key, "If-Match": tag},
    )
    assert late.status_code == 409
    assert "version 2, not 1" in late.json()["detail"] and "admin" in late.json()["detail"]
    assert service.get("/api/scenarios/stale/villages/V1").json()["properties"]["population"] == 110


def test_a_built_scenario_has_its_inputs_as_its_first_change_sets(
    client: TestClient, demo_workspace: Path
) -> None:
    villages = gpd.read_file(demo_workspace / "demo" / "data" / "villages.gpkg")
    first = str(villages["village_id"].iloc[0])
    history = client.get(f"/api/scenarios/demo/villages/{first}/history")
    assert history.status_code == 200, history.text
    assert [(e["user"], e["action"]) for e in history.json()] == [("hatangso", "add")]
    pois = client.get("/api/scenarios/demo/pois", params={"limit": 5000}).json()
    assert pois["numberMatched"] == len(
        gpd.read_file(demo_workspace / "demo" / "data" / "pois.gpkg")
    )


def test_a_scenario_moved_to_the_run_layout_keeps_its_record_in_place(tmp_path: Path) -> None:
    from hatangso.app.workspace import Workspace
    from hatangso.geo.outputs import write_json

    folder = tmp_path / "flat"
    folder.mkdir()
    write_json({"indicators": []}, folder / "kpis.json")  # results of the flat layout
    workspace = Workspace(tmp_path)
    store = workspace.store("flat")
    villages = gpd.GeoDataFrame(
        {"village_id": ["V1"], "name": ["Thôn Một"]}, geometry=[Point(105.8, 22.0)], crs=4326
    )
    store.apply(store.diff("villages", villages, actor="so-tt-tt"))
    run = workspace.results("flat")  # moved into a run folder
    assert run.parent.name == "runs"
    assert not (folder / "record.gpkg").is_symlink() and not (run / "record.gpkg").exists()
    assert workspace.store("flat").read("villages")["village_id"].tolist() == ["V1"]
    workspace.close_stores()
