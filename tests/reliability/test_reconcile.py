"""``reconcile_staging``: what Understudy made on Railway and lost track of, copies that need
attention, and what it tracks that Railway no longer has; ``--fix`` settles them, audited, and
never touches production, an environment a run is creating, or one that someone else made
(whatever its name: only the Railway ids its runs recorded as created are Understudy's)."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from railway_sandbox import Sandbox, SandboxProject
from staging import lifecycle, runs
from staging.models import AuditEvent, EnvironmentStatus, Run, StagingEnvironment, Trigger
from staging.services import Services
from tests.fixtures_railway import SANDBOX_TOKEN
from tests.pipeline.helpers import clone, railway_environment_names

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def railway_settings(settings: Any, sandbox: Sandbox) -> None:
    settings.RAILWAY_API_URL = sandbox.api_url
    settings.RAILWAY_API_TOKEN = SANDBOX_TOKEN


def reconcile(*arguments: str) -> tuple[int, dict[str, Any]]:
    out = StringIO()
    try:
        call_command("reconcile_staging", "--json", *arguments, stdout=out)
    except CommandError as error:
        return error.returncode, json.loads(out.getvalue())
    return 0, json.loads(out.getvalue())


def railway_environment(services: Services, project: SandboxProject, name: str) -> str:
    """An environment made on Railway directly, as a crashed or rolled-back-too-late run leaves."""
    created = services.railway.create_environment(
        project.project_id, name, project.production_environment_id
    )
    return created.id


def test_it_reports_nothing_when_understudy_and_railway_agree(
    ledger_site, ledger_project, services, sandbox, job_queue, railway_settings, record_property
):
    record_property("category", "fault")
    record_property("case", "reconcile_staging with nothing out of step")
    run = clone(ledger_site, services)
    assert run.status == "succeeded"

    code, report = reconcile("--fix")

    assert code == 0
    assert report["orphaned_on_railway"] == report["missing_on_railway"] == []
    assert sorted(railway_environment_names(sandbox, ledger_project.project_id)) == sorted(
        ["production", run.environment.name]
    )
    record_property("outcome", "nothing reported, nothing touched")


def test_it_finds_and_deletes_environments_understudy_made_but_no_longer_tracks(
    ledger_site, ledger_project, services, sandbox, job_queue, railway_settings, record_property
):
    record_property("category", "fault")
    record_property("case", "orphaned Railway environments (reconcile_staging --fix)")
    # One whose record was marked deleted but survived on Railway (a run recorded creating it),
    # and two nobody recorded: one with a name Understudy would generate, one the client's.
    run = clone(ledger_site, services)
    environment = run.environment
    StagingEnvironment.objects.filter(pk=environment.pk).update(status=EnvironmentStatus.DELETED)
    railway_environment(services, ledger_project, "staging-20240101-3")
    railway_environment(services, ledger_project, "client-dev")

    code, listed = reconcile()

    assert code == 1  # drift left unfixed
    (orphan,) = listed["orphaned_on_railway"]
    assert orphan["name"] == environment.name
    assert orphan["staging_environment_id"] == environment.pk
    assert orphan["railway_environment_id"] == environment.railway_environment_id

    code, fixed = reconcile("--fix", "--source", "schedule")

    assert code == 0
    assert all(o["fixed"] for o in fixed["orphaned_on_railway"])
    assert railway_environment_names(sandbox, ledger_project.project_id) == [
        "client-dev",
        "production",
        "staging-20240101-3",
    ]
    events = AuditEvent.objects.filter(action="staging.reconciled_orphan_deleted")
    assert events.count() == 1
    assert set(events.values_list("source", flat=True)) == {Trigger.SCHEDULE}
    assert reconcile()[0] == 0
    record_property("outcome", "1 recorded orphan deleted on Railway, audited; 2 unrecorded kept")


def test_a_client_made_environment_with_a_deleted_copys_name_is_left_alone(
    ledger_site, ledger_project, services, sandbox, job_queue, railway_settings, record_property
):
    record_property("category", "fault")
    record_property("case", "client environment named like a deleted copy (reconcile --fix)")
    run = clone(ledger_site, services)
    environment = run.environment
    teardown = runs.start_teardown(environment, runs.Actor.system(Trigger.COMMAND))
    assert lifecycle.run_now(teardown, services)
    environment.refresh_from_db()
    assert environment.status == EnvironmentStatus.DELETED
    clients_own = railway_environment(services, ledger_project, environment.name)

    code, fixed = reconcile("--fix")

    assert code == 0
    assert fixed["orphaned_on_railway"] == fixed["needs_attention"] == []
    names = railway_environment_names(sandbox, ledger_project.project_id)
    assert names == sorted(["production", environment.name])
    assert sandbox.world.environment(clients_own) is not None
    record_property("outcome", "the client's environment kept")


def test_a_copy_needing_attention_is_deleted_once_railway_allows_and_only_then_marked_deleted(
    ledger_site, ledger_project, services, sandbox, job_queue, railway_settings, record_property
):
    record_property("category", "fault")
    record_property("case", "rollback whose delete Railway refused (reconcile --fix retries)")
    sandbox.faults.set("App", "deployment_failed")
    sandbox.faults.set("environmentDelete", "delete_refused", times=2)
    run = clone(ledger_site, services)
    environment = run.environment
    environment.refresh_from_db()
    assert environment.status == EnvironmentStatus.NEEDS_ATTENTION

    code, refused = reconcile("--fix")

    assert code == 1
    (attention,) = refused["needs_attention"]
    assert attention["staging_environment_id"] == environment.pk
    assert not attention["fixed"] and "railway_error" in attention["fix_error"]
    environment.refresh_from_db()
    assert environment.status == EnvironmentStatus.NEEDS_ATTENTION

    code, fixed = reconcile("--fix")

    assert code == 0 and fixed["needs_attention"][0]["fixed"]
    environment.refresh_from_db()
    assert environment.status == EnvironmentStatus.DELETED
    assert railway_environment_names(sandbox, ledger_project.project_id) == ["production"]
    assert AuditEvent.objects.filter(
        action="staging.reconciled_attention_deleted", target_id=str(environment.pk)
    ).exists()
    record_property("outcome", "kept as needs attention while refused; deleted, then marked")


def test_it_marks_deleted_the_environments_that_are_gone_from_railway(
    ledger_site, ledger_project, services, sandbox, job_queue, railway_settings, record_property
):
    record_property("category", "fault")
    record_property("case", "tracked environment deleted on Railway by hand")
    run = clone(ledger_site, services)
    environment = run.environment
    services.railway.delete_environment(environment.railway_environment_id)

    code, listed = reconcile()
    assert code == 1
    assert [m["staging_environment_id"] for m in listed["missing_on_railway"]] == [environment.pk]
    environment.refresh_from_db()
    assert environment.status == EnvironmentStatus.READY  # listing changes nothing

    code, _ = reconcile("--fix")

    assert code == 0
    environment.refresh_from_db()
    assert environment.status == EnvironmentStatus.DELETED
    assert AuditEvent.objects.filter(
        action="staging.reconciled_missing_marked_deleted", target_id=str(environment.pk)
    ).exists()
    record_property("outcome", "marked deleted, audited")


def test_it_leaves_alone_the_environment_a_run_is_creating_and_production(
    ledger_site, ledger_project, services, sandbox, job_queue, railway_settings, record_property
):
    record_property("category", "fault")
    record_property("case", "reconcile during a clone that has not saved its Railway id yet")
    run = runs.start_clone(ledger_site, runs.Actor.system(Trigger.COMMAND), gdpr_acknowledged=True)
    Run.objects.filter(pk=run.pk).update(status="running")
    # Railway has made it; the run has not written the id down yet.
    railway_environment(services, ledger_project, run.environment.name)

    code, fixed = reconcile("--fix")

    assert code == 0
    assert fixed["orphaned_on_railway"] == fixed["missing_on_railway"] == []
    assert railway_environment_names(sandbox, ledger_project.project_id) == sorted(
        ["production", run.environment.name]
    )
    record_property("outcome", "nothing deleted")
