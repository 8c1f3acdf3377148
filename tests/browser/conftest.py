"""Chromium through Playwright against pytest-django's live server.

Debian's Chromium is used as installed (/usr/bin/chromium); Playwright's own browser downloads
are never needed. Playwright's sync API runs an event loop in the test's thread, so Django's
guard against database calls from async code has to be told that these calls are synchronous.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import django_rq
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from tests.fixtures_portal import PASSWORD

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def empty_queue(settings: Any) -> Iterator[None]:
    """Runs these tests start go to the test Redis database; nothing is left there after."""
    connection = django_rq.get_queue("default").connection
    connection.flushdb()
    yield
    connection.flushdb()


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/admin/")
