"""The life of a run's job: its RQ job id, the enqueue after the commit, admission under the
concurrency limits, running it now with a heartbeat, and the reaper's two duties (runs whose
worker died, runs whose job was lost).

The run is the record and the job is a thin runner (NetBox's shape): the run is given its job
id when it is created, the job is put on the queue with that id once the transaction commits,
and ``run_now`` is the one runner, called by the worker, by commands that work in their own
process and by the tests. ``pipeline`` does the steps; this module decides when they run.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import django_rq
from django.conf import settings
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.utils import timezone
from redis.exceptions import RedisError
from rq.job import Job, JobStatus

from staging import audit, pipeline
from staging.errors import InvalidState
from staging.models import Operation, Run, RunStatus, Trigger
from staging.services import Services, default_services

logger = logging.getLogger("staging.lifecycle")

# By dotted path, so that this module does not import the entry points that import it.
EXECUTE_RUN = "staging.jobs.execute_run"
JOB_TIMEOUT_SECONDS = 6 * 3600

# How long a run that is over a concurrency limit waits before it asks again.
RETRY_ADMISSION_AFTER = timedelta(seconds=5)

# A run is enqueued by ``transaction.on_commit`` right after its commit, in the same thread; in
# between, its job id is on the run and not yet on the queue (tests/pipeline/test_lifecycle.py
# holds a run in that gap). A requeue that caught it there would queue a second job (harmless:
# the later one finds the run started) and audit a loss that never happened, so a run is left
# alone for these few seconds. A run whose enqueue failed (Redis down) is requeued by the first
# pass after them.
ENQUEUE_GRACE_SECONDS = 5

_JOB_GONE = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


def new_job_id() -> str:
    """The RQ job id a run is created with, so the run can be found from its job and back."""
    return uuid.uuid4().hex


def enqueue_on_commit(run: Run) -> None:
    """Put the run's job on the queue once the current transaction has committed.

    Robust: with Redis down the request still answers with the run it committed; the run stays
    queued and ``requeue_lost_runs`` puts it on the queue once Redis is back.
    """
    transaction.on_commit(lambda: _enqueue(run.pk, run.rq_job_id), robust=True)


def _enqueue(run_id: int, job_id: str) -> None:
    django_rq.get_queue("default").enqueue(
        EXECUTE_RUN, run_id, job_id=job_id, job_timeout=JOB_TIMEOUT_SECONDS
    )


# -- admission and running -------------------------------------------------------------------


def admit(run: Run) -> bool:
    """Start ``run`` if the concurrency limits allow it; otherwise it stays queued.

    The count and the start happen under one Redis lock, so two workers cannot both take the
    last slot, whatever the portal database is.
    """
    if run.operation == Operation.TEARDOWN:
        run.start()
        return True
    with django_rq.get_connection("default").lock("understudy:admission", timeout=30):
        copying = Run.objects.filter(
            status=RunStatus.RUNNING, operation__in=[Operation.CLONE, Operation.REFRESH]
        )
        if copying.count() >= settings.STAGING_MAX_CLONES:
            return False
        if (
            copying.filter(environment__site=run.environment.site_id).count()
            >= settings.STAGING_MAX_CLONES_PER_SITE
        ):
            return False
        run.start()
        return True


def run_now(run: Run, services: Services | None = None) -> bool:
    """Admit ``run`` and execute it in this process, with its heartbeat; False when it must
    wait for a free slot (it stays queued). Without ``services``, the settings' are built and
    closed here. Raises ``InvalidState`` if the run ended (was cancelled) before it started."""
    if not admit(run):
        return False
    used = services if services is not None else default_services()
    cancel = threading.Event()
    rate_limited_before = used.railway.rate_limited
    try:
        with Heartbeat(run, cancel, settings.STAGING_HEARTBEAT_SECONDS):
            pipeline.execute(run, used, cancel)
    finally:
        _record_rate_limits(run, used.railway.rate_limited - rate_limited_before)
        if services is None:
            used.close()
    return True


def _record_rate_limits(run: Run, answers: int) -> None:
    """The run's share of Railway's 429 answers, beside its ``railway_calls`` (for /metrics)."""
    if not answers:
        return
    run.metrics["railway_rate_limited"] = answers
    try:
        Run.objects.filter(pk=run.pk).update(metrics=run.metrics)
    except (OperationalError, InterfaceError):
        logger.warning("could not record Railway's 429 answers", extra={"run_id": run.pk})


def run_from_queue(run: Run) -> str:
    """What the worker does with a queued run: run it now, or ask again once a slot may be
    free. Returns the job's result, a line for RQ's records."""
    if run.status != RunStatus.QUEUED:
        return f"run {run.pk} is {run.status}: nothing to do"
    try:
        ran = run_now(run)
    except InvalidState:
        # Cancelled between the check above and the start: nothing to run.
        return f"run {run.pk} ended before it started"
    if not ran:
        _enqueue_again_later(run)
        return f"run {run.pk} waits for a free slot"
    return f"run {run.pk} {run.status}"


def _enqueue_again_later(run: Run) -> None:
    # A fresh id: the job that calls this is still running under the run's current one. The id
    # is recorded once the job is scheduled; until then the run points at the running job, so
    # requeue_lost_runs never sees it without a live job.
    job_id = new_job_id()
    django_rq.get_queue("default").enqueue_in(
        RETRY_ADMISSION_AFTER,
        EXECUTE_RUN,
        run.pk,
        job_id=job_id,
        job_timeout=JOB_TIMEOUT_SECONDS,
    )
    Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(rq_job_id=job_id)
    run.rq_job_id = job_id


class Heartbeat:
    """Keeps the run's heartbeat fresh from a thread and notices a cancel request."""

    def __init__(self, run: Run, cancel: threading.Event, interval: float) -> None:
        self._run_id = run.pk
        self._cancel = cancel
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run.pk}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self._interval):
                try:
                    Run.objects.filter(pk=self._run_id).update(heartbeat_at=timezone.now())
                    if Run.objects.filter(pk=self._run_id, cancel_requested=True).exists():
                        self._cancel.set()
                except (OperationalError, InterfaceError):
                    # A heartbeat that died with one lost connection would get a live run
                    # reaped: beat again on a fresh connection next time.
                    logger.warning("heartbeat missed", extra={"run_id": self._run_id})
                    connection.close()
        except Exception:
            logger.exception("heartbeat stopped", extra={"run_id": self._run_id})
        finally:
            connection.close()


