"""What every reliability case checks once its runs have ended."""

from __future__ import annotations

from railway_sandbox import Sandbox
from staging import lifecycle, runs
from staging.models import AuditEvent, EnvironmentStatus, Run, RunStatus, StepStatus, Trigger
from staging.services import Services
from tests.fixtures_dbcopy import copy_tool_processes
from tests.pipeline.helpers import railway_environment_names, sandbox_databases


def assert_nothing_lost(
    started: list[Run], services: Services, sandbox: Sandbox, databases_before: set[str]
) -> dict[str, int]:
    """Every run ended well or rolled back cleanly, audited; then the ready ones are torn down
    and the sandbox must be exactly as it was. Returns the count of runs per status."""
    ended: dict[str, int] = {}
    ready_names: dict[str, list[str]] = {}
    for run in started:
        run.refresh_from_db()
        environment = run.environment
        environment.refresh_from_db()
        ended[run.status] = ended.get(run.status, 0) + 1
        assert run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED), (
            run.status,
            run.error_code,
            run.error_message,
        )
        project_id = environment.site.railway_project_id
        ready_names.setdefault(project_id, [])
        if run.status == RunStatus.SUCCEEDED:
            assert environment.status == EnvironmentStatus.READY
            ready_names[project_id].append(environment.name)
        else:
            assert environment.status == EnvironmentStatus.DELETED
            assert not run.steps.filter(status=StepStatus.ROLLBACK_FAILED).exists()
        actions = set(
            AuditEvent.objects.filter(
                target_id=str(environment.pk), details__run_id=run.pk
            ).values_list("action", flat=True)
        )
        assert {"staging.clone_requested", f"staging.clone_{run.status}"} <= actions, actions
    for project_id, names in ready_names.items():
        # Exactly one Railway environment per ready copy: a retried create made no second one.
        assert railway_environment_names(sandbox, project_id) == sorted(["production", *names])
    for run in started:
        if run.status == RunStatus.SUCCEEDED:
            teardown = runs.start_teardown(run.environment, runs.Actor.system(Trigger.COMMAND))
            assert lifecycle.run_now(teardown, services)
            assert teardown.status == RunStatus.SUCCEEDED, teardown.error_message
    for project_id in ready_names:
        assert railway_environment_names(sandbox, project_id) == ["production"]
    assert sandbox_databases(sandbox) == databases_before
    assert copy_tool_processes(sandbox.database_prefix + "_") == []
    return ended
