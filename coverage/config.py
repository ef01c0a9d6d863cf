"""The configuration of a coverage run (the contract's YAML), parsed once into pydantic models.

Every key is optional; the defaults are the contract's. Engine functions receive the values
they need explicitly; only the command line and scenario runner read files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hatangso.geo.errors import InputError, Problem

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
    InputError
        Naming the file, the key and the fix, for every fault at once.
    """
    if path is None:
        return CoverageConfig()
    path = Path(path)
    if not path.exists():
        raise InputError(
            Problem(
                file=path.name, message=f"no such file: {path}", fix="check the path of --config"
            )
        )
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(
            Problem(
                file=path.name,
                message=f"is not valid YAML ({exc})",
                fix="check indentation and colons",
            )
        ) from exc
    return parse_config(data, source=path.name)


def parse_config(data: Any, *, source: str) -> CoverageConfig:
    """Validate a configuration mapping; errors name `source` and every bad key."""
    if not isinstance(data, dict):
        raise InputError(
            Problem(
                file=source,
                message="the configuration must be a mapping of sections",
                fix="start with e.g. 'mobile:' on its own line",
            )
        )
    try:
        return CoverageConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError(
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
