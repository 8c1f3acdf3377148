from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from staging.models import (
    EnvironmentStatus,
    Operation,
    Run,
    RunStatus,
    RunStep,
    StepStatus,
)
from staging.steps import CLONE_STEPS
from tests.factories import make_environment, make_run, make_site

STEPS_UP_TO_THE_COPY = CLONE_STEPS[: [s.name for s in CLONE_STEPS].index("copy_database") + 1]

pytestmark = pytest.mark.django_db


def run_page(client: Client, run: Run) -> str:
    return client.get(reverse("portal:run", args=[run.pk])).content.decode()


def progress(client: Client, run: Run) -> str:
    return client.get(reverse("portal:run-progress", args=[run.pk])).content.decode()


def running_copy() -> Run:
    environment = make_environment(make_site(name="Bakery Co"), status=EnvironmentStatus.CREATING)
    run = make_run(
        environment,
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(minutes=2, seconds=5),
        current_step="copy_database",
        progress_percent=42,
    )
    for position, step in enumerate(STEPS_UP_TO_THE_COPY):
        RunStep.objects.create(
            run=run,
            name=step.name,
            position=position,
            status=StepStatus.RUNNING if step.name == "copy_database" else StepStatus.SUCCEEDED,
        )
    return run


def test_it_shows_every_step_in_plain_language(viewer_client):
    page = run_page(viewer_client, running_copy())

    for step in CLONE_STEPS:
        assert step.label in page
    assert "copy_database" not in page.replace('data-run-status="running"', "").split("<ol")[1]


def test_it_shows_the_current_step_the_progress_and_the_time_taken(viewer_client):
    page = run_page(viewer_client, running_copy())

    assert "Copying the production data" in page
    assert 'value="42"' in page
    assert "42%" in page
    assert "2 min 05 s" in page


def test_it_polls_while_the_run_is_active(viewer_client):
    run = running_copy()

    page = run_page(viewer_client, run)

    assert f'hx-get="{reverse("portal:run-progress", args=[run.pk])}"' in page
    assert 'hx-trigger="every 1s"' in page


def test_the_polled_part_stops_polling_once_the_run_has_ended(viewer_client):
    run = running_copy()
    run.finish(RunStatus.SUCCEEDED)

    assert "hx-trigger" not in progress(viewer_client, run)


def test_the_polled_part_announces_the_current_step_to_screen_readers(viewer_client):
    part = progress(viewer_client, running_copy())

    assert 'id="run-announcer" hx-swap-oob="innerHTML">Copying the production data<' in part


def test_a_ready_wordpress_copy_links_to_the_site_and_offers_a_login(
    viewer_client, account_manager_client
):
    run = running_copy()
    environment = run.environment
    environment.url = "https://spring-sale.up.railway.app"
    environment.status = EnvironmentStatus.READY
    environment.save()
    run.finish(RunStatus.SUCCEEDED)
    login = reverse("portal:wordpress-login", args=[environment.pk])

    page = run_page(viewer_client, run)
    managers_page = run_page(account_manager_client, run)

    assert ">Ready<" in page
    assert 'href="https://spring-sale.up.railway.app"' in page
    # Making a WordPress administrator changes the copy: account managers only.
    assert login not in page
    assert f'action="{login}"' in managers_page


def test_a_ready_copy_of_a_non_wordpress_site_has_no_login_link(viewer_client):
    environment = make_environment(
        make_site(is_wordpress=False, database_engine="postgres"),
        status=EnvironmentStatus.READY,
        url="https://ledger-staging.up.railway.app",
    )
    run = make_run(environment)
    run.finish(RunStatus.SUCCEEDED)

    assert "wp-login.php" not in run_page(viewer_client, run)


def test_a_failed_clone_says_what_happened_and_offers_to_try_again(account_manager_client):
    run = running_copy()
    run.finish(
        RunStatus.FAILED,
        "health_check_failed",
        "The staging site did not answer within 5 minutes.",
    )

    page = run_page(account_manager_client, run)

    assert "The staging site did not answer within 5 minutes." in page
    assert "ask the web team" in page
    site = run.environment.site
    assert f"{reverse('portal:create', args=[site.pk])}?name={run.environment.name}" in page
    assert 'id="run-try-again"' in page


def test_an_errored_run_says_it_is_not_the_users_fault(account_manager_client):
    run = running_copy()
    run.finish(RunStatus.ERRORED, "internal_error", "KeyError: 'x'")

    page = run_page(account_manager_client, run)

    assert "not something you did" in page
    assert f"run #{run.pk}" in page


def test_a_failed_refresh_offers_to_refresh_again(account_manager_client):
    environment = make_environment(status=EnvironmentStatus.FAILED)
    run = make_run(environment, operation=Operation.REFRESH)
    run.finish(RunStatus.FAILED, "railway_unavailable", "Railway did not answer.")

    page = run_page(account_manager_client, run)

    assert reverse("portal:refresh", args=[environment.pk]) in page


def test_a_viewer_is_not_offered_to_try_again(viewer_client):
    run = running_copy()
    run.finish(RunStatus.FAILED, "health_check_failed", "No answer.")

    page = run_page(viewer_client, run)

    assert "What happened" in page
    assert 'id="run-try-again"' not in page


def test_an_account_manager_can_cancel_a_queued_run(account_manager_client):
    environment = make_environment(status=EnvironmentStatus.CREATING)
    run = make_run(environment)

    response = account_manager_client.post(reverse("portal:cancel", args=[run.pk]))

    run.refresh_from_db()
    assert response.status_code == 302
    assert run.status == RunStatus.CANCELLED


def test_a_forged_cancel_from_a_viewer_is_refused(viewer_client):
    run = make_run(make_environment(status=EnvironmentStatus.CREATING))

    assert viewer_client.post(reverse("portal:cancel", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED


def test_a_ready_copy_says_what_was_switched_off_and_what_was_not_copied(viewer_client):
    environment = make_environment(
        make_site(name="Bakery Co", is_wordpress=True),
        status=EnvironmentStatus.READY,
        url="https://bakery-spring.up.railway.app",
    )
    run = make_run(environment, status=RunStatus.RUNNING)
    run.metrics = {"neutralised": ["SMTP_PASSWORD", "STRIPE_SECRET_KEY"]}
    run.save()
    run.finish(RunStatus.SUCCEEDED)

    page = run_page(viewer_client, run)

    assert "<code>SMTP_PASSWORD</code>, <code>STRIPE_SECRET_KEY</code>" in page
    assert "uploaded files, and plugins or themes installed from the WordPress admin" in page


def test_a_copy_railway_would_not_remove_shows_it_needs_attention(viewer_client):
    environment = make_environment(status=EnvironmentStatus.NEEDS_ATTENTION)
    run = make_run(environment, status=RunStatus.RUNNING)
    run.finish(RunStatus.FAILED, "railway_deployment_failed", "The app crashed.")

    page = run_page(viewer_client, run)

    assert 'id="run-needs-attention"' in page
    assert 'id="run-open-site"' not in page
