"""Runs and uploads killed at random moments leave the scenario whole; leftovers are cleaned.

The jobs run in child processes forked by a small helper process that has imported the service
once (forking the test process itself, with its threads, would be unsafe), and are killed with
SIGKILL after a random delay. After every kill, what the service serves must be whole: the
KPIs and the villages of one run, an uploaded layer that is the old or the new one with its
own record, and no leftover once the workspace is cleaned, as the service does when it starts.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient

from hatangso.app import storage
from hatangso.app.config import Settings
from hatangso.app.main import create_app
from hatangso.app.workspace import CURRENT, RUNS, Workspace
from hatangso.geo.outputs import write_json

log = logging.getLogger(__name__)

# A helper process: imports the service once, then forks one child per job (a JSON line on
# stdin), answering the child's pid, then its exit status.
_FORKER = r"""
import json, os, sys, traceback
from pathlib import Path

from hatangso.app.config import Settings
from hatangso.app.routes.uploads import _run, _validate_and_store
from hatangso.app.workspace import Workspace
import hatangso.geo.validate, hatangso.scenarios.job  # noqa: F401  (imported once, here)

root = Path(sys.argv[1])
settings = Settings.model_validate({"workspace": root, "demo": False, "prewarm": False})


def do(job):
    workspace = Workspace(Path(job.get("root", root)))
    if job["what"] == "run":
        _run(workspace, settings, job["name"], job["config"])
    else:
        _validate_and_store(
            workspace, settings, job["name"], job["kind"], Path(job["path"]), job["kind"] + ".csv"
        )


for line in sys.stdin:
    job = json.loads(line)
    if job.get("here"):  # a warm-up, in this process: the children inherit what it loaded
        do(job)
        print(json.dumps({"pid": 0}), flush=True)
        print(json.dumps({"status": 0}), flush=True)
        continue
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            do(job)
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"status": status}), flush=True)
"""


def _square(x: float, y: float) -> dict[str, Any]:
    d = 0.005
    return {
        "type": "Polygon",
        "coordinates": [
            [[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]
        ],
    }


def _villages(ids: str) -> bytes:
    """Villages `ids` (letters) in a row, 0.1 degree (about 10 km) apart, from 105.8 E."""
    features = [
        {
            "type": "Feature",
            "properties": {"village_id": v, "name": f"Thôn {v}", "commune": "Xã Một"},
            "geometry": _square(105.8 + 0.1 * i, 22.0),
        }
        for i, v in enumerate(ids)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode("utf-8")


class Forker:
    """The helper process; `job` runs one job and kills it after `kill_after` seconds."""

    def __init__(self, root: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _FORKER, str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def job(self, job: dict[str, Any], kill_after: float | None = None) -> tuple[int, float]:
        """Run `job`; return its wait status and how long it ran."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        pid = json.loads(self.process.stdout.readline())["pid"]
        start = time.monotonic()
        if kill_after is not None:
            time.sleep(kill_after)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # it finished first
                pass
        status = json.loads(self.process.stdout.readline())["status"]
        return int(status), time.monotonic() - start

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


@pytest.fixture()
def forker(tmp_path: Path) -> Iterator[Forker]:
    helper = Forker(tmp_path / "ws")
    try:
        yield helper
    finally:
        helper.close()


def _leftovers(root: Path) -> list[Path]:
    """Temporary entries, unpublished generations, and more than two generations anywhere."""
    found = [
        p
        for p in root.rglob("*")
        if p.name.startswith((".tmp-", ".build-")) or (p.name.startswith(".") and ".tmp" in p.name)
    ]
    for folder in [*root.glob(f"*/{RUNS}"), *(p for p in root.glob("*/uploads/*") if p.is_dir())]:
        generations = [g for g in folder.iterdir() if g.is_dir()]
        found += [g for g in generations if not (g / storage.PUBLISHED).is_file()]
        if len(generations) > 2:
            found += generations
    return found


