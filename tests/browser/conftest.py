"""Chromium (the session's, from ``tests.fixtures_browser``) against pytest-django's live
server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django_rq
import pytest
from playwright.sync_api import Browser, Page

from tests.fixtures_browser import DESKTOP, PHONE


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
