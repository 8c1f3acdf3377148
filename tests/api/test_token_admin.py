from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from staging.models import ApiToken, AuditEvent
from tests.fixtures_api import Persona

pytestmark = pytest.mark.django_db

ADD = "/admin/staging/apitoken/add/"
CHANGELIST = "/admin/staging/apitoken/"


def logged_in(persona: Persona) -> Client:
    client = Client()
    client.force_login(persona.user)
    return client


def test_an_administrator_creates_a_token_and_sees_it_once(api_admin, api_viewer):
    client = logged_in(api_admin)
    response = client.post(ADD, {"user": api_viewer.user.pk, "name": "frontend CI"})
    assert response.status_code == 302
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    token = ApiToken.objects.get(name="frontend CI")
    [key] = [word for message in shown for word in message.split("<code>")[1:]]
    key = key.split("</code>")[0]
    assert ApiToken.hash_key(key) == token.key_hash
    assert token.user == api_viewer.user
    assert key in client.get(f"{CHANGELIST}{token.pk}/change/").content.decode()
    assert key not in client.get(f"{CHANGELIST}{token.pk}/change/").content.decode()
    assert AuditEvent.objects.filter(action="api_token.created").exists()


def test_an_administrator_revokes_tokens(api_admin, api_viewer):
    client = logged_in(api_admin)
    client.post(
        CHANGELIST, {"action": "revoke", "_selected_action": [api_viewer.token.pk]}, follow=True
    )
    api_viewer.token.refresh_from_db()
    assert api_viewer.token.revoked_at is not None
    assert api_viewer.client.get("/api/v1/sites/").status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoked").exists()


def test_only_administrators_see_tokens(api_manager):
    api_manager.user.is_staff = True
    api_manager.user.save()
    assert logged_in(api_manager).get(CHANGELIST).status_code == 403
