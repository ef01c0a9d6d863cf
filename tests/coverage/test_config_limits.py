"""Hostile configurations: files outside the configuration's folder, devices, work without end.

Each attack is refused with a ConfigError naming the key (exit 2 on the command line, 422 in
the service), never obeyed, never a crash.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from hatangso.coverage.calibration import load_calibration
from hatangso.coverage.config import CoverageConfig, load_config, parse_config
from hatangso.geo.errors import ConfigError
from hatangso.geo.limits import MAX_TERRAIN_RADIUS_M, WorkLimits

CALIBRATION = {"format": "hatangso-calibration/1"}


def _config_file(folder: Path, document: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _refusal(folder: Path, value: str, key: str = "calibration") -> str:
    section = "mobile" if key == "calibration" else "siting"
    with pytest.raises(ConfigError) as info:
        load_config(_config_file(folder, {section: {key: value}}))
    (problem,) = info.value.problems
    assert problem.column == f"{section}.{key}"
    return str(problem).replace(value, "<value>")


# --------------------------------------------------------------------------------------------
# Files named by a configuration


@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_a_file_outside_and_a_missing_file_get_the_same_answer(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    (tmp_path / "secret.json").write_text("{}", encoding="utf-8")
    (folder).mkdir()
    (folder / "link.json").symlink_to(tmp_path / "secret.json")
    answers = {
        value: _refusal(folder, value)
        for value in (
            "/etc/passwd",  # exists
            "/etc/no-such-file",  # does not
            "../secret.json",  # exists, beside the folder
            "../no-such.json",
            "link.json",  # a link out of the folder
            "missing.json",  # inside, missing
        )
    }
    assert len(set(answers.values())) == 1, answers
    message = next(iter(answers.values()))
    assert "is not a file in the configuration file's folder" in message
    assert "JSON" not in message and "no such file" not in message


@pytest.mark.skipif(os.name == "nt", reason="devices and FIFOs")
def test_devices_fifos_and_folders_are_refused_fast(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    start = time.monotonic()
    assert "is not a file in" in _refusal(folder, "/dev/zero")
    (folder / "zero").symlink_to("/dev/zero")
    assert "is not a file in" in _refusal(folder, "zero")  # resolves outside
    os.mkfifo(folder / "pipe.json")
    assert "is not a regular file" in _refusal(folder, "pipe.json")  # never opened
    (folder / "sub").mkdir()
    assert "is not a regular file" in _refusal(folder, "sub", key="exclusion")
    assert time.monotonic() - start < 10.0


def test_a_file_inside_is_resolved_and_read_within_its_limit(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    (folder / "cal").mkdir(parents=True)
    (folder / "cal" / "calibration.json").write_text(json.dumps(CALIBRATION), encoding="utf-8")
    config = load_config(_config_file(folder, {"mobile": {"calibration": "cal/calibration.json"}}))
    resolved = Path(str(config.mobile.calibration))
    assert resolved.is_absolute() and resolved == (folder / "cal/calibration.json").resolve()
    # A file larger than the limit is refused before it is read.
    with pytest.raises(ConfigError, match=r"larger than the limit .*MAX_REFERENCED_FILE_BYTES"):
        load_calibration(resolved, max_bytes=10)
    big = WorkLimits(max_referenced_file_bytes=10)
    with pytest.raises(ConfigError, match="larger than the limit"):
        load_config(folder / "config.yaml", limits=big)  # the configuration file itself


def test_without_a_base_folder_no_file_may_be_named() -> None:
    with pytest.raises(ConfigError, match="has no folder to read files from"):
        parse_config({"mobile": {"calibration": "c.json"}}, source="request")
    assert parse_config({}, source="request") == CoverageConfig()


def test_plain_names_refuse_folders(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.json").write_text("{}", encoding="utf-8")
    (tmp_path / "c.json").write_text("{}", encoding="utf-8")
    kwargs: dict[str, Any] = {"source": "config", "base": tmp_path, "plain_names": True}
    with pytest.raises(ConfigError, match="give a file name"):
        parse_config({"mobile": {"calibration": "sub/c.json"}}, **kwargs)
    assert parse_config({"mobile": {"calibration": "c.json"}}, **kwargs).mobile.calibration


# --------------------------------------------------------------------------------------------
# Values and limits


@pytest.mark.parametrize(
    ("document", "key", "says"),
    [
        ({"mobile": {"rule": "bogus"}}, "mobile.rule", "Input should be 'point'"),
        ({"terrain": {"radius_m": float("nan")}}, "terrain.radius_m", "finite number"),
        ({"mobile": {"threshold_dbm": float("-inf")}}, "mobile.threshold_dbm", "finite number"),
        ({"terrain": {"radius_m": -5}}, "terrain.radius_m", "greater than 0"),
        (
            {"mobile": {"radius_m": {"4G": {"rural": -1}}}},
            "mobile.radius_m",
            "must be positive",
        ),
        (
            {"mobile": {"radius_m": {"4G": {"rural": float("nan")}}}},
            "mobile.radius_m.4G.rural",
            "finite number",
        ),
        ({"siting": {"time_limit_s": 1e9}}, "siting.time_limit_s", "HATANGSO_MAX_SOLVER_TIME_S"),
        ({"siting": {"max_candidates": 10**7}}, "siting.max_candidates", "HATANGSO_MAX_CANDIDATES"),
        ({"ftth": {"max_distance_m": 1e9}}, "ftth.max_distance_m", "less than or equal"),
    ],
)
def test_invalid_values_name_the_key(document: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(document, source="config.yaml")
    (problem,) = info.value.problems
    assert problem.column == key and says in problem.message, problem


def test_a_terrain_radius_of_100_km_is_refused_naming_key_limit_and_setting() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"terrain": {"radius_m": 100_000}}, source="config.yaml")
    (problem,) = info.value.problems
    assert problem.column == "terrain.radius_m"
    assert f"above the limit of {MAX_TERRAIN_RADIUS_M:g} m" in problem.message
    assert "HATANGSO_MAX_TERRAIN_RADIUS_M" in problem.message
    # A server lowers the limit; the message gives the limit in force.
    lower = WorkLimits(max_terrain_radius_m=5000.0)
    with pytest.raises(ConfigError, match="8000 m is above the limit of 5000 m"):
        parse_config({"terrain": {"radius_m": 8000}}, source="config.yaml", limits=lower)
    assert parse_config({"terrain": {"radius_m": 4000}}, source="c", limits=lower).limits == lower


def test_cells_per_site_and_resolution_limits() -> None:
    with pytest.raises(ConfigError, match=r"cells per site, above the limit of 4,200,000"):
        parse_config({"terrain": {"radius_m": 40_000, "resolution_m": 30}}, source="c")
    with pytest.raises(ConfigError, match="HATANGSO_MIN_TERRAIN_RESOLUTION_M"):
        parse_config({"terrain": {"resolution_m": 0.01}}, source="c")
    assert parse_config({"terrain": {"radius_m": 40_000, "resolution_m": 90}}, source="c")


def test_limits_from_the_environment() -> None:
    limits = WorkLimits.from_environ({"HATANGSO_MAX_TERRAIN_RADIUS_M": "2000"})
    assert limits.max_terrain_radius_m == 2000.0
    with pytest.raises(ConfigError, match="HATANGSO_MAX_CANDIDATES"):
        WorkLimits.from_environ({"HATANGSO_MAX_CANDIDATES": "nan"})


# --------------------------------------------------------------------------------------------
# The command line: exit 2, never a traceback

HATANGSO = shutil.which("hatangso", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(HATANGSO is None, reason="the console script is not installed")
@pytest.mark.parametrize(
    ("document", "env", "says"),
    [
        ({"mobile": {"calibration": "/etc/passwd"}}, {}, "mobile.calibration"),
        ({"terrain": {"radius_m": 100_000}}, {}, "HATANGSO_MAX_TERRAIN_RADIUS_M"),
        ({"mobile": {"rule": "bogus"}}, {}, "mobile.rule"),
        ({"terrain": {"radius_m": 8000}}, {"HATANGSO_MAX_TERRAIN_RADIUS_M": "5000"}, "5000 m"),
    ],
)
def test_the_command_line_exits_2(
    tmp_path: Path, document: dict[str, Any], env: dict[str, str], says: str
) -> None:
    config = _config_file(tmp_path, document)
    assert HATANGSO is not None
    # The inputs exist (the command line checks paths first); the configuration is refused
    # before they are read.
    villages, sites = tmp_path / "v.gpkg", tmp_path / "s.gpkg"
    villages.touch()
    sites.touch()
    args = ["--villages", str(villages), "--sites", str(sites), "--config", str(config)]
    done = subprocess.run(
        [HATANGSO, "coverage", *args, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
