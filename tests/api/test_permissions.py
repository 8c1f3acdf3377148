from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from staging.models import Run
from tests.factories import make_environment, make_site
from tests.fixtures_api import make_persona

pytestmark = pytest.mark.django_db


def test_a_viewer_can_read_sites_environments_and_runs(api_viewer):
    run = Run.objects.create(
        environment=make_environment(), operation="clone", trigger="api", status="succeeded"
    )
    assert api_viewer.client.get("/api/v1/sites/").status_code == 200
    assert api_viewer.client.get("/api/v1/environments/").status_code == 200
    assert api_viewer.client.get(f"/api/v1/environments/{run.environment_id}/").status_code == 200
    assert api_viewer.client.get(f"/api/v1/runs/{run.pk}/").status_code == 200


def test_a_viewer_cannot_create_a_staging_environment(api_viewer):
    site = make_site()
    response = api_viewer.client.post(
        "/api/v1/environments/", {"site": site.pk, "gdpr_acknowledged": True}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not site.environments.exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/environments/{env}/refresh/"),
        ("post", "/api/v1/environments/{env}/extend/"),
        ("delete", "/api/v1/environments/{env}/"),
        ("post", "/api/v1/runs/{run}/cancel/"),
    ],
)
def test_a_viewer_cannot_change_anything(api_viewer, method, path):
    environment = make_environment(status="ready")
    run = Run.objects.create(environment=environment, operation="clone", trigger="api")
    url = path.format(env=environment.pk, run=run.pk)
    response = getattr(api_viewer.client, method)(url, {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Run.objects.count() == 1


def test_an_account_manager_can_create_a_staging_environment(api_manager):
    site = make_site()
    response = api_manager.client.post(
        "/api/v1/environments/", {"site": site.pk, "gdpr_acknowledged": True}, format="json"
    )
    assert response.status_code == 202


def test_a_user_without_a_role_cannot_even_read(db):
    outsider = make_persona("olga")
    response = outsider.client.get("/api/v1/sites/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_only_administrators_read_the_audit_log(api_admin, api_manager, api_viewer):
    assert api_admin.client.get("/api/v1/audit/").status_code == 200
    assert api_manager.client.get("/api/v1/audit/").status_code == 403
    assert api_viewer.client.get("/api/v1/audit/").status_code == 403


def test_a_session_user_gets_the_same_permissions_as_with_a_token(api_viewer):
    client = APIClient()
    client.force_login(User.objects.get(pk=api_viewer.user.pk))
    assert client.get("/api/v1/audit/").status_code == 403
