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
        (["serve", "--port", "99999"], "Invalid value for '--port'"),
        (
            "run s.yaml --out o --record r.gpkg --as-of 31/12/2024".split(),
            "'31/12/2024' is not a day written YYYY-MM-DD",
        ),
        (
            "calibrate --sites s.csv --samples m.csv --tech 6G --out o".split(),
            "Invalid value for '--tech'",
        ),
        (
            "calibrate --sites s.csv --samples m.csv --min-samples 0 --out o".split(),
            "Invalid value for '--min-samples'",
        ),
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


def test_validate_writes_its_outputs_even_when_the_reader_stops_early(tmp_path: Path) -> None:
    # `hatangso validate ... --out DIR | head` (or a pager quit early): the reader closes the
    # pipe before the report is printed. The clean layer and rejects.csv must be written all
    # the same; the report is only a view of them.
    if HATANGSO is None:
        pytest.skip("the hatangso console script is not installed beside this Python")
    rows = "".join(f"T{i},Thôn {i},105.8,21.0\n" for i in range(50))
    rows += "".join(f"X{i},Xóm {i},2.35,48.85\n" for i in range(50))  # Paris: rejected
    (tmp_path / "thon.csv").write_text("village_id,name,lon,lat\n" + rows, encoding="utf-8")
    out = tmp_path / "checked"
    with subprocess.Popen(
        [HATANGSO, "validate", "villages", str(tmp_path / "thon.csv"), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as process:
        assert process.stdout is not None
        process.stdout.close()  # the reader is gone before anything is printed
        process.wait(timeout=120)
    assert (out / "villages.gpkg").is_file()
    assert len((out / "rejects.csv").read_text(encoding="utf-8").splitlines()) == 51


def _closed_early(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run hatangso with a reader that closes the output before reading anything."""
    if HATANGSO is None:
        pytest.skip("the hatangso console script is not installed beside this Python")
    err_path = tmp_path / "stderr.txt"
    with (
        err_path.open("w", encoding="utf-8") as err,
        subprocess.Popen([HATANGSO, *args], stdout=subprocess.PIPE, stderr=err) as process,
    ):
        assert process.stdout is not None
        process.stdout.close()
        code = process.wait(timeout=120)
    return subprocess.CompletedProcess(args, code, "", err_path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("command", [["--help"], ["validate", "--help"], ["--version"]])
def test_a_reader_that_stops_early_ends_the_command_quietly(
    tmp_path: Path, command: list[str]
) -> None:
    # `hatangso ... | head -0`: 128 + SIGPIPE, as a Unix tool stopped by SIGPIPE, and no word.
    done = _closed_early(*command, tmp_path=tmp_path)
    assert done.returncode == 141
    assert done.stderr == ""


def test_validate_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    rows = "".join(f"X{i},Xóm {i},2.35,48.85\n" for i in range(300))  # all rejected: long table
    (tmp_path / "thon.csv").write_text("village_id,name,lon,lat\n" + rows, encoding="utf-8")
    done = _closed_early("validate", "villages", str(tmp_path / "thon.csv"), tmp_path=tmp_path)
    assert done.returncode == 141
    assert "Traceback" not in done.stderr and "error" not in done.stderr
    assert "Exception ignored" not in done.stderr  # the exit flush writes to the null device


def test_a_message_logged_twice_is_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    # A scenario's years read the same inputs and make the same notes: the terminal shows each
    # once, on stderr, one unwrapped line however long.
    import logging

    from hatangso.cli import _setup_logging

    _setup_logging(verbose=False)
    log = logging.getLogger("hatangso.test")
    long_note = "villages: " + "commune 'Xã Thanh Tùng', " * 10 + "and 84 more"
    for _ in range(3):
        log.warning(long_note)
    log.warning("another note")
    log.info("not shown without --verbose")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"warning: {long_note}\nwarning: another note\n"


def test_every_missing_input_is_named_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "thon.csv").write_text("village_id,name,lon,lat\nT1,A,105.8,21.0\n")
    out = tmp_path / "out"
    done = _run(
        *("coverage", "--villages", str(tmp_path / "thon.csv"), "--sites", "tram.csv"),
        *("--dem", str(tmp_path / "dem"), "--out", str(out)),
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: tram.csv: no such file or folder: tram.csv (given to --sites). Fix: check the path",
        f"dem: no such file or folder: {tmp_path / 'dem'} (given to --dem). Fix: check the path",
    ]
    assert not out.exists()  # nothing made for a run that cannot start
    done = _run("compare", str(tmp_path / "thon.csv"), "b.yaml", "--out", str(out))
    assert done.returncode == 2
    assert "b.yaml: no such file or folder: b.yaml (the SECOND argument)" in done.stderr


@pytest.mark.parametrize("command", ["validate", "coverage", "plan"])
def test_sheet_options_without_a_workbook_are_refused_not_ignored(
    tmp_path: Path, command: str
) -> None:
    (tmp_path / "thon.csv").write_text("village_id,name,lon,lat\nT1,A,105.8,21.0\n")
    (tmp_path / "tram.csv").write_text("site_id,operator,lon,lat\nS1,Viettel,105.8,21.0\n")
    thon, tram, out = (str(tmp_path / n) for n in ("thon.csv", "tram.csv", "out"))
    args = {
        "validate": ["validate", "villages", thon],
        "coverage": ["coverage", "--villages", thon, "--sites", tram, "--out", out],
        "plan": [
            *("plan", "--villages", thon, "--sites", tram),
            *("--operator", "Viettel", "--target", "1", "--out", out),
        ],
    }[command]
    done = _run(*args, "--sheet", "Thôn", "--header-row", "3")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: command line: --sheet and --header-row read XLSX workbooks, and no input is "
        "one. Fix: leave out --sheet and --header-row, or give the .xlsx file"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("a-file", "--out names a file, not a folder"),
        ("a-file/sub", "a-file is a file, so no folder can be made under it"),
    ],
)
def test_an_output_folder_that_cannot_be_made_is_a_usage_error(
    tmp_path: Path, out: str, says: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "thon.csv").write_text("village_id,name,lon,lat\nT1,A,105.8,21.0\n")
    done = _run("validate", "villages", str(tmp_path / "thon.csv"), "--out", str(tmp_path / out))
    assert done.returncode == 2
    assert says in done.stderr and "Fix: give a folder you may write in" in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_a_folder_or_a_raster_given_as_a_table_says_so(tmp_path: Path) -> None:
    done = _run("validate", "villages", str(tmp_path))
    assert done.returncode == 2
    assert f"{tmp_path} is a folder, not a file. Fix: give one file" in done.stderr
    (tmp_path / "N21E105.hgt").write_bytes(b"")
    done = _run("validate", "villages", str(tmp_path / "N21E105.hgt"))
    assert done.returncode == 2
    assert "'.hgt' is a raster" in done.stderr and "coverage --dem" in done.stderr


def test_an_address_the_service_cannot_listen_on_is_refused_before_it_starts() -> None:
    import socket

    done = _run("serve", "--host", "999.1.1.1")
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: command line, column '--host': cannot listen on '999.1.1.1': not an address of "
        "this machine"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run("serve", "--port", str(port))
    assert done.returncode == 2
    assert f"column '--port': cannot listen on 127.0.0.1:{port} (Address already in use)" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
