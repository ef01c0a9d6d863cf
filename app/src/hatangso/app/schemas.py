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
    "PlanRequest",
    "Reject",
    "ScenarioOut",
    "Status",
    "UploadReport",
]


class Health(BaseModel):
    """Answer of ``GET /health``.

    ``{"status": "ok"}`` once the service is ready. While it builds a scenario at start-up
    (the demo), ``status`` is ``starting`` and the other fields say what it builds and how far.
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


class UploadReport(BaseModel):
    """The validation report of an upload."""

    kind: str
    file: str
    counts: dict[str, int] = Field(description="read, used, rejected, repaired")
    rejects: list[Reject]
    notes: list[str]
    stored: str = Field(description="Where the clean layer is, relative to the scenario.")


class CoverageRun(BaseModel):
    """Answer of a coverage run."""

    name: str
    files: list[str]
    indicators: list[dict[str, Any]]
    notes: list[str] = Field(default_factory=list)


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
