"""A hostile client project (issue 15): whoever can edit one client's Railway project tries to
steer the worker through its variables and its database servers, through the real pipeline.

Each case sets up the project's variables in the sandbox (whose TCP proxies are real relays,
one port each), runs a clone or a refresh, and checks that it was refused before anything was
read or written: the copy engine opened no connection to the wrong database, no table was
created or dropped there, no file was written, no Railway environment was left behind, and the
run failed with a stable code, soon. Each records the seconds it took to fail.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from django.core import mail
from django.db import connection

from railway_sandbox import Sandbox, SandboxProject
from railway_sandbox.state import Instance, TcpProxy
from staging import dbcopy, lifecycle, runs
from staging.models import ClientSite, Run, RunStatus, StagingEnvironment, Trigger
from staging.services import Services
from tests.fixtures_api import make_persona
from tests.fixtures_pipeline import site_for
from tests.pipeline.helpers import (
    clone,
    railway_environment_names,
    row_counts,
    sandbox_databases,
)

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

WORDPRESS_SQL = (
    "CREATE TABLE wp_options (option_id bigint AUTO_INCREMENT PRIMARY KEY, "
    "option_name varchar(191) UNIQUE, option_value longtext, autoload varchar(20));"
    "INSERT INTO wp_options (option_name, option_value, autoload) VALUES "
    "('siteurl', 'https://hostile.example', 'yes'), ('blogname', 'Hostile', 'yes');"
    "CREATE TABLE wp_posts (ID bigint AUTO_INCREMENT PRIMARY KEY, post_title text, "
    "post_type varchar(20), post_status varchar(20), post_date datetime);"
)
POSTGRES_SQL = (
    "CREATE TABLE invoices (id serial PRIMARY KEY, total integer);"
    "INSERT INTO invoices (total) SELECT g FROM generate_series(1, 100) g;"
)
# A password long enough to be found by a scan of the error texts.
PASSWORD = "Hostile-Pa55word-" + uuid.uuid4().hex[:12]


def record(
    record_property: Any,
    *,
    refused: str,
    untouched: str,
    seconds: float,
    **figures: Any,
) -> None:
    record_property("outcome", refused)
    figures = {
        "refused_with": refused,
        "nothing_read_or_written": untouched,
        "seconds_to_fail": round(seconds, 2),
        **figures,
    }
    record_property("figures", json.dumps(figures))


@pytest.fixture
def case(record_property: Any) -> Callable[[str], None]:
    """Names the case first, so a test that fails half-way is still listed."""

    def name(what: str) -> None:
        record_property("category", "hostile")
        record_property("case", what)

    return name


# -- what the worker did ---------------------------------------------------------------------


@dataclass
class EngineConnections:
    """Every database session the copy engine opened (not Django's, not the sandbox's)."""

    opened: list[tuple[str, int, str]] = field(default_factory=list)

    def to(self, database: str) -> list[tuple[str, int, str]]:
        return [c for c in self.opened if c[2] == database]


def _from_the_copy_engine() -> bool:
    return any("/staging/dbcopy/" in frame.filename for frame in traceback.extract_stack())


@pytest.fixture
def engine_connections(monkeypatch: pytest.MonkeyPatch) -> EngineConnections:
    seen = EngineConnections()
    pg_connect, my_connect = psycopg.connect, pymysql.connect

    def postgres(*args: Any, **kwargs: Any) -> Any:
        if _from_the_copy_engine():
            seen.opened.append(
                (str(kwargs.get("host")), int(kwargs.get("port") or 0), str(kwargs.get("dbname")))
            )
        return pg_connect(*args, **kwargs)

    def mysql(*args: Any, **kwargs: Any) -> Any:
        if _from_the_copy_engine():
            seen.opened.append(
                (str(kwargs.get("host")), int(kwargs.get("port") or 0), str(kwargs.get("database")))
            )
        return my_connect(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", postgres)
    monkeypatch.setattr(pymysql, "connect", mysql)
    return seen


def tables(url: str) -> dict[str, int]:
    """Every table of a database (Understudy's marker too) and its rows, read directly."""
    return row_counts(url, with_marker=True)


# -- the hostile project ---------------------------------------------------------------------


def database_instance(sandbox: Sandbox, environment_id: str, service_id: str) -> Instance:
    environment = sandbox.world.environment(environment_id)
    assert environment is not None
    return environment.instances[service_id]


def set_variables(sandbox: Sandbox, environment_id: str, service_id: str, **values: str) -> None:
    """What the client's developer (or a compromised app) does on Railway."""
    with sandbox.lock:
        database_instance(sandbox, environment_id, service_id).variables.update(values)
        sandbox.save()


def proxy(sandbox: Sandbox, environment_id: str, service_id: str) -> TcpProxy:
    return database_instance(sandbox, environment_id, service_id).proxies[0]


def backing_url(sandbox: Sandbox, environment_id: str, service_id: str) -> str:
    backing = database_instance(sandbox, environment_id, service_id).database
    assert backing is not None
    return sandbox.servers.url(backing)


def portal_database() -> tuple[str, str]:
    """The portal's own (test) database: its name, and a URL the server's admin could use."""
    config = connection.settings_dict
    name = str(config["NAME"])
    host, port = config["HOST"] or "127.0.0.1", config["PORT"] or 5432
    return name, f"postgresql://{config['USER']}@{host}:{port}/{name}"


def portal_tables() -> set[str]:
    return set(connection.introspection.table_names())


@pytest.fixture
def mariadb_project(sandbox: Sandbox) -> SandboxProject:
    return sandbox.add_project(
        f"Hostile WP {uuid.uuid4().hex[:6]}",
        engine="mariadb",
        wordpress=True,
        production_data_sql=WORDPRESS_SQL,
    )


@pytest.fixture
def postgres_project(sandbox: Sandbox) -> SandboxProject:
    return sandbox.add_project(
        f"Hostile PG {uuid.uuid4().hex[:6]}", engine="postgres", production_data_sql=POSTGRES_SQL
    )


@pytest.fixture
def other_client(sandbox: Sandbox) -> SandboxProject:
    """Another client's site on the same servers: the database a hostile project reaches for."""
    return sandbox.add_project(
        f"Other Client {uuid.uuid4().hex[:6]}",
        engine="postgres",
        production_data_sql=POSTGRES_SQL,
    )


def site_of(project: SandboxProject) -> ClientSite:
    return site_for(
        project,
        slug=f"hostile-{uuid.uuid4().hex[:8]}",
        is_wordpress=project.engine != "postgres",
        production_url="https://hostile.example" if project.engine != "postgres" else "",
    )


@dataclass
class Attempt:
    run: Run
    seconds: float
    step: str

    @property
    def code(self) -> str:
        return self.run.error_code


def failed_step(run: Run) -> str:
    failed = run.steps.filter(status="failed").values_list("name", flat=True)
    return ", ".join(failed) or "none"


def attempt_clone(site: ClientSite, services: Services) -> Attempt:
    started = time.monotonic()
    run = clone(site, services)
    seconds = time.monotonic() - started
    run.refresh_from_db()
    return Attempt(run, seconds, failed_step(run))


def attempt_refresh(environment: StagingEnvironment, services: Services) -> Attempt:
    run = runs.start_refresh(
        environment, runs.Actor.system(Trigger.COMMAND), gdpr_acknowledged=True
    )
    started = time.monotonic()
    assert lifecycle.run_now(run, services)
    seconds = time.monotonic() - started
    run.refresh_from_db()
    return Attempt(run, seconds, failed_step(run))


def ready_copy(site: ClientSite, services: Services) -> StagingEnvironment:
    run = clone(site, services)
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    environment = run.environment
    environment.refresh_from_db()
    return environment


def assert_refused(attempt: Attempt, code: str, step: str) -> None:
    assert (attempt.run.status, attempt.code) == (RunStatus.FAILED, code), attempt.run.error_message
    assert attempt.step == step


def assert_nothing_left(sandbox: Sandbox, project: SandboxProject, before: set[str]) -> None:
    assert railway_environment_names(sandbox, project.project_id) == ["production"]
    assert sandbox_databases(sandbox) == before


# -- passwords that would add lines to the client tools' option files ------------------------

INJECTIONS = {
    "%0A + loose-local-infile=1": "{password}%0Aloose-local-infile=1",
    "%0A + loose-result-file": "{password}%0Aloose-result-file={file}",
    "%0D + loose-local-infile=1": "{password}%0Dloose-local-infile=1",
    "%00 + loose-local-infile=1": "{password}%00loose-local-infile=1",
    "a raw newline + loose-result-file": "{password}\nloose-result-file={file}",
}


@pytest.mark.parametrize("injection", INJECTIONS)
def test_a_production_password_that_adds_option_lines_is_refused_before_any_connection(
    injection,
    mariadb_project,
    sandbox,
    services,
    job_queue,
    engine_connections,
    case,
    record_property,
):
    case(f"clone: production MARIADB_PASSWORD with {injection}")
    project = mariadb_project
    written = Path(f"/tmp/understudy-hostile-{uuid.uuid4().hex}")
    value = INJECTIONS[injection].format(password=PASSWORD, file=written)
    set_variables(
        sandbox, project.production_environment_id, project.database_service_id,
        MARIADB_PASSWORD=value,
    )  # fmt: skip
    before = sandbox_databases(sandbox)

    attempt = attempt_clone(site_of(project), services)

    assert_refused(attempt, "database_url_invalid", "preflight")
    assert engine_connections.opened == []
    assert not written.exists()
    assert PASSWORD not in attempt.run.error_message
    assert_nothing_left(sandbox, project, before)
    record(
        record_property,
        refused=f"{attempt.code} at {attempt.step}",
        untouched="no connection, no file, no environment left",
        seconds=attempt.seconds,
    )


@pytest.mark.parametrize("injection", INJECTIONS)
def test_a_staging_password_that_adds_option_lines_is_refused_by_a_refresh(
    injection,
    mariadb_project,
    sandbox,
    services,
    job_queue,
    engine_connections,
    case,
    record_property,
):
    case(f"refresh: staging MARIADB_PASSWORD with {injection}")
    project = mariadb_project
    environment = ready_copy(site_of(project), services)
    staging_id = environment.railway_environment_id
    staging_db = backing_url(sandbox, staging_id, project.database_service_id)
    written = Path(f"/tmp/understudy-hostile-{uuid.uuid4().hex}")
    set_variables(
        sandbox, staging_id, project.database_service_id,
        MARIADB_PASSWORD=INJECTIONS[injection].format(password=PASSWORD, file=written),
    )  # fmt: skip
    before = tables(staging_db)
    engine_connections.opened.clear()

    attempt = attempt_refresh(environment, services)

    assert attempt.run.status == RunStatus.FAILED
    assert attempt.code == "database_url_invalid", attempt.run.error_message
    assert engine_connections.opened == []
    assert not written.exists()
    assert tables(staging_db) == before
    assert PASSWORD not in attempt.run.error_message
    record(
        record_property,
        refused=f"{attempt.code} at {attempt.step}",
        untouched="no connection, no file, staging rows and tables unchanged",
        seconds=attempt.seconds,
    )


# -- production's URL pointing elsewhere -----------------------------------------------------


def _portal(sandbox: Sandbox, project: SandboxProject, other: SandboxProject) -> tuple[str, str]:
    name, _ = portal_database()
    return name, f"postgresql://postgres@127.0.0.1:5432/{name}"


def _other_backing(
    sandbox: Sandbox, project: SandboxProject, other: SandboxProject
) -> tuple[str, str]:
    url = other.database_url
    return url.rsplit("/", 1)[1], url


def _other_proxy(
    sandbox: Sandbox, project: SandboxProject, other: SandboxProject
) -> tuple[str, str]:
    name = other.database_url.rsplit("/", 1)[1]
    door = proxy(sandbox, other.production_environment_id, other.database_service_id)
    credentials = other.database_url.split("://", 1)[1].split("@", 1)[0]
    return name, f"postgresql://{credentials}@{door.domain}:{door.proxy_port}/{name}"


def _redis(sandbox: Sandbox, project: SandboxProject, other: SandboxProject) -> tuple[str, str]:
    name = project.database_url.rsplit("/", 1)[1]
    return name, f"postgresql://postgres@127.0.0.1:6379/{name}"


ELSEWHERE: dict[str, Callable[[Sandbox, SandboxProject, SandboxProject], tuple[str, str]]] = {
    "the portal's own database": _portal,
    "another client's database, at the server's address": _other_backing,
    "another client's database, through that client's TCP proxy": _other_proxy,
    "127.0.0.1 on another port (Redis)": _redis,
}


@pytest.mark.parametrize("where", ELSEWHERE)
def test_a_production_url_pointing_at_another_database_is_refused_before_it_is_read(
    where,
    postgres_project,
    other_client,
    sandbox,
    services,
    job_queue,
    engine_connections,
    case,
    record_property,
):
    case(f"clone: production DATABASE_PUBLIC_URL at {where}")
    project = postgres_project
    database, url = ELSEWHERE[where](sandbox, project, other_client)
    set_variables(
        sandbox, project.production_environment_id, project.database_service_id,
        DATABASE_PUBLIC_URL=url,
    )  # fmt: skip
    before = sandbox_databases(sandbox)
    others = tables(other_client.database_url)
    portal = portal_tables()

    attempt = attempt_clone(site_of(project), services)

    assert_refused(attempt, "database_address_mismatch", "preflight")
    assert engine_connections.to(database) == [] and engine_connections.opened == []
    assert tables(other_client.database_url) == others
    assert portal_tables() == portal
    assert_nothing_left(sandbox, project, before)
    record(
        record_property,
        refused=f"{attempt.code} at {attempt.step}",
        untouched="no connection to it; its tables unchanged; no environment left",
        seconds=attempt.seconds,
    )


def test_unknown_url_parameters_are_dropped_and_never_acted_on(
    postgres_project, sandbox, services, job_queue, engine_connections, case, record_property
):
    case(
        "clone: production and staging URLs with options=-c default_transaction_read_only=on, "
        "hostaddr, sslkey, passfile, service"
    )
    project = postgres_project
    absent = f"/tmp/understudy-hostile-{uuid.uuid4().hex}"
    hostile = (
        "?options=-c%20default_transaction_read_only%3Don&hostaddr=192.0.2.1"
        f"&sslkey={absent}.key&passfile={absent}.pass&service=hostile&sslmode=prefer"
    )
    # Duplicated into staging as it is: the read-only transactions would fail every write of
    # the copy, the unroutable hostaddr every connection, if either were acted on.
    set_variables(
        sandbox, project.production_environment_id, project.database_service_id,
        DATABASE_PUBLIC_URL="postgresql://${{PGUSER}}:${{POSTGRES_PASSWORD}}"
        "@${{RAILWAY_TCP_PROXY_DOMAIN}}:${{RAILWAY_TCP_PROXY_PORT}}/${{PGDATABASE}}" + hostile,
    )  # fmt: skip
    started = time.monotonic()
    run = clone(site_of(project), services)
    seconds = time.monotonic() - started

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    staging_db = backing_url(
        sandbox, run.environment.railway_environment_id, project.database_service_id
    )
    assert row_counts(staging_db) == row_counts(project.database_url)
    assert {c[0] for c in engine_connections.opened} == {"127.0.0.1"}
    assert not Path(f"{absent}.key").exists() and not Path(f"{absent}.pass").exists()
    record(
        record_property,
        refused="dropped: the copy ran as if they were absent",
        untouched="every connection to the proxy (none to 192.0.2.1); the copy wrote, so no "
        "read-only session",
        seconds=seconds,
    )


# -- staging's URL pointing elsewhere, for a refresh that would drop it ----------------------


def test_a_staging_url_pointing_at_another_database_is_refused_by_a_refresh(
    postgres_project,
    other_client,
    sandbox,
    services,
    job_queue,
    engine_connections,
    case,
    record_property,
):
    case("refresh: staging DATABASE_PUBLIC_URL at another client's database")
    project = postgres_project
    environment = ready_copy(site_of(project), services)
    set_variables(
        sandbox, environment.railway_environment_id, project.database_service_id,
        DATABASE_PUBLIC_URL=other_client.database_url,
    )  # fmt: skip
    others = tables(other_client.database_url)
    engine_connections.opened.clear()

    attempt = attempt_refresh(environment, services)

    assert_refused(attempt, "database_address_mismatch", "expose_database")
    assert engine_connections.opened == []
    assert tables(other_client.database_url) == others
    record(
        record_property,
        refused=f"{attempt.code} at {attempt.step}",
        untouched="no connection to it; its tables unchanged",
        seconds=attempt.seconds,
    )


def test_a_staging_url_through_its_own_proxy_to_an_unmarked_database_is_refused(
    postgres_project,
    other_client,
    sandbox,
    services,
    job_queue,
    engine_connections,
    case,
    record_property,
):
    # The sandbox's relays lead to the one local server, so staging's own proxy can reach
    # another database on it: this stands for a "database" service whose server is not the
    # copy Understudy made. Only the marker can tell.
    case("refresh: staging URL through staging's own TCP proxy to a database without the marker")
    project = postgres_project
    environment = ready_copy(site_of(project), services)
    credentials = other_client.database_url.split("://", 1)[1].split("@", 1)[0]
    name = other_client.database_url.rsplit("/", 1)[1]
    set_variables(
        sandbox, environment.railway_environment_id, project.database_service_id,
        DATABASE_PUBLIC_URL=f"postgresql://{credentials}"
        f"@${{{{RAILWAY_TCP_PROXY_DOMAIN}}}}:${{{{RAILWAY_TCP_PROXY_PORT}}}}/{name}",
    )  # fmt: skip
    others = tables(other_client.database_url)

    attempt = attempt_refresh(environment, services)

    assert_refused(attempt, "staging_target_not_marked", "copy_database")
    assert tables(other_client.database_url) == others
    record(
        record_property,
        refused=f"{attempt.code} at {attempt.step}",
        untouched="catalogue read only; its tables and rows unchanged",
        seconds=attempt.seconds,
    )


def test_a_staging_database_that_lost_its_marker_is_not_dropped(
    postgres_project, sandbox, services, job_queue, case, record_property
):
    case("refresh: the staging database no longer carries the marker")
    project = postgres_project
    environment = ready_copy(site_of(project), services)
    staging_db = backing_url(
        sandbox, environment.railway_environment_id, project.database_service_id
    )
    with psycopg.connect(staging_db, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {dbcopy.markers.MARKER_TABLE}")
    before = tables(staging_db)

    attempt = attempt_refresh(environment, services)

    assert_refused(attempt, "staging_target_not_marked", "copy_database")
    assert tables(staging_db) == before
    record(
        record_property,
        refused=f"{attempt.code} at {attempt.step}",
        untouched="catalogue read only; tables and rows unchanged",
        seconds=attempt.seconds,
    )


# -- a server that accepts and never answers -------------------------------------------------


class SilentServer:
    """Accepts connections and never says a word: a hostile or broken database server."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.accepted.append(self.listener.accept()[0])

    def close(self) -> None:
        for sock in [self.listener, *self.accepted]:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


CONNECT_TIMEOUT = 2


def impatient(services: Services) -> Services:
    """The copy engine with low timeouts, as COPY_* settings and the limits would set them."""
    return replace(
        services,
        inspect_database=partial(
            dbcopy.inspect_source, connect_timeout=CONNECT_TIMEOUT, stall_timeout=5
        ),
        copy_database=partial(
            dbcopy.copy_database, connect_timeout=CONNECT_TIMEOUT, stall_timeout=5, attempts=1
        ),
    )


@pytest.mark.parametrize("engine", ["postgres", "mariadb"])
def test_a_production_server_that_never_answers_fails_the_clone_within_the_timeouts(
    engine, sandbox, services, job_queue, silent_server, case, record_property, request
):
    case(f"clone: production's TCP proxy leads to a {engine} server that accepts, never answers")
    project: SandboxProject = request.getfixturevalue(f"{engine}_project")
    with sandbox.lock:
        proxy(
            sandbox, project.production_environment_id, project.database_service_id
        ).proxy_port = silent_server.port
    before = sandbox_databases(sandbox)

    attempt = attempt_clone(site_of(project), impatient(services))

    assert_refused(attempt, "source_unreachable", "preflight")
    assert silent_server.accepted, "the preflight never reached the silent server"
    assert attempt.seconds < CONNECT_TIMEOUT + 30
    assert_nothing_left(sandbox, project, before)
    record(
        record_property,
        refused=f"{attempt.code} at {attempt.step}",
        untouched="nothing to read; no environment left",
        seconds=attempt.seconds,
        connect_timeout_seconds=CONNECT_TIMEOUT,
    )


def test_a_staging_server_that_never_answers_fails_the_refresh_within_the_timeouts(
    postgres_project, sandbox, services, job_queue, silent_server, case, record_property
):
    case("refresh: staging's TCP proxy leads to a server that accepts, never answers")
    project = postgres_project
    environment = ready_copy(site_of(project), services)
    staging_db = backing_url(
        sandbox, environment.railway_environment_id, project.database_service_id
    )
    with sandbox.lock:
        proxy(
            sandbox, environment.railway_environment_id, project.database_service_id
        ).proxy_port = silent_server.port
    before = tables(staging_db)

    attempt = attempt_refresh(environment, impatient(services))

    assert_refused(attempt, "target_unreachable", "copy_database")
    assert silent_server.accepted, "the copy never reached the silent server"
    assert attempt.seconds < CONNECT_TIMEOUT + 30
    assert tables(staging_db) == before
    record(
        record_property,
        refused=f"{attempt.code} at {attempt.step}",
        untouched="nothing read from it; the real staging database unchanged",
        seconds=attempt.seconds,
        connect_timeout_seconds=CONNECT_TIMEOUT,
    )


# -- a URL that does not parse, with a password in it ----------------------------------------


class Slack:
    """A local stand-in for Slack's incoming webhook: keeps every body it receives."""

    def __init__(self) -> None:
        bodies = self.bodies = []  # type: list[str]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                bodies.append(self.rfile.read(length).decode("utf-8", "replace"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


UNPARSEABLE = {
    "a port that is not a number": "postgresql://client:{password}@db.example.com:54x32/app",
    "an IPv6 bracket never closed": "postgresql://client:{password}@[db.example.com:5432/app",
    "a second @ and a space": "postgresql://client:{password}@ @db.example.com:5432/app",
    "a raw newline after the password": "postgresql://client:{password}\n@db.example.com:5432/app",
    "a database name with a conninfo": "postgresql://client:{password}@db.example.com:5432/"
    "app%20host%3D10.0.0.1",
}


@pytest.mark.parametrize("what", UNPARSEABLE)
def test_a_production_url_that_does_not_parse_fails_without_showing_its_password(
    what,
    postgres_project,
    sandbox,
    services,
    job_queue,
    settings,
    engine_connections,
    case,
    record_property,
):
    case(f"clone: production DATABASE_PUBLIC_URL with {what} (a password in the URL)")
    slack = Slack()
    settings.SLACK_WEBHOOK_URL = slack.url
    project = postgres_project
    set_variables(
        sandbox, project.production_environment_id, project.database_service_id,
        DATABASE_PUBLIC_URL=UNPARSEABLE[what].format(password=PASSWORD),
    )  # fmt: skip
    site = site_of(project)
    manager = make_persona("ana")
    manager.user.email = "ana@agency.example"
    manager.user.save()
    run = runs.start_clone(
        site,
        runs.Actor.for_user(manager.user, Trigger.API),
        name=f"t-{uuid.uuid4().hex[:8]}",
        gdpr_acknowledged=True,
    )
    started = time.monotonic()
    try:
        assert lifecycle.run_now(run, services)
        seconds = time.monotonic() - started
    finally:
        slack.close()
    run.refresh_from_db()

    assert run.status == RunStatus.FAILED, (run.status, run.error_code)
    assert run.error_code in {"database_url_invalid", "database_address_mismatch"}
    assert engine_connections.opened == []
    texts = [run.error_message, json.dumps(run.metrics), *slack.bodies]
    texts += [f"{message.subject}\n{message.body}" for message in mail.outbox]
    texts += [step.log for step in run.steps.all()]
    assert len(slack.bodies) == 1 and len(mail.outbox) == 1
    assert not any(PASSWORD in text for text in texts)
    record(
        record_property,
        refused=f"{run.error_code} at {failed_step(run)}",
        untouched="no connection; no password in the error, step log, Slack or e-mail",
        seconds=seconds,
    )
