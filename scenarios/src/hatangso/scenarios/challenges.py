"""Challenges to a village's status: filed, answered by the operator concerned, decided.

The process follows the challenge process of the FCC's Broadband Data Collection (47 CFR
§ 1.7006): a challenger files a challenge with its evidence; the provider concerned is told and
answers within 60 days, conceding or disputing with evidence of its own; the Commission then
decides. Here:

1. **file** — an official, or an operator about *another* operator's service (an operator puts
   its own status right with its declarations and samples, not by challenging itself), says
   that operator's ``tech`` service in a village is ``covered`` or ``not_covered``, with
   evidence: measurement samples, or a document. The challenge is ``open``; its answer is
   ``due`` ``response_days`` later.
2. **answer** — the operator concerned, and only it, concedes or disputes by the due date
   (disputing needs evidence). The challenge is ``answered``.
3. **decide** — an official (or the administrator) holds the claim ``upheld`` or
   ``rejected``: once answered, or once the due date has passed without an answer. The
   challenge is ``decided``. An operator never decides.

Each challenge is a record of kind ``challenges`` in the scenario's store: filing adds it,
answering and deciding edit it, so every step is a change with its user in the record's
history. The next coverage run puts each village with an upheld challenge on that decision
(:func:`apply_decisions`: ``mobile_basis`` ``challenge`` and the challenges' ids).

Evidence rules
--------------
Measurement evidence counts only the samples that pass every rule (all configurable in the
``challenges:`` section of a configuration or scenario file,
:class:`hatangso.coverage.config.ChallengesConfig`):

``readable``
    the row passes the samples' own checks (coordinates, ``rsrp_dbm``, operator, tech);
``operator_tech``
    of the challenged operator and technology;
``in_village``
    inside the village (within ``point_radius_m`` of a village given as a point);
``recent``
    taken in the ``window_months`` before the filing (not after it);
``outdoors``
    taken outdoors (an ``outdoor`` column true, or ``indoor`` false), when ``outdoors`` is set;
``hours``
    taken between ``hours`` (local time, Asia/Ho_Chi_Minh; 06:00-22:00 by default).

``min_samples`` fails when fewer than ``min_samples`` samples pass them all. A document is
evidence when its text (a reference, a file name) is not blank: rule ``document``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from hatangso.coverage.config import ChallengesConfig
from hatangso.coverage.kpis import village_indicators
from hatangso.geo.errors import ConflictError, ForbiddenError, InputError, NotFoundError, Problem
from hatangso.geo.io import RawTable
from hatangso.geo.store import Record, RecordStore

__all__ = [
    "CLAIMS",
    "DECIDED_CODES",
    "DECISIONS",
    "KIND",
    "POSITIONS",
    "RULES",
    "STATUSES",
    "TECHS",
    "EvidenceCheck",
    "Party",
    "answer_challenge",
    "apply_decisions",
    "check_document",
    "check_samples",
    "decide_challenge",
    "file_challenge",
    "kpis_block",
    "list_challenges",
    "read_challenges",
    "recount",
]

log = logging.getLogger(__name__)

#: The store's kind of the challenges.
KIND = "challenges"
#: What a challenge may say of an operator's service in a village.
CLAIMS = ("covered", "not_covered")
#: A challenge's steps.
STATUSES = ("open", "answered", "decided")
#: An official's decisions.
DECISIONS = ("upheld", "rejected")
#: An operator's answers.
POSITIONS = ("concede", "dispute")
#: The technologies whose village status a challenge may dispute.
TECHS = ("4G", "5G")
#: The evidence rules, by name, in the order they are checked.
RULES = ("readable", "operator_tech", "in_village", "recent", "outdoors", "hours", "min_samples")
#: The time zone of the samples' hours and of the due dates.
TIMEZONE = "Asia/Ho_Chi_Minh"

_ZONE = ZoneInfo(TIMEZONE)
_ID = re.compile(r"^CH-(\d+)$")
_OFFSET = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")
_TRUE = ("true", "1", "yes", "y", "co", "có", "x", "outdoor", "outdoors", "ngoai troi")
_EARTH_RADIUS_M = 6_371_008.8
_MAX_DOCUMENT = 2000


class Party(Protocol):
    """Who acts: the service's :class:`~hatangso.app.auth.Principal` or the command line's."""

    @property
    def name(self) -> str:
        """The user's name (the store's actor)."""
        ...

    @property
    def role(self) -> str:
        """``admin``, ``official``, ``operator`` or ``viewer``."""
        ...

    @property
    def operator(self) -> str | None:
        """An operator's own operator."""
        ...

    @property
    def province(self) -> str | None:
        """An official's province (None: any)."""
        ...


