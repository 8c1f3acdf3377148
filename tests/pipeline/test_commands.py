"""The management commands: --json documents and exit codes 0, 1 and 2."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from staging.models import EnvironmentStatus, Run, RunStatus
from tests.factories import make_environment, make_site
from tests.fixtures_railway import SANDBOX_TOKEN
from tests.pipeline.helpers import clone, railway_environment_names


@pytest.fixture
def sandbox_settings(settings, sandbox):
    settings.RAILWAY_API_URL = sandbox.api_url
    settings.RAILWAY_API_TOKEN = SANDBOX_TOKEN
    settings.STAGING_URL_TEMPLATE = f"http://{{domain}}:{sandbox.port}"
    return settings


def run_command(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command(*args, stdout=out, stderr=StringIO())
    except CommandError as error:
        return error.returncode, out.getvalue()
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


@pytest.mark.django_db
class TestUsage:
    def test_an_unknown_site_is_a_failure(self):
        code, _ = run_command("clone_staging", "no-such-site")
        assert code == 1

    def test_a_bad_name_is_a_failure_with_its_code_in_json(self):
        make_site(slug="bakery")
        code, out = run_command(
            "clone_staging",
            "bakery",
            "--name",
            "Bad Name",
            "--personal-data-acknowledged",
            "--json",
        )
        assert code == 1
        assert json.loads(out)["error"]["code"] == "invalid_name"
        assert not Run.objects.exists()

    def test_a_malformed_environment_reference_is_bad_usage(self):
        code, _ = run_command("teardown_staging", "not-a-reference")
        assert code == 2

    def test_a_malformed_age_is_bad_usage(self):
        code, _ = run_command("cleanup_staging", "--older-than", "a week")
        assert code == 2

    @pytest.mark.parametrize("command", ["clone_staging", "refresh_staging"])
    def test_a_copy_without_the_acknowledgement_is_bad_usage_with_its_code_in_json(self, command):
        site = make_site(slug="bakery")
        environment = make_environment(site, name="spring", status=EnvironmentStatus.READY)
        target = "bakery" if command == "clone_staging" else str(environment.pk)
        code, out = run_command(command, target, "--json")
        assert code == 2
        assert json.loads(out)["error"]["code"] == "gdpr_acknowledgement_required"
        assert not Run.objects.exists()

    def test_refresh_with_the_acknowledgement_queues_the_refresh(self):
        environment = make_environment(make_site(), status=EnvironmentStatus.READY)
        code, out = run_command(
            "refresh_staging", str(environment.pk), "--personal-data-acknowledged", "--json"
        )
        assert code == 0
        assert json.loads(out)["operation"] == "refresh"

    def test_clone_without_wait_prints_the_queued_run(self):
        make_site(slug="bakery")
        code, out = run_command(
            "clone_staging", "bakery", "--name", "spring", "--personal-data-acknowledged", "--json"
        )
        document = json.loads(out)
        assert code == 0
        assert (document["status"], document["environment"]) == ("queued", "spring")

    def test_list_shows_only_expired_environments_when_asked(self):
        site = make_site(slug="bakery")
        make_environment(site, name="old", expires_at=timezone.now() - timedelta(hours=1))
        make_environment(site, name="new")
        code, out = run_command("list_staging", "--expired", "--json")
        assert code == 0
        assert [row["name"] for row in json.loads(out)["environments"]] == ["old"]


@pytest.mark.django_db(transaction=True)
class TestCleanup:
    def test_cleanup_tears_down_only_the_expired_environments(
        self,
        ledger_site,
        ledger_project,
        services,
        sandbox,
        job_queue,
        sandbox_settings,
    ):
        expired = clone(ledger_site, services, name="expired").environment
        kept = clone(ledger_site, services, name="kept").environment
        type(expired).objects.filter(pk=expired.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
        jobs_before = job_queue.job_ids

        code, out = run_command("cleanup_staging", "--json")

        summary = json.loads(out)
        assert code == 0
        assert (summary["candidates"], summary["torn_down"], summary["failed"]) == (1, 1, 0)
        # The teardown ran in the command's process: no job was queued for a worker to race.
        assert job_queue.job_ids == jobs_before
        expired.refresh_from_db()
        kept.refresh_from_db()
        assert (expired.status, kept.status) == (EnvironmentStatus.DELETED, EnvironmentStatus.READY)
        assert railway_environment_names(sandbox, ledger_project.project_id) == [
            "kept",
            "production",
        ]

    def test_a_dry_run_changes_nothing(self, job_queue):
        site = make_site(slug="bakery")
        make_environment(
            site,
            name="old",
            status=EnvironmentStatus.READY,
            expires_at=timezone.now() - timedelta(hours=1),
        )
        code, out = run_command("cleanup_staging", "--dry-run", "--json")
        assert (code, json.loads(out)["candidates"]) == (0, 1)
        assert not Run.objects.exists()

    def test_one_failed_teardown_does_not_stop_the_rest(
        self, ledger_site, services, sandbox, job_queue, sandbox_settings
    ):
        first = clone(ledger_site, services, name="first").environment
        second = clone(ledger_site, services, name="second").environment
        type(first).objects.update(expires_at=timezone.now() - timedelta(minutes=1))
        type(first).objects.filter(pk=first.pk).update(
            expires_at=timezone.now() - timedelta(minutes=2)
        )
        sandbox.faults.set("environmentDelete", "server_error", times=5)

        code, out = run_command("cleanup_staging", "--json")

        summary = json.loads(out)
        assert code == 1
        assert summary["failed"] == 1 and summary["torn_down"] == 1
        assert [e["outcome"] for e in summary["environments"]] == ["failed", "torn_down"]
        second.refresh_from_db()
        assert second.status == EnvironmentStatus.DELETED


@pytest.mark.django_db(transaction=True)
def test_clone_and_wait_ends_with_the_staging_url(ledger_site, rq_worker, sandbox_settings):
    code, out = run_command(
        "clone_staging",
        ledger_site.slug,
        "--personal-data-acknowledged",
        "--wait",
        "--timeout",
        "120",
        "--json",
    )
    document = json.loads(out)
    assert code == 0, document
    assert document["status"] == RunStatus.SUCCEEDED
    assert document["staging_url"].startswith("http://")
    assert set(document["metrics"]["step_seconds"]) >= {"copy_database", "health_check"}
