"""The Content-Security-Policy in a real browser: the portal's pages and Swagger UI load and
work with no violation, so the policy is strict without breaking anything."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from staging.models import EnvironmentStatus
from tests.factories import make_environment, make_run, make_site
from tests.fixtures_browser import DESKTOP, log_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("empty_queue")]

# Reported from every page the test opens (Chromium also writes each one on the console).
LISTEN_FOR_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${location.pathname}: ${event.violatedDirective} ${event.blockedURI || "inline"} ` +
      `${event.sourceFile || ""}:${event.lineNumber} ${event.sample || ""}`
  );
});
"""


@dataclass
class Watched:
    page: Page
    reported: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        refused = [text for text in self.console if "Content Security Policy" in text]
        return self.reported + refused


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    result = Watched(page)

    def report(text: str) -> None:
        result.reported.append(text)

    context.expose_function("reportCspViolation", report)
    context.add_init_script(LISTEN_FOR_VIOLATIONS)

    def on_console(message: ConsoleMessage) -> None:
        result.console.append(f"{message.type}: {page.url}: {message.text}")

    page.on("console", on_console)
    yield result
    context.close()


@pytest.fixture
def bakery(transactional_db):
    site = make_site(name="Bakery Co", slug="bakery-co")
    environment = make_environment(site, name="spring-sale", status=EnvironmentStatus.CREATING)
    return site, make_run(environment)


def test_the_portal_pages_load_with_no_violation(watched, live_server, account_manager, bakery):
    site, run = bakery
    page = watched.page
    log_in(page, live_server.url, account_manager.username)

    expect(page.get_by_role("heading", name="Bakery Co")).to_be_visible()
    page.goto(f"{live_server.url}/admin/runs/{run.pk}/")
    expect(page.locator("[data-run-status]")).to_have_text("Waiting to start")
    # The run page polls with htmx; a second round shows its requests passed too.
    page.wait_for_timeout(1500)
    page.goto(f"{live_server.url}/admin/sites/{site.pk}/create/")
    page.get_by_label("Name").fill("summer-menu")
    expect(page.get_by_text("This name is free.")).to_be_visible()
    page.goto(f"{live_server.url}/admin/audit/")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()

    assert watched.violations() == []


def test_the_admin_loads_with_no_violation(watched, live_server, administrator, bakery):
    site, _ = bakery
    page = watched.page
    log_in(page, live_server.url, administrator.username)

    page.goto(f"{live_server.url}/admin/manage/")
    page.goto(f"{live_server.url}/admin/staging/clientsite/{site.pk}/change/")
    expect(page.get_by_label("Staging overrides")).to_be_visible()
    page.goto(f"{live_server.url}/admin/staging/stagingenvironment/")
    page.goto(f"{live_server.url}/admin/staging/auditevent/")
    page.goto(f"{live_server.url}/django-rq/")
    page.goto(f"{live_server.url}/admin/staging/apitoken/add/")
    page.get_by_label("Name").fill("frontend CI")
    page.get_by_label("User").select_option(label=administrator.username)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("code.issued-token")).to_contain_text("us_")

    assert watched.violations() == []


def test_swagger_ui_is_served_by_the_portal_and_runs_with_no_violation(
    watched, live_server, transactional_db
):
    page = watched.page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}/api/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Understudy API")
    expect(page.get_by_text("/api/v1/environments/", exact=True).first).to_be_visible()
    assert watched.violations() == []
    assert requested
    assert all(url.startswith(live_server.url) for url in requested), requested
