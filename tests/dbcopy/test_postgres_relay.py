"""The psql relay of the PostgreSQL copy: large tasks read by a psql child, relayed in blocks.

The threshold (``PostgresEngine.relay_min_bytes``) is lowered so that the small tables of the
test databases take the relay; everything runs on the real local server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from staging.dbcopy import (
    CopyCancelled,
    CopyError,
    CopyTimeout,
    CopyVerificationFailed,
    copy_database,
)
from staging.dbcopy import postgres as postgres_module
from staging.dbcopy.attempt import Attempt
from staging.dbcopy.postgres import PostgresEngine
from tests.fixtures_dbcopy import (
    Database,
    Hold,
    before_the_first,
    copy_tool_processes,
    sessions_left,
    snapshot,
)

ODD_TABLE = "Odd \\ 'name"
ODD_COLUMN = 'col\\g "q"'

VALUES_SQL = r'''
CREATE TABLE "Odd \ 'name" (
    id int PRIMARY KEY,
    "col\g ""q""" bytea,
    label text,
    doc jsonb,
    amount numeric,
    tags text[],
    at timestamptz,
    big text,
    bigbin bytea
);
INSERT INTO "Odd \ 'name" VALUES
  (1, '\x00ff00deadbeef00'::bytea, 'naïve café — 日本語 🎉', '{"k": [1, null, "ü"]}',
   12345678901234567890.123456789, ARRAY['a', NULL, 'ç'], '2024-02-29 12:34:56.789+05:30',
   E'line one\nline two\t\\.\r\n\\.', NULL),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, ''::bytea, '', '{}', 'NaN', '{}', 'infinity',
   (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 100000) g),
   (SELECT string_agg(decode(md5(g::text || 'x'), 'hex'), ''::bytea)
    FROM generate_series(1, 131072) g));
