"""Fixtures for running the pipeline for real: the Railway sandbox, the local database
servers, the job queue on Redis, and a real RQ worker process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django_rq
import pytest
from django.db import connection

from railway_sandbox import Sandbox, SandboxProject
from staging.models import ClientSite, DatabaseEngine
from staging.railway import RailwayClient
from staging.services import Services
from tests.fixtures_railway import SANDBOX_TOKEN

ROOT = Path(__file__).resolve().parent.parent

# Small but real: three tables, an index, a sequence, a view and some thousands of rows.
POSTGRES_PRODUCTION_SQL = """
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL);
CREATE TABLE invoices (
    id bigserial PRIMARY KEY,
    customer_id int NOT NULL REFERENCES customers(id),
    amount_cents int NOT NULL,
    memo text
);
CREATE INDEX invoices_customer ON invoices (customer_id);
CREATE VIEW big_invoices AS SELECT * FROM invoices WHERE amount_cents > 50000;
INSERT INTO customers (email, name)
    SELECT 'customer' || g || '@example.com', 'Customer ' || g FROM generate_series(1, 500) g;
INSERT INTO invoices (customer_id, amount_cents, memo)
    SELECT 1 + g % 500, (g * 7919) % 100000, repeat('line item ', 5)
    FROM generate_series(1, 5000) g;
"""


# About 60 MB: enough for the copy to take a few seconds, so a worker can die during it.
LARGE_PRODUCTION_SQL = """
CREATE TABLE events (id bigserial PRIMARY KEY, payload text NOT NULL);
INSERT INTO events (payload) SELECT repeat(md5(g::text), 12) FROM generate_series(1, 150000) g;
"""


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def fast_sleep(seconds: float) -> None:
    """Polling in tests: keep the rhythm, not the waiting."""
    time.sleep(min(seconds, 0.2))


def sandbox_services(sandbox: Sandbox) -> Services:
    return Services(
        railway=RailwayClient(sandbox.api_url, SANDBOX_TOKEN, sleep=fast_sleep),
        url_template=f"http://{{domain}}:{sandbox.port}",
        sleep=fast_sleep,
    )


@pytest.fixture
def services(sandbox: Sandbox) -> Iterator[Services]:
    built = sandbox_services(sandbox)
    yield built
    built.close()


def site_for(project: SandboxProject, **fields: Any) -> ClientSite:
    """A client site registered for a sandbox project, as an administrator would add it."""
    defaults: dict[str, Any] = {
        "name": project.name,
        "slug": project.name.lower().replace(" ", "-"),
        "railway_project_id": project.project_id,
        "production_environment_id": project.production_environment_id,
        "app_service_id": project.app_service_id,
        "database_service_id": project.database_service_id,
        "database_engine": DatabaseEngine(project.engine),
        "is_wordpress": project.engine != "postgres",
    }
    return ClientSite.objects.create(**(defaults | fields))


@pytest.fixture
def ledger_project(sandbox: Sandbox) -> SandboxProject:
    return sandbox.add_project(
        f"Ledger {time.monotonic_ns() % 100000}",
        engine="postgres",
        production_data_sql=POSTGRES_PRODUCTION_SQL,
    )


@pytest.fixture
def ledger_site(ledger_project: SandboxProject, transactional_db: None) -> ClientSite:
    return site_for(ledger_project, is_wordpress=False)


@pytest.fixture
def job_queue(settings: Any) -> Iterator[Any]:
    """The real queue on the test Redis database, empty before and after."""
    queue = django_rq.get_queue("default")
    queue.connection.flushdb()
    yield queue
    queue.connection.flushdb()


def _test_database_url() -> str:
    config = connection.settings_dict
    password = f":{config['PASSWORD']}" if config["PASSWORD"] else ""
    return (
        f"postgres://{config['USER']}{password}@{config['HOST'] or '127.0.0.1'}:"
        f"{config['PORT'] or 5432}/{config['NAME']}"
    )


def worker_environment(sandbox: Sandbox, **extra: str) -> dict[str, str]:
    """What a worker process needs to share this test's database, queue and sandbox."""
    return (
        os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": _test_database_url(),
            "RAILWAY_API_URL": sandbox.api_url,
            "RAILWAY_API_TOKEN": SANDBOX_TOKEN,
            "STAGING_URL_TEMPLATE": f"http://{{domain}}:{sandbox.port}",
            "STAGING_HEARTBEAT_SECONDS": "1",
            "LOG_FORMAT": "json",
        }
        | extra
    )


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.getpgid(pid)
    except ProcessLookupError:
        return False
    return True


class Worker:
    """A real ``rqworker`` process in its own process group, so a kill takes its children."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "default", "--with-scheduler"],
            cwd=ROOT,
            env=environment,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the worker and everything under it. RQ's work horse starts its own session,
        so its process group (the horse and its pg_dump/psql children) is signalled too."""
        groups = {
            os.getpgid(pid)
            for pid in [self.process.pid, *descendants(self.process.pid)]
            if _alive(pid)
        }
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, sig)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill(signal.SIGTERM)
        self._log_file.close()


@pytest.fixture
def rq_worker(
    sandbox: Sandbox, transactional_db: None, job_queue: Any, tmp_path: Path
) -> Iterator[Worker]:
    worker = Worker(worker_environment(sandbox), tmp_path / "worker.log")
    yield worker
    worker.stop()
