"""Who is asking: the principal behind a request, and what its role lets it do.

Every route that writes to the record takes :data:`WriterDep` (or, for a scenario's route,
:data:`ScenarioWriterDep`, which also holds an official to its province) and passes the
principal's ``name`` as the store's ``actor`` and its ``operator`` as the store's
``operator``: the store then refuses, row by row, a change to another operator's rows (403).
Routes that read take :data:`ReaderDep`.

Credentials
-----------
``Authorization: Bearer <token>``
    A user's token, from ``hatangso users add`` (:meth:`hatangso.geo.store.SqlStore.add_user`);
    checked against the workspace's users (:meth:`~hatangso.app.workspace.Workspace.users`).
    A wrong or revoked token: 401.
``X-API-Key``
    ``HATANGSO_API_KEY``: the administrator. A wrong key: 401.

Wrong credentials are counted per client address (:class:`Throttle`): after
``HATANGSO_MAX_AUTH_FAILURES`` of them within ``HATANGSO_AUTH_WINDOW_S`` seconds, every
further attempt with credentials from that address is answered 429 with ``Retry-After``, until
the window has passed, without checking them; requests without credentials are not held back.

Roles
-----
``admin``
    The holder of ``HATANGSO_API_KEY`` (``X-API-Key``), or anyone when no key is configured
    and the workspace has no users (a laptop's service): reads and writes everything.
``official``
    An official of the provincial department: writes within its province, decides challenges.
``operator``
    A telecom operator: writes only its own operator's rows.
``viewer``
    Reads only.
"""

from __future__ import annotations

import hmac
import math
import re
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from hatangso.app.config import Settings
from hatangso.app.deps import ScenarioName, SettingsDep, WorkspaceDep
from hatangso.geo.errors import ForbiddenError, Problem

if TYPE_CHECKING:
    import pandas as pd

    from hatangso.geo.store import User

__all__ = [
    "ROLES",
    "Principal",
    "ReaderDep",
    "Role",
    "ScenarioWriterDep",
    "Throttle",
    "WriterDep",
    "check_operator_rows",
    "check_province",
    "client_address",
    "current_principal",
    "reader",
    "require",
    "same_province",
    "scenario_writer",
    "throttle_for",
    "too_many",
    "writer",
]

Role = Literal["admin", "official", "operator", "viewer"]

#: The roles, from most to least powerful.
ROLES: tuple[Role, ...] = ("admin", "official", "operator", "viewer")

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key.")
_bearer = HTTPBearer(
    auto_error=False, description="A user's token, from `hatangso users add` (htg_...)."
)


@dataclass(frozen=True)
class Principal:
    """The party behind a request.

    Attributes
    ----------
    name
        The user's name; the store records it as the ``actor`` of every change.
    role
        One of :data:`ROLES`.
    operator
        For an operator, the operator whose rows it may write (``None`` otherwise).
    province
        For an official, the province it writes in (``None``: any).
    """

    name: str
    role: Role
    operator: str | None = None
    province: str | None = None

    @property
    def writes(self) -> bool:
        """Whether the role may write at all."""
        return self.role != "viewer"

    @property
    def store_operator(self) -> str | None:
        """The ``operator`` to pass to the store: an operator's own, else ``None`` (all rows)."""
        return self.operator if self.role == "operator" else None


#: The administrator: the holder of ``HATANGSO_API_KEY``.
ADMIN = Principal(name="admin", role="admin")


def _matches(given: str | None, expected: str) -> bool:
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=message,
        headers={"WWW-Authenticate": 'Bearer, APIKey realm="hatangso"'},
    )


