"""A run's live events as server-sent events (``GET /api/v1/runs/{id}/events/``).

Each event is the whole run, as ``GET /api/v1/runs/{id}/`` shows it, sent whenever it changes;
its ``id:`` is that answer's ETag (without quotes). A client that reconnects with
``Last-Event-ID`` gets nothing until the run differs from what it last saw, so no event arrives
twice, and a reconnect after a gap gets the current run at once (the run carries every step,
so nothing is lost by skipping the states in between). The stream ends with an ``end`` event
once the run has ended, and also after ``RUN_EVENTS_MAX_SECONDS`` (the client reconnects).

A stream holds one of the worker process's threads for as long as it is open, so each process
serves at most ``RUN_EVENTS_MAX_STREAMS`` at once; beyond that the answer is ``503
event_streams_busy`` with ``Retry-After``, and clients poll instead.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

from django.conf import settings

from staging.errors import UnderstudyError

# Whatever the client asks, it waits at least this long before reconnecting (EventSource's own
# default is 3 s in most browsers; being explicit keeps every client the same).
RETRY_MILLISECONDS = 3000


class EventStreamsBusy(UnderstudyError):
    code = "event_streams_busy"
    http_status = 503


_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _semaphore(limit: int) -> threading.BoundedSemaphore:
    # One semaphore per configured limit, made on first use so that the setting is read at
    # request time (a settings change in tests, or a reload, takes effect).
    with _slots_lock:
        if limit not in _slots:
            _slots[limit] = threading.BoundedSemaphore(limit)
        return _slots[limit]


# Seconds a refused client should wait before it tries a stream again; it polls meanwhile.
RETRY_AFTER_SECONDS = 30

# The stream's clock and pause, apart so that tests can drive a stream step by step.
_clock = time.monotonic
_pause = time.sleep


class RunEventStream:
    """The body of one stream: an iterator of SSE frames that gives its slot back on close.

    Django calls ``close()`` when the response ends, also when the client went away or the
    iterator was never started, which a generator's ``finally`` alone would miss.
    """

    def __init__(
        self,
        snapshot: Callable[[], tuple[dict[str, Any], str, bool]],
        last_event_id: str,
    ) -> None:
        self._snapshot = snapshot
        self._last_event_id = last_event_id.strip()
        self._semaphore = _semaphore(int(settings.RUN_EVENTS_MAX_STREAMS))
        if not self._semaphore.acquire(blocking=False):
            raise EventStreamsBusy(
                "Too many live event streams are open on this server; poll the run instead "
                "(GET /api/v1/runs/{id}/) or try again later.",
                details={"retry_after": RETRY_AFTER_SECONDS},
            )
        self._released = False
        self._frames = self._generate()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._frames)

    def close(self) -> None:
        self._frames.close()
        if not self._released:
            self._released = True
            self._semaphore.release()

    def _generate(self) -> Generator[bytes]:
        poll = float(settings.RUN_EVENTS_POLL_SECONDS)
        heartbeat = float(settings.RUN_EVENTS_HEARTBEAT_SECONDS)
        deadline = _clock() + float(settings.RUN_EVENTS_MAX_SECONDS)
        yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
        sent = self._last_event_id
        quiet_since = _clock()
        while True:
            data, etag, ended = self._snapshot()
            if etag != sent:
                sent = etag
                quiet_since = _clock()
                yield frame("run", data, etag)
            if ended:
                yield frame("end", {"status": data["status"]}, etag)
                return
            now = _clock()
            if now >= deadline:
                # The client reconnects (after `retry`) with Last-Event-ID and misses nothing.
                return
            if now - quiet_since >= heartbeat:
                quiet_since = now
                # A comment: keeps proxies from closing an idle connection; clients ignore it.
                yield b": keep-alive\n\n"
            _pause(poll)


def frame(event: str, data: dict[str, Any], event_id: str) -> bytes:
    body = json.dumps(data, separators=(",", ":"), default=str)
    return f"id: {event_id}\nevent: {event}\ndata: {body}\n\n".encode()
