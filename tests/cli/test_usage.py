"""The command line's answers to usage mistakes, --version and a bare `hatangso`.

Every usage mistake prints the usage and the problem on stderr and exits 2, never a traceback
(the contract's exit codes); the console script is run as a user runs it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

HATANGSO = shutil.which("hatangso", path=str(Path(sys.executable).parent))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    if HATANGSO is None:
        pytest.skip("the hatangso console script is not installed beside this Python")
    return subprocess.run([HATANGSO, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["covrage"], "No such command 'covrage'. Did you mean 'coverage'?"),
        (["coverage", "--villages", "v.gpkg", "--out", "o"], "Missing option '--sites'"),
        (["coverage", "--bogus", "1"], "No such option: --bogus"),
        (
            "plan --villages v --sites s --operator Viettel --budget abc --out o".split(),
            "Invalid value for '--budget'",
        ),
        (["validate"], "Missing argument"),
        (["run", "s.yaml", "--out", "o", "--lang", "fr"], "Invalid value for '--lang'"),
        (["--bogus"], "No such option: --bogus"),
    ],
)
def test_a_usage_mistake_prints_the_usage_and_exits_2(args: list[str], says: str) -> None:
    done = _run(*args)
    assert done.returncode == 2, done.stderr
    assert "Usage: hatangso" in done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_version() -> None:
    done = _run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"hatangso {version('hatangso')}"


def test_hatangso_alone_prints_the_help() -> None:
    done = _run()
    assert done.returncode == 0
    assert "Usage: hatangso" in done.stdout
    for command in ("validate", "coverage", "plan", "run", "serve", "demo"):
        assert command in done.stdout
