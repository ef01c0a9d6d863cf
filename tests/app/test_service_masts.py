"""The mast registry in the service: its list and filters, tenants, history, XLSX and page."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from hatangso.app.main import create_app
from hatangso.geo.outputs import write_json

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0
NAME = "reg"


def _frame(data: dict[str, list[object]], xy: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    points = shapely.points([(X0 + x, Y0 + y) for x, y in xy])
    return gpd.GeoDataFrame(data, geometry=points, crs=UTM).to_crs(4326)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scenario of two communes, four masts, three sites and its run."""
    from hatangso.coverage.config import CoverageConfig
    from hatangso.scenarios.job import InputFiles, run_coverage

    root = tmp_path_factory.mktemp("workspace")
    folder = root / NAME
    data = folder / "data"
    data.mkdir(parents=True)
    gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2"],
            "name": ["Nà Hin", "Pác Nặm"],
            "commune": ["Xã Đông", "Xã Tây"],
        },
        geometry=[
            shapely.box(X0 - 500, Y0 - 500, X0 + 1500, Y0 + 500),
            shapely.box(X0 + 1500, Y0 - 500, X0 + 3500, Y0 + 500),
        ],
        crs=UTM,
    ).to_crs(4326).to_file(data / "villages.gpkg")
    soon = (date.today() - timedelta(days=5 * 365 - 30)).isoformat()  # ends in about a month
    _frame(
        {
            "mast_id": ["M1", "M2", "M3", "M4"],
            "owner": ["Viettel", "<b>Tower</b> Co", "VNPT", "MobiFone"],
            "status": ["built", "built", "planned", "built"],
            "permit_no": ["GP-1", None, None, "GP-4"],
            "permit_date": ["2024-05-01", None, None, soon],
            "tenants": ["Viettel", "VNPT", None, "MobiFone"],
        },
        [(0, 0), (60, 0), (2000, 0), (3000, 0)],
    ).to_file(data / "masts.gpkg")
    _frame(
        {
            "site_id": ["S1", "S2", "S3"],
            "operator": ["Viettel", "VNPT", "Vietnamobile"],
            "mast_id": ["M1", "M1", None],
        },
        [(0, 0), (5, 0), (2500, 0)],
    ).to_file(data / "sites.gpkg")
    run_coverage(
        InputFiles(
            villages=data / "villages.gpkg",
            sites=data / "sites.gpkg",
            masts=data / "masts.gpkg",
        ),
        CoverageConfig.model_validate({"mobile": {"model": "radius"}}),
        folder,
        title="Registry",
    )
    write_json(
        {
            "name": NAME,
            "title": "Registry",
            "source": "upload",
            "inputs": {k: f"data/{k}.gpkg" for k in ("villages", "sites", "masts")},
        },
        folder / "scenario.json",
    )
    return root


@pytest.fixture(scope="module")
def client(workspace: Path, settings_for: object) -> Iterator[TestClient]:
    settings = settings_for(workspace)  # type: ignore[operator]
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


def test_tenants_and_history(client: TestClient, workspace: Path) -> None:
    tenants = client.get(f"/api/scenarios/{NAME}/masts/M1/tenants").json()
    assert tenants["shared"] is True
    assert tenants["tenants"] == [
        {"operator": "VNPT", "listed": False, "sites": ["S2"]},
        {"operator": "Viettel", "listed": True, "sites": ["S1"]},
    ]
    assert client.get(f"/api/scenarios/{NAME}/masts/M9/tenants").status_code == 404
    history = f"/api/scenarios/{NAME}/masts/M1/history"
    assert client.get(history).json() == []  # the record has no change of it yet
    from hatangso.app.workspace import Workspace

    store = Workspace(workspace).store(NAME)
    masts = gpd.read_file(workspace / NAME / "data" / "masts.gpkg")
    store.apply(store.diff("masts", masts, actor="so-tt-tt"))
    store.apply(
        store.diff(
            "masts", masts.assign(status=["dismantled", "built", "planned", "built"]), actor="a"
        )
    )
    store.close()
    entries = client.get(history).json()
    assert [e["action"] for e in entries] == ["add", "update"]
    assert entries[1]["user"] == "a" and entries[1]["after"]["status"] == "dismantled"
    assert {"time", "user", "action", "before", "after"} == set(entries[0])


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
