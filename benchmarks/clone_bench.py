# ruff: noqa: S608 - SQL built from the benchmark's own database and object names, never input
"""How long a whole clone takes, from the API request to a ready staging site.

On the Railway sandbox with instant deployments (``deploy_seconds`` and ``apply_seconds`` 0), for
a WordPress site on MariaDB and an app on PostgreSQL whose production databases are filled to
each size with ``build_mysql``/``build_pg`` (benchmarks/dbcopy_bench.py):

1. the production database is built, handed to the site's own database user (as on Railway,
   where the app's user owns its tables) and, for WordPress, given the ``siteurl``, ``home`` and
   ``blogname`` options the WordPress steps and the sandbox's WordPress page read;
2. the site is imported from its Railway project as an administrator does (the portal's import
   form), and an account manager's API token asks ``POST /api/v1/environments/``, as the
   frontend does (Django's test client: the portal's full stack, no network);
3. a real RQ worker (``SimpleWorker``, burst mode, in this process) picks the job up and runs the
   pipeline with the settings' services, unchanged except that the Railway client's transport,
   its waits and the health check's fetches are timed;
4. the run's records give request → ready (``Run.created_at`` → ``finished_at``) and each step's
   time (``RunStep.started_at`` → ``finished_at``); the engine's own copy time is the run's
   ``copy_seconds``;
5. the copy is deleted through the API (``DELETE``, a teardown run) and the production database
   dropped.

The sandbox runs in a child process of its own (its TCP relays carry every byte of the copy and
must not compete with the worker for this process's interpreter lock); the portal's database is
a throwaway PostgreSQL database; the queue is ``default`` on BENCH_REDIS_URL (Redis database 13
unless set), which must be empty. Everything it made (sandbox projects and databases, the
portal's database, its jobs) is removed at the end, on an error and on Ctrl-C.

    .venv/bin/python -m benchmarks.clone_bench [--sizes 100,500,1000] \
        [--kinds wordpress,postgres] [--output var/bench/clone.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import httpx
import psycopg
import pymysql
from psycopg import sql
from rq import SimpleWorker

from benchmarks.dbcopy_bench import (
    CLEANUP,
    build_mysql,
    build_pg,
    create_pg,
    drop_mysql,
    drop_pg,
    my_url,
    pg_url,
)

if TYPE_CHECKING:
    from railway_sandbox import Sandbox
    from staging.services import Services

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "var" / "bench" / "clone.json"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# The sandbox's token reaches its child process through the environment, never a command line.
TOKEN_VARIABLE = "CLONE_BENCH_SANDBOX_TOKEN"  # noqa: S105 (a variable's name)
# site kind: (database engine, WordPress?)
KINDS: dict[str, tuple[str, bool]] = {
    "wordpress": ("mariadb", True),
    "postgres": ("postgres", False),
}
KIND_LABELS = {"wordpress": "WordPress (MariaDB)", "postgres": "PostgreSQL app"}
STEP_ABBREVIATIONS = {
    "preflight": "preflight",
    "create_environment": "create env",
    "configure_staging": "configure",
    "start_database": "start db",
    "expose_database": "expose db",
    "assign_domain": "domain",
    "copy_database": "copy step",
    "prepare_site": "prepare",
    "deploy_app": "deploy app",
    "health_check": "health",
}
DEFINITIONS = {
    "request_to_ready_s": "Run.created_at (written by the API request) to Run.finished_at "
    "(the run succeeded, the environment is ready), from the run's records.",
    "wall_s": "Wall clock from just before the POST to the first poll of GET /api/v1/runs/{id}/ "
    "(every 0.2 s with its ETag, from another thread, as a frontend polls) that saw the run "
    "succeeded.",
    "queue_s": "Run.created_at to Run.started_at: the request's commit, the enqueue, the worker "
    "picking the job up and admitting the run (here a burst worker started once the request "
    "has answered, so its start-up is included; an idle worker waiting on the queue is sooner).",
    "steps": "Each RunStep's started_at to finished_at.",
    "copy_s": "The copy engine's own duration (the run's copy_seconds metric), inside the "
    "copy_database step.",
    "railway_s": "Time the pipeline spent on Railway (here the sandbox): every GraphQL request "
    "until its answer arrived, every wait between polls of Railway, and the health check's "
    "requests to the staging site (served by the sandbox from the staging database).",
    "overhead_s": "Understudy's own time: request_to_ready_s - copy_s - railway_s (the end of "
    "the API request and the queue, the steps' own work such as inspecting the source, checking "
    "the copy and preparing the site, and the run's bookkeeping in the portal's database).",
}


# Set by Ctrl-C or SIGTERM. RQ's worker runs a job under a bare ``except``, which would swallow
# the KeyboardInterrupt raised inside the clone: the flag is checked when the worker returns.
INTERRUPTED = threading.Event()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    INTERRUPTED.set()
    raise KeyboardInterrupt


class BenchWorker(SimpleWorker):
    """RQ's SimpleWorker, except that Ctrl-C and SIGTERM stop the benchmark at once (RQ's own
    handlers would let the clone run to its end first, then carry on with the next one)."""

    def _install_signal_handlers(self) -> None:
        return None


# -- timing the pipeline's calls to Railway ---------------------------------------------------


@dataclass(frozen=True)
class Interval:
    kind: str  # "api" (a GraphQL request), "wait" (a sleep between polls), "site" (a fetch)
    start: float  # wall clock, comparable with the run's records
    seconds: float


class RailwayTimer:
    """Intervals spent on Railway, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._intervals: list[Interval] = []

    @contextlib.contextmanager
    def timing(self, kind: str) -> Iterator[None]:
        start, began = time.time(), time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self._intervals.append(Interval(kind, start, time.perf_counter() - began))

    def sleep(self, seconds: float) -> None:
        with self.timing("wait"):
            time.sleep(seconds)

    def take(self) -> list[Interval]:
        with self._lock:
            taken, self._intervals = self._intervals, []
        return taken


