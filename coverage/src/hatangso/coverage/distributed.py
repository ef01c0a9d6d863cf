"""The terrain model's per-site work on a Dask cluster, with the single-process answers.

A national run (some 120,000 sites) is hours of terrain work on one machine.
:func:`coverage_rasters_dask` spreads it over the workers of a Dask ``distributed`` cluster:
a local one (:class:`ClusterOptions` ``workers``) or an existing one (``scheduler``). Dask
brings what a home-made pool would have to grow: a scheduler that reruns the tasks of a worker
that died, a dashboard, and clusters on many machines (``dask scheduler`` and ``dask worker``,
dask-jobqueue, Kubernetes).

How the work is cut
-------------------
- The client writes the terrain grid (the DEM as :func:`hatangso.coverage.rasters.read_dem`
  filled and reprojected it) once, as a tiled GeoTIFF, into a folder the workers read (the run's
  cache folder, so on a shared file system for a cluster of several machines). A task carries
  that path, never the array.
- The sites are sorted into square tiles of the grid (``tile_cells``), and each tile's sites are
  cut into batches of at most ``batch_sites``. By default a task is sized by its work: about
  :data:`TASK_SECONDS` of it (a site costs its window's cells, times a per-cell figure of the
  model), so that Dask's own cost per task (a few milliseconds of scheduling, the window's
  read, the partials) is a small share, while each worker still gets :data:`TASKS_PER_WORKER`
  tasks; a tile holds about one batch at the run's mean density, and is at least a site's
  window.
- A batch reads, by a windowed read, only the DEM cells its sites' windows cover (plus the few
  cells the profiles' interpolation reaches), runs the model for each site, folds the carriers
  into partial grids over that footprint (:func:`hatangso.coverage.terrain._accumulate_part`),
  and returns them cut along the output tiles. Each piece is picked (``getitem``) on the worker
  that holds it, so a reduction fetches its tile's pieces, never a whole footprint.
- The pieces are reduced per output tile, in a tree of at most ``fan_in`` pieces a task; the
  client gathers the tiles, one at a time, into the best-server, server-count and coverage
  grids. No whole raster goes through the scheduler; the village answers are then read from the
  grids as in a run on one machine.
- Each worker loads the model's kernels (numba's disk cache) once, at the start of the run
  (``client.run``), before its first task.

The answers are identical, bit for bit
--------------------------------------
The model's kernels run on an array of the whole grid's shape, on the whole grid's coordinates,
so their arithmetic is that of the run on one machine. The array is allocated zeroed and only
the batch's footprint is written: the operating system maps pages that are never touched to
nothing, and the kernels never read outside a site's window (a test compares the grids), so a
worker's memory is its footprint's, not the grid's. The best server of a cell is the one
:func:`hatangso.coverage.terrain.coverage_rasters` picks, ties included (see
:func:`hatangso.coverage.terrain._accumulate_part`); counts add up, masks are or-ed.

Memory per worker
-----------------
A task holds its footprint, at most ``(tile_cells + 2 radius / resolution + 2 margin)^2``
cells of DEM and partial grids (``4 + 4 + 4 + 4 + 2 + 4`` bytes, and one byte per operator and
technology), one site's losses, and, when reducing, ``fan_in + 1`` pieces of at most
``tile_cells^2`` cells. By default, at 90 m to 10 km the tiles are 223-1,024 cells and a task
takes 5-40 MB; at 30 m to 10 km the tiles are at least 667 cells and a task about 50 MB,
whatever the number of sites or the size of the grid. Besides, the workers keep the pieces of
the batches done until they are folded: every ``fan_in`` pieces of a tile are folded into one
as they come, and a tile's last reduction is submitted with its last piece, so that is at most
``fan_in`` pieces for each tile of about two rows of tiles, shared among the workers. The
benchmark (``benchmarks/bench_distributed.py``) measures the peak of each worker.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import operator
import shutil
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.windows
from affine import Affine
from rasterio.crs import CRS

from hatangso.coverage import terrain
from hatangso.coverage.radio import (
    DEFAULT_EIRP_DBM,
    DEFAULT_FREQ_MHZ,
    DEFAULT_HEIGHT_M,
    SECTOR_MAX_ATTENUATION_DB,
)
from hatangso.coverage.rasters import Raster
from hatangso.geo.errors import ConfigError, Problem

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = [
    "CONNECT_TIMEOUT_S",
    "TASK_PREFIX",
    "ClusterOptions",
    "coverage_rasters_dask",
    "dask_client",
]

log = logging.getLogger(__name__)

#: How long to wait for an existing scheduler to answer, seconds.
CONNECT_TIMEOUT_S = 10.0
_Box = tuple[int, int, int, int]
#: A carrier: the site's row, its technology, EIRP and the key of its path loss.
_Carrier = tuple[int, str, float, str]

#: Prefix of the keys of the per-site tasks (the tasks that read the DEM and run the model).
TASK_PREFIX = "hatangso-terrain-batch"
#: Seconds of work a task aims at by default: Dask's own cost per task (scheduling, a window
#: read, the partials' allocation and their pieces' reduction) stays a small share of it.
TASK_SECONDS = 0.5
#: Tasks per worker at least, by default, so that on a small run the workers finish together.
TASKS_PER_WORKER = 4
#: A site's work per cell of its window on one core, seconds, by model: about 6 ms (fast model)
#: and 0.13 s (ITM) for a 10 km window of 90 m cells on the benchmark's machine. Only the tasks'
#: size depends on it, never an answer.
_SECONDS_PER_CELL: dict[str, float] = {"los": 1.2e-7, "itm": 2.6e-6}
#: Bounds of the default tiles' side, cells: below, a task's footprint is mostly its sites'
#: margins; above, a reduced tile takes more than about 20 MB.
_TILE_CELLS_MIN, _TILE_CELLS_MAX = 64, 1024


@dataclass(frozen=True)
class ClusterOptions:
    """Where the terrain work runs: a local cluster of `workers`, or the cluster at `scheduler`.

    Attributes
    ----------
    workers
        Worker processes of a local Dask cluster (one thread each).
    scheduler
        Address of an existing Dask scheduler, ``tcp://HOST:PORT``.
    """

    workers: int | None = None
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.scheduler is not None:
            raise ConfigError(
                Problem(
                    file="command line",
                    column="--workers",
                    message="--workers and --scheduler were both given",
                    fix="give --workers N for a local cluster or --scheduler tcp://HOST:PORT "
                    "for an existing one, not both",
                )
            )
        if self.workers is not None and self.workers < 1:
            raise ConfigError(
                Problem(
                    file="command line",
                    column="--workers",
                    message=f"--workers must be at least 1, got {self.workers}",
                    fix="give the number of worker processes, 1 or more",
                )
            )
        if self.scheduler is not None and "://" not in self.scheduler:
            raise ConfigError(
                Problem(
                    file="command line",
                    column="--scheduler",
                    message=f"{self.scheduler!r} is not a scheduler address",
                    fix="give the scheduler's address as tcp://HOST:PORT",
                )
            )


@contextlib.contextmanager
def dask_client(
    options: ClusterOptions, *, dashboard: Callable[[str], None] | None = None
) -> Iterator[Client]:
    """Start a local Dask cluster or connect to an existing one; close what was opened.

    Parameters
    ----------
    options
        The local cluster's size, or the scheduler's address.
    dashboard
        Told the address of the cluster's dashboard once connected.

    Yields
    ------
    distributed.Client

    Raises
    ------
    ConfigError
        If the scheduler cannot be reached, naming it and the fix.
    """
    from distributed import Client, LocalCluster

    if options.scheduler is not None:
        try:
            client = Client(options.scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(
                Problem(
                    file="command line",
                    column="--scheduler",
                    message=f"cannot reach the Dask scheduler at {options.scheduler} ({exc})",
                    fix="start the scheduler (dask scheduler) and its workers, check the "
                    "address tcp://HOST:PORT, or run without --scheduler",
                )
            ) from exc
        cluster = None
    else:
        # one thread per worker process: the kernels hold the GIL between sites, and a process
        # per core is what scales on a machine as on a cluster
        cluster = LocalCluster(
            n_workers=options.workers or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        )
        client = Client(cluster)
    try:
        link = str(client.dashboard_link)
        log.info("Dask dashboard: %s", link)
        if dashboard is not None:
            dashboard(link)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------------------------
# What travels to the workers


@dataclass(frozen=True)
class _Batch:
    """The sites of one task: their carriers in site order, and the grid's footprint.

    ``box`` is the union of the sites' windows ``(r0, r1, c0, c1)``; ``read_box`` adds the
    margin the profiles' interpolation reaches; ``tiles`` are the boxes of the output tiles the
    footprint overlaps, in which the task returns its partial cut.
    """

    dem_path: str
    shape: tuple[int, int]
    transform: tuple[float, ...]
    crs_wkt: str
    box: tuple[int, int, int, int]
    read_box: tuple[int, int, int, int]
    tiles: tuple[tuple[int, int, int, int], ...]
    site_index: npt.NDArray[np.int64]
    key: tuple[str, ...]
    tech: tuple[str, ...]
    physical: Mapping[str, tuple[float, float, float, float]]
    eirp: npt.NDArray[np.float64]
    azimuth: npt.NDArray[np.float64]
    beamwidth: npt.NDArray[np.float64]
    group: npt.NDArray[np.int64]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    n_groups: int
    model: terrain.TerrainModel
    radius_m: float
    h_rx_m: float
    k_factor: float
    itm: terrain.ItmParams
    step_m: float | None
    threshold_dbm: float
    clutter_loss_db: float


@dataclass(frozen=True)
class _Part:
    """Partial grids over ``[r0:r0+h, c0:c0+w]`` of the grid (see ``_accumulate_part``)."""

    r0: int
    c0: int
    best: npt.NDArray[np.float32]
    first: npt.NDArray[np.int32]
    above: npt.NDArray[np.int32]
    count: npt.NDArray[np.uint16]
    masks: npt.NDArray[np.bool_]

    def __sizeof__(self) -> int:
        """Its arrays' bytes: Dask weighs a task's inputs by them (``dask.sizeof``).

        Without it a partial counts as a small object, so the scheduler sees no cost in moving
        partials between workers and runs a reduction wherever a worker is free, away from
        the pieces it combines; with it, on the worker that holds most of them.
        """
        arrays = (self.best, self.first, self.above, self.count, self.masks)
        return object.__sizeof__(self) + sum(a.nbytes for a in arrays)


@dataclass(frozen=True)
class _Tile:
    """An output tile's grids as the client writes them, over ``[r0:r0+h, c0:c0+w]``."""

    r0: int
    c0: int
    best: npt.NDArray[np.float32]
    best_site: npt.NDArray[np.int32]
    count: npt.NDArray[np.uint16]
    masks: npt.NDArray[np.bool_]

    def __sizeof__(self) -> int:
        """Its arrays' bytes, as :meth:`_Part.__sizeof__`."""
        arrays = (self.best, self.best_site, self.count, self.masks)
        return object.__sizeof__(self) + sum(a.nbytes for a in arrays)


