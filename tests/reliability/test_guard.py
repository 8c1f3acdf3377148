"""Production is never a target: every door that writes into a database refuses the production
database before writing, however its address is dressed up.

The production database's contents are checksummed, table by table, before and after.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg
import pymysql
import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from psycopg import sql
from rq import SimpleWorker

from railway_sandbox import Sandbox, SandboxProject
from staging import dbcopy, roles, runs
from staging.models import EnvironmentStatus, Run, RunStatus, StagingEnvironment, Trigger
from staging.services import default_services
from tests.fixtures_api import make_persona
from tests.fixtures_pipeline import site_for
from tests.fixtures_portal import logged_in, make_user
from tests.fixtures_railway import SANDBOX_TOKEN
from tests.pipeline.helpers import clone

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]


def record(record_property: Any, case: str, outcome: str, **figures: Any) -> None:
    record_property("category", "guard")
    record_property("case", case)
    record_property("outcome", outcome)
    record_property("figures", json.dumps(figures))


# -- what production holds ------------------------------------------------------------------


def checksum(url: str) -> dict[str, str]:
    """Each table of the database and a digest of all its rows (as the server's admin)."""
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    if parts.scheme.startswith("postgres"):
        admin = parts._replace(netloc=f"postgres@{parts.hostname}:{parts.port}").geturl()
        with psycopg.connect(admin, autocommit=True) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
                )
            ]
            digests = {}
            for table in tables:
                query = sql.SQL(
                    "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' "
                    "ORDER BY t::text)), '') FROM {} AS t"
                ).format(sql.Identifier(table))
                digests[table] = str(conn.execute(query).fetchone()[0])  # type: ignore[index]
            return digests
    mysql = pymysql.connect(
        host=parts.hostname, port=parts.port or 3306, user="root", password="", database=database
    )
    with mysql, mysql.cursor() as cursor:
        cursor.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
        tables = sorted(row[0] for row in cursor.fetchall())
        digests = {}
        for table in tables:
            cursor.execute(f"CHECKSUM TABLE `{table}` EXTENDED")
            checked = cursor.fetchone()[1]  # type: ignore[index]
            cursor.execute(f"SELECT count(*) FROM `{table}`")  # noqa: S608 - a table name
            digests[table] = f"{cursor.fetchone()[0]}:{checked}"  # type: ignore[index]
        return digests


# -- the same database, dressed up ----------------------------------------------------------


class TcpRelay:
    """A local port that forwards to the database server: another address, the same server,
    as a proxy in front of it (Railway's TCP proxy) would look."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(self.target)
                self._sockets += [client, upstream]
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def relays() -> Iterator[Callable[[str, int], TcpRelay]]:
    opened: list[TcpRelay] = []

    def open_relay(host: str, port: int) -> TcpRelay:
        relay = TcpRelay(host, port)
        opened.append(relay)
        return relay

    yield open_relay
    for relay in opened:
        relay.close()


def with_netloc(url: str, netloc: str, *, scheme: str | None = None, query: str = "") -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=netloc, scheme=scheme or parts.scheme, query=query).geturl()


def disguises(url: str, relays: Callable[[str, int], TcpRelay]) -> dict[str, str]:
    """The production URL and other addresses of the very same database."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 0
    credentials = f"{parts.username}:{quote(parts.password or '', safe='')}"
    postgres = parts.scheme.startswith("postgres")
    admin = "postgres" if postgres else "root"
    relay = relays(host, port)
    return {
        "the same URL": url,
        "localhost for 127.0.0.1": with_netloc(url, f"{credentials}@localhost:{port}"),
        "the machine's host name": with_netloc(url, f"{credentials}@{socket.gethostname()}:{port}"),
        "another user": with_netloc(url, f"{admin}@{host}:{port}"),
        "query parameters": with_netloc(
            url,
            parts.netloc,
            query="sslmode=disable&application_name=x" if postgres else "charset=utf8mb4",
        ),
        "another scheme": with_netloc(
            url, parts.netloc, scheme="postgres" if postgres else "mariadb"
        ),
        "a TCP proxy on another port": with_netloc(url, f"{credentials}@127.0.0.1:{relay.port}"),
    }


def through_its_own_proxy(url: str) -> str:
    """Production's database, user and password, at the address of whichever environment's TCP
    proxy renders the variable: the one disguise that passes the pipeline's address check (the
    sandbox's proxies all lead to one local server; on Railway the staging proxy leads to the
    staging database's own server)."""
    parts = urlsplit(url)
    credentials = f"{parts.username}:{quote(parts.password or '', safe='')}"
    proxy = "${{RAILWAY_TCP_PROXY_DOMAIN}}:${{RAILWAY_TCP_PROXY_PORT}}"
    return with_netloc(url, f"{credentials}@{proxy}")


