"""The settings are checked at start-up: run `manage.py check` in a child with a given env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "k" * 60


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE"}}
    for name in (
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "REDIS_URL",
        "SECURE_SSL_REDIRECT",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    ):
        base.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_development_settings_start_with_nothing_set():
    result = manage("check", DEBUG="true")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STAGING_TTL_DAYS", "seven"),
        ("STAGING_TTL_DAYS", "0"),
        ("DEBUG", "maybe"),
        ("REDIS_URL", "localhost:6379"),
        ("RAILWAY_API_URL", "backboard.railway.com"),
        ("DATABASE_URL", "nosuchdb://x"),
        # Digits of other scripts: int() reads Arabic-Indic 7 as 7; "³" passes str.isdigit().
        ("STAGING_TTL_DAYS", "\u0667"),
        ("API_THROTTLE_USER", "³/min"),
    ],
)
def test_a_bad_value_stops_start_up_with_a_message_naming_the_variable(name, value):
    result = manage("check", **{"DEBUG": "true", name: value})
    assert result.returncode != 0
    assert name in result.stderr
    assert "Traceback" not in result.stderr


def test_production_requires_a_secret_key():
    result = manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_a_secret_can_be_read_from_a_file(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("f" * 60 + "\n")
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        DEBUG="false",
        SECRET_KEY_FILE=str(key_file),
        ALLOWED_HOSTS="example.com",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "f" * 60


def test_a_database_url_is_never_repeated_in_the_error():
    result = manage("check", DEBUG="true", DATABASE_URL="nosuchdb://user:hunter22@host/db")
    assert "hunter22" not in result.stderr + result.stdout


def test_production_settings_pass_the_deploy_check():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=STRONG_KEY + "-Zq8!",
        ALLOWED_HOSTS="understudy.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_settings_not_in_the_environment_are_read_from_the_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# the demo's\nDEBUG=false\nSECRET_KEY=" + STRONG_KEY + "\n")

    result = manage("check", UNDERSTUDY_ENV_FILE=str(env_file))

    assert result.returncode == 0, result.stderr


def test_the_environment_wins_over_the_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=true\n")

    result = manage("check", UNDERSTUDY_ENV_FILE=str(env_file), DEBUG="false")

    assert result.returncode != 0
    assert "SECRET_KEY: required when DEBUG is off" in result.stderr


def test_a_command_says_nothing_on_stderr_when_all_is_well():
    result = manage("check", DEBUG="true")

    assert result.returncode == 0
    assert result.stderr == ""