def _empty_part(r0: int, r1: int, c0: int, c1: int, n_groups: int) -> _Part:
    h, w = r1 - r0, c1 - c0
    return _Part(
        r0=r0,
        c0=c0,
        best=np.full((h, w), np.nan, dtype=np.float32),
        first=np.full((h, w), -1, dtype=np.int32),
        above=np.full((h, w), -1, dtype=np.int32),
        count=np.zeros((h, w), dtype=np.uint16),
        masks=np.zeros((n_groups, h, w), dtype=bool),
    )


def _run_batch(batch: _Batch) -> tuple[_Part, ...]:
    """On a worker: read the batch's DEM window, run the model per site, fold the carriers.

    Returns the partial grids cut along the output tiles (``batch.tiles``, in order): a
    reduction task then fetches only its tile's piece, never a whole footprint.
    """
    rr0, rr1, cc0, cc1 = batch.read_box
    with rasterio.open(batch.dem_path) as ds:
        window = ds.read(1, window=rasterio.windows.Window(cc0, rr0, cc1 - cc0, rr1 - rr0))
    # The whole grid's shape and coordinates, so that the kernels' arithmetic is the one of a
    # run on one machine; zeroed pages that are never written take no memory.
    array = np.zeros(batch.shape, dtype=window.dtype)
    array[rr0:rr1, cc0:cc1] = window
    del window
    part = _batch_part(batch, array)
    return tuple(_cut(part, tile) for tile in batch.tiles)


