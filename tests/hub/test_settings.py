"""Hub settings: options over ``TOUCHPOINT_HUB_*`` over defaults, and errors that name the field and its source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.core.config import HubSettings, redact_db, settings_errors, settings_from
from tests.support import ENV


def test_options_override_the_environment_which_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_from({}).port == 8000 and settings_from({}).db == "hub.sqlite"
    monkeypatch.setenv("TOUCHPOINT_HUB_PORT", "8100")
    monkeypatch.setenv("TOUCHPOINT_HUB_DB", "postgresql://hub@db.example:5433/touchpoint")
    monkeypatch.setenv("TOUCHPOINT_HUB_METRICS_AUTH", "true")
    from_env = settings_from({"port": None})  # an option not given does not hide the variable
    assert (from_env.port, from_env.metrics_auth, from_env.backend) == (8100, True, "postgresql")
    given = settings_from({"port": 8200, "db": "/var/lib/touchpoint/hub.sqlite"})
    assert (given.port, given.db, given.backend) == (8200, "/var/lib/touchpoint/hub.sqlite", "sqlite")


def test_a_path_object_is_still_a_database_setting() -> None:
    assert HubSettings(db=Path("/tmp/x.sqlite")).db == "/tmp/x.sqlite"


@pytest.mark.parametrize(
    ("db", "problem"),
    [
        ("postgresql://hub@db:99999/tp", "not a valid PostgreSQL URL: Port out of range"),
        ("postgresql://hub@db:5432/a/b", "is not one database name"),
        ("mysql://hub@db/tp", "unsupported database URL scheme 'mysql'"),
        ("", "not empty"),
    ],
)
def test_a_bad_database_setting_is_refused_naming_the_field(db: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        settings_from({"db": db})
    [line] = settings_errors(caught.value, {"db": db})
    assert line.startswith("db (from --db): ") and problem in line


def test_an_error_names_the_environment_variable_it_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_HUB_WEBHOOK_MAX_ATTEMPTS", "lots")
    with pytest.raises(ValidationError) as caught:
        settings_from({})
    [line] = settings_errors(caught.value, {})
    assert line.startswith("webhook_max_attempts (from TOUCHPOINT_HUB_WEBHOOK_MAX_ATTEMPTS): Input should be")
    assert settings_from({"webhook_max_attempts": 3}).webhook_max_attempts == 3  # the option wins, unread


def test_a_password_in_the_database_url_is_kept_out_of_logs() -> None:
    assert redact_db("postgresql://hub:s3cret@db:5432/tp") == "postgresql://hub:***@db:5432/tp"
    assert "s3cret" not in repr(HubSettings(db="postgresql://hub:s3cret@db:5432/tp"))


def test_serve_exits_with_the_variable_and_the_option_named() -> None:
    """The real CLI: a bad variable and a bad option each stop ``serve`` before it binds anything."""
    run = [sys.executable, "-m", "hub.cli", "serve"]
    env = {**ENV, "TOUCHPOINT_HUB_PORT": "http"}
    bad_env = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60)
    assert bad_env.returncode == 2
    assert "error: port (from TOUCHPOINT_HUB_PORT): Input should be a valid integer" in bad_env.stderr
    bad_option = subprocess.run([*run, "--db", "postgresql://h:0x/tp"], capture_output=True, text=True, env=env,
                                timeout=60)  # fmt: skip
    assert bad_option.returncode == 2
    assert "error: db (from --db): not a valid PostgreSQL URL" in bad_option.stderr
