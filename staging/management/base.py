"""What every staging command shares: ``--json``, exit codes, finding environments, waiting.

With ``--json`` a command prints exactly one JSON document on stdout whatever happens: its
result, or ``{"error": {"code": ..., "message": ..., "details": ...}}`` when it fails (a domain
error, something not found, a ``--wait`` that ran out of time, bad usage, a bug), so a program
that runs it never parses text. Exit codes: 0 success, 1 failure, 2 bad usage.
"""

from __future__ import annotations

import getpass
import json
import sys
import time
from typing import Any, NoReturn

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


class BadUsage(UnderstudyError):
    """The command line does not parse (an unknown option, a missing argument)."""

    code = "bad_usage"


class SiteNotFound(UnderstudyError):
    code = "site_not_found"
    http_status = 404


class EnvironmentNotFound(UnderstudyError):
    code = "environment_not_found"
    http_status = 404


class WaitTimedOut(UnderstudyError):
    """``--wait`` ran out of time; the run itself goes on."""

    code = "wait_timed_out"


class CommandFailed(UnderstudyError):
    """A command that failed for a reason its own document already describes, or without a
    more precise code."""

    code = "command_failed"


def error_document(code: str, message: str, details: dict[str, Any] | None = None) -> str:
    return json.dumps(
        {"error": {"code": code, "message": message, "details": details or {}}},
        indent=2,
        default=str,
    )


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

    # Whether --json is on the command line, known before the parser may reject it.
    _json_requested = False
    _emitted = False

    def run_from_argv(self, argv: list[str]) -> None:
        self._json_requested = "--json" in argv[2:]
        super().run_from_argv(argv)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        plain_error = parser.error

        def error(message: str) -> NoReturn:
            if not self._json_requested:
                plain_error(message)
            self.stdout.write(error_document(BadUsage.code, message))
            if parser.called_from_command_line:
                self.stderr.write(f"{parser.format_usage().rstrip()}\n{parser.prog}: {message}")
                sys.exit(EXIT_USAGE)
            raise UsageError(message)

        parser.error = error  # type: ignore[method-assign]
        return parser

    def execute(self, *args: Any, **options: Any) -> str | None:
        """Run the command; with ``--json``, any failure not yet described on stdout is."""
        self._emitted = False
        as_json = bool(options.get("json"))
        try:
            return super().execute(*args, **options)
        except UnderstudyError as error:
            returncode = EXIT_USAGE if isinstance(error, BadUsage) else EXIT_FAILURE
            if as_json and not self._emitted:
                self.stdout.write(error_document(error.code, error.message, error.details))
            raise CommandError(f"{error.message} ({error.code})", returncode=returncode) from None
        except CommandError as error:
            if as_json and not self._emitted:
                code = BadUsage.code if error.returncode == EXIT_USAGE else CommandFailed.code
                self.stdout.write(error_document(code, str(error)))
            raise
        except Exception as error:
            if as_json and not self._emitted:
                # A bug: the traceback follows on stderr; the document says only what it was.
                self.stdout.write(error_document("internal_error", type(error).__name__))
            raise

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
        self._emitted = True
        if options["json"]:
            self.stdout.write(json.dumps(document, indent=2, default=str))
        else:
            self.stdout.write(text)

    def fail(self, options: dict[str, Any], error: UnderstudyError) -> CommandError:
        if options["json"]:
            self._emitted = True
            self.stdout.write(error_document(error.code, error.message, error.details))
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
            raise BadUsage(f"'{reference}': give an environment id or SITE/NAME.")
        if found is None:
            raise EnvironmentNotFound(
                f"No staging environment '{reference}'.", details={"environment": reference}
            )
        return found

    def wait(self, run: Run, options: dict[str, Any], timeout: float) -> Run:
        """Poll the run until it ends, printing a line whenever its step or progress moves."""
        deadline = time.monotonic() + timeout
        shown = None
        # With --json, stdout holds the document alone; progress goes to a person watching
        # stderr, and to nobody when a program (cron, Kestra) does.
        out = self.stdout if not options["json"] else self.stderr if self.stderr.isatty() else None
        while True:
            run.refresh_from_db()
            state = (run.status, run.current_step, run.progress_percent)
            if state != shown and out is not None:
                step = f" {run.current_step}" if run.current_step else ""
                out.write(f"[{run.status}]{step} {run.progress_percent}%")
            shown = state
            if run.is_terminal:
                return run
            if time.monotonic() > deadline:
                raise WaitTimedOut(
                    f"Run {run.pk} is still {run.status} after {timeout:g} s; it goes on "
                    "in the background.",
                    details={"run": run_document(run)},
                )
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0.05)))
