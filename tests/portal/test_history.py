"""A failed copy stays findable: every run of every copy, per copy and per site."""

from __future__ import annotations

import pytest
from django.urls import reverse

from staging.models import EnvironmentStatus, Operation, RunStatus
from tests.factories import make_environment, make_run, make_site

pytestmark = pytest.mark.django_db


def test_a_failed_and_deleted_copy_is_in_its_sites_history(account_manager_client):
    site = make_site(name="Bakery Co")
    failed = make_run(
        make_environment(site, name="broken-one", status=EnvironmentStatus.DELETED),
        status=RunStatus.FAILED,
        error_code="railway_deployment_failed",
    )

    dashboard = account_manager_client.get("/admin/").content.decode()
    history = account_manager_client.get(reverse("portal:site-history", args=[site.pk]))

    assert "1 failed attempt this week" in dashboard
    assert "broken-one" in history.content.decode()
    assert "Did not work" in history.content.decode()
    assert reverse("portal:run", args=[failed.pk]) in history.content.decode()


def test_a_copys_page_lists_all_its_runs_and_who_made_it(account_manager_client, account_manager):
    environment = make_environment(
        name="spring-sale",
        status=EnvironmentStatus.READY,
        created_by=account_manager,
        url="https://spring-sale.up.railway.app",
    )
    make_run(environment, status=RunStatus.SUCCEEDED, triggered_by=account_manager)
    make_run(environment, operation=Operation.REFRESH, status=RunStatus.FAILED)

    page = account_manager_client.get(reverse("portal:environment", args=[environment.pk]))
    text = page.content.decode()

    assert page.status_code == 200
    assert "Made by" in text and "alice" in text
    assert text.count("<tr>") == 3  # the header and both runs
    assert "Refresh from production" in text
    assert 'data-copy="https://spring-sale.up.railway.app"' in text


def test_a_viewer_can_read_the_history_but_gets_no_buttons(viewer_client):
    environment = make_environment(status=EnvironmentStatus.READY)
    make_run(environment, status=RunStatus.SUCCEEDED)

    page = viewer_client.get(reverse("portal:environment", args=[environment.pk])).content

    assert reverse("portal:delete", args=[environment.pk]).encode() not in page
