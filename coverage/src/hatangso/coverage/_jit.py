"""The one numba configuration of hatangso's compiled kernels.

Every kernel module (:mod:`~hatangso.coverage.itm`, :mod:`~hatangso.coverage.terrain`,
:mod:`~hatangso.coverage._discarea`) compiles through :func:`jit`, and a sweep that runs either
on one core or over all of them is written once and compiled twice by
:func:`serial_and_parallel`.

The settings, and why:

- ``cache=True``: kernels are compiled once and kept on disk beside their module.
- No fast math, ever: contracting multiply-adds or dividing by reciprocals moves the last bits,
  and ITM's branches (horizons, line-of-sight fits) turn some of those bits into jumps of dB.
  :func:`jit` takes no ``fastmath`` option.

How the disk cache stays fresh
------------------------------
numba stamps a cached kernel with the time and size of the file that defines it, and of no
other file: a kernel that compiles in a kernel of another module would load stale machine code
after a change to that other module alone. hatangso keeps to one rule instead of patching
numba's cache: **a cached kernel calls only kernels defined in its own module.** That is why
ITM over a DEM (the per-cell profiles and the window and point sweeps) lives in ``itm.py`` beside
the model, and why :mod:`~hatangso.coverage.terrain`'s kernels call nothing from ``itm.py``:
numba's own stamp then covers every line a kernel runs. ``tests/coverage/test_jit.py`` checks it
in fresh processes: a change to ``itm.py`` alone reaches the DEM sweep.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, Literal, TypeVar, cast

import numba

__all__ = ["jit", "serial_and_parallel"]

_F = TypeVar("_F", bound=Callable[..., Any])


def jit(
    *,
    inline: Literal["never", "always"] = "never",
    nogil: bool = False,
    parallel: bool = False,
) -> Callable[[_F], _F]:
    """Return numba's ``njit`` with hatangso's settings, typed so that mypy keeps signatures.

    Parameters
    ----------
    inline
        numba's inlining at the numba IR level (``"always"`` for tiny helpers of hot loops).
    nogil
        Release the GIL while the kernel runs (kernels that a thread pool runs side by side).
    parallel
        Let numba spread ``prange`` loops over its threads.

    Returns
    -------
    Callable
        A decorator compiling with ``cache=True`` and without fast math.
    """
    return cast(
        Callable[[_F], _F],
        numba.njit(cache=True, inline=inline, nogil=nogil, parallel=parallel),
    )


def _renamed(func: _F, suffix: str) -> _F:
    """Return a copy of `func` (same code, globals and defaults) named ``<name>_<suffix>``.

    numba names a kernel's cache files after its function's qualified name and first line, so
    two kernels compiled from one function object would share one cache index and could load
    each other's machine code; each copy gets its own name and so its own files.
    """
    copy = types.FunctionType(
        func.__code__,
        func.__globals__,
        f"{func.__name__}_{suffix}",
        func.__defaults__,
        func.__closure__,
    )
    copy.__qualname__ = f"{func.__qualname__}_{suffix}"
    copy.__module__ = func.__module__
    copy.__doc__ = func.__doc__
    copy.__kwdefaults__ = func.__kwdefaults__
    copy.__annotations__ = dict(func.__annotations__)
    return cast(_F, copy)


def serial_and_parallel(func: _F) -> tuple[_F, _F]:
    """Compile one sweep twice: on one core without the GIL, and over all cores.

    Parameters
    ----------
    func
        The sweep, its outer loop written with ``numba.prange``. In the serial kernel
        ``prange`` is ``range``; in the parallel one numba spreads its iterations over its
        threads, so the iterations must write disjoint outputs.

    Returns
    -------
    tuple
        ``(serial, parallel)``: ``serial`` releases the GIL (for a thread pool running whole
        sites side by side, with no synchronisation inside one); ``parallel`` runs one call
        over all cores. Both compute the same values.
    """
    serial = jit(nogil=True)(_renamed(func, "serial"))
    parallel = jit(parallel=True)(_renamed(func, "parallel"))
    return serial, parallel
