# ruff: noqa: S608 - SQL built from the benchmark's own table names, never from input
"""How fast the copy engine copies a database, against the usual dump-and-load tools.

Builds site-like source databases inside the local PostgreSQL and MariaDB (by default about
100 MB, 500 MB and 1 GB of each), generated server-side: PostgreSQL with wide text tables,
jsonb, btree and GIN indexes, foreign keys, a CHECK, sequences, a view and a function; MariaDB
WordPress-shaped (``wp_posts``, ``wp_postmeta``, ``wp_comments``, ``wp_users``, ``wp_options``
with WordPress's keys, a view, a function and a trigger). Each source is copied in rounds, each
time into a fresh target, by every method, in an order that turns each round (A B C, B C A,
C A B) so that no method always runs first:

- PostgreSQL: the engine (``staging.dbcopy.copy_database``, in a child Python process);
  ``pg_dump --no-owner | psql`` (the baseline); ``pgcopydb clone --table-jobs 2
  --index-jobs 2``;
- MariaDB: the engine; ``mariadb-dump --single-transaction --routines | mariadb`` (the
  baseline); ``mydumper`` into a temporary directory, then ``myloader``, 2 threads each.

The peers (pgcopydb, mydumper) run when installed; a missing one is installed from its Debian
package when the benchmark runs as root, and skipped, with the reason, otherwise. Every copy is
verified, outside the timing: the exact row count and a checksum of the rows of every table
(PostgreSQL: the sum of ``hashtext`` of each row's text; MariaDB: ``CHECKSUM TABLE``), index
and constraint definitions, views, routines, triggers, and sequence values (PostgreSQL). The
engine's child process reports its peak RSS and its own CPU time (``getrusage``; its client
tools, ``pg_dump`` and the like, are not counted).

Printed: the machine (date, cores, load average before and after, server and tool versions),
then a Markdown table: each method's seconds per round and their median, the ratio baseline /
method of each round, the median of those ratios with their spread, and the engine's peak RSS
and CPU seconds. The same figures go to a JSON file (``--json``). Every database the benchmark
made (``bench_dbcopy_*``) is dropped at the end, on an error and on Ctrl-C.

    .venv/bin/python -m benchmarks.dbcopy_bench [--pg-sizes 100,500,1000] \
        [--mysql-sizes 100,500,1000] [--repeat 3] [--json var/bench/dbcopy.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import psycopg
import pymysql
from psycopg import sql

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
MY_HOST, MY_PORT, MY_USER = "127.0.0.1", 3306, "root"
PREFIX = "bench_dbcopy_"
# Rows of the large table per MB of source, measured on the shapes below (the other tables
# scale with it). PostgreSQL: of pg_database_size, an empty database being 7.5 MB. MariaDB: of
# data + index length, with about 7 MB of small tables and page overhead (250 rows per MB gave
# 98 MB, 462 MB and 914 MB for 100, 500 and 1000).
POSTS_PER_MB = 250
PG_EMPTY_MB = 8
MY_POSTS_PER_MB = 274
MY_FIXED_MB = 7
PARAGRAPHS = 1000
DEFAULT_SIZES = "100,500,1000"
DEFAULT_JSON = "var/bench/dbcopy.json"
# The peers' parallelism: jobs for pgcopydb, threads for mydumper and myloader (2 cores).
PEER_JOBS = 2
# Each peer: the Debian package that brings it, and the commands it must provide.
PEERS = {"pgcopydb": ("pgcopydb",), "mydumper": ("mydumper", "myloader")}
WORDS = (
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
    "duis",
    "aute",
    "irure",
    "in",
    "reprehenderit",
    "voluptate",
    "velit",
    "esse",
    "cillum",
    "eu",
    "fugiat",
    "nulla",
    "pariatur",
    "excepteur",
    "sint",
    "occaecat",
    "cupidatat",
    "non",
    "proident",
    "sunt",
    "culpa",
    "qui",
    "officia",
    "deserunt",
    "mollit",
    "anim",
    "id",
    "est",
    "laborum",
    "shop",
    "order",
    "cart",
    "product",
    "price",
    "shipping",
    "customer",
    "review",
    "gallery",
    "image",
    "video",
    "category",
    "tag",
    "archive",
    "page",
)

PG_SCHEMA = """
SELECT setseed(0.42);
CREATE TABLE bench_paragraphs AS
SELECT i AS id,
       (SELECT string_agg(w[1 + floor(random() * array_length(w, 1))::int + 0 * j], ' ')
        FROM generate_series(1, 40 + mod(i * 37, 90)) j) AS body
FROM generate_series(1, {paragraphs}) i, (SELECT %(words)s::text[] AS w) words;

CREATE TABLE users (
    id bigserial PRIMARY KEY,
    login text NOT NULL UNIQUE,
    email text NOT NULL,
    display_name text NOT NULL,
    registered timestamptz NOT NULL,
    meta jsonb NOT NULL
);
CREATE TABLE posts (
    id bigserial PRIMARY KEY,
    author_id bigint NOT NULL REFERENCES users (id),
    slug text NOT NULL UNIQUE,
    title text NOT NULL,
    status text NOT NULL,
    body text NOT NULL,
    excerpt text NOT NULL,
    attributes jsonb NOT NULL,
    created timestamptz NOT NULL,
    modified timestamptz NOT NULL,
    CONSTRAINT posts_title_not_blank CHECK (title <> '')
);
CREATE TABLE postmeta (
    meta_id bigserial PRIMARY KEY,
    post_id bigint NOT NULL REFERENCES posts (id),
    meta_key text NOT NULL,
    meta_value text
);
CREATE TABLE comments (
    id bigserial PRIMARY KEY,
    post_id bigint NOT NULL REFERENCES posts (id),
    author_email text NOT NULL,
    content text NOT NULL,
    approved boolean NOT NULL,
    created timestamptz NOT NULL
);
CREATE TABLE options (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    value text NOT NULL,
    autoload boolean NOT NULL
);
CREATE SEQUENCE invoice_numbers START 1000;

