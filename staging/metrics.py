"""``/metrics``: Understudy in Prometheus's text format, read from the portal database and RQ.

Every value is computed when Prometheus scrapes, by aggregate queries over the runs, their
steps and the staging environments, and from the job queue in Redis. Nothing is counted in
memory, so every web process answers the same, a restart loses nothing, and the pipeline needs
no hooks: what a run did is on its record (``Run.metrics``: ``bytes_copied``, ``copy_seconds``,
``throughput_mb_s``, ``railway_calls``, ``railway_rate_limited``; its steps' start and end).

Counters are totals over the runs the database holds; Prometheus's ``rate()`` and
``increase()`` turn them into what happened lately. docs/monitoring/ has the alert rules and a
Grafana dashboard built on these names; docs/runbook.md ("Monitor") lists them.

Access: a request carrying ``Authorization: Bearer <METRICS_TOKEN>`` (the setting; Prometheus's
``authorization`` scrape option), or a logged-in administrator. Anyone else gets 401 (403 when
logged in): the numbers name no client, but they say how busy the agency is and which errors
its runs meet.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import django_rq
from django.conf import settings
from django.db.models import (
    BigIntegerField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    Q,
    Sum,
)
from django.db.models.expressions import CombinedExpression
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from rq import Worker

from staging import roles
from staging.models import (
    EnvironmentStatus,
    Operation,
    Run,
    RunStatus,
    RunStep,
    StagingEnvironment,
)

# Set by i16-pipeline's branch (EnvironmentStatus.NEEDS_ATTENTION); named by its stored value so
# that the gauge exists, at 0, before that status does.
NEEDS_ATTENTION = "needs_attention"
EXPIRING_WITHIN = timedelta(hours=24)
STEP_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
WAIT_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
THROUGHPUT_BUCKETS = (0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0)
QUEUE = "default"


def _duration(start: str, end: str) -> ExpressionWrapper[CombinedExpression]:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _metric(key: str, output: BigIntegerField[int, int] | FloatField[float, float]) -> Cast:
    return Cast(KeyTextTransform(key, "metrics"), output)


def _histogram(
    family: HistogramMetricFamily,
    rows: Iterable[Mapping[str, Any]],
    labels: Sequence[str],
    buckets: Sequence[float],
    scale: float = 1.0,
) -> None:
    for row in rows:
        counts = [(_le(bound), float(row[f"le_{index}"])) for index, bound in enumerate(buckets)]
        total = row["total"]
        if isinstance(total, timedelta):
            total = total.total_seconds()
        family.add_metric(
            [str(row[label]) for label in labels],
            [*counts, ("+Inf", float(row["count"]))],
            float(total or 0) * scale,
        )


def _le(bound: float) -> str:
    return repr(float(bound))


def _bucket_counts(
    field: str, buckets: Sequence[float], as_duration: bool = True
) -> dict[str, Count]:
    return {
        f"le_{index}": Count(
            "id",
            filter=Q(**{f"{field}__lte": timedelta(seconds=bound) if as_duration else bound}),
        )
        for index, bound in enumerate(buckets)
    }


class UnderstudyCollector(Collector):
    """Reads the numbers at scrape time; see the module's docstring."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from self._runs()
        yield from self._steps()
        yield from self._copies()
        yield from self._railway()
        yield from self._queue_waits()
        yield from self._in_progress(now)
        yield from self._environments(now)
        yield from self._job_queue()

    def _runs(self) -> Iterable[Metric]:
        started = CounterMetricFamily(
            "understudy_runs_started",
            "Runs that started working (left the queue), by operation and what triggered them.",
            labels=["operation", "trigger"],
        )
        for row in (
            Run.objects.filter(started_at__isnull=False)
            .values("operation", "trigger")
            .annotate(count=Count("id"))
            .order_by("operation", "trigger")
        ):
            started.add_metric([row["operation"], row["trigger"]], row["count"])
        finished = CounterMetricFamily(
            "understudy_runs_finished",
            "Runs that ended, by operation and outcome (succeeded, failed, errored, cancelled).",
            labels=["operation", "outcome"],
        )
        for ended in (
            Run.objects.filter(status__in=RunStatus.terminal())
            .values("operation", "status")
            .annotate(count=Count("id"))
            .order_by("operation", "status")
        ):
            finished.add_metric([ended["operation"], ended["status"]], ended["count"])
        failures = CounterMetricFamily(
            "understudy_run_failures",
            "Failed and errored runs by operation and error code (docs/errors.md).",
            labels=["operation", "error_code"],
        )
        for failure in (
            Run.objects.filter(status__in=[RunStatus.FAILED, RunStatus.ERRORED])
            .values("operation", "error_code")
            .annotate(count=Count("id"))
            .order_by("operation", "error_code")
        ):
            code = failure["error_code"] or "unknown"
            failures.add_metric([failure["operation"], code], failure["count"])
        in_a_row = GaugeMetricFamily(
            "understudy_runs_failed_in_a_row",
            "Runs of this operation that failed or errored since its last success.",
            labels=["operation"],
        )
        last_success = dict(
            Run.objects.filter(status=RunStatus.SUCCEEDED)
            .values("operation")
            .annotate(last=Max("finished_at"))
            .values_list("operation", "last")
        )
        for operation in Operation.values:
            failed = Run.objects.filter(
                operation=operation, status__in=[RunStatus.FAILED, RunStatus.ERRORED]
            )
            if last_success.get(operation) is not None:
                failed = failed.filter(finished_at__gt=last_success[operation])
            in_a_row.add_metric([operation], failed.count())
        return [started, finished, failures, in_a_row]

    def _steps(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(
            "understudy_step_duration_seconds",
            "How long each pipeline step took, finished steps of every run.",
            labels=["step"],
        )
        rows = (
            RunStep.objects.filter(finished_at__isnull=False)
            .annotate(seconds=_duration("started_at", "finished_at"))
            .values("name")
            .annotate(
                count=Count("id"),
                total=Sum("seconds"),
                **_bucket_counts("seconds", STEP_BUCKETS),
            )
            .order_by("name")
        )
        _histogram(family, rows, ["name"], STEP_BUCKETS)
        return [family]

    def _copies(self) -> Iterable[Metric]:
        copied = Run.objects.filter(metrics__has_key="bytes_copied")
        totals = (
            copied.values("operation")
            .annotate(
                copies=Count("id"),
                bytes=Sum(_metric("bytes_copied", BigIntegerField())),
                seconds=Sum(_metric("copy_seconds", FloatField())),
            )
            .order_by("operation")
        )
        copies = CounterMetricFamily(
            "understudy_copies", "Database copies made, by operation.", labels=["operation"]
        )
        copy_bytes = CounterMetricFamily(
            "understudy_copy_bytes",
            "Bytes written by database copies; rate() over copy_seconds is the throughput.",
            labels=["operation"],
        )
        copy_seconds = CounterMetricFamily(
            "understudy_copy_seconds",
            "Seconds spent copying databases.",
            labels=["operation"],
        )
        for row in totals:
            copies.add_metric([row["operation"]], row["copies"])
            copy_bytes.add_metric([row["operation"]], float(row["bytes"] or 0))
            copy_seconds.add_metric([row["operation"]], float(row["seconds"] or 0))
        throughput = HistogramMetricFamily(
            "understudy_copy_throughput_megabytes_per_second",
            "Each database copy's throughput (MB/s).",
            labels=["operation"],
        )
        rows = (
            copied.filter(metrics__has_key="throughput_mb_s")
            .annotate(mb_s=_metric("throughput_mb_s", FloatField()))
            .values("operation")
            .annotate(
                count=Count("id"),
                total=Sum("mb_s"),
                **_bucket_counts("mb_s", THROUGHPUT_BUCKETS, as_duration=False),
            )
            .order_by("operation")
        )
        _histogram(throughput, rows, ["operation"], THROUGHPUT_BUCKETS)
        return [copies, copy_bytes, copy_seconds, throughput]

    def _railway(self) -> Iterable[Metric]:
        calls = CounterMetricFamily(
            "understudy_railway_calls",
            "Requests sent to Railway's API by runs (a Hobby workspace may send 1,000 an hour).",
            labels=["operation"],
        )
        limited = CounterMetricFamily(
            "understudy_railway_rate_limited",
            "Railway API answers of 429 (rate limited) that runs met, retried or not.",
            labels=["operation"],
        )
        for row in (
            Run.objects.values("operation")
            .annotate(
                calls=Sum(_metric("railway_calls", BigIntegerField())),
                limited=Sum(_metric("railway_rate_limited", BigIntegerField())),
            )
            .order_by("operation")
        ):
            calls.add_metric([row["operation"]], float(row["calls"] or 0))
            limited.add_metric([row["operation"]], float(row["limited"] or 0))
        return [calls, limited]

    def _queue_waits(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(
            "understudy_queue_wait_seconds",
            "How long runs waited between being asked for and starting (queue and admission).",
            labels=["operation"],
        )
        rows = (
            Run.objects.filter(started_at__isnull=False)
            .annotate(waited=_duration("created_at", "started_at"))
            .values("operation")
            .annotate(
                count=Count("id"),
                total=Sum("waited"),
                **_bucket_counts("waited", WAIT_BUCKETS),
            )
            .order_by("operation")
        )
        _histogram(family, rows, ["operation"], WAIT_BUCKETS)
        return [family]

    def _in_progress(self, now: Any) -> Iterable[Metric]:
        active = GaugeMetricFamily(
            "understudy_runs_in_progress",
            "Runs queued or running now, by operation.",
            labels=["operation", "status"],
        )
        counts = {
            (row["operation"], row["status"]): row["count"]
            for row in Run.objects.filter(status__in=RunStatus.active())
            .values("operation", "status")
            .annotate(count=Count("id"))
        }
        for operation in Operation.values:
            for status in (RunStatus.QUEUED, RunStatus.RUNNING):
                active.add_metric([operation, status], counts.get((operation, status), 0))
        stale_before = now - timedelta(seconds=settings.STAGING_STALE_AFTER_SECONDS)
        stale = GaugeMetricFamily(
            "understudy_runs_stale",
            "Running runs whose heartbeat is older than STAGING_STALE_AFTER_SECONDS: their "
            "worker is gone and reap_stale_runs has not rolled them back yet.",
            value=Run.objects.filter(
                status=RunStatus.RUNNING, heartbeat_at__lt=stale_before
            ).count(),
        )
        oldest = Run.objects.aggregate(
            queued=Min("created_at", filter=Q(status=RunStatus.QUEUED)),
            running=Min("started_at", filter=Q(status=RunStatus.RUNNING)),
        )
        queued_age = GaugeMetricFamily(
            "understudy_oldest_queued_run_age_seconds",
            "How long the oldest queued run has waited (0 when none waits).",
            value=(now - oldest["queued"]).total_seconds() if oldest["queued"] else 0,
        )
        running_age = GaugeMetricFamily(
            "understudy_oldest_running_run_age_seconds",
            "How long the longest-running run has run (0 when none runs).",
            value=(now - oldest["running"]).total_seconds() if oldest["running"] else 0,
        )
        return [active, stale, queued_age, running_age]

    def _environments(self, now: Any) -> Iterable[Metric]:
        by_status = GaugeMetricFamily(
            "understudy_environments",
            "Staging copies by status.",
            labels=["status"],
        )
        counts = dict(
            StagingEnvironment.objects.values("status")
            .annotate(count=Count("id"))
            .values_list("status", "count")
        )
        for status in sorted({*EnvironmentStatus.values, NEEDS_ATTENTION, *counts}):
            by_status.add_metric([status], counts.get(status, 0))
        attention = GaugeMetricFamily(
            "understudy_environments_needing_attention",
            "Staging copies that need attention: a rollback or teardown could not finish on "
            "Railway (cleanup and reconciliation retry them).",
            value=counts.get(NEEDS_ATTENTION, 0),
        )
        live = StagingEnvironment.objects.exclude(status=EnvironmentStatus.DELETED)
        expiring = GaugeMetricFamily(
            "understudy_environments_expiring_soon",
            "Staging copies that expire (and will be torn down) within 24 hours.",
            value=live.filter(expires_at__gt=now, expires_at__lte=now + EXPIRING_WITHIN).count(),
        )
        expired = GaugeMetricFamily(
            "understudy_environments_expired",
            "Staging copies past their expiry that still exist: cleanup_staging is due or fails.",
            value=live.filter(expires_at__lte=now).count(),
        )
        return [by_status, attention, expiring, expired]

    def _job_queue(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "understudy_redis_up", "1 when the job queue's Redis answered this scrape."
        )
        jobs = GaugeMetricFamily(
            "understudy_queue_jobs",
            "Jobs in the RQ queue by state (queued: waiting for a worker; scheduled: a run "
            "waiting for a free slot; started: being worked on).",
            labels=["queue", "state"],
        )
        workers = GaugeMetricFamily(
            "understudy_workers",
            "RQ workers listening on the queue (each runs one job at a time).",
            labels=["queue"],
        )
        try:
            queue = django_rq.get_queue(QUEUE)
            counts = {
                "queued": queue.count,
                "scheduled": queue.scheduled_job_registry.count,
                "started": queue.started_job_registry.count,
                "deferred": queue.deferred_job_registry.count,
                "failed": queue.failed_job_registry.count,
            }
            listening = Worker.count(queue=queue)
        except (RedisError, OSError):
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        for state, count in counts.items():
            jobs.add_metric([QUEUE, state], count)
        workers.add_metric([QUEUE], listening)
        return [up, jobs, workers]


registry = CollectorRegistry(auto_describe=False)
registry.register(UnderstudyCollector())


def _authorised(request: HttpRequest) -> bool:
    token: str = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer "):
        return hmac.compare_digest(given.removeprefix("Bearer ").strip(), token)
    return roles.can_administer(request.user)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorised(request):
        status = 403 if request.user.is_authenticated else 401
        response = HttpResponse("Forbidden\n", status=status, content_type="text/plain")
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
