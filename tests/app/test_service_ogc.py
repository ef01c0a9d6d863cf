"""OGC API - Features at /ogc: the documents, paging, bbox, datetime, and GDAL reading it.

A hand-made scenario (four villages on a line, two towers, sites in the record on two days)
gives answers checked on paper; the demo scenario is then served by uvicorn on a loopback port
and read with GDAL's OAPIF driver through pyogrio, as QGIS reads it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import httpx
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.main import create_app
from hatangso.app.routes.ogc import CONFORMANCE, CRS84, collection_kinds
from hatangso.app.workspace import Workspace, record_schema
from hatangso.geo.outputs import write_json
from hatangso.geo.store import SqlStore, open_store, store_url

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
POSTGIS_URL = os.environ.get("HATANGSO_TEST_DATABASE_URL", "")
GEOJSON = "application/geo+json"

# Four villages along the parallel 9.1°N, 0.1° apart; two towers; three sites.
VILLAGE_X = [105.0, 105.1, 105.2, 105.3]


class Clock:
    """A clock the test sets; each reading moves it on by a second."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 10, 0, tzinfo=HANOI)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2", "V3", "V4"],
            "name": ["Ấp 1", "Ấp 2", "Ấp 3", "Ấp 4"],
            "population": [100, 200, 300, 400],
            "covered_mobile": [True, False, True, False],
            "covered_ftth": [False, False, True, True],
        },
        geometry=shapely.points(VILLAGE_X, [9.1] * 4),
        crs="EPSG:4326",
    )


def _sites(ids: list[str], xs: list[float]) -> gpd.GeoDataFrame:
    n = len(ids)
    return gpd.GeoDataFrame(
        {"site_id": ids, "operator": ["Viettel"] * n, "tech": ["4G"] * n, "height_m": [30.0] * n},
        geometry=shapely.points(xs, [9.2] * n),
        crs="EPSG:4326",
    )


def _hand_scenario(root: Path) -> Path:
    """Write scenario 'hand': results of a run, and a sites layer not yet in the record."""
    folder = root / "hand"
    (folder / "data").mkdir(parents=True)
    _villages().to_file(folder / "villages.gpkg", layer="villages", engine="pyogrio")
    towers = gpd.GeoDataFrame(
        {
            "location": [1, 2],
            "n_sites": [2, 1],
            "n_operators": [2, 1],
            "operators": ["Viettel;VNPT", "Viettel"],
            "shared": [True, False],
            "site_ids": ["L1;L2", "L3"],
        },
        geometry=shapely.points([105.05, 105.25], [9.15, 9.15]),
        crs="EPSG:4326",
    )
    towers.to_file(folder / "towers.geojson", driver="GeoJSON", engine="pyogrio")
    _sites(["L1", "L2", "L3"], [105.0, 105.1, 105.2]).to_file(
        folder / "data" / "sites.gpkg", engine="pyogrio"
    )
    write_json({"indicators": []}, folder / "kpis.json")
    write_json(
        {"name": "hand", "title": "Tỉnh Tay", "inputs": {"sites": "data/sites.gpkg"}},
        folder / "scenario.json",
    )
    return root


