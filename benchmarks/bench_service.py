"""Load test of the service on loopback: the map page of the demo province (time and total size
with its assets), then 50 concurrent clients for 30 s on the KPI and villages endpoints and the
map page: (a) with the server idle but for them, (b) while a coverage run of the demo province
is in progress (started through the API with the key; started again if it ends before the
window does).

The clients behave as browsers do (``benchmarks/_clients.py``): keep-alive, ``Accept-Encoding:
gzip``, and each keeps the ETag of every URL and sends it back (``If-None-Match``), so that an
unchanged map page is answered ``304 Not Modified``. The idle window is measured once more with
clients that keep nothing (a'): every answer built and sent whole, the figure of a first visit.
Both are printed; the targets are judged on the browsers' (a) and (b).

Runs against the full demo province (1,300 villages), built once into ``build/bench-workspace``
(about 30 s the first time). The server is uvicorn in a process of its own on a free 127.0.0.1
port; the clients are keep-alive connections on one asyncio loop in this process, on the same
cores as the server (and the coverage run's process). Everything stops by itself.

    .venv/bin/python -P benchmarks/bench_service.py [--clients 50] [--seconds 30] [--workers 1]

Targets: no errors; p95 latency under 150 ms idle and under 500 ms during the run; the map page
under 1 s and under 5 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _clients import Window, cpu_s, load, print_table  # noqa: E402

WORKSPACE = ROOT / "build" / "bench-workspace"
ENDPOINTS = (
    "/api/scenarios/demo/kpis",
    "/api/scenarios/demo/villages?status=uncovered&indicator=mobile",
    "/api/scenarios/demo/villages?limit=100&offset=200",
    "/api/scenarios/demo/villages?status=uncovered&indicator=ftth&limit=200",
    "/map/demo",
)
#: The write key the benchmark gives the server, to start coverage runs.
API_KEY = secrets.token_urlsafe(16)
#: The demo province's own configuration (hatangso.scenarios.demo_job.run_demo).
RUN_CONFIG = {
    "targets": {
        "village_mobile_coverage": 1.0,
        "village_ftth_coverage": 1.0,
        "bts_site_sharing_ratio": 0.20,
        "key_area_5g_coverage": 1.0,
        "commune_data_network_connection": 1.0,
    },
    "terrain": {"clutter_loss_db": 15.0},
}
IDLE_P95_MS = 150.0
RUN_P95_MS = 500.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(workspace: Path, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``uvicorn hatangso.app.main:app`` in its own process (its own GIL) on loopback."""
    port = _free_port()
    env = {
        **os.environ,
        "HATANGSO_WORKSPACE": str(workspace),
        "HATANGSO_DEMO": "1",
        "HATANGSO_PREWARM": "0",
        "HATANGSO_API_KEY": API_KEY,
    }
    env.pop("HATANGSO_READ_KEY_REQUIRED", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-P",
            "-m",
            "uvicorn",
            "hatangso.app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--backlog",
            "512",
            "--workers",
            str(workers),
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600  # the first run builds the demo province
    while True:
        if process.poll() is not None:
            raise SystemExit("the server exited during start-up")
        if time.monotonic() > deadline:
            process.terminate()
            raise SystemExit("the server did not start in time")
        try:
            if httpx.get(f"{base}/health", timeout=2.0).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.5)


class Phase(Window):
    """What one load window measured, with the server's CPU time and the coverage runs."""

    def __init__(self, name: str, *, revalidate: bool) -> None:
        super().__init__()
        self.name = name
        self.revalidate = revalidate
        self.server_cpu_s = 0.0
        self.runs: list[tuple[int, float]] = []  # (status, seconds) of each coverage run
        self.run_share = 0.0  # share of the window during which a coverage run was in progress


async def _load(base: str, clients: int, seconds: float, phase: Phase) -> None:
    await load(base, list(ENDPOINTS), clients, seconds, revalidate=phase.revalidate, window=phase)


async def _load_during_runs(base: str, clients: int, seconds: float, phase: Phase) -> None:
    """Load the server while coverage runs of the demo province follow one another.

    The run still going when the window closes is abandoned: its client disconnects, and the
    server stops its process.
    """
    window: list[float] = []  # start and end of the load window
    busy: list[tuple[float, float]] = []  # start and end of each run

    async def keep_running(client: httpx.AsyncClient, started: asyncio.Event) -> None:
        while not window or time.perf_counter() < window[0] + seconds:
            t0 = time.perf_counter()
            started.set()
            try:
                answer = await client.post(
                    "/api/scenarios/demo/coverage",
                    json=RUN_CONFIG,
                    headers={"X-API-Key": API_KEY},
                )
            except asyncio.CancelledError:
                busy.append((t0, time.perf_counter()))
                phase.runs.append((0, time.perf_counter() - t0))
                raise
            t1 = time.perf_counter()
            busy.append((t0, t1))
            phase.runs.append((answer.status_code, t1 - t0))
            if answer.status_code != 200:
                phase.errors.append(f"coverage run: HTTP {answer.status_code} {answer.text[:200]}")
                return

    async with httpx.AsyncClient(base_url=base, timeout=900.0) as client:
        started = asyncio.Event()
        runner = asyncio.create_task(keep_running(client, started))
        await started.wait()
        await asyncio.sleep(2.0)  # the run's process is at work when the window opens
        window.append(time.perf_counter())
        await _load(base, clients, seconds, phase)
        window.append(time.perf_counter())
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    covered = sum(max(0.0, min(b, window[1]) - max(a, window[0])) for a, b in busy)
    phase.run_share = covered / (window[1] - window[0])


