from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from staging import runs
from staging.digits import ascii_float
from staging.errors import UnderstudyError
from staging.management.acknowledgement import add_acknowledgement_argument, refusal
from staging.management.base import EXIT_FAILURE, StagingCommand, run_document
from staging.models import Run, RunStatus, StagingEnvironment


class Command(StagingCommand):
    help = "Replace a staging copy's data with a fresh copy of production."
    # Teardown shares this command's shape but copies nothing, so it asks no acknowledgement.
    copies_production_data = True

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("environment", help="Environment id or SITE/NAME.")
        if self.copies_production_data:
            add_acknowledgement_argument(parser)
        parser.add_argument("--wait", action="store_true", help="Wait until the run ends.")
        parser.add_argument("--timeout", type=ascii_float, default=3600, help="Seconds to wait.")

    def handle(self, *args: Any, **options: Any) -> None:
        environment = self.find_environment(options["environment"])
        try:
            run = self.start(environment, options)
        except UnderstudyError as error:
            raise refusal(self.fail(options, error), error) from None
        if options["wait"]:
            run = self.wait(run, options, options["timeout"])
        document = run_document(run)
        self.emit(options, document, f"Run {run.pk}: {environment} is {run.status}")
        if run.is_terminal and run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"{run.error_message} ({run.error_code})", returncode=EXIT_FAILURE)

    def start(self, environment: StagingEnvironment, options: dict[str, Any]) -> Run:
        return runs.start_refresh(
            environment,
            self.actor(options),
            gdpr_acknowledged=options["personal_data_acknowledged"],
        )