def _check_whole(root: Path, name: str) -> tuple[str | None, int]:
    """Check what the scenario serves is whole; return its run id and its layer's version."""
    workspace = Workspace(root)  # a fresh one: nothing cached
    layer = workspace.layer_version(name, "villages")
    assert layer.path is not None
    frame = gpd.read_file(layer.path)
    record = json.loads((layer.path.parent / "upload.json").read_text(encoding="utf-8"))
    # The layer is one upload's, whole, with its own record and rejects.
    assert sorted(frame["village_id"]) in (["A", "B"], ["A", "B", "C"])
    assert record["version"] == layer.version
    assert record["counts"]["used"] == len(frame)
    assert (layer.path.parent / "villages.rejects.csv").is_file()
    if not workspace.exists(name):
        return None, layer.version
    run = workspace.results(name)
    kpis = workspace.kpis(name, run=run)
    villages = workspace.villages(name, run=run).frame
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    # KPIs, villages and run record of one and the same run.
    assert kpis["run"] == meta["run"] == run.name
    assert meta["villages"] == len(villages)
    mobile = next(i for i in kpis["indicators"] if i["code"] == "village_mobile_coverage")
    assert mobile["denominator"] == len(villages)
    assert mobile["numerator"] == int(villages["covered_mobile"].sum())
    assert meta["config"]["mobile"]["radius_m"]["4G"]["rural"] in (1000, 25_000)
    return run.name, layer.version


@pytest.mark.slow
def test_kill_runs_and_uploads_at_random_moments(tmp_path: Path, forker: Forker) -> None:
    root = tmp_path / "ws"
    name = "killed"
    files = {}
    for ids in ("AB", "ABC"):
        files[ids] = tmp_path / f"{ids}.geojson"
        files[ids].write_bytes(_villages(ids))
    sites = tmp_path / "sites.csv"
    sites.write_text("site_id,operator,lon,lat\nS1,viettel,105.8,22.0\n", encoding="utf-8")

    def upload(ids: str) -> dict[str, Any]:
        return {"what": "upload", "name": name, "kind": "villages", "path": str(files[ids])}

    def run(radius: int) -> dict[str, Any]:
        config = {"mobile": {"radius_m": {"4G": {"rural": radius}}}}
        return {"what": "run", "name": name, "config": config}

    # The helper loads what the jobs need once (imports, compiled kernels), in a workspace of
    # its own; then whole jobs publish the first versions and tell how long each job takes.
    warm = {"root": str(tmp_path / "warm"), "here": True}
    sites_job = {**upload("AB"), "kind": "sites", "path": str(sites)}
    for job in (upload("AB"), sites_job, run(1000)):
        forker.job({**job, **warm})
    assert forker.job(upload("AB"))[0] == 0
    assert forker.job(sites_job)[0] == 0
    status, run_time = forker.job(run(1000))
    assert status == 0
    status, upload_time = forker.job(upload("ABC"))
    assert status == 0
    last_run, version = _check_whole(root, name)
    assert version == 2

    rng = random.Random(20231203)
    killed = 0
    start = time.monotonic()
    for i in range(24):
        if i % 2:
            job, duration = upload("AB" if i % 4 == 1 else "ABC"), upload_time
        else:
            job, duration = run(25_000 if i % 4 == 0 else 1000), run_time
        status, _ = forker.job(job, kill_after=rng.uniform(0.0, 1.1 * duration))
        was_killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        killed += was_killed
        if not was_killed:
            assert os.WEXITSTATUS(status) == 0, f"job {i} failed"
        # What is served right after the kill, before any clean-up, is whole ...
        run_id, new_version = _check_whole(root, name)
        if job["what"] == "upload":
            assert run_id == last_run
            # Counted once when published; a kill before that changes nothing.
            assert new_version in ((version, version + 1) if was_killed else (version + 1,))
        else:
            assert new_version == version
            assert was_killed or run_id != last_run
        last_run, version = run_id, new_version
        # ... and a restart removes every leftover, the published files kept.
        Workspace(root).clean()
        assert _leftovers(root) == []
        assert _check_whole(root, name) == (last_run, version)
    assert killed >= 6, f"only {killed} of 24 jobs were killed: the delays are too long"
    log.info("24 jobs, %d killed, in %.1f s", killed, time.monotonic() - start)

    # One more run killed midway, then the service starts: it removes the leftovers, and its
    # answers are of one run.
    forker.job(run(25_000), kill_after=run_time / 2)
    settings = Settings.model_validate({"workspace": root, "demo": False, "prewarm": False})
    with TestClient(create_app(settings)) as client:
        assert _leftovers(root) == []
        kpis = client.get(f"/api/scenarios/{name}/kpis").json()
        villages = client.get(f"/api/scenarios/{name}/villages").json()
        mobile = next(i for i in kpis["indicators"] if i["code"] == "village_mobile_coverage")
        assert mobile["denominator"] == villages["numberMatched"]
        covered = [f for f in villages["features"] if f["properties"]["covered_mobile"]]
        assert mobile["numerator"] == len(covered)


