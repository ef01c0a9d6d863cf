"""Limits on what an input file may hold and on the work a configuration may ask for.

A hostile file or configuration is refused, not obeyed.

Every reader in :mod:`hatangso.geo.io` checks these before the expensive work: a file past a
limit is an :class:`~hatangso.geo.errors.InputError` that names the limit, never a crash, a
hang or memory without end. The values are far above any real provincial layer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from hatangso.geo.errors import ConfigError, Problem

__all__ = [
    "MAX_CACHE_MB",
    "MAX_CANDIDATES",
    "MAX_COLUMNS",
    "MAX_COLUMN_NAME_CHARS",
    "MAX_MEMBER_BYTES",
    "MAX_MEMBER_RATIO",
    "MAX_REFERENCED_FILE_BYTES",
    "MAX_SOLVER_TIME_S",
    "MAX_TERRAIN_CELLS_PER_SITE",
    "MAX_TERRAIN_GRID_CELLS",
    "MAX_TERRAIN_RADIUS_M",
    "MAX_TERRAIN_WORK_CELLS",
    "MIN_TERRAIN_RESOLUTION_M",
    "RATIO_CHECK_FROM_BYTES",
    "WorkLimits",
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

# --------------------------------------------------------------------------------------------
# Limits on the work a configuration may ask for
#
# Every parameter that scales the work of a run has a bound here, and only here. The
# configuration's validation checks them (hatangso.coverage.config), naming the key, the limit
# and the setting that changes it: the service's ``HATANGSO_<NAME>`` environment variable (a
# field of its Settings), which the command line reads too.

#: Terrain radius, m (``terrain.radius_m``). Macro cells reach 30-35 km over open water; the
#: work and the per-site cache grow with the square of the radius (100 km wrote 33 GB).
MAX_TERRAIN_RADIUS_M = 50_000.0

#: Finest terrain cell, m (``terrain.resolution_m``). The work grows with the inverse square.
MIN_TERRAIN_RESOLUTION_M = 5.0

#: Cells of one site's square terrain window, ``(2 radius / resolution + 1)^2``: a 30 km
#: radius at 30 m is 2001 x 2001 cells (16 MB of losses per site in the cache).
MAX_TERRAIN_CELLS_PER_SITE = 4_200_000

#: Cells computed by one terrain run, sites x cells per site, estimated before it starts.
MAX_TERRAIN_WORK_CELLS = 4_000_000_000

#: Cells of the terrain grid of one run (the DEM over the villages and sites plus the
#: radius, at ``terrain.resolution_m``); each costs about 16 bytes of memory. A province of
#: 150 x 150 km at 30 m is 25 million.
MAX_TERRAIN_GRID_CELLS = 200_000_000

#: Candidate sites kept for the planning solver (``siting.max_candidates``).
MAX_CANDIDATES = 50_000

#: Time the planning solver may take, s (``siting.time_limit_s``).
MAX_SOLVER_TIME_S = 3600.0

#: Size of the on-disk cache of per-site terrain results, MB; the least recently used
#: entries are removed beyond it.
MAX_CACHE_MB = 2048.0

#: Bytes of a file a configuration names (a calibration, exclusion polygons), checked before
#: it is read.
MAX_REFERENCED_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class WorkLimits:
    """The limits on a run's work, each defaulting to this module's constant.

    The service's Settings carry a field of the same name for each (``HATANGSO_<NAME>``),
    so that a server can lower them; the command line reads the same variables.

    Examples
    --------
    >>> WorkLimits().max_terrain_radius_m
    50000.0
    >>> WorkLimits.setting("max_terrain_radius_m")
    'HATANGSO_MAX_TERRAIN_RADIUS_M'
    >>> WorkLimits.from_environ({"HATANGSO_MAX_CANDIDATES": "100"}).max_candidates
    100
    """

    max_terrain_radius_m: float = MAX_TERRAIN_RADIUS_M
    min_terrain_resolution_m: float = MIN_TERRAIN_RESOLUTION_M
    max_terrain_cells_per_site: int = MAX_TERRAIN_CELLS_PER_SITE
    max_terrain_work_cells: int = MAX_TERRAIN_WORK_CELLS
    max_terrain_grid_cells: int = MAX_TERRAIN_GRID_CELLS
    max_candidates: int = MAX_CANDIDATES
    max_solver_time_s: float = MAX_SOLVER_TIME_S
    max_cache_mb: float = MAX_CACHE_MB
    max_referenced_file_bytes: int = MAX_REFERENCED_FILE_BYTES

    @staticmethod
    def setting(name: str) -> str:
        """Return the environment variable (the service's setting) that sets limit `name`."""
        return f"HATANGSO_{name.upper()}"

    @property
    def max_cache_bytes(self) -> int:
        """The cache cap in bytes."""
        return int(self.max_cache_mb * 1024 * 1024)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> WorkLimits:
        """Read the limits from ``HATANGSO_<NAME>`` variables; absent ones keep the default.

        Raises
        ------
        ConfigError
            A variable is not a positive number.
        """
        values: dict[str, float | int] = {}
        problems = []
        for item in fields(cls):
            raw = environ.get(cls.setting(item.name))
            if raw is None or not raw.strip():
                continue
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value > 0):
                problems.append(
                    Problem(
                        file="environment",
                        column=cls.setting(item.name),
                        message=f"'{raw}' is not a positive number",
                        fix=f"set {cls.setting(item.name)} to a positive number, or unset it",
                    )
                )
                continue
            # The annotations are strings (postponed evaluation): "int" or "float".
            values[item.name] = int(value) if item.type == "int" else value
        if problems:
            raise ConfigError(problems)
        return cls(**values)  # type: ignore[arg-type]
