"""Small builders for the domain objects tests need; defaults are the usual case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from staging.models import (
    ClientSite,
    DatabaseEngine,
    Operation,
    Run,
    StagingEnvironment,
    Trigger,
)


def make_site(**fields: Any) -> ClientSite:
    count = ClientSite.objects.count() + 1
    defaults: dict[str, Any] = {
        "name": f"Client {count}",
        "slug": f"client-{count}",
        "railway_project_id": f"project-{count}",
        "production_environment_id": f"production-{count}",
        "app_service_id": f"app-{count}",
        "database_service_id": f"db-{count}",
        "database_engine": DatabaseEngine.MARIADB,
        "is_wordpress": True,
    }
    return ClientSite.objects.create(**(defaults | fields))


def make_environment(site: ClientSite | None = None, **fields: Any) -> StagingEnvironment:
    site = site or make_site()
    count = StagingEnvironment.objects.count() + 1
    defaults: dict[str, Any] = {
        "name": f"staging-{count}",
        "expires_at": timezone.now() + timedelta(days=site.ttl_days),
    }
    return StagingEnvironment.objects.create(site=site, **(defaults | fields))


def make_run(environment: StagingEnvironment | None = None, **fields: Any) -> Run:
    defaults: dict[str, Any] = {"operation": Operation.CLONE, "trigger": Trigger.COMMAND}
    return Run.objects.create(environment=environment or make_environment(), **(defaults | fields))