def _batch_part(batch: _Batch, array: npt.NDArray[np.floating[Any]]) -> _Part:
    """Run the model for the batch's sites on `array` and fold their carriers."""
    dem = Raster(array=array, transform=Affine(*batch.transform), crs=CRS.from_wkt(batch.crs_wkt))
    left, top, dx, dy = terrain._grid(dem)
    r0, r1, c0, c1 = batch.box
    part = _empty_part(r0, r1, c0, c1, batch.n_groups)
    last_counted = np.full(part.best.shape, -1, dtype=np.int32)
    uses = Counter(batch.key)
    held: dict[str, terrain._SiteLoss] = {}
    for k, key in enumerate(batch.key):
        result = held.get(key)
        if result is None:
            x, y, h_tx, freq = batch.physical[key]
            result = terrain._site_loss(dem, x, y, h_tx_m=h_tx, h_rx_m=batch.h_rx_m,
                                        freq_mhz=freq, radius_m=batch.radius_m,
                                        model=batch.model, k_factor=batch.k_factor,
                                        itm=batch.itm, step_m=batch.step_m,
                                        parallel=False)  # fmt: skip
        uses[key] -= 1
        if uses[key]:
            held[key] = result
        else:
            held.pop(key, None)
        terrain._accumulate_part(result.loss_db, result.r0, result.c0, left, top, dx, dy,
                                 float(batch.x[k]), float(batch.y[k]), float(batch.eirp[k]),
                                 batch.clutter_loss_db, float(batch.azimuth[k]),
                                 float(batch.beamwidth[k]), SECTOR_MAX_ATTENUATION_DB,
                                 terrain.receive_dbm(batch.threshold_dbm, batch.tech[k]),
                                 int(batch.site_index[k]),
                                 int(batch.group[k]), batch.tech[k] in terrain.MOBILE_TECHS, r0,
                                 c0, part.best, part.first, part.above,
                                 part.count, last_counted, part.masks)  # fmt: skip
    return part


