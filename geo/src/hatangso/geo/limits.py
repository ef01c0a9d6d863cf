"""Limits on what an input file may hold, so that a hostile file is refused, not obeyed.

Every reader in :mod:`hatangso.geo.io` checks these before the expensive work: a file past a
limit is an :class:`~hatangso.geo.errors.InputError` that names the limit, never a crash, a
hang or memory without end. The values are far above any real provincial layer.
"""

from __future__ import annotations

__all__ = [
    "MAX_COLUMNS",
    "MAX_COLUMN_NAME_CHARS",
    "MAX_MEMBER_BYTES",
    "MAX_MEMBER_RATIO",
    "RATIO_CHECK_FROM_BYTES",
]

#: Columns of a CSV/XLSX table. The widest real layer (a census extract) has about 200;
#: matching thousands of names against every alias costs time and memory for nothing.
MAX_COLUMNS = 1000

#: Characters of one column name. Real names are a few words; a longer "name" is data that
#: lost its line break, and long names make messages that list the columns unreadable.
MAX_COLUMN_NAME_CHARS = 256

#: Uncompressed bytes of one member of a zip archive (a zipped table or layer) or of one part
#: of an XLSX workbook (itself a zip), checked before anything reads it: a 400 KB workbook
#: may otherwise unfold into a sheet of gigabytes.
MAX_MEMBER_BYTES = 256 * 1024 * 1024

#: Compression ratio above which a member is taken for a decompression bomb. Text compresses
#: 5-20 to 1, sparse spreadsheets up to about 100; bombs reach 1000 and more.
MAX_MEMBER_RATIO = 200.0

#: Members smaller than this are not held to :data:`MAX_MEMBER_RATIO`: a few megabytes cost
#: nothing, and tiny repetitive files (a one-line .cpg, an XLSX style sheet) compress well.
RATIO_CHECK_FROM_BYTES = 4 * 1024 * 1024
