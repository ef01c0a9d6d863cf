"""The service's users in the store: on the embedded GeoPackage and on PostGIS.

The PostGIS half needs ``HATANGSO_TEST_DATABASE_URL`` (``make test`` starts a private server
with ``tests/with_postgis.sh``); without it, it skips and says why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from hatangso.geo.errors import ConflictError, InputError, NotFoundError
from hatangso.geo.store import SqlStore, open_store, store_url

POSTGIS_URL = os.environ.get("HATANGSO_TEST_DATABASE_URL")
POSTGIS_SKIP = os.environ.get("HATANGSO_TEST_POSTGIS_SKIP") or (
    "HATANGSO_TEST_DATABASE_URL is not set: run `make test` (it starts a private PostgreSQL "
    "15 + PostGIS) or point it at a PostGIS database"
)


class Clock:
    """A clock the test moves; each reading moves it on by a second."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture(params=["embedded", "postgis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, object]]:
    if request.param == "embedded":
        yield {"target": tmp_path / "ws"}
        return
    if not POSTGIS_URL:
        pytest.skip(POSTGIS_SKIP)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield {"target": POSTGIS_URL, "schema": schema}
    engine = sa.create_engine(POSTGIS_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(backend: dict[str, object], clock: Clock) -> Iterator[SqlStore]:
    target = backend["target"]
    assert isinstance(target, str | Path)
    schema = backend.get("schema")
    assert schema is None or isinstance(schema, str)
    opened = open_store(target, schema=schema, clock=clock)
    yield opened
    opened.close()


def test_a_token_authenticates_its_user_and_only_it(store: SqlStore) -> None:
    official = store.add_user("so-tt", role="official", province="Tỉnh Bắc Kạn")
    operator = store.add_user("vnpt-1", role="operator", operator="VNPT")
    assert official.token.startswith("htg_") and official.token != operator.token
    found = store.authenticate(operator.token)
    assert found is not None
    assert (found.name, found.role, found.operator, found.province) == (
        "vnpt-1",
        "operator",
        "VNPT",
        None,
    )
    found = store.authenticate(official.token)
    assert found is not None
    assert (found.name, found.role, found.province) == ("so-tt", "official", "Tỉnh Bắc Kạn")
    # Another user's id with this user's secret, a changed secret, a non-token: no one.
    _, op_id, op_secret = operator.token.split("_", 2)
    of_secret = official.token.split("_", 2)[2]
    assert store.authenticate(f"htg_{op_id}_{of_secret}") is None
    changed = op_secret[:-1] + ("B" if op_secret.endswith("A") else "A")
    assert store.authenticate(f"htg_{op_id}_{changed}") is None
    assert store.authenticate("htg_000000000000_" + "x" * 43) is None
    assert store.authenticate("Bearer nonsense") is None


def test_the_token_is_never_stored_in_clear(store: SqlStore) -> None:
    new = store.add_user("viettel-1", role="operator", operator="Viettel")
    _, token_id, secret = new.token.split("_", 2)
    with store._engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM store_users")).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0].values())
    assert secret not in stored and new.token not in stored
    assert rows[0]["token_id"] == token_id and len(rows[0]["token_hash"]) == 64
    assert len(rows[0]["salt"]) == 32


def test_a_revoked_token_is_refused_and_the_user_stays_listed(store: SqlStore) -> None:
    new = store.add_user("xem", role="viewer")
    assert store.authenticate(new.token) is not None
    revoked = store.revoke_user("xem")
    assert revoked.revoked is not None and not revoked.active
    assert store.authenticate(new.token) is None
    assert [(u.name, u.active) for u in store.users()] == [("xem", False)]
    with pytest.raises(ConflictError, match="stays taken"):
        store.add_user("xem", role="viewer")
    with pytest.raises(NotFoundError, match="no user named 'nobody'"):
        store.revoke_user("nobody")


def test_has_users_counts_revoked_ones(store: SqlStore) -> None:
    assert not store.has_users()
    store.add_user("xem", role="viewer")
    store.revoke_user("xem")
    assert store.has_users()  # revoking everyone does not open the service to anyone


def test_last_use_is_kept(store: SqlStore) -> None:
    new = store.add_user("vnpt-2", role="operator", operator="VNPT")
    assert store.users()[0].last_used is None
    store.authenticate(new.token)
    assert store.users()[0].last_used is not None


@pytest.mark.parametrize(
    ("name", "role", "options", "match"),
    [
        ("vnpt-1", "operator", {}, "--operator"),
        ("so-tt", "official", {"operator": "VNPT"}, "only with --role operator"),
        ("xem", "viewer", {"province": "Cà Mau"}, "only with --role official"),
        ("xem", "boss", {}, "not a role"),
        ("admin", "viewer", {}, "not a usable user name"),
        ("a b", "viewer", {}, "not a usable user name"),
    ],
)
def test_unusable_users_are_refused(
    store: SqlStore, name: str, role: str, options: dict[str, str], match: str
) -> None:
    with pytest.raises(InputError, match=match):
        store.add_user(name, role=role, **options)
    assert store.users() == []


def test_a_store_of_r0003_gains_the_users_table(backend: dict[str, object], clock: Clock) -> None:
    target = backend["target"]
    assert isinstance(target, str | Path)
    schema = backend.get("schema")
    assert schema is None or isinstance(schema, str)
    url = target if isinstance(target, str) else store_url(target)
    if isinstance(target, Path):
        target.mkdir(parents=True)
    old = SqlStore(url, schema=schema, clock=clock, revision="r0003")
    assert "store_users" not in sa.inspect(old._engine).get_table_names()
    old.close()
    store = open_store(target, schema=schema, clock=clock)
    try:
        new = store.add_user("so-tt", role="official")
        user = store.authenticate(new.token)
        assert user is not None and user.name == "so-tt"
    finally:
        store.close()
