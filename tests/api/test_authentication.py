from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from staging.models import ApiToken

pytestmark = pytest.mark.django_db

SITES = "/api/v1/sites/"


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def test_a_request_without_credentials_is_not_authenticated(api_anonymous):
    response = api_anonymous.get(SITES)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_wrong_token_fails_authentication(api_anonymous):
    api_anonymous.credentials(HTTP_AUTHORIZATION="Bearer us_not-a-real-token")
    response = api_anonymous.get(SITES)
    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"


def test_a_revoked_token_fails_authentication(api_viewer):
    api_viewer.token.revoke()
    response = api_viewer.client.get(SITES)
    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"
    assert "revoked" in response.json()["error"]["message"]


def test_a_token_of_a_deactivated_user_fails_authentication(api_viewer):
    api_viewer.user.is_active = False
    api_viewer.user.save()
    assert api_viewer.client.get(SITES).status_code == 401


def test_a_malformed_authorization_header_fails_authentication(api_anonymous):
    api_anonymous.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    response = api_anonymous.get(SITES)
    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"


def test_a_valid_token_is_accepted_with_either_bearer_or_token_scheme(api_viewer):
    assert api_viewer.client.get(SITES).status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_viewer.key}")
    assert client.get(SITES).status_code == 200


def test_only_the_hash_of_a_token_is_stored(api_viewer):
    stored = ApiToken.objects.get(pk=api_viewer.token.pk)
    assert api_viewer.key.startswith("us_")
    assert len(api_viewer.key) == 43
    assert stored.key_hash == ApiToken.hash_key(api_viewer.key)
    assert api_viewer.key not in {stored.key_hash, stored.name}
    assert stored.prefix == api_viewer.key[:8]


def test_using_a_token_records_when_it_was_last_used(api_viewer):
    assert api_viewer.token.last_used_at is None
    api_viewer.client.get(SITES)
    api_viewer.token.refresh_from_db()
    assert api_viewer.token.last_used_at is not None


def test_the_last_used_time_is_written_at_most_once_a_minute(api_viewer):
    recent = timezone.now() - timedelta(seconds=10)
    ApiToken.objects.filter(pk=api_viewer.token.pk).update(last_used_at=recent)
    api_viewer.client.get(SITES)
    api_viewer.token.refresh_from_db()
    assert api_viewer.token.last_used_at == recent


def test_a_browser_session_authenticates_too(api_viewer):
    client = APIClient()
    client.force_login(api_viewer.user)
    assert client.get(SITES).status_code == 200


def test_a_session_post_without_a_csrf_token_is_refused(api_manager):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(api_manager.user)
    response = client.post("/api/v1/environments/", {"site": "x"}, format="json")
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
    assert "CSRF" in response.json()["error"]["message"]