@dataclass(frozen=True)
class EvidenceCheck:
    """The evidence rules applied to one challenge's (or answer's) evidence.

    Attributes
    ----------
    kind
        ``samples`` or ``document``.
    given
        Samples given (0 for a document).
    valid
        Samples passing every rule.
    failing
        Rule name to the number of samples failing it (0 for rules all pass).
    failed
        The rules that failed: those some sample fails, and ``min_samples`` (or
        ``document``) when the evidence falls short.
    ok
        Whether the evidence is enough.
    availability
        Share of the valid samples at or above the threshold (None without valid samples).
    samples
        The valid samples (``lon``, ``lat``, ``rsrp_dbm``, ``time`` in UTC), kept with the
        challenge; None for a document.
    """

    kind: Literal["samples", "document"]
    given: int
    valid: int
    failing: Mapping[str, int]
    failed: tuple[str, ...]
    ok: bool
    availability: float | None = None
    samples: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def summary(self) -> dict[str, Any]:
        """Return the check as plain values (kept with the challenge)."""
        return {
            "kind": self.kind,
            "given": self.given,
            "valid": self.valid,
            "failed": list(self.failed),
            "failing": {k: v for k, v in self.failing.items() if v},
            "ok": self.ok,
            "availability": None if self.availability is None else round(self.availability, 4),
        }


# --------------------------------------------------------------------------------------------
# Evidence
# --------------------------------------------------------------------------------------------


def check_document(document: str | None) -> EvidenceCheck:
    """Check a document given as evidence: a reference or file name, not blank.

    Examples
    --------
    >>> check_document("Biên bản đo kiểm 12/2026").ok
    True
    >>> check_document("  ").failed
    ('document',)
    """
    text = (document or "").strip()
    ok = 0 < len(text) <= _MAX_DOCUMENT
    return EvidenceCheck(
        kind="document",
        given=0,
        valid=0,
        failing={},
        failed=() if ok else ("document",),
        ok=ok,
    )


def _local_times(values: pd.Series) -> pd.Series:
    """Parse sample times (ISO 8601; without an offset: local time) as UTC; NaT if unreadable."""
    text = values.astype("string").str.strip().fillna("")
    naive = ~text.str.contains(_OFFSET, regex=True) & (text != "")
    text = text.mask(naive, text + "+07:00")
    text = text.mask(text == "", None)
    parsed: pd.Series = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    return parsed


def _truthy(values: pd.Series) -> npt.NDArray[np.bool_]:
    folded = values.astype("string").str.strip().str.lower().fillna("")
    return np.asarray(folded.isin(_TRUE).to_numpy(dtype=bool), dtype=bool)


def _in_village(
    village: shapely.Geometry,
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    radius_m: float,
) -> npt.NDArray[np.bool_]:
    """Whether each point is in the village (a polygon), or within `radius_m` of it (a point)."""
    if shapely.get_type_id(village) in (3, 6):
        return np.asarray(shapely.intersects_xy(village, lon, lat), dtype=bool)
    centre = shapely.centroid(village)
    lon0, lat0 = np.radians(shapely.get_x(centre)), np.radians(shapely.get_y(centre))
    phi, lam = np.radians(lat), np.radians(lon)
    h = np.sin((phi - lat0) / 2) ** 2 + np.cos(lat0) * np.cos(phi) * np.sin((lam - lon0) / 2) ** 2
    distance = 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return np.asarray(distance <= radius_m, dtype=bool)


