"""Preflight: every check fails with its own stable code, before anything is written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psycopg
import pytest

from staging.dbcopy import (
    CopyToolIncompatible,
    CopyToolMissing,
    CopyToolTooOld,
    EngineMismatch,
    SourceUnreachable,
    TargetIsSource,
    TargetUnreachable,
    UnsupportedDatabase,
    copy_database,
    inspect_source,
    preflight,
)
from staging.dbcopy.mysql import MysqlEngine
from staging.dbcopy.urls import parse_url
from tests.fixtures_dbcopy import Database


def fake_tool(directory: Path, name: str, version_line: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_preflight_reports_the_engine_size_and_versions(
    pg_source: Database, pg_target: Database
) -> None:
    report = preflight(pg_source.url, pg_target.url)

    assert report.engine == "postgres"
    assert report.source_size_bytes > 1_000_000
    assert report.server_version.startswith("15")
    assert report.client_version.startswith("15")


def test_preflight_writes_nothing_into_the_target(pg_source: Database, pg_target: Database) -> None:
    preflight(pg_source.url, pg_target.url)

    with psycopg.connect(pg_target.url) as conn:
        assert conn.execute("SELECT to_regclass('public.leftover')").fetchone() == ("leftover",)


def test_a_missing_pg_dump_names_the_client_to_install(
    pg_source: Database, pg_target: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(CopyToolMissing) as error:
        copy_database(pg_source.url, pg_target.url)

    assert error.value.code == "copy_tool_missing"
    assert "install postgresql-client-15" in error.value.message


def test_a_pg_dump_older_than_the_server_names_the_client_to_install(
    pg_source: Database, pg_target: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_tool(tmp_path, "pg_dump", "pg_dump (PostgreSQL) 14.11")
    fake_tool(tmp_path, "pg_restore", "pg_restore (PostgreSQL) 14.11")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    with pytest.raises(CopyToolTooOld) as error:
        preflight(pg_source.url, pg_target.url)

    assert error.value.code == "copy_tool_too_old"
    assert "install postgresql-client-15" in error.value.message


def test_mariadb_dump_is_refused_for_a_mysql_8_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_tool(tmp_path, "mysqldump", "mysqldump  Ver 10.19 Distrib 10.11.6-MariaDB, for debian")
    fake_tool(tmp_path, "mysql", "mysql  Ver 15.1 Distrib 10.11.6-MariaDB")
    monkeypatch.setenv("PATH", str(tmp_path))
    engine = MysqlEngine(
        parse_url("mysql://root:pw@db.example/app"),
        parse_url("mysql://root:pw@db2.example/app"),
        jobs=2,
    )

    with pytest.raises(CopyToolIncompatible) as error:
        engine._pick_tools("8.0.36", server_is_mariadb=False)

    assert error.value.code == "copy_tool_incompatible"
    assert "mysql-client" in error.value.message


def test_an_unreachable_source_is_reported_without_its_password(pg_target: Database) -> None:
    source = "postgresql://someone:S3cret-Pass@127.0.0.1:1/nowhere"

    with pytest.raises(SourceUnreachable) as error:
        preflight(source, pg_target.url)

    assert error.value.code == "source_unreachable"
    assert "S3cret-Pass" not in str(error.value)
    assert "someone:***@127.0.0.1:1/nowhere" in str(error.value)


def test_an_unreachable_target_is_reported_without_its_password(pg_source: Database) -> None:
    target = "postgres://someone:S3cret-Pass@127.0.0.1:1/nowhere"

    with pytest.raises(TargetUnreachable) as error:
        preflight(pg_source.url, target)

    assert error.value.code == "target_unreachable"
    assert "S3cret-Pass" not in str(error.value)


@pytest.mark.parametrize(
    "source",
    [
        "postgresql://u:p@host:5432/db",
        "postgresql://u:p@HOST:5432/db?sslmode=require",
        "postgres://u:p@host/db",
    ],
)
def test_the_same_host_port_and_database_is_refused_before_connecting(source: str) -> None:
    with pytest.raises(TargetIsSource):
        preflight(source, "postgresql://other:x@host:5432/db")


def test_an_unknown_scheme_is_unsupported() -> None:
    with pytest.raises(UnsupportedDatabase) as error:
        preflight("sqlite:///tmp/x.db", "postgresql://u:p@h/db")

    assert error.value.code == "unsupported_database"


def test_postgres_cannot_be_copied_into_mysql() -> None:
    with pytest.raises(EngineMismatch) as error:
        preflight("postgresql://u:p@h/db", "mysql://u:p@h/db")

    assert error.value.code == "engine_mismatch"


def test_a_mysql_url_for_the_same_database_is_refused(mysql_source: Database) -> None:
    with pytest.raises(TargetIsSource):
        preflight(mysql_source.url, mysql_source.url.replace("mariadb://", "mysql://"))


def test_the_source_can_be_inspected_before_any_target_exists(pg_source: Database) -> None:
    report = inspect_source(pg_source.url)

    assert report.engine == "postgres"
    assert report.source_size_bytes > 1_000_000