def _cut(part: _Part, box: tuple[int, int, int, int]) -> _Part:
    """Cut `part` to ``box = (r0, r1, c0, c1)``, as copies (the box must overlap it)."""
    h, w = part.best.shape
    r0, r1 = max(box[0], part.r0), min(box[1], part.r0 + h)
    c0, c1 = max(box[2], part.c0), min(box[3], part.c0 + w)
    rows = slice(r0 - part.r0, r1 - part.r0)
    cols = slice(c0 - part.c0, c1 - part.c0)
    return _Part(
        r0=r0,
        c0=c0,
        best=part.best[rows, cols].copy(),
        first=part.first[rows, cols].copy(),
        above=part.above[rows, cols].copy(),
        count=part.count[rows, cols].copy(),
        masks=part.masks[:, rows, cols].copy(),
    )


def _warm_kernels(model: terrain.TerrainModel) -> None:
    """On a worker: load the model's kernels (numba's disk cache) before the first task.

    Runs a site on a tiny grid, through the very calls of a task, so that the first real
    batch does not pay the import and the kernels' loading (about a second a worker).
    """
    transform = (30.0, 0.0, 500_000.0, 0.0, -30.0, 2_400_000.0)
    batch = _Batch(
        dem_path="",
        shape=(16, 16),
        transform=transform,
        crs_wkt=CRS.from_epsg(32648).to_wkt(),
        box=(0, 16, 0, 16),
        read_box=(0, 16, 0, 16),
        tiles=((0, 16, 0, 16),),
        site_index=np.zeros(1, dtype=np.int64),
        key=("warm",),
        tech=("4G",),
        physical={"warm": (500_240.0, 2_399_760.0, 30.0, 1800.0)},
        eirp=np.array([60.0]),
        azimuth=np.array([np.nan]),
        beamwidth=np.array([np.nan]),
        group=np.zeros(1, dtype=np.int64),
        x=np.array([500_240.0]),
        y=np.array([2_399_760.0]),
        n_groups=1,
        model=model,
        radius_m=200.0,
        h_rx_m=1.5,
        k_factor=4.0 / 3.0,
        itm=terrain.ItmParams(),
        step_m=None,
        threshold_dbm=-105.0,
        clutter_loss_db=0.0,
    )
    part = _batch_part(batch, np.zeros((16, 16), dtype=np.float32))
    _combine((0, 16, 0, 16), 1, _cut(part, (0, 8, 0, 8)))


