from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from staging.models import EnvironmentStatus
from tests.factories import make_environment, make_run, make_site

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/"


def test_the_dashboard_is_the_first_page_after_login(account_manager):
    from tests.fixtures_portal import PASSWORD

    response = client_login(account_manager.username, PASSWORD)
    assert response.redirect_chain[-1][0] == DASHBOARD
    assert b"Client sites" in response.content


def client_login(username: str, password: str) -> Any:  # the test client's response
    from django.test import Client

    client = Client()
    return client.post(
        reverse("admin:login") + "?next=/admin/",
        {"username": username, "password": password},
        follow=True,
    )


def test_it_lists_each_site_with_its_live_staging_copies(account_manager_client):
    site = make_site(name="Bakery Co")
    make_environment(
        site,
        name="spring-sale",
        status=EnvironmentStatus.READY,
        url="https://spring-sale.up.railway.app",
        expires_at=timezone.now() + timedelta(days=3, hours=1),
    )
    make_environment(site, name="old-one", status=EnvironmentStatus.DELETED)

    page = account_manager_client.get(DASHBOARD).content.decode()

    assert "Bakery Co" in page
    assert "spring-sale" in page
    assert "expires in 3 days" in page
    assert 'href="https://spring-sale.up.railway.app"' in page
    assert "Ready" in page
    assert "old-one" not in page


def test_every_staging_copy_carries_a_personal_data_notice(account_manager_client):
    make_environment(make_site(name="Bakery Co"), status=EnvironmentStatus.READY)

    page = account_manager_client.get(DASHBOARD).content.decode()

    assert "Contains personal data of Bakery Co's customers." in page


def test_an_account_manager_sees_every_action(account_manager_client):
    site = make_site()
    environment = make_environment(site, status=EnvironmentStatus.READY)

    page = account_manager_client.get(DASHBOARD).content.decode()

    assert reverse("portal:create", args=[site.pk]) in page
    assert reverse("portal:refresh", args=[environment.pk]) in page
    assert reverse("portal:extend", args=[environment.pk]) in page
    assert reverse("portal:delete", args=[environment.pk]) in page


def test_a_viewer_sees_no_action_buttons(viewer_client):
    site = make_site()
    environment = make_environment(site, status=EnvironmentStatus.READY)

    page = viewer_client.get(DASHBOARD).content.decode()

    assert environment.name in page
    assert "Create staging" not in page
    assert reverse("portal:extend", args=[environment.pk]) not in page
    assert reverse("portal:delete", args=[environment.pk]) not in page


def test_a_copy_being_made_links_to_its_progress_instead_of_offering_actions(
    account_manager_client,
):
    environment = make_environment(status=EnvironmentStatus.CREATING)
    run = make_run(environment)

    page = account_manager_client.get(DASHBOARD).content.decode()

    assert reverse("portal:run", args=[run.pk]) in page
    assert "Watch progress" in page
    assert reverse("portal:delete", args=[environment.pk]) not in page


def test_every_page_shows_the_gdpr_banner_from_the_settings(account_manager_client, settings):
    settings.GDPR_BANNER_TEXT = "Handle client data with care."

    page = account_manager_client.get(DASHBOARD).content.decode()

    assert "Handle client data with care." in page


def test_the_header_says_sandbox_when_railway_is_the_sandbox(account_manager_client, settings):
    settings.RAILWAY_SANDBOX = True

    assert "Sandbox" in account_manager_client.get(DASHBOARD).content.decode()


def test_the_header_does_not_say_sandbox_with_a_real_token(account_manager_client, settings):
    settings.RAILWAY_SANDBOX = False
    settings.RAILWAY_SANDBOX_MODE = False
    settings.RAILWAY_API_TOKEN = "a-real-token"

    assert "sandbox-badge" not in account_manager_client.get(DASHBOARD).content.decode()


def test_a_staff_user_without_a_role_is_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", is_staff=True))

    assert client.get(DASHBOARD).status_code == 403


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_administrators_reach_the_import_page_and_the_model_administration(
    administrator_client,
):
    page = administrator_client.get(DASHBOARD).content.decode()

    assert reverse("portal:import") in page
    assert reverse("portal:manage") in page
    manage = administrator_client.get(reverse("portal:manage")).content.decode()
    assert reverse("admin:staging_clientsite_changelist") in manage
    assert reverse("admin:auth_user_changelist") in manage


def test_account_managers_are_not_offered_the_administration(account_manager_client):
    page = account_manager_client.get(DASHBOARD).content.decode()

    assert reverse("portal:import") not in page
    assert reverse("portal:manage") not in page