class TimedTransport(httpx.BaseTransport):
    """httpx's own transport, timed until the answer's headers arrive (the sandbox computes its
    whole answer before it sends them)."""

    def __init__(self, timer: RailwayTimer) -> None:
        self._timer = timer
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._timer.timing("api"):
            return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def timed_services(timer: RailwayTimer) -> Callable[[], Services]:
    """The worker's services as the settings build them, with Railway's calls and waits and the
    staging site's fetches timed."""
    from django.conf import settings

    from staging.railway import RailwayClient
    from staging.services import default_services

    def build() -> Services:
        services = default_services()
        services.railway.close()
        services.railway = RailwayClient(
            settings.RAILWAY_API_URL,
            settings.RAILWAY_API_TOKEN,
            sleep=timer.sleep,
            transport=TimedTransport(timer),
        )
        plain_fetch = services.fetch

        def fetch(url: str, timeout: float) -> httpx.Response:
            with timer.timing("site"):
                return plain_fetch(url, timeout)

        services.fetch = fetch
        services.sleep = timer.sleep
        return services

    return build


# -- the sandbox, in a child process ----------------------------------------------------------


def sandbox_child(state: Path) -> None:
    """Serve the sandbox and answer the parent's requests (JSON lines on stdin and stdout)
    until stdin closes; then drop every database the sandbox made. Ctrl-C and SIGTERM go to the
    parent, whose clean-up closes stdin."""
    from railway_sandbox import Sandbox

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sandbox = Sandbox(
        state,
        postgres_url=pg_url("postgres"),
        mysql_url=my_url("mysql"),
        deploy_seconds=0.0,
        apply_seconds=0.0,
        token=os.environ[TOKEN_VARIABLE],
    )
    try:
        sandbox.start()
        _answer(
            {
                "port": sandbox.port,
                "database_prefix": sandbox.database_prefix,
                "deploy_seconds": sandbox.deploy_seconds,
                "apply_seconds": sandbox.apply_seconds,
            }
        )
        for line in sys.stdin:
            request = json.loads(line)
            try:
                answer = _serve(sandbox, request)
            except Exception as error:
                answer = {"error": f"{type(error).__name__}: {error}"}
            _answer(answer)
    finally:
        sandbox.stop()
        sandbox.drop_all_databases()


