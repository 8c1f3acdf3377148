"""The MySQL/MariaDB rows in the wire format: read off the reader's socket, written by prepared
INSERTs, value by value."""

from __future__ import annotations

import io
import struct
from typing import Any

import pymysql
import pytest

from staging.dbcopy import copy_database, mysql_rows
from staging.dbcopy.addresses import checked
from staging.dbcopy.errors import CopyError
from staging.dbcopy.mysql import MysqlEngine, connect
from staging.dbcopy.urls import parse_url
from tests.fixtures_dbcopy import Database, _mysql_admin, as_owner

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


@pytest.mark.parametrize("stream_rows", [True, False], ids=["prepared-insert", "dump-insert"])
def test_awkward_values_come_back_byte_for_byte(
    mysql_source: Database,
    mysql_target: Database,
    monkeypatch: pytest.MonkeyPatch,
    stream_rows: bool,
) -> None:
    monkeypatch.setattr(MysqlEngine, "stream_rows", stream_rows)
    fill(mysql_source)

    report = copy_database(mysql_source.url, mysql_target.url)

    assert report.method == ("prepared-insert" if stream_rows else "parallel-load")
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
    """A socket's bytes, handed out in reads of a chosen size."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data = io.BytesIO(data)
        self.size = size

    def read1(self, size: int) -> bytes:
        return self.data.read(min(size, self.size))


def packet(payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + b"\x00" + payload


EOF_PACKET = packet(b"\xfe\x00\x00\x02\x00")


@pytest.mark.parametrize("read_size", [1, 3, 7, 64, 1 << 20])
def test_row_packets_come_whole_whatever_the_reads(read_size: int) -> None:
    rows = [b"\x00\x01a", b"\x00" + b"\xfb", b"\x00\x03\xfe\xff\x00"]
    data = b"".join(packet(row) for row in rows) + EOF_PACKET

    found = list(mysql_rows._row_payloads(FakeStream(data, read_size), 1 << 20))

    assert found == rows


def test_a_row_of_16_mb_or_more_is_joined_from_its_packets() -> None:
    big = b"\x00\xfe" + (20_000_000).to_bytes(8, "little") + b"v" * 20_000_000
    pieces = [big[i : i + 0xFFFFFF] for i in range(0, len(big), 0xFFFFFF)]
    data = b"".join(packet(piece) for piece in pieces) + packet(b"\x00\x01x") + EOF_PACKET

    found = list(mysql_rows._row_payloads(FakeStream(data, 1 << 20), 1 << 20))

    assert found == [big, b"\x00\x01x"]


def test_a_row_larger_than_any_server_allows_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile source cannot make the worker hold an endless row: continuation packets past
    the largest max_allowed_packet are refused."""
    monkeypatch.setattr(mysql_rows, "MAX_ROW_BYTES", 0xFFFFFF)
    whole = packet(b"x" * 0xFFFFFF)

    with pytest.raises(mysql_rows.RowsRefused, match="larger than any server allows"):
        list(mysql_rows._row_payloads(FakeStream(whole * 2 + packet(b""), 1 << 20), 1 << 20))


@pytest.mark.parametrize(
    "data",
    [
        packet(b"\x00\x01a") + b"\x05\x00\x00",
        packet(b"\x00\x01a") + EOF_PACKET + packet(b"\x00\x01b"),
    ],
    ids=["cut-row", "more-after-the-end"],
)
def test_a_result_out_of_protocol_is_refused(data: bytes) -> None:
    with pytest.raises(mysql_rows.RowsRefused):
        list(mysql_rows._row_payloads(FakeStream(data, 5), 1 << 20))


def test_an_error_inside_the_result_raises_the_servers_error() -> None:
    error = packet(b"\xff\x15\x05#HY000query was killed")

    with pytest.raises(pymysql.err.OperationalError, match="killed"):
        list(mysql_rows._row_payloads(FakeStream(packet(b"\x00\x01a") + error, 64), 64))


def test_nulls_leave_the_values_and_go_to_the_bitmap() -> None:
    table = mysql_rows.RowTable(
        "t",
        (
            mysql_rows.Column("a", "int", nullable=True),
            mysql_rows.Column("b", "text", nullable=False),
            mysql_rows.Column("c", "text", nullable=True),
        ),
    )
    nulls: list[tuple[int, int]] = []
    row = b"\x0210" + b"\xfb" + b"\x02hi" + b"\x00"

    values = mysql_rows._without_nulls(row, 3, 4, nulls, table)

    assert values == b"\x02hi\x00"
    assert nulls == [(4, 0)]


