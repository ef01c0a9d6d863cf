"""The workspace's atomic writes, names, registry, and the upload safety checks."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hatangso.app.uploads import ALLOWED_SUFFIXES, ZipLimits, check_zip, safe_filename
from hatangso.app.workspace import Workspace, register_scenario, registered_scenarios
from hatangso.geo.errors import InputError
from hatangso.geo.outputs import atomic_write, write_json, write_layer


def test_crash_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "kpis.json"
    write_json({"version": 1}, path)

    def crash(p: Path) -> None:
        p.write_text('{"version": 2, "trunc', encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, crash)
    assert json.loads(path.read_text(encoding="utf-8")) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["kpis.json"]


def test_crash_mid_geopackage_write_keeps_the_old_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sites.gpkg"
    old = gpd.GeoDataFrame(
        {"site_id": ["A"]}, geometry=gpd.points_from_xy([105.8], [22.0]), crs=4326
    )
    write_layer(old, path, layer="sites")
    new = gpd.GeoDataFrame(
        {"site_id": ["B", "C"]}, geometry=gpd.points_from_xy([105.9, 106.0], [22.0, 22.1]), crs=4326
    )
    real = gpd.GeoDataFrame.to_file

    def half_then_crash(self: gpd.GeoDataFrame, filename: Path, **kw: object) -> None:
        real(self.iloc[:1], filename, **kw)  # part of the data reaches the disk ...
        raise KeyboardInterrupt  # ... then the process is interrupted

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", half_then_crash)
    with pytest.raises(KeyboardInterrupt):
        write_layer(new, path, layer="sites")
    monkeypatch.undo()
    assert gpd.read_file(path)["site_id"].tolist() == ["A"]
    assert [p.name for p in tmp_path.iterdir()] == ["sites.gpkg"]


def test_names_are_checked(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    assert workspace.folder("ca-mau_2025") == tmp_path.resolve() / "ca-mau_2025"
    for bad in ("../x", "a/b", "", "A", ".hidden", "x" * 65, "a\x00"):
        with pytest.raises(InputError):
            workspace.folder(bad)
    with pytest.raises(InputError, match="outside"):
        workspace.file("demo", "../other/kpis.json")


def test_registry_builds_once_on_demand(tmp_path: Path) -> None:
    calls: list[Path] = []

    def build(folder: Path) -> None:
        calls.append(folder)
        write_json({"indicators": []}, folder / "kpis.json")

    register_scenario("test-registered", "Registered", build)
    workspace = Workspace(tmp_path)
    listed = {s.name: s for s in workspace.scenarios()}
    assert listed["test-registered"].ready is False
    assert workspace.ensure("test-registered", build=False) is False
    assert workspace.ensure("test-registered") is True
    assert workspace.ensure("test-registered") is True
    assert len(calls) == 1
    assert (tmp_path / "test-registered" / "kpis.json").is_file()
    assert not list(tmp_path.glob(".build-*"))
    assert "demo" in registered_scenarios()
    with pytest.raises(ValueError, match="invalid scenario name"):
        register_scenario("Bad Name", "x", build)


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    def build(folder: Path) -> None:
        (folder / "kpis.json").write_text("{", encoding="utf-8")
        raise RuntimeError("engine failed")

    register_scenario("test-failing", "Failing", build)
    with pytest.raises(RuntimeError, match="engine failed"):
        Workspace(tmp_path).ensure("test-failing")
    assert not (tmp_path / "test-failing").exists()
    assert not list(tmp_path.glob(".build-*"))


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("../../etc/Thôn bản.geojson", "Thon_ban.geojson"),
        ("C:\\Users\\x\\Trạm BTS.CSV", "Tram_BTS.csv"),
        ("..gpkg", "upload.gpkg"),
        ("a;rm -rf.zip", "a_rm_-rf.zip"),
    ],
)
def test_safe_filename(given_name: str, expected: str) -> None:
    assert safe_filename(given_name)[0] == expected


@given(st.text(max_size=60), st.sampled_from(ALLOWED_SUFFIXES))
def test_safe_filename_never_leaves_the_folder(stem: str, suffix: str) -> None:
    name, got_suffix = safe_filename(stem + suffix)
    assert got_suffix == suffix
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert (Path("/base") / name).resolve().parent == Path("/base")


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_check_zip_limits(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(_zip_bytes({f"f{i}.txt": b"x" for i in range(5)}))
    check_zip(path, "a.zip", ZipLimits(max_members=5))
    with pytest.raises(InputError, match="5 members"):
        check_zip(path, "a.zip", ZipLimits(max_members=4))
    # 3 members of 1000 bytes: 3000 bytes in all, over a 2500-byte limit.
    path.write_bytes(_zip_bytes({f"f{i}.txt": bytes(1000) for i in range(3)}))
    with pytest.raises(InputError, match="inflate"):
        check_zip(path, "a.zip", ZipLimits(max_total_bytes=2500))
    check_zip(path, "a.zip", ZipLimits(max_total_bytes=3000))


def test_check_zip_catches_a_lying_header(tmp_path: Path) -> None:
    # The central directory says 10 bytes; the member inflates to 100000.
    data = bytearray(_zip_bytes({"x.csv": bytes(100_000)}))
    index = data.rfind(b"PK\x01\x02")  # central directory entry
    data[index + 24 : index + 28] = (10).to_bytes(4, "little")  # uncompressed size
    path = tmp_path / "liar.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError):
        check_zip(path, "liar.zip", ZipLimits())
