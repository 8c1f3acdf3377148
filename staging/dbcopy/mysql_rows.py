"""MySQL and MariaDB rows read and written in the servers' own wire format, never as SQL text.

Parsing text was the limit of every copy that goes through it: the target server reads an
extended INSERT, or ``LOAD DATA`` input, one byte at a time (half the server's time on a
WordPress copy, docs/performance.md). Here the rows never become text that a server parses:

- a reader session runs one ``SELECT`` per table in its snapshot and reads the result's row
  packets straight off its socket. In the text protocol a row is its values one after the
  other, each a length-prefixed string (``character_set_results = binary``: the stored bytes);
- a loader session sends them to a prepared multi-row ``INSERT`` (``COM_STMT_EXECUTE``), whose
  string parameters are the very same length-prefixed strings. A row's bytes are copied into
  the execute packet as they came, without looking at its values, once the row's first column,
  a flag per nullable column (``c IS NULL``), says that none is NULL; NULL values, which the
  two formats write differently, are set in the packet's NULL bitmap instead.

BIT values are read as numbers (``c + 0``), spatial values as hex and FLOAT values as doubles
(whose text keeps every bit), and written back with the matching function; generated columns
are left to the server. The server answers each execute with the rows it stored and its
warnings: a batch with a warning (a value it could not take as it came) fails the copy.

No ``LOAD DATA LOCAL``: no session of the copy ever lets a server ask for a file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pymysql
from pymysql.constants import COMMAND
from pymysql.protocol import OKPacketWrapper

# Placeholders of one prepared statement: a few thousand keep the prepare quick (the server
# describes every parameter in its answer) and the execute packets at a few hundred KB to MB.
MAX_PARAMS = 8192
READ_BYTES = 1 << 20
# MySQL's and MariaDB's largest max_allowed_packet: no row of a real server is larger.
MAX_ROW_BYTES = 1 << 30
_WHOLE_PACKET = 0xFFFFFF  # a payload of this length goes on in the next packet
_NULL = 0xFB
_BLOB = b"\xfc\x00"  # MYSQL_TYPE_BLOB, the type every parameter is sent as (bytes as they are)
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


class RowsRefused(Exception):
    """A server did not answer the way the protocol says."""


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

    @property
    def nullable(self) -> int:
        return sum(column.nullable for column in self.columns)

    @property
    def rows_per_statement(self) -> int:
        """The largest power of two whose rows fit in one statement's placeholders."""
        rows = max(MAX_PARAMS // len(self.columns), 1)
        return 1 << (rows.bit_length() - 1)

    def select(self) -> str:
        """The reader's statement: a first column of ``0``/``1`` flags, one per nullable column
        (``''`` where there is none), then one column per value."""
        flags = [f"{ident(column.name)} IS NULL" for column in self.columns if column.nullable]
        fields = [f"CONCAT({', '.join(flags)})" if flags else "''"]
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
        return f"SELECT {', '.join(fields)} FROM {ident(self.name)}"  # noqa: S608 - quoted names

    def insert(self, rows: int) -> str:
        """The loader's prepared statement for ``rows`` rows."""
        values = []
        for column in self.columns:
            if column.kind == "bit":
                values.append("CAST(? AS UNSIGNED)")
            elif column.kind == "spatial":
                values.append("UNHEX(?)")
            else:
                values.append("?")
        row = f"({', '.join(values)})"
        names = ", ".join(ident(column.name) for column in self.columns)
        return f"INSERT INTO {ident(self.name)} ({names}) VALUES {', '.join([row] * rows)}"  # noqa: S608


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


def streams(tables: Sequence[RowTable], count: int) -> list[list[tuple[int, RowTable]]]:
    """The tables, in the order given, dealt to ``count`` readers, each to the least loaded;
    a table keeps its place's number."""
    dealt: list[list[tuple[int, RowTable]]] = [[] for _ in range(max(count, 1))]
    loads = [0] * len(dealt)
    for number, table in enumerate(tables):
        least = loads.index(min(loads))
        dealt[least].append((number, table))
        loads[least] += max(table.size, 1)
    return [stream for stream in dealt if stream]


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass
class Batch:
    """Whole rows of one table: each row's values as an execute packet carries them, and
    where the NULLs are (row in the batch, column)."""

    table: int
    values: list[bytes] = field(default_factory=list)
    nulls: list[tuple[int, int]] = field(default_factory=list)
    size: int = 0

    @property
    def rows(self) -> int:
        return len(self.values)


def read_rows(
    conn: pymysql.connections.Connection[Any],
    number: int,
    table: RowTable,
    *,
    batch_bytes: int,
    read_bytes: int = READ_BYTES,
) -> Iterator[Batch]:
    """Run ``table``'s select on ``conn`` (in its snapshot) and cut the rows into batches of
    about ``batch_bytes``; ``number`` is the table's in the batches."""
    conn._execute_command(COMMAND.COM_QUERY, table.select().encode("utf-8"))  # type: ignore[attr-defined]
    header = conn._read_packet()  # type: ignore[no-untyped-call]  # an error packet raises
    if header.read_length_encoded_integer() != len(table.columns) + 1:
        raise RowsRefused("the source's result has other columns than its select")
    for _ in table.columns:
        conn._read_packet()  # type: ignore[no-untyped-call]
    conn._read_packet()  # type: ignore[no-untyped-call]  # the flags' column
    if not conn._read_packet().is_eof_packet():  # type: ignore[no-untyped-call]
        raise RowsRefused("the source's result has other columns than its select")
    rows = _row_payloads(conn._rfile, read_bytes)  # type: ignore[attr-defined]
    width = len(table.columns)
    flags = table.nullable
    # The flags' column: one length byte (fewer than 251 nullable columns), then a 0 or a 1
    # per nullable column.
    none_null = bytes([flags]) + b"0" * flags if flags < 251 else None
    batch = Batch(number)
    for row in rows:
        if row[: 1 + flags] == none_null:
            values = row[1 + flags :]
        else:
            values = _without_nulls(row, width, batch.rows, batch.nulls, table)
        batch.values.append(values)
        batch.size += len(values)
        if batch.size >= batch_bytes:
            yield batch
            batch = Batch(number)
    if batch.values:
        yield batch


def _row_payloads(stream: Any, read_bytes: int) -> Iterator[bytes]:
    """The payloads of a text result's row packets, up to its end (EOF) packet."""
    data = b""
    pos = 0
    pieces: list[bytes] = []  # a row of 16 MB or more comes in several packets
    while True:
        end = len(data)
        while end - pos >= 4:
            length = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
            start = pos + 4
            if end - start < length:
                break
            pos = start + length
            if length == _WHOLE_PACKET:
                pieces.append(data[start:pos])
                if len(pieces) * _WHOLE_PACKET > MAX_ROW_BYTES:
                    raise RowsRefused("the source sent a row larger than any server allows")
                continue
            if pieces:
                pieces.append(data[start:pos])
                yield b"".join(pieces)
                pieces = []
                continue
            first = data[start] if length else -1
            if first == 0xFE and length < 9:
                if pos != end:
                    raise RowsRefused("the source sent more after the end of a result")
                return
            if first == 0xFF:
                pymysql.err.raise_mysql_exception(data[start:pos])
            yield data[start:pos]
        chunk = stream.read1(read_bytes)
        if not chunk:
            raise RowsRefused("the source's result ended inside a row")
        data = data[pos:] + chunk if pos < end else chunk
        pos = 0


def _without_nulls(
    row: bytes, width: int, row_number: int, nulls: list[tuple[int, int]], table: RowTable
) -> bytes:
    """A row's values without its NULLs (which are recorded in ``nulls``)."""
    if not row:
        raise RowsRefused(f"an empty row of {table.name}")
    pos = _skip_value(row, 0)
    kept: list[bytes] = []
    for column in range(width):
        if pos >= len(row):
            raise RowsRefused(f"a row of {table.name} has fewer values than columns")
        if row[pos] == _NULL:
            nulls.append((row_number, column))
            pos += 1
            continue
        end = _skip_value(row, pos)
        if end > len(row):
            raise RowsRefused(f"a value of {table.name} runs past the end of its row")
        kept.append(row[pos:end])
        pos = end
    if pos != len(row):
        raise RowsRefused(f"a row of {table.name} has more values than columns")
    return b"".join(kept)


def _skip_value(row: bytes, pos: int) -> int:
    """Where the length-prefixed value at ``pos`` ends."""
    first = row[pos]
    if first < 0xFB:
        return pos + 1 + first
    if first == 0xFC:
        return pos + 3 + int.from_bytes(row[pos + 1 : pos + 3], "little")
    if first == 0xFD:
        return pos + 4 + int.from_bytes(row[pos + 1 : pos + 4], "little")
    if first == 0xFE:
        return pos + 9 + int.from_bytes(row[pos + 1 : pos + 9], "little")
    raise RowsRefused("a value with an invalid length")


class Inserter:
    """One loader session's prepared statements: a statement per table for each power of two
    rows up to the table's ``rows_per_statement``, so that any batch is a few executes.

    A batch's executes are sent one after the other and their answers read afterwards: one
    round trip per batch, as through a TCP proxy each costs milliseconds (the caller commits
    once it has checked the answers).
    """

    def __init__(self, conn: pymysql.connections.Connection[Any], max_packet: int) -> None:
        self.conn = conn
        self.max_packet = max_packet
        self.statements: dict[tuple[int, int], bytes] = {}

    def insert(self, table: RowTable, batch: Batch) -> tuple[int, int]:
        """Send ``batch``; (rows the server stored, warnings)."""
        pieces: list[tuple[int, int]] = []
        done = 0
        while done < batch.rows:
            count = min(table.rows_per_statement, 1 << ((batch.rows - done).bit_length() - 1))
            pieces.append((done, count))
            done += count
        heads = [self._prepared(batch.table, table, count) for _, count in pieces]
        packets = [
            self._send(table, batch, head, first, count)
            for head, (first, count) in zip(heads, pieces, strict=True)
        ]
        stored = warnings = 0
        for sent in packets:
            # The answer's sequence number follows the request's packets (PyMySQL expects the
            # one of the last request it wrote).
            self.conn._next_seq_id = sent  # type: ignore[attr-defined]
            reply = self.conn._read_packet()  # type: ignore[no-untyped-call]  # an error raises
            if not reply.is_ok_packet():
                raise RowsRefused("the target answered an insert out of protocol")
            ok = OKPacketWrapper(reply)
            stored += int(ok.affected_rows)
            warnings += int(ok.warning_count)
        return stored, warnings

    def _send(self, table: RowTable, batch: Batch, head: bytes, first: int, count: int) -> int:
        """Write one execute; the number of packets it took."""
        width = len(table.columns)
        params = count * width
        bitmap = bytearray((params + 7) // 8)
        for row, column in batch.nulls:
            if first <= row < first + count:
                bit = (row - first) * width + column
                bitmap[bit >> 3] |= 1 << (bit & 7)
        values = batch.values[first : first + count]
        size = len(head) + len(bitmap) + 1 + 2 * params + sum(len(value) for value in values)
        if size >= self.max_packet:
            raise RowsRefused(
                f"a row of {table.name} is larger than the target's max_allowed_packet "
                f"({self.max_packet} bytes)"
            )
        payload = b"".join([head, bitmap, b"\x01", _BLOB * params, *values])
        self.conn._execute_command(COMMAND.COM_STMT_EXECUTE, payload)  # type: ignore[attr-defined]
        return (len(payload) + 1) // _WHOLE_PACKET + 1

    def _prepared(self, number: int, table: RowTable, count: int) -> bytes:
        """The start of an execute packet for ``count`` rows of ``table`` (its statement is
        prepared on first use)."""
        key = (number, count)
        if key not in self.statements:
            conn = self.conn
            conn._execute_command(COMMAND.COM_STMT_PREPARE, table.insert(count).encode("utf-8"))  # type: ignore[attr-defined]
            answer = conn._read_packet().get_all_data()  # type: ignore[no-untyped-call]
            if answer[:1] != b"\x00" or len(answer) < 9:
                raise RowsRefused("the target answered a prepare out of protocol")
            statement, columns, params = struct.unpack("<IHH", answer[1:9])
            if params != count * len(table.columns) or columns:
                raise RowsRefused("the target prepared another statement than the copy's")
            for _ in range(params):
                conn._read_packet()  # type: ignore[no-untyped-call]
            conn._read_packet()  # type: ignore[no-untyped-call]  # EOF
            # No cursor, one iteration.
            self.statements[key] = struct.pack("<IBI", statement, 0, 1)
        return self.statements[key]
