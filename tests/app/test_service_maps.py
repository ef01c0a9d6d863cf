"""The map page: offline (every asset from the service), layers, overlays, language switch."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.main import create_app
from hatangso.app.routes import maps
from hatangso.scenarios.maps import find_outside_loads


def test_map_page_loads_nothing_from_outside(client: TestClient) -> None:
    response = client.get("/map/demo")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert find_outside_loads(page) == []
    assert "cdn" not in page.lower()
    assert "tile.openstreetmap.org" not in page  # online tiles are off by default
    # Every script, stylesheet and image the page names is served by the service.
    urls = re.findall(r"""(?:src|href)=["'](/[^"']+)["']""", page)
    urls += re.findall(r"""L\.imageOverlay\(\s*["'](/[^"']+)["']""", page)
    assert any(u.endswith("leaflet.js") for u in urls)
    assert any(u.endswith("leaflet.markercluster.js") for u in urls)
    assert any(u.endswith("hillshade.png") for u in urls)
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_map_page_layers_and_labels(client: TestClient, demo_workspace: Path) -> None:
    raw = client.get("/map/demo").text
    # Layer names and GeoJSON sit in scripts as JSON, with \uXXXX escapes: undo them.
    page = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), raw)
    villages = gpd.read_file(demo_workspace / "demo" / "villages.gpkg", layer="villages")
    uncovered = villages.loc[~villages["covered_mobile"].astype(bool), "name"]
    assert uncovered.iloc[0] in page
    for label in (
        "Thôn chưa có băng rộng di động",
        "Villages without mobile broadband",
        "Trạm dùng chung",
        "Ranh giới huyện",
        "Đường",
        "Cáp quang",
        "Lý do chưa phủ",
        "Why uncovered",
        "Khu công nghiệp, vùng sản xuất (IoT)",
        "Khu công nghiệp, vùng sản xuất chưa có IoT",
        'id="hts-kpis"',
        'id="hts-legend"',
        'id="hts-lang"',
        "markerClusterGroup",
        "L.control.layers",
    ):
        assert label in page, label
    assert len(raw.encode("utf-8")) < 5_000_000


def test_map_indicator_switch(client: TestClient) -> None:
    page = client.get("/map/demo", params={"indicator": "ftth"}).text
    assert "Thôn chưa có cáp quang FTTH" in page
    assert client.get("/map/demo", params={"indicator": "x"}).status_code == 422
    assert client.get("/map/nowhere").status_code == 404


def test_overlay_images(client: TestClient) -> None:
    shade = client.get("/map/demo/hillshade.png")
    assert shade.status_code == 200
    assert shade.content.startswith(b"\x89PNG\r\n\x1a\n")
    # The demo has no terrain coverage raster; unknown image names are not files.
    assert client.get("/map/demo/coverage.png").status_code == 404
    assert client.get("/map/demo/passwd.png").status_code == 404


def test_static_assets_carry_licences(client: TestClient) -> None:
    assert "BSD" in client.get("/static/leaflet/LICENSE").text
    assert (
        "Permission is hereby granted" in client.get("/static/markercluster/MIT-LICENCE.txt").text
    )
    assert client.get("/static/../config.py").status_code == 404


def test_canvas_layer_of_large_maps_is_served(client: TestClient) -> None:
    # A large scenario's page links /static/hatangso/points.js (tests/scenarios/test_maps_compact).
    response = client.get("/static/hatangso/points.js")
    assert response.status_code == 200
    assert "window.hatangso = {" in response.text


def _popups(page: str) -> list[tuple[list[str], list[str]]]:
    fields = re.findall(r"let fields = (\[.*?\]);", page)
    aliases = re.findall(r"let aliases = (\[.*?\]);", page)
    return [(json.loads(f), json.loads(a)) for f, a in zip(fields, aliases, strict=True)]


def _legend(page: str) -> str:
    found = re.search(r'<div id="hts-legend".*?</div>', page, re.DOTALL)
    assert found is not None
    return found.group(0)


def test_service_map_and_command_line_map_agree(client: TestClient, demo_workspace: Path) -> None:
    # The same villages, drawn by the command line (map.html, self-contained) and the service.
    command_line = (demo_workspace / "demo" / "map.html").read_text(encoding="utf-8")
    service = client.get("/map/demo").text
    popups = _popups(service)
    assert popups and popups == _popups(command_line)
    villages = [f for f, _ in popups if "name" in f]  # the villages' layers (others: tooltips)
    for column in ("name", "mobile_reason", "mobile_basis", "n_samples", "declared_operators"):
        assert any(column in fields for fields in villages), column
    # The uncovered villages' popup says why; the covered villages' has no such row.
    assert {"mobile_reason" in fields for fields in villages} == {True, False}
    assert _legend(service) == _legend(command_line)
    assert command_line.count('id="hts-kpis"') == service.count('id="hts-kpis"') == 1
    # Only where the assets come from differs: inline in one, served in the other.
    assert find_outside_loads(command_line) == []
    assert not re.findall(r"""(?:src|href)=["']/""", command_line)
    assert 'src="/static/leaflet/leaflet.js"' in service


def test_map_page_revalidates_with_its_etag(client: TestClient) -> None:
    first = client.get("/map/demo")
    tag = first.headers["ETag"]
    assert tag.startswith('W/"') and first.headers["Cache-Control"] == "no-cache"
    again = client.get("/map/demo", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == tag
    assert client.get("/map/demo", headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get("/map/demo", params={"indicator": "ftth"}).headers["ETag"] != tag


def test_map_page_is_kept_as_sent_until_something_is_published(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = client.get("/map/demo", headers={"Accept-Encoding": "identity"})
    packed = client.get("/map/demo", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    # The same page either way: httpx undoes the gzip.
    assert packed.text == plain.text and packed.headers["ETag"] == plain.headers["ETag"]

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an unchanged page was looked for again")

    # Until the scenario publishes something, a request reads no file, no JSON and builds,
    # reads or compresses no page: a few stats only.
    monkeypatch.setattr(maps, "_page_sources", no_reading)
    monkeypatch.setattr(maps, "_encoded", no_reading)
    monkeypatch.setattr(Path, "read_text", no_reading)
    again = client.get("/map/demo", headers={"Accept-Encoding": "gzip"})
    assert again.status_code == 200 and again.content == packed.content
    assert again.headers["ETag"] == packed.headers["ETag"]


def _upload(client: TestClient, key: dict[str, str], kind: str, file: str, data: bytes) -> None:
    url = f"/api/scenarios/fresh/uploads/{kind}"
    assert client.post(url, files={"file": (file, data)}, headers=key).status_code == 200


def test_map_page_follows_a_new_upload_without_a_run(
    tmp_path: Path, settings_for: Callable[..., Settings], key: dict[str, str]
) -> None:
    ring = [[105.795, 21.995], [105.805, 21.995], [105.805, 22.005], [105.795, 22.005]]
    villages = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"village_id": "V0", "name": "Thôn 0"},
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            }
        ],
    }
    with TestClient(create_app(settings_for(tmp_path))) as client:
        _upload(client, key, "villages", "v.geojson", json.dumps(villages).encode("utf-8"))
        _upload(client, key, "sites", "s.csv", b"site_id,operator,lon,lat\nS1,viettel,105.8,22\n")
        assert client.post("/api/scenarios/fresh/coverage", headers=key, json={}).status_code == 200
        before = client.get("/map/fresh")
        assert client.get("/map/fresh").headers["ETag"] == before.headers["ETag"]
        sites = b"site_id,operator,lon,lat\nS1,viettel,105.8,22\nS2,vnpt,105.81,22.01\n"
        _upload(client, key, "sites", "s2.csv", sites)
        after = client.get("/map/fresh", headers={"If-None-Match": before.headers["ETag"]})
        assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
        assert "S2" in after.text and "S2" not in before.text
