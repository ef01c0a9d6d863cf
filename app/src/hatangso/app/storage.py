"""Process-safe building blocks of the workspace: file locks, generations and atomic switches.

The service may run as several worker processes, and its jobs (uploads, coverage runs) in
child processes that can be killed at any moment. Two mechanisms keep the files whole:

Locks
    :func:`exclusive`, :func:`shared` and :func:`try_exclusive` take ``fcntl.flock`` locks on
    a lock file. Such a lock belongs to an open file description: it excludes other processes
    and other threads of the same process (each opens the file anew), and the kernel releases
    it when its holder dies, even by ``SIGKILL``. :func:`exclusive` is reentrant within a
    thread, so that a function holding a scenario's write lock may call another that takes it.

Generations
    A set of files that must change together (a run's outputs, an uploaded layer with its
    rejected rows and record) is written into a new folder, a *generation*, named by
    :func:`new_id` (time-ordered). :func:`switch` then points a symbolic link at it with one
    :func:`os.replace`: readers see the previous generation or the new one, never a mixture.
    :func:`mark_published` tags a generation once it has been switched to, so that
    :func:`prune` removes old published ones only, never one a live job is still writing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "PUBLISHED",
    "exclusive",
    "mark_published",
    "new_id",
    "prune",
    "read_link",
    "remove",
    "shared",
    "switch",
    "try_exclusive",
]

#: Marker file of a generation that has been published (switched to) at least once.
PUBLISHED = ".published"

_held = threading.local()


def _open_lock(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def _held_locks() -> dict[str, int]:
    held: dict[str, int] | None = getattr(_held, "locks", None)
    if held is None:
        held = _held.locks = {}
    return held


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on `path` (created when missing); reentrant per thread."""
    key = str(path)
    held = _held_locks()
    if key in held:  # this thread holds it already
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    fd = _open_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held[key] = 1
        try:
            yield
        finally:
            del held[key]
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def shared(path: Path) -> Iterator[None]:
    """Hold a shared ``flock`` on `path`: many holders at once, none while it is exclusive."""
    fd = _open_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


@contextmanager
def try_exclusive(path: Path) -> Iterator[bool]:
    """Take an exclusive ``flock`` on `path` if nobody holds it; yield whether it was taken."""
    if str(path) in _held_locks():  # this thread holds it: taking it would deadlock
        yield False
        return
    fd = _open_lock(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            yield False
            return
        yield True
    finally:
        os.close(fd)


def new_id() -> str:
    """Return a new generation name: UTC time (so names sort by creation), pid, random part."""
    stamp = datetime.now(UTC).strftime("%Y%m%dt%H%M%S%f")
    return f"{stamp}-{os.getpid()}-{secrets.token_hex(3)}"


def read_link(link: Path) -> str | None:
    """Return where symbolic link `link` points (as written), or None when it is no link."""
    try:
        return os.readlink(link)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return None


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def switch(link: Path, target: str) -> str | None:
    """Point symbolic link `link` at `target` (relative to its folder) in one atomic step.

    The new link is made beside the old one and moved over it with :func:`os.replace`, so a
    reader resolving `link` finds the old target or the new one. A regular file or an empty
    folder in the way is replaced as well.

    Returns
    -------
    str or None
        The previous target, None when `link` was no link.
    """
    previous = read_link(link)
    tmp = link.with_name(f".{link.name}.{secrets.token_hex(4)}.tmp")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(link.parent)
    return previous


def mark_published(generation: Path) -> None:
    """Tag `generation` as published: from now on :func:`prune` may remove it once old."""
    (generation / PUBLISHED).touch()


def remove(path: Path) -> None:
    """Remove a file, link or folder tree; missing is fine."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def prune(folder: Path, keep: Iterable[str | None], *, published_only: bool = True) -> list[Path]:
    """Remove the generations in `folder` except those named in `keep`.

    Parameters
    ----------
    folder
        Folder of generations (one sub-folder each).
    keep
        Names to keep (None entries are ignored).
    published_only
        Remove only generations marked published (live jobs may be writing the others). False
        removes unpublished ones too: only for a cleaner that knows no job is live.

    Returns
    -------
    list of Path
        The generations removed.
    """
    kept = {name for name in keep if name}
    removed: list[Path] = []
    with contextlib.suppress(FileNotFoundError):
        for generation in sorted(folder.iterdir()):
            if generation.name in kept or not generation.is_dir():
                continue
            if published_only and not (generation / PUBLISHED).is_file():
                continue
            shutil.rmtree(generation, ignore_errors=True)
            removed.append(generation)
    return removed
