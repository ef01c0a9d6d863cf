"""Heavy work of the service in child processes, within a memory and a wall-time limit.

An upload's validation, a coverage run and a plan each run in a child process of their own
(:class:`Jobs`), so that a job that needs too much memory or time is stopped without harming
the server and the other requests:

- **memory**: the child limits its own data segment (``RLIMIT_DATA``: heap and private
  mappings, which is what numpy, GDAL and numba allocate) to what the preloaded libraries
  already hold plus ``HATANGSO_JOB_MEMORY_MB``. An allocation past it raises ``MemoryError``
  in the child; the client gets 413 naming the limit. ``RLIMIT_AS`` works too, but counts the
  address space that glibc reserves (and never touches) for every thread's heap arena.
- **time**: the server kills the child after ``HATANGSO_JOB_SECONDS``; the client gets 503
  naming the limit.
- **client gone**: while it waits, the server asks every quarter second whether the client
  is still connected, and kills the child when it is not.
- **jobs at once**: at most ``HATANGSO_JOBS``; one more is refused at once with 503 and
  ``Retry-After``.

The child's answer comes back pickled: the function's result, or the exception it raised,
which the server raises again, so a :class:`~hatangso.geo.errors.HatangsoError` reaches the
client exactly as it would have from the server's own thread (422 or 409, with its problems),
as does an ``HTTPException``. An exception that cannot cross (or a child that dies) becomes
:class:`JobFailedError`, a 500, with the child's traceback in the log.

Children are started by a fork server (multiprocessing's ``"forkserver"``), never by forking
the threaded server itself. The fork server is a small single-threaded process that imports
the engine once (:data:`PRELOAD`); each job is a fork of it. Measured on the 2-core test
machine under a load of about 10: a job that does nothing answers in 70-140 ms; a fresh
interpreter (``"spawn"``) took 30-37 s to import the same modules, and so does the fork server,
once (``create_app``'s lifespan starts it in the background, not the first job).

A child never outlives the server: a thread in the child ends it when its pipe to the server
closes (every platform), and the kernel kills it when the fork server exits
(``PR_SET_PDEATHSIG`` on Linux; the fork server exits with the server). The server's main
module must be safe to import (``if __name__ == "__main__":``), as multiprocessing requires:
``hatangso serve`` and ``uvicorn`` are. The server kills the children still running when it
shuts down (:meth:`Jobs.close`).
"""

from __future__ import annotations

import copyreg
import ctypes
import io
import logging
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerProcess
from typing import Annotated, Any, ParamSpec, TypeVar, cast

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from hatangso.app.config import Settings, get_settings
from hatangso.app.workspace import Workspace

__all__ = [
    "PRELOAD",
    "JobFailedError",
    "Jobs",
    "JobsDep",
    "app_jobs",
    "run_job",
]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: Modules the fork server imports once, so that each job's child starts with them loaded.
PRELOAD = (
    "hatangso.app.routes.uploads",
    "hatangso.geo.validate",
    "hatangso.scenarios.job",
    "hatangso.coverage.config",
    "hatangso.coverage.planning",
)

#: How often, in seconds, a waiting job checks its child, its deadline and its client.
POLL_SECONDS = 0.25

#: Seconds a client is told to wait (``Retry-After``) when every job slot is taken.
RETRY_AFTER_SECONDS = 5

_PR_SET_PDEATHSIG = 1
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(list(PRELOAD))


class JobFailedError(RuntimeError):
    """A job's child raised an exception that cannot be passed back, or died.

    It reaches the client as 500 Internal Server Error, as any unexpected error does; the
    child's traceback or exit status is in the server's log.
    """


# --------------------------------------------------------------------------------------------
# The child
# --------------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent exits (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl: the pipe watch remains
        log.debug("prctl(PR_SET_PDEATHSIG) is not available")


def _watch_pipe(conn: Connection) -> None:
    """End this process as soon as the server's end of `conn` closes (the server died)."""

    def watch() -> None:
        try:
            conn.poll(None)  # the server never writes: readable means closed
        except OSError:
            pass
        os._exit(1)

    threading.Thread(target=watch, name="hatangso-job-watch", daemon=True).start()


def _data_bytes() -> int:
    """Return the data segment of this process (``VmData``), bytes; 0 without /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return 0


def _limit_memory(extra_bytes: int) -> None:
    """Limit this process's data segment to its present size plus `extra_bytes`."""
    limit = _data_bytes() + extra_bytes
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _rebuild_exception(
    cls: type[BaseException], args: tuple[object, ...], state: dict[str, object]
) -> BaseException:
    """Make an exception again from its class, ``args`` and attributes, without ``__init__``."""
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class _ReplyPickler(pickle.Pickler):
    """Pickles exceptions by class, ``args`` and attributes.

    The default pickling of an exception calls its class with ``args`` alone, which rebuilds
    an :class:`~hatangso.geo.errors.InputError` with the wrong message and fails for errors
    with keyword-only parameters (``PlanInfeasibleError``).
    """

    def reducer_override(self, obj: object) -> Any:
        if isinstance(obj, BaseException):
            return _rebuild_exception, (type(obj), obj.args, dict(vars(obj)))
        return NotImplemented


