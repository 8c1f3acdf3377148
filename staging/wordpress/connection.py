"""Connections to the staging database named by a URL.

``mysql://`` and ``mariadb://`` open a PyMySQL connection, ``postgres://`` and ``postgresql://``
a psycopg one. User and password are percent-decoded; the password never reaches a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psycopg
import pymysql

from staging.secrets import mask_url

from .errors import DatabaseUnreachable, DatabaseUrlInvalid

MYSQL_SCHEMES = frozenset({"mysql", "mariadb"})
POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})

# Names that reach SQL are checked against this before being quoted: what WordPress and
# ordinary schemas use, nothing that could close a quoted identifier.
IDENTIFIER = re.compile(r"^[A-Za-z0-9_$]{1,64}$")


@dataclass(frozen=True)
class DatabaseAddress:
    engine: str  # "mysql" | "postgresql"
    host: str
    port: int
    user: str
    password: str
    database: str
    masked: str


def parse_database_url(database_url: str) -> DatabaseAddress:
    masked = mask_url(database_url)
    try:
        parts = urlsplit(database_url)
        port = parts.port
    except ValueError as exc:
        raise DatabaseUrlInvalid(f"The database URL {masked} is not valid.") from exc
    scheme = parts.scheme.lower()
    if scheme in MYSQL_SCHEMES:
        engine, default_port = "mysql", 3306
    elif scheme in POSTGRES_SCHEMES:
        engine, default_port = "postgresql", 5432
    else:
        raise DatabaseUrlInvalid(
            f"The database URL {masked} must start with mysql://, mariadb:// or postgresql://."
        )
    database = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not database:
        raise DatabaseUrlInvalid(f"The database URL {masked} must name a host and a database.")
    return DatabaseAddress(
        engine=engine,
        host=parts.hostname,
        port=port or default_port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=database,
        masked=masked,
    )


def connect_mysql(
    address: DatabaseAddress,
) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    if address.engine != "mysql":
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


def connect_postgres(address: DatabaseAddress) -> psycopg.Connection[tuple[object, ...]]:
    if address.engine != "postgresql":
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
    "DatabaseAddress",
    "connect_mysql",
    "connect_postgres",
    "parse_database_url",
    "quote_mysql",
    "quote_postgres",
]
