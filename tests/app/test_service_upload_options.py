"""Uploads take the command line's options, rasters, and leave nothing behind when refused.

Also: a coverage run through the service uses the scenario's own configuration.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.transform import from_origin

from hatangso.app.config import Settings
from hatangso.app.main import create_app

SettingsFor = Callable[..., Settings]

# Village A at 105.80 E, 22.00 N and village B at 106.00 E, 22.00 N: 20.6 km apart
# (0.2 degree * 111.32 km * cos 22 deg). One Viettel site at A.
_VILLAGES_CSV = "village_id,name,lon,lat\nA,Thôn A,105.8,22.0\nB,Thôn B,106.0,22.0\n"
_SITES_CSV = "site_id,operator,lon,lat\nS1,viettel,105.8,22.0\n"


def _stored(path: Path) -> bool:
    """Whether `path` is a stored file: not SQLite's ``-shm`` index, which readers rewrite."""
    return path.is_file() and not path.name.endswith("-shm")


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return tmp_path / "workspace"


@pytest.fixture()
def client(root: Path, settings_for: SettingsFor) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(root, max_raster_pixels=2_000_000))) as test_client:
        yield test_client


def _post(  # type: ignore[no-untyped-def]
    client: TestClient,
    key: dict[str, str],
    scenario: str,
    kind: str,
    name: str,
    data: bytes,
    **params: object,
):
    return client.post(
        f"/api/scenarios/{scenario}/uploads/{kind}",
        files={"file": (name, data)},
        params=params,
        headers=key,
    )


def _nothing_left(root: Path, scenario: str) -> None:
    assert not (root / scenario).exists(), "a refused upload left the scenario's folder"
    assert not [p.name for p in root.iterdir() if p.name.startswith(".")], "scratch left"


# ---- ?crs= ------------------------------------------------------------------------------------


def _vn2000_csv() -> bytes:
    # The same two villages in VN-2000 / TM-3 105-45 (EPSG:9210), x the easting.
    to_vn2000 = Transformer.from_crs(4326, 9210, always_xy=True)
    x, y = to_vn2000.transform([105.8, 106.0], [22.0, 22.0])
    rows = "".join(
        f"{i},Thôn {i},{xi:.2f},{yi:.2f}\n" for i, xi, yi in zip("AB", x, y, strict=True)
    )
    return ("village_id,name,x,y\n" + rows).encode("utf-8")


def test_xy_csv_in_vn2000_needs_and_takes_crs(
    client: TestClient, key: dict[str, str], root: Path
) -> None:
    refused = _post(client, key, "vn2000", "villages", "thon.csv", _vn2000_csv())
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    # The service's message names its own parameter, not the command line's option.
    assert "?crs=" in detail and "--crs" not in detail
    assert "?crs=VN2000:<province>" in detail
    _nothing_left(root, "vn2000")

    accepted = _post(client, key, "vn2000", "villages", "thon.csv", _vn2000_csv(), crs="EPSG:9210")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["counts"]["used"] == 2
    stored = gpd.read_file(root / "vn2000" / accepted.json()["stored"])
    assert stored.crs.to_epsg() == 4326
    # Back in degrees to well under a metre (1e-5 degree is about 1 m).
    np.testing.assert_allclose(stored.geometry.x, [105.8, 106.0], atol=1e-5)
    np.testing.assert_allclose(stored.geometry.y, [22.0, 22.0], atol=1e-5)


def test_crs_of_a_file_with_its_own_is_noted_as_the_parameter(
    client: TestClient, key: dict[str, str]
) -> None:
    response = _post(
        client, key, "own-crs", "villages", "v.csv", _VILLAGES_CSV.encode(), crs="EPSG:9210"
    )
    assert response.status_code == 200, response.text
    notes = " ".join(response.json()["notes"])
    assert "?crs=" in notes and "--crs" not in notes


def test_unknown_crs_is_422_naming_the_parameter(
    client: TestClient, key: dict[str, str], root: Path
) -> None:
    response = _post(client, key, "bad-crs", "villages", "t.csv", _vn2000_csv(), crs="EPSG:0")
    assert response.status_code == 422
    assert "?crs=EPSG:0" in response.json()["detail"]
    _nothing_left(root, "bad-crs")


# ---- ?columns= --------------------------------------------------------------------------------


