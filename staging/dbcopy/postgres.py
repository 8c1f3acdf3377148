"""PostgreSQL: schema with pg_dump/pg_restore, data streamed table by table over one snapshot.

The method ("parallel-copy"), chosen by measurement (docs/performance.md):

1. one source transaction (REPEATABLE READ, READ ONLY) exports its snapshot; every other
   source session, pg_dump and psql included, imports it, so schema, data, row counts and
   sequence values all come from the same instant;
2. ``pg_dump -Fc --schema-only`` once; ``pg_restore --section=pre-data`` creates the tables
   without indexes, constraints or triggers;
3. ``jobs`` workers copy the tables, large ones split into ctid ranges, each range into
   ``COPY ... FROM STDIN (FORMAT binary)`` on a target session of this process. A range of at
   least ``RELAY_MIN_BYTES`` is read by a ``psql`` child running
   ``COPY ... TO STDOUT (FORMAT binary)`` in the snapshot; this process relays its output to
   the target in blocks of up to 1 MB and only counts the bytes, while the worker's own source
   session counts the range's rows (``count(*)``, same snapshot) for the verification. A
   smaller range is read by the worker's source session, one COPY message (one row) at a time:
   a psql of its own would cost more to start than the range costs to move. Either way the
   bytes are never held;
4. sequence values are set; ``pg_restore --section=post-data -j jobs`` builds indexes and
   constraints in parallel;
5. every table is counted on the target and compared with the rows the snapshot sent; a
   relayed range is also compared at once, before its target transaction commits.

Target sessions use lz4 TOAST compression (the biggest single saving on text-heavy tables)
and asynchronous commit; source sessions are read-only by default so that nothing, ours or a
bug's, can write into the source.

The source server is untrusted, and nothing it sends can make psql touch a file: psql runs
with ``-X`` (no psqlrc), a minimal environment (:meth:`Attempt.env`), standard input from
/dev/null, and only our own ``-c`` statements, none a backslash command (no ``\\copy``, no
``\\o``, no ``\\g file``), so its only output is the COPY stream to our pipe and its messages
to stderr. A psql that fails, or is killed, fails the attempt before the range's target
transaction commits: a source lost mid-stream never leaves a partial table behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from staging.dbcopy.attempt import Attempt, is_transient, tool_version, widen_pipe
from staging.dbcopy.errors import (
    CopyError,
    CopyToolMissing,
    CopyToolTooOld,
    CopyVerificationFailed,
    SourceUnreachable,
    TargetIsSource,
    TargetUnreachable,
    TransientCopyError,
)
from staging.dbcopy.limits import Limits, socket_deadline
from staging.dbcopy.markers import MARKER_TABLE, check_postgres, write_postgres
from staging.dbcopy.reports import PreflightReport
from staging.dbcopy.urls import DatabaseUrl
from staging.secrets import mask_text

logger = logging.getLogger("staging.dbcopy")

APPLICATION_NAME = "understudy-dbcopy"
# A table whose heap is larger than this is copied as several ctid ranges, so that both
# workers can share the one large table that most sites have.
SPLIT_TABLE_BYTES = 96 * 1024 * 1024
BLOCK_SIZE = 8192
SOURCE_OPTIONS = "-c default_transaction_read_only=on"
# A task (a table or a ctid range) of at least this many bytes is read by a psql child and
# relayed in large blocks; a smaller one goes through the worker's own source session, one
# COPY message per row. A psql costs a process, a session (on a network, TLS and
# authentication round trips too), the snapshot import and a count query: about 35 ms of CPU
# on one of our 2-core machines with a local server, before any byte moves. The message path
# costs this process about 4.7 ms of CPU per MB, so the two break even near 8 MB; the many
# small tables of a site (options, users, settings) stay on the message path, and every range
# of a large table (SPLIT_TABLE_BYTES) goes through psql.
RELAY_MIN_BYTES = 8 * 1024 * 1024
# The relay reads psql's output in blocks of up to this size, into a pipe enlarged to it
# where the system allows (64 KB by default): fewer, larger reads and writes per GB.
RELAY_BLOCK_BYTES = 1024 * 1024
TARGET_OPTIONS = "-c synchronous_commit=off -c maintenance_work_mem=256MB"


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[str, ...]
    heap_bytes: int
    total_bytes: int

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def identifier(self) -> sql.Composed:
        return sql.SQL(".").join([sql.Identifier(self.schema), sql.Identifier(self.name)])

    @property
    def column_list(self) -> sql.Composed:
        return sql.SQL(", ").join(sql.Identifier(column) for column in self.columns)


@dataclass(frozen=True)
class Task:
    table: Table
    first_block: int | None = None  # ctid range [first_block, last_block); None: whole table
    last_block: int | None = None

    @property
    def estimated_bytes(self) -> int:
        if self.first_block is None:
            return self.table.total_bytes
        pages = max(self.table.heap_bytes // BLOCK_SIZE, 1)
        span = (self.last_block or pages) - self.first_block
        return self.table.total_bytes * max(span, 0) // pages


@dataclass(frozen=True)
class Sequence:
    schema: str
    name: str
    last_value: int
    is_called: bool

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"


def _connection_values(url: DatabaseUrl, limits: Limits) -> dict[str, Any]:
    """libpq keywords for a session with a client's server, password excepted.

    ``hostaddr`` is the address the policy checked (libpq connects there and keeps ``host``
    for TLS); TLS is used whenever the server offers it; the worker's Kerberos credentials,
    password file and service file are never consulted; keepalives notice a peer that is gone.
    """
    return {
        "host": url.host,
        "hostaddr": url.connect_address,
        "port": str(url.port),
        "user": url.user,
        "dbname": url.database,
        "sslmode": url.tls,
        "gssencmode": "disable",
        "passfile": os.devnull,
        "connect_timeout": str(max(limits.connect_timeout, 2)),
        "keepalives": "1",
        "keepalives_idle": "30",
        "keepalives_interval": "10",
        "keepalives_count": "3",
        "tcp_user_timeout": str(int(limits.stall_timeout * 1000)),
        "application_name": APPLICATION_NAME,
    }


def conninfo(url: DatabaseUrl, limits: Limits | None = None) -> str:
    """A libpq connection string for the client tools, built by libpq's own quoting rules;
    the password goes in PGPASSWORD, never on a command line."""
    return make_conninfo("", **_connection_values(url, limits or Limits()))


def connect(
    url: DatabaseUrl,
    *,
    options: str,
    autocommit: bool = False,
    limits: Limits | None = None,
) -> psycopg.Connection[Any]:
    return psycopg.connect(
        **_connection_values(url, limits or Limits()),
        password=url.password or None,
        options=options,
        autocommit=autocommit,
    )


def connect_checked(
    url: DatabaseUrl,
    error: type[CopyError],
    role: str,
    *,
    limits: Limits,
    secrets: tuple[str, ...],
    options: str = "",
) -> psycopg.Connection[Any]:
    """A session, or ``error`` with the driver's message masked."""
    try:
        return connect(url, options=options, autocommit=True, limits=limits)
    except psycopg.Error as exc:
        raise error(
            f"Cannot connect to the {role} database {url}: {_mask(str(exc).strip(), secrets)}",
            details={"url": url.masked},
        ) from None


