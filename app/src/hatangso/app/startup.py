"""What the service does while it starts: build the demo, read the scenarios, warm the maps.

The first ``hatangso serve`` builds the demo province (tens of seconds). It used to do so before
it answered anything; now it answers at once and builds in a background thread, logging each
step to the console, while ``GET /health`` and ``GET /api/scenarios`` say what is being built
and how far it is (:class:`StartState`). A request for the scenario being built waits for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from hatangso.app.config import Settings
from hatangso.app.workspace import Workspace

__all__ = ["StartState", "warm_up"]

log = logging.getLogger(__name__)


class StartState:
    """The scenario the service is building, its step and how far the step has got.

    It is a :class:`hatangso.geo.progress.Progress`: the builder reports to it; every new step
    is logged, and a counted step every tenth of the way. Safe to read from request threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._building: str | None = None
        self._step: str | None = None
        self._done: int | None = None
        self._total: int | None = None
        self._logged = -1
        self._since = 0.0

    def begin(self, name: str) -> None:
        """Say that scenario `name` is being built."""
        with self._lock:
            self._building, self._step, self._done, self._total = name, None, None, None
            self._since = time.perf_counter()
        log.info("building scenario %s (the service answers meanwhile; /health says how far)", name)

    def finish(self) -> None:
        """Say that the build is over (done or failed)."""
        with self._lock:
            name, self._building = self._building, None
            self._step = self._done = self._total = None
            elapsed = time.perf_counter() - self._since
        if name is not None:
            log.info("scenario %s: build over after %.0f s", name, elapsed)

    def __call__(self, step: str, /, *, done: int | None = None, total: int | None = None) -> None:
        """Record `step` (and `done` of `total`), logging what is new."""
        with self._lock:
            name = self._building
            new = step != self._step
            self._step, self._done, self._total = step, done, total
            tenth = -1 if done is None or not total else (10 * done) // total
            milestone = tenth > self._logged if not new else False
            self._logged = max(tenth, 0) if new else (tenth if milestone else self._logged)
        if new:
            log.info("building %s: %s", name, step)
        elif milestone:
            log.info("building %s: %s, %d of %d", name, step, done, total)

    def snapshot(self) -> dict[str, Any] | None:
        """Return ``{building, step, done, total}`` while a build runs, else None."""
        with self._lock:
            if self._building is None:
                return None
            return {
                "building": self._building,
                "step": self._step,
                "done": self._done,
                "total": self._total,
            }


def warm_up(
    workspace: Workspace,
    settings: Settings,
    state: StartState,
    *,
    prewarm: Callable[[Settings], None] | None = None,
) -> None:
    """Build the demo when asked, read every ready scenario's villages, then warm the maps.

    Run in a background thread at start-up; a failure is logged and leaves the service up (a
    request for the demo then builds it again).
    """
    if settings.demo and not workspace.exists("demo"):
        state.begin("demo")
        try:
            workspace.ensure("demo", progress=state)
        except Exception:
            log.exception("the demo scenario could not be built")
        finally:
            state.finish()
    for info in workspace.scenarios():  # read the villages once, before the first request
        if info.ready:
            try:
                workspace.villages(info.name)
            except Exception:  # a broken scenario must not stop the service
                log.exception("villages of scenario %s could not be read", info.name)
    log.info("workspace %s: %d scenarios", workspace.root, len(workspace.scenarios()))
    if prewarm is not None:
        prewarm(settings)
