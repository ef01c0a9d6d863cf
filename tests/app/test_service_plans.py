"""The shipped scenario files: listed by the service and built on first use."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hatangso.app.main import create_app
from hatangso.app.workspace import Workspace, shipped_plans

SHIPPED = {"demo", "ca-mau", "tien-giang", "bac-kan", "hong-phong"}


def test_every_shipped_plan_is_listed_with_its_title(tmp_path: Path, settings_for: object) -> None:
    client = TestClient(create_app(settings_for(tmp_path)))  # type: ignore[operator]
    listed = {s["name"]: s for s in client.get("/api/scenarios").json()}
    assert SHIPPED <= set(listed)
    for name in SHIPPED:
        assert listed[name]["title"], name
        assert listed[name]["ready"] is False  # nothing is built until it is asked for
    assert listed["ca-mau"]["title"].startswith("Tỉnh Cà Mau")
    assert listed["hong-phong"]["title"].startswith("Xã Hồng Phong")


@pytest.mark.slow
def test_a_shipped_plan_is_built_on_first_use(tmp_path: Path, settings_for: object) -> None:
    # Hồng Phong is the smallest shipped plan (15 villages). No lifespan: the demo is not built.
    settings = settings_for(tmp_path, demo=True)  # type: ignore[operator]
    client = TestClient(create_app(settings))
    answer = client.get("/api/scenarios/hong-phong/kpis")
    assert answer.status_code == 200, answer.text
    codes = {indicator["code"] for indicator in answer.json()["indicators"]}
    assert "village_mobile_coverage" in codes
    assert not (tmp_path / "demo").exists()

    listed = {s["name"]: s for s in client.get("/api/scenarios").json()}
    assert listed["hong-phong"]["ready"] is True
    assert listed["hong-phong"]["source"] == "scenario"
    villages = client.get("/api/scenarios/hong-phong/villages").json()
    assert villages["numberMatched"] == 15
    # The generated input layers are the scenario's own, read through the workspace.
    sites = client.get("/api/scenarios/hong-phong/sites")
    assert sites.status_code == 200, sites.text
    assert Workspace(tmp_path).layer_path("hong-phong", "villages") is not None
    assert shipped_plans()["hong-phong"].name == "hong-phong.yaml"


def test_a_shipped_plan_is_not_built_when_building_is_off(
    tmp_path: Path, settings_for: object
) -> None:
    client = TestClient(create_app(settings_for(tmp_path)))  # type: ignore[operator]
    assert client.get("/api/scenarios/ca-mau/kpis").status_code == 404
