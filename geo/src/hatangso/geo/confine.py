"""Files named by a configuration: confined to one folder, regular, and read within a size limit.

A configuration or scenario file, or a request to the service, may name other files (a
calibration, exclusion polygons). Such a name is trusted no further than the folder it belongs
to: :func:`confined_file` resolves it inside that folder (symbolic links followed) and refuses
an absolute path, a ``..`` that climbs out, or a link that leads out, with the same message as
a file that does not exist, so that the answer tells nothing about the rest of the machine.
:func:`checked_file` and :func:`read_limited` then refuse what is not a regular file (a
device such as ``/dev/zero``, a FIFO, a folder) and what is larger than the limit, before
anything reads it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath

from hatangso.geo.errors import ConfigError, Problem

__all__ = ["checked_file", "confined_file", "read_limited"]


def _outside(value: str, base: Path, *, plain_name: bool) -> Path | None:
    """Return the resolved path of `value` inside `base`, or None when it is not inside."""
    if not value or "\x00" in value:
        return None
    posix, windows = PurePosixPath(value), PureWindowsPath(value)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or windows.root:
        return None
    parts = windows.parts if "\\" in value else posix.parts
    if ".." in parts or (plain_name and len(parts) != 1):
        return None
    root = base.resolve()
    try:
        path = (root / value).resolve()
    except (OSError, RuntimeError):  # a loop of links
        return None
    return path if path.is_relative_to(root) and path != root else None


def confined_file(
    value: str | os.PathLike[str],
    base: Path,
    *,
    key: str,
    source: str,
    where: str,
    plain_name: bool = False,
) -> Path:
    """Return the file `value` names inside `base`, resolved; refuse anything else.

    Parameters
    ----------
    value
        The path as written in the configuration, relative to `base`.
    base
        The folder the configuration may read from.
    key
        The configuration key, for messages (``mobile.calibration``).
    source
        The configuration's name, for messages.
    where
        How messages describe `base` (``"the configuration file's folder"``).
    plain_name
        Accept only a file name, no folders (the service's uploaded files).

    Returns
    -------
    Path
        The resolved path, inside `base`, of an existing regular file.

    Raises
    ------
    ConfigError
        Naming `key`: the same message whether the path leaves `base` or names nothing, so
        that it reveals nothing outside `base`; another when it names a folder, a device or a
        FIFO inside `base`.

    Examples
    --------
    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp())
    >>> confined_file("/etc/passwd", base, key="mobile.calibration", source="c.yaml",
    ...               where="the configuration file's folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hatangso.geo.errors.ConfigError: c.yaml, column 'mobile.calibration': '/etc/passwd' is not...
    """
    text = os.fspath(value)
    path = _outside(text, base, plain_name=plain_name)
    if path is None or not path.exists():
        shape = "a file name" if plain_name else "a path relative to it, with no '..'"
        raise ConfigError(
            Problem(
                file=source,
                column=key,
                message=f"'{text}' is not a file in {where}",
                fix=f"put the file in {where} and give {shape}",
            )
        )
    return checked_file(path, key=key, source=source, shown=text)


def checked_file(
    path: Path, *, key: str, source: str, shown: str, max_bytes: int | None = None
) -> Path:
    """Return `path` if it is a regular file (of at most `max_bytes`), else raise.

    Raises
    ------
    ConfigError
        Naming `key`, when `path` is missing, a folder, a device, a FIFO or too large.
    """
    try:
        info = path.stat()
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            Problem(
                file=source,
                column=key,
                message=f"'{shown}' is not a regular file",
                fix="name a file (not a folder, a device or a pipe)",
            )
        )
    if max_bytes is not None and info.st_size > max_bytes:
        raise ConfigError(_too_large(shown, key=key, source=source, max_bytes=max_bytes))
    return path


def _too_large(shown: str, *, key: str, source: str, max_bytes: int) -> Problem:
    return Problem(
        file=source,
        column=key,
        message=f"'{shown}' is larger than the limit of {max_bytes / 1024 / 1024:g} MB",
        fix="give a smaller file, or raise HATANGSO_MAX_REFERENCED_FILE_BYTES",
    )


def read_limited(path: Path, *, max_bytes: int, key: str, source: str, shown: str) -> bytes:
    """Read a regular file of at most `max_bytes`; refuse anything else before reading.

    The file is opened without blocking (a FIFO would wait for a writer) and checked on the
    open descriptor, so that what is read is what was checked.

    Raises
    ------
    ConfigError
        Naming `key`, when `path` is missing, not a regular file or larger than `max_bytes`.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        fd = -1
    try:
        if fd < 0 or not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(
                Problem(
                    file=source,
                    column=key,
                    message=f"'{shown}' is not a regular file",
                    fix="name a file (not a folder, a device or a pipe)",
                )
            )
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            data = handle.read(max_bytes + 1)
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:
        raise ConfigError(_too_large(shown, key=key, source=source, max_bytes=max_bytes))
    return data
