"""The sandbox behaves as Railway does for what the pipeline relies on: staged or skipped initial
deployments, one deployment per service, variables per service and environment, and the faults
the pipeline's tests switch on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from staging.http import fetch
from staging.railway import RailwayError, RailwayNotFound
from tests.fixtures_railway import SANDBOX_TOKEN

CREATE = """
mutation environmentCreate($input: EnvironmentCreateInput!) {
  environmentCreate(input: $input) { id name }
}
"""
STAGED = """
query environmentStagedChanges($environmentId: String!) {
  environmentStagedChanges(environmentId: $environmentId) { id status }
}
"""
COMMIT = """
mutation environmentPatchCommitStaged($environmentId: String!, $skipDeploys: Boolean) {
  environmentPatchCommitStaged(environmentId: $environmentId, skipDeploys: $skipDeploys)
}
"""


def graphql(sandbox, document: str, **variables: Any) -> dict[str, Any]:
    answer = httpx.post(
        sandbox.api_url,
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
        timeout=10,
    ).json()
    assert not answer.get("errors"), answer
    return dict(answer["data"])


@pytest.fixture
def environments(railway_client):
    made: list[str] = []
    yield made
    for environment_id in made:
        railway_client.delete_environment(environment_id)


def test_staged_initial_changes_wait_unapplied_until_committed(
    sandbox, railway_client, postgres_site, environments
):
    created = graphql(
        sandbox,
        CREATE,
        input={
            "projectId": postgres_site.project_id,
            "name": "staged",
            "sourceEnvironmentId": postgres_site.production_environment_id,
            "stageInitialChanges": True,
        },
    )["environmentCreate"]
    environments.append(created["id"])

    status = graphql(sandbox, STAGED, environmentId=created["id"])
    assert status["environmentStagedChanges"]["status"] == "STAGED"
    with pytest.raises(RailwayNotFound):
        railway_client.get_service_instance(created["id"], postgres_site.app_service_id)

    graphql(sandbox, COMMIT, environmentId=created["id"], skipDeploys=True)

    app = railway_client.get_service_instance(created["id"], postgres_site.app_service_id)
    assert app.deployment_id is None  # committed, but nothing deployed
    status = graphql(sandbox, STAGED, environmentId=created["id"])
    assert status["environmentStagedChanges"]["status"] == "COMMITTED"
    assert "DATABASE_URL" in railway_client.get_raw_variables(
        postgres_site.project_id, created["id"], postgres_site.app_service_id
    )


def test_skipped_initial_deploys_leave_every_service_undeployed_until_deployed_one_by_one(
    railway_client, postgres_site, environments
):
    env = railway_client.create_environment(
        postgres_site.project_id,
        "skipped",
        postgres_site.production_environment_id,
        skip_initial_deploys=True,
    )
    environments.append(env.id)
    app, db = postgres_site.app_service_id, postgres_site.database_service_id
    assert railway_client.get_service_instance(env.id, app).deployment_id is None

    deployment_id = railway_client.deploy(env.id, db)
    done = railway_client.wait_for_deployment(env.id, db, deployment_id=deployment_id, interval=0.1)

    assert (done.id, done.status, done.service_name) == (deployment_id, "SUCCESS", "Postgres")
    assert railway_client.get_service_instance(env.id, app).deployment_id is None
    with pytest.raises(RailwayError, match="No deployment to redeploy"):
        railway_client.redeploy(env.id, app)


def test_raw_variables_keep_references_and_belong_to_one_environment(
    railway_client, postgres_site, environments
):
    env = railway_client.create_environment(
        postgres_site.project_id, "raw", postgres_site.production_environment_id
    )
    environments.append(env.id)
    app = postgres_site.app_service_id

    raw = railway_client.get_raw_variables(postgres_site.project_id, env.id, app)
    railway_client.upsert_variables(
        postgres_site.project_id, env.id, app, {"MAIL_URL": ""}, skip_deploys=True
    )

    assert raw["DATABASE_URL"] == "${{Postgres.DATABASE_URL}}"
    assert not any(name.startswith("RAILWAY_") for name in raw)
    production = railway_client.get_raw_variables(
        postgres_site.project_id, postgres_site.production_environment_id, app
    )
    assert production["MAIL_URL"].startswith("smtp://")
    staging = railway_client.get_raw_variables(postgres_site.project_id, env.id, app)
    assert staging["MAIL_URL"] == ""


@pytest.mark.parametrize("outcome", ["FAILED", "CRASHED"])
def test_a_deployment_fault_ends_the_named_service_s_next_deployment(
    sandbox, railway_client, postgres_site, environments, outcome
):
    env = railway_client.create_environment(
        postgres_site.project_id,
        "crash",
        postgres_site.production_environment_id,
        skip_initial_deploys=True,
    )
    environments.append(env.id)
    sandbox.faults.set("App", "deployment_failed", outcome=outcome)

    database = railway_client.deploy(env.id, postgres_site.database_service_id)
    app = railway_client.deploy(env.id, postgres_site.app_service_id)

    assert railway_client.wait_for_deployment(
        env.id, postgres_site.database_service_id, deployment_id=database, interval=0.1
    ).succeeded
    with pytest.raises(RailwayError) as caught:
        railway_client.wait_for_deployment(
            env.id, postgres_site.app_service_id, deployment_id=app, interval=0.1
        )
    assert caught.value.code == "railway_deployment_failed" and outcome in caught.value.message


def test_a_missing_variable_fault_leaves_it_out_of_the_duplicate(
    sandbox, railway_client, postgres_site, environments
):
    sandbox.faults.set("environmentCreate", "variable_missing", variable="SECRET_KEY")

    env = railway_client.create_environment(
        postgres_site.project_id, "missing", postgres_site.production_environment_id
    )
    environments.append(env.id)

    raw = railway_client.get_raw_variables(
        postgres_site.project_id, env.id, postgres_site.app_service_id
    )
    assert "SECRET_KEY" not in raw and "DATABASE_URL" in raw


def test_a_refused_delete_leaves_the_environment_in_place(sandbox, railway_client, postgres_site):
    env = railway_client.create_environment(
        postgres_site.project_id, "refused", postgres_site.production_environment_id
    )
    sandbox.faults.set("environmentDelete", "delete_refused")

    with pytest.raises(RailwayError) as caught:
        railway_client.delete_environment(env.id)

    assert caught.value.code == "railway_error"
    assert railway_client.find_environment(postgres_site.project_id, "refused") == env
    railway_client.delete_environment(env.id)
    assert railway_client.find_environment(postgres_site.project_id, "refused") is None


def test_site_faults_answer_not_found_or_redirect_to_production(sandbox, postgres_site):
    url = sandbox.site_url(postgres_site.app_domain)
    sandbox.faults.set("App", "site_status", status=404)
    sandbox.faults.set("App", "site_redirect")

    missing = fetch(url, 5)
    moved = fetch(url + "/shop", 5)

    assert missing.status_code == 404 and "Application not found" in missing.text
    assert moved.status_code == 301
    assert moved.headers["location"] == f"https://{postgres_site.app_domain}/shop"
    assert fetch(url, 5).status_code == 200
