from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from staging.models import AuditEvent, EnvironmentStatus, Operation, Run
from tests.factories import make_environment, make_run, make_site

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready():
    return make_environment(
        make_site(name="Bakery Co"),
        name="spring-sale",
        status=EnvironmentStatus.READY,
        expires_at=timezone.now() + timedelta(days=2),
    )


def test_refresh_asks_for_confirmation_that_staging_data_will_be_replaced(
    account_manager_client, ready
):
    page = account_manager_client.get(reverse("portal:refresh", args=[ready.pk])).content.decode()

    assert "will be replaced by a fresh copy" in page
    assert not Run.objects.exists()


def test_confirming_a_refresh_starts_it_and_opens_its_run_page(account_manager_client, ready):
    response = account_manager_client.post(reverse("portal:refresh", args=[ready.pk]))

    run = Run.objects.get()
    assert run.operation == Operation.REFRESH
    assert response["Location"] == reverse("portal:run", args=[run.pk])


def test_a_refresh_refused_by_staging_runs_is_explained(account_manager_client, ready):
    make_run(ready, operation=Operation.REFRESH)

    response = account_manager_client.post(reverse("portal:refresh", args=[ready.pk]), follow=True)

    assert "already has a run in progress" in response.content.decode()


def test_extend_pushes_the_expiry_by_seven_days_and_says_so(account_manager_client, ready):
    before = ready.expires_at

    response = account_manager_client.post(
        reverse("portal:extend", args=[ready.pk]), {"next": "/admin/"}, follow=True
    )

    ready.refresh_from_db()
    assert ready.expires_at - before == timedelta(days=7)
    assert "The staging copy spring-sale now expires in 9 days" in response.content.decode()
    assert AuditEvent.objects.filter(action="staging.extended").count() == 1


def test_extend_does_not_redirect_to_another_host(account_manager_client, ready):
    response = account_manager_client.post(
        reverse("portal:extend", args=[ready.pk]), {"next": "https://evil.example/"}
    )

    assert response["Location"] == reverse("portal:dashboard")


def test_delete_asks_for_confirmation(account_manager_client, ready):
    page = account_manager_client.get(reverse("portal:delete", args=[ready.pk])).content.decode()

    assert "will be deleted" in page
    assert "cannot be undone" in page


def test_confirming_delete_starts_the_teardown(account_manager_client, ready):
    response = account_manager_client.post(reverse("portal:delete", args=[ready.pk]))

    run = Run.objects.get()
    assert run.operation == Operation.TEARDOWN
    assert response["Location"] == reverse("portal:run", args=[run.pk])


@pytest.mark.parametrize("action", ["refresh", "extend", "delete"])
def test_a_forged_action_from_a_viewer_is_refused(viewer_client, ready, action):
    expires_at = ready.expires_at

    response = viewer_client.post(reverse(f"portal:{action}", args=[ready.pk]))

    ready.refresh_from_db()
    assert response.status_code == 403
    assert not Run.objects.exists()
    assert ready.expires_at == expires_at


@pytest.mark.parametrize("action", ["refresh", "delete"])
def test_a_viewer_cannot_open_a_confirmation_page(viewer_client, ready, action):
    assert viewer_client.get(reverse(f"portal:{action}", args=[ready.pk])).status_code == 403