@pytest.mark.parametrize(
    "row",
    [b"", b"\x010\x05ab", b"\x010\x01a\x01b", b"\x010\xff"],
    ids=["empty", "value-past-the-end", "extra-value", "bad-length"],
)
def test_a_row_out_of_protocol_is_refused(row: bytes) -> None:
    table = mysql_rows.RowTable("t", (mysql_rows.Column("a", "text", nullable=True),))

    with pytest.raises(mysql_rows.RowsRefused):
        mysql_rows._without_nulls(row, 1, 0, [], table)


def test_batches_go_as_a_few_executes_of_prepared_sizes(
    mysql_source: Database, mysql_target: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement holds a power of two rows (here at most 8): 1000 rows with NULLs spread over
    them go as executes of 8, 4, 2 and 1 rows, and come back exact."""
    monkeypatch.setattr(mysql_rows, "MAX_PARAMS", 8 * 3)
    with as_owner(mysql_source) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE many (id int PRIMARY KEY, a text NULL, b int NULL)")
        cur.execute(
            "INSERT INTO many SELECT seq, IF(seq % 7 = 0, NULL, REPEAT('x', seq % 50)),"
            " IF(seq % 5 = 0, NULL, seq) FROM seq_1_to_1003"
        )

    report = copy_database(mysql_source.url, mysql_target.url)

    assert report.row_counts["many"] == 1003
    sums_of = "COUNT(*), SUM(a IS NULL), SUM(b IS NULL), SUM(CRC32(CONCAT_WS(',', id, a, b)))"
    with _mysql_admin() as admin, admin.cursor() as cur:
        sums = []
        for database in (mysql_source, mysql_target):
            cur.execute(f"SELECT {sums_of} FROM `{database.name}`.many")  # noqa: S608
            sums.append(cur.fetchone())
    assert sums[0] == sums[1]


def test_a_row_larger_than_the_targets_packets_is_a_clear_error(mysql_target: Database) -> None:
    table = mysql_rows.RowTable("t", (mysql_rows.Column("a", "text", nullable=False),))
    with as_owner(mysql_target) as conn:
        conn.query("CREATE TABLE t (a longtext)")
        inserter = mysql_rows.Inserter(conn, max_packet=1000)
        batch = mysql_rows.Batch(0, [b"\xfc\xd0\x07" + b"x" * 2000])

        with pytest.raises(mysql_rows.RowsRefused, match="max_allowed_packet"):
            inserter.insert(table, batch)


def test_pymysql_never_answers_a_file_request_by_itself(mysql_target: Database) -> None:
    """No session of the copy offers LOAD DATA LOCAL, and a file request in answer to a
    statement fails it: PyMySQL's own handler, which opens files, is off."""
    url = checked(parse_url(mysql_target.url), allow_private=True)
    conn = connect(url)
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
    original = mysql_rows.read_tables

    def narrowing(*args: Any, **kwargs: Any) -> list[mysql_rows.RowTable]:
        with _mysql_admin(mysql_target.name) as admin, admin.cursor() as cur:
            cur.execute("ALTER TABLE posts MODIFY title varchar(3) NOT NULL")
        return original(*args, **kwargs)

    monkeypatch.setattr(mysql_rows, "read_tables", narrowing)
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

    assert "reading the rows with 2 session(s) in one snapshot" in caplog.text
    assert rows(mysql_target) == rows(mysql_source)


def test_without_the_reload_privilege_one_reader_reads_every_table(
    mysql_source: Database, mysql_target: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="staging.dbcopy"):
        copy_database(mysql_source.url, mysql_target.url, attempts=1)

    assert "reading the rows with 1 session(s) in one snapshot" in caplog.text


def test_a_reader_that_does_not_start_releases_the_sources_commits(
    mysql_source: Database, mysql_target: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits on production wait for the readers' snapshots, but never for a reader that hangs:
    after the connect timeout the lock's session is killed and the attempt fails."""
    monkeypatch.setattr(MysqlEngine, "_snapshot", lambda self, conn: conn.query("SELECT SLEEP(60)"))
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
