"""Start the demo: the Railway sandbox with its demo clients, a login to use, two RQ workers and
the web server, all stopped together; with PHP and Debian's WordPress installed, Bakery Co is a
real WordPress served by PHP (railway_sandbox/wordpress.py).

The terminal shows what a person needs (the address, the logins, where the logs are); the
processes' own output goes to var/demo.log. The first start writes .env (DEBUG, the portal
database, a secret key, Redis) so that the README's commands, run from the checkout, reach this
demo; an existing .env is left as it is.

A second start while one runs changes nothing: it looks for the running demo (its pid file in
var/, the web server's and the sandbox's ports) before migrating or resetting the password."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pymysql
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rq import Worker

from railway_sandbox import wordpress
from railway_sandbox.databases import DatabaseServers
from railway_sandbox.seed import BAKERY
from railway_sandbox.state import World
from staging.digits import is_ascii_digits
from staging.models import ClientSite
from staging.pages.forms import ImportSiteForm
from staging.railway import RailwayClient

DEMO_USERNAME = "demo"
# The demo's files: var/ of the checkout (a test moves them with UNDERSTUDY_DEMO_DIR).
VAR = Path(os.environ.get("UNDERSTUDY_DEMO_DIR") or Path(settings.BASE_DIR) / "var")
PID_FILE = VAR / "serve_demo.pid"
LOG_FILE = VAR / "demo.log"
SANDBOX_STATE = VAR / "railway-sandbox.json"
WORDPRESS_DOCROOT = VAR / "wordpress"
WORDPRESS_PASSWORD_FILE = VAR / "demo-wordpress-password"
WORDPRESS_ADMIN = "baker"
# Two, so that two clones run at once and STAGING_MAX_CLONES (per site: 2) shows.
WORKERS = 2


def env_file() -> Path | None:
    """The file the settings read (portal/settings.py): .env, or UNDERSTUDY_ENV_FILE's."""
    named = os.environ.get("UNDERSTUDY_ENV_FILE", str(Path(settings.BASE_DIR) / ".env"))
    return Path(named) if named else None


def write_demo_env(path: Path, values: dict[str, str]) -> bool:
    """Write the demo's settings to ``path`` unless it exists (then it is left alone)."""
    if path.exists():
        return False
    lines = [
        "# Written by `make run` for its demo, so that `.venv/bin/python manage.py ...` reaches",
        '# it (README.md, "Operating it"). Variables set in the environment win over these.',
        "# Docker Compose reads this file too: for a deployment write your own (README.md).",
        *(f"{name}={value}" for name, value in values.items()),
    ]
    # Created readable by its owner only: it holds the secret key.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("\n".join(lines) + "\n")
    return True


def demo_env_values() -> dict[str, str]:
    """The settings this demo runs with, as the README's commands must see them."""
    return {
        "DEBUG": "true",
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", f"sqlite:///{Path(settings.BASE_DIR) / 'db.sqlite3'}"
        ),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "REDIS_URL": settings.REDIS_URL,
        # The sandbox's databases are on 127.0.0.1, which a real deployment refuses to copy.
        "STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES": "true",
    } | (
        # A demo moved off the sandbox's usual port: the commands must find it there too.
        {"RAILWAY_SANDBOX_PORT": os.environ["RAILWAY_SANDBOX_PORT"]}
        if "RAILWAY_SANDBOX_PORT" in os.environ
        else {}
    )


class AlreadyRunning(Exception):
    """The demo is running already: a second start says so and changes nothing."""


def parse_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not is_ascii_digits(port) or not 0 < int(port) < 65536:
        raise CommandError(f"--addr {address!r}: give HOST:PORT, like 127.0.0.1:8000.")
    return host or "127.0.0.1", int(port)


