"""A copy writes only into an empty database or one that carries this environment's marker."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from staging.dbcopy import TargetNotMarked, check_staging_marker, copy_database
from staging.dbcopy.markers import MARKER_TABLE, MESSAGE
from tests.fixtures_dbcopy import (
    Database,
    _drop_mysql,
    _drop_pg,
    _mysql_admin,
    _mysql_database,
    _pg_database,
)

ENVIRONMENT = "env-1111"


@pytest.fixture
def pg_empty(pg_role: tuple[str, str]) -> Iterator[Database]:
    database = _pg_database(pg_role, "dbcopy_new")
    yield database
    _drop_pg(database.name)


@pytest.fixture
def mysql_empty(mysql_user: tuple[str, str]) -> Iterator[Database]:
    database = _mysql_database(mysql_user, "dbcopy_new")
    yield database
    _drop_mysql(database.name)


def pg_tables(database: Database) -> set[str]:
    with psycopg.connect(database.url) as conn:
        rows = conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    return {str(row[0]) for row in rows}


def pg_markers(database: Database) -> list[str]:
    with psycopg.connect(database.url) as conn:
        return [str(r[0]) for r in conn.execute(f"SELECT environment_id FROM {MARKER_TABLE}")]  # noqa: S608


def mysql_tables(database: Database) -> set[str]:
    with _mysql_admin(database.name) as admin, admin.cursor() as cur:
        cur.execute("SHOW TABLES")
        return {str(row[0]) for row in cur.fetchall()}


def test_a_target_without_the_marker_is_refused_and_left_untouched(
    pg_source: Database, pg_target: Database
) -> None:
    before = pg_tables(pg_target)

    with pytest.raises(TargetNotMarked) as error:
        copy_database(pg_source.url, pg_target.url, staging_marker=ENVIRONMENT)

    assert error.value.code == "staging_target_not_marked"
    assert error.value.message == MESSAGE
    assert pg_tables(pg_target) == before == {"public.leftover", "old_stuff.things"}


def test_an_empty_new_database_is_copied_into_and_marked(
    pg_source: Database, pg_empty: Database
) -> None:
    copy_database(pg_source.url, pg_empty.url, staging_marker=ENVIRONMENT)

    assert pg_markers(pg_empty) == [ENVIRONMENT]
    assert "public.posts" in pg_tables(pg_empty)


def test_a_refresh_of_a_marked_target_works_and_keeps_the_marker(
    pg_source: Database, pg_empty: Database
) -> None:
    copy_database(pg_source.url, pg_empty.url, staging_marker=ENVIRONMENT)

    report = copy_database(pg_source.url, pg_empty.url, staging_marker=ENVIRONMENT)

    assert report.row_counts["public.authors"] == 50
    assert MARKER_TABLE not in {label.split(".")[-1] for label in report.row_counts}
    assert pg_markers(pg_empty) == [ENVIRONMENT]
    check_staging_marker(pg_empty.url, ENVIRONMENT)


def test_the_marker_of_another_environment_is_refused(
    pg_source: Database, pg_empty: Database
) -> None:
    copy_database(pg_source.url, pg_empty.url, staging_marker="env-other")
    before = pg_tables(pg_empty)

    with pytest.raises(TargetNotMarked) as error:
        copy_database(pg_source.url, pg_empty.url, staging_marker=ENVIRONMENT)
    with pytest.raises(TargetNotMarked):
        check_staging_marker(pg_empty.url, ENVIRONMENT)

    assert error.value.details == {"reason": "another_marker"}
    assert pg_tables(pg_empty) == before
    assert pg_markers(pg_empty) == ["env-other"]


def test_a_marker_in_the_source_is_not_copied(pg_source: Database, pg_empty: Database) -> None:
    with psycopg.connect(pg_source.url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {MARKER_TABLE} (environment_id varchar(255) PRIMARY KEY)")
        conn.execute(f"INSERT INTO {MARKER_TABLE} VALUES ('env-from-production')")  # noqa: S608

    copy_database(pg_source.url, pg_empty.url, staging_marker=ENVIRONMENT)

    assert pg_markers(pg_empty) == [ENVIRONMENT]


def test_a_mysql_target_without_the_marker_is_refused_and_left_untouched(
    mysql_source: Database, mysql_target: Database
) -> None:
    with pytest.raises(TargetNotMarked):
        copy_database(mysql_source.url, mysql_target.url, staging_marker=ENVIRONMENT)

    assert mysql_tables(mysql_target) == {"leftover"}


def test_a_mysql_copy_marks_the_new_database_and_refreshes_it(
    mysql_source: Database, mysql_empty: Database
) -> None:
    copy_database(mysql_source.url, mysql_empty.url, staging_marker=ENVIRONMENT)
    report = copy_database(mysql_source.url, mysql_empty.url, staging_marker=ENVIRONMENT)

    assert MARKER_TABLE not in report.row_counts
    assert MARKER_TABLE in mysql_tables(mysql_empty)
    check_staging_marker(mysql_empty.url, ENVIRONMENT)
    with pytest.raises(TargetNotMarked):
        check_staging_marker(mysql_empty.url, "env-other")
    with pytest.raises(TargetNotMarked):
        copy_database(mysql_source.url, mysql_empty.url, staging_marker="env-other")


def test_without_a_marker_the_copy_behaves_as_before(
    pg_source: Database, pg_target: Database
) -> None:
    copy_database(pg_source.url, pg_target.url)

    assert "public.leftover" not in pg_tables(pg_target)
    assert f"public.{MARKER_TABLE}" not in pg_tables(pg_target)
