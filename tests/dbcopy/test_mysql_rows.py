"""The MariaDB row stream (LOAD DATA LOCAL from the client's batch output), value by value."""

from __future__ import annotations

import io
from typing import Any

import pymysql
import pytest

from staging.dbcopy import copy_database, mysql_rows
from staging.dbcopy.addresses import checked
from staging.dbcopy.errors import CopyError
from staging.dbcopy.mysql import MysqlEngine, connect
from staging.dbcopy.urls import parse_url
from tests.fixtures_dbcopy import MYSQL_HOST, MYSQL_PORT, Database, _mysql_admin, as_owner

AWKWARD = [
    "CREATE TABLE `odd ``name``` (id int NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " s longtext NOT NULL, n varchar(20) NULL, b blob NULL, vb varbinary(16) NOT NULL,"
    " d datetime NULL, ts timestamp NULL DEFAULT NULL, z date NOT NULL, f float NULL,"
    " dbl double NOT NULL, dec_ decimal(30,10) NULL, bt bit(5) NULL, e enum('a','b') NULL,"
    " st set('x','y','z') NOT NULL, j json NULL, g geometry NULL, p point NOT NULL,"
    " u varchar(10) CHARACTER SET latin1 NOT NULL, y year NULL,"
    " gen int AS (id * 2) VIRTUAL, hid int NOT NULL DEFAULT 7 INVISIBLE)"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+03:00'",
    "INSERT INTO `odd ``name``` (id, s, n, b, vb, d, ts, z, f, dbl, dec_, bt, e, st, j, g, p,"
    " u, y, hid) VALUES"
    " (0, CONCAT('tab\\there', CHAR(10), 'nl \\\\ bs', CHAR(13), 'cr', CHAR(0), 'nul'), 'NULL',"
    "  UNHEX('00090A0D5C4E4E554C4C0A'), UNHEX('5C'), '2020-01-02 03:04:05', '2021-06-01 12:00:00',"
    "  '0000-00-00', 0.1, 1.0000000000000002, -12345678901234567890.0123456789, b'10101', 'b',"
    "  'x,z', '{\"k\": \"v\\\\n\\\\t\"}', ST_GeomFromText('LINESTRING(0 0, 1 1)'),"
    "  ST_GeomFromText('POINT(1.5 -2.25)'), 'caf\\xe9', 1999, 1),"
    " (1, 'NULL', NULL, NULL, '', NULL, NULL, '1970-01-01', NULL, -0.5, NULL, NULL, NULL, '',"
    "  NULL, NULL, ST_GeomFromText('POINT(0 0)'), '', NULL, 2),"
    " (2, '\\\\N', '', '', 'x', '9999-12-31 23:59:59', '2038-01-19 03:14:07', '2000-02-29',"
    "  3.5e38, 1e-300, 0, b'0', 'a', 'x,y,z', '[]', NULL, ST_GeomFromText('POINT(3 4)'), 'N',"
    "  2155, 3),"
    " (3, '\U0001f600 emoji \\\\t literal', '\\t', UNHEX(''), UNHEX('FF00FF'), NULL, NULL,"
    "  '2024-12-31', -0.0, 2.5, 1.5, b'11111', NULL, 'y', 'null', NULL,"
    "  ST_GeomFromText('POINT(5 6)'), 'NULL', 0, 4)",
    "CREATE TABLE empty_one (id int PRIMARY KEY) ENGINE=InnoDB",
    "CREATE TABLE no_key (a text NULL, b int NULL) ENGINE=InnoDB",
    "INSERT INTO no_key VALUES (NULL, NULL), ('NULL', 1), ('\\\\N', NULL), ('', 0)",
]
COLUMNS = (
    "id, HEX(s), HEX(n), HEX(b), HEX(vb), d, UNIX_TIMESTAMP(ts), z, f, dbl, dec_, bt + 0, e, st,"
    " HEX(j), HEX(g), HEX(p), HEX(u), y, gen, hid"
)


def rows(database: Database) -> dict[str, Any]:
    with _mysql_admin(database.name) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {COLUMNS} FROM `odd ``name``` ORDER BY id")  # noqa: S608
        odd = cur.fetchall()
        cur.execute("SELECT HEX(a), b FROM no_key ORDER BY HEX(a), b")
        no_key = cur.fetchall()
        cur.execute("SELECT COUNT(*) FROM empty_one")
        empty = cur.fetchone()
        cur.execute("CHECKSUM TABLE `odd ``name```, no_key")
        checksums = [row[1] for row in cur.fetchall()]
    return {"odd": odd, "no_key": no_key, "empty": empty, "checksums": checksums}


