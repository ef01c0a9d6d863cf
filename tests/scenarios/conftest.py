"""Fixtures of the scenario tests: the command line run in-process, input layers written."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest

from hatangso.cli import main


@pytest.fixture()
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[Any, str, str]]:
    """Run ``hatangso *args`` in this process: ``run_cli(*args) -> (exit code, stdout, stderr)``.

    A command that returns without ``sys.exit`` counts as exit code 0.
    """

    def run(*args: str) -> tuple[Any, str, str]:
        monkeypatch.setattr(sys, "argv", ["hatangso", *args])
        with pytest.raises(SystemExit) as info:
            main()
            sys.exit(0)
        captured = capsys.readouterr()
        return info.value.code, captured.out, captured.err

    return run


@pytest.fixture()
def write_layer(tmp_path: Path) -> Callable[..., Path]:
    """Write a layer drawn in a projected CRS to ``tmp_path / name``, in EPSG:4326.

    ``write_layer(name, columns, geometry, crs=..., **options) -> path``; `options` go to
    :meth:`geopandas.GeoDataFrame.to_file` (the driver follows the file's extension).
    """

    def write(
        name: str,
        columns: dict[str, Sequence[Any]],
        geometry: Any,
        *,
        crs: Any,
        **options: Any,
    ) -> Path:
        path = tmp_path / name
        frame = gpd.GeoDataFrame(columns, geometry=geometry, crs=crs).to_crs(4326)
        frame.to_file(path, **options)
        return path

    return write
