"""Copying MariaDB databases on the real local server."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from typing import Any

import pymysql
import pytest

from staging.dbcopy import CopyCancelled, CopyProgress, copy_database, preflight
from staging.dbcopy import engine as engine_module
from staging.dbcopy.errors import TargetIsSource
from tests.fixtures_dbcopy import (
    Database,
    Hold,
    Sampler,
    _mysql_admin,
    before_the_first,
    copy_tool_processes,
)

QUERIES = {
    "counts": "SELECT (SELECT COUNT(*) FROM authors), (SELECT COUNT(*) FROM posts)",
    "checksum": "SELECT MD5(GROUP_CONCAT(CONCAT_WS('|', id, author_id, title, MD5(body), created)"
    " ORDER BY id SEPARATOR ','))"
    " FROM posts",
    "indexes": "SELECT GROUP_CONCAT(CONCAT(table_name, '.', index_name, '.', column_name)"
    " ORDER BY table_name, index_name, seq_in_index) FROM information_schema.STATISTICS"
    " WHERE table_schema = DATABASE()",
    "constraints": "SELECT GROUP_CONCAT(CONCAT(constraint_name, ':', constraint_type)"
    " ORDER BY constraint_name) FROM information_schema.TABLE_CONSTRAINTS"
    " WHERE table_schema = DATABASE()",
    "auto_increment": "SELECT GROUP_CONCAT(CONCAT(table_name, '=', auto_increment)"
    " ORDER BY table_name) FROM information_schema.TABLES WHERE table_schema = DATABASE()",
    "view": "SELECT COUNT(*) FROM published",
    "function": "SELECT post_count(3)",
    "trigger": "SELECT GROUP_CONCAT(trigger_name) FROM information_schema.TRIGGERS"
    " WHERE trigger_schema = DATABASE()",
}


def snapshot(database: Database) -> dict[str, object]:
    with _mysql_admin(database.name) as conn, conn.cursor() as cur:
        result: dict[str, object] = {}
        for name, query in QUERIES.items():
            cur.execute(query)
            result[name] = cur.fetchone()
        return result


def test_a_copy_is_exact(mysql_source: Database, mysql_target: Database) -> None:
    report = copy_database(mysql_source.url, mysql_target.url)

    copied = snapshot(mysql_target)
    assert copied == snapshot(mysql_source)
    assert copied["trigger"] == ("posts_title",)
    assert report.engine == "mariadb"
    assert report.method == "prepared-insert"
    assert report.row_counts == {"authors": 50, "posts": 2970}


def test_triggers_do_not_fire_on_the_copied_rows(
    mysql_source: Database, mysql_target: Database
) -> None:
    copy_database(mysql_source.url, mysql_target.url)

    with _mysql_admin(mysql_target.name) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM posts WHERE title LIKE '[trigger]%'")
        assert cur.fetchone() == (0,)
        cur.execute("SHOW TABLES LIKE 'leftover'")
        assert cur.fetchone() is None


def test_preflight_reports_mariadb_and_the_size(
    mysql_source: Database, mysql_target: Database
) -> None:
    report = preflight(mysql_source.url, mysql_target.url)

    assert report.engine == "mariadb"
    assert report.source_size_bytes > 100_000
    assert "MariaDB" in report.client_version


def test_the_server_is_asked_even_when_the_urls_look_like_two_databases(
    mysql_source: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "refuse_same_address", lambda source, target: None)

    with pytest.raises(TargetIsSource):
        preflight(mysql_source.url, mysql_source.url.replace("127.0.0.1", "localhost"))


def test_a_connection_killed_mid_copy_is_retried_and_the_copy_completes(
    mysql_source: Database, mysql_target: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first attempt's rows for posts wait on this lock, so the killer always finds a load
    # in progress, however fast the machine; the lock goes once it is killed.
    locker = _mysql_admin(mysql_target.name)
    before_the_first(
        monkeypatch, "data", lambda: locker.cursor().execute("LOCK TABLES posts WRITE")
    )
    killed: list[int] = []

    def kill_the_waiting_load() -> None:
        give_up = time.monotonic() + 120
        with _mysql_admin() as admin, admin.cursor() as cur:
            while not killed and time.monotonic() < give_up:
                cur.execute(
                    "SELECT id FROM information_schema.PROCESSLIST WHERE db = %s"
                    " AND id <> %s AND state LIKE 'Waiting for table%%lock'",
                    (mysql_target.name, locker.thread_id()),
                )
                for (thread_id,) in cur.fetchall():
                    try:
                        cur.execute(f"KILL {int(thread_id)}")
                        killed.append(int(thread_id))
                    except pymysql.Error:
                        pass
                time.sleep(0.01)
        locker.cursor().execute("UNLOCK TABLES")

    killer = threading.Thread(target=kill_the_waiting_load, daemon=True)
    killer.start()
    try:
        report = copy_database(mysql_source.url, mysql_target.url)
    finally:
        killer.join()
        locker.close()

    assert killed
    assert report.attempts == 2
    assert snapshot(mysql_target) == snapshot(mysql_source)


def test_a_cancel_stops_the_copy_and_leaves_no_process_behind(
    mysql_source: Database, mysql_target: Database, copy_held_until_stopped: Hold
) -> None:
    cancel = threading.Event()

    def cancel_once_held(progress: CopyProgress) -> None:
        if copy_held_until_stopped.reached.is_set():
            cancel.set()

    with pytest.raises(CopyCancelled):
        copy_database(mysql_source.url, mysql_target.url, progress=cancel_once_held, cancel=cancel)

    assert cancel.is_set()

    assert copy_tool_processes(mysql_target.name) == []
    assert copy_tool_processes(mysql_source.name) == []


def test_no_password_appears_in_logs_or_in_ps(
    mysql_source: Database,
    mysql_target: Database,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG, logger="staging.dbcopy")
    # Every command line the copy starts (the schema dumps are short-lived: a ps sampler may
    # not catch one), and what ps shows meanwhile.
    commands: list[str] = []
    real_popen = subprocess.Popen

    def recording_popen(args: Any, *rest: Any, **kwargs: Any) -> Any:
        commands.append(" ".join(args))
        return real_popen(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    sampler = Sampler()
    sampler.start()
    try:
        copy_database(mysql_source.url, mysql_target.url)
    finally:
        sampler.stop.set()
        sampler.join()

    assert any(command.startswith("mariadb-dump ") for command in commands)
    assert any(command.startswith("mariadb ") for command in commands)
    assert not [line for line in [*commands, *sampler.seen] if mysql_source.password in line]
    assert mysql_source.password not in caplog.text
