"""Layer versions over HTTP: the ``ETag`` of an upload's answer and its ``If-Match`` header.

Each upload of a layer makes a new version (1, 2, ...; see
:meth:`hatangso.app.workspace.Workspace.store_layer`). The answer carries it as ``version`` and
as the strong ``ETag`` ``"<version>"``. A client that sends ``If-Match`` with that tag (quoted
or bare) on its next upload has it applied only if nobody replaced the layer meanwhile.
"""

from __future__ import annotations

from fastapi import HTTPException

__all__ = ["etag", "if_match"]


def etag(version: int | None) -> str:
    """Return the ``ETag`` of layer version `version` (``"0"`` when unknown)."""
    return f'"{version or 0}"'


def if_match(header: str | None) -> int | None:
    """Return the version an ``If-Match`` header requires; None when any version will do.

    Raises
    ------
    HTTPException
        422 when the header names no version (``If-Match: "3"`` or ``If-Match: 3``).
    """
    if header is None or header.strip() in ("", "*"):
        return None
    text = header.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise HTTPException(
            status_code=422,
            detail=f"If-Match must be the layer's version, as the last upload's ETag gave it "
            f'(e.g. If-Match: "3"), not {header!r}',
        )
    return int(text)
