"""The pipeline in a real RQ worker process, as production runs it."""

from __future__ import annotations

import time

import pytest

from railway_sandbox import Sandbox
from staging import lifecycle, runs
from staging.models import EnvironmentStatus, Run, RunStatus, Trigger
from tests.fixtures_pipeline import sandbox_services, site_for
from tests.pipeline.helpers import (
    railway_environment_names,
    row_counts,
    sandbox_databases,
    staging_database_url,
)

pytestmark = pytest.mark.django_db(transaction=True)

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


def test_a_worker_process_runs_a_queued_clone_to_the_end(
    ledger_site, ledger_project, sandbox, rq_worker
):
    run = runs.start_clone(ledger_site, runs.Actor.system(Trigger.COMMAND))

    wait_for(lambda: Run.objects.get(pk=run.pk).is_terminal, 120, "the clone to end")
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.error_code, run.error_message)
    assert run.rq_job_id
    services = sandbox_services(sandbox)
    staging_url = staging_database_url(services, run.environment)
    assert row_counts(staging_url) == row_counts(ledger_project.database_url)


def test_a_run_whose_worker_was_killed_mid_copy_is_reaped_and_rolled_back(
    sandbox: Sandbox, rq_worker, settings
):
    project = sandbox.add_project(
        "Big Ledger", engine="postgres", production_data_sql=LARGE_PRODUCTION_SQL
    )
    site = site_for(project, is_wordpress=False)
    databases_before = sandbox_databases(sandbox)
    run = runs.start_clone(site, runs.Actor.system(Trigger.COMMAND))
    wait_for(lambda: Run.objects.get(pk=run.pk).current_step == "copy_database", 120, "the copy")

    rq_worker.kill()

    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    settings.STAGING_STALE_AFTER_SECONDS = 2
    time.sleep(3)
    reaped = lifecycle.reap_stale_runs(lambda: sandbox_services(sandbox))

    assert [r.pk for r in reaped] == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "worker_lost")
    run.environment.refresh_from_db()
    assert run.environment.status == EnvironmentStatus.DELETED
    assert railway_environment_names(sandbox, project.project_id) == ["production"]
    assert sandbox_databases(sandbox) == databases_before
