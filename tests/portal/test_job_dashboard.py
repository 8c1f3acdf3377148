"""The RQ dashboard (/django-rq/) can stop running clones and delete jobs: superusers only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from staging.roles import ACCOUNT_MANAGERS
from tests.fixtures_portal import logged_in, make_user

pytestmark = pytest.mark.django_db

DASHBOARD = "/django-rq/"
DESTRUCTIVE = [
    reverse("django_rq:clear", args=[0]),
    reverse("django_rq:delete_failed_jobs", args=[0]),
    reverse("django_rq:stop_job", args=[0, "some-job"]),
    reverse("django_rq:delete_job", args=[0, "some-job"]),
    reverse("django_rq:actions", args=[0]),
]
READS = [DASHBOARD, reverse("django_rq:home_json"), reverse("django_rq:jobs", args=[0])]


@pytest.fixture
def staff_without_role_client() -> Client:
    return logged_in(make_user("sam"))


@pytest.fixture
def account_manager_with_every_permission_client() -> Client:
    # The strongest role short of superuser, with django-rq's own "admin" permission added.
    user = make_user("morgan", group=ACCOUNT_MANAGERS)
    user.user_permissions.add(
        Permission.objects.get(codename="admin", content_type__app_label="django_rq")
    )
    return logged_in(user)


@pytest.mark.parametrize(
    "persona",
    ["viewer_client", "staff_without_role_client", "account_manager_with_every_permission_client"],
)
@pytest.mark.parametrize("url", READS + DESTRUCTIVE)
def test_anyone_but_a_superuser_is_refused(request, persona, url):
    client = request.getfixturevalue(persona)

    assert client.get(url).status_code == 403
    assert client.post(url, {"job_ids": ["some-job"], "action": "delete"}).status_code == 403


def test_a_visitor_who_is_not_logged_in_is_sent_to_the_login_page():
    response = Client().get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_superuser_sees_the_queues(administrator_client):
    response = administrator_client.get(DASHBOARD)

    assert response.status_code == 200
    assert b"default" in response.content


def test_the_admin_has_no_second_door_to_the_dashboard(administrator_client, viewer_client):
    assert viewer_client.get("/admin/django_rq/dashboard/").status_code == 404
    assert administrator_client.get("/admin/django_rq/dashboard/").status_code == 404
