"""The scenario file: a plan's targets and baselines, its data and its yearly deployments.

A scenario is one YAML file, parsed once into :class:`Scenario`. Every fault found is raised
together in one :class:`~hatangso.geo.errors.InputError` naming the file, the key and the fix.

Geographic targets and baselines are written in percent, as the plans' appendices write them
(``village_mobile_coverage: {2024: 100}``); :meth:`Scenario.targets_for` gives shares for the
coverage configuration. Paths are relative to the scenario's folder, or to the data root given
on the command line (``hatangso run --data-root``), and may not leave it: no absolute path, no
``..``, no symbolic link leading out. A scenario file cannot move its own root: ``data_root``
and ``allow_absolute_paths`` in the file are refused. The files the ``model:`` section names
(``mobile.calibration``, ``siting.exclusion``) are confined to the scenario file's folder.

Examples
--------
>>> text = '''
... name: tiny
... title: Tiny
... description: generated
... scope: {province: Tỉnh Demo}
... data: {villages: villages.gpkg}
... years: [2025]
... targets: {village_mobile_coverage: {2025: 100}}
... '''
>>> scenario = parse_scenario(yaml.safe_load(text), source="tiny.yaml", check_files=False)
>>> scenario.targets_for(2025)
{'village_mobile_coverage': 1.0}
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from hatangso.coverage.config import CoverageConfig, parse_config
from hatangso.coverage.kpis import INDICATORS
from hatangso.geo.confine import read_limited
from hatangso.geo.errors import ConfigError, InputError, Problem, yaml_problem
from hatangso.geo.limits import MAX_REFERENCED_FILE_BYTES, WorkLimits
from hatangso.geo.schema import LAYER_KINDS, OTHER_INPUTS, spec_for
from hatangso.geo.techs import TECHNOLOGIES, tech_token

__all__ = [
    "DATA_KINDS",
    "DATA_STREAMS",
    "DATA_TABLES",
    "DEPLOYMENT_KINDS",
    "Baseline",
    "DataSources",
    "Deployment",
    "Generated",
    "Scenario",
    "Scope",
    "Statistic",
    "load_scenario",
    "parse_scenario",
]

#: Input layers a scenario may name under ``data:`` (their file stems).
DATA_KINDS = (*(spec_for(kind).stem for kind in LAYER_KINDS), *OTHER_INPUTS)
#: Tables without geometry a scenario may name under ``data:`` too.
DATA_TABLES = ("commitments",)
#: Streamed inputs a scenario may name under ``data:``: measurement samples, of which each
#: year takes those up to its end (:mod:`hatangso.scenarios.yearly_samples`).
DATA_STREAMS = ("samples",)
#: Layers a year's deployments may add to (``plan`` adds sites).
DEPLOYMENT_KINDS = ("sites", "access_points", "fiber", "poles", "ducts")

_FIX_SCHEMA = "see scenarios/demo.yaml for a complete, commented example"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scope(_Strict):
    """The administrative unit the scenario covers."""

    province: str
    district: str | None = None
    commune: str | None = None


class DataSources(_Strict):
    """``data:``: one path per input layer (only villages is required)."""

    villages: str
    sites: str | None = None
    access_points: str | None = None
    fiber: str | None = None
    poles: str | None = None
    ducts: str | None = None
    pois: str | None = None
    settlements: str | None = None
    masts: str | None = None
    commitments: str | None = None
    samples: str | None = None
    roads: str | None = None
    dem: str | None = None
    population: str | None = None
    crs: str | None = None
    columns: dict[str, dict[str, str]] = Field(default_factory=dict)


class Generated(_Strict):
    """``generated:``: the data are generated on first run (no real data are shipped).

    ``kind: demo`` is the demo province as ``hatangso demo`` builds it; ``kind: place`` is the
    demo province moved to `centre_lonlat` and renamed (vector layers only). The deployments
    are placed by :func:`hatangso.scenarios.run.place_deployments`: a new site in each village
    the base data leave without mobile broadband, a new access point in each village without
    fiber; ``deployments:`` says in which year each file counts.
    """

    kind: Literal["demo", "place"] = "demo"
    seed: int = Field(2023, ge=0)
    n_villages: int = Field(1300, ge=200, le=5000)
    centre_lonlat: tuple[float, float] | None = None
    keep_villages: int | None = Field(None, ge=1)
    sites_operator: str = "Viettel"
    fiber_operator: str = "VNPT"


class Deployment(_Strict):
    """One year's deployments: files of new infrastructure added to the base layers."""

    sites: list[str] = Field(default_factory=list)
    access_points: list[str] = Field(default_factory=list)
    fiber: list[str] = Field(default_factory=list)
    poles: list[str] = Field(default_factory=list)
    ducts: list[str] = Field(default_factory=list)
    plan: list[str] = Field(
        default_factory=list, description="new-site files of saved plans (added to sites)"
    )
    switch_off: list[str] = Field(
        default_factory=list,
        description="technologies switched off from this year on (e.g. [2G]): the sites no "
        "longer offer them",
    )

    def files(self, kind: str) -> list[str]:
        """Paths adding to layer `kind` (``plan`` files count as sites)."""
        paths = list(getattr(self, kind))
        return paths + list(self.plan) if kind == "sites" else paths


