"""Settings that hold secrets: API tokens with roles, and passwords in URLs, which nothing shows."""

from __future__ import annotations

from typer.testing import CliRunner

from tasks.cli import app
from tasks.settings import Settings, get_settings, mask_url_passwords

runner = CliRunner()


def test_tokens_have_roles_and_bare_tokens_may_submit_as_before():
    settings = Settings(api_tokens=" read:r1, submit:s1 ,old-token,read:, x:y:z,,")
    assert settings.token_roles == {"r1": "read", "s1": "submit", "old-token": "submit", "read:": "submit",
                                    "x:y:z": "submit"}
    assert Settings(api_tokens="").tokens == frozenset()


def test_passwords_in_urls_are_masked():
    assert mask_url_passwords("redis://:pw@h:6379/0 and postgresql+psycopg://u:p%40ss@db/x, http://host/a@b") == \
        "redis://:***@h:6379/0 and postgresql+psycopg://u:***@db/x, http://host/a@b"
    settings = Settings(broker_url="redis://:p%40ss@h/0", api_tokens="read:tok-123")
    assert settings.redact("cannot log in with p@ss or p%40ss or tok-123") == "cannot log in with *** or *** or ***"


def test_surgeplan_settings_shows_no_password_nor_token(monkeypatch, tmp_path):
    secrets = {"SURGEPLAN_BROKER_URL": "redis://:broker-pw-1@127.0.0.1:6390/0",
               "SURGEPLAN_DATABASE_URL": "postgresql+psycopg://planner:db-pw-2@127.0.0.1:5432/runs",
               "SURGEPLAN_RAY_ADDRESS": "ray://ray-user:ray-pw-3@head:10001",
               "SURGEPLAN_API_TOKENS": "read:read-tok-4,submit-tok-5", "SURGEPLAN_DATA_DIR": str(tmp_path)}
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
