"""Settings that hold secrets: API tokens with roles, and passwords in URLs, which nothing shows."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tasks.cli.main import app
from tasks.errors import SettingsError
from tasks.settings import Settings, get_settings, mask_url_passwords

runner = CliRunner()


def settings_error(monkeypatch, variable: str, value: str) -> str:
    """The message of the SettingsError that reading the settings raises with `variable` set to `value`."""
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as info:
            get_settings()
    finally:
        get_settings.cache_clear()
    return str(info.value)


def test_tokens_have_roles_and_bare_tokens_may_submit_as_before():
    settings = Settings(api_tokens=" read:r1, submit:s1 ,old-token, x:y:z,,")
    assert settings.token_roles == {"r1": "read", "s1": "submit", "old-token": "submit", "x:y:z": "submit"}
    assert Settings(api_tokens="").tokens == frozenset()


@pytest.mark.parametrize("tokens", ["read:", "read:R,submit: ", "submit:"])
def test_a_role_without_its_token_is_refused_and_no_token_is_echoed(monkeypatch, tokens):
    """`read:` alone was the bare token "read:", a submit token anyone could guess."""
    message = settings_error(monkeypatch, "SURGEPLAN_API_TOKENS", tokens)
    assert "SURGEPLAN_API_TOKENS" in message and "no token" in message and "R," not in message


@pytest.mark.parametrize(
    "variable, value, words",
    [
        ("SURGEPLAN_MAX_UPLOAD_MB", "inf", "finite"),  # the API failed to start with OverflowError
        ("SURGEPLAN_LEASE_SECONDS", "inf", "finite"),  # a dead worker's run would never be queued again
        ("SURGEPLAN_REAPER_INTERVAL", "inf", "finite"),
        ("SURGEPLAN_TIME_LIMIT", "inf", "finite"),
    ],
)
def test_durations_and_sizes_are_finite(monkeypatch, variable, value, words):
    message = settings_error(monkeypatch, variable, value)
    assert variable in message and words in message


def test_a_data_dir_that_is_a_file_is_refused_naming_it(monkeypatch, tmp_path):
    """It failed later with FileExistsError (NotADirectoryError under it) and a traceback, exit 1."""
    plain_file = tmp_path / "data"
    plain_file.write_text("")
    for data_dir in (plain_file, plain_file / "below"):
        monkeypatch.setenv("SURGEPLAN_DATA_DIR", str(data_dir))
        get_settings.cache_clear()
        try:
            runs = runner.invoke(app, ["runs"])
        finally:
            get_settings.cache_clear()
        assert runs.exit_code == 2, runs.output  # bad input, not a traceback (exit 1)
        assert "SURGEPLAN_DATA_DIR" in runs.output and "is a file, not a directory" in runs.output
    assert plain_file.read_text() == ""


def test_passwords_in_urls_are_masked():
    assert (
        mask_url_passwords("redis://:pw@h:6379/0 and postgresql+psycopg://u:p%40ss@db/x, http://host/a@b")
        == "redis://:***@h:6379/0 and postgresql+psycopg://u:***@db/x, http://host/a@b"
    )
    settings = Settings(broker_url="redis://:p%40ss@h/0", api_tokens="read:tok-123")
    assert settings.redact("cannot log in with p@ss or p%40ss or tok-123") == "cannot log in with *** or *** or ***"


def test_a_short_token_is_masked_where_it_stands_alone_not_inside_words():
    """A run's stored error read "***olverError: HiGH*** found no plan" with the token S: mangled, and every
    reader of the error could tell the token from the words around the stars."""
    settings = Settings(api_tokens="submit:S,read:R")
    error = "piece 'baseline' failed; last error: SolverError: HiGHS found no plan (maxTimeLimit)"
    assert settings.redact(error) == error
    assert settings.redact("Bearer S refused, token R. (R) -S-") == "Bearer *** refused, token ***. (***) -***-"


def test_surgeplan_settings_shows_no_password_nor_token(monkeypatch, tmp_path):
    secrets = {
        "SURGEPLAN_BROKER_URL": "redis://:broker-pw-1@127.0.0.1:6390/0",
        "SURGEPLAN_DATABASE_URL": "postgresql+psycopg://planner:db-pw-2@127.0.0.1:5432/runs",
        "SURGEPLAN_RAY_ADDRESS": "ray://ray-user:ray-pw-3@head:10001",
        "SURGEPLAN_API_TOKENS": "read:read-tok-4,submit-tok-5",
        "SURGEPLAN_DATA_DIR": str(tmp_path),
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "500")  # one line per setting: a secret cut by a wrapped cell would go unseen
    get_settings.cache_clear()
    try:
        shown = runner.invoke(app, ["settings"])
    finally:
        get_settings.cache_clear()
    assert shown.exit_code == 0, shown.output
    for secret in ("broker-pw-1", "db-pw-2", "ray-pw-3", "read-tok-4", "submit-tok-5"):
        assert secret not in shown.output
    assert "redis://:***@127.0.0.1:6390/0" in shown.output and "planner:***@127.0.0.1" in shown.output
    assert "read:***" in shown.output
