"""``reconcile_staging``: what Understudy made on Railway and lost track of, and what it tracks
that Railway no longer has; ``--fix`` settles both, audited, and never touches production, an
environment a run is creating, or one that someone else made."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from railway_sandbox import Sandbox, SandboxProject
from staging import runs
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
    # One whose record was deleted but survived on Railway, one with a generated name nobody
    # tracks, and one the client made themselves.
    run = clone(ledger_site, services)
    environment = run.environment
    StagingEnvironment.objects.filter(pk=environment.pk).update(status=EnvironmentStatus.DELETED)
    untracked = railway_environment(services, ledger_project, "staging-20240101-3")
    railway_environment(services, ledger_project, "client-dev")

    code, listed = reconcile()

    assert code == 1  # drift left unfixed
    orphans = {o["name"]: o for o in listed["orphaned_on_railway"]}
    assert set(orphans) == {environment.name, "staging-20240101-3"}
    assert orphans[environment.name]["staging_environment_id"] == environment.pk
    assert orphans["staging-20240101-3"]["railway_environment_id"] == untracked

    code, fixed = reconcile("--fix", "--source", "schedule")

    assert code == 0
    assert all(o["fixed"] for o in fixed["orphaned_on_railway"])
    assert railway_environment_names(sandbox, ledger_project.project_id) == [
        "client-dev",
        "production",
    ]
    events = AuditEvent.objects.filter(action="staging.reconciled_orphan_deleted")
    assert events.count() == 2
    assert set(events.values_list("source", flat=True)) == {Trigger.SCHEDULE}
    assert reconcile()[0] == 0
    record_property("outcome", "2 orphans deleted on Railway, audited; client's own kept")


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
    run = runs.start_clone(ledger_site, runs.Actor.system(Trigger.COMMAND))
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
