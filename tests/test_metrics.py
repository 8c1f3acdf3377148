"""``/metrics``: who may read it, and what a scrape says after real runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from staging.models import EnvironmentStatus, Run, RunStatus
from tests.factories import make_environment, make_run
from tests.fixtures_portal import logged_in, make_user
from tests.pipeline.helpers import clone

TOKEN = "metrics-token-for-tests-0b1c"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and sorted labels, parsed as Prometheus would."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client: Client | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content.decode())


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


@pytest.mark.django_db
def test_without_the_token_the_metrics_are_refused():
    response = Client().get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"understudy_" not in response.content


@pytest.mark.django_db
def test_a_wrong_token_is_refused():
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")

    assert response.status_code == 401


@pytest.mark.django_db
def test_a_staff_member_who_is_not_an_administrator_is_refused(account_manager):
    assert logged_in(account_manager).get("/metrics").status_code == 403


@pytest.mark.django_db
def test_an_administrator_reads_them_without_a_token(settings):
    settings.METRICS_TOKEN = ""
    admin = make_user("metrics-admin", superuser=True)

    response = logged_in(admin).get("/metrics")

    assert response.status_code == 200
    assert b"# TYPE understudy_environments gauge" in response.content


@pytest.mark.django_db
def test_an_empty_token_setting_lets_no_bearer_in(settings):
    settings.METRICS_TOKEN = ""

    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


@pytest.mark.django_db
def test_failures_in_a_row_count_since_the_last_success_of_the_operation():
    environment = make_environment()
    now = timezone.now()
    for minutes, status in [(50, "failed"), (40, "succeeded"), (30, "failed"), (20, "errored")]:
        make_run(
            environment,
            status=status,
            error_code="" if status == "succeeded" else "copy_failed",
            started_at=now - timedelta(minutes=minutes + 1),
            finished_at=now - timedelta(minutes=minutes),
        )

    found = scrape()

    assert found[("understudy_runs_failed_in_a_row", (("operation", "clone"),))] == 2
    assert found[("understudy_runs_failed_in_a_row", (("operation", "refresh"),))] == 0
    assert (
        found[
            (
                "understudy_run_failures_total",
                (("error_code", "copy_failed"), ("operation", "clone")),
            )
        ]
        == 3
    )


@pytest.mark.django_db
def test_stale_expiring_expired_and_needing_attention_copies_are_counted(settings):
    now = timezone.now()
    make_environment(name="soon", status="ready", expires_at=now + timedelta(hours=3))
    make_environment(name="later", status="ready", expires_at=now + timedelta(days=3))
    make_environment(name="past", status="ready", expires_at=now - timedelta(hours=3))
    make_environment(name="gone", status="deleted", expires_at=now - timedelta(hours=3))
    stuck = make_environment(name="stuck", status="ready", expires_at=now + timedelta(days=3))
    # The status another branch adds, stored as its value.
    type(stuck).objects.filter(pk=stuck.pk).update(status="needs_attention")
    silent = now - timedelta(seconds=settings.STAGING_STALE_AFTER_SECONDS + 30)
    make_run(
        make_environment(name="lost", status="creating", expires_at=now + timedelta(days=3)),
        status=RunStatus.RUNNING,
        started_at=silent,
        heartbeat_at=silent,
    )

    found = scrape()

    assert found[("understudy_environments_expiring_soon", ())] == 1
    assert found[("understudy_environments_expired", ())] == 1
    assert found[("understudy_environments_needing_attention", ())] == 1
    assert found[("understudy_environments", (("status", "needs_attention"),))] == 1
    assert found[("understudy_environments", (("status", EnvironmentStatus.READY),))] == 3
    assert found[("understudy_runs_stale", ())] == 1
    assert found[("understudy_oldest_running_run_age_seconds", ())] >= 150


@pytest.mark.django_db
def test_the_queue_and_its_workers_are_read_from_redis(job_queue):
    job_queue.enqueue("staging.jobs.execute_run", 0)

    found = scrape()

    assert found[("understudy_redis_up", ())] == 1
    assert found[("understudy_queue_jobs", (("queue", "default"), ("state", "queued")))] == 1
    assert found[("understudy_workers", (("queue", "default"),))] == 0


@pytest.mark.django_db(transaction=True)
def test_a_scrape_after_a_clone_shows_the_clone(ledger_site, services, job_queue):
    before = scrape()
    run = clone(ledger_site, services, name="metrics-clone")
    run.refresh_from_db()

    found = scrape()

    clone_label = (("operation", "clone"),)
    assert run.status == RunStatus.SUCCEEDED
    assert (
        found[("understudy_runs_started_total", (("operation", "clone"), ("trigger", "command")))]
        == 1
    )
    assert (
        found[
            ("understudy_runs_finished_total", (("operation", "clone"), ("outcome", "succeeded")))
        ]
        == 1
    )
    assert found[("understudy_copies_total", clone_label)] == 1
    assert found[("understudy_copy_bytes_total", clone_label)] == run.metrics["bytes_copied"] > 0
    assert found[("understudy_copy_seconds_total", clone_label)] == pytest.approx(
        run.metrics["copy_seconds"]
    )
    assert found[("understudy_railway_calls_total", clone_label)] == run.metrics["railway_calls"]
    assert found[("understudy_railway_rate_limited_total", clone_label)] == 0
    assert found[("understudy_copy_throughput_megabytes_per_second_count", clone_label)] == 1
    assert found[("understudy_queue_wait_seconds_count", clone_label)] == 1
    for step in run.steps.all():
        assert step.finished_at is not None
        labels = (("step", step.name),)
        assert found[("understudy_step_duration_seconds_count", labels)] == 1
        assert found[("understudy_step_duration_seconds_sum", labels)] == pytest.approx(
            (step.finished_at - step.started_at).total_seconds(), abs=1e-3
        )
        assert found[("understudy_step_duration_seconds_bucket", (("le", "+Inf"), *labels))] == 1
    assert found[("understudy_environments", (("status", "ready"),))] == 1
    assert (
        "understudy_runs_started_total",
        (("operation", "clone"), ("trigger", "command")),
    ) not in before


@pytest.mark.django_db(transaction=True)
def test_railway_rate_limits_met_by_a_clone_are_counted(ledger_site, services, sandbox, job_queue):
    sandbox.faults.set("environmentCreate", "rate_limit", times=2, retry_after=0.1)

    run = clone(ledger_site, services, name="limited")

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.metrics["railway_rate_limited"] == 2
    found = scrape()
    assert found[("understudy_railway_rate_limited_total", (("operation", "clone"),))] == 2
    assert Run.objects.count() == 1
