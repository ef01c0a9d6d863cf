"""Load test of the service on loopback: 50 concurrent clients for 30 s on the KPI and villages
endpoints, then the map page of the demo province (time and total size with its assets).

Runs against the full demo province (1,300 villages), built once into ``build/bench-workspace``
(about 30 s the first time). The server is uvicorn in a process of its own on a free 127.0.0.1
port; the clients are keep-alive connections on one asyncio loop in this process. Everything stops
by itself.

    .venv/bin/python -P benchmarks/bench_service.py [--clients 50] [--seconds 30]

Targets: no errors; p95 latency under 100 ms; the map page under 1 s and under 5 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = ROOT / "build" / "bench-workspace"
ENDPOINTS = (
    "/api/scenarios/demo/kpis",
    "/api/scenarios/demo/villages?status=uncovered&indicator=mobile",
    "/api/scenarios/demo/villages?limit=100&offset=200",
    "/api/scenarios/demo/villages?status=uncovered&indicator=ftth&limit=200",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(workspace: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``uvicorn hatangso.app.main:app`` in its own process (its own GIL) on loopback."""
    port = _free_port()
    env = {
        **os.environ,
        "HATANGSO_WORKSPACE": str(workspace),
        "HATANGSO_DEMO": "1",
        "HATANGSO_PREWARM": "0",
    }
    env.pop("HATANGSO_API_KEY", None)
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


async def _client(
    host: str, port: int, stop_at: float, index: int, latencies: list[float], errors: list[str]
) -> None:
    """One keep-alive HTTP/1.1 connection sending GETs back to back until `stop_at`.

    A minimal client (as wrk is): the request written, the status line and headers read, the
    body read to its Content-Length. A full Python HTTP client costs several times the
    server's time per request and would measure itself.
    """
    reader, writer = await asyncio.open_connection(host, port)
    n = index
    try:
        while time.perf_counter() < stop_at:
            url = ENDPOINTS[n % len(ENDPOINTS)]
            n += 1
            start = time.perf_counter()
            writer.write(f"GET {url} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("ascii"))
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if match is None:
                    errors.append(f"{url}: no Content-Length")
                    return
                body = await reader.readexactly(int(match.group(1)))
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                errors.append(f"{url}: {exc!r}")
                return
            if status != 200 or not body:
                errors.append(f"{url}: HTTP {status}")
            latencies.append(time.perf_counter() - start)
    finally:
        writer.close()


async def _load(base: str, clients: int, seconds: float) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    parsed = httpx.URL(base)
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
        for url in ENDPOINTS:  # warm the caches
            (await client.get(url)).raise_for_status()
    start = time.perf_counter()
    stop_at = start + seconds
    await asyncio.gather(
        *(
            _client(parsed.host, parsed.port or 80, stop_at, i, latencies, errors)
            for i in range(clients)
        )
    )
    elapsed = time.perf_counter() - start
    return latencies, errors, elapsed


def _cpu_s(pid: int) -> float:
    """CPU time (user + system) of process `pid`, seconds (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    args = parser.parse_args()
    WORKSPACE.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    process, base = _start(WORKSPACE)
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
        server_cpu = _cpu_s(process.pid)
        client_cpu = time.process_time()
        latencies, errors, elapsed = asyncio.run(_load(base, args.clients, args.seconds))
        server_cpu = _cpu_s(process.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    p99 = ms[int(0.99 * (len(ms) - 1))]
    print(
        f"{args.clients} clients, {elapsed:.1f} s: {len(ms)} requests ({len(ms) / elapsed:.0f}/s), "
        f"{len(errors)} errors; latency p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms "
        f"(target p95 < 100 ms)"
    )
    print(
        f"CPU per request: server {server_cpu / max(len(ms), 1) * 1000:.2f} ms, "
        f"client {client_cpu / max(len(ms), 1) * 1000:.2f} ms ({os.cpu_count()} cores)"
    )
    for error in errors[:5]:
        print("  error:", error)
    ok = not errors and p95 < 100 and page_s < 1 and total_bytes < 5e6
    print("PASS" if ok else "MISSED A TARGET")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
