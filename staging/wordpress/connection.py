"""Connections to the staging database named by a URL.

``mysql://`` and ``mariadb://`` open a PyMySQL connection, ``postgres://`` and ``postgresql://``
a psycopg one. User and password are percent-decoded; the password never reaches a message.
"""

from __future__ import annotations

import re

import psycopg
import pymysql

from staging.dbcopy.errors import UnsupportedDatabase
from staging.dbcopy.urls import DatabaseUrl, parse_url

from .errors import DatabaseUnreachable, DatabaseUrlInvalid

# Names that reach SQL are checked against this before being quoted: what WordPress and
# ordinary schemas use, nothing that could close a quoted identifier.
IDENTIFIER = re.compile(r"^[A-Za-z0-9_$]{1,64}$")


def parse_database_url(database_url: str) -> DatabaseUrl:
    """The copy engine's parse of the URL, with this package's error code."""
    try:
        return parse_url(database_url)
    except UnsupportedDatabase as exc:
        raise DatabaseUrlInvalid(exc.message) from None


def connect_mysql(
    address: DatabaseUrl,
) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    if address.family != "mysql":
        raise DatabaseUrlInvalid(f"{address.masked} is not a MySQL or MariaDB database.")
    try:
        return pymysql.connect(
            host=address.host,
            port=address.port,
            user=address.user,
            password=address.password,
            database=address.database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=15,
        )
    except pymysql.err.MySQLError as exc:
        raise DatabaseUnreachable(
            f"Could not connect to {address.masked}: {exc.args[-1] if exc.args else exc}",
            details={"database": address.masked},
        ) from exc


def connect_postgres(address: DatabaseUrl) -> psycopg.Connection[tuple[object, ...]]:
    if address.family != "postgres":
        raise DatabaseUrlInvalid(f"{address.masked} is not a PostgreSQL database.")
    try:
        return psycopg.connect(
            host=address.host,
            port=address.port,
            user=address.user or None,
            password=address.password or None,
            dbname=address.database,
            connect_timeout=15,
            autocommit=True,
        )
    except psycopg.Error as exc:
        raise DatabaseUnreachable(
            f"Could not connect to {address.masked}.", details={"database": address.masked}
        ) from exc


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
