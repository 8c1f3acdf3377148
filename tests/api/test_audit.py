from __future__ import annotations

import pytest

from staging import audit
from staging.models import Trigger
from tests.factories import make_environment

pytestmark = pytest.mark.django_db

AUDIT = "/api/v1/audit/"


def test_the_audit_log_lists_events_newest_first(api_admin):
    environment = make_environment()
    audit.record("staging.clone_requested", source=Trigger.API, target=environment)
    audit.record("staging.extended", source=Trigger.ADMIN, target=environment)
    body = api_admin.client.get(AUDIT).json()
    assert [event["action"] for event in body["results"]] == [
        "staging.extended",
        "staging.clone_requested",
    ]
    assert body["results"][0]["site"] == environment.site_id
    assert body["results"][0]["target_label"] == str(environment)


def test_the_audit_log_filters_by_action_and_site(api_admin):
    first, second = make_environment(), make_environment()
    audit.record("staging.clone_requested", source=Trigger.API, target=first)
    audit.record("staging.extended", source=Trigger.API, target=first)
    audit.record("staging.extended", source=Trigger.API, target=second)
    response = api_admin.client.get(AUDIT, {"action": "staging.extended", "site": first.site_id})
    assert [event["site"] for event in response.json()["results"]] == [first.site_id]


def test_the_audit_log_is_paged_with_a_cursor(api_admin):
    environment = make_environment()
    for _ in range(3):
        audit.record("staging.extended", source=Trigger.API, target=environment)
    page = api_admin.client.get(AUDIT, {"page_size": 2}).json()
    assert len(page["results"]) == 2
    assert "cursor=" in page["next"]
    rest = api_admin.client.get(page["next"]).json()
    assert len(rest["results"]) == 1
    assert rest["next"] is None
