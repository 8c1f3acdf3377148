"""The only entry points that start or change work: admin actions, API views, commands and
Kestra all call these. Each validates, writes the run and its audit event in one transaction,
and enqueues the job once that transaction has committed (``lifecycle`` owns the queue).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from staging import audit, lifecycle, notify
from staging.errors import InvalidState, NameTaken, UnderstudyError
from staging.models import (
    ActorType,
    ClientSite,
    EnvironmentStatus,
    Operation,
    Run,
    RunStatus,
    StagingEnvironment,
    Trigger,
)
from staging.names import generate_name, validate_name
from staging.railway import database_url as railway_database_url
from staging.services import Services, default_services
from staging.steps import DatabaseAddressMismatch, StagingDatabaseNotReady
from staging.wordpress import login as wordpress_login

MAX_TTL_DAYS = 90
SUGGESTED_NAME_ATTEMPTS = 20


class RunInProgress(UnderstudyError):
    code = "run_in_progress"
    http_status = 409


class InvalidLifetime(UnderstudyError):
    code = "invalid_lifetime"


class PersonalDataAcknowledgementRequired(UnderstudyError):
    code = "gdpr_acknowledgement_required"


def _require_acknowledgement(site: ClientSite, acknowledged: bool) -> dict[str, object]:
    """One rule for every door (portal, admin, API, commands, Kestra): a copy of production
    personal data is made only once whoever asks has acknowledged it, unless the site masks
    that data on the way in. Returns what the audit event records about it."""
    if acknowledged:
        return {"gdpr_acknowledged": True}
    if site.masks_personal_data:
        return {"gdpr_acknowledged": False, "personal_data_masked": True}
    raise PersonalDataAcknowledgementRequired(
        f"A staging copy of {site} holds production personal data and {site} does not mask "
        "it: acknowledge that it will be handled accordingly (the API's gdpr_acknowledged, "
        "the commands' --personal-data-acknowledged, the Kestra flows' "
        "personal_data_acknowledged input).",
        details={"field": "gdpr_acknowledged", "site": site.slug},
    )


class LifetimeExceeded(UnderstudyError):
    """The retention promise (docs/security.md): no copy of personal data outlives the maximum
    lifetime, counted from its creation, however often it is extended."""

    code = "lifetime_exceeded"
    http_status = 409


def max_lifetime() -> timedelta:
    return timedelta(days=settings.STAGING_MAX_LIFETIME_DAYS)


def latest_expiry(environment: StagingEnvironment) -> datetime:
    """The last moment ``environment`` may live, whatever extensions it is given."""
    return environment.created_at + max_lifetime()


def extendable_days(environment: StagingEnvironment, now: datetime | None = None) -> int:
    """Whole days an extension may still add before the maximum lifetime is reached."""
    start = max(environment.expires_at, now or timezone.now())
    return max(int((latest_expiry(environment) - start).total_seconds() // 86_400), 0)


@dataclass(frozen=True)
class Actor:
    """Who asks for something, and through which door; copied onto the audit event."""

    source: Trigger
    user: User | None = None
    kind: ActorType = ActorType.SYSTEM
    label: str = audit.SYSTEM_ACTOR
    ip_address: str | None = None

    @classmethod
    def for_user(cls, user: User, source: Trigger, ip_address: str | None = None) -> Actor:
        return cls(source, user, ActorType.USER, user.get_username(), ip_address)

    @classmethod
    def system(cls, source: Trigger = Trigger.SCHEDULE) -> Actor:
        return cls(source)


def _audit(action: str, actor: Actor, target: object, **details: object) -> None:
    audit.record(
        action,
        source=actor.source,
        actor=actor.user,
        actor_type=actor.kind,
        actor_label=actor.label,
        target=target,  # type: ignore[arg-type]
        ip_address=actor.ip_address,
        details=details,
    )


def _validate_ttl(ttl_days: int | None, site: ClientSite) -> int:
    days = site.ttl_days if ttl_days is None else ttl_days
    if not 1 <= days <= MAX_TTL_DAYS:
        raise InvalidLifetime(f"A staging copy lives between 1 and {MAX_TTL_DAYS} days.")
    if days > settings.STAGING_MAX_LIFETIME_DAYS:
        raise LifetimeExceeded(
            f"A staging copy lives at most {settings.STAGING_MAX_LIFETIME_DAYS} days.",
            details={"max_lifetime_days": settings.STAGING_MAX_LIFETIME_DAYS},
        )
    return days


def suggest_name(site: ClientSite) -> str:
    taken = set(
        site.environments.filter(status__in=EnvironmentStatus.live()).values_list("name", flat=True)
    )
    return generate_name(taken, timezone.localdate())


def start_clone(
    site: ClientSite,
    actor: Actor,
    *,
    name: str | None = None,
    ttl_days: int | None = None,
    gdpr_acknowledged: bool = False,
) -> Run:
    """Create a staging environment for ``site`` and queue the clone that fills it.

    Refused (``gdpr_acknowledgement_required``) unless ``gdpr_acknowledged`` or the site masks
    personal data."""
    consent = _require_acknowledgement(site, gdpr_acknowledged)
    days = _validate_ttl(ttl_days, site)
    # Two requests at once can be given the same suggested name; the loser takes the next one.
    for attempt in range(1 if name else SUGGESTED_NAME_ATTEMPTS):
        chosen = validate_name(name) if name else suggest_name(site)
        try:
            return _create_clone(site, actor, chosen, days, consent)
        except IntegrityError:
            if name or attempt == SUGGESTED_NAME_ATTEMPTS - 1:
                raise NameTaken(
                    f"{site} already has a staging environment named '{chosen}'.",
                    details={"name": chosen},
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _create_clone(
    site: ClientSite, actor: Actor, chosen: str, days: int, consent: dict[str, object]
) -> Run:
    with transaction.atomic():
        environment = StagingEnvironment.objects.create(
            site=site,
            name=chosen,
            created_by=actor.user,
            expires_at=timezone.now() + timedelta(days=days),
        )
        run = Run.objects.create(
            environment=environment,
            operation=Operation.CLONE,
            trigger=actor.source,
            triggered_by=actor.user,
            rq_job_id=lifecycle.new_job_id(),
        )
        _audit(
            "staging.clone_requested",
            actor,
            environment,
            run_id=run.pk,
            ttl_days=days,
            **_consent_details(consent, actor),
        )
        lifecycle.enqueue_on_commit(run)
    return run


def _start_on_environment(
    environment: StagingEnvironment,
    operation: Operation,
    actor: Actor,
    action: str,
    *,
    enqueue: bool = True,
    details: dict[str, object] | None = None,
    reason: str = "",
) -> Run:
    with transaction.atomic():
        locked = StagingEnvironment.objects.select_for_update().get(pk=environment.pk)
        if locked.status == EnvironmentStatus.DELETED:
            raise InvalidState(f"{locked} has been deleted.")
        if operation == Operation.REFRESH and locked.status not in (
            EnvironmentStatus.READY,
            EnvironmentStatus.FAILED,
        ):
            raise InvalidState(f"{locked} is {locked.get_status_display().lower()}.")
        try:
            with transaction.atomic():
                run = Run.objects.create(
                    environment=locked,
                    operation=operation,
                    trigger=actor.source,
                    triggered_by=actor.user,
                    rq_job_id=lifecycle.new_job_id(),
                )
        except IntegrityError:
            raise RunInProgress(
                f"{locked} already has a run in progress; wait for it or cancel it."
            ) from None
        # Why it was asked, when it was not a person (an expiry): the erasure is accounted for.
        extra: dict[str, object] = (
            {"reason": reason, "expires_at": locked.expires_at.isoformat()} if reason else {}
        )
        _audit(action, actor, locked, run_id=run.pk, **(details or {}), **extra)
        if enqueue:
            lifecycle.enqueue_on_commit(run)
    return run


def start_refresh(
    environment: StagingEnvironment, actor: Actor, *, gdpr_acknowledged: bool = False
) -> Run:
    """Replace the staging data with a fresh copy of production.

    A fresh copy brings production's personal data again: the same acknowledgement rule as
    ``start_clone``."""
    consent = _require_acknowledgement(environment.site, gdpr_acknowledged)
    return _start_on_environment(
        environment,
        Operation.REFRESH,
        actor,
        "staging.refresh_requested",
        details=_consent_details(consent, actor),
    )


def _consent_details(consent: dict[str, object], actor: Actor) -> dict[str, object]:
    if consent.get("gdpr_acknowledged"):
        return consent | {"acknowledged_by": actor.label}
    return consent


def start_teardown(environment: StagingEnvironment, actor: Actor) -> Run:
    """Delete the staging environment on Railway and mark it deleted."""
    return _start_on_environment(
        environment, Operation.TEARDOWN, actor, "staging.teardown_requested"
    )


def tear_down_now(environment: StagingEnvironment, actor: Actor, *, reason: str = "") -> Run:
    """Tear ``environment`` down in this process, as the worker would, and return the ended run
    (for commands whose summary is the outcome).

    No job is enqueued, so no worker races this process for the run; should the process die
    before the run starts, ``requeue_lost_runs`` finds it queued without a job and queues it.
    """
    run = _start_on_environment(
        environment,
        Operation.TEARDOWN,
        actor,
        "staging.teardown_requested",
        enqueue=False,
        reason=reason,
    )
    # A cancel that lands before the start ends the run; the refreshed run says so.
    with contextlib.suppress(InvalidState):
        lifecycle.run_now(run)
    run.refresh_from_db()
    return run


def reap_stale_runs() -> list[Run]:
    """Roll back the runs whose worker stopped sending heartbeats (the scheduled reaper)."""
    return lifecycle.reap_stale_runs(default_services)


def requeue_lost_runs() -> list[Run]:
    """Queue again the queued runs whose job was lost (Redis restarted, or down at enqueue)."""
    return lifecycle.requeue_lost_runs()


def extend(environment: StagingEnvironment, actor: Actor, days: int = 7) -> StagingEnvironment:
    if not 1 <= days <= MAX_TTL_DAYS:
        raise InvalidLifetime(f"Extend by 1 to {MAX_TTL_DAYS} days.")
    with transaction.atomic():
        locked = StagingEnvironment.objects.select_for_update().get(pk=environment.pk)
        previous = locked.expires_at
        allowed = extendable_days(locked)
        if days > allowed:
            limit = latest_expiry(locked)
            raise LifetimeExceeded(
                f"{locked.name} can live at most {settings.STAGING_MAX_LIFETIME_DAYS} days from "
                f"its creation, until {timezone.localtime(limit):%-d %B %Y %H:%M}; "
                + (
                    f"it can be extended by {allowed} more day(s) at most."
                    if allowed
                    else "it cannot be extended any further."
                ),
                details={
                    "max_lifetime_days": settings.STAGING_MAX_LIFETIME_DAYS,
                    "latest_expiry": limit.isoformat(),
                    "extendable_days": allowed,
                },
            )
        locked.extend(days)
        if locked.expiry_warning_sent_at is not None:
            locked.expiry_warning_sent_at = None
            locked.save(update_fields=["expiry_warning_sent_at"])
        _audit(
            "staging.extended",
            actor,
            locked,
            days=days,
            previous_expires_at=previous.isoformat(),
            expires_at=locked.expires_at.isoformat(),
        )
    return locked


def cancel(run: Run, actor: Actor) -> Run:
    """A queued run ends at once; a running one stops at its next step and rolls back."""
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.is_terminal:
            raise InvalidState(f"Run {locked.pk} has already ended ({locked.status}).")
        locked.cancel_requested = True
        locked.save(update_fields=["cancel_requested"])
        if locked.status == RunStatus.QUEUED:
            locked.finish(RunStatus.CANCELLED, "run_cancelled", "Cancelled before it started.")
            if locked.operation == Operation.CLONE:
                locked.environment.mark_deleted()
        _audit("staging.run_cancelled", actor, locked.environment, run_id=locked.pk)
    return locked


EXPIRY_WARNING_AHEAD = timedelta(days=1)


def warn_expiring(
    actor: Actor, ahead: timedelta = EXPIRY_WARNING_AHEAD
) -> list[StagingEnvironment]:
    """Warn the creators of the copies deleted within ``ahead``, once per expiry date.

    Each copy is claimed by a conditional update before anything is sent, so two overlapping
    cron runs never warn twice; a warning that could not be delivered is logged by ``notify``
    and audited as such, and not retried (the deletion notice is a courtesy, the expiry holds).
    """
    now = timezone.now()
    due = StagingEnvironment.objects.select_related("site", "created_by").filter(
        status__in=[EnvironmentStatus.READY, EnvironmentStatus.FAILED],
        expires_at__gt=now,
        expires_at__lte=now + ahead,
        expiry_warning_sent_at__isnull=True,
    )
    warned: list[StagingEnvironment] = []
    for environment in due:
        claimed = StagingEnvironment.objects.filter(
            pk=environment.pk, expiry_warning_sent_at__isnull=True
        ).update(expiry_warning_sent_at=now)
        if not claimed:
            continue
        delivered = notify.expiry_warning(environment)
        _audit(
            "staging.expiry_warned",
            actor,
            environment,
            expires_at=environment.expires_at.isoformat(),
            to=environment.created_by.get_username() if environment.created_by else "",
            delivered=delivered,
        )
        warned.append(environment)
    return warned


class NotWordPress(UnderstudyError):
    code = "wordpress_login_unavailable"
    http_status = 409


def create_wordpress_login(
    environment: StagingEnvironment, actor: Actor, services: Services | None = None
) -> wordpress_login.WordPressLogin:
    """Make (or renew) the staging-only WordPress administrator of a ready copy and return its
    one-time password; the audit event names the user, never the password."""
    site = environment.site
    if not site.is_wordpress:
        raise NotWordPress(f"{site} is not a WordPress site.")
    if environment.status != EnvironmentStatus.READY or not environment.railway_environment_id:
        raise NotWordPress(
            f"{environment.name} is {environment.get_status_display().lower()}: a WordPress "
            "login can be made once it is ready."
        )
    if Run.objects.filter(environment=environment, status__in=RunStatus.active()).exists():
        raise RunInProgress(f"{environment} has a run in progress; wait for it to finish.")
    used = services if services is not None else default_services()
    try:
        target_url = _staging_database_url(environment, used)
        login = wordpress_login.create_login(target_url)
    finally:
        if services is None:
            used.close()
    _audit(
        "staging.wordpress_login_created",
        actor,
        environment,
        username=login.username,
        renewed=login.renewed,
    )
    return login


def _staging_database_url(environment: StagingEnvironment, services: Services) -> str:
    """The staging database's public URL, accepted only if it leads to the TCP proxy Railway
    reports for that environment's database (as ``expose_database`` checks it)."""
    site = environment.site
    railway = services.railway
    variables = railway.get_variables(
        site.railway_project_id, environment.railway_environment_id, site.database_service_id
    )
    url = railway_database_url(site.database_engine, variables)  # type: ignore[arg-type]
    if not url:
        raise StagingDatabaseNotReady(f"The staging database of {environment} has no address.")
    proxies = railway.list_tcp_proxies(environment.railway_environment_id, site.database_service_id)
    parts = urlsplit(url)
    host, port = (parts.hostname or "").lower(), parts.port
    if not any(host == p.domain.lower() and port == p.proxy_port for p in proxies):
        raise DatabaseAddressMismatch(
            f"The staging database URL of {environment} does not lead to the TCP proxy Railway "
            "reports for it; nothing was changed.",
            details={"database": "staging", "address": f"{host}:{port}"},
        )
    return url
