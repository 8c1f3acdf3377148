"""Start the demo: the Railway sandbox with its demo clients, a login to use, the RQ worker and
the web server, all stopped together.

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
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from staging.digits import is_ascii_digits
from staging.models import ClientSite
from staging.pages.forms import ImportSiteForm
from staging.railway import RailwayClient

DEMO_USERNAME = "demo"
PID_FILE = Path(settings.BASE_DIR) / "var" / "serve_demo.pid"


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
            call_command("migrate", interactive=False, stdout=self.stdout)
            self._serve(options)
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

    def _serve(self, options: dict[str, Any]) -> None:
        password = self._demo_login()
        manage = [sys.executable, "manage.py"]
        processes: list[subprocess.Popen[bytes]] = []
        if settings.RAILWAY_SANDBOX_MODE:
            processes.append(
                subprocess.Popen(
                    [
                        *manage,
                        "railway_sandbox",
                        "--seed",
                        "demo",
                        "--port",
                        str(settings.RAILWAY_SANDBOX_PORT),
                    ]
                )
            )
            self._wait_for_sandbox(processes[0])
            self._register_demo_sites()
        processes += [
            subprocess.Popen([*manage, "rqworker", "default", "--with-scheduler"]),
            subprocess.Popen([*manage, "runserver", options["addr"], "--noreload"]),
        ]
        self.stdout.write(
            self.style.SUCCESS(
                f"\nUnderstudy is starting at http://{options['addr']}/admin/\n"
                f"  log in as: {DEMO_USERNAME}\n"
                f"  password:  {password}\n"
                "Press Ctrl-C to stop.\n"
            )
        )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
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
        failed = [process.args for process in processes if process.returncode not in (0, -15)]
        if failed:
            raise CommandError(f"stopped because a process exited: {failed}")

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
                raise CommandError("The Railway sandbox stopped; see its message above.")
            try:
                if httpx.get(health, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        process.terminate()
        raise CommandError("The Railway sandbox did not start within 120 s.")

    def _register_demo_sites(self) -> None:
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
                    self.stdout.write(f"Demo client site: {site.name}")
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
