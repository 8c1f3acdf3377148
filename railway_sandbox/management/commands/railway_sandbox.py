"""Run the Railway sandbox: Railway's GraphQL operations, locally, backed by real databases."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from railway_sandbox import Sandbox
from staging.digits import ascii_float, ascii_int


class Command(BaseCommand):
    help = "Serve a local stand-in for Railway's API (and the sites on its domains) until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=ascii_int, default=settings.RAILWAY_SANDBOX_PORT)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--state",
            type=Path,
            default=Path(settings.BASE_DIR) / "var" / "railway-sandbox.json",
            help="JSON file holding the sandbox's projects, so they survive a restart",
        )
        parser.add_argument("--seed", choices=["demo"], help="add the demo client sites")
        parser.add_argument(
            "--deploy-seconds",
            type=ascii_float,
            default=5.0,
            help="how long a deployment takes to reach SUCCESS",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sandbox = Sandbox(
            options["state"],
            postgres_url=settings.RAILWAY_SANDBOX_POSTGRES_URL,
            mysql_url=settings.RAILWAY_SANDBOX_MYSQL_URL,
            host=options["host"],
            port=options["port"],
            deploy_seconds=options["deploy_seconds"],
            token=settings.RAILWAY_SANDBOX_TOKEN,
        )
        sandbox.bind()
        # SIGTERM (from make, a supervisor, or a job whose SIGINT is ignored) stops it cleanly too.
        signal.signal(signal.SIGTERM, _interrupt)
        if options["seed"] == "demo":
            for project in sandbox.seed_demo():
                self.stdout.write(
                    f"{project.name}: project {project.project_id}, "
                    f"production site {sandbox.site_url(project.app_domain)}"
                )
        self.stdout.write(f"Railway sandbox API: {sandbox.api_url}")
        self.stdout.write(f"State: {options['state']} (Ctrl-C to stop)")
        try:
            sandbox.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            sandbox.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