def _fold(into: _Part, part: _Part) -> None:
    """Combine `part` into `into` where they overlap, in place (any order gives one answer)."""
    h, w = into.best.shape
    ph, pw = part.best.shape
    r0, r1 = max(into.r0, part.r0), min(into.r0 + h, part.r0 + ph)
    c0, c1 = max(into.c0, part.c0), min(into.c0 + w, part.c0 + pw)
    if r1 <= r0 or c1 <= c0:
        return
    mine = (slice(r0 - into.r0, r1 - into.r0), slice(c0 - into.c0, c1 - into.c0))
    theirs = (slice(r0 - part.r0, r1 - part.r0), slice(c0 - part.c0, c1 - part.c0))
    a, b = into.best[mine], part.best[theirs]
    higher = ~np.isnan(b) & (np.isnan(a) | (b > a))
    same = b == a  # NaN on either side is never the same
    a_first, b_first = into.first[mine], part.first[theirs]
    a_above, b_above = into.above[mine], part.above[theirs]
    kept_first = np.where(same, np.minimum(a_first, b_first), a_first)
    kept_above = np.where(same, np.maximum(a_above, b_above), a_above)
    into.first[mine] = np.where(higher, b_first, kept_first)
    into.above[mine] = np.where(higher, b_above, kept_above)
    into.best[mine] = np.where(higher, b, a)
    total = into.count[mine].astype(np.int32) + part.count[theirs]
    into.count[mine] = np.minimum(total, 65535).astype(np.uint16)
    into.masks[:, mine[0], mine[1]] |= part.masks[:, theirs[0], theirs[1]]


def _combine(box: tuple[int, int, int, int], n_groups: int, *parts: _Part) -> _Part:
    """On a worker: the partials' combination over one output tile ``(r0, r1, c0, c1)``."""
    out = _empty_part(*box, n_groups)
    for part in parts:
        _fold(out, part)
    return out


def _finish(box: tuple[int, int, int, int], n_groups: int, *parts: _Part) -> _Tile:
    """On a worker: a tile's last combination, in the grids the client writes as they are.

    The best server is resolved here (``above`` where set, else ``first``), so the client only
    copies the tile into place and receives one index grid instead of two.
    """
    out = _combine(box, n_groups, *parts)
    return _Tile(
        r0=out.r0,
        c0=out.c0,
        best=out.best,
        best_site=np.where(out.above >= 0, out.above, out.first),
        count=out.count,
        masks=out.masks,
    )


# --------------------------------------------------------------------------------------------
# The client's side


def _write_grid(dem: Raster, folder: Path) -> Path:
    """Write the terrain grid as a tiled GeoTIFF (lossless) for the workers' windowed reads."""
    path = folder / "terrain-grid.tif"
    rows, cols = dem.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=cols,
        height=rows,
        count=1,
        dtype=str(dem.array.dtype),
        crs=dem.crs,
        transform=dem.transform,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        # zstd at its fastest level: as small as deflate on terrain, but some five times
        # faster to write, and the writing is the one step of the run the workers wait on
        compress="zstd",
        zstd_level=1,
    ) as ds:
        ds.write(dem.array, 1)
    return path


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sizes(
    *,
    n_sites: int,
    window_side: int,
    grid_cells: int,
    model: str,
    n_workers: int,
    batch_sites: int | None,
    tile_cells: int | None,
) -> tuple[int, int]:
    """Sites a task computes and the tiles' side, cells: given, or sized by the work.

    A task aims at :data:`TASK_SECONDS` of work, a site costing its window's cells times
    ``_SECONDS_PER_CELL[model]``, but leaves :data:`TASKS_PER_WORKER` tasks to each worker;
    a tile holds about a task's sites at the mean density.

    Examples
    --------
    >>> _sizes(n_sites=400, window_side=667, grid_cells=3708 * 3471, model="los",
    ...        n_workers=2, batch_sites=None, tile_cells=None)
    (10, 667)
    """
    if batch_sites is None:
        per_site_s = window_side**2 * _SECONDS_PER_CELL.get(model, _SECONDS_PER_CELL["itm"])
        by_work = math.ceil(TASK_SECONDS / per_site_s)
        by_workers = math.ceil(n_sites / (TASKS_PER_WORKER * n_workers))
        batch_sites = min(by_work, by_workers)
    batch_sites = max(int(batch_sites), 1)
    if tile_cells is None:
        side = math.sqrt(batch_sites * grid_cells / max(n_sites, 1))
        tile_cells = round(min(max(side, window_side, _TILE_CELLS_MIN), _TILE_CELLS_MAX))
    return batch_sites, max(int(tile_cells), 1)