@contextlib.contextmanager
def guarded(
    conn: psycopg.Connection[Any],
    limits: Limits,
    error: type[CopyError],
    role: str,
    url: DatabaseUrl,
) -> Iterator[None]:
    """Queries that must be answered within ``limits.query_timeout`` (libpq has no read
    timeout: a silent server would hold the worker for ever)."""
    with socket_deadline(conn.fileno(), limits.query_timeout) as watch:
        try:
            yield
        except psycopg.Error:
            if watch.fired:
                raise error(
                    f"The {role} database {url} did not answer within "
                    f"{limits.query_timeout:.0f} seconds.",
                    details={"url": url.masked, "timeout_seconds": limits.query_timeout},
                ) from None
            raise


class PostgresEngine:
    method = "parallel-copy"
    # Tasks of at least this many bytes go through psql (RELAY_MIN_BYTES); tests lower it.
    relay_min_bytes = RELAY_MIN_BYTES

    def __init__(
        self,
        source: DatabaseUrl,
        target: DatabaseUrl,
        *,
        jobs: int,
        limits: Limits | None = None,
        staging_marker: str | None = None,
    ) -> None:
        self.source = source
        self.target = target
        self.jobs = max(1, jobs)
        self.limits = limits or Limits()
        self.staging_marker = staging_marker
        self.secrets = tuple(s for s in (source.password, target.password) if s)

    # -- preflight ---------------------------------------------------------------------------

    def preflight(self, *, with_target: bool = True) -> PreflightReport:
        tools = {name: shutil.which(name) for name in ("pg_dump", "pg_restore", "psql")}
        missing = sorted(name for name, path in tools.items() if path is None)
        source = self._connect_or_raise(self.source, SOURCE_OPTIONS, SourceUnreachable, "source")
        try:
            with guarded(source, self.limits, SourceUnreachable, "source", self.source):
                server_num, server_version, size = _server_facts(source)
            server_major = server_num // 10000
            if missing:
                raise CopyToolMissing(
                    f"{' and '.join(missing)} not found on this machine: install "
                    f"postgresql-client-{server_major} (the source runs PostgreSQL "
                    f"{server_version}).",
                    details={"missing": missing, "server_version": server_version},
                )
            client_version, client_major = _tool_version("pg_dump")
            restore_version, restore_major = _tool_version("pg_restore")
            if client_major < server_major or restore_major != client_major:
                raise CopyToolTooOld(
                    f"pg_dump {client_version} / pg_restore {restore_version} cannot copy a "
                    f"PostgreSQL {server_version} server: install "
                    f"postgresql-client-{server_major}.",
                    details={
                        "client_version": client_version,
                        "server_version": server_version,
                        "install": f"postgresql-client-{server_major}",
                    },
                )
            if with_target:
                target = self._connect_or_raise(self.target, "", TargetUnreachable, "target")
                try:
                    with guarded(target, self.limits, TargetUnreachable, "target", self.target):
                        self._refuse_same_database(source, target)
                        if self.staging_marker is not None:
                            check_postgres(target, self.staging_marker)
                finally:
                    target.close()
        finally:
            source.close()
        return PreflightReport(
            engine="postgres",
            source_size_bytes=size,
            server_version=server_version,
            client_version=client_version,
        )

    def _connect_or_raise(
        self, url: DatabaseUrl, options: str, error: type[CopyError], role: str
    ) -> psycopg.Connection[Any]:
        return connect_checked(
            url, error, role, limits=self.limits, secrets=self.secrets, options=options
        )

    def _refuse_same_database(
        self, source: psycopg.Connection[Any], target: psycopg.Connection[Any]
    ) -> None:
        """Ask the servers: an advisory lock taken on the source blocks the same database only.

        Advisory locks are scoped to one database of one cluster, so a lock the source session
        holds is visible to the target session exactly when both are the same database,
        whatever the URLs say (another host name, a proxy, an IP). Taking an advisory lock
        writes nothing.
        """
        key = int.from_bytes(os.urandom(7), "big")
        source.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            row = target.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row is not None and row[0]:
                target.execute("SELECT pg_advisory_unlock(%s)", (key,))
                return
        finally:
            source.execute("SELECT pg_advisory_unlock(%s)", (key,))
        raise TargetIsSource(
            f"The target {self.target} is the source database {self.source}: refusing to copy.",
            details={"source": self.source.masked, "target": self.target.masked},
        )

    # -- the copy ----------------------------------------------------------------------------

    def estimate_bytes(self) -> int:
        """The bytes the data phase will stream (heap and TOAST of the tables copied)."""
        with (
            self._connect_or_raise(
                self.source, SOURCE_OPTIONS, SourceUnreachable, "source"
            ) as conn,
            guarded(conn, self.limits, SourceUnreachable, "source", self.source),
        ):
            row = conn.execute(_TABLE_BYTES_QUERY).fetchone()
        return int(row[0]) if row and row[0] else 0

    def copy(self, attempt: Attempt) -> tuple[dict[str, int], int]:
        env = self._tool_env(attempt, self.source, SOURCE_OPTIONS)
        with self._exporting_snapshot(attempt) as (snapshot_conn, snapshot):
            tables = _list_tables(snapshot_conn)
            sequences = _list_sequences(snapshot_conn)
            if _has_large_objects(snapshot_conn):
                raise CopyError(
                    "The source database holds large objects, which this copy does not carry."
                )
            with tempfile.TemporaryDirectory(prefix="understudy-dbcopy-") as workdir:
                schema_file = os.path.join(workdir, "schema.dump")
                attempt.enter("schema")
                self._clean_target(attempt)
                attempt.run(
                    [
                        "pg_dump",
                        "--format=custom",
                        "--compress=0",
                        "--schema-only",
                        "--no-owner",
                        "--no-privileges",
                        "--no-subscriptions",
                        "--no-publications",
                        "--no-sync",
                        # The marker belongs to the target; a source that has one (a copy of a
                        # copy, or a hostile project) must not bring its own.
                        f"--exclude-table=public.{MARKER_TABLE}",
                        f"--snapshot={snapshot}",
                        f"--file={schema_file}",
                        f"--dbname={conninfo(self.source, self.limits)}",
                    ],
                    env=env,
                    what="pg_dump (schema)",
                )
                self._restore(attempt, schema_file, "pre-data", jobs=1)
                attempt.enter("data")
                source_counts = self._copy_data(attempt, snapshot, tables)
                self._set_sequences(attempt, sequences)
                attempt.enter("indexes")
                self._restore(attempt, schema_file, "post-data", jobs=self.jobs)
            attempt.enter("verify")
            self._verify(attempt, tables, sequences, source_counts)
        return source_counts, attempt.bytes_copied

    @contextlib.contextmanager
    def _exporting_snapshot(
        self, attempt: Attempt
    ) -> Iterator[tuple[psycopg.Connection[Any], str]]:
        conn = self._attempt_connect(attempt, self.source, SOURCE_OPTIONS)
        try:
            with attempt.cancelling(conn.cancel_safe):
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                row = conn.execute("SELECT pg_export_snapshot()").fetchone()
                if row is None:
                    raise RuntimeError("pg_export_snapshot() returned no row")
                yield conn, str(row[0])
        finally:
            conn.close()

    def _attempt_connect(
        self, attempt: Attempt, url: DatabaseUrl, options: str
    ) -> psycopg.Connection[Any]:
        attempt.check()
        try:
            return connect(url, options=options, autocommit=True, limits=self.limits)
        except psycopg.OperationalError as exc:
            raise TransientCopyError(
                f"Cannot connect to {url}: {_mask(str(exc).strip(), self.secrets)}"
            ) from None

    def _tool_env(self, attempt: Attempt, url: DatabaseUrl, options: str) -> dict[str, str]:
        extra = {"PGPASSFILE": os.devnull, "PGSYSCONFDIR": os.devnull}
        if options:
            extra["PGOPTIONS"] = options
        if url.password:
            extra["PGPASSWORD"] = url.password
        return attempt.env(**extra)

    def _target_options(self) -> str:
        return TARGET_OPTIONS + (" -c default_toast_compression=lz4" if self._target_lz4 else "")

    _target_lz4 = False

    def _clean_target(self, attempt: Attempt) -> None:
        """Drop every object of the target database, keeping the database itself.

        Railway's database user may not be allowed to drop and create databases, so the
        schemas are dropped (and ``public`` recreated) instead.
        """
        conn = self._attempt_connect(attempt, self.target, "")
        try:
            with attempt.cancelling(conn.cancel_safe):
                lz4 = conn.execute(
                    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                    "WHERE name = 'default_toast_compression'"
                ).fetchone()
                self._target_lz4 = bool(lz4 and lz4[0])
                extensions = [
                    str(r[0])
                    for r in conn.execute(
                        "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'"
                    )
                ]
                schemas = [
                    str(r[0])
                    for r in conn.execute(
                        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                        "AND nspname <> 'information_schema'"
                    )
                ]
                with conn.transaction():
                    for extension in extensions:
                        conn.execute(
                            sql.SQL("DROP EXTENSION IF EXISTS {} CASCADE").format(
                                sql.Identifier(extension)
                            )
                        )
                    for schema in schemas:
                        conn.execute(
                            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                                sql.Identifier(schema)
                            )
                        )
                    conn.execute("CREATE SCHEMA public")
                    conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
                    if self.staging_marker is not None:
                        write_postgres(conn, self.staging_marker)
        except psycopg.Error as exc:
            raise self._error(exc, "cleaning the target") from None
        finally:
            conn.close()

    def _restore(self, attempt: Attempt, schema_file: str, section: str, *, jobs: int) -> None:
        attempt.run(
            [
                "pg_restore",
                f"--section={section}",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--jobs={jobs}",
                f"--dbname={conninfo(self.target, self.limits)}",
                schema_file,
            ],
            env=self._tool_env(attempt, self.target, self._target_options()),
            what=f"pg_restore ({section})",
        )

    def _tasks(self, tables: list[Table]) -> list[Task]:
        tasks: list[Task] = []
        for table in tables:
            pages = table.heap_bytes // BLOCK_SIZE
            if table.heap_bytes <= SPLIT_TABLE_BYTES or pages < 2 * self.jobs:
                tasks.append(Task(table))
                continue
            pieces = max(2 * self.jobs, -(-table.heap_bytes // SPLIT_TABLE_BYTES))
            step = -(-pages // pieces)
            for first in range(0, pages, step):
                last = first + step
                # Rows written after the snapshot's size was read live beyond the last page:
                # the last range stays open.
                tasks.append(Task(table, first, None if last >= pages else last))
        return sorted(tasks, key=lambda task: task.estimated_bytes, reverse=True)

    def _copy_data(self, attempt: Attempt, snapshot: str, tables: list[Table]) -> dict[str, int]:
        work: queue.Queue[Task] = queue.Queue()
        for task in self._tasks(tables):
            work.put(task)
        counts = {table.label: 0 for table in tables}
        counts_lock = threading.Lock()
        errors: list[BaseException] = []
        # Sessions are opened here, before any worker starts, so that a connection problem
        # fails the attempt at once rather than inside a thread.
        sessions = []
        try:
            for _ in range(min(self.jobs, max(work.qsize(), 1))):
                src = self._attempt_connect(attempt, self.source, SOURCE_OPTIONS)
                sessions.append(src)
                tgt = self._attempt_connect(attempt, self.target, self._target_options())
                sessions.append(tgt)
            pairs = list(zip(sessions[::2], sessions[1::2], strict=True))
            for src, tgt in pairs:
                # The COPY stream is read in the source session's client encoding and written
                # in the target session's: one encoding for both, whoever reads the source.
                encoding = tgt.info.parameter_status("client_encoding")
                if encoding is not None and encoding != src.info.parameter_status(
                    "client_encoding"
                ):
                    src.execute(sql.SQL("SET client_encoding TO {}").format(sql.Literal(encoding)))
                src.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                src.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))

            def worker(src: psycopg.Connection[Any], tgt: psycopg.Connection[Any]) -> None:
                try:
                    with attempt.cancelling(src.cancel_safe), attempt.cancelling(tgt.cancel_safe):
                        while not errors:
                            attempt.check()
                            try:
                                task = work.get_nowait()
                            except queue.Empty:
                                return
                            if task.estimated_bytes >= self.relay_min_bytes:
                                rows = self._relay_task(attempt, src, tgt, task, snapshot)
                            else:
                                rows = self._copy_task(attempt, src, tgt, task)
                            attempt.touch()
                            with counts_lock:
                                counts[task.table.label] += rows
                except BaseException as exc:
                    errors.append(exc)

            threads = [
                threading.Thread(target=worker, args=pair, name=f"dbcopy-{i}", daemon=True)
                for i, pair in enumerate(pairs)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        except psycopg.Error as exc:
            raise self._error(exc, "copying the data") from None
        finally:
            for conn in sessions:
                conn.close()
        attempt.check()
        if errors:
            first = errors[0]
            if isinstance(first, psycopg.Error):
                raise self._error(first, "copying the data") from None
            raise first
        return counts

    def _copy_task(
        self,
        attempt: Attempt,
        src: psycopg.Connection[Any],
        tgt: psycopg.Connection[Any],
        task: Task,
    ) -> int:
        """A small task, through the worker's source session, one COPY message at a time."""
        copy_out = sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(_select(task))
        pending = 0
        with tgt.transaction():
            out_cursor = src.cursor()
            with (
                out_cursor.copy(copy_out) as reader,
                tgt.cursor().copy(_copy_in(task.table)) as writer,
            ):
                for data in reader:
                    writer.write(data)
                    pending += len(data)
                    if pending >= 1 << 20:
                        attempt.add(bytes_copied=pending)
                        pending = 0
        rows = out_cursor.rowcount
        attempt.add(bytes_copied=pending, rows=rows)
        return rows

    def _relay_task(
        self,
        attempt: Attempt,
        src: psycopg.Connection[Any],
        tgt: psycopg.Connection[Any],
        task: Task,
        snapshot: str,
    ) -> int:
        """A large task: psql writes the source's COPY stream into a pipe, this process relays
        it to the target in large blocks; the worker's source session, idle meanwhile and in
        the same snapshot, counts the rows the stream carries.

        The target's COPY is ended only once psql has exited with 0, and the target rows are
        compared with the source count before the target transaction commits.
        """
        statements = [
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)).as_string(src),
            sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(_select(task)).as_string(src),
        ]
        encoding = tgt.info.parameter_status("client_encoding")
        if encoding is not None:
            # psql would pick its encoding from the locale: the stream must be in the one the
            # target session reads (as the worker's source session's is, see _copy_data).
            statements.insert(
                0,
                sql.SQL("SET client_encoding TO {}").format(sql.Literal(encoding)).as_string(src),
            )
        command = [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            f"--dbname={conninfo(self.source, self.limits)}",
        ]
        for statement in statements:
            # A -c string that starts with a backslash would be a psql command, not SQL.
            if statement.startswith("\\"):
                raise ValueError(f"not an SQL statement: {statement[:40]!r}")
            command += ["-c", statement]
        count = sql.SQL("SELECT count(*) FROM ONLY {}{}").format(
            task.table.identifier, _ctid_condition(task)
        )
        env = self._tool_env(attempt, self.source, SOURCE_OPTIONS)
        with (
            attempt.spawn(command, env=env, stdout=subprocess.PIPE) as process,
            _counting(src, count) as source_rows,
            tgt.transaction(),
        ):
            cursor = tgt.cursor()
            with cursor.copy(_copy_in(task.table)) as writer:
                if process.stdout is None:
                    raise RuntimeError("psql's pipe was not opened")
                _relay(attempt, process.stdout.fileno(), writer.write)
                returncode = process.wait()
                # Inside the COPY: a failure ends it with an error, so that nothing of a
                # stream cut short is committed (a binary COPY that stops between two rows
                # looks complete to the server).
                attempt.check()
                if returncode < 0:
                    # Killed by a signal, and not by our abort: the source side died
                    # mid-stream (the out-of-memory killer, an operator); worth another try.
                    raise TransientCopyError(
                        f"psql (copy out of {task.table.label}) was killed by signal "
                        f"{-returncode}.",
                        details={"tool": "psql", "exit_code": returncode},
                    )
                attempt.raise_for(returncode, attempt.stderr(process), what="psql (copy out)")
            loaded = cursor.rowcount
            expected = source_rows()
            if loaded != expected:
                raise CopyVerificationFailed(
                    f"The copy of {task.table.label} in {self.target} does not match the "
                    f"source: {expected} row(s) in the snapshot, {loaded} loaded.",
                    details={"tables": {task.table.label: {"source": expected, "target": loaded}}},
                )
        attempt.add(rows=loaded)
        return loaded

    def _set_sequences(self, attempt: Attempt, sequences: list[Sequence]) -> None:
        if not sequences:
            return
        conn = self._attempt_connect(attempt, self.target, "")
        try:
            with attempt.cancelling(conn.cancel_safe), conn.transaction():
                for seq in sequences:
                    conn.execute(
                        "SELECT setval(%s::regclass, %s, %s)",
                        (_regclass(seq.schema, seq.name), seq.last_value, seq.is_called),
                    )
        except psycopg.Error as exc:
            raise self._error(exc, "setting sequence values") from None
        finally:
            conn.close()

    def _verify(
        self,
        attempt: Attempt,
        tables: list[Table],
        sequences: list[Sequence],
        source_counts: dict[str, int],
    ) -> None:
        target_counts: dict[str, int] = {}
        pending: queue.Queue[Table] = queue.Queue()
        for table in sorted(tables, key=lambda t: t.total_bytes, reverse=True):
            pending.put(table)
        errors: list[BaseException] = []

        def count(conn: psycopg.Connection[Any]) -> None:
            try:
                with attempt.cancelling(conn.cancel_safe):
                    while not errors:
                        attempt.check()
                        try:
                            table = pending.get_nowait()
                        except queue.Empty:
                            return
                        row = conn.execute(
                            sql.SQL("SELECT count(*) FROM ONLY {}").format(table.identifier)
                        ).fetchone()
                        target_counts[table.label] = int(row[0]) if row else -1
                        attempt.touch()
            except BaseException as exc:
                errors.append(exc)

        conns = [
            self._attempt_connect(attempt, self.target, "")
            for _ in range(min(self.jobs, max(len(tables), 1)))
        ]
        try:
            threads = [threading.Thread(target=count, args=(c,), daemon=True) for c in conns]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            attempt.check()
            if errors:
                first = errors[0]
                if isinstance(first, psycopg.Error):
                    raise self._error(first, "verifying the copy") from None
                raise first
            target_sequences = {
                seq.label: _sequence_state(conns[0], seq.schema, seq.name) for seq in sequences
            }
        finally:
            for conn in conns:
                conn.close()
        mismatched = {
            label: {"source": source_counts[label], "target": target_counts.get(label)}
            for label in source_counts
            if target_counts.get(label) != source_counts[label]
        }
        wrong_sequences = {
            seq.label: {
                "source": [seq.last_value, seq.is_called],
                "target": list(target_sequences[seq.label]),
            }
            for seq in sequences
            if target_sequences[seq.label] != (seq.last_value, seq.is_called)
        }
        if mismatched or wrong_sequences:
            raise CopyVerificationFailed(
                f"The copy in {self.target} does not match the source: "
                f"{len(mismatched)} table(s) and {len(wrong_sequences)} sequence(s) differ.",
                details={"tables": mismatched, "sequences": wrong_sequences},
            )

    def _error(self, exc: psycopg.Error, doing: str) -> CopyError:
        message = _mask(str(exc).strip(), self.secrets)
        transient = isinstance(exc, psycopg.OperationalError) or is_transient(message)
        if isinstance(exc, psycopg.errors.QueryCanceled):
            transient = False
        error_class = TransientCopyError if transient else CopyError
        return error_class(f"PostgreSQL failed while {doing}: {message}")


