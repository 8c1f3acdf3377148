"""No secret is left behind: after clones, a teardown and failures run by a real worker, the
Railway token, the database passwords, the API token and Django's SECRET_KEY appear nowhere in
the logs, the API's answers, the portal database or Redis.

The flow runs here, in the test, so the scan sees everything it left (``job_queue`` empties
Redis between tests).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from railway_sandbox import Sandbox
from staging.models import ClientSite, Run, RunStatus
from tests.fixtures_api import make_persona
from tests.fixtures_pipeline import (
    POSTGRES_PRODUCTION_SQL,
    Worker,
    site_for,
    worker_environment,
)
from tests.fixtures_railway import SANDBOX_TOKEN
from tests.reliability.secret_scan import database_texts, redis_texts, scan_for_secrets

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

WRONG_RAILWAY_TOKEN = "railway-token-that-was-revoked-5c1d"
HOSTILE_PASSWORD = "hostile-project-password-9e2b7"
# A large object is something the copy refuses to carry: a copy that fails, in a real worker.
LARGE_OBJECT_SQL = POSTGRES_PRODUCTION_SQL + "SELECT lo_from_bytea(0, 'scan');"


class RecordingApi:
    """An API client that keeps every answer, to scan later."""

    def __init__(self, key: str) -> None:
        self.client = APIClient(HTTP_AUTHORIZATION=f"Bearer {key}")
        self.answers: list[str] = []

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = getattr(self.client, method)(path, body, format="json")
        headers = "\n".join(f"{name}: {value}" for name, value in response.items())
        self.answers.append(f"{method.upper()} {path} {response.status_code}\n{headers}\n")
        self.answers[-1] += response.content.decode("utf-8", "replace")
        return response

    def wait_for_run(self, run_id: int, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run: dict[str, Any] = self.call("get", f"/api/v1/runs/{run_id}/").json()
            if run["status"] in RunStatus.terminal():
                return run
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} did not end within {timeout} s")


@pytest.fixture
def workers(
    sandbox: Sandbox, transactional_db: None, job_queue: Any, tmp_path: Path
) -> Iterator[Any]:
    """Starts workers on demand (each with its own environment and log); stops them all."""
    started: list[Worker] = []

    def start(name: str, **extra: str) -> Worker:
        worker = Worker(worker_environment(sandbox, LOG_LEVEL="DEBUG", **extra), tmp_path / name)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def passwords(sandbox: Sandbox) -> dict[str, str]:
    return {
        f"password of database {backing.database}": backing.password
        for backing in sandbox.world.backings()
    }


def test_no_secret_is_left_in_logs_answers_database_or_redis_after_a_full_flow(
    sandbox,
    ledger_project,
    ledger_site,
    workers,
    job_queue,
    operator_persona,
    caplog,
    record_property,
):
    caplog.set_level(logging.DEBUG)
    manager = operator_persona
    admin = make_persona("ada", superuser=True)
    api = RecordingApi(manager.key)
    audit = RecordingApi(admin.key)
    secrets = {"the Railway token": SANDBOX_TOKEN, "Django's SECRET_KEY": settings.SECRET_KEY}
    secrets |= {"the API token": manager.key, "the admin's API token": admin.key}
    secrets |= passwords(sandbox)
    worker = workers("worker.log")

    # A clone, read back every way, then torn down.
    created = api.call(
        "post", "/api/v1/environments/", {"site": ledger_site.slug, "gdpr_acknowledged": True}
    )
    assert created.status_code == 202, created.content
    clone = api.wait_for_run(created.json()["run"]["id"])
    assert clone["status"] == RunStatus.SUCCEEDED, clone
    secrets |= passwords(sandbox)  # the staging database's, while it exists
    environment_id = created.json()["environment"]["id"]
    for path in (
        "/api/v1/sites/",
        "/api/v1/environments/",
        f"/api/v1/environments/{environment_id}/",
    ):
        assert api.call("get", path).status_code == 200
    assert (
        api.call(
            "post", f"/api/v1/environments/{environment_id}/refresh/", {"gdpr_acknowledged": True}
        ).status_code
        == 202
    )
    refreshed = api.wait_for_run(Run.objects.filter(operation="refresh").get().pk)
    assert refreshed["status"] == RunStatus.SUCCEEDED, refreshed
    deleted = api.call("delete", f"/api/v1/environments/{environment_id}/")
    assert deleted.status_code == 202
    assert api.wait_for_run(deleted.json()["run"]["id"])["status"] == RunStatus.SUCCEEDED

    # A copy that fails: its error and rollback are logged.
    refused = sandbox.add_project("Lobs", engine="postgres", production_data_sql=LARGE_OBJECT_SQL)
    lobs: ClientSite = site_for(refused, is_wordpress=False)
    secrets |= passwords(sandbox)
    failing = api.call(
        "post", "/api/v1/environments/", {"site": lobs.slug, "gdpr_acknowledged": True}
    )
    failed_copy = api.wait_for_run(failing.json()["run"]["id"])
    assert (failed_copy["status"], failed_copy["error"]["code"]) == ("failed", "copy_failed")

    # A hostile project: production's URL does not parse, and carries a password.
    hostile = sandbox.add_project("Hostile URL", engine="postgres")
    hostile_site: ClientSite = site_for(hostile, is_wordpress=False)
    secrets["a password in a URL that does not parse"] = HOSTILE_PASSWORD
    with sandbox.lock:
        production = sandbox.world.projects[hostile.project_id].environments[
            hostile.production_environment_id
        ]
        production.instances[hostile.database_service_id].variables["DATABASE_PUBLIC_URL"] = (
            f"postgresql://client:{HOSTILE_PASSWORD}%0Aloose-local-infile=1@db.example.com:54x2/app"
        )
        sandbox.save()
    refused_url = api.call(
        "post", "/api/v1/environments/", {"site": hostile_site.slug, "gdpr_acknowledged": True}
    )
    hostile_run = api.wait_for_run(refused_url.json()["run"]["id"])
    assert (hostile_run["status"], hostile_run["error"]["code"]) == (
        "failed",
        "database_url_invalid",
    )

    # Railway refusing the token (401): a worker started with a revoked one.
    worker.stop()
    unauthorized = workers("worker-wrong-token.log", RAILWAY_API_TOKEN=WRONG_RAILWAY_TOKEN)
    secrets["the revoked Railway token"] = WRONG_RAILWAY_TOKEN
    rejected = api.call(
        "post", "/api/v1/environments/", {"site": ledger_site.slug, "gdpr_acknowledged": True}
    )
    rejected_run = api.wait_for_run(rejected.json()["run"]["id"])
    assert rejected_run["status"] == RunStatus.FAILED
    assert rejected_run["error"]["code"] == "railway_unauthorized"
    assert audit.call("get", "/api/v1/audit/").status_code == 200
    unauthorized.stop()

    texts: dict[str, str] = {
        "worker log": worker.log.read_text(errors="replace"),
        "worker log (revoked token)": unauthorized.log.read_text(errors="replace"),
        "test process log": caplog.text,
        "test process log records": "\n".join(repr(vars(entry)) for entry in caplog.records),
    }
    texts |= {f"API answer {n}": answer for n, answer in enumerate(api.answers + audit.answers)}
    texts |= database_texts(connection, ("staging_", "auth_", "django_", "axes_"))
    texts |= redis_texts(job_queue.connection)
    found = scan_for_secrets(texts, secrets)

    # The scan finds what is there: the sandbox's own state holds the production password.
    control = scan_for_secrets(
        {"sandbox state": sandbox.state_path.read_text()},
        {"production password": production_password(sandbox, ledger_project.project_id)},
    )
    assert control == ["production password in sandbox state"]
    assert all(
        texts[name] for name in ("worker log", "worker log (revoked token)", "test process log")
    )
    assert any(name.startswith("redis rq:job:") for name in texts), "no job data to scan"
    assert found == []
    scanned = sum(len(text) for text in texts.values())
    record_property("category", "secrets")
    record_property(
        "case",
        "clone, refresh, teardown, a failed copy, a hostile project's unparseable URL with a "
        "password, and a 401 from Railway in a real worker; "
        "scanned worker logs, test logs (DEBUG), API answers, the portal database, Redis",
    )
    record_property("outcome", f"{len(found)} secrets found in {len(texts)} texts")
    record_property(
        "figures",
        json.dumps(
            {
                "secrets_found": len(found),
                "secrets_scanned_for": len(secrets),
                "texts_scanned": len(texts),
                "characters_scanned": scanned,
                "api_answers": len(api.answers) + len(audit.answers),
                "redis_keys": sum(1 for name in texts if name.startswith("redis ")),
                "log_records": len(caplog.records),
            }
        ),
    )


def production_password(sandbox: Sandbox, project_id: str) -> str:
    project = sandbox.world.projects[project_id]
    production = project.environments[project.production_environment_id]
    return next(i.database.password for i in production.instances.values() if i.database)
