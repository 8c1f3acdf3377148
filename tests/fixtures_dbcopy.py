"""Throwaway databases on the local PostgreSQL and MariaDB servers, for the copy engine's tests.

Each test gets a source filled with a small site-like schema and an empty target, both owned
by a user of its own with a password, so that the tests about leaked passwords mean something.
Everything is dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pymysql
import pytest
from psycopg import sql

from staging.dbcopy.attempt import Attempt

PG_ADMIN = os.environ.get(
    "DBCOPY_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
MYSQL_HOST, MYSQL_PORT = "127.0.0.1", 3306
COPY_TOOLS = {"pg_dump", "pg_restore", "psql", "mariadb-dump", "mysqldump", "mariadb", "mysql"}

PG_SCHEMA = """
CREATE TABLE authors (id bigserial PRIMARY KEY, login text NOT NULL UNIQUE, email text);
CREATE TABLE posts (
    id bigserial PRIMARY KEY,
    author_id bigint NOT NULL REFERENCES authors(id),
    title text NOT NULL,
    body text NOT NULL,
    attributes jsonb NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT posts_title_not_blank CHECK (title <> '')
);
CREATE TABLE comments (id bigserial PRIMARY KEY, post_id bigint NOT NULL REFERENCES posts(id),
                       body text NOT NULL);
CREATE SEQUENCE invoice_numbers START 1000;
INSERT INTO authors (login, email) SELECT 'author' || g, 'a' || g || '@example.com'
FROM generate_series(1, 50) g;
INSERT INTO posts (author_id, title, body, attributes)
SELECT 1 + g % 50, 'Post ' || g,
       (SELECT string_agg(md5((g * 7 + i)::text), ' ') FROM generate_series(1, 40) i),
       jsonb_build_object('views', g, 'tags', jsonb_build_array('t' || g % 9))
