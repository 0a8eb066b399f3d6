"""The one settings object: environment variables (prefix SURGEPLAN_) with clear defaults.

Nothing else reads the environment. The README's settings table is generated from this class
(`surgeplan settings`), so the two cannot drift apart.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import unquote, urlsplit

from pydantic import (
    AliasChoices,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from tasks.errors import SettingsError

ENV_PREFIX = "SURGEPLAN_"
TokenRole = Literal["read", "submit"]  # read: list, status, events, plans; submit: also submit and cancel
TOKEN_ROLES = get_args(TokenRole)
# the password of any scheme://user:password@host URL in a text (tried even where the settings do not know it)
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]+)(?P<at>@)")


def mask_url_passwords(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***: redis://:pw@host -> redis://:***@host."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}***{m['at']}", text)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    solver: Literal["highs", "cbc"] = Field("highs", description="default MILP solver")
    time_limit: float = Field(
        600.0, gt=0, allow_inf_nan=False, description="default time limit of a whole-horizon solve, seconds"
    )
    window_time_limit: float = Field(
        60.0,
        gt=0,
        allow_inf_nan=False,
        description="default time limit per window of a decomposed run, seconds: a run solves its windows "
        "one after another, so the whole-horizon default per window would take most of an hour",
    )
    mip_gap: float = Field(1e-4, ge=0, lt=1, description="default relative MIP gap")
    workers: int | None = Field(None, ge=1, description="local Ray CPUs for decomposed runs; default: all")
    ray_address: str | None = Field(
        None,
        validation_alias=AliasChoices("SURGEPLAN_RAY_ADDRESS", "RAY_ADDRESS"),
        description="Ray cluster to join (ray://host:10001 or auto; RAY_ADDRESS also works); "
        "unset: a local Ray per process",
    )
    piece_retries: int = Field(
        2,
        ge=0,
        description="retries of a decomposition piece that raises or whose Ray "
        "worker process dies (Ray retries nothing itself): at most 1 + this many attempts",
    )

    # --- the backend: queue, store, API (surgeplan worker / api / submit) ---
    broker_url: str = Field("redis://127.0.0.1:6379/0", description="Redis broker of the run queue")
    queue: str = Field("surgeplan", min_length=1, description="name of the Celery queue runs go through")
    data_dir: Path = Field(
        Path.home() / ".local/share/surgeplan", description="where stored instances and plans (Parquet) live"
    )
    database_url: str | None = Field(
        None, description="run store (postgresql+psycopg://...); unset: SQLite in data_dir"
    )
    api_tokens: str = Field(
        "",
        description="comma-separated bearer tokens the API accepts, each `read:TOKEN` "
        "(list runs, their status, events and plans) or `submit:TOKEN` (also submit and cancel); "
        "a bare `TOKEN` may submit; none: the API refuses to start",
    )
    api_public_docs: bool = Field(
        False,
        description="serve the OpenAPI docs (/docs, /redoc, /openapi.json) without a "
        "token; false: they need a token like every route but /health",
    )
    api_host: str = Field("127.0.0.1", description="address `surgeplan api` listens on")
    api_port: int = Field(8000, ge=1, le=65535, description="port `surgeplan api` listens on")
    max_upload_mb: float = Field(50.0, gt=0, allow_inf_nan=False, description="largest request body the API reads, MiB")
    visibility_timeout: float = Field(
        7200.0,
        gt=0,
        allow_inf_nan=False,
        description="seconds before Redis hands an unacknowledged run to another queue consumer",
    )
    run_time_limit: float = Field(
        3600.0,
        gt=0,
        allow_inf_nan=False,
        description="seconds a run may take before it is stopped (its Ray pieces too); "
        "must be below the visibility timeout",
    )
    lease_seconds: float = Field(
        30.0,
        ge=1,
        allow_inf_nan=False,
        description="seconds a running run is held without a heartbeat (sent every 2 s at most); "
        "a queue consumer silent that long is presumed dead and its run queued again",
    )
    reaper_interval: float = Field(
        10.0, gt=0, allow_inf_nan=False, description="seconds between a queue consumer's checks for lost runs"
    )
    max_run_attempts: int = Field(
        3,
        ge=1,
        description="executions a run may start; one whose queue consumer died (or lost "
        "its lease) during each of them ends failed instead of being queued again",
    )

    @field_validator("api_tokens")
    @classmethod
    def _no_empty_role_token(cls, api_tokens: str) -> str:
        # "read:" with nothing after it would otherwise become the bare token "read:", a guessable submit token
        for entry in (e.strip() for e in api_tokens.split(",")):
            role, colon, token = entry.partition(":")
            if colon and role in TOKEN_ROLES and not token.strip():
                raise ValueError(f"'{entry}' gives the role {role} but no token; write {role}:TOKEN")
        return api_tokens

    @field_validator("data_dir")
    @classmethod
    def _directory(cls, data_dir: Path) -> Path:
        existing = next(p for p in (data_dir, *data_dir.parents) if p.exists())  # created from there if missing
        if not existing.is_dir():  # the store and the instances go inside it
            raise ValueError(f"{existing} is a file, not a directory; name a directory (it is created if missing)")
        return data_dir

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'surgeplan.db'}"
        return self

    @property
    def token_roles(self) -> dict[str, TokenRole]:
        """Each API token and its role: `read:TOKEN`, `submit:TOKEN`, or a bare TOKEN (submit, as before roles)."""
        roles: dict[str, TokenRole] = {}
        for entry in (e.strip() for e in self.api_tokens.split(",")):
            role, _, token = entry.partition(":")
            if role not in TOKEN_ROLES or not token.strip():
                role, token = "submit", entry
            if token.strip():
                roles[token.strip()] = role
        return roles

    @property
    def tokens(self) -> frozenset[str]:
        return frozenset(self.token_roles)

    def secrets(self) -> list[str]:
        """What must never be shown: the API tokens and the passwords inside the service URLs."""
        passwords = [urlsplit(url).password for url in (self.broker_url, self.database_url, self.ray_address) if url]
        passwords += [unquote(p) for p in passwords if p]  # as written in the URL, and as a client library says it
        return sorted({s for s in [*self.tokens, *passwords] if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` (a log line, an exception's message) with every secret replaced by ***.

        Only where the secret stands alone (not inside a longer word): masking the token "S" inside
        "SolverError" mangled the message and told every reader of a run's error what the token was."""
        for secret in self.secrets():
            text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", "***", text)
        return mask_url_passwords(text)

    def shown(self) -> dict[str, object]:
        """The values in force as `surgeplan settings` shows them: passwords and tokens masked."""
        return {
            name: self.redact(str(value)) if isinstance(value, str) else value
            for name, value in self.model_dump().items()
        }

    def default_time_limit(self, whole_horizon: bool) -> float:
        """Seconds per solve when a run names none: the whole horizon's, or each window's."""
        return self.time_limit if whole_horizon else self.window_time_limit

    def check_worker_limits(self) -> None:
        """A late-acknowledged run that outlives the visibility timeout is handed out again: refuse that setup."""
        if self.run_time_limit >= self.visibility_timeout:
            raise SettingsError(
                f"{ENV_PREFIX}RUN_TIME_LIMIT ({self.run_time_limit:g} s) must be below {ENV_PREFIX}VISIBILITY_TIMEOUT "
                f"({self.visibility_timeout:g} s): otherwise Redis redelivers a run still being solved; "
                "raise the visibility timeout or lower the run time limit"
            )


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


def _shown_input(error: dict) -> str:
    """The bad value of a settings error as it may be shown: never the tokens, nor a URL's password."""
    if error["loc"] and error["loc"][0] == "api_tokens":
        return "the value, not shown: it holds the tokens"
    return mask_url_passwords(repr(error.get("input")))


@lru_cache
def get_settings() -> Settings:
    """The settings, read once; a bad variable raises SettingsError naming it."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']} (got {_shown_input(e)})"
            for e in exc.errors()
        )
        raise SettingsError(f"bad environment setting: {problems}") from None
