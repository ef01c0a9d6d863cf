"""Jobs, scenarios and reports built on the coverage engine (imported on first use)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real names for type checkers and IDEs; at run time, __getattr__
    from .job import InputFiles, JobResult, run_coverage

_EXPORTS = {"InputFiles": "job", "JobResult": "job", "run_coverage": "job"}

__all__ = [
    "InputFiles",
    "JobResult",
    "run_coverage",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
