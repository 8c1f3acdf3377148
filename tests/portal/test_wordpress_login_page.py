"""Who may ask for a staging WordPress login, and what is refused before Railway is asked."""

from __future__ import annotations

import pytest
from django.urls import reverse

from staging.models import AuditEvent, EnvironmentStatus
from tests.factories import make_environment, make_site

pytestmark = pytest.mark.django_db


def test_a_viewer_cannot_make_a_wordpress_login(viewer_client):
    environment = make_environment(status=EnvironmentStatus.READY)

    response = viewer_client.post(reverse("portal:wordpress-login", args=[environment.pk]))

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="staging.wordpress_login_created").exists()


def test_the_login_is_never_made_by_a_link_that_is_merely_followed(account_manager_client):
    environment = make_environment(status=EnvironmentStatus.READY)

    response = account_manager_client.get(reverse("portal:wordpress-login", args=[environment.pk]))

    assert response.status_code == 405


def test_a_copy_that_is_not_wordpress_is_refused_in_plain_words(account_manager_client):
    environment = make_environment(
        make_site(name="Ledger App", is_wordpress=False, database_engine="postgres"),
        status=EnvironmentStatus.READY,
    )

    response = account_manager_client.post(
        reverse("portal:wordpress-login", args=[environment.pk]), follow=True
    )

    assert b"Ledger App is not a WordPress site." in response.content


def test_a_copy_still_being_made_is_refused(account_manager_client):
    environment = make_environment(status=EnvironmentStatus.CREATING)

    response = account_manager_client.post(
        reverse("portal:wordpress-login", args=[environment.pk]), follow=True
    )

    assert b"can be made once it is ready" in response.content
