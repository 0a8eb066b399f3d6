"""The one settings object: environment variables (prefix SURGEPLAN_) with clear defaults.

Nothing else reads the environment. The README's settings table is generated from this class
(`surgeplan settings`), so the two cannot drift apart.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from decomposition.errors import SurgeplanError

ENV_PREFIX = "SURGEPLAN_"


class SettingsError(SurgeplanError):
    """An environment variable holds a value the settings cannot take."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    solver: Literal["highs", "cbc"] = Field("highs", description="default MILP solver")
    time_limit: float = Field(600.0, gt=0, description="default time limit per solve, seconds")
    mip_gap: float = Field(1e-4, ge=0, lt=1, description="default relative MIP gap")
    workers: int | None = Field(None, ge=1, description="local Ray CPUs for decomposed runs; default: all")
    ray_address: str | None = Field(
        None, validation_alias=AliasChoices("SURGEPLAN_RAY_ADDRESS", "RAY_ADDRESS"),
        description="Ray cluster to join (ray://host:10001 or auto; RAY_ADDRESS also works); unset: a local Ray per process",
    )
    piece_retries: int = Field(2, ge=0, description="retries of a decomposition piece that raises")

    # --- the backend: queue, store, API (surgeplan worker / api / submit) ---
    broker_url: str = Field("redis://127.0.0.1:6379/0", description="Redis broker of the run queue")
    queue: str = Field("surgeplan", min_length=1, description="name of the Celery queue runs go through")
    data_dir: Path = Field(Path.home() / ".local/share/surgeplan",
                           description="where stored instances and plans (Parquet) live")
    database_url: str | None = Field(None, description="run store (postgresql+psycopg://...); unset: SQLite in data_dir")
    api_tokens: str = Field("", description="comma-separated bearer tokens the API accepts; none: the API refuses to start")
    api_host: str = Field("127.0.0.1", description="address `surgeplan api` listens on")
    api_port: int = Field(8000, ge=1, le=65535, description="port `surgeplan api` listens on")
    max_upload_mb: float = Field(50.0, gt=0, description="largest request body the API reads, MiB")
    visibility_timeout: float = Field(7200.0, gt=0, description="seconds before Redis hands an unacknowledged run to another worker")
    run_time_limit: float = Field(3600.0, gt=0, description="seconds a run may take before it is stopped (its Ray pieces too); must be below the visibility timeout")
    lease_seconds: float = Field(30.0, ge=1, description="seconds a running run is held without a heartbeat (sent every 2 s at most); a worker silent that long is presumed dead and its run queued again")
    reaper_interval: float = Field(10.0, gt=0, description="seconds between a worker's checks for lost runs")

    @model_validator(mode="after")
    def _default_database(self) -> "Settings":
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'surgeplan.db'}"
        return self

    @property
    def tokens(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.api_tokens.split(",") if t.strip())

    def check_worker_limits(self) -> None:
        """A late-acknowledged run that outlives the visibility timeout is handed out again: refuse that setup."""
        if self.run_time_limit >= self.visibility_timeout:
            raise SettingsError(
                f"{ENV_PREFIX}RUN_TIME_LIMIT ({self.run_time_limit:g} s) must be below {ENV_PREFIX}VISIBILITY_TIMEOUT "
                f"({self.visibility_timeout:g} s): otherwise Redis redelivers a run still being solved; "
                "raise the visibility timeout or lower the run time limit")


def settings_rows() -> list[tuple[str, str, str]]:
    """(environment variable, default, meaning) for every setting, as the README's table shows them."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        if name == "database_url":
            shown = "SQLite file `surgeplan.db` in the data directory"
        elif name == "data_dir":
            shown = "`~/.local/share/surgeplan`"
        elif default in (None, ""):
            shown = "unset"
        else:
            shown = f"`{default}`"
        rows.append((f"{ENV_PREFIX}{name.upper()}", shown, field.description or ""))
    return rows


def settings_markdown() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{var}` | {default} | {meaning} |" for var, default, meaning in settings_rows()]
    return "\n".join(lines) + "\n"


@lru_cache
def get_settings() -> Settings:
    """The settings, read once; a bad variable raises SettingsError naming it."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']} (got {e.get('input')!r})"
            for e in exc.errors()
        )
        raise SettingsError(f"bad environment setting: {problems}") from None
