"""Chromium (the session's, from ``tests.fixtures_browser``) against pytest-django's live
server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django_rq
import pytest
from playwright.sync_api import Browser, Page

from tests.fixtures_browser import DESKTOP, PHONE
from tests.fixtures_portal import PASSWORD


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
