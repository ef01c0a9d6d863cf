"""``hatangso users add|list|revoke``, run as a user runs them."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hatangso.geo.store import open_store, store_url

HATANGSO = shutil.which("hatangso", path=str(Path(sys.executable).parent))


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    if HATANGSO is None:
        pytest.skip("the hatangso console script is not installed beside this Python")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HATANGSO_")}
    return subprocess.run(
        [HATANGSO, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**environment, **(env or {})},
    )


def test_add_list_revoke_round_trip(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    added = _run("users", "add", "vnpt-1", "--role", "operator", "--operator", "VNPT",
                 "--workspace", ws)  # fmt: skip
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("htg_") and "\n" not in token  # the token alone on stdout
    assert "shown this once" in added.stderr
    official = _run("users", "add", "so-tt", "--role", "official", "--province", "Bắc Kạn",
                    "--workspace", ws)  # fmt: skip
    assert official.returncode == 0, official.stderr

    listed = _run("users", "list", "--workspace", ws)
    assert listed.returncode == 0, listed.stderr
    assert "vnpt-1" in listed.stdout and "VNPT" in listed.stdout and "so-tt" in listed.stdout
    # Neither the tokens nor their hashes are ever listed.
    store = open_store(tmp_path / "ws")
    try:
        assert store.authenticate(token) is not None
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "ws" / "record.gpkg") as conn:
        hashes = [h for (h,) in conn.execute("SELECT token_hash FROM store_users")]
    for secret in (token, token.split("_", 2)[2], *hashes):
        assert secret not in listed.stdout

    revoked = _run("users", "revoke", "vnpt-1", "--workspace", ws)
    assert revoked.returncode == 0, revoked.stderr
    store = open_store(store_url(tmp_path / "ws"))
    try:
        assert store.authenticate(token) is None
    finally:
        store.close()
    assert _run("users", "revoke", "nobody", "--workspace", ws).returncode == 2


def test_the_workspace_defaults_as_serve_reads_it(tmp_path: Path) -> None:
    ws = tmp_path / "served"
    added = _run("users", "add", "xem", "--role", "viewer", env={"HATANGSO_WORKSPACE": str(ws)})
    assert added.returncode == 0, added.stderr
    assert (ws / "record.gpkg").is_file()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["users", "add", "x", "--role", "boss"], "Invalid value for '--role'"),
        (["users", "add", "x"], "Missing option '--role'"),
        (["users", "add", "vnpt-1", "--role", "operator"], "--operator"),
        (["users", "frobnicate"], "No such command"),
    ],
)
def test_usage_mistakes_exit_2(tmp_path: Path, args: list[str], says: str) -> None:
    result = _run(*args, "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
