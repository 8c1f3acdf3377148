"""The README's "Operating it" block, run as written against a demo like `make run`'s.

The demo here is what `make run` starts, on free ports and its own names: the Railway sandbox
seeded with the demo clients, a SQLite portal database migrated and given the demo sites, two
RQ workers, and a ``.env`` written by the demo's own writer. Each line of the block runs in bash
from the checkout, exactly as the README prints it, with nothing of the portal's settings in the
environment: they must come from the ``.env``. Every command must exit 0 and say nothing on
stderr, and each ``--json`` one must print one JSON document. The failures ``--json`` promises
to describe (an unknown site or environment, a ``--wait`` that runs out, bad usage) are run the
same way.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

from railway_sandbox import Sandbox
from railway_sandbox.management.commands.serve_demo import WORKERS, write_demo_env

ROOT = Path(__file__).resolve().parents[2]
PORTAL_SETTINGS = {
    "DEBUG",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "RAILWAY_SANDBOX_PORT",
    "DJANGO_SETTINGS_MODULE",
    "SECURE_SSL_REDIRECT",
    "STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES",
}


def operating_block() -> list[str]:
    """The commands of README.md's "Operating it" section, one a line, comments kept."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Operating it", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "README.md's 'Operating it' has no sh block"
    return [line for line in block[1].splitlines() if line.strip()]


@dataclass
class Demo:
    environment: dict[str, str]
    worker_log: Path

    def run(self, line: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", line],
            cwd=ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    home = tmp_path_factory.mktemp("demo")
    redis_url = f"redis://127.0.0.1:6379/{os.environ.get('TEST_REDIS_DB', '15')}"
    queue = redis.Redis.from_url(redis_url)
    queue.flushdb()
    sandbox = Sandbox(
        home / "railway-sandbox.json",
        postgres_url=settings.RAILWAY_SANDBOX_POSTGRES_URL,
        mysql_url=settings.RAILWAY_SANDBOX_MYSQL_URL,
        deploy_seconds=0.3,
        apply_seconds=0.2,
        token=settings.RAILWAY_SANDBOX_TOKEN,
    ).start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        sandbox.seed_demo()
        env_file = home / ".env"
        write_demo_env(
            env_file,
            {
                "DEBUG": "true",
                "DATABASE_URL": f"sqlite:///{home / 'db.sqlite3'}",
                "SECRET_KEY": secrets.token_urlsafe(50),
                "REDIS_URL": redis_url,
                "RAILWAY_SANDBOX_PORT": str(sandbox.port),
                "STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES": "true",
            },
        )
        environment = {k: v for k, v in os.environ.items() if k not in PORTAL_SETTINGS}
        environment |= {"UNDERSTUDY_ENV_FILE": str(env_file), "LOG_LEVEL": "WARNING"}
        manage = [sys.executable, "manage.py"]
        for arguments in (
            ["migrate", "--noinput", "-v", "0"],
            [
                "shell",
                "-c",
                "import io; from railway_sandbox.management.commands.serve_demo import Command; "
                "Command().register_demo_sites(io.StringIO())",
            ],
        ):
            subprocess.run(
                [*manage, *arguments], cwd=ROOT, env=environment, check=True, capture_output=True
            )
        worker_log = home / "workers.log"
        with worker_log.open("wb") as log:
            workers = [
                subprocess.Popen(
                    [*manage, "rqworker", "default", "--with-scheduler"],
                    cwd=ROOT,
                    env=environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                for _ in range(WORKERS)
            ]
        yield Demo(environment, worker_log)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        queue.flushdb()
        sandbox.stop()
        sandbox.drop_all_databases()


def json_document(result: subprocess.CompletedProcess[str]) -> Any:
    """stdout as one JSON document (json.loads refuses two, or text around one)."""
    return json.loads(result.stdout)


def test_every_command_of_the_operating_block_runs_as_written(demo: Demo):
    outcomes = []
    for line in operating_block():
        assert line.startswith(".venv/bin/python manage.py "), line
        result = demo.run(line)
        outcomes.append((line, result))
        assert result.returncode == 0, (
            f"{line}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}\n"
            f"workers:\n{demo.worker_log.read_text()[-3000:]}"
        )
        assert result.stderr == "", f"{line} wrote on stderr:\n{result.stderr}"
        if "--json" in line.split("#")[0]:
            json_document(result)

    by_command = {line.split("#")[0].strip(): result for line, result in outcomes}
    cloned = by_command[
        ".venv/bin/python manage.py clone_staging bakery-co --name spring-sale --ttl-days 14 "
        "--personal-data-acknowledged --wait"
    ]
    assert "spring-sale is succeeded at http://" in cloned.stdout
    refreshed = json_document(
        by_command[
            ".venv/bin/python manage.py refresh_staging bakery-co/spring-sale "
            "--personal-data-acknowledged --wait --json"
        ]
    )
    assert (refreshed["operation"], refreshed["status"]) == ("refresh", "succeeded")
    assert refreshed["metrics"]["bytes_copied"] > 0
    listed = json_document(by_command[".venv/bin/python manage.py list_staging --json"])
    assert [(e["site"], e["name"], e["status"]) for e in listed["environments"]] == [
        ("bakery-co", "spring-sale", "ready")
    ]
    assert "is succeeded" in (
        by_command[
            ".venv/bin/python manage.py teardown_staging bakery-co/spring-sale --wait"
        ].stdout
    )
    expired = json_document(by_command[".venv/bin/python manage.py list_staging --expired --json"])
    assert expired == {"environments": []}
    cleaned = json_document(by_command[".venv/bin/python manage.py cleanup_staging --json"])
    assert (cleaned["dry_run"], cleaned["failed"]) == (False, 0)
    assert "agree" in by_command[".venv/bin/python manage.py reconcile_staging"].stdout


@pytest.mark.parametrize(
    ("line", "exit_code", "code"),
    [
        (".venv/bin/python manage.py clone_staging nope --json", 1, "site_not_found"),
        (
            ".venv/bin/python manage.py teardown_staging ledger-app/nope --json",
            1,
            "environment_not_found",
        ),
        (".venv/bin/python manage.py refresh_staging nope --json", 2, "bad_usage"),
        (".venv/bin/python manage.py list_staging --expird --json", 2, "bad_usage"),
        (".venv/bin/python manage.py clone_staging --json", 2, "bad_usage"),
        (".venv/bin/python manage.py cleanup_staging --older-than soon --json", 2, "bad_usage"),
    ],
)
def test_a_failure_prints_one_json_document_with_its_code(
    demo: Demo, line: str, exit_code: int, code: str
):
    result = demo.run(line)

    assert result.returncode == exit_code, result.stderr
    document = json_document(result)
    assert document["error"]["code"] == code
    assert document["error"]["message"]
    assert "Traceback" not in result.stderr


def test_a_wait_that_runs_out_prints_the_run_it_left_running(demo: Demo):
    result = demo.run(
        ".venv/bin/python manage.py clone_staging ledger-app --name slow --timeout 0.2 --wait "
        "--personal-data-acknowledged --json"
    )

    assert result.returncode == 1, result.stderr
    error = json_document(result)["error"]
    assert error["code"] == "wait_timed_out"
    assert error["details"]["run"]["environment"] == "slow"
    assert error["details"]["run"]["status"] in {"queued", "running"}
    settled = demo.run(
        ".venv/bin/python manage.py teardown_staging ledger-app/slow --wait --json", timeout=300
    )
    # The clone still runs: a teardown waits for it (run_in_progress), or it has ended.
    assert settled.returncode in (0, 1), settled.stderr
