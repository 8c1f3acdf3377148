from __future__ import annotations

import pytest

from staging.dbcopy import check_staging_marker
from staging.models import AuditEvent, EnvironmentStatus, RunStatus, StepStatus
from staging.steps import CLONE_STEPS
from tests.pipeline.helpers import clone, row_counts, staging_database_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_clone_copies_production_into_a_new_railway_environment(
    ledger_site, ledger_project, services, job_queue
):
    run = clone(ledger_site, services, name="spring-sale")

    assert (run.status, run.error_code) == (RunStatus.SUCCEEDED, "")
    environment = run.environment
    environment.refresh_from_db()
    assert environment.status == EnvironmentStatus.READY
    assert environment.railway_environment_id
    staging_url = staging_database_url(services, environment)
    assert row_counts(staging_url) == row_counts(ledger_project.database_url)
    assert row_counts(staging_url)["invoices"] == 5000
    check_staging_marker(staging_url, environment.railway_environment_id)


def test_the_staging_url_answers_after_a_clone(ledger_site, services, job_queue):
    run = clone(ledger_site, services)

    run.environment.refresh_from_db()
    assert run.environment.url.startswith("http://")
    assert services.fetch(run.environment.url, 5).status_code == 200


def test_every_step_is_recorded_in_order_with_its_duration(ledger_site, services, job_queue):
    run = clone(ledger_site, services)

    steps = list(run.steps.order_by("position"))
    assert [step.name for step in steps] == [step.name for step in CLONE_STEPS]
    assert all(step.status == StepStatus.SUCCEEDED for step in steps)
    assert set(run.metrics["step_seconds"]) == {step.name for step in CLONE_STEPS}
    assert run.metrics["bytes_copied"] > 0
    assert run.progress_percent == 100


def test_the_audit_log_has_the_request_and_the_outcome(ledger_site, services, job_queue):
    run = clone(ledger_site, services)

    actions = list(
        AuditEvent.objects.filter(target_id=str(run.environment.pk))
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )
    assert actions == ["staging.clone_requested", "staging.clone_succeeded"]


def test_step_logs_never_hold_a_database_password(ledger_site, ledger_project, services, job_queue):
    run = clone(ledger_site, services)

    staging_url = staging_database_url(services, run.environment)
    passwords = {
        url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        for url in (staging_url, ledger_project.database_url)
    }
    logs = "".join(step.log for step in run.steps.all())
    assert "***@" in logs
    assert not any(password in logs for password in passwords)
    assert not any(password in str(run.metrics) for password in passwords)