def test_columns_map_as_on_the_command_line(
    client: TestClient, key: dict[str, str], root: Path
) -> None:
    data = b"ma,ten_goi,lon,lat\nA,Thon A,105.8,22.0\nB,Thon B,106.0,22.0\n"
    unmapped = _post(client, key, "cols", "villages", "v.csv", data)
    assert unmapped.status_code == 422
    mapped = _post(
        client, key, "cols", "villages", "v.csv", data, columns="village_id=ma,name=ten_goi"
    )
    assert mapped.status_code == 200, mapped.text
    stored = gpd.read_file(root / "cols" / "uploads" / "villages.gpkg")
    assert stored["village_id"].tolist() == ["A", "B"]
    assert stored["name"].tolist() == ["Thon A", "Thon B"]
    # The command line's parser: an item without '=' is refused, naming ?columns=.
    bad = _post(client, key, "cols2", "villages", "v.csv", data, columns="village_id")
    assert bad.status_code == 422
    assert "?columns=" in bad.text and "--columns" not in bad.text
    _nothing_left(root, "cols2")


def test_xlsx_sheet_and_header_row(client: TestClient, key: dict[str, str]) -> None:
    import pandas as pd

    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer) as writer:
        pd.DataFrame({"x": ["nothing here"]}).to_excel(writer, sheet_name="Bia", index=False)
        table = pd.DataFrame(
            [
                ["Danh sách trạm", None, None, None],
                ["site_id", "operator", "lon", "lat"],
                ["S1", "viettel", 105.8, 22.0],
                ["S2", "mobi", 105.9, 22.1],
            ]
        )
        table.to_excel(writer, sheet_name="Tram", index=False, header=False)
    data = buffer.getvalue()
    response = _post(
        client, key, "xlsx", "sites", "s.xlsx", data, sheet="Tram", **{"header-row": 2}
    )
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["used"] == 2


# ---- ?dry_run=true ----------------------------------------------------------------------------


def test_dry_run_reports_and_stores_nothing(
    client: TestClient, key: dict[str, str], root: Path
) -> None:
    data = _VILLAGES_CSV.encode("utf-8")
    first = _post(client, key, "dry", "villages", "v.csv", data, dry_run="true")
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["dry_run"] is True and report["stored"] is None
    assert report["counts"] == {"read": 2, "used": 2, "rejected": 0, "repaired": 0}
    assert report["change"] == {"rows_now": 0, "rows_after": 2, "added": 2, "removed": 0, "kept": 0}
    _nothing_left(root, "dry")

    assert _post(client, key, "dry", "villages", "v.csv", data).status_code == 200
    before = {p: p.read_bytes() for p in (root / "dry").rglob("*") if _stored(p)}
    # A and C, and a row without an id (rejected): A kept, C added, B removed.
    other = (
        "village_id,name,lon,lat\nA,Thôn A,105.8,22.0\nC,Thôn C,105.9,22.0\n,Không mã,105.9,22.1\n"
    )
    second = _post(client, key, "dry", "villages", "v2.csv", other.encode("utf-8"), dry_run=True)
    assert second.status_code == 200, second.text
    report = second.json()
    assert report["counts"]["rejected"] == 1 and report["rejects"][0]["row"] == 3
    assert report["change"] == {"rows_now": 2, "rows_after": 2, "added": 1, "removed": 1, "kept": 1}
    after = {p: p.read_bytes() for p in (root / "dry").rglob("*") if _stored(p)}
    assert after == before, "a dry run changed the scenario"


def test_dry_run_against_a_built_scenario(
    demo_workspace: Path, settings_for: SettingsFor, key: dict[str, str]
) -> None:
    # The demo's villages (300, from its data folder) against an upload of two new ones.
    folder = demo_workspace / "demo"
    files = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if _stored(p)}
    with TestClient(create_app(settings_for(demo_workspace))) as demo:
        response = _post(demo, key, "demo", "villages", "v.csv", _VILLAGES_CSV.encode(), dry_run=1)
    assert response.status_code == 200, response.text
    change = response.json()["change"]
    assert change == {"rows_now": 300, "rows_after": 2, "added": 2, "removed": 300, "kept": 0}
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if _stored(p)} == files


