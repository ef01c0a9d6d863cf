"""``hatangso run``: a scenario's baseline and each year with its deployments, against targets.

Every run (the baseline and each year) goes through :func:`hatangso.scenarios.job.run_coverage`,
so its figures are those ``hatangso coverage`` gives on the same files. A year's layers are the
base layer plus the deployments of that year and every earlier one (cumulative), combined into
GeoPackages in ``DIR/<year>/inputs/``.

Scenarios with a ``generated:`` section have no real data: the data are generated on first run
into ``DIR/data`` (or the ``--data-root`` given) and reused afterwards, and so are their
deployments (see :func:`place_deployments`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from rich.console import Console
from rich.table import Table

from hatangso.coverage.engine import CoverageInputs, assess
from hatangso.coverage.kpis import INDICATORS
from hatangso.coverage.speed import speed_target_mbps
from hatangso.coverage.villages import village_points
from hatangso.geo.crs import metric_crs
from hatangso.geo.errors import InputError, Problem
from hatangso.geo.limits import WorkLimits
from hatangso.geo.outputs import write_json, write_layer, write_text
from hatangso.geo.progress import Progress, silent
from hatangso.geo.schema import spec_for
from hatangso.geo.validate import load_layer
from hatangso.scenarios.job import InputFiles, JobResult, load_inputs, run_coverage
from hatangso.scenarios.record import RecordInputs, as_of_text
from hatangso.scenarios.schema import (
    DATA_KINDS,
    DATA_STREAMS,
    DATA_TABLES,
    DEPLOYMENT_KINDS,
    Scenario,
    check_paths,
    data_root,
    load_scenario,
    resolve,
)

__all__ = [
    "Comparison",
    "Gap",
    "RunResult",
    "ScenarioResult",
    "compare_scenarios",
    "gaps",
    "place_deployments",
    "prepare_data",
    "run_scenario",
]

log = logging.getLogger(__name__)


_GENERATED_NOTE = "GENERATED.txt"
# Bumped whenever the generated data change, so that caches are generated again.
_GENERATOR_VERSION = 4


@dataclass(frozen=True)
class Gap:
    """How far one indicator is from its target.

    Attributes
    ----------
    code
        Indicator code.
    units
        How many more units (villages, tower locations, people ...) reach the target: the
        smallest integer ``k`` with ``(numerator + k) / denominator >= target``.
    basis
        What the units are (``villages``, ``people`` ...).
    people
        For village indicators: the people living in the villages still without it.
    villages_without
        For village indicators: how many villages are still without it.
    """

    code: str
    units: int
    basis: str
    people: float | None
    villages_without: int | None

    def message(self, target: float, *, lang: str = "en") -> str:
        """``'37 more villages to reach 100%'`` (and the people, where known), in `lang`.

        `lang` is ``en`` or ``vi`` (``'Cần thêm 37 thôn, tổ dân phố để đạt 100%'``).
        """
        if lang == "vi":
            basis = _BASIS_VI.get(self.basis, self.basis)
            text = f"Cần thêm {self.units:,} {basis} để đạt {target:.0%}"
            if self.people is not None and self.villages_without:
                text += (
                    f" ({self.people:,.0f} người sống ở {self.villages_without:,} thôn, "
                    "tổ dân phố còn thiếu)"
                )
            return text
        text = f"{self.units:,} more {self.basis} to reach {target:.0%}"
        if self.people is not None and self.villages_without:
            text += f" ({self.people:,.0f} people live in the {self.villages_without:,} without it)"
        return text

    def as_dict(self, target: float, *, lang: str = "vi") -> dict[str, Any]:
        """JSON form: ``message`` in `lang` (``both``: Vietnamese), ``message_en`` in English."""
        return {
            "code": self.code,
            "units": self.units,
            "basis": self.basis,
            "people": self.people,
            "villages_without": self.villages_without,
            "message": self.message(target, lang="en" if lang == "en" else "vi"),
            "message_en": self.message(target, lang="en"),
        }


#: Vietnamese for the units a gap counts (`Indicator.basis`).
_BASIS_VI = {
    "villages": "thôn, tổ dân phố",
    "people": "người",
    "households": "hộ gia đình",
    "commune offices": "trụ sở xã",
    "key areas": "khu vực trọng điểm",
    "IoT zones": "khu công nghiệp, vùng sản xuất",
    "metres of duct": "mét cống bể",
    "poles": "cột treo cáp",
    "sites": "trạm BTS",
    "tower locations": "vị trí trạm",
    "commitments": "cam kết",
    "communes": "xã",
}


_VILLAGE_FLAGS = {
    "village_mobile_coverage": "covered_mobile",
    "village_5g_coverage": "covered_5g",
    "village_ftth_coverage": "covered_ftth",
}


def gaps(kpis: Mapping[str, Any], villages: pd.DataFrame | None = None) -> list[Gap]:
    """Measure the gap to target of every indicator of `kpis` that has a target and misses it.

    Parameters
    ----------
    kpis
        A ``kpis.json`` document.
    villages
        The assessed villages (``covered_*`` flags, ``population``), for the people.

    Notes
    -----
    With numerator ``n``, denominator ``d`` and target ``t``, the units still needed are
    ``ceil(t d - n)`` (a 1e-9 tolerance absorbs rounding): 1,263 of 1,300 villages against a
    target of 100 % leave ``ceil(1300 - 1263) = 37``.
    """
    out: list[Gap] = []
    for ind in kpis["indicators"]:
        target, met = ind.get("target"), ind.get("met")
        if target is None or met is None or met:
            continue
        units = max(math.ceil(target * ind["denominator"] - ind["numerator"] - 1e-9), 0)
        people: float | None = None
        without: int | None = None
        flag = _VILLAGE_FLAGS.get(ind["code"])
        if villages is not None and flag is not None and flag in villages:
            lacking = ~villages[flag].fillna(False).to_numpy(dtype=bool)
            without = int(lacking.sum())
            if "population" in villages:
                people = float(np.nansum(villages["population"].to_numpy(dtype=float)[lacking]))
        out.append(Gap(ind["code"], units, INDICATORS[ind["code"]].basis, people, without))
    return out


@dataclass(frozen=True)
class RunResult:
    """One run of a scenario: the baseline (``year`` None) or one year."""

    year: int | None
    out_dir: Path
    kpis: dict[str, Any]
    gaps: tuple[Gap, ...]
    job: JobResult


@dataclass(frozen=True)
class ScenarioResult:
    """A finished scenario run.

    Attributes
    ----------
    scenario
        The parsed scenario.
    out_dir
        Where the baseline's outputs are; each year's are in ``out_dir/<year>``.
    baseline
        The run on the base data.
    years
        One run per year, in order, with the deployments up to that year.
    report
        The report files (``report.xlsx``, ``report.html``, ``summary.json``).
    """

    scenario: Scenario
    out_dir: Path
    baseline: RunResult
    years: tuple[RunResult, ...]
    report: Mapping[str, Path]

    def kpis_by_year(self) -> dict[int, dict[str, Any]]:
        """Return the KPI documents of each year."""
        return {run.year: run.kpis for run in self.years if run.year is not None}


def _root_for(scenario: Scenario, path: Path, out_dir: Path, override: Path | None = None) -> Path:
    """Where the scenario's data paths are relative to (`override`: ``--data-root``)."""
    if scenario.generated is not None and override is None:
        return out_dir / "data"
    return data_root(scenario, path.parent, override=override)


