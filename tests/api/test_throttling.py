from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

SITES = "/api/v1/sites/"


@pytest.fixture
def low_rates(settings):
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": {"user": "3/min", "anon": "2/min"}
    }


def test_a_token_over_its_rate_gets_429_with_retry_after(low_rates, api_viewer):
    for _ in range(3):
        assert api_viewer.client.get(SITES).status_code == 200
    response = api_viewer.client.get(SITES)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"]["details"]["retry_after"] == int(response["Retry-After"])


def test_each_token_has_its_own_allowance(low_rates, api_viewer, api_manager):
    for _ in range(3):
        api_viewer.client.get(SITES)
    assert api_viewer.client.get(SITES).status_code == 429
    assert api_manager.client.get(SITES).status_code == 200


def test_anonymous_calls_are_throttled_per_ip_address(low_rates):
    here, there = APIClient(REMOTE_ADDR="198.51.100.1"), APIClient(REMOTE_ADDR="198.51.100.2")
    for _ in range(2):
        assert here.get(SITES).status_code == 401
    response = here.get(SITES)
    assert response.status_code == 429
    assert response["Retry-After"]
    assert there.get(SITES).status_code == 401


def test_guessing_tokens_is_throttled_per_ip_address(low_rates):
    guesser = APIClient(REMOTE_ADDR="198.51.100.3")
    guesser.credentials(HTTP_AUTHORIZATION="Bearer us_guess")
    for _ in range(2):
        assert guesser.get(SITES).status_code == 401
    assert guesser.get(SITES).status_code == 429


def test_behind_the_proxy_anonymous_calls_are_throttled_per_forwarded_address(low_rates, settings):
    settings.TRUSTED_PROXY_HOPS = 1
    proxy = "10.0.0.7"
    here = APIClient(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.1")
    # A client that writes its own X-Forwarded-For still gets the address the proxy appended.
    spoofing = APIClient(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.1")
    there = APIClient(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.2")
    for _ in range(2):
        assert here.get(SITES).status_code == 401

    assert spoofing.get(SITES).status_code == 429
    assert there.get(SITES).status_code == 401
