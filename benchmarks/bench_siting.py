"""Site planning at provincial scale: exact (HiGHS) against lazy greedy.

The instance: 2,000 uncovered villages in clusters in the hills of a 1 x 1 degree area (about
104 x 111 km) and 10,000 candidate sites on high ground near them, reach 2-8 km, about 15 % on
another operator's existing tower (co-location: much cheaper). Terrain is the SRTM-3 tile
N21E105 (Ba Vi, Tam Dao, Hoa Binh; ``../shared/data/dem``) or, when that is absent, a fractal
surface of the same relief. A village is covered by a site within reach whose line of sight,
tower top (30-45 m) to 2 m above the village, clears the terrain.

Run: ``.venv/bin/python benchmarks/bench_siting.py``. Targets: the exact solver proves optimality
(or reports its gap) within 60 s; greedy answers within 2 s.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy import ndimage
from scipy.spatial import cKDTree

from hatangso.coverage.optimize import Solution, max_coverage, min_cost_cover

SEED = 20240425
DEM_PATH = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dem" / "N21E105.hgt"
N_VILLAGES = 2_000
N_CANDIDATES = 10_000
N_CLUSTERS = 120
COLOCATED_SHARE = 0.15
LOS_SAMPLES = 32
TIME_LIMIT_S = 60.0
GREEDY_LIMIT_S = 2.0

FloatArray = npt.NDArray[np.float64]


def load_dem(rng: np.random.Generator) -> tuple[FloatArray, float, str]:
    """Return elevation (m, north-up), cell size (m) and where it came from."""
    if DEM_PATH.exists():
        dem = np.fromfile(DEM_PATH, dtype=">i2").reshape(1201, 1201).astype(np.float64)
        void = dem == -32768
        if void.any():  # fill voids with the nearest valid cell
            nearest = ndimage.distance_transform_edt(
                void, return_distances=False, return_indices=True
            )
            dem = dem[tuple(nearest)]
        # 3 arc-seconds: 92.6 m north-south, about 86.3 m east-west at 21.5 N; use the mean.
        return dem, 89.5, "SRTM-3 N21E105"
    n = 1201
    freq = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n)))
    spectrum = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    spectrum /= np.maximum(freq, 1.0 / n) ** 1.8
    surface = np.fft.ifft2(spectrum).real
    surface = (surface - surface.min()) / np.ptp(surface) * 1_600.0
    return surface, 89.5, "fractal surface (SRTM tile absent)"


def sample_cells(
    rng: np.random.Generator, weight: FloatArray, size: int, cell_m: float
) -> FloatArray:
    """Draw ``size`` points (x, y in m) in cells with probability proportional to ``weight``."""
    flat = weight.ravel() / weight.sum()
    cell = rng.choice(flat.size, size=size, p=flat)
    row, col = np.divmod(cell, weight.shape[1])
    return np.column_stack([col, row]) * cell_m + rng.uniform(0, cell_m, size=(size, 2))


def elevation_at(dem: FloatArray, xy: FloatArray, cell_m: float) -> FloatArray:
    """Nearest-cell elevation at points (x east, y south, in m from the north-west corner)."""
    col = np.clip((xy[..., 0] / cell_m).astype(np.int64), 0, dem.shape[1] - 1)
    row = np.clip((xy[..., 1] / cell_m).astype(np.int64), 0, dem.shape[0] - 1)
    return dem[row, col]


def build_instance(
    seed: int = SEED,
) -> tuple[Any, FloatArray, FloatArray, npt.NDArray[np.bool_], str]:
    """Return coverage (candidates x villages), population, cost (million VND), co-located."""
    rng = np.random.default_rng(seed)
    dem, cell_m, source = load_dem(rng)
    extent_m = dem.shape[0] * cell_m
    # Dark villages: hill valleys (100-900 m), not the delta and not the summits.
    hills = np.where((dem > 100) & (dem < 900), 1.0, 0.0)
    centres = sample_cells(rng, hills, N_CLUSTERS, cell_m)
    spread_m = rng.uniform(1_000, 3_500, size=N_CLUSTERS)
    cluster = rng.integers(0, N_CLUSTERS, size=N_VILLAGES)
    villages_xy = centres[cluster] + rng.normal(size=(N_VILLAGES, 2)) * spread_m[cluster, None]
    villages_xy = np.clip(villages_xy, 0, extent_m - 1)
    population = np.round(rng.lognormal(mean=6.0, sigma=0.6, size=N_VILLAGES))
    # Candidates near villages, on the highest cell within about 450 m.
    anchor = villages_xy[rng.integers(0, N_VILLAGES, size=N_CANDIDATES)]
    sites_xy = np.clip(anchor + rng.normal(scale=3_000, size=(N_CANDIDATES, 2)), 0, extent_m - 1)
    ridge = ndimage.maximum_filter(dem, size=11)
    site_z = elevation_at(ridge, sites_xy, cell_m) + rng.uniform(30, 45, size=N_CANDIDATES)
    village_z = elevation_at(dem, villages_xy, cell_m) + 2.0
    reach_m = rng.uniform(2_000, 8_000, size=N_CANDIDATES)
    colocated = rng.random(N_CANDIDATES) < COLOCATED_SHARE
    # New tower: 1.2-2.5 billion VND (access road and power vary); sharing: 0.3-0.5 billion.
    cost = np.where(
        colocated,
        rng.uniform(300, 500, size=N_CANDIDATES),
        rng.uniform(1_200, 2_500, size=N_CANDIDATES),
    ).round()
    pairs = cKDTree(sites_xy).sparse_distance_matrix(
        cKDTree(villages_xy), max_distance=float(reach_m.max()), output_type="ndarray"
    )
    site, village = pairs["i"], pairs["j"]
    within = pairs["v"] <= reach_m[site]
    site, village = site[within], village[within]
    # Line of sight: terrain at LOS_SAMPLES points strictly between the ends stays below the ray.
    t = (np.arange(1, LOS_SAMPLES + 1) / (LOS_SAMPLES + 1))[None, :, None]
    path = sites_xy[site][:, None, :] * (1 - t) + villages_xy[village][:, None, :] * t
    ray = site_z[site][:, None] * (1 - t[..., 0]) + village_z[village][:, None] * t[..., 0]
    clear = np.all(elevation_at(dem, path, cell_m) < ray, axis=1)
    coverage = sp.csr_array(
        (np.ones(int(clear.sum()), dtype=bool), (site[clear], village[clear])),
        shape=(N_CANDIDATES, N_VILLAGES),
    )
    return coverage, population, cost, colocated, source


def describe(label: str, sol: Solution, colocated: npt.NDArray[np.bool_]) -> None:
    """Print one result line."""
    gap = "n/a" if sol.gap is None else f"{sol.gap:.2e}"
    bound = "n/a" if sol.bound is None else f"{sol.bound:,.0f}"
    print(
        f"  {label:<7} {sol.status:<10} {sol.runtime_s:7.2f} s  objective {sol.objective:>12,.0f}"
        f"  bound {bound:>12}  gap {gap:>8}  sites {sol.selected.size:4d}"
        f" ({int(colocated[sol.selected].sum())} shared)  share {sol.covered_share:.4f}"
    )


def compare(
    title: str, greedy: Solution, exact: Solution, sense: str, colocated: npt.NDArray[np.bool_]
) -> bool:
    """Print both answers and greedy's gap to the exact one; return whether targets are met."""
    print(title)
    describe("greedy", greedy, colocated)
    describe("milp", exact, colocated)
    if sense == "max":
        greedy_gap = (exact.objective - greedy.objective) / exact.objective
    else:
        greedy_gap = (greedy.objective - exact.objective) / exact.objective
    line = f"  greedy's gap to the exact answer: {100 * greedy_gap:.2f} %"
    if exact.bound is not None:
        to_bound = abs(greedy.objective - exact.bound) / max(greedy.objective, exact.bound)
        line += f"; to the proven bound on the optimum: {100 * to_bound:.2f} %"
    print(line)
    return bool(
        greedy.runtime_s < GREEDY_LIMIT_S
        and exact.runtime_s < TIME_LIMIT_S + 1.0
        and exact.gap is not None
    )


