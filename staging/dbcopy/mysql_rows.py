"""MySQL and MariaDB rows as tab-separated lines, loaded with ``LOAD DATA LOCAL`` from a stream.

The server parses ``LOAD DATA`` input far more cheaply than the text of extended INSERTs, which
was the limit of the dump-and-INSERT copy (docs/performance.md). The lines come from the
server's own client (``mariadb``/``mysql --batch``) reading every table in one consistent
snapshot; this module says what that client runs, cuts its output into batches of whole rows,
and sends each batch to a target session as the "file" of one ``LOAD DATA LOCAL`` statement.

The batch mode of the client escapes a value's tab, newline, backslash and NUL as ``\\t``,
``\\n``, ``\\\\`` and ``\\0``, which is ``LOAD DATA``'s own default escaping, so one line is one
row and a value comes back byte for byte (``CHARACTER SET binary`` on both sides: no
conversion). It prints SQL NULL as ``NULL``, the same as the string ``'NULL'``; a nullable
column is therefore read with a second column, ``c IS NULL``, and loaded through a variable.
BIT values are read as numbers (``c + 0``), spatial values as hex and FLOAT values as doubles
(whose text keeps every bit), and written back with the matching function; generated columns
are left to the server.

The file access of ``LOAD DATA LOCAL`` is confined here. The protocol lets a server answer a
query with "send me this file", and a client library that honours it reads the file from the
worker's disk. PyMySQL's own handler stays off on every session (a request in answer to any
other query fails that session); :func:`load_local` sends one ``LOAD DATA`` statement itself,
answers the request that may follow with the bytes it was given and nothing else, and refuses
a request for any name but the one in its own statement. No file is ever opened.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.constants import COMMAND
from pymysql.protocol import LoadLocalPacketWrapper, OKPacketWrapper

# One data packet of the LOCAL INFILE exchange; far below any server's max_allowed_packet.
PACKET_BYTES = 1 << 20
_SPATIAL = {
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
    "geomcollection",
}
_FILE_NAME = re.compile(rb"understudy-stream-[0-9a-f]{32}")


class LoadRefused(Exception):
    """The server did not take a batch the way ``LOAD DATA LOCAL`` should be taken."""


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    nullable: bool
    auto_increment: bool = False

    @property
    def kind(self) -> str:
        if self.data_type == "bit":
            return "bit"
        if self.data_type == "float":
            return "float"
        if self.data_type in _SPATIAL:
            return "spatial"
        return "plain"


@dataclass(frozen=True)
class RowTable:
    name: str
    columns: tuple[Column, ...]
    size: int = 0

    def select(self) -> str:
        """The statement the client runs for this table: one output column per value, plus
        one ``IS NULL`` flag per nullable column."""
        fields: list[str] = []
        for column in self.columns:
            name = ident(column.name)
            if column.kind == "bit":
                fields.append(f"{name} + 0")
            elif column.kind == "float":
                # FLOAT prints with 6 digits; as a double its value comes back exactly.
                fields.append(f"CAST({name} AS DOUBLE)")
            elif column.kind == "spatial":
                fields.append(f"HEX({name})")
            else:
                fields.append(name)
            if column.nullable:
                fields.append(f"{name} IS NULL")
        return f"SELECT {', '.join(fields)} FROM {ident(self.name)}"  # noqa: S608 - quoted names

    def load(self, file_name: str) -> bytes:
        """The ``LOAD DATA LOCAL`` statement that takes the lines :meth:`select` produces."""
        targets: list[str] = []
        assignments: list[str] = []
        for number, column in enumerate(self.columns):
            name = ident(column.name)
            # MariaDB gives a 0 loaded straight into an AUTO_INCREMENT column a new number once
            # the statement has a SET clause, whatever NO_AUTO_VALUE_ON_ZERO says; through a
            # variable it stays 0.
            direct = (
                column.kind in ("plain", "float")
                and not column.nullable
                and not column.auto_increment
            )
            if direct:
                targets.append(name)
                continue
            value = f"@v{number}"
            targets.append(value)
            if column.kind == "bit":
                expression = f"CAST({value} AS UNSIGNED)"
            elif column.kind == "spatial":
                expression = f"UNHEX({value})"
            else:
                expression = value
            if column.nullable:
                targets.append(f"@n{number}")
                expression = f"IF(@n{number} = '1', NULL, {expression})"
            assignments.append(f"{name} = {expression}")
        statement = (
            f"LOAD DATA LOCAL INFILE '{file_name}' INTO TABLE {ident(self.name)} "
            "CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
            f"LINES TERMINATED BY '\\n' ({', '.join(targets)})"
        )
        if assignments:
            statement += " SET " + ", ".join(assignments)
        return statement.encode("utf-8")


def read_tables(
    conn: pymysql.connections.Connection[Any], database: str, skip: Iterable[str] = ()
) -> list[RowTable]:
    """The base tables of ``database`` with the columns a copy writes, largest first (so that
    the keys of the largest table are built while the others load)."""
    skipped = set(skip)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable, c.extra, "
            "COALESCE(t.data_length, 0) "
            "FROM information_schema.COLUMNS c JOIN information_schema.TABLES t "
            "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE' "
            "ORDER BY c.table_name, c.ordinal_position",
            (database,),
        )
        rows = list(cur.fetchall())
    columns: dict[str, list[Column]] = {}
    sizes: dict[str, int] = {}
    for table, name, data_type, nullable, extra, size in rows:
        table, extra = str(table), str(extra or "").upper()
        if table in skipped:
            continue
        columns.setdefault(table, [])
        sizes[table] = int(size)
        if "GENERATED" in extra:
            continue
        columns[table].append(
            Column(
                str(name),
                str(data_type).lower(),
                nullable=nullable == "YES",
                auto_increment="AUTO_INCREMENT" in extra,
            )
        )
    tables = [RowTable(table, tuple(cols), sizes[table]) for table, cols in columns.items() if cols]
    return sorted(tables, key=lambda table: table.size, reverse=True)


def new_file_name() -> str:
    """The name the ``LOAD DATA`` statements give their stream: random, so a server cannot
    guess it, and matched exactly when the server asks for it."""
    return "understudy-stream-" + secrets.token_hex(16)


def marker(nonce: str, number: int) -> bytes:
    return f"{nonce} {number}".encode("ascii")


def streams(tables: Sequence[RowTable], count: int) -> list[list[tuple[int, RowTable]]]:
    """The tables (largest first) dealt to ``count`` readers, each to the least loaded."""
    dealt: list[list[tuple[int, RowTable]]] = [[] for _ in range(max(count, 1))]
    loads = [0] * len(dealt)
    for number, table in enumerate(tables):
        least = loads.index(min(loads))
        dealt[least].append((number, table))
        loads[least] += max(table.size, 1)
    return [stream for stream in dealt if stream]


def select_script(tables: Sequence[tuple[int, RowTable]], nonce: str) -> bytes:
    """What one client runs: its snapshot, a line ``<nonce> ready`` once it has it, then each
    of its tables (numbered in increasing order) after a line that names it."""
    lines = [
        "SET SESSION time_zone = '+00:00';",
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ;",
        "START TRANSACTION WITH CONSISTENT SNAPSHOT;",
        f"SELECT '{nonce} ready';",
    ]
    for number, table in tables:
        lines.append(f"SELECT '{marker(nonce, number).decode('ascii')}';")
        lines.append(table.select() + ";")
    lines.append("COMMIT;")
    return ("\n".join(lines) + "\n").encode("utf-8")


def load_local(
    conn: pymysql.connections.Connection[Any],
    statement: bytes,
    file_name: str,
    data: Sequence[bytes],
) -> tuple[int, int]:
    """Run one ``LOAD DATA LOCAL`` statement whose file is ``data``; (rows, warnings).

    Uses PyMySQL's packet layer directly: its own LOCAL INFILE handler would open whatever
    file the server names.
    """
    conn._execute_command(COMMAND.COM_QUERY, statement)  # type: ignore[attr-defined]
    packet = conn._read_packet()  # type: ignore[no-untyped-call]  # an error packet raises
    if not packet.is_load_local_packet():
        if packet.is_ok_packet():
            raise LoadRefused("the server took the LOAD DATA statement without asking for data")
        raise LoadRefused("the server answered the LOAD DATA statement out of protocol")
    asked = bytes(LoadLocalPacketWrapper(packet).filename)
    if asked != file_name.encode("ascii") or not _FILE_NAME.fullmatch(asked):
        conn.write_packet(b"")  # nothing is sent: the end of an empty "file"
        conn._read_packet()  # type: ignore[no-untyped-call]
        raise LoadRefused("the server asked for a file other than the copy's own stream")
    for block in data:
        view = memoryview(block)
        for start in range(0, len(view), PACKET_BYTES):
            conn.write_packet(view[start : start + PACKET_BYTES])
    conn.write_packet(b"")
    reply = conn._read_packet()  # type: ignore[no-untyped-call]
    if not reply.is_ok_packet():
        raise LoadRefused("the server answered the end of the data out of protocol")
    ok = OKPacketWrapper(reply)
    return int(ok.affected_rows), int(ok.warning_count)


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass
class Batch:
    """Whole rows of one table, as the blocks they were read in."""

    table: int
    blocks: list[bytes]
    rows: int
    size: int


def batches(
    stream: Any, nonce: str, tables: int, *, batch_bytes: int, read_bytes: int = 1 << 20
) -> Iterable[Batch]:
    """Cut the client's output into batches of whole rows of one table each.

    A line ``<nonce> <n>`` starts table ``n``. Rows are counted by their newlines (a value's
    newlines are escaped), each byte is searched once for the marker and once for the end of
    its line, and is copied only when a row spans two reads.
    """
    tag = nonce.encode("ascii") + b" "
    table = -1
    blocks: list[bytes] = []
    rows = size = 0
    # The start of an unfinished row, in the pieces it was read in (a row of many MB is joined
    # once, not once per read).
    carry: list[bytes] = []
    while True:
        chunk = stream.read1(read_bytes)
        if not chunk:
            break
        end = chunk.rfind(b"\n") + 1
        if end == 0:
            carry.append(chunk)
            continue
        data = b"".join([*carry, chunk[:end]]) if carry else chunk[:end]
        carry = [chunk[end:]] if end < len(chunk) else []
        start = 0
        while True:
            found = data.find(tag, start)
            while found > 0 and data[found - 1] != 0x0A:  # not at a line start: a value
                found = data.find(tag, found + 1)
            piece_end = len(data) if found < 0 else found
            if piece_end > start:
                if table < 0:
                    raise LoadRefused("the client printed rows before the first table")
                piece = data[start:piece_end]
                blocks.append(piece)
                rows += piece.count(b"\n")
                size += len(piece)
            if found < 0:
                break
            line_end = data.index(b"\n", found)
            if blocks:
                yield Batch(table, blocks, rows, size)
                blocks, rows, size = [], 0, 0
            number = data[found + len(tag) : line_end]
            if not number.isdigit() or not table < int(number) < tables:
                raise LoadRefused("the client's output names tables out of order")
            table = int(number)
            start = line_end + 1
        if size >= batch_bytes:
            yield Batch(table, blocks, rows, size)
            blocks, rows, size = [], 0, 0
    if carry:
        raise LoadRefused("the client's output ended inside a row")
    if blocks:
        yield Batch(table, blocks, rows, size)
