"""The mast registry's page and the map's registry layers in a real browser, offline.

Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright; every request to the outside is
blocked, and the pages must draw without one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hatangso.app.main import create_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(registry_workspace: Path, settings_for: Any, serve: Any) -> Iterator[str]:
    with serve(create_app(settings_for(registry_workspace))) as url:
        yield url


def test_registry_page_draws_its_masts(
    server: str, offline_page: Callable[..., Any], tmp_path: Path
) -> None:
    opened = offline_page(1280, 900)
    page, blocked, errors = opened.page, opened.blocked, opened.errors
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


def test_map_shows_masts_and_commitments(server: str, offline_page: Callable[..., Any]) -> None:
    opened = offline_page(1280, 900)
    page, blocked, errors = opened.page, opened.blocked, opened.errors
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
