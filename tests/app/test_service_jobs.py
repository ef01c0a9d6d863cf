"""Jobs in child processes: memory and time limits, a client that goes away, jobs at once.

The limits are checked with tiny jobs that stdlib functions make (``bytearray(n)`` allocates n
bytes, ``time.sleep`` waits), behind a route added to the service for the test; the real
uploads, runs and plans go through the same runner (tests/app/test_service_uploads.py).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from hatangso.app.config import Settings
from hatangso.app.main import create_app
from hatangso.app.worker import Jobs, _answer, run_job
from hatangso.coverage.config import parse_config
from hatangso.coverage.siting import PlanInfeasibleError
from hatangso.geo.errors import InputError, Problem

SettingsFor = Callable[..., Settings]
KEY = {"X-API-Key": "test-key-123"}


def _job_app(settings: Settings) -> FastAPI:
    """The service, with ``POST /test-job/{kind}`` running one of a few tiny jobs."""
    app = create_app(settings)

    @app.post("/test-job/{kind}")
    async def job(request: Request, kind: str, n: int = 0) -> dict[str, int]:
        if kind == "allocate":
            data = await run_job(request, "the test job", bytearray, n)
            return {"bytes": len(data)}
        if kind == "sleep":
            await run_job(request, "the test job", time.sleep, n)
            return {"slept": n}
        if kind == "bug":  # an InputError without problems: a ValueError, a programmer's error
            await run_job(request, "the test job", InputError, [])
        if kind == "config":
            await run_job(
                request, "the test job", parse_config, {"mobile": {"rule": "x"}}, source="config"
            )
        return {}

    return app


def _gone(pid: int, within_s: float) -> bool:
    """Whether process `pid` ends within `within_s` seconds (gone, or a zombie not reaped yet)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (ProcessLookupError, FileNotFoundError):
            return True
        if state in ("Z", "X"):  # dead: its memory is freed, only its exit status remains
            return True
        time.sleep(0.05)
    return False