def _answer(kind: str, value: object) -> bytes:
    """Pickle a reply holding exceptions, checking that it also loads."""
    buffer = io.BytesIO()
    _ReplyPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((kind, value))
    data = buffer.getvalue()
    pickle.loads(data)
    return data


def _child(conn: Connection, payload: bytes, memory_bytes: int) -> None:
    """Run the pickled job ``(function, args, kwargs)`` and send back its reply on `conn`.

    The replies are ``("ok", result)``, ``("raise", (exception, traceback text))``,
    ``("memory", message)`` and ``("failed", traceback text)``.
    """
    _die_with_parent()
    _watch_pipe(conn)
    _limit_memory(memory_bytes)
    try:
        function, args, kwargs = pickle.loads(payload)
        result = function(*args, **kwargs)
        reply = pickle.dumps(("ok", result), protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError as exc:
        reply = pickle.dumps(("memory", str(exc)))
    except Exception as exc:
        text = traceback.format_exc()
        try:
            reply = _answer("raise", (exc, text))
        except Exception:
            reply = pickle.dumps(("failed", text))
    conn.send_bytes(reply)
    conn.close()


# --------------------------------------------------------------------------------------------
# The server's side
# --------------------------------------------------------------------------------------------


def _workspace_by_root(workspace: Workspace) -> tuple[Any, tuple[object, ...]]:
    # A child gets a workspace of its own on the same folder and record database: locks,
    # caches and the record's connections stay per process.
    return workspace.__reduce__()


_DISPATCH = {**copyreg.dispatch_table, Workspace: _workspace_by_root}


def _pickle_job(
    function: Callable[..., object], args: tuple[object, ...], kwargs: dict[str, object]
) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump((function, args, kwargs))
    return buffer.getvalue()


def _wait(conn: Connection, timeout: float) -> bytes | None:
    """Return the child's reply, or None if none came in `timeout`; EOFError if it died."""
    if conn.poll(timeout):
        return conn.recv_bytes()
    return None


class Jobs:
    """Runs the service's heavy work in child processes, within limits.

    Parameters
    ----------
    seconds
        Wall-time limit of one job (``HATANGSO_JOB_SECONDS``).
    memory_mb
        Memory a job may allocate on top of the preloaded libraries
        (``HATANGSO_JOB_MEMORY_MB``).
    max_jobs
        Jobs running at once (``HATANGSO_JOBS``).
    """

    def __init__(self, *, seconds: float, memory_mb: float, max_jobs: int) -> None:
        self.seconds = seconds
        self.memory_mb = memory_mb
        self.max_jobs = max_jobs
        self._lock = threading.Lock()
        self._active = 0
        self._children: dict[int, ForkServerProcess] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Jobs:
        """Return the runner of the limits `settings` name."""
        return cls(
            seconds=settings.job_seconds,
            memory_mb=settings.job_memory_mb,
            max_jobs=settings.jobs,
        )

    @staticmethod
    def start_server() -> None:
        """Start the fork server (and import :data:`PRELOAD` in it) now, not at the first job."""
        from multiprocessing import forkserver

        forkserver.ensure_running()

    def running(self) -> list[int]:
        """Return the process ids of the children running now."""
        with self._lock:
            return sorted(self._children)

    def close(self) -> None:
        """Kill every child still running (the server is stopping)."""
        with self._lock:
            children = list(self._children.values())
        for child in children:
            log.warning("stopping job process %s: the server is shutting down", child.pid)
            child.kill()
        for child in children:
            child.join(5)

    def _claim(self) -> None:
        with self._lock:
            if self._active >= self.max_jobs:
                raise HTTPException(
                    status_code=503,
                    detail=f"the server is already running {self.max_jobs} jobs, its limit "
                    "(HATANGSO_JOBS); try again in a moment",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            self._active += 1

    def _release(self) -> None:
        with self._lock:
            self._active -= 1

    async def run(
        self,
        request: Request,
        what: str,
        function: Callable[P, T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``function(*args, **kwargs)`` in a child process and return its result.

        Parameters
        ----------
        request
            The request the job answers: the child is killed if its client goes away.
        what
            The job, as the answers name it ("the upload", "the coverage run").
        function
            A module-level function (it is pickled by name); its arguments and result must
            pickle (a :class:`~hatangso.app.workspace.Workspace` crosses as its folder).

        Returns
        -------
        T
            What `function` returned.

        Raises
        ------
        HTTPException
            413 when the job needed more than ``HATANGSO_JOB_MEMORY_MB``, 503 when it took
            longer than ``HATANGSO_JOB_SECONDS`` or every slot (``HATANGSO_JOBS``) is taken,
            499 when the client went away.
        JobFailedError
            When the child died, or raised an exception that cannot be passed back.
        Exception
            Any other exception the function raised, as it raised it.
        """
        self._claim()
        try:
            return cast(T, await self._run(request, what, function, args, kwargs))
        finally:
            self._release()

    async def _run(
        self,
        request: Request,
        what: str,
        function: Callable[..., object],
        args: tuple[object, ...],
        kwargs: dict[str, object],
    ) -> object:
        payload = _pickle_job(function, args, kwargs)
        ours, theirs = _CONTEXT.Pipe(duplex=True)
        child = _CONTEXT.Process(
            target=_child,
            args=(theirs, payload, int(self.memory_mb * 1024 * 1024)),
            name=f"hatangso-job-{what.removeprefix('the ').replace(' ', '-')}",
            daemon=True,
        )
        try:
            await run_in_threadpool(child.start)
            theirs.close()
            # The clock starts with the job, not with the fork server's first start.
            started = time.monotonic()
            deadline = started + self.seconds
            pid = cast(int, child.pid)
            with self._lock:
                self._children[pid] = child
            log.info("%s runs in process %d", what, pid)
            while True:
                try:
                    reply = await run_in_threadpool(_wait, ours, POLL_SECONDS)
                except (EOFError, OSError):
                    await run_in_threadpool(child.join, 5)
                    log.error(
                        "%s: process %d ended with exit code %s and no answer; if it "
                        "ran out of memory, raise HATANGSO_JOB_MEMORY_MB (%g MB)",
                        what,
                        pid,
                        child.exitcode,
                        self.memory_mb,
                    )
                    raise JobFailedError(f"{what} ended with exit code {child.exitcode}") from None
                if reply is not None:
                    break
                if time.monotonic() > deadline:
                    child.kill()
                    log.warning(
                        "%s: process %d stopped after %g s (HATANGSO_JOB_SECONDS)",
                        what,
                        pid,
                        self.seconds,
                    )
                    raise HTTPException(
                        status_code=503,
                        detail=f"{what} took longer than {self.seconds:g} s (HATANGSO_JOB_SECONDS)",
                    )
                if await request.is_disconnected():
                    child.kill()
                    log.info("%s: process %d stopped, its client went away", what, pid)
                    raise HTTPException(status_code=499, detail="the client closed the request")
            log.info("%s: process %d answered in %.2f s", what, pid, time.monotonic() - started)
        finally:
            ours.close()
            if child.pid is not None:
                if child.is_alive():
                    child.kill()
                await run_in_threadpool(child.join, 5)
                with self._lock:
                    self._children.pop(child.pid, None)
        return self._unpack(what, reply)

    def _unpack(self, what: str, reply: bytes) -> object:
        kind, value = pickle.loads(reply)
        if kind == "ok":
            return value
        if kind == "memory":
            raise HTTPException(
                status_code=413,
                detail=f"{what} needs more than {self.memory_mb:g} MB (HATANGSO_JOB_MEMORY_MB)",
            )
        if kind == "raise":
            exc, text = value
            if not isinstance(exc, HTTPException):
                # The server's log shows where in the job it was raised, not only where here.
                exc.add_note(f"raised in the process of {what}:\n{text}")
            raise exc
        log.error("%s failed in its process:\n%s", what, value)
        raise JobFailedError(f"{what} failed; its traceback is in the server's log")


async def app_jobs(request: Request) -> Jobs:
    """Dependency: the job runner of the application (``app.state.jobs``).

    ``create_app`` makes it from the settings; an application without one gets it made here.
    """
    jobs = getattr(request.app.state, "jobs", None)
    if isinstance(jobs, Jobs):
        return jobs
    settings = getattr(request.app.state, "settings", None)
    jobs = Jobs.from_settings(settings if isinstance(settings, Settings) else get_settings())
    request.app.state.jobs = jobs
    return jobs


JobsDep = Annotated[Jobs, Depends(app_jobs)]


async def run_job(
    request: Request, what: str, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run ``function(*args, **kwargs)`` in a child process of the application's :class:`Jobs`.

    See :meth:`Jobs.run`.
    """
    jobs = await app_jobs(request)
    return await jobs.run(request, what, function, *args, **kwargs)