def _answer(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def _serve(sandbox: Sandbox, request: dict[str, Any]) -> dict[str, Any]:
    if request["op"] == "add":
        project = sandbox.add_project(
            request["name"], engine=request["engine"], wordpress=request["wordpress"]
        )
        with sandbox.lock:
            backing = (
                sandbox.world.projects[project.project_id]
                .environments[project.production_environment_id]
                .instances[project.database_service_id]
                .database
            )
        assert backing is not None
        return {
            "project_id": project.project_id,
            "app_domain": project.app_domain,
            "database": backing.database,
            "user": backing.user,
        }
    if request["op"] == "forget":
        with sandbox.lock:
            removed = sandbox.world.projects.pop(request["project_id"])
            for environment in removed.environments.values():
                for instance in environment.instances.values():
                    sandbox.close_proxies(instance)
                    if instance.database is not None:
                        sandbox.servers.drop(instance.database)
            sandbox.save()
        return {"ok": True}
    raise ValueError(f"unknown request {request['op']!r}")


class SandboxProcess:
    """The parent's side of ``sandbox_child``."""

    def __init__(self, state: Path, token: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.clone_bench", "--sandbox-child", str(state)],
            cwd=ROOT,
            env=os.environ | {TOKEN_VARIABLE: token},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.hello = self._read()
        self.port = int(self.hello["port"])
        self.database_prefix = str(self.hello["database_prefix"])

    def request(self, **body: Any) -> dict[str, Any]:
        stdin = cast(IO[str], self.process.stdin)
        stdin.write(json.dumps(body) + "\n")
        stdin.flush()
        answer = self._read()
        if "error" in answer:
            raise RuntimeError(f"sandbox: {answer['error']}")
        return answer

    def _read(self) -> dict[str, Any]:
        line = cast(IO[str], self.process.stdout).readline()
        if not line:
            raise RuntimeError(f"the sandbox's process ended ({self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        """Close its stdin: it stops and drops its databases (FORCE ends their sessions)."""
        with contextlib.suppress(OSError):
            cast(IO[str], self.process.stdin).close()
        try:
            self.process.wait(timeout=300)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        with contextlib.suppress(OSError):
            cast(IO[str], self.process.stdout).close()


def drop_leftovers(prefix: str) -> None:
    """Whatever the sandbox's databases and users left behind, should its process have died
    before its own clean-up (their names all start with its prefix)."""
    pattern = prefix + "\\_%"
    with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
        for (name,) in admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (pattern,)
        ).fetchall():
            drop_pg(name)
        for (role,) in admin.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (pattern,)
        ).fetchall():
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    with _mysql_root() as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
            (pattern,),
        )
        names = [str(row[0]) for row in cursor.fetchall()]
        cursor.execute("SELECT User, Host FROM mysql.user WHERE User LIKE %s", (pattern,))
        users = [(str(user), str(host)) for user, host in cursor.fetchall()]
        for user, host in users:
            cursor.execute("DROP USER IF EXISTS %s@%s", (user, host))
    for name in names:
        drop_mysql(name)


# -- production databases ---------------------------------------------------------------------


def _mysql_root(database: str | None = None) -> pymysql.connections.Connection[Any]:
    parts = urlsplit(my_url(database or "mysql"))
    return pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=database,
        autocommit=True,
    )


def hand_over_pg(database: str, owner: str) -> None:
    """Make ``owner`` (the site's own user) the owner of the database and everything in it, as
    on Railway, where the app's user made them; the copy reads production as that user."""
    role = sql.Identifier(owner)
    with psycopg.connect(pg_url(database), autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database), role)
        )
        user_schemas = (
            "n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
        )
        schemas = conn.execute(
            f"SELECT quote_ident(n.nspname) FROM pg_namespace n WHERE {user_schemas} "
            "AND n.nspname <> 'public'"
        ).fetchall()
        # Sequences of serial columns and indexes go with their tables.
        relations = conn.execute(
            "SELECT c.oid::regclass::text, c.relkind FROM pg_class c "
            f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {user_schemas} "
            "AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'c') AND NOT EXISTS ("
            "SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
            "AND d.objid = c.oid AND d.deptype IN ('a', 'i'))"
        ).fetchall()
        routines = conn.execute(
            "SELECT p.oid::regprocedure::text, p.prokind FROM pg_proc p "
            f"JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {user_schemas}"
        ).fetchall()
        kinds = {
            "r": "TABLE",
            "p": "TABLE",
            "f": "FOREIGN TABLE",
            "v": "VIEW",
            "m": "MATERIALIZED VIEW",
            "S": "SEQUENCE",
            "c": "TYPE",
        }
        routine_kinds = {"f": "FUNCTION", "p": "PROCEDURE", "a": "AGGREGATE", "w": "FUNCTION"}
        statements = [f"ALTER SCHEMA {name} OWNER TO" for (name,) in schemas]
        statements += [f"ALTER {kinds[kind]} {name} OWNER TO" for name, kind in relations]
        statements += [f"ALTER {routine_kinds[kind]} {name} OWNER TO" for name, kind in routines]
        for statement in statements:
            conn.execute(sql.SQL(statement + " {}").format(role))


_DEFINER = re.compile(r"DEFINER=`(?:[^`]|``)*`@`(?:[^`]|``)*`")


def hand_over_mysql(database: str, user: str) -> None:
    """Re-create the views, routines and triggers with the site's own user as their definer, as
    on Railway, where the app's user made them (MariaDB shows a routine's body only to its
    definer or to a user with global privileges)."""
    definer = "DEFINER=`" + user.replace("`", "``") + "`@`%`"
    with _mysql_root(database) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s", (database,)
        )
        for (view,) in cursor.fetchall():
            cursor.execute(f"SHOW CREATE VIEW `{view}`")
            created = str(cursor.fetchone()[1])
            cursor.execute("CREATE OR REPLACE " + _DEFINER.sub(definer, created, count=1)[7:])
        cursor.execute(
            "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES "
            "WHERE ROUTINE_SCHEMA = %s",
            (database,),
        )
        for name, kind in cursor.fetchall():
            cursor.execute(f"SHOW CREATE {kind} `{name}`")
            _, mode, created, *_ = cursor.fetchone()
            cursor.execute("SET SESSION sql_mode = %s", (mode,))
            cursor.execute(f"DROP {kind} `{name}`")
            cursor.execute(_DEFINER.sub(definer, str(created), count=1))
        cursor.execute(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s",
            (database,),
        )
        for (trigger,) in cursor.fetchall():
            cursor.execute(f"SHOW CREATE TRIGGER `{trigger}`")
            _, mode, created, *_ = cursor.fetchone()
            cursor.execute("SET SESSION sql_mode = %s", (mode,))
            cursor.execute(f"DROP TRIGGER `{trigger}`")
            cursor.execute(_DEFINER.sub(definer, str(created), count=1))


def add_wordpress_options(database: str, production_url: str, name: str) -> None:
    """What build_mysql's WordPress-shaped schema lacks for the WordPress steps: the site's
    address (``siteurl``, ``home``: prepare_site rewrites them, the health check looks for the
    staging address on the page) and the options the sandbox's WordPress page shows."""
    with _mysql_root(database) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO wp_options (option_name, option_value, autoload) VALUES (%s, %s, 'yes')",
            [
                ("siteurl", production_url),
                ("home", production_url),
                ("blogname", name),
                ("blogdescription", "A WordPress-shaped site for the clone benchmark"),
                ("blog_public", "1"),
            ],
        )


