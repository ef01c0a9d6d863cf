"""The Irregular Terrain Model: JIT start-up and time per point-to-point prediction.

Run: ``.venv/bin/python -P benchmarks/bench_itm.py`` (add ``--cold`` to also time a compile from
scratch, which first deletes :mod:`hatangso.coverage.itm`'s numba cache files).

It measures:

1. in a fresh process, ``import hatangso.coverage.itm`` and the first call of each entry point
   (point-to-point, area, batch): with ``--cold`` once with no numba cache (full compile) and
   always once with the cache filled (what every later import pays);
2. after warm-up, the time of one prediction on a 1000-point profile (999 intervals of 90 m,
   a random-walk terrain) through the numba kernel ``_p2p_from_python`` (plain tuples across
   the boundary), through the public :func:`itm_p2p_loss`, and per profile inside the batch
   kernel ``_p2p_many``
   (10,000 profiles; numba ``prange`` over the machine's cores).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "coverage" / "src" / "hatangso" / "coverage" / "__pycache__"

STARTUP = """
import time
t0 = time.perf_counter()
import numpy as np
from hatangso.coverage import itm
t1 = time.perf_counter()
pfl = np.r_[10.0, 100.0, np.zeros(11)]
itm.itm_p2p_loss(pfl, 30.0, 2.0, 900.0)
t2 = time.perf_counter()
itm.itm_area_loss(10.0, 30.0, 2.0, 900.0, tx_siting=0, rx_siting=0, delta_h_m=90.0)
t3 = time.perf_counter()
inputs = itm._Inputs(30.0, 2.0, 900.0, 15.0, 0.005, 301.0, 5, 1, 50.0, 50.0, 50.0, 12)
itm._p2p_many(pfl[None, :], np.array([30.0]), np.array([2.0]), inputs)
t4 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {t3 - t2:.2f} {t4 - t3:.2f}")
"""


def _startup(label: str) -> None:
    out = subprocess.run(
        [sys.executable, "-P", "-c", STARTUP], capture_output=True, text=True, check=True, cwd="/"
    ).stdout.split()
    imp, p2p, area, many = (float(v) for v in out)
    print(
        f"{label:<28} import {imp:6.2f} s | first p2p {p2p:6.2f} s | first area {area:6.2f} s"
        f" | first batch {many:6.2f} s | total {imp + p2p + area + many:6.2f} s"
    )


def _profile(rng: np.random.Generator, n_points: int) -> npt.NDArray[np.float64]:
    pfl = np.empty(n_points + 2)
    pfl[:2] = n_points - 1, 90.0
    pfl[2:] = 200.0 + np.cumsum(rng.normal(0.0, 3.0, n_points))
    return pfl


def _per_call(label: str, call: Callable[[], object], repeat: int, per_call: int = 1) -> None:
    """Best of 5 rounds of ``repeat`` calls, each making ``per_call`` predictions."""
    call()
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeat):
            call()
        best = min(best, (time.perf_counter() - t0) / (repeat * per_call))
    print(f"{label:<56} {best * 1e6:9.1f} µs per prediction")


def main() -> None:
    """Print the figures."""
    if "--cold" in sys.argv:
        for path in CACHE.glob("itm.*.nb[ic]"):
            path.unlink()
        _startup("no cache (full compile)")
    _startup("cache filled (second import)")

    from hatangso.coverage.itm import _Inputs, _p2p_from_python, _p2p_many, itm_p2p_loss

    rng = np.random.default_rng(0)
    pfl = _profile(rng, 1000)
    inputs = _Inputs(30.0, 2.0, 900.0, 15.0, 0.005, 301.0, 5, 1, 50.0, 50.0, 50.0, 12)
    print(
        f"1000-point profile, 90 km, 30 m / 2 m at 900 MHz: {itm_p2p_loss(pfl, 30, 2, 900):.2f} dB"
    )
    _per_call(
        "_p2p_from_python (numba kernel, called from Python)",
        lambda: _p2p_from_python(pfl, tuple(inputs)),
        2000,
    )
    _per_call(
        "itm_p2p_loss (public API, checks + result object)",
        lambda: itm_p2p_loss(pfl, 30.0, 2.0, 900.0),
        500,
    )

    n_profiles = 10_000
    pfls = np.stack([_profile(rng, 1000) for _ in range(n_profiles)])
    h_tx = np.full(n_profiles, 30.0)
    h_rx = np.full(n_profiles, 2.0)
    _per_call(
        f"_p2p_many ({n_profiles} profiles, prange)",
        lambda: _p2p_many(pfls, h_tx, h_rx, inputs),
        repeat=1,
        per_call=n_profiles,
    )


if __name__ == "__main__":
    main()
