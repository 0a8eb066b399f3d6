"""The one settings object: environment variables (prefix SURGEPLAN_) with clear defaults.

Later issues add the broker, database and Ray addresses here; nothing else reads the environment.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SURGEPLAN_", extra="ignore")

    solver: Literal["highs", "cbc"] = Field("highs", description="default MILP solver")
    time_limit: float | None = Field(None, gt=0, description="default time limit per solve, seconds (none = no limit)")
    mip_gap: float = Field(1e-4, ge=0, lt=1, description="default relative MIP gap")


@lru_cache
def get_settings() -> Settings:
    return Settings()
