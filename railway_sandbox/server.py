"""The sandbox: an HTTP server speaking Railway's GraphQL operations, backed by real databases.

One port serves three things: the GraphQL API (``/graphql/v2``), a control endpoint for faults
(``/_sandbox/...``), and the sites themselves, chosen by the ``Host`` header as Railway's edge
does, so that a health check of a staging URL gets a real answer.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from graphql import ExecutionResult, GraphQLError, execute_sync, parse, validate

from railway_sandbox import site
from railway_sandbox.api import (
    RailwayApi,
    SandboxGraphQLError,
    deployment,
    railway_schema,
    service_domain,
)
from railway_sandbox.databases import DatabaseServers, database_name
from railway_sandbox.faults import Fault, Faults
from railway_sandbox.proxies import ProxyRelays
from railway_sandbox.state import (
    Deployment,
    Domain,
    Engine,
    Environment,
    Instance,
    Project,
    Service,
    TcpProxy,
    World,
    database_prefix_for,
    new_id,
    slug,
)

logger = logging.getLogger(__name__)

API_PATH = "/graphql/v2"
DATABASE_PORTS: dict[Engine, int] = {"postgres": 5432, "mysql": 3306, "mariadb": 3306}
DATABASE_SERVICES: dict[Engine, tuple[str, str]] = {
    "postgres": ("Postgres", "ghcr.io/railwayapp-templates/postgres-ssl:18"),
    "mysql": ("MySQL", "mysql:9.4"),
    "mariadb": ("MariaDB", "mariadb:11"),
}
WORDPRESS_IMAGE = "wordpress:6.8-php8.3-apache"


@dataclass(frozen=True)
class SandboxProject:
    """What a test needs to know about a project it added."""

    project_id: str
    name: str
    production_environment_id: str
    app_service_id: str
    database_service_id: str
    engine: Engine
    database_url: str
    app_domain: str


class Sandbox:
    """Railway's API, locally. ``start()`` serves in a background thread; ``stop()`` ends it."""

    def __init__(
        self,
        state_path: Path,
        *,
        postgres_url: str,
        mysql_url: str,
        host: str = "127.0.0.1",
        port: int = 0,
        deploy_seconds: float = 0.5,
        apply_seconds: float | None = None,
        token: str = "sandbox-token",  # noqa: S107 (a well-known local default)
        project_token: str = "sandbox-project-token",  # noqa: S107
        database_prefix: str | None = None,
    ) -> None:
        self.state_path = Path(state_path)
        self.servers = DatabaseServers(postgres_url, mysql_url)
        self.host = host
        self.deploy_seconds = deploy_seconds
        self.apply_seconds = deploy_seconds / 2 if apply_seconds is None else apply_seconds
        self.database_prefix = database_prefix or database_prefix_for(self.state_path)
        self.faults = Faults()
        self.calls: Counter[str] = Counter()
        self.lock = threading.RLock()
        self.world = World.load(self.state_path)
        self._token = token
        self._project_token = project_token
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.relays = ProxyRelays()

    def __repr__(self) -> str:
        return f"Sandbox(state_path={str(self.state_path)!r}, port={self.port})"

    # -- serving ----------------------------------------------------------------------------

    def bind(self) -> None:
        if self._server is None:
            self._server = ThreadingHTTPServer((self.host, self._requested_port), _handler(self))
            self._server.daemon_threads = True
        self.open_relays()

    def start(self) -> Sandbox:
        self.bind()
        assert self._server is not None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="railway-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.bind()
        assert self._server is not None
        self._server.serve_forever()

    def stop(self) -> None:
        self.relays.close_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._requested_port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PATH

    def site_url(self, domain: str) -> str:
        """The URL a browser uses for a service domain (``*.localhost`` is loopback)."""
        return f"http://{domain}:{self.port}"

    def reset_calls(self) -> None:
        self.calls.clear()

    # -- the world --------------------------------------------------------------------------

    def save(self) -> None:
        with self.lock:
            self.world.save(self.state_path)

    def deploy(
        self, instance: Instance, service: Service, operation: str, *, start: float | None = None
    ) -> Deployment:
        """Start a deployment that moves through Railway's statuses over ``deploy_seconds``."""
        failed = self.faults.take(operation, ("deployment_failed",))
        if failed is None:
            failed = self.faults.take(service.name, ("deployment_failed",))
        created = deployment(
            start if start is not None else self.world.now(),
            self.deploy_seconds,
            failed.outcome if failed else "SUCCESS",
        )
        instance.deployments.append(created)
        # Railway keeps a history; the sandbox only needs the newest few.
        del instance.deployments[:-5]
        return created

    def open_proxy(self, instance: Instance, application_port: int) -> TcpProxy:
        """A new TCP proxy for the instance: a port of its own, relayed to its database."""
        proxy = TcpProxy(
            id=new_id(), domain="127.0.0.1", proxy_port=0, application_port=application_port
        )
        if instance.database is not None:
            target = self.servers.host_and_port(instance.database.engine)
            proxy.proxy_port = self.relays.open(proxy.id, 0, target)
        else:
            # Nothing behind it to relay to (an app's proxy): a port nobody listens on.
            proxy.proxy_port = 20_000 + secrets.randbelow(40_000)
        instance.proxies.append(proxy)
        return proxy

    def open_relays(self) -> None:
        """Run the relay of every database proxy in the state (a sandbox that was restarted
        gets its ports back where they are free, new ones where they are not)."""
        with self.lock:
            moved = False
            for _, _, instance in self.world.instances():
                if instance.database is None:
                    continue
                target = self.servers.host_and_port(instance.database.engine)
                for proxy in instance.proxies:
                    if proxy.id in self.relays:
                        continue
                    port = self.relays.open(proxy.id, proxy.proxy_port, target)
                    moved |= port != proxy.proxy_port
                    proxy.proxy_port = port
            if moved:
                self.save()

    def close_proxies(self, instance: Instance) -> None:
        for proxy in instance.proxies:
            self.relays.close(proxy.id)

    def back_with_database(
        self, project: Project, environment: Environment, service: Service, instance: Instance
    ) -> None:
        """Give a database service instance its own new, empty database and its variables."""
        assert service.engine is not None
        name = database_name(
            self.database_prefix, slug(project.name)[:12], slug(environment.name)[:16]
        )
        name = f"{name}_{new_id()[:6]}"
        backing = self.servers.create(service.engine, name)
        instance.database = backing
        instance.variables = template_variables(
            service.engine, backing.database, backing.user, backing.password
        )

    def add_project(
        self,
        name: str,
        *,
        engine: Engine,
        wordpress: bool = False,
        production_data_sql: str | None = None,
        app_name: str | None = None,
        app_image: str | None = None,
        app_variables: dict[str, str] | None = None,
        database_name_override: str | None = None,
    ) -> SandboxProject:
        """A project with a production environment: an app and a database with data."""
        with self.lock:
            db_name, db_image = DATABASE_SERVICES[engine]
            app = Service(
                id=new_id(),
                name=app_name or ("WordPress" if wordpress else "App"),
                image=app_image
                or (WORDPRESS_IMAGE if wordpress else f"ghcr.io/acme/{slug(name)}:latest"),
                wordpress=wordpress,
            )
            database = Service(id=new_id(), name=db_name, image=db_image, engine=engine)
            project = Project(id=new_id(), name=name, production_environment_id="")
            production = Environment(id=new_id(), name="production", project_id=project.id)
            project.production_environment_id = production.id
            project.services = {app.id: app, database.id: database}
            project.environments = {production.id: production}
            backing_name = database_name_override or (
                f"{database_name(self.database_prefix, slug(name)[:12], 'production')}"
                f"_{new_id()[:6]}"
            )
            backing = self.servers.create(engine, backing_name)
            db_instance = Instance(
                service_id=database.id,
                environment_id=production.id,
                image=db_image,
                variables=template_variables(
                    engine, backing.database, backing.user, backing.password
                ),
                database=backing,
            )
            self.open_proxy(db_instance, DATABASE_PORTS[engine])
            app_instance = Instance(
                service_id=app.id,
                environment_id=production.id,
                image=app.image,
                variables=app_variables
                if app_variables is not None
                else default_app_variables(db_name, engine, wordpress),
            )
            domain = service_domain(app.name, "production")
            app_instance.domains.append(Domain(id=new_id(), domain=domain))
            production.instances = {app.id: app_instance, database.id: db_instance}
            long_ago = self.world.now() - 86_400
            for instance in (app_instance, db_instance):
                instance.deployments.append(deployment(long_ago, self.deploy_seconds, "SUCCESS"))
            self.world.projects[project.id] = project
            self.save()
        if production_data_sql:
            site.run_sql(self.servers, backing, production_data_sql)
        return SandboxProject(
            project_id=project.id,
            name=name,
            production_environment_id=production.id,
            app_service_id=app.id,
            database_service_id=database.id,
            engine=engine,
            database_url=self.servers.url(backing),
            app_domain=domain,
        )

    def seed_demo(self) -> list[SandboxProject]:
        """Bakery Co (WordPress on MariaDB) and Ledger App (Postgres), with production data."""
        from railway_sandbox.seed import seed_demo

        return seed_demo(self)

    def project_named(self, name: str) -> Project | None:
        return next((p for p in self.world.projects.values() if p.name == name), None)

    def describe(self, project: Project) -> SandboxProject:
        production = project.environments[project.production_environment_id]
        app = next(s for s in project.services.values() if s.engine is None)
        database = next(s for s in project.services.values() if s.engine is not None)
        backing = production.instances[database.id].database
        assert database.engine is not None and backing is not None
        return SandboxProject(
            project_id=project.id,
            name=project.name,
            production_environment_id=production.id,
            app_service_id=app.id,
            database_service_id=database.id,
            engine=database.engine,
            database_url=self.servers.url(backing),
            app_domain=production.instances[app.id].domains[0].domain,
        )

    def drop_all_databases(self) -> None:
        """Drop every database and user this sandbox's state knows of (test clean-up)."""
        with self.lock:
            for backing in self.world.backings():
                self.servers.drop(backing)

    # -- requests ---------------------------------------------------------------------------

    def graphql(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer one GraphQL request as Railway would: errors in the body, usually HTTP 200."""
        query = body.get("query")
        if not isinstance(query, str):
            return 400, {"errors": [{"message": "Must provide query string."}]}
        try:
            document = parse(query)
        except GraphQLError as exc:
            return 400, {"errors": [exc.formatted]}
        errors = validate(railway_schema(), document)
        if errors:
            return 400, {"errors": [e.formatted for e in errors]}
        operation = operation_name(body, document)
        if not self._authorized(headers, operation):
            return 200, {"data": None, "errors": [{"message": "Not Authorized"}]}
        with self.lock:
            result: ExecutionResult = execute_sync(
                railway_schema(),
                document,
                root_value=RailwayApi(self),
                variable_values=body.get("variables") or {},
                operation_name=body.get("operationName"),
            )
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [_error(e) for e in result.errors]
        return 200, answer

    def _authorized(self, headers: dict[str, str], operation: str) -> bool:
        project_token = headers.get("project-access-token")
        if project_token is not None:
            # A project token reaches one environment; it can say who it is and little else,
            # and above all it cannot create environments.
            return project_token == self._project_token and operation == "projectToken"
        return headers.get("authorization", "") == f"Bearer {self._token}"


def _error(error: GraphQLError) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    if original is not None and not isinstance(original, SandboxGraphQLError):
        logger.exception("sandbox resolver failed", exc_info=original)
        formatted["message"] = "Problem processing request"
    return formatted


def operation_name(body: dict[str, Any], document: Any) -> str:
    name = body.get("operationName")
    if isinstance(name, str) and name:
        return name
    for definition in document.definitions:
        if getattr(definition, "name", None) is not None:
            return str(definition.name.value)
    return "anonymous"


def template_variables(engine: Engine, database: str, user: str, password: str) -> dict[str, str]:
    """The variables Railway's database templates define (NOTES.md §5), references unresolved."""
    if engine == "postgres":
        return {
            "POSTGRES_DB": database,
            "POSTGRES_USER": user,
            "POSTGRES_PASSWORD": password,
            "PGDATA": "/var/lib/postgresql/data/pgdata",
            "PGHOST": "${{RAILWAY_PRIVATE_DOMAIN}}",
            "PGPORT": "5432",
            "PGUSER": "${{POSTGRES_USER}}",
            "PGPASSWORD": "${{POSTGRES_PASSWORD}}",
            "PGDATABASE": "${{POSTGRES_DB}}",
            "DATABASE_URL": "postgresql://${{PGUSER}}:${{POSTGRES_PASSWORD}}"
            "@${{RAILWAY_PRIVATE_DOMAIN}}:5432/${{PGDATABASE}}",
            "DATABASE_PUBLIC_URL": "postgresql://${{PGUSER}}:${{POSTGRES_PASSWORD}}"
            "@${{RAILWAY_TCP_PROXY_DOMAIN}}:${{RAILWAY_TCP_PROXY_PORT}}/${{PGDATABASE}}",
        }
    if engine == "mysql":
        return {
            "MYSQL_DATABASE": database,
            "MYSQLUSER": user,
            "MYSQL_ROOT_PASSWORD": password,
            "MYSQLHOST": "${{RAILWAY_PRIVATE_DOMAIN}}",
            "MYSQLPORT": "3306",
            "MYSQLPASSWORD": "${{MYSQL_ROOT_PASSWORD}}",
            "MYSQLDATABASE": "${{MYSQL_DATABASE}}",
            "MYSQL_URL": "mysql://${{MYSQLUSER}}:${{MYSQL_ROOT_PASSWORD}}"
            "@${{RAILWAY_PRIVATE_DOMAIN}}:3306/${{MYSQL_DATABASE}}",
            "MYSQL_PUBLIC_URL": "mysql://${{MYSQLUSER}}:${{MYSQL_ROOT_PASSWORD}}"
            "@${{RAILWAY_TCP_PROXY_DOMAIN}}:${{RAILWAY_TCP_PROXY_PORT}}/${{MYSQL_DATABASE}}",
        }
    return {
        "MARIADB_DATABASE": database,
        "MARIADB_USER": user,
        "MARIADB_PASSWORD": password,
        "MARIADB_ROOT_PASSWORD": password,
        "MARIADB_HOST": "${{RAILWAY_TCP_PROXY_DOMAIN}}",
        "MARIADB_PORT": "${{RAILWAY_TCP_PROXY_PORT}}",
        "MARIADB_URL": "mariadb://${{MARIADB_USER}}:${{MARIADB_PASSWORD}}"
        "@${{MARIADB_HOST}}:${{MARIADB_PORT}}/${{MARIADB_DATABASE}}",
        "MARIADB_PRIVATE_HOST": "${{RAILWAY_PRIVATE_DOMAIN}}",
        "MARIADB_PRIVATE_PORT": "3306",
        "MARIADB_PRIVATE_URL": "mariadb://${{MARIADB_USER}}:${{MARIADB_PASSWORD}}"
        "@${{MARIADB_PRIVATE_HOST}}:${{MARIADB_PRIVATE_PORT}}/${{MARIADB_DATABASE}}",
    }


def default_app_variables(database_service: str, engine: Engine, wordpress: bool) -> dict[str, str]:
    """An app's variables, referring to its database service the way templates do."""
    if wordpress:
        prefix = "MARIADB" if engine == "mariadb" else "MYSQL"
        host = (
            f"${{{{{database_service}.MARIADB_PRIVATE_HOST}}}}:${{{{{database_service}.MARIADB_PRIVATE_PORT}}}}"
            if engine == "mariadb"
            else f"${{{{{database_service}.MYSQLHOST}}}}:${{{{{database_service}.MYSQLPORT}}}}"
        )
        user = "MARIADB_USER" if engine == "mariadb" else "MYSQLUSER"
        password = "MARIADB_PASSWORD" if engine == "mariadb" else "MYSQLPASSWORD"
        name = f"{prefix}_DATABASE"
        keys = {
            f"WORDPRESS_{k}": _secret()
            for k in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY")
        }
        return {
            "WORDPRESS_DB_HOST": host,
            "WORDPRESS_DB_NAME": f"${{{{{database_service}.{name}}}}}",
            "WORDPRESS_DB_USER": f"${{{{{database_service}.{user}}}}}",
            "WORDPRESS_DB_PASSWORD": f"${{{{{database_service}.{password}}}}}",
            "WORDPRESS_CONFIG_EXTRA": "define('WP_HOME','https://${{RAILWAY_PUBLIC_DOMAIN}}');"
            "define('WP_SITEURL','https://${{RAILWAY_PUBLIC_DOMAIN}}');",
            **keys,
        }
    url = {"postgres": "DATABASE_URL", "mysql": "MYSQL_URL", "mariadb": "MARIADB_PRIVATE_URL"}
    return {
        "DATABASE_URL": f"${{{{{database_service}.{url[engine]}}}}}",
        "SECRET_KEY": _secret(),
        "STRIPE_SECRET_KEY": "sk_live_" + _secret()[:24],
        "MAIL_URL": "smtp://postmaster:" + _secret()[:16] + "@smtp.mailgun.org:587",
        "PUBLIC_URL": "https://${{RAILWAY_PUBLIC_DOMAIN}}",
    }


def _secret() -> str:
    return secrets.token_urlsafe(32)


def _handler(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "railway-sandbox"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("sandbox %s " + format, self.address_string(), *args)

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            body = self._body()
            if path == API_PATH and not self._is_site():
                self._graphql(body)
            elif path == "/_sandbox/faults":
                self._set_faults(body)
            elif path == "/_sandbox/calls/reset":
                sandbox.reset_calls()
                self._json(200, {"ok": True})
            else:
                self._site()

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if self._is_site():
                self._site()
            elif path == "/_sandbox/faults":
                self._json(200, {"faults": sandbox.faults.describe()})
            elif path == "/_sandbox/calls":
                self._json(
                    200, {"calls": dict(sandbox.calls), "total": sum(sandbox.calls.values())}
                )
            elif path == "/_sandbox/health":
                self._json(200, {"ok": True, "api_url": sandbox.api_url})
            else:
                self._json(404, {"error": "Not Found"})

        def do_DELETE(self) -> None:
            if self.path.split("?", 1)[0] == "/_sandbox/faults":
                sandbox.faults.clear()
                self._json(200, {"faults": []})
            else:
                self._json(404, {"error": "Not Found"})

        def _is_site(self) -> bool:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
            return host.endswith(".localhost") and host != "localhost"

        def _site(self) -> None:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
            status, content_type, text, extra = site.page(sandbox, host, self.path)
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                data = json.loads(raw or b"{}")
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {"items": data}

        def _json(self, status: int, data: dict[str, Any], **headers: str) -> None:
            payload = json.dumps(data).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up waiting (a "slow" fault): nothing left to answer.
                self.close_connection = True

        def _drop(self) -> None:
            # No status line, no body: the client sees the connection close under it.
            self.close_connection = True

        def _graphql(self, body: dict[str, Any]) -> None:
            operation = str(body.get("operationName") or "anonymous")
            sandbox.calls[operation] += 1
            limited = sandbox.faults.take(operation, ("rate_limit",))
            if limited is not None:
                self._json(
                    429,
                    {"errors": [{"message": "Rate limit exceeded"}]},
                    Retry_After=str(int(limited.retry_after)),
                    X_RateLimit_Remaining="0",
                )
                return
            broken = sandbox.faults.take(operation, ("server_error",))
            if broken is not None:
                self._json(
                    broken.status, {"errors": [{"message": HTTPStatus(broken.status).phrase}]}
                )
                return
            slow = sandbox.faults.take(operation, ("slow",))
            if slow is not None:
                time.sleep(slow.delay)
            dropped = sandbox.faults.take(operation, ("drop",))
            if dropped is not None and not dropped.after_execute:
                self._drop()
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = sandbox.graphql(body, headers)
            if dropped is not None:
                self._drop()
                return
            self._json(status, answer)

        def _set_faults(self, body: dict[str, Any]) -> None:
            if body.get("clear"):
                sandbox.faults.clear()
            items = body.get("items") or body.get("faults") or ([body] if "kind" in body else [])
            try:
                for item in items:
                    sandbox.faults.add(Fault.from_json(item))
            except (TypeError, ValueError) as exc:
                self._json(400, {"error": str(exc)})
                return
            self._json(200, {"faults": sandbox.faults.describe()})

    return Handler
