"""The load clients of the service benchmarks: N keep-alive connections sending GETs.

``bench_service.py`` and ``bench_store.py`` measure the service's latency the same way: `clients`
HTTP/1.1 keep-alive connections on one asyncio loop, each sending GETs of a list of URLs back to
back for a window of time, every answer timed; then the p50, p95 and p99 per URL and over all.

A client may behave as a browser does (``revalidate``): it keeps the ``ETag`` of each URL it got
and sends it back (``If-None-Match``); an unchanged answer is then ``304 Not Modified`` with no
body. Such a client measures what a returning visitor waits; one that does not measures every
answer built and sent whole. The benchmarks print both where the difference matters.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["Window", "cpu_s", "load", "percentile", "print_table"]


@dataclass
class Window:
    """What one load window measured: (url, seconds) of each answer, the errors, the time."""

    latencies: list[tuple[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    client_cpu_s: float = 0.0
    #: Answers that were ``304 Not Modified`` (revalidating clients only).
    not_modified: int = 0


async def _client(
    host: str,
    port: int,
    urls: list[str],
    stop_at: float,
    index: int,
    window: Window,
    *,
    gzip: bool,
    revalidate: bool,
) -> None:
    """One keep-alive HTTP/1.1 connection sending GETs back to back until `stop_at`.

    A minimal client (as wrk is): the request written, the status line and headers read, the
    body read to its Content-Length (none after a 304). A full Python HTTP client costs several
    times the server's time per request and would measure itself.
    """
    reader, writer = await asyncio.open_connection(host, port)
    etags: dict[str, str] = {}
    n = index
    try:
        while time.perf_counter() < stop_at:
            url = urls[n % len(urls)]
            n += 1
            lines = [f"GET {url} HTTP/1.1", f"Host: {host}"]
            if gzip:  # as every browser sends it: the map page comes compressed
                lines.append("Accept-Encoding: gzip")
            sent_tag = etags.get(url) if revalidate else None
            if sent_tag is not None:
                lines.append(f"If-None-Match: {sent_tag}")
            start = time.perf_counter()
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if match is None and status not in (204, 304):
                    window.errors.append(f"{url}: no Content-Length")
                    return
                body = await reader.readexactly(int(match.group(1)) if match else 0)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                window.errors.append(f"{url}: {exc!r}")
                return
            elapsed = time.perf_counter() - start
            if status == 304 and sent_tag is not None:
                window.not_modified += 1
            elif status != 200 or not body:
                window.errors.append(f"{url}: HTTP {status}")
            if revalidate:
                tag = re.search(rb"(?i)\r\netag:\s*([^\r\n]+)", head)
                if tag is not None:
                    etags[url] = tag.group(1).decode("ascii").strip()
            window.latencies.append((url, elapsed))
    finally:
        writer.close()


async def load(
    base: str,
    urls: list[str],
    clients: int,
    seconds: float,
    *,
    gzip: bool = True,
    revalidate: bool = False,
    window: Window | None = None,
) -> Window:
    """Load the server at `base` with `clients` connections for `seconds`; return what it saw.

    Each URL is asked once first, outside the window (to warm the server's caches). Client ``i``
    starts at ``urls[i % len(urls)]`` and goes round them.

    Parameters
    ----------
    gzip
        Send ``Accept-Encoding: gzip``.
    revalidate
        Send back the ETag each URL last answered with (``If-None-Match``), as a browser does.
    window
        Fill this one (a subclass with more fields, say) rather than a new one.
    """
    window = window if window is not None else Window()
    parsed = httpx.URL(base)
    async with httpx.AsyncClient(base_url=base, timeout=600.0) as client:
        for url in urls:  # warm the caches
            (await client.get(url)).raise_for_status()
    start = time.perf_counter()
    client_cpu = time.process_time()
    await asyncio.gather(
        *(
            _client(
                parsed.host,
                parsed.port or 80,
                urls,
                start + seconds,
                i,
                window,
                gzip=gzip,
                revalidate=revalidate,
            )
            for i in range(clients)
        )
    )
    window.elapsed = time.perf_counter() - start
    window.client_cpu_s = time.process_time() - client_cpu
    return window


def percentile(ms: list[float], q: float) -> float:
    """Return the `q` quantile of the sorted `ms` (nearest rank below), NaN when empty."""
    return ms[int(q * (len(ms) - 1))] if ms else float("nan")


def print_table(window: Window, urls: list[str], goal: str) -> float:
    """Print p50/p95/p99 per URL and over all (ms), the first errors; return the overall p95."""
    print(f"    {'endpoint':<72} {'n':>6} {'p50':>8} {'p95':>8} {'p99':>8}  (ms)")
    for url in urls:
        ms = sorted(x * 1000 for u, x in window.latencies if u == url)
        print(
            f"    {url:<72} {len(ms):>6} {percentile(ms, 0.5):>8.1f} "
            f"{percentile(ms, 0.95):>8.1f} {percentile(ms, 0.99):>8.1f}"
        )
    everything = sorted(x * 1000 for _, x in window.latencies)
    p95 = percentile(everything, 0.95)
    print(
        f"    {'all':<72} {len(everything):>6} {percentile(everything, 0.5):>8.1f} {p95:>8.1f} "
        f"{percentile(everything, 0.99):>8.1f}   {goal}"
    )
    for error in window.errors[:5]:
        print("    error:", error)
    return p95


def cpu_s(pid: int) -> float:
    """CPU time (user + system) of process `pid`, seconds (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