INSERT INTO users (login, email, display_name, registered, meta)
SELECT 'user' || g, 'user' || g || '@example.com', 'User ' || md5(g::text),
       '2020-01-01'::timestamptz + g * interval '1 hour',
       jsonb_build_object('role', (ARRAY['editor', 'author', 'subscriber'])[1 + g % 3],
                          'locale', 'en_US', 'sessions', g % 7)
FROM generate_series(1, greatest({posts} / 20, 10)) g;

INSERT INTO posts (author_id, slug, title, status, body, excerpt, attributes, created, modified)
SELECT 1 + g % greatest({posts} / 20, 10), 'post-' || g || '-' || left(md5(g::text), 8),
       'Post ' || g || ': ' || left(p.a[1 + g % {paragraphs}], 60),
       (ARRAY['publish', 'draft', 'private', 'publish'])[1 + g % 4],
       array_to_string(p.a[1 + (g * 37) % ({paragraphs} - 10) : 2 + (g * 37) % ({paragraphs} - 10)
                            + g % 9], E'\\n\\n') || ' ' || md5(g::text),
       left(p.a[1 + (g * 13) % {paragraphs}], 200),
       jsonb_build_object('views', g % 5000, 'featured', g % 10 = 0,
                          'tags', jsonb_build_array('t' || g % 97, 't' || g % 13),
                          'seo', jsonb_build_object('title', 'Post ' || g, 'score', g % 100)),
       '2021-01-01'::timestamptz + g * interval '7 minutes',
       '2021-01-02'::timestamptz + g * interval '7 minutes'
FROM generate_series(1, {posts}) g,
     (SELECT array_agg(body ORDER BY id) AS a FROM bench_paragraphs) p;

INSERT INTO postmeta (post_id, meta_key, meta_value)
SELECT 1 + g % {posts}, (ARRAY['_thumbnail_id', '_edit_lock', '_price', '_sku', '_stock',
                               '_wp_page_template'])[1 + g % 6],
       CASE WHEN g % 6 = 5 THEN 'a:2:{{s:4:"size";s:5:"large";s:3:"md5";s:32:"' || md5(g::text)
                                 || '";}}'
            ELSE (g::bigint * 7919 % 100000)::text END
FROM generate_series(1, {posts} * 6) g;

INSERT INTO comments (post_id, author_email, content, approved, created)
SELECT 1 + g % {posts}, 'reader' || g % 5000 || '@example.org',
       left(p.a[1 + (g * 7) % {paragraphs}], 100 + g % 400), g % 5 <> 0,
       '2022-01-01'::timestamptz + g * interval '3 minutes'
FROM generate_series(1, {posts} * 2) g,
     (SELECT array_agg(body ORDER BY id) AS a FROM bench_paragraphs) p;

INSERT INTO options (name, value, autoload)
SELECT 'option_' || g, repeat(md5(g::text), 1 + g % 8), g % 3 = 0
FROM generate_series(1, 3000) g;

DROP TABLE bench_paragraphs;
SELECT nextval('invoice_numbers') FROM generate_series(1, 7);