class Statistic(_Strict):
    """A statistic that is not geographic: entered by the user, carried into the report."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label_vi: str
    label_en: str
    unit: str = "%"
    unit_en: str | None = None
    baseline: float | None = None
    targets: dict[int, float] = Field(default_factory=dict)
    achieved: dict[int, float] = Field(default_factory=dict)
    higher_is_better: bool = True

    def met(self, year: int) -> bool | None:
        """Whether the achieved value of `year` reaches its target (None if either is absent)."""
        value, target = self.achieved.get(year), self.targets.get(year)
        if value is None or target is None:
            return None
        return value >= target if self.higher_is_better else value <= target


class Baseline(_Strict):
    """The plan's baseline: when it was measured and the geographic indicators' values (%)."""

    label: str = "baseline"
    values: dict[str, float] = Field(default_factory=dict)


class Scenario(_Strict):
    """A whole scenario file.

    Attributes
    ----------
    description, description_vi
        What the scenario is, in English and (optionally) in Vietnamese; a Vietnamese report
        shows `description_vi` when given, else `description`.
    path
        The file it was read from (set by :func:`load_scenario`).
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    description: str
    description_vi: str | None = None
    source: str | None = None
    scope: Scope
    #: Refused when set (see :func:`parse_scenario`): kept as keys so that the message says
    #: why and what to do, rather than "unknown key".
    data_root: str | None = None
    allow_absolute_paths: bool = False
    data: DataSources
    generated: Generated | None = None
    model: dict[str, Any] = Field(default_factory=dict)
    years: list[int] = Field(min_length=1)
    baseline: Baseline = Field(default_factory=Baseline)
    targets: dict[str, dict[int, float]] = Field(default_factory=dict)
    statistics: list[Statistic] = Field(default_factory=list)
    deployments: dict[int, Deployment] = Field(default_factory=dict)
    path: Path | None = Field(None, exclude=True)
    _limits: WorkLimits = PrivateAttr(default_factory=WorkLimits)

    @property
    def limits(self) -> WorkLimits:
        """The limits on the work of its runs (see :func:`load_scenario`)."""
        return self._limits

    def with_limits(self, limits: WorkLimits) -> Scenario:
        """Return the scenario whose configurations are held to `limits`."""
        out = self.model_copy()
        out._limits = limits
        return out

    def switched_off(self, year: int | None) -> tuple[str, ...]:
        """Technologies switched off in `year` or before (none for the baseline, None).

        Examples
        --------
        >>> text = '''
        ... name: tiny
        ... title: Tiny
        ... description: generated
        ... scope: {province: Tỉnh Demo}
        ... data: {villages: villages.gpkg}
        ... years: [2025, 2027]
        ... targets: {village_mobile_coverage: {2025: 100, 2027: 100}}
        ... deployments: {2025: {switch_off: [gsm]}, 2027: {switch_off: [3G]}}
        ... '''
        >>> s = parse_scenario(yaml.safe_load(text), source="tiny.yaml", check_files=False)
        >>> s.switched_off(None), s.switched_off(2025), s.switched_off(2027)
        ((), ('2G',), ('2G', '3G'))
        """
        if year is None:
            return ()
        named = {
            tech_token(t) or t
            for y, deployment in self.deployments.items()
            if y <= year
            for t in deployment.switch_off
        }
        return tuple(t for t in TECHNOLOGIES if t in named)

    def config(self, *, limits: WorkLimits | None = None) -> CoverageConfig:
        """Return the coverage configuration of the model section, without targets.

        The files it names are confined to the scenario file's folder (see
        :func:`hatangso.coverage.config.parse_config`).
        """
        return self.config_for(None, limits=limits)

    def targets_for(self, year: int) -> dict[str, float]:
        """Targets of `year` as shares in [0, 1], for ``CoverageConfig.targets``."""
        return {
            code: by_year[year] / 100.0 for code, by_year in self.targets.items() if year in by_year
        }

    def config_for(self, year: int | None, *, limits: WorkLimits | None = None) -> CoverageConfig:
        """Return the configuration of one run: the model plus that year's targets."""
        targets = {} if year is None else self.targets_for(year)
        return parse_config(
            {**self.model, "targets": targets},
            source=self.path.name if self.path is not None else "scenario",
            base=self.path.parent if self.path is not None else None,
            where="the scenario file's folder",
            limits=limits or self._limits,
            key_prefix="model.",
        )


