from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from staging import runs
from staging.digits import ascii_float
from staging.errors import UnderstudyError
from staging.management.base import EXIT_FAILURE, StagingCommand, run_document
from staging.models import RunStatus


class Command(StagingCommand):
    help = "Replace a staging copy's data with a fresh copy of production."
    start = staticmethod(runs.start_refresh)

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("environment", help="Environment id or SITE/NAME.")
        parser.add_argument("--wait", action="store_true", help="Wait until the run ends.")
        parser.add_argument("--timeout", type=ascii_float, default=3600, help="Seconds to wait.")

    def handle(self, *args: Any, **options: Any) -> None:
        environment = self.find_environment(options["environment"])
        try:
            run = self.start(environment, self.actor(options))
        except UnderstudyError as error:
            raise self.fail(options, error) from None
        if options["wait"]:
            run = self.wait(run, options, options["timeout"])
        document = run_document(run)
        self.emit(options, document, f"Run {run.pk}: {environment} is {run.status}")
        if run.is_terminal and run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"{run.error_message} ({run.error_code})", returncode=EXIT_FAILURE)
