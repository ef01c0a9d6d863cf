"""The coverage job: load and validate the input files, assess, write the contract's outputs.

``hatangso coverage``, ``hatangso demo`` and the scenario runner all go through
:func:`run_coverage`, so their figures cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from hatangso.coverage.calibration import load_calibration
from hatangso.coverage.config import CoverageConfig
from hatangso.coverage.engine import ADMIN_LEVELS, Assessment, CoverageInputs, assess
from hatangso.coverage.kpis import INDICATORS, indicators_by_unit, kpi_document
from hatangso.geo.errors import InputError, Problem
from hatangso.geo.outputs import (
    atomic_write,
    json_ready,
    spreadsheet_safe,
    write_geojson,
    write_json,
    write_layer,
    write_parquet,
    write_rejects,
    write_text,
)
from hatangso.geo.progress import Progress, silent
from hatangso.geo.schema import OTHER_INPUTS, RECORD_KINDS, UNIT_LEVELS, spec_for
from hatangso.geo.units import UnitResolution, check_units, resolve_units, unit_columns
from hatangso.geo.validate import Layer, load_layers

if TYPE_CHECKING:  # Dask is imported when a run uses it
    from hatangso.coverage.distributed import ClusterOptions

__all__ = ["InputFiles", "JobResult", "load_inputs", "run_coverage"]

log = logging.getLogger(__name__)

# Output columns of villages.gpkg, in the contract's order.
VILLAGE_OUTPUT_COLUMNS = (
    "covered_mobile",
    "covered_5g",
    "covered_ftth",
    "best_dbm",
    "nearest_site_m",
    "serving_operators",
    "ftth_distance_m",
)


@dataclass(frozen=True)
class InputFiles:
    """Paths of one run's inputs; only villages is required.

    `sheet` and `header_row` apply to every XLSX input (see :func:`hatangso.geo.xlsx.read_sheet`).
    """

    villages: Path
    sites: Path | None = None
    access_points: Path | None = None
    fiber: Path | None = None
    poles: Path | None = None
    ducts: Path | None = None
    pois: Path | None = None
    settlements: Path | None = None
    roads: Path | None = None
    dem: Path | None = None
    population: Path | None = None
    samples: Path | None = None
    declared: Path | None = None
    masts: Path | None = None
    commitments: Path | None = None
    crs: str | None = None
    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: One column map for every file (``--columns``), as :func:`~hatangso.geo.validate.load_layers`
    #: applies it; the maps of `columns` (by kind) apply over it.
    column_map: Mapping[str, str] = field(default_factory=dict)
    sheet: str | None = None
    header_row: int | None = None
    #: Admin boundaries drawn on the map instead of the outlines dissolved from the villages.
    boundaries: Path | None = None

    def path(self, kind: str) -> Path | None:
        """Return the file of input `kind`, None when it was not given.

        `kind` is one of :data:`hatangso.geo.schema.RECORD_KINDS` (in either spelling,
        ``access-points`` or ``access_points``) or of :data:`~hatangso.geo.schema.OTHER_INPUTS`.
        """
        path: Path | None = getattr(self, kind if kind in OTHER_INPUTS else spec_for(kind).stem)
        return path

    @classmethod
    def from_paths(
        cls,
        paths: Mapping[str, Path | None],
        *,
        crs: str | None = None,
        columns: Mapping[str, Mapping[str, str]] | None = None,
    ) -> InputFiles:
        """Build from ``{kind: path}`` (kinds as :meth:`path` takes them; None: not given).

        Raises
        ------
        KeyError
            If `paths` has no villages, or names an unknown kind.
        """
        fields: dict[str, Any] = {
            key if key in OTHER_INPUTS else spec_for(key).stem: None if p is None else Path(p)
            for key, p in paths.items()
        }
        villages: Path | None = fields.pop("villages")
        if villages is None:
            raise KeyError("villages")
        return cls(villages, **fields, crs=crs, columns=columns or {})


@dataclass(frozen=True)
class JobResult:
    """A finished run: the assessment, the layers read, the KPI document, the files written.

    `disputes` lists where measurement, prediction and declaration disagree (village,
    operator, declared, predicted, measured, samples, basis, reason), when samples or
    declarations were given. `checks` are the mast registry's findings (when a registry was
    given, :class:`~hatangso.coverage.registry.RegistryChecks`), `commitments` the
    operators' commitments judged on this run
    (:class:`~hatangso.coverage.commitments.CommitmentResult`).
    """

    assessment: Assessment
    layers: Mapping[str, Layer]
    kpis: dict[str, Any]
    files: Mapping[str, Path]
    disputes: pd.DataFrame | None = None
    checks: Any = None
    commitments: Any = None


def load_inputs(files: InputFiles, *, progress: Progress | None = None) -> dict[str, Layer]:
    """Load and validate every given input file.

    Faults of several files are raised together, so a user fixes all of them in one go; so is
    an entry of ``files.column_map`` that no file can take.
    """
    given: dict[str, tuple[Path, str]] = {}
    own: dict[str, Mapping[str, str]] = {}
    for kind in RECORD_KINDS:
        spec = spec_for(kind)
        path = files.path(kind)
        if path is None or spec.streamed:  # samples are streamed through, not loaded
            continue
        given[spec.stem] = (path, kind)
        own[spec.stem] = files.columns.get(kind, {})
    return load_layers(
        given,
        files.column_map,
        crs=files.crs,
        own_columns=own,
        sheet=files.sheet,
        header_row=files.header_row,
        progress=progress,
        taken=_sample_column_map(files),
    )


def _sample_column_map(files: InputFiles) -> dict[str, str]:
    """Return the samples' column map: the shared ``--columns`` entries they take, then their own.

    Samples are streamed, not loaded with the other layers, so the shared map is matched
    against their header here.
    """
    if files.samples is None:
        return {}
    shared: dict[str, str] = {}
    if files.column_map and files.samples.is_file():
        from hatangso.coverage.measurements import sample_columns
        from hatangso.geo.validate import columns_for

        shared = columns_for(sample_columns(files.samples), "samples", files.column_map)
    return {**shared, **files.columns.get("samples", {})}


def run_coverage(
    files: InputFiles,
    config: CoverageConfig,
    out_dir: str | Path,
    *,
    progress: Progress | None = None,
    title: str = "hatangso",
    extra: Mapping[str, Any] | None = None,
    cache_dir: Path | None = None,
    lang: str = "vi",
    units: str | None = None,
    report_date: date | None = None,
    challenges: pd.DataFrame | None = None,
    cluster: ClusterOptions | None = None,
    speed_target_mbps: float | None = None,
    speed_target_5g_mbps: float | None = None,
) -> JobResult:
    """Run the whole coverage job and write its outputs into `out_dir`.

    The outputs are ``kpis.json``, ``villages.gpkg`` and ``villages.parquet`` (the same
    villages as GeoParquet), ``rejects.csv``, ``towers.geojson`` and ``map.html``; with a
    mast registry ``registry_checks.csv``, with commitments ``commitments.csv``; with
    industrial parks or production zones among the POIs ``iot_zones.geojson`` (their IoT
    share and answer, :class:`~hatangso.coverage.iot.IotZones`).

    Parameters
    ----------
    files
        The input files.
    config
        The configuration.
    out_dir
        Output folder (created).
    progress
        Told each step as it starts (reading and validating each input, the engine's steps,
        measurements, the outputs written of their total, the map): see
        :class:`~hatangso.geo.progress.Progress`.
    title
        Title of the map page.
    extra
        Additional top-level entries of ``kpis.json`` (scenario name, year ...).
    cache_dir
        Per-site cache of the terrain model (default ``out_dir/.cache``); runs that share it
        compute each site once.
    lang
        Language of the indicators' ``definition`` in ``kpis.json``: ``vi``, ``en`` or
        ``both`` (Vietnamese first).
    units
        The admin hierarchy of ``kpis.json``'s ``by_unit``: ``old`` (provinces, districts and
        communes before 1 July 2025), ``new`` (provinces and communes after it), or None for
        the villages' own ``province``, ``district`` and ``commune`` as written. Either way
        the villages carry their units in both hierarchies where known
        (:func:`hatangso.geo.units.resolve_units`), ``kpis.json`` names the hierarchy under
        ``units`` and, when any village was placed, holds ``by_unit`` in both under
        ``by_unit_in``.
    report_date
        The day commitments are judged on and permits checked against, unless the
        configuration names one (``registry.report_date``); today when neither does.
    challenges
        The scenario's challenges (:func:`hatangso.scenarios.challenges.read_challenges`):
        the upheld ones set their villages' answers
        (:func:`~hatangso.scenarios.challenges.apply_decisions`), and ``kpis.json`` gets a
        ``challenges`` entry. None: no challenge process (no entry).
    cluster
        Run the terrain model's per-site work on a Dask cluster
        (:class:`~hatangso.coverage.distributed.ClusterOptions`); the answers are the same.
    speed_target_mbps
        The 4G download target the communes' measured speed and the villages' predicted
        downlink are held against (:mod:`hatangso.coverage.speed`); None: the national
        40 Mb/s.
    speed_target_5g_mbps
        Likewise for 5G (``commune_5g_speed``, the villages covered by 5G); None: 100 Mb/s.

    Returns
    -------
    JobResult
    """
    if units is not None:
        check_units(units)  # a wrong value stops before any work
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _import_map_modules_aside()
    layers = load_inputs(files, progress=progress)
    if not len(layers["villages"].frame):
        _stop_without_villages(layers, out_dir)
    frames = {name: layer.frame for name, layer in layers.items()}
    step = progress or silent
    placed = None
    if any(level in frames["villages"] for level in ADMIN_LEVELS):
        step("placing the villages in the units before and after the 2025 reform")
        placed = resolve_units(frames["villages"])
        frames["villages"] = placed.villages
    boundaries = None
    if files.boundaries is not None:
        from hatangso.scenarios.maps import read_boundaries

        step("reading boundaries")
        boundaries = read_boundaries(files.boundaries, crs=files.crs)
    inputs, notes = _with_clusters(_coverage_inputs(files, frames, config), files, config, step)
    result = assess(
        inputs,
        config,
        progress=progress,
        cache_dir=cache_dir if cache_dir is not None else out_dir / ".cache",
        cluster=cluster,
    )
    summary = decision = None
    if files.samples is not None or "declared" in layers:
        step("measurements and declarations")
        result, summary, decision = _apply_measurements(result, files, layers, config)
    registry = _registry_part(result, frames, config, report_date=report_date, step=step)
    result = registry.assessment
    if challenges is not None:
        result = _apply_challenges(result, challenges)
    result, speed_blocks = _speed_part(
        result,
        frames,
        summary,
        speed_target_mbps,
        step,
        config=config,
        notes=notes,
        target_5g_mbps=speed_target_5g_mbps,
    )
    extra = {**(extra or {}), **speed_blocks}
    step("writing outputs")
    # The layers go to GDAL and Arrow, which let go of the GIL: they are written by threads
    # while this thread computes the KPIs and writes kpis.json, and the map is built beside,
    # started first (the longest of them) on the document without its tables by unit.
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="hatangso-outputs") as pool:
        started = _start_layer_writes(pool, result, out_dir)
        unit_notes = _unit_notes(placed, units)
        any_placed = placed is not None and placed.any_placed
        switch_off = _switch_off_block(result)  # in both documents, counted once

        def kpis(*, tables: bool) -> dict[str, Any]:
            document = _kpi_document(
                result,
                layers,
                config,
                notes=[*notes, *unit_notes],
                summary=summary,
                decision=decision,
                extra=extra,
                lang=lang,
                units=units,
                hierarchy=placed.hierarchy if placed is not None else "unknown",
                placed=any_placed,
                registry=registry,
                tables=tables,
                switch_off=switch_off,
            )
            _speed_targets(document)
            if challenges is not None:
                from hatangso.scenarios.challenges import kpis_block

                document["challenges"] = kpis_block(challenges)
            return document

        page = pool.submit(
            _write_map,
            result,
            frames,
            kpis(tables=False),
            config,
            out_dir / "map.html",
            title=title,
            files=files,
            boundaries=boundaries,
            registry=registry,
        )
        document = kpis(tables=True)
        written = _write_outputs(
            result,
            layers,
            document,
            out_dir,
            summary=summary,
            decision=decision,
            step=step,
            started=started,
            registry=registry,
        )
        step("writing the map")
        written["map"] = page.result()
    return JobResult(
        assessment=result,
        layers=layers,
        kpis=document,
        files=written,
        disputes=decision.disputes if decision is not None else None,
        checks=registry.checks,
        commitments=registry.commitments,
    )


def _stop_without_villages(layers: Mapping[str, Layer], out_dir: Path) -> None:
    """Write ``rejects.csv`` and stop: no village is left to assess.

    Raises
    ------
    InputError
        Always, naming the villages' file, how many rows it had and the first reason given.
    """
    villages = layers["villages"]
    write_rejects(layers.values(), out_dir)
    if villages.rejected:
        first = villages.rejects.iloc[0]
        message = (
            f"no village to assess: all {villages.read} rows were rejected (the first, "
            f"row {first['row']}: {first['reason']}; every reason in "
            f"{out_dir / 'rejects.csv'})"
        )
    else:
        message = "no village to assess: the file has no rows"
    raise InputError(
        Problem(
            file=villages.name,
            message=message,
            fix="correct the rows (or the file's coordinate reference system when every "
            "point lies outside Vietnam) and run again",
        )
    )


def _speed_part(
    result: Assessment,
    frames: Mapping[str, Any],
    summary: Any,
    target_mbps: float | None,
    step: Progress,
    *,
    config: CoverageConfig,
    notes: list[str],
    target_5g_mbps: float | None = None,
) -> tuple[Assessment, dict[str, Any]]:
    """Predict the villages' downlink, measure the communes' speed; add ``commune_4g_speed``.

    ``commune_5g_speed`` too when 5G samples give speeds.

    The prediction follows ``speed.predict`` (:class:`~hatangso.coverage.config.SpeedConfig`);
    when the run's size leaves it out, `notes` says so and how to ask for it.
    """
    speeds = summary.speeds if summary is not None else None
    sites = frames.get("sites")
    n_villages = len(result.villages)
    if sites is not None and not config.speed.predicts(n_villages):
        if config.speed.predict == "auto":
            notes.append(
                f"predicted downlink left out: {n_villages:,} villages, above "
                f"speed.auto_max_villages ({config.speed.auto_max_villages:,}); set "
                "speed.predict: always to compute it (about 0.4 s per 1,000 villages)"
            )
        sites = None
    if sites is None and speeds is None:
        return result, {}
    from hatangso.coverage.speed import assess_speed

    step(
        "download speed: "
        + ("predicted per village, " if sites is not None else "")
        + "measured per commune"
    )
    speed = assess_speed(
        result.villages,
        sites=sites,
        centres_xy=result.points.centre_xy if result.points is not None else None,
        metric_crs=result.metric_crs,
        speeds=speeds,
        target_mbps=target_mbps,
        target_5g_mbps=target_5g_mbps,
        downlink_share_5g=config.speed.tdd_downlink_share_5g,
    )
    result = dataclasses.replace(
        result, villages=speed.villages, indicators=(*result.indicators, *speed.indicators)
    )
    return result, dict(speed.blocks)


def _speed_targets(document: dict[str, Any]) -> None:
    """Give each speed indicator of `document` the speed its communes were held to."""
    from hatangso.coverage.speed import SPEED_BLOCKS, SPEED_INDICATORS

    for tech, code in SPEED_INDICATORS.items():
        block = document.get(SPEED_BLOCKS[tech])
        for indicator in document["indicators"]:
            if indicator["code"] == code and block is not None:
                indicator["target_mbps"] = block["target_mbps"]


def _import_map_modules_aside() -> None:
    """Import the map's modules (folium, branca, jinja2) in a thread, while inputs are read.

    Reading is mostly GDAL's and GEOS's work, done without the GIL; importing takes about a
    second of the interpreter's time, which the map would otherwise spend after the engine.
    """

    def load() -> None:
        try:
            import hatangso.scenarios.maps  # noqa: F401
        except Exception:  # the map's own import reports it, where it is needed
            log.debug("importing the map's modules ahead failed", exc_info=True)

    threading.Thread(target=load, name="hatangso-imports", daemon=True).start()


def _unit_notes(placed: UnitResolution | None, units: str | None) -> list[str]:
    """Return the notes on placing the villages in the official units."""
    notes = placed.notes() if placed is not None else []
    if units is not None and (placed is None or not placed.any_placed):
        notes.append(
            f"no village names a province or commune of the official lists: no KPIs by {units} "
            "unit; give the villages' commune and province (names or codes)"
        )
    return notes


@dataclass(frozen=True)
class _Registry:
    """The mast registry's checks and the commitments of one run (each None when not given)."""

    assessment: Assessment
    checks: Any = None
    commitments: Any = None
    report_date: date | None = None


