"""Compile the terrain and area kernels once, ahead of the first run that needs them.

numba compiles a kernel on its first call and keeps the machine code on disk
(:mod:`hatangso.coverage._jit`), so only the first run on a machine pays for it, but it pays
minutes on a loaded one, inside a step that seems to hang. :func:`compile_kernels` runs every
kernel of the default configuration (the line-of-sight terrain model over a grid and at points,
the exact disc-area sweep of the ``area`` rule and of the IoT zones) on a tiny synthetic input,
with the dtypes the jobs pass, in both the one-core and the all-cores variants: the set-up
(``make``) calls it, so that the demo, the tests and the service find the kernels compiled. The
ITM kernels compile too with ``itm=True``; the set-up runs ``python -m hatangso.coverage.warmup``.

:func:`kernels_compiled` tells whether the disk cache holds a kernel, so that a job can say that
it is compiling rather than stay silent.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from rasterio.transform import from_origin

__all__ = [
    "area_kernels_compiled",
    "compile_kernels",
    "kernels_compiled",
    "terrain_kernels_compiled",
]

_UTM48 = pyproj.CRS.from_epsg(32648)


def kernels_compiled(*kernels: object) -> bool:
    """Tell whether numba's disk cache holds an index for every one of `kernels`.

    An index is written with a kernel's first compiled signature; its absence means the next
    call compiles. A kernel whose cache cannot be inspected counts as not compiled.
    """
    for kernel in kernels:
        cache = getattr(kernel, "_cache", None)
        index = getattr(getattr(cache, "_cache_file", None), "_index_path", None)
        if not isinstance(index, str) or not os.path.exists(index):
            return False
    return True


def _sites(xy: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    """Omni 4G and sectored 5G sites at `xy` (metres, UTM zone 48N)."""
    n = len(xy)
    return gpd.GeoDataFrame(
        {
            "site_id": [f"W{i}" for i in range(n)],
            "operator": ["Viettel" if i % 2 else "VNPT" for i in range(n)],
            "tech": ["4G" if i % 2 else "5G" for i in range(n)],
            "height_m": np.full(n, 25.0),
            "azimuth_deg": [np.nan if i % 2 else 90.0 for i in range(n)],
            "beamwidth_deg": [np.nan if i % 2 else 65.0 for i in range(n)],
        },
        geometry=shapely.points(np.asarray(xy, dtype=np.float64)),
        crs=_UTM48,
    )


def _terrain(itm: bool) -> None:
    """Run the terrain model over a small grid and at points, one core and all cores."""
    from hatangso.coverage import terrain
    from hatangso.coverage.rasters import Raster

    rows = np.arange(40, dtype=np.float32)[:, None]
    cols = np.arange(40, dtype=np.float32)[None, :]
    dem = Raster(
        (20.0 + 3.0 * np.sin(rows / 5.0) * np.cos(cols / 7.0)).astype(np.float32),
        from_origin(500_000.0, 2_001_200.0, 30.0, 30.0),
        _UTM48,
    )
    xy = [(500_300.0 + 150.0 * i, 2_000_600.0 + 90.0 * (i % 2)) for i in range(4)]
    px = np.array([500_100.0, 500_900.0])
    py = np.array([2_000_400.0, 2_000_900.0])
    for model in ("los", "itm") if itm else ("los",):
        for workers in (1, 2):  # all cores for one site at a time; one core per site
            terrain.coverage_rasters(
                dem, _sites(xy), radius_m=600.0, threshold_dbm=-100.0, model=model, workers=workers
            )
        terrain.site_loss_at(dem, *xy[0], px, py, h_tx_m=25.0, freq_mhz=1800.0, radius_m=600.0,
                             model=model)  # fmt: skip


def _areas(n: int) -> None:
    """Run the exact disc-area sweep of the ``area`` rule and the IoT zones on `n` squares."""
    from hatangso.coverage import _discarea

    boxes = shapely.box(np.arange(n) * 10.0, 0.0, np.arange(n) * 10.0 + 2.0, 2.0)
    rings = _discarea.polygon_rings(boxes)
    x = np.repeat(np.arange(n) * 10.0, 2) + np.tile([0.0, 2.0], n)
    _discarea.union_disc_area_by_group(
        rings.coords,
        rings.ring_offsets,
        rings.geom_ring_offsets,
        x,
        np.zeros(2 * n),
        np.ones(2 * n),
        np.arange(0, 2 * n + 1, 2),
        np.tile([0, 1], n),
        n_groups=2,
        min_area=0.0,
    )


def _timed(name: str, itm: bool) -> float:
    """Run one part of :func:`compile_kernels` (in a worker process); return its seconds."""
    from hatangso.coverage import _discarea

    start = time.perf_counter()
    if name == "terrain":
        _terrain(itm)
    elif name == "areas":
        _areas(1)
    else:
        _areas(_discarea._PARALLEL_MIN)
    return time.perf_counter() - start


def compile_kernels(*, itm: bool = False) -> dict[str, float]:
    """Compile (or load from numba's disk cache) the kernels a job of hatangso runs.

    numba compiles on one core: the terrain kernels, the one-core area kernel and the all-cores
    one compile side by side in three processes, each writing its own kernels' cache files.

    Parameters
    ----------
    itm
        Compile the ITM kernels as well (the ``terrain.method: itm`` configuration).

    Returns
    -------
    dict
        Seconds spent per part (``terrain``, ``areas``, ``areas over all cores``): minutes on a
        first run, well under a second once the kernels are on disk.
    """
    parts = ("terrain", "areas", "areas over all cores")
    with ProcessPoolExecutor(max_workers=len(parts), mp_context=get_context("spawn")) as pool:
        futures = {name: pool.submit(_timed, name, itm) for name in parts}
        return {name: future.result() for name, future in futures.items()}


def terrain_kernels_compiled(model: str) -> bool:
    """Tell whether the kernels of the terrain `model` (``los`` or ``itm``) are on disk."""
    from hatangso.coverage import itm, terrain

    if model == "itm":
        return kernels_compiled(itm._window_losses_serial, itm._window_losses_parallel)
    return kernels_compiled(
        terrain._radials_serial,
        terrain._radials_parallel,
        terrain._fill_serial,
        terrain._fill_parallel,
        terrain._accumulate,
    )


def area_kernels_compiled() -> bool:
    """Tell whether the disc-area kernels (the ``area`` rule's, the IoT zones') are on disk."""
    from hatangso.coverage import _discarea

    return kernels_compiled(
        _discarea._union_disc_area_by_group_serial, _discarea._union_disc_area_by_group_parallel
    )


if __name__ == "__main__":  # the set-up's step: python -m hatangso.coverage.warmup
    seconds = compile_kernels()
    print("kernels compiled: " + ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items()))
