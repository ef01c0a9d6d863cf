"""Dependencies shared by the routes: settings, workspace, the read key, scenario lookup.

Who may write is :mod:`hatangso.app.auth`'s.
"""

from __future__ import annotations

import hmac
import threading
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader

from hatangso.app.config import Settings, get_settings
from hatangso.app.workspace import NAME_PATTERN, Workspace

__all__ = [
    "ScenarioName",
    "SettingsDep",
    "WorkspaceDep",
    "app_settings",
    "existing_scenario",
    "get_workspace",
    "require_read_key",
]


async def app_settings(request: Request) -> Settings:
    """Dependency: the settings the application was created with (see ``create_app``).

    The application keeps them in ``app.state.settings`` (read once by :func:`get_settings`
    when not given). Tests may replace this dependency with ``app.dependency_overrides``.
    """
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


# Dependencies are coroutines: FastAPI runs a plain function in a worker thread, and a few
# thread hops per request would cost more than the work itself.
SettingsDep = Annotated[Settings, Depends(app_settings)]

_WORKSPACES: dict[Path, Workspace] = {}
_LOCK = threading.Lock()

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key.")


def workspace_for(settings: Settings) -> Workspace:
    """Return the (shared) workspace of `settings`."""
    root = Path(settings.workspace).resolve()
    with _LOCK:
        workspace = _WORKSPACES.get(root)
        if workspace is None:
            database = settings.database_url
            workspace = _WORKSPACES[root] = Workspace(
                root,
                max_cached=settings.max_cached_items,
                database_url=database.get_secret_value() if database is not None else None,
            )
        return workspace


async def get_workspace(settings: SettingsDep) -> Workspace:
    """Dependency: the workspace the settings name."""
    return workspace_for(settings)


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


def _matches(given: str | None, expected: str) -> bool:
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=message,
        headers={"WWW-Authenticate": "APIKey"},
    )


async def require_read_key(
    settings: SettingsDep, key: Annotated[str | None, Security(_api_key_header)] = None
) -> None:
    """Dependency of read endpoints: the key, only when HATANGSO_READ_KEY_REQUIRED is set."""
    if not settings.read_key_required:
        return
    expected = settings.read_key or settings.api_key
    if expected is None:
        raise _unauthorised("reading requires a key but none is configured on the server")
    if not _matches(key, expected.get_secret_value()):
        raise _unauthorised("missing or wrong X-API-Key header")


ScenarioName = Annotated[
    str,
    PathParam(
        pattern=NAME_PATTERN,
        max_length=64,
        description="Scenario name: lower-case letters, digits, '-' and '_'.",
    ),
]


async def existing_scenario(
    name: ScenarioName, workspace: WorkspaceDep, settings: SettingsDep
) -> str:
    """Dependency: the name of a scenario with results (built now if it is a registered one)."""
    if workspace.exists(name):
        return name
    if not await run_in_threadpool(workspace.ensure, name, build=settings.demo):
        raise HTTPException(status_code=404, detail=f"no scenario named '{name}' with results")
    return name


ExistingScenario = Annotated[str, Depends(existing_scenario)]
