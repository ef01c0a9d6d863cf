"""The map in a real browser, with every request to the outside blocked.

Chromium (Debian's ``/usr/bin/chromium``) is driven by Playwright; the service runs with uvicorn
on a free loopback port. Set ``HATANGSO_DOCS_SCREENSHOT=1`` to also write the screenshot to
``docs/service-map.png``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hatangso.app.main import create_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(demo_workspace: Path, settings_for: Any, serve: Any) -> Iterator[str]:
    with serve(create_app(settings_for(demo_workspace))) as url:
        yield url


# Pick a point of a village polygon that nothing else covers (a marker or another layer would
# take the click): try points on a grid over the polygon's box until the topmost element there
# is the polygon itself.
_FIND_FREE_POINT = """
() => {
  const paths = Array.from(document.querySelectorAll('path.leaflet-interactive'))
    .filter(p => p.getAttribute('fill') === '#d7301f');
  for (const path of paths) {
    const box = path.getBoundingClientRect();
    if (box.width < 4 || box.height < 4) continue;
    for (let i = 1; i < 8; i++) {
      for (let j = 1; j < 8; j++) {
        const x = box.left + box.width * i / 8, y = box.top + box.height * j / 8;
        if (x < 0 || y < 0 || x > window.innerWidth || y > window.innerHeight) continue;
        if (document.elementFromPoint(x, y) === path) return [x, y, paths.length];
      }
    }
  }
  return [null, null, paths.length];
}
"""


def test_map_renders_offline_and_popups_open(
    server: str, offline_page: Callable[..., Any], screenshot: Callable[..., Path]
) -> None:
    failed: list[str] = []

    opened = offline_page(1280, 860)
    page, blocked, errors = opened.page, opened.blocked, opened.errors
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(f"{server}/map/demo", wait_until="load", timeout=60_000)
    page.wait_for_selector("path.leaflet-interactive", timeout=30_000)
    assert errors == [], errors

    # Village polygons are drawn: one red path per uncovered village, plus the rest.
    polygons = page.locator("path.leaflet-interactive").count()
    assert polygons > 100
    x, y, red = page.evaluate(_FIND_FREE_POINT)
    assert red > 0, "no uncovered village drawn"
    assert x is not None, "no uncovered village free to click"

    # A click opens the village's popup, with its bilingual fields.
    page.mouse.click(x, y)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    text = popup.inner_text()
    assert "Thôn" in text and "Lý do chưa phủ" in text

    # The language switch turns the labels to English.
    page.locator("#hts-lang").click()
    assert page.locator(".leaflet-popup-content").inner_text().count("Why uncovered") == 1
    page.locator("#hts-lang").click()

    # The hillshade base map is an image the service served.
    assert page.locator("img.leaflet-image-layer").count() >= 1
    screenshot(page, "service-map.png")
    assert blocked == [], f"the page tried to reach outside: {blocked[:3]}"
    assert failed == [], f"requests failed: {failed[:3]}"
