"""Receiving files safely: size-limited streaming, known types only, zip archives checked.

Nothing the client sends becomes a path: a file is saved under a fresh temporary folder with a
name made of safe characters only (the client's name, cleaned, keeps error messages readable),
and a zip archive is opened only after every member has been checked for path traversal,
links, member count, declared and actual uncompressed size and compression ratio.
"""

from __future__ import annotations

import logging
import re
import stat
import unicodedata
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hatangso.geo.errors import InputError, Problem

__all__ = [
    "ALLOWED_SUFFIXES",
    "TooLarge",
    "ZipLimits",
    "check_zip",
    "limited",
    "safe_filename",
]

log = logging.getLogger(__name__)

#: File types accepted for upload (a shapefile must come zipped, with its .dbf, .shx, .prj).
ALLOWED_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".csv", ".tsv", ".txt", ".xlsx")
_ZIP_SUFFIXES = (".zip", ".xlsx")
_MAGIC = {
    ".gpkg": (b"SQLite format 3\x00",),
    ".zip": (b"PK\x03\x04", b"PK\x05\x06"),
    ".xlsx": (b"PK\x03\x04",),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class TooLarge(Exception):  # noqa: N818 - it is a signal, caught by the route and mapped to 413
    """The request body passed the size limit."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"the upload is larger than the limit of {limit_bytes} bytes")
        self.limit_bytes = limit_bytes


def _problem(name: str, message: str, fix: str) -> InputError:
    return InputError(Problem(file=name, message=message, fix=fix))


def safe_filename(client_name: str | None, *, default: str = "upload") -> tuple[str, str]:
    """Return a safe file name for `client_name` and its lower-case suffix.

    Only the last path component is kept; accents are removed, and every character outside
    letters, digits, ``.``, ``_`` and ``-`` becomes ``_``.

    Raises
    ------
    InputError
        If the suffix is not one of :data:`ALLOWED_SUFFIXES`.

    Examples
    --------
    >>> safe_filename("../../etc/Thôn bản.geojson")
    ('Thon_ban.geojson', '.geojson')
    """
    raw = (client_name or default).replace("\\", "/")
    base = PurePosixPath(raw).name or default
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE.sub("_", ascii_name)
    suffix = next((s for s in ALLOWED_SUFFIXES if cleaned.lower().endswith(s)), None)
    if suffix is None:
        given = PurePosixPath(cleaned).suffix.lower() or "(none)"
        raise _problem(
            base,
            f"unknown file type '{given}'",
            "upload GeoJSON, GeoPackage, a zipped Shapefile, CSV or XLSX ("
            + ", ".join(ALLOWED_SUFFIXES)
            + ")",
        )
    stem = cleaned[: -len(suffix)].strip("._-")[:80] or default
    return f"{stem}{suffix}", suffix


async def limited(stream: AsyncIterator[bytes], limit_bytes: int) -> AsyncGenerator[bytes, None]:
    """Pass the chunks of `stream` on, raising :class:`TooLarge` once `limit_bytes` is passed."""
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit_bytes:
            raise TooLarge(limit_bytes)
        yield chunk


def check_magic(path: Path, suffix: str, name: str) -> None:
    """Check that a binary file starts as its type says (GeoPackage, zip, xlsx)."""
    expected = _MAGIC.get(suffix)
    if expected is None:
        return
    with open(path, "rb") as handle:
        head = handle.read(16)
    if not any(head.startswith(magic) for magic in expected):
        raise _problem(
            name,
            f"the content is not a {suffix} file",
            "upload the file itself, saved in the format its name says",
        )


@dataclass(frozen=True)
class ZipLimits:
    """Limits on a zip archive: members, total uncompressed bytes, compression ratio."""

    max_members: int = 200
    max_total_bytes: int = 1024 * 1024 * 1024
    max_ratio: float = 200.0


def _unsafe_member(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\x00" in name:
        return "a NUL character in its name"
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        return "an absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "a '..' path component"
    mode = info.external_attr >> 16
    if mode and stat.S_ISLNK(mode):
        return "a symbolic link"
    return None


def check_zip(path: Path, name: str, limits: ZipLimits) -> None:
    """Check a zip archive (or xlsx workbook) before anything reads its members.

    Every member is decompressed in a streaming pass that counts bytes and stops as soon as a
    limit is passed, so a member whose header understates its size is caught too.

    Raises
    ------
    InputError
        If the archive is broken, encrypted, has too many members, a member escapes the
        archive's folder (``..``, an absolute path, a link), or it would inflate past
        `limits.max_total_bytes` or at a ratio above `limits.max_ratio`.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _problem(name, f"is not a readable zip archive ({exc})", "zip it again") from exc
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise _problem(
                name,
                f"the archive holds {len(members)} members, more than {limits.max_members}",
                "zip only the layer's files",
            )
        declared = 0
        for info in members:
            reason = _unsafe_member(info)
            if reason is not None:
                raise _problem(
                    name,
                    f"member '{info.filename}' has {reason}",
                    "zip the files with plain relative names",
                )
            if info.flag_bits & 0x1:
                raise _problem(
                    name, f"member '{info.filename}' is encrypted", "zip without a password"
                )
            declared += info.file_size
            if declared > limits.max_total_bytes:
                raise _problem(
                    name,
                    f"the archive would inflate to more than {limits.max_total_bytes} bytes",
                    "upload a smaller layer",
                )
        total = 0
        for info in members:
            if info.is_dir():
                continue
            budget = min(info.file_size, limits.max_total_bytes - total)
            size = 0
            try:
                with archive.open(info) as member:
                    while chunk := member.read(1 << 16):
                        size += len(chunk)
                        if size > budget:
                            raise _problem(
                                name,
                                f"member '{info.filename}' inflates past its declared size or "
                                "the archive's limit",
                                "upload an archive made by an ordinary zip tool",
                            )
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise _problem(
                    name, f"member '{info.filename}' cannot be read ({exc})", "zip it again"
                ) from exc
            total += size
            ratio = size / max(info.compress_size, 1)
            if size > 1 << 20 and ratio > limits.max_ratio:
                raise _problem(
                    name,
                    f"member '{info.filename}' is compressed {ratio:.0f} to 1, above the limit "
                    f"of {limits.max_ratio:.0f} (a decompression bomb?)",
                    "upload the layer uncompressed or zipped by an ordinary tool",
                )
