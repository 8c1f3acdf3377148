"""Load: simultaneous clone requests through the API, two real workers, the sandbox.

``RELIABILITY_LOAD_CLONES`` sets how many (20 by default; the CI's reduced run uses fewer).
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection

from staging import lifecycle
from staging.models import Operation, Run, RunStatus
from tests.fixtures_pipeline import (
    POSTGRES_PRODUCTION_SQL,
    Worker,
    sandbox_services,
    site_for,
    wait_for,
    worker_environment,
)
from tests.fixtures_reliability import assert_nothing_lost
from tests.pipeline.helpers import sandbox_databases

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

CLONES = int(os.environ.get("RELIABILITY_LOAD_CLONES", "20"))
WORKERS = 2
# Each site gets more requests than it may run at once, so the per-site limit is put to work.
REQUESTS_PER_SITE = 4
MAX_CLONES = 4
MAX_CLONES_PER_SITE = 1
RAILWAY_CALL_BUDGET_PER_CLONE = 40


class ConcurrencySampler(threading.Thread):
    """Counts the running copies (in all and per site) every 0.2 s, and keeps the highest."""

    def __init__(self) -> None:
        super().__init__(name="concurrency-sampler", daemon=True)
        self.stop = threading.Event()
        self.most = 0
        self.most_per_site = 0
        self.samples = 0

    def run(self) -> None:
        try:
            while not self.stop.wait(0.2):
                sites = list(
                    Run.objects.filter(
                        status=RunStatus.RUNNING,
                        operation__in=[Operation.CLONE, Operation.REFRESH],
                    ).values_list("environment__site_id", flat=True)
                )
                self.samples += 1
                self.most = max(self.most, len(sites))
                if sites:
                    self.most_per_site = max(self.most_per_site, max(map(sites.count, sites)))
        finally:
            connection.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def test_simultaneous_clone_requests_through_the_api_all_end_ready_within_the_limits(
    sandbox, live_server, operator_persona, job_queue, settings, tmp_path: Path, record_property
):
    record_property("category", "load")
    record_property("case", f"{CLONES} simultaneous clone requests via the API, {WORKERS} workers")
    settings.STAGING_MAX_CLONES = MAX_CLONES
    settings.STAGING_MAX_CLONES_PER_SITE = MAX_CLONES_PER_SITE
    site_count = max(1, math.ceil(CLONES / REQUESTS_PER_SITE))
    sites = [
        site_for(
            sandbox.add_project(
                f"Load {number} {time.monotonic_ns() % 100000}",
                engine="postgres",
                production_data_sql=POSTGRES_PRODUCTION_SQL,
            ),
            is_wordpress=False,
        )
        for number in range(site_count)
    ]
    databases_before = sandbox_databases(sandbox)
    environment = worker_environment(
        sandbox,
        STAGING_MAX_CLONES=str(MAX_CLONES),
        STAGING_MAX_CLONES_PER_SITE=str(MAX_CLONES_PER_SITE),
    )
    workers = [Worker(environment, tmp_path / f"worker-{n}.log") for n in range(WORKERS)]
    sampler = ConcurrencySampler()
    sampler.start()
    sandbox.reset_calls()

    def request(number: int) -> httpx.Response:
        site = sites[number % site_count]
        return httpx.post(
            f"{live_server.url}/api/v1/environments/",
            json={"site": site.slug, "gdpr_acknowledged": True},
            headers={"Authorization": f"Bearer {operator_persona.key}"},
            timeout=60,
        )

    started = time.monotonic()
    try:
        barrier_free = ThreadPoolExecutor(max_workers=CLONES)
        with barrier_free:
            responses = list(barrier_free.map(request, range(CLONES)))
        assert [r.status_code for r in responses] == [202] * CLONES, [
            r.text for r in responses if r.status_code != 202
        ]
        run_ids = [r.json()["run"]["id"] for r in responses]
        requeued: list[int] = []

        def all_ended() -> bool:
            # As the scheduled reap_stale_runs does in production: a job that went missing from
            # the queue is put back, and counted below, so a loss shows in the figures.
            requeued.extend(run.pk for run in lifecycle.requeue_lost_runs())
            done = Run.objects.filter(pk__in=run_ids, status__in=RunStatus.terminal())
            return done.count() == CLONES

        wait_for(all_ended, 60 + 30 * CLONES, "every clone to end")
        elapsed = time.monotonic() - started
    finally:
        sampler.stop.set()
        sampler.join()
        for worker in workers:
            worker.stop()

    started_runs = list(Run.objects.filter(pk__in=run_ids).select_related("environment__site"))
    assert len(started_runs) == CLONES  # none lost
    calls = sum(sandbox.calls.values())
    per_run_calls = [run.metrics.get("railway_calls", 0) for run in started_runs]
    ready_seconds = [
        (run.finished_at - run.created_at).total_seconds()
        for run in started_runs
        if run.status == RunStatus.SUCCEEDED and run.finished_at
    ]
    services = sandbox_services(sandbox)
    try:
        ended = assert_nothing_lost(started_runs, services, sandbox, databases_before)
    finally:
        services.close()
    assert ended == {RunStatus.SUCCEEDED: CLONES}, ended
    assert sampler.samples > 0
    assert sampler.most <= MAX_CLONES
    assert sampler.most_per_site <= MAX_CLONES_PER_SITE
    assert max(per_run_calls) <= RAILWAY_CALL_BUDGET_PER_CLONE
    assert calls / CLONES <= RAILWAY_CALL_BUDGET_PER_CLONE

    figures: dict[str, Any] = {
        "clones": CLONES,
        "sites": site_count,
        "workers": WORKERS,
        "succeeded": ended.get(RunStatus.SUCCEEDED, 0),
        "lost": CLONES - len(started_runs),
        "jobs_requeued": len(requeued),
        "duplicate_environments": 0,
        "wall_seconds": round(elapsed, 1),
        "throughput_clones_per_minute": round(CLONES / elapsed * 60, 2),
        "ready_p50_seconds": round(percentile(ready_seconds, 0.5), 1),
        "ready_p95_seconds": round(percentile(ready_seconds, 0.95), 1),
        "ready_max_seconds": round(max(ready_seconds), 1),
        "most_running_at_once": sampler.most,
        "limit_running": MAX_CLONES,
        "most_running_per_site": sampler.most_per_site,
        "limit_per_site": MAX_CLONES_PER_SITE,
        "railway_calls_per_clone_max": max(per_run_calls),
        "railway_calls_per_clone_mean": round(calls / CLONES, 1),
        "railway_call_budget_per_clone": RAILWAY_CALL_BUDGET_PER_CLONE,
    }
    record_property("outcome", f"{ended.get(RunStatus.SUCCEEDED, 0)} of {CLONES} ready, none lost")
    record_property("figures", json.dumps(figures))
