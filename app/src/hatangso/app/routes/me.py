"""Who the service takes the caller for: the pages ask it to show each user its own forms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from hatangso.app.auth import ReaderDep
from hatangso.app.deps import require_read_key

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["users"], dependencies=[Depends(require_read_key)])


@router.get("/me", summary="The user behind the request's credentials")
async def me(principal: ReaderDep) -> dict[str, Any]:
    """Return the caller's ``name``, ``role``, ``operator`` and ``province``.

    Without credentials the caller is anonymous (every field ``null``), except on a service
    with no key configured and no user added, where it is the administrator. Wrong
    credentials answer 401.
    """
    if principal is None:
        return {"name": None, "role": None, "operator": None, "province": None}
    return {
        "name": principal.name,
        "role": principal.role,
        "operator": principal.operator,
        "province": principal.province,
    }
