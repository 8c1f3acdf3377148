"""The one entry point of the copy: preflight, attempts, supervision, report.

The attempt runs in a worker thread; the caller's thread supervises it, so that progress is
reported on time, a timeout, a stall or a cancel stops it within a second or two, and the
progress callback always runs in the caller's thread.

Both URLs come from the client's Railway project and are untrusted: they are validated
(:mod:`staging.dbcopy.urls`), their hosts resolved once and checked against the address policy
(:mod:`staging.dbcopy.addresses`), and every connection goes to the checked address. Every
message that leaves this package is masked with both passwords.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from staging.dbcopy.addresses import checked
from staging.dbcopy.attempt import Aborted, Attempt
from staging.dbcopy.errors import (
    CopyCancelled,
    CopyError,
    CopyStalled,
    CopyTimeout,
    EngineMismatch,
    SourceUnreachable,
    TargetIsSource,
    TargetUnreachable,
    TransientCopyError,
)
from staging.dbcopy.limits import CONNECT_TIMEOUT_SECONDS, STALL_TIMEOUT_SECONDS, Limits
from staging.dbcopy.markers import check as check_marker
from staging.dbcopy.reports import CopyProgress, CopyReport, PreflightReport
from staging.dbcopy.urls import DatabaseUrl, family_of, parse_url
from staging.errors import UnderstudyError
from staging.secrets import mask_text

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
    source: DatabaseUrl,
    target: DatabaseUrl,
    jobs: int,
    *,
    limits: Limits,
    staging_marker: str | None = None,
) -> Engine:
    if source.family == "postgres":
        from staging.dbcopy.postgres import PostgresEngine

        return PostgresEngine(
            source, target, jobs=jobs, limits=limits, staging_marker=staging_marker
        )
    from staging.dbcopy.mysql import MysqlEngine

    return MysqlEngine(source, target, jobs=jobs, limits=limits, staging_marker=staging_marker)


def _family(engine: str | None) -> str | None:
    return None if engine is None else family_of(engine)


def _source(url: str, allow_private: bool | None, engine: str | None = None) -> DatabaseUrl:
    return checked(
        parse_url(url, family=_family(engine), role="source database"),
        allow_private=allow_private,
        unreachable=SourceUnreachable,
    )


def _target(url: str, allow_private: bool | None, engine: str | None = None) -> DatabaseUrl:
    return checked(
        parse_url(url, family=_family(engine), role="target database"),
        allow_private=allow_private,
        unreachable=TargetUnreachable,
    )


def _pair(
    source_url: str, target_url: str, allow_private: bool | None, engine: str | None = None
) -> tuple[DatabaseUrl, DatabaseUrl]:
    """Both URLs validated, told apart, and their addresses checked, in that order: what can
    be refused without a DNS answer is refused first."""
    source = parse_url(source_url, family=_family(engine), role="source database")
    target = parse_url(target_url, family=_family(engine), role="target database")
    if source.family != target.family:
        raise EngineMismatch(
            f"Cannot copy {source.family} ({source}) into {target.family} ({target}).",
            details={"source": source.family, "target": target.family},
        )
    refuse_same_address(source, target)
    source = checked(source, allow_private=allow_private, unreachable=SourceUnreachable)
    target = checked(target, allow_private=allow_private, unreachable=TargetUnreachable)
    refuse_same_address(source, target)
    for url in (source, target):
        if url.dropped_params:
            logger.warning("%s: ignored URL parameter(s) %s", url, ", ".join(url.dropped_params))
    return source, target


@contextlib.contextmanager
def masking(*urls: str) -> Iterator[None]:
    """Whatever leaves the block carries no password of these URLs (a driver that echoes its
    connection string, a tool that prints its command line)."""
    try:
        yield
    except BaseException as error:
        secrets = _passwords(urls)
        if isinstance(error, UnderstudyError):
            error.message = mask_text(error.message, secrets)
            error.details = _mask_details(error.details, secrets)
        error.args = tuple(
            mask_text(arg, secrets) if isinstance(arg, str) else arg for arg in error.args
        )
        raise


def _passwords(urls: tuple[str, ...]) -> list[str]:
    found = []
    for url in urls:
        with contextlib.suppress(Exception):
            found.append(parse_url(url).password)
    return [p for p in found if p]


def _mask_details(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, dict):
        return {k: _mask_details(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask_details(v, secrets) for v in value)
    return value


def inspect_source(
    source_url: str,
    *,
    engine: str | None = None,
    allow_private: bool | None = None,
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS,
    stall_timeout: float = STALL_TIMEOUT_SECONDS,
) -> PreflightReport:
    """The source half of the preflight (tools, versions, reachability, size), before any
    target exists; writes nothing. ``allow_private`` None: the deployment's setting."""
    limits = Limits(connect_timeout=connect_timeout, stall_timeout=stall_timeout)
    with masking(source_url):
        source = _source(source_url, allow_private, engine)
        return _engine(source, source, 2, limits=limits).preflight(with_target=False)


