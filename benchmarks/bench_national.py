"""National-scale benchmark: 100,000 village polygons and 120,000 sites over Vietnam.

Run: ``.venv/bin/python -P benchmarks/bench_national.py`` (``make bench`` runs every benchmark).

It measures, in one run on the same data:

1. loading and validating ``villages.gpkg`` and ``sites.gpkg`` (target: under 10 s);
2. hatangso's coverage engine, ``radius`` model, ``point`` and ``area`` rules (target: under
   10 s, peak memory under 4 GiB);
3. the idiomatic geopandas approach for the point rule: ``sjoin`` with ``predicate="dwithin"``
   per technology and environment class (one distance per join), then a groupby;
   hatangso must take at most half its time.

Then, as a user meets it:

4. the whole command ``hatangso coverage --villages … --sites … --out DIR`` in a subprocess,
   every output written (kpis.json, villages.gpkg, villages.parquet, towers.geojson, map.html);
   targets: at most 10 s and at most the time of
5. the idiomatic geopandas job: read both GeoPackages, ``sjoin(predicate="dwithin")`` per
   technology and reach class, write the villages with their flags to a GeoPackage;
6. the size of ``map.html`` (its data are inside it, no sidecar file): at most 5 MB;
7. the map in Chromium (Debian's ``/usr/bin/chromium`` through Playwright, every request that
   is not the file itself blocked): from navigation start to the village layers' first draw
   (``window.hatangsoReady``), at most 3 s, and a click on a village opens its popup.

``--command`` runs steps 4 to 7 only. Steps 4 and 5 run in pairs, ``--repeats N`` times (3 by
default), and the ratio is the median of the pairs' ratios.

Each measured step runs in a child process so that its peak memory (``ru_maxrss``) is its own.
The synthetic data are written once to ``benchmarks/_data/`` (ignored by git).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# Named by the data's version: v2 keeps every village and site inside the country's outline.
DATA = HERE / "_data" / "national-v2"
N_VILLAGES = 100_000
N_SITES = 120_000
UTM48 = 32648

# Vietnam as a few metric boxes in UTM 48N (north, centre, south), enough to spread the data
# over the country's real extent (about 330,000 km2).
BOXES = [
    (220_000, 2_300_000, 780_000, 2_600_000),  # north
    (480_000, 1_800_000, 860_000, 2_300_000),  # centre
    (520_000, 1_200_000, 1_000_000, 1_800_000),  # central highlands and south-centre
    (330_000, 950_000, 800_000, 1_250_000),  # Mekong delta and Hồ Chí Minh City
]


def _points_in_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    areas = np.array([(b[2] - b[0]) * (b[3] - b[1]) for b in BOXES], dtype=float)
    which = rng.choice(len(BOXES), size=n, p=areas / areas.sum())
    b = np.array(BOXES, dtype=float)[which]
    return np.column_stack([rng.uniform(b[:, 0], b[:, 2]), rng.uniform(b[:, 1], b[:, 3])])


def _inside_vietnam(xy: np.ndarray) -> np.ndarray:
    """Which UTM 48N points validation keeps: inside Viet Nam's outline (its islands too)."""
    import pyproj

    from hatangso.geo.outline import in_vietnam

    lon, lat = pyproj.Transformer.from_crs(UTM48, 4326, always_xy=True).transform(
        xy[:, 0], xy[:, 1]
    )
    return np.asarray(in_vietnam(lon, lat), dtype=bool)


