"""``/healthz`` tells the portal, its database, Redis and the worker apart (staging/health.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django_rq
import pytest
from django.test import Client
from rq import Worker

pytestmark = pytest.mark.django_db


def health(client: Client) -> tuple[int, dict[str, Any]]:
    answer = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    return answer.status_code, answer.json()


@pytest.fixture
def listening_worker(job_queue) -> Iterator[Worker]:
    """A worker registered on the queue as a running ``rqworker`` is, without working."""
    worker = Worker([job_queue], connection=job_queue.connection, name="healthz-test-worker")
    worker.register_birth()
    yield worker
    worker.register_death()


def test_without_a_worker_the_portal_serves_but_says_the_worker_is_missing(client, job_queue):
    status, body = health(client)

    assert status == 200
    assert body["status"] == "degraded"
    assert body["checks"] == {"portal": "ok", "database": "ok", "redis": "ok", "worker": "missing"}
    assert body["workers"] == 0


def test_with_a_worker_listening_everything_is_ok(client, listening_worker):
    status, body = health(client)

    assert (status, body["status"], body["workers"]) == (200, "ok", 1)
    assert body["checks"]["worker"] == "ok"


def test_a_worker_on_another_queue_does_not_count(client, job_queue):
    other = django_rq.get_queue("default")
    worker = Worker(["elsewhere"], connection=other.connection, name="healthz-other-queue")
    worker.register_birth()
    try:
        status, body = health(client)
    finally:
        worker.register_death()

    assert (status, body["checks"]["worker"]) == (200, "missing")


def test_with_redis_down_the_answer_is_503_and_the_worker_unknown(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    status, body = health(client)

    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"].startswith("unavailable")
    assert body["checks"]["worker"] == "unknown"