def _generation_key(scenario: Scenario) -> dict[str, Any]:
    assert scenario.generated is not None
    return {
        "generator": _GENERATOR_VERSION,
        "generated": scenario.generated.model_dump(mode="json"),
        "scope": scenario.scope.model_dump(mode="json"),
        "model": scenario.model,
    }


def prepare_data(
    scenario: Scenario,
    root: Path,
    *,
    progress: Progress | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """Generate a scenario's data into `root` if it is generated and not there yet.

    A file ``generated.json`` records what was generated; data generated with other settings
    are generated again. Real data (no ``generated:`` section) are left alone.

    `cache_dir` keeps the terrain model's per-site results (see :func:`run_scenario`).

    Returns
    -------
    Path
        `root`.
    """
    spec = scenario.generated
    if spec is None:
        return root
    key = _generation_key(scenario)
    stamp = root / "generated.json"
    if stamp.exists() and json.loads(stamp.read_text(encoding="utf-8")) == key:
        return root
    step = progress or (lambda _name: None)
    step(f"generating the data of {scenario.name} (first run)")
    root.mkdir(parents=True, exist_ok=True)
    if spec.kind == "demo":
        from hatangso.geo.demo import generate_demo

        generate_demo(root, seed=spec.seed, n_villages=spec.n_villages, progress=progress)
    else:
        from hatangso.geo.demo import generate_place

        assert spec.centre_lonlat is not None
        generate_place(
            root,
            province=scenario.scope.province,
            centre_lonlat=spec.centre_lonlat,
            seed=spec.seed,
            n_villages=spec.n_villages,
            keep_villages=spec.keep_villages,
            district=scenario.scope.district,
            commune=scenario.scope.commune,
        )
    step("placing the generated deployments")
    place_deployments(scenario, root, cache_dir=cache_dir)
    write_text(
        f"These files are GENERATED (synthetic), not real infrastructure data.\n"
        f"Scenario: {scenario.name} — {scenario.title}\n"
        f"Generator: hatangso.geo.demo ({spec.kind}, seed {spec.seed}, "
        f"{spec.n_villages} villages).\n"
        "deployments/: new sites in the villages the base data leave without\n"
        "mobile broadband, new access points in those without fiber.\n"
        "To use real data, point the scenario's 'data:' and 'deployments:' at real files and\n"
        "remove its 'generated:' section.\n",
        root / _GENERATED_NOTE,
    )
    write_json(key, stamp)
    return root


def place_deployments(
    scenario: Scenario, root: Path, *, cache_dir: Path | None = None
) -> dict[str, Path]:
    """Place the generated deployments of a generated scenario, from its base data in `root`.

    The base data are assessed once with the scenario's model (and its roads and DEM, if
    any); then ``deployments/new_sites.gpkg`` holds one 4G site (30 m, rural, of
    ``generated.sites_operator``) in each village without mobile broadband, and
    ``deployments/new_access_points.gpkg`` one access point (of ``generated.fiber_operator``)
    in each village without fiber. A site stands at the point the coverage rule tests (the
    village centre for rule ``official``, else the point on its surface); an access point at
    the point fiber reach is measured from under every rule (the village centre, else the point
    on its surface); with roads, the access point stands at the nearest point of the road
    network instead, as a street cabinet would (a village farther than ``ftth.max_distance_m``
    from every road stays without fiber).
    This is the simplest placement that reaches the targets: one new site per village, not
    an optimised plan (``hatangso plan`` optimises).

    Returns
    -------
    dict
        ``{"sites": path, "access_points": path}`` of the files written.
    """
    spec = scenario.generated
    assert spec is not None
    data = scenario.data
    files = InputFiles(
        villages=root / data.villages,
        sites=None if data.sites is None else root / data.sites,
        access_points=None if data.access_points is None else root / data.access_points,
    )
    layers = load_inputs(files)
    frames = {name: layer.frame for name, layer in layers.items()}
    result = assess(
        CoverageInputs(
            villages=frames["villages"],
            sites=frames.get("sites"),
            access_points=frames.get("access_points"),
            roads=None if data.roads is None else root / data.roads,
            dem=None if data.dem is None else root / data.dem,
        ),
        scenario.config(),
        cache_dir=cache_dir,
    )
    villages = result.villages
    # The points the engine tests, so that a new site or cabinet there counts: for a site the
    # rule's (the centre for "official", else the point on the village's surface); for a
    # cabinet the centre under every rule (the point on the surface where none is given).
    points = village_points(villages, pyproj.CRS.from_epsg(4326))
    xy = (
        points.centre_xy
        if scenario.config().mobile.rule == "official"
        else points.representative_xy
    )
    cxy = points.centre_xy
    places = {"sites": (xy[:, 0], xy[:, 1]), "access_points": (cxy[:, 0], cxy[:, 1])}
    if data.roads is not None:
        places["access_points"] = _on_roads(root / data.roads, cxy[:, 0], cxy[:, 1])
    folder = root / "deployments"
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for kind, flag, operator, prefix in (
        ("sites", "covered_mobile", spec.sites_operator, "NEW-BTS"),
        ("access_points", "covered_ftth", spec.fiber_operator, "NEW-AP"),
    ):
        lacking = ~villages[flag].fillna(False).to_numpy(dtype=bool)
        ids = [f"{prefix}-{i + 1:04d}" for i in range(int(lacking.sum()))]
        table: dict[str, Any] = {str(spec_for(kind).id_column): ids, "operator": operator}
        if kind == "sites":
            table.update(tech="4G", height_m=30.0, env="rural")
        else:
            table.update(kind="cabinet")
        table["village_id"] = villages["village_id"].to_numpy(dtype=object)[lacking]
        px, py = places[kind]
        frame = gpd.GeoDataFrame(
            table, geometry=gpd.points_from_xy(px[lacking], py[lacking]), crs="EPSG:4326"
        )
        written[kind] = write_layer(frame, folder / f"new_{kind}.gpkg", layer=f"new_{kind}")
    return written


def _on_roads(
    roads: Path, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Snap each (lon, lat) to the nearest point of the roads, where a cabinet would stand."""
    from hatangso.coverage.network import load_roads

    crs = metric_crs((float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())))
    network = load_roads(roads, to_crs=crs)
    forward = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    x, y = forward.transform(lon, lat)
    points = shapely.points(np.column_stack([x, y]))
    (which, edge), _ = network.edge_tree.query_nearest(
        points, all_matches=False, return_distance=True
    )
    nearest = np.empty(len(points), dtype=np.intp)
    nearest[which] = edge
    lines = network.edge_geometry[nearest]
    snapped = shapely.line_interpolate_point(lines, shapely.line_locate_point(lines, points))
    back = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    slon, slat = back.transform(shapely.get_x(snapped), shapely.get_y(snapped))
    return np.asarray(slon, dtype=float), np.asarray(slat, dtype=float)


def _layer_files(scenario: Scenario, root: Path) -> dict[str, Path | None]:
    data = scenario.data
    return {
        kind: None if getattr(data, kind) is None else resolve(scenario, root, getattr(data, kind))
        for kind in (*DATA_KINDS, *DATA_TABLES, *DATA_STREAMS)
    }


def combine_layer(
    scenario: Scenario,
    kind: str,
    base: Path | None,
    additions: list[Path],
    out_path: Path,
) -> Path:
    """Write the base layer plus every addition as one GeoPackage (validated, EPSG:4326).

    Raises
    ------
    InputError
        An addition repeats an id of the base layer or of another addition.
    """
    label = spec_for(kind).kind
    columns = dict(scenario.data.columns.get(label, {}))
    sources = ([base] if base is not None else []) + additions
    frames = []
    for path in sources:
        layer = load_layer(path, label, crs=scenario.data.crs, columns=columns)
        if layer.rejected:
            log.warning("%s: %d rows rejected (see its validation)", path.name, layer.rejected)
        frames.append(layer.frame.assign(_source=path.name))
    combined = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    id_column = spec_for(kind).id_column
    if id_column is not None:
        repeated = combined[combined[id_column].duplicated(keep=False)]
        if len(repeated):
            first = repeated.groupby(id_column)["_source"].agg(
                lambda s: " and ".join(sorted(set(s)))
            )
            problems = [
                Problem(
                    file=str(files),
                    column=id_column,
                    message=f"{id_column} '{ident}' appears more than once",
                    fix="give the new infrastructure ids of its own",
                )
                for ident, files in first.head(20).items()
            ]
            raise InputError(problems)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    return write_layer(combined.drop(columns="_source"), out_path, layer=kind)


def _statistics_doc(scenario: Scenario, year: int | None) -> list[dict[str, Any]]:
    return [
        {
            "code": s.code,
            "label_vi": s.label_vi,
            "label_en": s.label_en,
            "unit": s.unit,
            "baseline": s.baseline,
            "target": None if year is None else s.targets.get(year),
            "achieved": None if year is None else s.achieved.get(year),
            "met": None if year is None else s.met(year),
            "source": "entered",
        }
        for s in scenario.statistics
    ]


def _extra(scenario: Scenario, year: int | None) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "title": scenario.title,
        "year": year,
        "generated_data": scenario.generated is not None,
        "baseline": {
            "label": scenario.baseline.label,
            "values": {c: v / 100.0 for c, v in scenario.baseline.values.items()},
        },
        "statistics": _statistics_doc(scenario, year),
    }


def _within(progress: Progress, run: str) -> Progress:
    """Return a progress callback that names the steps it is told after `run`."""

    def report(step: str, /, *, done: int | None = None, total: int | None = None) -> None:
        progress(f"{run}: {step}", done=done, total=total)

    return report


def _one_run(
    scenario: Scenario,
    files: InputFiles,
    year: int | None,
    out_dir: Path,
    progress: Progress | None,
    cache_dir: Path,
    lang: str = "vi",
    units: str | None = None,
    challenges: pd.DataFrame | None = None,
    recorded: Mapping[str, Any] | None = None,
) -> RunResult:
    job = run_coverage(
        files,
        scenario.config_for(year),
        out_dir,
        progress=progress,
        title=f"{scenario.title} — {'hiện trạng' if year is None else year}",
        extra={**_extra(scenario, year), **(recorded or {})},
        cache_dir=cache_dir,
        lang=lang,
        units=units,
        # A year's commitments are judged at its end; the baseline's today.
        report_date=None if year is None else date(year, 12, 31),
        challenges=challenges,
        speed_target_mbps=speed_target_mbps(scenario.statistics, year),
        speed_target_5g_mbps=speed_target_mbps(scenario.statistics, year, tech="5G"),
    )
    found = gaps(job.kpis, job.assessment.villages)
    targets = {ind["code"]: ind["target"] for ind in job.kpis["indicators"]}
    kpis = {**job.kpis, "gaps": [g.as_dict(targets[g.code], lang=lang) for g in found]}
    write_json(kpis, out_dir / "kpis.json")
    return RunResult(year=year, out_dir=out_dir, kpis=kpis, gaps=tuple(found), job=job)


def _recorded_challenges(out_dir: Path) -> pd.DataFrame | None:
    """Return the challenges of the scenario's record (``out_dir/record.gpkg``), if it has one.

    They are the present's: the baseline puts its villages on the decided ones; the years,
    with their new sites, are assessed afresh.
    """
    from hatangso.geo.store import open_store, store_url
    from hatangso.scenarios.challenges import read_challenges

    if not Path(store_url(out_dir).removeprefix("sqlite:///")).is_file():
        return None
    with open_store(out_dir) as store:
        return read_challenges(store)


def run_scenario(
    path: Path,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    console: Console | None = None,
    lang: str = "vi",
    data_dir: Path | None = None,
    limits: WorkLimits | None = None,
    units: str | None = None,
    masts: Path | None = None,
    commitments: Path | None = None,
    record: str | Path | None = None,
    as_of: date | str | None = None,
    samples: Path | None = None,
) -> ScenarioResult:
    """Run a scenario: the baseline in `out_dir`, each year in ``out_dir/<year>``, the report.

    When `out_dir` keeps a record (``record.gpkg``, as a scenario of the service's workspace
    does), its challenges enter the baseline: the decided ones set their villages' answers,
    and the report lists them.

    Parameters
    ----------
    path
        The scenario YAML file.
    out_dir
        Output folder. Generated data go to ``out_dir/data`` unless `data_dir` is given.
    progress
        Told each step as it starts (:class:`~hatangso.geo.progress.Progress`); the steps of
        each run are named after it (``<scenario>: <year>: reading villages``).
    console
        Where to print the yearly summary; None prints nothing.
    lang
        Language of the reports, ``kpis.json``'s definitions and gap messages, and the
        summary: ``vi`` (the default), ``en`` or ``both`` (Vietnamese, then English).
    data_dir
        The folder the scenario's data paths are relative to (``hatangso run --data-root``);
        the scenario file's folder when None. A scenario file cannot set it.
    limits
        The limits on the work the scenario's model may ask for (the defaults when None).
    units
        The admin hierarchy of each ``kpis.json``'s ``by_unit``: ``old`` (before 1 July
        2025), ``new`` (after), or None for the villages' units as written (see
        :func:`hatangso.scenarios.job.run_coverage`).
    masts, commitments
        A mast registry and operators' commitments used instead of those the scenario names
        (``hatangso run --masts --commitments``).
    record
        The province's record (``hatangso run --record``: a ``record.gpkg`` or a
        ``postgresql://`` URL, whose schema is the scenario's as the service names it): the
        kinds it has rows of replace the scenario's data files.
    as_of
        With `record`: the record as it stood at the end of that day (``YYYY-MM-DD``), so
        that the report of a past year is made again as it stood on 31 December; None: the
        record now. Each ``kpis.json`` says its ``as_of`` and ``record_version``.
    samples
        Measurement samples used instead of those the scenario names (``data: samples``,
        ``hatangso run --samples``). The baseline takes them all, each year those taken up
        to its 31 December (:mod:`hatangso.scenarios.yearly_samples`), so that its
        ``commune_4g_speed`` and ``commune_5g_speed`` are held to that year's targets.

    Returns
    -------
    ScenarioResult

    Raises
    ------
    InputError
        The scenario file or one of its data files has faults (each named with the fix),
        or `as_of` is given without `record`.
    NotFoundError
        The record had no change by the end of `as_of`.
    """
    from hatangso.scenarios.report import write_reports

    if as_of is not None and record is None:
        raise InputError(
            Problem(
                file="--as-of",
                message="a day of the record was asked, but no record given",
                fix="give the record with --record record.gpkg (or a postgresql:// URL)",
            )
        )
    path, out_dir = Path(path), Path(out_dir)
    scenario = load_scenario(path, check_files=False, root=data_dir, limits=limits)
    root = _root_for(scenario, path, out_dir, data_dir)
    # One cache of per-site terrain results for every run: a year recomputes only its new sites.
    cache_dir = out_dir / ".cache"
    prepare_data(scenario, root, progress=progress, cache_dir=cache_dir)
    layers = _layer_files(scenario, root)
    for kind, given in (("masts", masts), ("commitments", commitments), ("samples", samples)):
        if given is not None:
            layers[kind] = Path(given)
    columns = dict(scenario.data.columns)
    recorded: dict[str, Any] = {}
    if record is not None:
        taken = _record_layers(scenario, record, as_of, out_dir / "record", progress)
        for kind, file in taken.paths.items():
            layers[spec_for(kind).stem] = file
            columns.pop(kind, None)  # the record's columns are the contract's already
        recorded = {"as_of": taken.as_of, "record_version": taken.version}
    # The scenario's files the record replaces need not exist.
    check_paths(scenario, root, source=path.name, check_files=record is None)
    base_files = InputFiles(
        **layers,  # type: ignore[arg-type]
        crs=scenario.data.crs,
        columns=columns,
    )
    step = progress or silent
    first = _within(step, f"{scenario.name}: baseline")
    baseline = _one_run(
        scenario,
        base_files,
        None,
        out_dir,
        first,
        cache_dir,
        lang,
        units,
        _recorded_challenges(out_dir),
        recorded=recorded,
    )
    runs: list[RunResult] = []
    for year in sorted(scenario.years):
        year_dir = out_dir / str(year)
        within = _within(step, f"{scenario.name}: {year}")
        within("combining the year's deployments")
        changed: dict[str, Path | None] = {}
        for kind in DEPLOYMENT_KINDS:
            additions = [
                resolve(scenario, root, value)
                for y, deployment in sorted(scenario.deployments.items())
                if y <= year
                for value in deployment.files(kind)
            ]
            if additions:
                changed[kind] = combine_layer(
                    scenario, kind, layers[kind], additions, year_dir / "inputs" / f"{kind}.gpkg"
                )
        off = scenario.switched_off(year)
        sites_path = changed.get("sites", layers["sites"])
        if off and sites_path is not None:
            from hatangso.scenarios.switchoff import switch_off_sites

            within(f"switching off {', '.join(off)}")
            changed["sites"] = switch_off_sites(
                sites_path,
                off,
                year_dir / "inputs" / "sites_after_switch_off.gpkg",
                crs=scenario.data.crs,
                columns=columns.get("sites"),
            )
        if layers["samples"] is not None:
            from hatangso.scenarios.yearly_samples import samples_until

            changed["samples"] = samples_until(
                layers["samples"], year, year_dir / "inputs", columns=columns.get("samples")
            )
        files = InputFiles(
            **{**layers, **changed},  # type: ignore[arg-type]
            crs=scenario.data.crs,
            columns=dict(columns),
        )
        runs.append(
            _one_run(
                scenario, files, year, year_dir, within, cache_dir, lang, units, recorded=recorded
            )
        )
    step("writing the report")
    result = ScenarioResult(
        scenario=scenario, out_dir=out_dir, baseline=baseline, years=tuple(runs), report={}
    )
    report = write_reports(result, out_dir, lang=lang)
    result = ScenarioResult(
        scenario=scenario, out_dir=out_dir, baseline=baseline, years=tuple(runs), report=report
    )
    if console is not None:
        print_summary(console, result, lang=lang)
    return result


def _record_layers(
    scenario: Scenario,
    target: str | Path,
    as_of: date | str | None,
    folder: Path,
    progress: Progress | None,
) -> RecordInputs:
    """Write the record's layers (as of `as_of`) into `folder`; refuse a day before it began."""
    from hatangso.scenarios.record import inputs_as_of, open_record, record_version

    (progress or silent)(
        "reading the record" + ("" if as_of is None else f" as of {as_of_text(as_of)}")
    )
    store = open_record(target, name=scenario.name)
    try:
        record_version(store, as_of, label=f"the record {store.url}")
        return inputs_as_of(store, as_of, folder)
    finally:
        store.close()