CREATE INDEX posts_author ON posts (author_id);
CREATE INDEX posts_status_created ON posts (status, created);
CREATE INDEX posts_attributes ON posts USING gin (attributes);
CREATE INDEX postmeta_post ON postmeta (post_id);
CREATE INDEX postmeta_key ON postmeta (meta_key);
CREATE INDEX comments_post ON comments (post_id);
CREATE INDEX comments_created ON comments (created);
CREATE VIEW published AS
SELECT p.id, p.title, u.login FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.status = 'publish';
CREATE FUNCTION post_count(author bigint) RETURNS bigint LANGUAGE sql STABLE
AS $$ SELECT count(*) FROM posts WHERE author_id = author $$;
VACUUM ANALYZE;
"""

MY_SCHEMA = [
    "CREATE TABLE bench_paragraphs (id int NOT NULL PRIMARY KEY, body text NOT NULL)",
    "CREATE TABLE wp_users (ID bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " user_login varchar(60) NOT NULL, user_email varchar(100) NOT NULL,"
    " user_registered datetime NOT NULL, display_name varchar(250) NOT NULL,"
    " UNIQUE KEY user_login_key (user_login), KEY user_email (user_email))"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE wp_posts (ID bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " post_author bigint unsigned NOT NULL, post_date datetime NOT NULL,"
    " post_content longtext NOT NULL, post_title text NOT NULL, post_excerpt text NOT NULL,"
    " post_status varchar(20) NOT NULL, post_name varchar(200) NOT NULL,"
    " post_modified datetime NOT NULL, post_type varchar(20) NOT NULL,"
    " KEY post_name (post_name(191)), KEY type_status_date (post_type, post_status, post_date,"
    " ID), KEY post_author (post_author)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE wp_postmeta (meta_id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " post_id bigint unsigned NOT NULL, meta_key varchar(255), meta_value longtext,"
    " KEY post_id (post_id), KEY meta_key (meta_key(191)))"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE wp_comments (comment_ID bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " comment_post_ID bigint unsigned NOT NULL, comment_author_email varchar(100) NOT NULL,"
    " comment_date datetime NOT NULL, comment_content text NOT NULL,"
    " comment_approved varchar(20) NOT NULL, KEY comment_post_ID (comment_post_ID),"
    " KEY comment_approved_date (comment_approved, comment_date))"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE wp_options (option_id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " option_name varchar(191) NOT NULL, option_value longtext NOT NULL,"
    " autoload varchar(20) NOT NULL, UNIQUE KEY option_name (option_name))"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "INSERT INTO wp_users (user_login, user_email, user_registered, display_name)"
    " SELECT CONCAT('user', seq), CONCAT('user', seq, '@example.com'),"
    " '2020-01-01' + INTERVAL seq HOUR, CONCAT('User ', MD5(seq)) FROM seq_1_to_{users}",
    "INSERT INTO wp_posts (post_author, post_date, post_content, post_title, post_excerpt,"
    " post_status, post_name, post_modified, post_type)"
    " SELECT 1 + seq % {users}, '2021-01-01' + INTERVAL seq * 7 MINUTE,"
    " CONCAT(p1.body, '\\n\\n', IF(seq % 3 = 0, '', CONCAT(p2.body, '\\n\\n')),"
    " IF(seq % 2 = 0, '', p3.body), ' ', MD5(seq)),"
    " CONCAT('Post ', seq, ': it''s \"quoted\"'), LEFT(p2.body, 200),"
    " ELT(1 + seq % 4, 'publish', 'draft', 'private', 'publish'),"
    " CONCAT('post-', seq), '2021-01-02' + INTERVAL seq * 7 MINUTE,"
    " ELT(1 + seq % 3, 'post', 'page', 'product')"
    " FROM seq_1_to_{posts}"
    " JOIN bench_paragraphs p1 ON p1.id = 1 + seq % {paragraphs}"
    " JOIN bench_paragraphs p2 ON p2.id = 1 + (seq * 7) % {paragraphs}"
    " JOIN bench_paragraphs p3 ON p3.id = 1 + (seq * 13) % {paragraphs}",
    "INSERT INTO wp_postmeta (post_id, meta_key, meta_value)"
    " SELECT 1 + seq % {posts}, ELT(1 + seq % 6, '_thumbnail_id', '_edit_lock', '_price',"
    " '_sku', '_stock', '_wp_attachment_metadata'),"
    ' IF(seq % 6 = 5, CONCAT(\'a:2:{{s:4:"size";s:5:"large";s:3:"md5";s:32:"\', MD5(seq),'
    " '\";}}'), (seq * 7919) % 100000) FROM seq_1_to_{postmeta}",
    "INSERT INTO wp_comments (comment_post_ID, comment_author_email, comment_date,"
    " comment_content, comment_approved)"
    " SELECT 1 + seq % {posts}, CONCAT('reader', seq % 5000, '@example.org'),"
    " '2022-01-01' + INTERVAL seq * 3 MINUTE, LEFT(p.body, 100 + seq % 400),"
    " IF(seq % 5 = 0, '0', '1') FROM seq_1_to_{comments}"
    " JOIN bench_paragraphs p ON p.id = 1 + (seq * 7) % {paragraphs}",
    "INSERT INTO wp_options (option_name, option_value, autoload)"
    " SELECT CONCAT('option_', seq), REPEAT(MD5(seq), 1 + seq % 8), IF(seq % 3 = 0, 'yes', 'no')"
    " FROM seq_1_to_3000",
    "DROP TABLE bench_paragraphs",
    "CREATE VIEW published AS SELECT p.ID, p.post_title, u.user_login FROM wp_posts p"
    " JOIN wp_users u ON u.ID = p.post_author WHERE p.post_status = 'publish'",
    "CREATE FUNCTION post_count(author bigint) RETURNS bigint READS SQL DATA"
    " RETURN (SELECT COUNT(*) FROM wp_posts WHERE post_author = author)",
    "CREATE TRIGGER wp_posts_modified BEFORE UPDATE ON wp_posts FOR EACH ROW"
    " SET NEW.post_modified = NOW()",
    "ANALYZE TABLE wp_users, wp_posts, wp_postmeta, wp_comments, wp_options",
]


# -- cleaning up, whatever happens ------------------------------------------------------------


class Cleanup:
    """Every database and child process the benchmark made, so that all of them go at the end."""

    def __init__(self) -> None:
        self.pg: set[str] = set()
        self.mysql: set[str] = set()
        self.children: set[subprocess.Popen[bytes]] = set()
        self.lock = threading.Lock()

    def run(self) -> None:
        with self.lock:
            children = list(self.children)
        for child in children:
            stop_child(child)
        for name in sorted(self.pg):
            with contextlib.suppress(psycopg.Error):
                drop_pg(name)
            self.pg.discard(name)
        for name in sorted(self.mysql):
            with contextlib.suppress(pymysql.Error):
                drop_mysql(name)
            self.mysql.discard(name)


CLEANUP = Cleanup()


def stop_child(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM first: the engine's child then cancels its copy and stops its own tools."""
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=10)


@contextlib.contextmanager
def child(command: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, start_new_session=True, **kwargs)
    with CLEANUP.lock:
        CLEANUP.children.add(process)
    try:
        yield process
    finally:
        if process.poll() is None:
            stop_child(process)
        with CLEANUP.lock:
            CLEANUP.children.discard(process)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


