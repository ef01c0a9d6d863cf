"""The kernels' numba configuration: twin compilation and a disk cache that stays fresh."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from hatangso.coverage import _discarea, itm, terrain

COVERAGE_SRC = Path(itm.__file__).resolve().parent


def _run(script: str, cwd: Path, env: dict[str, str]) -> list[str]:
    """Run `script` in a fresh interpreter; return its output's words."""
    out = subprocess.run(
        [sys.executable, "-P", "-c", textwrap.dedent(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def _kernels(module: ModuleType) -> dict[str, object]:
    """The numba kernels that `module` defines (not those it imports)."""
    return {
        name: obj
        for name, obj in vars(module).items()
        if hasattr(obj, "py_func") and obj.py_func.__module__ == module.__name__
    }


@pytest.mark.parametrize("module", [itm, terrain, _discarea])
def test_kernels_call_only_kernels_of_their_own_module(module: ModuleType) -> None:
    # numba's cache watches a kernel's own file only: a kernel compiling in another module's
    # kernel would keep that kernel's old machine code after a change to its file alone.
    kernels = _kernels(module)
    assert kernels
    for name, kernel in kernels.items():
        py_func = kernel.py_func  # type: ignore[attr-defined]
        for called in py_func.__code__.co_names:
            target = py_func.__globals__.get(called)
            if hasattr(target, "py_func"):
                assert target.py_func.__module__ == module.__name__, (name, called)


def test_no_kernel_uses_fast_math() -> None:
    for module in (itm, terrain, _discarea):
        for name, kernel in _kernels(module).items():
            assert not kernel.targetoptions.get("fastmath"), name  # type: ignore[attr-defined]


def test_serial_and_parallel_agree_and_cache_apart(tmp_path: Path) -> None:
    (tmp_path / "sweeps.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from numba import prange

            from hatangso.coverage._jit import serial_and_parallel


            def _squares(n):
                out = np.empty(n)
                for i in prange(n):
                    out[i] = i * i
                return out


            squares_serial, squares_parallel = serial_and_parallel(_squares)
            """
        )
    )
    script = """
        import sys
        sys.path.insert(0, ".")
        import numpy as np
        import sweeps
        assert np.array_equal(sweeps.squares_serial(1000), sweeps.squares_parallel(1000))
        assert sweeps.squares_serial.targetoptions.get("nogil")
        assert sweeps.squares_parallel.targetoptions.get("parallel")
        for kernel in (sweeps.squares_serial, sweeps.squares_parallel):
            stats = kernel.stats
            print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
        """
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    assert _run(script, tmp_path, env) == ["0", "1", "0", "1"]  # both compiled and stored
    assert _run(script, tmp_path, env) == ["1", "0", "1", "0"]  # each loads its own
    indexes = sorted(p.name.split("-")[0] for p in (tmp_path / "cache").rglob("*.nbi"))
    assert indexes == ["sweeps._squares_parallel", "sweeps._squares_serial"]


_DEM_RUN = """
    import numpy as np
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    from hatangso.coverage import itm, terrain
    from hatangso.coverage.rasters import Raster

    assert itm.__file__.startswith({root!r}), itm.__file__
    dem = Raster(np.full((40, 40), 20.0, dtype=np.float32), from_origin(0.0, 1200.0, 30.0, 30.0),
                 CRS.from_epsg(32648))
    loss = terrain.site_loss_at(dem, 615.0, 615.0, [915.0, 315.0], [615.0, 915.0], h_tx_m=30.0,
                                freq_mhz=900.0, radius_m=500.0, model="itm")
    stats = itm._point_losses.stats
    print(repr(float(loss[0])), repr(float(loss[1])), sum(stats.cache_hits.values()),
          sum(stats.cache_misses.values()))
"""


@pytest.mark.slow
def test_a_change_to_itm_reaches_the_dem_sweep(tmp_path: Path) -> None:
    # A copy of the package: edit its itm.py alone, as a developer would, and the ITM sweep
    # over a DEM, which terrain.py runs, must give the new model's loss in the next process.
    root = tmp_path / "src"
    shutil.copytree(
        COVERAGE_SRC,
        root / "hatangso" / "coverage",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    paths = [str(root), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
    }
    script = _DEM_RUN.format(root=str(root))

    def run() -> tuple[float, float, int, int]:
        a, b, hits, misses = _run(script, tmp_path, env)
        return float(a), float(b), int(hits), int(misses)

    first = run()
    assert first[2:] == (0, 1)  # compiled and stored
    assert run() == (*first[:2], 1, 0)  # loaded from disk, same values
    source = root / "hatangso" / "coverage" / "itm.py"
    text = source.read_text(encoding="utf-8")
    free_space = "return 32.45 + 20.0 * math.log10(freq_mhz)"
    assert text.count(free_space) == 1
    source.write_text(text.replace(free_space, "return 42.45 + 20.0 * math.log10(freq_mhz)"))
    changed = run()
    assert changed[2:] == (0, 1)  # numba saw the change and compiled again
    assert changed[0] == pytest.approx(first[0] + 10.0, abs=1e-9)  # with the new free space
    assert changed[1] == pytest.approx(first[1] + 10.0, abs=1e-9)