# -- the portal -------------------------------------------------------------------------------


def configure_portal(database: str, sandbox_port: int, token: str) -> None:
    """The portal's settings for this process, then Django."""
    os.environ |= {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "UNDERSTUDY_ENV_FILE": "",
        "DATABASE_URL": pg_url(database),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "false",
        "REDIS_URL": REDIS_URL,
        "API_THROTTLE_USER": "1000000/min",
        "RAILWAY_API_TOKEN": token,
        "RAILWAY_API_URL": f"http://127.0.0.1:{sandbox_port}/graphql/v2",
        "STAGING_URL_TEMPLATE": f"http://{{domain}}:{sandbox_port}",
        "STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES": "true",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
    }
    import django

    # Static files are collected in the Docker image only, as in the tests.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()


@dataclass
class Result:
    kind: str
    engine: str
    size_mb: int
    source_bytes: int
    build_s: float
    request_to_ready_s: float
    wall_s: float
    queue_s: float
    steps: dict[str, dict[str, float]]
    copy_s: float
    copy_method: str
    bytes_copied: int
    railway_s: float
    railway: dict[str, float]
    overhead_s: float
    overhead: dict[str, float]
    teardown_s: float
    run_id: int
    cpu_s: dict[str, float]
    metrics: dict[str, Any] = field(default_factory=dict)


