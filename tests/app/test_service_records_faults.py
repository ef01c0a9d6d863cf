"""Faults of the record: concurrent change sets, a server killed mid-change, a database gone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.deps import workspace_for
from hatangso.app.main import create_app
from hatangso.geo.store import open_store

SettingsFor = Callable[..., Settings]

POSTGIS_URL = os.environ.get("HATANGSO_TEST_DATABASE_URL")

VILLAGES = (
    "village_id,name,population,lon,lat\n"
    "V1,Thôn Một,100,105.80,22.00\n"
    "V2,Thôn Hai,200,105.90,22.10\n"
)


def _upload(client: TestClient, key: dict[str, str], scenario: str, text: str) -> httpx.Response:
    return client.post(
        f"/api/scenarios/{scenario}/uploads/villages",
        files={"file": ("v.csv", text.encode("utf-8"))},
        headers=key,
    )


def test_two_concurrent_change_sets_to_one_record(service: TestClient, key: dict[str, str]) -> None:
    assert _upload(service, key, "race", VILLAGES).status_code == 200
    tag = service.get("/api/scenarios/race/villages/V1").headers["ETag"]
    barrier = threading.Barrier(2)

    def edit(population: int) -> httpx.Response:
        barrier.wait()
        return service.patch(
            "/api/scenarios/race/villages/V1",
            json={"population": population},
            headers={**key, "If-Match": tag},
        )

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(edit, [111, 222]))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    won = next(a for a in answers if a.status_code == 200).json()
    lost = next(a for a in answers if a.status_code == 409).json()
    assert "villages: record 'V1' is at version 2, not 1" in lost["detail"]
    now = service.get("/api/scenarios/race/villages/V1").json()
    assert now["properties"]["population"] == won["properties"]["population"]
    history = service.get("/api/scenarios/race/villages/V1/history").json()
    assert [e["action"] for e in history] == ["add", "update"]  # the loser left no trace


def test_change_sets_computed_together_one_applies(tmp_path: Path) -> None:
    # The store's own guard: two change sets computed against one version, the same row.
    store = open_store(tmp_path)
    frame = gpd.GeoDataFrame(
        {"village_id": ["V1"], "name": ["Thôn Một"]},
        geometry=gpd.points_from_xy([105.8], [22.0]),
        crs=4326,
    )
    store.apply(store.diff("villages", frame, actor="a"))
    first = store.diff("villages", frame.assign(name="Bản Một"), actor="a")
    second = store.diff("villages", frame.assign(name="Ấp Một"), actor="b")
    store.apply(first)
    from hatangso.geo.errors import ConflictError

    with pytest.raises(ConflictError, match=r"'V1' \(version 2\)"):
        store.apply(second)
    assert store.read("villages")["name"].tolist() == ["Bản Một"]
    store.close()


def test_a_database_that_went_away_answers_503(service: TestClient, key: dict[str, str]) -> None:
    assert _upload(service, key, "gone", VILLAGES).status_code == 200
    settings = service.app.state.settings  # type: ignore[attr-defined]
    workspace = workspace_for(settings)
    workspace.close_stores()
    path = Path(settings.workspace) / "gone" / "record.gpkg"
    aside = path.with_name("record.aside")
    path.rename(aside)
    path.mkdir()  # where the file was, nothing SQLite can open
    try:
        read = service.get("/api/scenarios/gone/villages/V1")
        assert read.status_code == 503, read.text
        assert "unavailable" in read.json()["detail"] and read.headers["Retry-After"]
        assert service.get("/api/scenarios/gone/sites").status_code == 503
        edit = service.patch("/api/scenarios/gone/villages/V1", json={"population": 5}, headers=key)
        assert edit.status_code == 503
        upload = _upload(service, key, "gone", VILLAGES.replace("200", "300"))
        assert upload.status_code == 503, upload.text
    finally:
        path.rmdir()
        aside.rename(path)
    # Back: nothing was half-written.
    back = service.get("/api/scenarios/gone/villages/V2")
    assert back.status_code == 200 and back.json()["properties"]["population"] == 200
    assert back.headers["ETag"] == '"1"'


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_postgis_server_that_is_not_there_answers_503(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    url = f"postgresql://hatangso:s3cret@127.0.0.1:{_closed_port()}/record"
    (tmp_path / "pg").mkdir()
    with TestClient(create_app(settings_for(tmp_path, database_url=url))) as client:
        response = client.get("/api/scenarios/pg/sites")
    assert response.status_code == 503, response.text
    assert "unavailable" in response.json()["detail"]
    assert "s3cret" not in response.text


@pytest.mark.skipif(not POSTGIS_URL, reason="no PostGIS server (tests/with_postgis.sh)")
def test_the_record_endpoints_on_postgis(
    tmp_path: Path, settings_for: SettingsFor, key: dict[str, str]
) -> None:
    name = f"pg-{uuid.uuid4().hex[:8]}"
    with TestClient(create_app(settings_for(tmp_path, database_url=POSTGIS_URL))) as client:
        assert _upload(client, key, name, VILLAGES).status_code == 200
        edited = client.patch(
            f"/api/scenarios/{name}/villages/V1", json={"population": 150}, headers=key
        )
        assert edited.status_code == 200, edited.text
        assert client.delete(f"/api/scenarios/{name}/villages/V2", headers=key).status_code == 200
        history = client.get(f"/api/scenarios/{name}/villages/V1/history").json()
        assert [e["action"] for e in history] == ["add", "update"]
        listed = client.get(f"/api/scenarios/{name}/villages/V1").json()
        assert listed["properties"]["population"] == 150
        assert not (tmp_path / name / "record.gpkg").exists()
        workspace_for(client.app.state.settings).close_stores()  # type: ignore[attr-defined]
    from sqlalchemy import create_engine

    engine = create_engine(POSTGIS_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "record_{name.replace("-", "_")}" CASCADE')
    engine.dispose()


# --------------------------------------------------------------------------------------------
# The server killed (SIGKILL) while it applies a change set
# --------------------------------------------------------------------------------------------

_KILL_VILLAGES = 3000


def _kill_villages(label: str) -> bytes:
    """Villages K0 ... K2999 on a grid, each named `label` and its number."""
    lines = ["village_id,name,population,lon,lat"]
    lines += [
        f"K{i},{label} {i},{100 + i % 50},{105 + (i % 60) / 100:.2f},{21 + (i // 60) / 100:.2f}"
        for i in range(_KILL_VILLAGES)
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _state(record: Path) -> tuple[int, set[str], int]:
    """The record's version, the labels its villages bear, and how many there are."""
    store = open_store(record)
    try:
        villages = store.read("villages")
        return store.version, {str(n).split(" ")[0] for n in villages["name"]}, len(villages)
    finally:
        store.close()