def check_samples(
    samples: pd.DataFrame,
    village: shapely.Geometry,
    *,
    operator: str,
    tech: str,
    filed_at: datetime,
    rules: ChallengesConfig,
    threshold_dbm: float = -110.0,
) -> EvidenceCheck:
    """Apply the evidence rules to measurement samples given for one challenge.

    Parameters
    ----------
    samples
        One row per sample in the samples' format: ``lon``/``lat`` (or a geometry),
        ``operator``, ``tech``, ``rsrp_dbm``, ``time`` (ISO 8601; local time without an
        offset) and ``outdoor`` (yes/no) or ``indoor``.
    village
        The village's geometry (EPSG:4326).
    operator, tech
        The challenged operator and technology.
    filed_at
        When the challenge is filed (timezone-aware): the end of the ``recent`` window.
    rules
        The rules' parameters.
    threshold_dbm
        The level of a covered sample, for the availability shown.

    Returns
    -------
    EvidenceCheck
        ``ok`` when at least ``rules.min_samples`` samples pass every rule of :data:`RULES`;
        ``failing`` counts the samples failing each rule.

    Raises
    ------
    InputError
        If the samples lack a required column, or are more than ``rules.max_samples``.
    """
    from hatangso.geo.validate import validate_table

    if len(samples) > rules.max_samples:
        raise InputError(
            Problem(
                file="evidence",
                message=f"{len(samples):,} samples are more than the {rules.max_samples:,} "
                "a challenge takes",
                fix="give the samples of the village only, or raise challenges.max_samples",
            )
        )
    frame = pd.DataFrame(samples).reset_index(drop=True)
    has_geometry = isinstance(frame, gpd.GeoDataFrame)
    layer = validate_table(
        RawTable(frame=frame, name="evidence", encoding=None, has_geometry=has_geometry), "samples"
    )
    clean = layer.frame
    given = len(frame)
    readable = np.zeros(given, dtype=bool)
    readable[clean["source_row"].to_numpy(dtype=np.int64) - 1] = True
    n = len(clean)
    ops = clean["operator"].astype("string").fillna("")
    techs = ";" + clean["tech"].astype("string").fillna("") + ";"
    op_tech = (ops == operator).to_numpy(dtype=bool) & techs.str.contains(
        f";{tech};", regex=False
    ).to_numpy(dtype=bool)
    geoms = np.asarray(clean.geometry.array, dtype=object) if n else np.empty(0, dtype=object)
    lon = shapely.get_x(geoms).astype(float) if n else np.empty(0)
    lat = shapely.get_y(geoms).astype(float) if n else np.empty(0)
    inside = _in_village(village, lon, lat, rules.point_radius_m)
    times = (
        _local_times(clean["time"])
        if "time" in clean
        else pd.Series(pd.NaT, index=clean.index, dtype="datetime64[ns, UTC]")
    )
    end = pd.Timestamp(filed_at).tz_convert("UTC")
    start = end - pd.DateOffset(months=rules.window_months)
    known = times.notna().to_numpy(dtype=bool)
    recent = known & ((times >= start) & (times <= end)).fillna(False).to_numpy(dtype=bool)
    local = times.dt.tz_convert(TIMEZONE)
    minutes = (local.dt.hour * 60 + local.dt.minute).to_numpy(dtype=float, na_value=np.nan)
    start_h, end_h = rules.hours
    in_hours = known & (minutes >= start_h * 60) & (minutes < end_h * 60)
    if not rules.outdoors:
        outdoors = np.ones(n, dtype=bool)
    elif "outdoor" in clean:
        outdoors = _truthy(clean["outdoor"])
    elif "indoor" in clean:
        indoor = clean["indoor"].astype("string").str.strip().fillna("")
        outdoors = ~_truthy(clean["indoor"]) & (indoor != "").to_numpy(dtype=bool)
    else:
        outdoors = np.zeros(n, dtype=bool)
    passes = {
        "operator_tech": op_tech,
        "in_village": inside,
        "recent": recent,
        "outdoors": outdoors,
        "hours": in_hours,
    }
    valid = np.logical_and.reduce(list(passes.values())) if n else np.zeros(0, dtype=bool)
    failing = {"readable": int((~readable).sum())} | {
        rule: int((~ok).sum()) for rule, ok in passes.items()
    }
    n_valid = int(valid.sum())
    enough = n_valid >= rules.min_samples
    failing["min_samples"] = 0 if enough else 1
    failed = tuple(rule for rule in RULES if failing[rule])
    rsrp = clean["rsrp_dbm"].to_numpy(dtype=float)[valid]
    availability = float((rsrp >= threshold_dbm).mean()) if n_valid else None
    kept = pd.DataFrame(
        {
            "lon": np.round(lon[valid], 7),
            "lat": np.round(lat[valid], 7),
            "rsrp_dbm": rsrp,
            "time": times[valid].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object),
        }
    )
    return EvidenceCheck(
        kind="samples",
        given=given,
        valid=n_valid,
        failing=failing,
        failed=failed,
        ok=enough,
        availability=availability,
        samples=kept,
    )