_TABLE_BYTES_QUERY = """
SELECT sum(pg_table_size(c.oid))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
"""

_TABLES_QUERY = """
SELECT n.nspname, c.relname,
       array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE a.attname IS NOT NULL),
       pg_relation_size(c.oid), pg_table_size(c.oid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attgenerated = ''
WHERE c.relkind = 'r' AND c.relpersistence <> 't'
  AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
GROUP BY n.nspname, c.relname, c.oid
"""

_SEQUENCES_QUERY = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
"""


def _list_tables(conn: psycopg.Connection[Any]) -> list[Table]:
    return [
        Table(
            schema=str(schema),
            name=str(name),
            columns=tuple(columns or ()),
            heap_bytes=int(heap),
            total_bytes=int(total),
        )
        for schema, name, columns, heap, total in conn.execute(_TABLES_QUERY)
        if columns and (str(schema), str(name)) != ("public", MARKER_TABLE)
    ]


def _list_sequences(conn: psycopg.Connection[Any]) -> list[Sequence]:
    sequences = []
    for schema, name in conn.execute(_SEQUENCES_QUERY).fetchall():
        last_value, is_called = _sequence_state(conn, str(schema), str(name))
        sequences.append(Sequence(str(schema), str(name), last_value, is_called))
    return sequences


def _sequence_state(conn: psycopg.Connection[Any], schema: str, name: str) -> tuple[int, bool]:
    row = conn.execute(
        sql.SQL("SELECT last_value, is_called FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(name)
        )
    ).fetchone()
    if row is None:
        raise RuntimeError(f"sequence {schema}.{name} returned no row")
    return int(row[0]), bool(row[1])


def _has_large_objects(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_largeobject_metadata)").fetchone()
    return bool(row and row[0])


def _ctid_condition(task: Task) -> sql.Composable:
    """`` WHERE`` and the task's ctid range, or nothing for a whole table."""
    if task.first_block is None:
        return sql.SQL("")
    condition = sql.SQL("ctid >= {}::tid").format(sql.Literal(f"({task.first_block},0)"))
    if task.last_block is not None:
        condition = sql.SQL("{} AND ctid < {}::tid").format(
            condition, sql.Literal(f"({task.last_block},0)")
        )
    return sql.SQL(" WHERE {}").format(condition)


