"""Runs on the province's record, and answers as the record stood at the end of a past day.

A coverage run of the service reads its inputs with :func:`run_inputs`: each kind the record
(:meth:`~hatangso.app.workspace.Workspace.store`) has rows of comes from the record, every
other from the scenario's files (its uploads, the data it was built with). The run keeps the
record's version (change number) it read in ``run.json`` (``record``) and ``kpis.json``
(``record_version``).

``?as_of=YYYY-MM-DD`` on ``/kpis``, ``/villages`` and the exports asks for the results as
the record stood at the end of that day (:func:`results_as_of`): the record's version current
then is found; the published run answers when it was made from exactly that version with the
scenario's configuration; else a run kept for that version does; else the run is made (a job,
within the service's limits, like any run) and kept under ``<scenario>/asof/<key>/``, one per
version and configuration, the least recently used removed beyond ``HATANGSO_ASOF_RUNS``. A
day before the record's first change is answered 404.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from hatangso.app.config import Settings
from hatangso.app.worker import run_job
from hatangso.app.workspace import RUN_METADATA, Workspace
from hatangso.geo.outputs import write_json
from hatangso.geo.schema import LAYER_KINDS
from hatangso.scenarios.job import InputFiles
from hatangso.scenarios.record import RecordInputs, inputs_as_of, record_version

__all__ = [
    "AsOf",
    "AsOfResults",
    "RunInputs",
    "asof_key",
    "results_as_of",
    "run_as_of",
    "run_inputs",
    "scenario_for",
]

log = logging.getLogger(__name__)

#: A KPI document this small is read in the event loop (as the current one is).
_SMALL_BYTES = 1 << 20

#: The ``as_of`` query parameter of the reads.
AsOf = Annotated[
    date | None,
    Query(
        description="YYYY-MM-DD: the answer as the record stood at the end of that day "
        "(Asia/Ho_Chi_Minh).",
    ),
]


@dataclass(frozen=True)
class RunInputs:
    """The inputs of one run of a scenario.

    Attributes
    ----------
    files
        What :func:`~hatangso.scenarios.job.run_coverage` reads.
    layers
        Version of each layer read from the scenario's files (the kinds the record did not
        give), for the run's staleness check.
    record
        The record's layers read, None when the record has no change.
    """

    files: InputFiles
    layers: dict[str, int]
    record: RecordInputs | None


def _label(name: str) -> str:
    return f"the record of scenario '{name}'"


def run_inputs(
    workspace: Workspace, name: str, folder: Path, *, as_of: date | str | None = None
) -> RunInputs:
    """Return the inputs of a run of scenario `name`: the record's layers, else its files.

    Parameters
    ----------
    workspace, name
        The scenario.
    folder
        Where the record's layers are written (a scratch folder of the run).
    as_of
        A day: the record as it stood at its end. None: the record now, if it has any
        change.

    Raises
    ------
    NotFoundError
        `as_of` given and the record had no change by then.
    HTTPException
        422 when neither the record nor the files give villages.
    """
    record = None
    store = workspace.store(name)
    if as_of is not None:
        record_version(store, as_of, label=_label(name))
    if as_of is not None or store.version > 0:
        record = inputs_as_of(store, as_of, folder)
    layers = workspace.layer_versions(name)  # each a published version, fixed for the run
    from_record = dict(record.paths) if record is not None else {}
    paths: dict[str, Path | None] = {
        kind: layers[kind].path for kind in LAYER_KINDS if kind not in from_record
    }
    paths.update(from_record)
    if paths.get("villages") is None:
        raise HTTPException(
            status_code=422,
            detail=f"scenario '{name}' has no villages: upload them first "
            f"(POST /api/scenarios/{name}/uploads/villages)",
        )
    meta = workspace.metadata(name)
    extras = {
        key: workspace.file(name, str(meta[key]))
        for key in ("dem", "roads", "population")
        if meta.get(key) and workspace.file(name, str(meta[key])).is_file()
    }
    samples = workspace.layer_path(name, "samples")  # measurements: the file uploaded
    if samples is not None and samples.is_file():
        extras["samples"] = samples
    return RunInputs(
        files=InputFiles.from_paths({**paths, **extras}),
        layers={kind: layers[kind].version for kind in LAYER_KINDS if kind not in from_record},
        record=record,
    )


def asof_key(version: int, config: dict[str, Any]) -> str:
    """Return the key a run of record `version` with `config` is kept under.

    Examples
    --------
    >>> asof_key(3, {"mobile": {"rule": "point"}})[:3]
    'v3-'
    """
    text = json.dumps(config, sort_keys=True, ensure_ascii=True, default=str)
    return f"v{version}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def run_as_of(workspace: Workspace, settings: Settings, name: str, day: str) -> str:
    """Run scenario `name` on the record as it stood at the end of `day`; keep the run.

    A job (:func:`~hatangso.app.worker.run_job`): the run of that version with the
    scenario's configuration is made unless it is kept already.

    Returns
    -------
    str
        The folder of the kept run.
    """
    from hatangso.app.routes.uploads import _parse_config
    from hatangso.app.runconfig import run_config
    from hatangso.scenarios.job import run_coverage

    version = record_version(workspace.store(name), day, label=_label(name))
    chosen = run_config(workspace, name, None)
    key = asof_key(version, chosen.document)
    kept = workspace.asof_run(name, key)
    if kept is not None:
        return str(kept)
    config = _parse_config(workspace, settings, name, chosen.document)
    meta = workspace.metadata(name)
    title = str(meta.get("title") or name)
    with workspace.new_asof_run(name) as out, workspace.scratch(name) as scratch:
        inputs = run_inputs(workspace, name, scratch, as_of=day)
        assert inputs.record is not None
        log.info("scenario %s: run of record version %d (as of %s)", name, version, day)
        result = run_coverage(
            inputs.files,
            config,
            out,
            title=f"{title} — {day}",
            # The day asked goes in run.json: other days of the same version share the run.
            extra={"scenario": name, "record_version": inputs.record.version},
        )
        write_json(
            {
                "run": key,
                "as_of": day,
                "record": inputs.record.describe(),
                "layers": inputs.layers,
                "villages": len(result.assessment.villages),
                "config": chosen.document,
            },
            out / RUN_METADATA,
        )
        folder = workspace.publish_asof_run(name, key, out, keep=settings.asof_runs)
    return str(folder)


@dataclass(frozen=True)
class AsOfResults:
    """The results that answer for a past day.

    Attributes
    ----------
    as_of
        The day (``YYYY-MM-DD``).
    record_version
        The record's version current at its end.
    folder
        The run's folder (the published run, or one kept for the day's version).
    """

    as_of: str
    record_version: int
    folder: Path

    async def kpis_answer(self, workspace: Workspace, name: str) -> bytes:
        """Return :meth:`kpis_text`, read in a thread when the document is large.

        A small document's answer is kept (per run folder and day, while its ``kpis.json``
        is unchanged), so that a day asked again reads no file: a province's is a few hundred
        kB, a national one 16 MB, read for each ask rather than kept.
        """
        path = self.folder / "kpis.json"
        if path.stat().st_size > _SMALL_BYTES:
            return await run_in_threadpool(self.kpis_text)
        answer: bytes = workspace.cached(
            name,
            f"asof-kpis:{self.folder}:{self.as_of}:{self.record_version}",
            (path,),
            self.kpis_text,
        )
        return answer

    def kpis_text(self) -> bytes:
        """Return the run's ``kpis.json`` saying its ``as_of`` and ``record_version``.

        A run on the record carries ``record_version`` already (the version the answer is of,
        by construction): ``as_of`` is put in front of the file's text as it is, so that a
        national document (16 MB) is neither parsed nor kept in memory per day asked.
        """
        raw = (self.folder / "kpis.json").read_bytes()
        body = raw.lstrip()
        head = f'{{"as_of":{json.dumps(self.as_of)},'.encode()
        if body.startswith(b"{") and b'"record_version"' in raw and b'"as_of"' not in raw:
            return head + body[1:]
        document = json.loads(raw)
        document.pop("as_of", None)
        document["record_version"] = self.record_version
        return head + json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()[1:]


#: The zone whose days ``as_of`` names (the store's).
_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def _version_at(workspace: Workspace, name: str, day: str) -> int:
    """Return the record's version at the end of `day`, remembered for days gone by.

    The changes of a day that is over never change (each is stamped when it is applied), so
    its version is asked of the store once; the embedded store's file is watched all the same.
    """

    def ask() -> int:
        return record_version(workspace.store(name), day, label=_label(name))

    if date.fromisoformat(day) >= datetime.now(_ZONE).date():
        return ask()
    version: int = workspace.cached(name, *_version_key(workspace, name, day), ask)
    return version


def _version_key(workspace: Workspace, name: str, day: str) -> tuple[str, tuple[Path, ...]]:
    # The embedded store writes its commits into its write-ahead log first.
    record = workspace.folder(name) / "record.gpkg"
    return f"record-version:{day}", (record, record.with_name("record.gpkg-wal"))


def _kept_results(workspace: Workspace, name: str, day: str) -> tuple[int, Path | None]:
    """Return the record's version at the end of `day` and a run made from it, if any."""
    version = _version_at(workspace, name, day)
    return version, _kept_run(workspace, name, version)


