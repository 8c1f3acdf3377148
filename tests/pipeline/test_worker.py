"""The pipeline in a real RQ worker process, as production runs it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from railway_sandbox import Sandbox
from staging import lifecycle, runs
from staging.models import EnvironmentStatus, Run, RunStatus, Trigger
from tests.fixtures_pipeline import LARGE_PRODUCTION_SQL, sandbox_services, site_for, wait_for
from tests.pipeline.helpers import (
    railway_environment_names,
    row_counts,
    sandbox_databases,
    staging_database_url,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_process_runs_a_queued_clone_to_the_end(
    ledger_site, ledger_project, sandbox, rq_worker
):
    run = runs.start_clone(ledger_site, runs.Actor.system(Trigger.COMMAND), gdpr_acknowledged=True)

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
    run = runs.start_clone(site, runs.Actor.system(Trigger.COMMAND), gdpr_acknowledged=True)
    wait_for(lambda: Run.objects.get(pk=run.pk).current_step == "copy_database", 120, "the copy")

    rq_worker.kill()

    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    # The reaper looks from a moment when the dead worker's last heartbeat is too old.
    assert run.heartbeat_at is not None
    later = run.heartbeat_at + timedelta(seconds=settings.STAGING_STALE_AFTER_SECONDS + 1)
    reaped = lifecycle.reap_stale_runs(lambda: sandbox_services(sandbox), now=later)

    assert [r.pk for r in reaped] == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "worker_lost")
    run.environment.refresh_from_db()
    assert run.environment.status == EnvironmentStatus.DELETED
    assert railway_environment_names(sandbox, project.project_id) == ["production"]
    assert sandbox_databases(sandbox) == databases_before
