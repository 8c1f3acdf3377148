"""A fault at each step ends in a rolled-back run: the Railway environment this run created
is deleted, its databases dropped, and the run says why with a stable code."""

from __future__ import annotations

from dataclasses import replace

import pytest

from staging.dbcopy import CopyError
from staging.models import Run, RunStatus, StepStatus
from staging.steps import AssignDomain
from tests.pipeline.helpers import (
    assert_rolled_back,
    clone,
    railway_environment_names,
    sandbox_databases,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def databases_before(ledger_project, sandbox):
    return sandbox_databases(sandbox)


@pytest.mark.parametrize(
    ("operation", "kind", "options", "code"),
    [
        ("environmentCreate", "create_fails", {}, "railway_error"),
        ("Postgres", "deployment_failed", {}, "railway_deployment_failed"),
        (
            "serviceDomainCreate",
            "rate_limit",
            {"times": 50, "retry_after": 0.01},
            "railway_rate_limited",
        ),
        ("tcpProxyCreate", "server_error", {"times": 50}, "railway_unavailable"),
    ],
)
def test_a_railway_fault_rolls_the_clone_back(
    ledger_site,
    ledger_project,
    services,
    sandbox,
    job_queue,
    databases_before,
    operation,
    kind,
    options,
    code,
):
    sandbox.faults.set(operation, kind, **options)

    run = clone(ledger_site, services)

    assert (run.status, run.error_code) == (RunStatus.FAILED, code)
    assert run.error_message
    assert_rolled_back(run, sandbox, ledger_project.project_id, databases_before)


def test_a_failed_copy_rolls_the_clone_back(
    ledger_site, ledger_project, services, sandbox, job_queue, databases_before
):
    def copy_then_fail(source, target, **options):
        services_copy(source, target, **options)
        raise CopyError("The connection to the staging database was lost three times.")

    services_copy = services.copy_database
    run = clone(ledger_site, replace(services, copy_database=copy_then_fail))

    assert (run.status, run.error_code) == (RunStatus.FAILED, "copy_failed")
    assert run.steps.get(name="copy_database").status == StepStatus.FAILED
    assert run.steps.get(name="create_environment").status == StepStatus.ROLLED_BACK
    assert_rolled_back(run, sandbox, ledger_project.project_id, databases_before)


def test_a_failed_copy_deletes_the_domain_the_clone_made_before_its_environment(
    ledger_site, ledger_project, services, sandbox, job_queue, databases_before
):
    def copy_then_fail(source, target, **options):
        raise CopyError("The connection to the staging database was lost three times.")

    run = clone(ledger_site, replace(services, copy_database=copy_then_fail))

    domain_step = run.steps.get(name="assign_domain")
    assert domain_step.created.get("service_domain_id")
    assert domain_step.status == StepStatus.ROLLED_BACK
    assert sandbox.calls["serviceDomainDelete"] == 1
    assert_rolled_back(run, sandbox, ledger_project.project_id, databases_before)


def test_undoing_a_domain_that_is_already_gone_is_not_an_error(services, sandbox):
    AssignDomain().undo(services, {"service_domain_id": "domain-deleted-by-hand"})

    assert sandbox.calls["serviceDomainDelete"] == 1


def test_a_site_that_never_answers_rolls_the_clone_back(
    ledger_site, ledger_project, services, sandbox, job_queue, databases_before, settings
):
    settings.STAGING_HEALTH_CHECK_TIMEOUT_SECONDS = 2
    sandbox.faults.set("App", "site_status", times=None, status=503)

    run = clone(ledger_site, services)

    assert (run.status, run.error_code) == (RunStatus.FAILED, "health_check_failed")
    assert_rolled_back(run, sandbox, ledger_project.project_id, databases_before)


def test_a_bug_ends_the_run_errored_and_still_rolls_back(
    ledger_site, ledger_project, services, sandbox, job_queue, databases_before
):
    def broken_prepare(*args, **kwargs):
        raise KeyError("a bug")

    ledger_site.masking_rules = [{"table": "customers", "column": "email", "kind": "email"}]
    ledger_site.save()
    run = clone(ledger_site, replace(services, mask_columns=broken_prepare))

    assert (run.status, run.error_code) == (RunStatus.ERRORED, "internal_error")
    assert "Traceback" in run.steps.get(name="prepare_site").log
    assert_rolled_back(run, sandbox, ledger_project.project_id, databases_before)


def test_a_cancel_between_steps_rolls_the_clone_back(
    ledger_site, ledger_project, services, sandbox, job_queue, databases_before
):
    original = services.railway.create_environment

    def create_then_cancel(*args, **kwargs):
        created = original(*args, **kwargs)
        Run.objects.filter(environment__site=ledger_site).update(cancel_requested=True)
        return created

    services.railway.create_environment = create_then_cancel
    run = clone(ledger_site, services)

    assert (run.status, run.error_code) == (RunStatus.CANCELLED, "run_cancelled")
    assert_rolled_back(run, sandbox, ledger_project.project_id, databases_before)


def test_the_name_taken_on_railway_fails_before_anything_is_created(
    ledger_site, ledger_project, services, sandbox, job_queue, databases_before
):
    services.railway.create_environment(
        ledger_project.project_id, "taken", ledger_project.production_environment_id
    )

    run = clone(ledger_site, services, name="taken")

    assert (run.status, run.error_code) == (RunStatus.FAILED, "name_taken")
    assert list(run.steps.values_list("name", flat=True)) == ["preflight"]
    assert railway_environment_names(sandbox, ledger_project.project_id) == [
        "production",
        "taken",
    ]
