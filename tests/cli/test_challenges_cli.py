"""``hatangso challenges list|file|answer|decide``: the service's steps from the command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import box

HATANGSO = shutil.which("hatangso", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with one small scenario ``t`` and its results."""
    from hatangso.coverage.config import CoverageConfig
    from hatangso.scenarios.job import InputFiles, run_coverage

    root = tmp_path_factory.mktemp("ws")
    data = root / "t" / "data"
    data.mkdir(parents=True)
    villages = data / "villages.gpkg"
    gpd.GeoDataFrame(
        {"village_id": ["V1", "V2"], "name": ["Nà Hin", "Bản Mới"]},
        geometry=[box(105.80, 21.0, 105.81, 21.01), box(105.82, 21.0, 105.83, 21.01)],
        crs=4326,
    ).to_file(villages)
    run_coverage(InputFiles(villages=villages), CoverageConfig(), root / "t")
    return root


def _run(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if HATANGSO is None:
        pytest.skip("the hatangso console script is not installed beside this Python")
    return subprocess.run(
        [HATANGSO, "challenges", *args, "--workspace", str(workspace), "--scenario", "t"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_file_answer_decide_list(workspace: Path) -> None:
    filed = _run(
        workspace,
        "file",
        "--village",
        "V1",
        "--operator",
        "VNPT",
        "--claim",
        "covered",
        "--document",
        "Hợp đồng 15",
        "--user",
        "so-tt",
        "--role",
        "official",
    )
    assert filed.returncode == 0, filed.stderr
    challenge = json.loads(filed.stdout)
    assert (challenge["challenge_id"], challenge["status"]) == ("CH-0001", "open")

    # Roles hold: another operator may not answer, an operator may not decide.
    wrong = _run(
        workspace, "answer", "CH-0001", "--position", "concede",
        "--user", "vt", "--role", "operator", "--user-operator", "Viettel",
    )  # fmt: skip
    assert wrong.returncode == 2 and "only the operator concerned, VNPT" in wrong.stderr
    answered = _run(
        workspace, "answer", "CH-0001", "--position", "concede",
        "--user", "vnpt", "--role", "operator", "--user-operator", "VNPT",
    )  # fmt: skip
    assert answered.returncode == 0, answered.stderr
    refused = _run(
        workspace, "decide", "CH-0001", "--decision", "upheld",
        "--user", "vnpt", "--role", "operator", "--user-operator", "VNPT",
    )  # fmt: skip
    assert refused.returncode == 2 and "may not decide" in refused.stderr
    decided = _run(
        workspace, "decide", "CH-0001", "--decision", "upheld", "--user", "so-tt",
        "--role", "official",
    )  # fmt: skip
    assert decided.returncode == 0, decided.stderr
    listed = _run(workspace, "list", "--status", "decided", "--json")
    assert [c["decision"] for c in json.loads(listed.stdout)] == ["upheld"]


@pytest.mark.parametrize(
    "args",
    [
        ["decide", "CH-0001", "--decision", "maybe"],
        ["file", "--village", "V1", "--operator", "VNPT", "--claim", "sure"],
        ["answer", "CH-0001", "--role", "operator"],  # which operator?
        ["list", "--status", "closed"],
        ["bogus"],
    ],
)
def test_usage_mistakes_exit_2(workspace: Path, args: list[str]) -> None:
    done = _run(workspace, *args)
    assert done.returncode == 2, done.stderr
    assert "Usage: hatangso challenges" in done.stderr and "Traceback" not in done.stderr
