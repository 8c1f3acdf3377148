"""A real WordPress, served by PHP, cloned through the pipeline by a real worker.

The docroot (Debian's ``wordpress`` core with the sandbox's wp-config.php, which picks each
request's database from the Railway sandbox's state by the Host header) is built by
``railway_sandbox.wordpress``, as `make run`'s demo builds its own. One ``php -S`` serves
production and every staging copy on one port.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import django_rq
import pymysql
import pytest
from playwright.sync_api import Browser, Page

from railway_sandbox import Sandbox
from railway_sandbox.wordpress import build_docroot
from staging import runs
from staging.models import Run, RunStatus, Trigger
from tests.fixtures_browser import DESKTOP
from tests.fixtures_pipeline import Worker, site_for, worker_environment

WORDPRESS_CORE = Path(os.environ.get("WORDPRESS_CORE", "/usr/share/wordpress"))
PHP_FILES = Path(__file__).parent / "php"
# The theme is only a Recommends of wordpress, so --no-install-recommends leaves it out.
INSTALL_HINT = (
    "install them with: apt-get install -y wordpress wordpress-theme-twentytwentythree "
    "php-cli php-mysql"
)
ADMIN_USER = "teaadmin"
ADMIN_PASSWORD = "Earl-Grey-at-4pm!"
UPLOADS = "/wp-content/uploads/"
STAGING_OVERRIDES = {"WPMS_ON": "true", "WPMS_SMTP_HOST": "mailpit.railway.internal"}


def _require_php_and_wordpress() -> str:
    """The php binary; fails (never skips) when CI forgot to install what this test needs."""
    php = shutil.which("php")
    if php is None:
        pytest.fail(f"php is not installed; {INSTALL_HINT}", pytrace=False)
    if not (WORDPRESS_CORE / "wp-includes" / "version.php").is_file():
        pytest.fail(f"WordPress is not in {WORDPRESS_CORE}; {INSTALL_HINT}", pytrace=False)
    if not (WORDPRESS_CORE / "wp-content" / "themes" / "twentytwentythree").is_dir():
        pytest.fail(f"WordPress has no default theme; {INSTALL_HINT}", pytrace=False)
    probe = subprocess.run(
        [php, "-r", "exit(extension_loaded('mysqli') ? 0 : 1);"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.fail(f"PHP has no mysqli extension; {INSTALL_HINT}", pytrace=False)
    return php


@pytest.fixture(scope="session")
def wordpress_docroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_php_and_wordpress()
    docroot = tmp_path_factory.mktemp("wordpress") / "docroot"
    return build_docroot(docroot, WORDPRESS_CORE, [PHP_FILES / "install-production.php"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PhpServer:
    """``php -S`` serving the docroot for every host the sandbox knows."""

    php: str
    docroot: Path
    port: int
    environment: dict[str, str]

    def url_for(self, domain: str) -> str:
        return f"http://{domain}:{self.port}"

    def run_wordpress(self, domain: str, script: str, *arguments: str) -> str:
        """Run a PHP script of the docroot as a request to ``domain`` would see WordPress."""
        done = subprocess.run(
            [self.php, script, f"{domain}:{self.port}", *arguments],
            cwd=self.docroot,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def wordpress_value(self, domain: str, php_expression: str) -> Any:
        """A PHP expression evaluated inside the WordPress that ``domain`` serves, as JSON."""
        code = (
            "$_SERVER['HTTP_HOST'] = $argv[1]; $_SERVER['REQUEST_URI'] = '/';"
            "require 'wp-load.php';"
            f"echo json_encode({php_expression});"
        )
        done = subprocess.run(
            [self.php, "-r", code, f"{domain}:{self.port}"],
            cwd=self.docroot,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="session")
def php_server(
    railway_sandbox: Sandbox, wordpress_docroot: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PhpServer]:
    php = _require_php_and_wordpress()
    servers = railway_sandbox.servers
    environment = os.environ | {
        "UNDERSTUDY_SANDBOX_STATE": str(railway_sandbox.state_path),
        "UNDERSTUDY_DB_HOST": f"{servers.mysql_host}:{servers.mysql_port}",
        # A browser loads a page's styles and scripts in parallel; one worker would queue them.
        "PHP_CLI_SERVER_WORKERS": "4",
    }
    log_path = tmp_path_factory.mktemp("php") / "php-server.log"
    port = _free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [php, "-S", f"127.0.0.1:{port}", "-t", str(wordpress_docroot), "router.php"],
            cwd=wordpress_docroot,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"php -S did not start:\n{log_path.read_text()}", pytrace=False)
                time.sleep(0.1)
        yield PhpServer(php, wordpress_docroot, port, environment)
    finally:
        # The server forks its workers into the session started for it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def mysql_connection(url: str) -> Any:
    parts = urlsplit(url)
    return pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
        charset="utf8mb4",
        autocommit=True,
    )


@dataclass(frozen=True)
class StagingCopy:
    """A production WordPress and its staging copy, made once for the module's tests."""

    production_url: str
    staging_url: str
    production_domain: str
    staging_domain: str
    production_database_url: str
    staging_database_url: str
    installed: dict[str, Any]
    run_status: str
    production_app_variables: dict[str, str]
    staging_app_variables: dict[str, str]
    run_metrics: dict[str, Any]
    step_seconds: dict[str, float]
    step_logs: dict[str, str]
    clone_seconds: float