def main() -> int:
    """Build the instance, run both methods on three questions, check the time targets."""
    t0 = time.perf_counter()
    coverage, population, cost, colocated, source = build_instance()
    reach = np.asarray(coverage.sum(axis=0)).ravel()
    print(
        f"instance on {source}: {N_CANDIDATES} candidates x {N_VILLAGES} villages, "
        f"{coverage.nnz} links (median {np.median(reach):.0f} candidates a village), "
        f"{int((reach == 0).sum())} villages out of reach, "
        f"built in {time.perf_counter() - t0:.2f} s"
    )
    ok = True
    k_sites = 60
    ok &= compare(
        f"MCLP: most people with {k_sites} sites",
        max_coverage(coverage, population, budget=k_sites, method="greedy"),
        max_coverage(coverage, population, budget=k_sites, time_limit_s=TIME_LIMIT_S),
        "max",
        colocated,
    )
    budget = 60_000.0
    ok &= compare(
        f"MCLP: most people for {budget:,.0f} million VND",
        max_coverage(coverage, population, costs=cost, budget=budget, method="greedy"),
        max_coverage(coverage, population, costs=cost, budget=budget, time_limit_s=TIME_LIMIT_S),
        "max",
        colocated,
    )
    villages = np.ones(N_VILLAGES)
    best_share = float((reach > 0).mean())
    ok &= compare(
        f"LSCP: cheapest cover of every reachable village (share {best_share:.4f})",
        min_cost_cover(coverage, villages, costs=cost, target_share=best_share, method="greedy"),
        min_cost_cover(
            coverage, villages, costs=cost, target_share=best_share, time_limit_s=TIME_LIMIT_S
        ),
        "min",
        colocated,
    )
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
