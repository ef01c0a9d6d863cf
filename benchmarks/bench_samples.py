"""Benchmark: 20 million measurement samples streamed and aggregated to villages.

The demo province is generated once and a 20-million-row samples CSV over it (points spread
over the province, four operators, 4G and 5G, RSRP around -100 dBm) is written once, both under
``benchmarks/_data/samples/`` (git-ignored). :func:`hatangso.coverage.measurements.
aggregate_samples` then runs in a child process, whose wall time and peak resident memory
(``ru_maxrss`` of the child) are reported. Targets: under 60 s and under 2 GiB.

Run from the repository root::

    .venv/bin/python benchmarks/bench_samples.py [--rows 20000000] [--chunk-rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "_data" / "samples"
TARGET_S = 60.0
TARGET_BYTES = 2 * 1024**3
OPERATORS = ("Viettel", "VNPT", "MobiFone", "Vietnamobile")


def demo_villages() -> Path:
    path = DATA / "demo" / "villages.gpkg"
    if not path.exists():
        from hatangso.geo.demo import generate_demo

        generate_demo(DATA / "demo")
    return path


def samples_csv(rows: int, villages_path: Path) -> Path:
    """Write (once) `rows` samples spread over the villages' extent."""
    path = DATA / f"samples_{rows}.csv"
    if path.exists():
        return path
    import geopandas as gpd

    xmin, ymin, xmax, ymax = gpd.read_file(villages_path).to_crs(4326).total_bounds
    rng = np.random.default_rng(20)
    tmp = path.with_suffix(".part")
    block = 1_000_000
    operators = pa.array(OPERATORS)
    techs = pa.array(["4G", "5G"])
    started = time.perf_counter()
    with pacsv.CSVWriter(
        tmp,
        pa.schema(
            [
                ("lon", pa.float64()),
                ("lat", pa.float64()),
                ("operator", pa.string()),
                ("tech", pa.string()),
                ("rsrp_dbm", pa.float64()),
                ("time", pa.string()),
                ("source", pa.string()),
            ]
        ),
    ) as writer:
        for start in range(0, rows, block):
            n = min(block, rows - start)
            table = pa.table(
                {
                    "lon": np.round(rng.uniform(xmin, xmax, n), 6),
                    "lat": np.round(rng.uniform(ymin, ymax, n), 6),
                    "operator": operators.take(rng.integers(0, 4, n)),
                    "tech": techs.take((rng.random(n) < 0.2).astype(np.int64)),
                    "rsrp_dbm": np.round(rng.normal(-100.0, 12.0, n), 1),
                    "time": pa.array(["2024-09-09T08:00:00+07:00"] * n),
                    "source": pa.array(["crowdsourced"] * n),
                }
            )
            writer.write_table(table)
    tmp.rename(path)
    print(
        f"wrote {rows:,} samples ({path.stat().st_size / 1e9:.2f} GB) in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return path


def child(samples: str, villages: str, chunk_rows: int) -> None:
    """Run the aggregation once and print its figures as JSON."""
    from hatangso.coverage.measurements import aggregate_samples
    from hatangso.geo.validate import load_layer

    frame = load_layer(villages, "villages").frame
    started = time.perf_counter()
    summary = aggregate_samples(samples, frame, threshold_dbm=-110.0, chunk_rows=chunk_rows)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "read": summary.read,
                "rejected": summary.rejected,
                "outside": summary.outside,
                "villages_with_samples": int((summary.by_village["n_samples"] > 0).sum()),
                "pairs": len(summary.by_operator),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--child", nargs=2, metavar=("SAMPLES", "VILLAGES"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.chunk_rows)
        return
    villages = demo_villages()
    samples = samples_csv(args.rows, villages)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--chunk-rows",
            str(args.chunk_rows),
            "--child",
            str(samples),
            str(villages),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    ok_time = figures["seconds"] < TARGET_S
    ok_mem = peak < TARGET_BYTES
    print(
        f"samples: {figures['read']:,} rows ({samples.stat().st_size / 1e9:.2f} GB CSV), "
        f"{figures['rejected']:,} rejected, {figures['outside']:,} outside every village"
    )
    print(
        f"villages with samples: {figures['villages_with_samples']:,}; "
        f"(village, operator, tech) rows: {figures['pairs']:,}"
    )
    print(
        f"aggregate_samples: {figures['seconds']:.1f} s (target < {TARGET_S:.0f} s) "
        f"{'OK' if ok_time else 'MISSED'}; child process with imports and villages: {wall:.1f} s"
    )
    print(
        f"peak memory (child ru_maxrss): {peak / 1024**3:.2f} GiB (target < 2 GiB) "
        f"{'OK' if ok_mem else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
