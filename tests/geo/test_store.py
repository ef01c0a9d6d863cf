"""The record store: one suite, run against the embedded GeoPackage and against PostGIS.

The PostGIS half needs ``HATANGSO_TEST_DATABASE_URL`` (``make test`` starts a private server
with ``tests/with_postgis.sh``); without it, it skips and says why. Each PostGIS test works in
a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from hatangso.geo.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from hatangso.geo.store import SqlStore, open_store, store_url

# A small valley in Bắc Kạn, where every test record lies.
LON0, LAT0 = 105.83, 22.15
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
POSTGIS_URL = os.environ.get("HATANGSO_TEST_DATABASE_URL")
POSTGIS_SKIP = os.environ.get("HATANGSO_TEST_POSTGIS_SKIP") or (
    "HATANGSO_TEST_DATABASE_URL is not set: run `make test` (it starts a private PostgreSQL "
    "15 + PostGIS) or point it at a PostGIS database"
)


class Clock:
    """A clock the test sets; each reading moves it on by a second."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 9, 0, tzinfo=HANOI)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _drop_schema(url: str, schema: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        engine.dispose()


@pytest.fixture(params=["embedded", "postgis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, object]]:
    """Where a store lives: keyword arguments of :func:`open_store`."""
    if request.param == "embedded":
        yield {"target": tmp_path / "ws"}
        return
    if not POSTGIS_URL:
        pytest.skip(POSTGIS_SKIP)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield {"target": POSTGIS_URL, "schema": schema}
    _drop_schema(POSTGIS_URL, schema)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(backend: dict[str, object], clock: Clock) -> Iterator[SqlStore]:
    target = backend["target"]
    assert isinstance(target, str | Path)
    schema = backend.get("schema")
    assert schema is None or isinstance(schema, str)
    opened = open_store(target, schema=schema, clock=clock)
    yield opened
    opened.close()


def villages(ids: list[str], *, population: float = 100.0, shift: float = 0.0) -> gpd.GeoDataFrame:
    n = len(ids)
    offsets = np.arange(n) * 0.001
    return gpd.GeoDataFrame(
        {
            "village_id": ids,
            "name": [f"Thôn {i}" for i in ids],
            "population": np.full(n, population),
        },
        geometry=shapely.points(LON0 + offsets + shift, np.full(n, LAT0)),
        crs="EPSG:4326",
    )


def sites(ids: list[str], operator: str) -> gpd.GeoDataFrame:
    n = len(ids)
    return gpd.GeoDataFrame(
        {"site_id": ids, "operator": [operator] * n, "tech": ["4G"] * n, "height_m": [30.0] * n},
        geometry=shapely.points(LON0 + np.arange(n) * 0.01, np.full(n, LAT0 + 0.01)),
        crs="EPSG:4326",
    )


# ------------------------------------------------------------------------------------------
# Stable ids, add / update / retire


def test_an_upload_adds_then_updates_by_stable_id(store: SqlStore) -> None:
    assert store.version == 0
    first = store.diff("villages", villages(["V1", "V2", "V3"]), actor="so-tt")
    assert first.counts() == {"add": 3, "update": 0, "retire": 0}
    applied = store.apply(first)
    assert (applied.version, applied.added) == (1, 3)

    same = store.diff("villages", villages(["V1", "V2", "V3"]), actor="so-tt")
    assert same.counts() == {"add": 0, "update": 0, "retire": 0}
    assert store.apply(same).version == 1  # nothing changed, no new version

    edited = villages(["V1", "V2", "V3"])
    edited.loc[0, "name"] = "Thôn Nà Hin"
    edited.loc[1, "geometry"] = shapely.Point(LON0 + 0.5, LAT0)
    change = store.diff("villages", edited, actor="so-tt")
    table = change.table().set_index("record_id")
    assert table.loc["V1", "action"] == "update" and table.loc["V1", "changed"] == "name"
    assert table.loc["V2", "changed"] == "geometry"
    assert "V3" not in table.index
    assert store.apply(change).updated == 2

    now = store.read("villages")
    assert now.crs.to_epsg() == 4326
    assert now["village_id"].tolist() == ["V1", "V2", "V3"]
    assert now.loc[0, "name"] == "Thôn Nà Hin"
    assert now.loc[1, "geometry"].equals(shapely.Point(LON0 + 0.5, LAT0))
    assert store.get("villages", "V1").version == 2
    assert store.get("villages", "V3").version == 1


def test_row_order_changes_nothing(store: SqlStore) -> None:
    ids = [f"V{i}" for i in range(20)]
    store.apply(store.diff("villages", villages(ids), actor="so-tt"))
    shuffled = villages(ids).sample(frac=1.0, random_state=np.random.default_rng(3))
    change = store.diff("villages", shuffled, actor="so-tt", mode="replace")
    assert change.counts() == {"add": 0, "update": 0, "retire": 0}


def test_replace_retires_the_missing_rows_and_upsert_does_not(store: SqlStore) -> None:
    store.apply(store.diff("villages", villages(["V1", "V2", "V3"]), actor="so-tt"))
    upsert = store.diff("villages", villages(["V1", "V4"]), actor="so-tt")
    assert upsert.counts() == {"add": 1, "update": 0, "retire": 0}
    replace = store.diff("villages", villages(["V1", "V4"]), actor="so-tt", mode="replace")
    assert replace.counts() == {"add": 1, "update": 0, "retire": 2}
    store.apply(replace)
    assert store.read("villages")["village_id"].tolist() == ["V1", "V4"]


def test_single_records_are_read_edited_and_retired(store: SqlStore) -> None:
    store.apply(store.diff("villages", villages(["V1", "V2"]), actor="so-tt"))
    record = store.get("villages", "V1")
    assert record.attributes["name"] == "Thôn V1"
    assert record.geometry is not None and record.geometry.equals(shapely.Point(LON0, LAT0))

    applied = store.edit("villages", "V1", {"population": 250}, actor="can-bo-xa")
    assert applied.updated == 1
    assert store.get("villages", "V1").attributes["population"] == 250

    store.retire("villages", "V2", actor="can-bo-xa")
    assert store.read("villages")["village_id"].tolist() == ["V1"]
    with pytest.raises(NotFoundError, match="no live record 'V2'"):
        store.retire("villages", "V2", actor="can-bo-xa")
    with pytest.raises(NotFoundError, match="no record 'V9'"):
        store.get("villages", "V9")
    with pytest.raises(InputError, match="cannot change"):
        store.edit("villages", "V1", {"village_id": "V7"}, actor="can-bo-xa")


def test_a_declaration_is_keyed_by_village_operator_and_tech(store: SqlStore) -> None:
    declared = pd.DataFrame(
        {"village_id": ["V1", "V1"], "operator": ["Viettel", "VNPT"], "tech": ["4G", "4G"]}
    )
    store.apply(store.diff("declared", declared, actor="so-tt"))
    frame = store.read("declared")
    assert frame[["village_id", "operator", "tech"]].values.tolist() == [
        ["V1", "VNPT", "4G"],
        ["V1", "Viettel", "4G"],
    ]
    assert store.get("declared", "V1/Viettel/4G").operator == "Viettel"
    with pytest.raises(InputError, match="changes the key"):
        store.edit("declared", "V1/Viettel/4G", {"tech": "5G"}, actor="so-tt")
    store.retire("declared", "V1/VNPT/4G", actor="vnpt-1", operator="VNPT")
    assert store.read("declared")["operator"].tolist() == ["Viettel"]


def test_a_bad_row_refuses_the_whole_change_and_lists_every_problem(store: SqlStore) -> None:
    store.apply(store.diff("villages", villages(["V1"]), actor="so-tt"))
    upload = villages(["V1", "V2", "V3", "V4"], population=300.0)
    upload.loc[1, "geometry"] = shapely.Point(2.35, 48.85)  # Paris: outside Vietnam
    upload.loc[3, "geometry"] = shapely.Point(151.2, -33.9)  # Sydney
    change = store.diff("villages", upload, actor="so-tt", name="thon.gpkg")
    assert not change.ok
    assert [p.row for p in change.problems] == [2, 4]
    assert all(p.file == "thon.gpkg" and "outside Vietnam" in p.message for p in change.problems)
    assert change.counts()["update"] == 1  # the dry run still shows the rest
    with pytest.raises(InputError) as refused:
        store.apply(change)
    assert len(refused.value.problems) == 2
    assert store.version == 1
    assert store.read("villages")["population"].tolist() == [100.0]


def test_a_faulty_file_is_refused_before_any_diff(store: SqlStore) -> None:
    upload = villages(["V1", "V1"])
    with pytest.raises(InputError, match="duplicate village_id"):
        store.diff("villages", upload, actor="so-tt")
    assert store.version == 0


# ------------------------------------------------------------------------------------------
# History and as_of


def test_history_keeps_who_when_before_and_after(store: SqlStore, clock: Clock) -> None:
    store.apply(store.diff("villages", villages(["V1"]), actor="so-tt"))
    store.edit("villages", "V1", {"name": "Thôn Mới"}, actor="can-bo-xa")
    store.retire("villages", "V1", actor="so-tt", note="merged into V2")
    history = store.history("villages", "V1")
    assert [(h.action, h.actor, h.version) for h in history] == [
        ("add", "so-tt", 1),
        ("update", "can-bo-xa", 2),
        ("retire", "so-tt", 3),
    ]
    assert history[0].before is None
    assert history[0].after["name"] == "Thôn V1"
    assert history[0].after["geometry"] == {"type": "Point", "coordinates": [LON0, LAT0]}
    assert history[1].before == history[0].after
    assert history[1].after["name"] == "Thôn Mới"
    assert history[2].after == history[1].after
    assert history[0].time < history[1].time < history[2].time <= clock.now
    with pytest.raises(NotFoundError):
        store.history("villages", "V404")


def test_as_of_answers_as_the_record_stood_at_the_end_of_the_day(
    store: SqlStore, clock: Clock
) -> None:
    clock.now = datetime(2026, 6, 30, 23, 58, 59, tzinfo=HANOI)  # stamps 23:59:00
    store.apply(store.diff("villages", villages(["V1"], population=100.0), actor="so-tt"))
    clock.now = datetime(2026, 7, 1, 0, 0, 59, tzinfo=HANOI)  # stamps 00:01:00 the next day
    store.apply(store.diff("villages", villages(["V1"], population=200.0), actor="so-tt"))

    assert store.read("villages", as_of=date(2026, 6, 29)).empty
    assert store.read("villages", as_of="2026-06-30")["population"].tolist() == [100.0]
    assert store.read("villages", as_of=date(2026, 7, 1))["population"].tolist() == [200.0]
    assert store.read("villages")["population"].tolist() == [200.0]
    assert store.get("villages", "V1", as_of="2026-06-30").attributes["population"] == 100
    with pytest.raises(NotFoundError):
        store.get("villages", "V1", as_of="2026-06-29")
    # A moment rather than a day: the record just before it.
    moment = datetime(2026, 7, 1, 0, 0, 30, tzinfo=HANOI)
    assert store.read("villages", as_of=moment)["population"].tolist() == [100.0]
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        store.read("villages", as_of="30/06/2026")
    # The version that stood at the end of each day: a read as of it reads that change.
    assert [store.version_at(d) for d in ("2026-06-29", "2026-06-30", "2026-07-01")] == [0, 1, 2]
    assert (store.version_at(None), store.version_at(moment)) == (2, 1)


def test_retiring_keeps_the_row_and_its_history(store: SqlStore, clock: Clock) -> None:
    clock.now = datetime(2026, 6, 1, 10, 0, tzinfo=HANOI)
    store.apply(store.diff("villages", villages(["V1", "V2"]), actor="so-tt"))
    clock.now = datetime(2026, 6, 3, 10, 0, tzinfo=HANOI)
    store.retire("villages", ["V1"], actor="so-tt")
    assert store.read("villages")["village_id"].tolist() == ["V2"]
    assert store.read("villages", as_of="2026-06-02")["village_id"].tolist() == ["V1", "V2"]
    retired = store.get("villages", "V1")
    assert retired.retired and retired.attributes["name"] == "Thôn V1"
    assert [h.action for h in store.history("villages", "V1")] == ["add", "retire"]
    # An upload may bring a retired id back; its history goes on.
    store.apply(store.diff("villages", villages(["V1"]), actor="so-tt"))
    assert [h.action for h in store.history("villages", "V1")] == ["add", "retire", "add"]
    assert store.read("villages")["village_id"].tolist() == ["V1", "V2"]


def test_reads_filter_by_bbox_and_operator(store: SqlStore) -> None:
    store.apply(store.diff("sites", sites(["A1", "A2", "A3"], "Viettel"), actor="so-tt"))
    store.apply(store.diff("sites", sites(["B1"], "VNPT"), actor="so-tt"))
    assert store.read("sites", operator="VNPT")["site_id"].tolist() == ["B1"]
    near = store.read("sites", bbox=(LON0 + 0.005, LAT0, LON0 + 0.015, LAT0 + 0.02))
    assert near["site_id"].tolist() == ["A2"]
    assert store.read("sites")["operator"].tolist() == ["Viettel", "Viettel", "Viettel", "VNPT"]


# ------------------------------------------------------------------------------------------
# Operators change their own rows only


def test_an_operator_never_changes_another_operators_rows(store: SqlStore) -> None:
    store.apply(store.diff("sites", sites(["A1", "A2"], "Viettel"), actor="viettel-1"))
    store.apply(store.diff("sites", sites(["B1"], "VNPT"), actor="vnpt-1", operator="VNPT"))
    version = store.version

    # VNPT's upload that names Viettel's site A1 as its own: refused whole, nothing changed.
    upload = pd.concat([sites(["B2"], "VNPT"), sites(["A1"], "VNPT")], ignore_index=True)
    change = store.diff("sites", upload, actor="vnpt-1", operator="VNPT")
    assert [p.message for p in change.forbidden] == ["site_id 'A1' belongs to Viettel, not to VNPT"]
    with pytest.raises(ForbiddenError, match="belongs to Viettel"):
        store.apply(change)
    # Rows naming another operator are refused too.
    change = store.diff("sites", sites(["C1"], "MobiFone"), actor="vnpt-1", operator="VNPT")
    with pytest.raises(ForbiddenError, match="submitted for VNPT"):
        store.apply(change)
    with pytest.raises(ForbiddenError):
        store.edit("sites", "A1", {"height_m": 40.0}, actor="vnpt-1", operator="VNPT")
    with pytest.raises(ForbiddenError):
        store.retire("sites", "A2", actor="vnpt-1", operator="VNPT")
    # The province's villages are no operator's to change.
    store.apply(store.diff("villages", villages(["V1"]), actor="so-tt"))
    version = store.version
    with pytest.raises(ForbiddenError, match="belongs to the province"):
        store.apply(
            store.diff("villages", villages(["V1"], population=5.0), actor="x", operator="VNPT")
        )
    assert store.version == version
    assert store.read("sites")["site_id"].tolist() == ["A1", "A2", "B1"]

    # A full layer of VNPT's replaces VNPT's rows only.
    mine = store.diff(
        "sites", sites(["B3"], "VNPT"), actor="vnpt-1", operator="VNPT", mode="replace"
    )
    assert mine.table().set_index("record_id")["action"].to_dict() == {
        "B3": "add",
        "B1": "retire",
    }
    store.apply(mine)
    assert store.read("sites")["site_id"].tolist() == ["A1", "A2", "B3"]


def test_an_officials_change_keeps_the_owner_of_an_operators_row(store: SqlStore) -> None:
    poles = gpd.GeoDataFrame(
        {"pole_id": ["C1"], "operators": ["VNPT"]},
        geometry=[shapely.Point(LON0, LAT0)],
        crs="EPSG:4326",
    )
    store.apply(store.diff("poles", poles, actor="vnpt-1", operator="VNPT"))
    moved = poles.assign(geometry=[shapely.Point(LON0 + 0.001, LAT0)])
    store.apply(store.diff("poles", moved, actor="so-tt"))
    assert store.get("poles", "C1").operator == "VNPT"
    assert store.read("poles", operator="VNPT")["pole_id"].tolist() == ["C1"]


# ------------------------------------------------------------------------------------------
# Concurrency


def test_concurrent_appliers_never_lose_a_change(store: SqlStore) -> None:
    store.apply(store.diff("villages", villages(["V0"]), actor="so-tt"))
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def upload(name: str, ids: list[str], population: float) -> None:
        change = store.diff("villages", villages(ids, population=population), actor=name)
        barrier.wait()  # both computed against the same version
        try:
            outcome[name] = store.apply(change).version
        except ConflictError as error:
            outcome[name] = error

    # Different records: both apply, one after the other.
    threads = [
        threading.Thread(target=upload, args=("a", ["V1"], 10.0)),
        threading.Thread(target=upload, args=("b", ["V2"], 20.0)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome.values()) == [2, 3]  # type: ignore[type-var]
    assert store.read("villages")["village_id"].tolist() == ["V0", "V1", "V2"]

    # The same record: one applies; the other waits, then is told of the conflict.
    outcome.clear()
    threads = [
        threading.Thread(target=upload, args=("a", ["V0"], 11.0)),
        threading.Thread(target=upload, args=("b", ["V0"], 22.0)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    versions = [v for v in outcome.values() if isinstance(v, int)]
    conflicts = [v for v in outcome.values() if isinstance(v, ConflictError)]
    assert versions == [4] and len(conflicts) == 1
    assert "computed at version 3" in str(conflicts[0])
    assert "'V0' (version 4)" in str(conflicts[0])
    history = store.history("villages", "V0")
    assert [h.version for h in history] == [1, 4]
    winner = "a" if outcome["a"] == 4 else "b"
    assert history[-1].actor == winner


# ------------------------------------------------------------------------------------------
# Migrations


def test_an_older_schema_is_upgraded_without_losing_data(
    backend: dict[str, object], clock: Clock
) -> None:
    target = backend["target"]
    assert isinstance(target, str | Path)
    schema = backend.get("schema")
    assert schema is None or isinstance(schema, str)
    url = target if isinstance(target, str) else store_url(target)
    if isinstance(target, Path):
        target.mkdir(parents=True)
    old = SqlStore(url, schema=schema, clock=clock, revision="r0001")
    engine = old._engine
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO store_changes (time_us, actor, operator, kind, added, updated, retired)"
            " VALUES (1780000000000000, 'so-tt', NULL, 'villages', 1, 0, 0)"
        )
        for table in ("store_records", "store_history"):
            extra = (
                ", retired, change_no"
                if table == "store_records"
                else ", change_no, action, time_us"
            )
            values = ", false, 1" if table == "store_records" else ", 1, 'add', 1780000000000000"
            conn.exec_driver_sql(
                f"INSERT INTO {table} (kind, record_id, operator, attrs, min_x, min_y, max_x, max_y"
                f"{extra}) VALUES ('villages', 'V1', NULL, '{{\"name\":\"Thôn Cũ\"}}',"
                f" 105.8, 22.1, 105.8, 22.1{values})"
            )
    old.close()

    store = open_store(target, schema=schema, clock=clock)
    try:
        assert store.version == 1
        assert store.read("villages")["name"].tolist() == ["Thôn Cũ"]
        assert [h.action for h in store.history("villages", "V1")] == ["add"]
        store.retire("villages", "V1", actor="so-tt", note="the new column takes notes")
        assert store.version == 2
    finally:
        store.close()


# ------------------------------------------------------------------------------------------
# The embedded file is a GeoPackage


def test_the_embedded_store_is_a_geopackage_qgis_opens(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.apply(store.diff("villages", villages(["V1", "V2", "V3"]), actor="so-tt"))
    store.retire("villages", "V3", actor="so-tt")
    pois = gpd.GeoDataFrame(
        {"poi_id": ["P1"], "kind": ["commune_hq"], "name": ["UBND xã"]},
        geometry=[shapely.Point(LON0, LAT0)],
        crs="EPSG:4326",
    )
    store.apply(store.diff("pois", pois, actor="so-tt"))
    store.close()
    everything = gpd.read_file(tmp_path / "record.gpkg", layer="store_records")
    assert everything.crs.to_epsg() == 4326
    assert sorted(everything["record_id"]) == ["P1", "V1", "V2", "V3"]
    # One layer per kind: its live rows, with the contract's columns.
    layer = gpd.read_file(tmp_path / "record.gpkg", layer="villages")
    assert layer.crs.to_epsg() == 4326
    assert layer["village_id"].tolist() == ["V1", "V2"]
    assert layer["name"].tolist() == ["Thôn V1", "Thôn V2"]
    assert layer["population"].tolist() == [100.0, 100.0]
    assert layer.geometry.iloc[0].equals(shapely.Point(LON0, LAT0))
    layer = gpd.read_file(tmp_path / "record.gpkg", layer="pois")
    assert layer[["poi_id", "kind", "name"]].values.tolist() == [["P1", "commune_hq", "UBND xã"]]


def test_readers_of_the_embedded_store_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.apply(store.diff("villages", villages(["V1", "V2"]), actor="so-tt"))
    # A writer holding the file's exclusive lock, as a change set does while it commits.
    writer = sqlite3.connect(tmp_path / "record.gpkg", isolation_level=None)
    try:
        assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("UPDATE store_changes SET note = 'being written'")
        answers: list[object] = []
        reader = threading.Thread(
            target=lambda: answers.extend((store.version, len(store.read("villages"))))
        )
        start = time.monotonic()
        reader.start()
        reader.join(timeout=30)
        # The last commit, at once (in the rollback journal's mode: after the writer's 60 s).
        assert answers == [1, 2] and time.monotonic() - start < 10
        writer.execute("ROLLBACK")
    finally:
        writer.close()
        store.close()


def test_each_kind_is_a_view_of_its_live_rows(store: SqlStore) -> None:
    store.apply(store.diff("sites", sites(["A1", "A2"], "Viettel"), actor="so-tt"))
    store.retire("sites", "A2", actor="so-tt")
    with store._engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT site_id, operator, tech, height_m, version FROM sites"
        ).all()
    assert [tuple(r) for r in rows] == [("A1", "Viettel", "4G", 30.0, 1)]


def test_store_urls() -> None:
    assert store_url("/w") == "sqlite:////w/record.gpkg"
    assert store_url("/w", database_url="postgresql://u@h/d") == "postgresql://u@h/d"
    with pytest.raises(InputError, match="unsupported store URL"):
        open_store("mysql://u:secret@h/d")


# ------------------------------------------------------------------------------------------
# Bulk


@pytest.mark.slow
def test_a_bulk_upload_of_100000_villages(store: SqlStore) -> None:
    n = 100_000
    rng = np.random.default_rng(7)
    frame = gpd.GeoDataFrame(
        {
            "village_id": [f"V{i:06d}" for i in range(n)],
            "name": [f"Thôn {i}" for i in range(n)],
            "population": rng.integers(50, 3000, n).astype(float),
        },
        geometry=shapely.points(rng.uniform(105.5, 106.2, n), rng.uniform(21.8, 22.6, n)),
        crs="EPSG:4326",
    )
    start = time.perf_counter()
    change = store.diff("villages", frame, actor="so-tt")
    diffed = time.perf_counter()
    applied = store.apply(change)
    done = time.perf_counter()
    back = store.read("villages")
    read = time.perf_counter()
    print(
        f"\n{store.dialect}: 100,000 villages: diff {diffed - start:.1f} s, "
        f"apply {done - diffed:.1f} s, read {read - done:.1f} s"
    )
    assert applied.added == n
    assert len(back) == n


def test_changes_since_a_version_name_what_a_reader_has_not_seen(store: SqlStore) -> None:
    store.apply(store.diff("villages", villages(["V1", "V2"]), actor="so-tt"))
    read = store.version
    assert store.changes_since(read) == []
    store.apply(store.diff("sites", sites(["S1"], "Viettel"), actor="viettel-noc", note="q3"))
    store.retire("villages", "V2", actor="so-tt")
    since = store.changes_since(read)
    assert [(c["kind"], c["user"], c["added"], c["retired"]) for c in since] == [
        ("sites", "viettel-noc", 1, 0),
        ("villages", "so-tt", 0, 1),
    ]
    assert since[0]["note"] == "q3" and since[-1]["version"] == store.version


def test_a_polygon_poi_is_kept_whole(tmp_path: Path) -> None:
    # An industrial park's outline beside a point: the record and its pois layer keep both.
    store = open_store(tmp_path)
    park = shapely.box(LON0, LAT0, LON0 + 0.02, LAT0 + 0.01)
    pois = gpd.GeoDataFrame(
        {"poi_id": ["P1", "IP1"], "kind": ["commune_hq", "industrial_park"], "name": ["a", "b"]},
        geometry=[shapely.Point(LON0, LAT0), park],
        crs="EPSG:4326",
    )
    store.apply(store.diff("pois", pois, actor="so-tt"))
    store.close()
    layer = gpd.read_file(tmp_path / "record.gpkg", layer="pois").set_index("poi_id")
    assert layer.geometry["IP1"].equals(park)
    assert layer.geometry["P1"].equals(shapely.Point(LON0, LAT0))
