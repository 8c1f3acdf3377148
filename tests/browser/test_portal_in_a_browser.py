"""The portal in Chromium, with the job queue but no worker: runs stay where the test puts them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from staging.models import (
    EnvironmentStatus,
    Operation,
    Run,
    RunStatus,
    RunStep,
    StagingEnvironment,
    StepStatus,
)
from staging.steps import CLONE_STEPS
from tests.browser.screens import snap
from tests.factories import make_environment, make_run, make_site
from tests.fixtures_browser import log_in

STEPS_UP_TO_THE_COPY = CLONE_STEPS[: [s.name for s in CLONE_STEPS].index("copy_database") + 1]

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("empty_queue")]


@pytest.fixture
def bakery(transactional_db):
    site = make_site(name="Bakery Co", slug="bakery-co")
    make_environment(
        site,
        name="spring-sale",
        status=EnvironmentStatus.READY,
        url="http://spring-sale.localhost:9/",
        expires_at=timezone.now() + timedelta(days=3, hours=2),
    )
    return site


@pytest.fixture
def ledger(transactional_db):
    site = make_site(
        name="Ledger App", slug="ledger-app", is_wordpress=False, database_engine="postgres"
    )
    make_run(make_environment(site, name="q3-report", status=EnvironmentStatus.CREATING))
    return site


def test_an_account_manager_lands_on_the_dashboard(
    page: Page, live_server, account_manager, bakery, ledger
):
    log_in(page, live_server.url, account_manager.username)

    expect(page.get_by_role("heading", name="Bakery Co")).to_be_visible()
    row = page.locator("li.env", has_text="spring-sale")
    expect(row.get_by_text("Ready", exact=True)).to_be_visible()
    expect(row.get_by_text("expires in 3 days")).to_be_visible()
    expect(row.get_by_role("link", name=re.compile("Open staging site"))).to_have_attribute(
        "href", "http://spring-sale.localhost:9/"
    )
    expect(page.get_by_role("link", name="Create staging for Bakery Co")).to_be_visible()
    expect(page.get_by_text("Personal data.", exact=False).first).to_be_visible()
    snap(page, "dashboard")


def test_the_confirmation_page_checks_the_name_as_it_is_typed(
    page: Page, live_server, account_manager, bakery
):
    log_in(page, live_server.url, account_manager.username)
    page.get_by_role("link", name="Create staging for Bakery Co").click()

    name = page.get_by_label("Name of the staging copy")
    expect(name).to_have_value(re.compile(r"^staging-\d{8}-1$"))
    name.fill("Spring Sale")
    expect(page.locator("#name-feedback")).to_contain_text("lowercase letters")
    expect(name).to_have_attribute("aria-invalid", "true")
    name.fill("spring-sale")
    expect(page.locator("#name-feedback")).to_contain_text("already has a staging copy")
    name.fill("summer-menu")
    expect(page.locator("#name-feedback")).to_have_text("This name is free.")
    expect(page.get_by_text("personal data of Bakery Co's customers")).to_be_visible()
    snap(page, "confirm")

    page.get_by_role("button", name="Create staging").click()

    expect(page.get_by_text("Tick the box to confirm")).to_be_visible()
    assert not StagingEnvironment.objects.filter(name="summer-menu").exists()


def test_creating_opens_the_run_page(page: Page, live_server, account_manager, bakery):
    log_in(page, live_server.url, account_manager.username)
    page.goto(f"{live_server.url}/admin/sites/{bakery.pk}/create/")

    page.get_by_label("Name of the staging copy").fill("summer-menu")
    page.get_by_label("Keep it for").select_option("3")
    page.get_by_label(re.compile("I understand")).check()
    page.get_by_role("button", name="Create staging").click()

    run = Run.objects.get(environment__name="summer-menu")
    page.wait_for_url(f"{live_server.url}/admin/runs/{run.pk}/")
    expect(page.locator("[data-run-status]")).to_have_text("Waiting to start")
    expect(page.get_by_text(CLONE_STEPS[0].label)).to_be_visible()


def test_the_run_page_follows_the_run_without_reloading(
    page: Page, live_server, account_manager, bakery
):
    environment = make_environment(bakery, name="summer-menu", status=EnvironmentStatus.CREATING)
    run = make_run(environment)
    log_in(page, live_server.url, account_manager.username)
    page.goto(f"{live_server.url}/admin/runs/{run.pk}/")
    page.evaluate("window.notReloaded = true")
    expect(page.locator("[data-run-status]")).to_have_text("Waiting to start")

    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(seconds=95),
        current_step="copy_database",
        progress_percent=46,
    )
    for position, step in enumerate(STEPS_UP_TO_THE_COPY):
        RunStep.objects.create(
            run=run,
            name=step.name,
            position=position,
            status=StepStatus.RUNNING if step.name == "copy_database" else StepStatus.SUCCEEDED,
        )

    expect(page.locator("[data-run-status]")).to_have_text("Copying the production data")
    expect(page.locator("progress")).to_have_attribute("value", "46")
    expect(page.locator("#run-announcer")).to_have_text("Copying the production data")
    snap(page, "run")

    StagingEnvironment.objects.filter(pk=environment.pk).update(
        status=EnvironmentStatus.READY, url="http://summer-menu.localhost:9"
    )
    Run.objects.get(pk=run.pk).finish(RunStatus.SUCCEEDED)

    expect(page.locator("[data-run-status]")).to_have_text("Ready")
    # The one-click login is a POST that makes a staging-only administrator (see
    # tests/wordpress_site/test_wordpress_login.py), no longer a bare link to wp-login.php.
    expect(page.get_by_role("button", name="Log in to WordPress")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True


def test_an_account_manager_extends_a_copy_by_seven_days(
    page: Page, live_server, account_manager, bakery
):
    environment = bakery.environments.get()
    log_in(page, live_server.url, account_manager.username)

    page.get_by_role("link", name="Extend by 7 days (spring-sale)").click()
    expect(page.locator("#extend-new-expiry")).to_contain_text("After extending by 7 days")
    page.get_by_role("button", name="Yes, keep it 7 more days").click()

    expect(page.get_by_text("spring-sale now expires in 10 days")).to_be_visible()
    environment.refresh_from_db()
    assert environment.expires_at > timezone.now() + timedelta(days=10)


def test_an_account_manager_deletes_a_copy_after_confirming(
    page: Page, live_server, account_manager, bakery
):
    environment = bakery.environments.get()
    log_in(page, live_server.url, account_manager.username)

    page.get_by_role("link", name="Delete spring-sale").click()
    expect(page.get_by_text("cannot be undone")).to_be_visible()
    page.get_by_role("button", name="Yes, delete it").click()

    run = Run.objects.get(environment=environment, operation=Operation.TEARDOWN)
    page.wait_for_url(f"{live_server.url}/admin/runs/{run.pk}/")
    expect(page.get_by_text("Deleting the staging copy")).to_be_visible()


def test_a_viewer_sees_no_action_buttons(page: Page, live_server, viewer, bakery, ledger):
    log_in(page, live_server.url, viewer.username)

    expect(page.get_by_role("heading", name="Bakery Co")).to_be_visible()
    expect(page.get_by_text("spring-sale", exact=True)).to_be_visible()
    for name in ("Create staging", "Extend", "Refresh from production", "Delete"):
        expect(page.get_by_role("button", name=re.compile(name))).to_have_count(0)
        expect(page.get_by_role("link", name=re.compile(name))).to_have_count(0)


def test_a_forged_request_from_a_viewer_is_refused(page: Page, live_server, viewer, bakery):
    environment = bakery.environments.get()
    log_in(page, live_server.url, viewer.username)

    # A real session and CSRF token, as a viewer who edits the page or replays a request has.
    statuses = page.evaluate(
        """async (urls) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const results = [];
            for (const url of urls) {
                const response = await fetch(url, {
                    method: "POST", headers: {"X-CSRFToken": token}, credentials: "same-origin",
                });
                results.push(response.status);
            }
            return results;
        }""",
        [
            f"/admin/environments/{environment.pk}/delete/",
            f"/admin/environments/{environment.pk}/extend/",
            f"/admin/environments/{environment.pk}/refresh/",
            f"/admin/sites/{bakery.pk}/create/",
        ],
    )

    assert statuses == [403, 403, 403, 403]
    assert not Run.objects.exists()


def test_the_dashboard_fits_a_phone_and_works_with_a_keyboard(
    phone_page: Page, live_server, account_manager, bakery, ledger
):
    page = phone_page
    log_in(page, live_server.url, account_manager.username)

    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    snap(page, "dashboard-phone")

    create = page.get_by_role("link", name="Create staging for Bakery Co")
    for _ in range(40):
        page.keyboard.press("Tab")
        if create.evaluate("element => element === document.activeElement"):
            break
    else:
        pytest.fail("Create staging cannot be reached with the Tab key")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/admin/sites/\d+/create/$"))
    expect(page.get_by_label("Name of the staging copy")).to_be_visible()
    snap(page, "confirm-phone")
