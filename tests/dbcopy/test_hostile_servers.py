"""A client's database server is untrusted: it cannot hold the worker, read its environment or
its files, or learn a password through an error message."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from staging.dbcopy import (
    CopyStalled,
    SourceUnreachable,
    TargetUnreachable,
    copy_database,
    inspect_source,
    preflight,
)
from staging.dbcopy.attempt import Attempt
from staging.dbcopy.engine import _supervise
from staging.dbcopy.postgres import PostgresEngine
from staging.dbcopy.reports import PreflightReport
from staging.wordpress import connection as wordpress_connection
from staging.wordpress.errors import DatabaseUnreachable
from tests.fixtures_dbcopy import Database

PREFIX = {"postgres": "pg", "mysql": "mysql"}

ALLOWED_TOOL_ENV = {"PATH", "LANG", "HOME", "PGPASSWORD", "PGOPTIONS", "PGPASSFILE", "PGSYSCONFDIR"}


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


@contextlib.contextmanager
def postgres_that_goes_silent() -> Iterator[int]:
    """A relay to the local PostgreSQL that lets the connection be made, then stops passing
    the server's answers on: a server that accepts queries and never answers them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()
    sockets: list[socket.socket] = []

    def pump(src: socket.socket, dst: socket.socket, *, goes_silent: bool) -> None:
        seen = b""
        silent = False
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if not silent:
                    dst.sendall(data)
                if goes_silent:
                    seen = (seen + data)[-4096:]
                    silent = silent or b"Z\x00\x00\x00\x05I" in seen

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                client = listener.accept()[0]
            except OSError:
                continue
            server = socket.create_connection(("127.0.0.1", 5432))
            sockets.extend([client, server])
            for args in ((client, server, False), (server, client, True)):
                threading.Thread(
                    target=pump, args=args[:2], kwargs={"goes_silent": args[2]}, daemon=True
                ).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
        listener.close()


def at_port(url: str, port: int) -> str:
    return url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{port}/").replace(
        "@127.0.0.1:3306/", f"@127.0.0.1:{port}/"
    )


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_a_server_that_accepts_and_never_answers_fails_the_preflight_in_seconds(
    engine: str, request: pytest.FixtureRequest
) -> None:
    target: Database = request.getfixturevalue(f"{PREFIX[engine]}_target")
    with silent_server() as port:
        started = time.monotonic()
        with pytest.raises(SourceUnreachable) as error:
            preflight(at_port(target.url, port), target.url, connect_timeout=2)
        with pytest.raises(TargetUnreachable):
            copy_database(target.url, at_port(target.url, port), connect_timeout=2)
        elapsed = time.monotonic() - started

    assert elapsed < 20
    assert error.value.code == "source_unreachable"
    assert target.password not in str(error.value)


def test_a_postgres_server_that_stops_answering_fails_within_the_read_timeout(
    pg_target: Database,
) -> None:
    with postgres_that_goes_silent() as port:
        started = time.monotonic()
        with pytest.raises(SourceUnreachable) as error:
            inspect_source(at_port(pg_target.url, port), stall_timeout=3)
        elapsed = time.monotonic() - started

    assert elapsed < 15
    assert "did not answer within 3 seconds" in error.value.message


def test_a_copy_in_which_nothing_moves_is_stopped_after_the_stall_timeout() -> None:
    release = threading.Event()

    class HangingEngine:
        method = "test"

        def preflight(self, *, with_target: bool = True) -> PreflightReport:
            raise AssertionError("the supervisor never runs a preflight")

        def estimate_bytes(self) -> int:
            return 1

        def copy(self, attempt: Attempt) -> tuple[dict[str, int], int]:
            attempt.enter("data")
            while not release.is_set() and not attempt.aborted:
                time.sleep(0.05)
            return {}, 0

    attempt = Attempt(number=1, secrets=(), total_bytes=1)
    started = time.monotonic()
    try:
        with pytest.raises(CopyStalled) as error:
            _supervise(
                HangingEngine(), attempt, None, time.monotonic() + 600, threading.Event(), 2.0
            )
    finally:
        release.set()

    assert 2.0 <= time.monotonic() - started < 10
    assert error.value.code == "copy_stalled"
    assert error.value.details["phase"] == "data"


