"""The creator of a copy is warned, once, a day before it is deleted, with a link that extends
it; the deletion at expiry is audited with its reason."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from staging import notify, runs
from staging.models import AuditEvent, EnvironmentStatus, Operation, RunStatus, Trigger
from tests.factories import make_environment, make_run, make_site
from tests.fixtures_portal import make_user

pytestmark = pytest.mark.django_db


def _warn() -> dict[str, Any]:
    out = StringIO()
    call_command("warn_expiring_staging", "--json", stdout=out)
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


def test_the_creator_is_warned_once_with_a_link_that_extends_it(settings):
    settings.PORTAL_URL = "https://understudy.agency.example"
    alice = make_user("alice")
    soon = make_environment(
        make_site(name="Bakery Co"),
        name="spring-sale",
        status=EnvironmentStatus.READY,
        created_by=alice,
        expires_at=timezone.now() + timedelta(hours=20),
    )
    make_environment(
        status=EnvironmentStatus.READY,
        created_by=alice,
        expires_at=timezone.now() + timedelta(days=3),
    )

    first = _warn()
    second = _warn()

    assert first["warned"] == 1 and second["warned"] == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@agency.example"]
    assert "spring-sale of Bakery Co will be deleted on" in message.subject
    link = "https://understudy.agency.example" + reverse("portal:extend", args=[soon.pk])
    assert link in message.body
    event = AuditEvent.objects.get(action="staging.expiry_warned")
    assert event.details["delivered"] is True


def test_an_extension_lets_the_next_expiry_be_warned_again():
    alice = make_user("alice")
    environment = make_environment(
        status=EnvironmentStatus.READY,
        created_by=alice,
        expires_at=timezone.now() + timedelta(hours=20),
    )
    _warn()
    runs.extend(environment, runs.Actor.for_user(alice, Trigger.ADMIN), days=1)
    environment.refresh_from_db()

    assert environment.expiry_warning_sent_at is None


def test_the_deletion_at_expiry_is_audited_with_its_reason(settings):
    environment = make_environment(
        status=EnvironmentStatus.READY, expires_at=timezone.now() - timedelta(minutes=1)
    )

    call_command("cleanup_staging", "--json", stdout=StringIO())

    requested = AuditEvent.objects.get(action="staging.teardown_requested")
    assert requested.details["reason"] == "expired"
    assert requested.target_id == str(environment.pk)


def test_notifications_have_full_subjects_and_a_link_to_the_run(settings):
    settings.PORTAL_URL = "https://understudy.agency.example/"
    site = make_site(name="A client with a very long name " * 4)
    environment = make_environment(site, name="spring-sale", url="https://s.example")
    failed = make_run(environment, status=RunStatus.FAILED, error_code="copy_failed")
    deleted = make_run(environment, operation=Operation.TEARDOWN, status=RunStatus.SUCCEEDED)

    subject, body = notify.describe(failed)
    deleted_subject, deleted_body = notify.describe(deleted)

    assert subject.endswith("did not work")
    assert subject.startswith("Creating the staging copy spring-sale of A client")
    assert f"https://understudy.agency.example/admin/runs/{failed.pk}/" in body
    assert "ended failed" not in body
    assert deleted_subject.endswith("was deleted")
    assert "https://s.example" not in deleted_body
    assert f"/admin/runs/{deleted.pk}/" in deleted_body
