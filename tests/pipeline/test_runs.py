"""The entry points: names, concurrency, cancel and extend."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from staging import lifecycle, runs
from staging.errors import InvalidName, NameTaken
from staging.models import AuditEvent, EnvironmentStatus, Run, RunStatus, Trigger
from tests.factories import make_environment, make_site
from tests.pipeline.helpers import clone, railway_environment_names

ACTOR = runs.Actor.system(Trigger.COMMAND)


@pytest.mark.django_db
class TestStartClone:
    def test_a_generated_name_is_readable_and_dated(self, django_capture_on_commit_callbacks):
        site = make_site()
        with django_capture_on_commit_callbacks():
            run = runs.start_clone(site, ACTOR, gdpr_acknowledged=True)
        assert run.environment.name == f"staging-{timezone.localdate():%Y%m%d}-1"

    def test_the_next_generated_name_takes_the_next_number(self):
        site = make_site()
        first = runs.start_clone(site, ACTOR, gdpr_acknowledged=True)
        second = runs.start_clone(site, ACTOR, gdpr_acknowledged=True)
        assert second.environment.name.removeprefix(first.environment.name[:-1]) == "2"

    @pytest.mark.parametrize(
        "name", ["Staging", "staging_1", "-staging", "a" * 33, "prod", "x--y", "café", "a;rm -rf"]
    )
    def test_a_name_railway_would_refuse_is_refused_before_anything_is_written(self, name):
        with pytest.raises(InvalidName):
            runs.start_clone(make_site(), ACTOR, name=name, gdpr_acknowledged=True)
        assert not Run.objects.exists()
        assert not AuditEvent.objects.exists()

    def test_a_name_in_use_on_the_site_is_refused(self):
        site = make_site()
        runs.start_clone(site, ACTOR, name="spring-sale", gdpr_acknowledged=True)
        with pytest.raises(NameTaken):
            runs.start_clone(site, ACTOR, name="spring-sale", gdpr_acknowledged=True)
        assert site.environments.count() == 1

    def test_the_lifetime_follows_the_site(self):
        site = make_site(staging_ttl_days=3)
        run = runs.start_clone(site, ACTOR, gdpr_acknowledged=True)
        remaining = run.environment.expires_at - timezone.now()
        assert timedelta(days=2, hours=23) < remaining <= timedelta(days=3)

    def test_the_request_is_audited_with_the_gdpr_acknowledgement(self):
        run = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)
        event = AuditEvent.objects.get(action="staging.clone_requested")
        assert event.details["gdpr_acknowledged"] is True
        assert event.details["run_id"] == run.pk

    def test_the_audit_event_names_who_acknowledged(self):
        actor = runs.Actor(Trigger.KESTRA, label="kestra (ops)")
        runs.start_clone(make_site(), actor, gdpr_acknowledged=True)
        event = AuditEvent.objects.get(action="staging.clone_requested")
        assert event.details["acknowledged_by"] == "kestra (ops)"
        assert event.actor_label == "kestra (ops)"

    def test_a_clone_without_the_acknowledgement_is_refused_before_anything_is_written(self):
        with pytest.raises(runs.PersonalDataAcknowledgementRequired):
            runs.start_clone(make_site(), ACTOR)
        assert not Run.objects.exists()
        assert not AuditEvent.objects.exists()

    @pytest.mark.parametrize(
        "masking",
        [
            {"masking_preset": "wordpress"},
            {
                "is_wordpress": False,
                "masking_rules": [{"table": "users", "column": "email", "kind": "email"}],
            },
        ],
    )
    def test_a_site_that_masks_personal_data_needs_no_acknowledgement(self, masking):
        runs.start_clone(make_site(**masking), ACTOR)
        event = AuditEvent.objects.get(action="staging.clone_requested")
        assert event.details["gdpr_acknowledged"] is False
        assert event.details["personal_data_masked"] is True

    def test_the_job_is_enqueued_only_once_the_transaction_commits(
        self, django_capture_on_commit_callbacks, job_queue
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            run = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)
        assert job_queue.count == 0
        callbacks[0]()
        assert job_queue.count == 1
        run.refresh_from_db()
        assert job_queue.job_ids == [run.rq_job_id]


@pytest.mark.django_db
class TestOtherEntryPoints:
    def test_a_refresh_without_the_acknowledgement_is_refused(self):
        environment = make_environment(status=EnvironmentStatus.READY)
        with pytest.raises(runs.PersonalDataAcknowledgementRequired):
            runs.start_refresh(environment, ACTOR)
        assert not environment.runs.exists()

    def test_an_acknowledged_refresh_is_audited_with_who_acknowledged(self):
        environment = make_environment(status=EnvironmentStatus.READY)
        runs.start_refresh(environment, ACTOR, gdpr_acknowledged=True)
        event = AuditEvent.objects.get(action="staging.refresh_requested")
        assert event.details["gdpr_acknowledged"] is True
        assert event.details["acknowledged_by"] == ACTOR.label

    def test_a_refresh_is_refused_while_another_run_is_active(self):
        environment = make_environment(status=EnvironmentStatus.READY)
        runs.start_refresh(environment, ACTOR, gdpr_acknowledged=True)
        with pytest.raises(runs.RunInProgress):
            runs.start_teardown(environment, ACTOR)

    def test_extend_adds_days_and_is_audited(self):
        environment = make_environment(status=EnvironmentStatus.READY)
        before = environment.expires_at
        runs.extend(environment, ACTOR, days=7)
        environment.refresh_from_db()
        assert environment.expires_at == before + timedelta(days=7)
        assert AuditEvent.objects.get(action="staging.extended").details["days"] == 7

    def test_cancelling_a_queued_clone_ends_it_and_frees_the_name(self):
        run = runs.start_clone(make_site(), ACTOR, name="spring-sale", gdpr_acknowledged=True)
        runs.cancel(run, ACTOR)
        run.refresh_from_db()
        assert run.status == RunStatus.CANCELLED
        assert run.environment.status == EnvironmentStatus.DELETED
        assert runs.start_clone(
            run.environment.site, ACTOR, name="spring-sale", gdpr_acknowledged=True
        )


@pytest.mark.django_db(transaction=True)
class TestConcurrency:
    def test_two_simultaneous_clones_with_the_same_name_make_one_environment(
        self, ledger_site, ledger_project, services, sandbox, job_queue
    ):
        outcomes: list[object] = []
        barrier = threading.Barrier(2)

        def start() -> None:
            barrier.wait()
            try:
                outcomes.append(
                    runs.start_clone(ledger_site, ACTOR, name="spring-sale", gdpr_acknowledged=True)
                )
            except NameTaken as error:
                outcomes.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=start) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        started = [o for o in outcomes if isinstance(o, Run)]
        refused = [o for o in outcomes if isinstance(o, NameTaken)]
        assert (len(started), len(refused)) == (1, 1)
        assert refused[0].code == "name_taken"
        run = started[0]
        assert lifecycle.run_now(run, services)
        assert run.status == RunStatus.SUCCEEDED
        assert railway_environment_names(sandbox, ledger_project.project_id) == [
            "production",
            "spring-sale",
        ]

    def test_a_clone_over_the_per_site_limit_waits_in_the_queue(
        self, ledger_site, settings, job_queue
    ):
        settings.STAGING_MAX_CLONES_PER_SITE = 1
        first = runs.start_clone(ledger_site, ACTOR, gdpr_acknowledged=True)
        second = runs.start_clone(ledger_site, ACTOR, gdpr_acknowledged=True)

        assert lifecycle.admit(first)
        assert not lifecycle.admit(second)
        second.refresh_from_db()
        assert second.status == RunStatus.QUEUED

        first.finish(RunStatus.SUCCEEDED)
        assert lifecycle.admit(second)

    def test_a_clone_over_the_overall_limit_waits_in_the_queue(self, settings, job_queue):
        settings.STAGING_MAX_CLONES = 1
        first = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)
        second = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)
        assert lifecycle.admit(first)
        assert not lifecycle.admit(second)

    def test_a_waiting_run_is_scheduled_to_ask_again(self, settings, job_queue):
        from staging.jobs import execute_run

        settings.STAGING_MAX_CLONES = 1
        first = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)
        lifecycle.admit(first)
        second = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)

        assert "waits" in execute_run(second.pk)
        second.refresh_from_db()
        # The run points at the job that will ask again, so it is not taken for a lost one.
        assert job_queue.scheduled_job_registry.get_job_ids() == [second.rq_job_id]


def test_a_refresh_replaces_the_staging_data_and_keeps_the_address(
    ledger_site, ledger_project, services, sandbox, job_queue, transactional_db
):
    import psycopg

    from tests.pipeline.helpers import row_counts, staging_database_url

    run = clone(ledger_site, services)
    environment = run.environment
    environment.refresh_from_db()
    url_before = environment.url
    with psycopg.connect(staging_database_url(services, environment), autocommit=True) as conn:
        conn.execute("DELETE FROM invoices")

    refresh = runs.start_refresh(environment, ACTOR, gdpr_acknowledged=True)
    assert lifecycle.run_now(refresh, services)

    environment.refresh_from_db()
    assert refresh.status == RunStatus.SUCCEEDED, refresh.error_message
    assert environment.url == url_before
    assert environment.last_refreshed_at is not None
    staging = row_counts(staging_database_url(services, environment))
    assert staging == row_counts(ledger_project.database_url)
