from __future__ import annotations

from staging import runs
from staging.management.commands.refresh_staging import Command as RefreshCommand


class Command(RefreshCommand):
    help = "Delete a staging copy (its Railway environment and its data)."
    start = staticmethod(runs.start_teardown)