def _points_in_vietnam(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` points spread over the boxes, each inside the country (boxes hold sea and Laos)."""
    kept = np.empty((0, 2))
    while len(kept) < n:
        xy = _points_in_boxes(rng, 2 * n)
        kept = np.vstack([kept, xy[_inside_vietnam(xy)]])
    return kept[:n]


def make_data() -> tuple[Path, Path]:
    """Write the synthetic national villages and sites (once)."""
    import geopandas as gpd
    import shapely

    villages_path = DATA / "villages.gpkg"
    sites_path = DATA / "sites.gpkg"
    if villages_path.exists() and sites_path.exists():
        return villages_path, sites_path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20231012)
    seeds = _points_in_vietnam(rng, N_VILLAGES)
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds))
    cells = shapely.get_parts(cells)
    # Keep each cell near its seed: clip to a 1.5 km disc so border cells stay village-sized.
    tree = shapely.STRtree(shapely.points(seeds))
    owner = tree.query_nearest(shapely.point_on_surface(cells), all_matches=False)[1]
    cells = shapely.intersection(
        cells, shapely.buffer(shapely.points(seeds[owner]), 1500, quad_segs=4)
    )
    villages = gpd.GeoDataFrame(
        {
            "village_id": [f"V{i:06d}" for i in range(len(cells))],
            "name": [f"Thôn {i}" for i in range(len(cells))],
            "commune": [f"Xã {i // 12}" for i in range(len(cells))],
            "population": rng.integers(200, 3000, size=len(cells)).astype(float),
        },
        geometry=cells,
        crs=UTM48,
    ).to_crs(4326)
    # Sites: near villages (towns draw more), four operators, a third carrying 5G.
    xy = np.empty((0, 2))
    while len(xy) < N_SITES:
        anchor = seeds[rng.integers(0, len(seeds), size=N_SITES)]
        near = anchor + rng.normal(0, 2500, size=(N_SITES, 2))
        xy = np.vstack([xy, near[_inside_vietnam(near)]])
    xy = xy[:N_SITES]
    env = rng.choice(["urban", "suburban", "rural"], size=N_SITES, p=[0.25, 0.3, 0.45])
    sites = gpd.GeoDataFrame(
        {
            "site_id": [f"S{i:06d}" for i in range(N_SITES)],
            "operator": rng.choice(
                ["Viettel", "VNPT", "MobiFone", "Vietnamobile"],
                size=N_SITES,
                p=[0.45, 0.25, 0.22, 0.08],
            ),
            "tech": rng.choice(["4G", "4G;5G"], size=N_SITES, p=[0.7, 0.3]),
            "height_m": rng.uniform(20, 45, size=N_SITES).round(1),
            "env": env,
        },
        geometry=shapely.points(xy),
        crs=UTM48,
    ).to_crs(4326)
    villages.to_file(villages_path, layer="villages", engine="pyogrio")
    sites.to_file(sites_path, layer="sites", engine="pyogrio")
    return villages_path, sites_path


def _child(target, args, queue) -> None:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = target(*args)
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((elapsed, peak_kib / 1024 / 1024, result))


def measure(target, *args):  # type: ignore[no-untyped-def]
    """Run `target(*args)` in a fresh process: (seconds, peak GiB, its return value)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, args, queue))
    proc.start()
    elapsed, peak, result = queue.get()
    proc.join()
    return elapsed, peak, result


def load_both(villages_path: Path, sites_path: Path) -> dict[str, int]:
    from hatangso.geo.validate import load_layer

    villages = load_layer(villages_path, "villages")
    sites = load_layer(sites_path, "sites")
    return {
        "villages": villages.used,
        "sites": sites.used,
        "rejected": villages.rejected + sites.rejected,
    }


def _load_frames(villages_path: Path, sites_path: Path):  # type: ignore[no-untyped-def]
    import geopandas as gpd

    return (
        gpd.read_file(villages_path, engine="pyogrio"),
        gpd.read_file(sites_path, engine="pyogrio"),
    )


def hatangso_rule(villages_path: Path, sites_path: Path, rule: str) -> dict[str, float]:
    """Run the engine twice: the first call also loads the compiled kernels (numba cache)."""
    from hatangso.coverage.config import CoverageConfig
    from hatangso.coverage.engine import CoverageInputs, assess

    villages, sites = _load_frames(villages_path, sites_path)
    config = CoverageConfig.model_validate({"mobile": {"rule": rule}})
    times = []
    for _ in range(2):
        start = time.perf_counter()
        result = assess(CoverageInputs(villages=villages, sites=sites), config)
        times.append(time.perf_counter() - start)
    v = result.villages
    return {
        "engine_s": times[1],
        "cold_s": times[0],
        "mobile": float(v["covered_mobile"].mean()),
        "5g": float(v["covered_5g"].mean()),
    }


def geopandas_point(villages_path: Path, sites_path: Path) -> dict[str, float]:
    """The idiomatic geopandas way: sjoin dwithin per technology and reach class."""
    import geopandas as gpd
    import pandas as pd

    from hatangso.coverage.config import DEFAULT_RADIUS_M

    villages, sites = _load_frames(villages_path, sites_path)
    start = time.perf_counter()
    crs = villages.estimate_utm_crs()
    # The same points as hatangso: on the surface in lon/lat, then projected.
    points = gpd.GeoDataFrame(geometry=villages.representative_point().to_crs(crs))
    sites_m = sites.to_crs(crs)
    result = {}
    for tech in ("4G", "5G"):
        if tech == "4G":
            carriers = sites_m  # every site carries 4G or better here
        else:
            carriers = sites_m[sites_m["tech"].str.contains("5G")]
        hit = []
        for env, radius in DEFAULT_RADIUS_M[tech].items():
            group = carriers[carriers["env"] == env]
            joined = gpd.sjoin(
                points, group[["operator", "geometry"]], predicate="dwithin", distance=radius
            )
            hit.append(joined[["operator"]])
        pairs = pd.concat(hit)
        covered = points.index.isin(pairs.index)
        if tech == "4G":
            # serving operators, as hatangso reports them
            pairs.reset_index().groupby("index")["operator"].agg(lambda s: ";".join(sorted(set(s))))
        result[tech] = float(covered.mean())
    elapsed = time.perf_counter() - start
    return {"engine_s": elapsed, "mobile": result["4G"], "5g": result["5G"]}


def geopandas_job(villages_path: Path, sites_path: Path, out: Path) -> dict[str, float]:
    """The same question the idiomatic geopandas way, from the files to a GeoPackage."""
    import geopandas as gpd
    import pandas as pd

    from hatangso.coverage.config import DEFAULT_RADIUS_M

    start = time.perf_counter()
    villages, sites = _load_frames(villages_path, sites_path)
    crs = villages.estimate_utm_crs()
    points = gpd.GeoDataFrame(geometry=villages.representative_point().to_crs(crs))
    sites_m = sites.to_crs(crs)
    for tech, column in (("4G", "covered_mobile"), ("5G", "covered_5g")):
        carriers = sites_m if tech == "4G" else sites_m[sites_m["tech"].str.contains("5G")]
        hit = [
            gpd.sjoin(
                points,
                carriers.loc[carriers["env"] == env, ["operator", "geometry"]],
                predicate="dwithin",
                distance=radius,
            )[["operator"]]
            for env, radius in DEFAULT_RADIUS_M[tech].items()
        ]
        pairs = pd.concat(hit)
        villages[column] = villages.index.isin(pairs.index)
        if tech == "4G":
            serving = pairs.groupby(level=0)["operator"].agg(lambda s: ";".join(sorted(set(s))))
            villages["serving_operators"] = serving.reindex(villages.index)
    villages.to_file(out / "villages.gpkg", layer="villages")
    return {"total_s": time.perf_counter() - start}


def _user_env() -> dict[str, str]:
    """The environment of a user's shell: an installed package has its bytecode compiled."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str]) -> tuple[float, float]:
    """Run `command`: its wall time and its CPU time (user + system), in seconds.

    On a shared machine the wall time grows with the other users' load; the CPU time does not
    (much): both are printed.
    """
    start, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=_user_env())
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command[:2]} failed: {done.stderr[-2000:]}")
    return elapsed, _children_cpu() - cpu


def warm_up() -> bool:
    """Compile the bytecode both commands import (pip does it when installing).

    Also fill hatangso's cache of the official admin units (:mod:`hatangso.geo.units`), as
    any earlier run on the machine does; return whether it was filled already (the geopandas
    job has no such cache: it places no village in any unit). Cold, the command takes about
    0.3 s more CPU.
    """
    cache = subprocess.run(
        [
            sys.executable,
            "-P",
            "-c",
            "from hatangso.geo.units import admin_units_cache as c; p = c(); "
            "print(int(p is not None and p.is_file()))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=_user_env(),
    )
    _timed(
        [
            sys.executable,
            "-P",
            "-c",
            "import hatangso.cli, hatangso.scenarios.job, "
            "hatangso.scenarios.maps, hatangso.coverage.engine, hatangso.geo.units, geopandas, "
            "pyogrio; "
            "hatangso.geo.units.admin_units()",
        ]
    )
    return cache.stdout.strip() == "1"


def coverage_command(villages_path: Path, sites_path: Path, out: Path) -> dict[str, object]:
    """Run ``hatangso coverage`` as a user does; return its time and its outputs' sizes."""
    elapsed, cpu = _timed(
        [
            str(Path(sys.executable).with_name("hatangso")),
            "coverage",
            "--villages",
            str(villages_path),
            "--sites",
            str(sites_path),
            "--out",
            str(out),
        ]
    )
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    return {"total_s": elapsed, "cpu_s": cpu, "sizes": sizes}


def geopandas_command(villages_path: Path, sites_path: Path, out: Path) -> dict[str, float]:
    """Run :func:`geopandas_job` as a script: the interpreter and its imports count too."""
    script = [sys.executable, "-P", str(Path(__file__).resolve()), "--geopandas-job"]
    elapsed, cpu = _timed([*script, str(villages_path), str(sites_path), str(out)])
    return {"total_s": elapsed, "cpu_s": cpu}


CHROMIUM = Path("/usr/bin/chromium")


def browse_map(map_path: Path) -> dict[str, object]:
    """Open the map in Chromium, offline: time to the first draw, and click a village."""
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    errors: list[str] = []

    def route(request_route) -> None:  # type: ignore[no-untyped-def]
        url = request_route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.route("**/*", route)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(map_path.resolve().as_uri(), wait_until="commit", timeout=120_000)
            page.wait_for_function("window.hatangsoReady === true", timeout=60_000)
            ready_ms = page.evaluate("window.hatangsoReadyMs")
            # The first uncovered village drawn, clicked where it is on the screen.
            x, y = page.evaluate(_FIRST_UNCOVERED)
            page.mouse.click(x, y)
            popup = page.locator(".leaflet-popup-content")
            popup.wait_for(timeout=10_000)
            text = popup.inner_text()
            page.wait_for_timeout(600)  # the popup fades in
            page.screenshot(path=str(map_path.with_suffix(".png")))
        finally:
            browser.close()
    return {"ready_ms": ready_ms, "popup": text, "blocked": blocked, "errors": errors}


_FIRST_UNCOVERED = """
() => {
  const map = window[Object.keys(window).find(k => k.startsWith('map_'))];
  const layer = map._htsLayers.find(l => l.options.status === 'uncovered');
  const d = layer._drawn;
  for (let k = 0; k < d.n; k++) {
    const x = d.x[k], y = d.y[k];
    if (x > 300 && x < 900 && y > 100 && y < 700) return [x, y];
  }
  return [d.x[0], d.y[0]];
}
"""


#: Runs of each of the two commands, interleaved (hatangso, geopandas, hatangso, ...).
REPEATS = 3


def _median(values: list[float]) -> float:
    return float(np.median(np.asarray(values, dtype=float)))


def command_rows(villages_path: Path, sites_path: Path, repeats: int = REPEATS) -> bool:
    """Steps 4 to 7: the command, the geopandas job, the page's size and the browser.

    The command and the geopandas job run `repeats` times each, one after the other in
    pairs, since the other work on a shared machine comes and goes over seconds: the figures
    are the medians, and the ratio is the median of the pairs' ratios (each pair ran under
    about the same load), every pair's printed.
    """
    with tempfile.TemporaryDirectory(prefix="hatangso-bench-") as folder:
        root = Path(folder)
        warm = warm_up()
        runs: list[tuple[dict[str, object], dict[str, float]]] = []
        for k in range(max(int(repeats), 1)):
            out, gpd_out = root / f"out{k}", root / f"gpd{k}"
            gpd_out.mkdir()
            runs.append(
                (
                    coverage_command(villages_path, sites_path, out),
                    geopandas_command(villages_path, sites_path, gpd_out),
                )
            )
            if k:  # the last run's outputs are the ones measured and opened
                shutil.rmtree(root / f"out{k - 1}")
            shutil.rmtree(gpd_out)
        (root / f"out{len(runs) - 1}").rename(root / "out")
        pairs = [
            (float(o["total_s"]), float(g["total_s"]), float(o["cpu_s"]), float(g["cpu_s"]))  # type: ignore[arg-type]
            for o, g in runs
        ]
        sizes = runs[-1][0]["sizes"]
        assert isinstance(sizes, dict)
        map_mb = sizes["map.html"] / 1e6
        browser: dict[str, object] = {}
        if CHROMIUM.exists():
            browser = browse_map(root / "out" / "map.html")
            if os.environ.get("HATANGSO_DOCS_SCREENSHOT") == "1":
                shot = HERE.parent / "docs" / "national-map.png"
                shot.write_bytes((root / "out" / "map.png").read_bytes())
    medians = np.median(np.asarray(pairs, dtype=float), axis=0)
    command_s, job_s, command_cpu, job_cpu = (float(m) for m in medians)
    ratio = _median([p[0] / p[1] for p in pairs])
    cpu_ratio = _median([p[2] / p[3] for p in pairs])
    load = os.getloadavg()[0]
    n = len(pairs)
    rows = [
        (f"hatangso coverage (whole command, median of {n})", f"{command_s:.2f} s", "<= 10 s",
         command_s <= 10),
        ("geopandas job (script: read, sjoin, write)", f"{job_s:.2f} s", "", True),
        ("  the same, CPU time: hatangso coverage", f"{command_cpu:.2f} s", "", True),
        ("  the same, CPU time: geopandas job", f"{job_cpu:.2f} s", "", True),
        ("  CPU time: command / geopandas job", f"{cpu_ratio:.2f}", "", True),
        ("command / geopandas job (median of pairs)", f"{ratio:.2f}", "<= 1 (goal 0.5)",
         ratio <= 1),
    ]  # fmt: skip
    rows += [
        ("map.html (data inside, no sidecar)", f"{map_mb:.2f} MB", "<= 5 MB", map_mb <= 5),
    ]
    if browser:
        ready = float(browser["ready_ms"]) / 1000  # type: ignore[arg-type]
        popup = "Thôn" in str(browser["popup"])
        rows += [
            ("Chromium: navigation to first draw", f"{ready:.2f} s", "<= 3 s", ready <= 3),
            ("Chromium: click opens a popup", "yes" if popup else "no", "yes", popup),
            (
                "Chromium: outside requests",
                str(len(browser["blocked"])),
                "0",  # type: ignore[arg-type]
                not browser["blocked"] and not browser["errors"],
            ),
        ]
    else:
        rows.append(("Chromium", "not installed", "", True))
    print(f"  machine: {os.cpu_count()} cores, load average {load:.1f} during the run")
    print(
        "  admin units cache: "
        + ("warm before the run" if warm else "cold before the run, filled by the warm-up")
    )
    print(f"  {'measure':48s} {'figure':>10s}  {'target':16s}")
    for name, figure, target, ok in rows:
        print(f"  {name:48s} {figure:>10s}  {target:16s} {'' if ok else 'MISSED'}")
    print(
        "  pairs, command / geopandas job: "
        + ", ".join(f"{a:.2f} / {b:.2f} s = {a / b:.2f}" for a, b, *_ in pairs)
    )
    print("  outputs: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))
    return all(ok for *_, ok in rows)


def main() -> int:
    print(f"national benchmark: {N_VILLAGES:,} villages, {N_SITES:,} sites")
    if sys.argv[1:2] == ["--geopandas-job"]:
        geopandas_job(*(Path(p) for p in sys.argv[2:5]))
        return 0
    repeats = REPEATS
    if "--repeats" in sys.argv[1:]:
        at = sys.argv.index("--repeats")
        try:
            repeats = int(sys.argv[at + 1])
        except (IndexError, ValueError):
            print("--repeats takes a number of runs, e.g. --repeats 5", file=sys.stderr)
            return 2
    if "--command" in sys.argv[1:]:
        villages_path, sites_path = make_data()
        ok = command_rows(villages_path, sites_path, repeats)
        print("  targets met" if ok else "  TARGETS MISSED")
        return 0 if ok else 1
    t0 = time.perf_counter()
    villages_path, sites_path = make_data()
    print(f"  data ready in {time.perf_counter() - t0:.1f} s ({DATA})")

    load_s, load_gib, counts = measure(load_both, villages_path, sites_path)
    print(
        f"  load + validate (villages.gpkg + sites.gpkg): {load_s:.2f} s, peak "
        f"{load_gib:.2f} GiB, used {counts['villages']:,} villages and {counts['sites']:,} "
        f"sites, rejected {counts['rejected']}   [target < 10 s]"
    )

    rows = {}
    for name, target, args in (
        ("hatangso point", hatangso_rule, (villages_path, sites_path, "point")),
        ("hatangso area", hatangso_rule, (villages_path, sites_path, "area")),
        ("geopandas sjoin point", geopandas_point, (villages_path, sites_path)),
    ):
        _, peak, result = measure(target, *args)
        rows[name] = (result["engine_s"], peak, result)
        cold = f" (first call {result['cold_s']:.2f} s)" if "cold_s" in result else ""
        print(
            f"  {name:24s} {result['engine_s']:6.2f} s{cold}  peak {peak:.2f} GiB  "
            f"mobile {result['mobile']:.4f}  5G {result['5g']:.4f}"
        )
    ours = rows["hatangso point"][0]
    theirs = rows["geopandas sjoin point"][0]
    print(f"  point rule: hatangso / geopandas = {ours / theirs:.3f}   [target <= 0.5]")
    agree = abs(rows["hatangso point"][2]["mobile"] - rows["geopandas sjoin point"][2]["mobile"])
    print(f"  point rule: mobile shares differ by {agree:.2e} (must be 0)")
    ok = (
        load_s < 10
        # Under 10 s even on the first call, which also loads the compiled kernels.
        and rows["hatangso point"][2]["cold_s"] < 10
        and rows["hatangso area"][2]["cold_s"] < 10
        and ours <= 0.5 * theirs
        and max(r[1] for r in rows.values() if r is not rows["geopandas sjoin point"]) < 4
        and agree == 0
    )
    ok = command_rows(villages_path, sites_path, repeats) and ok
    print("  targets met" if ok else "  TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
