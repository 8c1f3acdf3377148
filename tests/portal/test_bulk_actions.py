from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from staging.models import EnvironmentStatus, Operation, Run, StagingEnvironment
from tests.factories import make_environment, make_site

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:staging_stagingenvironment_changelist")


@pytest.fixture
def two_ready():
    site = make_site()
    return [make_environment(site, status=EnvironmentStatus.READY) for _ in range(2)]


def act(
    client: Client, action: str, environments: list[StagingEnvironment], **extra: str
) -> Any:  # the test client's response
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [e.pk for e in environments], **extra},
    )


def test_bulk_extend_extends_every_selected_copy(account_manager_client, two_ready):
    before = {e.pk: e.expires_at for e in two_ready}

    act(account_manager_client, "extend_selected", two_ready)

    for environment in two_ready:
        environment.refresh_from_db()
        assert environment.expires_at - before[environment.pk] == timedelta(days=7)


def test_bulk_delete_asks_for_confirmation_first(account_manager_client, two_ready):
    response = act(account_manager_client, "delete_selected_environments", two_ready)

    assert "cannot be undone" in response.content.decode()
    assert not Run.objects.exists()


def test_confirmed_bulk_delete_tears_down_every_selected_copy(account_manager_client, two_ready):
    act(account_manager_client, "delete_selected_environments", two_ready, confirmed="yes")

    assert Run.objects.filter(operation=Operation.TEARDOWN).count() == 2


def test_confirmed_bulk_refresh_refreshes_every_selected_copy(account_manager_client, two_ready):
    act(account_manager_client, "refresh_selected", two_ready, confirmed="yes")

    assert Run.objects.filter(operation=Operation.REFRESH).count() == 2


def test_one_refusal_does_not_stop_the_others(account_manager_client, two_ready):
    busy = make_environment(two_ready[0].site, status=EnvironmentStatus.CREATING)

    response = act(account_manager_client, "refresh_selected", [*two_ready, busy], confirmed="yes")

    assert Run.objects.filter(operation=Operation.REFRESH).count() == 2
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("being created" in m for m in messages)


def test_the_list_offers_no_row_deletion_that_would_skip_the_teardown(
    account_manager_client, two_ready
):
    page = account_manager_client.get(CHANGELIST).content.decode()

    assert 'value="delete_selected"' not in page
    assert 'value="delete_selected_environments"' in page


def test_a_viewer_is_offered_no_bulk_actions(viewer_client, two_ready):
    page = viewer_client.get(CHANGELIST).content.decode()

    assert "extend_selected" not in page


def test_a_forged_bulk_action_from_a_viewer_changes_nothing(viewer_client, two_ready):
    before = {e.pk: e.expires_at for e in two_ready}

    act(viewer_client, "extend_selected", two_ready)
    act(viewer_client, "delete_selected_environments", two_ready, confirmed="yes")

    assert not Run.objects.exists()
    for environment in two_ready:
        environment.refresh_from_db()
        assert environment.expires_at == before[environment.pk]
