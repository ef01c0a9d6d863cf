"""Benchmark of the terrain model on a Dask cluster: 400 sites on the real tile, 1 and 2 workers.

The whole SRTM tile N21E105 (Hà Nội, Vĩnh Phúc, Tam Đảo), 400 generated sites (seeded, uniform
over the tile, three operators), to 10 km: the fast model on 30 m cells by default
(``--resolution 90`` for 90 m), ``--model itm`` on 90 m cells. The tile is SRTM-3 (3 arc-seconds,
about 90 m): the 30 m grid is its bilinear resampling, a 30 m DEM's work (9 times the cells of
90 m), not 30 m terrain detail.

1. The engine (``coverage_rasters_dask``): for a local cluster of 1 and of 2 worker processes
   (one thread each), run interleaved (1, 2, 1, 2, ... ``--repeats``) since other work on the
   machine comes and goes: the cluster's start (processes, and the kernels loaded on every
   worker) apart from the run, the run's time, the sites per second per worker, the peak
   memory of each worker, the speed-up (goal: at least 1.8 on two cores) and whether the grids
   are identical to each other and to the run on one machine.
2. The whole command a user runs, ``hatangso coverage ... --workers 1`` and ``--workers 2``
   (and without ``--workers``), in a subprocess, on the same inputs written to a temporary
   folder: the sites, the real OSM villages on the tile (``../shared/data/osm``) and the DEM
   (the tile itself at 90 m; the resampled 30 m grid as a GeoTIFF at 30 m); reading, the
   cluster's start, the terrain, the villages and writing every output included.
3. A national projection (120,000 sites) from the sites per second per worker: the workers
   needed for one hour, and the sizes on disk of the national DEM and results.

Run from the repository root (not part of ``make test``; the load average is printed)::

    .venv/bin/python benchmarks/bench_distributed.py [--sites 400] [--model los|itm]
        [--resolution 30|90] [--repeats 2] [--no-command]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio.warp
import shapely
from affine import Affine

from hatangso.coverage import distributed
from hatangso.coverage.distributed import ClusterOptions, coverage_rasters_dask, dask_client
from hatangso.coverage.rasters import Raster, read_dem, write_cog
from hatangso.coverage.terrain import CoverageRasters, coverage_rasters

ROOT = Path(__file__).resolve().parents[1]
TILE = ROOT / ".." / "shared" / "data" / "dem" / "N21E105.hgt"
PLACES = (
    ROOT / ".." / "shared" / "data" / "osm" / "geofabrik_vn_20180103" / "gis.osm_places_free_1.shp"
)
TILE_BBOX = (105.0, 21.0, 106.0, 22.0)
HATANGSO = str(Path(sys.executable).with_name("hatangso"))
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


def dem_at(resolution_m: float) -> Raster:
    """The whole tile on a UTM grid of `resolution_m` (bilinear below the tile's 90 m)."""
    native = read_dem(TILE, dst_crs=UTM48, resolution_m=max(resolution_m, 90.0))
    if resolution_m >= min(native.res):
        return native
    left, bottom, right, top = native.bounds
    cols = round((right - left) / resolution_m)
    rows = round((top - bottom) / resolution_m)
    transform = Affine(resolution_m, 0.0, left, 0.0, -resolution_m, top)
    array = np.full((rows, cols), np.nan, dtype=np.float32)
    rasterio.warp.reproject(
        native.array,
        array,
        src_transform=native.transform,
        src_crs=native.crs,
        dst_transform=transform,
        dst_crs=native.crs,
        resampling=rasterio.warp.Resampling.bilinear,
        src_nodata=np.nan,
        dst_nodata=np.nan,
    )
    return Raster(array=array, transform=transform, crs=native.crs)


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


def worker_cpu(client: Any) -> float:
    """CPU seconds the workers have used so far, in all (user and system)."""

    def measure() -> float:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    return float(sum(client.run(measure).values()))


def own_cpu() -> float:
    """CPU seconds this process (the client, and a local cluster's scheduler) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def on_cluster(
    n_workers: int, dem: Raster, sites: gpd.GeoDataFrame, kwargs: dict[str, Any]
) -> tuple[
    float, float, float, float, CoverageRasters, dict[str, tuple[float, float]], dict[str, float]
]:
    """Start a local cluster (kernels loaded on every worker), then time the run on it.

    Returns the start's and the run's wall time, the workers' and the client's CPU seconds in
    the run, the grids, and each worker's memory after the run and before it.
    """
    t0 = time.perf_counter()
    with (
        dask_client(ClusterOptions(workers=n_workers)) as client,
        tempfile.TemporaryDirectory() as scratch,
    ):
        client.run(distributed._warm_kernels, kwargs["model"])
        start = time.perf_counter() - t0
        idle = {w: now for w, (_, now) in worker_memory(client).items()}
        cpu = worker_cpu(client)
        mine = own_cpu()
        t0 = time.perf_counter()
        grids = coverage_rasters_dask(dem, sites, client=client, scratch_dir=scratch, **kwargs)
        elapsed = time.perf_counter() - t0
        mine = own_cpu() - mine
        cpu = worker_cpu(client) - cpu
        return start, elapsed, cpu, mine, grids, worker_memory(client), idle


def command_inputs(
    folder: Path, dem: Raster, sites: gpd.GeoDataFrame, args: argparse.Namespace
) -> list[str]:
    """Write the command's inputs into `folder`; return its arguments but ``--out``."""
    places = gpd.read_file(PLACES, bbox=TILE_BBOX)
    places = places[places["fclass"].isin(["village", "hamlet", "town", "city"])]
    villages = gpd.GeoDataFrame(
        {"village_id": places["osm_id"].astype(str).to_numpy(), "name": places["name"]},
        geometry=places.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    villages.to_file(folder / "villages.gpkg")
    sites.to_crs(4326).to_file(folder / "sites.gpkg")
    if args.resolution >= 90.0:
        dem_path = folder / TILE.name
        shutil.copy(TILE, dem_path)
    else:
        dem_path = write_cog(dem, folder / "dem.tif")
    config = folder / "terrain.yaml"
    config.write_text(
        "mobile:\n  model: terrain\n  threshold_dbm: -105\n"
        f"terrain:\n  radius_m: {args.radius:g}\n  resolution_m: {args.resolution:g}\n"
        f"  method: {args.model}\n",
        encoding="utf-8",
    )
    print(f"command inputs: {len(villages)} OSM villages, {len(sites)} sites, {dem_path.name}")
    return [
        "coverage",
        *("--villages", str(folder / "villages.gpkg"), "--sites", str(folder / "sites.gpkg")),
        *("--dem", str(dem_path), "--config", str(config), "--quiet"),
    ]


def run_command(arguments: list[str], out: Path, *extra: str) -> float:
    """Time the command, outputs included; fail loudly when it fails."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [HATANGSO, *arguments, "--out", str(out), *extra], capture_output=True, text=True
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"hatangso coverage {' '.join(extra)} failed:\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=400)
    parser.add_argument("--model", choices=["los", "itm"], default="los")
    parser.add_argument("--radius", type=float, default=10_000.0)
    parser.add_argument(
        "--resolution", type=float, default=None, help="cells, m (30 for los, 90 for itm)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs of each size")
    parser.add_argument("--no-command", action="store_true", help="the engine only")
    args = parser.parse_args()
    if args.resolution is None:
        args.resolution = 30.0 if args.model == "los" else 90.0
    if not TILE.exists():
        print(f"skipped: the SRTM tile is not at {TILE} (../shared/data/dem)")
        return
    print(f"load average at the start: {load()}  ({os.cpu_count()} cores)")
    dem = dem_at(args.resolution)
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
    print(
        f"one machine (numba on every core): {t_local:7.1f} s  {args.sites / t_local:6.1f} "
        f"sites/s; load {load()}"
    )

    # 1 and 2 workers interleaved; each size's best run (the least disturbed by other work)
    results: dict[int, float] = {}
    cpu_per_site: dict[int, float] = {}
    grids: dict[int, CoverageRasters] = {}
    for repeat in range(args.repeats):
        for n in (1, 2):
            start, elapsed, cpu, mine, out, memory, idle = on_cluster(n, dem, sites, kwargs)
            if n not in results or elapsed < results[n]:
                results[n], grids[n] = elapsed, out
            cpu_per_site[n] = min(cpu / args.sites, cpu_per_site.get(n, math.inf))
            peaks = ", ".join(
                f"{peak:.0f} MB peak ({peak - idle[w]:+.0f} MB over idle)"
                for w, (peak, _) in memory.items()
            )
            print(
                f"[{repeat + 1}] {n} worker(s): cluster start {start:5.1f} s, run {elapsed:7.1f} s"
                f"  {args.sites / elapsed:6.1f} sites/s  {args.sites / elapsed / n:6.1f} sites/s "
                f"per worker; workers' CPU {cpu:.1f} s ({cpu / args.sites * 1000:.0f} ms a site, "
                f"{cpu / elapsed / n:.0%} of {n} core(s)); the client's CPU {mine:.1f} s; "
                f"memory per worker: {peaks}; "
                f"load {load()}"
            )
    per_worker = {n: args.sites / t / n for n, t in results.items()}
    speedup = results[1] / results[2]
    print(
        f"engine, best of {args.repeats}: 1 worker {results[1]:.1f} s, 2 workers "
        f"{results[2]:.1f} s: speed-up {speedup:.2f} (goal >= 1.8 on 2 idle cores)"
    )
    print(
        "same answers: 1 vs 2 workers "
        f"{same(grids[1], grids[2])}, workers vs one machine {same(grids[2], local)}"
    )

    if not args.no_command:
        with tempfile.TemporaryDirectory() as folder:
            arguments = command_inputs(Path(folder), dem, sites, args)
            commands: dict[str, float] = {}
            for repeat in range(args.repeats):
                for name, extra in (
                    ("one machine", ()),
                    ("--workers 1", ("--workers", "1")),
                    ("--workers 2", ("--workers", "2")),
                ):
                    out_dir = Path(folder) / f"out-{repeat}-{len(extra)}-{extra[-1:]}"
                    elapsed = run_command(arguments, out_dir, *extra)
                    commands[name] = min(elapsed, commands.get(name, math.inf))
                    print(
                        f"[{repeat + 1}] hatangso coverage {name}: {elapsed:6.1f} s; load {load()}"
                    )
        print(
            f"whole command, best of {args.repeats}: one machine {commands['one machine']:.1f} s, "
            f"--workers 1 {commands['--workers 1']:.1f} s, --workers 2 "
            f"{commands['--workers 2']:.1f} s: ratio 1/2 workers "
            f"{commands['--workers 1'] / commands['--workers 2']:.2f}"
        )

    # the projection, from the slower per-worker figure (two workers sharing the machine),
    # and from the workers' CPU time a site (what a worker with a core of its own gives)
    rate = min(per_worker.values())
    need = math.ceil(NATIONAL_SITES / (rate * 3600.0))
    cpu_site = max(cpu_per_site.values())
    need_cpu = math.ceil(NATIONAL_SITES * cpu_site / 3600.0)
    with tempfile.TemporaryDirectory() as folder:
        size = sum(
            write_cog(r, Path(folder) / f"{name}.tif").stat().st_size
            for name, r in (("best", local.best_dbm), ("count", local.server_count))
        )
    tile_km2 = dem.shape[0] * dem.shape[1] * args.resolution**2 / 1e6
    national_results_mb = size / 1e6 * NATIONAL_LAND_KM2 / tile_km2
    print(
        f"projection: {NATIONAL_SITES:,} sites at {rate:.1f} sites/s per worker = "
        f"{NATIONAL_SITES / rate / 3600:.1f} worker-hours: {need} workers for one hour; at the "
        f"workers' {cpu_site * 1000:.0f} ms of CPU a site, {NATIONAL_SITES * cpu_site / 3600:.1f} "
        f"core-hours: {need_cpu} workers of a core each for one hour"
    )
    print(
        f"national DEM: about {NATIONAL_TILES} SRTM-3 tiles x {TILE.stat().st_size / 1e6:.1f} MB "
        f"= {NATIONAL_TILES * TILE.stat().st_size / 1e6:.0f} MB; the terrain grid at "
        f"{args.resolution:g} m over the country's bounding box (float32 before "
        f"compression; written for the workers with zstd) "
        f"{NATIONAL_BOX_KM2 * 1e6 / args.resolution**2 * 4 / 1e6:,.0f} MB; "
        f"results (best_dbm + server_count COGs): {size / 1e6:.1f} MB for this tile "
        f"({tile_km2:,.0f} km2), about {national_results_mb:,.0f} MB for the country"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
