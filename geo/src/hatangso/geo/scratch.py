"""Scratch folders named by their process, so that what a killed process left can be removed.

A job makes its temporary folder with :func:`pid_scratch` (``<parent>/<prefix><pid>-<random>``)
and removes it when it ends or fails. A process killed with SIGKILL cannot remove it; the next
job, or the service when it starts, calls :func:`remove_orphans`, which removes the folders of
every pid that no longer runs and leaves those of live processes alone.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["new_scratch", "owner_pid", "pid_alive", "pid_scratch", "remove_orphans"]

log = logging.getLogger(__name__)


def pid_alive(pid: int) -> bool:
    """Return whether process `pid` runs on this machine (signal 0 tests without signalling).

    Examples
    --------
    >>> pid_alive(os.getpid()), pid_alive(0)
    (True, False)
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # another user's process, or a platform without it
        return True
    return True


def new_scratch(parent: Path, prefix: str) -> Path:
    """Create and return a folder ``<parent>/<prefix><pid>-<random>`` (the caller removes it)."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


@contextmanager
def pid_scratch(parent: Path, prefix: str) -> Iterator[Path]:
    """Yield a new folder ``<parent>/<prefix><pid>-<random>``, removed afterwards."""
    tmp = new_scratch(parent, prefix)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def owner_pid(name: str, prefix: str) -> int | None:
    """Return the pid in a scratch name ``<prefix><pid>-...``, None when it has none."""
    if not name.startswith(prefix):
        return None
    text = name[len(prefix) :].partition("-")[0]
    return int(text) if text.isdigit() else None


def remove_orphans(parent: Path, prefix: str) -> list[Path]:
    """Remove the scratch entries ``<parent>/<prefix><pid>-*`` whose process is gone.

    Returns
    -------
    list of Path
        What was removed.
    """
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        pid = owner_pid(entry.name, prefix)
        if pid is None or pid_alive(pid):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    if removed:
        log.info("removed %d scratch folders of processes that ended abruptly", len(removed))
    return removed
