"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter

from hatangso.app.schemas import Health

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness check")
def health() -> Health:
    """Answer ``{"status": "ok"}`` while the service runs."""
    return Health(status="ok")