def _child_pid(jobs: Jobs, within_s: float = 60.0) -> int:
    """The pid of the (first) job child once one runs (the fork server may be starting)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        running = jobs.running()
        if running:
            return running[0]
        time.sleep(0.02)
    raise AssertionError("no job process started")


@pytest.fixture()
def settings(tmp_path: Path, settings_for: SettingsFor) -> Settings:
    return settings_for(tmp_path, job_memory_mb=64, job_seconds=3, jobs=1)


def test_a_job_over_its_memory_limit_is_refused_naming_it(settings: Settings) -> None:
    with TestClient(_job_app(settings)) as client:
        small = client.post("/test-job/allocate", params={"n": 1 << 20}, headers=KEY)
        assert small.status_code == 200 and small.json() == {"bytes": 1 << 20}
        big = client.post("/test-job/allocate", params={"n": 256 << 20}, headers=KEY)
        assert big.status_code == 413
        assert big.json()["detail"] == (
            "the test job needs more than 64 MB (HATANGSO_JOB_MEMORY_MB)"
        )
        # The server keeps answering, and runs the next job.
        assert client.get("/health").status_code == 200
        again = client.post("/test-job/allocate", params={"n": 1 << 20}, headers=KEY)
        assert again.status_code == 200
        assert client.app.state.jobs.running() == []  # type: ignore[attr-defined]


def test_a_job_over_its_time_limit_is_503_and_its_process_is_gone(settings: Settings) -> None:
    with TestClient(_job_app(settings)) as client:
        jobs: Jobs = client.app.state.jobs  # type: ignore[attr-defined]
        pids: list[int] = []
        started: list[float] = []

        def watch() -> None:
            pids.append(_child_pid(jobs))
            started.append(time.monotonic())

        watcher = threading.Thread(target=watch)
        watcher.start()
        answer = client.post("/test-job/sleep", params={"n": 60}, headers=KEY)
        watcher.join()
        assert answer.status_code == 503
        assert answer.json()["detail"] == "the test job took longer than 3 s (HATANGSO_JOB_SECONDS)"
        assert time.monotonic() - started[0] < 10  # 3 s and a poll, not 60 s
        assert _gone(pids[0], 2.0)
        assert jobs.running() == []


def test_one_job_too_many_is_503_with_retry_after(settings: Settings) -> None:
    with TestClient(_job_app(settings)) as client:
        jobs: Jobs = client.app.state.jobs  # type: ignore[attr-defined]
        first = threading.Thread(
            target=client.post,
            args=("/test-job/sleep",),
            kwargs={"params": {"n": 2}, "headers": KEY},
        )
        first.start()
        _child_pid(jobs)
        second = client.post("/test-job/sleep", params={"n": 0}, headers=KEY)
        first.join()
        assert second.status_code == 503
        assert "HATANGSO_JOBS" in second.json()["detail"]
        assert int(second.headers["retry-after"]) > 0
        assert client.post("/test-job/sleep", params={"n": 0}, headers=KEY).status_code == 200


def test_errors_in_the_job_reach_the_client_as_before(settings: Settings) -> None:
    with TestClient(_job_app(settings), raise_server_exceptions=False) as client:
        # A HatangsoError: 422 with its problems, as the service's handler makes it.
        config = client.post("/test-job/config", headers=KEY)
        assert config.status_code == 422
        problems = config.json()["problems"]
        assert problems and problems[0]["column"] == "mobile.rule"
        # An unexpected error: 500 with the body every unexpected error gets.
        bug = client.post("/test-job/bug", headers=KEY)
        assert bug.status_code == 500 and bug.text == "Internal Server Error"


def test_errors_cross_with_their_message_and_attributes() -> None:
    errors: list[Exception] = [
        InputError([Problem(file="a.csv", message="no id", fix="add one", row=3)]),
        PlanInfeasibleError(
            "target too high", unreachable_ids=["V1"], unreachable_names=["A"], best_share=0.5
        ),
    ]
    for error in errors:
        kind, (back, _text) = pickle.loads(_answer("raise", (error, "traceback")))
        assert kind == "raise" and type(back) is type(error)
        assert str(back) == str(error) and vars(back) == vars(error)


@pytest.fixture()
def server(settings: Settings) -> Iterator[tuple[str, FastAPI]]:
    """The service with the test route, served by uvicorn on a free loopback port."""
    app = _job_app(settings.model_copy(update={"job_seconds": 60}))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    port = served.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        served.should_exit = True
        thread.join(30)


def test_a_client_that_goes_away_has_its_job_killed(server: tuple[str, FastAPI]) -> None:
    base, app = server
    jobs: Jobs = app.state.jobs
    Jobs.start_server()  # so that the job's process runs well within the client's patience
    pids: list[int] = []
    watcher = threading.Thread(target=lambda: pids.append(_child_pid(jobs)))
    watcher.start()
    with httpx.Client(base_url=base) as client, pytest.raises(httpx.ReadTimeout):
        # The client gives up after 1 s, and closes its connection, while the job runs.
        client.post(
            "/test-job/sleep",
            params={"n": 60},
            headers=KEY,
            timeout=httpx.Timeout(5.0, read=1.0),
        )
    watcher.join()
    assert _gone(pids[0], 2.0), "the job's process outlived its client by 2 s"
    # The server forgets the job in its own loop, just after the kill: give it a moment.
    deadline = time.monotonic() + 5.0
    while jobs.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs.running() == []


_SERVER = """
import asyncio, time
from hatangso.app.worker import Jobs

class Client:
    async def is_disconnected(self):
        return False

async def main():
    jobs = Jobs(seconds=600, memory_mb=256, max_jobs=1)
    job = asyncio.ensure_future(jobs.run(Client(), "the test job", time.sleep, 600))
    while not jobs.running():
        await asyncio.sleep(0.05)
    print(jobs.running()[0], flush=True)
    await job

if __name__ == "__main__":
    asyncio.run(main())
"""


@pytest.mark.slow
def test_a_job_does_not_outlive_a_killed_server() -> None:
    # A "server" that runs one long job, killed with SIGKILL: it cannot stop the job itself.
    server = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        pid = int(server.stdout.readline())
        assert not _gone(pid, 0.2)
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()
    assert _gone(pid, 3.0), "the job's process outlived its server"