def _select(task: Task) -> sql.Composed:
    return sql.SQL("SELECT {} FROM ONLY {}{}").format(
        task.table.column_list, task.table.identifier, _ctid_condition(task)
    )


def _copy_in(table: Table) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        table.identifier, table.column_list
    )


@contextlib.contextmanager
def _counting(conn: psycopg.Connection[Any], query: sql.Composed) -> Iterator[Callable[[], int]]:
    """Run ``query`` (a count) on ``conn`` in a thread of its own while the block runs.

    The block gets a function that waits for the count and returns it, or raises its error. A
    block that fails before asking cancels the count, so that the session is free when the
    block is left.
    """
    result: list[int] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            row = conn.execute(query).fetchone()
            result.append(int(row[0]) if row else -1)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="dbcopy-count", daemon=True)
    thread.start()

    def value() -> int:
        thread.join()
        if failure:
            raise failure[0]
        return result[0]

    try:
        yield value
    finally:
        if thread.is_alive():
            with contextlib.suppress(Exception):
                conn.cancel_safe()
        thread.join()


def _relay(attempt: Attempt, fd: int, write: Callable[[memoryview], None]) -> None:
    """Pass everything readable from ``fd`` (psql's standard output) to ``write`` (the
    target's COPY), in blocks of up to ``RELAY_BLOCK_BYTES``, until the end of the stream."""
    widen_pipe(fd, RELAY_BLOCK_BYTES)
    block = bytearray(RELAY_BLOCK_BYTES)
    with memoryview(block) as view:
        while size := os.readv(fd, [block]):
            write(view[:size])
            attempt.add(bytes_copied=size)


def _regclass(schema: str, name: str) -> str:
    return f'"{schema.replace(chr(34), chr(34) * 2)}"."{name.replace(chr(34), chr(34) * 2)}"'


def _server_facts(conn: psycopg.Connection[Any]) -> tuple[int, str, int]:
    server_num = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
    server_version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    size = int(
        conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
    )
    return server_num, server_version, size


def _tool_version(tool: str) -> tuple[str, int]:
    output = tool_version(tool)
    match = re.search(r"(\d+)(?:\.(\d+))?", output)
    if match is None:
        raise CopyToolMissing(f"{tool} --version printed nothing useful: {output.strip()!r}")
    return match.group(0), int(match.group(1))


def _mask(text: str, secrets: tuple[str, ...]) -> str:
    return mask_text(text, secrets)
