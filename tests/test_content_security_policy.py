"""Every page carries the Content-Security-Policy; the API's docs page loads nothing from
elsewhere. (tests/browser/test_content_security_policy.py checks that pages work under it.)"""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def directives(header: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def assert_strict(response) -> None:
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert not any("unsafe" in value for values in policy.values() for value in values)


@pytest.mark.parametrize(
    "path",
    ["/admin/login/", "/api/docs/", "/api/schema/", "/api/v1/sites/", "/healthz", "/no-such-page"],
)
def test_pages_for_everyone_carry_the_policy(client: Client, path: str):
    assert_strict(client.get(path))


@pytest.mark.parametrize(
    "path",
    [
        reverse("portal:dashboard"),
        reverse("portal:audit"),
        reverse("portal:manage"),
        reverse("admin:staging_clientsite_changelist"),
        reverse("admin:staging_apitoken_add"),
    ],
)
def test_the_portals_and_admins_pages_carry_the_policy(administrator_client: Client, path: str):
    response = administrator_client.get(path)

    assert response.status_code == 200
    assert_strict(response)


def test_the_api_docs_load_swagger_ui_from_the_portal_with_no_inline_script(client: Client):
    page = client.get("/api/docs/").content.decode()

    sources = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui-bundle.js" in source for source in sources)
    assert all(source.startswith("/") and not source.startswith("//") for source in sources)
    assert "<style" not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)


def test_swagger_uis_files_are_served_by_the_portal(client: Client):
    page = client.get("/api/docs/").content.decode()
    [bundle] = re.findall(r'src="([^"]+swagger-ui-bundle\.js)"', page)
    [start_up] = re.findall(r'src="([^"]+\?[^"]*script=[^"]*)"', page)

    # Static files are the portal's own (whitenoise serves them after collectstatic).
    assert bundle.startswith("/static/drf_spectacular_sidecar/")
    assert finders.find(bundle.removeprefix("/static/"))
    start = client.get(start_up.replace("&amp;", "&"))
    assert start.status_code == 200
    assert b"SwaggerUIBundle" in start.content


def test_the_job_dashboard_alone_allows_its_inline_scripts_and_only_to_superusers(
    administrator_client: Client, viewer_client: Client
):
    dashboard = administrator_client.get("/django-rq/")
    policy = directives(dashboard["Content-Security-Policy"])
    refused = viewer_client.get("/django-rq/")

    assert policy["script-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert refused.status_code == 403
    assert_strict(refused)
