from __future__ import annotations

import pytest
from django.urls import reverse

from staging.models import (
    AuditEvent,
    ClientSite,
    EnvironmentStatus,
    Operation,
    Run,
    StagingEnvironment,
)
from tests.factories import make_environment, make_site

pytestmark = pytest.mark.django_db


def create_url(site: ClientSite) -> str:
    return reverse("portal:create", args=[site.pk])


def test_the_confirmation_page_prefills_a_free_name_and_the_sites_lifetime(
    account_manager_client,
):
    site = make_site(name="Bakery Co", staging_ttl_days=14)

    page = account_manager_client.get(create_url(site)).content.decode()

    assert 'value="staging-' in page
    assert '<option value="14" selected>14 days</option>' in page
    assert "This copy will contain personal data of Bakery Co&#x27;s customers" in page


def test_a_name_from_try_again_is_prefilled(account_manager_client):
    site = make_site()

    page = account_manager_client.get(create_url(site) + "?name=spring-sale").content.decode()

    assert 'value="spring-sale"' in page


def test_creating_starts_a_clone_and_opens_its_run_page(account_manager_client, account_manager):
    site = make_site()

    response = account_manager_client.post(
        create_url(site), {"name": "spring-sale", "ttl_days": "3", "gdpr_acknowledged": "on"}
    )

    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:run", args=[run.pk])
    assert run.operation == Operation.CLONE
    assert run.triggered_by == account_manager
    assert run.environment.name == "spring-sale"


def test_the_audit_log_records_who_acknowledged_the_gdpr_notice(
    account_manager_client, account_manager
):
    site = make_site()

    account_manager_client.post(
        create_url(site),
        {"name": "spring-sale", "ttl_days": "7", "gdpr_acknowledged": "on"},
        REMOTE_ADDR="203.0.113.9",
    )

    event = AuditEvent.objects.get(action="staging.clone_requested")
    assert event.actor == account_manager
    assert event.details["gdpr_acknowledged"] is True
    assert event.source == "admin"
    assert event.ip_address == "203.0.113.9"
    assert event.created_at is not None


def test_it_refuses_to_go_on_without_the_gdpr_acknowledgement(account_manager_client):
    site = make_site()

    response = account_manager_client.post(
        create_url(site), {"name": "spring-sale", "ttl_days": "7"}
    )

    assert response.status_code == 200
    assert "Tick the box to confirm" in response.content.decode()
    assert not StagingEnvironment.objects.exists()


def test_it_explains_an_invalid_name_and_keeps_what_was_typed(account_manager_client):
    site = make_site()

    response = account_manager_client.post(
        create_url(site), {"name": "Spring Sale!", "ttl_days": "7", "gdpr_acknowledged": "on"}
    )

    page = response.content.decode()
    assert "Use lowercase letters, digits and single hyphens" in page
    assert 'value="Spring Sale!"' in page
    assert not Run.objects.exists()


def test_it_refuses_a_name_already_used_by_a_live_copy(account_manager_client):
    site = make_site(name="Bakery Co")
    make_environment(site, name="spring-sale", status=EnvironmentStatus.READY)

    response = account_manager_client.post(
        create_url(site), {"name": "spring-sale", "ttl_days": "7", "gdpr_acknowledged": "on"}
    )

    assert "already has a staging copy named &#x27;spring-sale&#x27;" in response.content.decode()
    assert not Run.objects.exists()


def test_a_viewer_cannot_open_the_confirmation_page(viewer_client):
    assert viewer_client.get(create_url(make_site())).status_code == 403


def test_a_forged_create_from_a_viewer_is_refused(viewer_client):
    site = make_site()

    response = viewer_client.post(
        create_url(site), {"name": "spring-sale", "ttl_days": "7", "gdpr_acknowledged": "on"}
    )

    assert response.status_code == 403
    assert not StagingEnvironment.objects.exists()
