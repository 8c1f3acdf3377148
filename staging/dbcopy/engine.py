"""The one entry point of the copy: preflight, attempts, supervision, report.

The attempt runs in a worker thread; the caller's thread supervises it, so that progress is
reported on time, a timeout or a cancel stops it within a second or two, and the progress
callback always runs in the caller's thread.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from staging.dbcopy.attempt import Aborted, Attempt
from staging.dbcopy.errors import (
    CopyCancelled,
    CopyError,
    CopyTimeout,
    EngineMismatch,
    TargetIsSource,
    TransientCopyError,
)
from staging.dbcopy.reports import CopyProgress, CopyReport, PreflightReport
from staging.dbcopy.urls import DatabaseUrl, parse_url

logger = logging.getLogger("staging.dbcopy")

PROGRESS_INTERVAL = 1.0
BACKOFF_SECONDS = (2.0, 5.0, 10.0)
# How long a stopped attempt may take to wind down (its processes are killed at once).
STOP_GRACE_SECONDS = 30.0
_PHASE_SHARE = {"schema": (0, 2), "data": (2, 85), "indexes": (85, 97), "verify": (97, 100)}


class Engine(Protocol):
    method: str

    def preflight(self, *, with_target: bool = True) -> PreflightReport: ...

    def estimate_bytes(self) -> int: ...

    def copy(self, attempt: Attempt) -> tuple[dict[str, int], int]: ...


def default_timeout(size_bytes: int) -> float:
    """Ten minutes, plus two seconds per MB: several times the measured speed of the copy."""
    return 600.0 + 2.0 * size_bytes / 1_000_000


def _engine(
    source: DatabaseUrl, target: DatabaseUrl, jobs: int, *, same_ok: bool = False
) -> Engine:
    if source.family != target.family:
        raise EngineMismatch(
            f"Cannot copy {source.family} ({source}) into {target.family} ({target}).",
            details={"source": source.family, "target": target.family},
        )
    if not same_ok:
        refuse_same_address(source, target)
    if source.family == "postgres":
        from staging.dbcopy.postgres import PostgresEngine

        return PostgresEngine(source, target, jobs=jobs)
    from staging.dbcopy.mysql import MysqlEngine

    return MysqlEngine(source, target, jobs=jobs)


def inspect_source(source_url: str) -> PreflightReport:
    """The source half of the preflight (tools, versions, reachability, size), before any
    target exists; writes nothing."""
    source = parse_url(source_url)
    return _engine(source, source, 2, same_ok=True).preflight(with_target=False)


def preflight(source_url: str, target_url: str) -> PreflightReport:
    """Check tools, reachability, size and identity; writes nothing anywhere."""
    source, target = parse_url(source_url), parse_url(target_url)
    report = _engine(source, target, 2).preflight()
    logger.info(
        "preflight of %s -> %s: %s %s, %d bytes, client %s",
        source,
        target,
        report.engine,
        report.server_version,
        report.source_size_bytes,
        report.client_version,
    )
    return report


def copy_database(
    source_url: str,
    target_url: str,
    *,
    progress: Callable[[CopyProgress], None] | None = None,
    timeout: float | None = None,
    cancel: threading.Event | None = None,
    attempts: int = 3,
    jobs: int = 2,
) -> CopyReport:
    """Copy the source database into the target, replacing everything in the target."""
    started = time.monotonic()
    source, target = parse_url(source_url), parse_url(target_url)
    engine = _engine(source, target, jobs)
    report = engine.preflight()
    deadline = started + (
        timeout if timeout is not None else default_timeout(report.source_size_bytes)
    )
    cancel = cancel or threading.Event()
    secrets = [s for s in (source.password, target.password) if s]
    total_bytes = max(engine.estimate_bytes(), 1)
    logger.info("copying %s -> %s with %s (%d bytes)", source, target, engine.method, total_bytes)
    last_error: CopyError | None = None
    for number in range(1, max(attempts, 1) + 1):
        attempt = Attempt(number=number, secrets=secrets, total_bytes=total_bytes)
        try:
            row_counts, bytes_copied = _supervise(engine, attempt, progress, deadline, cancel)
        except TransientCopyError as error:
            last_error = error
            logger.warning("attempt %d of %d failed: %s", number, attempts, error.message)
            if number < attempts:
                _wait(BACKOFF_SECONDS[min(number - 1, len(BACKOFF_SECONDS) - 1)], deadline, cancel)
            continue
        duration = time.monotonic() - started
        logger.info("copied %s -> %s in %.1f s (%d attempt(s))", source, target, duration, number)
        return CopyReport(
            engine=report.engine,
            method=engine.method,
            source_size_bytes=report.source_size_bytes,
            bytes_copied=bytes_copied,
            duration_seconds=duration,
            attempts=number,
            row_counts=row_counts,
        )
    if last_error is None:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    raise CopyError(
        f"The copy of {source} into {target} failed after {attempts} attempt(s): "
        f"{last_error.message}",
        details={**last_error.details, "attempts": attempts},
    )


def _supervise(
    engine: Engine,
    attempt: Attempt,
    progress: Callable[[CopyProgress], None] | None,
    deadline: float,
    cancel: threading.Event,
) -> tuple[dict[str, int], int]:
    outcome: list[tuple[dict[str, int], int]] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(engine.copy(attempt))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"dbcopy-attempt-{attempt.number}", daemon=True)
    thread.start()
    phases_reported = 0
    last_report = 0.0
    stop: CopyError | None = None
    while thread.is_alive():
        thread.join(0.25)
        now = time.monotonic()
        if stop is None and cancel.is_set():
            stop = CopyCancelled("The copy was cancelled.")
        elif stop is None and now >= deadline:
            stop = CopyTimeout("The copy did not finish in time and was stopped.")
        if stop is not None:
            _stop(attempt, thread)
            raise stop
        if progress is None:
            continue
        # Every phase is reported, even one that began and ended between two looks.
        entered = attempt.phases[phases_reported:]
        phases_reported += len(entered)
        for phase in entered[:-1]:
            progress(_progress(attempt, phase=phase))
        if entered or now - last_report >= PROGRESS_INTERVAL:
            last_report = now
            progress(_progress(attempt))
    if failure:
        error = failure[0]
        if isinstance(error, Aborted):
            raise CopyCancelled("The copy was cancelled.")
        raise error
    if progress is not None:
        for phase in attempt.phases[phases_reported:]:
            progress(_progress(attempt, phase=phase))
        progress(_progress(attempt, done=True))
    return outcome[0]


def _stop(attempt: Attempt, thread: threading.Thread) -> None:
    give_up = time.monotonic() + STOP_GRACE_SECONDS
    while thread.is_alive() and time.monotonic() < give_up:
        # Repeated because a query may start between one cancel and the next.
        attempt.abort()
        thread.join(0.5)
    attempt.abort()


def _progress(attempt: Attempt, *, done: bool = False, phase: str | None = None) -> CopyProgress:
    phase = phase or attempt.phase
    low, high = _PHASE_SHARE.get(phase, (0, 100))
    if done:
        percent = 100
    elif phase == "data":
        share = min(attempt.bytes_copied / attempt.total_bytes, 1.0)
        percent = low + int((high - low) * share)
    else:
        percent = low
    return CopyProgress(
        phase=phase,
        bytes_copied=attempt.bytes_copied,
        total_bytes=attempt.total_bytes,
        percent=min(percent, 100),
        rows_copied=attempt.rows_copied,
    )


def _wait(seconds: float, deadline: float, cancel: threading.Event) -> None:
    if cancel.wait(min(seconds, max(deadline - time.monotonic(), 0))):
        raise CopyCancelled("The copy was cancelled.")
    if time.monotonic() >= deadline:
        raise CopyTimeout("The copy did not finish in time and was stopped.")


def refuse_same_address(source: DatabaseUrl, target: DatabaseUrl) -> None:
    """Refuse before connecting when the URLs name the same database on the same server.

    The servers are asked again in preflight (a proxy or a second DNS name can hide that two
    addresses are one server); this check needs no connection and catches the plain cases.
    """
    same_database = source.database == target.database or (
        source.family == "mysql" and source.database.lower() == target.database.lower()
    )
    if not same_database or source.port != target.port:
        return
    if _addresses(source.host) & _addresses(target.host):
        raise TargetIsSource(
            f"The target {target} is the source database {source}: refusing to copy.",
            details={"source": source.masked, "target": target.masked},
        )


def _addresses(host: str) -> set[str]:
    """Every address a host name stands for; loopback and this machine's names count as one."""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return {host.lower()}
    local = _local_addresses()
    return {"this machine" if a in local or a.startswith("127.") else a for a in addresses}


def _local_addresses() -> set[str]:
    addresses = {"127.0.0.1", "::1", "0.0.0.0", "::"}  # noqa: S104 - compared, never bound
    for name in {socket.gethostname(), socket.getfqdn(), "localhost"}:
        with contextlib.suppress(OSError):
            addresses |= {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
    return addresses
