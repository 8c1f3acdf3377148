from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from staging.models import ClientSite, EnvironmentStatus
from tests.factories import make_environment, make_site

pytestmark = pytest.mark.django_db


def check(client: Client, site: ClientSite, name: str) -> Any:  # the test client's response
    return client.get(reverse("portal:check-name", args=[site.pk]), {"name": name})


def test_a_valid_free_name_is_accepted(account_manager_client):
    answer = check(account_manager_client, make_site(), "spring-sale").json()

    assert answer == {"ok": True, "message": "This name is free."}


def test_an_invalid_name_is_explained(account_manager_client):
    answer = check(account_manager_client, make_site(), "Spring_Sale").json()

    assert answer["ok"] is False
    assert "lowercase letters" in answer["message"]


def test_a_reserved_name_is_refused(account_manager_client):
    answer = check(account_manager_client, make_site(), "production").json()

    assert answer["ok"] is False
    assert "kept for production" in answer["message"]


def test_a_name_taken_by_a_live_copy_is_refused(account_manager_client):
    site = make_site()
    make_environment(site, name="spring-sale", status=EnvironmentStatus.READY)

    assert check(account_manager_client, site, "spring-sale").json()["ok"] is False


def test_a_name_of_a_deleted_copy_can_be_used_again(account_manager_client):
    site = make_site()
    make_environment(site, name="spring-sale", status=EnvironmentStatus.DELETED)

    assert check(account_manager_client, site, "spring-sale").json()["ok"] is True


def test_the_same_name_is_free_on_another_site(account_manager_client):
    make_environment(make_site(), name="spring-sale", status=EnvironmentStatus.READY)

    assert check(account_manager_client, make_site(), "spring-sale").json()["ok"] is True


def test_a_viewer_cannot_use_it(viewer_client):
    assert check(viewer_client, make_site(), "spring-sale").status_code == 403
