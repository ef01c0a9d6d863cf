"""Jobs, scenarios and reports built on the coverage engine (imported on first use)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {"InputFiles": "job", "JobResult": "job", "run_coverage": "job"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
