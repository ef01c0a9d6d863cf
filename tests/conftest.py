"""Fixtures shared by every test package: the command line run in-process, a real browser kept
offline, and its screenshots for the documentation."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from hatangso.cli import main

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture()
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[Any, str, str]]:
    """Run ``hatangso *args`` in this process: ``run_cli(*args) -> (exit code, stdout, stderr)``.

    A command that returns without ``sys.exit`` counts as exit code 0.
    """

    def run(*args: str) -> tuple[Any, str, str]:
        monkeypatch.setattr(sys, "argv", ["hatangso", *args])
        with pytest.raises(SystemExit) as info:
            main()
            sys.exit(0)
        captured = capsys.readouterr()
        return info.value.code, captured.out, captured.err

    return run


def _exit_code(*args: str) -> Any:
    """Run ``hatangso *args`` in this process; its exit code (0 when it returns)."""
    saved = sys.argv
    sys.argv = ["hatangso", *args]
    try:
        with pytest.raises(SystemExit) as info:
            main()
            sys.exit(0)
    finally:
        sys.argv = saved
    return info.value.code


@pytest.fixture(scope="session")
def cli_exit_code() -> Callable[..., Any]:
    """``cli_exit_code(*args)``: run ``hatangso *args`` in this process, return its exit code.

    For fixtures of a wider scope than :func:`run_cli`'s (its output is not captured).
    """
    return _exit_code


@pytest.fixture()
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; skips the test when either is missing.

    One per test: Playwright's synchronous API keeps an event loop running in this thread
    while it is open, and later tests that run one of their own (``asyncio.run``) would fail.
    """
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (python)")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--no-first-run",
            ],
        )
        try:
            yield instance
        finally:
            instance.close()


@dataclass
class OfflinePage:
    """A page whose requests to the outside are aborted and noted in `blocked`.

    `errors` collects the page's uncaught script errors.
    """

    page: Any
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture()
def offline_page(browser: Any) -> Iterator[Callable[..., OfflinePage]]:
    """Open pages in their own browser contexts: ``offline_page(width, height)``.

    A page lets through the URLs that start with one of `schemes` (``data:`` by default) and
    those of the `hosts` (the loopback service by default); every other request is aborted and
    noted. The pages close with the test.
    """
    opened: list[Any] = []

    def open_page(
        width: int,
        height: int,
        *,
        schemes: tuple[str, ...] = ("data:",),
        hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
    ) -> OfflinePage:
        page = browser.new_page(viewport={"width": width, "height": height})
        opened.append(page)
        offline = OfflinePage(page)

        def route(route: Any) -> None:
            url = route.request.url
            if url.startswith(schemes) or (urlparse(url).hostname or "") in hosts:
                route.continue_()
            else:
                offline.blocked.append(url)
                route.abort()

        page.route("**/*", route)
        page.on("pageerror", lambda e: offline.errors.append(str(e)))
        return offline

    try:
        yield open_page
    finally:
        for page in opened:
            page.close()


def _covered_px(page: Any, first: str, second: str) -> float:
    """Return the area (px²) where the boxes of two visible elements of `page` overlap."""
    boxes = []
    for selector in (first, second):
        box = page.locator(selector).bounding_box()
        assert box is not None, f"{selector} is not shown"
        boxes.append(box)
    a, b = boxes
    width = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    height = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return max(width, 0.0) * max(height, 0.0)


@pytest.fixture()
def covered_px() -> Callable[[Any, str, str], float]:
    """How much two elements of a page cover each other: ``covered_px(page, "#a", ".b")``.

    The area in square pixels where their bounding boxes overlap; 0 when apart.
    """
    return _covered_px


#: The documentation's pictures: ``HATANGSO_DOCS_SCREENSHOT=1`` writes the browser tests'
#: screenshots there too.
DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture()
def screenshot(tmp_path: Path) -> Callable[..., Path]:
    """Take a page's screenshot: ``screenshot(page, "name.png", **options) -> path``.

    The picture is written to ``tmp_path`` (`options` go to Playwright's ``page.screenshot``)
    and must hold something (more than 10 kB); with ``HATANGSO_DOCS_SCREENSHOT=1`` it is
    copied to ``docs/<name>`` too.
    """

    def shoot(page: Any, name: str, **options: Any) -> Path:
        shot = tmp_path / name
        page.screenshot(path=str(shot), **options)
        assert shot.stat().st_size > 10_000, f"{name}: an empty picture"
        if os.environ.get("HATANGSO_DOCS_SCREENSHOT") == "1":
            shutil.copyfile(shot, DOCS / name)
        return shot

    return shoot
