"""``/healthz``: the portal, its database, Redis, and whether a worker takes jobs.

Docker's HEALTHCHECK, Railway's health check, load balancers and uptime monitors call it. One
entry per part, so an alert says which one is down:

- ``portal``: this process answers (always ``ok`` when there is an answer at all);
- ``database`` and ``redis``: ``ok`` or ``unavailable: <error class>``; either one down makes the
  answer **503**, since this web process then cannot serve;
- ``worker``: ``ok`` when at least one RQ worker listens on the ``default`` queue, ``missing``
  when none does, ``unknown`` when Redis cannot be asked. A missing worker leaves the answer
  **200** with ``"status": "degraded"``: the portal still serves pages and accepts clones (they
  wait in the queue), and a load balancer that took the web servers out for it would make things
  worse. Alert on it instead (docs/monitoring/alerts.yml, ``UnderstudyNoWorker``).

It reads nothing else, needs no login and reveals no configuration.

``python -m staging.health`` is the probe the Docker image's HEALTHCHECK runs: it asks the web
server of its own container and exits 0 (healthy) or 1.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from rq import Queue, Worker

# Short, so that a hung dependency makes the check fail rather than the orchestrator's probe
# time out without an answer.
REDIS_TIMEOUT_SECONDS = 2.0


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:
        # The class name says enough to act on; the message may hold a host name or user.
        return f"unavailable: {type(error).__name__}"
    return "ok"


def _redis_and_workers() -> tuple[str, str, int | None]:
    """Redis's state, the worker's, and how many workers listen on the queue."""
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except Exception as error:
        client.close()
        return f"unavailable: {type(error).__name__}", "unknown", None
    try:
        workers = int(Worker.count(connection=client, queue=Queue("default", connection=client)))
    except Exception:
        return "ok", "unknown", None
    finally:
        client.close()
    return "ok", "ok" if workers else "missing", workers


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    redis_state, worker_state, workers = _redis_and_workers()
    checks = {
        "portal": "ok",
        "database": _database(),
        "redis": redis_state,
        "worker": worker_state,
    }
    serving = checks["database"] == "ok" and checks["redis"] == "ok"
    status = "unavailable" if not serving else "ok" if worker_state == "ok" else "degraded"
    return JsonResponse(
        {"status": status, "checks": checks, "workers": workers},
        status=200 if serving else 503,
    )


def probe_host(allowed_hosts: str) -> str:
    """A Host header the portal accepts, from the ALLOWED_HOSTS variable."""
    for host in (part.strip() for part in allowed_hosts.split(",")):
        if host and host != "*":
            # ".example.com" allows any subdomain; the bare domain is one of them.
            return host.lstrip(".")
    return "localhost"


def probe(port: int, allowed_hosts: str) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz",
        # Production refuses unknown hosts and redirects plain HTTP to HTTPS; the probe speaks
        # as the proxy in front of the portal would.
        headers={"Host": probe_host(allowed_hosts), "X-Forwarded-Proto": "https"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


if __name__ == "__main__":
    healthy = probe(int(os.environ.get("PORT", "8000")), os.environ.get("ALLOWED_HOSTS", ""))
    sys.exit(0 if healthy else 1)
