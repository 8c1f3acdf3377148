"""RQ entry points, nothing else: each loads its record and hands it to the job lifecycle."""

from __future__ import annotations

from staging import lifecycle
from staging.models import Run


def execute_run(run_id: int) -> str:
    run = Run.objects.select_related("environment__site").get(pk=run_id)
    return lifecycle.run_from_queue(run)
