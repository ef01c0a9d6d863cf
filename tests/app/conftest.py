"""Fixtures of the service tests: a small demo scenario built once per session."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import pytest
import shapely
from fastapi.testclient import TestClient

from hatangso.app.auth import Principal, current_principal
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
            masts=demo.masts,
            commitments=demo.commitments,
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


@pytest.fixture()
def service(tmp_path: Path, settings_for: Callable[..., Settings]) -> Iterator[TestClient]:
    """The service on an empty workspace in ``tmp_path``; every request from the admin."""
    with TestClient(create_app(settings_for(tmp_path))) as test_client:
        yield test_client


def _upload(
    client: TestClient,
    key: dict[str, str],
    scenario: str,
    kind: str,
    text: str,
    *,
    name: str | None = None,
    **params: Any,
) -> httpx.Response:
    return client.post(
        f"/api/scenarios/{scenario}/uploads/{kind}",
        files={"file": (name or f"{kind}.csv", text.encode("utf-8"))},
        headers=key,
        params=params,
    )


@pytest.fixture(scope="session")
def upload() -> Callable[..., httpx.Response]:
    """Upload `text` as the file of `kind` to a scenario.

    ``upload(client, key, scenario, kind, text, *, name=None, **params) -> response``: the file
    is named `name` (``{kind}.csv`` unless told), `params` are the query's (``dry_run``,
    ``mode``, ...).
    """
    return _upload


def _act_as(client: TestClient, principal: Principal | None) -> None:
    overrides = client.app.dependency_overrides  # type: ignore[attr-defined]
    if principal is None:
        overrides.pop(current_principal, None)
    else:
        overrides[current_principal] = lambda: principal


@pytest.fixture(scope="session")
def act_as() -> Callable[[TestClient, Principal | None], None]:
    """Make every request of a client come from a principal: ``act_as(client, principal)``.

    ``act_as(client, None)`` returns the client to the default principal.
    """
    return _act_as


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _served(app: Any) -> Iterator[str]:
    uvicorn = pytest.importorskip("uvicorn")
    config = uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the service did not start on loopback")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def serve() -> Callable[[Any], AbstractContextManager[str]]:
    """Run an app with uvicorn on a free loopback port: ``with serve(app) as url``."""
    return _served


UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0


def _frame(data: dict[str, list[object]], xy: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    points = shapely.points([(X0 + x, Y0 + y) for x, y in xy])
    return gpd.GeoDataFrame(data, geometry=points, crs=UTM).to_crs(4326)


@pytest.fixture(scope="session")
def registry_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scenario ``reg``: two communes, four masts, three sites, two commitments, its run."""
    from hatangso.coverage.config import CoverageConfig
    from hatangso.scenarios.job import InputFiles, run_coverage

    root = tmp_path_factory.mktemp("workspace")
    folder = root / "reg"
    data = folder / "data"
    data.mkdir(parents=True)
    gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2"],
            "name": ["Nà Hin", "Pác Nặm"],
            "commune": ["Xã Đông", "Xã Tây"],
        },
        geometry=[
            shapely.box(X0 - 500, Y0 - 500, X0 + 1500, Y0 + 500),
            shapely.box(X0 + 1500, Y0 - 500, X0 + 3500, Y0 + 500),
        ],
        crs=UTM,
    ).to_crs(4326).to_file(data / "villages.gpkg")
    soon = (date.today() - timedelta(days=5 * 365 - 30)).isoformat()  # ends in about a month
    _frame(
        {
            "mast_id": ["M1", "M2", "M3", "M4"],
            "owner": ["Viettel", "<b>Tower</b> Co", "VNPT", "MobiFone"],
            "status": ["built", "built", "planned", "built"],
            "permit_no": ["GP-1", None, None, "GP-4"],
            "permit_date": ["2024-05-01", None, None, soon],
            "tenants": ["Viettel", "VNPT", None, "MobiFone"],
        },
        [(0, 0), (60, 0), (2000, 0), (3000, 0)],
    ).to_file(data / "masts.gpkg")
    _frame(
        {
            "site_id": ["S1", "S2", "S3"],
            "operator": ["Viettel", "VNPT", "Vietnamobile"],
            "mast_id": ["M1", "M1", None],
        },
        [(0, 0), (5, 0), (2500, 0)],
    ).to_file(data / "sites.gpkg")
    (data / "commitments.csv").write_text(
        "village_id,operator,tech,due\nV1,Viettel,4G,2025-06-30\nV2,MobiFone,4G,2025-06-30\n",
        encoding="utf-8",
    )
    run_coverage(
        InputFiles(
            villages=data / "villages.gpkg",
            sites=data / "sites.gpkg",
            masts=data / "masts.gpkg",
            commitments=data / "commitments.csv",
        ),
        CoverageConfig.model_validate({"mobile": {"model": "radius"}}),
        folder,
        title="Registry",
    )
    write_json(
        {
            "name": "reg",
            "title": "Registry",
            "source": "upload",
            "inputs": {
                **{k: f"data/{k}.gpkg" for k in ("villages", "sites", "masts")},
                "commitments": "data/commitments.csv",
            },
        },
        folder / "scenario.json",
    )
    return root
