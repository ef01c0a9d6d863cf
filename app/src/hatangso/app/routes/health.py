"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter, Request

from hatangso.app.schemas import Health

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get(
    "/health", response_model=Health, response_model_exclude_none=True, summary="Liveness check"
)
async def health(request: Request) -> Health:
    """Answer ``{"status": "ok"}`` while the service runs.

    While it builds the demo at start-up it answers too, the build's progress beside the status:
    ``{"status": "ok", "building": "demo", "step": "terrain coverage", "done": 120, "total":
    375}`` (a request for the demo meanwhile waits for it).
    """
    state = getattr(request.app.state, "startup", None)
    building = state.snapshot() if state is not None else None
    if building is None:
        return Health(status="ok")
    return Health(status="ok", **building)
