"""Loading, validating and projecting hatangso's inputs.

The names below are imported on first use, so that ``hatangso.geo.errors`` (which the command
line needs at once) does not pull in geopandas.

>>> from hatangso.geo import parse_crs
>>> parse_crs("VN2000:Hà Nội").name
"VN-2000 / TM-3 105°00' (Hà Nội, post-2025 table)"

See :func:`load_layer` for reading and validating one input file.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real names for type checkers and IDEs; at run time, __getattr__
    from .crs import metric_crs, parse_crs, vn2000_crs, vn2000_zone
    from .errors import CRSError, HatangsoError, InfeasibleError, InputError, Problem
    from .io import read_table
    from .validate import Layer, load_layer

_EXPORTS = {
    "CRSError": "errors",
    "HatangsoError": "errors",
    "InfeasibleError": "errors",
    "InputError": "errors",
    "Problem": "errors",
    "Layer": "validate",
    "load_layer": "validate",
    "read_table": "io",
    "metric_crs": "crs",
    "parse_crs": "crs",
    "vn2000_crs": "crs",
    "vn2000_zone": "crs",
}

__all__ = [
    "CRSError",
    "HatangsoError",
    "InfeasibleError",
    "InputError",
    "Layer",
    "Problem",
    "load_layer",
    "metric_crs",
    "parse_crs",
    "read_table",
    "vn2000_crs",
    "vn2000_zone",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