# ---- a refused upload leaves nothing behind ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("v.csv", b"village_id,lon,lat\nA,105.8,22.0\n", 422),  # no name column
        ("v.gpkg", b"not a geopackage", 422),
        ("v.exe", b"MZ", 422),
        ("v.csv", b"", 422),
    ],
)
def test_refused_first_upload_leaves_no_folder(
    client: TestClient, key: dict[str, str], root: Path, name: str, data: bytes, status: int
) -> None:
    response = _post(client, key, "refused", "villages", name, data)
    assert response.status_code == status
    _nothing_left(root, "refused")
    assert "refused" not in [s["name"] for s in client.get("/api/scenarios").json()]


def test_refused_upload_too_large_leaves_no_folder(
    root: Path, settings_for: SettingsFor, key: dict[str, str]
) -> None:
    with TestClient(create_app(settings_for(root, max_upload_mb=0.01))) as small:
        big = b"village_id,name,lon,lat\n" + b"A,x,105.8,22.0\n" * 2000
        assert _post(small, key, "big", "villages", "v.csv", big).status_code == 413
    _nothing_left(root, "big")


def test_refused_upload_changes_nothing(
    client: TestClient, key: dict[str, str], root: Path
) -> None:
    assert (
        _post(client, key, "keep", "villages", "v.csv", _VILLAGES_CSV.encode()).status_code == 200
    )
    files = {p: p.read_bytes() for p in (root / "keep").rglob("*") if _stored(p)}
    refused = _post(client, key, "keep", "villages", "v.csv", b"village_id,lon,lat\nA,1,2\n")
    assert refused.status_code == 422
    assert {p: p.read_bytes() for p in (root / "keep").rglob("*") if _stored(p)} == files


# ---- rasters ----------------------------------------------------------------------------------


def _geotiff(
    values: np.ndarray,
    *,
    west: float,
    north: float,
    cell_deg: float,
    crs: str | None = "EPSG:4326",
    nodata: float | None = -9999.0,
) -> bytes:
    buffer = io.BytesIO()
    profile = {
        "driver": "GTiff",
        "width": values.shape[1],
        "height": values.shape[0],
        "count": 1,
        "dtype": values.dtype.name,
        "transform": from_origin(west, north, cell_deg, cell_deg),
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.MemoryFile() as memory:
        with memory.open(**profile) as dataset:
            dataset.write(values, 1)
        buffer.write(memory.read())
    return buffer.getvalue()


def _flat_dem() -> bytes:
    # 105.7-106.1 E, 21.9-22.1 N in cells of 0.002 degree (about 200 m): flat ground at 100 m.
    return _geotiff(
        np.full((100, 200), 100.0, dtype="float32"), west=105.7, north=22.1, cell_deg=0.002
    )


def _upload_villages_and_sites(client: TestClient, key: dict[str, str], scenario: str) -> None:
    for kind, text in (("villages", _VILLAGES_CSV), ("sites", _SITES_CSV)):
        response = _post(client, key, scenario, kind, f"{kind}.csv", text.encode("utf-8"))
        assert response.status_code == 200, response.text


@pytest.mark.slow
def test_dem_upload_then_terrain_coverage(
    client: TestClient, key: dict[str, str], root: Path
) -> None:
    _upload_villages_and_sites(client, key, "terrain")
    response = _post(client, key, "terrain", "dem", "Địa hình.tif", _flat_dem())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["crs"] == "EPSG:4326" and (report["width"], report["height"]) == (200, 100)
    assert report["stored"] == "uploads/dem.tif" and report["value_range"] == [100.0, 100.0]
    np.testing.assert_allclose(report["bounds_wgs84"], [105.7, 21.9, 106.1, 22.1])
    meta = json.loads((root / "terrain" / "scenario.json").read_text(encoding="utf-8"))
    assert meta["dem"] == "uploads/dem.tif"

    run = client.post(
        "/api/scenarios/terrain/coverage", headers=key, json={"terrain": {"radius_m": 3000}}
    )
    assert run.status_code == 200, run.text
    answer = run.json()
    # No model named and a DEM given: the terrain model, as `hatangso coverage --dem`.
    assert answer["model"] == "terrain"
    assert answer["config"] == {"terrain": {"radius_m": 3000}}
    assert "best_dbm.tif" in answer["files"]
    # Flat ground: A (at the site) is in view; B is 20.6 km away, beyond the 3 km radius.
    mobile = next(i for i in answer["indicators"] if i["code"] == "village_mobile_coverage")
    assert (mobile["numerator"], mobile["denominator"]) == (1, 2)
    assert client.get("/api/scenarios/terrain/kpis").json()["model"] == "terrain"


def _hgt_zip() -> bytes:
    # An SRTM 3" tile (1201 x 1201 big-endian int16) at N22E105: rough ground from 0 to 1999 m,
    # which compresses about as little as real terrain does (a smooth made-up tile would look
    # like a decompression bomb).
    tile = np.random.default_rng(2023).integers(0, 2000, (1201, 1201)).astype(">i2")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("N22E105.hgt", tile.tobytes())
    return buffer.getvalue()


def test_zipped_hgt_tile_is_accepted_on_a_dry_run(
    client: TestClient, key: dict[str, str], root: Path
) -> None:
    response = _post(client, key, "hgt", "dem", "N22E105.hgt.zip", _hgt_zip(), dry_run=True)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["width"], report["height"]) == (1201, 1201)
    assert report["dry_run"] is True and report["stored"] is None
    np.testing.assert_allclose(report["bounds_wgs84"], [105.0, 22.0, 106.0, 23.0], atol=1e-3)
    _nothing_left(root, "hgt")


