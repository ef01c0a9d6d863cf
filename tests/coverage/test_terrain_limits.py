"""The terrain model's limits: the cache's cap, scratch folders, the work refused up front."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from rasterio.crs import CRS
from rasterio.transform import from_origin

from hatangso.coverage.rasters import Raster
from hatangso.coverage.terrain import (
    SCRATCH_PREFIX,
    check_grid,
    coverage_rasters,
    prune_cache,
    remove_stale_scratch,
    window_cells,
)
from hatangso.geo.errors import ConfigError

UTM48 = CRS.from_epsg(32648)


def flat_dem(rows: int = 100, cols: int = 100, cell_m: float = 30.0) -> Raster:
    return Raster(
        np.zeros((rows, cols), dtype=np.float32),
        from_origin(0.0, rows * cell_m, cell_m, cell_m),
        UTM48,
    )


def sites(n: int) -> gpd.GeoDataFrame:
    xs = 300.0 + 250.0 * np.arange(n)
    return gpd.GeoDataFrame(
        {"site_id": [f"S{i}" for i in range(n)], "operator": ["Viettel"] * n},
        geometry=shapely.points(xs, np.full(n, 1500.0)),
        crs=UTM48,
    )


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_cache_evicts_the_least_recently_used_beyond_its_cap(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    dem = flat_dem()
    kwargs = {"radius_m": 600.0, "threshold_dbm": -110.0, "cache_dir": cache}
    first = coverage_rasters(dem, sites(4), **kwargs)  # type: ignore[arg-type]
    assert first.n_computed == 4
    entries = sorted(cache.glob("*.npz"))
    assert len(entries) == 4
    # Give the entries distinct last uses, 100 s apart.
    now = time.time()
    for age, path in enumerate(entries, start=1):
        os.utime(path, (now - 100 * age, now - 100 * age))
    # Reading one makes it the most recently used, whatever its age was.
    again = coverage_rasters(dem, sites(4).iloc[[0]], **kwargs)  # type: ignore[arg-type]
    assert again.n_cached == 1
    by_use = sorted(cache.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns)
    used = by_use[-1]
    assert used.stat().st_mtime > now - 50
    # A cap that holds the two most recently used: the two least recently used go.
    cap = sum(p.stat().st_size for p in by_use[2:])
    size = max(p.stat().st_size for p in by_use)
    removed = prune_cache(cache, max_bytes=cap)
    assert removed == by_use[:2] and used not in removed
    assert sorted(cache.glob("*.npz")) == sorted(by_use[2:])
    # The cap given to a run is kept after it.
    coverage_rasters(dem, sites(6), cache_max_bytes=3 * size, **kwargs)  # type: ignore[arg-type]
    kept = list(cache.glob("*.npz"))
    assert 2 <= len(kept) < 6 and sum(p.stat().st_size for p in kept) <= 3 * size


def test_a_killed_runs_scratch_is_removed_by_the_next_run(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    gone = cache / f"{SCRATCH_PREFIX}{dead_pid()}"
    gone.mkdir()
    (gone / "half-written.tmp.npz").write_bytes(b"\0" * 1000)
    old_style = cache / f"abc.{dead_pid()}.tmp.npz"
    old_style.write_bytes(b"\0")
    alive = cache / f"{SCRATCH_PREFIX}{os.getppid()}-x"  # a run still going: kept
    alive.mkdir()
    coverage_rasters(flat_dem(), sites(1), radius_m=600.0, threshold_dbm=-110.0, cache_dir=cache)
    assert not gone.exists() and not old_style.exists()
    assert alive.exists()
    # This run removed its own scratch when it ended.
    alive.rmdir()
    coverage_rasters(flat_dem(), sites(2), radius_m=600.0, threshold_dbm=-110.0, cache_dir=cache)
    assert not any(p.name.startswith(SCRATCH_PREFIX) for p in cache.iterdir())
    assert remove_stale_scratch(cache) == []


def test_a_failing_run_removes_its_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hatangso.coverage.terrain as terrain

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(terrain, "_store", broken)
    cache = tmp_path / "cache"
    with pytest.raises(OSError, match="disk full"):
        coverage_rasters(
            flat_dem(), sites(1), radius_m=600.0, threshold_dbm=-110.0, cache_dir=cache
        )
    assert not any(p.name.startswith(SCRATCH_PREFIX) for p in cache.iterdir())


def test_the_work_is_estimated_and_refused_before_anything_runs(tmp_path: Path) -> None:
    cells = window_cells(600.0, 30.0, 30.0)
    assert cells == 41 * 41
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError) as info:
        coverage_rasters(
            flat_dem(),
            sites(3),
            radius_m=600.0,
            threshold_dbm=-110.0,
            cache_dir=cache,
            max_work_cells=2 * cells,
        )
    text = str(info.value)
    assert "3 sites x 1,681 cells" in text and "5,043 cells" in text and "3,362" in text
    assert "terrain.radius_m" in text and "HATANGSO_MAX_TERRAIN_WORK_CELLS" in text
    assert not list(cache.glob("*.npz"))  # nothing was computed
    # Sites already in the cache cost nothing: within the limit once two are cached.
    coverage_rasters(flat_dem(), sites(2), radius_m=600.0, threshold_dbm=-110.0, cache_dir=cache)
    coverage_rasters(
        flat_dem(),
        sites(3),
        radius_m=600.0,
        threshold_dbm=-110.0,
        cache_dir=cache,
        max_work_cells=2 * cells,
    )


def test_a_grid_past_the_limit_is_refused_with_its_figures() -> None:
    check_grid(150_000.0, 150_000.0, 30.0, limit=200_000_000)
    with pytest.raises(ConfigError, match=r"300\.0 x 300\.0 km at 5 m = 3,600,000,000 cells"):
        check_grid(300_000.0, 300_000.0, 5.0, limit=200_000_000)
