"""Workbooks as provinces send them: title rows, merged header cells, a chosen sheet or row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from hatangso.geo.errors import InputError
from hatangso.geo.io import read_table
from hatangso.geo.validate import load_layer


def _province_workbook(path: Path, *, sheet: str = "Danh sách thôn") -> Path:
    """Two title rows, a two-row header with a merged "Tọa độ" over "Kinh độ" and "Vĩ độ"."""
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    ws["A1"] = "ỦY BAN NHÂN DÂN TỈNH BẮC KẠN"
    ws.merge_cells("A1:D1")
    ws["A2"] = "DANH SÁCH THÔN, BẢN CHƯA CÓ SÓNG DI ĐỘNG"
    ws.merge_cells("A2:D2")
    ws["A3"], ws["B3"], ws["C3"] = "Mã thôn", "Tên thôn", "Tọa độ"
    ws.merge_cells("A3:A4")
    ws.merge_cells("B3:B4")
    ws.merge_cells("C3:D3")
    ws["C4"], ws["D4"] = "Kinh độ", "Vĩ độ"
    for row in (("T1", "Thôn Nà Hin", 105.80, 22.10), ("T2", "Bản Chang", 105.90, 22.20)):
        ws.append(row)
    other = book.create_sheet("Ghi chú")
    other["A1"] = "notes only"
    book.save(path)
    return path


def test_the_header_row_is_found_below_title_rows_and_merged_cells(tmp_path: Path) -> None:
    path = _province_workbook(tmp_path / "thon.xlsx")
    raw = read_table(path, kind="villages")
    assert list(raw.frame.columns) == ["Mã thôn", "Tên thôn", "Kinh độ", "Vĩ độ"]
    assert raw.frame["Mã thôn"].tolist() == ["T1", "T2"]
    assert raw.notes == (
        "read sheet 'Danh sách thôn', header in row 4 (4 of its cells name columns of villages)",
    )
    layer = load_layer(path, "villages")
    assert layer.counts()["used"] == 2
    assert layer.frame["village_id"].tolist() == ["T1", "T2"]
    assert layer.frame.geometry.x.round(2).tolist() == [105.8, 105.9]
    assert any("header in row 4" in note for note in layer.notes)


def test_a_merged_header_cell_names_every_column_it_spans(tmp_path: Path) -> None:
    path = _province_workbook(tmp_path / "thon.xlsx")
    # Row 3 holds the merged "Tọa độ" over both coordinate columns.
    raw = read_table(path, kind="villages", header_row=3)
    assert list(raw.frame.columns) == ["Mã thôn", "Tên thôn", "Tọa độ", "Tọa độ.1"]
    assert raw.frame.iloc[0].tolist() == ["Mã thôn", "Tên thôn", "Kinh độ", "Vĩ độ"]
    assert "header in row 3 (as given)" in raw.notes[0]


def test_sheet_and_header_row_given(tmp_path: Path) -> None:
    path = _province_workbook(tmp_path / "thon.xlsx")
    raw = read_table(path, kind="villages", sheet="Ghi chú")
    assert raw.notes[0].startswith("read sheet 'Ghi chú', header in row 1")
    with pytest.raises(InputError, match=r"no sheet 'Sheet9'.*Danh sách thôn"):
        read_table(path, kind="villages", sheet="Sheet9")
    with pytest.raises(InputError, match="--header-row"):
        read_table(path, kind="villages", header_row=40)


def test_a_plain_workbook_reads_as_before(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["village_id", "name", "lon", "lat"])
    ws.append(["T1", "Thôn A", 105.8, 22.1])
    book.save(tmp_path / "plain.xlsx")
    raw = read_table(tmp_path / "plain.xlsx", kind="villages")
    assert list(raw.frame.columns) == ["village_id", "name", "lon", "lat"]
    assert raw.frame.iloc[0].tolist() == ["T1", "Thôn A", "105.8", "22.1"]


def test_validate_says_which_sheet_and_row(tmp_path: Path) -> None:
    path = _province_workbook(tmp_path / "thon.xlsx")
    command = [sys.executable, "-c", "from hatangso.cli import main; main()"]
    done = subprocess.run(
        [*command, "validate", "villages", str(path), "--sheet", "Danh sách thôn"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # The note goes to stderr, once, as every command's notes do (stdout is the report).
    assert "warning: read sheet 'Danh sách thôn', header in row 4" in done.stderr
    assert "read sheet" not in done.stdout
    assert "used 2" in done.stdout
