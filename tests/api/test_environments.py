from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_rq
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from staging.models import (
    ActorType,
    AuditEvent,
    EnvironmentStatus,
    Operation,
    Run,
    RunStatus,
    StagingEnvironment,
    Trigger,
)
from tests.factories import make_environment, make_run, make_site
from tests.fixtures_api import Persona

pytestmark = pytest.mark.django_db

ENVIRONMENTS = "/api/v1/environments/"


def create(persona: Persona, headers: dict[str, Any] | None = None, **body: Any) -> Any:
    body = {"gdpr_acknowledged": True} | body
    return persona.client.post(ENVIRONMENTS, body, format="json", **(headers or {}))


def test_creating_an_environment_queues_a_clone_and_answers_202_with_both(api_manager):
    site = make_site(slug="acme")
    response = create(api_manager, site="acme", name="spring-sale", ttl_days=3)
    assert response.status_code == 202
    body = response.json()
    run = Run.objects.get()
    assert response["Location"] == f"/api/v1/runs/{run.pk}/"
    assert body["run"]["id"] == run.pk
    assert body["run"]["operation"] == "clone"
    assert body["run"]["status"] == "queued"
    assert body["environment"]["name"] == "spring-sale"
    assert body["environment"]["site"] == {"id": site.pk, "slug": "acme", "name": site.name}
    assert body["environment"]["created_by"] == "ana"
    assert body["environment"]["latest_run"] == {"id": run.pk, "status": "queued"}
    assert run.trigger == Trigger.API
    assert run.triggered_by == api_manager.user


def test_creating_records_who_asked_through_which_token_and_from_where(api_manager):
    create(api_manager, {"REMOTE_ADDR": "203.0.113.9"}, site=make_site().pk)
    event = AuditEvent.objects.get(action="staging.clone_requested")
    assert event.actor_type == ActorType.TOKEN
    assert event.actor_label == "ana (token ana's laptop)"
    assert event.source == Trigger.API
    assert event.ip_address == "203.0.113.9"


def test_a_kestra_flow_is_recorded_as_the_source(api_manager):
    api_manager.token.for_kestra = True
    api_manager.token.save()
    create(api_manager, {"HTTP_X_UNDERSTUDY_SOURCE": "kestra"}, site=make_site().pk)
    assert Run.objects.get().trigger == Trigger.KESTRA
    assert AuditEvent.objects.get().source == Trigger.KESTRA


def test_a_token_not_marked_for_kestra_cannot_pass_itself_off_as_kestra(api_manager):
    create(api_manager, {"HTTP_X_UNDERSTUDY_SOURCE": "kestra"}, site=make_site().pk)
    assert Run.objects.get().trigger == Trigger.API
    assert AuditEvent.objects.get().source == Trigger.API


def test_a_browser_session_cannot_pass_itself_off_as_kestra(api_manager):
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(api_manager.user)
    client.post(
        ENVIRONMENTS,
        {"site": make_site().pk, "gdpr_acknowledged": True},
        format="json",
        HTTP_X_UNDERSTUDY_SOURCE="kestra",
    )
    assert AuditEvent.objects.get(action="staging.clone_requested").source == Trigger.API


def test_the_clone_is_enqueued_once_the_transaction_commits(
    api_manager, django_capture_on_commit_callbacks, settings
):
    # The callbacks run inside the test's transaction, where django_rq would defer them again.
    settings.RQ = {"COMMIT_MODE": "auto"}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = create(api_manager, site=make_site().pk)
    assert response.status_code == 202
    assert len(callbacks) == 1
    run = Run.objects.get()
    assert run.rq_job_id
    queue = django_rq.get_queue("default")
    job = queue.fetch_job(run.rq_job_id)
    assert job is not None
    assert job.args == (run.pk,)
    job.delete()


def test_without_a_name_a_dated_one_is_chosen(api_manager):
    response = create(api_manager, site=make_site().pk)
    assert response.json()["environment"]["name"].startswith("staging-")


def test_creating_without_the_gdpr_acknowledgement_is_refused(api_manager):
    response = create(api_manager, site=make_site().pk, gdpr_acknowledged=False)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "gdpr_acknowledgement_required"
    assert not StagingEnvironment.objects.exists()


def test_creating_a_copy_of_a_site_that_masks_personal_data_needs_no_acknowledgement(api_manager):
    response = create(
        api_manager, site=make_site(masking_preset="wordpress").pk, gdpr_acknowledged=False
    )
    assert response.status_code == 202


def test_refreshing_without_the_gdpr_acknowledgement_is_refused(api_manager):
    environment = make_environment(status=EnvironmentStatus.READY)
    response = api_manager.client.post(f"{ENVIRONMENTS}{environment.pk}/refresh/")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "gdpr_acknowledgement_required"
    assert not environment.runs.exists()


def test_creating_for_an_unknown_site_is_a_validation_error(api_manager):
    response = create(api_manager, site="nope")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "site" in error["details"]


def test_an_invalid_name_is_refused_with_its_code(api_manager):
    response = create(api_manager, site=make_site().pk, name="Not Valid!")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_name"


def test_a_taken_name_is_a_conflict(api_manager):
    site = make_site()
    make_environment(site, name="taken")
    response = create(api_manager, site=site.pk, name="taken")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "name_taken"
    assert error["details"] == {"name": "taken"}


def test_a_lifetime_out_of_range_is_refused(api_manager):
    response = create(api_manager, site=make_site().pk, ttl_days=365)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_lifetime"