def _registry_part(
    result: Assessment,
    frames: Mapping[str, Any],
    config: CoverageConfig,
    *,
    report_date: date | None,
    step: Progress,
) -> _Registry:
    """Check the mast registry and judge the commitments; add ``commitments_on_time``."""
    masts, commitments = frames.get("masts"), frames.get("commitments")
    if masts is None and commitments is None:
        return _Registry(result)
    day = config.registry.report_date or report_date or date.today()
    checks = judged = None
    if masts is not None:
        from hatangso.coverage.registry import registry_checks
        from hatangso.scenarios.plan_job import read_exclusion

        step("checking the mast registry")
        checks = registry_checks(
            masts,
            frames.get("sites"),
            crs=result.metric_crs,
            share_distance_m=config.registry.share_distance_m,
            no_build=read_exclusion(
                config.siting.exclusion, max_bytes=config.limits.max_referenced_file_bytes
            ),
        )
    if commitments is not None:
        from hatangso.coverage.commitments import evaluate_commitments

        step("judging the commitments")
        judged = evaluate_commitments(commitments, result.villages, as_of=day)
        result = dataclasses.replace(result, indicators=(*result.indicators, judged.indicator))
    return _Registry(result, checks=checks, commitments=judged, report_date=day)


def _coverage_inputs(
    files: InputFiles, frames: Mapping[str, Any], config: CoverageConfig
) -> CoverageInputs:
    """Return the engine's inputs: the loaded frames, the raster paths and the calibration."""
    return CoverageInputs(
        villages=frames["villages"],
        sites=frames.get("sites"),
        access_points=frames.get("access_points"),
        fiber=frames.get("fiber"),
        poles=frames.get("poles"),
        ducts=frames.get("ducts"),
        pois=frames.get("pois"),
        settlements=frames.get("settlements"),
        masts=frames.get("masts"),
        roads=files.roads,
        dem=files.dem,
        population=files.population,
        calibration=(
            load_calibration(
                config.mobile.calibration, max_bytes=config.limits.max_referenced_file_bytes
            )
            if config.mobile.calibration is not None
            else None
        ),
    )


