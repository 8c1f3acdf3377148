"""Start the demo: the Railway sandbox with its demo clients, a login to use, the RQ worker and
the web server, all stopped together."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from staging.models import ClientSite
from staging.pages.forms import ImportSiteForm
from staging.railway import RailwayClient

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = "Start Understudy's demo: web server and job worker, with a demo login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--addr", default="127.0.0.1:8000", help="Where the web server listens."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._check_redis()
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
