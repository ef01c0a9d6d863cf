"""The challenges' page in a real browser (Debian's Chromium), every outside request blocked."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import geopandas as gpd
import pytest

from hatangso.app.main import create_app

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class _User:
    name: str
    role: str
    operator: str | None = None
    province: str | None = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def workspace(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo workspace with two challenges: one decided, one open."""
    from hatangso.geo.store import open_store
    from hatangso.scenarios.challenges import answer_challenge, decide_challenge, file_challenge

    root = tmp_path_factory.mktemp("browser-challenges") / "ws"
    shutil.copytree(demo_workspace, root, symlinks=True)
    villages = gpd.read_file(root / "demo" / "villages.gpkg")
    official = _User("so-tttt", "official")
    now = datetime.now(UTC) - timedelta(days=2)
    with open_store(root / "demo") as store:
        first = file_challenge(
            store,
            villages,
            official,
            village_id=str(villages["village_id"].iloc[0]),
            operator="Viettel",
            tech="4G",
            claim="not_covered",
            evidence={"document": "Biên bản <đo kiểm> số 3"},
            now=now,
        )
        answer_challenge(
            store,
            villages,
            _User("viettel-noc", "operator", "Viettel"),
            first["challenge_id"],
            position="concede",
            now=now,
        )
        decide_challenge(store, official, first["challenge_id"], decision="upheld", now=now)
        file_challenge(
            store,
            villages,
            _User("vnpt-noc", "operator", "VNPT"),
            village_id=str(villages["village_id"].iloc[1]),
            operator="MobiFone",
            tech="5G",
            claim="covered",
            evidence={"document": "Hợp đồng 15"},
            now=now,
        )
    return root


@pytest.fixture(scope="module")
def server(workspace: Path, settings_for: Any) -> Iterator[str]:
    uvicorn = pytest.importorskip("uvicorn")
    config = uvicorn.Config(
        create_app(settings_for(workspace)),
        host="127.0.0.1",
        port=_free_port(),
        log_level="warning",
    )
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


def test_the_challenges_page_in_chromium(server: str) -> None:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (python)")
    blocked: list[str] = []

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith("data:") or (urlparse(url).hostname or "") in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.route("**/*", route)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            response = page.goto(f"{server}/scenarios/demo/challenges", wait_until="load")
            assert response is not None and response.status == 200
            assert errors == []
            assert page.locator("#challenges tbody tr").count() == 2
            decided = page.locator("#challenge-CH-0001").inner_text()
            assert "Viettel" in decided and "Chấp nhận" in decided and "Upheld" in decided
            pending = page.locator("#challenge-CH-0002").inner_text()
            assert "MobiFone" in pending and "Đang mở" in pending and "vnpt-noc" in pending
            counts = page.locator("#challenge-counts").inner_text()
            assert "Đang mở 1" in counts and "chấp nhận 1" in counts
        finally:
            browser.close()
    assert blocked == []
