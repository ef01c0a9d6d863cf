"""Challenges to a village's status: file, answer, decide, list; and their page.

The steps and their rules are :mod:`hatangso.scenarios.challenges`'; here each route parses,
checks who asks (:class:`~hatangso.app.auth.Principal`) through the same step function, and
serialises. Who may do what:

* file (``POST /api/scenarios/{name}/challenges``): an official or the administrator, for
  any operator; an operator, about another operator only;
* answer (``POST .../challenges/{id}/answer``): the operator the challenge concerns (or the
  administrator);
* decide (``POST .../challenges/{id}/decision``): an official (or the administrator); an
  operator never.

A refused step answers 403; a step out of turn (answering twice, deciding an open challenge
before its due date) 409; evidence that breaks the rules 422, the failed rules named.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from hatangso.app.auth import Principal, ReaderDep, WriterDep
from hatangso.app.deps import ExistingScenario, WorkspaceDep, require_read_key
from hatangso.app.workspace import Workspace
from hatangso.coverage.config import ChallengesConfig

__all__ = ["PAGE_SCRIPT", "page_router", "router"]

router = APIRouter(
    prefix="/api/scenarios", tags=["challenges"], dependencies=[Depends(require_read_key)]
)
page_router = APIRouter(tags=["challenges"], dependencies=[Depends(require_read_key)])

ChallengeId = Annotated[
    str, PathParam(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="The challenge's id (CH-0001).")
]
AsOf = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="The challenges as they stood at the end of that day (YYYY-MM-DD).",
    ),
]


class Evidence(BaseModel):
    """Evidence: measurement samples, a document, or both."""

    model_config = ConfigDict(extra="forbid")

    samples: list[dict[str, Any]] | None = Field(
        None,
        description="Samples in the samples' format: lon, lat, operator, tech, rsrp_dbm, time "
        "(ISO 8601, local time without an offset), outdoor (yes/no).",
    )
    document: str | None = Field(
        None, max_length=2000, description="A document's reference or file name."
    )


class ChallengeIn(BaseModel):
    """A challenge to one operator's status in one village."""

    model_config = ConfigDict(extra="forbid")

    village_id: str = Field(max_length=200)
    operator: str = Field(max_length=80)
    tech: Literal["4G", "5G"]
    claim: Literal["covered", "not_covered"]
    evidence: Evidence | None = None
    note: str | None = Field(None, max_length=2000)


class AnswerIn(BaseModel):
    """The operator's answer: concede, or dispute with evidence."""

    model_config = ConfigDict(extra="forbid")

    position: Literal["concede", "dispute"] = "dispute"
    evidence: Evidence | None = None
    note: str | None = Field(None, max_length=2000)


