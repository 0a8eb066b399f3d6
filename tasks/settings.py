"""The one settings object: environment variables (prefix SURGEPLAN_) with clear defaults.

Later issues add the broker, database and Ray addresses here; nothing else reads the environment.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError
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
        description="Ray cluster to join (ray://host:10001 or auto); unset: a local Ray",
    )
    piece_retries: int = Field(2, ge=0, description="retries of a decomposition piece that raises")


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