class CloneBench:
    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.token = secrets.token_urlsafe(24)
        self.portal_database = f"bench_clone_portal_{os.getpid()}_{secrets.token_hex(3)}"
        self.sandbox: SandboxProcess | None = None
        self.timer = RailwayTimer()
        self.queue: Any = None
        self.client: Any = None
        self.key = ""
        self._restore: contextlib.ExitStack = contextlib.ExitStack()

    def start(self) -> None:
        self.sandbox = SandboxProcess(self.scratch / "sandbox.json", self.token)
        create_pg(self.portal_database)
        configure_portal(self.portal_database, self.sandbox.port, self.token)
        import django_rq
        from django.contrib.auth.models import Group, User
        from django.core.management import call_command
        from django.test import Client

        from staging import lifecycle, roles
        from staging.models import ApiToken

        self.queue = django_rq.get_queue("default")
        if self.queue.count:
            raise SystemExit(
                f"The queue 'default' on {REDIS_URL} holds {self.queue.count} jobs: another "
                "portal uses that Redis database. Set BENCH_REDIS_URL to a free one."
            )
        call_command("migrate", verbosity=0)
        user = User.objects.create_user("clone-bench")
        user.groups.add(Group.objects.get(name=roles.ACCOUNT_MANAGERS))
        self.key = ApiToken.issue(user, "clone benchmark")[1]
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {self.key}")
        # A portal that has served requests before: the first request loads the middleware and
        # the URLs, which a running portal did long ago.
        if self.client.get("/api/v1/sites/").status_code != 200:
            raise RuntimeError("the API does not answer the benchmark's token")
        # The worker's services, built where the lifecycle builds them, with the timing added.
        self._restore.enter_context(
            _replaced(lifecycle, "default_services", timed_services(self.timer))
        )

    def close(self) -> None:
        self._restore.close()
        if self.queue is not None:
            with contextlib.suppress(Exception):
                self._delete_jobs()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if self.sandbox is not None:
            self.sandbox.close()
            drop_leftovers(self.sandbox.database_prefix)
        CLEANUP.run()

    def _delete_jobs(self) -> None:
        """The runs' jobs, their results and their places in RQ's registries."""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        from staging.models import Run

        for job_id in Run.objects.values_list("rq_job_id", flat=True):
            with contextlib.suppress(NoSuchJobError):
                Job.fetch(job_id, connection=self.queue.connection).delete()

    # -- one clone ---------------------------------------------------------------------------

    def measure(self, kind: str, megabytes: int) -> Result:
        assert self.sandbox is not None
        engine, wordpress = KINDS[kind]
        name = f"{'WordPress' if wordpress else 'Ledger'} {megabytes} MB {secrets.token_hex(2)}"
        added = self.sandbox.request(op="add", name=name, engine=engine, wordpress=wordpress)
        try:
            print(f"{KIND_LABELS[kind]}, {megabytes} MB: building the production database ...")
            built = time.monotonic()
            size = self._build(engine, added, megabytes, name)
            build_s = time.monotonic() - built
            print(f"  built {size / 1e6:.0f} MB in {build_s:.0f} s; cloning ...")
            site = self._import_site(added["project_id"], wordpress, added["app_domain"])
            result = self._clone(site, kind, engine, megabytes, size, build_s)
            print(
                f"  ready in {result.request_to_ready_s:.1f} s (copy {result.copy_s:.1f} s, "
                f"Railway {result.railway_s:.1f} s, Understudy {result.overhead_s:.1f} s); "
                f"deleted in {result.teardown_s:.1f} s"
            )
            return result
        finally:
            self.sandbox.request(op="forget", project_id=added["project_id"])
            if engine == "postgres":
                drop_pg(added["database"])
            else:
                drop_mysql(added["database"])

    def _build(self, engine: str, added: dict[str, Any], megabytes: int, name: str) -> int:
        """The sandbox made the production database empty, for its own user: it is built
        again under the same name, filled, and handed to that user."""
        database, user = str(added["database"]), str(added["user"])
        if engine == "postgres":
            drop_pg(database)
            size = build_pg(database, megabytes)
            hand_over_pg(database, user)
            return size
        drop_mysql(database)
        size = build_mysql(database, megabytes)
        hand_over_mysql(database, user)
        add_wordpress_options(database, f"https://{added['app_domain']}", name)
        return size

    def _import_site(self, project_id: str, wordpress: bool, app_domain: str) -> Any:
        """The project as a client site, through the portal's import form."""
        from django.conf import settings

        from staging.pages.forms import ImportSiteForm
        from staging.railway import RailwayClient

        with RailwayClient(settings.RAILWAY_API_URL, settings.RAILWAY_API_TOKEN) as railway:
            project = railway.get_project(project_id)
        data = dict(ImportSiteForm(project, data={}).initial)
        if wordpress:
            data["production_url"] = f"https://{app_domain}"
        form = ImportSiteForm(project, data=data)
        if not form.is_valid():
            raise RuntimeError(f"cannot import {project.name}: {form.errors.as_text()}")
        if form.cleaned_data["is_wordpress"] != wordpress:
            raise RuntimeError(
                f"{project.name} was not recognised as {'' if wordpress else 'not '}WordPress"
            )
        return form.save()

    def _work(self) -> None:
        """A real RQ worker on the queue, in this process, until the queue is empty."""
        worker = BenchWorker([self.queue], connection=self.queue.connection)
        worker.work(burst=True, logging_level="WARNING")
        if INTERRUPTED.is_set():
            raise KeyboardInterrupt

    def _clone(
        self, site: Any, kind: str, engine: str, megabytes: int, size: int, build_s: float
    ) -> Result:
        from staging.models import Run

        self.timer.take()
        cpu_before = self._cpu()
        began = time.time()
        response = self.client.post(
            "/api/v1/environments/",
            {"site": site.slug, "gdpr_acknowledged": True},
            content_type="application/json",
        )
        if response.status_code != 202:
            raise RuntimeError(
                f"POST environments/ answered {response.status_code}: {response.content!r}"
            )
        run_id = int(response.json()["run"]["id"])
        environment_id = int(response.json()["environment"]["id"])
        poller = RunPoller(self.key, run_id)
        poller.start()
        try:
            self._work()
        finally:
            poller.join(timeout=10)
            poller.stop.set()
        intervals = self.timer.take()
        cpu = {
            name: round(after - before, 2)
            for (name, after), before in zip(self._cpu().items(), cpu_before.values(), strict=True)
        }
        run = Run.objects.get(pk=run_id)
        if run.status != "succeeded" or poller.seen is None:
            logs = "\n".join(f"--- {s.name} ({s.status})\n{s.log}" for s in run.steps.all())
            raise RuntimeError(
                f"the clone ended {run.status} ({poller.error or 'not seen by the poller'}): "
                f"{run.error_code} {run.error_message}\n{logs}"
            )
        environment = self.client.get(f"/api/v1/environments/{environment_id}/").json()
        if environment["status"] != "ready":
            raise RuntimeError(f"the run succeeded but the environment is {environment['status']}")
        result = summarise(run, intervals, poller.seen - began)
        deleting = time.monotonic()
        deleted = self.client.delete(f"/api/v1/environments/{environment_id}/")
        if deleted.status_code != 202:
            raise RuntimeError(f"DELETE answered {deleted.status_code}: {deleted.content!r}")
        self._work()
        teardown_s = time.monotonic() - deleting
        gone = self.client.get(f"/api/v1/environments/{environment_id}/").json()
        if gone["status"] != "deleted":
            raise RuntimeError(f"the staging copy was not deleted: {gone['status']}")
        return Result(
            kind=kind,
            engine=engine,
            size_mb=megabytes,
            source_bytes=size,
            build_s=round(build_s, 1),
            teardown_s=round(teardown_s, 3),
            run_id=run_id,
            cpu_s=cpu,
            **result,
        )

    def _cpu(self) -> dict[str, float]:
        """CPU seconds so far: this process (the API, the worker, the copy engine's own Python),
        the tools it ran and waited for (pg_dump, psql, mariadb-dump ...), and the sandbox's
        process (Railway's API, the staging site, the TCP relays every copied byte crosses)."""
        assert self.sandbox is not None
        own = resource.getrusage(resource.RUSAGE_SELF)
        tools = resource.getrusage(resource.RUSAGE_CHILDREN)
        fields = Path(f"/proc/{self.sandbox.process.pid}/stat").read_text().rsplit(")", 1)[1]
        utime, stime = (int(value) for value in fields.split()[11:13])
        return {
            "portal_process": own.ru_utime + own.ru_stime,
            "copy_tools": tools.ru_utime + tools.ru_stime,
            "sandbox_process": (utime + stime) / os.sysconf("SC_CLK_TCK"),
        }