@pytest.fixture(params=["embedded", "postgis"])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Where the record lives: None (embedded) or a PostGIS URL."""
    if request.param == "embedded":
        yield None
        return
    if not POSTGIS_URL:
        pytest.skip("HATANGSO_TEST_DATABASE_URL is not set: run under tests/with_postgis.sh")
    yield POSTGIS_URL


@pytest.fixture()
def hand(
    tmp_path: Path, settings_for: Callable[..., Settings]
) -> Iterator[tuple[TestClient, Path]]:
    root = _hand_scenario(tmp_path / "ws")
    with TestClient(create_app(settings_for(root, api_key=None))) as client:
        yield client, root


def _ids(document: dict[str, Any]) -> list[str]:
    return [str(feature["id"]) for feature in document["features"]]


def _rels(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {link["rel"]: link for link in document["links"]}


# --------------------------------------------------------------------------------------------
# The documents
# --------------------------------------------------------------------------------------------


def test_landing_page_links_the_api_conformance_and_data(
    hand: tuple[TestClient, Path],
) -> None:
    client, _ = hand
    answer = client.get("/ogc")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    links = _rels(answer.json())
    assert set(links) >= {"self", "service-desc", "service-doc", "conformance", "data"}
    assert all(link["type"] for link in answer.json()["links"])
    assert links["service-desc"]["href"].endswith("/openapi.json")
    api_version = client.get("/openapi.json").json()["openapi"]
    assert links["service-desc"]["type"].endswith(f"version={api_version[:3]}")
    assert links["conformance"]["href"].endswith("/ogc/conformance")
    assert links["data"]["href"].endswith("/ogc/collections")
    # The API definition describes the operations and their parameters (OpenAPI 3.0 class).
    api = client.get("/openapi.json").json()
    operation = api["paths"]["/ogc/collections/{collectionId}/items"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"bbox", "limit", "offset", "datetime"}
    assert client.get("/ogc?f=json").status_code == 200
    assert client.get("/ogc?f=xml").status_code == 400
    # GDAL repeats the URL's query (datetime) on every request: the metadata take it too.
    assert client.get("/ogc?datetime=2026-06-01").status_code == 200
    assert client.get("/ogc/conformance?datetime=2026-06-01").status_code == 200
    assert client.get("/ogc/collections?datetime=yesterday").status_code == 400
    assert client.get("/ogc/collections?colour=red").status_code == 400


def test_conformance_declares_core_and_geojson(hand: tuple[TestClient, Path]) -> None:
    client, _ = hand
    answer = client.get("/ogc/conformance").json()
    assert answer["conformsTo"] == list(CONFORMANCE)
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in CONFORMANCE
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in CONFORMANCE


def test_collections_carry_their_extent_and_links(hand: tuple[TestClient, Path]) -> None:
    client, _ = hand
    answer = client.get("/ogc/collections")
    assert answer.status_code == 200
    document = answer.json()
    assert _rels(document)["self"]["href"].endswith("/ogc/collections")
    by_id = {c["id"]: c for c in document["collections"]}
    assert set(by_id) == {f"hand-{kind}" for kind in collection_kinds()}
    villages = by_id["hand-villages"]
    assert villages["extent"]["spatial"] == {"bbox": [[105.0, 9.1, 105.3, 9.1]], "crs": CRS84}
    assert villages["itemType"] == "feature"
    links = _rels(villages)
    assert links["self"]["href"].endswith("/ogc/collections/hand-villages")
    items = {link["type"]: link["href"] for link in villages["links"] if link["rel"] == "items"}
    assert items[GEOJSON].endswith("/ogc/collections/hand-villages/items")
    assert items["application/json"].endswith("/ogc/collections/hand-villages/items?f=json")
    assert by_id["hand-towers"]["extent"]["spatial"]["bbox"] == [[105.05, 9.15, 105.25, 9.15]]
    assert by_id["hand-sites"]["extent"]["spatial"]["bbox"] == [[105.0, 9.2, 105.2, 9.2]]
    assert "extent" not in by_id["hand-fiber"]  # no fiber: no extent, an empty collection
    # One collection: the same document as in the list.
    assert client.get("/ogc/collections/hand-villages").json() == villages
    assert client.get("/ogc/collections/hand-nothing").status_code == 404
    assert client.get("/ogc/collections/nowhere-villages").status_code == 404


# --------------------------------------------------------------------------------------------
# Items: paging, limit, bbox, formats
# --------------------------------------------------------------------------------------------


def test_items_page_with_next_and_prev_links(hand: tuple[TestClient, Path]) -> None:
    client, _ = hand
    first = client.get("/ogc/collections/hand-villages/items?limit=3")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith(GEOJSON)
    page = first.json()
    assert page["type"] == "FeatureCollection"
    assert (page["numberMatched"], page["numberReturned"]) == (4, 3)
    assert _ids(page) == ["V1", "V2", "V3"]
    assert datetime.fromisoformat(page["timeStamp"].replace("Z", "+00:00")).tzinfo is not None
    links = _rels(page)
    assert links["self"]["type"] == GEOJSON
    assert links["alternate"]["type"] == "application/json"
    assert "prev" not in links
    second = client.get(links["next"]["href"]).json()
    assert (second["numberMatched"], second["numberReturned"]) == (4, 1)
    assert _ids(second) == ["V4"]
    assert "next" not in _rels(second)
    back = client.get(_rels(second)["prev"]["href"]).json()
    assert _ids(back) == ["V1", "V2", "V3"]
    # The villages keep their coverage columns.
    v1 = page["features"][0]
    assert v1["properties"]["covered_mobile"] is True
    assert v1["geometry"] == {"type": "Point", "coordinates": [105.0, 9.1]}
    # f=json: the same collection as application/json.
    plain = client.get("/ogc/collections/hand-villages/items?f=json")
    assert plain.headers["content-type"].startswith("application/json")
    assert _ids(plain.json()) == ["V1", "V2", "V3", "V4"]
    asked = client.get(
        "/ogc/collections/hand-villages/items", headers={"Accept": "application/json"}
    )
    assert asked.headers["content-type"].startswith("application/json")


def test_a_limit_above_the_maximum_is_lowered_to_it(
    tmp_path: Path, settings_for: Callable[..., Settings]
) -> None:
    root = _hand_scenario(tmp_path / "ws")
    with TestClient(create_app(settings_for(root, api_key=None, max_page=2))) as client:
        page = client.get("/ogc/collections/hand-villages/items?limit=1000").json()
    assert (page["numberMatched"], page["numberReturned"]) == (4, 2)
    assert "limit=2" in _rels(page)["next"]["href"]


def test_bbox_keeps_the_features_it_meets(hand: tuple[TestClient, Path]) -> None:
    client, _ = hand
    url = "/ogc/collections/hand-villages/items"
    # The box spans 105.05..105.25: V2 (105.1) and V3 (105.2).
    page = client.get(url, params={"bbox": "105.05,9.0,105.25,9.2"}).json()
    assert _ids(page) == ["V2", "V3"]
    assert page["numberMatched"] == 2
    # On the edge counts (intersects), elsewhere nothing.
    assert _ids(client.get(url, params={"bbox": "105.3,9.1,106,10"}).json()) == ["V4"]
    assert client.get(url, params={"bbox": "106,10,107,11"}).json()["numberMatched"] == 0
    # Across the antimeridian: west edge greater than the east edge.
    assert _ids(client.get(url, params={"bbox": "105.25,9,-170,10"}).json()) == ["V4"]
    # Paging within the box.
    paged = client.get(url, params={"bbox": "104,9,106,10", "limit": 2, "offset": 1}).json()
    assert (_ids(paged), paged["numberMatched"]) == (["V2", "V3"], 4)
    assert _ids(client.get("/ogc/collections/hand-towers/items?bbox=105,9,105.1,9.2").json()) == [
        "1"
    ]


@pytest.mark.parametrize(
    "query",
    [
        "bbox=105,9,106",
        "bbox=105,9,106,10,11",
        "bbox=a,b,c,d",
        "bbox=105,10,106,9",
        "bbox=105,-91,106,9",
        "bbox=105,9,nan,10",
        "limit=0",
        "limit=ten",
        "offset=-1",
        "datetime=yesterday",
        "datetime=2026-06-01T10:00:00",
        "datetime=2026-06-01/2026-06-03",
        "f=html",
        "colour=red",
    ],
)
def test_bad_parameters_answer_400(hand: tuple[TestClient, Path], query: str) -> None:
    client, _ = hand
    answer = client.get(f"/ogc/collections/hand-villages/items?{query}")
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"]


def test_one_feature_by_its_id(hand: tuple[TestClient, Path]) -> None:
    client, _ = hand
    answer = client.get("/ogc/collections/hand-villages/items/V3")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(GEOJSON)
    feature = answer.json()
    assert feature["type"] == "Feature"
    assert feature["id"] == "V3"
    assert feature["properties"]["population"] == 300
    assert _rels(feature)["collection"]["href"].endswith("/ogc/collections/hand-villages")
    assert client.get("/ogc/collections/hand-villages/items/V9").status_code == 404
    assert client.get("/ogc/collections/hand-towers/items/2").json()["properties"]["n_sites"] == 1


# --------------------------------------------------------------------------------------------
# The record: its sites, as of a moment
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """A served scenario whose record the test writes with its own clock."""

    client: TestClient
    name: str
    store: SqlStore
    clock: Clock


@pytest.fixture()
def recorded(
    tmp_path: Path, settings_for: Callable[..., Settings], database: str | None
) -> Iterator[Recorded]:
    """Scenario 'hand' whose record got sites L1, L2 on 1 June and L2 moved, L3 on 3 June."""
    root = _hand_scenario(tmp_path / "ws")
    name = f"hand{uuid.uuid4().hex[:8]}" if database else "hand"
    if name != "hand":
        (root / "hand").rename(root / name)
    clock = Clock()
    if database is None:
        store = open_store(store_url(root / name), clock=clock)
    else:
        store = open_store(database, schema=record_schema(name), clock=clock)
    # The record is loaded from the scenario's layer on first use: on 20 May, here.
    clock.now = datetime(2026, 5, 20, 10, 0, tzinfo=HANOI)
    Workspace(root, database_url=database).seed(name, store, lock=False)
    clock.now = datetime(2026, 6, 1, 10, 0, tzinfo=HANOI)
    settings = settings_for(root, api_key=None, database_url=database)
    try:
        with TestClient(create_app(settings)) as client:
            yield Recorded(client=client, name=name, store=store, clock=clock)
    finally:
        store.close()
        if database is not None:
            import sqlalchemy as sa

            engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://"))
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{record_schema(name)}" CASCADE')
            engine.dispose()


def test_the_record_loaded_from_the_layer_answers_as_of_each_day(
    recorded: Recorded,
) -> None:
    client, name, store = recorded.client, recorded.name, recorded.store
    url = f"/ogc/collections/{name}-sites/items"
    # The scenario's layer became the record's first change (20 May).
    assert _ids(client.get(url).json()) == ["L1", "L2", "L3"]
    assert client.get(url, params={"datetime": "2026-05-19"}).json()["numberMatched"] == 0

    store.apply(store.diff("sites", _sites(["S1", "S2"], [105.0, 105.1]), actor="so-tt"))
    recorded.clock.now = datetime(2026, 6, 3, 10, 0, tzinfo=HANOI)
    store.apply(
        store.diff(
            "sites",
            _sites(["S2", "S3"], [105.5, 105.2]),
            actor="so-tt",
            mode="replace",
        )
    )

    now = client.get(url).json()
    assert _ids(now) == ["S2", "S3"]
    assert now["features"][0]["geometry"]["coordinates"] == [105.5, 9.2]
    on_first = client.get(url, params={"datetime": "2026-06-01"}).json()
    assert _ids(on_first) == ["L1", "L2", "L3", "S1", "S2"]
    assert on_first["features"][4]["geometry"]["coordinates"] == [105.1, 9.2]
    assert _ids(client.get(url, params={"datetime": "2026-05-31"}).json()) == ["L1", "L2", "L3"]
    assert _ids(client.get(url, params={"datetime": "2026-06-03"}).json()) == ["S2", "S3"]
    # An instant: the record just before it (3 June 10:00 Hanoi is 03:00 UTC).
    before = client.get(url, params={"datetime": "2026-06-03T02:59:00Z"}).json()
    assert _ids(before) == ["L1", "L2", "L3", "S1", "S2"]
    after = client.get(url, params={"datetime": "2026-06-03T10:30:00+07:00"}).json()
    assert _ids(after) == ["S2", "S3"]
    # bbox and datetime together: L2 and S2 stood at 105.1 on 1 June.
    both = client.get(url, params={"datetime": "2026-06-01", "bbox": "105.05,9,105.15,10"})
    assert _ids(both.json()) == ["L2", "S2"]
    # The run's villages have no temporal geometry: every datetime matches them.
    villages = client.get(f"/ogc/collections/{name}-villages/items?datetime=2020-01-01").json()
    assert villages["numberMatched"] == 4
    # The collection's extent follows the record.
    collection = client.get(f"/ogc/collections/{name}-sites").json()
    assert collection["extent"]["spatial"]["bbox"] == [[105.2, 9.2, 105.5, 9.2]]
    then = client.get(f"/ogc/collections/{name}-sites", params={"datetime": "2026-06-01"})
    assert then.json()["extent"]["spatial"]["bbox"] == [[105.0, 9.2, 105.2, 9.2]]
    listed = client.get("/ogc/collections", params={"datetime": "2026-06-01"}).json()
    assert {c["id"]: c for c in listed["collections"]}[f"{name}-sites"] == then.json()
    assert client.get(f"/ogc/collections/{name}-sites/items/S3").status_code == 200
    assert client.get(f"/ogc/collections/{name}-sites/items/S1").status_code == 404
    old = client.get(f"/ogc/collections/{name}-sites/items/S1?datetime=2026-06-02")
    assert old.json()["geometry"]["coordinates"] == [105.0, 9.2]


def test_reads_need_the_read_key_when_the_service_requires_one(
    tmp_path: Path, settings_for: Callable[..., Settings]
) -> None:
    root = _hand_scenario(tmp_path / "ws")
    settings = settings_for(root, read_key_required=True)
    with TestClient(create_app(settings)) as client:
        assert client.get("/ogc/collections/hand-villages/items").status_code == 401
        keyed = client.get(
            "/ogc/collections/hand-villages/items", headers={"X-API-Key": "test-key-123"}
        )
        assert keyed.status_code == 200


# --------------------------------------------------------------------------------------------
# The QGIS path: GDAL's OAPIF driver reading the service over HTTP
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serving(root: Path) -> Iterator[tuple[str, httpx.Client]]:
    """Serve workspace `root` with uvicorn on a free loopback port, in a process of its own.

    Not in a thread of the test's process: pyogrio holds the GIL while GDAL reads the
    features over HTTP, so a server in the same interpreter could never answer it.
    """
    import pyogrio

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATANGSO_")}
    env.update(HATANGSO_WORKSPACE=str(root), HATANGSO_DEMO="false", HATANGSO_PREWARM="false")
    command = [sys.executable, "-m", "uvicorn", "hatangso.app.main:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    # A server that stops answering fails the read rather than hanging the tests.
    pyogrio.set_gdal_config_options({"GDAL_HTTP_TIMEOUT": "120"})
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the test server did not start")
                time.sleep(0.2)
            yield base, client
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_TIMEOUT": None})
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def served(demo_workspace: Path) -> Iterator[tuple[str, httpx.Client]]:
    """The demo workspace, served over HTTP."""
    with _serving(demo_workspace) as serving:
        yield serving


def test_gdal_has_the_oapif_driver() -> None:
    import pyogrio

    assert "OAPIF" in pyogrio.list_drivers(), "this GDAL cannot read OGC API - Features"


def test_gdal_reads_the_villages_as_qgis_does(served: tuple[str, httpx.Client]) -> None:
    import pyogrio

    base, client = served
    layers = pyogrio.list_layers(f"OAPIF:{base}/ogc")
    names = set(layers[:, 0])
    assert {"demo-villages", "demo-towers", "demo-sites"} <= names
    villages = pyogrio.read_dataframe(f"OAPIF:{base}/ogc", layer="demo-villages")
    api = json.loads(
        client.get("/api/scenarios/demo/villages", params={"limit": 5000}).content.decode()
    )
    assert len(villages) == api["numberMatched"] == 300
    by_id = villages.set_index("village_id")
    expected = {f["properties"]["village_id"]: f for f in api["features"]}
    assert sorted(by_id.index) == sorted(expected)
    covered = np.array([expected[v]["properties"]["covered_mobile"] for v in by_id.index])
    assert (by_id["covered_mobile"].astype(bool).to_numpy() == covered.astype(bool)).all()
    shapes = shapely.from_geojson([json.dumps(expected[v]["geometry"]) for v in by_id.index])
    assert shapely.equals_exact(by_id.geometry.to_numpy(), shapes, tolerance=1e-6).all()
    assert villages.crs is not None and villages.crs.to_epsg() == 4326


def test_gdal_reads_a_bbox_as_the_service_answers_it(served: tuple[str, httpx.Client]) -> None:
    import pyogrio

    base, client = served
    everything = client.get("/ogc/collections/demo-villages/items?limit=1").json()
    assert everything["numberMatched"] == 300
    bounds = client.get("/ogc/collections/demo-villages").json()["extent"]["spatial"]["bbox"][0]
    west, south, east, north = bounds
    box = (west, south, (west + east) / 2, (south + north) / 2)
    answer = client.get(
        "/ogc/collections/demo-villages/items",
        params={"bbox": ",".join(map(str, box)), "limit": 5000},
    ).json()
    read = pyogrio.read_dataframe(f"OAPIF:{base}/ogc", layer="demo-villages", bbox=box)
    assert 0 < len(read) < 300
    assert sorted(read["village_id"]) == sorted(_ids(answer))


def test_gdal_reads_the_record_kinds_and_the_towers(served: tuple[str, httpx.Client]) -> None:
    import pyogrio

    base, client = served
    for kind in ("sites", "towers"):
        frame = pyogrio.read_dataframe(f"OAPIF:{base}/ogc", layer=f"demo-{kind}")
        page = client.get(f"/ogc/collections/demo-{kind}/items?limit=1").json()
        assert len(frame) == page["numberMatched"] > 0


def test_dates_are_what_the_store_reads() -> None:
    # The parser hands the store a date or an aware instant: as_of's own types.
    from hatangso.app.routes.ogc import parse_datetime

    assert parse_datetime("2026-06-30") == date(2026, 6, 30)
    assert parse_datetime("2026-06-30T09:00:00+07:00").utcoffset() == timedelta(hours=7)


def test_gdal_reads_the_record_as_of_a_date(tmp_path: Path) -> None:
    import pyogrio

    root = _hand_scenario(tmp_path / "ws")
    clock = Clock()
    store = open_store(store_url(root / "hand"), clock=clock)
    try:
        store.apply(store.diff("sites", _sites(["S1", "S2"], [105.0, 105.1]), actor="so-tt"))
        clock.now = datetime(2026, 6, 3, 10, 0, tzinfo=HANOI)
        store.apply(
            store.diff("sites", _sites(["S2", "S3"], [105.5, 105.2]), actor="so", mode="replace")
        )
    finally:
        store.close()
    with _serving(root) as (base, _client):
        # GDAL repeats the URL's query on every request, the metadata's included.
        then = pyogrio.read_dataframe(f"OAPIF:{base}/ogc?datetime=2026-06-01", layer="hand-sites")
        now = pyogrio.read_dataframe(f"OAPIF:{base}/ogc", layer="hand-sites")
    assert then["site_id"].tolist() == ["S1", "S2"]
    assert now["site_id"].tolist() == ["S2", "S3"]
    assert shapely.get_x(now.geometry.to_numpy()).tolist() == [105.5, 105.2]
