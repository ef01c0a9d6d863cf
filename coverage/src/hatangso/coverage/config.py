"""The configuration of a coverage run (the contract's YAML), parsed once into pydantic models.

Every key is optional; the defaults are the contract's. Engine functions receive the values
they need explicitly; only the command line and scenario runner read files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hatangso.geo.errors import ConfigError, Problem

__all__ = ["CoverageConfig", "load_config"]

Tech = Literal["4G", "5G"]
Env = Literal["urban", "suburban", "rural"]

DEFAULT_RADIUS_M: dict[str, dict[str, float]] = {
    "4G": {"urban": 1500.0, "suburban": 3000.0, "rural": 5000.0},
    "5G": {"urban": 600.0, "suburban": 1000.0, "rural": 2000.0},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    def _complete_radius(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        merged = {k: dict(v) for k, v in DEFAULT_RADIUS_M.items()}
        for tech, table in value.items():
            if tech not in merged:
                raise ValueError(f"radius_m: unknown technology {tech!r}; use 4G or 5G")
            for env, radius in table.items():
                if env not in merged[tech]:
                    raise ValueError(
                        f"radius_m.{tech}: unknown environment {env!r}; use urban, suburban, rural"
                    )
                if not radius > 0:
                    raise ValueError(f"radius_m.{tech}.{env} must be positive, got {radius}")
                merged[tech][env] = float(radius)
        return merged


class TerrainConfig(_Strict):
    """``terrain:`` section."""

    radius_m: float = Field(10_000.0, gt=0.0, le=100_000.0)
    resolution_m: float = Field(30.0, gt=0.0, le=1000.0)
    method: Literal["los", "itm"] = "los"
    #: Extra loss everywhere for vegetation and buildings around the handset, dB. The terrain
    #: models see only the bare ground; 0 leaves them as optimistic as bare ground is.
    clutter_loss_db: float = Field(0.0, ge=0.0, le=60.0)


class FtthConfig(_Strict):
    """``ftth:`` section."""

    max_distance_m: float = Field(500.0, gt=0.0)


class SamplesConfig(_Strict):
    """``samples:`` section."""

    min_samples: int = Field(30, ge=1)
    min_availability: float = Field(0.95, gt=0.0, le=1.0)


class SharingConfig(_Strict):
    """``sharing:`` section."""

    colocation_tolerance_m: float = Field(30.0, ge=0.0, le=1000.0)


class SitingCostsConfig(_Strict):
    """``siting.costs:`` cost of one site of each candidate kind.

    Costs are in one unit of the user's choosing: relative units by default (a new tower 1.0,
    a tenancy on another operator's tower 0.35 of that), or money (e.g. million VND) when every
    value, and the ``cost`` column of a candidate file, is written in it.
    """

    new_tower: float = Field(1.0, ge=0.0)
    colocation: float = Field(0.35, ge=0.0)


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
    #: What ``--budget`` counts: a number of sites, or the sum of the sites' costs.
    budget_unit: Literal["sites", "cost"] = "sites"
    time_limit_s: float = Field(60.0, gt=0.0)
    mip_rel_gap: float = Field(1e-4, ge=0.0, lt=1.0)
    #: Rounds of repair when the engine's re-check does not confirm villages the solver counted:
    #: each round drops the chosen sites' unconfirmed claims from the matrix and solves again.
    recheck_rounds: int = Field(5, ge=0, le=50)

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
    siting: SitingConfig = Field(default_factory=SitingConfig)
    targets: dict[str, float] = Field(default_factory=dict)

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


def load_config(path: str | Path | None) -> CoverageConfig:
    """Read a configuration YAML file; None gives the contract's defaults.

    Raises
    ------
    ConfigError
        Naming the file, the key and the fix, for every fault at once.
    """
    if path is None:
        return CoverageConfig()
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            Problem(
                file=path.name, message=f"no such file: {path}", fix="check the path of --config"
            )
        )
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(
            Problem(
                file=path.name,
                message=f"is not valid YAML ({exc})",
                fix="check indentation and colons",
            )
        ) from exc
    config = parse_config(data, source=path.name)
    calibration = config.mobile.calibration
    if calibration is not None and not Path(calibration).is_absolute():
        mobile = config.mobile.model_copy(
            update={"calibration": str((path.parent / calibration).resolve())}
        )
        config = config.model_copy(update={"mobile": mobile})
    return config


def parse_config(data: Any, *, source: str) -> CoverageConfig:
    """Validate a configuration mapping; errors name `source` and every bad key."""
    if not isinstance(data, dict):
        raise ConfigError(
            Problem(
                file=source,
                message="the configuration must be a mapping of sections",
                fix="start with e.g. 'mobile:' on its own line",
            )
        )
    try:
        return CoverageConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            [
                Problem(
                    file=source,
                    column=".".join(str(p) for p in error["loc"]),
                    message=error["msg"],
                    fix="see the configuration section of the README for allowed keys and values",
                )
                for error in exc.errors()
            ]
        ) from exc
