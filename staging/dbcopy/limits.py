"""How long a client's database server may keep the worker waiting.

A database server is on the other side of the trust boundary: one that accepts a connection
and never answers must fail the run within minutes, not hold a worker for ever. Every
connection has a connect timeout; driver sessions have read timeouts (PyMySQL's own, a
watchdog that shuts the socket of a psycopg session down); and the copy's supervisor stops an
attempt in which nothing has moved for ``stall_timeout`` seconds (client tools included).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

CONNECT_TIMEOUT_SECONDS = 10
# Long enough for the slowest single statement of an ordinary site's copy (an index build on
# its largest table, a count of it), short enough that a silent server fails the run in minutes.
STALL_TIMEOUT_SECONDS = 600.0
# Preflight and marker queries are small: a server silent for this long is not working.
QUERY_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Limits:
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS
    stall_timeout: float = STALL_TIMEOUT_SECONDS

    @property
    def query_timeout(self) -> float:
        return min(self.stall_timeout, QUERY_TIMEOUT_SECONDS)


class Watch:
    fired = False


@contextlib.contextmanager
def socket_deadline(fileno: int, seconds: float) -> Iterator[Watch]:
    """Shut the socket down if the block takes longer than ``seconds``.

    libpq has no read timeout: a server that stops answering leaves a query waiting for ever.
    Shutting the socket down makes the waiting read return at once, as if the server had
    closed the connection; ``Watch.fired`` tells the caller why.
    """
    watch = Watch()

    def fire() -> None:
        watch.fired = True
        with contextlib.suppress(OSError):
            sock = socket.socket(fileno=os.dup(fileno))
            try:
                sock.shutdown(socket.SHUT_RDWR)
            finally:
                sock.close()

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield watch
    finally:
        timer.cancel()
