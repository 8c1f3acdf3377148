from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone

from staging import audit
from staging.models import AuditEvent, Trigger
from tests.factories import make_environment, make_site

pytestmark = pytest.mark.django_db

AUDIT = reverse("portal:audit")
EXPORT = reverse("portal:audit-export")


def event(
    action: str, *, user: User | None = None, target: Model | None = None, **details: object
) -> AuditEvent:
    return audit.record(action, source=Trigger.ADMIN, actor=user, target=target, details=details)


@pytest.fixture
def history(account_manager, viewer):
    bakery = make_environment(make_site(name="Bakery Co"), name="spring-sale")
    ledger = make_environment(make_site(name="Ledger App"), name="q3-report")
    event("staging.clone_requested", user=account_manager, target=bakery, gdpr_acknowledged=True)
    event("staging.extended", user=account_manager, target=ledger, days=7)
    event("staging.refresh_requested", user=viewer, target=ledger)
    return bakery, ledger


def rows(page: str) -> int:
    return page.split("<tbody>")[1].split("</tbody>")[0].count("<tr>")


def test_it_lists_events_newest_first_in_plain_words(viewer_client, history):
    page = viewer_client.get(AUDIT).content.decode()

    table = page.split("<tbody>")[1]
    assert rows(page) == 3
    assert table.index("Asked for a refresh") < table.index("Asked for a staging copy")
    assert "Personal-data notice acknowledged." in page


def test_it_filters_by_client(viewer_client, history):
    bakery, _ = history

    page = viewer_client.get(AUDIT, {"site": bakery.site.pk}).content.decode()

    assert rows(page) == 1
    assert "spring-sale" in page


def test_it_filters_by_user(viewer_client, history, viewer):
    page = viewer_client.get(AUDIT, {"user": viewer.pk}).content.decode()

    assert rows(page) == 1
    assert "Asked for a refresh" in page


def test_it_filters_by_action(viewer_client, history):
    page = viewer_client.get(AUDIT, {"action": "staging.extended"}).content.decode()

    assert rows(page) == 1


def test_it_filters_by_date(viewer_client, history):
    old = AuditEvent.objects.create(
        created_at=timezone.now() - timedelta(days=30),
        actor_type="system",
        actor_label="system",
        action="staging.teardown_requested",
        source=Trigger.SCHEDULE,
    )
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    until = (timezone.localdate() - timedelta(days=20)).isoformat()

    recent = viewer_client.get(AUDIT, {"date_from": since}).content.decode()
    older = viewer_client.get(AUDIT, {"date_to": until}).content.decode()

    assert rows(recent) == 3
    assert rows(older) == 1
    assert old.target_label in older


def test_it_has_no_way_to_change_or_delete_events(administrator_client, history):
    page = administrator_client.get(AUDIT).content.decode()

    assert '<form method="post"' not in page.split("<main")[1]
    assert administrator_client.post(AUDIT).status_code == 405


def test_the_csv_export_streams_the_filtered_events(administrator_client, history):
    response = administrator_client.get(EXPORT, {"action": "staging.clone_requested"})

    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert table[0][:4] == ["time", "user", "actor type", "action"]
    assert len(table) == 2
    assert table[1][1] == "alice"
    assert table[1][3] == "staging.clone_requested"
    assert table[1][4] == "Bakery Co"
    assert '"gdpr_acknowledged": true' in table[1][8]
    assert datetime.fromisoformat(table[1][0])


def test_a_staff_user_without_a_role_cannot_read_it(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", is_staff=True))

    assert client.get(AUDIT).status_code == 403
    assert client.get(EXPORT).status_code == 403


@pytest.fixture
def from_an_address(account_manager):
    environment = make_environment(make_site(name="Bakery Co"), name="spring-sale")
    return audit.record(
        "staging.extended",
        source=Trigger.ADMIN,
        actor=account_manager,
        target=environment,
        ip_address="203.0.113.77",
        details={"days": 7},
    )


@pytest.mark.parametrize("persona", ["viewer_client", "account_manager_client"])
def test_only_administrators_see_the_ip_addresses(request, persona, from_an_address):
    page = request.getfixturevalue(persona).get(AUDIT).content.decode()

    assert "spring-sale" in page
    assert "203.0.113.77" not in page


def test_administrators_see_the_ip_addresses(administrator_client, from_an_address):
    assert "203.0.113.77" in administrator_client.get(AUDIT).content.decode()


@pytest.mark.parametrize("persona", ["viewer_client", "account_manager_client"])
def test_only_administrators_may_export_the_log(request, persona, from_an_address):
    client = request.getfixturevalue(persona)

    assert client.get(EXPORT).status_code == 403
    assert EXPORT not in client.get(AUDIT).content.decode()


def test_the_admins_audit_pages_show_addresses_to_administrators_only(
    viewer_client, administrator_client, from_an_address
):
    page = reverse("admin:staging_auditevent_change", args=[from_an_address.pk])

    assert "203.0.113.77" not in viewer_client.get(page).content.decode()
    assert "203.0.113.77" in administrator_client.get(page).content.decode()
