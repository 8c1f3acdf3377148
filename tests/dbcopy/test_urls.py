"""Database URLs come from a client's Railway project: every part is validated, and a URL that
is refused is never echoed (its password with it)."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import quote

import pytest

from staging.dbcopy import DatabaseUrlInvalid, UnsupportedDatabase, copy_database
from staging.dbcopy.errors import CopyError
from staging.dbcopy.mysql import option_file
from staging.dbcopy.postgres import conninfo
from staging.dbcopy.urls import DatabaseUrl, parse_url
from tests.fixtures_dbcopy import MYSQL_HOST, MYSQL_PORT, Database, _mysql_admin


def refused(url: str) -> DatabaseUrlInvalid:
    with pytest.raises(DatabaseUrlInvalid) as error:
        parse_url(url)
    return error.value


@pytest.mark.parametrize("control", ["%0A", "%0D", "%00", "%0D%0A", "%09", "%7F", "%C2%85"])
def test_a_control_character_in_the_password_is_refused_without_echoing_the_url(
    control: str,
) -> None:
    url = f"mariadb://root:S3cret{control}loose-local-infile=1@db.example:3306/railway"

    error = refused(url)

    assert error.code == "database_url_invalid"
    assert "password" in error.message
    text = f"{error.message} {error.details}"
    assert "S3cret" not in text and "local-infile" not in text and "db.example" not in text


@pytest.mark.parametrize("raw", ["\n", "\r", "\0", "\t"])
def test_a_raw_control_character_anywhere_in_the_url_is_refused(raw: str) -> None:
    # urlsplit drops tabs and newlines silently: the raw text must be checked before it.
    error = refused(f"postgresql://user:S3cret@db.example:5432/rail{raw}way")

    assert error.code == "database_url_invalid"
    assert "S3cret" not in error.message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://u:S3cret@db.example:0/railway", "port"),
        ("postgresql://u:S3cret@db.example:65536/railway", "port"),
        ("postgresql://u:S3cret@db.example:5a/railway", "port"),
        ("postgresql://u:S3cret@db.example:+5432/railway", "port"),
        ("postgresql://u:S3cret@a.example,b.example/railway", "host"),
        ("postgresql://u:S3cret@db%0a.example/railway", "host"),
        ("postgresql://u:S3cret@[::1/railway", "cannot be read"),
        ("postgresql://u:S3cret@db.example/rail%20way", "database name"),
        ("postgresql://u:S3cret@db.example/x%20host%3Devil", "database name"),
        ("postgresql://u:S3cret@db.example/a/b", "database name"),
        ("postgresql://u:S3cret@db.example/", "does not name a database"),
        ("postgresql://u:S3cret@db.example/railway#x", "fragment"),
        ("postgresql://u%0Aoptions=x:S3cret@db.example/railway", "user"),
        ("postgresql://u:S3cret@db.example/railway?sslmode=verify-full", "sslmode"),
        ("mysql://u:S3cret@db.example/railway?ssl-mode=VERIFY_IDENTITY", "ssl-mode"),
    ],
)
def test_each_part_of_the_url_is_validated(url: str, reason: str) -> None:
    error = refused(url)

    assert reason in error.message
    assert "S3cret" not in error.message


def test_an_unknown_scheme_is_unsupported_and_not_echoed() -> None:
    with pytest.raises(UnsupportedDatabase) as error:
        parse_url("redis://u:S3cret@db.example:6379/0")

    assert error.value.code == "unsupported_database"
    assert "S3cret" not in str(error.value)


def test_a_url_of_the_wrong_engine_is_refused() -> None:
    with pytest.raises(DatabaseUrlInvalid) as wrong:
        parse_url("mysql://u:S3cret@db.example/railway", family="postgres")

    assert "postgres" in wrong.value.message
    assert "S3cret" not in wrong.value.message


def test_query_parameters_outside_the_allow_list_are_dropped() -> None:
    url = parse_url(
        "postgresql://u:p@db.example:5432/railway?sslmode=require&options=-c%20search_path%3Dx"
        "&passfile=/etc/passwd&sslkey=/x&sslcert=/y&sslrootcert=/z&service=evil&host=10.0.0.1"
        "&hostaddr=10.0.0.1&port=1&application_name=x&target_session_attrs=any"
    )

    assert url.tls == "require"
    assert set(url.dropped_params) == {
        "options",
        "passfile",
        "sslkey",
        "sslcert",
        "sslrootcert",
        "service",
        "host",
        "hostaddr",
        "port",
        "application_name",
        "target_session_attrs",
    }
    text = conninfo(url.at("203.0.113.7"))
    for dropped in ("search_path", "/etc/passwd", "evil", "10.0.0.1", "sslkey", "sslcert"):
        assert dropped not in text
    assert "sslmode=require" in text and "hostaddr=203.0.113.7" in text


def test_mysql_parameters_outside_the_allow_list_are_dropped() -> None:
    url = parse_url(
        "mysql://u:p@db.example/railway?local_infile=1&init_command=DROP%20TABLE%20x"
        "&read_default_file=/etc/passwd&ssl-mode=REQUIRED"
    )

    assert url.tls == "require"
    assert url.dropped_params == ("init_command", "local_infile", "read_default_file")


def test_tls_is_preferred_even_when_the_url_asks_for_none() -> None:
    assert parse_url("postgresql://u:p@db.example/railway?sslmode=disable").tls == "prefer"
    assert parse_url("mysql://u:p@db.example/railway?ssl-mode=DISABLED").tls == "prefer"
    assert parse_url("mysql://u:p@db.example/railway").tls == "prefer"


def test_the_masked_form_is_built_from_the_validated_parts() -> None:
    url = parse_url("postgresql://user:S3cret%40x@DB.Example:6543/railway?sslmode=require")

    assert url.masked == "postgresql://user:***@db.example:6543/railway"
    assert "S3cret" not in repr(url)
    assert url.password == "S3cret@x"


def test_an_option_file_value_cannot_add_a_line() -> None:
    url = DatabaseUrl(
        family="mysql",
        host="db.example",
        port=3306,
        user="root",
        password="x\nloose-local-infile=1",
        database="railway",
        masked="mysql://root:***@db.example:3306/railway",
        address="203.0.113.7",
    )

    with pytest.raises(DatabaseUrlInvalid):
        option_file(url)


def test_quotes_and_backslashes_are_escaped_in_the_option_file() -> None:
    url = parse_url("mysql://root:a%22b%5Cc%27d%23e@db.example/railway").at("203.0.113.7")

    text = option_file(url)

    assert 'password="a\\"b\\\\c\'d#e"' in text
    assert text.count("\n") == len(text.splitlines())
    assert "loose-local-infile=0" in text
    assert 'host="203.0.113.7"' in text


@pytest.mark.parametrize("control", ["%0A", "%0D", "%00"])
def test_an_injected_option_file_line_never_reaches_the_client_tools(
    mysql_source: Database, mysql_target: Database, tmp_path: Path, control: str
) -> None:
    result_file = tmp_path / "written-by-the-dump"
    password = quote(mysql_source.password, safe="")
    hostile = mysql_source.url.replace(
        f":{password}@",
        f":{password}{control}loose-local-infile=1{control}loose-result-file={result_file}@",
    )

    with pytest.raises(CopyError) as error:
        copy_database(hostile, mysql_target.url)

    assert error.value.code == "database_url_invalid"
    assert not result_file.exists()
    assert mysql_source.password not in str(error.value)
    assert str(result_file) not in str(error.value)
    with _mysql_admin(mysql_target.name) as admin, admin.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert [row[0] for row in cur.fetchall()] == ["leftover"]


def test_a_password_with_quotes_backslashes_and_hashes_still_copies() -> None:
    user = "dbcopy_q_" + secrets.token_hex(3)
    password = "a\"b\\c'd#e ;f=" + secrets.token_hex(4)
    names = [f"dbcopy_q_{secrets.token_hex(4)}" for _ in range(2)]
    with _mysql_admin() as admin, admin.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
        for name in names:
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"GRANT ALL ON `{name}`.* TO %s@'%%'", (user,))
    try:
        with _mysql_admin(names[0]) as admin, admin.cursor() as cur:
            cur.execute("CREATE TABLE t (id int PRIMARY KEY)")
            cur.execute("INSERT INTO t SELECT seq FROM seq_1_to_30")

        def url(name: str) -> str:
            return f"mariadb://{user}:{quote(password, safe='')}@{MYSQL_HOST}:{MYSQL_PORT}/{name}"

        report = copy_database(url(names[0]), url(names[1]), attempts=1)

        assert report.row_counts == {"t": 30}
    finally:
        with _mysql_admin() as admin, admin.cursor() as cur:
            for name in names:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))


def test_a_url_that_names_another_engine_than_the_sites_is_refused(
    pg_source: Database, pg_target: Database
) -> None:
    with pytest.raises(DatabaseUrlInvalid) as error:
        copy_database(pg_source.url, pg_target.url, engine="mariadb")

    assert "mysql database was expected" in error.value.message
    assert pg_source.password not in str(error.value)