FROM generate_series(1, %(posts)s) g;
INSERT INTO comments (post_id, body) SELECT 1 + g %% %(posts)s, 'comment ' || md5(g::text)
FROM generate_series(1, %(posts)s * 2) g;
SELECT nextval('invoice_numbers') FROM generate_series(1, 7);
CREATE INDEX posts_author ON posts (author_id);
CREATE INDEX posts_attributes ON posts USING gin (attributes);
CREATE VIEW published AS
SELECT p.id, p.title, a.login FROM posts p JOIN authors a ON a.id = p.author_id;
CREATE FUNCTION post_count(author bigint) RETURNS bigint LANGUAGE sql STABLE
AS $$ SELECT count(*) FROM posts WHERE author_id = author $$;
"""

MYSQL_SCHEMA = [
    "CREATE TABLE authors (id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " login varchar(60) NOT NULL, email varchar(100), UNIQUE KEY login (login)) ENGINE=InnoDB",
    "CREATE TABLE posts (id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " author_id bigint unsigned NOT NULL, title text NOT NULL, body longtext NOT NULL,"
    " created datetime NOT NULL, KEY author (author_id), KEY created (created),"
    " CONSTRAINT posts_author FOREIGN KEY (author_id) REFERENCES authors (id)) ENGINE=InnoDB",
    "INSERT INTO authors (login, email) SELECT CONCAT('author', seq), CONCAT('a', seq, '@x.org')"
    " FROM seq_1_to_50",
    "INSERT INTO posts (author_id, title, body, created) SELECT 1 + seq % 50,"
    " CONCAT('Post ', seq, ' it''s \"quoted\" ),( ;'),"
    " REPEAT(CONCAT(MD5(seq), '\\n', SHA1(seq), ' ),(;\\n'), 30),"
    " '2024-01-01' + INTERVAL seq MINUTE FROM seq_1_to_{posts}",
    "DELETE FROM posts WHERE id % 97 = 0",
    "CREATE VIEW published AS SELECT p.id, p.title, a.login FROM posts p"
    " JOIN authors a ON a.id = p.author_id",
    "CREATE FUNCTION post_count(author bigint) RETURNS bigint READS SQL DATA"
    " RETURN (SELECT COUNT(*) FROM posts WHERE author_id = author)",
    "CREATE TRIGGER posts_title BEFORE INSERT ON posts FOR EACH ROW"
    " SET NEW.title = CONCAT('[trigger] ', NEW.title)",
]


@dataclass(frozen=True)
class Database:
    url: str
    name: str
    user: str
    password: str


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(PG_ADMIN, autocommit=True)


def _mysql_admin(
    database: str | None = None,
) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user="root",
        password="",
        database=database,
        autocommit=True,
    )


@pytest.fixture(scope="session")
def pg_role() -> Iterator[tuple[str, str]]:
    user = "dbcopy_" + secrets.token_hex(4)
    # Characters that must be percent-encoded in a URL, so that the URL handling is tested too.
    password = "Pw:" + secrets.token_hex(8) + "@/%"
    with _pg_admin() as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(password)
            )
        )
    yield user, password
    with _pg_admin() as admin:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))


def _pg_database(role: tuple[str, str], prefix: str) -> Database:
    user, password = role
    name = f"{prefix}_{secrets.token_hex(4)}"
    with _pg_admin() as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(user)
            )
        )
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={name}", autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(user)))
    url = f"postgresql://{user}:{quote(password, safe='')}@127.0.0.1:5432/{name}"
    return Database(url=url, name=name, user=user, password=password)


def _drop_pg(name: str) -> None:
    with _pg_admin() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def fill_pg(database: Database, posts: int = 2000) -> None:
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(PG_SCHEMA.replace("%(posts)s", str(posts)).replace("%%", "%"))


@pytest.fixture
def pg_source(pg_role: tuple[str, str]) -> Iterator[Database]:
    database = _pg_database(pg_role, "dbcopy_src")
    fill_pg(database)
    yield database
    _drop_pg(database.name)


@pytest.fixture
def pg_target(pg_role: tuple[str, str]) -> Iterator[Database]:
    database = _pg_database(pg_role, "dbcopy_dst")
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE leftover (id int PRIMARY KEY)")
        conn.execute("CREATE SCHEMA old_stuff")
        conn.execute("CREATE TABLE old_stuff.things (id int)")
    yield database
    _drop_pg(database.name)


@pytest.fixture(scope="session")
def mysql_user() -> Iterator[tuple[str, str]]:
    user = "dbcopy_" + secrets.token_hex(4)
    password = "Pw:" + secrets.token_hex(8) + "@/%"
    with _mysql_admin() as admin, admin.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
    yield user, password
    with _mysql_admin() as admin, admin.cursor() as cur:
        cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))


def _mysql_database(user: tuple[str, str], prefix: str) -> Database:
    name, password = user
    database = f"{prefix}_{secrets.token_hex(4)}"
    with _mysql_admin() as admin, admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{database}`")
        cur.execute(f"GRANT ALL ON `{database}`.* TO %s@'%%'", (name,))
    url = f"mariadb://{name}:{quote(password, safe='')}@127.0.0.1:3306/{database}"
    return Database(url=url, name=database, user=name, password=password)


def _drop_mysql(name: str) -> None:
    with _mysql_admin() as admin, admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def as_owner(database: Database) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    """A session of the MariaDB database's own user (the site's user, as on Railway)."""
    return pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user=database.user,
        password=database.password,
        database=database.name,
        autocommit=True,
    )


@pytest.fixture
def mysql_source(mysql_user: tuple[str, str]) -> Iterator[Database]:
    database = _mysql_database(mysql_user, "dbcopy_src")
    # Created by the site's own user, as on Railway: the definer of the view, the function and
    # the trigger is the user the copy connects as.
    with as_owner(database) as conn, conn.cursor() as cur:
        for statement in MYSQL_SCHEMA:
            cur.execute(statement.replace("{posts}", "3000"))
        # Production tables have up-to-date statistics; fresh ones report 16 KB until analysed.
        cur.execute("ANALYZE TABLE authors, posts")
    yield database
    _drop_mysql(database.name)


@pytest.fixture
def mysql_target(mysql_user: tuple[str, str]) -> Iterator[Database]:
    database = _mysql_database(mysql_user, "dbcopy_dst")
    with _mysql_admin(database.name) as admin, admin.cursor() as cur:
        cur.execute("CREATE TABLE leftover (id int PRIMARY KEY)")
    yield database
    _drop_mysql(database.name)


def copy_tool_processes(marker: str) -> list[str]:
    """Command lines of the copy tools still running whose command line mentions ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if comm in COPY_TOOLS and marker in cmdline:
            found.append(cmdline)
    return found


