"""The staging marker: proof, written by Understudy, that a database is one environment's copy.

The staging database URL comes from the client's project too. Before anything in a target is
dropped or written, the target must be empty (a new database) or carry the marker of this very
environment; the marker is written as soon as the target has been emptied (so that a copy that
fails half-way still leaves it, and the next refresh may try again) and again after the copy.
It never comes from the source: the dumps leave the table out.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
import pymysql

from staging.dbcopy.errors import TargetNotMarked, TargetUnreachable
from staging.dbcopy.limits import Limits
from staging.dbcopy.urls import DatabaseUrl

MARKER_TABLE = "understudy_staging_marker"
MESSAGE = (
    "The staging database does not carry Understudy's marker for this copy; nothing was changed."
)

_PG_MARKED = f"SELECT to_regclass('public.{MARKER_TABLE}') IS NOT NULL"
_PG_MARKERS = f"SELECT environment_id FROM public.{MARKER_TABLE}"  # noqa: S608 - constant
_PG_EMPTY = """
SELECT NOT EXISTS (
    SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
)
"""


def refuse(reason: str) -> TargetNotMarked:
    return TargetNotMarked(MESSAGE, details={"reason": reason})


def _decide(empty: bool, marked: bool, markers: list[str], marker: str) -> None:
    if marked:
        if markers == [marker]:
            return
        raise refuse("another_marker")
    if not empty:
        raise refuse("no_marker")


def check_postgres(conn: psycopg.Connection[Any], marker: str) -> None:
    marked = bool((conn.execute(_PG_MARKED).fetchone() or (False,))[0])
    markers = [str(row[0]) for row in conn.execute(_PG_MARKERS)] if marked else []
    empty = bool((conn.execute(_PG_EMPTY).fetchone() or (False,))[0])
    _decide(empty, marked, markers, marker)


def write_postgres(conn: psycopg.Connection[Any], marker: str) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS public.{MARKER_TABLE} ("
        "environment_id varchar(255) PRIMARY KEY, "
        "written_at timestamptz NOT NULL DEFAULT now())"
    )
    conn.execute(f"DELETE FROM public.{MARKER_TABLE}")  # noqa: S608 - constant
    conn.execute(
        f"INSERT INTO public.{MARKER_TABLE} (environment_id) VALUES (%s)",  # noqa: S608
        (marker,),
    )


def check_mysql(cursor: pymysql.cursors.Cursor, marker: str) -> None:
    cursor.execute(
        "SELECT table_name FROM information_schema.TABLES WHERE table_schema = DATABASE()"
    )
    tables = {str(row[0]) for row in cursor.fetchall()}
    marked = MARKER_TABLE in tables
    markers: list[str] = []
    if marked:
        cursor.execute(f"SELECT environment_id FROM `{MARKER_TABLE}`")  # noqa: S608 - constant
        markers = [str(row[0]) for row in cursor.fetchall()]
    _decide(not tables, marked, markers, marker)


def write_mysql(cursor: pymysql.cursors.Cursor, marker: str) -> None:
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS `{MARKER_TABLE}` ("
        "environment_id varchar(255) NOT NULL PRIMARY KEY, "
        "written_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB"
    )
    cursor.execute(f"DELETE FROM `{MARKER_TABLE}`")  # noqa: S608 - constant
    cursor.execute(
        f"INSERT INTO `{MARKER_TABLE}` (environment_id) VALUES (%s)",  # noqa: S608 - constant
        (marker,),
    )


def check(url: DatabaseUrl, marker: str, *, limits: Limits, secrets: tuple[str, ...]) -> None:
    """Refuse with ``staging_target_not_marked`` unless the target is empty or ours."""
    if url.family == "postgres":
        _check_postgres_at(url, marker, limits=limits, secrets=secrets)
    else:
        _check_mysql_at(url, marker, limits=limits, secrets=secrets)


def _check_postgres_at(
    url: DatabaseUrl, marker: str, *, limits: Limits, secrets: tuple[str, ...]
) -> None:
    from staging.dbcopy.postgres import connect_checked, guarded

    conn = connect_checked(url, TargetUnreachable, "target", limits=limits, secrets=secrets)
    with contextlib.closing(conn), guarded(conn, limits, TargetUnreachable, "target", url):
        check_postgres(conn, marker)


def _check_mysql_at(
    url: DatabaseUrl, marker: str, *, limits: Limits, secrets: tuple[str, ...]
) -> None:
    from staging.dbcopy.mysql import connect_or_raise

    conn = connect_or_raise(url, TargetUnreachable, "target", limits=limits, secrets=secrets)
    with contextlib.closing(conn), conn.cursor() as cursor:
        check_mysql(cursor, marker)
