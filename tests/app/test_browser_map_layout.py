"""The service's map page in a real browser: its base layers and the layout of its panels.

Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright, every request to the outside
blocked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hatangso.app.main import create_app

pytestmark = pytest.mark.browser

#: Each base layer's (Vietnamese) name and whether it is the one selected, in the list's order.
_BASES = """
() => Array.from(document.querySelectorAll('.leaflet-control-layers-base label')).map(
  label => [label.querySelector('.vi').textContent, label.querySelector('input').checked])
"""


@pytest.fixture(scope="module")
def demo_server(demo_workspace: Path, settings_for: Any, serve: Any) -> Iterator[str]:
    with serve(create_app(settings_for(demo_workspace))) as url:
        yield url


@pytest.fixture(scope="module")
def plain_server(registry_workspace: Path, settings_for: Any, serve: Any) -> Iterator[str]:
    with serve(create_app(settings_for(registry_workspace))) as url:
        yield url


def _open(offline_page: Callable[..., Any], url: str, width: int, height: int) -> Any:
    opened = offline_page(width, height)
    opened.page.goto(url, wait_until="load", timeout=60_000)
    opened.page.wait_for_selector(".leaflet-control-layers-base label", timeout=30_000)
    assert opened.errors == [] and opened.blocked == []
    return opened.page


def test_the_hillshade_base_is_offered_only_with_a_dem(
    demo_server: str, plain_server: str, offline_page: Callable[..., Any]
) -> None:
    # The demo scenario has a DEM: its hillshade is the selected base, plain the other.
    page = _open(offline_page, f"{demo_server}/map/demo", 1280, 860)
    assert page.evaluate(_BASES) == [["Nền địa hình", True], ["Nền trắng", False]]
    assert page.locator("img.leaflet-image-layer").count() == 1
    # The registry scenario has none: the plain base alone, selected; no empty hillshade.
    page = _open(offline_page, f"{plain_server}/map/reg", 1280, 860)
    assert page.evaluate(_BASES) == [["Nền trắng", True]]
    assert page.locator("img.leaflet-image-layer").count() == 0


@pytest.mark.parametrize(("width", "height"), [(1280, 860), (900, 700)])
def test_the_layer_list_and_the_kpi_panel_do_not_cover_each_other(
    demo_server: str,
    offline_page: Callable[..., Any],
    covered_px: Callable[[Any, str, str], float],
    width: int,
    height: int,
) -> None:
    page = _open(offline_page, f"{demo_server}/map/demo", width, height)
    assert covered_px(page, ".leaflet-control-layers", "#hts-kpis") == 0
    # Both stay inside the window, where they can be read and scrolled.
    for selector in (".leaflet-control-layers", "#hts-kpis"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0, selector
        assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, selector
