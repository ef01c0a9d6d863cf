"""The garbage collector's settings while a batch command runs, and none left behind.

A batch command (``coverage``, ``plan``, ...) raises the threshold of Python's full
collections for its own run and puts the previous thresholds back when it ends; ``serve`` keeps
Python's own. Checked on a command run in this process, so that the callback's order (the
thresholds set before the command's body, restored after it) is the one a user gets.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from hatangso import cli


@pytest.fixture
def default_thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's defaults, whatever the session had
    yield gc.get_threshold()
    gc.set_threshold(*before)


class _Context:
    """What :func:`hatangso.cli._batch_gc` uses of a click context."""

    def __init__(self, command: str | None) -> None:
        self.invoked_subcommand = command
        self.on_close: list[object] = []

    def call_on_close(self, func: object) -> None:
        self.on_close.append(func)


def test_batch_command_raises_full_collection_threshold_then_restores(
    default_thresholds: tuple[int, int, int],
) -> None:
    ctx = _Context("coverage")
    cli._batch_gc(ctx)  # type: ignore[arg-type]
    assert gc.get_threshold() == cli.BATCH_GC_THRESHOLDS == (700, 10, 1000)
    for close in ctx.on_close:
        close()  # type: ignore[operator]
    assert gc.get_threshold() == default_thresholds


@pytest.mark.parametrize("command", ["serve", None])
def test_service_and_bare_group_keep_python_thresholds(
    default_thresholds: tuple[int, int, int], command: str | None
) -> None:
    ctx = _Context(command)
    cli._batch_gc(ctx)  # type: ignore[arg-type]
    assert gc.get_threshold() == default_thresholds
    assert ctx.on_close == []


def test_thresholds_hold_inside_a_real_command_and_are_restored(
    default_thresholds: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """`validate` of a bad file: its body sees the batch thresholds, the caller its own."""
    seen: list[tuple[int, int, int]] = []
    original = cli._spreadsheet_options

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.get_threshold())
        return original(*args, **kwargs)

    monkeypatch.setattr(cli, "_spreadsheet_options", spy)
    bad = tmp_path / "villages.csv"
    bad.write_text("x,y\n1,2\n", encoding="utf-8")
    result = CliRunner().invoke(cli.app, ["validate", "villages", str(bad), "--sheet", "A"])
    assert result.exit_code != 0  # --sheet without a spreadsheet
    assert seen == [cli.BATCH_GC_THRESHOLDS]
    assert gc.get_threshold() == default_thresholds