def listening(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def answers_like_the_portal(host: str, port: int) -> bool:
    try:
        body = httpx.get(f"http://{host}:{port}/healthz", timeout=3).json()
    except (httpx.HTTPError, ValueError):
        return False
    return isinstance(body, dict) and "checks" in body


def running_demo_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


class Command(BaseCommand):
    help = "Start Understudy's demo: web server and job worker, with a demo login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--addr", default="127.0.0.1:8000", help="Where the web server listens."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = parse_address(options["addr"])
        try:
            self._refuse_a_second_start(host, port)
        except AlreadyRunning as running:
            self.stdout.write(f"{running} Nothing was changed.")
            return
        self._check_redis()
        PID_FILE.parent.mkdir(parents=True, exist_ok=True)
        PID_FILE.write_text(f"{os.getpid()} {options['addr']}\n")
        try:
            with LOG_FILE.open("a", buffering=1) as log:
                log.write(f"\n=== serve_demo started {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n")
                self.stdout.write(f"Starting Understudy's demo; its logs go to {_shown(LOG_FILE)}.")
                written = env_file()
                if written is not None and write_demo_env(written, demo_env_values()):
                    self.stdout.write(
                        f"Wrote {_shown(written)}: the README's commands reach this demo."
                    )
                call_command("migrate", interactive=False, stdout=log)
                self._serve(options, log)
        finally:
            with contextlib.suppress(OSError):
                if running_demo_pid() == os.getpid():
                    PID_FILE.unlink()

    def _refuse_a_second_start(self, host: str, port: int) -> None:
        pid = running_demo_pid()
        if pid is not None and pid != os.getpid():
            address = PID_FILE.read_text().split()[1:2] or ["?"]
            raise AlreadyRunning(
                f"Understudy's demo is already running (pid {pid}) at "
                f"http://{address[0]}/admin/; stop it with Ctrl-C where it runs."
            )
        if listening(host, port):
            if answers_like_the_portal(host, port):
                raise AlreadyRunning(
                    f"Understudy is already running at http://{host}:{port}/admin/."
                )
            raise CommandError(
                f"Another program listens on {host}:{port}; nothing was changed. Stop it, or "
                "start on another address: manage.py serve_demo --addr 127.0.0.1:8001"
            )
        sandbox_port = settings.RAILWAY_SANDBOX_PORT
        if settings.RAILWAY_SANDBOX_MODE and listening("127.0.0.1", sandbox_port):
            raise CommandError(
                f"Port {sandbox_port}, the Railway sandbox's, is in use (another checkout's "
                "demo?); nothing was changed. Stop it, or set RAILWAY_SANDBOX_PORT."
            )
        if self._real_wordpress_wanted() and listening("127.0.0.1", sandbox_port + 1):
            raise CommandError(
                f"Port {sandbox_port + 1}, the demo WordPress's, is in use; nothing was "
                "changed. Stop what listens there, or set RAILWAY_SANDBOX_PORT."
            )

    def _real_wordpress_wanted(self) -> bool:
        return settings.RAILWAY_SANDBOX_MODE and wordpress.unavailable() is None

    def _serve(self, options: dict[str, Any], log: Any) -> None:
        password = self._demo_login()
        manage = [sys.executable, "manage.py"]
        processes: list[subprocess.Popen[bytes]] = []
        child_environment = dict(os.environ)
        wordpress_login: str | None = None
        php: subprocess.Popen[bytes] | None = None
        try:
            if settings.RAILWAY_SANDBOX_MODE:
                log.flush()
                processes.append(
                    subprocess.Popen(
                        [
                            *manage,
                            "railway_sandbox",
                            "--seed",
                            "demo",
                            "--port",
                            str(settings.RAILWAY_SANDBOX_PORT),
                            "--state",
                            str(SANDBOX_STATE),
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
                self._wait_for_sandbox(processes[0])
                self.register_demo_sites(log)
                php, wordpress_login = self._start_real_wordpress(log, child_environment)
            log.flush()
            for _ in range(WORKERS):
                processes.append(
                    subprocess.Popen(
                        [*manage, "rqworker", "default", "--with-scheduler"],
                        env=child_environment,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            processes.append(
                subprocess.Popen(
                    [*manage, "runserver", options["addr"], "--noreload"],
                    env=child_environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            self._wait_for_portal(options["addr"], processes[-1])
            self._wait_for_workers(processes[-1 - WORKERS : -1])
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nUnderstudy is running at http://{options['addr']}/admin/\n"
                    f"  log in as: {DEMO_USERNAME}\n"
                    f"  password:  {password}\n"
                )
                + (f"  {wordpress_login}\n" if wordpress_login else "")
                + f"  {WORKERS} job workers; the logs are in {_shown(LOG_FILE)}\n"
                "  commands: .venv/bin/python manage.py list_staging (README, 'Operating it')\n"
                "Press Ctrl-C to stop."
            )
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
            if php is not None:
                wordpress.stop_server(php)
        failed = [process.args for process in processes if process.returncode not in (0, -15)]
        if failed:
            raise CommandError(
                f"stopped because a process exited: {failed}; see {_shown(LOG_FILE)}"
            )

    def _wait_for_workers(self, workers: list[subprocess.Popen[bytes]]) -> None:
        """Ready means the job workers listen too: a clone asked for at once starts at once."""
        connection = redis.Redis.from_url(settings.REDIS_URL)
        started = {worker.pid for worker in workers}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(worker.poll() is not None for worker in workers):
                raise CommandError(f"A job worker stopped; see {_shown(LOG_FILE)}.")
            listening = {w.pid for w in Worker.all(connection=connection)} & started
            if len(listening) == len(workers):
                return
            time.sleep(0.3)
        raise CommandError(f"The job workers did not start within 60 s; see {_shown(LOG_FILE)}.")

    def _wait_for_portal(self, address: str, server: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"The web server stopped; see {_shown(LOG_FILE)}.")
            try:
                httpx.get(f"http://{address}/healthz", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise CommandError(f"The web server did not answer within 60 s; see {_shown(LOG_FILE)}.")

    def _start_real_wordpress(
        self, log: Any, child_environment: dict[str, str]
    ) -> tuple[subprocess.Popen[bytes] | None, str | None]:
        """Bakery Co as a real WordPress under ``php -S``, when PHP and WordPress are here;
        otherwise the sandbox's stand-in page, and a word on how to get the real one."""
        missing = wordpress.unavailable()
        if missing is not None:
            self.stdout.write(
                f"Bakery Co is the sandbox's stand-in page ({missing}). For a real WordPress: "
                f"{wordpress.INSTALL_COMMAND}, then make run again."
            )
            return None, None
        port = settings.RAILWAY_SANDBOX_PORT + 1
        servers = DatabaseServers(
            settings.RAILWAY_SANDBOX_POSTGRES_URL, settings.RAILWAY_SANDBOX_MYSQL_URL
        )
        docroot = wordpress.build_docroot(
            WORDPRESS_DOCROOT, extra_files=[wordpress.PHP_FILES / "install-demo.php"]
        )
        environment = wordpress.php_environment(
            SANDBOX_STATE,
            f"{servers.mysql_host}:{servers.mysql_port}",
            sandbox_sites_url=f"http://127.0.0.1:{settings.RAILWAY_SANDBOX_PORT}",
        )
        log.flush()
        php: subprocess.Popen[bytes] | None = None
        try:
            php = wordpress.start_server(docroot, port, environment, log)
            home = self._install_bakery(servers, docroot, environment, port, log)
        except Exception as error:
            if php is not None:
                wordpress.stop_server(php)
            log.write(f"The real WordPress could not be installed: {error!r}\n")
            self.stdout.write(
                "Bakery Co is the sandbox's stand-in page: installing the real WordPress "
                f"failed (see {_shown(LOG_FILE)})."
            )
            return None, None
        # Staging copies get the PHP server's address too, so they open as real WordPress.
        child_environment.setdefault("STAGING_URL_TEMPLATE", f"http://{{domain}}:{port}")
        ClientSite.objects.filter(name=BAKERY).update(production_url=home)
        return php, (
            f"WordPress (Bakery Co and its staging copies, /wp-admin/): {WORDPRESS_ADMIN} / "
            f"{WORDPRESS_PASSWORD_FILE.read_text().strip()}\n  Bakery Co: {home}/"
        )

    def _install_bakery(
        self,
        servers: DatabaseServers,
        docroot: Path,
        environment: dict[str, str],
        port: int,
        log: Any,
    ) -> str:
        """Install WordPress into Bakery Co's production database once (the sandbox seeds it
        with WordPress's tables, not a WordPress that runs); later starts keep it."""
        world = World.load(SANDBOX_STATE)
        project = next(p for p in world.projects.values() if p.name == BAKERY)
        production = project.environments[project.production_environment_id]
        domain = next(d.domain for i in production.instances.values() for d in i.domains)
        backing = next(i.database for i in production.instances.values() if i.database is not None)
        if not WORDPRESS_PASSWORD_FILE.exists():
            descriptor = os.open(WORDPRESS_PASSWORD_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(12) + "\n")
        connection = pymysql.connect(
            host=servers.mysql_host,
            port=servers.mysql_port,
            user=backing.user,
            password=backing.password,
            database=backing.database,
            autocommit=True,
        )
        with connection, connection.cursor() as cursor:
            cursor.execute("SHOW TABLES LIKE 'wp_options'")
            installed = cursor.fetchone() is not None and bool(
                cursor.execute("SELECT 1 FROM wp_options WHERE option_name = 'understudy_demo'")
            )
            if not installed:
                cursor.execute("SHOW TABLES")
                for (table,) in cursor.fetchall():
                    cursor.execute(f"DROP TABLE `{table}`")
        done = wordpress.run_script(
            docroot,
            environment,
            "install-demo.php",
            f"{domain}:{port}",
            WORDPRESS_ADMIN,
            WORDPRESS_PASSWORD_FILE.read_text().strip(),
        )
        log.write(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"install-demo.php exited with {done.returncode}")
        return f"http://{domain}:{port}"

    def _check_redis(self) -> None:
        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError:
            raise CommandError(
                "Redis does not answer at REDIS_URL; start it (see README, 'Requirements')."
            ) from None

    def _wait_for_sandbox(self, process: subprocess.Popen[bytes]) -> None:
        health = f"http://127.0.0.1:{settings.RAILWAY_SANDBOX_PORT}/_sandbox/health"
        deadline = time.monotonic() + 120  # seeding the demo databases takes a few seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CommandError(f"The Railway sandbox stopped; see {_shown(LOG_FILE)}.")
            try:
                if httpx.get(health, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        process.terminate()
        raise CommandError("The Railway sandbox did not start within 120 s.")

    def register_demo_sites(self, log: Any) -> None:
        """The sandbox's demo projects as client sites, imported as an administrator would."""
        with RailwayClient(settings.RAILWAY_API_URL, settings.RAILWAY_API_TOKEN) as railway:
            for summary in railway.list_projects():
                if ClientSite.objects.filter(railway_project_id=summary.id).exists():
                    continue
                project = railway.get_project(summary.id)
                form = ImportSiteForm(project, data={})
                form = ImportSiteForm(project, data=form.initial)
                if form.is_valid():
                    site = form.save()
                    log.write(f"Demo client site: {site.name}\n")
                else:
                    self.stderr.write(f"Could not add {project.name}: {form.errors.as_text()}")

    def _demo_login(self) -> str:
        """A fresh password on every start, so the demo never has a well-known one."""
        password = secrets.token_urlsafe(9)
        user, _ = User.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"email": "demo@example.invalid"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password


def _shown(path: Path) -> str:
    """A path as a person in the checkout would type it."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path(settings.BASE_DIR)))
    return str(path)
