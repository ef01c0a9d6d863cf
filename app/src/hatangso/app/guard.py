"""Checks that run before a write request's body is read: credentials and the body's size.

FastAPI reads and parses a JSON body before it solves the route's dependencies, so a wrong key
on a large body would first cost the whole body in memory. :class:`WriteGuard` answers 401
(no credentials, or a wrong ``X-API-Key``), 429 (a client held back after too many wrong
credentials, :class:`hatangso.app.auth.Throttle`) or 413 (``Content-Length`` above the
limit) from the headers alone, without receiving a byte of the body. A bearer token is only
seen to be there: checking it needs the users' store, and it is checked, with the user's
role, by the route's dependency (:func:`hatangso.app.auth.current_principal`), before the
body of an upload is read. A body sent without ``Content-Length``
(``Transfer-Encoding: chunked``) is counted as it arrives, and refused with 413 as soon as it
passes the limit. The limit is ``HATANGSO_MAX_UPLOAD_MB`` (plus the multipart framing) for an
upload, and ``HATANGSO_MAX_JSON_MB`` for every other write request (a coverage configuration,
a plan request). The routes keep their own checks (the key dependency, the streamed size
limit of uploads) as well.
"""

from __future__ import annotations

import hmac
import json
import os
import re
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hatangso.app.auth import client_address, throttle_for
from hatangso.app.config import Settings, get_settings

__all__ = ["FRAMING_BYTES", "BodyTooLargeError", "WriteGuard", "hide_root"]

#: Multipart framing around an uploaded file: boundaries and part headers.
FRAMING_BYTES = 64 * 1024

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: The write requests whose body is an uploaded file; every other one carries JSON.
_UPLOAD_PATH = re.compile(r"^/api/scenarios/[^/]+/uploads/[^/]+/?$")


class BodyTooLargeError(HTTPException):
    """413: the body being received passed its limit (raised from ``receive``).

    An ``HTTPException``, so that the route reading the body answers it as the 413 it is
    (FastAPI passes an ``HTTPException`` raised while it reads the body on as it is).
    """

    def __init__(self, detail: str) -> None:
        # The rest of the body is left unread: the connection cannot carry another request.
        super().__init__(status_code=413, detail=detail, headers={"Connection": "close"})


def _upload_too_large(settings: Settings) -> str:
    return f"the upload is larger than {settings.max_upload_mb:g} MB (HATANGSO_MAX_UPLOAD_MB)"


def _json_too_large(settings: Settings) -> str:
    return f"the request body is larger than {settings.max_json_mb:g} MB (HATANGSO_MAX_JSON_MB)"


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
        refusal = _credentials_refusal(scope, headers, settings)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        upload_limit = settings.max_upload_bytes + FRAMING_BYTES
        if _UPLOAD_PATH.match(scope["path"]):
            limit, too_large = upload_limit, _upload_too_large(settings)
        else:
            limit, too_large = settings.max_json_bytes, _json_too_large(settings)
        declared = headers.get("content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > upload_limit:
            await _answer(send, 413, _upload_too_large(settings))
            return
        if declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, too_large)
            return
        await self._counted(scope, receive, send, limit, too_large)

    async def _counted(
        self, scope: Scope, receive: Receive, send: Send, limit: int, too_large: str
    ) -> None:
        """Pass the request on, refusing its body with 413 once more than `limit` bytes came."""
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(too_large)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLargeError:
            # Read where no route answers it (a middleware, a mount): answered here.
            if started:
                raise
            await _answer(send, 413, too_large)


def _credentials_refusal(
    scope: Scope, headers: dict[str, bytes], settings: Settings
) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
    """Return the answer to a write request without usable credentials, or None."""
    expected = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    key = headers.get("x-api-key")
    scheme, _, token = headers.get("authorization", b"").decode("latin-1").partition(" ")
    bearer = scheme.lower() == "bearer" and bool(token.strip())
    if not expected:
        return None  # no key configured: the dependency checks a token, if one is sent
    if key is None and not bearer:
        return 401, "this endpoint writes: send Authorization: Bearer <token>", _AUTHENTICATE
    throttle = throttle_for(scope.get("app"), settings)
    client = client_address(scope)
    wait = throttle.retry_after(client)
    if wait is not None:
        message = f"too many wrong credentials from this address: try again in {wait} s"
        return 429, message, [(b"retry-after", str(wait).encode("ascii"))]
    if key is not None and not hmac.compare_digest(key, expected.encode("utf-8")):
        throttle.failed(client)
        return 401, "wrong X-API-Key header", _AUTHENTICATE
    return None


_AUTHENTICATE = [(b"www-authenticate", b'Bearer, APIKey realm="hatangso"')]


async def _answer(
    send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        # The body is left unread: the client must not send it on this connection.
        (b"connection", b"close"),
    ]
    headers.extend(extra or [])
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
