"""The dashboard follows the queue without a reload; failures stay findable; extend has a limit."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
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
    snap(page, "dashboard-live")


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


def test_the_expiry_warning_is_sent_and_its_link_extends_the_copy(
    page: Page, live_server, account_manager, bakery, settings
):
    settings.PORTAL_URL = live_server.url
    environment = make_environment(
        bakery,
        name="spring-sale",
        status=EnvironmentStatus.READY,
        created_by=account_manager,
        expires_at=timezone.now() + timedelta(hours=20),
    )
    call_command("warn_expiring_staging", "--json", stdout=StringIO())
    (message,) = mail.outbox
    link = next(word for word in message.body.split() if word.startswith(live_server.url))
    log_in(page, live_server.url, account_manager.username)

    page.goto(link)
    page.get_by_role("button", name="Yes, keep it 7 more days").click()

    expect(page.get_by_text("spring-sale now expires in 8 days")).to_be_visible()
    environment.refresh_from_db()
    assert environment.expiry_warning_sent_at is None


def test_a_viewer_who_types_an_address_gets_the_styled_refusal_with_a_way_back(
    page: Page, live_server, viewer, bakery
):
    log_in(page, live_server.url, viewer.username)

    response = page.goto(f"{live_server.url}/admin/sites/{bakery.pk}/create/")

    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You cannot open this page")).to_be_visible()
    expect(page.locator(".gdpr-banner")).to_have_count(1 if django_settings.GDPR_BANNER_TEXT else 0)
    page.get_by_role("link", name="Back to the client sites").click()
    expect(page.get_by_role("heading", name="Bakery Co")).to_be_visible()
    snap(page, "forbidden")


def test_the_copy_link_button_puts_the_staging_address_on_the_clipboard(
    browser, live_server, account_manager, bakery
):
    make_environment(
        bakery, name="spring-sale", status=EnvironmentStatus.READY, url="http://spring.localhost:9/"
    )
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        log_in(page, live_server.url, account_manager.username)
        page.get_by_role("button", name="Copy link of spring-sale").click()
        expect(page.locator("#copy-status")).to_have_text("Link copied.")
        assert page.evaluate("navigator.clipboard.readText()") == "http://spring.localhost:9/"
    finally:
        context.close()


def test_an_unchanged_dashboard_is_answered_304_and_stays_as_it_was(
    page: Page, live_server, account_manager, bakery
):
    make_environment(bakery, name="spring-sale", status=EnvironmentStatus.READY)
    statuses: list[int] = []
    page.on(
        "response",
        lambda response: (
            statuses.append(response.status) if "/sites/live/" in response.url else None
        ),
    )
    log_in(page, live_server.url, account_manager.username)
    search = page.get_by_label("Find a client or a staging copy")
    search.focus()

    page.wait_for_timeout(11_000)

    assert statuses and set(statuses) == {304}
    expect(page.locator("li.env", has_text="spring-sale")).to_be_visible()
    expect(search).to_be_focused()