class RunPoller(threading.Thread):
    """Polls the run as a frontend does (``GET /api/v1/runs/{id}/`` with its ETag, every
    ``interval`` seconds) and notes when it first sees it ended."""

    def __init__(self, key: str, run_id: int, interval: float = 0.2) -> None:
        super().__init__(name=f"poll-run-{run_id}", daemon=True)
        self.key, self.run_id, self.interval = key, run_id, interval
        self.stop = threading.Event()
        self.seen: float | None = None
        self.error = ""

    def run(self) -> None:
        from django.db import connection
        from django.test import Client

        client = Client(HTTP_AUTHORIZATION=f"Bearer {self.key}")
        etag = ""
        try:
            while not self.stop.is_set():
                response = client.get(
                    f"/api/v1/runs/{self.run_id}/",
                    headers={"If-None-Match": etag} if etag else None,
                )
                if response.status_code == 200:
                    etag = response["ETag"]
                    status = response.json()["status"]
                    if status == "succeeded":
                        self.seen = time.time()
                        return
                    if status in ("failed", "cancelled", "errored"):
                        self.error = f"the API said {status}"
                        return
                elif response.status_code != 304:
                    self.error = f"GET runs/{self.run_id}/ answered {response.status_code}"
                    return
                self.stop.wait(self.interval)
        finally:
            connection.close()


