"""Users, roles and tokens in the service: who may write what, and wrong credentials slowed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.main import create_app
from hatangso.app.workspace import Workspace
from hatangso.geo.outputs import write_json

SettingsFor = Callable[..., Settings]

_SITES_CSV = "site_id,operator,lon,lat\nS1,{operator},105.8,22.0\n"


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture()
def tokens(root: Path) -> dict[str, str]:
    """One user of each role, by name: their tokens."""
    users = Workspace(root).users()
    try:
        return {
            "vnpt-1": users.add_user("vnpt-1", role="operator", operator="vnpt").token,
            "xem": users.add_user("xem", role="viewer").token,
            "so-bk": users.add_user("so-bk", role="official", province="Bắc Kạn").token,
            "so-cm": users.add_user("so-cm", role="official", province="Tỉnh Cà Mau").token,
        }
    finally:
        users.close()


@pytest.fixture()
def service(root: Path, settings_for: SettingsFor) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(root))) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _upload(client: TestClient, scenario: str, kind: str, text: str, token: str | None):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/scenarios/{scenario}/uploads/{kind}",
        files={"file": (f"{kind}.csv", text.encode())},
        headers=_bearer(token) if token is not None else {},
    )


def test_a_write_without_credentials_is_401(service: TestClient, tokens: dict[str, str]) -> None:
    response = _upload(service, "bk", "sites", _SITES_CSV.format(operator="VNPT"), None)
    assert response.status_code == 401
    assert "Bearer" in response.headers["www-authenticate"]
    forged = "htg_" + tokens["xem"].split("_", 2)[1] + "_" + "A" * 43
    response = _upload(service, "bk", "sites", _SITES_CSV.format(operator="VNPT"), forged)
    assert response.status_code == 401


def test_a_viewer_may_not_write(service: TestClient, tokens: dict[str, str]) -> None:
    response = _upload(service, "bk", "sites", _SITES_CSV.format(operator="VNPT"), tokens["xem"])
    assert response.status_code == 403
    assert "may only read" in response.json()["detail"]


def test_an_operator_writes_its_own_rows_only(
    service: TestClient, tokens: dict[str, str], root: Path
) -> None:
    token = tokens["vnpt-1"]
    theirs = _upload(service, "bk", "sites", _SITES_CSV.format(operator="Viettel"), token)
    assert theirs.status_code == 403, theirs.text
    assert "belongs to Viettel, not to VNPT" in str(theirs.json()["detail"])
    assert not (root / "bk" / "uploads" / "sites.gpkg").exists()  # nothing was stored
    # Villages are the province's rows, and the DEM the province's raster.
    villages = "village_id,name,lon,lat\nV1,Nà Hin,105.8,22.0\n"
    assert _upload(service, "bk", "villages", villages, token).status_code == 403
    dem = service.post(
        "/api/scenarios/bk/uploads/dem", files={"file": ("d.tif", b"II*\0")}, headers=_bearer(token)
    )
    assert dem.status_code == 403

    ours = _upload(service, "bk", "sites", _SITES_CSV.format(operator="vnpt"), token)
    assert ours.status_code == 200, ours.text
    again = _upload(service, "bk", "sites", _SITES_CSV.format(operator="VNPT"), token)
    assert again.status_code == 200, again.text
    # Every write is kept with its user.
    assert again.json()["replaced"]["by"] == "vnpt-1"


def test_an_official_writes_within_its_province(
    service: TestClient, tokens: dict[str, str], root: Path
) -> None:
    (root / "cm").mkdir(parents=True)
    write_json({"name": "cm", "province": "Tỉnh Cà Mau"}, root / "cm" / "scenario.json")

    def post(token: str) -> int:
        # Not multipart: an admitted writer is answered 422 before any work.
        return service.post(
            "/api/scenarios/cm/uploads/villages", content=b"x", headers=_bearer(token)
        ).status_code

    assert post(tokens["so-bk"]) == 403
    assert post(tokens["so-cm"]) == 422
    # A shipped scenario's province is its file's (ca-mau.yaml: Tỉnh Cà Mau).
    response = service.post(
        "/api/scenarios/ca-mau/uploads/villages", content=b"x", headers=_bearer(tokens["so-bk"])
    )
    assert response.status_code == 403
    assert "Cà Mau" in response.json()["detail"]


def test_an_official_edits_records_within_its_province_only(
    service: TestClient, tokens: dict[str, str], root: Path
) -> None:
    (root / "cm").mkdir(parents=True)
    write_json({"name": "cm", "province": "Tỉnh Cà Mau"}, root / "cm" / "scenario.json")
    record = "/api/scenarios/cm/villages/CM-1"
    # Another province's official is refused before the record is looked at ...
    assert (
        service.patch(record, json={"name": "x"}, headers=_bearer(tokens["so-bk"])).status_code
        == 403
    )
    assert service.delete(record, headers=_bearer(tokens["so-bk"])).status_code == 403
    # ... the province's own gets as far as the record (which does not exist: 404).
    assert (
        service.patch(record, json={"name": "x"}, headers=_bearer(tokens["so-cm"])).status_code
        == 404
    )


def test_a_revoked_token_is_401(service: TestClient, tokens: dict[str, str], root: Path) -> None:
    users = Workspace(root).users()
    try:
        users.revoke_user("so-cm")
    finally:
        users.close()
    response = service.post(
        "/api/scenarios/cm/uploads/villages", content=b"x", headers=_bearer(tokens["so-cm"])
    )
    assert response.status_code == 401


def test_repeated_wrong_credentials_are_slowed(
    root: Path, settings_for: SettingsFor, tokens: dict[str, str]
) -> None:
    with TestClient(create_app(settings_for(root, max_auth_failures=3))) as client:
        wrong = "htg_000000000000_" + "x" * 43

        def post(headers: dict[str, str]) -> tuple[int, str | None]:
            response = client.post(
                "/api/scenarios/cm/uploads/villages", content=b"x", headers=headers
            )
            return response.status_code, response.headers.get("retry-after")

        assert post(_bearer(wrong)) == (401, None)
        assert post({"X-API-Key": "wrong"}) == (401, None)
        assert post(_bearer(wrong)) == (401, None)
        status, wait = post(_bearer(wrong))
        assert status == 429 and wait is not None and 1 <= int(wait) <= 60
        # Held back whatever it sends, a good token too, until the window has passed.
        assert post(_bearer(tokens["so-cm"]))[0] == 429
        # Requests without credentials are not held back: reads stay open.
        assert client.get("/api/scenarios").status_code == 200


def test_the_docs_show_the_bearer_scheme(service: TestClient) -> None:
    schemes = service.get("/openapi.json").json()["components"]["securitySchemes"]
    assert any(s.get("scheme", "").lower() == "bearer" for s in schemes.values())


def test_once_there_are_users_anonymous_writes_are_401_even_without_a_key(
    root: Path, settings_for: SettingsFor, tokens: dict[str, str]
) -> None:
    with TestClient(create_app(settings_for(root, api_key=None))) as client:
        anonymous = client.post("/api/scenarios/cm/uploads/villages", content=b"x")
        assert anonymous.status_code == 401
        viewer = client.post(
            "/api/scenarios/cm/uploads/villages", content=b"x", headers=_bearer(tokens["xem"])
        )
        assert viewer.status_code == 403
        official = client.post(
            "/api/scenarios/cm/uploads/villages", content=b"x", headers=_bearer(tokens["so-cm"])
        )
        # A scenario that names no province is not an official's of one province.
        assert official.status_code == 403
        assert "no named province" in official.json()["detail"]
