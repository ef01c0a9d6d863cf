"""Workbooks as provinces send them: title rows above the header, merged header cells.

:func:`read_sheet` finds the header row of one sheet (the first row whose cells name the most
columns of the input kind, by contract name or alias) unless it is given, fills every merged
range with its value, and returns the records below the header as strings.
:func:`workbook_bytes` writes tables as a workbook, each cell safe to open in a spreadsheet.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hatangso.geo.errors import InputError, Problem

__all__ = ["SheetTable", "header_names", "read_sheet", "workbook_bytes"]

log = logging.getLogger(__name__)

#: How many rows from the top are searched for the header.
SEARCH_ROWS = 30


@dataclass(frozen=True)
class SheetTable:
    """The records of one sheet.

    Attributes
    ----------
    frame
        One string column per header cell; empty cells are ``""``.
    sheet
        The sheet's name.
    header_row
        The 1-based row of the header in the sheet.
    note
        Says which sheet and row were used, and why.
    """

    frame: pd.DataFrame
    sheet: str
    header_row: int
    note: str


def header_names(kind: str | None) -> set[str]:
    """Return the folded names (contract names, aliases, coordinates) a header of `kind` uses.

    With no kind, the names of every kind.
    """
    from hatangso.geo.schema import COORDINATE_ALIASES, KINDS, spec_for
    from hatangso.geo.text import fold_key

    kinds = [kind] if kind is not None else list(KINDS)
    names = {fold_key(a) for aliases in COORDINATE_ALIASES.values() for a in aliases}
    for one in kinds:
        for column in spec_for(one).columns:
            names |= {fold_key(column.name), *(fold_key(a) for a in column.aliases)}
    names |= {"wkt", "geometry"}
    return names


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _unique(names: Sequence[str]) -> list[str]:
    """Name blank header cells ``column_<n>`` and repeat names ``name.1``, ``name.2``."""
    seen: dict[str, int] = {}
    out = []
    for index, name in enumerate(names, start=1):
        name = name or f"column_{index}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def read_sheet(
    path: Path,
    *,
    kind: str | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
) -> SheetTable:
    """Read one sheet of a workbook, finding its header row.

    Parameters
    ----------
    path
        The ``.xlsx`` file.
    kind
        The input kind whose column names and aliases identify the header row.
    sheet
        The sheet's name; the first sheet when None.
    header_row
        The 1-based header row; searched for when None (in the first :data:`SEARCH_ROWS` rows:
        the first row with the most cells naming a column of `kind`; row 1 when none does).

    Returns
    -------
    SheetTable

    Raises
    ------
    InputError
        `sheet` is not in the workbook (the message lists the sheets), or `header_row` is
        below the sheet's last row.
    """
    from openpyxl import load_workbook

    from hatangso.geo.text import fold_key

    book = load_workbook(path, data_only=True)
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(
                Problem(
                    file=path.name,
                    message=f"no sheet '{sheet}' (the workbook has: {', '.join(book.sheetnames)})",
                    fix="give one of those with --sheet",
                )
            )
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        # A merged range holds its value in the top-left cell only: give it to every cell.
        for merged in ws.merged_cells.ranges:
            value = ws.cell(row=merged.min_row, column=merged.min_col).value
            for r in range(merged.min_row - 1, min(merged.max_row, len(rows))):
                for c in range(merged.min_col - 1, merged.max_col):
                    if c < len(rows[r]):
                        rows[r][c] = value
        title = ws.title
    finally:
        book.close()
    if not rows:
        return SheetTable(pd.DataFrame(), title, 1, f"sheet '{title}' is empty")
    if header_row is not None:
        if not 1 <= header_row <= len(rows):
            raise InputError(
                Problem(
                    file=path.name,
                    message=f"header row {header_row} is outside the sheet (rows 1-{len(rows)})",
                    fix="give the header's row number with --header-row",
                )
            )
        index, why = header_row - 1, "as given"
    else:
        known = header_names(kind)
        scores = [
            sum(fold_key(_text(v)) in known for v in row if _text(v)) for row in rows[:SEARCH_ROWS]
        ]
        best = max(scores)
        index = scores.index(best) if best > 0 else 0
        why = (
            f"{best} of its cells name columns of {kind or 'the inputs'}"
            if best > 0
            else "no row names the columns"
        )
    names = _unique([_text(v) for v in rows[index]])
    width = len(names)
    body = [[_text(v) for v in (list(r) + [None] * width)[:width]] for r in rows[index + 1 :]]
    # Rows blank throughout below the last record (formatting left under a table) are none.
    while body and not any(body[-1]):
        body.pop()
    frame = pd.DataFrame(body, columns=names, dtype=object)
    note = f"read sheet '{title}', header in row {index + 1} ({why})"
    log.info("%s: %s", path.name, note)
    return SheetTable(frame, title, index + 1, note)


def workbook_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """Return an XLSX workbook of one sheet per table (sheet name to table), in order.

    Text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is
    written as text (:func:`hatangso.geo.outputs.spreadsheet_safe`); sheet names are cut to
    Excel's 31 characters.
    """
    from hatangso.geo.outputs import spreadsheet_safe

    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, table in sheets.items():
            spreadsheet_safe(table).to_excel(writer, sheet_name=name[:31], index=False)
    return buffer.getvalue()