@contextlib.contextmanager
def _replaced(module: object, name: str, value: object) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


def _seconds(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        raise RuntimeError("a record has no start or end")
    return (end - start).total_seconds()


def summarise(run: Any, intervals: list[Interval], wall_s: float) -> dict[str, Any]:
    """The run's records and the timed Railway intervals, step by step."""
    total = _seconds(run.created_at, run.finished_at)
    metrics: dict[str, Any] = dict(run.metrics)
    copy_s = float(metrics.get("copy_seconds", 0.0))
    railway = {"api": 0.0, "wait": 0.0, "site": 0.0}
    for interval in intervals:
        railway[interval.kind] += interval.seconds
    railway_s = sum(railway.values())
    steps: dict[str, dict[str, float]] = {}
    in_steps = 0.0
    for step in run.steps.order_by("position"):
        seconds = _seconds(step.started_at, step.finished_at)
        start, end = step.started_at.timestamp(), step.finished_at.timestamp()
        on_railway = sum(i.seconds for i in intervals if start <= i.start < end)
        copy = copy_s if step.name == "copy_database" else 0.0
        steps[step.name] = {
            "seconds": round(seconds, 3),
            "railway_s": round(on_railway, 3),
            "own_s": round(seconds - on_railway - copy, 3),
        }
        in_steps += seconds
    queue_s = _seconds(run.created_at, run.started_at)
    overhead_s = total - copy_s - railway_s
    overhead = {name: step["own_s"] for name, step in steps.items()}
    overhead["queue"] = round(queue_s, 3)
    overhead["between_steps"] = round(total - queue_s - in_steps, 3)
    return {
        "request_to_ready_s": round(total, 3),
        "wall_s": round(wall_s, 3),
        "queue_s": round(queue_s, 3),
        "steps": steps,
        "copy_s": round(copy_s, 3),
        "copy_method": str(metrics.get("copy_method", "")),
        "bytes_copied": int(metrics.get("bytes_copied", 0)),
        "railway_s": round(railway_s, 3),
        "railway": {
            "api_s": round(railway["api"], 3),
            "api_requests": sum(1 for i in intervals if i.kind == "api"),
            "waits_s": round(railway["wait"], 3),
            "site_s": round(railway["site"], 3),
            "railway_calls_recorded_by_the_run": metrics.get("railway_calls", 0),
        },
        "overhead_s": round(overhead_s, 3),
        "overhead": overhead,
        "metrics": metrics,
    }


# -- output -----------------------------------------------------------------------------------


def tables(results: list[Result]) -> str:
    ordered = sorted(results, key=lambda r: (list(KINDS).index(r.kind), r.size_mb))
    names = list(dict.fromkeys(name for r in ordered for name in r.steps))
    head = [
        "site kind",
        "size",
        "request→ready s",
        "wall s",
        "queue s",
        *(STEP_ABBREVIATIONS.get(n, n) + " s" for n in names),
        "copy s",
        "Railway (sandbox) s",
        "Understudy overhead s",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in ordered:
        cells = [
            KIND_LABELS[r.kind],
            f"{r.source_bytes / 1e6:.0f} MB",
            f"{r.request_to_ready_s:.1f}",
            f"{r.wall_s:.1f}",
            f"{r.queue_s:.2f}",
            *(f"{r.steps[n]['seconds']:.2f}" if n in r.steps else "—" for n in names),
            f"{r.copy_s:.1f}",
            f"{r.railway_s:.2f}",
            f"{r.overhead_s:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    own = ["queue", *names, "between_steps"]
    lines += [
        "",
        "Where Understudy's overhead goes (each step's time less its Railway time and, for the "
        "copy step, the engine's copy time):",
        "",
        "| site kind | size | "
        + " | ".join(STEP_ABBREVIATIONS.get(n, n.replace("_", " ")) + " s" for n in own)
        + " | Railway requests |",
        "|" + "---|" * (len(own) + 3),
    ]
    for r in ordered:
        cells = [
            KIND_LABELS[r.kind],
            f"{r.source_bytes / 1e6:.0f} MB",
            *(f"{r.overhead[n]:.2f}" if n in r.overhead else "—" for n in own),
            f"{r.railway['api_requests']:.0f} ({r.railway['api_s']:.2f} s)",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="100,500,1000", help="production database sizes, MB")
    parser.add_argument("--kinds", default="wordpress,postgres", help=f"of {', '.join(KINDS)}")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON results")
    parser.add_argument("--sandbox-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sandbox_child:
        sandbox_child(args.sandbox_child)
        return
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown or not kinds or not sizes or min(sizes) < 1:
        parser.error(f"--kinds takes {', '.join(KINDS)}; --sizes positive numbers of MB")
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    started, load_before = time.monotonic(), os.getloadavg()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="understudy-clone-bench-") as scratch:
        bench = CloneBench(Path(scratch))
        try:
            bench.start()
            assert bench.sandbox is not None
            sandbox = bench.sandbox.hello
            # Sizes outer, kinds inner: both kinds meet the same load on the shared machine.
            for megabytes in sizes:
                for kind in kinds:
                    results.append(bench.measure(kind, megabytes))
        except KeyboardInterrupt:
            print("interrupted: removing the benchmark's databases", file=sys.stderr)
            raise SystemExit(130) from None
        finally:
            bench.close()
    load_after = os.getloadavg()
    summary = (
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load average "
        f"{load_before[0]:.1f} before and {load_after[0]:.1f} after, "
        f"{time.monotonic() - started:.0f} s in all; sandbox deployments "
        f"{sandbox['deploy_seconds']} s, environment applies {sandbox['apply_seconds']} s"
    )
    print()
    print(summary)
    print()
    print(tables(results))
    print()
    for name in ("request_to_ready_s", "railway_s", "overhead_s"):
        print(f"- {name.removesuffix('_s').replace('_', ' ')}: {DEFINITIONS[name]}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "summary": summary,
                "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "cores": os.cpu_count(),
                "load_average": {"before": load_before, "after": load_after},
                "sandbox": sandbox,
                "definitions": DEFINITIONS,
                "results": [asdict(result) for result in results],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nJSON: {args.output}")


if __name__ == "__main__":
    main()
