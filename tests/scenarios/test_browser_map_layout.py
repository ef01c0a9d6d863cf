"""The command line's map.html in a real browser: its base layers and the layout of its panels.

The demo province's 200 villages with every kind of input but a DEM, run by ``hatangso
coverage``: a long layer list and a long KPI panel, and no hillshade to offer. Chromium
(Debian's ``/usr/bin/chromium``) driven by Playwright, every request to the outside blocked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Each base layer's (Vietnamese) name and whether it is the one selected, in the list's order.
_BASES = """
() => Array.from(document.querySelectorAll('.leaflet-control-layers-base label')).map(
  label => [label.querySelector('.vi').textContent, label.querySelector('input').checked])
"""


@pytest.fixture(scope="module")
def map_without_dem(
    tmp_path_factory: pytest.TempPathFactory, cli_exit_code: Callable[..., Any]
) -> Path:
    """Run ``hatangso coverage`` on the demo's inputs, all but the DEM; return its map.html."""
    from hatangso.geo.demo import generate_demo

    root = tmp_path_factory.mktemp("cli-map-layout")
    demo = generate_demo(root / "data", seed=2023, n_villages=200)
    args = [
        *("coverage", "--villages", str(demo.villages), "--sites", str(demo.sites)),
        *("--access-points", str(demo.access_points), "--fiber", str(demo.fiber)),
        *("--poles", str(demo.poles), "--ducts", str(demo.ducts), "--pois", str(demo.pois)),
        *("--masts", str(demo.masts), "--commitments", str(demo.commitments)),
        *("--declared", str(demo.declared), "--roads", str(demo.roads)),
        *("--out", str(root / "out"), "--quiet"),
    ]
    assert cli_exit_code(*args) == 0
    return root / "out" / "map.html"


def _open(offline_page: Callable[..., Any], page_file: Path, width: int, height: int) -> Any:
    opened = offline_page(width, height, schemes=("data:", "file:"), hosts=())
    opened.page.goto(page_file.as_uri(), wait_until="load", timeout=60_000)
    opened.page.wait_for_selector(".leaflet-control-layers-base label", timeout=30_000)
    assert opened.errors == [] and opened.blocked == []
    return opened.page


def test_without_a_dem_the_plain_base_alone_is_offered_and_selected(
    map_without_dem: Path, offline_page: Callable[..., Any]
) -> None:
    page = _open(offline_page, map_without_dem, 1280, 860)
    assert page.evaluate(_BASES) == [["Nền trắng", True]]
    assert page.locator("img.leaflet-image-layer").count() == 0


@pytest.mark.parametrize(("width", "height"), [(1280, 860), (900, 700)])
def test_the_layer_list_and_the_kpi_panel_do_not_cover_each_other(
    map_without_dem: Path,
    offline_page: Callable[..., Any],
    covered_px: Callable[[Any, str, str], float],
    width: int,
    height: int,
) -> None:
    page = _open(offline_page, map_without_dem, width, height)
    assert covered_px(page, ".leaflet-control-layers", "#hts-kpis") == 0
    # Both stay inside the window, where they can be read and scrolled.
    for selector in (".leaflet-control-layers", "#hts-kpis"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0, selector
        assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, selector
