"""Fixtures of the service tests: a small demo scenario built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.main import create_app
from hatangso.app.workspace import demo_metadata
from hatangso.geo.outputs import write_json

API_KEY = "test-key-123"


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the demo province (300 villages) and its coverage results."""
    from hatangso.coverage.config import CoverageConfig
    from hatangso.geo.demo import generate_demo
    from hatangso.scenarios.demo_job import DEMO_TARGETS
    from hatangso.scenarios.job import InputFiles, run_coverage

    root = tmp_path_factory.mktemp("workspace")
    folder = root / "demo"
    demo = generate_demo(folder / "data", n_villages=300)
    run_coverage(
        InputFiles(
            villages=demo.villages,
            sites=demo.sites,
            access_points=demo.access_points,
            fiber=demo.fiber,
            poles=demo.poles,
            ducts=demo.ducts,
            pois=demo.pois,
            samples=demo.samples,
            declared=demo.declared,
        ),
        CoverageConfig.model_validate({"targets": DEMO_TARGETS}),
        folder,
        title="Tỉnh Demo",
        extra={"scenario": "demo"},
    )
    write_json(demo_metadata(), folder / "scenario.json")
    return root


def make_settings(root: Path, **changes: object) -> Settings:
    options: dict[str, object] = {
        "workspace": root,
        "demo": False,
        "prewarm": False,
        "api_key": API_KEY,
    }
    options.update(changes)
    return Settings.model_validate(options)


@pytest.fixture(scope="session")
def client(demo_workspace: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(demo_workspace))) as test_client:
        yield test_client


@pytest.fixture()
def key() -> dict[str, str]:
    return {"X-API-Key": API_KEY}


@pytest.fixture(scope="session")
def settings_for() -> object:
    """Build settings for a workspace: ``settings_for(root, **changes)``."""
    return make_settings
