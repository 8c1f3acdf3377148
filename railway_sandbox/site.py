"""The sites behind service domains: small pages built from each environment's real database.

A WordPress app shows its ``siteurl``, ``blogname`` and latest posts, read from wp_options and
wp_posts, so a health check (and a person) can see which database a staging site is using.
"""

from __future__ import annotations

import html
from http import HTTPStatus
from typing import TYPE_CHECKING

from psycopg import sql

from railway_sandbox.databases import DatabaseServers
from railway_sandbox.state import DatabaseBacking, Environment, Instance, Service

if TYPE_CHECKING:
    from railway_sandbox.server import Sandbox

Page = tuple[int, str, str, dict[str, str]]
HTML = "text/html; charset=utf-8"


def page(sandbox: Sandbox, host: str, path: str) -> Page:
    with sandbox.lock:
        found = _find(sandbox, host)
        if found is None:
            return 404, HTML, _html("Not Found", "<p>Application not found</p>"), {}
        service, environment, instance = found
        faulty = _fault(sandbox, service, path)
        if faulty is not None:
            return faulty
        latest = instance.latest_deployment()
        status = latest.status(sandbox.world.now()) if latest else None
        database = next(
            (i.database for i in environment.instances.values() if i.database is not None), None
        )
    if status != "SUCCESS":
        return 503, HTML, _html("Application failed to respond", f"<p>{status}</p>"), {}
    if database is None:
        return 200, HTML, _html(service.name, "<p>No database attached.</p>"), {}
    try:
        if service.wordpress:
            return _wordpress(sandbox.servers, database, path)
        return _app(sandbox.servers, service, environment, database)
    except Exception as exc:
        # Whatever broke, the site answers 500 as WordPress does; the health check reports it.
        return (
            500,
            HTML,
            _html(
                "Error", f"<p>Error establishing a database connection ({type(exc).__name__})</p>"
            ),
            {},
        )


def _fault(sandbox: Sandbox, service: Service, path: str) -> Page | None:
    """What a faulty site answers: Railway's "Application not found", or a redirect away."""
    status = sandbox.faults.take(service.name, ("site_status",))
    if status is not None:
        title = "Not Found" if status.status == 404 else HTTPStatus(status.status).phrase
        return status.status, HTML, _html(title, "<p>Application not found</p>"), {}
    redirect = sandbox.faults.take(service.name, ("site_redirect",))
    if redirect is None:
        return None
    location = redirect.location
    if not location:
        project = next(p for p in sandbox.world.projects.values() if service.id in p.services)
        production = project.environments[project.production_environment_id]
        location = f"https://{production.instances[service.id].domains[0].domain}{path}"
    return 301, HTML, "", {"Location": location}


def _find(sandbox: Sandbox, host: str) -> tuple[Service, Environment, Instance] | None:
    for project, environment, instance in sandbox.world.instances():
        if any(d.domain == host for d in instance.domains):
            return project.services[instance.service_id], environment, instance
    return None


def _wordpress(servers: DatabaseServers, database: DatabaseBacking, path: str) -> Page:
    with servers.connect_mysql(database) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW TABLES LIKE 'wp_options'")
        if cursor.fetchone() is None:
            return 302, HTML, "", {"Location": "/wp-admin/install.php"}
        cursor.execute(
            "SELECT option_name, option_value FROM wp_options "
            "WHERE option_name IN ('siteurl', 'home', 'blogname', 'blogdescription', "
            "'blog_public')"
        )
        options = dict(cursor.fetchall())
        cursor.execute(
            "SELECT post_title FROM wp_posts WHERE post_type = 'post' AND post_status = 'publish' "
            "ORDER BY post_date DESC LIMIT 5"
        )
        titles = [row[0] for row in cursor.fetchall()]
    name = html.escape(str(options.get("blogname", "")))
    siteurl = html.escape(str(options.get("siteurl", "")))
    robots = "noindex, nofollow" if str(options.get("blog_public", "1")) == "0" else "index"
    posts = "".join(f"<li>{html.escape(str(t))}</li>" for t in titles)
    body = (
        f"<header><h1>{name}</h1><p>{html.escape(str(options.get('blogdescription', '')))}</p>"
        f'</header><p class="siteurl">siteurl: <a href="{siteurl}">{siteurl}</a></p>'
        f'<p class="home">home: {html.escape(str(options.get("home", "")))}</p>'
        f"<ul>{posts}</ul>"
    )
    return 200, HTML, _html(name, body, robots=robots, generator="WordPress 6.8"), {}


def _app(
    servers: DatabaseServers, service: Service, environment: Environment, database: DatabaseBacking
) -> Page:
    counts = table_counts(servers, database)
    if not counts:
        return 500, HTML, _html("Internal Server Error", "<p>relation does not exist</p>"), {}
    rows = "".join(f"<tr><td>{html.escape(t)}</td><td>{n}</td></tr>" for t, n in counts.items())
    body = (
        f"<h1>{html.escape(service.name)}</h1><p>environment: {html.escape(environment.name)}</p>"
        f"<table>{rows}</table>"
    )
    return 200, HTML, _html(service.name, body), {}


def table_counts(servers: DatabaseServers, database: DatabaseBacking) -> dict[str, int]:
    """Rows per table: what the non-WordPress page shows, and what tests compare."""
    counts: dict[str, int] = {}
    if database.engine == "postgres":
        with servers.connect_postgres(database) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
                ).fetchall()
            ]
            for table in tables:
                row = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                ).fetchone()
                counts[table] = int(row[0]) if row else 0
        return counts
    with servers.connect_mysql(database) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        for (table,) in cursor.fetchall():
            cursor.execute(f"SELECT count(*) FROM `{table}`")  # noqa: S608 (a table name from SHOW TABLES)
            counts[str(table)] = int(cursor.fetchone()[0])
    return counts


def run_sql(servers: DatabaseServers, database: DatabaseBacking, script: str) -> None:
    """Run a script of several statements as the database's own user."""
    if database.engine == "postgres":
        with servers.connect_postgres(database) as conn:
            conn.execute(script.encode())
        return
    with servers.connect_mysql(database) as conn, conn.cursor() as cursor:
        for statement in split_statements(script):
            cursor.execute(statement)


def split_statements(script: str) -> list[str]:
    """Split on semicolons that end a line outside quotes (enough for seed scripts)."""
    statements: list[str] = []
    current: list[str] = []
    quote: str | None = None
    escaped = False
    for char in script:
        current.append(char)
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif quote:
            if char == quote:
                quote = None
        elif char in ("'", '"', "`"):
            quote = char
        elif char == ";":
            statement = "".join(current[:-1]).strip()
            if statement:
                statements.append(statement)
            current = []
    tail = "".join(current).strip()
    if tail:
        statements.append(tail)
    return statements


def _html(title: str, body: str, **meta: str) -> str:
    metas = "".join(
        f'<meta name="{html.escape(k)}" content="{html.escape(v)}">' for k, v in meta.items()
    )
    return (
        f'<!doctype html><html><head><meta charset="utf-8">{metas}<title>{title}</title>'
        f"</head><body>{body}</body></html>"
    )