def _evidence(
    evidence: Mapping[str, Any] | None,
    village: shapely.Geometry,
    *,
    operator: str,
    tech: str,
    now: datetime,
    rules: ChallengesConfig,
    threshold_dbm: float,
) -> tuple[EvidenceCheck, str | None]:
    """Check a body's ``evidence`` (``samples`` and/or ``document``); refuse it when short."""
    evidence = evidence or {}
    document = evidence.get("document")
    document = None if document is None else str(document)
    rows = evidence.get("samples")
    if rows:
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            raise InputError(
                Problem(
                    file="evidence",
                    column="samples",
                    message="samples must be a list of objects",
                    fix='give [{"lon": ..., "lat": ..., "operator": ..., "tech": ..., '
                    '"rsrp_dbm": ..., "time": ..., "outdoor": true}, ...]',
                )
            )
        check = check_samples(
            pd.DataFrame.from_records(rows),
            village,
            operator=operator,
            tech=tech,
            filed_at=now,
            rules=rules,
            threshold_dbm=threshold_dbm,
        )
    else:
        check = check_document(document)
    if not check.ok:
        detail = ", ".join(
            f"{rule} ({check.failing[rule]} samples)" if check.kind == "samples" else rule
            for rule in check.failed
            if rule != "min_samples"
        )
        message = (
            f"{check.valid} of {check.given} samples pass every rule, fewer than the "
            f"{rules.min_samples} required; rules failed: {', '.join(check.failed)}"
            + (f" — {detail}" if detail else "")
            if check.kind == "samples"
            else "no evidence: give measurement samples or a document"
        )
        raise InputError(
            Problem(
                file="evidence",
                message=message,
                fix=f"give at least {rules.min_samples} samples of {operator} {tech} in the "
                f"village, taken outdoors between {rules.hours[0]:02d}:00 and "
                f"{rules.hours[1]:02d}:00 in the last {rules.window_months} months, or a "
                "document (its reference or file name)",
            )
        )
    return check, document


# --------------------------------------------------------------------------------------------
# The steps
# --------------------------------------------------------------------------------------------


def _forbid(message: str, fix: str) -> ForbiddenError:
    return ForbiddenError(Problem(file=KIND, message=message, fix=fix))


def _now(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC)


def _village(villages: gpd.GeoDataFrame, village_id: str) -> pd.Series:
    ids = villages["village_id"].astype(str)
    hit = villages[(ids == str(village_id)).to_numpy()]
    if not len(hit):
        raise NotFoundError(
            f"villages: no village '{village_id}' in the scenario. Fix: check the id against "
            "GET /api/scenarios/{name}/villages"
        )
    row: pd.Series = hit.iloc[0]
    return row


def _choice(value: str, allowed: tuple[str, ...], column: str) -> str:
    if value not in allowed:
        raise InputError(
            Problem(
                file=KIND,
                column=column,
                message=f"{column} '{value}' is not one of {', '.join(allowed)}",
                fix=f"write {column} as one of {', '.join(allowed)}",
            )
        )
    return value


def _next_id(store: RecordStore) -> str:
    current = store.read(KIND)
    numbers = (
        current["challenge_id"].astype(str).str.extract(_ID)[0].dropna().astype(int)
        if len(current)
        else pd.Series([], dtype=int)
    )
    return f"CH-{int(numbers.max()) + 1 if len(numbers) else 1:04d}"


def _store_operator(party: Party) -> str | None:
    return party.operator if party.role == "operator" else None


def _evidence_attrs(prefix: str, check: EvidenceCheck, document: str | None) -> dict[str, Any]:
    samples = check.samples
    return {
        f"{prefix}evidence": check.kind,
        f"{prefix}evidence_check": json.dumps(check.summary(), ensure_ascii=False),
        f"{prefix}evidence_document": document,
        f"{prefix}evidence_samples": (
            samples.to_json(orient="values", double_precision=7)
            if samples is not None and len(samples)
            else None
        ),
    }


