"""The service's workspace: one folder per scenario, written atomically, read through caches.

A scenario is a folder ``<workspace>/<name>/`` holding what
:func:`hatangso.scenarios.job.run_coverage` writes (``kpis.json``, ``villages.gpkg``,
``towers.geojson``, ``map.html``, ``rejects.csv``) and ``scenario.json``, the service's own
metadata (title, where its input layers are). Uploaded layers live in ``uploads/<kind>.gpkg``.

Every file is written with :func:`hatangso.geo.outputs.atomic_write` (beside its destination,
then moved over it), so a crash mid-write leaves the previous file whole. Scenario names are
checked against :data:`NAME_PATTERN` before they become paths, and every path is checked to
stay inside the workspace.

Scenarios that the service can build by itself (the demo province and the shipped scenario
files, :func:`shipped_plans`) are declared with :func:`register_scenario` and built on first use.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
import yaml

from hatangso.geo.errors import InputError, Problem
from hatangso.geo.outputs import json_ready, write_json
from hatangso.geo.progress import Progress
from hatangso.geo.schema import LAYER_KINDS, spec_for
from hatangso.scenarios.maps import INDICATOR_COLUMN

__all__ = [
    "NAME_PATTERN",
    "ScenarioInfo",
    "VillageIndex",
    "Workspace",
    "demo_metadata",
    "feature_collection",
    "register_scenario",
    "registered_scenarios",
    "serialise_features",
    "shipped_plans",
]

log = logging.getLogger(__name__)

#: A scenario name: lower-case letters, digits, ``-`` and ``_``, starting with a letter or digit.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)

METADATA = "scenario.json"
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
        "inputs": {kind: f"data/{spec_for(kind).stem}.gpkg" for kind in LAYER_KINDS},
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
            "source": "scenario",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "inputs": inputs,
        }
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

        `basis` keeps villages whose mobile answer rests on ``measured``, ``predicted`` or
        ``declared``; `disputed` keeps the villages where those bases disagree (or agree).
        A run without samples or declarations has neither column: nothing matches them.
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


def _signature(*paths: Path) -> tuple[tuple[str, int, int], ...]:
    out = []
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            out.append((str(path), -1, -1))
        else:
            out.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(out)


class Workspace:
    """The scenarios of one workspace folder.

    Parameters
    ----------
    root
        The workspace folder (created when missing).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._build_locks: dict[str, threading.Lock] = {}
        self._cache: dict[tuple[str, str], tuple[Any, Any]] = {}

    # ---- names and paths -------------------------------------------------------------------

    def folder(self, name: str) -> Path:
        """Return the folder of scenario `name`, refusing names that are not plain."""
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

    def exists(self, name: str) -> bool:
        """Whether scenario `name` has results (a ``kpis.json``)."""
        return (self.folder(name) / "kpis.json").is_file()

    # ---- metadata --------------------------------------------------------------------------

    def metadata(self, name: str) -> dict[str, Any]:
        """Return ``scenario.json`` of `name` (an empty document when absent)."""
        path = self.folder(name) / METADATA
        if not path.is_file():
            return {}
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return document

    def update_metadata(self, name: str, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into ``scenario.json`` atomically and return the new document."""
        with self._lock:
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
            ready = (folder / "kpis.json").is_file()
            if not ready and not (folder / "uploads").is_dir():
                continue
            found[folder.name] = ScenarioInfo(
                name=folder.name,
                title=str(
                    meta.get("title") or registered_scenarios().get(folder.name) or folder.name
                ),
                ready=ready,
                source=str(meta.get("source", "uploads")),
                villages=meta.get("villages"),
                updated=meta.get("updated") or meta.get("created"),
            )
        for name, title in registered_scenarios().items():
            if name not in found:
                found[name] = ScenarioInfo(name=name, title=title, ready=False, source="built-in")
        return [found[name] for name in sorted(found)]

    def ensure(self, name: str, *, build: bool = True, progress: Progress | None = None) -> bool:
        """Build registered scenario `name` if it has no results; return whether it has them.

        The scenario is built in a temporary folder of the workspace and moved into place, so a
        crash while building leaves no half-built scenario. `progress` is told the build's
        steps (when its builder reports them).
        """
        folder = self.folder(name)
        if self.exists(name):
            return True
        entry = _REGISTRY.get(name)
        if entry is None or not build:
            return False
        with self._lock:
            lock = self._build_locks.setdefault(name, threading.Lock())
        with lock:
            if self.exists(name):
                return True
            log.info("building scenario %s in %s", name, folder)
            tmp = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=self.root))
            try:
                if entry.reports_progress:
                    entry.build(tmp, progress=progress)
                else:
                    entry.build(tmp)
                if folder.exists():  # an empty or failed folder: replace it
                    shutil.rmtree(folder)
                os.replace(tmp, folder)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        return self.exists(name)

    # ---- cached reads ----------------------------------------------------------------------

    def _cached(self, key: tuple[str, str], signature: Any, load: Callable[[], Any]) -> Any:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == signature:
                return hit[1]
        value = load()
        with self._lock:
            self._cache[key] = (signature, value)
        return value

    def cached(self, name: str, what: str, paths: tuple[Path, ...], load: Callable[[], Any]) -> Any:
        """Return ``load()``, recomputed only when one of `paths` changed on disk."""
        return self._cached((name, what), _signature(*paths), load)

    def kpis(self, name: str) -> dict[str, Any]:
        """Return the scenario's ``kpis.json`` document."""
        path = self.folder(name) / "kpis.json"
        document: dict[str, Any] = self.cached(
            name, "kpis", (path,), lambda: json.loads(path.read_text(encoding="utf-8"))
        )
        return document

    def kpis_text(self, name: str) -> bytes:
        """Return the scenario's ``kpis.json`` as compact UTF-8 JSON."""
        path = self.folder(name) / "kpis.json"
        text: bytes = self.cached(
            name,
            "kpis-text",
            (path,),
            lambda: json.dumps(
                json.loads(path.read_text(encoding="utf-8")),
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode("utf-8"),
        )
        return text

    def villages(self, name: str) -> VillageIndex:
        """Return the scenario's assessed villages, prepared for paging."""
        path = self.folder(name) / "villages.gpkg"

        def load() -> VillageIndex:
            frame = gpd.read_file(path, layer="villages", engine="pyogrio")
            return prepare_villages(frame)

        index: VillageIndex = self.cached(name, "villages", (path,), load)
        return index

    def towers(self, name: str) -> gpd.GeoDataFrame | None:
        """Return the scenario's tower locations, or None when it has none."""
        path = self.folder(name) / "towers.geojson"
        if not path.is_file():
            return None
        frame: gpd.GeoDataFrame = self.cached(
            name, "towers", (path,), lambda: gpd.read_file(path, engine="pyogrio")
        )
        return frame

    def layer_path(self, name: str, kind: str) -> Path | None:
        """Return the file of input layer `kind`: the upload, else the one the metadata names."""
        upload = self.folder(name) / "uploads" / f"{spec_for(kind).stem}.gpkg"
        if upload.is_file():
            return upload
        relative = self.metadata(name).get("inputs", {}).get(kind)
        if relative:
            path = self.file(name, str(relative))
            if path.is_file():
                return path
        return None

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
        """Yield a temporary folder inside the scenario's folder, removed afterwards."""
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
