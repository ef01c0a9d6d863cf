"""``/docs`` and ``/redoc`` work without internet: every file they load comes from the service."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from hatangso.app.main import create_app
from hatangso.scenarios.maps import find_outside_loads

_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.fixture(scope="module")
def docs_client(tmp_path_factory: pytest.TempPathFactory, settings_for: object) -> TestClient:
    # No lifespan: the pages need no scenario.
    settings = settings_for(tmp_path_factory.mktemp("empty"))  # type: ignore[operator]
    return TestClient(create_app(settings))


@pytest.mark.parametrize(
    ("page", "needed"),
    [
        ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css"]),
        ("/redoc", ["redoc.standalone.js"]),
    ],
)
def test_docs_pages_load_only_files_the_service_serves(
    docs_client: TestClient, page: str, needed: list[str]
) -> None:
    answer = docs_client.get(page)
    assert answer.status_code == 200
    html = answer.text
    assert find_outside_loads(html) == []
    assert "fonts.googleapis.com" not in html and "cdn.jsdelivr.net" not in html
    referenced = _REFERENCES.findall(html)
    for name in needed:
        assert any(url.endswith(name) for url in referenced), (name, referenced)
    for url in referenced:
        assert urlparse(url).netloc == "", url
        asset = docs_client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url


def test_vendored_docs_files_carry_their_licences() -> None:
    from importlib import resources

    folder = Path(str(resources.files("hatangso.app") / "static" / "docs"))
    for part in ("swagger-ui", "redoc"):
        assert (folder / part / "LICENSE").is_file()
        assert (folder / part / "VERSION").is_file()


@pytest.mark.browser
def test_swagger_ui_renders_offline(
    docs_client: TestClient, serve: Any, offline_page: Callable[..., Any]
) -> None:
    with serve(docs_client.app) as url:
        opened = offline_page(1280, 720)  # Playwright's default viewport
        page, blocked, errors = opened.page, opened.blocked, opened.errors
        page.goto(f"{url}/docs", wait_until="load", timeout=60_000)
        page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
        assert errors == [], errors
        assert page.locator(".swagger-ui .opblock").count() > 10
        assert "hatangso" in page.locator(".swagger-ui .title").inner_text()
    assert blocked == [], f"the page tried to reach outside: {blocked[:3]}"


def test_redoc_loads_no_image_from_outside() -> None:
    # ReDoc's side menu draws Redocly's logo from its CDN: an outside load on every /redoc.
    from importlib import resources

    script = Path(str(resources.files("hatangso.app") / "static" / "docs" / "redoc"))
    text = (script / "redoc.standalone.js").read_text(encoding="utf-8")
    assert re.findall(r"""\bsrc:\s*["'](?:https?:)?//[^"']+["']""", text) == []
