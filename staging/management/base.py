"""What every staging command shares: ``--json``, exit codes, finding environments, waiting."""

from __future__ import annotations

import getpass
import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from staging.digits import parse_id
from staging.errors import UnderstudyError
from staging.models import Run, StagingEnvironment, Trigger
from staging.runs import Actor

EXIT_FAILURE = 1
EXIT_USAGE = 2


class UsageError(CommandError):
    def __init__(self, message: str) -> None:
        super().__init__(message, returncode=EXIT_USAGE)


def run_document(run: Run) -> dict[str, Any]:
    environment = run.environment
    return {
        "run_id": run.pk,
        "operation": run.operation,
        "status": run.status,
        "error_code": run.error_code or None,
        "error_message": run.error_message or None,
        "progress_percent": run.progress_percent,
        "current_step": run.current_step or None,
        "site": environment.site.slug,
        "environment": environment.name,
        "environment_id": environment.pk,
        "staging_url": environment.url or None,
        "expires_at": environment.expires_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": run.duration.total_seconds() if run.duration else None,
        "metrics": run.metrics,
    }


class StagingCommand(BaseCommand):
    """A command with ``--json`` (one document on stdout) and exit codes 0, 1 and 2."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")
        parser.add_argument(
            "--source",
            choices=[Trigger.COMMAND, Trigger.KESTRA, Trigger.SCHEDULE],
            default=Trigger.COMMAND,
            help="Who runs this command, for the audit log.",
        )

    def actor(self, options: dict[str, Any]) -> Actor:
        source = Trigger(options["source"])
        return Actor(source=source, label=f"{source.value} ({getpass.getuser()})")

    def emit(self, options: dict[str, Any], document: dict[str, Any], text: str) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(document, indent=2, default=str))
        else:
            self.stdout.write(text)

    def fail(self, options: dict[str, Any], error: UnderstudyError) -> CommandError:
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "error": {
                            "code": error.code,
                            "message": error.message,
                            "details": error.details,
                        }
                    }
                )
            )
        return CommandError(f"{error.message} ({error.code})", returncode=EXIT_FAILURE)

    def find_environment(self, reference: str) -> StagingEnvironment:
        """An environment by id, or by ``site-slug/name`` among those not deleted."""
        queryset = StagingEnvironment.objects.select_related("site")
        environment_id = parse_id(reference)
        if environment_id is not None:
            found = queryset.filter(pk=environment_id).first()
        elif "/" in reference:
            slug, name = reference.split("/", 1)
            found = queryset.filter(site__slug=slug, name=name).exclude(status="deleted").first()
        else:
            raise UsageError(f"'{reference}': give an environment id or SITE/NAME.")
        if found is None:
            raise CommandError(f"No staging environment '{reference}'.", returncode=EXIT_FAILURE)
        return found

    def wait(self, run: Run, options: dict[str, Any], timeout: float) -> Run:
        """Poll the run until it ends, printing a line whenever its step or progress moves."""
        deadline = time.monotonic() + timeout
        shown = None
        out = self.stderr if options["json"] else self.stdout
        while True:
            run.refresh_from_db()
            state = (run.status, run.current_step, run.progress_percent)
            if state != shown:
                shown = state
                step = f" {run.current_step}" if run.current_step else ""
                out.write(f"[{run.status}]{step} {run.progress_percent}%")
            if run.is_terminal:
                return run
            if time.monotonic() > deadline:
                raise CommandError(
                    f"Run {run.pk} is still {run.status} after {timeout:.0f} s; it goes on "
                    "in the background.",
                    returncode=EXIT_FAILURE,
                )
            time.sleep(1)
