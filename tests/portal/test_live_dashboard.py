"""The dashboard's site list says what is queued or running, and tells htmx when it changed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from staging.models import EnvironmentStatus, Operation, RunStatus
from tests.factories import make_environment, make_run, make_site

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/"
LIVE = "/admin/sites/live/"


def test_a_queued_refresh_shows_as_waiting_without_any_action_buttons(account_manager_client):
    environment = make_environment(
        make_site(name="Bakery Co"), name="spring-sale", status=EnvironmentStatus.READY
    )
    make_run(environment, operation=Operation.REFRESH, status=RunStatus.QUEUED)

    page = account_manager_client.get(DASHBOARD).content.decode()

    assert "Refresh waiting to start" in page
    assert reverse("portal:delete", args=[environment.pk]) not in page
    assert reverse("portal:extend", args=[environment.pk]) not in page
    assert "Open staging site" not in page


def test_a_queued_delete_shows_as_such(account_manager_client):
    environment = make_environment(status=EnvironmentStatus.READY)
    make_run(environment, operation=Operation.TEARDOWN, status=RunStatus.QUEUED)

    page = account_manager_client.get(DASHBOARD).content.decode()

    assert "Deletion waiting to start" in page
    assert reverse("portal:refresh", args=[environment.pk]) not in page


def test_the_site_list_answers_304_while_nothing_changes(account_manager_client):
    make_environment(make_site(name="Bakery Co"), status=EnvironmentStatus.READY)

    first = account_manager_client.get(LIVE)
    again = account_manager_client.get(LIVE, headers={"If-None-Match": first["ETag"]})

    assert first.status_code == 200
    assert b"Bakery Co" in first.content
    assert again.status_code == 304
    assert again.content == b""


def test_the_site_list_is_sent_again_once_a_copy_is_ready(account_manager_client):
    environment = make_environment(status=EnvironmentStatus.CREATING)
    run = make_run(environment, status=RunStatus.RUNNING)
    first = account_manager_client.get(LIVE)
    assert "Being created" in first.content.decode()

    run.status = RunStatus.SUCCEEDED
    run.save()
    environment.status = EnvironmentStatus.READY
    environment.save()
    changed = account_manager_client.get(LIVE, headers={"If-None-Match": first["ETag"]})

    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]
    assert ">Ready<" in changed.content.decode()


def test_the_dashboard_page_starts_with_the_etag_it_polls_with(account_manager_client):
    make_environment(status=EnvironmentStatus.READY)

    page = account_manager_client.get(DASHBOARD)
    live = account_manager_client.get(LIVE)

    assert f'data-etag="{live["ETag"].replace(chr(34), "&quot;")}"' in page.content.decode()


def test_a_copy_that_needs_attention_says_so_in_words(account_manager_client):
    make_environment(name="stuck-one", status=EnvironmentStatus.NEEDS_ATTENTION)

    page = account_manager_client.get(DASHBOARD).content.decode()

    assert "Needs attention" in page
    assert "Railway has not removed this copy yet" in page


def test_a_queued_copy_says_another_copy_of_the_same_site_is_being_made(
    account_manager_client, settings
):
    settings.STAGING_MAX_CLONES_PER_SITE = 1
    site = make_site(name="Bakery Co")
    make_run(make_environment(site, status=EnvironmentStatus.CREATING), status=RunStatus.RUNNING)
    queued = make_run(make_environment(site, status=EnvironmentStatus.CREATING))

    page = account_manager_client.get(DASHBOARD).content.decode()
    run_page = account_manager_client.get(reverse("portal:run", args=[queued.pk])).content

    assert "Another copy of Bakery Co is being made" in page
    assert b"Another copy of Bakery Co is being made" in run_page
    assert b"Time taken" not in run_page


def test_a_queued_copy_says_how_many_are_being_made_and_that_it_is_next(
    account_manager_client, settings
):
    settings.STAGING_MAX_CLONES = 4
    for _ in range(4):
        make_run(make_environment(status=EnvironmentStatus.CREATING), status=RunStatus.RUNNING)
    first = make_run(make_environment(status=EnvironmentStatus.CREATING))
    second = make_run(make_environment(status=EnvironmentStatus.CREATING))

    first_page = account_manager_client.get(reverse("portal:run", args=[first.pk])).content
    second_page = account_manager_client.get(reverse("portal:run", args=[second.pk])).content

    assert b"4 copies are being made; yours is next." in first_page
    assert b"4 copies are being made; 1 is waiting before yours." in second_page


def test_search_finds_a_site_among_many_by_its_name_or_a_copy_name(account_manager_client):
    for number in range(30):
        make_site(name=f"Client number {number}")
    make_environment(make_site(name="Bakery Co"), name="spring-sale")

    by_site = account_manager_client.get(DASHBOARD, {"q": "bakery"}).content.decode()
    by_copy = account_manager_client.get(DASHBOARD, {"q": "spring"}).content.decode()
    nothing = account_manager_client.get(DASHBOARD, {"q": "nowhere"}).content.decode()

    assert "Bakery Co" in by_site and "Client number 3" not in by_site
    assert "Bakery Co" in by_copy
    assert "Nothing matches" in nothing


def test_the_filter_shows_only_copies_with_a_problem(account_manager_client):
    make_environment(make_site(name="Fine Co"), status=EnvironmentStatus.READY)
    make_environment(make_site(name="Stuck Co"), status=EnvironmentStatus.NEEDS_ATTENTION)

    page = account_manager_client.get(DASHBOARD, {"show": "problem"}).content.decode()

    assert "Stuck Co" in page
    assert "Fine Co" not in page


def test_a_hundred_sites_are_shown_a_page_at_a_time(account_manager_client):
    for number in range(110):
        make_site(name=f"Client {number:03d}")

    page = account_manager_client.get(DASHBOARD).content.decode()

    assert "Client 000" in page
    assert "Client 030" not in page
    assert "Page 1 of 5 (110 sites)" in page


def test_each_copy_says_who_made_it_and_when(account_manager_client, account_manager):
    make_environment(name="spring-sale", created_by=account_manager)

    page = account_manager_client.get(DASHBOARD).content.decode()

    assert "Made by alice on" in page
    assert 'data-copy="' not in page  # not ready yet: nothing to copy