def coverage_rasters_dask(
    dem: Raster,
    sites: gpd.GeoDataFrame,
    *,
    client: Client,
    radius_m: float,
    threshold_dbm: float,
    model: terrain.TerrainModel = "los",
    h_rx_m: float = 1.5,
    default_height_m: float = DEFAULT_HEIGHT_M,
    default_eirp_dbm: Mapping[str, float] = DEFAULT_EIRP_DBM,
    default_freq_mhz: Mapping[str, float] = DEFAULT_FREQ_MHZ,
    clutter_loss_db: float = 0.0,
    k_factor: float = 4.0 / 3.0,
    itm: terrain.ItmParams | None = None,
    step_m: float | None = None,
    scratch_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_work_cells: int | None = None,
    batch_sites: int | None = None,
    tile_cells: int | None = None,
    fan_in: int = 8,
) -> terrain.CoverageRasters:
    """Compute :func:`hatangso.coverage.terrain.coverage_rasters` on a Dask cluster.

    Parameters
    ----------
    dem, sites, radius_m, threshold_dbm, model, h_rx_m, default_height_m, default_eirp_dbm, \
default_freq_mhz, clutter_loss_db, k_factor, itm, step_m, progress, max_work_cells
        As for :func:`~hatangso.coverage.terrain.coverage_rasters`; `progress` is told the
        carriers done as the batches finish.
    client
        A client of the cluster (:func:`dask_client`).
    scratch_dir
        Folder, readable by every worker, where the terrain grid is written for the run
        (removed at its end); the system's temporary folder when None (a local cluster only).
    batch_sites
        Sites a task computes at most; by default as many as make :data:`TASK_SECONDS` of
        work (from the model and the window's cells), but no more than leave
        :data:`TASKS_PER_WORKER` tasks to each worker.
    tile_cells
        Side, in cells, of the square tiles that group the sites and cut the grids; by
        default the side of a square holding `batch_sites` sites at the run's mean density,
        at least a site's window and within 64-1,024 cells.
    fan_in
        Partials a reduction task combines.

    Returns
    -------
    CoverageRasters
        The grids of the run on one machine, bit for bit (``n_cached`` is 0: the workers do
        not use the per-site cache).

    Raises
    ------
    ConfigError
        If the work exceeds `max_work_cells`.
    """
    itm = itm or terrain.ItmParams()
    plan = terrain._plan_carriers(dem, sites, model=model, h_rx_m=h_rx_m, radius_m=radius_m,
                                  k_factor=k_factor, itm=itm, step_m=step_m,
                                  default_height_m=default_height_m,
                                  default_eirp_dbm=default_eirp_dbm,
                                  default_freq_mhz=default_freq_mhz, digest="")  # fmt: skip
    left, top, dx, dy = terrain._grid(dem)
    rows, cols = dem.shape
    carriers = [c for c in plan.carriers if c is not None]
    keys = {c[3] for c in carriers}
    terrain.check_work(
        len(keys), terrain.window_cells(radius_m, dx, dy), radius_m=radius_m, limit=max_work_cells
    )
    n_groups = len(plan.groups)
    step = float(step_m) if step_m is not None else min(dx, dy)
    margin = math.ceil(step / min(dx, dy)) + 4

    # the sites by tile of the grid, in site order within a tile; a batch never splits a site
    by_site: dict[int, list[tuple[int, str, float, str]]] = defaultdict(list)
    for carrier in carriers:
        by_site[carrier[0]].append(carrier)

    workers = sorted(client.scheduler_info().get("workers", {}))
    n_workers = max(len(workers), 1)
    batch_sites, tile = _sizes(
        n_sites=len(by_site),
        window_side=math.isqrt(terrain.window_cells(radius_m, dx, dy)),
        grid_cells=rows * cols,
        model=model,
        n_workers=n_workers,
        batch_sites=batch_sites,
        tile_cells=tile_cells,
    )

    def tile_of(i: int) -> tuple[int, int]:
        row = min(int((top - plan.ys[i]) // dy), rows - 1)
        col = min(int((plan.xs[i] - left) // dx), cols - 1)
        return row // tile, col // tile

    ordered = sorted(by_site, key=lambda i: (tile_of(i), i))
    groups_of_sites = [
        list(chunk)
        for _, in_tile in itertools.groupby(ordered, key=tile_of)
        for chunk in _chunks(list(in_tile), batch_sites)
    ]

    if scratch_dir is not None:
        Path(scratch_dir).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".dask-", dir=scratch_dir))
    run = uuid.uuid4().hex[:12]
    total = len(plan.carriers)
    done = total - len(carriers)  # the carriers outside the DEM
    computed = 0
    try:
        dem_path = _write_grid(dem, folder)
        client.run(_warm_kernels, model)
        batches: list[tuple[Future[tuple[_Part, ...]], int]] = []
        per_tile: dict[tuple[int, int], list[Future[_Part]]] = defaultdict(list)

        tiles_done: list[Future[_Tile]] = []

        def tile_box(tr: int, tc: int) -> tuple[int, int, int, int]:
            return tr * tile, min((tr + 1) * tile, rows), tc * tile, min((tc + 1) * tile, cols)

        combine_keys = itertools.count()

        def reduce_tile(tr: int, tc: int, level: list[Future[_Part]], *, last: bool) -> Future[Any]:
            """Reduce a tile's pieces in a tree of at most `fan_in` pieces a task.

            The tile's `last` reduction (:func:`_finish`) gives the grids the client writes.
            """
            fan = max(int(fan_in), 2)

            def key() -> str:
                return f"hatangso-terrain-tile-{run}-{tr}-{tc}-{next(combine_keys)}"

            while len(level) > fan:
                level = [
                    client.submit(_combine, tile_box(tr, tc), n_groups, *chunk, key=key())
                    for chunk in _chunks(level, fan)
                ]
            step = _finish if last else _combine
            return client.submit(step, tile_box(tr, tc), n_groups, *level, key=key())

        # every batch's footprint and output tiles first: a tile's reduction is submitted as
        # soon as its last piece is, so that the workers fold and free pieces as they go
        footprints: list[tuple[list[_Carrier], _Box, _Box, list[tuple[int, int]]]] = []
        for site_list in groups_of_sites:
            chosen = [c for i in site_list for c in by_site[i]]
            windows = np.array(
                [terrain._window(dem, *plan.physical[c[3]][:2], radius_m) for c in chosen]
            )
            box = (
                int(windows[:, 0].min()),
                int(windows[:, 1].max()),
                int(windows[:, 2].min()),
                int(windows[:, 3].max()),
            )
            read_box = (
                max(box[0] - margin, 0),
                min(box[1] + margin, rows),
                max(box[2] - margin, 0),
                min(box[3] + margin, cols),
            )
            tiles = [
                (tr, tc)
                for tr in range(box[0] // tile, (box[1] - 1) // tile + 1)
                for tc in range(box[2] // tile, (box[3] - 1) // tile + 1)
            ]
            if box[1] <= box[0] or box[3] <= box[2]:
                tiles = []  # an empty footprint writes nothing
            footprints.append((chosen, box, read_box, tiles))
        pieces_left = Counter(t for *_, tiles in footprints for t in tiles)

        for k, (chosen, box, read_box, tiles) in enumerate(footprints):
            index = np.array([c[0] for c in chosen], dtype=np.int64)
            batch = _Batch(
                dem_path=str(dem_path),
                shape=(rows, cols),
                transform=tuple(dem.transform)[:6],
                crs_wkt=dem.crs.to_wkt(),
                box=box,
                read_box=read_box,
                tiles=tuple(tile_box(tr, tc) for tr, tc in tiles),
                site_index=index,
                key=tuple(c[3] for c in chosen),
                tech=tuple(c[1] for c in chosen),
                physical={c[3]: plan.physical[c[3]] for c in chosen},
                eirp=np.array([c[2] for c in chosen], dtype=np.float64),
                azimuth=plan.azimuths[index],
                beamwidth=plan.beamwidths[index],
                group=np.array(
                    [plan.group_index[(plan.operators[c[0]], c[1])] for c in chosen],
                    dtype=np.int64,
                ),
                x=plan.xs[index],
                y=plan.ys[index],
                n_groups=n_groups,
                model=model,
                radius_m=float(radius_m),
                h_rx_m=float(h_rx_m),
                k_factor=float(k_factor),
                itm=itm,
                step_m=None if step_m is None else float(step_m),
                threshold_dbm=float(threshold_dbm),
                clutter_loss_db=float(clutter_loss_db),
            )
            computed += len(set(batch.key))
            # the batches in tile order, cut into one run of neighbouring tiles per worker: a
            # tile's pieces then come from one worker, and only the tiles where two runs meet
            # travel between workers to be reduced. The restriction is loose: a worker that runs
            # out of work steals from the other, and one that dies leaves its batches to them.
            home = [workers[k * len(workers) // len(footprints)]] if workers else None
            future = client.submit(
                _run_batch,
                batch,
                key=f"{TASK_PREFIX}-{run}-{k}",
                workers=home,
                allow_other_workers=True,
            )
            batches.append((future, len(chosen)))
            # each tile's piece, cut on the worker that holds the partial (one submission for
            # the batch's pieces: the client's time per submission is the cost here)
            pieces: list[Future[_Part]] = (
                client.map(operator.getitem, [future] * len(tiles), range(len(tiles)),
                           key=[f"hatangso-terrain-piece-{run}-{k}-{j}" for j in range(len(tiles))])
                if tiles else []
            )  # fmt: skip
            for (tr, tc), piece in zip(tiles, pieces, strict=True):
                per_tile[(tr, tc)].append(piece)
                pieces_left[(tr, tc)] -= 1
                if not pieces_left[(tr, tc)]:
                    tiles_done.append(reduce_tile(tr, tc, per_tile.pop((tr, tc)), last=True))
                elif len(per_tile[(tr, tc)]) >= max(int(fan_in), 2):
                    # fold as the pieces come: a worker holds at most `fan_in` a tile
                    per_tile[(tr, tc)] = [reduce_tile(tr, tc, per_tile[(tr, tc)], last=False)]
        del footprints

        from distributed import as_completed

        best = np.full((rows, cols), np.nan, dtype=np.float32)
        best_site = np.full((rows, cols), -1, dtype=np.int32)
        count = np.zeros((rows, cols), dtype=np.uint16)
        masks = np.zeros((n_groups, rows, cols), dtype=bool)
        # the batches count the progress; each reduced tile is gathered as soon as it is done,
        # so that the workers never hold the whole grids
        sizes = {future.key: n for future, n in batches}
        if progress is not None:
            progress(done, total)
        pending = as_completed([f for f, _ in batches] + tiles_done)
        del batches, tiles_done  # a batch's partial is released once its pieces are cut
        for future in pending:
            if future.status == "error":
                future.result()  # raises the task's error
            if future.key in sizes:
                done += sizes[future.key]
                if progress is not None:
                    progress(done, total)
            else:
                part: _Tile = future.result()
                h, w = part.best.shape
                where = (slice(part.r0, part.r0 + h), slice(part.c0, part.c0 + w))
                best[where] = part.best
                best_site[where] = part.best_site
                count[where] = part.count
                masks[:, where[0], where[1]] = part.masks
                del part
            future.release()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    log.info(
        "terrain coverage on %d Dask workers: %d carriers of %d sites in %d tasks of at most %d "
        "sites, tiles of %d cells, %d sites outside the DEM",
        n_workers,
        total,
        len(plan.site_ids),
        len(groups_of_sites),
        batch_sites,
        tile,
        len(plan.skipped),
    )
    return terrain.CoverageRasters(
        best_dbm=dem.with_array(best),
        best_site=dem.with_array(best_site),
        server_count=dem.with_array(count),
        covered={g: dem.with_array(masks[k]) for g, k in plan.group_index.items()},
        site_ids=plan.site_ids,
        threshold_dbm=float(threshold_dbm),
        n_computed=computed,
        n_cached=0,
        skipped_site_ids=tuple(s for s in plan.site_ids if s in plan.skipped),
    )
