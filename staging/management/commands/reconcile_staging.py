"""Compare what Understudy tracks with what Railway has, and with ``--fix`` settle the difference.

Understudy acts only on Railway environment ids that one of its runs recorded as created
(``RunStep.created``), never on a name: a client may well make an environment with the name of a
copy Understudy deleted long ago. Three kinds of drift:

- "orphaned on Railway": an environment a run created, still on Railway, whose staging copy is
  deleted or whose run never kept it (a crash between Railway's answer and the portal's write).
  It costs money and holds production data: ``--fix`` deletes it.
- "needs attention": a copy whose rollback or teardown Railway refused. ``--fix`` deletes its
  recorded environments and marks it deleted once Railway has confirmed.
- "missing on Railway": a tracked copy that is gone from Railway (deleted by hand in Railway's
  dashboard) shows a dead link: ``--fix`` marks it deleted.
"""

from __future__ import annotations

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
    RunStep,
    StagingEnvironment,
    created_railway_environment_ids,
)
from staging.railway import RailwayClient
from staging.runs import Actor
from staging.services import default_services

KINDS = ("orphaned_on_railway", "needs_attention", "missing_on_railway")


@dataclass(frozen=True)
class Drift:
    kind: str  # one of KINDS
    site: str
    name: str
    railway_environment_id: str
    staging_environment_id: int | None
    fixed: bool = False
    fix_error: str | None = None


class Command(StagingCommand):
    help = (
        "List Railway environments Understudy made (by the ids its runs recorded, never by "
        "name) but no longer tracks, copies that need attention (a delete Railway refused), and "
        "tracked environments that are gone from Railway; --fix deletes the first two on "
        "Railway and marks the copies deleted once Railway confirms, each audited. Exit code 1 "
        "when drift is left (found without --fix, or a fix failed) or a site's project could "
        "not be read."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--fix",
            action="store_true",
            help="Delete the orphans and the copies needing attention, mark the missing deleted.",
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
            {"fix": options["fix"]}
            | {kind: [asdict(d) for d in drifts if d.kind == kind] for kind in KINDS}
            | {"errors": errors},
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
    busy = set(
        site.environments.filter(runs__status__in=RunStatus.active()).values_list("pk", flat=True)
    )
    drifts: list[Drift] = []
    settled: set[str] = set()
    for env in tracked:
        recorded = [i for i in env.created_railway_environment_ids() if i in on_railway]
        if env.pk in busy:
            # A run in progress settles its own environment (and may not have saved it yet).
            settled.update(env.created_railway_environment_ids())
            continue
        if env.status == EnvironmentStatus.NEEDS_ATTENTION:
            settled.update(env.created_railway_environment_ids())
            drifts.append(
                Drift(
                    "needs_attention",
                    site.slug,
                    env.name,
                    ", ".join(recorded) or env.railway_environment_id,
                    env.pk,
                )
            )
        elif env.status in EnvironmentStatus.live():
            settled.update(env.created_railway_environment_ids())
            if env.railway_environment_id and env.railway_environment_id not in on_railway:
                drifts.append(
                    Drift(
                        "missing_on_railway",
                        site.slug,
                        env.name,
                        env.railway_environment_id,
                        env.pk,
                    )
                )
    # Every id a run of this site recorded as created: the only environments that are ours.
    for railway_id in created_railway_environment_ids(
        RunStep.objects.filter(run__environment__site=site)
    ):
        if (
            railway_id in settled
            or railway_id not in on_railway
            or railway_id == site.production_environment_id
        ):
            continue
        owner = StagingEnvironment.objects.filter(
            runs__steps__created__railway_environment_id=railway_id, site=site
        ).first()
        drifts.append(
            Drift(
                "orphaned_on_railway",
                site.slug,
                on_railway[railway_id],
                railway_id,
                owner.pk if owner else None,
            )
        )
    return drifts


def fix(drift: Drift, site: ClientSite, railway: RailwayClient, actor: Actor) -> Drift:
    target: StagingEnvironment | ClientSite = site
    if drift.staging_environment_id is not None:
        target = StagingEnvironment.objects.get(pk=drift.staging_environment_id)
    try:
        if drift.kind == "orphaned_on_railway":
            _delete(railway, site, [drift.railway_environment_id])
            action = "staging.reconciled_orphan_deleted"
        elif drift.kind == "needs_attention":
            assert isinstance(target, StagingEnvironment)
            # Marked deleted only after Railway accepted every delete (or had none to do).
            _delete(railway, site, target.created_railway_environment_ids())
            target.mark_deleted()
            action = "staging.reconciled_attention_deleted"
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


def _delete(railway: RailwayClient, site: ClientSite, railway_ids: list[str]) -> None:
    for railway_id in railway_ids:
        if railway_id == site.production_environment_id:
            raise AssertionError("refusing to delete a production environment")
        railway.delete_environment(railway_id)


def _describe(drifts: list[Drift], errors: list[dict[str, str]], fixing: bool) -> str:
    if not drifts and not errors:
        return "Understudy and Railway agree: nothing to reconcile."
    labels = {
        "orphaned_on_railway": ("Orphaned on Railway", "deleted on Railway"),
        "needs_attention": ("Needs attention", "deleted on Railway, marked deleted"),
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
