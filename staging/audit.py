"""Writing the audit log. Every state-changing entry point records one event here."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import models

from staging.models import ActorType, AuditEvent, ClientSite, StagingEnvironment, Trigger

SYSTEM_ACTOR = "system"


def record(
    action: str,
    *,
    source: Trigger | str,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    actor_type: ActorType | None = None,
    actor_label: str = "",
    target: models.Model | None = None,
    ip_address: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; the labels are copied so the event outlives its user and target."""
    user = actor if isinstance(actor, User) else None
    site = _site_of(target)
    return AuditEvent.objects.create(
        actor_type=actor_type or (ActorType.USER if user else ActorType.SYSTEM),
        actor=user,
        actor_label=actor_label or (user.get_username() if user else SYSTEM_ACTOR),
        action=action,
        source=source,
        site=site,
        site_label=str(site) if site else "",
        target_type=target._meta.model_name or "" if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target) if target is not None else "",
        ip_address=ip_address,
        details=details or {},
    )


def _site_of(target: models.Model | None) -> ClientSite | None:
    if isinstance(target, ClientSite):
        return target
    if isinstance(target, StagingEnvironment):
        return target.site
    environment = getattr(target, "environment", None)
    return environment.site if isinstance(environment, StagingEnvironment) else None