class DecisionIn(BaseModel):
    """An official's decision."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["upheld", "rejected"]
    note: str | None = Field(None, max_length=2000)


def _rules(workspace: Workspace, name: str) -> tuple[ChallengesConfig, float]:
    """Return the scenario's challenge rules and threshold (its configuration's, or defaults)."""
    from hatangso.app.runconfig import stored_config

    document = stored_config(workspace, name).document
    rules = ChallengesConfig.model_validate(document.get("challenges") or {})
    mobile = document.get("mobile") or {}
    return rules, float(mobile.get("threshold_dbm", -110.0))


def _evidence(evidence: Evidence | None) -> dict[str, Any] | None:
    return None if evidence is None else evidence.model_dump(exclude_none=True)


def _file(workspace: Workspace, name: str, principal: Principal, body: ChallengeIn) -> Any:
    from hatangso.scenarios.challenges import file_challenge

    rules, threshold = _rules(workspace, name)
    return file_challenge(
        workspace.store(name),
        workspace.villages(name).frame,
        principal,
        village_id=body.village_id,
        operator=body.operator,
        tech=body.tech,
        claim=body.claim,
        evidence=_evidence(body.evidence),
        note=body.note,
        rules=rules,
        threshold_dbm=threshold,
    )


@router.post(
    "/{name}/challenges",
    status_code=201,
    summary="File a challenge to a village's status",
    responses={403: {"description": "Not allowed to file it"}, 422: {"description": "Rules"}},
)
async def file_challenge_route(
    name: ExistingScenario,
    workspace: WorkspaceDep,
    principal: WriterDep,
    body: ChallengeIn,
) -> dict[str, Any]:
    """File a challenge: the operator's ``tech`` service in the village is ``covered`` or not.

    The evidence (samples or a document) is checked against the scenario's rules (its
    configuration's ``challenges:``: at least 30 samples of the operator and technology, in
    the village, in the last 12 months, outdoors, 06:00-22:00); a failed rule answers 422
    naming it. The answer: ``{"id", "status": "open", "due", "challenge"}``.
    """
    challenge = await run_in_threadpool(_file, workspace, name, principal, body)
    return {
        "id": challenge["challenge_id"],
        "status": challenge["status"],
        "due": challenge.get("due"),
        "challenge": challenge,
    }


@router.get("/{name}/challenges", summary="The scenario's challenges")
async def list_challenges_route(
    name: ExistingScenario,
    workspace: WorkspaceDep,
    _principal: ReaderDep,
    status: Annotated[
        Literal["open", "answered", "decided"] | None, Query(description="Only those at this step.")
    ] = None,
    as_of: AsOf = None,
) -> list[dict[str, Any]]:
    """List the challenges (of one step), ordered by id; the evidence samples left out."""
    from hatangso.scenarios.challenges import list_challenges

    return await run_in_threadpool(
        list_challenges, workspace.store(name), status=status, as_of=as_of
    )


def _one(workspace: Workspace, name: str, challenge_id: str, as_of: str | None) -> dict[str, Any]:
    from hatangso.geo.outputs import json_ready
    from hatangso.scenarios.challenges import KIND

    store = workspace.store(name)
    record = store.get(KIND, challenge_id, as_of=as_of)
    return {
        "challenge_id": record.record_id,
        "operator": record.operator,
        **{str(k): json_ready(v) for k, v in record.attributes.items()},
        "history": [
            {
                "time": entry.time.isoformat(timespec="seconds"),
                "user": entry.actor,
                "action": entry.action,
                "before": json_ready(entry.before),
                "after": json_ready(entry.after),
            }
            for entry in store.history(KIND, challenge_id)
        ],
    }


@router.get("/{name}/challenges/{challenge_id}", summary="One challenge and its history")
async def get_challenge(
    name: ExistingScenario,
    workspace: WorkspaceDep,
    _principal: ReaderDep,
    challenge_id: ChallengeId,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """Return one challenge (its evidence included) and every step of it: who, when, what."""
    return await run_in_threadpool(_one, workspace, name, challenge_id, as_of)


def _answer(
    workspace: Workspace, name: str, principal: Principal, challenge_id: str, body: AnswerIn
) -> Any:
    from hatangso.scenarios.challenges import answer_challenge

    rules, threshold = _rules(workspace, name)
    return answer_challenge(
        workspace.store(name),
        workspace.villages(name).frame,
        principal,
        challenge_id,
        position=body.position,
        evidence=_evidence(body.evidence),
        note=body.note,
        rules=rules,
        threshold_dbm=threshold,
    )


@router.post(
    "/{name}/challenges/{challenge_id}/answer",
    summary="The operator concerned answers a challenge",
    responses={403: {"description": "Not the operator concerned"}, 409: {"description": "Turn"}},
)
async def answer_challenge_route(
    name: ExistingScenario,
    workspace: WorkspaceDep,
    principal: WriterDep,
    challenge_id: ChallengeId,
    body: Annotated[AnswerIn | None, Body()] = None,
) -> dict[str, Any]:
    """Concede or dispute an open challenge, by its due date; only its operator may.

    Disputing needs evidence, checked by the same rules as a challenge's.
    """
    answer = body if body is not None else AnswerIn()
    challenge = await run_in_threadpool(_answer, workspace, name, principal, challenge_id, answer)
    return {"id": challenge["challenge_id"], "status": challenge["status"], "challenge": challenge}


@router.post(
    "/{name}/challenges/{challenge_id}/decision",
    summary="An official decides a challenge",
    responses={403: {"description": "Not an official"}, 409: {"description": "Turn"}},
)
async def decide_challenge_route(
    name: ExistingScenario,
    workspace: WorkspaceDep,
    principal: WriterDep,
    challenge_id: ChallengeId,
    body: DecisionIn,
) -> dict[str, Any]:
    """Hold the claim ``upheld`` or ``rejected``: answered, or open past its due date.

    An upheld claim sets the village's status for that operator and technology from the next
    coverage run (``mobile_basis`` ``challenge``).
    """
    from hatangso.scenarios.challenges import decide_challenge

    challenge = await run_in_threadpool(
        decide_challenge,
        workspace.store(name),
        principal,
        challenge_id,
        decision=body.decision,
        note=body.note,
    )
    return {
        "id": challenge["challenge_id"],
        "status": challenge["status"],
        "decision": challenge.get("decision"),
        "challenge": challenge,
    }


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

_LABELS = {
    "open": ("Đang mở", "Open"),
    "answered": ("Đã trả lời", "Answered"),
    "decided": ("Đã quyết định", "Decided"),
    "upheld": ("Chấp nhận", "Upheld"),
    "rejected": ("Bác bỏ", "Rejected"),
    "covered": ("Có phủ sóng", "Covered"),
    "not_covered": ("Không phủ sóng", "Not covered"),
    "concede": ("Thừa nhận", "Concedes"),
    "dispute": ("Phản đối", "Disputes"),
}
_COLUMNS = (
    ("challenge_id", "Mã", "Id"),
    ("village_id", "Thôn", "Village"),
    ("operator", "Nhà mạng", "Operator"),
    ("tech", "Công nghệ", "Tech"),
    ("claim", "Khiếu nại", "Claim"),
    ("status", "Trạng thái", "Status"),
    ("filed_by", "Người gửi", "Filed by"),
    ("due", "Hạn trả lời", "Answer due"),
    ("position", "Trả lời", "Answer"),
    ("decision", "Quyết định", "Decision"),
    ("decided_by", "Người quyết định", "Decided by"),
)
_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin-top:1rem}
th,td{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f1f1} .en{color:#666;font-size:.85em}
.open{background:#fff4e0} .answered{background:#e8f0ff} .decided{background:#eef7ee}
fieldset{border:1px solid #bbb;margin:1rem 0;padding:.5rem 1rem;max-width:60rem}
label{display:inline-block;margin:.25rem 1rem .25rem 0}
td form{margin:0 0 .4rem} td form label{margin:.1rem .4rem .1rem 0}
#message{padding:.4rem .6rem;max-width:60rem;white-space:pre-wrap}
#message.ok{background:#e6f4e6;border:1px solid #6a6}
#message.error{background:#fde8e8;border:1px solid #c55}
"""
#: Where the page's script is served (``static/pages``, beside the service's other assets).
PAGE_SCRIPT = "/static/pages/challenges.js"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if text in _LABELS:
        vi, en = _LABELS[text]
        return f'{html.escape(vi)} <span class="en">{html.escape(en)}</span>'
    return html.escape(text)


