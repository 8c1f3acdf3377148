from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from staging.errors import InvalidState
from staging.models import EnvironmentStatus, RunStatus
from tests.factories import make_environment, make_run, make_site

pytestmark = pytest.mark.django_db


class TestStagingEnvironment:
    def test_a_name_is_unique_per_site_among_live_environments(self):
        environment = make_environment(name="staging-a")
        with pytest.raises(IntegrityError), transaction.atomic():
            make_environment(site=environment.site, name="staging-a")

    def test_the_same_name_is_allowed_on_another_site(self):
        make_environment(name="staging-a")
        assert make_environment(name="staging-a").pk

    def test_a_deleted_environment_frees_its_name(self):
        environment = make_environment(name="staging-a")
        environment.mark_deleted()
        assert make_environment(site=environment.site, name="staging-a").pk

    def test_it_is_expired_once_its_expiry_has_passed(self):
        environment = make_environment(expires_at=timezone.now() - timedelta(minutes=1))
        assert environment.is_expired()
        assert not make_environment().is_expired()

    def test_a_deleted_environment_is_never_expired(self):
        environment = make_environment(expires_at=timezone.now() - timedelta(days=1))
        environment.mark_deleted()
        assert not environment.is_expired()

    def test_extend_adds_days_to_the_expiry(self):
        environment = make_environment()
        before = environment.expires_at
        environment.extend(7)
        environment.refresh_from_db()
        assert environment.expires_at == before + timedelta(days=7)

    def test_extending_an_expired_environment_counts_from_now(self):
        environment = make_environment(expires_at=timezone.now() - timedelta(days=3))
        environment.extend(7)
        assert environment.expires_at > timezone.now() + timedelta(days=6, hours=23)

    def test_a_deleted_environment_cannot_be_extended(self):
        environment = make_environment()
        environment.mark_deleted()
        with pytest.raises(InvalidState):
            environment.extend(7)

    def test_the_site_ttl_overrides_the_default(self, settings):
        settings.STAGING_TTL_DAYS = 7
        assert make_site().ttl_days == 7
        assert make_site(staging_ttl_days=14).ttl_days == 14


class TestRun:
    def test_an_environment_has_at_most_one_active_run(self):
        run = make_run()
        with pytest.raises(IntegrityError), transaction.atomic():
            make_run(environment=run.environment)

    def test_a_new_run_is_allowed_once_the_previous_one_ended(self):
        run = make_run()
        run.start()
        run.finish(RunStatus.SUCCEEDED)
        assert make_run(environment=run.environment).status == RunStatus.QUEUED

    def test_start_moves_a_queued_run_to_running_with_a_heartbeat(self):
        run = make_run()
        run.start()
        run.refresh_from_db()
        assert run.status == RunStatus.RUNNING
        assert run.started_at is not None
        assert run.heartbeat_at == run.started_at

    def test_a_run_cannot_start_twice(self):
        run = make_run()
        run.start()
        with pytest.raises(InvalidState):
            run.start()

    def test_finish_records_the_status_and_error_code(self):
        run = make_run()
        run.start()
        run.finish(RunStatus.FAILED, "railway_name_taken", "The name is taken.")
        run.refresh_from_db()
        assert (run.status, run.error_code) == (RunStatus.FAILED, "railway_name_taken")
        assert run.finished_at is not None
        assert run.is_terminal and not run.is_active

    def test_a_succeeded_run_is_complete(self):
        run = make_run()
        run.start()
        run.finish(RunStatus.SUCCEEDED)
        assert run.progress_percent == 100

    def test_finish_refuses_a_status_that_is_not_terminal(self):
        run = make_run()
        with pytest.raises(ValueError):
            run.finish(RunStatus.RUNNING)

    def test_a_finished_run_cannot_finish_again(self):
        run = make_run()
        run.start()
        run.finish(RunStatus.SUCCEEDED)
        with pytest.raises(InvalidState):
            run.finish(RunStatus.FAILED, "copy_failed")

    def test_the_status_groups_cover_every_status_once(self):
        assert RunStatus.active() | RunStatus.terminal() == set(RunStatus)
        assert not RunStatus.active() & RunStatus.terminal()

    def test_deleted_is_the_only_status_that_is_not_live(self):
        assert set(EnvironmentStatus) - EnvironmentStatus.live() == {EnvironmentStatus.DELETED}