def test_zipped_hgt_tiles_are_merged(
    root: Path, settings_for: SettingsFor, key: dict[str, str]
) -> None:
    rng = np.random.default_rng(7)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in ("srtm/N22E105.hgt", "srtm/N22E106.hgt"):
            archive.writestr(name, rng.integers(0, 2000, (1201, 1201)).astype(">i2").tobytes())
    data = buffer.getvalue()
    with TestClient(create_app(settings_for(root, max_raster_pixels=2_000_000))) as small:
        refused = _post(small, key, "tiles", "dem", "srtm.zip", data)
        assert refused.status_code == 422
        assert "2,884,802 pixels" in refused.json()["detail"]  # 2 * 1201 * 1201
        _nothing_left(root, "tiles")
    with TestClient(create_app(settings_for(root))) as large:
        response = _post(large, key, "tiles", "dem", "srtm.zip", data)
        assert response.status_code == 200, response.text
    report = response.json()
    # The two tiles share their edge column at 106 E: 1201 + 1200 columns.
    assert (report["width"], report["height"]) == (2401, 1201)
    np.testing.assert_allclose(report["bounds_wgs84"], [105.0, 22.0, 107.0, 23.0], atol=1e-3)
    assert (root / "tiles" / "uploads" / "dem.tif").is_file()


def test_population_upload_is_recorded(client: TestClient, key: dict[str, str], root: Path) -> None:
    people = np.full((100, 200), 3.0, dtype="float32")
    data = _geotiff(people, west=105.7, north=22.1, cell_deg=0.002)
    response = _post(client, key, "people", "population", "ppp.tif", data)
    assert response.status_code == 200, response.text
    meta = json.loads((root / "people" / "scenario.json").read_text(encoding="utf-8"))
    assert meta["population"] == "uploads/population.tif"
    with rasterio.open(root / "people" / "uploads" / "population.tif") as stored:
        assert float(stored.read(1).sum()) == pytest.approx(3.0 * 100 * 200)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("dem.tif", b"not a tiff at all", "not a .tif file"),
        ("dem.png", b"\x89PNG", "unknown file type"),
        (
            "dem.tif",
            _geotiff(np.ones((10, 10), "float32"), west=105.7, north=22.1, cell_deg=0.01, crs=None),
            "no coordinate reference system",
        ),
        (
            "dem.tif",  # Paris
            _geotiff(np.ones((10, 10), "float32"), west=2.3, north=48.9, cell_deg=0.01),
            "outside Viet Nam",
        ),
        (
            "dem.tif",  # Đắk Lắk: in Viet Nam, far from the villages near 105.9 E, 22 N
            _geotiff(np.ones((10, 10), "float32"), west=108.0, north=12.7, cell_deg=0.01),
            "does not overlap the scenario's villages",
        ),
        (
            "dem.tif",
            _geotiff(np.full((10, 10), -9999.0, "float32"), west=105.7, north=22.1, cell_deg=0.01),
            "holds no data",
        ),
        (
            "dem.tif",  # elevations in millimetres
            _geotiff(
                np.full((10, 10), 120_000.0, "float32"), west=105.7, north=22.1, cell_deg=0.01
            ),
            "not elevations in metres",
        ),
        (
            "dem.tif",
            _geotiff(
                np.ones((1500, 1500), "uint8"), west=105.7, north=22.1, cell_deg=0.0002, nodata=None
            ),
            "HATANGSO_MAX_RASTER_PIXELS",
        ),
        ("dem.zip", b"PK\x03\x04broken", "not a readable zip"),
    ],
)
def test_bad_raster_is_422_naming_file_and_fix(
    client: TestClient, key: dict[str, str], root: Path, name: str, data: bytes, message: str
) -> None:
    _upload_villages_and_sites(client, key, "badraster")
    files = {p: p.read_bytes() for p in (root / "badraster").rglob("*") if _stored(p)}
    response = _post(client, key, "badraster", "dem", name, data)
    assert response.status_code == 422, response.text
    body = response.json()
    assert message in body["detail"]
    assert name in body["detail"] and "Fix:" in body["detail"]
    assert {p: p.read_bytes() for p in (root / "badraster").rglob("*") if _stored(p)} == files
    # Nor does it leave anything for a scenario that did not exist (which has no villages).
    if "villages" not in message:
        assert _post(client, key, "badraster-new", "dem", name, data).status_code == 422
        _nothing_left(root, "badraster-new")


