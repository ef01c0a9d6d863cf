"""The terrain model on a Dask cluster gives the single-process answers, bit for bit.

On the real SRTM tile N21E105 (Vĩnh Yên and the foot of Tam Đảo) and the real OSM villages
there; the sites are generated on the villages (no public BTS data exists), several operators
sharing masts, sectors and omni antennas side by side so that best-server ties occur.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hatangso.coverage import distributed, terrain
from hatangso.coverage.distributed import TASK_PREFIX, ClusterOptions, coverage_rasters_dask
from hatangso.coverage.rasters import Raster, read_dem
from hatangso.geo.errors import ConfigError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
TILE = DATA / "dem" / "N21E105.hgt"
PLACES = DATA / "osm" / "geofabrik_vn_20180103" / "gis.osm_places_free_1.shp"
BBOX = (105.45, 21.25, 105.70, 21.45)
UTM48 = "EPSG:32648"
HATANGSO = str(Path(sys.executable).with_name("hatangso"))

needs_data = pytest.mark.skipif(
    not (TILE.exists() and PLACES.exists()),
    reason=f"the SRTM tile and the OSM places are not in {DATA} (../shared/data)",
)


def _villages() -> gpd.GeoDataFrame:
    places = gpd.read_file(PLACES, bbox=BBOX)
    places = places[places["fclass"].isin(["village", "hamlet", "town", "city"])]
    return gpd.GeoDataFrame(
        {"village_id": places["osm_id"].astype(str).to_numpy(), "name": places["name"]},
        geometry=places.geometry.to_numpy(),
        crs="EPSG:4326",
    ).reset_index(drop=True)


def _sites(villages: gpd.GeoDataFrame, n: int = 18) -> gpd.GeoDataFrame:
    """Sites beside every other village; three operators; shared masts, sectors and omni."""
    rng = np.random.default_rng(11)
    xy = shapely.get_coordinates(villages.to_crs(UTM48).geometry)[::2][:n]
    xy = xy + rng.uniform(-400, 400, xy.shape)
    rows: list[dict[str, Any]] = []
    for k, (x, y) in enumerate(xy):
        op = ["Viettel", "VNPT", "MobiFone"][k % 3]
        tech = ["4G", "4G;5G", "4G"][k % 3]
        if k % 4 == 0:  # a three-sector site
            for s, az in enumerate((0.0, 120.0, 240.0)):
                rows.append(dict(site_id=f"S{k}-{s}", operator=op, tech=tech, x=x, y=y,
                                 azimuth_deg=az, beamwidth_deg=65.0, height_m=30.0))  # fmt: skip
        else:
            rows.append(dict(site_id=f"S{k}", operator=op, tech=tech, x=x, y=y, height_m=25.0))
        if k % 5 == 1:  # a second operator on the same mast, same antenna: ties everywhere
            rows.append(dict(site_id=f"S{k}-share", operator="Vietnamobile", tech="4G", x=x,
                             y=y, height_m=25.0))  # fmt: skip
    frame = pd.DataFrame(rows)
    return gpd.GeoDataFrame(
        frame.drop(columns=["x", "y"]),
        geometry=shapely.points(frame[["x", "y"]].to_numpy()),
        crs=UTM48,
    )


def _dem() -> Raster:
    west, south, east, north = BBOX
    return read_dem(
        TILE,
        bounds_wgs84=(west - 0.05, south - 0.05, east + 0.05, north + 0.05),
        dst_crs=UTM48,
        resolution_m=90.0,
    )


def assert_same_grids(a: terrain.CoverageRasters, b: terrain.CoverageRasters) -> None:
    np.testing.assert_array_equal(a.best_dbm.array, b.best_dbm.array)
    np.testing.assert_array_equal(a.best_site.array, b.best_site.array)
    np.testing.assert_array_equal(a.server_count.array, b.server_count.array)
    assert a.covered.keys() == b.covered.keys()
    for group in a.covered:
        np.testing.assert_array_equal(a.covered[group].array, b.covered[group].array)
    assert a.site_ids == b.site_ids
    assert a.skipped_site_ids == b.skipped_site_ids


# --------------------------------------------------------------------------------------------
# The reduction, without a cluster


def test_partials_combine_into_the_sequential_best_server_ties_included() -> None:
    # Powers a few float32 ulps apart, where float64 order and float32 rounding disagree:
    # any split of the carriers into partials, combined in any order, gives the best server
    # and grids of the one sequential fold.
    rng = np.random.default_rng(3)
    base = np.float32(-87.25)
    ulp = float(np.spacing(base))
    for _ in range(300):
        n = int(rng.integers(2, 9))
        steps = rng.integers(-2, 3, n) + rng.choice([-0.4, -0.2, 0.0, 0.2, 0.4], n)
        eirp = float(base) + steps * ulp
        loss = np.zeros((1, 1), dtype=np.float32)
        args = (0.0, 1.0, 1.0, 1.0, 0.5, -0.5)  # x_left, y_top, dx, dy, site at the cell centre
        best = np.full((1, 1), np.nan, dtype=np.float32)
        best_site = np.full((1, 1), -1, dtype=np.int32)
        count = np.zeros((1, 1), dtype=np.uint16)
        last = np.full((1, 1), -1, dtype=np.int32)
        masks = np.zeros((1, 1, 1), dtype=bool)
        for i in range(n):
            terrain._accumulate(loss, 0, 0, *args, float(eirp[i]), 0.0, np.nan, np.nan, 25.0,
                                -87.25, i, 0, True, best, best_site, count, last,
                                masks)  # fmt: skip
        labels = rng.integers(0, 3, n)
        parts = []
        for label in range(3):
            part = distributed._empty_part(0, 1, 0, 1, 1)
            last = np.full((1, 1), -1, dtype=np.int32)
            for i in np.flatnonzero(labels == label):
                terrain._accumulate_part(loss, 0, 0, *args, float(eirp[i]), 0.0, np.nan, np.nan,
                                         25.0, -87.25, int(i), 0, True, 0, 0, part.best,
                                         part.first,
                                         part.above, part.count, last, part.masks)  # fmt: skip
            parts.append(part)
        order = rng.permutation(3)
        out = distributed._combine((0, 1, 0, 1), 1, *[parts[k] for k in order])
        site = np.where(out.above >= 0, out.above, out.first)
        np.testing.assert_array_equal(out.best, best)
        np.testing.assert_array_equal(site, best_site)
        np.testing.assert_array_equal(out.count, count)
        np.testing.assert_array_equal(out.masks, masks)


def test_dask_weighs_a_partial_and_a_tile_by_their_arrays() -> None:
    # The scheduler places a reduction by its inputs' sizes: a partial of 10 x 20 cells and
    # 3 groups holds 200 cells x (4 + 4 + 4 + 2) bytes of grids and 600 bytes of masks.
    from dask.sizeof import sizeof

    part = distributed._empty_part(5, 15, 0, 20, 3)
    assert 200 * 14 + 600 <= sizeof(part) < 200 * 14 + 600 + 1_000
    # the tile the client receives: best (4), best server (4), count (2), masks
    tile = distributed._finish((5, 15, 0, 20), 3, part)
    assert 200 * 10 + 600 <= sizeof(tile) < 200 * 10 + 600 + 1_000
    assert (tile.r0, tile.c0, tile.best_site.shape) == (5, 0, (10, 20))
    assert (tile.best_site == -1).all()


def test_cluster_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="--workers"):
        ClusterOptions(workers=0)
    with pytest.raises(ConfigError, match="both"):
        ClusterOptions(workers=2, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ConfigError, match="tcp://HOST:PORT"):
        ClusterOptions(scheduler="localhost")


# --------------------------------------------------------------------------------------------
# A local cluster of two worker processes


@pytest.fixture(scope="module")
def client() -> Any:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def real() -> tuple[Raster, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    if not (TILE.exists() and PLACES.exists()):
        pytest.skip(f"the SRTM tile and the OSM places are not in {DATA} (../shared/data)")
    villages = _villages()
    return _dem(), villages, _sites(villages)


KW: dict[str, Any] = {"radius_m": 5000.0, "threshold_dbm": -100.0}


@pytest.mark.slow
@pytest.mark.shared_data
@needs_data
def test_two_workers_give_the_single_process_grids_and_villages(
    client: Any, real: tuple[Raster, gpd.GeoDataFrame, gpd.GeoDataFrame], tmp_path: Path
) -> None:
    dem, villages, sites = real
    single = terrain.coverage_rasters(dem, sites, **KW)
    seen: list[tuple[int, int]] = []
    # small tiles and batches: many tasks, partials spread over several tiles
    spread = coverage_rasters_dask(dem, sites, client=client, scratch_dir=tmp_path,
                                   batch_sites=3, tile_cells=64, fan_in=3,
                                   progress=lambda d, t: seen.append((d, t)), **KW)  # fmt: skip
    assert_same_grids(spread, single)
    assert spread.n_computed >= single.n_computed
    assert int(np.count_nonzero(single.server_count.array >= 2)) > 1000  # overlaps were tested
    assert seen[-1] == (len(sites) + sites["tech"].str.count(";").sum(),) * 2
    assert list(tmp_path.iterdir()) == []  # the run's grid file is gone
    a = terrain.judge_villages(villages.to_crs(UTM48), single)
    b = terrain.judge_villages(villages.to_crs(UTM48), spread)
    pd.testing.assert_frame_equal(a, b)
    assert a["covered_mobile"].any() and not a["covered_mobile"].all()


@pytest.mark.slow
@pytest.mark.shared_data
@needs_data
def test_a_worker_killed_mid_run_changes_nothing(
    client: Any, real: tuple[Raster, gpd.GeoDataFrame, gpd.GeoDataFrame], tmp_path: Path
) -> None:
    import cloudpickle
    from distributed import WorkerPlugin

    dem, _, sites = real
    marker = tmp_path / "killed"

    class KillOnce(WorkerPlugin):  # type: ignore[misc]
        """The first worker to start a terrain task dies there (once: the marker says so)."""

        def __init__(self, path: str) -> None:
            self.path = path

        def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
            if finish == "executing" and TASK_PREFIX in str(key):
                if not os.path.exists(self.path):
                    Path(self.path).write_text(str(os.getpid()))
                    os._exit(1)

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        client.register_plugin(KillOnce(str(marker)), name="kill-once")
        spread = coverage_rasters_dask(dem, sites, client=client, scratch_dir=tmp_path / "grid",
                                       batch_sites=4, tile_cells=96, **KW)  # fmt: skip
    finally:
        client.unregister_worker_plugin("kill-once")
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert marker.exists()  # a worker did die
    assert_same_grids(spread, terrain.coverage_rasters(dem, sites, **KW))


# --------------------------------------------------------------------------------------------
# The command line


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HATANGSO, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not (TILE.exists() and PLACES.exists()):
        pytest.skip(f"the SRTM tile and the OSM places are not in {DATA} (../shared/data)")
    folder = tmp_path_factory.mktemp("inputs")
    villages = _villages()
    villages.to_file(folder / "villages.gpkg")
    _sites(villages, n=8).to_crs(4326).to_file(folder / "sites.gpkg")
    config = folder / "terrain.yaml"
    config.write_text(
        "mobile:\n  model: terrain\n  threshold_dbm: -100\n"
        "terrain:\n  radius_m: 4000\n  resolution_m: 90\n",
        encoding="utf-8",
    )
    return {"villages": folder / "villages.gpkg", "sites": folder / "sites.gpkg", "config": config}


def _coverage(inputs: dict[str, Path], out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _run(
        "coverage",
        *("--villages", str(inputs["villages"]), "--sites", str(inputs["sites"])),
        *("--dem", str(TILE), "--config", str(inputs["config"]), "--out", str(out)),
        *extra,
    )


@pytest.mark.slow
@pytest.mark.shared_data
@needs_data
def test_the_command_line_with_two_workers_gives_the_same_villages(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    here = _coverage(inputs, tmp_path / "one")
    assert here.returncode == 0, here.stderr
    spread = _coverage(inputs, tmp_path / "two", "--workers", "2")
    assert spread.returncode == 0, spread.stderr
    assert "dashboard http://" in spread.stderr  # the progress display
    a = gpd.read_file(tmp_path / "one" / "villages.gpkg")
    b = gpd.read_file(tmp_path / "two" / "villages.gpkg")
    pd.testing.assert_frame_equal(a, b)
    kpis_a = (tmp_path / "one" / "kpis.json").read_text(encoding="utf-8")
    kpis_b = (tmp_path / "two" / "kpis.json").read_text(encoding="utf-8")
    assert kpis_a == kpis_b


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (("--scheduler", "tcp://127.0.0.1:1"), "cannot reach the Dask scheduler"),
        (("--workers", "0"), "--workers"),
    ],
)
@pytest.mark.shared_data
@needs_data
def test_a_bad_cluster_option_exits_2_with_a_message(
    inputs: dict[str, Path], tmp_path: Path, extra: tuple[str, ...], says: str
) -> None:
    done = _coverage(inputs, tmp_path / "out", *extra)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr
