"""Every portal page passes axe-core (the copy bundled by axe-playwright-python) with no serious
or critical violation, in light and dark mode and at phone width.

With ``AXE_REPORT=path.json`` the results per page and mode are written there (the release
notes quote them)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import Browser, Page

from staging.models import EnvironmentStatus, Operation, RunStatus
from tests.factories import make_environment, make_run, make_site
from tests.fixtures_browser import DESKTOP, PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("empty_queue")]

BLOCKING = {"serious", "critical"}
MODES: dict[str, dict[str, Any]] = {
    "light": {"viewport": DESKTOP, "color_scheme": "light"},
    "dark": {"viewport": DESKTOP, "color_scheme": "dark"},
    "phone": {"viewport": PHONE, "color_scheme": "light", "is_mobile": True, "has_touch": True},
    "phone-dark": {"viewport": PHONE, "color_scheme": "dark", "is_mobile": True},
}
RESULTS: dict[str, dict[str, list[str]]] = {}


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    target = os.environ.get("AXE_REPORT")
    if target:
        Path(target).write_text(json.dumps(RESULTS, indent=1, sort_keys=True))


@pytest.fixture
def world(transactional_db, account_manager, settings) -> dict[str, str]:
    settings.GDPR_BANNER_TEXT = "Staging copies contain customers' personal data."
    site = make_site(name="Bakery Co", slug="bakery-co", production_url="https://bakery.example/")
    ready = make_environment(
        site,
        name="spring-sale",
        status=EnvironmentStatus.READY,
        url="http://spring-sale.localhost:9/",
        created_by=account_manager,
        expires_at=timezone.now() + timedelta(days=3),
    )
    done = make_run(ready, status=RunStatus.SUCCEEDED, started_at=timezone.now())
    busy = make_environment(site, name="q3-report", status=EnvironmentStatus.CREATING)
    running = make_run(busy, status=RunStatus.RUNNING, started_at=timezone.now())
    failed_env = make_environment(site, name="broken-one", status=EnvironmentStatus.DELETED)
    failed = make_run(
        failed_env,
        status=RunStatus.FAILED,
        error_code="railway_deployment_failed",
        error_message="The staging MariaDB deployment ended FAILED",
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    stuck = make_environment(site, name="stuck-one", status=EnvironmentStatus.NEEDS_ATTENTION)
    make_run(stuck, operation=Operation.TEARDOWN, status=RunStatus.FAILED)
    waiting = make_environment(make_site(name="Ledger App"), status=EnvironmentStatus.READY)
    make_run(waiting, operation=Operation.REFRESH)
    return {
        "dashboard": "/admin/",
        "dashboard-search": "/admin/?q=bakery&show=problem",
        "copy": f"/admin/environments/{ready.pk}/",
        "site-history": f"/admin/sites/{site.pk}/history/",
        "run-succeeded": f"/admin/runs/{done.pk}/",
        "run-running": f"/admin/runs/{running.pk}/",
        "run-failed": f"/admin/runs/{failed.pk}/",
        "create": f"/admin/sites/{site.pk}/create/",
        "confirm-refresh": f"/admin/environments/{ready.pk}/refresh/",
        "confirm-delete": f"/admin/environments/{ready.pk}/delete/",
        "confirm-extend": f"/admin/environments/{ready.pk}/extend/",
        "not-found": "/admin/runs/999999/",
        "audit-log": "/admin/audit/",
        "admin-copies": "/admin/staging/stagingenvironment/",
    }


def _violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {len(violation['nodes'])} node(s)"
        for violation in results.response["violations"]
    ]


def _blocking(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']}: {[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("mode", list(MODES))
def test_every_portal_page_passes_axe_core(
    browser: Browser, live_server, account_manager, world, mode
):
    context = browser.new_context(**MODES[mode])
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: dict[str, list[str]] = {}
    try:
        page.goto(f"{live_server.url}/admin/login/")
        RESULTS.setdefault("login", {})[mode] = _violations(page)
        problems["login"] = _blocking(page)
        log_in(page, live_server.url, account_manager.username)
        for name, path in world.items():
            page.goto(f"{live_server.url}{path}")
            RESULTS.setdefault(name, {})[mode] = _violations(page)
            problems[name] = _blocking(page)
    finally:
        context.close()

    assert {name: found for name, found in problems.items() if found} == {}


def test_a_viewer_s_refusal_page_passes_axe_core(browser: Browser, live_server, viewer, world):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        log_in(page, live_server.url, viewer.username)
        page.goto(f"{live_server.url}{world['create']}")
        RESULTS.setdefault("forbidden", {})["light"] = _violations(page)
        found = _blocking(page)
    finally:
        context.close()

    assert found == []


def test_the_dashboard_works_with_the_keyboard_alone(
    page: Page, live_server, account_manager, world
):
    log_in(page, live_server.url, account_manager.username)

    page.keyboard.press("Tab")
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert any(text.startswith("Search") for text in reached)
    assert any(text.startswith("Extend by 7 days") for text in reached)

    page.get_by_label("Find a client or a staging copy").focus()
    page.keyboard.type("ledger")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=ledger**")
    assert page.get_by_role("heading", name="Ledger App").is_visible()
    assert not page.get_by_role("heading", name="Bakery Co").is_visible()
