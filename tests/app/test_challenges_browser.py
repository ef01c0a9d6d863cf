"""The challenges' page in a real browser (Debian's Chromium), every outside request blocked."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest

from hatangso.app.main import create_app

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class _User:
    name: str
    role: str
    operator: str | None = None
    province: str | None = None


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
def server(workspace: Path, settings_for: Any, serve: Any) -> Iterator[str]:
    with serve(create_app(settings_for(workspace))) as url:
        yield url


def test_the_challenges_page_in_chromium(server: str, offline_page: Callable[..., Any]) -> None:
    opened = offline_page(1280, 800)
    page, blocked, errors = opened.page, opened.blocked, opened.errors
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
    assert blocked == []
