from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ALLOWED = "https://frontend.example.com"


@pytest.fixture(autouse=True)
def allowlist(settings):
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]


def test_an_allowed_origin_may_read_api_answers(api_viewer):
    response = api_viewer.client.get("/api/v1/sites/", HTTP_ORIGIN=ALLOWED)
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    assert "etag" in response["Access-Control-Expose-Headers"].lower()


def test_another_origin_gets_no_cors_headers(api_viewer):
    response = api_viewer.client.get("/api/v1/sites/", HTTP_ORIGIN="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in response


def test_a_preflight_allows_the_headers_the_client_sends(api_anonymous):
    response = api_anonymous.options(
        "/api/v1/environments/",
        HTTP_ORIGIN=ALLOWED,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    allowed = response["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "idempotency-key", "if-none-match"} <= set(allowed.split(", "))


def test_cors_headers_are_only_for_the_api(api_viewer):
    response = api_viewer.client.get("/admin/login/", HTTP_ORIGIN=ALLOWED)
    assert "Access-Control-Allow-Origin" not in response
