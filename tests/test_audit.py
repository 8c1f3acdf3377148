from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from staging import audit
from staging.errors import AuditEventImmutable
from staging.models import ActorType, AuditEvent, Trigger
from tests.factories import make_environment

pytestmark = pytest.mark.django_db


@pytest.fixture
def event() -> AuditEvent:
    user = User.objects.create_user("ana", password="x")
    return audit.record(
        "staging.clone_requested", source=Trigger.ADMIN, actor=user, target=make_environment()
    )


def test_an_event_copies_the_labels_of_its_actor_and_target(event):
    assert event.actor_label == "ana"
    assert event.actor_type == ActorType.USER
    assert event.target_type == "stagingenvironment"
    assert event.site_label == event.site.name


def test_an_event_cannot_be_changed(event):
    event.action = "something.else"
    with pytest.raises(AuditEventImmutable):
        event.save()
    assert AuditEvent.objects.get().action == "staging.clone_requested"


def test_an_event_cannot_be_deleted(event):
    with pytest.raises(AuditEventImmutable):
        event.delete()
    assert AuditEvent.objects.count() == 1


def test_events_cannot_be_changed_or_deleted_in_bulk(event):
    with pytest.raises(AuditEventImmutable):
        AuditEvent.objects.update(action="x")
    with pytest.raises(AuditEventImmutable):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().action == "staging.clone_requested"


def test_an_event_outlives_its_user_and_site(event):
    User.objects.all().delete()
    environment = event.site.environments.get()
    environment.runs.all().delete()
    environment.delete()
    event.site.delete()
    survivor = AuditEvent.objects.get()
    assert (survivor.actor, survivor.site) == (None, None)
    assert survivor.actor_label == "ana"
    assert survivor.site_label.startswith("Client")


def test_a_system_event_has_no_user():
    event = audit.record("staging.cleanup_started", source=Trigger.SCHEDULE)
    assert (event.actor_type, event.actor_label) == (ActorType.SYSTEM, "system")
