"""The ahead-of-time compilation of the kernels, and the test of numba's disk cache."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

from hatangso.coverage import warmup


def test_a_kernel_counts_as_compiled_once_its_cache_index_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    source = tmp_path / "hatangso_probe_kernels.py"
    source.write_text(
        textwrap.dedent(
            """
            import numba

            @numba.njit(cache=True)
            def twice(x):
                return 2 * x
            """
        )
    )
    spec = importlib.util.spec_from_file_location("hatangso_probe_kernels", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "hatangso_probe_kernels", module)
    spec.loader.exec_module(module)
    assert not warmup.kernels_compiled(module.twice)
    assert module.twice(21) == 42
    assert warmup.kernels_compiled(module.twice)
    assert list((tmp_path / "__pycache__").glob("hatangso_probe_kernels.twice-*.nbi"))


def test_what_is_not_a_cached_kernel_counts_as_not_compiled() -> None:
    assert not warmup.kernels_compiled(len)
    assert warmup.kernels_compiled()  # nothing asked, nothing missing