_SUMMARY_TEXT = {
    "vi": {
        "indicator": "Chỉ tiêu",
        "now": "Hiện trạng tính toán",
        "generated": "lưu ý: kịch bản này chạy trên dữ liệu SINH TỰ ĐỘNG, không phải dữ liệu thực",
        "report": "báo cáo",
    },
    "en": {
        "indicator": "indicator",
        "now": "computed now",
        "generated": "note: this scenario runs on GENERATED data, not real data",
        "report": "report",
    },
}


def print_summary(console: Console, result: ScenarioResult, *, lang: str = "vi") -> None:
    """Print the targets table of a scenario run: per indicator, baseline and each year.

    `lang` is ``vi``, ``en`` or ``both`` (the Vietnamese table, then the English one).
    """
    for one in ("vi", "en") if lang == "both" else (lang,):
        _print_summary(console, result, one)
    console.print("report: " + ", ".join(str(p) for p in result.report.values()))


def _print_summary(console: Console, result: ScenarioResult, lang: str) -> None:
    text = _SUMMARY_TEXT[lang]
    table = Table(
        text["indicator"],
        text["now"],
        *(str(r.year) for r in result.years),
        title=result.scenario.title,
        title_justify="left",
    )
    base = {i["code"]: i for i in result.baseline.kpis["indicators"]}
    per_year = [{i["code"]: i for i in r.kpis["indicators"]} for r in result.years]
    for code, ind in base.items():
        if not any(y[code]["target"] is not None for y in per_year if code in y):
            continue
        cells = []
        for y in per_year:
            this = y.get(code)
            if this is None or this["value"] is None:
                cells.append("—")
                continue
            mark = "" if this["met"] is None else (" ✓" if this["met"] else " ✗")
            target = "" if this["target"] is None else f" / {this['target']:.0%}"
            cells.append(f"{this['value']:.1%}{target}{mark}")
        now = "—" if ind["value"] is None else f"{ind['value']:.1%}"
        table.add_row(ind["label_vi" if lang == "vi" else "label_en"], now, *cells)
    console.print(table)
    for run in result.years:
        targets = {i["code"]: i["target"] for i in run.kpis["indicators"]}
        for gap in run.gaps:
            ind = INDICATORS[gap.code]
            label = ind.label_vi if lang == "vi" else ind.label_en
            console.print(f"{run.year}: {label}: {gap.message(targets[gap.code], lang=lang)}")
    if result.scenario.generated is not None:
        console.print(f"[yellow]{text['generated']}[/yellow]")