def test_clean_spares_live_jobs(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    folder = workspace.folder("live")
    folder.mkdir()
    # A job that died: its scratch folder and an unpublished run.
    (folder / ".tmp-dead").mkdir()
    (folder / RUNS / "20200101t000000000000-1-dead").mkdir(parents=True)
    (folder / ".scenario.1234.tmp.json").write_text("{", encoding="utf-8")
    with workspace.new_run("live") as run:  # cleans first, then holds the job lock
        assert not (folder / ".tmp-dead").exists()
        assert not (folder / ".scenario.1234.tmp.json").exists()
        assert [p.name for p in (folder / RUNS).iterdir()] == [run.id]
        with workspace.scratch("live") as scratch:
            # A second worker process starts meanwhile: it must leave the live files alone.
            assert Workspace(tmp_path).clean() == []
            assert run.folder.is_dir() and scratch.is_dir()
    # The run was never published: it is gone with its job.
    assert not run.folder.exists()
    assert storage.read_link(folder / CURRENT) is None


def test_builds_in_progress_are_spared(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    leftover = tmp_path / ".build-demo.abc123"
    leftover.mkdir()
    with storage.exclusive(tmp_path / ".locks" / "demo.build"):  # a live build of demo
        assert workspace.clean() == []
        assert leftover.is_dir()
    assert workspace.clean() == [leftover]


def test_flat_layout_is_moved_into_a_run(tmp_path: Path) -> None:
    # A scenario as older versions wrote it: results beside scenario.json.
    folder = tmp_path / "old"
    (folder / "2030").mkdir(parents=True)
    write_json({"indicators": [], "run": None}, folder / "kpis.json")
    write_json({"year": 2030}, folder / "2030" / "kpis.json")
    write_json({"title": "Old", "villages": 7, "inputs": {}}, folder / "scenario.json")
    workspace = Workspace(tmp_path)
    assert workspace.exists("old")
    run = workspace.results("old")
    assert run.parent == folder / RUNS
    assert json.loads((run / "run.json").read_text(encoding="utf-8"))["source"] == "migrated"
    # The old names still read the same files, now through the published run.
    for relative in ("kpis.json", "2030/kpis.json"):
        assert (folder / relative).resolve() == (run / relative).resolve()
    assert (folder / "kpis.json").is_symlink() and (folder / "2030").is_symlink()
    assert json.loads((folder / "2030" / "kpis.json").read_text(encoding="utf-8")) == {"year": 2030}
    assert {s.name: s.villages for s in workspace.scenarios()}["old"] == 7
    assert workspace.results("old") == run  # moved once


def test_a_crash_after_the_switch_leaves_the_published_version_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process dies right after publishing, before scenario.json is updated: what is served
    # comes from the published version's own record, not from scenario.json.
    workspace = Workspace(tmp_path)

    def layer(ids: str) -> dict[str, Any]:
        def write(path: Path) -> None:
            path.write_bytes(_villages(ids))

        return {"villages.gpkg": write, "villages.rejects.csv": lambda p: p.write_text("")}

    workspace.store_layer("crash", "villages", layer("AB"), file="ab.geojson", counts={})

    def die(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Workspace, "update_metadata", die)
    with pytest.raises(KeyboardInterrupt):
        workspace.store_layer("crash", "villages", layer("ABC"), file="abc.geojson", counts={})
    monkeypatch.undo()
    now = workspace.layer_version("crash", "villages")
    assert (now.version, now.file) == (2, "abc.geojson")
    assert workspace.metadata("crash")["uploads"]["villages"]["file"] == "ab.geojson"  # behind
    _, replaced = workspace.store_layer(
        "crash", "villages", layer("AB"), file="ab2.geojson", counts={}, if_match=2
    )
    assert (replaced.version, replaced.file) == (2, "abc.geojson")  # nothing lost, none twice