def _serve_options(port: int) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]


def _send(port: int, data: bytes, answer: dict[str, Any]) -> None:
    """Upload `data` as the villages of scenario ``kill``; keep the answer or the error."""
    try:
        answer["response"] = httpx.post(
            f"http://127.0.0.1:{port}/api/scenarios/kill/uploads/villages",
            files={"file": ("v.csv", data)},
            timeout=300,
        )
    except httpx.HTTPError as exc:
        answer["error"] = exc


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited while starting"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not start within 120 s")


@pytest.mark.slow
def test_a_server_killed_during_a_change_set_leaves_the_record_before_or_after(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    record = root / "kill" / "record.gpkg"
    store = open_store(record)
    first = _kill_villages("L0").decode("utf-8").splitlines()
    frame = gpd.GeoDataFrame(
        {
            "village_id": [r.split(",")[0] for r in first[1:]],
            "name": [r.split(",")[1] for r in first[1:]],
        },
        geometry=gpd.points_from_xy(
            [float(r.split(",")[3]) for r in first[1:]],
            [float(r.split(",")[4]) for r in first[1:]],
        ),
        crs=4326,
    )
    store.apply(store.diff("villages", frame, actor="so-tt-tt"))
    store.close()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HATANGSO_API_KEY", "HATANGSO_DATABASE_URL", "HATANGSO_READ_KEY_REQUIRED")
    }
    env.update(HATANGSO_WORKSPACE=str(root), HATANGSO_DEMO="false", HATANGSO_PREWARM="false")
    rng = np.random.default_rng(20)
    budget = None  # seconds an upload takes, measured by the first, unkilled round
    outcomes: list[str] = []
    for round_no in range(21):
        before = _state(record)
        label = f"L{round_no + 1}"
        port = _closed_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "hatangso.app.main:app", *_serve_options(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its job processes are in its group: killed with it
        )
        answer: dict[str, Any] = {}
        try:
            _wait_healthy(port, server)

            started = time.monotonic()
            sender = threading.Thread(target=_send, args=(port, _kill_villages(label), answer))
            sender.start()
            if budget is None:
                sender.join()
                budget = time.monotonic() - started
                assert answer["response"].status_code == 200, answer["response"].text
            else:
                time.sleep(float(rng.uniform(0.0, 1.2 * budget)))
        finally:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        sender.join()
        after = _state(record)
        if after == before:
            outcomes.append("before")
        else:
            # Exactly after: one more version, every village renamed, none lost.
            assert after == (before[0] + 1, {label}, _KILL_VILLAGES), (round_no, before, after)
            outcomes.append("after")
    assert len(outcomes) == 21 and outcomes[0] == "after"
