"""Connections to the staging database named by a URL.

``mysql://`` and ``mariadb://`` open a PyMySQL connection, ``postgres://`` and ``postgresql://``
a psycopg one. The URL comes from the client's Railway project: it is validated and its host
checked against the address policy exactly as the copy engine does (``staging.dbcopy``), the
connection goes to the checked address, with TLS when offered, timeouts and no
``LOAD DATA LOCAL``; the password never reaches a message.
"""

from __future__ import annotations

import re

import psycopg
import pymysql

from staging.dbcopy import mysql as dbcopy_mysql
from staging.dbcopy import postgres as dbcopy_postgres
from staging.dbcopy.addresses import checked
from staging.dbcopy.errors import CopyError, DatabaseAddressRefused
from staging.dbcopy.urls import DatabaseUrl, parse_url
from staging.secrets import mask_text

from .errors import DatabaseUnreachable, DatabaseUrlInvalid

# Names that reach SQL are checked against this before being quoted: what WordPress and
# ordinary schemas use, nothing that could close a quoted identifier.
IDENTIFIER = re.compile(r"^[A-Za-z0-9_$]{1,64}$")


def parse_database_url(database_url: str, *, allow_private: bool | None = None) -> DatabaseUrl:
    """The copy engine's validation of the URL and check of its address, with this package's
    error codes (``database_address_refused`` stays as it is)."""
    try:
        address = parse_url(database_url, role="staging database")
    except CopyError as exc:
        raise DatabaseUrlInvalid(exc.message, details=exc.details) from None
    try:
        return checked(address, allow_private=allow_private, unreachable=CopyError)
    except DatabaseAddressRefused:
        raise
    except CopyError as exc:
        raise DatabaseUnreachable(exc.message, details={"database": address.masked}) from None


def connect_mysql(
    address: DatabaseUrl,
) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    if address.family != "mysql":
        raise DatabaseUrlInvalid(f"{address.masked} is not a MySQL or MariaDB database.")
    try:
        return dbcopy_mysql.connect(address)
    except pymysql.err.MySQLError as exc:
        reason = exc.args[-1] if exc.args else exc
        raise DatabaseUnreachable(
            f"Could not connect to {address.masked}: {mask_text(str(reason), [address.password])}",
            details={"database": address.masked},
        ) from None


def connect_postgres(address: DatabaseUrl) -> psycopg.Connection[tuple[object, ...]]:
    if address.family != "postgres":
        raise DatabaseUrlInvalid(f"{address.masked} is not a PostgreSQL database.")
    try:
        return dbcopy_postgres.connect(address, options="", autocommit=True)
    except psycopg.Error:
        raise DatabaseUnreachable(
            f"Could not connect to {address.masked}.", details={"database": address.masked}
        ) from None


def quote_mysql(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"unexpected identifier {name!r}")
    return f"`{name}`"


def quote_postgres(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"unexpected identifier {name!r}")
    return f'"{name}"'


__all__ = [
    "DatabaseUrl",
    "connect_mysql",
    "connect_postgres",
    "parse_database_url",
    "quote_mysql",
    "quote_postgres",
]