DISGUISES = [
    "the same URL",
    "localhost for 127.0.0.1",
    "the machine's host name",
    "another user",
    "query parameters",
    "another scheme",
    "a TCP proxy on another port",
]


@pytest.fixture
def production(request: pytest.FixtureRequest) -> SandboxProject:
    """A production site of each engine, with data."""
    project: SandboxProject = request.getfixturevalue(request.param)
    return project


# -- the copy engine ------------------------------------------------------------------------


@pytest.mark.parametrize("production", ["postgres_site", "wordpress_site"], indirect=True)
@pytest.mark.parametrize("disguise", DISGUISES)
@pytest.mark.parametrize("entry", ["copy_database", "preflight"])
def test_the_copy_engine_refuses_production_as_its_target(
    production, disguise, entry, relays, record_property
):
    source = production.database_url
    target = disguises(source, relays)[disguise]
    before = checksum(source)

    with pytest.raises(dbcopy.TargetIsSource) as refused:
        if entry == "copy_database":
            dbcopy.copy_database(source, target, attempts=1, timeout=30)
        else:
            dbcopy.preflight(source, target)

    assert refused.value.code == "target_is_source"
    assert checksum(source) == before
    record(
        record_property,
        f"dbcopy.{entry}, {production.engine} production as target: {disguise}",
        "refused (target_is_source), production unchanged",
        tables_checked=len(before),
    )


# -- the pipeline ---------------------------------------------------------------------------


def point_staging_database_at(sandbox: Sandbox, environment_id: str, url: str) -> None:
    """Make a staging environment's database service name another database, as a mistaken
    variable on Railway would."""
    with sandbox.lock:
        environment = sandbox.world.environment(environment_id)
        assert environment is not None
        project = sandbox.world.projects[environment.project_id]
        for instance in environment.instances.values():
            service = project.services[instance.service_id]
            if service.engine == "postgres":
                instance.variables["DATABASE_PUBLIC_URL"] = url
            elif service.engine is not None:
                instance.variables["MARIADB_URL"] = url
                instance.variables["MYSQL_PUBLIC_URL"] = url
        sandbox.save()


def assert_refused(run: Run, step: str, code: str = "target_is_source") -> None:
    run.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.FAILED, code), run.error_message
    assert run.steps.get(name=step).status == "failed"


# An address that is not the staging TCP proxy Railway reports is refused as soon as it is read
# (expose_database); one that is the proxy's but leads to production is the copy's to refuse.
@pytest.mark.parametrize(
    ("disguise", "step", "code"),
    [
        ("through staging's own TCP proxy", "copy_database", "target_is_source"),
        ("the same URL", "expose_database", "database_address_mismatch"),
        ("localhost for 127.0.0.1", "expose_database", "database_address_mismatch"),
        ("a TCP proxy on another port", "expose_database", "database_address_mismatch"),
    ],
)
def test_a_clone_whose_staging_database_is_production_is_refused(
    ledger_site,
    ledger_project,
    services,
    sandbox,
    job_queue,
    relays,
    disguise,
    step,
    code,
    record_property,
):
    target = (
        through_its_own_proxy(ledger_project.database_url)
        if disguise == "through staging's own TCP proxy"
        else disguises(ledger_project.database_url, relays)[disguise]
    )
    before = checksum(ledger_project.database_url)
    create = services.railway.create_environment

    def create_then_misconfigure(*args: Any, **kwargs: Any) -> Any:
        created = create(*args, **kwargs)
        point_staging_database_at(sandbox, created.id, target)
        return created

    services.railway.create_environment = create_then_misconfigure
    run = clone(ledger_site, services)

    assert_refused(run, step, code)
    assert checksum(ledger_project.database_url) == before
    record(
        record_property,
        f"pipeline clone, staging database variables = production ({disguise})",
        f"run failed {code} at {step}, rolled back, production unchanged",
    )


def fake_copy(source: str, target: str, **options: Any) -> dbcopy.CopyReport:
    """A copy that forgot to check its target, to show the next step does not rely on it."""
    return dbcopy.CopyReport(
        engine="postgres",
        method="fake",
        source_size_bytes=0,
        bytes_copied=0,
        duration_seconds=0.0,
        attempts=1,
        row_counts={},
    )