def file_challenge(
    store: RecordStore,
    villages: gpd.GeoDataFrame,
    party: Party,
    *,
    village_id: str,
    operator: str,
    tech: str,
    claim: str,
    evidence: Mapping[str, Any] | None,
    note: str | None = None,
    rules: ChallengesConfig | None = None,
    threshold_dbm: float = -110.0,
    now: datetime | None = None,
) -> dict[str, Any]:
    """File a challenge: check who files and the evidence, then add it to the store.

    Parameters
    ----------
    store
        The scenario's record.
    villages
        The scenario's villages: ``village_id``, geometry (EPSG:4326), and ``province``,
        ``covered_mobile``, ``covered_5g`` when present (the status challenged is kept).
    party
        Who files: an official (of the village's province, when it has one) or the
        administrator, for any operator; an operator, for another operator only.
    village_id, operator, tech, claim
        The village, the operator and technology (``4G``, ``5G``) whose service is
        challenged, and the claim (``covered`` or ``not_covered``).
    evidence
        ``{"samples": [...]}`` (see :func:`check_samples`) and/or ``{"document": "..."}``.
    note
        Free text.
    rules
        The evidence rules and the deadline (default :class:`ChallengesConfig`'s).
    threshold_dbm
        The level of a covered sample, for the availability kept with the evidence.
    now
        The filing time (default now).

    Returns
    -------
    dict
        The challenge's attributes (``challenge_id``, ``status`` ``open``, ``due`` ...).

    Raises
    ------
    ForbiddenError
        If `party` may not file it.
    NotFoundError
        If the village is not in the scenario.
    InputError
        If a value or the evidence is not acceptable (the failed rules named).
    """
    from hatangso.geo.text import normalize_operator

    rules = rules or ChallengesConfig()
    moment = _now(now)
    operator = normalize_operator(str(operator))[0]
    _choice(claim, CLAIMS, "claim")
    _choice(tech, TECHS, "tech")
    if party.role not in ("admin", "official", "operator"):
        raise _forbid(
            f"user '{party.name}' is a {party.role} and may not file challenges",
            "ask an official or an operator to file it",
        )
    if party.role == "operator" and party.operator == operator:
        raise _forbid(
            f"{operator} may not challenge its own status",
            "an operator puts its own status right with its declarations and samples; it "
            "challenges another operator's",
        )
    row = _village(villages, village_id)
    province = row.get("province")
    if party.role == "official" and party.province and province and province != party.province:
        raise _forbid(
            f"village '{village_id}' is in {province}, not in {party.province}",
            "an official files challenges in its own province",
        )
    check, document = _evidence(
        evidence,
        row.geometry,
        operator=operator,
        tech=tech,
        now=moment,
        rules=rules,
        threshold_dbm=threshold_dbm,
    )
    status_column = "covered_5g" if tech == "5G" else "covered_mobile"
    before = row.get(status_column)
    due = (moment.astimezone(_ZONE).date() + timedelta(days=rules.response_days)).isoformat()
    attrs: dict[str, Any] = {
        "challenge_id": _next_id(store),
        "village_id": str(village_id),
        "operator": operator,
        "tech": tech,
        "claim": claim,
        "status": "open",
        "filed_by": party.name,
        "filed_role": party.role,
        "filed_operator": _store_operator(party),
        "filed_at": moment.isoformat(timespec="seconds"),
        "due": due,
        "village_status": None if before is None or pd.isna(before) else bool(before),
        "note": note,
        **_evidence_attrs("", check, document),
    }
    frame = pd.DataFrame({k: [v] for k, v in attrs.items()})
    change = store.diff(KIND, frame, actor=party.name, note=note or "challenge filed")
    if change.counts()["add"] != 1:
        raise ConflictError(
            f"challenges: '{attrs['challenge_id']}' was filed meanwhile. Fix: file it again"
        )
    store.apply(change)
    log.info("challenge %s filed by %s", attrs["challenge_id"], party.name)
    return _attributes(store.get(KIND, attrs["challenge_id"]))


def _attributes(record: Record) -> dict[str, Any]:
    from hatangso.geo.outputs import json_ready

    return {
        "challenge_id": record.record_id,
        "operator": record.operator,
        **{
            k: json_ready(v)
            for k, v in record.attributes.items()
            if k not in ("challenge_id", "operator")
        },
    }


def _get(store: RecordStore, challenge_id: str) -> Record:
    record = store.get(KIND, challenge_id)
    if record.retired:
        raise NotFoundError(f"challenges: '{challenge_id}' was withdrawn. Fix: check the id")
    return record


def _due_passed(record: Record, moment: datetime) -> bool:
    due = date.fromisoformat(str(record.attributes["due"]))
    return moment.astimezone(_ZONE).date() > due


