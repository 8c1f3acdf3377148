"""GET /api/v1/runs/{id}/events/: a run's changes as server-sent events, resumable, bounded."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from staging.api import events
from staging.models import Run, RunStatus, RunStep, StepStatus
from tests.factories import make_environment, make_run

pytestmark = pytest.mark.django_db


def url(run: Run) -> str:
    return f"/api/v1/runs/{run.pk}/events/"


def hang_up(response: Any) -> None:
    """Close a stream as a client going away does, without letting the end of the request
    close the test's database connection (which the test's transaction lives on), as Django's
    test client does for a stream read to its end."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(connection, "close_if_unusable_or_obsolete", lambda: None)
        response.close()


def parse(frames: Iterator[bytes]) -> list[dict[str, Any]]:
    """The stream's frames as {"event", "id", "data"} dicts; comments as {"comment": ...}."""
    parsed = []
    for raw in frames:
        text = raw.decode()
        assert text.endswith("\n\n"), text
        fields: dict[str, Any] = {}
        for line in text.strip("\n").split("\n"):
            name, _, value = line.partition(":")
            fields["comment" if name == "" else name] = value.removeprefix(" ")
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
        parsed.append(fields)
    return parsed


@pytest.fixture
def stream_settings(settings):
    settings.RUN_EVENTS_POLL_SECONDS = 1
    settings.RUN_EVENTS_HEARTBEAT_SECONDS = 15
    settings.RUN_EVENTS_MAX_SECONDS = 300
    settings.RUN_EVENTS_MAX_STREAMS = 4
    return settings


@pytest.fixture
def clock(monkeypatch, stream_settings) -> list[float]:
    """A clock that the stream's pauses move forward, and that tests can move themselves."""
    now = [1000.0]
    monkeypatch.setattr(events, "_clock", lambda: now[0])
    return now


def script(monkeypatch, clock: list[float], *changes: Callable[[], None]) -> None:
    """Each pause of the stream applies the next change, as a worker would between two polls."""
    pending = list(changes)

    def pause(seconds: float) -> None:
        clock[0] += seconds
        if pending:
            pending.pop(0)()

    monkeypatch.setattr(events, "_pause", pause)


@pytest.fixture
def queued() -> Run:
    return make_run(make_environment(url="https://spring.up.railway.app"))


def start(run: Run) -> Callable[[], None]:
    def change() -> None:
        Run.objects.filter(pk=run.pk).update(
            status=RunStatus.RUNNING, started_at=timezone.now(), current_step="preflight"
        )
        RunStep.objects.create(run=run, name="preflight", position=1)

    return change


def progress(run: Run, percent: int) -> Callable[[], None]:
    def change() -> None:
        Run.objects.filter(pk=run.pk).update(progress_percent=percent)

    return change


def succeed(run: Run) -> Callable[[], None]:
    def change() -> None:
        RunStep.objects.filter(run=run).update(
            status=StepStatus.SUCCEEDED, finished_at=timezone.now()
        )
        Run.objects.filter(pk=run.pk).update(
            status=RunStatus.SUCCEEDED, progress_percent=100, finished_at=timezone.now()
        )

    return change


def test_the_stream_sends_each_change_of_the_run_in_order_and_ends_with_it(
    api_viewer, queued, monkeypatch, clock
):
    script(monkeypatch, clock, start(queued), progress(queued, 40), succeed(queued))

    response = api_viewer.client.get(url(queued), HTTP_ACCEPT="text/event-stream")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    frames = parse(response.streaming_content)
    assert frames[0] == {"retry": str(events.RETRY_MILLISECONDS)}
    runs = [frame["data"] for frame in frames if frame.get("event") == "run"]
    assert [(run["status"], run["progress_percent"]) for run in runs] == [
        ("queued", 0),
        ("running", 0),
        ("running", 40),
        ("succeeded", 100),
    ]
    assert runs[-1]["steps"][0]["status"] == "succeeded"
    assert frames[-1]["event"] == "end" and frames[-1]["data"] == {"status": "succeeded"}
    ids = [frame["id"] for frame in frames if "id" in frame]
    assert len(set(ids[:-1])) == len(ids) - 1  # one id per change; `end` repeats the last