def test_the_list_leaves_deleted_environments_out_unless_asked(api_viewer):
    live = make_environment()
    deleted = make_environment(status=EnvironmentStatus.DELETED)
    ids = [row["id"] for row in api_viewer.client.get(ENVIRONMENTS).json()["results"]]
    assert ids == [live.pk]
    response = api_viewer.client.get(ENVIRONMENTS, {"status": "deleted"})
    assert [row["id"] for row in response.json()["results"]] == [deleted.pk]


def test_the_list_filters_by_site_id_or_slug(api_viewer):
    acme = make_site(slug="acme")
    mine = make_environment(acme)
    make_environment()
    for value in (acme.pk, "acme"):
        response = api_viewer.client.get(ENVIRONMENTS, {"site": value})
        assert [row["id"] for row in response.json()["results"]] == [mine.pk]


def test_the_list_filters_by_expiry(api_viewer):
    expired = make_environment(expires_at=timezone.now() - timedelta(hours=1))
    current = make_environment()
    response = api_viewer.client.get(ENVIRONMENTS, {"expired": "true"})
    assert [row["id"] for row in response.json()["results"]] == [expired.pk]
    assert response.json()["results"][0]["expired"] is True
    response = api_viewer.client.get(ENVIRONMENTS, {"expired": "false"})
    assert [row["id"] for row in response.json()["results"]] == [current.pk]


def test_an_unknown_status_filter_is_a_validation_error(api_viewer):
    response = api_viewer.client.get(ENVIRONMENTS, {"status": "sleeping"})
    assert response.status_code == 400
    assert "status" in response.json()["error"]["details"]


def test_the_environment_list_costs_the_same_queries_for_one_row_or_fifty(api_viewer):
    def populate() -> None:
        environment = make_environment(created_by=api_viewer.user)
        make_run(environment, status=RunStatus.SUCCEEDED)
        make_run(environment, operation=Operation.REFRESH)

    populate()
    api_viewer.client.get(ENVIRONMENTS)  # the token's first use also records its use
    with CaptureQueriesContext(connection) as one:
        api_viewer.client.get(ENVIRONMENTS)
    for _ in range(49):
        populate()
    with CaptureQueriesContext(connection) as fifty:
        response = api_viewer.client.get(ENVIRONMENTS)
    assert len(response.json()["results"]) == 50
    assert len(fifty) == len(one)


def test_an_environment_shows_its_latest_run(api_viewer):
    environment = make_environment(url="https://staging.example.com")
    make_run(environment, status=RunStatus.SUCCEEDED)
    latest = make_run(environment, operation=Operation.REFRESH)
    body = api_viewer.client.get(f"{ENVIRONMENTS}{environment.pk}/").json()
    assert body["latest_run"] == {"id": latest.pk, "status": "queued"}
    assert body["url"] == "https://staging.example.com"


def test_an_unknown_environment_is_not_found(api_viewer):
    response = api_viewer.client.get(f"{ENVIRONMENTS}999999/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_deleting_queues_a_teardown_and_answers_202_with_the_run(api_manager):
    environment = make_environment(status=EnvironmentStatus.READY)
    response = api_manager.client.delete(f"{ENVIRONMENTS}{environment.pk}/")
    assert response.status_code == 202
    run = Run.objects.get()
    assert run.operation == Operation.TEARDOWN
    assert response.json()["run"]["id"] == run.pk
    assert response["Location"] == f"/api/v1/runs/{run.pk}/"


def test_deleting_while_a_run_is_in_progress_is_a_conflict(api_manager):
    environment = make_environment()
    make_run(environment, status=RunStatus.RUNNING)
    response = api_manager.client.delete(f"{ENVIRONMENTS}{environment.pk}/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "run_in_progress"


def test_deleting_a_deleted_environment_is_an_invalid_state(api_manager):
    environment = make_environment(status=EnvironmentStatus.DELETED)
    response = api_manager.client.delete(f"{ENVIRONMENTS}{environment.pk}/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"


def test_refreshing_queues_a_refresh(api_manager):
    environment = make_environment(status=EnvironmentStatus.READY)
    response = api_manager.client.post(
        f"{ENVIRONMENTS}{environment.pk}/refresh/", {"gdpr_acknowledged": True}, format="json"
    )
    assert response.status_code == 202
    body = response.json()
    assert body["run"]["operation"] == "refresh"
    assert body["environment"]["id"] == environment.pk
    assert Run.objects.get().operation == Operation.REFRESH


def test_refreshing_an_environment_still_being_created_is_an_invalid_state(api_manager):
    environment = make_environment(status=EnvironmentStatus.CREATING)
    response = api_manager.client.post(
        f"{ENVIRONMENTS}{environment.pk}/refresh/", {"gdpr_acknowledged": True}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"


def test_extending_pushes_the_expiry_and_answers_with_the_environment(api_manager):
    environment = make_environment(status=EnvironmentStatus.READY)
    before = environment.expires_at
    response = api_manager.client.post(
        f"{ENVIRONMENTS}{environment.pk}/extend/", {"days": 3}, format="json"
    )
    assert response.status_code == 200
    environment.refresh_from_db()
    assert environment.expires_at == before + timedelta(days=3)
    assert response.json()["id"] == environment.pk
    assert AuditEvent.objects.get().action == "staging.extended"


def test_extending_by_too_many_days_is_refused(api_manager):
    environment = make_environment()
    response = api_manager.client.post(
        f"{ENVIRONMENTS}{environment.pk}/extend/", {"days": 1000}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_lifetime"
