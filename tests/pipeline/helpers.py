"""What the pipeline tests look at: the staging database, the sandbox's leftovers."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pymysql
from psycopg import sql

from railway_sandbox import Sandbox
from staging import lifecycle, runs
from staging.dbcopy.markers import MARKER_TABLE
from staging.models import (
    AuditEvent,
    ClientSite,
    EnvironmentStatus,
    Run,
    StagingEnvironment,
    StepStatus,
    Trigger,
)
from staging.railway import database_url
from staging.services import Services


def clone(site: ClientSite, services: Services, **options: Any) -> Run:
    """Start a clone as a command would, and run it in this process like the worker does.

    The sandbox's projects live for the whole session while the portal database is rolled back
    after each test, so a suggested name could meet an environment an earlier test left on
    Railway: unless a test names its copy, it gets a name no other test uses."""
    options.setdefault("name", f"t-{uuid.uuid4().hex[:12]}")
    options.setdefault("gdpr_acknowledged", True)
    run = runs.start_clone(site, runs.Actor.system(Trigger.COMMAND), **options)
    assert lifecycle.run_now(run, services)
    return run


def staging_database_url(services: Services, environment: StagingEnvironment) -> str:
    site = environment.site
    variables = services.railway.get_variables(
        site.railway_project_id, environment.railway_environment_id, site.database_service_id
    )
    url = database_url(site.database_engine, variables)  # type: ignore[arg-type]
    assert url, variables.keys()
    return url


def row_counts(url: str, *, with_marker: bool = False) -> dict[str, int]:
    """Rows per table; the staging marker (Understudy's, not the site's) left out unless asked."""
    counts = _row_counts(url)
    if not with_marker:
        counts.pop(MARKER_TABLE, None)
    return counts


def _row_counts(url: str) -> dict[str, int]:
    if url.startswith("postgres"):
        with psycopg.connect(url) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
                )
            ]
            return {
                table: conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                ).fetchone()[0]  # type: ignore[index]
                for table in tables
            }
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    mysql = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
    )
    with mysql, mysql.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        tables = [row[0] for row in cursor.fetchall()]
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM `{table}`")  # noqa: S608 (names from SHOW TABLES)
            counts[table] = cursor.fetchone()[0]  # type: ignore[index]
        return counts


def railway_environment_names(sandbox: Sandbox, project_id: str) -> list[str]:
    project = sandbox.world.projects[project_id]
    return sorted(environment.name for environment in project.environments.values())


def sandbox_databases(sandbox: Sandbox) -> set[str]:
    """The databases this sandbox made that exist on the local servers now."""
    prefix = sandbox.database_prefix + "_"
    with psycopg.connect(sandbox.servers.postgres_url, autocommit=True) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    mysql = pymysql.connect(
        host=sandbox.servers.mysql_host, port=sandbox.servers.mysql_port, user="root", password=""
    )
    with mysql, mysql.cursor() as cursor:
        cursor.execute("SHOW DATABASES")
        names |= {row[0] for row in cursor.fetchall()}
    return {name for name in names if name.startswith(prefix)}


def assert_rolled_back(run, sandbox, project_id, databases_before):
    run.environment.refresh_from_db()
    assert run.environment.status == EnvironmentStatus.DELETED
    assert railway_environment_names(sandbox, project_id) == ["production"]
    assert sandbox_databases(sandbox) == databases_before
    assert not run.steps.filter(status=StepStatus.ROLLBACK_FAILED).exists()
    assert AuditEvent.objects.filter(
        action=f"staging.clone_{run.status}", target_id=str(run.environment.pk)
    ).exists()
