"""The dashboard follows the queue without a reload; failures stay findable; extend has a limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from staging.models import EnvironmentStatus, Operation, RunStatus, StagingEnvironment
from tests.browser.screens import snap
from tests.factories import make_environment, make_run, make_site
from tests.fixtures_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("empty_queue")]


@pytest.fixture
def bakery(transactional_db):
    site = make_site(name="Bakery Co", slug="bakery-co", production_url="https://bakery.example/")
    return site


def test_the_dashboard_shows_a_copy_become_ready_without_a_reload(
    page: Page, live_server, account_manager, bakery
):
    environment = make_environment(
        bakery, name="spring-sale", status=EnvironmentStatus.CREATING, created_by=account_manager
    )
    run = make_run(environment, status=RunStatus.RUNNING)
    log_in(page, live_server.url, account_manager.username)
    page.evaluate("window.notReloaded = true")
    row = page.locator("li.env", has_text="spring-sale")
    expect(row.locator("[data-state]")).to_have_text("Being created")
    expect(row.get_by_role("link", name="Delete spring-sale")).to_have_count(0)

    run.status = RunStatus.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()
    StagingEnvironment.objects.filter(pk=environment.pk).update(
        status=EnvironmentStatus.READY, url="http://spring-sale.localhost:9/"
    )

    expect(row.locator("[data-state]")).to_have_text("Ready", timeout=12_000)
    expect(row.get_by_role("link", name="Delete spring-sale")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    snap(page, "dashboard")


def test_a_queued_refresh_shows_why_it_waits_and_offers_no_buttons(
    page: Page, live_server, account_manager, bakery, settings
):
    settings.STAGING_MAX_CLONES_PER_SITE = 1
    busy = make_environment(bakery, name="busy-one", status=EnvironmentStatus.REFRESHING)
    make_run(busy, operation=Operation.REFRESH, status=RunStatus.RUNNING)
    waiting = make_environment(bakery, name="spring-sale", status=EnvironmentStatus.READY)
    make_run(waiting, operation=Operation.REFRESH)
    log_in(page, live_server.url, account_manager.username)

    row = page.locator("li.env", has_text="spring-sale")
    expect(row.locator("[data-state]")).to_have_text("Refresh waiting to start")
    expect(row).to_contain_text("Another copy of Bakery Co is being made")
    expect(row.get_by_role("link", name="Extend by 7 days (spring-sale)")).to_have_count(0)


def test_a_failed_copy_can_be_found_from_its_site_and_explains_itself(
    page: Page, live_server, account_manager, bakery
):
    failed = make_environment(bakery, name="broken-one", status=EnvironmentStatus.DELETED)
    make_run(
        failed,
        status=RunStatus.FAILED,
        error_code="railway_deployment_failed",
        error_message="The staging MariaDB deployment ended FAILED; see its logs on Railway",
        finished_at=timezone.now(),
    )
    log_in(page, live_server.url, account_manager.username)

    page.get_by_role("link", name="1 failed attempt this week for Bakery Co").click()
    page.get_by_role("link", name="(run").first.click()

    expect(page.get_by_text("The staging site would not start on Railway")).to_be_visible()
    details = page.locator("#run-details")
    expect(details.get_by_text("ended FAILED")).to_be_hidden()
    details.locator("summary").click()
    expect(details.get_by_text("ended FAILED")).to_be_visible()
    snap(page, "run-failed")


def test_extend_is_refused_past_the_maximum_lifetime(
    page: Page, live_server, account_manager, bakery
):
    environment = make_environment(bakery, name="spring-sale", status=EnvironmentStatus.READY)
    StagingEnvironment.objects.filter(pk=environment.pk).update(
        created_at=timezone.now() - timedelta(days=29),
        expires_at=timezone.now() + timedelta(hours=20),
    )
    log_in(page, live_server.url, account_manager.username)

    page.get_by_role("link", name="Extend by 7 days (spring-sale)").click()

    expect(page.locator("#extend-refused")).to_contain_text("cannot be kept longer")
    expect(page.get_by_role("button", name="Yes, keep it")).to_have_count(0)
    snap(page, "extend-refused")
