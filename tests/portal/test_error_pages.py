"""Refusals, missing pages and crashes are styled pages with a way back, not bare errors."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import make_site

pytestmark = pytest.mark.django_db


def test_a_viewer_who_types_the_create_address_gets_the_styled_refusal(viewer_client):
    site = make_site()

    response = viewer_client.get(reverse("portal:create", args=[site.pk]))

    assert response.status_code == 403
    page = response.content.decode()
    assert "You cannot open this page" in page
    assert 'href="/admin/"' in page
    assert "portal.css" in page


def test_a_missing_run_gets_the_styled_not_found_page(viewer_client):
    response = viewer_client.get(reverse("portal:run", args=[999_999]))

    assert response.status_code == 404
    assert b"This page does not exist" in response.content
    assert b"Back to the client sites" in response.content


def test_a_crash_gets_the_styled_error_page(settings):
    from django.test import RequestFactory
    from django.views.defaults import server_error

    response = server_error(RequestFactory().get("/admin/"))

    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert b'href="/admin/"' in response.content


@pytest.mark.parametrize("address", ["/admin/manage/", "/admin/login/", "/admin/staging/"])
def test_the_personal_data_banner_is_on_every_admin_page(administrator_client, address, settings):
    settings.GDPR_BANNER_TEXT = "Staging copies contain customers' personal data."
    client = administrator_client if address != "/admin/login/" else Client()

    page = client.get(address).content.decode()

    assert 'class="gdpr-banner"' in page


def test_the_admin_sends_people_to_the_portal_to_create_a_copy(administrator_client):
    add = administrator_client.get("/admin/staging/stagingenvironment/add/")
    listing = administrator_client.get("/admin/staging/stagingenvironment/").content.decode()

    assert add.status_code == 403
    assert "Create a staging copy from the client sites" in listing
