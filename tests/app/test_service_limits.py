"""Hostile configurations in request bodies: answered 422 naming the key, never obeyed, never 500.

A path in a request's configuration is the name of a file uploaded to that scenario, nothing
else; every parameter that scales the work is held to the server's limits (its Settings).
The refusals come before anything runs, so the shared demo scenario is left as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.main import create_app
from hatangso.app.workspace import Workspace
from hatangso.geo.limits import MAX_TERRAIN_RADIUS_M

SettingsFor = Callable[..., Settings]


def _coverage(client: TestClient, key: dict[str, str], config: dict[str, Any]) -> Any:
    return client.post("/api/scenarios/demo/coverage", headers=key, json=config)


def _plan(client: TestClient, key: dict[str, str], config: dict[str, Any]) -> Any:
    body = {"operator": "Viettel", "budget": 2, "config": config}
    return client.post("/api/scenarios/demo/plans", headers=key, json=body)


def _detail(answer: Any, value: str) -> str:
    assert answer.status_code == 422, answer.text
    return str(answer.json()["detail"]).replace(value, "<value>")


def test_a_path_outside_and_a_missing_file_get_the_same_answer(
    client: TestClient, key: dict[str, str]
) -> None:
    values = (
        "/etc/passwd",  # exists
        "/etc/no-such-file",  # does not
        "../kpis.json",  # the scenario's own folder, outside its uploads
        "../../demo/kpis.json",
        "kpis.json",  # not an uploaded file
        "uploads/villages.gpkg",  # a folder in the name
    )
    details = {
        value: _detail(_coverage(client, key, {"mobile": {"calibration": value}}), value)
        for value in values
    }
    assert len(set(details.values())) == 1, details
    detail = next(iter(details.values()))
    assert "mobile.calibration" in detail and "uploaded files of scenario 'demo'" in detail
    assert "JSON" not in detail and "/etc" not in detail


def test_dev_zero_is_refused_fast(client: TestClient, key: dict[str, str]) -> None:
    start = time.monotonic()
    answer = _coverage(client, key, {"mobile": {"calibration": "/dev/zero"}})
    assert answer.status_code == 422 and "mobile.calibration" in answer.text
    answer = _plan(client, key, {"siting": {"exclusion": "/dev/zero"}})
    assert answer.status_code == 422 and "siting.exclusion" in answer.text
    assert time.monotonic() - start < 20.0


@pytest.mark.parametrize(
    ("config", "key_named"),
    [
        ({"mobile": {"rule": "bogus"}}, "mobile.rule"),
        ({"terrain": {"radius_m": -5}}, "terrain.radius_m"),
        ({"mobile": {"radius_m": {"4G": {"rural": -1}}}}, "mobile.radius_m"),
        ({"siting": {"max_candidates": 10**9}}, "siting.max_candidates"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_invalid_configuration_is_422_naming_the_key(
    client: TestClient, key: dict[str, str], config: dict[str, Any], key_named: str
) -> None:
    for answer in (_coverage(client, key, config), _plan(client, key, config)):
        assert answer.status_code == 422, answer.text
        columns = [p["column"] for p in answer.json()["problems"]]
        assert key_named in columns, answer.text


def test_nan_and_infinity_are_422(client: TestClient, key: dict[str, str]) -> None:
    for literal in ("NaN", "Infinity", "-Infinity"):
        answer = client.post(
            "/api/scenarios/demo/coverage",
            headers={**key, "content-type": "application/json"},
            content=f'{{"terrain": {{"radius_m": {literal}}}}}',
        )
        assert answer.status_code == 422, answer.text


def test_a_radius_of_100_km_is_refused_with_key_limit_and_setting(
    client: TestClient, key: dict[str, str]
) -> None:
    answer = _coverage(client, key, {"terrain": {"radius_m": 100_000}})
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["problems"]
    assert problem["column"] == "terrain.radius_m"
    assert f"limit of {MAX_TERRAIN_RADIUS_M:g} m" in problem["message"]
    assert "HATANGSO_MAX_TERRAIN_RADIUS_M" in problem["message"]


def test_the_server_lowers_the_limits(
    demo_workspace: Path, settings_for: SettingsFor, key: dict[str, str]
) -> None:
    settings = settings_for(demo_workspace, max_terrain_radius_m=5000.0, max_candidates=10)
    client = TestClient(create_app(settings))
    answer = _coverage(client, key, {"terrain": {"radius_m": 8000}})
    assert answer.status_code == 422 and "above the limit of 5000 m" in answer.text
    answer = _plan(client, key, {"siting": {"max_candidates": 11}})
    assert answer.status_code == 422 and "above the limit of 10" in answer.text


def test_the_memory_cache_keeps_a_bounded_count(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path, max_cached=2)
    loads: list[str] = []

    def load(what: str) -> Callable[[], str]:
        def run() -> str:
            loads.append(what)
            return what

        return run

    for what in ("a", "b", "a", "c", "a", "b"):
        workspace.cached("demo", what, (), load(what))
    # "a" stays (used most recently each time); "b" was evicted by "c" and read again.
    assert loads == ["a", "b", "c", "b"]