def test_a_copy_that_keeps_moving_is_not_taken_for_a_stall() -> None:
    class SlowEngine:
        method = "test"

        def preflight(self, *, with_target: bool = True) -> PreflightReport:
            raise AssertionError("the supervisor never runs a preflight")

        def estimate_bytes(self) -> int:
            return 1

        def copy(self, attempt: Attempt) -> tuple[dict[str, int], int]:
            attempt.enter("data")
            for _ in range(30):
                time.sleep(0.1)
                attempt.touch()
            return {"t": 1}, 1

    attempt = Attempt(number=1, secrets=(), total_bytes=1)

    result = _supervise(SlowEngine(), attempt, None, time.monotonic() + 600, threading.Event(), 1.0)

    assert result == ({"t": 1}, 1)


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_client_tools_get_a_minimal_environment_without_the_workers_secrets(
    engine: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    source: Database = request.getfixturevalue(f"{PREFIX[engine]}_source")
    target: Database = request.getfixturevalue(f"{PREFIX[engine]}_target")
    monkeypatch.setenv("RAILWAY_API_TOKEN", "railway-token-must-not-leak")
    monkeypatch.setenv("SECRET_KEY", "secret-key-must-not-leak")
    monkeypatch.setenv("PGHOST", "10.9.9.9")
    monkeypatch.setenv("MYSQL_HOST", "10.9.9.9")
    spawned: list[tuple[list[str], dict[str, str]]] = []
    real_popen = subprocess.Popen

    def recording_popen(args: Any, *rest: Any, **kwargs: Any) -> Any:
        spawned.append((list(args), dict(kwargs.get("env") or {})))
        process = real_popen(args, *rest, **kwargs)
        environ = Path(f"/proc/{process.pid}/environ")
        with contextlib.suppress(OSError):
            spawned.append((["/proc"], _environ(environ.read_bytes())))
        return process

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    # Every PostgreSQL table through the psql relay, so that its psql children are seen too.
    monkeypatch.setattr(PostgresEngine, "relay_min_bytes", 0)

    copy_database(source.url, target.url, attempts=1)

    assert [env for command, env in spawned if command == ["/proc"] and env], "no child read"
    assert (engine == "postgres") == any(command[0] == "psql" for command, _ in spawned)
    for command, env in spawned:
        if command == ["/proc"] and not env:
            continue  # the child had already exited
        assert env, command
        assert set(env) <= ALLOWED_TOOL_ENV, command
        assert "railway-token-must-not-leak" not in str(env)
        assert "secret-key-must-not-leak" not in str(env)
        assert not any(arg.startswith("--defaults-extra-file") for arg in command)
        if command[0] in {"mariadb", "mysql"}:
            assert "--local-infile=0" in command
        if command[0] in {"pg_dump", "pg_restore", "psql"} and "--version" not in command:
            dbname = next(arg for arg in command if arg.startswith("--dbname="))
            assert "hostaddr=127.0.0.1" in dbname and "sslmode=prefer" in dbname
            assert "connect_timeout=" in dbname
        if command[0] == "psql":
            assert_only_our_statements(command)


def assert_only_our_statements(command: list[str]) -> None:
    """The relay's psql reads no psqlrc and runs our four statements, no psql command: nothing
    a server sends can make it write a file."""
    assert command[:5] == ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    options = command[5:]
    assert options[0].startswith("--dbname=")
    assert options[1::2] == ["-c"] * 4
    statements = options[2::2]
    assert [s.split(" ")[0] for s in statements] == ["SET", "BEGIN", "SET", "COPY"]
    assert statements[0] == "SET client_encoding TO 'UTF8'"
    assert statements[1] == "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    assert statements[2].startswith("SET TRANSACTION SNAPSHOT '")
    assert statements[3].startswith("COPY (SELECT ")
    assert statements[3].endswith(") TO STDOUT (FORMAT binary)")


def _environ(raw: bytes) -> dict[str, str]:
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {name: value for name, _, value in pairs}


def test_psycopg_sessions_ask_for_tls_at_the_checked_address_with_timeouts(
    pg_source: Database, pg_target: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    real_connect = psycopg.connect

    def recording_connect(*args: Any, **kwargs: Any) -> Any:
        if "hostaddr" in kwargs:  # the engine's sessions, not the fixtures'
            calls.append(kwargs)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", recording_connect)

    preflight(pg_source.url, pg_target.url)

    assert calls
    for kwargs in calls:
        assert kwargs["sslmode"] == "prefer"
        assert kwargs["hostaddr"] == "127.0.0.1"
        assert kwargs["gssencmode"] == "disable"
        assert int(kwargs["connect_timeout"]) > 0
        assert kwargs["keepalives"] == "1"


def test_a_url_that_requires_tls_is_refused_by_a_server_without_it(
    pg_source: Database, pg_target: Database
) -> None:
    with pytest.raises(SourceUnreachable) as error:
        preflight(pg_source.url + "?sslmode=require", pg_target.url)

    assert "SSL" in error.value.message
    assert pg_source.password not in error.value.message


def test_pymysql_sessions_refuse_local_infile_and_have_read_timeouts(
    mysql_source: Database, mysql_target: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    real_connect = pymysql.connect

    def recording_connect(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("defer_connect"):  # the engine's sessions, not the fixtures'
            calls.append(kwargs)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(pymysql, "connect", recording_connect)

    preflight(mysql_source.url, mysql_target.url, stall_timeout=42)

    assert calls
    for kwargs in calls:
        assert kwargs["local_infile"] is False
        assert kwargs["read_timeout"] == 42 and kwargs["write_timeout"] == 42
        assert kwargs["host"] == "127.0.0.1"
        assert "ssl" not in kwargs  # PyMySQL's default: TLS whenever the server offers it


def test_a_mysql_url_that_requires_tls_is_refused_by_a_server_without_it(
    mysql_source: Database, mysql_target: Database
) -> None:
    with pytest.raises(SourceUnreachable):
        preflight(mysql_source.url + "?ssl-mode=REQUIRED", mysql_target.url)


def test_a_driver_error_that_echoes_the_password_is_masked(
    pg_source: Database, pg_target: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = psycopg.connect

    def echoing_connect(*args: Any, **kwargs: Any) -> Any:
        if "hostaddr" not in kwargs:  # the fixtures' own connections
            return real_connect(*args, **kwargs)
        raise psycopg.OperationalError(
            f"connection failed: password={pg_source.password} for {pg_target.password}"
        )

    monkeypatch.setattr(psycopg, "connect", echoing_connect)

    with pytest.raises(SourceUnreachable) as error:
        copy_database(pg_source.url, pg_target.url)

    assert pg_source.password not in str(error.value)
    assert pg_target.password not in str(error.value)
    assert "***" in error.value.message


def test_a_mysql_driver_error_that_echoes_the_password_is_masked(
    mysql_target: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = pymysql.connect

    def echoing_connect(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("defer_connect"):  # the fixtures' own connections
            return real_connect(*args, **kwargs)
        raise pymysql.err.OperationalError(2003, f"cannot connect with {kwargs['password']}")

    monkeypatch.setattr(pymysql, "connect", echoing_connect)
    address = wordpress_connection.parse_database_url(mysql_target.url)

    with pytest.raises(DatabaseUnreachable) as error:
        wordpress_connection.connect_mysql(address)

    assert mysql_target.password not in str(error.value)
