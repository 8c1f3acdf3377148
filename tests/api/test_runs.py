from __future__ import annotations

import pytest

from staging.models import EnvironmentStatus, Run, RunStatus, RunStep, StepStatus
from tests.factories import make_environment, make_run

pytestmark = pytest.mark.django_db


def url(run: Run) -> str:
    return f"/api/v1/runs/{run.pk}/"


@pytest.fixture
def running() -> Run:
    environment = make_environment(url="https://spring.up.railway.app")
    run = make_run(environment, status=RunStatus.RUNNING, progress_percent=40)
    run.current_step = "copy_database"
    run.save()
    RunStep.objects.create(
        run=run, name="preflight", position=1, status=StepStatus.SUCCEEDED, log="secret-ish"
    )
    RunStep.objects.create(run=run, name="copy_database", position=2)
    return run


def test_polling_a_run_shows_its_progress_and_steps_without_their_logs(api_viewer, running):
    body = api_viewer.client.get(url(running)).json()
    assert body["status"] == "running"
    assert body["progress_percent"] == 40
    assert body["current_step"] == "copy_database"
    assert body["environment"] == running.environment_id
    assert body["staging_url"] == "https://spring.up.railway.app"
    assert body["error"] is None
    assert [step["name"] for step in body["steps"]] == ["preflight", "copy_database"]
    assert body["steps"][0]["label"] == "Checking the production site"
    assert set(body["steps"][0]) == {"name", "label", "status", "started_at", "finished_at"}


def test_a_failed_run_shows_its_error_code_and_message(api_viewer):
    run = make_run(status=RunStatus.RUNNING)
    run.finish(RunStatus.FAILED, "database_unreachable", "The database did not answer.")
    body = api_viewer.client.get(url(run)).json()
    assert body["error"] == {
        "code": "database_unreachable",
        "message": "The database did not answer.",
    }


def test_a_poll_carries_an_etag_and_a_matching_if_none_match_gets_304(api_viewer, running):
    first = api_viewer.client.get(url(running))
    etag = first["ETag"]
    assert etag.startswith('"')
    again = api_viewer.client.get(url(running), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    weak = api_viewer.client.get(url(running), HTTP_IF_NONE_MATCH=f"W/{etag}")
    assert weak.status_code == 304


def test_a_run_that_changed_answers_200_with_a_new_etag(api_viewer, running):
    etag = api_viewer.client.get(url(running))["ETag"]
    Run.objects.filter(pk=running.pk).update(progress_percent=55)
    response = api_viewer.client.get(url(running), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert response.json()["progress_percent"] == 55


def test_cancelling_a_queued_run_ends_it_at_once(api_manager):
    environment = make_environment()
    run = make_run(environment)
    response = api_manager.client.post(f"{url(run)}cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancel_requested"] is True
    environment.refresh_from_db()
    assert environment.status == EnvironmentStatus.DELETED


def test_cancelling_a_finished_run_is_an_invalid_state(api_manager):
    run = make_run(status=RunStatus.SUCCEEDED)
    response = api_manager.client.post(f"{url(run)}cancel/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"


def test_an_id_too_long_for_the_database_is_simply_not_found(api_viewer):
    response = api_viewer.client.get("/api/v1/runs/99999999999999999999999/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