def fill(database: Database) -> None:
    with as_owner(database) as conn, conn.cursor() as cur:
        for statement in AWKWARD:
            cur.execute(statement)


@pytest.mark.parametrize("stream_rows", [True, False], ids=["load-data", "dump-insert"])
def test_awkward_values_come_back_byte_for_byte(
    mysql_source: Database,
    mysql_target: Database,
    monkeypatch: pytest.MonkeyPatch,
    stream_rows: bool,
) -> None:
    monkeypatch.setattr(MysqlEngine, "stream_rows", stream_rows)
    fill(mysql_source)

    report = copy_database(mysql_source.url, mysql_target.url)

    assert report.method == ("load-data" if stream_rows else "parallel-load")
    expected, copied = rows(mysql_source), rows(mysql_target)
    assert len(expected["odd"]) == 4
    if not stream_rows:
        # The dump prints a FLOAT with 6 significant digits, so its last bits (here of
        # FLT_MAX) change on the way: the table checksums differ, the printed values do not.
        expected.pop("checksums")
        copied.pop("checksums")
    assert copied == expected
    assert report.row_counts["odd `name`"] == 4
    assert report.row_counts["no_key"] == 4
    assert report.row_counts["empty_one"] == 0


class FakeStream:
    """The client's stdout, handed out in reads of a chosen size."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data = io.BytesIO(data)
        self.size = size

    def read1(self, size: int) -> bytes:
        return self.data.read(min(size, self.size))


NONCE = "understudy-table-" + "ab" * 16


@pytest.mark.parametrize("read_size", [1, 3, 7, 64, 1 << 20])
def test_batches_cut_whole_rows_per_table_whatever_the_reads(read_size: int) -> None:
    output = (
        f"{NONCE} 0\na\t1\nb\\n\t2\n{NONCE} 1\n{NONCE} 2\nx {NONCE} 1\t3\n{NONCE}x\t4\n"
    ).encode()

    found = list(mysql_rows.batches(FakeStream(output, read_size), NONCE, 3, batch_bytes=1 << 20))

    assert [(b.table, b"".join(b.blocks), b.rows) for b in found] == [
        (0, b"a\t1\nb\\n\t2\n", 2),
        (2, f"x {NONCE} 1\t3\n{NONCE}x\t4\n".encode(), 2),
    ]


def test_batches_are_cut_at_the_batch_size() -> None:
    output = f"{NONCE} 0\n".encode() + b"row\n" * 1000

    found = list(mysql_rows.batches(FakeStream(output, 64), NONCE, 1, batch_bytes=400))

    assert sum(b.rows for b in found) == 1000
    assert all(b"".join(b.blocks).count(b"\n") == b.rows for b in found)
    assert len(found) > 5


@pytest.mark.parametrize(
    "output",
    [
        b"row before any table\n",
        f"{NONCE} 1\n{NONCE} 0\n".encode(),
        f"{NONCE} 7\n".encode(),
        f"{NONCE} zero\n".encode(),
        f"{NONCE} 0\nunfinished row".encode(),
    ],
    ids=["no-table", "out-of-order", "unknown-table", "not-a-number", "cut-row"],
)
def test_output_that_does_not_follow_the_script_is_refused(output: bytes) -> None:
    with pytest.raises(mysql_rows.LoadRefused):
        list(mysql_rows.batches(FakeStream(output, 5), NONCE, 2, batch_bytes=1 << 20))


def test_a_server_asking_for_another_file_gets_nothing(
    mysql_target: Database, tmp_path: Any
) -> None:
    """The server names the file; only the copy's own stream name is answered, and no file is
    opened whatever name the statement carries."""
    secret = tmp_path / "secret.txt"
    secret.write_text("worker secret\n")
    with _mysql_admin(mysql_target.name) as admin, admin.cursor() as cur:
        cur.execute("CREATE TABLE t (a text)")
    conn = pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user=mysql_target.user,
        password=mysql_target.password,
        database=mysql_target.name,
        client_flag=pymysql.constants.CLIENT.LOCAL_FILES,
    )
    try:
        statement = f"LOAD DATA LOCAL INFILE '{secret}' INTO TABLE t".encode()
        with pytest.raises(mysql_rows.LoadRefused, match="other than the copy's own stream"):
            mysql_rows.load_local(conn, statement, mysql_rows.new_file_name(), [b"ours\n"])
        name = mysql_rows.new_file_name()
        rows, warnings = mysql_rows.load_local(
            conn, f"LOAD DATA LOCAL INFILE '{name}' INTO TABLE t".encode(), name, [b"ours\n"]
        )
        conn.commit()
        assert (rows, warnings) == (1, 0)
        with conn.cursor() as cur:
            cur.execute("SELECT a FROM t")
            assert cur.fetchall() == (("ours",),)
    finally:
        conn.close()


def test_pymysql_never_answers_a_file_request_by_itself(mysql_target: Database) -> None:
    """A LOCAL request in answer to an ordinary statement fails the session: PyMySQL's own
    handler, which opens files, is off on the copy's sessions."""
    url = checked(parse_url(mysql_target.url), allow_private=True)
    conn = connect(url, load_local=True)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (a text)")
            with pytest.raises((RuntimeError, pymysql.Error)):
                cur.execute("LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE t")
    finally:
        conn.close()


