"""The coverage engine: propagation, village coverage, fiber reach, sharing, indicators.

The propagation models (:mod:`hatangso.coverage.propagation`) and ITM
(:mod:`hatangso.coverage.terrain`) are used from their modules; this package re-exports the
assessment itself, imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real names for type checkers and IDEs; at run time, __getattr__
    from .config import CoverageConfig, load_config
    from .engine import Assessment, CoverageInputs, assess
    from .kpis import INDICATORS, IndicatorValue
    from .planning import PlanResult, plan

_EXPORTS = {
    "CoverageConfig": "config",
    "load_config": "config",
    "Assessment": "engine",
    "CoverageInputs": "engine",
    "assess": "engine",
    "INDICATORS": "kpis",
    "IndicatorValue": "kpis",
    "PlanResult": "planning",
    "plan": "planning",
}

__all__ = [
    "INDICATORS",
    "Assessment",
    "CoverageConfig",
    "CoverageInputs",
    "IndicatorValue",
    "PlanResult",
    "assess",
    "load_config",
    "plan",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
