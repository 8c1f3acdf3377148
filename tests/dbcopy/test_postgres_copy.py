"""Copying PostgreSQL databases on the real local server."""

from __future__ import annotations

import logging
import threading
import time

import psycopg
import pytest

from staging.dbcopy import (
    CopyCancelled,
    CopyProgress,
    CopyTimeout,
    TargetIsSource,
    copy_database,
    preflight,
)
from staging.dbcopy import engine as engine_module
from tests.fixtures_dbcopy import (
    Database,
    Hold,
    Sampler,
    before_the_first,
    copy_tool_processes,
    sessions_left,
    snapshot,
)


def tables_of(database: Database) -> set[str]:
    with psycopg.connect(database.url) as conn:
        rows = conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    return {str(row[0]) for row in rows}


def test_a_copy_is_exact(pg_source: Database, pg_target: Database) -> None:
    report = copy_database(pg_source.url, pg_target.url)

    assert snapshot(pg_target) == snapshot(pg_source)
    assert report.engine == "postgres"
    assert report.method == "parallel-copy"
    assert report.attempts == 1
    assert report.row_counts == {
        "public.authors": 50,
        "public.posts": 2000,
        "public.comments": 4000,
    }
    assert report.bytes_copied > 0


def test_the_target_is_cleaned_of_what_it_held_before(
    pg_source: Database, pg_target: Database
) -> None:
    copy_database(pg_source.url, pg_target.url)

    assert tables_of(pg_target) == {"public.authors", "public.posts", "public.comments"}


def test_copying_twice_into_the_same_target_gives_the_same_result(
    pg_source: Database, pg_target: Database
) -> None:
    copy_database(pg_source.url, pg_target.url)
    copy_database(pg_source.url, pg_target.url)

    assert snapshot(pg_target) == snapshot(pg_source)


def test_progress_is_reported_through_every_phase_and_ends_at_100_percent(
    pg_source: Database, pg_target: Database
) -> None:
    seen: list[CopyProgress] = []

    copy_database(pg_source.url, pg_target.url, progress=seen.append)

    phases = [p.phase for p in seen]
    assert sorted(set(phases), key=phases.index) == ["schema", "data", "indexes", "verify"]
    assert seen[-1].percent == 100
    assert seen[-1].rows_copied == 6050
    assert all(0 <= p.percent <= 100 for p in seen)
    assert [p.percent for p in seen] == sorted(p.percent for p in seen)


def test_it_refuses_to_copy_a_database_onto_itself(pg_source: Database) -> None:
    same_through_localhost = pg_source.url.replace("127.0.0.1", "localhost")

    with pytest.raises(TargetIsSource) as error:
        copy_database(pg_source.url, same_through_localhost)

    assert error.value.code == "target_is_source"
    assert pg_source.password not in str(error.value)


def test_the_servers_are_asked_even_when_the_urls_look_like_two_databases(
    pg_source: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "refuse_same_address", lambda source, target: None)

    with pytest.raises(TargetIsSource):
        preflight(pg_source.url, pg_source.url.replace("127.0.0.1", "localhost"))


def test_a_connection_killed_mid_copy_is_retried_and_the_copy_completes(
    pg_source: Database, pg_target: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first attempt's COPY into posts waits on this lock, so the killer always finds a copy
    # in progress, however fast the machine; the lock goes once it is killed.
    locker = psycopg.connect(f"host=127.0.0.1 user=postgres dbname={pg_target.name}")
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
                    " AND query LIKE 'COPY%%FROM STDIN%%' AND wait_event_type = 'Lock'",
                    (pg_target.name,),
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


def test_a_timeout_stops_the_copy_and_leaves_no_process_behind(
    pg_source: Database, pg_target: Database, copy_held_until_stopped: Hold
) -> None:
    with pytest.raises(CopyTimeout) as error:
        copy_database(pg_source.url, pg_target.url, timeout=0.3)

    # Wherever the deadline falls (held or earlier), the copy cannot have finished first.
    assert error.value.code == "copy_timeout"
    assert copy_tool_processes(pg_target.name) == []
    assert copy_tool_processes(pg_source.name) == []
    assert sessions_left(pg_source, pg_target) == []


def test_a_cancel_stops_the_copy_and_leaves_no_process_behind(
    pg_source: Database, pg_target: Database, copy_held_until_stopped: Hold
) -> None:
    cancel = threading.Event()

    def cancel_once_held(progress: CopyProgress) -> None:
        if copy_held_until_stopped.reached.is_set():
            cancel.set()

    with pytest.raises(CopyCancelled) as error:
        copy_database(pg_source.url, pg_target.url, progress=cancel_once_held, cancel=cancel)

    assert error.value.code == "copy_cancelled"
    assert cancel.is_set()
    assert copy_tool_processes(pg_target.name) == []
    assert sessions_left(pg_source, pg_target) == []


def test_no_password_appears_in_logs_or_in_ps(
    pg_source: Database, pg_target: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="staging.dbcopy")
    sampler = Sampler()
    sampler.start()
    try:
        copy_database(pg_source.url, pg_target.url)
    finally:
        sampler.stop.set()
        sampler.join()

    assert any("pg_restore" in line for line in sampler.seen)
    assert not [line for line in sampler.seen if pg_source.password in line]
    assert pg_source.password not in caplog.text
    assert "***" in caplog.text or "dbcopy_" in caplog.text
