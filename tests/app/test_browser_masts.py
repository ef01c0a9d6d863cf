"""The mast registry's page and the map's registry layers in a real browser, offline.

Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright; every request to the outside is
blocked, and the pages must draw without one.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from hatangso.app.main import create_app

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(registry_workspace: Path, settings_for: object) -> Iterator[str]:
    uvicorn = pytest.importorskip("uvicorn")
    settings = settings_for(registry_workspace)  # type: ignore[operator]
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the service did not start on loopback")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (python)")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield instance
        finally:
            instance.close()


def _offline_page(browser: Any, blocked: list[str], errors: list[str]) -> Any:
    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith("data:") or urlparse(url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


def test_registry_page_draws_its_masts(server: str, browser: Any, tmp_path: Path) -> None:
    blocked: list[str] = []
    errors: list[str] = []
    page = _offline_page(browser, blocked, errors)
    page.goto(f"{server}/scenarios/reg/masts", wait_until="load", timeout=60_000)
    page.wait_for_function("window.hatangsoMastsReady === true", timeout=30_000)
    assert errors == [] and blocked == []
    # One marker per mast, one row per mast, the checks' table.
    assert page.locator("#masts-map path.leaflet-interactive").count() == 4
    assert page.locator("#masts-table tbody tr").count() == 4
    assert page.locator("#masts-checks tr").count() == 4
    # The owner's markup is shown as text, never run.
    assert page.locator("#masts-table b").count() == 0
    assert "<b>Tower</b> Co" in page.locator("#masts-table").inner_text()
    # Filtering by the form: the built masts without a permit.
    page.select_option("select[name=permit]", "missing")
    page.click("button[type=submit]")
    page.wait_for_function("window.hatangsoMastsReady === true", timeout=30_000)
    assert page.locator("#masts-table tbody tr").count() == 1
    assert page.locator("#masts-map path.leaflet-interactive").count() == 1
    page.locator("#masts-map path.leaflet-interactive").first.hover()
    page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
    assert "M2" in page.locator(".leaflet-tooltip").inner_text()
    page.screenshot(path=str(tmp_path / "masts.png"))
    assert errors == [] and blocked == []


def test_map_shows_masts_and_commitments(server: str, browser: Any) -> None:
    blocked: list[str] = []
    errors: list[str] = []
    page = _offline_page(browser, blocked, errors)
    page.goto(f"{server}/map/reg?lang=en", wait_until="load", timeout=60_000)
    page.wait_for_selector("path.leaflet-interactive", timeout=30_000)
    assert errors == [] and blocked == []
    control = page.locator(".leaflet-control-layers").inner_text()
    assert "Masts (registry)" in control and "Operators' commitments" in control
    legend = page.locator("#hts-legend").inner_text()
    assert "Built mast" in legend and "Planned mast" in legend
    assert "Commitment done" in legend and "Commitment overdue" in legend
    # Masts (black outline, status fill) and commitments (state fill) are drawn.
    fills = page.eval_on_selector_all(
        "path.leaflet-interactive", "ps => ps.map(p => p.getAttribute('fill'))"
    )
    assert "#252525" in fills and "#9e9ac8" in fills  # built, planned
    assert "#1a9850" in fills and "#d73027" in fills  # done, overdue
