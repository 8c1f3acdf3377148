from __future__ import annotations

import pytest
from django.urls import reverse

from staging.models import AuditEvent, ClientSite
from tests.factories import make_site
from tests.fixtures_railway import SANDBOX_TOKEN

pytestmark = pytest.mark.django_db

IMPORT = reverse("portal:import")


@pytest.fixture
def demo(railway_sandbox, settings):
    settings.RAILWAY_API_URL = railway_sandbox.api_url
    settings.RAILWAY_API_TOKEN = SANDBOX_TOKEN
    return {project.name: project for project in railway_sandbox.seed_demo()}


def test_it_lists_the_projects_the_token_can_see(administrator_client, demo):
    page = administrator_client.get(IMPORT).content.decode()

    assert "Bakery Co" in page
    assert "Ledger App" in page
    assert reverse("portal:import-project", args=[demo["Bakery Co"].project_id]) in page


def test_a_project_already_added_is_marked_as_such(administrator_client, demo):
    make_site(name="Our Bakery", railway_project_id=demo["Bakery Co"].project_id)

    page = administrator_client.get(IMPORT).content.decode()

    assert "Already added as Our Bakery" in page
    assert reverse("portal:import-project", args=[demo["Bakery Co"].project_id]) not in page


def test_it_detects_a_wordpress_site_on_mariadb(administrator_client, demo):
    bakery = demo["Bakery Co"]

    form = administrator_client.get(
        reverse("portal:import-project", args=[bakery.project_id])
    ).context["form"]

    assert form.initial["app_service_id"] == bakery.app_service_id
    assert form.initial["database_service_id"] == bakery.database_service_id
    assert form.initial["production_environment_id"] == bakery.production_environment_id
    assert form.initial["is_wordpress"] is True


def test_it_detects_an_app_on_postgres_that_is_not_wordpress(administrator_client, demo):
    ledger = demo["Ledger App"]

    response = administrator_client.get(reverse("portal:import-project", args=[ledger.project_id]))

    assert response.context["form"].initial["is_wordpress"] is False
    assert "(PostgreSQL)" in response.content.decode()


def test_adding_a_project_creates_the_site_with_its_services(
    administrator_client, administrator, demo
):
    bakery = demo["Bakery Co"]

    response = administrator_client.post(
        reverse("portal:import-project", args=[bakery.project_id]),
        {
            "name": "Bakery Co",
            "slug": "bakery-co",
            "production_environment_id": bakery.production_environment_id,
            "app_service_id": bakery.app_service_id,
            "database_service_id": bakery.database_service_id,
            "is_wordpress": "on",
            "production_url": "https://www.bakery.example",
        },
    )

    site = ClientSite.objects.get()
    assert response["Location"] == reverse("portal:dashboard")
    assert site.railway_project_id == bakery.project_id
    assert site.database_engine == "mariadb"
    assert site.database_service_name == "MariaDB"
    assert site.is_wordpress
    event = AuditEvent.objects.get(action="site.imported")
    assert event.actor == administrator
    assert event.site == site


def test_a_railway_refusal_is_shown_in_words(administrator_client, railway_sandbox, settings):
    settings.RAILWAY_API_URL = railway_sandbox.api_url
    settings.RAILWAY_API_TOKEN = "not-the-token"

    page = administrator_client.get(IMPORT).content.decode()

    assert "Railway could not be asked for its projects" in page


def test_an_account_manager_cannot_import(account_manager_client):
    assert account_manager_client.get(IMPORT).status_code == 403
    assert (
        account_manager_client.post(reverse("portal:import-project", args=["any"]), {}).status_code
        == 403
    )


def test_the_sites_list_links_to_the_import_page_for_administrators(administrator_client):
    page = administrator_client.get(reverse("admin:staging_clientsite_changelist")).content
    assert IMPORT.encode() in page
