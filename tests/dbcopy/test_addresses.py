"""The worker connects only to public database addresses (unless the deployment allows private
ones), and always to the address it checked."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from staging.dbcopy import (
    DatabaseAddressRefused,
    copy_database,
    inspect_source,
    preflight,
    resolve_public_address,
)
from staging.wordpress import connection as wordpress_connection
from staging.wordpress.connection import parse_database_url
from tests.fixtures_dbcopy import Database

PREFIX = {"postgres": "pg", "mysql": "mysql"}


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - refused, never bound
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "reserved"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_non_public_addresses_are_refused(ip: str, kind: str) -> None:
    with pytest.raises(DatabaseAddressRefused) as error:
        resolve_public_address(ip, 5432, allow_private=False)

    assert error.value.code == "database_address_refused"
    assert error.value.details["kind"] == kind


def test_a_public_address_is_accepted() -> None:
    assert resolve_public_address("203.0.114.9", 5432, allow_private=False) == "203.0.114.9"


def test_private_addresses_are_accepted_when_the_deployment_allows_them() -> None:
    assert resolve_public_address("127.0.0.1", 5432, allow_private=True) == "127.0.0.1"


def test_a_name_that_also_resolves_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"db.client.example": ["203.0.114.20", "10.0.0.5"]})

    with pytest.raises(DatabaseAddressRefused) as error:
        resolve_public_address("db.client.example", 5432, allow_private=False)

    assert error.value.details["address"] == "10.0.0.5"


def test_a_loopback_database_is_refused_without_the_setting(
    pg_source: Database, pg_target: Database, settings: Any
) -> None:
    settings.STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES = False

    with pytest.raises(DatabaseAddressRefused) as error:
        copy_database(pg_source.url, pg_target.url)
    with pytest.raises(DatabaseAddressRefused):
        inspect_source(pg_source.url)
    with pytest.raises(DatabaseAddressRefused):
        parse_database_url(pg_target.url)

    assert error.value.code == "database_address_refused"
    assert pg_source.password not in str(error.value)


def test_a_loopback_database_is_accepted_with_the_setting(
    pg_source: Database, pg_target: Database, settings: Any
) -> None:
    settings.STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES = True

    report = preflight(pg_source.url, pg_target.url)

    assert report.engine == "postgres"


def test_an_explicit_refusal_wins_over_the_setting(
    mysql_source: Database, mysql_target: Database
) -> None:
    with pytest.raises(DatabaseAddressRefused):
        preflight(mysql_source.url, mysql_target.url, allow_private=False)


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_connections_go_to_the_checked_address_not_to_a_new_dns_answer(
    engine: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name resolves once (to the local server); drivers and client tools are handed the
    address, so a rebinding answer afterwards (here: no answer at all) changes nothing."""
    source: Database = request.getfixturevalue(f"{PREFIX[engine]}_source")
    target: Database = request.getfixturevalue(f"{PREFIX[engine]}_target")
    answers = iter([["127.0.0.1"], ["127.0.0.1"]])
    real = socket.getaddrinfo

    def resolve_once(host: str, *args: Any, **kwargs: Any) -> Any:
        if host.endswith(".client.example"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 0)) for ip in next(answers)]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve_once)

    report = copy_database(
        source.url.replace("@127.0.0.1:", "@src.client.example:"),
        target.url.replace("@127.0.0.1:", "@dst.client.example:"),
        attempts=1,
    )

    assert report.row_counts
    # The names were resolved exactly once each: the tools never looked them up.
    with pytest.raises(StopIteration):
        next(answers)


def test_the_wordpress_connection_goes_to_the_checked_address(
    mysql_target: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns(monkeypatch, {"wp.client.example": ["127.0.0.1"]})

    address = parse_database_url(mysql_target.url.replace("@127.0.0.1:", "@wp.client.example:"))
    connection = wordpress_connection.connect_mysql(address)
    try:
        assert address.address == "127.0.0.1"
        assert connection.host == "127.0.0.1"
    finally:
        connection.close()


def fake_dns(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]) -> None:
    real = socket.getaddrinfo

    def resolve(host: str, *args: Any, **kwargs: Any) -> Any:
        if host in names:
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, 0),
                )
                for ip in names[host]
            ]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
