"""Runs a run: sequences its steps, records each one, and rolls back in reverse on failure.

Each step is recorded (``RunStep``) before it starts, and what it creates is saved on that
record at once, so a rollback needs nothing but the records: the same code undoes a failed run
and a run whose worker died (``end_lost_run``, called by the reaper in ``lifecycle``).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection, transaction
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
)
from staging.secrets import mask_text
from staging.services import Services
from staging.steps import CLONE_STEPS, REFRESH_STEPS, TEARDOWN_STEPS, Step, StepContext

logger = logging.getLogger("staging.pipeline")


class RunCancelled(UnderstudyError):
    code = "run_cancelled"


class WorkerLost(UnderstudyError):
    code = "worker_lost"


class PortalDatabaseUnavailable(UnderstudyError):
    code = "portal_database_unavailable"


T = TypeVar("T")

# How long the pipeline's own writes wait for the portal database to come back (a restart, a
# failover) before the run is left to the reaper.
PORTAL_DATABASE_PATIENCE_SECONDS = 60.0
_PORTAL_DATABASE_ERRORS = (OperationalError, InterfaceError)


def _with_portal_database(action: Callable[[], T], what: str) -> T:
    """Do ``action``; while the portal database is unreachable, reconnect and try again.

    Django never reconnects a connection that broke under it outside a request, so the broken
    one is closed here and the next query opens a fresh one. Only the pipeline's own
    bookkeeping goes through this: each action is safe to repeat.
    """
    deadline = time.monotonic() + PORTAL_DATABASE_PATIENCE_SECONDS
    delay = 0.5
    while True:
        try:
            return action()
        except _PORTAL_DATABASE_ERRORS as error:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning(
                "portal database unavailable while %s (%s); retrying in %.1fs",
                what,
                type(error).__name__,
                delay,
            )
            connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


@dataclass(frozen=True)
class Plan:
    """What an operation does to its environment: its steps and the statuses it moves through."""

    steps: Sequence[Step]
    running: EnvironmentStatus
    succeeded: EnvironmentStatus
    # A failed clone has been rolled back to nothing; a failed refresh or teardown leaves an
    # environment that exists but needs attention.
    failed: EnvironmentStatus

    def failed_status(self, operation: str, status: RunStatus, rollback_problems: bool) -> str:
        """Where a run that did not succeed leaves its environment. Whatever could not be
        deleted on Railway (a rollback or a teardown Railway refused) needs attention: it may
        hold production data, so it stays listed until a retry deletes it."""
        if rollback_problems:
            return EnvironmentStatus.NEEDS_ATTENTION
        if operation == Operation.TEARDOWN and status != RunStatus.CANCELLED:
            return EnvironmentStatus.NEEDS_ATTENTION
        return self.failed


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


def execute(run: Run, services: Services, cancel: threading.Event) -> Run:
    """Run every step of ``run`` (already started); on failure undo what was done. ``cancel``
    is set from outside (the heartbeat, on a cancel request) to stop at the next step."""
    plan = PLANS[run.operation]
    environment = run.environment
    _with_portal_database(
        lambda: _set_environment_status(environment, plan.running), "starting the run"
    )
    context = StepContext(run=run, environment=environment, services=services, cancel=cancel)
    log_extra = {"run_id": run.pk, "operation": run.operation, "site": environment.site.slug}
    logger.info("run started", extra=log_extra)
    try:
        for position, step in enumerate(plan.steps):
            _with_portal_database(
                lambda: run.refresh_from_db(fields=["cancel_requested"]), "between steps"
            )
            if run.cancel_requested or cancel.is_set():
                raise RunCancelled("Cancelled on request.")
            _run_step(context, step, position, len(plan.steps))
    except RunCancelled as error:
        _end(run, plan, RunStatus.CANCELLED, error.code, error.message, services)
    except UnderstudyError as error:
        _end(run, plan, RunStatus.FAILED, error.code, error.message, services)
    except _PORTAL_DATABASE_ERRORS as error:
        # A step could not record what it did: undo everything rather than go on blind.
        lost = PortalDatabaseUnavailable(
            "The portal database was unavailable during a step; everything was undone. "
            f"({type(error).__name__})"
        )
        _end(run, plan, RunStatus.FAILED, lost.code, lost.message, services)
    except Exception as error:
        message = mask_text(f"Unexpected error: {type(error).__name__}: {error}")
        _end(run, plan, RunStatus.ERRORED, "internal_error", message, services)
    else:
        _succeed(run, plan, services)
    logger.info("run ended: %s", run.status, extra=log_extra | {"error_code": run.error_code})
    return run


def _run_step(context: StepContext, step: Step, position: int, total: int) -> None:
    run = context.run
    record = _with_portal_database(
        lambda: RunStep.objects.get_or_create(run=run, name=step.name, position=position)[0],
        f"recording step {step.name}",
    )
    run.current_step = step.name
    run.progress_percent = max(run.progress_percent, int(100 * position / total))
    _with_portal_database(
        lambda: run.save(update_fields=["current_step", "progress_percent"]),
        f"recording step {step.name}",
    )
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
        durations = run.metrics.setdefault("step_seconds", {})
        durations[step.name] = round((record.finished_at - started).total_seconds(), 3)
        # Railway allows a Hobby workspace 1,000 requests an hour; each run's share is kept.
        run.metrics["railway_calls"] = context.services.railway.calls - context.railway_calls_before

        def save() -> None:
            record.save(update_fields=["status", "finished_at"])
            Run.objects.filter(pk=run.pk).update(metrics=run.metrics)

        _with_portal_database(save, f"recording step {step.name}")


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
    def record_outcome() -> None:
        with transaction.atomic():
            run.finish(RunStatus.SUCCEEDED)
            environment = run.environment
            _set_environment_status(environment, plan.succeeded)
            if run.operation == Operation.REFRESH:
                environment.last_refreshed_at = timezone.now()
                environment.save(update_fields=["last_refreshed_at"])
            _audit_end(run)

    _with_portal_database(_restoring_status(run, record_outcome), "recording the outcome")
    notify.run_finished(run)


def _end(
    run: Run, plan: Plan, status: RunStatus, code: str, message: str, services: Services
) -> None:
    # Undoing twice is harmless (a deleted environment is not an error), so the rollback can be
    # repeated whole if the portal database drops out while it is recorded.
    problems = _with_portal_database(lambda: rollback(run, services), "rolling back")
    if problems:
        message += (
            " Some steps could not be undone: "
            + "; ".join(problems)
            + ". The copy needs attention: cleanup_staging and reconcile_staging --fix delete "
            "it once Railway allows."
        )
    environment_status = plan.failed_status(run.operation, status, bool(problems))

    def record_outcome() -> None:
        with transaction.atomic():
            run.finish(status, code, message)
            _set_environment_status(run.environment, EnvironmentStatus(environment_status))
            _audit_end(run)

    _with_portal_database(_restoring_status(run, record_outcome), "recording the outcome")
    notify.run_finished(run)


def end_lost_run(run: Run, services: Services) -> None:
    """End ``run``, whose worker stopped answering (the reaper found it): undo what its steps
    recorded and fail it."""
    error = WorkerLost("The worker running this stopped answering; everything was undone.")
    RunStep.objects.filter(run=run, status=StepStatus.RUNNING).update(
        status=StepStatus.FAILED, finished_at=timezone.now()
    )
    _end(run, PLANS[run.operation], RunStatus.FAILED, error.code, error.message, services)


def _restoring_status(run: Run, action: Callable[[], None]) -> Callable[[], None]:
    """``action``, but on failure ``run`` is put back as it was, so that trying again after the
    transaction was rolled back does not find it already finished in memory."""
    fields = ("status", "error_code", "error_message", "finished_at", "progress_percent")
    before = {name: getattr(run, name) for name in fields}

    def attempt() -> None:
        try:
            action()
        except Exception:
            for name, value in before.items():
                setattr(run, name, value)
            raise

    return attempt


def _set_environment_status(environment: StagingEnvironment, status: EnvironmentStatus) -> None:
    if status == EnvironmentStatus.DELETED:
        environment.mark_deleted()
    elif status == EnvironmentStatus.NEEDS_ATTENTION:
        # Whatever is left on Railway is not a staging site any more: no link to it.
        environment.status = status
        environment.url = ""
        environment.save(update_fields=["status", "url"])
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
