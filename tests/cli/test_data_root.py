"""``hatangso run --data-root``: the data's folder comes from the command line, not the file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HATANGSO = shutil.which("hatangso", path=str(Path(sys.executable).parent))

pytestmark = pytest.mark.skipif(HATANGSO is None, reason="the console script is not installed")


def _scenario(folder: Path, **changes: object) -> Path:
    data: dict[str, object] = {
        "name": "tiny",
        "title": "Tiny",
        "description": "hand-made",
        "scope": {"province": "Tỉnh Demo"},
        "data": {"villages": "villages.geojson"},
        "years": [2025],
        "targets": {"village_mobile_coverage": {2025: 100}},
        **changes,
    }
    path = folder / "s.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    assert HATANGSO is not None
    return subprocess.run(
        [HATANGSO, "run", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_a_scenario_file_that_sets_data_root_exits_2_with_the_fix(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, data_root="/etc", data={"villages": "passwd"})
    done = _run(str(scenario), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert "data_root" in done.stderr and "--data-root" in done.stderr
    assert "Traceback" not in done.stderr


def test_data_root_on_the_command_line_confines_the_paths(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    scenario = _scenario(tmp_path, data={"villages": "../s.yaml"})
    done = _run(str(scenario), "--out", str(tmp_path / "out"), "--data-root", str(root))
    assert done.returncode == 2, done.stderr
    assert "leaves the data root" in done.stderr
