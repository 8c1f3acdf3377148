"""A run ends "ready" only for a working, isolated staging copy of ours: each fault the issue
names ends as it says (failed and rolled back, or needs attention), on the sandbox."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from railway_sandbox import Sandbox
from staging.models import EnvironmentStatus, RunStatus, StepStatus
from tests.fixtures_railway import SANDBOX_TOKEN
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


@pytest.fixture
def railway_settings(settings: Any, sandbox: Sandbox) -> None:
    """The commands build their own client from the settings: point it at the sandbox."""
    settings.RAILWAY_API_URL = sandbox.api_url
    settings.RAILWAY_API_TOKEN = SANDBOX_TOKEN


def staging_instance(sandbox, environment, service_id):
    project = sandbox.world.projects[environment.site.railway_project_id]
    return project.environments[environment.railway_environment_id].instances[service_id]


def production_instance(sandbox, project, service_id):
    production = sandbox.world.projects[project.project_id].environments[
        project.production_environment_id
    ]
    return production.instances[service_id]


@pytest.mark.parametrize("outcome", ["FAILED", "CRASHED"])
def test_an_app_deployment_that_fails_after_the_copy_fails_the_run_and_rolls_it_back(
    ledger_site, ledger_project, services, sandbox, job_queue, databases_before, outcome
):
    sandbox.faults.set("App", "deployment_failed", outcome=outcome)

    run = clone(ledger_site, services)

    assert (run.status, run.error_code) == (RunStatus.FAILED, "railway_deployment_failed")
    assert outcome in run.error_message
    assert run.steps.get(name="copy_database").status == StepStatus.SUCCEEDED
    assert run.steps.get(name="deploy_app").status == StepStatus.FAILED
    assert not run.steps.filter(name="health_check").exists()
    assert_rolled_back(run, sandbox, ledger_project.project_id, databases_before)
    assert run.environment.url == ""


def test_a_staging_url_answering_404_fails_the_run(
    ledger_site, ledger_project, services, sandbox, job_queue, databases_before, settings
):
    settings.STAGING_HEALTH_CHECK_TIMEOUT_SECONDS = 2
    sandbox.faults.set("App", "site_status", times=None, status=404)

    run = clone(ledger_site, services)

    assert (run.status, run.error_code) == (RunStatus.FAILED, "health_check_failed")
    assert "404" in run.error_message
    assert_rolled_back(run, sandbox, ledger_project.project_id, databases_before)
    assert run.environment.url == ""


def test_a_staging_url_redirecting_to_production_fails_the_run_without_waiting(
    ledger_site, ledger_project, services, sandbox, job_queue, databases_before, settings
):
    settings.STAGING_HEALTH_CHECK_TIMEOUT_SECONDS = 120
    sandbox.faults.set("App", "site_redirect", times=None)

    run = clone(ledger_site, services)

    assert (run.status, run.error_code) == (RunStatus.FAILED, "health_check_failed")
    assert ledger_project.app_domain in run.error_message
    assert run.metrics["step_seconds"]["health_check"] < 30
    assert_rolled_back(run, sandbox, ledger_project.project_id, databases_before)


def test_a_redirect_that_stays_on_the_staging_host_is_healthy(
    ledger_site, services, sandbox, job_queue
):
    sandbox.faults.set("App", "site_redirect", times=None, location="/login")

    run = clone(ledger_site, services)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert "redirects within the staging site" in run.steps.get(name="health_check").log


def test_a_copied_live_payment_key_is_neutralised_before_the_app_ever_starts(
    ledger_site, ledger_project, services, sandbox, job_queue
):
    ledger_site.staging_variables = {"MAIL_URL": "smtp://mailpit:1025"}
    ledger_site.save()
    live_key = production_instance(sandbox, ledger_project, ledger_project.app_service_id)
    live_key = live_key.variables["STRIPE_SECRET_KEY"]
    assert live_key.startswith("sk_live_")

    run = clone(ledger_site, services)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    app = staging_instance(sandbox, run.environment, ledger_project.app_service_id)
    assert not app.variables["STRIPE_SECRET_KEY"].startswith("sk_live_")
    assert app.variables["MAIL_URL"] == "smtp://mailpit:1025"  # the site's override wins
    assert "STRIPE_SECRET_KEY" in run.metrics["neutralised"]
    assert "MAIL_URL" not in run.metrics["neutralised"]
    configure = run.steps.get(name="configure_staging").log
    assert "STRIPE_SECRET_KEY" in configure and live_key not in configure
    assert "Not copied: the contents of Railway volumes" in configure
    assert live_key not in json.dumps(run.metrics)
    # The app's only deployment is the one after the copy: it never ran with the live key.
    (deployment,) = app.deployments
    copied = run.steps.get(name="copy_database").finished_at
    assert copied is not None and deployment.created_at >= copied.timestamp()


def test_a_variable_missing_from_staging_fails_the_run_before_the_copy(
    ledger_site, ledger_project, services, sandbox, job_queue, databases_before
):
    sandbox.faults.set("environmentCreate", "variable_missing", variable="SECRET_KEY")

    run = clone(ledger_site, services)

    assert (run.status, run.error_code) == (RunStatus.FAILED, "variables_not_replicated")
    assert "SECRET_KEY" in run.error_message
    assert list(run.steps.order_by("position").values_list("name", flat=True)) == [
        "preflight",
        "create_environment",
        "configure_staging",
    ]
    assert "MISSING: SECRET_KEY" in run.steps.get(name="configure_staging").log
    assert_rolled_back(run, sandbox, ledger_project.project_id, databases_before)


def test_a_production_database_url_that_is_not_railways_tcp_proxy_is_refused(
    ledger_site, ledger_project, services, sandbox, job_queue
):
    database = production_instance(sandbox, ledger_project, ledger_project.database_service_id)
    database.variables["DATABASE_PUBLIC_URL"] = (
        "postgresql://${{PGUSER}}:${{POSTGRES_PASSWORD}}@127.0.0.1:1/${{PGDATABASE}}"
    )

    run = clone(ledger_site, services)

    assert (run.status, run.error_code) == (RunStatus.FAILED, "database_address_mismatch")
    assert list(run.steps.values_list("name", flat=True)) == ["preflight"]
    assert railway_environment_names(sandbox, ledger_project.project_id) == ["production"]


def list_staging() -> list[dict[str, Any]]:
    out = StringIO()
    call_command("list_staging", "--json", stdout=out)
    environments: list[dict[str, Any]] = json.loads(out.getvalue())["environments"]
    return environments


def test_a_rollback_whose_delete_railway_refuses_needs_attention_until_cleanup_deletes_it(
    ledger_site,
    ledger_project,
    services,
    sandbox,
    job_queue,
    databases_before,
    railway_settings,
):
    sandbox.faults.set("App", "deployment_failed")
    sandbox.faults.set("environmentDelete", "delete_refused")

    run = clone(ledger_site, services)

    environment = run.environment
    environment.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "railway_deployment_failed")
    assert environment.status == EnvironmentStatus.NEEDS_ATTENTION
    assert environment.deleted_at is None and environment.url == ""
    assert "needs attention" in run.error_message
    assert run.steps.get(name="create_environment").status == StepStatus.ROLLBACK_FAILED
    assert environment.name in railway_environment_names(sandbox, ledger_project.project_id)
    (listed,) = list_staging()
    assert (listed["name"], listed["status"], listed["url"]) == (
        environment.name,
        "needs_attention",
        None,
    )

    out = StringIO()
    call_command("cleanup_staging", "--json", stdout=out)

    summary = json.loads(out.getvalue())
    assert summary["torn_down"] == 1 and summary["environments"][0]["needs_attention"]
    environment.refresh_from_db()
    assert environment.status == EnvironmentStatus.DELETED
    assert railway_environment_names(sandbox, ledger_project.project_id) == ["production"]
    assert sandbox_databases(sandbox) == databases_before
    assert list_staging() == []


def test_a_teardown_railway_refuses_leaves_the_copy_needing_attention_not_deleted(
    ledger_site, ledger_project, services, sandbox, job_queue, railway_settings
):
    from staging import lifecycle, runs
    from staging.models import Trigger

    ready = clone(ledger_site, services)
    assert ready.status == RunStatus.SUCCEEDED
    sandbox.faults.set("environmentDelete", "delete_refused")

    teardown = runs.start_teardown(ready.environment, runs.Actor.system(Trigger.COMMAND))
    assert lifecycle.run_now(teardown, services)

    environment = ready.environment
    environment.refresh_from_db()
    assert (teardown.status, teardown.error_code) == (RunStatus.FAILED, "railway_error")
    assert environment.status == EnvironmentStatus.NEEDS_ATTENTION
    assert environment.deleted_at is None
    assert environment.name in railway_environment_names(sandbox, ledger_project.project_id)

    # The sandbox's projects outlive the test: once Railway allows it, the retry deletes it.
    sandbox.faults.clear()
    call_command("cleanup_staging", "--json", stdout=StringIO())
    assert railway_environment_names(sandbox, ledger_project.project_id) == ["production"]


def test_a_wordpress_copy_is_ready_only_when_its_home_page_is_served_for_staging(
    wordpress_site, services, sandbox, job_queue
):
    from tests.fixtures_pipeline import site_for

    site = site_for(wordpress_site, slug="tea-room-ready", production_url="https://tearoom.example")

    run = clone(site, services)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    run.environment.refresh_from_db()
    page = services.fetch(run.environment.url, 5).text
    assert "tearoom.example" not in page
    assert f"{run.environment.url} answered 200." in run.steps.get(name="health_check").log
    assert "uploads, and plugins or themes" in run.steps.get(name="configure_staging").log


def test_a_sites_additions_are_blanked_and_its_allow_list_kept(
    ledger_site, ledger_project, services, sandbox, job_queue
):
    ledger_site.isolation_extra_names = ["SECRET_*"]
    ledger_site.isolation_allowed = ["STRIPE_SECRET_KEY"]
    ledger_site.full_clean()
    ledger_site.save()
    production = production_instance(sandbox, ledger_project, ledger_project.app_service_id)

    run = clone(ledger_site, services)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    app = staging_instance(sandbox, run.environment, ledger_project.app_service_id)
    assert app.variables["SECRET_KEY"] == ""
    assert app.variables["STRIPE_SECRET_KEY"] == production.variables["STRIPE_SECRET_KEY"]
    assert "SECRET_KEY" in run.metrics["neutralised"]
    assert "STRIPE_SECRET_KEY" not in run.metrics["neutralised"]


def test_every_service_is_checked_and_neutralised_and_only_the_app_and_database_start(
    ledger_site, ledger_project, services, sandbox, job_queue
):
    from railway_sandbox.state import Instance, Service, new_id

    with sandbox.lock:
        project = sandbox.world.projects[ledger_project.project_id]
        worker = Service(id=new_id(), name="Worker", image="ghcr.io/acme/worker:latest")
        project.services[worker.id] = worker
        project.environments[ledger_project.production_environment_id].instances[worker.id] = (
            Instance(
                service_id=worker.id,
                environment_id=ledger_project.production_environment_id,
                image=worker.image,
                variables={"QUEUE": "default", "STRIPE_API_KEY": "sk_live_" + "w" * 24},
            )
        )
        sandbox.save()

    run = clone(ledger_site, services)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    staging_worker = staging_instance(sandbox, run.environment, worker.id)
    assert staging_worker.variables["QUEUE"] == "default"
    assert not staging_worker.variables["STRIPE_API_KEY"].startswith("sk_live_")
    assert staging_worker.deployments == []
    assert {"STRIPE_API_KEY", "STRIPE_SECRET_KEY"} <= set(run.metrics["neutralised"])
    assert "Variables: Worker: as production except neutralised: STRIPE_API_KEY" in (
        run.steps.get(name="configure_staging").log
    )


def refresh(environment, services):
    from staging import lifecycle, runs
    from staging.models import Trigger

    run = runs.start_refresh(
        environment, runs.Actor.system(Trigger.COMMAND), gdpr_acknowledged=True
    )
    assert lifecycle.run_now(run, services)
    return run


def test_a_refresh_copies_again_then_restarts_the_app_on_the_new_data_and_checks_it(
    ledger_site, ledger_project, services, sandbox, job_queue
):
    import psycopg

    from staging.steps import REFRESH_STEPS
    from tests.pipeline.helpers import row_counts, staging_database_url

    ready = clone(ledger_site, services)
    with psycopg.connect(ledger_project.database_url) as conn:
        conn.execute("INSERT INTO customers (email, name) VALUES ('new@example.com', 'New')")

    run = refresh(ready.environment, services)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert [s.name for s in run.steps.order_by("position")] == [s.name for s in REFRESH_STEPS]
    staging_url = staging_database_url(services, run.environment)
    assert row_counts(staging_url)["customers"] == 501
    app = staging_instance(sandbox, run.environment, ledger_project.app_service_id)
    copied = run.steps.get(name="copy_database").finished_at
    assert copied is not None and app.deployments[-1].created_at >= copied.timestamp()
    assert len(app.deployments) == 2


def test_a_refresh_whose_app_crashes_fails_and_keeps_the_copy(
    ledger_site, ledger_project, services, sandbox, job_queue
):
    ready = clone(ledger_site, services)
    sandbox.faults.set("App", "deployment_failed", outcome="CRASHED")

    run = refresh(ready.environment, services)

    environment = run.environment
    environment.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "railway_deployment_failed")
    assert environment.status == EnvironmentStatus.FAILED
    assert environment.name in railway_environment_names(sandbox, ledger_project.project_id)