def _key(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _structure_problems(data: dict[str, Any], source: str) -> list[Problem]:
    try:
        Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = _key(error["loc"])
            fix = _FIX_SCHEMA
            if error["type"] == "extra_forbidden":
                fix = "remove the key or correct its spelling; " + _FIX_SCHEMA
            elif error["type"] == "missing":
                fix = "add the key; " + _FIX_SCHEMA
            problems.append(Problem(file=source, message=f"key '{key}': {error['msg']}", fix=fix))
        return problems
    return []


def _semantic_problems(
    scenario: Scenario, source: str, base: Path | None, limits: WorkLimits
) -> list[Problem]:
    problems: list[Problem] = []

    def add(key: str, message: str, fix: str) -> None:
        problems.append(Problem(file=source, message=f"key '{key}': {message}", fix=fix))

    if scenario.data_root is not None:
        add(
            "data_root",
            "a scenario file cannot choose the folder its data are read from",
            "remove the key; keep the data beside the scenario file, or give the folder on "
            "the command line: hatangso run SCENARIO.yaml --data-root DIR",
        )
    if scenario.allow_absolute_paths:
        add(
            "allow_absolute_paths",
            "a scenario file cannot name files outside its data folder",
            "remove the key and write each path relative to the scenario's folder, or give "
            "their folder with hatangso run --data-root DIR",
        )

    known = ", ".join(INDICATORS)
    years = set(scenario.years)
    if len(years) != len(scenario.years):
        add("years", "a year is listed twice", "list each year once")
    if "targets" in scenario.model:
        add(
            "model.targets",
            "targets belong under the top-level 'targets:' key, per year",
            "move them to 'targets: {code: {year: percent}}'",
        )
    else:
        try:
            parse_config(
                scenario.model,
                source=source,
                base=base,
                where="the scenario file's folder",
                key_prefix="model.",
                limits=limits,
            )
        except ConfigError as exc:
            problems.extend(exc.problems)
    for section, codes in (
        ("targets", scenario.targets),
        ("baseline.values", scenario.baseline.values),
    ):
        for code in codes:
            if code not in INDICATORS:
                add(
                    f"{section}.{code}",
                    f"unknown indicator '{code}'",
                    f"use one of {known}; other figures go under 'statistics:'",
                )
    for code, by_year in scenario.targets.items():
        for year, value in by_year.items():
            if year not in years:
                add(
                    f"targets.{code}.{year}",
                    f"{year} is not one of the scenario's years {sorted(years)}",
                    f"add {year} to 'years:' or remove this target",
                )
            if not 0.0 <= value <= 100.0:
                add(f"targets.{code}.{year}", f"{value} is not a percentage", "write 0 to 100")
    for code, value in scenario.baseline.values.items():
        if not 0.0 <= value <= 100.0:
            add(f"baseline.values.{code}", f"{value} is not a percentage", "write 0 to 100")
    with_targets = {year for by_year in scenario.targets.values() for year in by_year}
    # A year that switches a technology off is reported for what the switch-off takes away.
    switching = {year for year, d in scenario.deployments.items() if d.switch_off}
    for year in sorted(years - with_targets - switching):
        add(
            "years",
            f"year {year} has no target for any indicator",
            f"add targets for {year} under 'targets:' or remove {year} from 'years:'",
        )
    for year, deployment in scenario.deployments.items():
        if year not in years:
            add(
                f"deployments.{year}",
                f"{year} is not one of the scenario's years {sorted(years)}",
                f"add {year} to 'years:' (with its targets) or move the deployments",
            )
        for i, tech in enumerate(deployment.switch_off):
            if tech_token(tech) is None:
                add(
                    f"deployments.{year}.switch_off.{i}",
                    f"'{tech}' is not a technology",
                    f"name one of {', '.join(TECHNOLOGIES)} (e.g. switch_off: [2G])",
                )
    seen: set[str] = set()
    for i, stat in enumerate(scenario.statistics):
        if stat.code in seen or stat.code in INDICATORS:
            add(
                f"statistics.{i}.code",
                f"'{stat.code}' is used twice or is a geographic indicator",
                "give each statistic its own code",
            )
        seen.add(stat.code)
        for year in [*stat.targets, *stat.achieved]:
            if year not in years:
                add(
                    f"statistics.{i}.{year}",
                    f"{year} is not one of the scenario's years {sorted(years)}",
                    f"add {year} to 'years:' or remove the value",
                )
    generated = scenario.generated
    if generated is not None:
        if generated.kind == "place" and generated.centre_lonlat is None:
            add("generated.centre_lonlat", "a generated place needs its centre", "add [lon, lat]")
    return problems


def _path_problem(
    key: str, value: str, root: Path, source: str, *, check_files: bool, folder_ok: bool
) -> Problem | None:
    """Check one data path: not absolute, no escape from `root`, a file (or folder) if asked."""
    pure = PureWindowsPath(value) if "\\" in value else PurePosixPath(value)
    absolute = pure.is_absolute() or PureWindowsPath(value).drive != "" or value.startswith("/")
    if absolute:
        return Problem(
            file=source,
            message=f"key '{key}': absolute path '{value}' is not allowed",
            fix="write the path relative to the scenario's folder, or give the data's folder "
            "with hatangso run --data-root DIR",
        )
    if ".." in pure.parts:
        return Problem(
            file=source,
            message=f"key '{key}': path '{value}' leaves the data root",
            fix="move the file into the scenario's folder (or the --data-root) and drop the '..'",
        )
    path = root / value
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a loop of links
        inside = False
    if not inside:
        return Problem(
            file=source,
            message=f"key '{key}': path '{value}' resolves outside the data root",
            fix="do not link out of the data root; copy the file in",
        )
    if check_files and not path.exists():
        return Problem(
            file=source,
            message=f"key '{key}': file '{value}' does not exist",
            fix="correct the path, or put the file there",
        )
    if check_files and not (path.is_file() or (folder_ok and path.is_dir())):
        return Problem(
            file=source,
            message=f"key '{key}': '{value}' is not a regular file",
            fix="name a data file (not a device, a pipe or a folder)",
        )
    return None


def data_paths(scenario: Scenario) -> list[tuple[str, str]]:
    """Every ``(key, path)`` the scenario names: data layers and deployments."""
    out: list[tuple[str, str]] = []
    for kind in (*DATA_KINDS, *DATA_TABLES, *DATA_STREAMS):
        value = getattr(scenario.data, kind)
        if value is not None:
            out.append((f"data.{kind}", value))
    for year, deployment in scenario.deployments.items():
        for kind in (*DEPLOYMENT_KINDS, "plan"):
            for i, value in enumerate(getattr(deployment, kind)):
                out.append((f"deployments.{year}.{kind}.{i}", value))
    return out


def check_paths(scenario: Scenario, root: Path, *, source: str, check_files: bool = True) -> None:
    """Check every path of `scenario` against `root`; raise all faults at once.

    Raises
    ------
    ConfigError
        A path is absolute, leaves `root`, or names a missing file, a device or a FIFO.
    """
    problems = [
        p
        for key, value in data_paths(scenario)
        if (
            p := _path_problem(
                key,
                value,
                root,
                source,
                check_files=check_files,
                # A DEM may be a folder of SRTM tiles.
                folder_ok=key == "data.dem",
            )
        )
    ]
    if problems:
        raise ConfigError(problems)


def resolve(scenario: Scenario, root: Path, value: str) -> Path:
    """Return the path `value` of `scenario` under `root` (checked by :func:`check_paths`)."""
    return root / value


def parse_scenario(
    data: Any,
    *,
    source: str,
    base: Path | None = None,
    check_files: bool = True,
    root: Path | None = None,
    limits: WorkLimits | None = None,
) -> Scenario:
    """Validate a scenario mapping.

    Parameters
    ----------
    data
        The parsed YAML.
    source
        The file's name, for messages.
    base
        The scenario's folder: the data paths are relative to it unless `root` is given;
        the files of the ``model:`` section always are.
    check_files
        Whether named files must exist. Generated scenarios check after generating.
    root
        The data root given on the command line (``--data-root``), if any.
    limits
        The limits on the work its ``model:`` may ask for (the defaults when None).

    Raises
    ------
    InputError
        Every fault found, each naming `source`, the key and the fix.
    """
    if not isinstance(data, dict):
        raise InputError(
            Problem(
                file=source,
                message="a scenario must be a mapping of keys (name, title, data, years, ...)",
                fix=_FIX_SCHEMA,
            )
        )
    problems = _structure_problems(data, source)
    if problems:
        raise InputError(problems)
    limits = limits or WorkLimits()
    scenario = Scenario.model_validate(data).with_limits(limits)
    problems = _semantic_problems(scenario, source, base, limits)
    if problems:
        raise ConfigError(problems)
    if scenario.generated is None:
        check_paths(
            scenario,
            data_root(scenario, base or Path.cwd(), override=root),
            source=source,
            check_files=check_files,
        )
    return scenario


def data_root(scenario: Scenario, base: Path, *, override: Path | None = None) -> Path:
    """Return the folder the data paths are relative to: the `override`, else `base`.

    A scenario file's own ``data_root`` is refused by :func:`parse_scenario`; the root comes
    from the command line (``--data-root``) or the service, never from the file.
    """
    del scenario  # the file has no say
    return Path(override) if override is not None else base


def load_scenario(
    path: str | Path,
    *,
    check_files: bool = True,
    root: Path | None = None,
    limits: WorkLimits | None = None,
) -> Scenario:
    """Read and validate a scenario YAML file.

    Parameters
    ----------
    path
        The scenario file (at most ``MAX_REFERENCED_FILE_BYTES``).
    check_files
        Whether named data files must exist.
    root
        The data root given on the command line (``--data-root``); the file's folder if None.
    limits
        The limits on the work its ``model:`` may ask for (the defaults when None).

    Raises
    ------
    InputError
        The file is missing, is not YAML, or has faults (all reported together).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            Problem(
                file=str(path),
                message="no such scenario file",
                fix="check the path; the shipped scenarios are in scenarios/*.yaml",
            )
        )
    raw = read_limited(
        path, max_bytes=MAX_REFERENCED_FILE_BYTES, key="scenario", source=path.name, shown=path.name
    )
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(yaml_problem(path.name, exc)) from exc
    scenario = parse_scenario(
        data, source=path.name, base=path.parent, check_files=check_files, root=root, limits=limits
    )
    return scenario.model_copy(update={"path": path})
