"""Real databases behind the sandbox's database services, on the local servers.

Each database service instance gets its own database and its own login user, as each Railway
environment gets its own database service with its own volume and password.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import psycopg
import pymysql  # type: ignore[import-untyped, unused-ignore]
from psycopg import sql

from railway_sandbox.state import DatabaseBacking, Engine


class DatabaseServers:
    """Admin connections to the local PostgreSQL and MariaDB servers."""

    def __init__(self, postgres_url: str, mysql_url: str) -> None:
        self.postgres_url = postgres_url
        self.mysql_url = mysql_url
        pg = urlsplit(postgres_url)
        my = urlsplit(mysql_url)
        self.postgres_host = pg.hostname or "127.0.0.1"
        self.postgres_port = pg.port or 5432
        self.mysql_host = my.hostname or "127.0.0.1"
        self.mysql_port = my.port or 3306

    def host_and_port(self, engine: Engine) -> tuple[str, int]:
        if engine == "postgres":
            return self.postgres_host, self.postgres_port
        return self.mysql_host, self.mysql_port

    def create(self, engine: Engine, name: str) -> DatabaseBacking:
        """A new empty database named ``name``, owned by a new user of the same name."""
        password = secrets.token_urlsafe(24)
        backing = DatabaseBacking(engine=engine, database=name, user=name, password=password)
        self.drop(backing)
        if engine == "postgres":
            with self._postgres_admin() as conn:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(name), sql.Literal(password)
                    )
                )
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(name)
                    )
                )
        else:
            with self._mysql_admin() as cursor:
                cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
                cursor.execute(f"CREATE USER '{name}'@'%%' IDENTIFIED BY %s", (password,))
                cursor.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{name}'@'%'")
        return backing

    def drop(self, backing: DatabaseBacking) -> None:
        name = backing.database
        if backing.engine == "postgres":
            with self._postgres_admin() as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(backing.user)))
        else:
            with self._mysql_admin() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
                cursor.execute(f"DROP USER IF EXISTS '{backing.user}'@'%'")

    def url(self, backing: DatabaseBacking, *, scheme: str | None = None) -> str:
        host, port = self.host_and_port(backing.engine)
        default = "postgresql" if backing.engine == "postgres" else "mysql"
        return (
            f"{scheme or default}://{backing.user}:{quote(backing.password, safe='')}"
            f"@{host}:{port}/{backing.database}"
        )

    @contextmanager
    def connect_postgres(self, backing: DatabaseBacking) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self.url(backing), autocommit=True, connect_timeout=5) as conn:
            yield conn

    @contextmanager
    def connect_mysql(self, backing: DatabaseBacking) -> Iterator[Any]:
        conn = pymysql.connect(
            host=self.mysql_host,
            port=self.mysql_port,
            user=backing.user,
            password=backing.password,
            database=backing.database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=5,
        )
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _postgres_admin(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self.postgres_url, autocommit=True, connect_timeout=5) as conn:
            yield conn

    @contextmanager
    def _mysql_admin(self) -> Iterator[Any]:
        parts = urlsplit(self.mysql_url)
        conn = pymysql.connect(
            host=self.mysql_host,
            port=self.mysql_port,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            autocommit=True,
            connect_timeout=5,
        )
        try:
            with conn.cursor() as cursor:
                yield cursor
        finally:
            conn.close()


def database_name(prefix: str, *parts: str) -> str:
    """A database/user name safe on both servers (MariaDB user names: at most 80 chars)."""
    cleaned = "_".join("".join(c if c.isalnum() else "_" for c in p.lower()) for p in parts if p)
    return f"{prefix}_{cleaned}"[:60]
