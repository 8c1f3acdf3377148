"""Compare what Understudy tracks with what Railway has, and with ``--fix`` settle the difference.

The work is ``staging.reconcile``; this command chooses the sites, prints and sets the exit code.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from staging.management.base import EXIT_FAILURE, StagingCommand
from staging.models import ClientSite
from staging.reconcile import reconcile
from staging.services import default_services


class Command(StagingCommand):
    help = (
        "List Railway environments Understudy made (by the ids its runs recorded, never by "
        "name) but no longer tracks, copies that need attention (a delete Railway refused), and "
        "tracked environments that are gone from Railway; --fix deletes the first two on "
        "Railway and marks the copies deleted once Railway confirms, each audited. Exit code 1 "
        "when drift is left (found without --fix, or a fix failed) or a site's project could "
        "not be read."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--fix",
            action="store_true",
            help="Delete the orphans and the copies needing attention, mark the missing deleted.",
        )
        parser.add_argument("--site", help="Only this site (its slug).")

    def handle(self, *args: Any, **options: Any) -> None:
        sites = ClientSite.objects.order_by("slug")
        if options["site"]:
            sites = sites.filter(slug=options["site"])
        services = default_services()
        try:
            result = reconcile(
                sites, services.railway, fixing=options["fix"], actor=self.actor(options)
            )
        finally:
            services.close()
        self.emit(options, result.document(), result.describe())
        if result.left or result.errors:
            raise CommandError(
                f"{len(result.left)} difference(s) left, {len(result.errors)} site(s) unreadable.",
                returncode=EXIT_FAILURE,
            )