# ---- the scenario's configuration -------------------------------------------------------------


def test_shipped_scenario_configuration_is_used(
    client: TestClient,
    key: dict[str, str],
    root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A scenario named as a shipped one runs with that file's `model:` section.
    _upload_villages_and_sites(client, key, "hong-phong")
    run = client.post("/api/scenarios/hong-phong/coverage", headers=key, json={})
    assert run.status_code == 200, run.text
    assert run.json()["config_source"] == "scenarios/hong-phong.yaml"
    assert run.json()["config"] == {"mobile": {"model": "radius", "rule": "point"}}

    # A scenario file whose model reaches 30 km covers B (20.6 km from the site) as well.
    plan = tmp_path / "ca-mau.yaml"
    plan.write_text(
        "name: ca-mau\ntitle: T\ndescription: d\nscope: {province: Tỉnh Cà Mau}\n"
        "data: {villages: villages.gpkg}\n"
        "model: {mobile: {model: radius, radius_m: {4G: {rural: 30000}}}}\n"
        "years: [2025]\ntargets: {village_mobile_coverage: {2025: 100}}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr("hatangso.app.runconfig.shipped_plans", lambda: {"ca-mau": plan})
    _upload_villages_and_sites(client, key, "ca-mau")
    # The patched list of shipped files exists in this process only, not in the job's child
    # process: the runs are made here, with the function the job runs.
    from hatangso.app.routes.uploads import _run
    from hatangso.app.workspace import Workspace

    settings = client.app.state.settings  # type: ignore[attr-defined]

    def coverage(body: dict[str, object]) -> dict[str, object]:
        return _run(Workspace(root), settings, "ca-mau", body).model_dump()

    answer = coverage({})
    assert answer["config_source"] == "scenarios/ca-mau.yaml" and answer["model"] == "radius"
    mobile = next(i for i in answer["indicators"] if i["code"] == "village_mobile_coverage")
    assert (mobile["numerator"], mobile["denominator"]) == (2, 2)

    # The body's keys are merged over it; the next run starts from the last run's.
    answer = coverage({"mobile": {"rule": "area"}})
    assert answer["rule"] == "area"
    assert answer["config"]["mobile"] == {  # type: ignore[index]
        "model": "radius",
        "radius_m": {"4G": {"rural": 30000}},
        "rule": "area",
    }
    again = coverage({})
    assert again["config_source"] == "last run" and again["rule"] == "area"


def test_uploaded_scenario_runs_on_the_defaults(client: TestClient, key: dict[str, str]) -> None:
    _upload_villages_and_sites(client, key, "mine")
    run = client.post("/api/scenarios/mine/coverage", headers=key)
    assert run.status_code == 200, run.text
    assert run.json()["config_source"] == "defaults" and run.json()["config"] == {}
    bad = client.post("/api/scenarios/mine/coverage", headers=key, json={"mobile": {"rule": "x"}})
    assert bad.status_code == 422 and "mobile.rule" in bad.text