def check_staging_marker(
    url: str,
    marker: str,
    *,
    engine: str | None = None,
    allow_private: bool | None = None,
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS,
    stall_timeout: float = STALL_TIMEOUT_SECONDS,
) -> None:
    """Refuse (``staging_target_not_marked``) unless the database at ``url`` is empty or carries
    the staging marker ``marker``; for steps that write into the target on their own."""
    limits = Limits(connect_timeout=connect_timeout, stall_timeout=stall_timeout)
    with masking(url):
        target = _target(url, allow_private, engine)
        check_marker(target, marker, limits=limits, secrets=tuple(_passwords((url,))))


def preflight(
    source_url: str,
    target_url: str,
    *,
    engine: str | None = None,
    allow_private: bool | None = None,
    staging_marker: str | None = None,
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS,
    stall_timeout: float = STALL_TIMEOUT_SECONDS,
) -> PreflightReport:
    """Check tools, reachability, size, identity (and the staging marker, when given); writes
    nothing anywhere."""
    limits = Limits(connect_timeout=connect_timeout, stall_timeout=stall_timeout)
    with masking(source_url, target_url):
        source, target = _pair(source_url, target_url, allow_private, engine)
        report = _engine(
            source, target, 2, limits=limits, staging_marker=staging_marker
        ).preflight()
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
    staging_marker: str | None = None,
    engine: str | None = None,
    allow_private: bool | None = None,
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS,
    stall_timeout: float | None = None,
) -> CopyReport:
    """Copy the source database into the target, replacing everything in the target.

    With ``staging_marker``, the target must be empty or carry that marker
    (``staging_target_not_marked`` otherwise, before anything is changed), and it carries it
    from the moment it has been emptied. ``allow_private`` None: the deployment's setting.
    ``stall_timeout``: an attempt in which nothing moves for this long is stopped
    (``copy_stalled``). ``engine`` (the site's: postgres, mysql or mariadb), when given, is
    the engine both URLs must name.
    """
    with masking(source_url, target_url):
        return _copy_database(
            source_url,
            target_url,
            progress=progress,
            timeout=timeout,
            cancel=cancel,
            attempts=attempts,
            jobs=jobs,
            staging_marker=staging_marker,
            engine=engine,
            allow_private=allow_private,
            limits=Limits(
                connect_timeout=connect_timeout,
                stall_timeout=STALL_TIMEOUT_SECONDS if stall_timeout is None else stall_timeout,
            ),
        )


def _copy_database(
    source_url: str,
    target_url: str,
    *,
    progress: Callable[[CopyProgress], None] | None,
    timeout: float | None,
    cancel: threading.Event | None,
    attempts: int,
    jobs: int,
    staging_marker: str | None,
    engine: str | None,
    allow_private: bool | None,
    limits: Limits,
) -> CopyReport:
    started = time.monotonic()
    source, target = _pair(source_url, target_url, allow_private, engine)
    copier = _engine(source, target, jobs, limits=limits, staging_marker=staging_marker)
    report = copier.preflight()
    deadline = started + (
        timeout if timeout is not None else default_timeout(report.source_size_bytes)
    )
    cancel = cancel or threading.Event()
    secrets = [s for s in (source.password, target.password) if s]
    total_bytes = max(copier.estimate_bytes(), 1)
    logger.info("copying %s -> %s with %s (%d bytes)", source, target, copier.method, total_bytes)
    last_error: CopyError | None = None
    for number in range(1, max(attempts, 1) + 1):
        attempt = Attempt(number=number, secrets=secrets, total_bytes=total_bytes)
        try:
            row_counts, bytes_copied = _supervise(
                copier, attempt, progress, deadline, cancel, limits.stall_timeout
            )
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
            method=copier.method,
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
    stall_timeout: float = STALL_TIMEOUT_SECONDS,
) -> tuple[dict[str, int], int]:
    try:
        return _watch(engine, attempt, progress, deadline, cancel, stall_timeout)
    finally:
        attempt.cleanup()


def _watch(
    engine: Engine,
    attempt: Attempt,
    progress: Callable[[CopyProgress], None] | None,
    deadline: float,
    cancel: threading.Event,
    stall_timeout: float,
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
    activity, moved = attempt.activity, time.monotonic()
    while thread.is_alive():
        thread.join(0.25)
        now = time.monotonic()
        if attempt.activity != activity:
            activity, moved = attempt.activity, now
        if stop is None and cancel.is_set():
            stop = CopyCancelled("The copy was cancelled.")
        elif stop is None and now >= deadline:
            stop = CopyTimeout("The copy did not finish in time and was stopped.")
        elif stop is None and now - moved >= stall_timeout:
            # A database server that accepts and never answers, or stops answering half-way:
            # neither the driver nor the client tools would ever give up on their own.
            stop = CopyStalled(
                f"Nothing moved for {stall_timeout:.0f} seconds during the {attempt.phase} "
                "phase: a database server stopped answering. The copy was stopped.",
                details={"phase": attempt.phase, "stall_timeout_seconds": stall_timeout},
            )
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
    if _addresses(source.address or source.host) & _addresses(target.address or target.host):
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
