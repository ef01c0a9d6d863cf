"""Settings of the service, read once from the environment (``HATANGSO_*``).

:func:`get_settings` reads them once; ``create_app(settings)`` keeps them in the application's
state, and the routes receive them injected with ``Depends`` (``hatangso.app.deps.SettingsDep``);
tests pass their own to ``create_app`` or override ``hatangso.app.deps.app_settings``.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hatangso.geo import limits

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Configuration of ``hatangso serve``.

    Every field is read from the environment variable ``HATANGSO_<FIELD>`` (case-insensitive),
    e.g. ``HATANGSO_API_KEY``, ``HATANGSO_MAX_UPLOAD_MB``, ``HATANGSO_WORKSPACE``.
    """

    model_config = SettingsConfigDict(env_prefix="HATANGSO_", extra="ignore", frozen=True)

    api_key: SecretStr | None = Field(
        default=None, description="Key that write endpoints require in the X-API-Key header."
    )
    max_auth_failures: int = Field(
        default=5,
        gt=0,
        description="Wrong credentials one client may send within HATANGSO_AUTH_WINDOW_S; "
        "after them, every attempt is answered 429 until the window has passed.",
    )
    auth_window_s: float = Field(
        default=60.0, gt=0, description="Window (seconds) over which wrong credentials count."
    )
    read_key_required: bool = Field(
        default=False, description="Whether read endpoints also require the key."
    )
    read_key: SecretStr | None = Field(
        default=None, description="Key for read endpoints; the API key when unset."
    )
    workspace: Path = Field(default=Path("workspace"), description="Folder of the scenarios.")
    database_url: SecretStr | None = Field(
        default=None,
        description=(
            "postgresql://user:password@host:port/db keeps the record in PostGIS (a schema per"
            " scenario); unset, each scenario keeps it in its folder's record.gpkg."
        ),
    )
    max_upload_mb: float = Field(default=100.0, gt=0, description="Largest upload accepted.")
    max_unzipped_mb: float = Field(
        default=1000.0, gt=0, description="Largest total uncompressed size of a zip upload."
    )
    max_zip_ratio: float = Field(
        default=200.0, gt=1, description="Largest compression ratio of a zip member."
    )
    max_zip_members: int = Field(default=200, gt=0, description="Most members in a zip upload.")
    max_raster_pixels: int = Field(
        default=100_000_000,
        gt=0,
        description="Most pixels of an uploaded DEM or population raster (width x height).",
    )
    demo: bool = Field(
        default=True, description="Build the demo scenario when the workspace has none."
    )
    prewarm: bool = Field(
        default=True, description="Build the map pages in the background at start-up."
    )
    online_tiles: bool = Field(
        default=False, description="Offer OpenStreetMap tiles as an optional base layer."
    )
    max_page: int = Field(default=5000, gt=0, description="Largest `limit` of a villages page.")
    max_json_mb: float = Field(
        default=1.0,
        gt=0,
        description="Largest JSON body of a write request (a coverage configuration, a plan).",
    )
    job_seconds: float = Field(
        default=600.0,
        gt=0,
        description="Wall time an upload's validation, a coverage run or a plan may take.",
    )
    job_memory_mb: float = Field(
        default=4096.0,
        gt=0,
        description="Memory such a job may allocate, on top of the libraries already loaded.",
    )
    jobs: int = Field(default=2, gt=0, description="Jobs (uploads, runs, plans) at once.")
    # Limits on the work a request's configuration may ask for; the defaults are those of
    # hatangso.geo.limits (WorkLimits), which the command line reads from the same variables.
    max_terrain_radius_m: float = Field(
        default=limits.MAX_TERRAIN_RADIUS_M, gt=0, description="Largest terrain.radius_m."
    )
    min_terrain_resolution_m: float = Field(
        default=limits.MIN_TERRAIN_RESOLUTION_M, gt=0, description="Finest terrain.resolution_m."
    )
    max_terrain_cells_per_site: int = Field(
        default=limits.MAX_TERRAIN_CELLS_PER_SITE,
        gt=0,
        description="Most cells of one site's terrain window.",
    )
    max_terrain_work_cells: int = Field(
        default=limits.MAX_TERRAIN_WORK_CELLS,
        gt=0,
        description="Most cells (sites x cells per site) of one terrain run.",
    )
    max_terrain_grid_cells: int = Field(
        default=limits.MAX_TERRAIN_GRID_CELLS,
        gt=0,
        description="Most cells of the terrain grid of one run.",
    )
    max_candidates: int = Field(
        default=limits.MAX_CANDIDATES, gt=0, description="Largest siting.max_candidates."
    )
    max_solver_time_s: float = Field(
        default=limits.MAX_SOLVER_TIME_S, gt=0, description="Largest siting.time_limit_s."
    )
    max_cache_mb: float = Field(
        default=limits.MAX_CACHE_MB,
        gt=0,
        description="Cap of the terrain cache on disk; least recently used entries go first.",
    )
    max_referenced_file_bytes: int = Field(
        default=limits.MAX_REFERENCED_FILE_BYTES,
        gt=0,
        description="Largest file a configuration names (calibration, exclusion).",
    )
    asof_runs: int = Field(
        default=8,
        gt=0,
        description="Runs of past days (?as_of=) kept per scenario; the least recently used "
        "go first.",
    )
    max_cached_items: int = Field(
        default=128,
        gt=0,
        description="Most documents, frames and map pages the service keeps in memory.",
    )

    @property
    def work_limits(self) -> limits.WorkLimits:
        """The limits on a run's work, for the configuration's validation."""
        return limits.WorkLimits(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(limits.WorkLimits)}
        )

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_json_bytes(self) -> int:
        """The limit on a JSON request body in bytes."""
        return int(self.max_json_mb * 1024 * 1024)

    @property
    def max_unzipped_bytes(self) -> int:
        """The limit on a zip archive's uncompressed size, in bytes."""
        return int(self.max_unzipped_mb * 1024 * 1024)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the settings, read from the environment on first use."""
    return Settings()