# -- PostgreSQL ------------------------------------------------------------------------------


def pg_admin(database: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database, autocommit=True
    )


def pg_url(name: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def create_pg(name: str) -> None:
    CLEANUP.pg.add(name)
    with pg_admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_pg(name: str) -> None:
    with pg_admin() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    CLEANUP.pg.discard(name)


def build_pg(name: str, megabytes: int) -> int:
    """Create and fill a source of about ``megabytes`` MB; returns its size in bytes."""
    create_pg(name)
    posts = max(megabytes - PG_EMPTY_MB, 1) * POSTS_PER_MB
    script = PG_SCHEMA.format(posts=posts, paragraphs=PARAGRAPHS)
    with pg_admin(name) as conn:
        for statement in _statements(script):
            conn.execute(statement, {"words": list(WORDS)} if "%(words)s" in statement else None)
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def _statements(script: str) -> list[str]:
    """Split on ``;`` at line ends, outside the one dollar-quoted function body."""
    statements, current, quoted = [], [], False
    for line in script.strip().splitlines():
        current.append(line)
        quoted ^= line.count("$$") % 2 == 1
        if line.rstrip().endswith(";") and not quoted:
            statements.append("\n".join(current))
            current = []
    return statements


def pg_facts(name: str) -> dict[str, Any]:
    """What a copy must reproduce: every table's rows (exact count and checksum), the index and
    constraint definitions, the views, the numbers of functions and triggers, the sequences."""
    with pg_admin(name) as conn:

        def strings(query: str) -> list[str]:
            return sorted(str(row[0]) for row in conn.execute(query))

        def number(query: str) -> int:
            row = conn.execute(query).fetchone()
            return int(row[0]) if row else 0

        rows: dict[str, list[int]] = {}
        for table in strings(
            "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND relkind IN ('r', 'p')"
        ):
            # The sum of a hash of each row's text: a changed, lost or added value changes it.
            count, checksum = conn.execute(
                sql.SQL("SELECT count(*), coalesce(sum(hashtext(t::text)), 0) FROM {} AS t").format(
                    sql.Identifier(table)
                )
            ).fetchone() or (0, 0)
            rows[table] = [int(count), int(checksum)]
        return {
            "rows": rows,
            "indexes": strings("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'"),
            "constraints": strings(
                "SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(c.oid)"
                " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
                " WHERE n.nspname = 'public'"
            ),
            "views": strings(
                "SELECT viewname || ': ' || definition FROM pg_views WHERE schemaname = 'public'"
            ),
            "functions": number(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = 'public'"
            ),
            "triggers": number(
                "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND NOT t.tgisinternal"
            ),
            "sequences": strings(
                "SELECT sequencename || ' ' || coalesce(last_value::text, 'unused')"
                " FROM pg_sequences WHERE schemaname = 'public'"
            ),
        }


def pg_dump_psql(source: str, target: str) -> None:
    with tempfile.TemporaryFile() as errors:
        with child(
            ["pg_dump", "--no-owner", f"--dbname={pg_url(source)}"],
            stdout=subprocess.PIPE,
            stderr=errors,
        ) as dump:
            assert dump.stdout is not None
            with child(
                ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", f"--dbname={pg_url(target)}"],
                stdin=dump.stdout,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            ) as load:
                dump.stdout.close()
                load.wait()
            dump.wait()
        if dump.returncode or load.returncode:
            raise RuntimeError(f"pg_dump | psql failed: {tail(errors)}")


def pgcopydb(source: str, target: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pgcopydb-") as workdir:
        run_tool(
            [
                "pgcopydb",
                "clone",
                f"--source={pg_url(source)}",
                f"--target={pg_url(target)}",
                f"--table-jobs={PEER_JOBS}",
                f"--index-jobs={PEER_JOBS}",
                "--no-owner",
                "--no-acl",
                f"--dir={workdir}",
            ]
        )


def run_tool(command: list[str]) -> None:
    """Run one peer tool to its end; its output is kept only for the error of a failure."""
    with tempfile.TemporaryFile() as output:
        with child(command, stdout=output, stderr=output) as process:
            process.wait()
        if process.returncode:
            raise RuntimeError(f"{command[0]} failed: {tail(output)}")


def tail(output: IO[bytes]) -> str:
    output.seek(0)
    return repr(output.read()[-2000:])


# -- MariaDB ---------------------------------------------------------------------------------


def my_admin(database: str | None = None) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=MY_HOST, port=MY_PORT, user=MY_USER, password="", database=database, autocommit=True
    )


def my_url(name: str) -> str:
    return f"mariadb://{MY_USER}@{MY_HOST}:{MY_PORT}/{name}"


def create_mysql(name: str) -> None:
    CLEANUP.mysql.add(name)
    with my_admin() as admin, admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")


def drop_mysql(name: str) -> None:
    with my_admin() as admin, admin.cursor() as cur:
        # A session left behind by an interrupted copy would hold a metadata lock for ever.
        cur.execute("SELECT id FROM information_schema.PROCESSLIST WHERE db = %s", (name,))
        for (thread_id,) in cur.fetchall():
            with contextlib.suppress(pymysql.Error):
                cur.execute(f"KILL {int(thread_id)}")
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    CLEANUP.mysql.discard(name)


def build_mysql(name: str, megabytes: int) -> int:
    """Create and fill a WordPress-shaped source of about ``megabytes`` MB of data and index;
    returns that size in bytes."""
    create_mysql(name)
    posts = max(megabytes - MY_FIXED_MB, 1) * MY_POSTS_PER_MB
    values = {
        "posts": posts,
        "users": max(posts // 20, 10),
        "postmeta": posts * 6,
        "comments": posts * 2,
        "paragraphs": PARAGRAPHS,
    }
    with my_admin(name) as conn, conn.cursor() as cur:
        cur.execute("SET SESSION rand_seed1 = 42, rand_seed2 = 42")
        cur.execute(MY_SCHEMA[0])
        rows = []
        for i in range(1, PARAGRAPHS + 1):
            length = 40 + (i * 37) % 90
            words = [WORDS[(i * 7919 + j * 104729 + j * j) % len(WORDS)] for j in range(length)]
            rows.append((i, " ".join(words)))
        # A thousand short rows of seed text in one statement; the bulk is made by the server.
        cur.executemany("INSERT INTO bench_paragraphs VALUES (%s, %s)", rows)
        for statement in MY_SCHEMA[1:]:
            cur.execute(statement.format(**values))
            if statement.startswith("ANALYZE"):
                cur.fetchall()
        cur.execute(
            "SELECT SUM(data_length + index_length) FROM information_schema.TABLES"
            " WHERE table_schema = DATABASE()"
        )
        row = cur.fetchone()
    return int(row[0]) if row and row[0] else 0


def mysql_facts(name: str) -> dict[str, Any]:
    """What a copy must reproduce: every table's rows (exact count and checksum), the keys and
    constraints, and the numbers of views, routines, triggers and events."""
    with my_admin(name) as conn, conn.cursor() as cur:

        def strings(query: str) -> list[str]:
            cur.execute(query)
            return sorted(str(row[0]) for row in cur.fetchall())

        def number(query: str) -> int:
            cur.execute(query)
            return int((cur.fetchone() or (0,))[0])

        tables = strings(
            "SELECT table_name FROM information_schema.TABLES WHERE table_schema = DATABASE()"
            " AND table_type = 'BASE TABLE'"
        )
        rows = {table: [number(f"SELECT COUNT(*) FROM `{table}`")] for table in tables}
        if tables:
            # CHECKSUM TABLE reads every row. Source and copy are on one server, with the same
            # storage engine and row format, so equal rows give equal checksums.
            cur.execute("CHECKSUM TABLE " + ", ".join(f"`{table}`" for table in tables))
            checksums = {str(qualified): checksum for qualified, checksum in cur.fetchall()}
            for table in tables:
                rows[table].append(int(checksums[f"{name}.{table}"]))
        return {
            "rows": rows,
            "keys": strings(
                "SELECT CONCAT_WS(' ', table_name, index_name, index_type, non_unique,"
                " GROUP_CONCAT(CONCAT(column_name, IFNULL(CONCAT('(', sub_part, ')'), ''))"
                " ORDER BY seq_in_index)) FROM information_schema.STATISTICS"
                " WHERE table_schema = DATABASE() GROUP BY table_name, index_name, index_type,"
                " non_unique"
            ),
            "constraints": strings(
                "SELECT CONCAT_WS(' ', table_name, constraint_name, constraint_type)"
                " FROM information_schema.TABLE_CONSTRAINTS WHERE table_schema = DATABASE()"
            ),
            "views": number(
                "SELECT COUNT(*) FROM information_schema.VIEWS WHERE table_schema = DATABASE()"
            ),
            "routines": number(
                "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE routine_schema = DATABASE()"
            ),
            "triggers": number(
                "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE trigger_schema = DATABASE()"
            ),
            "events": number(
                "SELECT COUNT(*) FROM information_schema.EVENTS WHERE event_schema = DATABASE()"
            ),
        }


MY_AUTH = [f"--host={MY_HOST}", f"--port={MY_PORT}", f"--user={MY_USER}"]


def mariadb_dump_load(source: str, target: str) -> None:
    with tempfile.TemporaryFile() as errors:
        with child(
            ["mariadb-dump", *MY_AUTH, "--single-transaction", "--routines", source],
            stdout=subprocess.PIPE,
            stderr=errors,
        ) as dump:
            assert dump.stdout is not None
            with child(["mariadb", *MY_AUTH, target], stdin=dump.stdout, stderr=errors) as load:
                dump.stdout.close()
                load.wait()
            dump.wait()
        if dump.returncode or load.returncode:
            raise RuntimeError(f"mariadb-dump | mariadb failed: {tail(errors)}")


def mydumper_myloader(source: str, target: str) -> dict[str, float]:
    """mydumper into a temporary directory, then myloader from it; the time is both (each one's
    is returned: mydumper's includes any wait for its global read lock).

    mydumper's default consistency: ``FLUSH TABLES WITH READ LOCK`` while its threads start
    their snapshots. ``--triggers --routines --events`` so that the copy holds what the
    engine's does.
    """
    with tempfile.TemporaryDirectory(prefix="bench-mydumper-") as workdir:
        dump = str(Path(workdir) / "dump")
        started = time.monotonic()
        run_tool(
            [
                "mydumper",
                *MY_AUTH,
                f"--database={source}",
                f"--outputdir={dump}",
                f"--threads={PEER_JOBS}",
                "--triggers",
                "--routines",
                "--events",
            ]
        )
        dumped = time.monotonic()
        run_tool(
            [
                "myloader",
                *MY_AUTH,
                f"--directory={dump}",
                f"--database={target}",
                f"--threads={PEER_JOBS}",
            ]
        )
        loaded = time.monotonic()
    return {"mydumper": dumped - started, "myloader": loaded - dumped}


# -- the peers: installed when missing, as root ----------------------------------------------


def installed(peer: str) -> bool:
    return all(shutil.which(command) for command in PEERS[peer])


def install_peers(peers: list[str]) -> dict[str, str]:
    """Install the missing peers from their Debian packages when this process is root.

    Returns, for each peer still missing, why it is skipped.
    """
    missing = [peer for peer in peers if not installed(peer)]
    if not missing:
        return {}
    apt_get = shutil.which("apt-get")
    if os.geteuid() != 0 or apt_get is None:
        why = "this is not root" if apt_get else "there is no apt-get here"
        return {peer: f"not installed, and {why} (apt-get install {peer})" for peer in missing}
    print(f"installing {' '.join(missing)} (apt-get install -y {' '.join(missing)})", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [apt_get, "install", "-y", "-qq", *missing]
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode:
        # Stale package lists are the usual cause: refresh them once and try again.
        subprocess.run([apt_get, "update", "-qq"], capture_output=True, env=environment)
        result = subprocess.run(command, capture_output=True, text=True, env=environment)
    error = (result.stderr.strip().splitlines() or ["no output"])[-1]
    return {
        peer: f"not installed, and apt-get install failed: {error}"
        for peer in missing
        if not installed(peer)
    }


# -- the engine, in a child process ----------------------------------------------------------


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float | None = None
    cpu_seconds: float | None = None  # the engine's process, without its child tools
    tools_cpu_seconds: float | None = None  # the engine's child tools (pg_dump and the like)
    method: str | None = None  # the engine's name for the way it copied
    parts: dict[str, float] | None = None  # seconds of each step, for a method of several


def engine_copy(source_url: str, target_url: str) -> Measured:
    """The engine's copy in a child process, so that its memory and CPU are its own. Its time is
    taken in the child around ``copy_database`` (a worker has the engine imported already)."""
    with tempfile.TemporaryFile() as output:
        with child(
            [sys.executable, "-m", "benchmarks.dbcopy_bench", "--child", source_url, target_url],
            stdout=output,
            stderr=output,
        ) as process:
            process.wait()
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    if process.returncode:
        raise RuntimeError(f"the engine failed: {text[-3000:]}")
    result = json.loads(text.strip().splitlines()[-1])
    return Measured(
        seconds=result["seconds"],
        peak_rss_mb=result["maxrss_kb"] / 1024,
        cpu_seconds=result["cpu_seconds"],
        tools_cpu_seconds=result["tools_cpu_seconds"],
        method=result["method"],
    )


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_child(source_url: str, target_url: str) -> None:
    """The engine's side: one copy, then as JSON its duration, this process's peak RSS and the
    CPU time of the copy, this process's (all its threads) apart from its child tools'."""
    from staging.dbcopy import copy_database

    cancel = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        cancel.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    own, tools = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    # The benchmark servers are local: loopback addresses are allowed here, as in development.
    report = copy_database(source_url, target_url, cancel=cancel, attempts=1, allow_private=True)
    seconds = time.monotonic() - started
    result = {
        "seconds": seconds,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "cpu_seconds": cpu_seconds(resource.RUSAGE_SELF) - own,
        "tools_cpu_seconds": cpu_seconds(resource.RUSAGE_CHILDREN) - tools,
        "method": report.method,
        "attempts": report.attempts,
    }
    print(json.dumps(result))


# -- the rounds ------------------------------------------------------------------------------


@dataclass
class Series:
    """One method and its figures, one entry per round."""

    label: str
    run: Callable[[str, str], Measured]
    baseline: bool = False
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    tools_cpu_seconds: list[float] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    parts: list[dict[str, float]] = field(default_factory=list)

    def add(self, measured: Measured) -> None:
        self.seconds.append(measured.seconds)
        if measured.peak_rss_mb is not None:
            self.peak_rss_mb.append(measured.peak_rss_mb)
        if measured.cpu_seconds is not None:
            self.cpu_seconds.append(measured.cpu_seconds)
        if measured.tools_cpu_seconds is not None:
            self.tools_cpu_seconds.append(measured.tools_cpu_seconds)
        if measured.method is not None:
            self.methods.append(measured.method)
        if measured.parts is not None:
            self.parts.append(measured.parts)


def timed(
    function: Callable[[str, str], dict[str, float] | None],
) -> Callable[[str, str], Measured]:
    """A peer's copy, timed here; it may return the seconds of its steps."""

    def run(source: str, target: str) -> Measured:
        started = time.monotonic()
        parts = function(source, target)
        return Measured(seconds=time.monotonic() - started, parts=parts)

    return run


@dataclass
class Bench:
    """One source (an engine at one size) and every method's rounds on it."""

    database: str  # the server, e.g. "PostgreSQL 15.14"
    megabytes: int  # the size asked for
    size_bytes: int  # the size built
    build_seconds: float
    series: list[Series]
    load: list[float] = field(default_factory=list)  # the 1-minute load average at each round

    @property
    def gigabytes(self) -> float:
        return self.size_bytes / 1e9

    def ratios(self, series: Series) -> list[float]:
        """Per round: the baseline's seconds over the method's, in the same round."""
        baseline = next(s for s in self.series if s.baseline)
        return [b / s for b, s in zip(baseline.seconds, series.seconds, strict=True)]


def run_rounds(
    bench: Bench,
    source: str,
    repeat: int,
    create: Callable[[str], None],
    drop: Callable[[str], None],
    facts: Callable[[str], dict[str, Any]],
) -> None:
    """Copy the source ``repeat`` times with every method, each copy verified and dropped."""
    expected = facts(source)
    for number in range(repeat):
        bench.load.append(os.getloadavg()[0])
        # The order turns each round, so that no method always runs first (cold caches).
        shift = number % len(bench.series)
        for series in bench.series[shift:] + bench.series[:shift]:
            target = f"{PREFIX}dst_{secrets.token_hex(3)}"
            create(target)
            try:
                measured = series.run(source, target)
                wrong = differences(expected, facts(target))
                if wrong:
                    raise RuntimeError(f"{series.label} made a wrong copy: {'; '.join(wrong)}")
            finally:
                drop(target)
            series.add(measured)
            extra = ""
            if measured.peak_rss_mb is not None and measured.cpu_seconds is not None:
                extra = (
                    f", peak RSS {measured.peak_rss_mb:.0f} MB, CPU {measured.cpu_seconds:.1f} s"
                )
            if measured.parts:
                steps = ", ".join(f"{step} {s:.1f} s" for step, s in measured.parts.items())
                extra = f" ({steps})"
            print(
                f"    round {number + 1}: {series.label}: {measured.seconds:.1f} s{extra}",
                flush=True,
            )


def differences(expected: dict[str, Any], copied: dict[str, Any]) -> list[str]:
    """Where a copy's facts differ from its source's, said briefly."""
    found = []
    for key in sorted(expected.keys() | copied.keys()):
        want, got = expected.get(key), copied.get(key)
        if want == got:
            continue
        if isinstance(want, dict) and isinstance(got, dict):
            found += [
                f"{key} {name}: {want.get(name)} != {got.get(name)}"
                for name in sorted(want.keys() | got.keys())
                if want.get(name) != got.get(name)
            ]
        elif isinstance(want, list) and isinstance(got, list):
            missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            found.append(f"{key}: missing {missing[:5]}, extra {extra[:5]}")
        else:
            found.append(f"{key}: {want} != {got}")
    return found


def bench_postgres(megabytes: int, repeat: int, skipped: dict[str, str]) -> Bench:
    source = f"{PREFIX}src_pg_{megabytes}_{secrets.token_hex(3)}"
    try:
        started = time.monotonic()
        size = build_pg(source, megabytes)
        bench = Bench(
            database=f"PostgreSQL {server_versions(['postgres'])['postgres'].split()[0]}",
            megabytes=megabytes,
            size_bytes=size,
            build_seconds=time.monotonic() - started,
            series=[
                Series("pg_dump --no-owner | psql", timed(pg_dump_psql), baseline=True),
                Series("engine (copy_database)", lambda s, t: engine_copy(pg_url(s), pg_url(t))),
            ],
        )
        if "pgcopydb" not in skipped:
            bench.series.append(
                Series(f"pgcopydb clone ({PEER_JOBS}+{PEER_JOBS} jobs)", timed(pgcopydb))
            )
        print(
            f"PostgreSQL {megabytes} MB: built {source} ({size / 1e6:.0f} MB) "
            f"in {bench.build_seconds:.0f} s",
            flush=True,
        )
        run_rounds(bench, source, repeat, create_pg, drop_pg, pg_facts)
    finally:
        drop_pg(source)
    return bench


def bench_mysql(megabytes: int, repeat: int, skipped: dict[str, str]) -> Bench:
    source = f"{PREFIX}src_my_{megabytes}_{secrets.token_hex(3)}"
    try:
        started = time.monotonic()
        size = build_mysql(source, megabytes)
        bench = Bench(
            database=f"MariaDB {server_versions(['mariadb'])['mariadb'].split('-')[0]}",
            megabytes=megabytes,
            size_bytes=size,
            build_seconds=time.monotonic() - started,
            series=[
                Series(
                    "mariadb-dump --single-transaction --routines | mariadb",
                    timed(mariadb_dump_load),
                    baseline=True,
                ),
                Series("engine (copy_database)", lambda s, t: engine_copy(my_url(s), my_url(t))),
            ],
        )
        if "mydumper" not in skipped:
            bench.series.append(
                Series(f"mydumper + myloader ({PEER_JOBS} threads)", timed(mydumper_myloader))
            )
        print(
            f"MariaDB {megabytes} MB: built {source} ({size / 1e6:.0f} MB) "
            f"in {bench.build_seconds:.0f} s",
            flush=True,
        )
        run_rounds(bench, source, repeat, create_mysql, drop_mysql, mysql_facts)
    finally:
        drop_mysql(source)
    return bench


# -- the machine and the report --------------------------------------------------------------

TOOLS = {
    "postgres": ["pg_dump", "pg_restore", "psql", "pgcopydb"],
    "mariadb": ["mariadb-dump", "mariadb", "mydumper", "myloader"],
}


def server_versions(engines: list[str]) -> dict[str, str]:
    versions = {}
    if "postgres" in engines:
        with pg_admin() as conn:
            row = conn.execute("SHOW server_version").fetchone()
            versions["postgres"] = str(row[0]) if row else "?"
    if "mariadb" in engines:
        with my_admin() as my_conn, my_conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            versions["mariadb"] = str((cur.fetchone() or ("?",))[0])
    return versions


def tool_version(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        return "not installed"
    result = subprocess.run(
        [tool, "--version"], executable=path, capture_output=True, text=True, timeout=60
    )
    lines = (result.stdout.strip() or result.stderr.strip()).splitlines()
    return lines[0] if lines else "?"


def machine(engines: list[str]) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_before": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "servers": server_versions(engines),
        "tools": {tool: tool_version(tool) for engine in engines for tool in TOOLS[engine]},
    }


def describe(facts: dict[str, Any]) -> str:
    names = {"postgres": "PostgreSQL", "mariadb": "MariaDB"}
    servers = ", ".join(
        f"{names[engine]} {version}" for engine, version in facts["servers"].items()
    )
    tools = "; ".join(facts["tools"].values())
    load = "/".join(f"{x:.2f}" for x in facts["load_before"])
    after = "/".join(f"{x:.2f}" for x in facts.get("load_after", []))
    return (
        f"{facts['date']}, {facts['cores']} cores, {facts['memory_gib']} GiB, load average "
        f"(1/5/15 min) {load} before, {after or '?'} after.\nServers: {servers}.\n"
        f"Tools: {tools}."
    )


def median_text(values: list[float], unit: str = "") -> str:
    return f"{statistics.median(values):.2f}{unit}" if values else "—"


def markdown(benches: list[Bench]) -> str:
    lines = [
        "| database | size | method | seconds per round | median s | ratio per round vs baseline "
        "| median ratio (spread) | engine peak RSS | engine CPU s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for bench in benches:
        for series in bench.series:
            if series.baseline:
                ratios, median_ratio = "baseline", "1.00x (baseline)"
            else:
                values = bench.ratios(series)
                ratios = ", ".join(f"{ratio:.2f}x" for ratio in values)
                spread = f"{min(values):.2f}–{max(values):.2f}"  # noqa: RUF001 - a range
                median_ratio = f"{statistics.median(values):.2f}x ({spread})"
            rss = f"{max(series.peak_rss_mb):.0f} MB" if series.peak_rss_mb else "—"
            cpu = "—"
            if series.cpu_seconds:
                own = statistics.median(series.cpu_seconds)
                cpu = f"{own:.1f} ({own / bench.gigabytes:.1f} per GB)"
            cells = [
                bench.database,
                f"{bench.size_bytes / 1e6:.0f} MB",
                series.label.replace("|", "\\|"),
                ", ".join(f"{seconds:.1f}" for seconds in series.seconds),
                f"{statistics.median(series.seconds):.1f}",
                ratios,
                median_ratio,
                rss,
                cpu,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def as_json(bench: Bench) -> dict[str, Any]:
    methods = []
    for series in bench.series:
        ratios = None if series.baseline else bench.ratios(series)
        methods.append(
            {
                "method": series.label,
                "baseline": series.baseline,
                "seconds": series.seconds,
                "median_seconds": statistics.median(series.seconds),
                "ratios": ratios,
                "median_ratio": statistics.median(ratios) if ratios else None,
                "ratio_min": min(ratios) if ratios else None,
                "ratio_max": max(ratios) if ratios else None,
                "peak_rss_mb": series.peak_rss_mb or None,
                "cpu_seconds": series.cpu_seconds or None,
                "cpu_seconds_per_gb": (
                    statistics.median(series.cpu_seconds) / bench.gigabytes
                    if series.cpu_seconds
                    else None
                ),
                "tools_cpu_seconds": series.tools_cpu_seconds or None,
                "engine_methods": series.methods or None,
                "parts": series.parts or None,
            }
        )
    return {
        "database": bench.database,
        "megabytes": bench.megabytes,
        "size_bytes": bench.size_bytes,
        "build_seconds": bench.build_seconds,
        "load_per_round": bench.load,
        "methods": methods,
    }


def sizes(text: str) -> list[int]:
    return [int(size) for size in text.split(",") if size.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--pg-sizes", default=DEFAULT_SIZES, help="PostgreSQL sizes in MB ('': none)"
    )
    parser.add_argument(
        "--mysql-sizes", default=DEFAULT_SIZES, help="MariaDB sizes in MB ('': none)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds per size")
    parser.add_argument("--json", default=DEFAULT_JSON, help="where to write the results")
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(*args.child)
        return
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    pg_sizes, mysql_sizes = sizes(args.pg_sizes), sizes(args.mysql_sizes)
    engines = ["postgres"] * bool(pg_sizes) + ["mariadb"] * bool(mysql_sizes)
    skipped = install_peers(["pgcopydb"] * bool(pg_sizes) + ["mydumper"] * bool(mysql_sizes))
    for peer, why in skipped.items():
        print(f"{peer} is skipped: {why}", flush=True)
    facts = machine(engines)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    benches: list[Bench] = []
    started = time.monotonic()
    try:
        benches += [bench_postgres(size, args.repeat, skipped) for size in pg_sizes]
        benches += [bench_mysql(size, args.repeat, skipped) for size in mysql_sizes]
    except KeyboardInterrupt:
        print("interrupted: dropping the benchmark's databases", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        CLEANUP.run()
    facts["load_after"] = [round(load, 2) for load in os.getloadavg()]
    total = time.monotonic() - started
    table = markdown(benches)
    print()
    print(describe(facts))
    print(f"{args.repeat} interleaved rounds per size, every copy verified, {total:.0f} s in all.")
    for peer, why in skipped.items():
        print(f"{peer}: skipped ({why}).")
    print()
    print(table)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    results = {
        "machine": facts,
        "repeat": args.repeat,
        "seconds_in_all": total,
        "skipped": skipped,
        "results": [as_json(bench) for bench in benches],
        "markdown": table,
    }
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nResults written to {path}.")


if __name__ == "__main__":
    main()
