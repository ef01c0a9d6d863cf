"""The first start answers at once and says how far the demo's build is.

A slow builder stands in for the demo's: /health and the scenario list report its step while
it runs, and /health is back to ``{"status": "ok"}`` when it is done.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hatangso.app import workspace as workspace_module
from hatangso.app.main import create_app
from hatangso.app.startup import StartState
from hatangso.geo.outputs import write_json
from hatangso.geo.progress import Progress


def _wait_for(predicate: object, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        time.sleep(0.02)


def test_health_reports_the_build_while_it_runs(
    tmp_path: Path,
    settings_for: object,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()

    def slow_build(folder: Path, *, progress: Progress | None = None) -> None:
        assert progress is not None
        progress("reading villages")
        progress("terrain coverage")
        progress("terrain coverage", done=3, total=7)
        assert release.wait(30), "the test never released the build"
        progress("terrain coverage", done=7, total=7)
        write_json({"indicators": []}, folder / "kpis.json")

    entry = workspace_module._Registered("demo", "Tỉnh Demo", slow_build, reports_progress=True)
    monkeypatch.setitem(workspace_module._REGISTRY, "demo", entry)
    settings = settings_for(tmp_path, demo=True)  # type: ignore[operator]
    caplog.set_level(logging.INFO, logger="hatangso.app.startup")
    with TestClient(create_app(settings)) as client:
        _wait_for(lambda: client.get("/health").json().get("done") == 3)
        assert client.get("/health").json() == {
            "status": "ok",
            "building": "demo",
            "step": "terrain coverage",
            "done": 3,
            "total": 7,
        }
        listed = {s["name"]: s for s in client.get("/api/scenarios").json()}
        assert listed["demo"]["ready"] is False
        assert listed["demo"]["building"] == {"step": "terrain coverage", "done": 3, "total": 7}
        assert all(s["building"] is None for name, s in listed.items() if name != "demo")

        release.set()
        _wait_for(lambda: client.get("/health").json() == {"status": "ok"})
        listed = {s["name"]: s for s in client.get("/api/scenarios").json()}
        assert listed["demo"]["ready"] is True and listed["demo"]["building"] is None
    logged = [r.getMessage() for r in caplog.records]
    assert any("building scenario demo" in m for m in logged)
    assert "building demo: reading villages" in logged
    assert "building demo: terrain coverage" in logged


def test_a_request_for_the_scenario_being_built_waits_for_it(
    tmp_path: Path, settings_for: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()

    def slow_build(folder: Path, *, progress: Progress | None = None) -> None:
        started.set()
        time.sleep(0.5)
        write_json({"indicators": []}, folder / "kpis.json")

    entry = workspace_module._Registered("demo", "Tỉnh Demo", slow_build, reports_progress=True)
    monkeypatch.setitem(workspace_module._REGISTRY, "demo", entry)
    settings = settings_for(tmp_path, demo=True)  # type: ignore[operator]
    with TestClient(create_app(settings)) as client:
        assert started.wait(20)
        answer = client.get("/api/scenarios/demo/kpis")
        assert answer.status_code == 200
        assert answer.json()["indicators"] == []


def test_the_start_state_logs_a_counted_step_every_tenth(caplog: pytest.LogCaptureFixture) -> None:
    state = StartState()
    caplog.set_level(logging.INFO, logger="hatangso.app.startup")
    state.begin("demo")
    state("terrain coverage")
    for done in range(1, 101):
        state("terrain coverage", done=done, total=100)
    state.finish()
    counted = [r.getMessage() for r in caplog.records if " of 100" in r.getMessage()]
    assert len(counted) == 10
    assert counted[-1] == "building demo: terrain coverage, 100 of 100"
    assert state.snapshot() is None
