"""No write is silently lost: uploads are versioned, If-Match refuses a stale one, runs say so."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.main import create_app
from hatangso.app.workspace import Workspace

SettingsFor = Callable[..., Settings]

_SITES = b"site_id,operator,lon,lat\nS1,viettel,105.8,22.0\n"


def _villages(n: int, label: str = "Thôn") -> bytes:
    """`n` square villages 0.1 degree apart along 22 N, from 105.8 E, named `label` i."""
    features = []
    for i in range(n):
        x, d = 105.8 + 0.1 * i, 0.005
        ring = [[x - d, 22 - d], [x + d, 22 - d], [x + d, 22 + d], [x - d, 22 + d], [x - d, 22 - d]]
        features.append(
            {
                "type": "Feature",
                "properties": {"village_id": f"V{i}", "name": f"{label} {i}"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}).encode("utf-8")


@pytest.fixture()
def service(tmp_path: Path, settings_for: SettingsFor) -> Iterator[TestClient]:
    # Eight uploads at once (four scenarios, a pair each): room for all of them as jobs.
    with TestClient(create_app(settings_for(tmp_path, jobs=8))) as client:
        yield client


def _upload(
    client: TestClient,
    key: dict[str, str],
    scenario: str,
    file: str,
    data: bytes,
    kind: str = "villages",
    if_match: str | None = None,
) -> httpx.Response:
    headers = {**key, **({"If-Match": if_match} if if_match is not None else {})}
    return client.post(
        f"/api/scenarios/{scenario}/uploads/{kind}", files={"file": (file, data)}, headers=headers
    )


def _pairs(work: Callable[[str, int], None], scenarios: int, pairs: int) -> None:
    """Run `work(scenario, i)` for pairs i of each scenario: the scenarios in parallel."""

    def one(scenario: str) -> None:
        for i in range(pairs):
            work(scenario, i)

    with ThreadPoolExecutor(scenarios) as pool:
        list(pool.map(one, [f"pairs-{s}" for s in range(scenarios)]))


def _together(*calls: Callable[[], Any]) -> list[Any]:
    """Run `calls` at the same moment, each in its own thread; return their results."""
    barrier = threading.Barrier(len(calls))

    def start(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(start, calls))


@pytest.mark.slow
def test_concurrent_uploads_are_all_counted(service: TestClient, key: dict[str, str]) -> None:
    # 40 pairs of uploads of one layer at once (4 scenarios, 10 pairs each, in parallel).
    answers: dict[str, list[dict[str, Any]]] = {}
    lock = threading.Lock()

    def pair(scenario: str, i: int) -> None:
        got = _together(
            lambda: _upload(service, key, scenario, f"a-{i}.geojson", _villages(1)),
            lambda: _upload(service, key, scenario, f"b-{i}.geojson", _villages(2)),
        )
        for response in got:
            assert response.status_code == 200, response.text
            assert response.headers["ETag"] == f'"{response.json()["record_version"]}"'
        with lock:
            answers.setdefault(scenario, []).extend(r.json() for r in got)

    _pairs(pair, scenarios=4, pairs=10)
    assert sum(len(a) for a in answers.values()) == 80
    for scenario, reports in answers.items():
        # Applied in arrival order: each upload is a version of its own, and each says which
        # one it replaced, so none is lost without a word.
        by_version = {r["version"]: r for r in reports}
        assert sorted(by_version) == list(range(1, 21))
        assert by_version[1]["replaced"] is None
        for version in range(2, 21):
            replaced = by_version[version]["replaced"]
            assert replaced["version"] == version - 1
            assert replaced["file"] == by_version[version - 1]["file"]
            assert replaced["by"] == "admin" and replaced["at"]  # the key holder
        # What is published is the last version, whole.
        meta = Workspace(Path(service.app.state.settings.workspace)).layer_version(
            scenario, "villages"
        )
        assert meta.version == 20 and meta.file == by_version[20]["file"]


@pytest.mark.slow
def test_if_match_refuses_the_loser_of_each_pair(service: TestClient, key: dict[str, str]) -> None:
    # Two change sets to the same record, both made against the version their sender read:
    # one applies, the other is refused (409), naming the record that changed meanwhile.
    seen: dict[str, int] = {}

    def pair(scenario: str, i: int) -> None:
        if i == 0:
            first = _upload(service, key, scenario, "first.geojson", _villages(1), if_match="0")
            assert first.status_code == 200, first.text
            seen[scenario] = first.json()["record_version"]
        version = seen[scenario]
        tag = f'"{version}"'
        got = _together(
            lambda: _upload(
                service, key, scenario, f"a-{i}.geojson", _villages(1, f"a{i}"), if_match=tag
            ),
            lambda: _upload(
                service, key, scenario, f"b-{i}.geojson", _villages(1, f"b{i}"), if_match=tag
            ),
        )
        codes = sorted(r.status_code for r in got)
        assert codes == [200, 409], [r.text for r in got]
        won = next(r for r in got if r.status_code == 200).json()
        lost = next(r for r in got if r.status_code == 409).json()
        assert won["record_version"] == version + 1
        assert won["diff"]["rows"][0]["changed"] == ["name"]
        # The refusal names what changed: the record, its version now, the version read.
        detail = lost["detail"]
        assert f"computed at version {version}" in detail, detail
        assert f"'V0' (version {version + 1})" in detail and "Fix:" in detail
        seen[scenario] = won["record_version"]

    _pairs(pair, scenarios=4, pairs=10)
    assert seen == {f"pairs-{s}": 11 for s in range(4)}


def test_if_match_must_name_a_version(service: TestClient, key: dict[str, str]) -> None:
    bad = _upload(service, key, "tags", "v.geojson", _villages(1), if_match='"latest"')
    assert bad.status_code == 422 and "If-Match" in bad.json()["detail"]
    assert not (Path(service.app.state.settings.workspace) / "tags" / "uploads").exists()
    ok = _upload(service, key, "tags", "v.geojson", _villages(1), if_match="*")
    assert ok.status_code == 200 and ok.json()["version"] == 1
    # Made against the empty record, it would change V0, which changed since.
    stale = _upload(service, key, "tags", "w.geojson", _villages(2, "Bản"), if_match="0")
    assert stale.status_code == 409 and "'V0'" in stale.json()["detail"]
    # The refused upload changed nothing.
    assert _upload(service, key, "tags", "x.geojson", _villages(2)).json()["replaced"]["file"] == (
        "v.geojson"
    )


def test_a_run_says_which_layers_changed_while_it_ran(
    service: TestClient, key: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hatangso.scenarios.job as job

    assert _upload(service, key, "stale", "v.geojson", _villages(2)).status_code == 200
    assert _upload(service, key, "stale", "s.csv", _SITES, kind="sites").status_code == 200
    fresh = service.post("/api/scenarios/stale/coverage", headers=key, json={})
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["stale"] is False and fresh.json()["changed"] == {}
    assert service.get("/api/scenarios/stale/kpis").json()["run"] == fresh.json()["run"]

    real = job.run_coverage

    def upload_meanwhile(*args: Any, **kwargs: Any) -> Any:
        # Someone replaces the villages while the run has read them.
        answer = _upload(service, key, "stale", "new.geojson", _villages(3))
        assert answer.status_code == 200, answer.text
        return real(*args, **kwargs)

    monkeypatch.setattr(job, "run_coverage", upload_meanwhile)
    # The patch lives in this process, not in the job's child process: the run is made here,
    # with the function the job runs; the upload meanwhile goes through the service.
    from hatangso.app.routes.uploads import _run

    settings = service.app.state.settings  # type: ignore[attr-defined]
    answer = _run(Workspace(Path(settings.workspace)), settings, "stale", {}).model_dump()
    # Published all the same (the newest results), and marked stale, naming the change.
    assert answer["stale"] is True
    # The run read the record; the villages' change set applied meanwhile is named.
    changed = answer["changed"]["villages"]
    assert changed["read"] == answer["record_version"] and changed["version"] > changed["read"]
    assert changed["note"] == "upload of new.geojson" and changed["added"] == 1
    assert list(answer["changed"]) == ["villages"]
    assert service.get("/api/scenarios/stale/kpis").json()["run"] == answer["run"]
    workspace = Workspace(Path(service.app.state.settings.workspace))
    assert workspace.run_metadata("stale")["stale"] is True
    assert workspace.metadata("stale")["stale"] is True
    # The run assessed the villages it read: 2, not the 3 uploaded meanwhile.
    assert len(workspace.villages("stale").frame) == 2


def test_an_upload_of_the_flat_layout_counts_as_version_one(
    service: TestClient, key: dict[str, str]
) -> None:
    import geopandas as gpd

    from hatangso.geo.outputs import write_json, write_layer

    # As older versions stored an upload: the layer itself in uploads/, its record in
    # scenario.json.
    root = Path(service.app.state.settings.workspace)
    frame = gpd.read_file(_villages(2).decode("utf-8"))
    write_layer(frame, root / "flat" / "uploads" / "villages.gpkg", layer="villages")
    record = {"file": "old.geojson", "counts": {"read": 2}, "at": "2025-01-01T00:00:00+00:00"}
    write_json({"name": "flat", "uploads": {"villages": record}}, root / "flat" / "scenario.json")
    assert Workspace(root).layer_version("flat", "villages").version == 1
    answer = _upload(service, key, "flat", "new.geojson", _villages(3), if_match="1")
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == 2
    assert answer.json()["replaced"]["file"] == "old.geojson"
    stored = root / "flat" / "uploads" / "villages.gpkg"
    assert stored.is_symlink() and len(gpd.read_file(stored)) == 3


def test_a_layer_read_gives_its_version_for_if_match(
    service: TestClient, key: dict[str, str]
) -> None:
    import pickle

    sites = b"site_id,operator,lon,lat\nS1,viettel,105.8,22.0\n"
    moved = b"site_id,operator,lon,lat\nS1,viettel,105.81,22.0\n"
    again_moved = b"site_id,operator,lon,lat\nS1,viettel,105.82,22.0\n"
    assert _upload(service, key, "etag", "v.geojson", _villages(1)).status_code == 200
    assert _upload(service, key, "etag", "s.csv", sites, kind="sites").status_code == 200
    assert service.post("/api/scenarios/etag/coverage", headers=key, json={}).status_code == 200
    # The ETag of a layer is the record's version: two change sets so far.
    read = service.get("/api/scenarios/etag/sites")
    assert read.headers["ETag"] == '"2"'
    again = _upload(
        service, key, "etag", "s2.csv", moved, kind="sites", if_match=read.headers["ETag"]
    )
    assert again.status_code == 200 and again.json()["record_version"] == 3
    assert again.json()["version"] == 2  # the file's own version, for provenance
    late = _upload(
        service, key, "etag", "s3.csv", again_moved, kind="sites", if_match=read.headers["ETag"]
    )
    assert late.status_code == 409 and "'S1' (version 3)" in late.json()["detail"]
    # A workspace handed to a child process arrives as a workspace of the same folder.
    workspace = Workspace(Path(service.app.state.settings.workspace))
    copy = pickle.loads(pickle.dumps(workspace))
    assert copy.root == workspace.root and copy.layer_version("etag", "sites").version == 2
