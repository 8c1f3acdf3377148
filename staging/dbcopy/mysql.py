"""MySQL and MariaDB: one consistent snapshot, loaded on several connections in parallel.

The method, chosen by measurement (docs/performance.md):

1. the schema (tables, views, routines, events; no triggers yet) is dumped and loaded first,
   secondary and foreign keys taken out to be built after the data;
2. the rows of every table come from one InnoDB snapshot and are written by ``jobs`` target
   sessions of this process, with foreign-key and unique checks off and one commit per
   batch of a few MB; the queue between them is bounded, so memory stays flat:

   - "prepared-insert": one ``SELECT`` per table on reader sessions (several in the same
     snapshot where the source lets commits wait a moment), whose row packets are copied into
     prepared multi-row ``INSERT`` executes as they came (:mod:`staging.dbcopy.mysql_rows`):
     no server parses the rows as text, and the server confirms the rows of each batch;
   - "parallel-load" (tests, and a fallback kept for them): one ``mysqldump``/``mariadb-dump
     --single-transaction --quick`` stream, cut at statement boundaries;

3. keys are built, then triggers created, so that they do not fire on the copied rows;
4. the rows of every table are counted as they pass and compared with the target's own count
   (the rows each execute stored, or ``count(*)``); AUTO_INCREMENT counters must not be
   behind the source's.

Passwords reach the client tools through an option file readable only by this user, read
with ``--defaults-file`` (no other option file) and written with every value quoted and
escaped; the URL's parts were refused if they held control characters, so no value can add a
line. The client tools run with ``--local-infile=0`` and PyMySQL's own ``LOAD DATA LOCAL``
handler is off: a hostile server could otherwise ask for any file the worker can read. No
session of the copy offers ``LOAD DATA LOCAL`` at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, Any, TypeVar

import pymysql
import pymysql.cursors

from staging.dbcopy import mysql_rows
from staging.dbcopy.attempt import Attempt, is_transient, kill_group, tool_version
from staging.dbcopy.errors import (
    CopyError,
    CopyToolIncompatible,
    CopyToolMissing,
    CopyVerificationFailed,
    DatabaseUrlInvalid,
    SourceUnreachable,
    TargetIsSource,
    TargetUnreachable,
    TransientCopyError,
)
from staging.dbcopy.limits import Limits
from staging.dbcopy.markers import MARKER_TABLE, check_mysql, write_mysql
from staging.dbcopy.reports import PreflightReport
from staging.dbcopy.urls import DatabaseUrl
from staging.secrets import mask_text

logger = logging.getLogger("staging.dbcopy")
_Item = TypeVar("_Item")

BATCH_BYTES = 4 * 1024 * 1024
# Rows this wide on average keep their secondary keys while they load (see _KeyDeferrer).
WIDE_ROW_BYTES = 1024
READ_BYTES = 1 << 20
# The dump names the columns of a table with generated or invisible columns.
_INSERT = re.compile(rb"INSERT INTO `((?:[^`]|``)+)` (?:\((?:`(?:[^`]|``)*`(?:, ?)?)*\) )?VALUES")
_STRING = re.compile(rb"'[^'\\]*(?:\\.[^'\\]*)*'")
_CREATE_TABLE = re.compile(rb"CREATE TABLE `((?:[^`]|``)+)` \(\n")
_DEFINER = re.compile(rb"DEFINER=`(?:[^`]|``)*`@`(?:[^`]|``)*`")
_SYSTEM_SCHEMAS = {"mysql", "information_schema", "performance_schema", "sys"}


def connect(
    url: DatabaseUrl, *, limits: Limits | None = None
) -> pymysql.connections.Connection[Any]:
    """A session with a client's server: at the checked address, TLS whenever the server offers
    it (required when the URL says so; the certificate is not verified: see docs/security.md),
    read and write timeouts, and PyMySQL's ``LOAD DATA LOCAL`` handler off.
    """
    limits = limits or Limits()
    tls: dict[str, Any] = {}
    if url.tls == "require":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        tls["ssl"] = context
    conn = pymysql.connect(
        host=url.connect_address,
        port=url.port,
        user=url.user,
        password=url.password,
        database=url.database,
        connect_timeout=limits.connect_timeout,
        read_timeout=limits.stall_timeout,
        write_timeout=limits.stall_timeout,
        local_infile=False,
        autocommit=True,
        charset="utf8mb4",
        defer_connect=True,
        **tls,
    )
    # PyMySQL's connect_timeout covers the TCP connect only; the handshake is read with the
    # read timeout. A server that accepts and never greets must fail in connect_timeout, not
    # in the (much longer) read timeout meant for slow statements.
    conn._read_timeout = conn._write_timeout = limits.connect_timeout  # type: ignore[attr-defined]
    try:
        conn.connect()
    finally:
        conn._read_timeout = conn._write_timeout = limits.stall_timeout  # type: ignore[attr-defined]
    return conn


def connect_or_raise(
    url: DatabaseUrl,
    error: type[CopyError],
    role: str,
    *,
    limits: Limits,
    secrets: tuple[str, ...],
) -> pymysql.connections.Connection[Any]:
    try:
        return connect(url, limits=limits)
    except pymysql.Error as exc:
        raise error(
            f"Cannot connect to the {role} database {url}: {mask_text(str(exc), secrets)}",
            details={"url": url.masked},
        ) from None


class MysqlEngine:
    method = "parallel-load"
    # Rows through prepared statements ("prepared-insert"); tests turn it off to run the
    # dump-and-INSERT path ("parallel-load").
    stream_rows = True

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
        self.dump_tool = "mariadb-dump"
        self.client_tool = "mariadb"
        self.engine_name = "mariadb"
        self.sql_log_bin = False

    # -- connections -------------------------------------------------------------------------

    def _connect(self, url: DatabaseUrl) -> pymysql.connections.Connection[Any]:
        return connect(url, limits=self.limits)

    def _connect_or_raise(
        self, url: DatabaseUrl, error: type[CopyError], role: str
    ) -> pymysql.connections.Connection[Any]:
        return connect_or_raise(url, error, role, limits=self.limits, secrets=self.secrets)

    def _mask(self, text: str) -> str:
        return mask_text(text, self.secrets)

    # -- preflight ---------------------------------------------------------------------------

    def preflight(self, *, with_target: bool = True) -> PreflightReport:
        source = self._connect_or_raise(self.source, SourceUnreachable, "source")
        try:
            with source.cursor() as cur:
                cur.execute("SELECT VERSION(), @@version_comment")
                version, comment = cur.fetchone() or ("", "")
                cur.execute(
                    "SELECT COALESCE(SUM(data_length + index_length), 0) "
                    "FROM information_schema.TABLES WHERE table_schema = DATABASE()"
                )
                size = int((cur.fetchone() or (0,))[0])
            server_is_mariadb = "mariadb" in f"{version} {comment}".lower()
            self.engine_name = "mariadb" if server_is_mariadb else "mysql"
            client_version = self._pick_tools(str(version), server_is_mariadb)
            if with_target:
                target = self._connect_or_raise(self.target, TargetUnreachable, "target")
                try:
                    self._refuse_same_database(source, target)
                    with target.cursor() as cursor:
                        if self.staging_marker is not None:
                            check_mysql(cursor, self.staging_marker)
                        if self.stream_rows:
                            self.method = "prepared-insert"
                finally:
                    target.close()
        finally:
            source.close()
        return PreflightReport(
            engine=self.engine_name,
            source_size_bytes=size,
            server_version=str(version),
            client_version=client_version,
        )

    def _pick_tools(self, server_version: str, server_is_mariadb: bool) -> str:
        """The dump and client tools that suit the server, or an error naming what to install.

        MariaDB's dump tool against a MySQL 8/9 server fails on ``COLUMN_STATISTICS`` and
        mishandles newer collations and invisible columns; Oracle's mysqldump is the right
        tool there, and MariaDB's for MariaDB.
        """
        candidates = (
            [("mariadb-dump", "mariadb"), ("mysqldump", "mysql")]
            if server_is_mariadb
            else [("mysqldump", "mysql"), ("mariadb-dump", "mariadb")]
        )
        found = [(d, c) for d, c in candidates if shutil.which(d) and shutil.which(c)]
        package = (
            "mariadb-client" if server_is_mariadb else "mysql-client (Oracle MySQL 8.0 or later)"
        )
        if not found:
            raise CopyToolMissing(
                f"Neither mysqldump nor mariadb-dump (with its client) is installed: install "
                f"{package}.",
                details={"install": package},
            )
        dump, client = found[0]
        output = tool_version(dump).strip()
        leading = re.match(r"\d+", server_version)
        major = int(leading.group(0)) if leading else 0
        if not server_is_mariadb and major >= 8 and "mariadb" in output.lower():
            raise CopyToolIncompatible(
                f"{dump} is MariaDB's dump tool ({output}); it is not compatible with the MySQL "
                f"{server_version} server: install mysql-client (Oracle MySQL {major}).",
                details={"client_version": output, "server_version": server_version},
            )
        self.dump_tool, self.client_tool = dump, client
        return output

    def _refuse_same_database(
        self,
        source: pymysql.connections.Connection[Any],
        target: pymysql.connections.Connection[Any],
    ) -> None:
        """Ask the servers: a named lock held on the source is seen from the target's server.

        Named locks are server-wide, so the target session sees the source session's lock
        exactly when both URLs reach the same server, whatever they look like. Taking a named
        lock writes nothing.
        """
        name = "understudy-dbcopy-" + os.urandom(8).hex()
        with source.cursor() as src, target.cursor() as tgt:
            src.execute("SELECT GET_LOCK(%s, 5)", (name,))
            try:
                tgt.execute("SELECT IS_FREE_LOCK(%s)", (name,))
                free = (tgt.fetchone() or (1,))[0]
            finally:
                src.execute("SELECT RELEASE_LOCK(%s)", (name,))
            if free:
                return
            src.execute("SELECT DATABASE(), @@lower_case_table_names")
            source_db, lower = src.fetchone() or ("", 0)
            tgt.execute("SELECT DATABASE()")
            target_db = (tgt.fetchone() or ("",))[0]
        same = source_db == target_db or (bool(lower) and source_db.lower() == target_db.lower())
        if same:
            raise TargetIsSource(
                f"The target {self.target} is the source database {self.source}: refusing to copy.",
                details={"source": self.source.masked, "target": self.target.masked},
            )

    # -- the copy ----------------------------------------------------------------------------

    def estimate_bytes(self) -> int:
        conn = self._connect_or_raise(self.source, SourceUnreachable, "source")
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT COALESCE(SUM(data_length), 0) FROM information_schema.TABLES "
                    "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
                )
                return int((cur.fetchone() or (0,))[0])
        finally:
            conn.close()

    def copy(self, attempt: Attempt) -> tuple[dict[str, int], int]:
        with self._option_files() as (source_options, target_options):
            attempt.enter("schema")
            deferred: dict[str, tuple[list[str], list[str]]] = {}
            auto_increments = self._clean_target(attempt)
            self._pipe_schema(
                attempt,
                source_options,
                target_options,
                ["--no-data", "--skip-triggers", "--routines", "--events"],
                "schema",
                defer_keys=deferred,
            )
            attempt.enter("data")
            # The rows the target confirmed storing, per table (prepared-insert path only).
            loaded: dict[str, int] | None = None
            # Tables whose secondary keys were built while later tables loaded.
            built: set[str] = set()
            if self.method == "prepared-insert":
                counts, loaded = self._copy_rows(attempt, deferred, built)
            else:
                counts = self._copy_data(attempt, source_options, target_options)
            attempt.enter("indexes")
            self._add_keys(attempt, deferred, built)
            self._pipe_schema(
                attempt,
                source_options,
                target_options,
                ["--no-data", "--no-create-info", "--triggers", "--skip-routines", "--skip-events"],
                "triggers",
            )
            attempt.enter("verify")
            self._verify(attempt, counts, auto_increments, loaded)
        return counts, attempt.bytes_copied

    @contextlib.contextmanager
    def _option_files(self) -> Iterator[tuple[str, str]]:
        """Option files (mode 0600) that carry the credentials, so ``ps`` never shows them."""
        oracle = not self.dump_tool.startswith("mariadb")
        with tempfile.TemporaryDirectory(prefix="understudy-dbcopy-") as workdir:
            paths = []
            for role, url in (("source", self.source), ("target", self.target)):
                path = os.path.join(workdir, f"{role}.cnf")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(option_file(url, self.limits, oracle=oracle))
                paths.append(path)
            yield paths[0], paths[1]

    def _dump_command(self, options_file: str, extra: list[str]) -> list[str]:
        return [
            self.dump_tool,
            # The only option file read: no ~/.my.cnf, no /etc/mysql/ settings.
            f"--defaults-file={options_file}",
            "--single-transaction",
            "--skip-lock-tables",
            "--no-tablespaces",
            "--default-character-set=utf8mb4",
            f"--ignore-table={self.source.database}.{MARKER_TABLE}",
            *extra,
            "--",
            self.source.database,
        ]

    def _client_command(self, options_file: str) -> list[str]:
        return [
            self.client_tool,
            f"--defaults-file={options_file}",
            # A hostile server answers a query with "send me this file": never.
            "--local-infile=0",
            "--default-character-set=utf8mb4",
            "--batch",
            # A silent reconnect would carry on without the session settings (checks off,
            # time zone, character set): a lost connection must fail the attempt instead.
            "--skip-reconnect",
            f"--max-allowed-packet={256 * 1024 * 1024}",
            "--database",
            self.target.database,
        ]

    def _clean_target(self, attempt: Attempt) -> dict[str, int]:
        """Drop every object in the target database (keeping it) and read the source counters.

        Railway's user may not be allowed to drop and create databases, hence object by object.
        """
        try:
            conn = self._connect(self.target)
        except pymysql.Error as exc:
            raise TransientCopyError(
                f"Cannot connect to {self.target}: {self._mask(str(exc))}"
            ) from None
        try:
            with attempt.cancelling(lambda: _kill_query(self, conn)), conn.cursor() as cur:
                cur.execute("SET SESSION foreign_key_checks = 0")
                db = self.target.database
                cur.execute(
                    "SELECT table_name, table_type FROM information_schema.TABLES "
                    "WHERE table_schema = %s",
                    (db,),
                )
                objects = list(cur.fetchall())
                for name, kind in sorted(objects, key=lambda row: row[1] != "VIEW"):
                    keyword = "VIEW" if kind == "VIEW" else "TABLE"
                    cur.execute(f"DROP {keyword} IF EXISTS {_ident(name)}")
                cur.execute(
                    "SELECT routine_name, routine_type FROM information_schema.ROUTINES "
                    "WHERE routine_schema = %s",
                    (db,),
                )
                for name, kind in list(cur.fetchall()):
                    cur.execute(f"DROP {kind} IF EXISTS {_ident(name)}")
                cur.execute(
                    "SELECT event_name FROM information_schema.EVENTS WHERE event_schema = %s",
                    (db,),
                )
                for (name,) in list(cur.fetchall()):
                    cur.execute(f"DROP EVENT IF EXISTS {_ident(name)}")
                if self.staging_marker is not None:
                    write_mysql(cur, self.staging_marker)
                try:
                    cur.execute("SET SESSION sql_log_bin = 0")
                    self.sql_log_bin = True
                except pymysql.Error:
                    self.sql_log_bin = False
        except pymysql.Error as exc:
            raise self._error(exc, "cleaning the target") from None
        finally:
            conn.close()
        return self._auto_increments(self.source)

    def _wide_tables(self) -> set[str]:
        """The source's tables whose rows average ``WIDE_ROW_BYTES`` or more."""
        conn = self._connect(self.source)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT table_name FROM information_schema.TABLES "
                    "WHERE table_schema = DATABASE() AND avg_row_length >= %s",
                    (WIDE_ROW_BYTES,),
                )
                return {str(row[0]) for row in cur.fetchall()}
        except pymysql.Error as exc:
            raise self._error(exc, "reading the source's tables") from None
        finally:
            conn.close()

    def _auto_increments(self, url: DatabaseUrl) -> dict[str, int]:
        conn = self._connect(url)
        try:
            with conn.cursor() as cur:
                with contextlib.suppress(pymysql.Error):
                    # MySQL 8 caches these statistics for a day unless told otherwise.
                    cur.execute("SET SESSION information_schema_stats_expiry = 0")
                cur.execute(
                    "SELECT table_name, auto_increment FROM information_schema.TABLES "
                    "WHERE table_schema = DATABASE() AND auto_increment IS NOT NULL"
                )
                return {str(name): int(value) for name, value in cur.fetchall()}
        finally:
            conn.close()

    def _pipe_schema(
        self,
        attempt: Attempt,
        source_options: str,
        target_options: str,
        extra: list[str],
        what: str,
        defer_keys: dict[str, tuple[list[str], list[str]]] | None = None,
    ) -> None:
        """Dump a part of the schema and load it, without the source's DEFINER accounts.

        The staging server's user may not exist on production's server (or lack the right to
        act as another account), so definers are dropped and objects belong to our user.
        """
        dump_cmd = self._dump_command(source_options, ["--skip-comments", *extra])
        with (
            attempt.spawn(dump_cmd, env=attempt.env(), stdout=subprocess.PIPE) as dump,
            attempt.spawn(
                self._client_command(target_options), env=attempt.env(), stdin=subprocess.PIPE
            ) as load,
        ):
            if dump.stdout is None or load.stdin is None:
                raise RuntimeError("the dump and load pipes were not opened")
            deferring = _KeyDeferrer(self._wide_tables()) if defer_keys is not None else None
            try:
                for line in dump.stdout:
                    line = _DEFINER.sub(b"", line)
                    if deferring is not None:
                        line = deferring.feed(line)
                    if line:
                        load.stdin.write(line)
                        attempt.touch()
                load.stdin.close()
            except BrokenPipeError:
                pass
            dump.wait()
            load.wait()
            dump_err = attempt.stderr(dump)
            load_err = attempt.stderr(load)
        attempt.raise_for(dump.returncode, dump_err, what=f"{self.dump_tool} ({what})")
        attempt.raise_for(load.returncode, load_err, what=f"{self.client_tool} ({what})")
        if deferring is not None and defer_keys is not None:
            defer_keys.update(deferring.deferred)

    def _add_keys(
        self,
        attempt: Attempt,
        deferred: dict[str, tuple[list[str], list[str]]],
        built: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """Build the secondary keys (of the tables not in ``built``), then the foreign keys,
        table by table on ``jobs`` sessions.

        Sorted index builds after the load beat maintaining every index row by row during it.
        Foreign keys come last (they need their keys) and are not re-validated: the rows come
        from a consistent snapshot of a database that enforced them.
        """
        for position in (0, 1):
            work: queue.Queue[tuple[str, list[str]]] = queue.Queue()
            for table, parts in deferred.items():
                if parts[position] and not (position == 0 and table in built):
                    work.put((table, parts[position]))
            errors: list[BaseException] = []

            def build(
                conn: pymysql.connections.Connection[Any],
                work: queue.Queue[tuple[str, list[str]]] = work,
                errors: list[BaseException] = errors,
            ) -> None:
                try:
                    with attempt.cancelling(lambda: _kill_query(self, conn)), conn.cursor() as cur:
                        cur.execute("SET SESSION foreign_key_checks = 0")
                        while not errors:
                            attempt.check()
                            try:
                                table, clauses = work.get_nowait()
                            except queue.Empty:
                                return
                            adds = ", ".join(f"ADD {clause}" for clause in clauses)
                            cur.execute(f"ALTER TABLE {_ident(table)} {adds}")
                            attempt.touch()
                except BaseException as exc:
                    errors.append(exc)

            if work.empty():
                continue
            try:
                conns = [self._connect(self.target) for _ in range(min(self.jobs, work.qsize()))]
            except pymysql.Error as exc:
                raise self._error(exc, "building indexes") from None
            try:
                threads = [threading.Thread(target=build, args=(c,), daemon=True) for c in conns]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            finally:
                for conn in conns:
                    conn.close()
            attempt.check()
            if errors:
                first = errors[0]
                if isinstance(first, pymysql.Error):
                    raise self._error(first, "building indexes") from None
                raise first

    def _copy_data(
        self, attempt: Attempt, source_options: str, target_options: str
    ) -> dict[str, int]:
        dump_cmd = self._dump_command(
            source_options,
            [
                "--no-create-info",
                "--skip-triggers",
                "--quick",
                "--extended-insert",
                "--skip-add-locks",
                "--skip-disable-keys",
                "--hex-blob",
                "--skip-comments",
                f"--net-buffer-length={1024 * 1024}",
            ],
        )
        batches: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=self.jobs * 2)
        counts: dict[str, int] = {}
        failures: list[BaseException] = []
        # The loaders are sessions of this process, not client processes: the MariaDB client
        # re-parses every byte of the stream to find statement ends, which this process has
        # already found; on 2 cores that was the bottleneck of the data phase.
        try:
            loaders = [self._connect(self.target) for _ in range(self.jobs)]
        except pymysql.Error as exc:
            raise self._error(exc, "loading the data") from None
        # The connection, not only the query: a session left open keeps its transaction's
        # locks, on which the retry's DROP TABLE would wait.
        sessions = [int(conn.thread_id()) for conn in loaders]  # type: ignore[no-untyped-call]
        completed = False
        try:
            with (
                attempt.spawn(dump_cmd, env=attempt.env(), stdout=subprocess.PIPE) as dump,
                attempt.cancelling(lambda: self._kill_sessions(sessions)),
            ):
                try:
                    if dump.stdout is None:
                        raise RuntimeError("the dump pipe was not opened")
                    header = self._read_header(dump.stdout)
                    prelude = [
                        *_statements(header),
                        b"SET SESSION foreign_key_checks = 0, unique_checks = 0, autocommit = 0",
                        *([b"SET SESSION sql_log_bin = 0"] if self.sql_log_bin else []),
                    ]
                    feeders = [
                        threading.Thread(
                            target=_load,
                            args=(conn, prelude, batches, failures, attempt),
                            name=f"dbcopy-load-{i}",
                            daemon=True,
                        )
                        for i, conn in enumerate(loaders)
                    ]
                    for feeder in feeders:
                        feeder.start()
                    try:
                        self._split(attempt, dump.stdout, header, batches, counts, failures)
                    finally:
                        if failures or attempt.aborted:
                            # A loader blocked in the server (on a lock of the failed session, say)
                            # would never take its end marker.
                            self._kill_sessions(sessions)
                        for _ in feeders:
                            _put(batches, None, failures, attempt)
                        for feeder in feeders:
                            feeder.join()
                    if failures:
                        # Nobody reads the dump any more: it would block on its full pipe for ever.
                        kill_group(dump)
                    dump.wait()
                    dump_err = attempt.stderr(dump)
                    completed = not failures
                finally:
                    if not completed:
                        self._kill_sessions(sessions)
        finally:
            for conn in loaders:
                with contextlib.suppress(Exception):
                    conn.close()
        attempt.check()
        if failures:
            first = failures[0]
            if isinstance(first, pymysql.Error):
                raise self._error(first, "loading the data") from None
            raise first
        attempt.raise_for(dump.returncode, dump_err, what=f"{self.dump_tool} (data)")
        return counts

    def _copy_rows(
        self,
        attempt: Attempt,
        deferred: dict[str, tuple[list[str], list[str]]],
        built: set[str],
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Every table in one snapshot, read by reader sessions and written by ``jobs`` loader
        sessions through prepared statements (:mod:`staging.dbcopy.mysql_rows`).

        Returns the rows read per table and the rows the target confirmed storing (each
        execute answers with its count before its batch commits). A table's secondary keys are
        built on a session of their own as soon as its last batch is committed, while the next
        tables load (the tables come largest first); those tables are added to ``built``.
        """
        try:
            conn = self._connect(self.source)
            try:
                tables = mysql_rows.read_tables(conn, self.source.database, skip=[MARKER_TABLE])
            finally:
                conn.close()
        except pymysql.Error as exc:
            raise self._error(exc, "reading the source's columns") from None
        # The tables whose keys are built afterwards first (largest first, as read), so that
        # their builds overlap the loading of the others.
        tables.sort(key=lambda table: not deferred.get(table.name, ([], []))[0])
        counts = {table.name: 0 for table in tables}
        loaded = dict(counts)
        loaded_lock = threading.Lock()
        if not tables:
            return counts, loaded
        batches: queue.Queue[mysql_rows.Batch | None] = queue.Queue(maxsize=self.jobs * 2)
        failures: list[BaseException] = []
        loaders: list[pymysql.connections.Connection[Any]] = []
        # Two large tables finishing together must not wait for each other's keys.
        builders: list[pymysql.connections.Connection[Any]] = []
        try:
            for _ in range(self.jobs):
                loaders.append(self._connect(self.target))
                builders.append(self._connect(self.target))
        except pymysql.Error as exc:
            for conn in [*loaders, *builders]:
                conn.close()
            raise self._error(exc, "loading the data") from None
        sessions = [int(conn.thread_id()) for conn in loaders]  # type: ignore[no-untyped-call]
        sessions += [int(conn.thread_id()) for conn in builders]  # type: ignore[no-untyped-call]
        # Batches queued and not yet committed, per table: a table's keys wait for zero.
        outstanding = {table.name: 0 for table in tables}
        settled = threading.Condition()
        finished: queue.Queue[str | None] = queue.Queue()

        def build_keys(conn: pymysql.connections.Connection[Any]) -> None:
            try:
                with attempt.cancelling(lambda: _kill_query(self, conn)), conn.cursor() as cur:
                    cur.execute("SET SESSION foreign_key_checks = 0")
                    while (name := finished.get()) is not None:
                        with settled:
                            while outstanding[name] and not failures and not attempt.aborted:
                                settled.wait(0.5)
                        if failures or attempt.aborted:
                            return
                        adds = ", ".join(f"ADD {clause}" for clause in deferred[name][0])
                        cur.execute(f"ALTER TABLE {_ident(name)} {adds}")
                        built.add(name)
                        attempt.touch()
            except BaseException as exc:
                failures.append(exc)

        prelude = [
            # Values are sent as the bytes they are stored as, like the reader reads them.
            b"SET NAMES binary",
            # unique_checks stays on: with both off, MariaDB loads an empty table under a table
            # lock and sorts it at commit (MDEV-24621): the other loader waits for that table,
            # and such a load took more than twice the server's CPU here (docs/performance.md).
            b"SET SESSION foreign_key_checks = 0, autocommit = 0",
            b"SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00'",
            *([b"SET SESSION sql_log_bin = 0"] if self.sql_log_bin else []),
        ]

        def load(conn: pymysql.connections.Connection[Any]) -> None:
            try:
                for statement in prelude:
                    conn.query(statement)
                with conn.cursor() as cur:
                    cur.execute("SELECT @@max_allowed_packet")
                    max_packet = int((cur.fetchone() or (0,))[0])
                inserter = mysql_rows.Inserter(conn, max_packet)
                for batch in _taken(batches, failures, attempt):
                    table = tables[batch.table]
                    rows, warnings = inserter.insert(table, batch)
                    if warnings:
                        raise CopyError(
                            f"Loading the table {table.name} changed values on the way "
                            f"({warnings} warning(s)): {self._warnings(conn)}",
                            details={"table": table.name, "warnings": warnings},
                        )
                    if rows != batch.rows:
                        raise CopyVerificationFailed(
                            f"The table {table.name} took {rows} of {batch.rows} rows.",
                            details={"table": table.name, "source": batch.rows, "target": rows},
                        )
                    conn.commit()
                    with loaded_lock:
                        loaded[table.name] += rows
                    with settled:
                        outstanding[table.name] -= 1
                        settled.notify_all()
                    attempt.add(bytes_copied=batch.size, rows=rows)
            except BaseException as exc:
                failures.append(exc)

        def read(
            conn: pymysql.connections.Connection[Any],
            stream: list[tuple[int, mysql_rows.RowTable]],
        ) -> None:
            """One reader's tables to the loaders; a table done goes to a key builder."""
            try:
                for number, table in stream:
                    for batch in mysql_rows.read_rows(conn, number, table, batch_bytes=BATCH_BYTES):
                        counts[table.name] += batch.rows
                        with settled:
                            outstanding[table.name] += 1
                        _put(batches, batch, failures, attempt)
                        if failures or attempt.aborted:
                            return
                    attempt.touch()
                    if table.name in deferred and deferred[table.name][0]:
                        finished.put(table.name)
            except BaseException as exc:
                failures.append(exc)

        workers = [
            threading.Thread(target=load, args=(conn,), name=f"dbcopy-load-{i}", daemon=True)
            for i, conn in enumerate(loaders)
        ]
        workers += [
            threading.Thread(target=build_keys, args=(conn,), name=f"dbcopy-keys-{i}", daemon=True)
            for i, conn in enumerate(builders)
        ]
        readers: list[pymysql.connections.Connection[Any]] = []
        reading: list[int] = []  # the readers' sessions, on the source

        def kill_all() -> None:
            self._kill_sessions(sessions)
            self._kill_sessions(reading, self.source)

        completed = False
        try:
            with attempt.cancelling(kill_all):
                try:
                    readers = self._start_readers(min(self.jobs, len(tables)))
                except pymysql.Error as exc:
                    raise self._error(exc, "starting the snapshot") from None
                reading += [int(conn.thread_id()) for conn in readers]  # type: ignore[no-untyped-call]
                streams = mysql_rows.streams(tables, len(readers))
                threads = [
                    threading.Thread(
                        target=read, args=(conn, stream), name=f"dbcopy-read-{i}", daemon=True
                    )
                    for i, (conn, stream) in enumerate(zip(readers, streams, strict=False))
                ]
                try:
                    for thread in [*workers, *threads]:
                        thread.start()
                    for thread in threads:
                        thread.join()
                finally:
                    for _ in builders:
                        finished.put(None)
                    if failures or attempt.aborted:
                        kill_all()
                    for _ in loaders:
                        _put(batches, None, failures, attempt)
                    for thread in [*workers, *threads]:
                        if thread.ident is not None:
                            thread.join()
                completed = not failures
        finally:
            if not completed:
                kill_all()
            for conn in [*loaders, *builders, *readers]:
                with contextlib.suppress(Exception):
                    conn.close()
        attempt.check()
        if failures:
            first = failures[0]
            if isinstance(first, pymysql.Error):
                raise self._error(first, "copying the rows") from None
            if isinstance(first, mysql_rows.RowsRefused):
                raise CopyError(f"Copying the rows failed: {first}") from None
            raise first
        return counts, loaded

    def _start_readers(self, count: int) -> list[pymysql.connections.Connection[Any]]:
        """Sessions on the source, each in a transaction of one and the same snapshot.

        Several when the source lets a session block commits for a moment (MariaDB's
        ``BACKUP STAGE BLOCK_COMMIT``, which needs the RELOAD privilege that Railway's ``root``
        has): the readers are connected first, and only their ``START TRANSACTION WITH
        CONSISTENT SNAPSHOT`` happens while no transaction can commit, so that they all see the
        same instant. Commits never wait longer than the connect timeout: then the lock's
        session and the readers' are killed, which releases it, and the attempt fails as
        transient. Otherwise one reader reads every table.
        """
        readers: list[pymysql.connections.Connection[Any]] = []
        try:
            for _ in range(max(count, 1)):
                conn = self._connect(self.source)
                readers.append(conn)
                for statement in (
                    "SET SESSION time_zone = '+00:00'",
                    "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                    # The server waits for this process when the loaders are behind.
                    f"SET SESSION net_write_timeout = {int(self.limits.stall_timeout)}",
                    # Values as the bytes they are stored as.
                    "SET NAMES binary",
                ):
                    conn.query(statement)
            control = self._block_commits() if count > 1 else None
            if control is None:
                for conn in readers[1:]:
                    conn.close()
                del readers[1:]
            logger.info("reading the rows with %d session(s) in one snapshot", len(readers))
            released = threading.Event()
            held = [control] if control is not None else []

            def release() -> None:
                """Production's commits must not wait on a reader that does not start."""
                released.set()
                self._kill_sessions(
                    [int(conn.thread_id()) for conn in [*held, *readers]],  # type: ignore[no-untyped-call]
                    self.source,
                )

            timer = threading.Timer(self.limits.connect_timeout + 5, release)
            if control is not None:
                timer.start()
            try:
                for conn in readers:
                    self._snapshot(conn)
            except pymysql.Error:
                if released.is_set():
                    raise TransientCopyError(
                        "The source's readers did not start their snapshot in time; the "
                        "source's commits were released."
                    ) from None
                raise
            finally:
                timer.cancel()
                if control is not None:
                    with contextlib.suppress(pymysql.Error):
                        control.query("BACKUP STAGE END")
                    with contextlib.suppress(Exception):
                        control.close()
        except BaseException:
            for conn in readers:
                with contextlib.suppress(Exception):
                    conn.close()
            raise
        return readers

    def _snapshot(self, conn: pymysql.connections.Connection[Any]) -> None:
        conn.query("START TRANSACTION WITH CONSISTENT SNAPSHOT")

    def _block_commits(self) -> pymysql.connections.Connection[Any] | None:
        """A source session that blocks commits (until ``BACKUP STAGE END`` or its close), or
        None where the server or the user's privileges do not allow it."""
        if self.engine_name != "mariadb":
            return None
        try:
            control = self._connect(self.source)
        except pymysql.Error:
            return None
        try:
            # Never wait long for the lock: production's writes would wait behind it.
            control.query("SET SESSION lock_wait_timeout = 5")
            control.query("BACKUP STAGE START")
            control.query("BACKUP STAGE BLOCK_COMMIT")
        except pymysql.Error as exc:
            logger.info("one reader: commits cannot be blocked on the source (%s)", exc.args[0])
            control.close()
            return None
        return control

    def _warnings(self, conn: pymysql.connections.Connection[Any]) -> str:
        with contextlib.suppress(pymysql.Error), conn.cursor() as cur:
            cur.execute("SHOW WARNINGS LIMIT 3")
            return self._mask("; ".join(str(row[2]) for row in cur.fetchall()))[:500]
        return "(the warnings could not be read)"

    def _read_header(self, stream: IO[bytes]) -> bytes:
        """The session settings the dump starts with; every loader needs them."""
        self._pending = b""
        header = b""
        while True:
            chunk = stream.read1(READ_BYTES)  # type: ignore[attr-defined]
            if not chunk:
                return header + self._pending
            self._pending += chunk
            position = self._pending.find(b"INSERT INTO `")
            if position >= 0:
                start = self._pending.rfind(b"\n", 0, position) + 1
                header += self._pending[:start]
                self._pending = self._pending[start:]
                return header
            cut = self._pending.rfind(b"\n") + 1
            header += self._pending[:cut]
            self._pending = self._pending[cut:]

    def _split(
        self,
        attempt: Attempt,
        stream: IO[bytes],
        header: bytes,
        batches: queue.Queue[list[bytes] | None],
        counts: dict[str, int],
        failures: list[BaseException],
    ) -> None:
        """Cut the stream after complete statements into batches; count rows on the way.

        Rows are escaped onto one line each (newlines inside values are written ``\\n``), so
        a line that ends with ``;`` ends a statement.
        """
        # A pipe read gives a few KB and a statement ~1 MB: the pieces of an unfinished
        # statement are kept in a list and only the new piece is searched for its end, so that
        # each byte is copied and scanned once (appending to one growing buffer and searching
        # all of it on every read was about a third of this process's CPU during a copy).
        pieces: list[bytes] = []
        last = b""  # the last byte of the pieces, for a ";\n" cut between two reads
        batch: list[bytes] = []
        batch_size = 0
        rows_in_batch = 0
        chunk = self._pending
        self._pending = b""
        eof = False
        while not eof:
            attempt.check()
            if failures:
                return
            if not chunk:
                chunk = stream.read1(READ_BYTES)  # type: ignore[attr-defined]
            if chunk:
                found = (last + chunk).rfind(b";\n")
                end = found + 2 - len(last)  # in chunk, just after the last ";\n"
                last = chunk[-1:]
                if found < 0:
                    pieces.append(chunk)
                    chunk = b""
                    continue
                pieces.append(chunk[:end])
                complete = b"".join(pieces)
                pieces = [chunk[end:]] if end < len(chunk) else []
                chunk = b""
            else:
                eof = True
                complete, pieces = b"".join(pieces), []
            for statement in complete.split(b";\n"):
                match = _INSERT.search(statement, 0, 4096)
                if match is None:
                    continue
                table = match.group(1).replace(b"``", b"`").decode("utf-8")
                rows = _count_rows(statement, match.end())
                counts[table] = counts.get(table, 0) + rows
                rows_in_batch += rows
                batch.append(statement[match.start() :])
                batch_size += len(statement) + 2
                if batch_size >= BATCH_BYTES:
                    _put(batches, batch, failures, attempt)
                    attempt.add(bytes_copied=batch_size, rows=rows_in_batch)
                    batch, batch_size, rows_in_batch = [], 0, 0
        if batch:
            _put(batches, batch, failures, attempt)
            attempt.add(bytes_copied=batch_size, rows=rows_in_batch)

    def _verify(
        self,
        attempt: Attempt,
        source_counts: dict[str, int],
        auto_increments: dict[str, int],
        loaded: dict[str, int] | None = None,
    ) -> None:
        """Every table of the target holds the rows of the source; no AUTO_INCREMENT counter
        is behind.

        The target's rows are counted with ``COUNT(*)``, unless the target confirmed them
        already as it committed them (``loaded``): counting again would scan every table a
        second time, which took a fifth of a copy.
        """
        conn = self._connect(self.target)
        try:
            with attempt.cancelling(lambda: _kill_query(self, conn)), conn.cursor() as cur:
                cur.execute(
                    "SELECT table_name FROM information_schema.TABLES "
                    "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
                )
                tables = [str(row[0]) for row in cur.fetchall() if row[0] != MARKER_TABLE]
                target_counts: dict[str, int] = {}
                for table in tables if loaded is None else ():
                    attempt.check()
                    cur.execute(f"SELECT COUNT(*) FROM {_ident(table)}")  # noqa: S608 - quoted name
                    target_counts[table] = int((cur.fetchone() or (0,))[0])
                    attempt.touch()
        except pymysql.Error as exc:
            raise self._error(exc, "verifying the copy") from None
        finally:
            conn.close()
        if loaded is not None:
            target_counts = {table: loaded.get(table, 0) for table in tables}
        for table in tables:
            source_counts.setdefault(table, 0)
        mismatched = {
            table: {"source": count, "target": target_counts.get(table)}
            for table, count in source_counts.items()
            if target_counts.get(table) != count
        }
        target_increments = self._auto_increments(self.target)
        behind = {
            table: {"source": value, "target": target_increments.get(table)}
            for table, value in auto_increments.items()
            if table in target_increments and target_increments[table] < value
        }
        if mismatched or behind:
            raise CopyVerificationFailed(
                f"The copy in {self.target} does not match the source: {len(mismatched)} "
                f"table(s) differ and {len(behind)} AUTO_INCREMENT counter(s) are behind.",
                details={"tables": mismatched, "auto_increment": behind},
            )

    def _kill_sessions(self, sessions: list[int], url: DatabaseUrl | None = None) -> None:
        """End the loaders' server sessions (the connection, not only the query: a session
        left open keeps its transaction's locks), or those of ``url``'s server."""
        if not sessions:
            return
        with contextlib.suppress(pymysql.Error):
            conn = self._connect(url or self.target)
            try:
                with conn.cursor() as cur:
                    for session in list(sessions):
                        # Gone already (the client died and the server noticed): error 1094.
                        with contextlib.suppress(pymysql.Error):
                            cur.execute(f"KILL CONNECTION {int(session)}")
            finally:
                conn.close()

    def _error(self, exc: pymysql.Error, doing: str) -> CopyError:
        message = self._mask(str(exc))
        transient = isinstance(exc, pymysql.OperationalError) and is_transient(
            f"error {exc.args[0] if exc.args else ''} {message}"
        )
        if (
            isinstance(exc, pymysql.OperationalError)
            and exc.args
            and exc.args[0]
            in {
                2003,
                2006,
                2013,
                1927,
                1053,
            }
        ):
            transient = True
        return (TransientCopyError if transient else CopyError)(
            f"The database failed while {doing}: {message}"
        )


class _KeyDeferrer:
    """Takes secondary and foreign keys out of each CREATE TABLE, to be added after the data.

    Building a key afterwards reads the whole table again; for a table of wide rows (``wide``:
    posts with their content, say) that costs more than keeping its few, short secondary keys
    up to date while it loads (measured in docs/performance.md), so those stay, but for the
    foreign keys.

    ``SHOW CREATE TABLE`` (which both dump tools print) puts every column and key on a line of
    its own. Kept in place: the primary key; FULLTEXT and SPATIAL keys (adding the first one
    later rebuilds the table); and every unique key of a table without a primary key (InnoDB
    clusters such a table on it).
    """

    def __init__(self, wide: set[str] | frozenset[str] = frozenset()) -> None:
        self.wide = wide
        self.deferred: dict[str, tuple[list[str], list[str]]] = {}
        self._table: str | None = None
        self._lines: list[bytes] = []

    def feed(self, line: bytes) -> bytes:
        if self._table is None:
            match = _CREATE_TABLE.match(line)
            if match is None:
                return line
            self._table = match.group(1).replace(b"``", b"`").decode("utf-8")
            self._lines = [line]
            return b""
        if not line.startswith(b")"):
            self._lines.append(line)
            return b""
        table, head, body = self._table, self._lines[0], self._lines[1:]
        self._table, self._lines = None, []
        has_primary = any(item.lstrip().startswith(b"PRIMARY KEY") for item in body)
        kept: list[bytes] = []
        keys: list[str] = []
        foreign: list[str] = []
        for item in body:
            text = item.strip().rstrip(b",")
            if text.startswith(b"CONSTRAINT") and b" FOREIGN KEY " in text:
                foreign.append(text.decode("utf-8"))
            elif table not in self.wide and (
                text.startswith(b"KEY ") or (has_primary and text.startswith(b"UNIQUE KEY "))
            ):
                keys.append(text.decode("utf-8"))
            else:
                kept.append(b"  " + text)
        if keys or foreign:
            self.deferred[table] = (keys, foreign)
        return head + b",\n".join(kept) + b"\n" + line


def _count_rows(statement: bytes, values_start: int) -> int:
    """Rows in one extended INSERT, exactly.

    MariaDB writes one row per line (values escape their newlines); MySQL writes the whole
    statement on one line, where the row separator ``),(`` may also appear inside a quoted
    value, so quoted values are skipped.
    """
    rows = statement.count(b"\n(", values_start)
    if statement.startswith(b"\n", values_start):
        return rows
    if rows:
        # MariaDB with a column list: the first row follows VALUES on the same line.
        return rows + 1
    values = _STRING.sub(b"''", statement[values_start:])
    return values.count(b"),(") + 1


def _put(
    batches: queue.Queue[_Item | None],
    item: _Item | None,
    failures: list[BaseException],
    attempt: Attempt,
) -> None:
    while True:
        try:
            batches.put(item, timeout=0.5)
            return
        except queue.Full:
            if failures or attempt.aborted:
                return


def _taken(
    batches: queue.Queue[_Item | None], failures: list[BaseException], attempt: Attempt
) -> Iterator[_Item]:
    """A loader's batches, until the end marker, a failure anywhere or an abort."""
    while not failures and not attempt.aborted:
        try:
            item = batches.get(timeout=0.5)
        except queue.Empty:
            continue
        if item is None:
            return
        yield item


def _statements(script: bytes) -> list[bytes]:
    """The statements of the dump's header (one per line, each ending with ``;``)."""
    return [line.rstrip(b";") for line in script.splitlines() if line.strip().endswith(b";")]


def _load(
    conn: pymysql.connections.Connection[Any],
    prelude: list[bytes],
    batches: queue.Queue[list[bytes] | None],
    failures: list[BaseException],
    attempt: Attempt,
) -> None:
    """One loader session: every batch is one transaction, its INSERTs sent as they came."""
    try:
        for statement in prelude:
            conn.query(statement)
        for batch in _taken(batches, failures, attempt):
            for statement in batch:
                conn.query(statement)
            conn.commit()
    except BaseException as exc:
        failures.append(exc)


def _kill_query(engine: MysqlEngine, conn: pymysql.connections.Connection[Any]) -> None:
    """Stop the query a connection is running, from another connection."""
    killer = engine._connect(engine.target)
    try:
        with killer.cursor() as cur:
            cur.execute(f"KILL QUERY {int(conn.thread_id())}")  # type: ignore[no-untyped-call]
    finally:
        killer.close()


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _option_value(value: str) -> str:
    """A value the MariaDB and MySQL option-file readers take back unchanged: double-quoted,
    backslash and quote escaped. Control characters were refused with the URL; they are
    refused again here, since one newline would start a line of the attacker's choosing."""
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise DatabaseUrlInvalid(
            "A database URL part holds a control character; it cannot go into an option file."
        )
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def option_file(url: DatabaseUrl, limits: Limits | None = None, *, oracle: bool = False) -> str:
    """The ``[client]`` option file of one database, for ``--defaults-file``.

    ``loose-`` options are ignored by the tools that do not know them: MariaDB's tools take
    ``ssl`` (TLS when the server offers it), Oracle's ``ssl-mode``.
    """
    limits = limits or Limits()
    lines = [
        "[client]",
        f"host={_option_value(url.connect_address)}",
        f"port={int(url.port)}",
        f"user={_option_value(url.user)}",
        f"password={_option_value(url.password)}",
        # The dump tools know neither option; the client tools do.
        f"loose-connect-timeout={int(limits.connect_timeout)}",
        "loose-local-infile=0",
    ]
    if oracle:
        lines.append("loose-ssl-mode=" + ("REQUIRED" if url.tls == "require" else "PREFERRED"))
    else:
        lines.append("loose-ssl")
    return "\n".join(lines) + "\n"
