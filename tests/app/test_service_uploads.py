"""Uploads, coverage runs and plans through the service, and what it refuses (401/413/422)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.main import create_app

SettingsFor = Callable[..., Settings]

# Two square villages about 0.01 degree (1.1 km) wide. A lies at 105.80 E, 22.00 N; B at
# 106.00 E, 22.00 N: 0.2 degree east, 0.2 * 111.32 km * cos(22 deg) = 20.6 km away.
# A third record has no id: the validation rejects it (row 3).
_VILLAGES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"Mã thôn": "A", "Tên thôn": "Thôn A", "Xã": "Xã Một", "Dân số": 500},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [105.795, 21.995],
                        [105.805, 21.995],
                        [105.805, 22.005],
                        [105.795, 22.005],
                        [105.795, 21.995],
                    ]
                ],
            },
        },
        {
            "type": "Feature",
            "properties": {"Mã thôn": "B", "Tên thôn": "Thôn B", "Xã": "Xã Hai", "Dân số": 300},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [105.995, 21.995],
                        [106.005, 21.995],
                        [106.005, 22.005],
                        [105.995, 22.005],
                        [105.995, 21.995],
                    ]
                ],
            },
        },
        {
            "type": "Feature",
            "properties": {"Mã thôn": None, "Tên thôn": "Không mã", "Xã": "Xã Hai", "Dân số": 1},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[105.9, 21.9], [105.91, 21.9], [105.91, 21.91], [105.9, 21.91], [105.9, 21.9]]
                ],
            },
        },
    ],
}
# The two villages alone: an upload with the third, faulty row is refused whole.
_CLEAN_VILLAGES = {**_VILLAGES, "features": _VILLAGES["features"][:2]}
# One Viettel site at the centre of village A.
_SITES_CSV = "site_id,operator,lon,lat\nS1,viettel,105.8,22.0\n"


@pytest.fixture()
def keyed(demo_workspace: Path, settings_for: SettingsFor) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(demo_workspace, max_upload_mb=1))) as client:
        yield client


def _post(client: TestClient, scenario: str, kind: str, name: str, data: bytes, **kw: object):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/scenarios/{scenario}/uploads/{kind}", files={"file": (name, data)}, **kw
    )


def test_upload_returns_report_and_stores_layer(
    keyed: TestClient, key: dict[str, str], demo_workspace: Path
) -> None:
    # An upload is one change set of the record: a faulty row refuses it whole, naming the
    # row, and nothing is stored.
    data = json.dumps(_VILLAGES, ensure_ascii=False).encode("utf-8")
    refused = _post(keyed, "up-report", "villages", "Thôn bản.geojson", data, headers=key)
    assert refused.status_code == 422, refused.text
    problems = refused.json()["problems"]
    assert [(p["file"], p["row"]) for p in problems] == [("Thon_ban.geojson", 3)]
    assert not (demo_workspace / "up-report").exists()
    # A dry run reports the same rejects, and the change the clean rows would make.
    dry = _post(
        keyed, "up-report", "villages", "Thôn bản.geojson", data, headers=key, params={"dry_run": 1}
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["counts"] == {"read": 3, "used": 2, "rejected": 1, "repaired": 0}
    assert len(dry.json()["rejects"]) == 1 and dry.json()["rejects"][0]["row"] == 3
    assert dry.json()["diff"]["ok"] is False and dry.json()["diff"]["counts"]["add"] == 2

    data = json.dumps(_CLEAN_VILLAGES, ensure_ascii=False).encode("utf-8")
    response = _post(keyed, "up-report", "villages", "Thôn bản.geojson", data, headers=key)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["kind"] == "villages"
    assert report["file"] == "Thon_ban.geojson"
    assert report["counts"] == {"read": 2, "used": 2, "rejected": 0, "repaired": 0}
    assert report["rejects"] == [] and report["diff"]["counts"]["add"] == 2
    stored = demo_workspace / "up-report" / report["stored"]
    assert stored.name == "villages.gpkg"
    assert gpd.read_file(stored)["village_id"].tolist() == ["A", "B"]
    assert not list(stored.parent.glob(".*tmp*")), "no temporary file left behind"
    names = [s["name"] for s in keyed.get("/api/scenarios").json()]
    assert "up-report" in names


def test_upload_then_coverage_then_plan(keyed: TestClient, key: dict[str, str]) -> None:
    data = json.dumps(_CLEAN_VILLAGES).encode("utf-8")
    assert _post(keyed, "up-run", "villages", "v.geojson", data, headers=key).status_code == 200
    sites = _post(keyed, "up-run", "sites", "sites.csv", _SITES_CSV.encode(), headers=key)
    assert sites.status_code == 200, sites.text
    assert sites.json()["counts"]["used"] == 1
    # Without the key, coverage is refused.
    assert keyed.post("/api/scenarios/up-run/coverage").status_code == 401
    run = keyed.post("/api/scenarios/up-run/coverage", headers=key, json={})
    assert run.status_code == 200, run.text
    # Radius model, rural 4G radius 5000 m: A's centre is 0 m from the site, B's 20.6 km.
    # So 1 of 2 villages is covered: village_mobile_coverage = 0.5.
    mobile = next(i for i in run.json()["indicators"] if i["code"] == "village_mobile_coverage")
    assert mobile["numerator"] == 1 and mobile["denominator"] == 2
    assert mobile["value"] == pytest.approx(0.5)
    uncovered = keyed.get("/api/scenarios/up-run/villages", params={"status": "uncovered"}).json()
    assert [f["id"] for f in uncovered["features"]] == ["B"]
    assert keyed.get("/map/up-run").status_code == 200

    # A plan of one new site for VNPT covers B (the only village no operator covers).
    plan = keyed.post(
        "/api/scenarios/up-run/plans", headers=key, json={"operator": "vinaphone", "budget": 1}
    )
    assert plan.status_code == 200, plan.text
    summary = plan.json()["plan"]
    assert summary["operator"] == "VNPT"
    # The planner is hatangso plan's: one site, and the engine's re-check confirms B covered.
    assert summary["n_sites"] == 1
    assert summary["demand"]["villages"] == 1
    assert summary["demand"]["covered_after_recheck"] == 1
    after = summary["kpis_after"]["village_mobile_coverage"]
    assert (after["numerator"], after["denominator"]) == (2, 2)
    site = plan.json()["features"][0]["properties"]
    assert site["rank"] == 1 and site["villages_newly_covered"] == 1
    listed = keyed.get("/api/scenarios/up-run/plans").json()
    assert listed[0]["id"] == summary["id"]
    got = keyed.get(f"/api/scenarios/up-run/plans/{summary['id']}")
    assert got.status_code == 200 and got.json()["plan"]["id"] == summary["id"]
    assert keyed.get("/api/scenarios/up-run/plans/none-such").status_code == 404
    bad = keyed.post("/api/scenarios/up-run/plans", headers=key, json={"operator": "VNPT"})
    assert bad.status_code == 422
    # A 5G plan: S1 carries 4G only, so neither village has 5G; a new 4G;5G site at each
    # village's point (5G rural reach 2 km; A and B are 20.6 km apart) covers one each.
    five = keyed.post(
        "/api/scenarios/up-run/plans",
        headers=key,
        json={"operator": "viettel", "budget": 2, "tech": "5G"},
    )
    assert five.status_code == 200, five.text
    summary = five.json()["plan"]
    assert summary["tech"] == "5G" and summary["demand"]["villages"] == 2
    assert summary["demand"]["covered_after_recheck"] == 2
    after = summary["kpis_after"]["village_5g_coverage"]
    assert (after["numerator"], after["denominator"]) == (2, 2)
    assert summary["target_met_after_recheck"] is None and summary["missed_villages"] == 0


def test_plan_configuration_is_validated_and_used(
    keyed: TestClient, key: dict[str, str], demo_workspace: Path
) -> None:
    data = json.dumps(_CLEAN_VILLAGES).encode("utf-8")
    assert _post(keyed, "up-cfg", "villages", "v.geojson", data, headers=key).status_code == 200
    sites = _post(keyed, "up-cfg", "sites", "s.csv", _SITES_CSV.encode(), headers=key)
    assert sites.status_code == 200
    assert keyed.post("/api/scenarios/up-cfg/coverage", headers=key, json={}).status_code == 200

    def plan(config: dict[str, object]):  # type: ignore[no-untyped-def]
        request = {"operator": "VNPT", "budget": 1, "config": config}
        return keyed.post("/api/scenarios/up-cfg/plans", headers=key, json=request)

    # The configuration's new-tower cost prices the one site that covers B.
    priced = plan({"siting": {"costs": {"new_tower": 2.5}}})
    assert priced.status_code == 200, priced.text
    assert priced.json()["plan"]["cost"] == 2.5
    # A bad key is refused naming it; an exclusion file is never read from the server's disk.
    bad = plan({"mobile": {"rule": "x"}})
    assert bad.status_code == 422 and "mobile.rule" in bad.text
    excluded = plan({"siting": {"exclusion": "/etc/hosts"}})
    assert excluded.status_code == 422 and "siting.exclusion" in excluded.text
    assert not list((demo_workspace / "up-cfg").rglob("*.yaml"))


def test_coverage_without_villages_is_422(keyed: TestClient, key: dict[str, str]) -> None:
    assert (
        _post(keyed, "up-nov", "sites", "s.csv", _SITES_CSV.encode(), headers=key).status_code
        == 200
    )
    response = keyed.post("/api/scenarios/up-nov/coverage", headers=key)
    assert response.status_code == 422
    assert "upload them first" in response.json()["detail"]
    assert keyed.post("/api/scenarios/never-made/coverage", headers=key).status_code == 404


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}])
def test_upload_needs_the_key(keyed: TestClient, headers: dict[str, str]) -> None:
    response = _post(keyed, "up-401", "sites", "s.csv", _SITES_CSV.encode(), headers=headers)
    assert response.status_code == 401
    assert "APIKey" in response.headers["www-authenticate"]
    assert "Bearer" in response.headers["www-authenticate"]


def test_upload_without_key_configured_is_open(
    demo_workspace: Path, settings_for: SettingsFor
) -> None:
    with TestClient(create_app(settings_for(demo_workspace, api_key=None))) as client:
        response = _post(client, "up-open", "sites", "s.csv", _SITES_CSV.encode())
        assert response.status_code == 200


def test_upload_too_large_is_413(keyed: TestClient, key: dict[str, str]) -> None:
    # The limit is 1 MB (1,048,576 bytes): 1.5 MB is refused from the Content-Length alone.
    big = b"site_id,operator,lon,lat\n" + b"x" * (1_500_000)
    response = _post(keyed, "up-413", "sites", "s.csv", big, headers=key)
    assert response.status_code == 413
    assert "MB" in response.json()["detail"]


def test_upload_too_large_streamed_is_413(keyed: TestClient, key: dict[str, str]) -> None:
    # Without a Content-Length (chunked), the streaming counter stops the upload.
    boundary = "hatangsoboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(40):
            yield b"y" * 65536  # 40 * 64 KiB = 2.5 MiB
        yield tail

    response = keyed.post(
        "/api/scenarios/up-413s/uploads/sites",
        content=body(),
        headers={**key, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("sites.exe", b"MZ", "unknown file type"),
        ("sites", b"site_id", "unknown file type"),
        ("sites.shp", b"\x00\x00'\n", "unknown file type"),
        ("sites.gpkg", b"not a geopackage at all", "not a .gpkg file"),
        ("sites.zip", b"PK\x03\x04broken", "not a readable zip"),
        ("sites.csv", b"", "empty"),
    ],
)
def test_upload_bad_files_are_422(
    keyed: TestClient, key: dict[str, str], name: str, data: bytes, message: str
) -> None:
    response = _post(keyed, "up-422", "sites", name, data, headers=key)
    assert response.status_code == 422
    assert message in response.text


def test_upload_file_fault_is_422_with_problems(keyed: TestClient, key: dict[str, str]) -> None:
    # No operator column: a fault of the file, reported with its column and fix.
    response = _post(
        keyed, "up-422", "sites", "s.csv", b"site_id,lon,lat\nS1,105.8,22\n", headers=key
    )
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert problems and any("operator" in (p["message"] + str(p["column"])) for p in problems)


def test_upload_request_shape_is_checked(keyed: TestClient, key: dict[str, str]) -> None:
    url = "/api/scenarios/up-422/uploads/sites"
    assert keyed.post(url, headers=key, content=b"a,b\n").status_code == 422  # not multipart
    no_file = keyed.post(url, headers=key, data={"other": "x"})
    assert no_file.status_code == 422
    assert _post(keyed, "up-422", "towers", "s.csv", b"x", headers=key).status_code == 422
    assert _post(keyed, "UP", "sites", "s.csv", b"x", headers=key).status_code == 422


def _zip(members: dict[str, bytes], *, level: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=level) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zip_traversal_is_422(keyed: TestClient, key: dict[str, str], demo_workspace: Path) -> None:
    data = _zip({"../../escape.csv": _SITES_CSV.encode()})
    response = _post(keyed, "up-zip", "sites", "s.zip", data, headers=key)
    assert response.status_code == 422
    assert "'..'" in response.json()["detail"]
    assert not (demo_workspace / "escape.csv").exists()
    absolute = _post(keyed, "up-zip", "sites", "s.zip", _zip({"/etc/x.csv": b"a"}), headers=key)
    assert absolute.status_code == 422


def test_zip_bomb_is_422(keyed: TestClient, key: dict[str, str]) -> None:
    # 50 MB of zeros deflate to about 50 kB: a ratio near 1000, above the limit of 200.
    data = _zip({"sites.csv": b"0" * 50_000_000})
    assert len(data) < 1_000_000
    response = _post(keyed, "up-zip", "sites", "s.zip", data, headers=key)
    assert response.status_code == 422
    assert "compressed" in response.json()["detail"] or "inflate" in response.json()["detail"]


def test_zipped_shapefile_is_accepted(
    keyed: TestClient, key: dict[str, str], tmp_path: Path
) -> None:
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "operator": ["Viettel", "mobi"]},
        geometry=gpd.points_from_xy([105.8, 105.9], [22.0, 22.1]),
        crs=4326,
    )
    sites.to_file(tmp_path / "sites.shp", engine="pyogrio")
    data = _zip({p.name: p.read_bytes() for p in tmp_path.glob("sites.*")})
    response = _post(keyed, "up-zipok", "sites", "Trạm.zip", data, headers=key)
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["used"] == 2
    served = keyed.get("/api/scenarios/up-zipok/sites")
    # The uploaded rows are the scenario's record at once, before any coverage run.
    assert served.status_code == 200, served.text
    assert sorted(f["id"] for f in served.json()["features"]) == ["S1", "S2"]


def _xlsx_bomb() -> bytes:
    import pandas as pd

    buffer = io.BytesIO()
    pd.DataFrame(
        {"site_id": ["S1"], "operator": ["viettel"], "lon": [105.8], "lat": [22.0]}
    ).to_excel(buffer, index=False)
    # 8 MB of blanks deflate to a few kB inside the workbook, itself stored in the zip.
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as workbook:
        workbook.writestr("xl/worksheets/sheet9.xml", b" " * (8 << 20))
    return buffer.getvalue()


def test_xlsx_bomb_inside_a_zip_is_422(keyed: TestClient, key: dict[str, str]) -> None:
    data = _zip({"sites.xlsx": _xlsx_bomb()}, level=zipfile.ZIP_STORED)
    response = _post(keyed, "up-zip", "sites", "s.zip", data, headers=key)
    assert response.status_code == 422
    assert "decompression bomb" in response.text


def test_zip_with_two_tables_is_422(keyed: TestClient, key: dict[str, str]) -> None:
    data = _zip({"sites.csv": _SITES_CSV.encode(), "readme.txt": b"exported from QGIS"})
    response = _post(keyed, "up-zip", "sites", "s.zip", data, headers=key)
    assert response.status_code == 422
    assert "holds 2 tables" in response.text
