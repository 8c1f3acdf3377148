from __future__ import annotations

from typing import Any

from staging import runs
from staging.management.commands.refresh_staging import Command as RefreshCommand
from staging.models import Run, StagingEnvironment


class Command(RefreshCommand):
    help = "Delete a staging copy (its Railway environment and its data)."
    copies_production_data = False

    def start(self, environment: StagingEnvironment, options: dict[str, Any]) -> Run:
        return runs.start_teardown(environment, self.actor(options))
