from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from staging import runs
from staging.digits import ascii_float, ascii_int
from staging.errors import UnderstudyError
from staging.management.acknowledgement import add_acknowledgement_argument, refusal
from staging.management.base import EXIT_FAILURE, SiteNotFound, StagingCommand, run_document
from staging.models import ClientSite, RunStatus


class Command(StagingCommand):
    help = "Create a staging copy of a client site."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("site", help="The client site's slug.")
        parser.add_argument("--name", help="Staging name (generated when not given).")
        parser.add_argument("--ttl-days", type=ascii_int, help="Days before it is torn down.")
        add_acknowledgement_argument(parser)
        parser.add_argument("--wait", action="store_true", help="Wait until the clone ends.")
        parser.add_argument("--timeout", type=ascii_float, default=3600, help="Seconds to wait.")

    def handle(self, *args: Any, **options: Any) -> None:
        site = ClientSite.objects.filter(slug=options["site"]).first()
        if site is None:
            raise SiteNotFound(
                f"No client site '{options['site']}'.", details={"site": options["site"]}
            )
        try:
            run = runs.start_clone(
                site,
                self.actor(options),
                name=options["name"],
                ttl_days=options["ttl_days"],
                gdpr_acknowledged=options["personal_data_acknowledged"],
            )
        except UnderstudyError as error:
            raise refusal(self.fail(options, error), error) from None
        if options["wait"]:
            run = self.wait(run, options, options["timeout"])
        document = run_document(run)
        self.emit(options, document, _describe(document))
        if run.is_terminal and run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"{run.error_message} ({run.error_code})", returncode=EXIT_FAILURE)


def _describe(document: dict[str, Any]) -> str:
    line = f"Run {document['run_id']}: {document['environment']} is {document['status']}"
    if document["staging_url"] and document["status"] == RunStatus.SUCCEEDED:
        line += f" at {document['staging_url']}"
    return line
