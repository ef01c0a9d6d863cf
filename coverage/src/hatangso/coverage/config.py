"""The configuration of a coverage run (the contract's YAML), parsed once into pydantic models.

Every key is optional; the defaults are the contract's. Engine functions receive the values
they need explicitly; only the command line and scenario runner read files.

Every parameter that scales the work (radii, cell size, candidates, solver time) is held to a
limit of :class:`hatangso.geo.limits.WorkLimits` while the configuration is validated: the
module's defaults, or those passed as ``context={"limits": ...}`` to ``model_validate`` (as
:func:`parse_config` does). The validated configuration keeps them (:attr:`CoverageConfig.limits`)
for the checks made when the data are known (sites x cells of the terrain model) and the cap
of the terrain cache.

Files the configuration names (``mobile.calibration``, ``siting.exclusion``) are confined to a
base folder given to :func:`parse_config` (a configuration file's own folder; the scenario's
uploaded files in the service); without one, naming a file is an error.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hatangso.coverage.radio import DEFAULT_RADIUS_M as _RADIO_RADIUS_M
from hatangso.geo.carrier import NR_TDD_DOWNLINK_SHARE
from hatangso.geo.confine import confined_file, read_limited
from hatangso.geo.errors import ConfigError, Problem, yaml_problem
from hatangso.geo.limits import WorkLimits

__all__ = ["CoverageConfig", "load_config", "parse_config"]

Tech = Literal["4G", "5G"]
Env = Literal["urban", "suburban", "rural"]

#: ``mobile.radius_m`` by default: :data:`hatangso.coverage.radio.DEFAULT_RADIUS_M` (2G, 3G,
#: 4G, 5G; NB-IoT and LTE-M follow 4G's entry by their coverage enhancement).
DEFAULT_RADIUS_M: dict[str, dict[str, float]] = {
    tech: dict(by_env) for tech, by_env in _RADIO_RADIUS_M.items()
}


class _Strict(BaseModel):
    # NaN and infinity are refused everywhere: a NaN passes no comparison, so it would slip
    # through every bound below.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _limits(info: ValidationInfo) -> WorkLimits:
    """Return the limits given as validation context, else the defaults."""
    context = info.context
    limits = context.get("limits") if isinstance(context, dict) else None
    return limits if isinstance(limits, WorkLimits) else WorkLimits()


def _over(key: str, value: float, limit: float, name: str, unit: str = "") -> str:
    return (
        f"{key} = {value:g}{unit} is above the limit of {limit:g}{unit}; lower it "
        f"(or raise the limit with the setting {WorkLimits.setting(name)})"
    )


class MobileConfig(_Strict):
    """``mobile:`` section."""

    model: Literal["radius", "hata", "terrain"] = "radius"
    rule: Literal["point", "area", "population", "official"] = "point"
    min_share: float = Field(0.5, gt=0.0, le=1.0)
    threshold_dbm: float = Field(-110.0, ge=-160.0, le=-30.0)
    radius_m: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_RADIUS_M.items()}
    )
    #: A ``calibration.json`` written by ``hatangso calibrate``, applied to the ``hata``
    #: model's power and reach (relative paths are read from the configuration file's folder).
    calibration: str | None = None

    @field_validator("radius_m")
    @classmethod
    def _complete_radius(
        cls, value: dict[str, dict[str, float]], info: ValidationInfo
    ) -> dict[str, dict[str, float]]:
        limit = _limits(info).max_terrain_radius_m
        merged = {k: dict(v) for k, v in DEFAULT_RADIUS_M.items()}
        for tech, table in value.items():
            if tech not in merged:
                raise ValueError(
                    f"radius_m: unknown technology {tech!r}; use 2G, 3G, 4G or 5G (NB-IoT and "
                    "LTE-M reach follows 4G's by their coverage enhancement)"
                )
            for env, radius in table.items():
                if env not in merged[tech]:
                    raise ValueError(
                        f"radius_m.{tech}: unknown environment {env!r}; use urban, suburban, rural"
                    )
                if not radius > 0:
                    raise ValueError(f"radius_m.{tech}.{env} must be positive, got {radius}")
                if radius > limit:
                    key = f"mobile.radius_m.{tech}.{env}"
                    raise ValueError(_over(key, radius, limit, "max_terrain_radius_m", " m"))
                merged[tech][env] = float(radius)
        return merged


class TerrainConfig(_Strict):
    """``terrain:`` section."""

    radius_m: float = Field(10_000.0, gt=0.0)
    resolution_m: float = Field(30.0, gt=0.0, le=1000.0)
    method: Literal["los", "itm"] = "los"
    #: Extra loss everywhere for vegetation and buildings around the handset, dB. The terrain
    #: models see only the bare ground; 0 leaves them as optimistic as bare ground is.
    clutter_loss_db: float = Field(0.0, ge=0.0, le=60.0)

    def cells_per_site(self) -> int:
        """Cells of one site's square window at ``resolution_m``, the bound of its work.

        Examples
        --------
        >>> TerrainConfig(radius_m=3000, resolution_m=30).cells_per_site()
        40401
        """
        side = 2 * math.ceil(self.radius_m / self.resolution_m) + 1
        return side * side

    @field_validator("radius_m")
    @classmethod
    def _radius_limit(cls, value: float, info: ValidationInfo) -> float:
        limit = _limits(info).max_terrain_radius_m
        if value > limit:
            raise ValueError(_over("terrain.radius_m", value, limit, "max_terrain_radius_m", " m"))
        return value

    @field_validator("resolution_m")
    @classmethod
    def _resolution_limit(cls, value: float, info: ValidationInfo) -> float:
        limit = _limits(info).min_terrain_resolution_m
        if value < limit:
            raise ValueError(
                f"terrain.resolution_m = {value:g} m is below the limit of {limit:g} m; raise "
                f"it (or lower the limit with the setting "
                f"{WorkLimits.setting('min_terrain_resolution_m')})"
            )
        return value

    @model_validator(mode="after")
    def _window_limit(self, info: ValidationInfo) -> TerrainConfig:
        limit = _limits(info).max_terrain_cells_per_site
        cells = self.cells_per_site()
        if cells > limit:
            raise ValueError(
                f"terrain.radius_m = {self.radius_m:g} m at terrain.resolution_m = "
                f"{self.resolution_m:g} m gives {cells:,} cells per site, above the limit of "
                f"{limit:,}; lower the radius or coarsen the resolution (or raise the limit "
                f"with the setting {WorkLimits.setting('max_terrain_cells_per_site')})"
            )
        return self


class FtthConfig(_Strict):
    """``ftth:`` section."""

    max_distance_m: float = Field(500.0, gt=0.0, le=50_000.0)


class SamplesConfig(_Strict):
    """``samples:`` section."""

    min_samples: int = Field(30, ge=1)
    min_availability: float = Field(0.95, gt=0.0, le=1.0)


class ChallengesConfig(_Strict):
    """``challenges:`` section: the rules of a challenge to a village's status.

    After the FCC's Broadband Data Collection (47 CFR § 1.7006): the operator concerned
    answers within ``response_days`` of the filing (60 days there), and measurement
    evidence counts only the samples taken outdoors, between ``hours`` local time, in the
    ``window_months`` before the filing, of the challenged operator and technology, in the
    village; at least ``min_samples`` of them must remain.
    """

    response_days: int = Field(60, ge=1, le=365)
    min_samples: int = Field(30, ge=1, le=100_000)
    window_months: int = Field(12, ge=1, le=120)
    outdoors: bool = True
    hours: tuple[int, int] = (6, 22)
    point_radius_m: float = Field(500.0, gt=0.0, le=10_000.0)
    max_samples: int = Field(10_000, ge=1, le=1_000_000)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: tuple[int, int]) -> tuple[int, int]:
        start, end = value
        if not 0 <= start < end <= 24:
            raise ValueError(f"hours {list(value)}: give [start, end] with 0 <= start < end <= 24")
        return value


class IotConfig(_Strict):
    """``iot:`` section: when an IoT zone (industrial park, production zone) counts as covered.

    A zone drawn as a polygon counts when at least `area_share` of its area lies within the
    reach of a site offering NB-IoT or LTE-M; a zone given as a point counts when the point
    is within reach.

    The default, one half, is the village ``area`` rule's (``mobile.min_share``): a zone
    counts when most of it is served, so that one corner clipped by a distant site does not
    count a park and a gap at one edge of a well-served park does not uncount it. A plan
    that means "every plot of the park" sets 1.0.

    Examples
    --------
    >>> IotConfig().area_share
    0.5
    """

    area_share: float = Field(0.5, gt=0.0, le=1.0)


class SpeedConfig(_Strict):
    """``speed:`` section: when the villages' downlink is predicted (module speed).

    The prediction pairs every village with every co-channel carrier within 15 km: a
    province's few thousand villages take a second or two, a national run of 100,000 villages
    and 120,000 sites about forty seconds, longer than the rest of the job together. So with
    ``predict: auto`` (the default) it runs for up to `auto_max_villages` villages and is
    left out above, saying so in ``kpis.json``'s notes; ``always`` and ``never`` decide
    whatever the size. The communes' measured speeds do not depend on it.

    ``tdd_downlink_share_5g`` is the share of a 5G (TDD) carrier's time that carries the
    downlink: a village's predicted 5G throughput is the carrier's attenuated Shannon figure
    times it. The default, 52/70 = 0.743, is the ``DDDSU`` frame with a 10:2:2 special slot
    (:data:`hatangso.geo.carrier.NR_TDD_DOWNLINK_SHARE`); an operator on ``DDDDDDDSUU``
    with a 6:4:4 special slot has ``(7 x 14 + 6) / 140 = 0.743`` too. 4G carriers (FDD)
    keep the whole time.

    Examples
    --------
    >>> SpeedConfig().predicts(1300), SpeedConfig().predicts(100_000)
    (True, False)
    >>> SpeedConfig(predict="always").predicts(100_000)
    True
    """

    predict: Literal["auto", "always", "never"] = "auto"
    auto_max_villages: int = Field(20_000, ge=0)
    tdd_downlink_share_5g: float = Field(NR_TDD_DOWNLINK_SHARE, gt=0.0, le=1.0)

    def predicts(self, n_villages: int) -> bool:
        """Return whether a run of `n_villages` villages predicts their downlink."""
        if self.predict == "auto":
            return n_villages <= self.auto_max_villages
        return self.predict == "always"


class SharingConfig(_Strict):
    """``sharing:`` section."""

    colocation_tolerance_m: float = Field(30.0, ge=0.0, le=1000.0)


class RegistryConfig(_Strict):
    """``registry:`` section: the mast registry's checks and the commitments' report date.

    Examples
    --------
    >>> RegistryConfig().share_distance_m
    100.0
    """

    #: The day commitments are judged on and permits checked against; None: the run's own
    #: date (today for ``coverage``; 31 December of the year for a scenario's year).
    report_date: date | None = None
    #: Masts of different owners closer than this (m) are reported as candidates to share.
    share_distance_m: float = Field(100.0, gt=0.0, le=5000.0)
    #: How long a mast's permit runs from its ``permit_date``, in years.
    permit_valid_years: float = Field(5.0, gt=0.0, le=100.0)
    #: A permit ending within this many days of the report date is expiring.
    permit_expiring_days: int = Field(180, ge=0, le=3650)


class SitingCostsConfig(_Strict):
    """``siting.costs:`` cost of one site of each candidate kind.

    Costs are in one unit of the user's choosing: relative units by default (a new tower 1.0,
    a tenancy on another operator's tower 0.35 of that), or money (e.g. million VND) when every
    value, and the ``cost`` column of a candidate file, is written in it.
    """

    new_tower: float = Field(1.0, ge=0.0)
    colocation: float = Field(0.35, ge=0.0)
    #: A carrier the operator adds on a tower it already stands on (e.g. a 3.5 GHz 5G radio
    #: beside its 4G): radio and antennas, no civil works and no rent. It must cost less than a
    #: new tower, so that a plan upgrades the operator's own towers before it builds.
    upgrade: float = Field(0.2, ge=0.0)

    @model_validator(mode="after")
    def _upgrade_cheaper(self) -> SitingCostsConfig:
        if not self.upgrade < self.new_tower:
            raise ValueError(
                f"costs.upgrade ({self.upgrade:g}) must be less than costs.new_tower "
                f"({self.new_tower:g}): a carrier on an existing tower costs less than a new site"
            )
        return self


class SitingConfig(_Strict):
    """``siting:`` section: candidate sites and the solver of ``hatangso plan``.

    Examples
    --------
    >>> SitingConfig().costs.colocation
    0.35
    """

    costs: SitingCostsConfig = Field(default_factory=SitingCostsConfig)
    #: Candidates closer than this (m) are one candidate (the cheaper kind stays).
    candidate_spacing_m: float = Field(100.0, ge=0.0, le=10_000.0)
    #: How far (m) from an uncovered village DEM high points are searched.
    high_point_radius_m: float = Field(3000.0, gt=0.0, le=50_000.0)
    #: Side (m) of the window in which a DEM cell must be the highest to be a high point.
    high_point_window_m: float = Field(500.0, gt=0.0, le=20_000.0)
    #: Most candidates kept for the solver (those covering the most demand weight).
    max_candidates: int = Field(5000, ge=1)
    #: Polygons (any vector file) inside which no site may be planned.
    exclusion: Path | None = None
    #: Antenna height (m), technology and environment of a new site.
    height_m: float = Field(30.0, gt=0.0, le=300.0)
    tech: str = "4G"
    env: Env = "rural"
    #: What a village weighs: 1 each, or its ``population``.
    weight: Literal["villages", "population"] = "villages"
    #: What ``--target`` is a share of: the demand (the villages of the scope still dark), or
    #: all villages (or people) of the province, those covered today included. None: ``all``
    #: for a 5G plan (the plans' 5G targets are shares of the whole population), ``demand``
    #: for 4G.
    target_of: Literal["demand", "all"] | None = None
    #: What ``--budget`` counts: a number of sites, or the sum of the sites' costs.
    budget_unit: Literal["sites", "cost"] = "sites"
    time_limit_s: float = Field(60.0, gt=0.0)
    mip_rel_gap: float = Field(1e-4, ge=0.0, lt=1.0)
    #: Rounds of repair when the engine's re-check does not confirm villages the solver counted:
    #: each round drops the chosen sites' unconfirmed claims from the matrix and solves again.
    recheck_rounds: int = Field(5, ge=0, le=50)

    @field_validator("max_candidates")
    @classmethod
    def _candidates_limit(cls, value: int, info: ValidationInfo) -> int:
        limit = _limits(info).max_candidates
        if value > limit:
            raise ValueError(_over("siting.max_candidates", value, limit, "max_candidates"))
        return value

    @field_validator("time_limit_s")
    @classmethod
    def _time_limit(cls, value: float, info: ValidationInfo) -> float:
        limit = _limits(info).max_solver_time_s
        if value > limit:
            raise ValueError(_over("siting.time_limit_s", value, limit, "max_solver_time_s", " s"))
        return value

    @field_validator("tech")
    @classmethod
    def _known_tech(cls, value: str) -> str:
        parts = [p.strip() for p in value.split(";") if p.strip()]
        if not parts or any(p not in ("4G", "5G") for p in parts):
            raise ValueError(f"tech {value!r}: use 4G, 5G or 4G;5G")
        return ";".join(parts)


class CoverageConfig(_Strict):
    """The whole configuration file.

    Examples
    --------
    >>> CoverageConfig().mobile.radius_m["4G"]["rural"]
    5000.0
    >>> CoverageConfig.model_validate({"mobile": {"rule": "area"}}).mobile.min_share
    0.5
    """

    mobile: MobileConfig = Field(default_factory=MobileConfig)
    terrain: TerrainConfig = Field(default_factory=TerrainConfig)
    ftth: FtthConfig = Field(default_factory=FtthConfig)
    samples: SamplesConfig = Field(default_factory=SamplesConfig)
    sharing: SharingConfig = Field(default_factory=SharingConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    siting: SitingConfig = Field(default_factory=SitingConfig)
    challenges: ChallengesConfig = Field(default_factory=ChallengesConfig)
    iot: IotConfig = Field(default_factory=IotConfig)
    speed: SpeedConfig = Field(default_factory=SpeedConfig)
    targets: dict[str, float] = Field(default_factory=dict)
    _limits: WorkLimits = PrivateAttr(default_factory=WorkLimits)

    @property
    def limits(self) -> WorkLimits:
        """The limits this configuration was validated against."""
        return self._limits

    @model_validator(mode="after")
    def _keep_limits(self, info: ValidationInfo) -> CoverageConfig:
        self._limits = _limits(info)
        return self

    def files(self) -> dict[str, str]:
        """Return the files the configuration names, by key (``mobile.calibration``, ...)."""
        named = {
            "mobile.calibration": self.mobile.calibration,
            "siting.exclusion": self.siting.exclusion,
        }
        return {key: str(value) for key, value in named.items() if value is not None}

    @field_validator("targets")
    @classmethod
    def _known_targets(cls, value: dict[str, float]) -> dict[str, float]:
        from hatangso.coverage.kpis import INDICATORS

        for code, target in value.items():
            if code not in INDICATORS:
                raise ValueError(f"unknown indicator '{code}'; known: {', '.join(INDICATORS)}")
            if not 0.0 <= target <= 1.0:
                raise ValueError(f"target of {code} must be a share in [0, 1], got {target}")
        return value


def load_config(path: str | Path | None, *, limits: WorkLimits | None = None) -> CoverageConfig:
    """Read a configuration YAML file; None gives the contract's defaults.

    The files the configuration names are confined to the file's folder (see
    :func:`parse_config`).

    Parameters
    ----------
    path
        The YAML file, or None.
    limits
        The limits on the work the configuration may ask for (the defaults when None).

    Raises
    ------
    ConfigError
        Naming the file, the key and the fix, for every fault at once.
    """
    limits = limits or WorkLimits()
    if path is None:
        return CoverageConfig.model_validate({}, context={"limits": limits})
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            Problem(
                file=path.name, message=f"no such file: {path}", fix="check the path of --config"
            )
        )
    raw = read_limited(
        path,
        max_bytes=limits.max_referenced_file_bytes,
        key="--config",
        source=path.name,
        shown=str(path),
    )
    import yaml  # only a configuration file needs it (a twentieth of a second to load)

    try:
        data: Any = yaml.safe_load(raw.decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(yaml_problem(path.name, exc)) from exc
    return parse_config(
        data,
        source=path.name,
        base=path.parent,
        where="the configuration file's folder",
        limits=limits,
    )


def _problems(exc: ValidationError, source: str, prefix: str = "") -> list[Problem]:
    return [
        Problem(
            file=source,
            column=prefix + ".".join(str(p) for p in error["loc"]),
            message=error["msg"].removeprefix("Value error, "),
            fix="see the configuration section of the README for allowed keys and values",
        )
        for error in exc.errors()
    ]


def parse_config(
    data: Any,
    *,
    source: str,
    base: Path | None = None,
    where: str = "the configuration file's folder",
    plain_names: bool = False,
    limits: WorkLimits | None = None,
    key_prefix: str = "",
) -> CoverageConfig:
    """Validate a configuration mapping; errors name `source` and every bad key.

    Parameters
    ----------
    data
        The parsed YAML (or JSON body).
    source
        The configuration's name, for messages.
    base
        The folder the files the configuration names must be in; they are returned resolved
        (absolute). None: the configuration may name no file.
    where
        How messages describe `base`.
    plain_names
        Files are given by name alone, no folders (the service's uploaded files).
    limits
        The limits on the work it may ask for (the defaults when None).
    key_prefix
        Put before every key in messages (``model.`` for a scenario's model section).

    Returns
    -------
    CoverageConfig

    Raises
    ------
    ConfigError
        Every fault at once: an unknown key, a value out of range, NaN or infinite, above a
        work limit; a named file outside `base`, missing, not a regular file.
    """
    if not isinstance(data, dict):
        raise ConfigError(
            Problem(
                file=source,
                message="the configuration must be a mapping of sections",
                fix="start with e.g. 'mobile:' on its own line",
            )
        )
    limits = limits or WorkLimits()
    try:
        config = CoverageConfig.model_validate(data, context={"limits": limits})
    except ValidationError as exc:
        raise ConfigError(_problems(exc, source, key_prefix)) from exc
    named = config.files()
    if not named:
        return config
    problems: list[Problem] = []
    resolved: dict[str, Path] = {}
    for key, value in named.items():
        if base is None:
            problems.append(
                Problem(
                    file=source,
                    column=key_prefix + key,
                    message=f"names the file '{value}', but this configuration has no folder "
                    "to read files from",
                    fix="give the configuration as a file, with the named file beside it",
                )
            )
            continue
        try:
            resolved[key] = confined_file(
                value,
                base,
                key=key_prefix + key,
                source=source,
                where=where,
                plain_name=plain_names,
            )
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    mobile, siting = config.mobile, config.siting
    if "mobile.calibration" in resolved:
        mobile = mobile.model_copy(update={"calibration": str(resolved["mobile.calibration"])})
    if "siting.exclusion" in resolved:
        siting = siting.model_copy(update={"exclusion": resolved["siting.exclusion"]})
    return config.model_copy(update={"mobile": mobile, "siting": siting})
