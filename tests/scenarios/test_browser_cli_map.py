"""The command line's map.html in a real browser, every request to the outside blocked.

Point villages (the demo province's village centres) drawn by ``hatangso coverage`` on the
terrain model: the hillshade, the commune and district outlines drawn from the villages'
columns, the roads, sites in their operators' colours and, once the power layer is switched
on, its dBm colour bar. Set ``HATANGSO_DOCS_SCREENSHOT=1`` to also write the screenshot to
``docs/cli-point-map.png``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def point_map(tmp_path_factory: pytest.TempPathFactory, cli_exit_code: Callable[..., Any]) -> Path:
    """Run ``hatangso coverage`` on the demo's villages as points; return its map.html."""
    from hatangso.geo.demo import generate_demo

    root = tmp_path_factory.mktemp("cli-map")
    demo = generate_demo(root / "data", seed=2023, n_villages=200)
    villages = gpd.read_file(demo.villages)
    centres = shapely.points(villages[["centre_lon", "centre_lat"]].to_numpy())
    points = villages.drop(columns=["centre_lon", "centre_lat"]).set_geometry(
        gpd.GeoSeries(centres, crs=villages.crs)
    )
    points.to_file(root / "village_points.gpkg")
    (root / "config.yaml").write_text(
        "mobile: {model: terrain}\nterrain: {clutter_loss_db: 15.0}\n", encoding="utf-8"
    )
    args = [
        *("coverage", "--villages", str(root / "village_points.gpkg")),
        *("--sites", str(demo.sites), "--dem", str(demo.dem), "--roads", str(demo.roads)),
        *("--config", str(root / "config.yaml"), "--out", str(root / "out"), "--quiet"),
    ]
    assert cli_exit_code(*args) == 0
    return root / "out" / "map.html"


def test_the_point_village_map_renders_offline_with_its_base_map(
    point_map: Path,
    offline_page: Callable[..., Any],
    screenshot: Callable[..., Path],
    covered_px: Callable[[Any, str, str], float],
) -> None:
    opened = offline_page(1280, 860, schemes=("data:", "file:"), hosts=())
    page, blocked, errors = opened.page, opened.blocked, opened.errors
    page.goto(point_map.as_uri(), wait_until="load", timeout=60_000)
    page.wait_for_selector("path.leaflet-interactive", timeout=30_000)
    assert errors == [], errors

    # The hillshade is drawn; the power image and its colour bar wait to be asked for.
    assert page.locator("img.leaflet-image-layer").count() == 1
    assert not page.locator("#hts-scale").is_visible()
    power = page.locator(".leaflet-control-layers-overlays label").filter(
        has_text="Vùng phủ sóng (địa hình)"
    )
    power.locator("input").check()
    assert page.locator("img.leaflet-image-layer").count() == 2
    assert page.locator("#hts-scale").is_visible()
    assert "-110" in page.locator("#hts-scale").inner_text()
    # Outlines drawn from the point villages' communes and districts, and the roads.
    overlays = page.locator(".leaflet-control-layers-overlays").inner_text()
    for layer in ("Ranh giới huyện", "Ranh giới xã", "Đường"):
        assert layer in overlays
    # Sites in their operators' colours, each operator in the legend.
    legend = page.locator("#hts-legend").inner_text()
    for operator in ("Viettel", "VNPT", "MobiFone"):
        assert operator in legend

    screenshot(page, "cli-point-map.png")

    # The colour bar covers none of the other panels, in a wide window or a narrow one.
    for width, height in ((1280, 860), (900, 700), (720, 600)):
        page.set_viewport_size({"width": width, "height": height})
        for other in ("#hts-kpis", "#hts-legend", ".leaflet-control-layers", "#hts-lang"):
            assert covered_px(page, "#hts-scale", other) == 0, (width, other)
        box = page.locator("#hts-scale").bounding_box()
        assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= width

    power.locator("input").uncheck()
    assert not page.locator("#hts-scale").is_visible()
    assert blocked == [], f"the page tried to reach outside: {blocked[:3]}"
