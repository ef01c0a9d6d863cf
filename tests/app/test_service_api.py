"""Read endpoints of the service, checked against the files the coverage job wrote."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import openpyxl
import pytest
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.main import create_app

SettingsFor = Callable[..., Settings]


def feature_collection(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    assert document["type"] == "FeatureCollection"
    return document


@pytest.fixture(scope="module")
def villages(demo_workspace: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(demo_workspace / "demo" / "villages.gpkg", layer="villages")


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_lists_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/health",
        "/api/scenarios",
        "/api/scenarios/{name}/kpis",
        "/api/scenarios/{name}/villages",
        "/api/scenarios/{name}/uploads/{kind}",
        "/map/{name}",
    ):
        assert path in paths
    upload = paths["/api/scenarios/{name}/uploads/{kind}"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_scenarios_list_has_demo(client: TestClient) -> None:
    scenarios = client.get("/api/scenarios").json()
    demo = next(s for s in scenarios if s["name"] == "demo")
    assert demo["title"] == "Tỉnh Demo"
    assert demo["ready"] is True
    assert demo["links"]["map"] == "/map/demo"


def test_scenario_detail_and_unknown(client: TestClient, villages: gpd.GeoDataFrame) -> None:
    detail = client.get("/api/scenarios/demo").json()
    assert detail["villages"] == len(villages)
    assert client.get("/api/scenarios/nowhere").status_code == 404
    assert client.get("/api/scenarios/nowhere/kpis").status_code == 404


def test_scenario_name_is_validated(client: TestClient) -> None:
    # Upper case and dots are outside the name pattern: refused before any path is built.
    assert client.get("/api/scenarios/Demo/kpis").status_code == 422
    assert client.get("/api/scenarios/..%2Fetc/kpis").status_code in (404, 422)
    assert client.get("/api/scenarios/a.b/kpis").status_code == 422


def test_kpis_is_the_file(client: TestClient, demo_workspace: Path) -> None:
    expected = json.loads((demo_workspace / "demo" / "kpis.json").read_text(encoding="utf-8"))
    response = client.get("/api/scenarios/demo/kpis")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == expected
    codes = {ind["code"] for ind in response.json()["indicators"]}
    assert "village_mobile_coverage" in codes


@pytest.mark.parametrize(
    ("indicator", "column"), [("mobile", "covered_mobile"), ("ftth", "covered_ftth")]
)
def test_villages_filtered_by_status(
    client: TestClient, villages: gpd.GeoDataFrame, indicator: str, column: str
) -> None:
    covered = villages[column].astype(bool)
    for status, expected in (("uncovered", ~covered), ("covered", covered)):
        response = client.get(
            "/api/scenarios/demo/villages",
            params={"status": status, "indicator": indicator, "limit": 5000},
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/geo+json"
        document = feature_collection(response.text)
        ids = [f["properties"]["village_id"] for f in document["features"]]
        assert ids == villages.loc[expected, "village_id"].tolist()
        assert document["numberMatched"] == int(expected.sum())
        assert all(f["properties"][column] is (status == "covered") for f in document["features"])


def test_villages_are_rfc7946(client: TestClient, villages: gpd.GeoDataFrame) -> None:
    document = client.get("/api/scenarios/demo/villages", params={"limit": 3}).json()
    feature = document["features"][0]
    assert feature["type"] == "Feature"
    assert feature["id"] == villages["village_id"].iloc[0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    ring = np.array(
        feature["geometry"]["coordinates"][0]
        if feature["geometry"]["type"] == "Polygon"
        else feature["geometry"]["coordinates"][0][0]
    )
    # lon, lat order (RFC 7946 section 3.1.1): the demo province lies near 105.9 E, 22.2 N.
    assert 102 < ring[:, 0].min() and ring[:, 0].max() < 110
    assert 8 < ring[:, 1].min() and ring[:, 1].max() < 24
    # at most six decimals
    assert np.allclose(ring, np.round(ring, 6))
    assert "crs" not in document


def test_villages_pagination(client: TestClient, villages: gpd.GeoDataFrame) -> None:
    # 300 villages in pages of 70: 70, 70, 70, 70, 20 - the pages concatenated are all of them.
    ids: list[str] = []
    url: str | None = "/api/scenarios/demo/villages?limit=70"
    pages = 0
    while url:
        document = client.get(url).json()
        ids += [f["id"] for f in document["features"]]
        nexts = [link["href"] for link in document.get("links", []) if link["rel"] == "next"]
        url = nexts[0] if nexts else None
        pages += 1
    assert ids == villages["village_id"].tolist()
    assert pages == -(-len(villages) // 70)
    past = client.get("/api/scenarios/demo/villages", params={"offset": 10_000}).json()
    assert past["features"] == [] and past["numberReturned"] == 0


def test_villages_by_admin_unit(client: TestClient, villages: gpd.GeoDataFrame) -> None:
    commune = villages["commune"].iloc[0]
    expected = villages.loc[villages["commune"] == commune, "village_id"].tolist()
    document = client.get(
        "/api/scenarios/demo/villages", params={"commune": commune.upper(), "limit": 5000}
    ).json()
    assert [f["id"] for f in document["features"]] == expected
    none = client.get("/api/scenarios/demo/villages", params={"district": "Không có"}).json()
    assert none["numberMatched"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"status": "dark"},
        {"indicator": "6g"},
        {"limit": 0},
        {"limit": 1_000_000},
        {"offset": -1},
    ],
)
def test_villages_bad_query_is_422(client: TestClient, params: dict[str, object]) -> None:
    assert client.get("/api/scenarios/demo/villages", params=params).status_code == 422


def test_sites_towers_layers(client: TestClient, demo_workspace: Path) -> None:
    sites = gpd.read_file(demo_workspace / "demo" / "data" / "sites.gpkg")
    document = client.get("/api/scenarios/demo/sites").json()
    assert document["numberMatched"] == len(sites)
    viettel = client.get("/api/scenarios/demo/sites", params={"operator": "viettel"}).json()
    assert viettel["numberMatched"] == int((sites["operator"] == "Viettel").sum())
    assert {f["properties"]["operator"] for f in viettel["features"]} == {"Viettel"}
    towers = gpd.read_file(demo_workspace / "demo" / "towers.geojson")
    shared = client.get("/api/scenarios/demo/towers", params={"shared": "true"}).json()
    assert shared["numberMatched"] == int(towers["shared"].sum())
    assert all(f["properties"]["n_operators"] >= 2 for f in shared["features"])
    for kind in ("access-points", "fiber", "poles", "ducts"):
        response = client.get(f"/api/scenarios/demo/{kind}", params={"limit": 2})
        assert response.status_code == 200, kind
        assert response.json()["numberReturned"] <= 2


def test_exports(client: TestClient, villages: gpd.GeoDataFrame, tmp_path: Path) -> None:
    gpkg = client.get("/api/scenarios/demo/exports/villages.gpkg")
    assert gpkg.status_code == 200
    (tmp_path / "v.gpkg").write_bytes(gpkg.content)
    back = gpd.read_file(tmp_path / "v.gpkg", layer="villages")
    assert back["village_id"].tolist() == villages["village_id"].tolist()

    csv = client.get("/api/scenarios/demo/exports/villages.csv")
    assert csv.status_code == 200
    lines = csv.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == len(villages) + 1
    assert "lon" in lines[0] and "village_id" in lines[0]

    geojson = client.get(
        "/api/scenarios/demo/exports/villages.geojson", params={"status": "uncovered"}
    )
    assert "attachment" in geojson.headers["content-disposition"]
    assert len(geojson.json()["features"]) == int((~villages["covered_mobile"].astype(bool)).sum())

    xlsx = client.get("/api/scenarios/demo/exports/report.xlsx")
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert {"KPI", "Inputs", "Uncovered"} <= set(book.sheetnames)
    uncovered_rows = book["Uncovered"].max_row - 1
    assert uncovered_rows == int((~villages["covered_mobile"].astype(bool)).sum())
    assert client.get("/api/scenarios/demo/exports/villages.shp").status_code == 422


def test_read_key_required(demo_workspace: Path, settings_for: SettingsFor) -> None:
    settings = settings_for(demo_workspace, read_key_required=True)
    with TestClient(create_app(settings)) as keyed:
        assert keyed.get("/health").status_code == 200
        assert keyed.get("/api/scenarios").status_code == 401
        assert keyed.get("/api/scenarios/demo/kpis").status_code == 401
        assert keyed.get("/map/demo").status_code == 401
        wrong = keyed.get("/api/scenarios/demo/kpis", headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401
        good = keyed.get("/api/scenarios/demo/kpis", headers={"X-API-Key": "test-key-123"})
        assert good.status_code == 200


def test_villages_filtered_by_basis_and_dispute(client) -> None:
    import geopandas as gpd

    url = "/api/scenarios/demo/villages"
    everything = client.get(url, params={"limit": 5000}).json()["features"]
    disputed = client.get(url, params={"disputed": True, "limit": 5000}).json()["features"]
    measured = client.get(url, params={"basis": "measured", "limit": 5000}).json()["features"]
    # The demo's drive test measures some villages and disputes some declarations.
    assert 0 < len(disputed) < len(everything)
    assert 0 < len(measured) < len(everything)
    assert all(f["properties"]["disputed"] for f in disputed)
    assert {f["properties"]["mobile_basis"] for f in measured} == {"measured"}
    # The same villages as the file says.
    from pathlib import Path

    root = Path(client.app.state.settings.workspace)
    frame = gpd.read_file(root / "demo" / "villages.gpkg", layer="villages")
    assert len(disputed) == int(frame["disputed"].astype(bool).sum())
    assert client.get(url, params={"basis": "guessed"}).status_code == 422
