"""Pydantic models of the service's requests and answers (they make the OpenAPI document)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CoverageRun",
    "ErrorAnswer",
    "Health",
    "Indicator",
    "LayerChange",
    "PlanRequest",
    "RasterReport",
    "Reject",
    "ScenarioOut",
    "Status",
    "UploadReport",
]


class Health(BaseModel):
    """Answer of ``GET /health``.

    ``{"status": "ok"}`` once the service is ready. While it builds a scenario at start-up
    (the demo) it answers too, and the other fields say what it builds and how far.
    """

    status: str = "ok"
    building: str | None = Field(default=None, description="Scenario being built at start-up.")
    step: str | None = Field(default=None, description="The build's step under way.")
    done: int | None = Field(default=None, description="Parts of the step done.")
    total: int | None = Field(default=None, description="Parts of the step in all.")


class ScenarioOut(BaseModel):
    """One scenario known to the service."""

    name: str
    title: str
    ready: bool = Field(description="Whether the scenario has results (kpis.json).")
    source: str = Field(description="demo, uploads or built-in (built on first use).")
    building: dict[str, Any] | None = Field(
        default=None,
        description="While the service builds it at start-up: {step, done, total}.",
    )
    villages: int | None = None
    updated: str | None = None
    links: dict[str, str] = Field(default_factory=dict)


class Status(StrEnum):
    """Coverage status filter of the villages endpoint."""

    uncovered = "uncovered"
    covered = "covered"
    all = "all"


class Units(StrEnum):
    """The admin hierarchy of the KPIs by unit: before or after the reform of 1 July 2025."""

    old = "old"
    new = "new"


class Indicator(StrEnum):
    """Which coverage decides a village's status."""

    mobile = "mobile"
    g5 = "5g"
    ftth = "ftth"


class Reject(BaseModel):
    """A row refused by validation."""

    file: str
    row: int | None
    id: str | None
    reason: str


class LayerChange(BaseModel):
    """What an upload changes (or, on a dry run, would change) in the scenario's layer."""

    rows_now: int = Field(description="Rows of the scenario's layer before the upload (0: none).")
    rows_after: int = Field(description="Rows after it: the upload's clean rows.")
    added: int | None = Field(None, description="Ids that are new (None: the kind has no id).")
    removed: int | None = Field(None, description="Ids the upload no longer has.")
    kept: int | None = Field(None, description="Ids in both.")


class UploadReport(BaseModel):
    """The validation report of an upload."""

    kind: str
    file: str
    counts: dict[str, int] = Field(description="read, used, rejected, repaired")
    rejects: list[Reject]
    notes: list[str]
    stored: str | None = Field(
        description="Where the clean layer is, relative to the scenario (None on a dry run)."
    )
    dry_run: bool = Field(False, description="Whether nothing was stored (?dry_run=true).")
    change: LayerChange | None = Field(None, description="The layer now and after the upload.")
    version: int | None = Field(
        default=None,
        description="The version of the uploaded file now (1 for the first upload of the "
        "layer): the file as received, kept for provenance.",
    )
    replaced: dict[str, Any] | None = Field(
        default=None,
        description="The version this upload replaced: version, file, at (UTC), by (client); "
        "null when the layer had none.",
    )
    record_version: int | None = Field(
        default=None,
        description="The record's version after the upload (before it, on a dry run); also "
        "the ETag. Send it as If-Match with the next upload or edit: refused (409) if a "
        "record it changes has changed since.",
    )
    diff: dict[str, Any] | None = Field(
        default=None,
        description="The upload as a change set of the record: counts (add, update, retire), "
        "mode, ok, problems (every row that refuses it) and rows ({id, action, row, changed, "
        "before, after}).",
    )


class RasterReport(BaseModel):
    """The check of an uploaded raster (a DEM or a population grid)."""

    kind: str = Field(description="dem or population")
    file: str
    crs: str
    width: int = Field(description="Pixels across.")
    height: int = Field(description="Pixels down.")
    resolution: tuple[float, float] = Field(description="Cell size (x, y) in the CRS's units.")
    bounds_wgs84: tuple[float, float, float, float] = Field(
        description="(west, south, east, north) in degrees."
    )
    nodata: float | None
    value_range: tuple[float, float] | None = Field(
        description="Smallest and largest value (of a decimated read)."
    )
    notes: list[str]
    replaces: str | None = Field(description="The raster the scenario used before, if any.")
    stored: str | None = Field(
        description="Where the raster is, relative to the scenario (None on a dry run)."
    )
    dry_run: bool = False


class CoverageRun(BaseModel):
    """Answer of a coverage run."""

    name: str
    files: list[str]
    indicators: list[dict[str, Any]]
    notes: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="The configuration used: the scenario's, with the request's keys over it.",
    )
    config_source: str = Field(
        "", description="Where the scenario's configuration came from (its file, its last run)."
    )
    model: str | None = Field(None, description="The mobile coverage model that ran.")
    rule: str | None = Field(None, description="The village coverage rule applied.")
    run: str | None = Field(default=None, description="Id of the run (``run`` in kpis.json).")
    stale: bool = Field(
        default=False,
        description="An input layer was replaced while the run read it: the results are "
        "published, but describe the layers as they were; run again for the new ones.",
    )
    changed: dict[str, Any] = Field(
        default_factory=dict,
        description="Per replaced layer: the version read, the version now, by whom and when.",
    )
    record_version: int | None = Field(
        default=None,
        description="The record's version (change number) the run read; None when the "
        "record has no change and the run read the scenario's files.",
    )


class PlanRequest(BaseModel):
    """A request for new sites of one operator (as ``hatangso plan`` takes it)."""

    model_config = ConfigDict(extra="forbid")

    operator: str = Field(min_length=1, max_length=40, description="Operator to plan for.")
    budget: float | None = Field(
        default=None, gt=0, le=10_000, description="Sites to build (or money, per siting)."
    )
    target: float | None = Field(
        default=None, gt=0, le=1, description="Share of the dark villages to cover."
    )
    scope: str = Field(
        default="any",
        pattern="^(any|own)$",
        description="Villages no operator covers (any) or the operator does not cover (own).",
    )
    method: str = Field(default="milp", pattern="^(milp|greedy)$", description="Solver.")
    tech: str = Field(
        default="4G", pattern="^(4G|5G)$", description="Plan for villages without 4G or 5G."
    )
    weight: str | None = Field(
        default=None,
        pattern="^(villages|population)$",
        description="What a dark village weighs (siting.weight when absent).",
    )
    config: dict[str, Any] | None = Field(
        default=None, description="Configuration keys (e.g. siting costs), all optional."
    )

    @model_validator(mode="after")
    def _one_goal(self) -> PlanRequest:
        if (self.budget is None) == (self.target is None):
            raise ValueError("give exactly one of budget and target")
        return self


class ErrorAnswer(BaseModel):
    """Answer of a refused request."""

    detail: str
    problems: list[dict[str, Any]] = Field(default_factory=list)
