"""Road networks and FTTH distances: loading OSM XML and one multi-source search.

Run: ``.venv/bin/python -P benchmarks/bench_fiber.py``.

It measures:

1. loading ``../shared/data/osm/xml/hcmc_multi-tl-map.osm`` (a block of central Ho Chi Minh
   City) with :func:`hatangso.coverage.network.load_roads`, once with the osmnx import counted
   and once warm;
2. :func:`hatangso.coverage.network.network_distance` from 500 access points to 20,000
   villages on a synthetic grid of about 50,000 road edges (159 x 159 nodes 100 m apart,
   jittered by up to 30 m), with limits of 500 m, 5 km and none;
3. for scale, the straight-line fallback on the same points.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
HCMC_OSM = ROOT / ".." / "shared" / "data" / "osm" / "xml" / "hcmc_multi-tl-map.osm"


def _timed(label: str, func: Callable[[], T], repeat: int = 1) -> T:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<58s} {best:8.3f} s")
    return result


def main() -> None:
    start = time.perf_counter()
    from hatangso.coverage.fiber import ftth_distance_m
    from hatangso.coverage.network import RoadNetwork, load_roads, network_distance

    print(f"{'import hatangso.coverage.network':<58s} {time.perf_counter() - start:8.3f} s")

    if HCMC_OSM.is_file():
        net = _timed(
            "load hcmc OSM XML (first, imports osmnx)", lambda: load_roads(HCMC_OSM, to_crs=32648)
        )
        _timed("load hcmc OSM XML (warm, best of 3)", lambda: load_roads(HCMC_OSM, to_crs=32648), 3)
        print(f"    {net.n_nodes:,} road nodes, {net.n_edges:,} road edges")
    else:
        print(f"shared data not found: {HCMC_OSM}")

    rng = np.random.default_rng(42)
    side, spacing = 159, 100.0
    ij = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), axis=-1)
    xy = ij.reshape(-1, 2) * spacing + rng.uniform(-30, 30, size=(side * side, 2))
    index = np.arange(side * side).reshape(side, side)
    u = np.concatenate([index[:-1, :].ravel(), index[:, :-1].ravel()])
    v = np.concatenate([index[1:, :].ravel(), index[:, 1:].ravel()])
    grid = _timed("build grid network", lambda: RoadNetwork.from_edges(xy, u, v, crs=32648))
    print(f"    {grid.n_nodes:,} nodes, {grid.n_edges:,} edges")
    _timed("build STRtree of the edges", lambda: grid.edge_tree)
    extent = (side - 1) * spacing
    sources = rng.uniform(0, extent, size=(500, 2))
    targets = rng.uniform(0, extent, size=(20_000, 2))
    for limit in (500.0, 5000.0, np.inf):
        got = _timed(
            f"network_distance 500 -> 20,000, limit {limit:g} m (best of 3)",
            functools.partial(network_distance, grid, sources, targets, max_distance_m=limit),
            3,
        )
        print(f"    finite: {np.isfinite(got).mean():.1%}, median {np.median(got):.0f} m")
    _timed(
        "straight-line fallback 500 -> 20,000, limit 500 m (best of 3)",
        lambda: ftth_distance_m(targets, access_points_xy=sources, max_distance_m=500.0),
        3,
    )


if __name__ == "__main__":
    main()