def _label(vi: str, en: str) -> str:
    return f'{html.escape(vi)} <span class="en">{html.escape(en)}</span>'


def _options(values: tuple[str, ...]) -> str:
    return "".join(
        f'<option value="{v}">{html.escape(_LABELS[v][0] if v in _LABELS else v)}'
        f"{' / ' + html.escape(_LABELS[v][1]) if v in _LABELS else ''}</option>"
        for v in values
    )


def _evidence_fields() -> str:
    return (
        f"<label>{_label('Tài liệu (số hiệu, tên tệp)', 'Document (reference)')} "
        '<input name="document" maxlength="2000"></label>'
        f"<label>{_label('Tệp mẫu đo (CSV)', 'Samples file (CSV)')} "
        '<input name="samples" type="file" accept=".csv,text/csv"></label>'
        f'<label>{_label("Ghi chú", "Note")} <input name="note" maxlength="2000"></label>'
    )


def _file_form() -> str:
    """Return the form that files a challenge (shown to all; the service says who may)."""
    return (
        '<form id="file-form"><fieldset><legend>'
        + _label("Gửi khiếu nại", "File a challenge")
        + "</legend>"
        f"<label>{_label('Mã thôn', 'Village id')} "
        '<input name="village_id" required maxlength="200"></label>'
        f"<label>{_label('Nhà mạng', 'Operator')} "
        '<input name="operator" required maxlength="80"></label>'
        f'<label>{_label("Công nghệ", "Tech")} <select name="tech">{_options(("4G", "5G"))}'
        "</select></label>"
        f'<label>{_label("Khiếu nại", "Claim")} <select name="claim">'
        f"{_options(('not_covered', 'covered'))}</select></label><br>"
        + _evidence_fields()
        + f'<br><button type="submit">{_label("Gửi", "File")}</button></fieldset></form>'
    )


