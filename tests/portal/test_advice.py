"""Every error code has advice a non-technical person can follow; the raw message is a detail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils.html import escape

from staging.models import RunStatus
from staging.pages.display import ADVICE
from tests.factories import make_run

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def test_every_code_in_the_error_table_has_plain_advice():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text(), re.MULTILINE))
    assert documented - ADVICE.keys() == set()


def test_no_advice_names_railway_internals_or_tracebacks():
    for code, advice in ADVICE.items():
        assert "Traceback" not in advice and "`" not in advice, code


@pytest.mark.django_db
def test_the_technical_message_is_behind_a_details_toggle(account_manager_client):
    run = make_run(
        status=RunStatus.FAILED,
        error_code="source_unreachable",
        error_message="(1045, Access denied for user 'root')",
    )

    page = account_manager_client.get(reverse("portal:run", args=[run.pk])).content.decode()

    advice_at = page.index(escape(ADVICE["source_unreachable"]))
    details_at = page.index('<details class="run-details"')
    assert details_at > advice_at
    assert page.index("Access denied", details_at) > details_at
    assert "Access denied" not in page[:details_at]
