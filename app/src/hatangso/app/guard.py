"""Checks that run before a write request's body is read: the API key and the declared size.

FastAPI reads and parses a JSON body before it solves the route's dependencies, so a wrong key
on a large body would first cost the whole body in memory. :class:`WriteGuard` answers 401
(wrong or missing ``X-API-Key``) or 413 (``Content-Length`` above ``HATANGSO_MAX_UPLOAD_MB``)
from the headers alone, without receiving a byte of the body. The routes keep their own
checks (the key dependency, the streamed size limit of uploads) as well.
"""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from hatangso.app.config import Settings, get_settings

__all__ = ["FRAMING_BYTES", "WriteGuard", "hide_root"]

#: Multipart framing around an uploaded file: boundaries and part headers.
FRAMING_BYTES = 64 * 1024

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class WriteGuard:
    """ASGI middleware: refuse a write request by its headers before its body is read.

    Parameters
    ----------
    app
        The application it wraps; the settings are read from ``app.state.settings`` of the
        request's application (see ``create_app``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401 or 413 from the headers of a write request, else pass it on."""
        if scope["type"] != "http" or scope["method"] in _READ_METHODS:
            await self.app(scope, receive, send)
            return
        application = scope.get("app")
        settings = getattr(getattr(application, "state", None), "settings", None)
        if not isinstance(settings, Settings):
            settings = get_settings()
        headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        expected = settings.api_key.get_secret_value() if settings.api_key is not None else ""
        if expected and not hmac.compare_digest(
            headers.get("x-api-key", b""), expected.encode("utf-8")
        ):
            await _answer(send, 401, "missing or wrong X-API-Key header", authenticate=True)
            return
        declared = headers.get("content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > settings.max_upload_bytes + FRAMING_BYTES:
            await _answer(
                send,
                413,
                f"the upload is larger than {settings.max_upload_mb:g} MB (HATANGSO_MAX_UPLOAD_MB)",
            )
            return
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, detail: str, *, authenticate: bool = False) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        # The body is left unread: the client must not send it on this connection.
        (b"connection", b"close"),
    ]
    if authenticate:
        headers.append((b"www-authenticate", b"APIKey"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def hide_root(text: str, root: Path) -> str:
    """Return `text` with the workspace's absolute path replaced by paths relative to it.

    Error messages name the files they are about; the service shows those names relative to
    its workspace (``demo/uploads/villages.gpkg``), never where the workspace lies on the
    server.
    """
    for form in {str(root.resolve()), str(root.absolute())}:
        text = text.replace(form + os.sep, "").replace(form, ".")
    return text