class Throttle:
    """Wrong credentials counted per client address over a sliding window.

    Parameters
    ----------
    limit
        Wrong credentials a client may send within `window_s`; after them it waits.
    window_s
        The window, in seconds.
    clock
        Monotonic seconds (tests move it).

    Examples
    --------
    >>> now = [0.0]
    >>> throttle = Throttle(limit=2, window_s=60, clock=lambda: now[0])
    >>> throttle.failed("10.0.0.9"); throttle.failed("10.0.0.9")
    >>> throttle.retry_after("10.0.0.9"), throttle.retry_after("10.0.0.7")
    (60, None)
    >>> now[0] = 61.0
    >>> throttle.retry_after("10.0.0.9") is None
    True
    """

    #: Clients remembered before the expired ones are forgotten.
    _PRUNE_AT = 4096

    def __init__(
        self, *, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> int | None:
        """Return the seconds `client` must wait before trying again, or None."""
        now = self._clock()
        with self._lock:
            times = self._failures.get(client)
            if times is None:
                return None
            self._expire(times, now)
            if len(times) < self.limit:
                return None
            return max(1, math.ceil(times[0] + self.window_s - now))

    def failed(self, client: str) -> None:
        """Count one wrong credential of `client`."""
        now = self._clock()
        with self._lock:
            if len(self._failures) >= self._PRUNE_AT:
                for known in list(self._failures):
                    self._expire(self._failures[known], now)
                    if not self._failures[known]:
                        del self._failures[known]
            times = self._failures.setdefault(client, deque())
            self._expire(times, now)
            times.append(now)

    def _expire(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window_s:
            times.popleft()


_THROTTLE_LOCK = threading.Lock()


class _State:
    """Where a throttle lives when the request names no application (a bare ASGI test)."""


_FALLBACK = _State()


def throttle_for(application: Any, settings: Settings) -> Throttle:
    """Return the :class:`Throttle` of `application` (one per application and process)."""
    state: Any = getattr(application, "state", None) or _FALLBACK
    with _THROTTLE_LOCK:
        throttle = getattr(state, "auth_throttle", None)
        if not isinstance(throttle, Throttle):
            throttle = Throttle(limit=settings.max_auth_failures, window_s=settings.auth_window_s)
            state.auth_throttle = throttle
        return throttle


def client_address(scope: Any) -> str:
    """Return the address a request (its ASGI scope) came from; ``unknown`` if not given."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def too_many(wait: int) -> HTTPException:
    """429 for a client that sent too many wrong credentials."""
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"too many wrong credentials from this address: try again in {wait} s",
        headers={"Retry-After": str(wait)},
    )


async def current_principal(
    request: Request,
    settings: SettingsDep,
    workspace: WorkspaceDep,
    key: Annotated[str | None, Security(_api_key_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Principal | None:
    """Dependency: the principal of the request, or ``None`` without credentials.

    ``X-API-Key`` equal to ``HATANGSO_API_KEY`` is the administrator; ``Authorization:
    Bearer <token>`` is the user whose token it is. Credentials that are sent are checked
    (401 when wrong, 429 after too many wrong ones). Without credentials, the request is
    anonymous (``None``), except on a laptop's service: no key configured and no user ever
    added, where it is the administrator's.
    """
    expected = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    checks_key = bool(expected) and key is not None
    if not checks_key and bearer is None:
        anonymous = bool(expected) or await run_in_threadpool(workspace.has_users)
        return None if anonymous else ADMIN
    client = client_address(request.scope)
    throttle = throttle_for(request.app, settings)
    wait = throttle.retry_after(client)
    if wait is not None:
        raise too_many(wait)
    if checks_key:
        if _matches(key, expected):
            return ADMIN
        throttle.failed(client)
        raise _unauthorised("wrong X-API-Key header")
    assert bearer is not None
    token = bearer.credentials

    def authenticate() -> User | None:  # opening the users' store may upgrade it: a thread
        return workspace.users().authenticate(token)

    user = await run_in_threadpool(authenticate)
    if user is None:
        throttle.failed(client)
        raise _unauthorised("unknown or revoked token in the Authorization header")
    return Principal(name=user.name, role=user.role, operator=user.operator, province=user.province)


async def writer(
    principal: Annotated[Principal | None, Depends(current_principal)],
) -> Principal:
    """Dependency of write endpoints: a principal whose role writes (401 / 403 otherwise)."""
    if principal is None:
        raise _unauthorised("this endpoint writes: send Authorization: Bearer <token>")
    if not principal.writes:
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=f"user '{principal.name}' is a {principal.role} and may only read",
        )
    return principal


async def reader(
    principal: Annotated[Principal | None, Depends(current_principal)],
) -> Principal | None:
    """Dependency of read endpoints: the principal, if any (reads are open by default)."""
    return principal


WriterDep = Annotated[Principal, Depends(writer)]
ReaderDep = Annotated[Principal | None, Depends(reader)]


_PROVINCE_PREFIX = re.compile(r"^(tỉnh|thành phố|tp\.?)\s+")


def same_province(first: str, second: str) -> bool:
    """Whether two spellings name one province: case, spacing and ``Tỉnh``/``TP.`` aside.

    Examples
    --------
    >>> same_province("Tỉnh Bắc Kạn", "bắc  kạn"), same_province("Cà Mau", "Bắc Kạn")
    (True, False)
    """

    def plain(name: str) -> str:
        text = " ".join(unicodedata.normalize("NFC", name).casefold().split())
        return _PROVINCE_PREFIX.sub("", text)

    return plain(first) == plain(second)


def check_province(principal: Principal, province: str | None, scenario: str) -> None:
    """Refuse (403) an official's write to a scenario outside its province.

    A scenario that names no province is written only by officials of no province (and the
    administrator, operators for their own rows).
    """
    if principal.role != "official" or principal.province is None:
        return
    if province is not None and same_province(principal.province, province):
        return
    where = f"in {province}" if province is not None else "in no named province"
    raise HTTPException(
        status_code=status.HTTP_403_FORBIDDEN,
        detail=f"user '{principal.name}' is an official of {principal.province}; scenario "
        f"'{scenario}' lies {where}",
    )


async def scenario_writer(
    name: ScenarioName, principal: WriterDep, workspace: WorkspaceDep
) -> Principal:
    """Dependency of a scenario's write endpoints: :func:`writer`, and an official's province."""
    check_province(principal, await run_in_threadpool(workspace.province, name), name)
    return principal


ScenarioWriterDep = Annotated[Principal, Depends(scenario_writer)]


def require(*roles: Role) -> Callable[..., Any]:
    """Return a dependency that admits a writer of one of `roles` only (403 otherwise).

    Examples
    --------
    >>> province_data = require("admin", "official")  # e.g. the province's DEM
    """

    async def admitted(principal: WriterDep) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"user '{principal.name}' is a {principal.role}; this takes "
                + " or ".join(roles),
            )
        return principal

    return admitted


def check_operator_rows(operator: str | None, kind: str, frame: pd.DataFrame, shown: str) -> None:
    """Refuse (403) an operator's upload holding rows that are not its own.

    Parameters
    ----------
    operator
        The uploading principal's ``store_operator`` (None: it may write every row).
    kind
        The kind uploaded.
    frame
        Its rows, with ``operator`` for the kinds that carry one.
    shown
        The file's name, for the problems.

    Raises
    ------
    ForbiddenError
        Naming every row of another operator, or the kind, if it carries no operator (its
        rows are the province's).
    """
    if operator is None:
        return
    if "operator" not in frame.columns:
        raise ForbiddenError(
            Problem(
                file=shown,
                message=f"{kind} are the province's rows, not {operator}'s",
                fix="an operator uploads its own sites, access points, fiber or declarations",
            )
        )
    owners = frame["operator"].astype(object).fillna("").astype(str).to_numpy()
    others = np.flatnonzero(owners != operator)
    rows = frame["source_row"].to_numpy()[others] if "source_row" in frame.columns else others + 1
    problems = [
        Problem(
            file=shown,
            row=int(row),
            column="operator",
            message=f"the row belongs to {owner or 'no operator'}, not to {operator}",
            fix="an operator uploads its own rows only",
        )
        for row, owner in zip(rows, owners[others], strict=True)
    ]
    if problems:
        raise ForbiddenError(problems)