def test_a_load_that_changes_values_fails_the_copy(
    mysql_source: Database, mysql_target: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value the target cannot take as it came (here: a target column made too narrow behind
    the copy's back) is a failure with the server's warning, never a silent truncation."""
    original = mysql_rows.RowTable.load

    def narrowing(self: mysql_rows.RowTable, file_name: str) -> bytes:
        if self.name == "posts":
            with _mysql_admin(mysql_target.name) as admin, admin.cursor() as cur:
                cur.execute("ALTER TABLE posts MODIFY title varchar(3) NOT NULL")
        return original(self, file_name)

    monkeypatch.setattr(mysql_rows.RowTable, "load", narrowing)
    with pytest.raises(CopyError, match="changed values on the way"):
        copy_database(mysql_source.url, mysql_target.url, attempts=1)


def test_with_the_reload_privilege_several_readers_share_one_snapshot(
    mysql_source: Database,
    mysql_target: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Railway's root may block commits for a moment (BACKUP STAGE): then each loader gets a
    reader of its own, and the copy is still exact; a user without the privilege gets one."""
    fill(mysql_source)
    with _mysql_admin() as admin, admin.cursor() as cur:
        cur.execute(f"GRANT RELOAD ON *.* TO '{mysql_source.user}'@'%'")
    try:
        with caplog.at_level("INFO", logger="staging.dbcopy"):
            copy_database(mysql_source.url, mysql_target.url, attempts=1)
    finally:
        with _mysql_admin() as admin, admin.cursor() as cur:
            cur.execute(f"REVOKE RELOAD ON *.* FROM '{mysql_source.user}'@'%'")

    assert "reading the rows with 2 client(s) in one snapshot" in caplog.text
    assert rows(mysql_target) == rows(mysql_source)


def test_without_the_reload_privilege_one_reader_reads_every_table(
    mysql_source: Database, mysql_target: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="staging.dbcopy"):
        copy_database(mysql_source.url, mysql_target.url, attempts=1)

    assert "reading the rows with 1 client(s) in one snapshot" in caplog.text


def test_a_reader_that_does_not_start_releases_the_sources_commits(
    mysql_source: Database, mysql_target: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits on production wait for the readers' snapshots, but never for a reader that hangs:
    after the connect timeout the lock's session is killed and the attempt fails."""
    monkeypatch.setattr(MysqlEngine, "_reader_command", lambda self, options: ["sleep", "60"])
    with _mysql_admin() as admin, admin.cursor() as cur:
        cur.execute(f"GRANT RELOAD ON *.* TO '{mysql_source.user}'@'%'")
    try:
        with pytest.raises(CopyError, match="did not start their snapshot in time"):
            copy_database(mysql_source.url, mysql_target.url, attempts=1, connect_timeout=1)
    finally:
        with _mysql_admin() as admin, admin.cursor() as cur:
            cur.execute(f"REVOKE RELOAD ON *.* FROM '{mysql_source.user}'@'%'")

    with _mysql_admin(mysql_source.name) as conn, conn.cursor() as cur:
        cur.execute("SET SESSION lock_wait_timeout = 2")
        cur.execute("INSERT INTO authors (login) VALUES ('after the copy')")
        cur.execute("SELECT COUNT(*) FROM authors WHERE login = 'after the copy'")
        assert cur.fetchone() == (1,)
