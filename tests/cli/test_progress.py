"""The command line says what its long steps do: bars on a terminal, plain lines elsewhere.

Output captured by a pipe (as in CI) gets one plain line per step, without control
characters; ``--quiet`` prints nothing at all.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from rich.console import Console

from hatangso.cli import StepDisplay

UTM = 32648
X0, Y0 = 600_000.0, 2_450_000.0
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but tab and newline


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    villages = gpd.GeoDataFrame(
        {"village_id": ["T1", "T2"], "name": ["Nà Mằm", "Pác Nặm"]},
        geometry=[shapely.box(X0 + x, Y0, X0 + x + 1000, Y0 + 1000) for x in (0, 9000)],
        crs=UTM,
    ).to_crs(4326)
    villages.to_file(tmp_path / "villages.gpkg")
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1"], "operator": ["Viettel"], "tech": ["4G"]},
        geometry=shapely.points([(X0 + 500, Y0 + 500)]),
        crs=UTM,
    ).to_crs(4326)
    sites.to_file(tmp_path / "sites.gpkg")
    return tmp_path / "villages.gpkg", tmp_path / "sites.gpkg"


RunCli = Callable[..., tuple[Any, str, str]]


def test_a_pipe_gets_one_plain_line_per_step(
    inputs: tuple[Path, Path],
    tmp_path: Path,
    run_cli: RunCli,
) -> None:
    villages, sites = inputs
    code, out, err = run_cli(
        *("coverage", "--villages", str(villages), "--sites", str(sites)),
        *("--out", str(tmp_path / "out")),
    )
    assert code == 0, err
    assert not CONTROL.search(err), repr(err)
    lines = err.splitlines()
    steps = [re.sub(r"^\[ *\d+\.\d s\] ", "", line) for line in lines]
    assert all(re.match(r"^\[ *\d+\.\d s\] \S", line) for line in lines), lines
    for step in (
        "reading villages",
        "validating villages",
        "reading sites",
        "validating sites",
        "mobile coverage (radius model, 4G)",
        "writing outputs",
        "writing outputs: 5 of 5 done",
        "writing the map",
    ):
        assert step in steps, (step, steps)
    assert len(steps) == len(set(steps))  # one line per step
    assert "Kết quả trong" in out  # the results still go to stdout (in Vietnamese, the default)


def test_quiet_prints_nothing(
    inputs: tuple[Path, Path],
    tmp_path: Path,
    run_cli: RunCli,
) -> None:
    villages, sites = inputs
    code, out, err = run_cli(
        *("coverage", "--villages", str(villages), "--sites", str(sites)),
        *("--out", str(tmp_path / "out"), "--quiet"),
    )
    assert code == 0
    assert (out, err) == ("", "")
    assert (tmp_path / "out" / "map.html").is_file()
    # The next command, in the same process, speaks again.
    code, out, _err = run_cli("validate", "villages", str(villages))
    assert code == 0 and "read 2" in out


def test_quiet_errors_still_say_what_is_wrong(
    tmp_path: Path,
    run_cli: RunCli,
) -> None:
    code, out, err = run_cli(
        *("coverage", "--villages", str(tmp_path / "none.gpkg"), "--sites", "x.gpkg"),
        *("--out", str(tmp_path / "out"), "--quiet"),
    )
    assert code == 2
    assert out == "" and "error:" in err


def test_a_terminal_gets_bars_with_counts() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with StepDisplay(console) as progress:
        progress("reading villages")
        progress("terrain coverage")
        for done in range(1, 8):
            progress("terrain coverage", done=done, total=7)
    text = screen.getvalue()
    assert "reading villages" in text and "terrain coverage" in text
    assert "7/7" in text
    assert "━" in text  # the bar


def test_plain_lines_report_a_counted_step_once_complete() -> None:
    screen = io.StringIO()
    with StepDisplay(Console(file=screen, width=100)) as progress:
        progress("terrain coverage")
        for done in range(1, 8):
            progress("terrain coverage", done=done, total=7)
        progress("tower sharing")
    steps = [re.sub(r"^\[ *\d+\.\d s\] ", "", line) for line in screen.getvalue().splitlines()]
    assert steps == ["terrain coverage", "terrain coverage: 7 of 7 done", "tower sharing"]


def test_quiet_display_prints_nothing() -> None:
    screen = io.StringIO()
    with StepDisplay(Console(file=screen, force_terminal=True), quiet=True) as progress:
        progress("reading villages")
        progress("terrain coverage", done=1, total=2)
    assert screen.getvalue() == ""
