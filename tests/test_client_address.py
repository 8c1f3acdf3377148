"""The client's address behind the proxies (TRUSTED_PROXY_HOPS): the login lockout, the API's
throttles and the audit log all take it from staging.addresses.client_ip."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from staging import roles
from staging.addresses import client_ip
from staging.models import AuditEvent, EnvironmentStatus
from tests.factories import make_environment
from tests.fixtures_api import make_persona
from tests.fixtures_portal import PASSWORD, logged_in, make_user

PROXY = "10.0.0.7"


def address(xff: str | None, remote: str = PROXY) -> str | None:
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    if xff is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = xff
    return client_ip(request)


def test_without_trusted_proxies_the_connections_address_is_the_clients(settings):
    settings.TRUSTED_PROXY_HOPS = 0

    assert address("203.0.113.5") == PROXY


def test_with_one_proxy_the_last_forwarded_address_is_the_clients(settings):
    settings.TRUSTED_PROXY_HOPS = 1

    assert address("203.0.113.5") == "203.0.113.5"
    assert address("198.51.100.99, 203.0.113.5") == "203.0.113.5"


def test_addresses_the_client_wrote_itself_are_ignored(settings):
    settings.TRUSTED_PROXY_HOPS = 2

    assert address("1.2.3.4, 203.0.113.5, 10.0.0.3") == "203.0.113.5"


def test_fewer_forwarded_addresses_than_hops_gives_the_first(settings):
    settings.TRUSTED_PROXY_HOPS = 3

    assert address("203.0.113.5, 10.0.0.3") == "203.0.113.5"


def test_no_header_or_a_garbled_one_falls_back_to_the_connection(settings):
    settings.TRUSTED_PROXY_HOPS = 1

    assert address(None) == PROXY
    assert address("") == PROXY
    assert address("not-an-address") == PROXY
    assert address("203.0.113.5", remote="") == "203.0.113.5"


def admin_login(client: Client, username: str, password: str, forwarded_for: str) -> int:
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )
    return response.status_code


@pytest.mark.django_db
def test_wrong_passwords_behind_the_proxy_lock_the_account_only_where_they_came_from(settings):
    settings.TRUSTED_PROXY_HOPS = 1
    make_user("alice", group=roles.ACCOUNT_MANAGERS)
    # Every request arrives from the proxy's address, as on Railway.
    attacker, alice = Client(REMOTE_ADDR=PROXY), Client(REMOTE_ADDR=PROXY)

    for n in range(settings.AXES_FAILURE_LIMIT):
        admin_login(attacker, "alice", f"guess-{n}", "203.0.113.66")

    assert admin_login(attacker, "alice", PASSWORD, "203.0.113.66") == 429
    assert admin_login(alice, "alice", PASSWORD, "198.51.100.10") == 302


@pytest.mark.django_db
def test_the_lockout_counts_per_username_as_well(settings):
    settings.TRUSTED_PROXY_HOPS = 1
    make_user("alice", group=roles.ACCOUNT_MANAGERS)
    make_user("bob", group=roles.ACCOUNT_MANAGERS)
    office = Client(REMOTE_ADDR=PROXY)

    for n in range(settings.AXES_FAILURE_LIMIT):
        admin_login(office, "alice", f"guess-{n}", "198.51.100.10")

    assert admin_login(Client(REMOTE_ADDR=PROXY), "bob", PASSWORD, "198.51.100.10") == 302


@pytest.mark.django_db
def test_the_portal_audits_the_forwarded_address(settings):
    settings.TRUSTED_PROXY_HOPS = 1
    environment = make_environment(status=EnvironmentStatus.READY)
    client = logged_in(make_user("alice", group=roles.ACCOUNT_MANAGERS))

    client.post(
        reverse("portal:extend", args=[environment.pk]),
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="203.0.113.5",
    )

    assert AuditEvent.objects.get(action="staging.extended").ip_address == "203.0.113.5"


@pytest.mark.django_db
def test_the_api_audits_the_forwarded_address(settings, isolated_throttles):
    settings.TRUSTED_PROXY_HOPS = 1
    environment = make_environment(status=EnvironmentStatus.READY)
    manager = make_persona("ana", group=roles.ACCOUNT_MANAGERS)
    client: APIClient = manager.client

    response = client.post(
        f"/api/v1/environments/{environment.pk}/extend/",
        {"days": 3},
        format="json",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.99, 203.0.113.5",
    )

    assert response.status_code == 200
    assert AuditEvent.objects.get(action="staging.extended").ip_address == "203.0.113.5"
