"""Compare what Understudy tracks with what Railway has, and with ``--fix`` settle the difference.

Two kinds of drift: a Railway environment that Understudy made but no longer tracks ("orphaned
on Railway": a rollback that could not delete it, a crash between Railway's answer and the
portal's write) costs money and holds production data; a tracked environment that is gone from
Railway ("missing on Railway": deleted by hand in Railway's dashboard) shows a dead link.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from django.core.management.base import CommandError, CommandParser

from staging import audit
from staging.errors import UnderstudyError
from staging.management.base import EXIT_FAILURE, StagingCommand
from staging.models import (
    ClientSite,
    EnvironmentStatus,
    RunStatus,
    StagingEnvironment,
)
from staging.names import RESERVED
from staging.railway import RailwayClient
from staging.runs import Actor
from staging.services import default_services

# What staging.names.generate_name makes: an environment with such a name that Understudy does
# not know is one it made and then lost track of.
_GENERATED_NAME = re.compile(r"^staging-\d{8}-\d+$")


@dataclass(frozen=True)
class Drift:
    kind: str  # "orphaned_on_railway" or "missing_on_railway"
    site: str
    name: str
    railway_environment_id: str
    staging_environment_id: int | None
    fixed: bool = False
    fix_error: str | None = None


class Command(StagingCommand):
    help = (
        "List Railway environments Understudy made but no longer tracks, and tracked "
        "environments that are gone from Railway; --fix deletes the first and marks the second "
        "deleted, each audited. Exit code 1 when drift is left (found without --fix, or a fix "
        "failed) or a site's project could not be read."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--fix", action="store_true", help="Delete the orphans, mark the missing deleted."
        )
        parser.add_argument("--site", help="Only this site (its slug).")

    def handle(self, *args: Any, **options: Any) -> None:
        sites = ClientSite.objects.order_by("slug")
        if options["site"]:
            sites = sites.filter(slug=options["site"])
        actor = self.actor(options)
        services = default_services()
        drifts: list[Drift] = []
        errors: list[dict[str, str]] = []
        try:
            for site in sites:
                try:
                    found = find_drift(site, services.railway)
                except UnderstudyError as error:
                    errors.append({"site": site.slug, "code": error.code, "message": error.message})
                    continue
                if options["fix"]:
                    found = [fix(drift, site, services.railway, actor) for drift in found]
                drifts += found
        finally:
            services.close()
        left = [drift for drift in drifts if not drift.fixed]
        self.emit(
            options,
            {
                "fix": options["fix"],
                "orphaned_on_railway": [
                    asdict(d) for d in drifts if d.kind == "orphaned_on_railway"
                ],
                "missing_on_railway": [asdict(d) for d in drifts if d.kind == "missing_on_railway"],
                "errors": errors,
            },
            _describe(drifts, errors, options["fix"]),
        )
        if left or errors:
            raise CommandError(
                f"{len(left)} difference(s) left, {len(errors)} site(s) unreadable.",
                returncode=EXIT_FAILURE,
            )


def find_drift(site: ClientSite, railway: RailwayClient) -> list[Drift]:
    """The differences between ``site``'s staging environments and its Railway project."""
    project = railway.get_project(site.railway_project_id)
    on_railway = {environment.id: environment.name for environment in project.environments}
    tracked = list(site.environments.all())
    live = [env for env in tracked if env.status in EnvironmentStatus.live()]
    live_names = {env.name for env in live}
    live_ids = {env.railway_environment_id for env in live if env.railway_environment_id}
    deleted_by_id = {
        env.railway_environment_id: env
        for env in tracked
        if env.status == EnvironmentStatus.DELETED and env.railway_environment_id
    }
    deleted_by_name = {env.name: env for env in tracked if env.status == EnvironmentStatus.DELETED}
    drifts: list[Drift] = []
    for railway_id, name in sorted(on_railway.items(), key=lambda item: item[1]):
        # A clone that is creating its environment has not saved the Railway id yet: its live
        # record holds the name, so anything a live record names is left alone.
        if (
            railway_id == site.production_environment_id
            or name in RESERVED
            or railway_id in live_ids
            or name in live_names
        ):
            continue
        former = deleted_by_id.get(railway_id) or deleted_by_name.get(name)
        if former is None and not _GENERATED_NAME.match(name):
            continue  # made by someone else (a "dev" environment of the client's): not ours
        drifts.append(
            Drift(
                "orphaned_on_railway",
                site.slug,
                name,
                railway_id,
                former.pk if former else None,
            )
        )
    busy = set(
        site.environments.filter(runs__status__in=RunStatus.active()).values_list("pk", flat=True)
    )
    for env in live:
        # An environment with a run in progress is that run's to settle.
        if env.pk in busy or not env.railway_environment_id:
            continue
        if env.railway_environment_id not in on_railway:
            drifts.append(
                Drift("missing_on_railway", site.slug, env.name, env.railway_environment_id, env.pk)
            )
    return drifts


def fix(drift: Drift, site: ClientSite, railway: RailwayClient, actor: Actor) -> Drift:
    target: StagingEnvironment | ClientSite = site
    if drift.staging_environment_id is not None:
        target = StagingEnvironment.objects.get(pk=drift.staging_environment_id)
    try:
        if drift.kind == "orphaned_on_railway":
            if drift.railway_environment_id == site.production_environment_id:
                raise AssertionError("refusing to delete a production environment")
            railway.delete_environment(drift.railway_environment_id)
            action = "staging.reconciled_orphan_deleted"
        else:
            assert isinstance(target, StagingEnvironment)
            target.mark_deleted()
            action = "staging.reconciled_missing_marked_deleted"
    except UnderstudyError as error:
        return Drift(**(asdict(drift) | {"fix_error": f"{error.message} ({error.code})"}))
    audit.record(
        action,
        source=actor.source,
        actor_type=actor.kind,
        actor_label=actor.label,
        target=target,
        details={
            "site": site.slug,
            "name": drift.name,
            "railway_environment_id": drift.railway_environment_id,
        },
    )
    return Drift(**(asdict(drift) | {"fixed": True}))


def _describe(drifts: list[Drift], errors: list[dict[str, str]], fixing: bool) -> str:
    if not drifts and not errors:
        return "Understudy and Railway agree: nothing to reconcile."
    labels = {
        "orphaned_on_railway": ("Orphaned on Railway", "deleted on Railway"),
        "missing_on_railway": ("Missing on Railway", "marked deleted"),
    }
    lines = []
    for drift in drifts:
        label, done = labels[drift.kind]
        outcome = ""
        if fixing:
            outcome = f": {done}" if drift.fixed else f": NOT fixed ({drift.fix_error})"
        lines.append(
            f"{label}: {drift.site}/{drift.name} ({drift.railway_environment_id}){outcome}"
        )
    lines += [f"Could not read {e['site']}: {e['message']} ({e['code']})" for e in errors]
    return "\n".join(lines)