def _with_clusters(
    inputs: CoverageInputs, files: InputFiles, config: CoverageConfig, step: Progress
) -> tuple[CoverageInputs, list[str]]:
    """Derive residential clusters from the population raster when the official rule lacks them."""
    if not (
        config.mobile.rule == "official"
        and inputs.settlements is None
        and files.population is not None
    ):
        return inputs, []
    from hatangso.coverage.clusters import clusters_from_raster

    step("residential clusters from the population raster")
    derived = clusters_from_raster(files.population, inputs.villages)
    note = (
        f"{len(derived)} residential clusters derived from the population raster "
        "(connected cells above the density threshold) for the official rule"
    )
    return dataclasses.replace(inputs, settlements=derived), [note]


def _kpi_document(
    result: Assessment,
    layers: Mapping[str, Layer],
    config: CoverageConfig,
    *,
    notes: list[str],
    summary: Any,
    decision: Any,
    extra: Mapping[str, Any] | None,
    lang: str,
    units: str | None = None,
    hierarchy: str = "unknown",
    placed: bool = False,
    registry: _Registry | None = None,
    tables: bool = True,
    switch_off: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the ``kpis.json`` document: indicators, per admin unit, inputs and notes.

    `units` picks the hierarchy of ``by_unit`` (None: the villages' columns as written, which
    are in the `hierarchy` the villages' names were found in). When any village was `placed`
    in an official unit, ``by_unit_in`` holds the KPIs by unit in both hierarchies. Without
    `tables`, the tables by unit are left empty (the map needs none of them).

    With sites or a registry, ``sharing_basis`` says what the BTS sharing indicators counted
    (``registry`` or ``clustering``); ``registry`` holds the registry's counts and its checks,
    ``commitments`` the commitments' report date, counts and per-operator table.
    ``switch_off`` is :func:`_switch_off_block`'s answer when the caller has it already.
    """
    # The IoT zones count in the units of the villages holding them (placed once, for both
    # hierarchies).
    zones = (
        {"key_area_iot_coverage": result.iot.unit_items(result.villages, result.metric_crs)}
        if tables and result.iot is not None
        else {}
    )

    def per_unit(which: str | None) -> dict[str, list[dict[str, Any]]]:
        if not tables:
            return {}
        return indicators_by_unit(
            result.villages,
            levels=ADMIN_LEVELS if which is None else UNIT_LEVELS[which],
            codes=list(INDICATORS),
            targets=config.targets,
            lang=lang,
            columns=None if which is None else unit_columns(check_units(which)),
            items=zones,
        )

    by_unit = per_unit(units)
    both = {which: per_unit(which) for which in UNIT_LEVELS} if placed else {}
    document = kpi_document(
        result.indicators,
        by_unit=by_unit,
        inputs={layers[name].kind: layers[name].counts() for name in layers},
        targets=config.targets,
        lang=lang,
        extra={
            **(extra or {}),
            "model": result.model,
            "rule": config.mobile.rule,
            "notes": [
                *notes,
                *result.notes,
                *(n for lay in layers.values() for n in lay.notes),
                *(summary.notes if summary is not None else ()),
            ],
            **({"mobile_basis": decision.kpis_block()} if decision is not None else {}),
            "units": units or (hierarchy if hierarchy != "unknown" else "as_given"),
            **({"by_unit_in": both} if both else {}),
            **({"sharing_basis": result.sharing_basis} if result.sharing_basis else {}),
            **(_registry_blocks(registry, layers) if registry is not None else {}),
            **({"iot_zones": result.iot.block()} if result.iot is not None else {}),
            **(_switch_off_block(result) if switch_off is None else switch_off),
        },
    )
    if summary is not None:
        document["inputs"]["samples"] = summary.counts()
    return document


#: Most villages ``kpis.json`` lists per switch-off step (the counts cover them all).
SWITCH_OFF_LIST_LIMIT = 2000


def _switch_off_block(result: Assessment) -> dict[str, Any]:
    """Return ``switch_off``: what switching 2G (then 3G) off takes, in all and per operator.

    See :func:`hatangso.coverage.services.switch_off_table`; absent when no site carries 2G,
    3G, NB-IoT or LTE-M.
    """
    from hatangso.coverage.services import switch_off_table

    table = switch_off_table(result.villages, list_limit=SWITCH_OFF_LIST_LIMIT)
    return {"switch_off": table} if table else {}


def _registry_blocks(registry: _Registry, layers: Mapping[str, Layer]) -> dict[str, Any]:
    """Return the ``registry`` and ``commitments`` blocks of ``kpis.json``."""
    out: dict[str, Any] = {}
    if registry.checks is not None and "masts" in layers:
        masts = layers["masts"].frame
        status = masts["status"].astype("string").fillna("built")
        out["registry"] = {
            "masts": len(masts),
            "by_status": {str(k): int(v) for k, v in status.value_counts().sort_index().items()},
            "report_date": None if registry.report_date is None else str(registry.report_date),
            "checks": registry.checks.counts(),
        }
    if registry.commitments is not None:
        out["commitments"] = registry.commitments.summary()
    return out


def _start_layer_writes(
    pool: Executor, result: Assessment, out_dir: Path
) -> dict[str, Future[Path]]:
    """Start writing the villages (GeoPackage, GeoParquet) and the towers in `pool`."""
    started = {
        "villages": pool.submit(write_villages, result.villages, out_dir / "villages.gpkg"),
        "villages_parquet": pool.submit(
            write_villages, result.villages, out_dir / "villages.parquet"
        ),
    }
    if result.towers is not None:
        started["towers"] = pool.submit(write_geojson, result.towers, out_dir / "towers.geojson")
    if result.iot is not None:
        started["iot_zones"] = pool.submit(
            write_geojson, result.iot.zones, out_dir / "iot_zones.geojson"
        )
    return started


def _write_outputs(
    result: Assessment,
    layers: Mapping[str, Layer],
    document: dict[str, Any],
    out_dir: Path,
    *,
    summary: Any,
    decision: Any,
    started: Mapping[str, Future[Path]],
    step: Progress = silent,
    registry: _Registry | None = None,
) -> dict[str, Path]:
    """Write the KPIs, rejects, disputes and terrain rasters, wait for the layers; return all.

    `started` holds the layers' writes under way (:func:`_start_layer_writes`), waited for
    after the files written here. `step` is told ``writing outputs`` with the files written
    of their total.
    """
    writers: dict[str, Callable[[], Path]] = {
        "kpis": lambda: write_kpis(document, out_dir / "kpis.json"),
        "villages": started["villages"].result,
        "villages_parquet": started["villages_parquet"].result,
        "rejects": lambda: write_rejects(
            layers.values(), out_dir, extra=[summary.rejects] if summary is not None else []
        ),
    }
    if decision is not None:
        writers["disputes"] = lambda: decision.write_disputes(out_dir / "disputes.csv")
    if "towers" in started:
        writers["towers"] = started["towers"].result
    if "iot_zones" in started:
        writers["iot_zones"] = started["iot_zones"].result
    if registry is not None and registry.checks is not None:
        checks = spreadsheet_safe(registry.checks.table)
        writers["registry_checks"] = lambda: atomic_write(
            out_dir / "registry_checks.csv",
            lambda p: checks.to_csv(p, index=False, encoding="utf-8"),
        )
    if registry is not None and registry.commitments is not None:
        judged = spreadsheet_safe(registry.commitments.table)
        writers["commitments"] = lambda: atomic_write(
            out_dir / "commitments.csv",
            lambda p: judged.to_csv(p, index=False, encoding="utf-8"),
        )
    total = len(writers) + (result.terrain is not None)
    written: dict[str, Path] = {}
    # The files written here come first, the ones under way in threads after them.
    order = sorted(writers, key=lambda key: key in started)
    for done, key in enumerate(order):
        step("writing outputs", done=done, total=total)
        written[key] = writers[key]()
    written = {key: written[key] for key in writers}  # the files in their usual order
    if result.terrain is not None:
        from hatangso.coverage.terrain import write_coverage_outputs

        step("writing outputs", done=len(writers), total=total)
        written.update(write_coverage_outputs(result.terrain, out_dir))
    step("writing outputs", done=total, total=total)
    return written


def _write_map(
    result: Assessment,
    frames: Mapping[str, Any],
    document: dict[str, Any],
    config: CoverageConfig,
    path: Path,
    *,
    title: str,
    files: InputFiles | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    registry: _Registry | None = None,
) -> Path:
    """Write ``map.html``: the villages, the KPIs, the networks and the terrain's power.

    The base map is the DEM's hillshade (whatever the model, when `files` give a DEM), the admin
    outlines (`boundaries`, else dissolved from the villages) and the roads of `files`; every
    image is inline, so the page loads nothing.
    """
    from hatangso.coverage.overlays import data_uri, hillshade_png, power_png
    from hatangso.scenarios.maps import (
        HILLSHADE_LABEL,
        POWER_LABEL,
        DbmScale,
        MapLayers,
        Overlay,
        read_road_lines,
        village_map,
    )

    power = shade = roads = None
    if result.terrain is not None:
        scale = DbmScale(config.mobile.threshold_dbm)
        png, bounds = power_png(
            result.terrain.best_dbm, threshold_dbm=scale.threshold_dbm, span_db=scale.span_db
        )
        power = Overlay(data_uri(png), bounds, *POWER_LABEL, scale=scale)
    if files is not None and files.dem is not None:
        png, bounds = hillshade_png(files.dem, max_px=800)
        shade = Overlay(data_uri(png), bounds, *HILLSHADE_LABEL, opacity=0.55)
    if files is not None and files.roads is not None:
        roads = read_road_lines(files.roads)
    page = village_map(
        MapLayers(
            villages=result.villages,
            kpis=document,
            sites=frames.get("sites"),
            towers=result.towers,
            access_points=frames.get("access_points"),
            fiber=frames.get("fiber"),
            roads=roads,
            hillshade=shade,
            power=power,
            boundaries=boundaries,
            masts=frames.get("masts"),
            commitments=_commitment_points(registry, result.villages),
            iot_zones=result.iot.zones if result.iot is not None else None,
            village_lonlat=_surface_lonlat(result),
        ),
        title=title,
    )
    return write_text(page, path)


def _surface_lonlat(result: Assessment) -> npt.NDArray[np.float64] | None:
    """Return the engine's points on the villages' surface in lon/lat, or None."""
    points = result.points
    if points is None or points.surface_lonlat is None:
        return None
    lonlat = points.surface_lonlat
    crs = result.villages.crs
    if len(lonlat) != len(result.villages) or crs is None or not crs.equals("EPSG:4326"):
        return None
    return lonlat


def _commitment_points(
    registry: _Registry | None, villages: gpd.GeoDataFrame
) -> gpd.GeoDataFrame | None:
    if registry is None or registry.commitments is None:
        return None
    from hatangso.coverage.commitments import commitment_points

    return commitment_points(registry.commitments.table, villages)


def _apply_measurements(
    result: Assessment, files: InputFiles, layers: Mapping[str, Layer], config: CoverageConfig
) -> tuple[Assessment, Any, Any]:
    """Put each village on its basis (measured, predicted, declared) and recount.

    Samples are streamed and counted per village and operator; the village answer follows
    the basis rule of :func:`hatangso.coverage.measurements.decide_basis`, and the indicators
    are computed again on it.
    """
    from hatangso.coverage.kpis import village_indicators
    from hatangso.coverage.measurements import aggregate_samples, decide_basis

    villages_layer = layers["villages"].frame
    summary = None
    if files.samples is not None:
        summary = aggregate_samples(
            files.samples,
            villages_layer,
            threshold_dbm=config.mobile.threshold_dbm,
            crs=files.crs,
            columns=_sample_column_map(files) or None,
            points=result.points,
            rule=config.mobile.rule,
        )
    declared = layers["declared"].frame if "declared" in layers else None
    decision = decide_basis(
        result.villages,
        summary,
        declared,
        min_samples=config.samples.min_samples,
        min_availability=config.samples.min_availability,
    )
    villages = result.villages.copy()
    for column in decision.villages.columns:
        villages[column] = decision.villages[column].to_numpy()
    # People follow their village's answer where it no longer rests on the prediction.
    if "population_in_village" in villages and "population_covered_mobile" in villages:
        moved = (villages["mobile_basis"].astype("string") != "predicted").fillna(True)
        people = villages["population_in_village"].to_numpy(dtype=float)
        covered = villages["covered_mobile"].fillna(False).to_numpy(dtype=bool)
        villages["population_covered_mobile"] = np.where(
            moved.to_numpy(dtype=bool),
            np.where(covered, people, 0.0),
            villages["population_covered_mobile"].to_numpy(dtype=float),
        )
    village_codes = {"village_mobile_coverage", "population_mobile_coverage"}
    kept = [v for v in result.indicators if v.code not in village_codes]
    recomputed = village_indicators(villages, codes=sorted(village_codes))
    result = dataclasses.replace(result, villages=villages, indicators=(*recomputed, *kept))
    return result, summary, decision


def _apply_challenges(result: Assessment, challenges: pd.DataFrame) -> Assessment:
    """Put the villages with upheld challenges on their decisions, and recount."""
    from hatangso.scenarios.challenges import DECIDED_CODES, apply_decisions, recount

    villages = apply_decisions(result.villages, challenges)
    recounted = [v for v in recount(villages) if v.code in DECIDED_CODES]
    again = {v.code for v in recounted}
    kept = [v for v in result.indicators if v.code not in again]
    return dataclasses.replace(result, villages=villages, indicators=(*recounted, *kept))


def write_kpis(document: Mapping[str, Any], path: Path) -> Path:
    """Write ``kpis.json`` indented, but each unit of ``by_unit`` and ``by_unit_in`` on one line.

    A national run has thousands of units in each of three tables (the units as given, before
    and after the 2025 reform), each unit with its indicators: indented one value a line, the
    document takes seconds to encode (Python's indenting encoder) and tens of megabytes; one
    line per unit is encoded by the C encoder and stays readable line by line. The units hold
    plain values already (:meth:`~hatangso.coverage.kpis.IndicatorValue.as_dict`); should one
    not be JSON (NaN), the whole document is written the slow way, NaN as null.
    """
    encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=str)
    flat = encoder.encode

    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False, default=str)

    def tables(value: Mapping[Any, Any], pad: str) -> str:
        """`value` (level -> units, or hierarchy -> such) at `pad`, each unit on a line."""
        items = []
        for key, inner in value.items():
            if isinstance(inner, Mapping):
                body = tables(inner, pad + "  ")
            else:
                body = (
                    "["
                    + ",".join(f"\n{pad}    {flat(unit)}" for unit in inner)
                    + (f"\n{pad}  ]" if inner else "]")
                )
            items.append(f"{pad}  {flat(str(key))}: {body}")
        return "{" + ",".join(f"\n{item}" for item in items) + (f"\n{pad}}}" if items else "}")

    try:
        parts = []
        for key, value in document.items():
            if key in ("by_unit", "by_unit_in") and isinstance(value, Mapping):
                body = tables(value, "  ")
            else:
                body = dumps(json_ready(value)).replace("\n", "\n  ")
            parts.append(f"  {flat(str(key))}: {body}")
        text = "{\n" + ",\n".join(parts) + "\n}\n"
    except ValueError:
        return write_json(document, path)
    return write_text(text, path)


def write_villages(villages: gpd.GeoDataFrame, path: Path) -> Path:
    """Write the villages, inputs plus the output columns.

    A ``.parquet`` `path` is written as GeoParquet, any other as a GeoPackage (layer
    ``villages``); both carry the same columns and rows.
    """
    frame = villages.copy()
    for column in VILLAGE_OUTPUT_COLUMNS:
        if column not in frame:
            # A flag not computed (no access point or cable: no covered_ftth) is false, as the
            # contract's bool: nothing given is known to be within reach. A NULL would make the
            # GeoPackage field read back as float NaN. The indicators it would feed are left
            # out of kpis.json, whose notes say why; the measures (distances) are NULL.
            frame[column] = (
                np.zeros(len(frame), dtype=bool) if column.startswith("covered") else np.nan
            )
    if Path(path).suffix == ".parquet":
        return write_parquet(frame, path)
    return write_layer(frame, path, layer="villages")