def _kept_run(workspace: Workspace, name: str, version: int) -> Path | None:
    """Return a run made from record `version` with the scenario's configuration, if any."""
    from hatangso.app.runconfig import run_config

    folder = workspace.folder(name)
    config: dict[str, Any] = workspace.cached(
        name,
        "stored-config",
        (folder / "scenario.json",),
        lambda: run_config(workspace, name, None).document,
    )
    published = workspace.results(name)
    meta: dict[str, Any] = workspace.cached(
        name,
        f"run-metadata:{published}",
        (published / RUN_METADATA,),
        lambda: workspace.run_metadata(name),
    )
    record = meta.get("record") or {}
    if (
        record.get("version") == version
        and meta.get("config") == config
        and not meta.get("stale")
        and (published / "kpis.json").is_file()
    ):
        return published
    return workspace.asof_run(name, asof_key(version, config))


async def scenario_for(
    name: str, workspace: Workspace, settings: Settings, as_of: date | None
) -> str:
    """Return `name` if the scenario can answer: with results, or, for a past day, a record.

    A scenario whose record is kept but never run yet answers a past day (the run is made);
    without `as_of` it needs results, as every read does.

    Raises
    ------
    HTTPException
        404 when it cannot.
    """
    from hatangso.app.deps import existing_scenario

    if as_of is None or not workspace.folder(name).is_dir():
        return await existing_scenario(name, workspace, settings)
    return name


async def results_as_of(
    request: Request, workspace: Workspace, settings: Settings, name: str, as_of: date
) -> AsOfResults:
    """Return the results of scenario `name` as its record stood at the end of `as_of`.

    A run made from exactly that version of the record answers (the published one, or one
    kept); else the run is made, in a job, and kept.

    Raises
    ------
    NotFoundError
        The record had no change by the end of `as_of` (404).
    """
    day = as_of.isoformat()
    remembered = workspace.peek(name, *_version_key(workspace, name, day))
    if isinstance(remembered, int):
        # A day gone by, asked before: everything below is in memory or a stat, answered
        # here rather than through a thread (a busy pool would make each answer wait).
        version, folder = remembered, _kept_run(workspace, name, remembered)
    else:
        version, folder = await run_in_threadpool(_kept_results, workspace, name, day)
    if folder is None:
        made = await run_job(
            request, "the run as of " + day, run_as_of, workspace, settings, name, day
        )
        folder = Path(made)
    return AsOfResults(as_of=day, record_version=version, folder=folder)