@dataclass(frozen=True)
class Comparison:
    """Two scenario runs side by side.

    Attributes
    ----------
    a, b
        The two runs.
    rows
        ``{"year", "code", "value_a", "value_b", "difference", "target_a", "target_b"}`` for
        each year of both and each indicator computed in both.
    files
        ``comparison.json`` and ``comparison.html``.
    """

    a: ScenarioResult
    b: ScenarioResult
    rows: tuple[dict[str, Any], ...]
    files: Mapping[str, Path]


def compare_scenarios(
    a: Path, b: Path, out_dir: Path, *, progress: Progress | None = None, lang: str = "vi"
) -> Comparison:
    """Run two scenarios (into ``out_dir/a-<name>`` and ``out_dir/b-<name>``) and compare them.

    The comparison lists, for the baseline and every year the two share, each indicator's
    value in both and the difference ``b - a`` (shares). `lang` (``vi``, ``en``, ``both``) is
    the language of the two runs' reports and of ``comparison.html``.

    Returns
    -------
    Comparison
    """
    from hatangso.scenarios.report import write_comparison_html

    out_dir = Path(out_dir)
    name_a = load_scenario(a, check_files=False).name
    name_b = load_scenario(b, check_files=False).name
    run_a = run_scenario(Path(a), out_dir / f"a-{name_a}", progress=progress, lang=lang)
    run_b = run_scenario(Path(b), out_dir / f"b-{name_b}", progress=progress, lang=lang)
    rows: list[dict[str, Any]] = []
    pairs = [("baseline", run_a.baseline.kpis, run_b.baseline.kpis)]
    years_b = run_b.kpis_by_year()
    pairs += [
        (str(year), doc, years_b[year])
        for year, doc in run_a.kpis_by_year().items()
        if year in years_b
    ]
    for label, doc_a, doc_b in pairs:
        by_b = {i["code"]: i for i in doc_b["indicators"]}
        for ind in doc_a["indicators"]:
            other = by_b.get(ind["code"])
            if other is None:
                continue
            va, vb = ind["value"], other["value"]
            rows.append(
                {
                    "year": label,
                    "code": ind["code"],
                    "label_vi": ind["label_vi"],
                    "label_en": ind["label_en"],
                    "value_a": va,
                    "value_b": vb,
                    "difference": None if va is None or vb is None else vb - va,
                    "target_a": ind["target"],
                    "target_b": other["target"],
                }
            )
    document = {"a": name_a, "b": name_b, "rows": rows}
    files = {
        "json": write_json(document, out_dir / "comparison.json"),
        "html": write_comparison_html(document, out_dir / "comparison.html", lang=lang),
    }
    return Comparison(a=run_a, b=run_b, rows=tuple(rows), files=files)
