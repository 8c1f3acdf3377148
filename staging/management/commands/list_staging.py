from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from staging.management.base import StagingCommand
from staging.models import EnvironmentStatus, StagingEnvironment


class Command(StagingCommand):
    help = (
        "List staging environments that exist, including those that need attention (a delete "
        "Railway refused), or with --expired those past their expiry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--site", help="Only this client site (slug).")
        parser.add_argument("--expired", action="store_true", help="Only expired ones.")

    def handle(self, *args: Any, **options: Any) -> None:
        environments = StagingEnvironment.objects.select_related("site").filter(
            status__in=EnvironmentStatus.live()
        )
        if options["site"]:
            environments = environments.filter(site__slug=options["site"])
        if options["expired"]:
            environments = environments.filter(expires_at__lte=timezone.now())
        rows: list[dict[str, Any]] = [
            {
                "id": environment.pk,
                "site": environment.site.slug,
                "name": environment.name,
                "status": environment.status,
                "url": environment.url or None,
                "expires_at": environment.expires_at.isoformat(),
                "expired": environment.is_expired(),
                "needs_attention": environment.status == EnvironmentStatus.NEEDS_ATTENTION,
            }
            for environment in environments.order_by("site__slug", "name")
        ]
        text = "\n".join(
            f"{row['id']:>5}  {row['site']}/{row['name']:<28} {row['status']:<15} "
            f"expires {row['expires_at'][:16]}  {row['url'] or ''}"
            for row in rows
        )
        self.emit(options, {"environments": rows}, text or "No staging environments.")
