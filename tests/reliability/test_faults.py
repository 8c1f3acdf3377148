"""Faults on the sandbox and on real processes. Each case ends with a ready environment or a
clean rollback, and nothing lost: no Railway environment but production (and the ready one),
no database left behind, no copy tool left running, the request and the outcome of every run
in the audit log."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from railway_sandbox import Fault, Sandbox, SandboxProject
from staging import lifecycle, runs
from staging.models import (
    AuditEvent,
    Run,
    RunStatus,
    Trigger,
)
from staging.railway import RailwayClient
from staging.services import Services
from tests.fixtures_pipeline import (
    LARGE_PRODUCTION_SQL,
    Worker,
    fast_sleep,
    site_for,
    wait_for,
    worker_environment,
)
from tests.fixtures_railway import SANDBOX_TOKEN
from tests.fixtures_reliability import assert_nothing_lost
from tests.pipeline.helpers import clone, railway_environment_names, sandbox_databases

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


# -- what every case checks ------------------------------------------------------------------


def fired(faults: list[Fault], armed: dict[int, int]) -> int:
    """How many times these faults fired (``armed``: their ``times`` when switched on)."""
    return sum(armed[id(fault)] - max(fault.times or 0, 0) for fault in faults)


def arm(
    sandbox: Sandbox, *specs: tuple[str, str, dict[str, Any]]
) -> tuple[list[Fault], dict[int, int]]:
    faults = [sandbox.faults.set(name, kind, **options) for name, kind, options in specs]  # type: ignore[arg-type]
    return faults, {id(fault): fault.times or 0 for fault in faults}


def outcome_of(run: Run) -> str:
    if run.status == RunStatus.SUCCEEDED:
        return "succeeded"
    return f"{run.status} ({run.error_code}), rolled back"


@pytest.fixture
def databases_before(ledger_project: SandboxProject, sandbox: Sandbox) -> set[str]:
    return sandbox_databases(sandbox)


@pytest.fixture
def big_ledger(sandbox: Sandbox) -> SandboxProject:
    """About 60 MB of production data, so a copy lasts long enough for something to break."""
    return sandbox.add_project(
        f"Big Ledger {time.monotonic_ns() % 100000}",
        engine="postgres",
        production_data_sql=LARGE_PRODUCTION_SQL,
    )


# -- the Railway API -------------------------------------------------------------------------


def test_a_storm_of_429s_from_railway_is_waited_out_and_the_clone_succeeds(
    ledger_site, sandbox, services, job_queue, databases_before, record_property
):
    record_property("category", "fault")
    record_property("case", "Railway 429 storm (Retry-After honoured)")
    # The client gives up on one call after its fourth retry; a storm that spreads over every
    # operation is what a busy workspace sees.
    faults, armed = arm(
        sandbox,
        ("*", "rate_limit", {"times": 4, "retry_after": 0.01}),
        ("environmentCreate", "rate_limit", {"times": 3, "retry_after": 0.01}),
        ("deployment", "rate_limit", {"times": 3, "retry_after": 0.01}),
        ("variablesForServiceDeployment", "rate_limit", {"times": 3, "retry_after": 0.01}),
        ("tcpProxyCreate", "rate_limit", {"times": 3, "retry_after": 0.01}),
        ("serviceDomainCreate", "rate_limit", {"times": 3, "retry_after": 0.01}),
        ("serviceInstanceDeployV2", "rate_limit", {"times": 3, "retry_after": 0.01}),
    )

    run = clone(ledger_site, services)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    storm = fired(faults, armed)
    assert storm >= 10
    calls = sum(sandbox.calls.values())
    record_property("outcome", f"succeeded after {storm} rate-limited calls")
    record_property(
        "figures",
        json.dumps(
            {
                "429s_served": storm,
                "railway_calls": calls,
                "run_railway_calls": run.metrics["railway_calls"],
            }
        ),
    )
    assert_nothing_lost([run], services, sandbox, databases_before)


def test_railway_5xx_answers_are_retried_and_the_clone_succeeds(
    ledger_site, sandbox, services, job_queue, databases_before, record_property
):
    record_property("category", "fault")
    record_property("case", "Railway 5xx (502/503) on reads and creates")
    faults, armed = arm(
        sandbox,
        ("*", "server_error", {"times": 3}),
        ("environmentCreate", "server_error", {"times": 2, "status": 502}),
        ("deployment", "server_error", {"times": 2}),
        ("serviceDomainCreate", "server_error", {"times": 1}),
        ("variablesForServiceDeployment", "server_error", {"times": 2, "status": 502}),
    )

    run = clone(ledger_site, services)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    errors = fired(faults, armed)
    assert errors >= 8
    record_property("outcome", f"succeeded after {errors} 5xx answers")
    record_property(
        "figures", json.dumps({"5xx_served": errors, "railway_calls": sum(sandbox.calls.values())})
    )
    assert_nothing_lost([run], services, sandbox, databases_before)


@pytest.fixture
def impatient_services(sandbox: Sandbox) -> Iterator[Services]:
    """A client that waits 1 s for an answer, so a slow Railway shows as timeouts."""
    built = Services(
        railway=RailwayClient(sandbox.api_url, SANDBOX_TOKEN, timeout=1.0, sleep=fast_sleep),
        url_template=f"http://{{domain}}:{sandbox.port}",
        sleep=fast_sleep,
    )
    yield built
    built.close()


def test_railway_answers_slower_than_the_client_timeout_are_retried_and_the_clone_succeeds(
    ledger_site, sandbox, impatient_services, job_queue, databases_before, record_property
):
    record_property("category", "fault")
    record_property("case", "Railway timeouts (answers after the 1 s client timeout)")
    faults, armed = arm(
        sandbox,
        ("project", "slow", {"times": 2, "delay": 1.5}),
        ("deployment", "slow", {"times": 2, "delay": 1.5}),
        ("variablesForServiceDeployment", "slow", {"times": 2, "delay": 1.5}),
        ("environmentStagedChanges", "slow", {"times": 1, "delay": 1.5}),
        ("domains", "slow", {"times": 1, "delay": 1.5}),
    )

    run = clone(ledger_site, impatient_services)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    timeouts = fired(faults, armed)
    assert timeouts >= 6
    record_property("outcome", f"succeeded after {timeouts} timed-out calls")
    record_property("figures", json.dumps({"timeouts": timeouts}))
    assert_nothing_lost([run], impatient_services, sandbox, databases_before)


def test_a_connection_dropped_after_railway_created_the_environment_makes_no_second_one(
    ledger_site, ledger_project, sandbox, services, job_queue, databases_before, record_property
):
    record_property("category", "fault")
    record_property("case", "connection dropped during environmentCreate (after Railway acted)")
    sandbox.faults.set("environmentCreate", "drop", after_execute=True)

    run = clone(ledger_site, services)

    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert sandbox.calls["environmentCreate"] == 1
    assert sandbox.calls["environments"] >= 1  # looked up by name instead of created again
    names = railway_environment_names(sandbox, ledger_project.project_id)
    assert names == sorted(["production", run.environment.name])
    record_property("outcome", "succeeded; found by name, exactly one environment")
    record_property("figures", json.dumps({"environments_created": 1}))
    assert_nothing_lost([run], services, sandbox, databases_before)


# -- the databases ---------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_production_database_fails_the_preflight_and_creates_nothing(
    ledger_site, ledger_project, sandbox, services, job_queue, databases_before, record_property
):
    record_property("category", "fault")
    record_property("case", "source (production) database unreachable")
    with sandbox.lock:
        project = sandbox.world.projects[ledger_project.project_id]
        production = project.environments[ledger_project.production_environment_id]
        production.instances[ledger_project.database_service_id].proxies[
            0
        ].proxy_port = closed_port()

    started = time.monotonic()
    run = clone(ledger_site, services)
    seconds = time.monotonic() - started

    assert (run.status, run.error_code) == (RunStatus.FAILED, "source_unreachable")
    assert [step.name for step in run.steps.all()] == ["preflight"]
    assert sandbox.calls["environmentCreate"] == 0
    record_property("outcome", f"failed fast ({run.error_code}) in preflight, nothing created")
    record_property("figures", json.dumps({"seconds_to_fail": round(seconds, 2)}))
    assert_nothing_lost([run], services, sandbox, databases_before)


def test_a_target_database_restarted_mid_copy_is_copied_again_from_a_clean_target(
    big_ledger, sandbox, services, job_queue, record_property
):
    record_property("category", "fault")
    record_property("case", "target (staging) database restarted mid-copy")
    site = site_for(big_ledger, is_wordpress=False)
    databases_before = sandbox_databases(sandbox)
    restarted: list[str] = []
    stop = threading.Event()

    def restart_the_target_during_the_data() -> None:
        # A restart, as the copy sees it: every session of the target dropped, and new ones
        # refused for a moment while the server comes back.
        prefix = sandbox.database_prefix + "_"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            while not stop.is_set() and not restarted:
                rows = admin.execute(
                    "SELECT DISTINCT datname FROM pg_stat_activity WHERE datname LIKE %s"
                    " AND datname NOT LIKE '%%production%%' AND state = 'active'"
                    " AND query ILIKE 'COPY%%FROM stdin%%'",
                    (prefix + "%",),
                ).fetchall()
                for (name,) in rows:
                    down_until = time.monotonic() + 1.0
                    while time.monotonic() < down_until:
                        admin.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = %s",
                            (name,),
                        )
                        time.sleep(0.05)
                    restarted.append(name)
                time.sleep(0.01)

    killer = threading.Thread(target=restart_the_target_during_the_data, daemon=True)
    killer.start()
    try:
        run = clone(site, services)
    finally:
        stop.set()
        killer.join()

    assert restarted
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.metrics["copy_attempts"] >= 2
    record_property("outcome", f"succeeded on copy attempt {run.metrics['copy_attempts']}")
    record_property(
        "figures",
        json.dumps(
            {
                "copy_attempts": run.metrics["copy_attempts"],
                "copy_seconds": run.metrics["copy_seconds"],
            }
        ),
    )
    assert_nothing_lost([run], services, sandbox, databases_before)


# -- the processes ---------------------------------------------------------------------------


def test_a_worker_killed_mid_copy_leaves_a_run_that_is_reaped_and_rolled_back(
    big_ledger, sandbox, services, rq_worker, settings, record_property
):
    record_property("category", "fault")
    record_property("case", "worker SIGKILL mid-copy")
    site = site_for(big_ledger, is_wordpress=False)
    databases_before = sandbox_databases(sandbox)
    run = runs.start_clone(site, runs.Actor.system(Trigger.COMMAND), gdpr_acknowledged=True)
    wait_for(lambda: Run.objects.get(pk=run.pk).current_step == "copy_database", 120, "the copy")

    rq_worker.kill()

    # The reaper looks from a moment when the dead worker's last heartbeat is too old.
    run.refresh_from_db()
    assert run.heartbeat_at is not None
    later = run.heartbeat_at + timedelta(seconds=settings.STAGING_STALE_AFTER_SECONDS + 1)
    reaped = lifecycle.reap_stale_runs(lambda: services, now=later)

    assert [r.pk for r in reaped] == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.error_code) == (RunStatus.FAILED, "worker_lost")
    assert AuditEvent.objects.filter(action="staging.run_reaped", details__run_id=run.pk).exists()
    record_property("outcome", "reaped and rolled back (worker_lost)")
    assert_nothing_lost([run], services, sandbox, databases_before)


def test_runs_queued_when_redis_restarts_are_requeued_and_all_succeed(
    ledger_site,
    sandbox,
    services,
    private_redis,
    operator_persona,
    databases_before,
    tmp_path,
    record_property,
):
    record_property("category", "fault")
    record_property("case", "Redis restarted while runs are queued (and down at enqueue time)")
    actor = runs.Actor.system(Trigger.COMMAND)
    queued = [runs.start_clone(ledger_site, actor, gdpr_acknowledged=True) for _ in range(2)]
    assert all(Run.objects.get(pk=run.pk).rq_job_id for run in queued)

    private_redis.stop()  # the queued jobs go with it
    response = operator_persona.client.post(
        "/api/v1/environments/",
        {"site": ledger_site.slug, "gdpr_acknowledged": True},
        format="json",
    )
    assert response.status_code == 202, response.content
    queued.append(Run.objects.get(pk=response.json()["run"]["id"]))
    private_redis.start()

    # As the reaper sees them once their enqueue grace is over.
    later = timezone.now() + timedelta(seconds=lifecycle.ENQUEUE_GRACE_SECONDS)
    requeued = lifecycle.requeue_lost_runs(now=later)

    assert sorted(run.pk for run in requeued) == sorted(run.pk for run in queued)
    assert lifecycle.requeue_lost_runs(now=later) == []  # their jobs are on the queue now
    worker = Worker(
        worker_environment(sandbox, REDIS_URL=private_redis.url), tmp_path / "worker.log"
    )
    try:
        wait_for(
            lambda: all(Run.objects.get(pk=run.pk).is_terminal for run in queued),
            180,
            "the requeued runs to end",
        )
    finally:
        worker.stop()
    assert AuditEvent.objects.filter(action="staging.run_requeued").count() == len(queued)
    ended = assert_nothing_lost(queued, services, sandbox, databases_before)
    assert ended == {RunStatus.SUCCEEDED: len(queued)}
    record_property("outcome", f"{len(queued)} lost runs requeued, all succeeded")
    record_property(
        "figures", json.dumps({"runs_lost": len(queued), "runs_succeeded": len(queued)})
    )


def test_a_portal_database_outage_mid_run_ends_the_run_cleanly_once_it_is_back(
    big_ledger, sandbox, services, rq_worker, record_property
):
    record_property("category", "fault")
    record_property("case", "portal database unavailable for 3 s mid-copy")
    site = site_for(big_ledger, is_wordpress=False)
    databases_before = sandbox_databases(sandbox)
    run = runs.start_clone(site, runs.Actor.system(Trigger.COMMAND), gdpr_acknowledged=True)
    wait_for(lambda: Run.objects.get(pk=run.pk).current_step == "copy_database", 120, "the copy")

    portal = connection.settings_dict["NAME"]
    own = connection.cursor().connection.info.backend_pid
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        try:
            admin.execute(f'ALTER DATABASE "{portal}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> %s",
                (portal, own),
            )
            time.sleep(3)
        finally:
            admin.execute(f'ALTER DATABASE "{portal}" ALLOW_CONNECTIONS true')

    wait_for(lambda: Run.objects.get(pk=run.pk).is_terminal, 180, "the run to end")
    run.refresh_from_db()
    # Either the outage fell between two writes and the run went on, or a step could not record
    # what it did and the run was undone; never errored, never left running.
    assert run.status == RunStatus.SUCCEEDED or (
        run.status == RunStatus.FAILED and run.error_code == "portal_database_unavailable"
    ), (run.status, run.error_code, run.error_message)
    record_property("outcome", outcome_of(run) + " once the database was back")
    assert_nothing_lost([run], services, sandbox, databases_before)