def all_command_lines() -> list[str]:
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines.append(
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
            except OSError:
                continue
    return lines


class Sampler(threading.Thread):
    """Collects every command line on the machine while a copy runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.seen: set[str] = set()

    def run(self) -> None:
        while not self.stop.is_set():
            self.seen.update(all_command_lines())
            self.stop.wait(0.01)


@dataclass
class Hold:
    """Where the copy is held: ``reached`` is set once its worker waits there."""

    phases: frozenset[str]
    reached: threading.Event


@pytest.fixture
def copy_held_until_stopped(monkeypatch: pytest.MonkeyPatch) -> Hold:
    """The copy's worker stops at its first child process of the data or index phase, with that
    process running, until the copy is aborted: a cancel or a timeout then always meets a copy
    in progress, however fast the machine (a real copy of a few MB can finish between two of
    the supervisor's looks)."""
    hold = Hold(phases=frozenset({"data", "indexes"}), reached=threading.Event())
    spawn = Attempt.spawn

    @contextlib.contextmanager
    def held_spawn(attempt: Attempt, *args: object, **kwargs: object) -> Iterator[object]:
        with spawn(attempt, *args, **kwargs) as process:  # type: ignore[arg-type]
            if attempt.phase in hold.phases and not hold.reached.is_set():
                hold.reached.set()
                give_up = time.monotonic() + 60
                while not attempt.aborted:
                    assert time.monotonic() < give_up, "the held copy was never stopped"
                    time.sleep(0.01)
            yield process

    monkeypatch.setattr(Attempt, "spawn", held_spawn)
    return hold


def before_the_first(
    monkeypatch: pytest.MonkeyPatch, phase: str, action: Callable[[], object]
) -> None:
    """Run ``action`` in the copy's worker just before it first enters ``phase``."""
    enter = Attempt.enter
    done = threading.Event()

    def enter_after_the_action(attempt: Attempt, name: str) -> None:
        if name == phase and not done.is_set():
            done.set()
            action()
        enter(attempt, name)

    monkeypatch.setattr(Attempt, "enter", enter_after_the_action)


# -- what a PostgreSQL copy must reproduce, and what it must not leave behind --

SNAPSHOT_QUERIES = {
    "counts": "SELECT (SELECT count(*) FROM authors), (SELECT count(*) FROM posts),"
    " (SELECT count(*) FROM comments)",
    "checksum": "SELECT md5(string_agg(p::text, '|' ORDER BY id)) FROM posts p",
    "indexes": "SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes"
    " WHERE schemaname = 'public'",
    "constraints": "SELECT string_agg(conname || ':' || contype::text, ',' ORDER BY conname)"
    " FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
    "sequences": "SELECT string_agg(sequencename || '=' || coalesce(last_value, 0), ','"
    " ORDER BY sequencename) FROM pg_sequences",
    "view": "SELECT count(*) FROM published",
    "function": "SELECT post_count(3)",
    "gin": "SELECT count(*) FROM posts WHERE attributes @> '{\"views\": 7}'",
}


def snapshot(database: Database) -> dict[str, object]:
    with psycopg.connect(database.url) as conn:
        return {name: conn.execute(query).fetchone() for name, query in SNAPSHOT_QUERIES.items()}


def sessions_left(*databases: Database) -> list[object]:
    names = [database.name for database in databases]
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as admin:
        for _ in range(50):
            rows = admin.execute(
                "SELECT datname, application_name, query FROM pg_stat_activity"
                " WHERE datname = ANY(%s) AND application_name = 'understudy-dbcopy'",
                (names,),
            ).fetchall()
            if not rows:
                return []
            time.sleep(0.1)
    return list(rows)