def answer_challenge(
    store: RecordStore,
    villages: gpd.GeoDataFrame,
    party: Party,
    challenge_id: str,
    *,
    position: str = "dispute",
    evidence: Mapping[str, Any] | None = None,
    note: str | None = None,
    rules: ChallengesConfig | None = None,
    threshold_dbm: float = -110.0,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Answer an open challenge: the operator concerned concedes or disputes, by its due date.

    Parameters
    ----------
    store, villages
        As for :func:`file_challenge`.
    party
        The operator the challenge concerns (or the administrator).
    challenge_id
        The challenge.
    position
        ``concede`` (the claim is right) or ``dispute`` (it is not: `evidence` needed).
    evidence
        As for :func:`file_challenge`, checked by the same rules; needed to dispute.
    note
        Free text.
    rules, threshold_dbm, now
        As for :func:`file_challenge`.

    Returns
    -------
    dict
        The challenge's attributes, ``status`` ``answered``.

    Raises
    ------
    ForbiddenError
        If `party` is not the operator concerned.
    ConflictError
        If the challenge is not open, or its due date has passed.
    InputError
        If disputing without acceptable evidence.
    """
    rules = rules or ChallengesConfig()
    moment = _now(now)
    _choice(position, POSITIONS, "position")
    record = _get(store, challenge_id)
    if not (
        party.role == "admin" or (party.role == "operator" and party.operator == record.operator)
    ):
        raise _forbid(
            f"user '{party.name}' ({party.role}) may not answer challenge '{challenge_id}'",
            f"only the operator concerned, {record.operator}, answers it",
        )
    status = record.attributes.get("status")
    if status != "open":
        raise ConflictError(
            f"challenges: '{challenge_id}' is {status}, not open. Fix: an answer is given once"
        )
    if _due_passed(record, moment):
        raise ConflictError(
            f"challenges: the answer to '{challenge_id}' was due by {record.attributes['due']}. "
            "Fix: an official decides it now"
        )
    changes: dict[str, Any] = {
        "status": "answered",
        "position": position,
        "answered_by": party.name,
        "answered_at": moment.isoformat(timespec="seconds"),
        "answer_note": note,
    }
    if position == "dispute" or evidence:
        row = _village(villages, str(record.attributes["village_id"]))
        check, document = _evidence(
            evidence,
            row.geometry,
            operator=str(record.operator),
            tech=str(record.attributes["tech"]),
            now=moment,
            rules=rules,
            threshold_dbm=threshold_dbm,
        )
        changes |= _evidence_attrs("answer_", check, document)
    store.edit(
        KIND,
        challenge_id,
        changes,
        actor=party.name,
        operator=_store_operator(party),
        note=note or f"challenge answered: {position}",
    )
    log.info("challenge %s answered by %s: %s", challenge_id, party.name, position)
    return _attributes(store.get(KIND, challenge_id))


def decide_challenge(
    store: RecordStore,
    party: Party,
    challenge_id: str,
    *,
    decision: str,
    note: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Decide a challenge: an official holds the claim upheld or rejected.

    Parameters
    ----------
    store
        The scenario's record.
    party
        An official (or the administrator); an operator never decides.
    challenge_id
        The challenge: answered, or open past its due date.
    decision
        ``upheld`` (the claim holds: the village's status follows it from the next run) or
        ``rejected``.
    note
        The grounds.
    now
        The time of the decision (default now).

    Returns
    -------
    dict
        The challenge's attributes, ``status`` ``decided``.

    Raises
    ------
    ForbiddenError
        If `party` is not an official.
    ConflictError
        If the challenge is decided already, or open and its operator may still answer.
    """
    moment = _now(now)
    _choice(decision, DECISIONS, "decision")
    if party.role not in ("official", "admin"):
        raise _forbid(
            f"user '{party.name}' ({party.role}) may not decide challenges",
            "an official of the province decides them",
        )
    record = _get(store, challenge_id)
    status = record.attributes.get("status")
    if status == "decided":
        raise ConflictError(f"challenges: '{challenge_id}' is decided already. Fix: none")
    if status == "open" and not _due_passed(record, moment):
        raise ConflictError(
            f"challenges: '{challenge_id}' is open and {record.operator} may answer it until "
            f"{record.attributes['due']}. Fix: decide it once answered or after that day"
        )
    store.edit(
        KIND,
        challenge_id,
        {
            "status": "decided",
            "decision": decision,
            "decided_by": party.name,
            "decided_at": moment.isoformat(timespec="seconds"),
            "decision_note": note,
        },
        actor=party.name,
        note=note or f"challenge {decision}",
    )
    log.info("challenge %s %s by %s", challenge_id, decision, party.name)
    return _attributes(store.get(KIND, challenge_id))


def read_challenges(store: RecordStore, *, as_of: Any = None) -> pd.DataFrame:
    """Return every challenge of the store (as it stood at `as_of`), without geometry.

    Returns
    -------
    pandas.DataFrame
        One row per challenge, ordered by id: ``challenge_id``, ``operator``, ``village_id``,
        ``tech``, ``claim``, ``status`` and the steps' other attributes.
    """
    frame = store.read(KIND, as_of=as_of)
    return pd.DataFrame(frame.drop(columns=frame.geometry.name))


def list_challenges(
    store: RecordStore, *, status: str | None = None, as_of: Any = None
) -> list[dict[str, Any]]:
    """Return the challenges (of one `status`) as JSON-ready dicts, ordered by id.

    The evidence samples are left out (a challenge's own record and history hold them).
    """
    from hatangso.geo.outputs import json_ready

    frame = read_challenges(store, as_of=as_of)
    frame = frame.drop(columns=[c for c in frame.columns if c.endswith("evidence_samples")])
    if status is not None:
        _choice(status, STATUSES, "status")
        frame = frame[(frame["status"] == status).to_numpy()] if len(frame) else frame
    return [
        {str(k): json_ready(v) for k, v in rec.items() if not _blank(v)}
        for rec in frame.to_dict("records")
    ]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


# --------------------------------------------------------------------------------------------
# The run: decisions set the villages' answers
# --------------------------------------------------------------------------------------------


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return frame[name].astype("string")
    return pd.Series(pd.NA, index=frame.index, dtype="string")


def apply_decisions(villages: gpd.GeoDataFrame, challenges: pd.DataFrame) -> gpd.GeoDataFrame:
    """Put each village with an upheld challenge on that decision; mark challenged villages.

    Parameters
    ----------
    villages
        The assessed villages: ``village_id``, ``covered_mobile``, and when present
        ``covered_5g``, ``serving_operators``, ``mobile_basis``, ``population_in_village``,
        ``population_covered_mobile``, ``population_covered_5g``.
    challenges
        :func:`read_challenges`.

    Returns
    -------
    geopandas.GeoDataFrame
        `villages` (same index) with ``challenge`` (the most pressing status of the village's
        challenges: ``open``, ``answered``, ``upheld`` or ``rejected``; NA when none) and
        ``challenge_id`` (';'-joined ids of the upheld challenges its answer rests on, NA
        when none). Where one rests on them, ``mobile_basis`` is ``challenge`` and the
        covered flags, serving operators and covered people follow the decisions.

    Notes
    -----
    Upheld challenges decide per (village, operator, technology), the latest decision of
    each winning. "4G or better" (``covered_mobile``): an operator held to cover by 4G or 5G
    joins the village's serving operators and the village is covered; one held not to cover
    by 4G leaves them, and the village is covered when some serving operator remains. 5G
    (``covered_5g``, which has no per-operator answer): covered when some upheld claim says
    so, not covered when the upheld claims all say not.
    """
    out = villages.copy()
    n = len(out)
    ids = out["village_id"].astype(str)
    out["challenge"] = pd.array([pd.NA] * n, dtype="string")
    out["challenge_id"] = pd.array([pd.NA] * n, dtype="string")
    if challenges is None or not len(challenges):
        return out
    ch = pd.DataFrame(
        {
            "id": challenges["challenge_id"].astype(str),
            "village_id": challenges["village_id"].astype(str),
            "operator": challenges["operator"].astype(str),
            "tech": challenges["tech"].astype(str),
            "claim": challenges["claim"].astype(str),
            "status": challenges["status"].astype(str),
            "decision": _column(challenges, "decision"),
            "decided_at": _column(challenges, "decided_at"),
        }
    )
    ch["shown"] = ch["status"].where(ch["status"] != "decided", ch["decision"].fillna("decided"))
    rank = {"open": 0, "answered": 1, "upheld": 2, "rejected": 3, "decided": 4}
    first = (
        ch.assign(rank=ch["shown"].map(rank))
        .sort_values(["village_id", "rank"], kind="stable")
        .drop_duplicates("village_id")
        .set_index("village_id")["shown"]
    )
    out["challenge"] = pd.array(ids.map(first).to_numpy(dtype=object), dtype="string")
    upheld = ch[(ch["status"] == "decided") & (ch["decision"] == "upheld")]
    upheld = upheld[upheld["village_id"].isin(ids)]
    if not len(upheld):
        return out
    upheld = upheld.sort_values(["decided_at", "id"], kind="stable").drop_duplicates(
        ["village_id", "operator", "tech"], keep="last"
    )
    position = pd.Series(np.arange(n), index=pd.Index(ids))
    covered = upheld["claim"] == "covered"
    mobile = upheld[(upheld["tech"] == "4G") | ((upheld["tech"] == "5G") & covered)]
    five = upheld[upheld["tech"] == "5G"]
    touched = np.zeros(n, dtype=bool)
    if len(mobile):
        v = position.loc[mobile["village_id"]].to_numpy()
        touched[v] = True
        serving = (
            out["serving_operators"].astype("string").fillna("")
            if "serving_operators" in out
            else pd.Series("", index=out.index, dtype="string")
        )
        pairs = pd.DataFrame({"v": np.arange(n), "operator": serving.str.split(";").to_numpy()})
        pairs = pairs.explode("operator")
        pairs = pairs[pairs["operator"].fillna("").astype(str) != ""]
        claims = pd.DataFrame(
            {
                "v": v,
                "operator": mobile["operator"].to_numpy(dtype=object),
                "covers": (mobile["claim"] == "covered").to_numpy(dtype=bool),
            }
        ).drop_duplicates(["v", "operator"], keep="last")
        merged = pairs.assign(covers=True).merge(
            claims, on=["v", "operator"], how="outer", suffixes=("_was", "")
        )
        merged["covers"] = merged["covers"].fillna(merged["covers_was"]).astype(bool)
        kept = merged[merged["covers"]].sort_values(["v", "operator"], kind="stable")
        joined = kept.groupby("v")["operator"].agg(";".join)
        new_serving = serving.to_numpy(dtype=object).copy()
        hit = np.flatnonzero(touched)
        new_serving[hit] = joined.reindex(hit).fillna("").to_numpy(dtype=object)
        any_covers = np.zeros(n, dtype=bool)
        any_covers[joined.index.to_numpy(dtype=np.int64)] = True
        flag = np.array(out["covered_mobile"].fillna(False).to_numpy(dtype=bool))
        flag[hit] = any_covers[hit]
        out["covered_mobile"] = flag
        if "serving_operators" in out:
            out["serving_operators"] = new_serving
    if len(five) and "covered_5g" in out:
        v5 = position.loc[five["village_id"]].to_numpy()
        yes = np.bincount(v5, weights=(five["claim"] == "covered").to_numpy(float), minlength=n)
        hit5 = np.unique(v5)
        flag5 = np.array(out["covered_5g"].fillna(False).to_numpy(dtype=bool))
        flag5[hit5] = yes[hit5] > 0
        out["covered_5g"] = flag5
        touched[hit5] = True
    for column, flag_name, rows in (
        ("population_covered_mobile", "covered_mobile", touched),
        ("population_covered_5g", "covered_5g", touched),
    ):
        if column in out and "population_in_village" in out and flag_name in out:
            people = out["population_in_village"].to_numpy(dtype=float)
            now_covered = out[flag_name].fillna(False).to_numpy(dtype=bool)
            out[column] = np.where(
                rows, np.where(now_covered, people, 0.0), out[column].to_numpy(dtype=float)
            )
    basis = (
        out["mobile_basis"].astype("string")
        if "mobile_basis" in out
        else pd.Series(pd.NA, index=out.index, dtype="string")
    )
    out["mobile_basis"] = basis.mask(pd.Series(touched, index=out.index), "challenge")
    by_village = upheld.sort_values("id").groupby("village_id")["id"].agg(";".join)
    out["challenge_id"] = pd.array(
        ids.map(by_village).where(touched, None).to_numpy(dtype=object), dtype="string"
    )
    return out


#: The indicators a decision may change.
DECIDED_CODES = (
    "village_mobile_coverage",
    "population_mobile_coverage",
    "village_5g_coverage",
    "population_5g_coverage",
)


def recount(villages: pd.DataFrame) -> list[Any]:
    """Return the indicators of :data:`DECIDED_CODES` computed again on `villages`."""
    return village_indicators(villages, codes=list(DECIDED_CODES))


def kpis_block(challenges: pd.DataFrame) -> dict[str, Any]:
    """Return the ``challenges`` entry of ``kpis.json``.

    Returns
    -------
    dict
        ``total``, ``open``, ``answered``, ``decided``, ``upheld``, ``rejected`` (counts) and
        ``list``: one entry per challenge (id, village, operator, tech, claim, status,
        decision, filed_by, filed_at, due), ordered by id.
    """
    columns = (
        "challenge_id",
        "village_id",
        "operator",
        "tech",
        "claim",
        "status",
        "decision",
        "filed_by",
        "filed_at",
        "due",
    )
    if challenges is None or not len(challenges):
        return {
            "total": 0,
            "open": 0,
            "answered": 0,
            "decided": 0,
            "upheld": 0,
            "rejected": 0,
            "list": [],
        }
    status = challenges["status"].astype(str)
    decision = _column(challenges, "decision")
    decided = (status == "decided").to_numpy(dtype=bool)
    rows = pd.DataFrame({c: _column(challenges, c) for c in columns}).sort_values("challenge_id")
    return {
        "total": len(challenges),
        "open": int((status == "open").sum()),
        "answered": int((status == "answered").sum()),
        "decided": int(decided.sum()),
        "upheld": int((decision == "upheld").fillna(False).to_numpy(dtype=bool)[decided].sum()),
        "rejected": int((decision == "rejected").fillna(False).to_numpy(dtype=bool)[decided].sum()),
        "list": [
            {k: (None if _blank(v) else str(v)) for k, v in rec.items()}
            for rec in rows.to_dict("records")
        ],
    }
