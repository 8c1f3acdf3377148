from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_environment, make_site

pytestmark = pytest.mark.django_db


def test_the_site_list_shows_each_site_with_its_live_environment_count(api_viewer):
    site = make_site(name="Acme", slug="acme", staging_ttl_days=3)
    make_environment(site)
    make_environment(site, status="deleted")
    response = api_viewer.client.get("/api/v1/sites/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"] == [
        {
            "id": site.pk,
            "slug": "acme",
            "name": "Acme",
            "database_engine": "mariadb",
            "is_wordpress": True,
            "production_url": None,
            "ttl_days": 3,
            "environments_count": 1,
        }
    ]


def test_a_site_can_be_read_by_id(api_viewer):
    site = make_site()
    response = api_viewer.client.get(f"/api/v1/sites/{site.pk}/")
    assert response.status_code == 200
    assert response.json()["slug"] == site.slug


def test_the_site_list_costs_the_same_queries_for_one_site_or_fifty(api_viewer):
    make_site()
    api_viewer.client.get("/api/v1/sites/")  # the token's first use also records its use
    with CaptureQueriesContext(connection) as one:
        api_viewer.client.get("/api/v1/sites/")
    for _ in range(49):
        make_environment(make_site())
    with CaptureQueriesContext(connection) as fifty:
        response = api_viewer.client.get("/api/v1/sites/")
    assert response.json()["count"] == 50
    assert len(fifty) == len(one)


def test_the_site_list_is_paged_with_links(api_viewer):
    for _ in range(3):
        make_site()
    body = api_viewer.client.get("/api/v1/sites/?page_size=2").json()
    assert len(body["results"]) == 2
    assert body["next"].endswith("/api/v1/sites/?page=2&page_size=2")
    assert body["previous"] is None
