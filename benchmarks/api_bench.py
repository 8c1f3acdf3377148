"""p50/p95 latency of the API's list and poll endpoints at agency scale.

Builds a throwaway PostgreSQL database with 1,000 sites, 10,000 staging environments (20,000
runs, the polled ones with their steps) and 100,000 audit events, then times requests through
Django's full stack (middleware, token authentication, throttles, serialization) with the test
client: what a request costs the portal, without the network. Prints a table, drops the database.

    .venv/bin/python -m benchmarks.api_bench [--requests 300]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg

ADMIN_DATABASE_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
SITES, ENVIRONMENTS_PER_SITE, AUDIT_EVENTS, POLLED_RUNS = 1_000, 10, 100_000, 1_000
STEP_NAMES = (
    "preflight",
    "create_environment",
    "configure_staging",
    "start_database",
    "expose_database",
    "assign_domain",
    "copy_database",
    "prepare_site",
    "deploy_app",
    "health_check",
)


def configure(database: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ |= {
        "DATABASE_URL": f"{ADMIN_DATABASE_URL.rsplit('/', 1)[0]}/{database}",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "false",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
        "API_THROTTLE_USER": "1000000/min",
        "LOG_LEVEL": "ERROR",
    }
    import django

    django.setup()


def seed() -> str:
    """Fill the database; returns an administrator's API token."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

    from staging.models import (
        ActorType,
        ApiToken,
        AuditEvent,
        ClientSite,
        DatabaseEngine,
        EnvironmentStatus,
        Operation,
        Run,
        RunStatus,
        RunStep,
        StagingEnvironment,
        StepStatus,
        Trigger,
    )

    now = timezone.now()
    rng = random.Random(7)  # noqa: S311 (the same data on every run, not a secret)
    user = User.objects.create_superuser("bench", "bench@example.com", "not-used")
    sites = ClientSite.objects.bulk_create(
        ClientSite(
            name=f"Client {i:04d}",
            slug=f"client-{i:04d}",
            railway_project_id=f"project-{i}",
            production_environment_id=f"production-{i}",
            app_service_id=f"app-{i}",
            database_service_id=f"db-{i}",
            database_engine=rng.choice(list(DatabaseEngine)),
            is_wordpress=rng.random() < 0.6,
        )
        for i in range(SITES)
    )
    statuses = [EnvironmentStatus.READY] * 7 + [EnvironmentStatus.DELETED] * 2
    statuses.append(EnvironmentStatus.CREATING)
    environments = StagingEnvironment.objects.bulk_create(
        StagingEnvironment(
            site=site,
            name=f"staging-{n}",
            status=rng.choice(statuses),
            url=f"https://{site.slug}-staging-{n}.up.railway.app",
            created_by=user,
            expires_at=now + timedelta(days=rng.randint(-5, 7)),
        )
        for site in sites
        for n in range(ENVIRONMENTS_PER_SITE)
    )
    runs = Run.objects.bulk_create(
        Run(
            environment=environment,
            operation=operation,
            status=RunStatus.SUCCEEDED,
            trigger=Trigger.API,
            progress_percent=100,
        )
        for environment in environments
        for operation in (Operation.CLONE, Operation.REFRESH)
    )
    RunStep.objects.bulk_create(
        RunStep(
            run=run,
            name=name,
            position=position,
            status=StepStatus.SUCCEEDED,
            log="line of output\n" * 200,
        )
        for run in runs[:POLLED_RUNS]
        for position, name in enumerate(STEP_NAMES, start=1)
    )
    actions = ("staging.clone_requested", "staging.extended", "staging.teardown_requested")
    for start in range(0, AUDIT_EVENTS, 10_000):
        AuditEvent.objects.bulk_create(
            AuditEvent(
                created_at=now - timedelta(minutes=AUDIT_EVENTS - i),
                actor_type=ActorType.USER,
                actor=user,
                actor_label="bench",
                action=rng.choice(actions),
                source=Trigger.API,
                site=sites[i % SITES],
                site_label=sites[i % SITES].name,
                target_type="stagingenvironment",
                target_id=str(environments[i % len(environments)].pk),
                target_label="a staging environment",
                details={"run_id": i},
            )
            for i in range(start, min(start + 10_000, AUDIT_EVENTS))
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return ApiToken.issue(user, "bench")[1]


def measure(call: Callable[[], Any], requests: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(10):
        call()
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        call()
    p95 = statistics.quantiles(timings, n=20)[-1]
    return statistics.median(timings), p95, len(queries)


def run_benchmark(key: str, requests: int) -> list[tuple[str, float, float, int]]:
    from django.test import Client

    from staging.models import Run, RunStep

    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    polled = list(RunStep.objects.values_list("run_id", flat=True).distinct()[:POLLED_RUNS])
    rng = random.Random(11)  # noqa: S311 (the same sample on every run)
    etags: dict[int, str] = {}

    def get(path: str) -> Callable[[], Any]:
        def call() -> Any:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return response

        return call

    def poll() -> None:
        run_id = rng.choice(polled)
        assert client.get(f"/api/v1/runs/{run_id}/").status_code == 200

    def poll_unchanged() -> None:
        run_id = rng.choice(polled)
        if run_id not in etags:
            etags[run_id] = client.get(f"/api/v1/runs/{run_id}/")["ETag"]
        response = client.get(f"/api/v1/runs/{run_id}/", HTTP_IF_NONE_MATCH=etags[run_id])
        assert response.status_code == 304

    for run_id in polled:
        etags[run_id] = client.get(f"/api/v1/runs/{run_id}/")["ETag"]
    assert Run.objects.count() == SITES * ENVIRONMENTS_PER_SITE * 2

    cases: list[tuple[str, Callable[[], Any]]] = [
        ("GET sites/ (page 1 of 20)", get("/api/v1/sites/")),
        ("GET sites/?page=20", get("/api/v1/sites/?page=20")),
        ("GET environments/ (live, page 1)", get("/api/v1/environments/")),
        ("GET environments/?page=150", get("/api/v1/environments/?page=150")),
        ("GET environments/?site=<slug>", get("/api/v1/environments/?site=client-0500")),
        (
            "GET environments/?status=ready&expired=true",
            get("/api/v1/environments/?status=ready&expired=true"),
        ),
        ("GET environments/?page_size=200", get("/api/v1/environments/?page_size=200")),
        ("GET runs/{id}/ (poll, 8 steps)", poll),
        ("GET runs/{id}/ If-None-Match (304)", poll_unchanged),
        ("GET audit/ (page 1 of 2,000)", get("/api/v1/audit/")),
        ("GET audit/?action=staging.extended", get("/api/v1/audit/?action=staging.extended")),
    ]
    return [(name, *measure(call, requests)) for name, call in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per endpoint")
    arguments = parser.parse_args()
    database = f"understudy_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        configure(database)
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        key = seed()
        print(
            f"seeded {SITES:,} sites, {SITES * ENVIRONMENTS_PER_SITE:,} environments, "
            f"{AUDIT_EVENTS:,} audit events in {time.perf_counter() - started:.0f} s; "
            f"{arguments.requests} timed requests per endpoint (Django test client, no network)"
        )
        rows = run_benchmark(key, arguments.requests)
        width = max(len(name) for name, *_ in rows)
        print(f"\n{'endpoint':<{width}}  {'p50 ms':>7}  {'p95 ms':>7}  {'queries':>7}")
        for name, p50, p95, queries in rows:
            print(f"{name:<{width}}  {p50:7.1f}  {p95:7.1f}  {queries:7d}")
        connections.close_all()
    finally:
        with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
