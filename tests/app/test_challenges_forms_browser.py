"""The challenges' page's forms in a real browser: file, answer, decide, each with its token.

Debian's Chromium driven by Playwright, every request to the outside blocked. The users are
real (``hatangso users add``'s tokens, sent as ``Authorization: Bearer``). Set
``HATANGSO_DOCS_SCREENSHOT=1`` to also write the page's screenshot to
``docs/challenges-page.png``.
"""

from __future__ import annotations

import csv
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

from hatangso.app.main import create_app
from hatangso.app.workspace import Workspace

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def workspace(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("challenge-forms") / "ws"
    shutil.copytree(demo_workspace, root, symlinks=True)
    return root


@pytest.fixture(scope="module")
def tokens(workspace: Path) -> dict[str, str]:
    users = Workspace(workspace).users()
    try:
        return {
            "so-tttt": users.add_user("so-tttt", role="official").token,
            "viettel-noc": users.add_user("viettel-noc", role="operator", operator="Viettel").token,
            "vnpt-noc": users.add_user("vnpt-noc", role="operator", operator="VNPT").token,
            "khach": users.add_user("khach", role="viewer").token,
        }
    finally:
        users.close()


@pytest.fixture(scope="module")
def server(workspace: Path, tokens: dict[str, str], settings_for: Any, serve: Any) -> Iterator[str]:
    with serve(create_app(settings_for(workspace, api_key=None))) as url:
        yield url


def _samples_csv(polygon: shapely.Geometry, n: int, path: Path) -> Path:
    """`n` outdoor Viettel 4G samples inside `polygon`, ten days ago at 10:00, as a CSV file."""
    rng = np.random.default_rng(11)
    x0, y0, x1, y1 = polygon.bounds
    xy = rng.uniform((x0, y0), (x1, y1), size=(50 * n, 2))
    inside = xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])][:n]
    assert len(inside) == n
    day = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["lon", "lat", "operator", "tech", "rsrp_dbm", "time", "outdoor"])
        for lon, lat in inside.tolist():
            writer.writerow(
                [f"{lon:.6f}", f"{lat:.6f}", "Viettel", "4G", -95, f"{day}T10:00:00", "yes"]
            )
    return path


def test_file_answer_and_decide_through_the_page(
    server: str,
    workspace: Path,
    tokens: dict[str, str],
    tmp_path: Path,
    offline_page: Callable[..., Any],
    screenshot: Callable[..., Path],
) -> None:
    villages = gpd.read_file(workspace / "demo" / "villages.gpkg")
    village = villages[villages["serving_operators"].fillna("").str.contains("Viettel")].iloc[0]
    samples = _samples_csv(village.geometry, 35, tmp_path / "do-kiem.csv")
    url = f"{server}/scenarios/demo/challenges"
    # The page as served holds no token, whoever asks for it.
    with urllib.request.urlopen(url) as response:
        served = response.read().decode("utf-8")
    assert "htg_" not in served.replace('placeholder="htg_..."', "")

    def sign_in(page: Any, name: str) -> None:
        page.fill("#token", tokens[name])
        page.click("#token-form button[type=submit]")
        page.wait_for_function(
            "name => document.getElementById('whoami').textContent.startsWith(name)", arg=name
        )

    def message(page: Any, expected: str) -> str:
        page.wait_for_function(
            "text => { const m = document.getElementById('message');"
            " return !m.hidden && m.textContent.includes(text); }",
            arg=expected,
            timeout=20_000,
        )
        text: str = page.locator("#message").inner_text()
        return text

    opened = offline_page(1500, 1000)
    page, blocked, errors = opened.page, opened.blocked, opened.errors
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url, wait_until="load")
    assert page.locator("#no-challenges").count() == 1

    # An official files a challenge with a document; the listing shows it.
    sign_in(page, "so-tttt")
    form = page.locator("#file-form")
    form.locator("[name=village_id]").fill(str(village["village_id"]))
    form.locator("[name=operator]").fill("Viettel")
    form.locator("[name=claim]").select_option("not_covered")
    form.locator("[name=document]").fill("Biên bản <b>đo kiểm</b> số 7")
    form.locator("button[type=submit]").click()
    assert "CH-0001" in message(page, "Filed")
    row = page.locator("#challenge-CH-0001")
    row.wait_for()
    assert "Viettel" in row.inner_text() and "Đang mở" in row.inner_text()
    assert "so-tttt" in row.inner_text()
    # An official decides, but does not answer; the open challenge is not due yet.
    assert row.locator(".answer-form").is_hidden()
    assert row.locator(".decide-form").is_visible()

    # Without evidence the service refuses (422), and the page says why.
    form.locator("[name=village_id]").fill(str(village["village_id"]))
    form.locator("[name=operator]").fill("Viettel")
    form.locator("button[type=submit]").click()
    assert "422" in message(page, "422")

    # A viewer may read the page, but filing is refused with the service's message.
    sign_in(page, "khach")
    assert row.locator(".decide-form").is_hidden()
    form.locator("[name=village_id]").fill(str(village["village_id"]))
    form.locator("[name=operator]").fill("Viettel")
    form.locator("[name=document]").fill("Công văn 12")
    form.locator("button[type=submit]").click()
    refused = message(page, "403")
    assert "khach" in refused and "viewer" in refused
    assert page.locator("#message.error").count() == 1

    # Another operator sees no answer form; the operator concerned answers with samples.
    sign_in(page, "vnpt-noc")
    assert row.locator(".answer-form").is_hidden()
    sign_in(page, "viettel-noc")
    answer = row.locator(".answer-form")
    assert answer.is_visible() and row.locator(".decide-form").is_hidden()
    answer.locator("[name=position]").select_option("dispute")
    answer.locator("[name=samples]").set_input_files(str(samples))
    answer.locator("button[type=submit]").click()
    assert "CH-0001" in message(page, "Answered")
    row = page.locator("#challenge-CH-0001")
    page.wait_for_function(
        "() => document.getElementById('challenge-CH-0001').className === 'answered'"
    )
    assert "Phản đối" in row.inner_text()

    # The official decides; the decision is in the listing and in the counts.
    sign_in(page, "so-tttt")
    # The page's picture: an answered challenge, the official's decision form open.
    screenshot(page, "challenges-page.png", full_page=True)
    decide = row.locator(".decide-form")
    decide.locator("[name=decision]").select_option("upheld")
    decide.locator("[name=note]").fill("Mẫu đo <đủ>")
    decide.locator("button[type=submit]").click()
    assert "upheld" in message(page, "Decided")
    page.wait_for_function(
        "() => document.getElementById('challenge-CH-0001').className === 'decided'"
    )
    row = page.locator("#challenge-CH-0001")
    assert "Chấp nhận" in row.inner_text() and "so-tttt" in row.inner_text()
    assert row.locator("form").count() == 0
    assert "chấp nhận 1" in page.locator("#challenge-counts").inner_text()
    # The token stays in the tab's storage, never in the page.
    assert tokens["so-tttt"] not in page.content()
    stored = page.evaluate("() => sessionStorage.getItem('hatangso.token')")
    assert stored == tokens["so-tttt"]
    assert errors == [] and dialogs == []
    assert blocked == [], f"the page tried to reach outside: {blocked[:3]}"
