"""The mast registry in the service: its list and filters, tenants, history, XLSX and page."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient

from hatangso.app.main import create_app

NAME = "reg"


@pytest.fixture(scope="module")
def client(registry_workspace: Path, settings_for: object) -> Iterator[TestClient]:
    settings = settings_for(registry_workspace)  # type: ignore[operator]
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _ids(document: dict[str, object]) -> list[str]:
    return sorted(f["id"] for f in document["features"])  # type: ignore[attr-defined, index]


def test_masts_list_and_filters(client: TestClient) -> None:
    url = f"/api/scenarios/{NAME}/masts"
    whole = client.get(url)
    assert whole.status_code == 200
    assert whole.headers["content-type"].startswith("application/geo+json")
    document = whole.json()
    assert _ids(document) == ["M1", "M2", "M3", "M4"]
    props = {f["id"]: f["properties"] for f in document["features"]}
    assert props["M1"]["commune"] == "Xã Đông" and props["M4"]["commune"] == "Xã Tây"
    assert props["M1"]["site_ids"] == "S1;S2" and props["M1"]["site_operators"] == "VNPT;Viettel"
    assert props["M2"]["permit_state"] == "missing"
    assert props["M3"]["permit_state"] == "not_needed"
    assert props["M4"]["permit_state"] == "expiring"
    assert (
        "share_candidate" in props["M1"]["checks"]
        and "built_without_permit" in (props["M2"]["checks"])
    )
    assert _ids(client.get(url, params={"permit": "missing"}).json()) == ["M2"]
    assert _ids(client.get(url, params={"permit": "expiring"}).json()) == ["M4"]
    assert _ids(client.get(url, params={"status": "planned"}).json()) == ["M3"]
    assert _ids(client.get(url, params={"owner": "viettel"}).json()) == ["M1"]
    assert _ids(client.get(url, params={"commune": "xa tay"}).json()) == ["M3", "M4"]
    listed = client.get(url, params={"format": "json", "commune": "Xã Đông"}).json()
    assert listed["numberMatched"] == 2
    assert {"lon", "lat", "mast_id", "permit_state"} <= set(listed["masts"][0])
    assert client.get(url, params={"permit": "lost"}).status_code == 422


def test_tenants_and_history(client: TestClient, registry_workspace: Path) -> None:
    tenants = client.get(f"/api/scenarios/{NAME}/masts/M1/tenants").json()
    assert tenants["shared"] is True
    assert tenants["tenants"] == [
        {"operator": "VNPT", "listed": False, "sites": ["S2"]},
        {"operator": "Viettel", "listed": True, "sites": ["S1"]},
    ]
    assert client.get(f"/api/scenarios/{NAME}/masts/M9/tenants").status_code == 404
    history = f"/api/scenarios/{NAME}/masts/M1/history"
    # The record was loaded from the scenario's inputs on first use: the mast's first change.
    first = client.get(history).json()
    assert [(e["action"], e["user"]) for e in first] == [("add", "hatangso")]
    from hatangso.app.workspace import Workspace

    store = Workspace(registry_workspace).store(NAME)
    masts = gpd.read_file(registry_workspace / NAME / "data" / "masts.gpkg")
    store.apply(
        store.diff(
            "masts", masts.assign(status=["dismantled", "built", "planned", "built"]), actor="a"
        )
    )
    store.close()
    entries = client.get(history).json()
    assert [e["action"] for e in entries] == ["add", "update"]
    assert entries[1]["user"] == "a" and entries[1]["after"]["status"] == "dismantled"
    assert entries[1]["before"]["status"] == "built"
    assert {"time", "user", "action", "before", "after"} <= set(entries[0])


def test_masts_xlsx(client: TestClient) -> None:
    from openpyxl import load_workbook

    response = client.get(f"/api/scenarios/{NAME}/masts.xlsx", params={"status": "built"})
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["masts", "checks"]
    rows = list(book["masts"].iter_rows(values_only=True))
    header = list(rows[0])
    assert sorted(r[header.index("mast_id")] for r in rows[1:]) == ["M1", "M2", "M4"]


def test_registry_page(client: TestClient) -> None:
    page = client.get(f"/scenarios/{NAME}/masts", params={"status": "", "commune": "Xã Đông"})
    assert page.status_code == 200
    text = page.text
    assert 'id="masts-table"' in text and "2 / 4" in text
    assert "<b>Tower</b>" not in text and "&lt;b&gt;Tower&lt;/b&gt;" in text
    assert "Station on no mast" in text  # the checks' table
    assert "https://" not in text and "http://" not in text
    assert client.get("/scenarios/demo-none/masts").status_code == 404


def test_upload_registry_and_commitments_then_run(
    registry_workspace: Path, settings_for: object, key: dict[str, str]
) -> None:
    settings = settings_for(registry_workspace)  # type: ignore[operator]
    data = registry_workspace / NAME / "data"
    with TestClient(create_app(settings)) as client:

        def upload(kind: str, name: str, body: bytes) -> dict[str, object]:
            response = client.post(
                f"/api/scenarios/up-reg/uploads/{kind}", files={"file": (name, body)}, headers=key
            )
            assert response.status_code == 200, response.text
            report: dict[str, object] = response.json()
            return report

        for kind in ("villages", "sites", "masts"):
            upload(kind, f"{kind}.gpkg", (data / f"{kind}.gpkg").read_bytes())
        dry = client.post(
            "/api/scenarios/up-reg/uploads/commitments",
            params={"dry_run": "true"},
            files={"file": ("c.csv", b"village_id,operator,tech,due\nV1,Viettel,4G,2025-01-01\n")},
            headers=key,
        )
        assert dry.status_code == 200 and dry.json()["stored"] is None
        header = "Mã thôn,Nhà mạng,Công nghệ,Hạn\n"
        # A change set with a bad row is refused whole, naming the row and the column.
        refused = client.post(
            "/api/scenarios/up-reg/uploads/commitments",
            files={"file": ("cam-ket.csv", f"{header}V1,Viettel,4G,30/06/2025\nV2,G,4G,soon\n")},
            headers=key,
        )
        assert refused.status_code == 422, refused.text
        assert "row 2" in refused.json()["detail"] and "'soon'" in refused.json()["detail"]
        body = f"{header}V1,Viettel,4G,30/06/2025\n"
        report = upload("commitments", "cam-ket.csv", body.encode())
        assert report["counts"] == {"read": 1, "used": 1, "rejected": 0, "repaired": 0}
        run = client.post("/api/scenarios/up-reg/coverage", headers=key, json={})
        assert run.status_code == 200, run.text
        codes = {i["code"]: i for i in run.json()["indicators"]}
        assert codes["commitments_on_time"]["value"] == 1.0
        kpis = client.get("/api/scenarios/up-reg/kpis").json()
        assert kpis["sharing_basis"] == "registry"
        assert kpis["commitments"]["counts"]["done"] == 1
        assert kpis["registry"]["checks"]["built_without_permit"] == 1
        masts = client.get("/api/scenarios/up-reg/masts").json()
        assert masts["numberMatched"] == 4