@pytest.mark.parametrize("kind", ["WordPress", "masking rules"])
def test_preparing_the_site_refuses_production_even_if_the_copy_did_not(
    kind, sandbox, services, job_queue, relays, record_property, request
):
    if kind == "WordPress":
        project = request.getfixturevalue("wordpress_site")
        site = site_for(project, slug="tea-room-guard", is_wordpress=True)
    else:
        project = request.getfixturevalue("ledger_project")
        site = site_for(
            project,
            is_wordpress=False,
            masking_rules=[{"table": "customers", "column": "email", "kind": "email"}],
        )
    # The one disguise that passes the TCP-proxy check of expose_database.
    target = through_its_own_proxy(project.database_url)
    before = checksum(project.database_url)
    prepared: list[str] = []
    create = services.railway.create_environment

    def create_then_misconfigure(*args: Any, **kwargs: Any) -> Any:
        created = create(*args, **kwargs)
        point_staging_database_at(sandbox, created.id, target)
        return created

    def spy(url: str, *args: Any, **kwargs: Any) -> Any:
        prepared.append(url)
        raise AssertionError("the site was prepared in production")

    services.railway.create_environment = create_then_misconfigure
    unguarded = replace(services, copy_database=fake_copy, prepare_wordpress=spy, mask_columns=spy)
    run = clone(site, unguarded)

    assert_refused(run, "prepare_site")
    assert prepared == []
    assert checksum(project.database_url) == before
    record(
        record_property,
        f"pipeline prepare_site ({kind}) with production as target, copy unguarded",
        "run failed target_is_source at prepare_site before any write, production unchanged",
    )


@pytest.fixture
def worker_settings(settings: Any, sandbox: Sandbox) -> Any:
    """The settings a job run in this process needs to reach the sandbox."""
    settings.RAILWAY_API_URL = sandbox.api_url
    settings.RAILWAY_API_TOKEN = SANDBOX_TOKEN
    settings.STAGING_URL_TEMPLATE = f"http://{{domain}}:{sandbox.port}"
    settings.COPY_ATTEMPTS = 1
    return settings


def drain(queue: Any) -> None:
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def start_refresh(door: str, environment: StagingEnvironment) -> None:
    # A transactional test before this one has flushed the groups the migrations made.
    importlib.import_module("staging.migrations.0002_roles").create_roles(django_apps, None)
    if door == "API":
        manager = make_persona("ana", group=roles.ACCOUNT_MANAGERS)
        response = manager.client.post(
            f"/api/v1/environments/{environment.pk}/refresh/",
            {"gdpr_acknowledged": True},
            format="json",
        )
        assert response.status_code == 202, response.content
    elif door == "portal":
        client = logged_in(make_user("alice", group=roles.ACCOUNT_MANAGERS))
        page = client.post(f"/admin/environments/{environment.pk}/refresh/")
        assert page.status_code == 302
    else:
        call_command("refresh_staging", str(environment.pk), "--personal-data-acknowledged")


@pytest.mark.parametrize("door", ["API", "portal", "refresh_staging"])
def test_a_refresh_into_production_is_refused_from_every_door(
    door,
    ledger_site,
    ledger_project,
    services,
    sandbox,
    job_queue,
    worker_settings,
    record_property,
):
    first = clone(ledger_site, services)
    assert first.status == RunStatus.SUCCEEDED, first.error_message
    environment = first.environment
    point_staging_database_at(
        sandbox,
        environment.railway_environment_id,
        through_its_own_proxy(ledger_project.database_url),
    )
    before = checksum(ledger_project.database_url)

    start_refresh(door, environment)
    drain(job_queue)

    run = environment.runs.get(operation="refresh")
    assert_refused(run, "copy_database")
    environment.refresh_from_db()
    assert environment.status == EnvironmentStatus.FAILED
    assert checksum(ledger_project.database_url) == before
    record(
        record_property,
        f"refresh from the {door}, staging database variables = production",
        "run failed target_is_source, production unchanged",
    )


def test_a_refresh_started_by_kestra_through_the_api_is_refused_too(
    ledger_site, ledger_project, services, sandbox, job_queue, worker_settings, record_property
):
    first = clone(ledger_site, services)
    environment = first.environment
    point_staging_database_at(
        sandbox,
        environment.railway_environment_id,
        through_its_own_proxy(ledger_project.database_url),
    )
    before = checksum(ledger_project.database_url)

    run = runs.start_refresh(environment, runs.Actor.system(Trigger.KESTRA), gdpr_acknowledged=True)
    drain(job_queue)

    assert_refused(run, "copy_database")
    assert checksum(ledger_project.database_url) == before
    record(record_property, "refresh by Kestra", "run failed target_is_source")


def test_the_copy_a_worker_builds_is_the_guarded_one(worker_settings, sandbox, record_property):
    built = default_services()
    try:
        with pytest.raises(dbcopy.TargetIsSource):
            url = "postgresql://u:p@127.0.0.1:5432/same"
            built.copy_database(url, url)
    finally:
        built.close()
    record(record_property, "the worker's copy service, target = source", "refused")
