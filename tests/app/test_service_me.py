"""GET /api/me: who the service takes the caller for; and the challenges page's markup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from hatangso.app.main import create_app
from hatangso.app.routes.challenges import PAGE_SCRIPT, challenges_page
from hatangso.app.workspace import Workspace


def test_me_names_the_tokens_user(tmp_path: Path, settings_for: Any) -> None:
    root = tmp_path / "ws"
    with TestClient(create_app(settings_for(root, api_key=None))) as client:
        # A laptop's service (no key, no user): the administrator.
        assert client.get("/api/me").json()["role"] == "admin"
        users = Workspace(root).users()
        try:
            token = users.add_user("vnpt-1", role="operator", operator="vnpt").token
        finally:
            users.close()
        assert client.get("/api/me").json() == {
            "name": None,
            "role": None,
            "operator": None,
            "province": None,
        }
        me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json() == {
            "name": "vnpt-1",
            "role": "operator",
            "operator": "VNPT",
            "province": None,
        }
        wrong = client.get("/api/me", headers={"Authorization": "Bearer htg_wrong"})
        assert wrong.status_code == 401
        script = client.get(PAGE_SCRIPT)
        assert script.status_code == 200 and "sessionStorage" in script.text


def test_the_page_escapes_what_rows_say_and_shows_each_step_its_form() -> None:
    evil = '"><img src=x onerror=alert(1)>'
    page = challenges_page(
        "demo",
        "Tỉnh <b>Demo</b>",
        [
            {"challenge_id": "CH-0001", "status": "open", "operator": evil, "village_id": evil},
            {"challenge_id": "CH-0002", "status": "answered", "operator": "VNPT"},
            {"challenge_id": "CH-0003", "status": "decided", "decision": "upheld"},
        ],
    )
    assert "<img" not in page and "<b>Demo" not in page
    assert 'id="file-form"' in page and f'<script src="{PAGE_SCRIPT}" defer>' in page
    rows = page.split("<tr ")[1:]
    assert 'class="answer-form"' in rows[0] and 'class="decide-form"' in rows[0]
    assert 'class="answer-form"' not in rows[1] and 'class="decide-form"' in rows[1]
    assert "<form" not in rows[2]
    assert 'data-operator="&quot;&gt;&lt;img' in rows[0]
