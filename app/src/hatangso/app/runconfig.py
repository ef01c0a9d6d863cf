"""The configuration of a coverage run through the service: the scenario's, then the request's.

``hatangso run ca-mau.yaml`` assesses with the scenario file's ``model:`` section; the service's
``POST /api/scenarios/{name}/coverage`` does the same. The scenario's stored configuration is
the one its last run through the service used (``config`` in ``scenario.json``), else the
configuration it was built with (the demo's, or the shipped scenario file's ``model:``), else
the contract's defaults. The request body's keys are merged over it, section by section.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hatangso.app.workspace import Workspace, shipped_plans

__all__ = ["RunConfig", "merge_config", "run_config", "stored_config"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunConfig:
    """The configuration document of one run and where its base came from.

    Attributes
    ----------
    document
        The configuration (the YAML file's keys): the stored one with the request's over it.
    source
        Where the stored configuration came from: ``last run``, ``demo``,
        ``scenarios/<name>.yaml`` or ``defaults``.
    """

    document: dict[str, Any] = field(default_factory=dict)
    source: str = "defaults"


def merge_config(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return `base` with `override`'s keys over it; mappings are merged key by key.

    Examples
    --------
    >>> merge_config({"mobile": {"model": "hata", "rule": "point"}}, {"mobile": {"rule": "area"}})
    {'mobile': {'model': 'hata', 'rule': 'area'}}
    """
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merge_config(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def stored_config(workspace: Workspace, name: str) -> RunConfig:
    """Return the configuration scenario `name` keeps: its last run's, or the one it was built with.

    Raises
    ------
    InputError
        If the shipped scenario file cannot be read (a broken install).
    """
    meta = workspace.metadata(name)
    last = meta.get("config")
    if isinstance(last, dict):
        return RunConfig(document=copy.deepcopy(last), source="last run")
    if name == "demo" and meta.get("source", "demo") == "demo":
        from hatangso.scenarios.demo_job import DEMO_CONFIG

        return RunConfig(document=copy.deepcopy(DEMO_CONFIG), source="demo")
    plan = shipped_plans().get(name)
    if plan is not None:
        from hatangso.scenarios.schema import load_scenario

        scenario = load_scenario(plan, check_files=False)
        # The baseline's configuration, as `hatangso run` assesses the scenario's present state.
        return RunConfig(document=copy.deepcopy(scenario.model), source=f"scenarios/{plan.name}")
    return RunConfig()


def run_config(workspace: Workspace, name: str, request: Mapping[str, Any] | None) -> RunConfig:
    """Return the configuration of a run: the stored one with `request`'s keys merged over it."""
    stored = stored_config(workspace, name)
    document = merge_config(stored.document, request or {})
    log.info("scenario %s: configuration from %s, request keys %s", name, stored.source, request)
    return RunConfig(document=document, source=stored.source)
