"""One click in the portal gives an account manager a staging-only WordPress administrator on a
masked copy of a real WordPress (Debian's 6.1 under PHP), and Chromium lands in wp-admin."""

from __future__ import annotations

from typing import Any

import django_rq
import pytest
from playwright.sync_api import Browser, expect

from railway_sandbox import Sandbox
from staging import lifecycle, runs
from staging.models import AuditEvent, RunStatus, StagingEnvironment, Trigger
from staging.wordpress.login import USERNAME, phpass_check
from tests.browser.screens import snap
from tests.fixtures_browser import DESKTOP
from tests.fixtures_browser import log_in as portal_log_in
from tests.fixtures_pipeline import sandbox_services
from tests.fixtures_portal import make_user
from tests.fixtures_railway import SANDBOX_TOKEN
from tests.wordpress_site.conftest import PhpServer, StagingCopy, mysql_connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_log_in_to_wordpress_makes_a_staging_only_administrator_that_reaches_wp_admin(
    staging_copy: StagingCopy,
    railway_sandbox: Sandbox,
    php_server: PhpServer,
    live_server: Any,
    browser: Browser,
    settings: Any,
) -> None:
    settings.RAILWAY_API_URL = railway_sandbox.api_url
    settings.RAILWAY_API_TOKEN = SANDBOX_TOKEN
    environment = StagingEnvironment.objects.get(url=staging_copy.staging_url)
    manager = make_user("alice", group="Account managers")
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        portal_log_in(page, live_server.url, manager.username)
        page.goto(f"{live_server.url}/admin/environments/{environment.pk}/")
        snap(page, "copy")
        page.get_by_role("button", name="Log in to WordPress").click()
        snap(page, "wordpress-login")
        username = page.locator("#wp-username").inner_text()
        password = page.locator("#wp-password").inner_text()
        assert username == USERNAME

        page.goto(f"{staging_copy.staging_url}/wp-login.php")
        page.fill("#user_login", username)
        page.fill("#user_pass", password)
        page.click("#wp-submit")
        page.wait_for_url(f"{staging_copy.staging_url}/wp-admin/**")
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        # An administrator: the users screen, which needs list_users, opens.
        page.goto(f"{staging_copy.staging_url}/wp-admin/users.php")
        expect(page.locator("td.column-email").first).to_contain_text("@example.invalid")
    finally:
        context.close()

    # Real WordPress checks the stored hash, not only the browser's session.
    assert php_server.wordpress_value(
        staging_copy.staging_domain,
        f"wp_authenticate('{USERNAME}', '{password}') instanceof WP_User",
    )
    # Asking again renews the password; the first one stops working.
    again = runs.create_wordpress_login(
        environment, runs.Actor.for_user(manager, Trigger.ADMIN), sandbox_services(railway_sandbox)
    )
    assert again.renewed and again.password != password
    with (
        mysql_connection(staging_copy.staging_database_url) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT user_pass FROM wp_users WHERE user_login = %s", (USERNAME,))
        (stored,) = cursor.fetchone()
    assert stored.startswith("$P$B")
    assert phpass_check(again.password, stored) and not phpass_check(password, stored)
    # The password reaches neither the audit log nor production.
    events = AuditEvent.objects.filter(action="staging.wordpress_login_created")
    assert events.count() == 2
    assert all(password not in str(event.details) for event in events)
    with (
        mysql_connection(staging_copy.production_database_url) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT COUNT(*) FROM wp_users WHERE user_login = %s", (USERNAME,))
        assert cursor.fetchone() == (0,)

    # A refresh replaces the staging database with production's: the login goes with it.
    refresh = runs.start_refresh(environment, runs.Actor.for_user(manager, Trigger.ADMIN))
    services = sandbox_services(railway_sandbox)
    try:
        assert lifecycle.run_now(refresh, services)
    finally:
        services.close()
        django_rq.get_queue("default").connection.flushdb()
    refresh.refresh_from_db()
    assert refresh.status == RunStatus.SUCCEEDED, f"{refresh.error_code}: {refresh.error_message}"
    with (
        mysql_connection(staging_copy.staging_database_url) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT COUNT(*) FROM wp_users WHERE user_login = %s", (USERNAME,))
        assert cursor.fetchone() == (0,)
