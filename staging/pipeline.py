"""Runs a run: sequences its steps, records each one, and rolls back in reverse on failure.

Each step is recorded (``RunStep``) before it starts, and what it creates is saved on that
record at once, so a rollback needs nothing but the records: the same code undoes a failed run
and a run whose worker died (``reap_stale_runs``).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import django_rq
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from staging import audit, notify
from staging.errors import UnderstudyError
from staging.models import (
    EnvironmentStatus,
    Operation,
    Run,
    RunStatus,
    RunStep,
    StagingEnvironment,
    StepStatus,
    Trigger,
)
from staging.secrets import mask_text
from staging.services import Services
from staging.steps import CLONE_STEPS, REFRESH_STEPS, TEARDOWN_STEPS, Step, StepContext

logger = logging.getLogger("staging.pipeline")


class RunCancelled(UnderstudyError):
    code = "run_cancelled"


class WorkerLost(UnderstudyError):
    code = "worker_lost"


@dataclass(frozen=True)
class Plan:
    """What an operation does to its environment: its steps and the statuses it moves through."""

    steps: Sequence[Step]
    running: EnvironmentStatus
    succeeded: EnvironmentStatus
    # A failed clone has been rolled back to nothing; a failed refresh or teardown leaves an
    # environment that exists but needs attention.
    failed: EnvironmentStatus
    audit_action: str = field(default="")


PLANS: dict[str, Plan] = {
    Operation.CLONE: Plan(
        CLONE_STEPS, EnvironmentStatus.CREATING, EnvironmentStatus.READY, EnvironmentStatus.DELETED
    ),
    Operation.REFRESH: Plan(
        REFRESH_STEPS,
        EnvironmentStatus.REFRESHING,
        EnvironmentStatus.READY,
        EnvironmentStatus.FAILED,
    ),
    Operation.TEARDOWN: Plan(
        TEARDOWN_STEPS,
        EnvironmentStatus.DELETING,
        EnvironmentStatus.DELETED,
        EnvironmentStatus.FAILED,
    ),
}

STEPS_BY_NAME: dict[str, Step] = {step.name: step for plan in PLANS.values() for step in plan.steps}


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
                Run.objects.filter(pk=self._run_id).update(heartbeat_at=timezone.now())
                if Run.objects.filter(pk=self._run_id, cancel_requested=True).exists():
                    self._cancel.set()
        except Exception:
            logger.exception("heartbeat stopped", extra={"run_id": self._run_id})
        finally:
            connection.close()


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


def execute(run: Run, services: Services) -> Run:
    """Run every step of ``run`` (already started); on failure undo what was done."""
    plan = PLANS[run.operation]
    environment = run.environment
    _set_environment_status(environment, plan.running)
    cancel = threading.Event()
    context = StepContext(run=run, environment=environment, services=services, cancel=cancel)
    log_extra = {"run_id": run.pk, "operation": run.operation, "site": environment.site.slug}
    logger.info("run started", extra=log_extra)
    with Heartbeat(run, cancel, settings.STAGING_HEARTBEAT_SECONDS):
        try:
            for position, step in enumerate(plan.steps):
                run.refresh_from_db(fields=["cancel_requested"])
                if run.cancel_requested or cancel.is_set():
                    raise RunCancelled("Cancelled on request.")
                _run_step(context, step, position, len(plan.steps))
        except RunCancelled as error:
            _end(run, plan, RunStatus.CANCELLED, error.code, error.message, services)
        except UnderstudyError as error:
            _end(run, plan, RunStatus.FAILED, error.code, error.message, services)
        except Exception as error:
            message = mask_text(f"Unexpected error: {type(error).__name__}: {error}")
            _end(run, plan, RunStatus.ERRORED, "internal_error", message, services)
        else:
            _succeed(run, plan, services)
    logger.info("run ended: %s", run.status, extra=log_extra | {"error_code": run.error_code})
    return run


def _run_step(context: StepContext, step: Step, position: int, total: int) -> None:
    run = context.run
    record = RunStep.objects.create(run=run, name=step.name, position=position)
    run.current_step = step.name
    run.progress_percent = max(run.progress_percent, int(100 * position / total))
    run.save(update_fields=["current_step", "progress_percent"])
    context.begin(record, base_percent=run.progress_percent, share=100 / total)
    started = timezone.now()
    extra = {"run_id": run.pk, "step": step.name}
    logger.info("step started", extra=extra)
    try:
        step.run(context)
    except Exception as error:
        if isinstance(error, UnderstudyError):
            context.log(f"Failed ({error.code}): {error.message}")
        else:
            context.log("Failed with an unexpected error:\n" + traceback.format_exc())
        record.status = StepStatus.FAILED
        logger.warning("step failed", extra=extra)
        raise
    else:
        record.status = StepStatus.SUCCEEDED
        logger.info("step succeeded", extra=extra)
    finally:
        record.finished_at = timezone.now()
        record.save(update_fields=["status", "finished_at"])
        durations = run.metrics.setdefault("step_seconds", {})
        durations[step.name] = round((record.finished_at - started).total_seconds(), 3)
        Run.objects.filter(pk=run.pk).update(metrics=run.metrics)


def rollback(run: Run, services: Services) -> list[str]:
    """Undo, newest first, every recorded step that created something. Returns what failed."""
    problems: list[str] = []
    records = run.steps.exclude(status=StepStatus.ROLLED_BACK).order_by("-position")
    for record in records:
        step = STEPS_BY_NAME.get(record.name)
        if step is None or not record.created:
            continue
        try:
            step.undo(services, record.created)
        except Exception as error:
            message = mask_text(f"{type(error).__name__}: {error}")
            record.log += f"\nRollback failed: {message}"
            record.status = StepStatus.ROLLBACK_FAILED
            problems.append(f"{record.name}: {message}")
            logger.exception("rollback failed", extra={"run_id": run.pk, "step": record.name})
        else:
            record.log += "\nUndone."
            record.status = StepStatus.ROLLED_BACK
        record.save(update_fields=["log", "status"])
    return problems


def _succeed(run: Run, plan: Plan, services: Services) -> None:
    with transaction.atomic():
        run.finish(RunStatus.SUCCEEDED)
        environment = run.environment
        _set_environment_status(environment, plan.succeeded)
        if run.operation == Operation.REFRESH:
            environment.last_refreshed_at = timezone.now()
            environment.save(update_fields=["last_refreshed_at"])
        _audit_end(run)
    notify.run_finished(run)


def _end(
    run: Run, plan: Plan, status: RunStatus, code: str, message: str, services: Services
) -> None:
    problems = rollback(run, services)
    if problems:
        message += " Some steps could not be undone: " + "; ".join(problems)
    with transaction.atomic():
        run.finish(status, code, message)
        _set_environment_status(run.environment, plan.failed)
        _audit_end(run)
    notify.run_finished(run)


def _set_environment_status(environment: StagingEnvironment, status: EnvironmentStatus) -> None:
    if status == EnvironmentStatus.DELETED:
        environment.mark_deleted()
    else:
        environment.status = status
        environment.save(update_fields=["status"])


def _audit_end(run: Run) -> None:
    audit.record(
        f"staging.{run.operation}_{run.status}",
        source=run.trigger,
        target=run.environment,
        details={"run_id": run.pk, "error_code": run.error_code, "metrics": run.metrics},
    )


def reap_stale_runs(services_factory: Callable[[], Services], now: Any = None) -> list[Run]:
    """Roll back every running run whose worker stopped sending heartbeats."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.STAGING_STALE_AFTER_SECONDS)
    reaped: list[Run] = []
    stale = Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff)
    for run in stale.select_related("environment__site"):
        with transaction.atomic():
            claimed = Run.objects.filter(
                pk=run.pk, status=RunStatus.RUNNING, heartbeat_at__lt=cutoff
            ).update(heartbeat_at=timezone.now())
        if not claimed:
            continue
        run.refresh_from_db()
        plan = PLANS[run.operation]
        error = WorkerLost("The worker running this stopped answering; everything was undone.")
        RunStep.objects.filter(run=run, status=StepStatus.RUNNING).update(
            status=StepStatus.FAILED, finished_at=timezone.now()
        )
        _end(run, plan, RunStatus.FAILED, error.code, error.message, services_factory())
        audit.record(
            "staging.run_reaped",
            source=Trigger.SCHEDULE,
            target=run.environment,
            details={"run_id": run.pk},
        )
        reaped.append(run)
        close_old_connections()
    return reaped
