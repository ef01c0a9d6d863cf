"""Uploads of measurement samples and declared coverage, and their use by a coverage run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import pytest
from fastapi.testclient import TestClient

from hatangso.app.auth import Principal
from hatangso.app.config import Settings
from hatangso.app.workspace import Workspace
from hatangso.geo.outputs import write_layer

SettingsFor = Callable[..., Settings]
Upload = Callable[..., httpx.Response]
ActAs = Callable[[TestClient, Principal | None], None]

# Two square villages 0.2 degree apart, and one Viettel site at the centre of A.
VILLAGES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"village_id": vid, "name": f"Thôn {vid}", "population": 100},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [x - 0.005, 21.995],
                        [x + 0.005, 21.995],
                        [x + 0.005, 22.005],
                        [x - 0.005, 22.005],
                        [x - 0.005, 21.995],
                    ]
                ],
            },
        }
        for vid, x in (("A", 105.8), ("B", 106.0))
    ],
}
SITES = "site_id,operator,lon,lat\nS1,viettel,105.8,22.0\n"
# Viettel's drive test in village A: three samples, the second too strong to be real.
SAMPLES = (
    "lon,lat,operator,tech,rsrp_dbm\n"
    "105.801,22.001,viettel,4G,-95\n"
    "105.802,22.001,viettel,4G,-5\n"
    "105.799,21.999,viettel,4G,-100\n"
)
DECLARED = "village_id,operator,tech\nA,viettel,4G\nB,viettel,4G\n"


def _scenario(client: TestClient, key: dict[str, str], name: str, upload: Upload) -> None:
    villages = client.post(
        f"/api/scenarios/{name}/uploads/villages",
        files={"file": ("v.geojson", json.dumps(VILLAGES).encode())},
        headers=key,
    )
    assert villages.status_code == 200, villages.text
    assert upload(client, key, name, "sites", SITES).status_code == 200


def test_samples_are_validated_stored_and_measured(
    service: TestClient, key: dict[str, str], tmp_path: Path, upload: Upload
) -> None:
    _scenario(service, key, "meas", upload)
    # The bad row refuses the upload whole, named with its reason; nothing is stored.
    refused = upload(service, key, "meas", "samples", SAMPLES)
    assert refused.status_code == 422, refused.text
    problems = refused.json()["problems"]
    assert [(p["file"], p["row"]) for p in problems] == [("samples.csv", 2)]
    assert "rsrp_dbm" in problems[0]["message"]
    assert not (tmp_path / "meas" / "uploads" / "samples.gpkg").exists()
    # A dry run reports the same reject and what would change; it stores nothing.
    dry = upload(service, key, "meas", "samples", SAMPLES, dry_run="true")
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True and dry.json()["stored"] is None
    assert dry.json()["counts"] == {"read": 3, "used": 2, "rejected": 1, "repaired": 0}
    assert [r["row"] for r in dry.json()["rejects"]] == [2]
    assert dry.json()["change"]["rows_after"] == 2
    assert not (tmp_path / "meas" / "uploads" / "samples.gpkg").exists()
    # The clean file is stored and named in scenario.json.
    clean = SAMPLES.replace("viettel,4G,-5\n", "viettel,4G,-90\n")
    stored = upload(service, key, "meas", "samples", clean)
    assert stored.status_code == 200, stored.text
    assert stored.json()["stored"] == "uploads/samples.gpkg" and stored.json()["version"] == 1
    assert len(gpd.read_file(tmp_path / "meas" / "uploads" / "samples.gpkg")) == 3
    meta = json.loads((tmp_path / "meas" / "scenario.json").read_text(encoding="utf-8"))
    assert meta["inputs"]["samples"] == "uploads/samples.gpkg"
    # The run reads them as hatangso coverage --samples does.
    run = service.post("/api/scenarios/meas/coverage", headers=key, json={})
    assert run.status_code == 200, run.text
    kpis = json.loads(next((tmp_path / "meas").rglob("kpis.json")).read_text(encoding="utf-8"))
    assert kpis["inputs"]["samples"]["used"] == 3


def test_declared_is_a_table_of_the_record_and_reaches_the_run(
    service: TestClient, key: dict[str, str], tmp_path: Path, upload: Upload
) -> None:
    _scenario(service, key, "decl", upload)
    bad = DECLARED + "C,viettel,7G\n"
    refused = upload(service, key, "decl", "declared", bad)
    assert refused.status_code == 422, refused.text
    assert [p["row"] for p in refused.json()["problems"]] == [3]
    dry = upload(service, key, "decl", "declared", DECLARED, dry_run="true")
    assert dry.status_code == 200, dry.text
    assert dry.json()["diff"]["counts"]["add"] == 2 and dry.json()["stored"] is None
    answer = upload(service, key, "decl", "declared", DECLARED)
    assert answer.status_code == 200, answer.text
    assert answer.json()["diff"]["counts"]["add"] == 2
    run = service.post("/api/scenarios/decl/coverage", headers=key, json={})
    assert run.status_code == 200, run.text
    kpis = json.loads(next((tmp_path / "decl").rglob("kpis.json")).read_text(encoding="utf-8"))
    assert kpis["inputs"]["declared"]["used"] == 2


@pytest.mark.parametrize("kind", ["samples", "declared"])
def test_keys_and_operators(
    service: TestClient,
    key: dict[str, str],
    kind: str,
    tmp_path: Path,
    upload: Upload,
    act_as: ActAs,
) -> None:
    _scenario(service, key, "ops", upload)
    text = SAMPLES.replace("-5\n", "-90\n") if kind == "samples" else DECLARED
    assert upload(service, key, "ops", kind, text).status_code == 200
    # Without the key: 401, and nothing is created.
    assert upload(service, {}, "fresh", kind, text).status_code == 401
    assert service.get("/api/scenarios/fresh").status_code == 404
    # An operator uploads its own rows only: another's refuse the upload (403).
    act_as(service, Principal(name="mbf", role="operator", operator="MobiFone"))
    try:
        assert upload(service, key, "ops", kind, text).status_code == 403
        own = text.replace("viettel", "mobifone")
        assert upload(service, key, "ops", kind, own).status_code == 200
        if kind == "samples":  # its upload replaces its own samples and keeps Viettel's
            stored = gpd.read_file(tmp_path / "ops" / "uploads" / "samples.gpkg")
            assert sorted(stored["operator"]) == ["MobiFone"] * 3 + ["Viettel"] * 3
        act_as(service, Principal(name="guest", role="viewer"))
        assert upload(service, key, "ops", kind, own).status_code == 403
    finally:
        act_as(service, None)


def test_a_refused_first_upload_leaves_nothing(
    service: TestClient, key: dict[str, str], tmp_path: Path, upload: Upload
) -> None:
    for kind, text in (("samples", SAMPLES), ("declared", DECLARED + "C,viettel,7G\n")):
        assert upload(service, key, "gone", kind, text).status_code == 422
        assert not (tmp_path / "gone").exists()


def test_samples_published_meanwhile_are_merged_not_lost(
    tmp_path: Path, settings_for: SettingsFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hatangso.app.routes.uploads import _validate_and_store
    from hatangso.app.uploads import UploadOptions

    # In this process (the service runs an upload in a child), with the service's settings.
    workspace, settings = Workspace(tmp_path / "ws"), settings_for(tmp_path / "ws")
    viettel = tmp_path / "viettel.csv"
    viettel.write_text(SAMPLES.replace("-5\n", "-90\n"), encoding="utf-8")  # 3 clean samples
    mobifone = tmp_path / "mobifone.csv"
    mobifone.write_text(viettel.read_text(encoding="utf-8").replace("viettel", "mobifone"))

    def store(name: str, path: Path, operator: str) -> Any:
        principal = Principal(name=operator, role="operator", operator=operator)
        return _validate_and_store(
            workspace, settings, name, "samples", path, path.name, UploadOptions(),
            principal=principal,
        )  # fmt: skip

    store("other", viettel, "Viettel")  # Viettel's samples as the service publishes them
    published = gpd.read_file(tmp_path / "ws" / "other" / "uploads" / "samples.gpkg")
    real = Workspace.store_layer
    interleaved: list[str] = []

    def store_layer(self: Workspace, name: str, kind: str, *args: Any, **options: Any) -> Any:
        if not interleaved:  # Viettel's upload is published while MobiFone's is merged
            interleaved.append(name)
            files = {"samples.gpkg": lambda p: write_layer(published, p, layer="samples")}
            real(self, name, kind, files, file="viettel.csv", counts={})
        return real(self, name, kind, *args, **options)

    monkeypatch.setattr(Workspace, "store_layer", store_layer)
    report = store("both", mobifone, "MobiFone")
    assert interleaved == ["both"]
    # MobiFone's upload is merged again with what was published meanwhile: Viettel's 3 stay.
    assert report.version == 2
    assert report.change is not None
    assert (report.change.kept, report.change.rows_after) == (3, 6)
    stored = gpd.read_file(tmp_path / "ws" / "both" / "uploads" / "samples.gpkg")
    assert sorted(stored["operator"]) == ["MobiFone"] * 3 + ["Viettel"] * 3


def test_samples_honour_if_match_and_answer_their_version(
    service: TestClient, key: dict[str, str], tmp_path: Path, upload: Upload
) -> None:
    _scenario(service, key, "tags", upload)
    clean = SAMPLES.replace("-5\n", "-90\n")  # 3 clean samples
    # None published yet: version 0, so a first upload against "1" is stale.
    assert upload(service, {**key, "If-Match": '"1"'}, "tags", "samples", clean).status_code == 409
    assert not (tmp_path / "tags" / "uploads" / "samples.gpkg").exists()
    dry = upload(service, key, "tags", "samples", clean, dry_run="true")
    assert dry.headers["ETag"] == '"0"'
    first = upload(service, {**key, "If-Match": '"0"'}, "tags", "samples", clean)
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1 and first.headers["ETag"] == '"1"'
    second = upload(service, {**key, "If-Match": first.headers["ETag"]}, "tags", "samples", clean)
    assert second.status_code == 200, second.text
    assert second.headers["ETag"] == '"2"'
    # Sent with the first answer's tag after the second was published: refused, unchanged.
    stale = upload(service, {**key, "If-Match": '"1"'}, "tags", "samples", SAMPLES[:60])
    assert stale.status_code == 409, stale.text
    assert "at version 2" in stale.json()["detail"] and "If-Match: 2" in stale.json()["detail"]
    meta = Workspace(tmp_path).layer_version("tags", "samples")
    assert meta.version == 2 and len(gpd.read_file(meta.path)) == 3


def test_a_refused_first_upload_keeps_what_another_made_meanwhile(
    tmp_path: Path, settings_for: SettingsFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from hatangso.app.routes.uploads import _validate_and_store
    from hatangso.app.uploads import UploadOptions
    from hatangso.geo.errors import ConflictError

    workspace, settings = Workspace(tmp_path / "ws"), settings_for(tmp_path / "ws")
    samples = tmp_path / "samples.csv"
    samples.write_text(SAMPLES.replace("-5\n", "-90\n"), encoding="utf-8")
    villages = tmp_path / "v.geojson"
    villages.write_text(json.dumps(VILLAGES), encoding="utf-8")
    # The refused upload (A) has found no scenario; then B creates it and opens its record;
    # then A is refused; then B publishes. The events order the two threads.
    a_inside, b_opened, a_refused = threading.Event(), threading.Event(), threading.Event()
    real = Workspace.store_layer

    def store_layer(self: Workspace, name: str, kind: str, *args: Any, **options: Any) -> Any:
        if kind == "samples":  # A, whose If-Match names a version that never was
            a_inside.set()
            assert b_opened.wait(30)
        else:  # B, its record opened and its change set about to be applied
            b_opened.set()
            assert a_refused.wait(30)
        return real(self, name, kind, *args, **options)

    monkeypatch.setattr(Workspace, "store_layer", store_layer)
    outcome: dict[str, Any] = {}

    def upload_a() -> None:
        try:
            _validate_and_store(
                workspace, settings, "race", "samples", samples, "samples.csv", UploadOptions(),
                if_match=5,
            )  # fmt: skip
        except ConflictError as exc:
            outcome["a"] = exc
        finally:
            a_refused.set()

    def upload_b() -> None:
        assert a_inside.wait(30)
        outcome["b"] = _validate_and_store(
            workspace, settings, "race", "villages", villages, "v.geojson", UploadOptions()
        )

    threads = [threading.Thread(target=upload_a), threading.Thread(target=upload_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert isinstance(outcome.get("a"), ConflictError)
    # B's upload is applied and published whole: its villages are in the record and the file.
    assert outcome["b"].version == 1 and outcome["b"].record_version >= 1
    assert sorted(workspace.store("race").read("villages")["village_id"]) == ["A", "B"]
    assert len(gpd.read_file(workspace.layer_path("race", "villages"))) == 2
    assert workspace.layer_version("race", "samples").version == 0


def test_the_demos_declared_coverage_is_in_its_record(
    client: TestClient, key: dict[str, str], demo_workspace: Path
) -> None:
    # A dry run of the demo's own declarations finds every one of them in the record: nothing
    # to add, nothing to retire.
    text = (demo_workspace / "demo" / "data" / "declared.csv").read_text(encoding="utf-8")
    rows = len(text.splitlines()) - 1  # the header aside
    assert rows > 0
    dry = client.post(
        "/api/scenarios/demo/uploads/declared",
        params={"dry_run": "true"},
        files={"file": ("declared.csv", text.encode("utf-8"))},
        headers=key,
    )
    assert dry.status_code == 200, dry.text
    change = dry.json()["change"]
    assert (change["rows_now"], change["added"], change["removed"]) == (rows, 0, 0)
    assert change["rows_after"] == rows
