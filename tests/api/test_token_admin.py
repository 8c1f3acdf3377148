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


def issued_key(page: str) -> str:
    return page.split('<code class="issued-token">')[1].split("</code>")[0]


def test_an_administrator_creates_a_token_and_sees_it_once(api_admin, api_viewer):
    client = logged_in(api_admin)
    response = client.post(ADD, {"user": api_viewer.user.pk, "name": "frontend CI"})
    assert response.status_code == 200
    token = ApiToken.objects.get(name="frontend CI")
    key = issued_key(response.content.decode())
    assert ApiToken.hash_key(key) == token.key_hash
    assert token.user == api_viewer.user
    assert not token.for_kestra
    assert "no-cache" in response["Cache-Control"]
    assert key not in client.get(f"{CHANGELIST}{token.pk}/change/").content.decode()
    assert key not in client.get(CHANGELIST).content.decode()
    assert AuditEvent.objects.filter(action="api_token.created").exists()


def test_the_new_token_travels_in_no_cookie_and_no_message(api_admin, api_viewer):
    client = logged_in(api_admin)
    response = client.post(ADD, {"user": api_viewer.user.pk, "name": "frontend CI"})
    key = issued_key(response.content.decode())

    assert all(key not in morsel.OutputString() for morsel in response.cookies.values())
    assert all(key not in str(message) for message in get_messages(response.wsgi_request))
    assert "messages" not in client.cookies
    # Whatever the next page shows, the key is not among it.
    assert key not in client.get(CHANGELIST).content.decode()


def test_a_token_can_be_marked_for_kestra_when_issued_and_later(api_admin, api_manager):
    client = logged_in(api_admin)
    client.post(ADD, {"user": api_manager.user.pk, "name": "Kestra", "for_kestra": "on"})
    token = ApiToken.objects.get(name="Kestra")
    assert token.for_kestra

    client.post(f"{CHANGELIST}{token.pk}/change/", {"name": "Kestra", "for_kestra": ""})
    token.refresh_from_db()
    assert not token.for_kestra


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
