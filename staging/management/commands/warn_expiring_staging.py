from __future__ import annotations

from typing import Any

from staging import runs
from staging.management.base import StagingCommand


class Command(StagingCommand):
    help = (
        "E-mail (and post to Slack) the creator of every staging copy deleted within a day, with "
        "a link that extends it; each copy is warned once per expiry date. Run it from cron, "
        "e.g. hourly, beside cleanup_staging."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        warned = runs.warn_expiring(self.actor(options))
        listed: list[dict[str, Any]] = [
            {
                "id": environment.pk,
                "site": environment.site.slug,
                "name": environment.name,
                "expires_at": environment.expires_at.isoformat(),
                "created_by": environment.created_by.get_username()
                if environment.created_by
                else None,
            }
            for environment in warned
        ]
        document = {"warned": len(warned), "environments": listed}
        text = f"Warned about {len(warned)} staging copy(ies) deleted within a day." + "".join(
            f"\n  {e['site']}/{e['name']}: expires {e['expires_at']}" for e in listed
        )
        self.emit(options, document, text)