def _report(phase: Phase, clients: int, target_ms: float) -> bool:
    """Print one phase's figures; return whether it met its targets."""
    n = len(phase.latencies)
    print(
        f"({phase.name}) {clients} clients, {phase.elapsed:.1f} s: {n} requests "
        f"({n / max(phase.elapsed, 1e-9):.0f}/s), {len(phase.errors)} errors; CPU per request: "
        f"server {phase.server_cpu_s / max(n, 1) * 1000:.2f} ms, "
        f"clients {phase.client_cpu_s / max(n, 1) * 1000:.2f} ms"
    )
    if phase.revalidate:
        print(
            f"    clients as browsers: each sends back the ETag it got (If-None-Match); "
            f"{phase.not_modified} answers were 304 Not Modified"
        )
    else:
        print("    clients without a cache: every answer built and sent whole")
    if phase.runs:
        runs = ", ".join(
            f"HTTP {status} in {seconds:.1f} s" if status else f"abandoned after {seconds:.1f} s"
            for status, seconds in phase.runs
        )
        print(
            f"    coverage runs: {runs}; a run was in progress for "
            f"{phase.run_share:.0%} of the window"
        )
    p95 = print_table(phase, list(ENDPOINTS), f"(target p95 < {target_ms:.0f} ms, 0 errors)")
    return not phase.errors and p95 < target_ms


def _map_page(base: str) -> tuple[float, int, int]:
    """Fetch the map page and everything it loads; return (page seconds, total bytes, files)."""
    with httpx.Client(base_url=base, timeout=60.0) as client:
        start = time.perf_counter()
        page = client.get("/map/demo")
        page_s = time.perf_counter() - start
        page.raise_for_status()
        urls = set(re.findall(r"""(?:src|href)=["'](/[^"']+)["']""", page.text))
        urls |= set(re.findall(r"""L\.imageOverlay\(\s*["'](/[^"']+)["']""", page.text))
        total = len(page.content)
        for url in sorted(urls):
            asset = client.get(url)
            asset.raise_for_status()
            total += len(asset.content)
    return page_s, total, len(urls) + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (hatangso serve --workers)"
    )
    args = parser.parse_args()
    WORKSPACE.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    process, base = _start(WORKSPACE, args.workers)
    print(f"server: {args.workers} worker process(es)")
    print(f"server ready at {base} in {time.perf_counter() - t0:.1f} s (workspace {WORKSPACE})")
    try:
        cold_s = time.perf_counter()
        httpx.get(f"{base}/map/demo", timeout=120.0).raise_for_status()
        cold_s = time.perf_counter() - cold_s
        page_s, total_bytes, files = _map_page(base)
        print(
            f"map page: first build {cold_s:.2f} s; served in {page_s * 1000:.0f} ms; "
            f"{total_bytes / 1e6:.2f} MB with its {files - 1} assets"
            f" (targets: < 1 s, < 5 MB)"
        )
        idle = Phase("a: idle", revalidate=True)
        whole = Phase("a': idle, no revalidation", revalidate=False)
        running = Phase("b: during a coverage run", revalidate=True)
        print(
            f"load: the clients run in this process, on the same {os.cpu_count()} cores as the "
            "server and its job processes; their CPU time is part of what the server competes with"
            f" (load average now {os.getloadavg()[0]:.1f})"
        )
        cpu = cpu_s(process.pid)
        asyncio.run(_load(base, args.clients, args.seconds, idle))
        idle.server_cpu_s, cpu = cpu_s(process.pid) - cpu, cpu_s(process.pid)
        asyncio.run(_load(base, args.clients, args.seconds, whole))
        whole.server_cpu_s, cpu = cpu_s(process.pid) - cpu, cpu_s(process.pid)
        asyncio.run(_load_during_runs(base, args.clients, args.seconds, running))
        running.server_cpu_s = cpu_s(process.pid) - cpu
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    ok_idle = _report(idle, args.clients, IDLE_P95_MS)
    ok_whole = _report(whole, args.clients, IDLE_P95_MS)
    ok_run = _report(running, args.clients, RUN_P95_MS)
    ok = ok_idle and ok_run and page_s < 1 and total_bytes < 5e6
    if ok and not ok_whole:
        print("(the idle target is met by browsers revalidating, not by clients without a cache)")
    print("PASS" if ok else "MISSED A TARGET")
    return 0 if not (idle.errors or whole.errors or running.errors) else 1


if __name__ == "__main__":
    sys.exit(main())
