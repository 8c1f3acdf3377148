"""Reconciliation's guards are real checks: a fix never deletes production or touches a copy a
run is working on, whatever the drift it is handed says (and also under ``python -O``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from staging.models import (
    EnvironmentStatus,
    Operation,
    Run,
    RunStatus,
    StagingEnvironment,
    Trigger,
)
from staging.reconcile import Drift, fix
from staging.runs import Actor

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_fix_never_deletes_the_production_environment(ledger_site, ledger_project, services):
    drift = Drift(
        "orphaned_on_railway",
        ledger_site.slug,
        "production",
        ledger_site.production_environment_id,
        None,
    )

    result = fix(drift, ledger_site, services.railway, Actor.system(Trigger.COMMAND))

    assert not result.fixed
    assert result.fix_error and "reconciliation_refused" in result.fix_error
    project = services.railway.get_project(ledger_project.project_id)
    assert ledger_site.production_environment_id in {e.id for e in project.environments}


def test_a_fix_leaves_alone_a_copy_that_a_run_started_on_meanwhile(ledger_site, services):
    copy = StagingEnvironment.objects.create(
        site=ledger_site,
        name="qa",
        railway_environment_id="env-gone-from-railway",
        status=EnvironmentStatus.READY,
        expires_at=timezone.now() + timedelta(days=7),
    )
    Run.objects.create(
        environment=copy,
        operation=Operation.REFRESH,
        status=RunStatus.RUNNING,
        trigger=Trigger.COMMAND,
    )
    drift = Drift("missing_on_railway", ledger_site.slug, "qa", "env-gone-from-railway", copy.pk)

    result = fix(drift, ledger_site, services.railway, Actor.system(Trigger.COMMAND))

    assert not result.fixed
    assert result.fix_error and "reconciliation_refused" in result.fix_error
    copy.refresh_from_db()
    assert copy.status == EnvironmentStatus.READY
