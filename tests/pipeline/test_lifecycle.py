"""The job lifecycle: a run's job id, the enqueue after the commit, run now, and the requeue
of runs whose job was lost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from rq.job import JobStatus

from staging import lifecycle, runs
from staging.models import AuditEvent, Run, RunStatus, Trigger
from tests.factories import make_site

ACTOR = runs.Actor.system(Trigger.COMMAND)

pytestmark = pytest.mark.django_db


def after_the_grace(run: Run) -> datetime:
    return run.created_at + timedelta(seconds=lifecycle.ENQUEUE_GRACE_SECONDS + 1)


def start_without_enqueue(
    django_capture_on_commit_callbacks,
) -> tuple[Run, list[Callable[[], None]]]:
    """A committed run whose enqueue has not happened (yet, or ever: Redis was down)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)
    run.refresh_from_db()
    return run, callbacks


def start_and_enqueue(django_capture_on_commit_callbacks) -> Run:
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)
    run.refresh_from_db()
    return run


def test_a_run_is_written_with_the_job_id_it_is_then_enqueued_with(
    django_capture_on_commit_callbacks, job_queue
):
    run, callbacks = start_without_enqueue(django_capture_on_commit_callbacks)
    assert run.rq_job_id
    assert job_queue.count == 0

    callbacks[0]()

    job = job_queue.fetch_job(run.rq_job_id)
    assert (job.func_name, job.args) == ("staging.jobs.execute_run", (run.pk,))


def test_a_run_between_its_commit_and_its_enqueue_is_not_taken_for_a_lost_one(
    django_capture_on_commit_callbacks, job_queue
):
    run, callbacks = start_without_enqueue(django_capture_on_commit_callbacks)

    assert lifecycle.requeue_lost_runs() == []

    callbacks[0]()
    assert job_queue.job_ids == [run.rq_job_id]


def test_a_run_whose_job_never_reached_the_queue_is_requeued_once_its_grace_is_over(
    django_capture_on_commit_callbacks, job_queue
):
    run, _ = start_without_enqueue(django_capture_on_commit_callbacks)
    lost_job_id = run.rq_job_id

    requeued = lifecycle.requeue_lost_runs(now=after_the_grace(run))

    assert [r.pk for r in requeued] == [run.pk]
    run.refresh_from_db()
    assert run.rq_job_id != lost_job_id
    assert job_queue.job_ids == [run.rq_job_id]
    event = AuditEvent.objects.get(action="staging.run_requeued")
    assert (event.details["lost_job_id"], event.details["job_id"]) == (lost_job_id, run.rq_job_id)


def test_a_run_whose_job_is_on_the_queue_is_never_requeued_however_old(
    django_capture_on_commit_callbacks, job_queue
):
    run = start_and_enqueue(django_capture_on_commit_callbacks)

    assert lifecycle.requeue_lost_runs(now=run.created_at + timedelta(days=1)) == []
    assert job_queue.job_ids == [run.rq_job_id]


def test_a_run_still_queued_after_its_job_failed_is_requeued(
    django_capture_on_commit_callbacks, job_queue
):
    run = start_and_enqueue(django_capture_on_commit_callbacks)
    failed = job_queue.fetch_job(run.rq_job_id)
    failed.set_status(JobStatus.FAILED)
    job_queue.remove(failed)

    requeued = lifecycle.requeue_lost_runs(now=after_the_grace(run))

    assert [r.pk for r in requeued] == [run.pk]
    run.refresh_from_db()
    assert run.rq_job_id != failed.id
    assert job_queue.job_ids == [run.rq_job_id]


def test_a_run_that_has_started_is_not_requeued(job_queue):
    run = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)
    assert lifecycle.admit(run)

    assert lifecycle.requeue_lost_runs(now=run.created_at + timedelta(days=1)) == []
    assert job_queue.count == 0


def test_run_now_leaves_a_run_over_the_limit_queued_without_running_it(settings, job_queue):
    settings.STAGING_MAX_CLONES = 1
    first = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)
    assert lifecycle.admit(first)
    second = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)

    assert not lifecycle.run_now(second)

    second.refresh_from_db()
    assert (second.status, second.steps.count()) == (RunStatus.QUEUED, 0)


def test_the_worker_does_nothing_with_a_run_that_was_cancelled_before_it_started(job_queue):
    from staging.jobs import execute_run

    run = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)
    runs.cancel(run, ACTOR)

    assert execute_run(run.pk) == f"run {run.pk} is cancelled: nothing to do"
    assert Run.objects.get(pk=run.pk).status == RunStatus.CANCELLED


def test_a_second_job_for_a_run_that_has_started_does_nothing(job_queue):
    from staging.jobs import execute_run

    run = runs.start_clone(make_site(), ACTOR, gdpr_acknowledged=True)
    assert lifecycle.admit(run)

    assert execute_run(run.pk) == f"run {run.pk} is running: nothing to do"
    assert Run.objects.get(pk=run.pk).steps.count() == 0
