"""RQ entry points, nothing else: each loads its record and hands it to the pipeline."""

from __future__ import annotations

from datetime import timedelta

import django_rq

from staging import pipeline
from staging.errors import InvalidState
from staging.models import Run, RunStatus
from staging.services import default_services

# How long a run that is over a concurrency limit waits before it asks again.
RETRY_ADMISSION_AFTER = timedelta(seconds=5)


def execute_run(run_id: int) -> str:
    run = Run.objects.select_related("environment__site").get(pk=run_id)
    if run.status != RunStatus.QUEUED:
        return f"run {run_id} is {run.status}: nothing to do"
    try:
        admitted = pipeline.admit(run)
    except InvalidState:
        # Cancelled between the check above and the start: nothing to run.
        return f"run {run_id} ended before it started"
    if not admitted:
        job = django_rq.get_queue("default").enqueue_in(RETRY_ADMISSION_AFTER, execute_run, run_id)
        # The run points at the job that will pick it up, so requeue_lost_runs does not take
        # this finished one for a lost one.
        Run.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(rq_job_id=job.id)
        return f"run {run_id} waits for a free slot"
    services = default_services()
    try:
        pipeline.execute(run, services)
    finally:
        services.close()
    return f"run {run_id} {run.status}"
