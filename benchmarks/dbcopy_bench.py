# ruff: noqa: S608 - SQL built from the benchmark's own table names, never from input
"""How fast the copy engine copies a database, against the plain dump-and-load pipelines.

Builds site-like source databases inside the local PostgreSQL (about 100 MB, 500 MB and 1 GB:
wide text tables, jsonb, btree and GIN indexes, foreign keys, sequences, a view, a function,
one large table) and MariaDB (about 100 MB, WordPress-like), all generated server-side. Each
source is copied, in interleaved rounds, by:

- the engine (``staging.dbcopy.copy_database``), in a child Python process whose peak RSS is
  read from ``getrusage``;
- ``pg_dump --no-owner | psql`` (PostgreSQL) or ``mariadb-dump --single-transaction | mariadb``
  (MariaDB), the baseline;
- ``pgcopydb clone --table-jobs 2 --index-jobs 2`` where pgcopydb is installed.

Every copy goes into a fresh target and is verified (exact row counts of every table, index,
constraint, view, routine and sequence counts). Medians are printed as a Markdown table; every
database the benchmark created is dropped, also on Ctrl-C.

    .venv/bin/python -m benchmarks.dbcopy_bench [--sizes 100,500,1000] [--mysql-size 100] \
        [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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
from types import FrameType
from typing import Any

import psycopg
import pymysql
from psycopg import sql

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
MY_HOST, MY_PORT, MY_USER = "127.0.0.1", 3306, "root"
PREFIX = "bench_dbcopy_"
# Rows of the large table per MB of pg_database_size / of data + index length, measured on
# the shapes below (the other tables scale with it); an empty PostgreSQL database is 7.5 MB.
POSTS_PER_MB = 250
PG_EMPTY_MB = 8
PARAGRAPHS = 1000
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
    """What a copy must reproduce: exact row counts, indexes, constraints, objects, sequences."""
    with pg_admin(name) as conn:
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND relkind = 'r' ORDER BY relname"
            )
        ]
        counts = {
            table: int(
                conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                ).fetchone()[0]  # type: ignore[index]
            )
            for table in tables
        }
        objects = conn.execute(
            "SELECT (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'),"
            " (SELECT count(*) FROM pg_constraint c JOIN pg_namespace n"
            "  ON n.oid = c.connamespace WHERE n.nspname = 'public'),"
            " (SELECT count(*) FROM pg_views WHERE schemaname = 'public'),"
            " (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            "  WHERE n.nspname = 'public'),"
            " (SELECT last_value FROM invoice_numbers), (SELECT last_value FROM posts_id_seq)"
        ).fetchone()
    return {"rows": counts, "objects": list(objects or ())}


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
            errors.seek(0)
            raise RuntimeError(f"pg_dump | psql failed: {errors.read()[-2000:]!r}")


def pgcopydb(source: str, target: str) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="bench-pgcopydb-") as workdir,
        tempfile.TemporaryFile() as output,
        child(
            [
                "pgcopydb",
                "clone",
                f"--source={pg_url(source)}",
                f"--target={pg_url(target)}",
                "--table-jobs=2",
                "--index-jobs=2",
                "--no-owner",
                "--no-acl",
                f"--dir={workdir}",
            ],
            stdout=output,
            stderr=output,
        ) as process,
    ):
        process.wait()
        if process.returncode:
            output.seek(0)
            raise RuntimeError(f"pgcopydb failed: {output.read()[-2000:]!r}")


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
    create_mysql(name)
    posts = megabytes * POSTS_PER_MB
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
    with my_admin(name) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.TABLES WHERE table_schema = DATABASE()"
            " AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        counts = {}
        for (table,) in cur.fetchall():
            cur.execute(f"SELECT COUNT(*) FROM `{table}`")
            counts[str(table)] = int((cur.fetchone() or (0,))[0])
        cur.execute(
            "SELECT (SELECT COUNT(*) FROM information_schema.STATISTICS"
            "  WHERE table_schema = DATABASE()),"
            " (SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS"
            "  WHERE table_schema = DATABASE()),"
            " (SELECT COUNT(*) FROM information_schema.VIEWS WHERE table_schema = DATABASE()),"
            " (SELECT COUNT(*) FROM information_schema.ROUTINES"
            "  WHERE routine_schema = DATABASE()),"
            " (SELECT COUNT(*) FROM information_schema.TRIGGERS"
            "  WHERE trigger_schema = DATABASE())"
        )
        objects = list(cur.fetchone() or ())
    return {"rows": counts, "objects": objects}


def mariadb_dump_load(source: str, target: str) -> None:
    auth = [f"--host={MY_HOST}", f"--port={MY_PORT}", f"--user={MY_USER}"]
    with tempfile.TemporaryFile() as errors:
        with child(
            ["mariadb-dump", *auth, "--single-transaction", "--routines", source],
            stdout=subprocess.PIPE,
            stderr=errors,
        ) as dump:
            assert dump.stdout is not None
            with child(["mariadb", *auth, target], stdin=dump.stdout, stderr=errors) as load:
                dump.stdout.close()
                load.wait()
            dump.wait()
        if dump.returncode or load.returncode:
            errors.seek(0)
            raise RuntimeError(f"mariadb-dump | mariadb failed: {errors.read()[-2000:]!r}")


# -- the engine, in a child process ----------------------------------------------------------


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float | None = None


def engine_copy(source_url: str, target_url: str) -> Measured:
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
    return Measured(seconds=result["seconds"], peak_rss_mb=result["maxrss_kb"] / 1024)


def run_child(source_url: str, target_url: str) -> None:
    """The engine's side: one copy, then its duration and this process's peak RSS as JSON."""
    from staging.dbcopy import copy_database

    cancel = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        cancel.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    started = time.monotonic()
    # The benchmark servers are local: loopback addresses are allowed here, as in development.
    report = copy_database(source_url, target_url, cancel=cancel, attempts=1, allow_private=True)
    seconds = time.monotonic() - started
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "maxrss_kb": maxrss_kb, "attempts": report.attempts}))


# -- the rounds ------------------------------------------------------------------------------


@dataclass
class Series:
    label: str
    baseline: bool
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


Method = Callable[[str, str], Measured | None]


def timed(function: Callable[[str, str], None]) -> Method:
    def run(source: str, target: str) -> Measured:
        started = time.monotonic()
        function(source, target)
        return Measured(seconds=time.monotonic() - started)

    return run


def rounds(
    source: str,
    methods: list[tuple[Series, Method]],
    repeat: int,
    create: Callable[[str], None],
    drop: Callable[[str], None],
    facts: Callable[[str], dict[str, Any]],
) -> None:
    expected = facts(source)
    for number in range(repeat):
        # The order turns each round, so that no method always runs first (cold caches).
        shift = number % len(methods)
        for series, method in methods[shift:] + methods[:shift]:
            target = f"{PREFIX}dst_{secrets.token_hex(3)}"
            create(target)
            try:
                measured = method(source, target)
                assert measured is not None
                copied = facts(target)
                if copied != expected:
                    raise RuntimeError(f"{series.label} made a wrong copy: {copied} != {expected}")
            finally:
                drop(target)
            series.seconds.append(measured.seconds)
            if measured.peak_rss_mb is not None:
                series.peak_rss_mb.append(measured.peak_rss_mb)
            print(
                f"    round {number + 1}: {series.label}: {measured.seconds:.1f} s"
                + (
                    f", peak RSS {measured.peak_rss_mb:.0f} MB"
                    if measured.peak_rss_mb is not None
                    else ""
                ),
                flush=True,
            )


@dataclass
class Row:
    database: str
    size_bytes: int
    series: Series
    baseline: Series


def table(rows: list[Row]) -> str:
    lines = [
        "| database | size | method | median s (runs) | MB/s | peak RSS (Python) "
        "| speed-up vs baseline |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        median = row.series.median
        runs = ", ".join(f"{s:.1f}" for s in row.series.seconds)
        label = row.series.label.replace("|", "\\|")
        rss = f"{max(row.series.peak_rss_mb):.0f} MB" if row.series.peak_rss_mb else "—"
        speedup = (
            "1.00x (baseline)" if row.series.baseline else (f"{row.baseline.median / median:.2f}x")
        )
        lines.append(
            f"| {row.database} | {row.size_bytes / 1e6:.0f} MB | {label} "
            f"| {median:.1f} ({runs}) | {row.size_bytes / 1e6 / median:.1f} | {rss} | {speedup} |"
        )
    return "\n".join(lines)


def bench_postgres(megabytes: int, repeat: int, rows: list[Row]) -> None:
    source = f"{PREFIX}src_pg_{megabytes}_{secrets.token_hex(3)}"
    started = time.monotonic()
    size = build_pg(source, megabytes)
    print(
        f"PostgreSQL {megabytes} MB: built {source} ({size / 1e6:.0f} MB) in "
        f"{time.monotonic() - started:.0f} s",
        flush=True,
    )
    baseline = Series("pg_dump --no-owner | psql", baseline=True)
    engine = Series("engine (copy_database)", baseline=False)
    methods: list[tuple[Series, Method]] = [
        (engine, lambda s, t: engine_copy(pg_url(s), pg_url(t))),
        (baseline, timed(pg_dump_psql)),
    ]
    if shutil.which("pgcopydb"):
        methods.append((Series("pgcopydb clone (2+2 jobs)", baseline=False), timed(pgcopydb)))
    try:
        rounds(source, methods, repeat, create_pg, drop_pg, pg_facts)
    finally:
        drop_pg(source)
    database = "PostgreSQL 15"
    rows.append(Row(database, size, baseline, baseline))
    rows.extend(Row(database, size, series, baseline) for series, _ in methods[:1] + methods[2:])


def bench_mysql(megabytes: int, repeat: int, rows: list[Row]) -> None:
    source = f"{PREFIX}src_my_{megabytes}_{secrets.token_hex(3)}"
    started = time.monotonic()
    size = build_mysql(source, megabytes)
    print(
        f"MariaDB {megabytes} MB: built {source} ({size / 1e6:.0f} MB) in "
        f"{time.monotonic() - started:.0f} s",
        flush=True,
    )
    baseline = Series("mariadb-dump --single-transaction | mariadb", baseline=True)
    engine = Series("engine (copy_database)", baseline=False)
    methods: list[tuple[Series, Method]] = [
        (engine, lambda s, t: engine_copy(my_url(s), my_url(t))),
        (baseline, timed(mariadb_dump_load)),
    ]
    try:
        rounds(source, methods, repeat, create_mysql, drop_mysql, mysql_facts)
    finally:
        drop_mysql(source)
    rows.append(Row("MariaDB 10.11", size, baseline, baseline))
    rows.append(Row("MariaDB 10.11", size, engine, baseline))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100,500,1000", help="PostgreSQL sizes in MB")
    parser.add_argument("--mysql-size", type=int, default=100, help="MariaDB size in MB (0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per size")
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(*args.child)
        return
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    signal.signal(signal.SIGTERM, _raise_interrupt)
    rows: list[Row] = []
    started = time.monotonic()
    try:
        for megabytes in sizes:
            bench_postgres(megabytes, args.repeat, rows)
        if args.mysql_size:
            bench_mysql(args.mysql_size, args.repeat, rows)
    except KeyboardInterrupt:
        print("interrupted: dropping the benchmark's databases", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        CLEANUP.run()
    print()
    print(
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, median of {args.repeat} "
        f"interleaved rounds, {time.monotonic() - started:.0f} s in all"
    )
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
