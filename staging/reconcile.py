"""Reconciliation: compare what Understudy tracks with what Railway has, and settle the
difference. The ``reconcile_staging`` command (run by hand, from cron or by Kestra) and the
tests call it.

Understudy acts only on Railway environment ids that one of its runs recorded as created
(``RunStep.created``), never on a name: a client may well make an environment with the name of a
copy Understudy deleted long ago. Three kinds of drift:

- "orphaned on Railway": an environment a run created, still on Railway, whose staging copy is
  deleted or whose run never kept it (a crash between Railway's answer and the portal's write).
  It costs money and holds production data: ``fix`` deletes it.
- "needs attention": a copy whose rollback or teardown Railway refused. ``fix`` deletes its
  recorded environments and marks it deleted once Railway has confirmed.
- "missing on Railway": a tracked copy that is gone from Railway (deleted by hand in Railway's
  dashboard) shows a dead link: ``fix`` marks it deleted.

Production and copies a run is working on are never touched: ``fix`` checks again right before
it acts, because a run may have started since the drift was found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from staging import audit
from staging.errors import UnderstudyError
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

KINDS = ("orphaned_on_railway", "needs_attention", "missing_on_railway")


class ReconciliationRefused(UnderstudyError):
    """A fix that would touch production, a copy in progress, or a copy no longer tracked."""

    code = "reconciliation_refused"
    http_status = 409


@dataclass(frozen=True)
class Drift:
    kind: str  # one of KINDS
    site: str
    name: str
    railway_environment_id: str
    staging_environment_id: int | None
    fixed: bool = False
    fix_error: str | None = None


@dataclass
class Reconciliation:
    """What one pass found (and fixed), and the sites whose Railway project could not be read."""

    fixing: bool
    drifts: list[Drift] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def left(self) -> list[Drift]:
        return [drift for drift in self.drifts if not drift.fixed]

    def document(self) -> dict[str, Any]:
        return (
            {"fix": self.fixing}
            | {kind: [asdict(d) for d in self.drifts if d.kind == kind] for kind in KINDS}
            | {"errors": self.errors}
        )

    def describe(self) -> str:
        return _describe(self.drifts, self.errors, self.fixing)


def reconcile(
    sites: Iterable[ClientSite], railway: RailwayClient, *, fixing: bool, actor: Actor
) -> Reconciliation:
    """Find the drift of every site; with ``fixing``, settle each difference, audited."""
    result = Reconciliation(fixing)
    for site in sites:
        try:
            found = find_drift(site, railway)
        except UnderstudyError as error:
            result.errors.append({"site": site.slug, "code": error.code, "message": error.message})
            continue
        if fixing:
            found = [fix(drift, site, railway, actor) for drift in found]
        result.drifts += found
    return result


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
    """Settle one difference; what could not be settled comes back with ``fix_error``."""
    try:
        target, action = _settle(drift, site, railway)
    except UnderstudyError as error:
        return replace(drift, fix_error=f"{error.message} ({error.code})")
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
    return replace(drift, fixed=True)


def _settle(
    drift: Drift, site: ClientSite, railway: RailwayClient
) -> tuple[StagingEnvironment | ClientSite, str]:
    if drift.kind == "orphaned_on_railway":
        owner = (
            StagingEnvironment.objects.filter(pk=drift.staging_environment_id, site=site).first()
            if drift.staging_environment_id is not None
            else None
        )
        if owner is not None:
            _refuse_if_busy(owner)
        _delete(railway, site, [drift.railway_environment_id])
        return owner or site, "staging.reconciled_orphan_deleted"
    copy = _tracked_copy(drift, site)
    _refuse_if_busy(copy)
    if drift.kind == "needs_attention":
        # Marked deleted only after Railway accepted every delete (or had none to do).
        _delete(railway, site, copy.created_railway_environment_ids())
        copy.mark_deleted()
        return copy, "staging.reconciled_attention_deleted"
    if drift.kind == "missing_on_railway":
        copy.mark_deleted()
        return copy, "staging.reconciled_missing_marked_deleted"
    raise ValueError(f"Unknown kind of drift: {drift.kind}")


def _tracked_copy(drift: Drift, site: ClientSite) -> StagingEnvironment:
    copy = (
        StagingEnvironment.objects.filter(pk=drift.staging_environment_id, site=site).first()
        if drift.staging_environment_id is not None
        else None
    )
    if copy is None:
        raise ReconciliationRefused(
            f"The copy {drift.site}/{drift.name} is no longer tracked; nothing was changed."
        )
    return copy


def _refuse_if_busy(copy: StagingEnvironment) -> None:
    if copy.runs.filter(status__in=RunStatus.active()).exists():
        raise ReconciliationRefused(
            f"A run is working on {copy.name} now; it settles its own copy. Nothing was changed."
        )


def _delete(railway: RailwayClient, site: ClientSite, railway_ids: list[str]) -> None:
    if site.production_environment_id in railway_ids:
        raise ReconciliationRefused(
            f"Refusing to delete {site.production_environment_id}: it is the production "
            f"environment of {site.slug}. Nothing was deleted."
        )
    for railway_id in railway_ids:
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
