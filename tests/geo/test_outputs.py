"""Tests of the one JSON writer and the one atomic writer (hatangso.geo.outputs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hatangso.geo.outputs import atomic_write, json_ready, write_json, write_text


def test_json_ready_turns_missing_into_null_and_numpy_into_python() -> None:
    document = {
        "nan": np.float64("nan"),
        "inf": float("inf"),
        "na": pd.NA,
        "int": np.int64(3),
        "bool": np.bool_(False),
        "array": np.array([1.5, np.nan]),
        "nested": [{"x": np.float32(0.5)}, (np.int8(1), None)],
        7: "key made text",
    }
    plain = json_ready(document)
    assert plain == {
        "nan": None,
        "inf": None,
        "na": None,
        "int": 3,
        "bool": False,
        "array": [1.5, None],
        "nested": [{"x": 0.5}, [1, None]],
        "7": "key made text",
    }
    assert type(plain["int"]) is int and type(plain["bool"]) is bool


def test_write_json_writes_null_for_nan(tmp_path: Path) -> None:
    path = write_json({"value": float("nan"), "n": np.int64(2)}, tmp_path / "a" / "doc.json")
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and text.endswith("\n")
    assert json.loads(text) == {"value": None, "n": 2}


def test_atomic_write_syncs_the_file_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_text("hello", tmp_path / "a.txt")
    assert len(synced) == 2  # the file before the move, the folder after it
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "hello"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = write_text("old", tmp_path / "a.txt")

    def crash(p: Path) -> None:
        p.write_text("ne", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, crash)
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_spreadsheet_safe_quotes_formulas_but_keeps_numbers() -> None:
    from hatangso.geo.outputs import spreadsheet_cell, spreadsheet_safe

    payloads = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "\tx", "\rx"]
    frame = pd.DataFrame(
        {
            "text": [*payloads, "Thôn A"],
            "number": [-1.5, -2, 0, 3, 4, 5, 6],
            "typed": pd.array([*payloads, None], dtype="string"),
        }
    )
    safe = spreadsheet_safe(frame)
    assert safe["text"].tolist() == ["'" + p for p in payloads] + ["Thôn A"]
    assert safe["typed"].tolist()[:-1] == ["'" + p for p in payloads]
    assert safe["typed"].isna().tolist()[-1]
    assert safe["number"].tolist() == frame["number"].tolist()
    assert safe["number"].dtype == frame["number"].dtype
    assert frame["text"].tolist()[0] == payloads[0], "the input frame is left as it was"
    assert spreadsheet_cell(-3) == -3 and spreadsheet_cell(None) is None
    assert spreadsheet_cell("a=b") == "a=b"