def _wait_for_run(run_pk: int, timeout: float) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.get(pk=run_pk)
        if run.is_terminal:
            return run
        time.sleep(0.25)
    raise AssertionError(f"the clone did not end within {timeout} s")


@pytest.fixture(scope="module")
def staging_copy(
    railway_sandbox: Sandbox,
    php_server: PhpServer,
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> StagingCopy:
    """Install WordPress as production, clone it through the queue and a real RQ worker whose
    staging URLs are the PHP server's, and describe the result.

    The portal rows written here are removed by the flush after each of the module's tests
    (they are transactional), and the sandbox drops both databases at the end of the session.
    """
    project = railway_sandbox.add_project(
        f"Tea Room {time.monotonic_ns() % 100_000}", engine="mariadb", wordpress=True
    )
    installed = json.loads(
        php_server.run_wordpress(project.app_domain, "install-production.php", ADMIN_PASSWORD)
    )
    with django_db_blocker.unblock():
        queue = django_rq.get_queue("default")
        queue.connection.flushdb()
        site = site_for(
            project,
            is_wordpress=True,
            masking_preset="wordpress",
            staging_variables=STAGING_OVERRIDES,
        )
        log = tmp_path_factory.mktemp("worker") / "worker.log"
        worker = Worker(
            worker_environment(
                railway_sandbox, STAGING_URL_TEMPLATE=f"http://{{domain}}:{php_server.port}"
            ),
            log,
        )
        try:
            started = time.monotonic()
            run = runs.start_clone(site, runs.Actor.system(Trigger.COMMAND), gdpr_acknowledged=True)
            run = _wait_for_run(run.pk, 240)
            clone_seconds = time.monotonic() - started
        finally:
            worker.stop()
            queue.connection.flushdb()
        steps = list(run.steps.order_by("position"))
        logs = {step.name: step.log for step in steps}
        assert run.status == RunStatus.SUCCEEDED, (
            f"{run.status} {run.error_code}: {run.error_message}\n{json.dumps(logs, indent=1)}\n"
            f"worker log:\n{log.read_text()[-4000:]}"
        )
        environment = run.environment
        environments = railway_sandbox.world.projects[project.project_id].environments
        staging_instances = environments[environment.railway_environment_id].instances
        staging_backing = next(
            instance.database
            for instance in staging_instances.values()
            if instance.database is not None
        )
        return StagingCopy(
            production_url=php_server.url_for(project.app_domain),
            staging_url=environment.url,
            production_domain=project.app_domain,
            staging_domain=urlsplit(environment.url).hostname or "",
            production_database_url=project.database_url,
            staging_database_url=railway_sandbox.servers.url(staging_backing),
            installed=installed,
            run_status=run.status,
            production_app_variables=environments[project.production_environment_id]
            .instances[project.app_service_id]
            .variables,
            staging_app_variables=staging_instances[project.app_service_id].variables,
            run_metrics=run.metrics,
            step_seconds={
                step.name: (step.finished_at - step.started_at).total_seconds()
                for step in steps
                if step.started_at and step.finished_at
            },
            step_logs=logs,
            clone_seconds=clone_seconds,
        )


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(20_000)
    opened = context.new_page()
    yield opened
    context.close()
