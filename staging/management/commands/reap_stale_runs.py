from __future__ import annotations

from typing import Any

from staging import runs
from staging.management.base import StagingCommand, run_document


class Command(StagingCommand):
    help = (
        "Roll back runs whose worker stopped sending heartbeats (a crash or a kill), and queue "
        "again the queued runs whose job was lost (Redis restarted or down)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        reaped = runs.reap_stale_runs()
        requeued = runs.requeue_lost_runs()
        self.emit(
            options,
            {
                "reaped": [run_document(run) for run in reaped],
                "requeued": [run_document(run) for run in requeued],
            },
            f"Reaped {len(reaped)} stale run(s)."
            + "".join(f"\n  run {run.pk}: {run.environment}" for run in reaped)
            + f"\nRequeued {len(requeued)} lost run(s)."
            + "".join(f"\n  run {run.pk}: {run.environment}" for run in requeued),
        )