def test_an_event_id_is_the_etag_of_the_run_as_polling_shows_it(api_viewer, queued, clock):
    queued.status = RunStatus.CANCELLED
    queued.save()
    polled = api_viewer.client.get(f"/api/v1/runs/{queued.pk}/")

    frames = parse(api_viewer.client.get(url(queued)).streaming_content)

    assert frames[1]["id"] == polled["ETag"].strip('"')
    assert frames[1]["data"] == polled.json()


def test_a_reconnect_with_last_event_id_starts_with_the_next_change(
    api_viewer, queued, monkeypatch, clock
):
    # Read only up to the first event: a queued run's stream would go on.
    opened = api_viewer.client.get(url(queued))
    frames = opened.streaming_content
    next(frames)  # retry
    seen = parse(iter([next(frames)]))[0]
    hang_up(opened)
    script(monkeypatch, clock, start(queued), succeed(queued))

    resumed = parse(
        api_viewer.client.get(url(queued), HTTP_LAST_EVENT_ID=seen["id"]).streaming_content
    )

    statuses = [frame["data"]["status"] for frame in resumed if frame.get("event") == "run"]
    assert seen["data"]["status"] == "queued"
    assert statuses == ["running", "succeeded"]


def test_a_quiet_run_gets_heartbeat_comments(api_viewer, queued, monkeypatch, clock):
    ticks = []

    def pause(seconds: float) -> None:
        clock[0] += seconds
        ticks.append(seconds)
        if len(ticks) == 40:
            succeed(queued)()

    monkeypatch.setattr(events, "_pause", pause)

    frames = parse(api_viewer.client.get(url(queued)).streaming_content)

    comments = [frame for frame in frames if "comment" in frame]
    assert comments == [{"comment": "keep-alive"}, {"comment": "keep-alive"}]
    assert frames[-1]["event"] == "end"


def test_a_stream_closes_after_its_time_limit_so_the_client_reconnects(
    api_viewer, queued, monkeypatch, clock, stream_settings
):
    stream_settings.RUN_EVENTS_MAX_SECONDS = 5
    script(monkeypatch, clock)

    frames = parse(api_viewer.client.get(url(queued)).streaming_content)

    assert [frame.get("event") for frame in frames] == [None, "run"]


def test_beyond_the_bound_on_open_streams_the_answer_is_503_with_retry_after(
    api_viewer, queued, stream_settings, clock
):
    stream_settings.RUN_EVENTS_MAX_STREAMS = 1
    open_stream = api_viewer.client.get(url(queued))

    refused = api_viewer.client.get(url(queued), HTTP_ACCEPT="text/event-stream")

    assert refused.status_code == 503
    assert refused["Content-Type"] == "application/json"
    assert refused["Retry-After"] == str(events.RETRY_AFTER_SECONDS)
    assert refused.json()["error"]["code"] == "event_streams_busy"
    hang_up(open_stream)
    again = api_viewer.client.get(url(queued))
    assert again.status_code == 200
    hang_up(again)


def test_a_stream_that_was_never_read_gives_its_slot_back(
    api_viewer, queued, stream_settings, clock
):
    stream_settings.RUN_EVENTS_MAX_STREAMS = 1
    for _ in range(3):
        response = api_viewer.client.get(url(queued))
        assert response.status_code == 200
        hang_up(response)


def test_without_credentials_the_stream_is_refused_in_json(api_anonymous, queued, clock):
    response = api_anonymous.get(url(queued), HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_an_unknown_run_is_not_found(api_viewer, clock):
    response = api_viewer.client.get("/api/v1/runs/999999/events/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_streams_count_against_the_callers_throttle(api_viewer, queued, settings, clock):
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": {"user": "1/min", "anon": "1/min"}
    }
    hang_up(api_viewer.client.get(url(queued)))

    response = api_viewer.client.get(url(queued))

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1