CREATE TABLE empty_one (id int, note text);
'''

ODD_CHECKSUM = (
    "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY id)),"
    ' sum(length(big)), sum(length(bigbin)) FROM "Odd \\ \'name" t'
)


@pytest.fixture
def relay_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every task, however small, goes through psql."""
    monkeypatch.setattr(PostgresEngine, "relay_min_bytes", 0)


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], subprocess.Popen[bytes]]]:
    """The command and process of every child the copy starts."""
    seen: list[tuple[list[str], subprocess.Popen[bytes]]] = []
    spawn = Attempt.spawn

    @contextlib.contextmanager
    def recording_spawn(
        attempt: Attempt, command: Sequence[str], **kwargs: Any
    ) -> Iterator[subprocess.Popen[bytes]]:
        with spawn(attempt, command, **kwargs) as process:
            seen.append((list(command), process))
            yield process

    monkeypatch.setattr(Attempt, "spawn", recording_spawn)
    return seen


def relayed(spawned: list[tuple[list[str], subprocess.Popen[bytes]]]) -> list[str]:
    """The COPY statement of every psql the copy started."""
    return [
        next(arg for arg in command if arg.startswith("COPY ("))
        for command, _ in spawned
        if command[0] == "psql"
    ]


def add_values(database: Database) -> None:
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(VALUES_SQL)


def odd_values(database: Database) -> tuple[Any, ...] | None:
    with psycopg.connect(database.url) as conn:
        return conn.execute(ODD_CHECKSUM).fetchone()


def count_rows(database: Database, table: str) -> int:
    with psycopg.connect(database.url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - ours
    return int(row[0]) if row else -1


def test_small_tables_keep_the_message_path(
    pg_source: Database,
    pg_target: Database,
    spawned: list[tuple[list[str], subprocess.Popen[bytes]]],
) -> None:
    report = copy_database(pg_source.url, pg_target.url)

    assert relayed(spawned) == []
    assert report.row_counts["public.posts"] == 2000
    assert snapshot(pg_target) == snapshot(pg_source)


def test_a_relayed_copy_is_exact_through_whole_tables_and_ctid_ranges(
    pg_source: Database,
    pg_target: Database,
    relay_everything: None,
    spawned: list[tuple[list[str], subprocess.Popen[bytes]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_values(pg_source)
    # posts (about 2.6 MB of heap) is split into ctid ranges, each relayed and counted alone.
    monkeypatch.setattr(postgres_module, "SPLIT_TABLE_BYTES", 512 * 1024)

    report = copy_database(pg_source.url, pg_target.url)

    statements = relayed(spawned)
    assert sum('FROM ONLY "public"."posts" WHERE ctid' in s for s in statements) >= 4
    assert any(f'"{ODD_COLUMN.replace(chr(34), chr(34) * 2)}"' in s for s in statements)
    assert any('"public"."empty_one"' in s for s in statements)
    assert all(command[0] != "psql" or "-X" in command for command, _ in spawned)
    assert report.row_counts == {
        "public.authors": 50,
        "public.posts": 2000,
        "public.comments": 4000,
        f"public.{ODD_TABLE}": 3,
        "public.empty_one": 0,
    }
    assert snapshot(pg_target) == snapshot(pg_source)
    source_values = odd_values(pg_source)
    assert source_values is not None and source_values[2] > 3_200_000  # TOASTed, out of line
    assert source_values[3] == 2 * 1024 * 1024
    assert odd_values(pg_target) == source_values
    with psycopg.connect(pg_target.url) as conn:
        row = conn.execute(
            'SELECT label, tags, amount::text FROM "Odd \\ \'name" WHERE id = 1'
        ).fetchone()
    assert row == ("naïve café — 日本語 🎉", ["a", None, "ç"], "12345678901234567890.123456789")
    assert report.bytes_copied > 5_000_000


def test_a_source_in_another_encoding_is_copied_exactly_on_both_paths(
    pg_role: tuple[str, str],
    pg_target: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, password = pg_role
    source = Database(
        url=pg_target.url.replace(pg_target.name, pg_target.name + "_latin1"),
        name=pg_target.name + "_latin1",
        user=user,
        password=password,
    )
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as admin:
        admin.execute(
            f'CREATE DATABASE "{source.name}" OWNER "{user}" ENCODING \'LATIN1\''
            " LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
        )
    try:
        with psycopg.connect(source.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE words (id int, word text)")
            conn.execute("INSERT INTO words VALUES (1, 'café'), (2, 'naïve ÿ æ'), (3, NULL)")
        for threshold in (PostgresEngine.relay_min_bytes, 0):
            monkeypatch.setattr(PostgresEngine, "relay_min_bytes", threshold)

            copy_database(source.url, pg_target.url)

            with psycopg.connect(pg_target.url) as conn:
                rows = conn.execute("SELECT id, word FROM words ORDER BY id").fetchall()
            assert rows == [(1, "café"), (2, "naïve ÿ æ"), (3, None)], threshold
    finally:
        with psycopg.connect(
            "host=127.0.0.1 user=postgres dbname=postgres", autocommit=True
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{source.name}" WITH (FORCE)')


def fill_big(database: Database) -> None:
    """About 12 MB in one table: far more than psql can have written ahead of the relay
    (a 1 MB pipe and a block of 1 MB) when the relay sees its first block."""
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 30) AS body"
            " FROM generate_series(1, 12000) g"
        )


def kill_the_psql_of_big_after_its_first_block(
    monkeypatch: pytest.MonkeyPatch,
    spawned: list[tuple[list[str], subprocess.Popen[bytes]]],
    times: int,
) -> list[int]:
    """SIGKILL the psql reading ``big`` once the relay has written its first block, in the
    first ``times`` attempts: the source side dies mid-stream."""
    killed: list[int] = []
    relay = postgres_module._relay

    def relay_and_kill(attempt: Attempt, fd: int, write: Callable[[memoryview], None]) -> None:
        command, process = next(
            (c, p)
            for c, p in reversed(spawned)
            if p.stdout is not None and not p.stdout.closed and p.stdout.fileno() == fd
        )
        if '"public"."big"' not in " ".join(command) or len(killed) >= times:
            relay(attempt, fd, write)
            return

        def write_then_kill(block: memoryview) -> None:
            write(block)
            if process.pid not in killed:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                killed.append(process.pid)

        relay(attempt, fd, write_then_kill)

    monkeypatch.setattr(postgres_module, "_relay", relay_and_kill)
    return killed


def test_a_psql_killed_mid_stream_fails_the_attempt_and_commits_nothing_of_its_table(
    pg_source: Database,
    pg_target: Database,
    relay_everything: None,
    spawned: list[tuple[list[str], subprocess.Popen[bytes]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill_big(pg_source)
    killed = kill_the_psql_of_big_after_its_first_block(monkeypatch, spawned, times=1)

    with pytest.raises(CopyError) as error:
        copy_database(pg_source.url, pg_target.url, attempts=1)

    assert len(killed) == 1
    assert "killed by signal 9" in error.value.message
    assert error.value.details["exit_code"] == -9
    assert count_rows(pg_target, "big") == 0
    assert copy_tool_processes(pg_source.name) == []
    assert sessions_left(pg_source, pg_target) == []


def test_a_psql_killed_mid_stream_is_retried_and_the_copy_completes(
    pg_source: Database,
    pg_target: Database,
    relay_everything: None,
    spawned: list[tuple[list[str], subprocess.Popen[bytes]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill_big(pg_source)
    killed = kill_the_psql_of_big_after_its_first_block(monkeypatch, spawned, times=1)

    report = copy_database(pg_source.url, pg_target.url)

    assert len(killed) == 1
    assert report.attempts == 2
    assert report.row_counts["public.big"] == 12000
    assert count_rows(pg_target, "big") == 12000
    assert snapshot(pg_target) == snapshot(pg_source)


def test_a_source_connection_killed_under_psql_is_retried_and_the_copy_completes(
    pg_source: Database,
    pg_target: Database,
    relay_everything: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first attempt's psql waits on this lock with its COPY of posts, so the killer always
    # finds it, however fast the machine; the lock goes once it is killed.
    locker = psycopg.connect(f"host=127.0.0.1 user=postgres dbname={pg_source.name}")
    before_the_first(
        monkeypatch, "data", lambda: locker.execute("LOCK TABLE posts IN ACCESS EXCLUSIVE MODE")
    )
    killed: list[int] = []

    def kill_the_waiting_copy() -> None:
        give_up = time.monotonic() + 120
        with psycopg.connect(
            "host=127.0.0.1 user=postgres dbname=postgres", autocommit=True
        ) as admin:
            while not killed and time.monotonic() < give_up:
                rows = admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s"
                    " AND query LIKE 'COPY (SELECT%%' AND wait_event_type = 'Lock'",
                    (pg_source.name,),
                ).fetchall()
                for (pid,) in rows:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    killed.append(pid)
                time.sleep(0.01)
        locker.rollback()

    killer = threading.Thread(target=kill_the_waiting_copy, daemon=True)
    killer.start()
    try:
        report = copy_database(pg_source.url, pg_target.url)
    finally:
        killer.join()
        locker.close()

    assert killed
    assert report.attempts == 2
    assert snapshot(pg_target) == snapshot(pg_source)


def test_a_cancel_during_the_relay_leaves_no_psql_and_no_session(
    pg_source: Database,
    pg_target: Database,
    relay_everything: None,
    copy_held_until_stopped: Hold,
) -> None:
    cancel = threading.Event()

    def cancel_once_held(progress: object) -> None:
        if copy_held_until_stopped.reached.is_set():
            cancel.set()

    with pytest.raises(CopyCancelled):
        copy_database(pg_source.url, pg_target.url, progress=cancel_once_held, cancel=cancel)

    assert copy_tool_processes(pg_source.name) == []
    assert copy_tool_processes(pg_target.name) == []
    assert sessions_left(pg_source, pg_target) == []


def test_a_timeout_during_the_relay_leaves_no_psql_and_no_session(
    pg_source: Database,
    pg_target: Database,
    relay_everything: None,
    copy_held_until_stopped: Hold,
) -> None:
    with pytest.raises(CopyTimeout):
        copy_database(pg_source.url, pg_target.url, timeout=0.3)

    assert copy_tool_processes(pg_source.name) == []
    assert sessions_left(pg_source, pg_target) == []


def test_names_that_look_like_psql_commands_stay_sql(
    pg_source: Database, pg_target: Database, relay_everything: None
) -> None:
    """A hostile source names its table and columns like psql's file commands: they reach psql
    only inside our quoted SQL, never as commands."""
    with tempfile.TemporaryDirectory(dir="/tmp") as directory:  # short: names are 63 bytes
        written = Path(directory) / "w"
        names_like_commands(pg_source, pg_target, written)


def names_like_commands(pg_source: Database, pg_target: Database, written: Path) -> None:
    table = f'"\\o {written}"'
    columns = f'"\\copy x to {written}" text, "\\! touch {written}" int'
    with psycopg.connect(pg_source.url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} ({columns})")
        conn.execute(f"INSERT INTO {table} VALUES (%s, 1)", (f"\\o {written}",))  # noqa: S608

    report = copy_database(pg_source.url, pg_target.url)

    assert report.row_counts[f"public.\\o {written}"] == 1
    assert not written.exists()
    with psycopg.connect(pg_target.url) as conn:
        row = conn.execute(f"SELECT * FROM {table}").fetchone()  # noqa: S608 - ours
    assert row == (f"\\o {written}", 1)


def test_a_relayed_task_whose_rows_differ_from_the_source_count_is_not_committed(
    pg_source: Database,
    pg_target: Database,
    relay_everything: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting = postgres_module._counting

    @contextlib.contextmanager
    def one_more_for_posts(
        conn: psycopg.Connection[Any], query: psycopg.sql.Composed
    ) -> Iterator[Callable[[], int]]:
        with counting(conn, query) as value:
            if '"posts"' in query.as_string(conn):
                yield lambda: value() + 1
            else:
                yield value

    monkeypatch.setattr(postgres_module, "_counting", one_more_for_posts)

    with pytest.raises(CopyVerificationFailed) as error:
        copy_database(pg_source.url, pg_target.url)

    assert error.value.details["tables"] == {"public.posts": {"source": 2001, "target": 2000}}
    assert count_rows(pg_target, "posts") == 0
