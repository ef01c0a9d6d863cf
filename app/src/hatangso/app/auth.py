"""Who is asking: the principal behind a request, and what its role lets it do.

Every route that writes to the record takes :data:`WriterDep` and passes the principal's
``name`` as the store's ``actor`` and its ``operator`` as the store's ``operator``: the store
then refuses, row by row, a change to another operator's rows (403). Routes that read take
:data:`ReaderDep`.

Roles
-----
``admin``
    The holder of ``HATANGSO_API_KEY`` (``X-API-Key``), or anyone when no key is configured
    (a laptop's service): reads and writes everything.
``official``
    An official of the provincial department: writes within its province, decides challenges.
``operator``
    A telecom operator: writes only its own operator's rows.
``viewer``
    Reads only.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Security, status
from fastapi.security import APIKeyHeader

from hatangso.app.deps import SettingsDep

__all__ = [
    "ROLES",
    "Principal",
    "ReaderDep",
    "Role",
    "WriterDep",
    "current_principal",
    "reader",
    "writer",
]

Role = Literal["admin", "official", "operator", "viewer"]

#: The roles, from most to least powerful.
ROLES: tuple[Role, ...] = ("admin", "official", "operator", "viewer")

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key.")


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


async def current_principal(
    settings: SettingsDep, key: Annotated[str | None, Security(_api_key_header)] = None
) -> Principal | None:
    """Dependency: the principal of the request, or ``None`` without credentials.

    ``X-API-Key`` equal to ``HATANGSO_API_KEY`` is the administrator; with no key configured,
    every request is.
    """
    expected = settings.api_key.get_secret_value() if settings.api_key is not None else ""
    if not expected:
        return ADMIN
    if key is not None:
        if _matches(key, expected):
            return ADMIN
        raise _unauthorised("wrong X-API-Key header")
    return None


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
