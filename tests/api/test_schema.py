from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_is_public_and_lists_every_endpoint(api_anonymous):
    response = api_anonymous.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/sites/",
        "/api/v1/sites/{id}/",
        "/api/v1/environments/",
        "/api/v1/environments/{id}/",
        "/api/v1/environments/{id}/refresh/",
        "/api/v1/environments/{id}/extend/",
        "/api/v1/runs/{id}/",
        "/api/v1/runs/{id}/cancel/",
        "/api/v1/runs/{id}/events/",
        "/api/v1/audit/",
    }
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_the_human_docs_page_is_served(api_anonymous):
    response = api_anonymous.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
