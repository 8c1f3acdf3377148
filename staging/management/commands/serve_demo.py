"""Start the demo: a login to use, the RQ worker and the web server, stopped together."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

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
        processes = [
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
