from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone

from staging import runs
from staging.errors import UnderstudyError
from staging.management.base import EXIT_FAILURE, StagingCommand, UsageError
from staging.models import EnvironmentStatus, RunStatus, StagingEnvironment

# [0-9], not \d: \d also matches other scripts' digits ("٣").
_DURATION = re.compile(r"^([0-9]{1,5})([dh])$")


def parse_age(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"--older-than '{text}': use a number of days or hours, like 7d or 12h.")
    amount, unit = int(match[1]), match[2]
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)


class Command(StagingCommand):
    help = (
        "Tear down every expired staging environment, and retry every one that needs attention "
        "(a delete Railway refused), one after the other; one failure does not stop the rest. "
        "Runs the teardowns in this process, like the worker would."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--dry-run", action="store_true", help="Only list what would go.")
        parser.add_argument(
            "--older-than",
            help="Also tear down environments created longer ago than this (e.g. 7d, 12h).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        expired = Q(expires_at__lte=now)
        if options["older_than"]:
            expired |= Q(created_at__lte=now - parse_age(options["older_than"]))
        # A copy that needs attention is retried whatever its age: it may hold production data
        # on Railway, and it stays listed until Railway confirms the delete.
        candidates = list(
            StagingEnvironment.objects.select_related("site")
            .filter(
                (expired & Q(status__in=[EnvironmentStatus.READY, EnvironmentStatus.FAILED]))
                | Q(status=EnvironmentStatus.NEEDS_ATTENTION)
            )
            .order_by("expires_at")
        )
        results = []
        for environment in candidates:
            result: dict[str, Any] = {
                "id": environment.pk,
                "site": environment.site.slug,
                "name": environment.name,
                "expires_at": environment.expires_at.isoformat(),
                "needs_attention": environment.status == EnvironmentStatus.NEEDS_ATTENTION,
            }
            if options["dry_run"]:
                result["outcome"] = "would_tear_down"
            else:
                result.update(self._tear_down(environment, options))
            results.append(result)
        failed = [r for r in results if r.get("outcome") == "failed"]
        summary = {
            "dry_run": options["dry_run"],
            "candidates": len(candidates),
            "torn_down": sum(r.get("outcome") == "torn_down" for r in results),
            "failed": len(failed),
            "environments": results,
        }
        verb = "Would tear down" if options["dry_run"] else "Tore down"
        text = (
            f"{verb} {summary['torn_down'] if not options['dry_run'] else len(candidates)} "
            f"of {len(candidates)} expired staging environment(s) or one(s) needing attention; "
            f"{len(failed)} failed."
            + "".join(
                f"\n  {r['site']}/{r['name']}: {r.get('outcome')}"
                + (f" ({r['error_code']})" if r.get("error_code") else "")
                for r in results
            )
        )
        self.emit(options, summary, text)
        if failed:
            raise CommandError(f"{len(failed)} teardown(s) failed.", returncode=EXIT_FAILURE)

    def _tear_down(
        self, environment: StagingEnvironment, options: dict[str, Any]
    ) -> dict[str, Any]:
        # The same runner the worker uses, in this process, so the summary is the outcome.
        try:
            reason = (
                "needs_attention"
                if environment.status == EnvironmentStatus.NEEDS_ATTENTION
                else "expired"
            )
            run = runs.tear_down_now(environment, self.actor(options), reason=reason)
        except UnderstudyError as error:
            return {"outcome": "failed", "error_code": error.code, "error": error.message}
        if run.status == RunStatus.SUCCEEDED:
            return {"outcome": "torn_down", "run_id": run.pk}
        return {
            "outcome": "failed",
            "run_id": run.pk,
            "error_code": run.error_code,
            "error": run.error_message,
        }
