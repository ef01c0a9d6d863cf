"""Write requests sent without Content-Length (chunked): refused once they pass the limit.

httpx sends a generator body as ``Transfer-Encoding: chunked``; its ASGI transport hands it to
the service one chunk per ``receive``, so the chunks the generator gave are the bytes the
service read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hatangso.app.config import Settings
from hatangso.app.main import create_app

SettingsFor = Callable[..., Settings]
KEY = {"X-API-Key": "test-key-123"}
CHUNK = 64 * 1024


class Body:
    """A chunked body of `chunks` chunks of 64 KiB between `head` and `tail`, counting reads."""

    def __init__(self, chunks: int, *, head: bytes = b"", tail: bytes = b"") -> None:
        self.chunks, self.head, self.tail = chunks, head, tail
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        for _ in range(self.chunks):
            self.sent += 1
            yield b" " * CHUNK
        yield self.tail


@pytest.fixture()
def app(demo_workspace: Path, settings_for: SettingsFor) -> FastAPI:
    return create_app(settings_for(demo_workspace, max_upload_mb=1, max_json_mb=0.25))


def _post(app: FastAPI, path: str, content: Body | bytes, content_type: str) -> httpx.Response:
    """POST through httpx to the application, the body streamed one chunk per receive."""

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post(
                path, content=content, headers={**KEY, "Content-Type": content_type}
            )

    return asyncio.run(post())


def test_a_chunked_upload_is_refused_as_soon_as_it_passes_the_limit(app: FastAPI) -> None:
    boundary = "hatangsoboundary"
    body = Body(
        160,  # 10 MiB
        head=(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode(),
        tail=f"\r\n--{boundary}--\r\n".encode(),
    )
    answer = _post(
        app,
        "/api/scenarios/chunked/uploads/sites",
        body,
        f"multipart/form-data; boundary={boundary}",
    )
    assert answer.status_code == 413
    assert answer.json()["detail"] == "the upload is larger than 1 MB (HATANGSO_MAX_UPLOAD_MB)"
    # 1 MiB plus 64 KiB of framing: 17 chunks of 64 KiB pass it; not one more was read.
    assert body.sent == 17


@pytest.mark.parametrize(
    ("path", "head"),
    [
        ("/api/scenarios/demo/coverage", b'{"mobile": {"rule": "point"}, "x": "'),
        ("/api/scenarios/demo/plans", b'{"operator": "VNPT", "budget": 1, "x": "'),
    ],
)
def test_a_chunked_json_body_has_the_json_limit(app: FastAPI, path: str, head: bytes) -> None:
    body = Body(80, head=head, tail=b'"}')  # 5 MiB, far under the upload limit
    answer = _post(app, path, body, "application/json")
    assert answer.status_code == 413
    assert answer.json()["detail"] == (
        "the request body is larger than 0.25 MB (HATANGSO_MAX_JSON_MB)"
    )
    assert body.sent == 4  # 256 KiB and the head: passed with the fourth chunk


def test_a_declared_json_body_over_its_limit_is_refused_unread(app: FastAPI) -> None:
    answer = _post(app, "/api/scenarios/demo/plans", b" " * (300 * 1024), "application/json")
    assert answer.status_code == 413
    assert "HATANGSO_MAX_JSON_MB" in answer.json()["detail"]


def test_a_chunked_json_body_within_its_limit_reaches_the_route(app: FastAPI) -> None:
    # A plan request without a budget or target: the route's own validation answers.
    body = Body(1, head=b'{"operator": "VNPT", "x": "', tail=b'"}')
    answer = _post(app, "/api/scenarios/demo/plans", body, "application/json")
    assert answer.status_code == 422, answer.text
    assert body.sent == 1
