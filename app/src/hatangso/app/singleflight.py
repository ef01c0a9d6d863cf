"""One builder per value: concurrent requests for a value being built do not build it again.

The map page of a scenario takes seconds to build. When the results change, every request
that arrives before the new page is ready would build it again: fifty at once took fifty
times as long. :class:`SingleFlight` lets the first request build the value of the new
version; the others get the previous value at once, or, when there is none yet, wait for the
one being built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

T = TypeVar("T")


@dataclass
class _Slot(Generic[T]):
    version: Hashable = None
    value: T | None = None
    has_value: bool = False
    building: Hashable = None
    done: threading.Event = field(default_factory=threading.Event)
    builds: int = 0


class SingleFlight(Generic[T]):
    """Values built once per (key, version), by one caller at a time (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[Hashable, _Slot[T]] = {}

    def builds(self, key: Hashable) -> int:
        """Return how many times the value of `key` has been built (for tests and logs)."""
        with self._lock:
            slot = self._slots.get(key)
            return 0 if slot is None else slot.builds

    def holds(self, key: Hashable, version: Hashable) -> bool:
        """Whether the value kept for `key` is that of `version` (no build under way for it)."""
        with self._lock:
            slot = self._slots.get(key)
            return slot is not None and slot.has_value and slot.version == version

    def get(self, key: Hashable, version: Hashable, build: Callable[[], T]) -> T:
        """Return the value of `key` at `version`, building it at most once at a time.

        Parameters
        ----------
        key
            What the value is (a scenario's map page in one language ...).
        version
            What it is built from (e.g. a signature of its input files); a new version makes
            a new build.
        build
            Builds the value; called by one caller only while others ask for the same key.

        Returns
        -------
        T
            The value of `version`; or, while another caller builds it, the previous value.

        Notes
        -----
        When the build fails, its caller gets the error; the waiting callers then try to build
        it themselves (one at a time), so a transient fault does not stick.
        """
        while True:
            with self._lock:
                slot = self._slots.setdefault(key, _Slot())
                if slot.has_value and slot.version == version:
                    return slot.value  # type: ignore[return-value]
                if slot.building is None:
                    slot.building = version
                    slot.done = threading.Event()
                    done = slot.done
                    break
                if slot.has_value:  # a build is under way: the previous value meanwhile
                    return slot.value  # type: ignore[return-value]
                done = slot.done
            done.wait()
        try:
            value = build()
        except BaseException:
            with self._lock:
                slot.building = None
            done.set()
            raise
        with self._lock:
            slot.version, slot.value, slot.has_value = version, value, True
            slot.building = None
            slot.builds += 1
        done.set()
        return value