def _actions(challenge: Mapping[str, Any]) -> str:
    """Return a row's answer and decision forms, hidden until the page knows the user.

    The script shows the answer form to the operator the challenge concerns (and the
    administrator), the decision form to officials (and the administrator).
    """
    status = str(challenge.get("status", ""))
    cid = html.escape(str(challenge.get("challenge_id", "")))
    forms = []
    if status == "open":
        forms.append(
            f'<form class="answer-form" data-id="{cid}" hidden>'
            f'<label>{_label("Trả lời", "Answer")} <select name="position">'
            f"{_options(('dispute', 'concede'))}</select></label>"
            + _evidence_fields()
            + f'<button type="submit">{_label("Trả lời", "Answer")}</button></form>'
        )
    if status in ("open", "answered"):
        forms.append(
            f'<form class="decide-form" data-id="{cid}" hidden>'
            f'<label>{_label("Quyết định", "Decision")} <select name="decision">'
            f"{_options(('upheld', 'rejected'))}</select></label>"
            f'<label>{_label("Ghi chú", "Note")} <input name="note" maxlength="2000">'
            f'</label><button type="submit">{_label("Quyết định", "Decide")}</button></form>'
        )
    return "".join(forms)


def challenges_page(name: str, title: str, challenges: list[dict[str, Any]]) -> str:
    """Return the HTML page of a scenario's challenges, with the forms of each step.

    Every text is escaped and the page holds no credential: its script
    (:data:`PAGE_SCRIPT`, served by the service) keeps the token the user types in the
    browser's ``sessionStorage`` and sends it as ``Authorization: Bearer`` to the challenges'
    endpoints, showing their answers (a refusal's message included) in the page.
    """
    counts = {s: sum(1 for c in challenges if c.get("status") == s) for s in _LABELS}
    upheld = sum(1 for c in challenges if c.get("decision") == "upheld")
    rejected = sum(1 for c in challenges if c.get("decision") == "rejected")
    head = "".join(
        f'<th>{html.escape(vi)}<br><span class="en">{html.escape(en)}</span></th>'
        for _, vi, en in (*_COLUMNS, ("", "Thao tác", "Actions"))
    )
    rows = "".join(
        f'<tr class="{html.escape(str(c.get("status", "")))}" '
        f'id="challenge-{html.escape(str(c.get("challenge_id", "")))}" '
        f'data-operator="{html.escape(str(c.get("operator", "")))}">'
        + "".join(f"<td>{_cell(c.get(column))}</td>" for column, _, _ in _COLUMNS)
        + f'<td class="actions">{_actions(c)}</td></tr>'
        for c in challenges
    )
    empty = (
        ""
        if challenges
        else '<p id="no-challenges">Chưa có khiếu nại nào. '
        '<span class="en">No challenge yet.</span></p>'
    )
    summary = (
        f'<p id="challenge-counts">Đang mở <b>{counts["open"]}</b> · Đã trả lời '
        f"<b>{counts['answered']}</b> · Đã quyết định <b>{counts['decided']}</b> (chấp nhận "
        f"<b>{upheld}</b>, bác bỏ <b>{rejected}</b>)"
        '<br><span class="en">open · answered · decided (upheld, rejected)</span></p>'
    )
    api = f"/api/scenarios/{html.escape(name)}/challenges"
    login = (
        '<form id="token-form"><fieldset><legend>'
        + _label("Người dùng", "User")
        + f"</legend><label>{_label('Mã truy cập', 'Token')} "
        '<input id="token" type="password" autocomplete="off" placeholder="htg_..."></label>'
        f'<button type="submit">{_label("Dùng", "Use")}</button> '
        f'<button type="button" id="token-forget">{_label("Quên", "Forget")}</button> '
        '<span id="whoami"></span></fieldset></form>'
    )
    return (
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
        f"<title>Khiếu nại — {html.escape(title)}</title><style>{_STYLE}</style>"
        f'<script src="{PAGE_SCRIPT}" defer></script></head>'
        f'<body data-api="{api}">'
        f"<h1>Khiếu nại về hiện trạng phủ sóng — {html.escape(title)}</h1>"
        '<p class="en">Challenges to villages\' coverage status</p>'
        f'{login}<p id="message" role="status" hidden></p>{_file_form()}'
        f'<div id="listing">{summary}{empty}'
        f'<table id="challenges"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        "</div>"
        f'<p class="en">API: <code>{api}</code> · '
        f'<a href="/map/{html.escape(name)}">Bản đồ / Map</a></p>'
        "</body></html>"
    )


@page_router.get(
    "/scenarios/{name}/challenges",
    response_class=HTMLResponse,
    summary="Page of a scenario's challenges",
)
async def challenges_html(
    name: ExistingScenario, workspace: WorkspaceDep, _principal: ReaderDep
) -> HTMLResponse:
    """Show the scenario's challenges as a page: counts, and one row per challenge."""
    from hatangso.scenarios.challenges import list_challenges

    listed = await run_in_threadpool(list_challenges, workspace.store(name))
    title = str(workspace.metadata(name).get("title") or name)
    return HTMLResponse(challenges_page(name, title, listed))