# -- the reaper ------------------------------------------------------------------------------


def reap_stale_runs(
    services_factory: Callable[[], Services], now: datetime | None = None
) -> list[Run]:
    """Roll back every running run whose worker stopped sending heartbeats."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.STAGING_STALE_AFTER_SECONDS)
    reaped: list[Run] = []
    stale = Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff)
    for run in stale.select_related("environment__site"):
        # Claimed by moving its heartbeat, so two reapers never roll back the same run.
        with transaction.atomic():
            claimed = Run.objects.filter(
                pk=run.pk, status=RunStatus.RUNNING, heartbeat_at__lt=cutoff
            ).update(heartbeat_at=timezone.now())
        if not claimed:
            continue
        run.refresh_from_db()
        pipeline.end_lost_run(run, services_factory())
        audit.record(
            "staging.run_reaped",
            source=Trigger.SCHEDULE,
            target=run.environment,
            details={"run_id": run.pk},
        )
        reaped.append(run)
        close_old_connections()
    return reaped


def requeue_lost_runs(now: datetime | None = None) -> list[Run]:
    """Enqueue again every queued run whose job is no longer on the queue.

    That happens when Redis restarts without its data, or was down when the run was committed
    (the enqueue after the commit is allowed to fail). A run that is still queued while its job
    has ended (failed before it could start the run) is lost too. Each run carries the id of
    the job meant to run it, so a lost one is known by that id, whatever its age.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=ENQUEUE_GRACE_SECONDS)
    redis = django_rq.get_connection("default")
    requeued: list[Run] = []
    waiting = Run.objects.filter(status=RunStatus.QUEUED, created_at__lt=cutoff)
    for run in waiting.select_related("environment__site").order_by("created_at"):
        if run.rq_job_id and _job_alive(run.rq_job_id, redis):
            continue
        lost_job_id, job_id = run.rq_job_id, new_job_id()
        # Recorded before the enqueue, like a new run's: if the enqueue fails the run points at
        # a job that does not exist and the next pass takes it again. Conditional, so a run
        # that started or was requeued meanwhile is left alone.
        still_lost = Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED, rq_job_id=lost_job_id)
        if not still_lost.update(rq_job_id=job_id):
            continue
        run.rq_job_id = job_id
        try:
            _enqueue(run.pk, job_id)
        except RedisError:
            logger.exception("could not requeue run", extra={"run_id": run.pk})
            break
        audit.record(
            "staging.run_requeued",
            source=Trigger.SCHEDULE,
            target=run.environment,
            details={"run_id": run.pk, "lost_job_id": lost_job_id or None, "job_id": job_id},
        )
        logger.info("requeued a run whose job was lost", extra={"run_id": run.pk})
        requeued.append(run)
    return requeued


def _job_alive(job_id: str, redis: Any) -> bool:
    if not Job.exists(job_id, connection=redis):
        return False
    status = Job.fetch(job_id, connection=redis).get_status(refresh=False)
    return status not in _JOB_GONE
