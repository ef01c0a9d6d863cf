"""Benchmark of the terrain model on a Dask cluster: 400 sites on the real tile, 1 and 2 workers.

The whole SRTM tile N21E105 (Hà Nội, Vĩnh Phúc, Tam Đảo) on 90 m cells, 400 generated sites
(seeded, uniform over the tile, three operators), the fast model to 10 km (``--model itm`` for
ITM). For a local cluster of 1 and of 2 worker processes (one thread each) it prints the time,
the sites per second per worker, the peak memory of each worker, the speed-up (goal: at least
1.8 on two cores) and whether the grids are identical to each other and to the run on one
machine. Then it projects a national run (120,000 sites) from the sites per second per worker:
the workers needed for one hour, and the sizes on disk of the national DEM and results.

Run from the repository root (not part of ``make test``; the load average is printed, since
other work on the machine slows the workers)::

    .venv/bin/python benchmarks/bench_distributed.py [--sites 400] [--model los|itm]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from hatangso.coverage.distributed import coverage_rasters_dask
from hatangso.coverage.rasters import Raster, read_dem, write_cog
from hatangso.coverage.terrain import CoverageRasters, coverage_rasters

ROOT = Path(__file__).resolve().parents[1]
TILE = ROOT / ".." / "shared" / "data" / "dem" / "N21E105.hgt"
UTM48 = "EPSG:32648"
NATIONAL_SITES = 120_000
# Vietnam's land needs about 40 SRTM 1-degree tiles (of the 8 x 15 around it); its bounding box
# is about 770 x 1,650 km, but the land is about 331,000 km2.
NATIONAL_TILES = 40
NATIONAL_LAND_KM2 = 331_000.0
NATIONAL_BOX_KM2 = 770.0 * 1_650.0


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def sites_on(dem: Raster, n: int, seed: int = 7) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    left, bottom, right, top = dem.bounds
    margin = 5_000.0
    xy = rng.uniform([left + margin, bottom + margin], [right - margin, top - margin], (n, 2))
    return gpd.GeoDataFrame(
        {
            "site_id": [f"S{k}" for k in range(n)],
            "operator": [["Viettel", "VNPT", "MobiFone"][k % 3] for k in range(n)],
            "height_m": rng.uniform(20.0, 45.0, n).round(1),
        },
        geometry=shapely.points(xy),
        crs=UTM48,
    )


def same(a: CoverageRasters, b: CoverageRasters) -> bool:
    return (
        np.array_equal(a.best_dbm.array, b.best_dbm.array, equal_nan=True)
        and np.array_equal(a.best_site.array, b.best_site.array)
        and np.array_equal(a.server_count.array, b.server_count.array)
        and all(np.array_equal(a.covered[g].array, b.covered[g].array) for g in a.covered)
    )


def worker_memory(client: Any) -> dict[str, tuple[float, float]]:
    """Per worker: (peak resident MB since it started, resident MB now)."""

    def measure() -> tuple[float, float]:
        import resource

        import psutil

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KB on Linux
        return peak, psutil.Process().memory_info().rss / 1024.0 / 1024.0

    return dict(client.run(measure))


def on_cluster(
    n_workers: int, dem: Raster, sites: gpd.GeoDataFrame, kwargs: dict[str, Any]
) -> tuple[float, CoverageRasters, dict[str, tuple[float, float]], dict[str, float]]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
        tempfile.TemporaryDirectory() as scratch,
    ):
        # warm up: every worker loads the kernels from numba's disk cache
        coverage_rasters_dask(dem, sites.iloc[: 4 * n_workers], client=client,
                              scratch_dir=scratch, batch_sites=1, **kwargs)  # fmt: skip
        idle = {w: now for w, (_, now) in worker_memory(client).items()}
        t0 = time.perf_counter()
        grids = coverage_rasters_dask(dem, sites, client=client, scratch_dir=scratch, **kwargs)
        elapsed = time.perf_counter() - t0
        return elapsed, grids, worker_memory(client), idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=400)
    parser.add_argument("--model", choices=["los", "itm"], default="los")
    parser.add_argument("--radius", type=float, default=10_000.0)
    parser.add_argument("--resolution", type=float, default=90.0)
    args = parser.parse_args()
    if not TILE.exists():
        print(f"skipped: the SRTM tile is not at {TILE} (../shared/data/dem)")
        return
    print(f"load average at the start: {load()}  ({os.cpu_count()} cores)")
    dem = read_dem(TILE, dst_crs=UTM48, resolution_m=args.resolution)
    sites = sites_on(dem, args.sites)
    kwargs: dict[str, Any] = {
        "radius_m": args.radius,
        "threshold_dbm": -105.0,
        "model": args.model,
    }
    print(
        f"{args.sites} sites, {args.model} to {args.radius / 1000:g} km on the whole tile "
        f"({dem.shape[0]} x {dem.shape[1]} cells of {args.resolution:g} m)"
    )
    coverage_rasters(dem, sites.iloc[:2], **kwargs)  # compile or load the kernels here
    t0 = time.perf_counter()
    local = coverage_rasters(dem, sites, workers=1, **kwargs)
    t_local = time.perf_counter() - t0
    print(f"one machine, one thread: {t_local:7.1f} s  {args.sites / t_local:6.1f} sites/s")

    results: dict[int, float] = {}
    per_worker: dict[int, float] = {}
    grids: dict[int, CoverageRasters] = {}
    for n in (1, 2):
        elapsed, out, memory, idle = on_cluster(n, dem, sites, kwargs)
        results[n], grids[n] = elapsed, out
        per_worker[n] = args.sites / elapsed / n
        peaks = ", ".join(
            f"{peak:.0f} MB peak ({peak - idle[w]:+.0f} MB over idle)"
            for w, (peak, _) in memory.items()
        )
        print(
            f"{n} worker(s): {elapsed:7.1f} s  {args.sites / elapsed:6.1f} sites/s  "
            f"{per_worker[n]:6.1f} sites/s per worker; memory per worker: {peaks}; "
            f"load {load()}"
        )
    speedup = results[1] / results[2]
    print(f"speed-up with 2 workers: {speedup:.2f} (goal >= 1.8 on 2 idle cores)")
    print(
        "same answers: 1 vs 2 workers "
        f"{same(grids[1], grids[2])}, workers vs one machine {same(grids[2], local)}"
    )

    # the projection, from the slower per-worker figure (two workers sharing the machine)
    rate = min(per_worker.values())
    need = math.ceil(NATIONAL_SITES / (rate * 3600.0))
    with tempfile.TemporaryDirectory() as folder:
        size = sum(
            write_cog(r, Path(folder) / f"{name}.tif").stat().st_size
            for name, r in (("best", local.best_dbm), ("count", local.server_count))
        )
    tile_km2 = dem.shape[0] * dem.shape[1] * args.resolution**2 / 1e6
    national_results_mb = size / 1e6 * NATIONAL_LAND_KM2 / tile_km2
    print(
        f"projection: {NATIONAL_SITES:,} sites at {rate:.1f} sites/s per worker = "
        f"{NATIONAL_SITES / rate / 3600:.1f} worker-hours: {need} workers for one hour"
    )
    print(
        f"national DEM: about {NATIONAL_TILES} SRTM-3 tiles x {TILE.stat().st_size / 1e6:.1f} MB "
        f"= {NATIONAL_TILES * TILE.stat().st_size / 1e6:.0f} MB; the terrain grid at "
        f"{args.resolution:g} m over the country's bounding box (float32; written for the "
        f"workers, deflated) {NATIONAL_BOX_KM2 * 1e6 / args.resolution**2 * 4 / 1e6:,.0f} MB; "
        f"results (best_dbm + server_count COGs): {size / 1e6:.1f} MB for this tile "
        f"({tile_km2:,.0f} km2), about {national_results_mb:,.0f} MB for the country"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
