"""The service's workspace: one folder per scenario, published atomically, read through caches.

Layout of a scenario ``<workspace>/<name>/``::

    scenario.json            the service's metadata: title, where its inputs are, the last
                             upload of each layer, the published run (a summary: the
                             authoritative records are run.json and upload.json)
    runs/<id>/               the outputs of one coverage run, as
                             :func:`hatangso.scenarios.job.run_coverage` writes them
                             (kpis.json, villages.gpkg, towers.geojson, map.html, rejects.csv,
                             rasters), its run.json (config, villages, versions of the layers it
                             read, stale), and cache/ and exports/ derived from them
    current -> runs/<id>     the published run
    kpis.json -> current/kpis.json, ...    the outputs under their old names, for scripts
    uploads/<stem>/<id>/     one uploaded version of a layer: <stem>.gpkg, <stem>.rejects.csv,
                             upload.json (version, file, counts, at, by, what it replaced)
    uploads/<stem>.current -> <stem>/<id>                the published version
    uploads/<stem>.gpkg -> <stem>.current/<stem>.gpkg    and its rejects, likewise
    plans/<id>.geojson       site plans
    asof/<key>/              runs on the record as it stood on a past day (``?as_of=``), one
                             per record version and configuration, the least recently used
                             removed beyond :data:`ASOF_RUNS`
    data/                    inputs a built-in scenario came with
    .write.lock, .jobs.lock  the scenario's locks (below)

Whatever must change together is written into a new folder and published with one atomic
switch of a link (:mod:`hatangso.app.storage`): readers resolve ``current`` once per request
(:meth:`Workspace.results`) and so see one run's files, never a mixture; a job killed midway
leaves the published files as they were. The last two runs and versions are kept, so that a
reader still at the previous one finishes it.

Writes of one scenario (publishing a run or an upload, updating ``scenario.json``) take its
write lock, an ``fcntl.flock`` on ``.write.lock`` that also excludes other worker processes:
they apply in arrival order, every upload becomes a new version and says which one it
replaced, and an upload made against a version that has moved on (``If-Match``) is refused
with :class:`~hatangso.geo.errors.ConflictError`. A live job (an upload being received, a run)
holds a shared lock on ``.jobs.lock``; :meth:`Workspace.clean` removes leftovers of killed
jobs (``.tmp-*``, ``.build-*``, temporary files, runs and versions never published) only when
it can take that lock exclusively. The service cleans when it starts and a run when it starts.

Single files are written with :func:`hatangso.geo.outputs.atomic_write` (beside their
destination, then moved over it). Scenario names are checked against :data:`NAME_PATTERN`
before they become paths, and every path is checked to stay inside the workspace.

Scenarios that the service can build by itself (the demo province and the shipped scenario
files, :func:`shipped_plans`) are declared with :func:`register_scenario` and built on first
use. Scenarios written by older versions (outputs beside ``scenario.json``) are moved into a
run folder the first time they are read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
import yaml

from hatangso.app import storage
from hatangso.app.uploads import UPLOAD_SCRATCH
from hatangso.geo.errors import ConflictError, HatangsoError, InputError, Problem
from hatangso.geo.outputs import json_ready, write_json
from hatangso.geo.progress import Progress
from hatangso.geo.schema import LAYER_KINDS, spec_for
from hatangso.geo.scratch import remove_orphans
from hatangso.scenarios.maps import INDICATOR_COLUMN

if TYPE_CHECKING:
    from hatangso.geo.store import SqlStore

__all__ = [
    "NAME_PATTERN",
    "SEED_ACTOR",
    "LayerVersion",
    "PublishedRun",
    "RunFolder",
    "ScenarioInfo",
    "VillageIndex",
    "Workspace",
    "demo_metadata",
    "feature_collection",
    "register_scenario",
    "registered_scenarios",
    "serialise_features",
    "shipped_plans",
    "signature",
]

log = logging.getLogger(__name__)

#: A scenario name: lower-case letters, digits, ``-`` and ``_``, starting with a letter or digit.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)

METADATA = "scenario.json"
#: The actor of the change sets that load a scenario's input layers into its record.
SEED_ACTOR = "hatangso"
ADMIN_COLUMNS = ("province", "district", "commune")
# Village properties served by the API, in this order when present.
VILLAGE_PROPERTIES = (
    "village_id",
    "name",
    "commune",
    "district",
    "province",
    "population",
    "households",
    "covered_mobile",
    "covered_5g",
    "covered_ftth",
    "best_dbm",
    "nearest_site_m",
    "serving_operators",
    "mobile_reason",
    "ftth_distance_m",
    "ftth_reason",
    "mobile_basis",
    "measured_availability",
    "n_samples",
    "declared_operators",
    "disputed",
    "challenge",
    "challenge_id",
)


# --------------------------------------------------------------------------------------------
# Registry of scenarios the service can build
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Registered:
    name: str
    title: str
    build: Callable[..., None]
    reports_progress: bool = False


_REGISTRY: dict[str, _Registered] = {}


def register_scenario(
    name: str, title: str, build: Callable[..., None], *, reports_progress: bool = False
) -> None:
    """Declare a scenario the service builds itself when it is asked for and missing.

    Parameters
    ----------
    name
        Scenario name (matching :data:`NAME_PATTERN`).
    title
        Title shown in the list.
    build
        Called with an empty folder; it writes the scenario's outputs there.
    reports_progress
        Whether `build` also takes ``progress=`` (a :class:`~hatangso.geo.progress.Progress`
        or None), to report its steps while the service builds it.
    """
    if not _NAME.match(name):
        raise ValueError(f"invalid scenario name {name!r}: it must match {NAME_PATTERN}")
    _REGISTRY[name] = _Registered(
        name=name, title=title, build=build, reports_progress=reports_progress
    )


def registered_scenarios() -> dict[str, str]:
    """Return the registered scenarios, name to title."""
    return {name: entry.title for name, entry in sorted(_REGISTRY.items())}


def demo_metadata() -> dict[str, Any]:
    """Return ``scenario.json`` of the demo scenario (its inputs are in ``data/``)."""
    return {
        "name": "demo",
        "title": "Tỉnh Demo",
        "source": "demo",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": {
            **{kind: f"data/{spec_for(kind).stem}.gpkg" for kind in LAYER_KINDS},
            "commitments": "data/commitments.csv",
            "declared": "data/declared.csv",
        },
        "dem": "data/dem.tif",
        "roads": "data/roads.osm",
        "population": "data/population.tif",
    }


def _build_demo(folder: Path, *, progress: Progress | None = None) -> None:
    from hatangso.scenarios.demo_job import run_demo

    run_demo(folder, progress=progress)
    write_json(demo_metadata(), folder / METADATA)


register_scenario("demo", "Tỉnh Demo", _build_demo, reports_progress=True)


def shipped_plans() -> dict[str, Path]:
    """Return the scenario files shipped with hatangso, name (the file's stem) to path.

    The repository keeps them in ``scenarios/*.yaml``; the package's ``plans`` folder holds a
    link to each, so that the wheel carries them (as files) and an editable install reads the
    repository's own, never a stale copy.

    Returns
    -------
    dict of str to Path
        Sorted by name; empty when neither place holds any.
    """
    folder = Path(str(resources.files("hatangso.scenarios"))) / "plans"
    return {path.stem: path for path in sorted(folder.glob("*.yaml")) if _NAME.match(path.stem)}


def _plan_title(path: Path) -> str:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):  # pragma: no cover - a shipped file is valid
        log.exception("scenario file %s could not be read", path)
        return path.stem
    title = document.get("title") if isinstance(document, dict) else None
    return str(title) if title else path.stem


def _plan_builder(path: Path) -> Callable[..., None]:
    def build(folder: Path, *, progress: Progress | None = None) -> None:
        from hatangso.scenarios.run import run_scenario
        from hatangso.scenarios.schema import data_root, resolve

        result = run_scenario(path, folder, progress=progress)
        scenario = result.scenario
        root = (
            folder / "data"
            if scenario.generated is not None and scenario.data_root is None
            else data_root(scenario, path.parent)
        )
        inputs: dict[str, str] = {}
        for kind in LAYER_KINDS:
            value = getattr(scenario.data, spec_for(kind).stem, None)
            if value is None:
                continue
            file = resolve(scenario, root, value).resolve()
            if file.is_relative_to(folder.resolve()):  # the workspace reads only its own files
                inputs[kind] = file.relative_to(folder.resolve()).as_posix()
        metadata = {
            "name": path.stem,
            "title": scenario.title,
            "province": scenario.scope.province,
            "source": "scenario",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "inputs": inputs,
        }
        if scenario.data.commitments is not None:  # a table, beside the layers
            file = resolve(scenario, root, scenario.data.commitments).resolve()
            if file.is_relative_to(folder.resolve()):
                inputs["commitments"] = file.relative_to(folder.resolve()).as_posix()
        write_json(metadata, folder / METADATA)

    return build


for _name, _path in shipped_plans().items():
    if _name not in _REGISTRY:  # the demo keeps its own, richer build (terrain, samples)
        register_scenario(_name, _plan_title(_path), _plan_builder(_path), reports_progress=True)


# --------------------------------------------------------------------------------------------
# Villages, prepared for fast filtered pages
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VillageIndex:
    """The villages of a scenario, with each feature already serialised as GeoJSON text.

    Attributes
    ----------
    frame
        The villages (EPSG:4326) as read from ``villages.gpkg``.
    features
        One RFC 7946 Feature per village, as compact JSON text.
    status
        Coverage per indicator (``mobile``, ``5g``, ``ftth``): boolean arrays.
    units
        Admin unit names per level (``province``, ``district``, ``commune``), NFC text.
    """

    frame: gpd.GeoDataFrame
    features: npt.NDArray[np.object_]
    status: Mapping[str, npt.NDArray[np.bool_]]
    units: Mapping[str, npt.NDArray[np.object_]]

    def select(
        self,
        *,
        status: str,
        indicator: str,
        units: Mapping[str, str | None],
        basis: str | None = None,
        disputed: bool | None = None,
    ) -> npt.NDArray[np.intp]:
        """Return the positions of the villages matching the filters, in file order.

        `basis` keeps villages whose mobile answer rests on ``measured``, ``predicted``,
        ``declared`` or ``challenge`` (an upheld challenge); `disputed` keeps the villages where
        those bases disagree (or agree). A run without samples or declarations has neither
        column: nothing matches them.
        """
        keep = np.ones(len(self.features), dtype=bool)
        if basis is not None:
            if "mobile_basis" not in self.frame:
                return np.empty(0, dtype=np.intp)
            keep &= (
                (self.frame["mobile_basis"].astype("string") == basis)
                .fillna(False)
                .to_numpy(dtype=bool)
            )
        if disputed is not None:
            if "disputed" not in self.frame:
                return np.empty(0, dtype=np.intp)
            flags = self.frame["disputed"].fillna(False).to_numpy(dtype=bool)
            keep &= flags if disputed else ~flags
        if status != "all":
            covered = self.status.get(indicator)
            if covered is None:
                raise InputError(
                    Problem(
                        file="villages.gpkg",
                        message=f"the scenario has no coverage for indicator '{indicator}'",
                        fix="run coverage with the inputs this indicator needs",
                        column=INDICATOR_COLUMN[indicator],
                    )
                )
            keep &= covered if status == "covered" else ~covered
        for level, wanted in units.items():
            if wanted is None:
                continue
            values = self.units.get(level)
            if values is None:
                return np.empty(0, dtype=np.intp)
            keep &= values == _fold(wanted)
        return np.flatnonzero(keep)


def _fold(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFC", text).strip().casefold()


def _json_value(value: Any) -> Any:
    plain = json_ready(value)
    return round(plain, 3) if isinstance(plain, float) else plain


def serialise_features(
    frame: gpd.GeoDataFrame, *, columns: list[str], id_column: str | None
) -> npt.NDArray[np.object_]:
    """Return one compact RFC 7946 Feature (JSON text) per row of `frame` (EPSG:4326).

    Notes
    -----
    Coordinates are rounded to six decimal places (about 0.1 m), as RFC 7946 section 11.2
    advises. Geometries are serialised in one vectorised call (``shapely.to_geojson``).
    """
    frame = frame.to_crs(4326) if frame.crs is not None else frame
    columns = [c for c in columns if c in frame]
    props = frame[columns].astype(object).where(frame[columns].notna(), None)
    geoms = shapely.transform(
        np.asarray(frame.geometry.array, dtype=object), lambda xy: np.round(xy, 6)
    )
    geo_text = shapely.to_geojson(geoms)
    records = props.to_dict(orient="records")
    return np.array(
        [
            '{"type":"Feature",'
            + (
                '"id":' + json.dumps(_json_value(rec.get(id_column)), ensure_ascii=False) + ","
                if id_column is not None and id_column in rec
                else ""
            )
            + '"properties":'
            + json.dumps({k: _json_value(v) for k, v in rec.items()}, ensure_ascii=False)
            + ',"geometry":'
            + (gtext if gtext is not None else "null")
            + "}"
            for rec, gtext in zip(records, geo_text, strict=True)
        ],
        dtype=object,
    )


def feature_collection(features: npt.NDArray[np.object_], **members: Any) -> bytes:
    """Join serialised features into a FeatureCollection; `members` become foreign members."""
    head = "".join(f"{json.dumps(k)}:{json.dumps(v)}," for k, v in members.items())
    return (
        '{"type":"FeatureCollection",' + head + '"features":[' + ",".join(features) + "]}"
    ).encode("utf-8")


def prepare_villages(frame: gpd.GeoDataFrame) -> VillageIndex:
    """Serialise every village once, and index its coverage and admin units for filtering."""
    frame = frame.to_crs(4326) if frame.crs is not None else frame
    features = serialise_features(frame, columns=list(VILLAGE_PROPERTIES), id_column="village_id")
    # A flag not computed is NULL in the file (read back as NaN): not covered, for filtering.
    status = {
        key: frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)
        for key, column in INDICATOR_COLUMN.items()
        if column in frame
    }
    units = {
        level: np.array(
            [_fold(str(v)) if v is not None and v == v else "" for v in frame[level].tolist()],
            dtype=object,
        )
        for level in ADMIN_COLUMNS
        if level in frame
    }
    return VillageIndex(frame=frame, features=features, status=status, units=units)


# --------------------------------------------------------------------------------------------
# The workspace
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioInfo:
    """One scenario as listed by the service."""

    name: str
    title: str
    ready: bool
    source: str
    villages: int | None = None
    updated: str | None = None


@dataclass(frozen=True)
class LayerVersion:
    """The published version of one input layer of a scenario.

    Attributes
    ----------
    kind
        Layer kind (``villages``, ``sites`` ...).
    version
        1 for the first upload, one more for each upload after it; 0 for a layer the scenario
        came with (a built-in input) or has not got.
    path
        The layer's file (the version's own, which never changes), None when there is none.
    file
        Name of the uploaded file.
    at
        When it was uploaded (UTC, ISO 8601).
    by
        Who uploaded it (the client's address).
    """

    kind: str
    version: int
    path: Path | None = None
    file: str | None = None
    at: str | None = None
    by: str | None = None

    def record(self) -> dict[str, Any]:
        """Return the version as a JSON document (without the server's path)."""
        return {"version": self.version, "file": self.file, "at": self.at, "by": self.by}

    def replaced(self) -> dict[str, Any] | None:
        """Return :meth:`record` as what an upload replaces; None when there is no layer."""
        return self.record() if self.version or self.path is not None else None


@dataclass(frozen=True)
class RunFolder:
    """A coverage run being written: outputs go to `folder`, published by ``publish_run``."""

    scenario: str
    id: str
    folder: Path


@dataclass(frozen=True)
class PublishedRun:
    """What :meth:`Workspace.publish_run` published.

    Attributes
    ----------
    id
        The run's id (its folder ``runs/<id>``; ``kpis.json`` carries it as ``run``).
    stale
        Whether an input layer was replaced while the run read it: the results are published
        but describe the layers as they were (see `changed`).
    changed
        Per replaced layer kind: the version the run read and the one published now, with who
        replaced it and when.
    metadata
        The run's ``run.json``.
    """

    id: str
    stale: bool
    changed: Mapping[str, Any]
    metadata: Mapping[str, Any]


def signature(*paths: Path) -> tuple[tuple[str, int, int], ...]:
    """Return what identifies the content of `paths` on disk: path, mtime and size of each.

    Links are followed: a path through the ``current`` link changes its signature when
    another run is published.
    """
    out = []
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            out.append((str(path), -1, -1))
        else:
            out.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(out)


#: Entries of a scenario folder that are not a run's results (inputs, plans, bookkeeping).
_NOT_RESULTS = frozenset(
    {METADATA, "uploads", "data", "plans", "cache", "exports", "runs", "current", "asof"}
    # The record: never a run's, never moved into one.
    | {f"record.gpkg{suffix}" for suffix in ("", "-journal", "-wal", "-shm")}
)
#: Derived files kept inside a run folder (rebuilt on demand, never published as outputs).
_DERIVED = frozenset({"cache", "exports"})
RUNS = "runs"
CURRENT = "current"
RUN_METADATA = "run.json"
UPLOAD_METADATA = "upload.json"
WRITE_LOCK = ".write.lock"
JOBS_LOCK = ".jobs.lock"
ASOF = "asof"
#: Runs of past days kept per scenario (``HATANGSO_ASOF_RUNS`` sets it for the service).
ASOF_RUNS = 8
_TOUCH_SECONDS = 60.0
_ASOF_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}$")


#: Most scenario folders a workspace remembers (:meth:`Workspace.folder`).
_MAX_FOLDERS = 1024


def _is_leftover(entry: Path) -> bool:
    """Whether `entry` is a temporary file or folder of an interrupted write or job."""
    name = entry.name
    return name.startswith((".tmp-", ".build-")) or (name.startswith(".") and ".tmp" in name)


class Workspace:
    """The scenarios of one workspace folder.

    Parameters
    ----------
    root
        The workspace folder (created when missing).
    max_cached
        Most documents, frames and pages kept in memory; the least recently used go first.
    """

    def __init__(
        self, root: Path, *, max_cached: int = 128, database_url: str | None = None
    ) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or None
        self._lock = threading.RLock()
        self._cache: OrderedDict[tuple[str, str], tuple[Any, Any]] = OrderedDict()
        self._max_cached = max(1, int(max_cached))
        self._stores: dict[str, SqlStore] = {}
        self._users: SqlStore | None = None
        self._opening: dict[str, threading.Lock] = {}
        self._folders: dict[str, Path] = {}

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as root and database: a child process gets a workspace of its own (no cache)."""
        return (_workspace, (self.root, self.database_url))

    # ---- the record ------------------------------------------------------------------------

    def store(self, name: str) -> SqlStore:
        """Return the record of scenario `name` (opened once per process, then shared).

        Embedded, it is ``<workspace>/<name>/record.gpkg``; with a database URL, the schema
        :func:`record_schema` of that database. Opening creates and upgrades it as needed.
        The first time a process opens an empty record of a scenario that has input layers
        (built-in data, uploads of an older version), they are loaded into it as its first
        change sets (:meth:`seed`), so that every reader finds the scenario's rows there.
        """
        from hatangso.geo.store import open_store, store_url  # SQLAlchemy: only when used

        folder = self.folder(name)
        with self._lock:
            opened = self._stores.get(name)
            if opened is not None:
                return opened
            opening = self._opening.setdefault(name, threading.Lock())
        with opening:  # one opening (and seeding) per scenario; other scenarios go on
            with self._lock:
                opened = self._stores.get(name)
            if opened is not None:
                return opened
            if self.database_url:
                opened = open_store(self.database_url, schema=record_schema(name))
            else:
                folder.mkdir(parents=True, exist_ok=True)
                opened = open_store(store_url(folder))
            try:
                self.seed(name, opened)
            except BaseException:
                opened.close()
                raise
            with self._lock:
                self._stores[name] = opened
            return opened

    def users(self) -> SqlStore:
        """Return the workspace's own store, which keeps the service's users (opened once).

        Embedded, it is ``<workspace>/record.gpkg``; with a database URL, the schema
        :data:`USERS_SCHEMA` of that database. Users are the workspace's, not one scenario's.
        """
        from hatangso.geo.store import open_store, store_url  # SQLAlchemy: only when used

        with self._lock:
            if self._users is None:
                if self.database_url:
                    self._users = open_store(self.database_url, schema=USERS_SCHEMA)
                else:
                    self._users = open_store(store_url(self.root))
            return self._users

    def has_users(self) -> bool:
        """Whether the workspace has users: then a request without credentials is anonymous.

        An embedded workspace without its ``record.gpkg`` has none (and is not given one).
        """
        from hatangso.geo.store import STORE_FILE

        if not self.database_url and not (self.root / STORE_FILE).is_file():
            return False
        return self.users().has_users()

    def seed(self, name: str, store: SqlStore | None = None, *, lock: bool = True) -> int:
        """Load the scenario's input layers into its record, each kind the record lacks.

        Each kind the scenario has a layer of (:meth:`layer_path`: its upload, else its
        built-in input) becomes one change set by ``hatangso``, noted as the scenario's
        initial data, unless the record has a change of that kind already. It runs under the
        scenario's write lock, checking the record's kinds again under it, so that two
        processes never load a kind twice; challenges filed before it (the demo's, as it is
        built) do not count. A kind named among the inputs after the record was first loaded
        (the demo's declared coverage) is loaded the next time the record is opened.

        Parameters
        ----------
        name
            The scenario.
        store
            Its record (default :meth:`store`), or a scratch copy of it (a dry run's).
        lock
            Whether to take the scenario's write lock (not for a scratch copy).

        Returns
        -------
        int
            The change sets applied (0 when the record was not empty or there was no layer).
        """
        from hatangso.geo.schema import RECORD_KINDS

        record = store if store is not None else self.store(name)
        if not self.folder(name).is_dir():
            return 0
        kinds = [
            k
            for k in RECORD_KINDS
            if k in LAYER_KINDS
            or (k in self.metadata(name).get("inputs", {}) and not spec_for(k).streamed)
        ]
        held = _kinds_held(record)
        if not [k for k in kinds if k not in held and self.layer_path(name, k) is not None]:
            return 0
        applied = 0
        with self.writing(name) if lock else contextlib.nullcontext():
            held = _kinds_held(record)  # another process may have loaded some meanwhile
            for kind in kinds:
                if kind in held:
                    continue
                try:
                    frame = self._input_frame(name, kind)
                except HatangsoError as exc:  # a broken input must not stop the others
                    log.warning("scenario %s: its %s cannot be read: %s", name, kind, exc)
                    continue
                if frame is None or frame.empty:
                    continue
                change = record.diff(
                    kind,
                    frame.drop(columns=["source_row"], errors="ignore"),
                    actor=SEED_ACTOR,
                    mode="upsert",
                    note=f"the initial {kind} of scenario '{name}', from its input layer",
                )
                if not change.ok:
                    log.warning(
                        "scenario %s: %s not loaded into the record: %s",
                        name,
                        kind,
                        "; ".join(str(p) for p in (*change.forbidden, *change.problems)[:5]),
                    )
                    continue
                record.apply(change)
                applied += 1
        if applied:
            log.info(
                "scenario %s: its input layers loaded into the record (%d kinds)", name, applied
            )
        return applied

    def _input_frame(self, name: str, kind: str) -> pd.DataFrame | None:
        """Return the clean rows of input `kind` (a table for a kind without geometry)."""
        if kind in LAYER_KINDS:
            return self.layer(name, kind)
        path = self.layer_path(name, kind)
        if path is None:
            return None
        from hatangso.geo.validate import load_layer

        return load_layer(path, kind).frame

    def close_stores(self) -> None:
        """Release the connections of every record this workspace opened."""
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
            if self._users is not None:
                stores.append(self._users)
                self._users = None
        for opened in stores:
            opened.close()

    def province(self, name: str) -> str | None:
        """Return the province scenario `name` covers, or None when it names none.

        ``province`` of its ``scenario.json``, else ``scope.province`` of the shipped
        scenario file of that name.
        """
        value = self.metadata(name).get("province")
        plan = shipped_plans().get(name)
        if not value and plan is not None:
            try:
                document = yaml.safe_load(plan.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):  # pragma: no cover - a shipped file is valid
                log.exception("scenario file %s could not be read", plan)
                return None
            scope = document.get("scope") if isinstance(document, dict) else None
            value = scope.get("province") if isinstance(scope, dict) else None
        return str(value) if value else None

    def forget(self, name: str) -> None:
        """Remove what a refused first upload of scenario `name` created: an empty record.

        The scenario's folder goes too, unless something else was stored there meanwhile
        (an upload, results, a change of its record), or another job of the scenario is live
        (it holds the job or write lock: an upload that has opened the record but not yet
        published): what it made is its own, and is kept. The check and the removal are made
        holding both locks, so that no job starts in between.
        """
        folder = self.folder(name)
        if not folder.is_dir() and not self.database_url:
            return
        with (
            storage.try_exclusive(folder / JOBS_LOCK) as idle,
            storage.try_exclusive(folder / WRITE_LOCK) as quiet,
        ):
            if not (idle and quiet):
                log.info("scenario %s kept: another job is at work in it", name)
                return
            with self._lock:
                opened = self._stores.get(name)
            try:
                if opened is not None and opened.version:
                    return
            except Exception:  # a record that cannot be read is not kept either
                log.debug("record of %s unreadable while forgotten", name, exc_info=True)
            if (folder / "uploads").exists() or self.exists(name):
                return
            self._forget_store(name)
            if not self.database_url:
                shutil.rmtree(folder, ignore_errors=True)

    def _forget_store(self, name: str) -> None:
        """Close the record of `name` opened here (its folder is about to be replaced)."""
        with self._lock:
            opened = self._stores.pop(name, None)
        if opened is not None:
            opened.close()

    # ---- names and paths -------------------------------------------------------------------

    def folder(self, name: str) -> Path:
        """Return the folder of scenario `name`, refusing names that are not plain.

        Every read asks it, several times: a folder that is no link is remembered rather
        than resolved again (a stat of each part of the path).
        """
        known = self._folders.get(name)
        if known is not None:
            return known
        if not _NAME.match(name):
            raise InputError(
                Problem(
                    file=name,
                    message="not a valid scenario name",
                    fix="use lower-case letters, digits, '-' and '_' (at most 64)",
                )
            )
        folder = (self.root / name).resolve()
        if folder.parent != self.root:  # pragma: no cover - the pattern already forbids it
            raise InputError(Problem(file=name, message="outside the workspace", fix="rename"))
        if folder.name == name:
            if len(self._folders) >= _MAX_FOLDERS:
                self._folders.clear()
            self._folders[name] = folder
        return folder

    def file(self, name: str, relative: str) -> Path:
        """Return a file of the scenario, refusing any path that leaves its folder."""
        folder = self.folder(name)
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder):
            raise InputError(
                Problem(file=relative, message="outside the scenario folder", fix="fix the path")
            )
        return path

    def results(self, name: str) -> Path:
        """Return the folder of the scenario's published run (``runs/<id>``).

        Every read of results goes through one call of this method, so that the files it reads
        belong to one run even while another run is being published. A scenario still in the
        flat layout of older versions (results beside ``scenario.json``) is moved into a run
        folder first; where that cannot be done, its folder is returned.
        """
        folder = self.folder(name)
        target = storage.read_link(folder / CURRENT)
        if target is not None:
            return folder / target
        flat = folder / "kpis.json"
        if flat.is_file() and not flat.is_symlink():
            try:
                return self._migrate(name)
            except OSError:  # pragma: no cover - a read-only workspace: read it as it is
                log.exception("scenario %s could not be moved to the run layout", name)
        return folder

    def exists(self, name: str) -> bool:
        """Whether scenario `name` has results (a published ``kpis.json``)."""
        return (self.results(name) / "kpis.json").is_file()

    def run_metadata(self, name: str) -> dict[str, Any]:
        """Return ``run.json`` of the published run (empty when there is none)."""
        path = self.results(name) / RUN_METADATA
        if not path.is_file():
            return {}
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return document

    # ---- locks -----------------------------------------------------------------------------

    def writing(self, name: str) -> AbstractContextManager[None]:
        """Hold the scenario's write lock: one writer at a time, across processes.

        Every change of what the scenario publishes (an upload, a run, its metadata) is made
        under it; reads never take it.
        """
        return storage.exclusive(self.folder(name) / WRITE_LOCK)

    def job(self, name: str) -> AbstractContextManager[None]:
        """Mark a live job of the scenario (shared lock): the cleaner leaves its files alone."""
        return storage.shared(self.folder(name) / JOBS_LOCK)

    # ---- metadata --------------------------------------------------------------------------

    def metadata(self, name: str) -> dict[str, Any]:
        """Return ``scenario.json`` of `name` (an empty document when absent)."""
        path = self.folder(name) / METADATA
        if not path.is_file():
            return {}
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return document

    def update_metadata(self, name: str, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into ``scenario.json`` atomically and return the new document.

        The read, merge and write happen under the scenario's write lock, so that concurrent
        updates from several threads or processes are all kept.
        """
        with self.writing(name):
            document = self.metadata(name)
            for key, value in changes.items():
                if isinstance(value, dict) and isinstance(document.get(key), dict):
                    document[key] = {**document[key], **value}
                else:
                    document[key] = value
            document.setdefault("name", name)
            document["updated"] = datetime.now(UTC).isoformat(timespec="seconds")
            write_json(document, self.folder(name) / METADATA)
            return document

    # ---- listing and building --------------------------------------------------------------

    def scenarios(self) -> list[ScenarioInfo]:
        """List the scenarios with results, and the registered ones not built yet."""
        found: dict[str, ScenarioInfo] = {}
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or not _NAME.match(folder.name):
                continue
            meta = self.metadata(folder.name)
            ready = self.exists(folder.name)
            if not ready and not (folder / "uploads").is_dir():
                continue
            villages = self.run_metadata(folder.name).get("villages") if ready else None
            found[folder.name] = ScenarioInfo(
                name=folder.name,
                title=str(
                    meta.get("title") or registered_scenarios().get(folder.name) or folder.name
                ),
                ready=ready,
                source=str(meta.get("source", "uploads")),
                villages=villages if villages is not None else meta.get("villages"),
                updated=meta.get("updated") or meta.get("created"),
            )
        for name, title in registered_scenarios().items():
            if name not in found:
                found[name] = ScenarioInfo(name=name, title=title, ready=False, source="built-in")
        return [found[name] for name in sorted(found)]

    def ensure(self, name: str, *, build: bool = True, progress: Progress | None = None) -> bool:
        """Build registered scenario `name` if it has no results; return whether it has them.

        The scenario is built in a temporary folder of the workspace (``.build-<name>.*``) and
        moved into place, its results then into a run folder; a crash while building leaves no
        half-built scenario. One build at a time per name, across processes (a lock file in
        ``.locks/``). `progress` is told the build's
        steps (when its builder reports them).
        """
        folder = self.folder(name)
        if self.exists(name):
            return True
        entry = _REGISTRY.get(name)
        if entry is None or not build:
            return False
        with storage.exclusive(self.root / ".locks" / f"{name}.build"):
            if self.exists(name):
                return True
            log.info("building scenario %s in %s", name, folder)
            tmp = Path(tempfile.mkdtemp(prefix=f".build-{name}.", dir=self.root))
            try:
                if entry.reports_progress:
                    entry.build(tmp, progress=progress)
                else:
                    entry.build(tmp)
                if folder.exists():  # an empty or failed folder: replace it
                    self._forget_store(name)
                    shutil.rmtree(folder)
                os.replace(tmp, folder)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
            if self.exists(name):
                try:  # the new scenario's layers become its record's first rows
                    self.store(name)
                except Exception:  # its results stand; the record is loaded on first use
                    log.exception("the record of scenario %s could not be loaded", name)
        return self.exists(name)

    # ---- runs: written apart, published at once --------------------------------------------

    @contextmanager
    def new_run(self, name: str) -> Iterator[RunFolder]:
        """Yield a new, empty run folder ``runs/<id>/`` of the scenario, for one run's outputs.

        Leftovers of killed jobs of the scenario are removed first (when no job is live). The
        folder is removed afterwards unless :meth:`publish_run` published it; while the run
        is live it holds the scenario's job lock, so no cleaner removes it.
        """
        self.clean(name)
        with self.job(name):
            run_id = storage.new_id()
            folder = self.folder(name) / RUNS / run_id
            folder.mkdir(parents=True)
            try:
                yield RunFolder(scenario=name, id=run_id, folder=folder)
            finally:
                if not (folder / storage.PUBLISHED).is_file():
                    shutil.rmtree(folder, ignore_errors=True)

    def publish_run(
        self,
        run: RunFolder,
        *,
        read: Mapping[str, int],
        record_read: int | None = None,
        **metadata: Any,
    ) -> PublishedRun:
        """Publish `run`: every reader sees its outputs, all at once, from now on.

        Parameters
        ----------
        run
            The run, its outputs written.
        read
            Version of each input layer the run read (:meth:`layer_versions`). A layer
            replaced since makes the run *stale*: it is published all the same, and its
            ``run.json`` and the answer say which layers moved on.
        record_read
            The version of the scenario's record the run read, if it read the record: a
            change set applied since makes it stale likewise, each kind changed named with
            the last change of it.
        **metadata
            Kept in the run's ``run.json`` and merged into ``scenario.json`` (title, config,
            villages ...).

        Returns
        -------
        PublishedRun
        """
        name = run.scenario
        folder = self.folder(name)
        with self.writing(name):
            now = self.layer_versions(name)
            changed = {
                kind: {"read": version, **now[kind].record()}
                for kind, version in sorted(read.items())
                if kind in now and now[kind].version != version
            }
            if record_read is not None:
                for change in self.store(name).changes_since(record_read):
                    changed[change["kind"]] = {"read": record_read, **change}
            document = {
                **json_ready(metadata),
                "run": run.id,
                "published": datetime.now(UTC).isoformat(timespec="seconds"),
                "layers": dict(read),
                "stale": bool(changed),
                "changed": changed,
            }
            write_json(document, run.folder / RUN_METADATA)
            shutil.rmtree(run.folder / ".cache", ignore_errors=True)  # the engine's scratch
            storage.mark_published(run.folder)
            previous = storage.switch(folder / CURRENT, f"{RUNS}/{run.id}")
            self._link_results(folder, run.folder)
            storage.prune(folder / RUNS, keep=(run.id, _base(previous)))
            self.update_metadata(name, **metadata, run=run.id, stale=bool(changed))
        if changed:
            log.warning("run %s of %s is stale: %s changed meanwhile", run.id, name, list(changed))
        return PublishedRun(id=run.id, stale=bool(changed), changed=changed, metadata=document)

    def _link_results(self, folder: Path, run: Path) -> None:
        """Give each output of `run` its old name in the scenario folder: a link via ``current``.

        Scripts that read ``<scenario>/kpis.json`` keep working; the service itself reads
        through :meth:`results`. A file of the flat layout is replaced by its link.
        """
        for entry in run.iterdir():
            if entry.name.startswith(".") or entry.name in _NOT_RESULTS | _DERIVED:
                continue
            link = folder / entry.name
            if link.is_symlink():
                continue
            if link.is_dir():  # a folder of the flat layout (a year's results): set aside first
                aside = folder / f".tmp-{entry.name}-{storage.new_id()}"
                os.replace(link, aside)
                storage.switch(link, f"{CURRENT}/{entry.name}")
                shutil.rmtree(aside, ignore_errors=True)
            else:
                storage.switch(link, f"{CURRENT}/{entry.name}")

    def _migrate(self, name: str) -> Path:
        """Move the results of a flat-layout scenario into a run folder and publish it.

        The files are hard-linked (copied where links cannot be made) into ``runs/<id>/``,
        which is published as one; the old names then become links. A kill at any point
        leaves the old layout readable or the new one published.
        """
        folder = self.folder(name)
        with self.writing(name), self.job(name):
            target = storage.read_link(folder / CURRENT)
            if target is not None:  # another process moved it meanwhile
                return folder / target
            run_id = storage.new_id()
            run = folder / RUNS / run_id
            run.mkdir(parents=True)
            try:
                for entry in folder.iterdir():
                    if entry.name.startswith(".") or entry.name in _NOT_RESULTS:
                        continue
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.copytree(entry, run / entry.name, copy_function=_link_or_copy)
                    elif entry.is_file() and not entry.is_symlink():
                        _link_or_copy(str(entry), str(run / entry.name))
                meta = self.metadata(name)
                document: dict[str, Any] = {
                    "run": run_id,
                    "source": "migrated",
                    "published": datetime.now(UTC).isoformat(timespec="seconds"),
                    "villages": meta.get("villages"),
                    "config": meta.get("config"),
                    "layers": {},
                    "stale": False,
                    "changed": {},
                }
                write_json(document, run / RUN_METADATA)
                storage.mark_published(run)
                storage.switch(folder / CURRENT, f"{RUNS}/{run_id}")
            except BaseException:
                shutil.rmtree(run, ignore_errors=True)
                raise
            self._link_results(folder, run)
            log.info("scenario %s moved to the run layout (run %s)", name, run_id)
            return run

    # ---- runs of past days (as_of): kept by key, least recently used removed --------------

    def asof_run(self, name: str, key: str) -> Path | None:
        """Return the kept run of a past day under `key`, None when there is none.

        Using it marks it recently used (its folder's time), so the pruning spares it.
        """
        folder = self._asof_folder(name, key)
        try:
            used = folder.stat().st_mtime
        except FileNotFoundError:
            return None
        if not (folder / storage.PUBLISHED).is_file():
            return None
        if time.time() - used > _TOUCH_SECONDS:  # once a minute is enough for the LRU
            with contextlib.suppress(OSError):
                os.utime(folder)
        return folder

    @contextmanager
    def new_asof_run(self, name: str) -> Iterator[Path]:
        """Yield a new, empty folder for a run of a past day, removed unless published.

        The scenario's job lock is held meanwhile, so that no cleaner removes it.
        """
        place = self.folder(name) / ASOF
        place.mkdir(parents=True, exist_ok=True)
        with self.job(name):
            folder = Path(tempfile.mkdtemp(prefix=".tmp-", dir=place))
            try:
                yield folder
            finally:
                if folder.exists():
                    shutil.rmtree(folder, ignore_errors=True)

    def publish_asof_run(self, name: str, key: str, run: Path, *, keep: int = ASOF_RUNS) -> Path:
        """Keep `run` (from :meth:`new_asof_run`) under `key`; return its folder.

        When another process kept a run of the same key meanwhile, that one stays and `run`
        is dropped. Beyond `keep` runs, the least recently used are removed.
        """
        target = self._asof_folder(name, key)
        shutil.rmtree(run / ".cache", ignore_errors=True)  # the engine's scratch
        storage.mark_published(run)
        with self.writing(name):
            if (target / storage.PUBLISHED).is_file():
                shutil.rmtree(run, ignore_errors=True)
            else:
                if target.exists():  # an unpublished leftover of a killed job
                    shutil.rmtree(target, ignore_errors=True)
                os.replace(run, target)
            self._prune_asof(name, keep=keep, spare=target.name)
        return target

    def keep_asof_run(self, name: str, key: str, run: Path, *, keep: int = ASOF_RUNS) -> Path:
        """Keep the published run `run` also under `key`, as the run of its record version.

        Its files are hard-linked (copied where links cannot be made), so keeping costs no
        space; a past day whose version it read is then answered from it even after other
        runs have replaced it.
        """
        with self.new_asof_run(name) as out:
            for entry in run.iterdir():
                if entry.name.startswith(".") or entry.name in _DERIVED:
                    continue
                if entry.is_dir():
                    shutil.copytree(entry, out / entry.name, copy_function=_link_or_copy)
                else:
                    _link_or_copy(str(entry), str(out / entry.name))
            return self.publish_asof_run(name, key, out, keep=keep)

    def _asof_folder(self, name: str, key: str) -> Path:
        if not _ASOF_KEY.match(key):
            raise InputError(Problem(file=key, message="not a run key", fix="a bug: report it"))
        return self.folder(name) / ASOF / key

    def _prune_asof(self, name: str, *, keep: int, spare: str | None = None) -> list[Path]:
        """Remove the kept runs of past days beyond the `keep` most recently used."""
        place = self.folder(name) / ASOF
        try:
            kept = [
                entry
                for entry in place.iterdir()
                if entry.is_dir() and not entry.name.startswith(".")
            ]
        except FileNotFoundError:
            return []
        kept.sort(key=lambda entry: (entry.name != spare, -entry.stat().st_mtime_ns))
        removed = kept[max(1, keep) :]
        for entry in removed:
            shutil.rmtree(entry, ignore_errors=True)
        return removed

    # ---- uploaded layers: versioned, published at once --------------------------------------

    def _uploaded(self, name: str, kind: str) -> LayerVersion | None:
        """Return the uploaded version of layer `kind`, or None when none was uploaded."""
        stem = spec_for(kind).stem
        uploads = self.folder(name) / "uploads"
        for _attempt in range(3):  # a version pruned between the two reads: read again
            target = storage.read_link(uploads / f"{stem}.current")
            if target is None:
                break
            generation = uploads / target
            try:
                text = (generation / UPLOAD_METADATA).read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            record: dict[str, Any] = json.loads(text)
            return LayerVersion(
                kind=kind,
                version=int(record["version"]),
                path=generation / f"{stem}.gpkg",
                file=record.get("file"),
                at=record.get("at"),
                by=record.get("by"),
            )
        flat = uploads / f"{stem}.gpkg"  # uploaded by an older version of the service
        if flat.is_file():
            record = self.metadata(name).get("uploads", {}).get(kind, {})
            return LayerVersion(
                kind=kind,
                version=int(record.get("version", 1)),
                path=flat,
                file=record.get("file"),
                at=record.get("at"),
                by=record.get("by"),
            )
        return None

    def layer_version(self, name: str, kind: str) -> LayerVersion:
        """Return the published version of input layer `kind` (version 0: not uploaded)."""
        uploaded = self._uploaded(name, kind)
        if uploaded is not None:
            return uploaded
        relative = self.metadata(name).get("inputs", {}).get(kind)
        if relative:
            path = self.file(name, str(relative))
            if path.is_file():
                return LayerVersion(kind=kind, version=0, path=path)
        return LayerVersion(kind=kind, version=0)

    def layer_versions(self, name: str) -> dict[str, LayerVersion]:
        """Return :meth:`layer_version` of every layer kind."""
        return {kind: self.layer_version(name, kind) for kind in LAYER_KINDS}

    def store_layer(
        self,
        name: str,
        kind: str,
        files: Mapping[str, Callable[[Path], object]],
        *,
        file: str,
        counts: Mapping[str, int],
        if_match: int | None = None,
        by: str | None = None,
        apply: Callable[[], object] | None = None,
    ) -> tuple[LayerVersion, LayerVersion]:
        """Publish a new version of input layer `kind`: its files appear all at once.

        The files are written into a new folder ``uploads/<stem>/<id>/`` and published by
        pointing ``uploads/<stem>.current`` at it; ``uploads/<file name>`` are links through
        it. Writes of one scenario are serialised (its write lock), and every one is counted.

        Parameters
        ----------
        name, kind
            Scenario and layer kind.
        files
            File name (the layer first, ``<stem>.gpkg``) to a function writing that file.
        file
            Name of the uploaded file, for the record.
        counts
            The validation's counts, for the record.
        if_match
            The version the client last saw: when the layer has moved on since, nothing is
            published and :class:`~hatangso.geo.errors.ConflictError` names what replaced it.
        by
            Who uploads (the client's address), for the record.
        apply
            Called under the scenario's write lock before the version is published (the
            upload's change set applied to the record): if it raises, nothing is published.
            Uploads of a scenario thus change its record and publish their files in one order.

        Returns
        -------
        tuple of LayerVersion
            The new version and the one it replaced (version 0: none).
        """
        stem = spec_for(kind).stem
        uploads = self.folder(name) / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        with self.job(name):
            generation = uploads / stem / storage.new_id()
            generation.mkdir(parents=True)
            try:
                for filename, write in files.items():
                    write(generation / filename)
                with self.writing(name):
                    old = self.layer_version(name, kind)
                    if if_match is not None and old.version != if_match:
                        raise ConflictError(_conflict(name, kind, old, if_match))
                    if apply is not None:
                        apply()
                    version = old.version + 1
                    at = datetime.now(UTC).isoformat(timespec="microseconds")
                    record: dict[str, Any] = {
                        "kind": kind,
                        "version": version,
                        "file": file,
                        "counts": dict(counts),
                        "at": at,
                        "by": by,
                        "replaced": old.replaced(),
                    }
                    write_json(record, generation / UPLOAD_METADATA)
                    storage.mark_published(generation)
                    previous = storage.switch(
                        uploads / f"{stem}.current", f"{stem}/{generation.name}"
                    )
                    for filename in files:
                        link = uploads / filename
                        if storage.read_link(link) != f"{stem}.current/{filename}":
                            storage.switch(link, f"{stem}.current/{filename}")
                    storage.prune(uploads / stem, keep=(generation.name, _base(previous)))
                    self.update_metadata(
                        name,
                        inputs={kind: f"uploads/{stem}.gpkg"},
                        uploads={kind: {k: v for k, v in record.items() if k != "kind"}},
                    )
            finally:
                if not (generation / storage.PUBLISHED).is_file():
                    shutil.rmtree(generation, ignore_errors=True)
                    with contextlib.suppress(OSError):  # a refused first upload leaves nothing
                        (uploads / stem).rmdir()
                        uploads.rmdir()
        new = LayerVersion(
            kind=kind,
            version=version,
            path=generation / f"{stem}.gpkg",
            file=file,
            at=at,
            by=by,
        )
        return new, old

    # ---- leftovers of killed jobs ----------------------------------------------------------

    def clean(self, name: str | None = None) -> list[Path]:
        """Remove what killed jobs left behind; return what was removed.

        Temporary files and folders (``.tmp-*``, ``.build-*``, ``.*.tmp*``), run and upload
        folders never published, and published ones older than the previous: the service
        calls it when it starts, and a run for its own scenario. A scenario with a live job
        (holding its job or write lock) is left alone, and so is a build in progress.

        Parameters
        ----------
        name
            Clean this scenario only; None cleans the whole workspace.
        """
        removed: list[Path] = []
        if name is None:
            # Uploads being received by a process that is gone (the service killed).
            removed += remove_orphans(self.root, UPLOAD_SCRATCH)
            for entry in sorted(self.root.glob(".build-*")):
                scenario = entry.name[len(".build-") :].rsplit(".", 1)[0]
                if not _NAME.match(scenario):
                    continue
                with storage.try_exclusive(self.root / ".locks" / f"{scenario}.build") as free:
                    if free:
                        storage.remove(entry)
                        removed.append(entry)
            names = [d.name for d in sorted(self.root.iterdir()) if _NAME.match(d.name)]
        else:
            names = [name]
        for scenario in names:
            if self.folder(scenario).is_dir():
                removed += self._clean_scenario(scenario)
        if removed:
            log.info("removed %d leftovers of interrupted jobs", len(removed))
        return removed

    def _clean_scenario(self, name: str) -> list[Path]:
        folder = self.folder(name)
        removed: list[Path] = []
        with (
            storage.try_exclusive(folder / JOBS_LOCK) as idle,
            storage.try_exclusive(folder / WRITE_LOCK) as quiet,
        ):
            if not (idle and quiet):
                return removed
            current = storage.read_link(folder / CURRENT)
            places = [folder, folder / "uploads", folder / ASOF]
            if current is not None:
                places += [folder / current / part for part in _DERIVED]
                places.append(folder / current / "cache" / "pages")
            for place in places:
                with contextlib.suppress(FileNotFoundError):
                    for entry in place.iterdir():
                        if _is_leftover(entry):
                            storage.remove(entry)
                            removed.append(entry)
            removed += storage.prune(
                folder / RUNS, keep=_newest(folder / RUNS, current), published_only=False
            )
            removed += self._prune_asof(name, keep=ASOF_RUNS)
            uploads = folder / "uploads"
            for kind in LAYER_KINDS:
                stem = spec_for(kind).stem
                if (uploads / stem).is_dir():
                    target = storage.read_link(uploads / f"{stem}.current")
                    removed += storage.prune(
                        uploads / stem, keep=_newest(uploads / stem, target), published_only=False
                    )
        return removed

    # ---- cached reads ----------------------------------------------------------------------

    def _cached(self, key: tuple[str, str], signature: Any, load: Callable[[], Any]) -> Any:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == signature:
                self._cache.move_to_end(key)
                return hit[1]
        value = load()
        with self._lock:
            self._cache[key] = (signature, value)
            self._cache.move_to_end(key)
            while len(self._cache) > self._max_cached:
                self._cache.popitem(last=False)
        return value

    def memo(self, name: str, what: str, key: Any, load: Callable[[], Any]) -> Any:
        """Return ``load()``, recomputed only when `key` changes (a record's version)."""
        return self._cached((name, what), key, load)

    def peek(self, name: str, what: str, paths: tuple[Path, ...]) -> Any:
        """Return what :meth:`cached` keeps for `what` if `paths` are unchanged, else None."""
        with self._lock:
            hit = self._cache.get((name, what))
        if hit is not None and hit[0] == signature(*paths):
            return hit[1]
        return None

    def cached(self, name: str, what: str, paths: tuple[Path, ...], load: Callable[[], Any]) -> Any:
        """Return ``load()``, recomputed only when one of `paths` changed on disk."""
        return self._cached((name, what), signature(*paths), load)

    def cached_as(self, name: str, what: str, key: Any, load: Callable[[], Any]) -> Any:
        """Return ``load()``, recomputed only when `key` changed (a store's version, say)."""
        return self._cached((name, what), key, load)

    def kpis(self, name: str, *, run: Path | None = None) -> dict[str, Any]:
        """Return the scenario's ``kpis.json`` document (of `run`, default the published one)."""
        path = (run or self.results(name)) / "kpis.json"
        document: dict[str, Any] = self.cached(
            name, "kpis", (path,), lambda: json.loads(path.read_text(encoding="utf-8"))
        )
        return document

    def kpis_text(self, name: str, *, run: Path | None = None) -> bytes:
        """Return the scenario's ``kpis.json`` as compact UTF-8 JSON."""
        path = (run or self.results(name)) / "kpis.json"
        text: bytes = self.cached(
            name,
            "kpis-text" if run is None else f"kpis-text:{run}",
            (path,),
            lambda: json.dumps(
                json.loads(path.read_text(encoding="utf-8")),
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode("utf-8"),
        )
        return text

    def villages(self, name: str, *, run: Path | None = None) -> VillageIndex:
        """Return the scenario's assessed villages, prepared for paging."""
        path = (run or self.results(name)) / "villages.gpkg"

        def load() -> VillageIndex:
            frame = gpd.read_file(path, layer="villages", engine="pyogrio")
            return prepare_villages(frame)

        what = "villages" if run is None else f"villages:{run}"
        index: VillageIndex = self.cached(name, what, (path,), load)
        return index

    def towers(self, name: str, *, run: Path | None = None) -> gpd.GeoDataFrame | None:
        """Return the scenario's tower locations, or None when it has none."""
        path = (run or self.results(name)) / "towers.geojson"
        if not path.is_file():
            return None
        frame: gpd.GeoDataFrame = self.cached(
            name,
            "towers" if run is None else f"towers:{run}",
            (path,),
            lambda: gpd.read_file(path, engine="pyogrio"),
        )
        return frame

    def layer_path(self, name: str, kind: str) -> Path | None:
        """Return the file of input layer `kind`: the upload, else the one the metadata names.

        The path is that of the published version, which never changes: a job that read it
        keeps reading the same data while a new version is uploaded.
        """
        return self.layer_version(name, kind).path

    def published(self, name: str, kinds: Sequence[str]) -> tuple[object, ...]:
        """Return what changes whenever scenario `name` publishes a run, an upload or metadata.

        That is: the targets of its ``current`` links (the run's and those of the layers
        `kinds`) and the identity of its ``scenario.json``. A few stats and link reads, no
        JSON: a reader that resolved the run, the layers and the metadata once can keep what
        it found while this stays the same. Every run and upload is a new folder behind a new
        link target, and ``scenario.json`` is replaced, not rewritten in place (a new inode),
        whenever it changes.
        """
        folder = self.folder(name)
        uploads = folder / "uploads"
        try:
            meta = (folder / METADATA).stat()
            scenario: tuple[int, int, int] | None = (meta.st_ino, meta.st_mtime_ns, meta.st_size)
        except FileNotFoundError:
            scenario = None
        links = tuple(
            (
                storage.read_link(uploads / f"{spec_for(kind).stem}.current"),
                os.path.lexists(uploads / f"{spec_for(kind).stem}.gpkg"),
            )
            for kind in kinds
        )
        return (storage.read_link(folder / CURRENT), scenario, links)

    def layer(self, name: str, kind: str) -> gpd.GeoDataFrame | None:
        """Return input layer `kind` of the scenario, validated, or None when it has none."""
        path = self.layer_path(name, kind)
        if path is None:
            return None

        def load() -> gpd.GeoDataFrame:
            from hatangso.geo.validate import load_layer

            frame = load_layer(path, kind).frame
            assert isinstance(frame, gpd.GeoDataFrame)
            return frame

        frame: gpd.GeoDataFrame = self.cached(name, f"layer:{kind}", (path,), load)
        return frame

    @contextmanager
    def scratch(self, name: str) -> Iterator[Path]:
        """Yield a temporary folder inside the scenario's folder, removed afterwards.

        The scenario's job lock is held meanwhile, so that no cleaner removes it.
        """
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        with self.job(name):
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
            try:
                yield tmp
            finally:
                shutil.rmtree(tmp, ignore_errors=True)


#: The PostgreSQL schema of the workspace's own store (its users). Not the database's default
#: schema: each scenario's schema is searched before ``public`` (for PostGIS's functions), so
#: a store in ``public`` would be taken for the scenario's own by its migrations.
USERS_SCHEMA = "hatangso_users"


def _kinds_held(record: SqlStore) -> set[str]:
    """Return the input kinds `record` has a change of (workflow rows, challenges, aside)."""
    if not record.version:
        return set()
    return {str(c["kind"]) for c in record.changes_since(0) if not spec_for(c["kind"]).workflow}


def record_schema(name: str) -> str:
    """Return the PostgreSQL schema that holds the record of scenario `name`.

    >>> record_schema("ca-mau")
    'record_ca_mau'
    """
    from hatangso.scenarios.record import record_schema as schema_of

    return schema_of(name)


def _workspace(root: Path, database_url: str | None) -> Workspace:
    return Workspace(root, database_url=database_url)


def _base(target: str | None) -> str | None:
    return None if target is None else Path(target).name


def _newest(folder: Path, current: str | None) -> tuple[str | None, str | None]:
    """Return the generations a cleaner keeps: the current one and the newest published other."""
    name = _base(current)
    with contextlib.suppress(FileNotFoundError):
        published = sorted(
            g.name for g in folder.iterdir() if g.name != name and (g / storage.PUBLISHED).is_file()
        )
        return name, published[-1] if published else None
    return name, None


def _link_or_copy(source: str, destination: str) -> str:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
    return destination


def _conflict(name: str, kind: str, now: LayerVersion, expected: int) -> str:
    who = f" by {now.by}" if now.by else ""
    what = f" ({now.file}, uploaded {now.at}{who})" if now.file else ""
    return (
        f"{kind} of scenario '{name}' is at version {now.version}{what}, not {expected}: "
        f"it was replaced after you read it, so your upload was not applied. Fix: fetch the "
        f"layer again, check the change, and upload with If-Match: {now.version}"
    )
