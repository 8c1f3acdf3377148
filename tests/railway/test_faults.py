"""The client against each fault the sandbox can inject."""

from __future__ import annotations

import httpx
import pytest

from staging.railway import (
    RailwayClient,
    RailwayError,
    RailwayRateLimited,
    RailwayUnavailable,
)
from tests.fixtures_railway import SANDBOX_TOKEN, RecordingSleep


def project_pages(sandbox) -> int:
    """Requests one listing of the projects takes without faults: other tests add projects to
    the session's sandbox, so the listing may run to more than one page."""
    before = sandbox.calls["projects"]
    with RailwayClient(sandbox.api_url, SANDBOX_TOKEN, sleep=RecordingSleep()) as client:
        client.list_projects()
    return int(sandbox.calls["projects"] - before)


def test_it_waits_for_retry_after_when_rate_limited(railway_client, sandbox):
    pages = project_pages(sandbox)
    sandbox.faults.set("projects", "rate_limit", times=2, retry_after=7)
    before = sandbox.calls["projects"]

    railway_client.list_projects()

    assert railway_client.recorded_sleep.delays == [7.0, 7.0]
    assert sandbox.calls["projects"] - before == 2 + pages


def test_it_gives_up_when_retry_after_is_longer_than_it_may_wait(sandbox):
    sandbox.faults.set("projects", "rate_limit", retry_after=3600)
    sleep = RecordingSleep()
    with (
        RailwayClient(sandbox.api_url, SANDBOX_TOKEN, sleep=sleep) as client,
        pytest.raises(RailwayRateLimited) as caught,
    ):
        client.list_projects()

    assert caught.value.code == "railway_rate_limited"
    assert caught.value.details["retry_after"] == 3600
    assert sleep.delays == []


def test_it_retries_server_errors_with_growing_jittered_backoff(railway_client, sandbox):
    sandbox.faults.set("projects", "server_error", times=3, status=502)

    railway_client.list_projects()

    delays = railway_client.recorded_sleep.delays
    assert len(delays) == 3
    assert 0.25 <= delays[0] <= 0.5 and 0.5 <= delays[1] <= 1.0 and 1.0 <= delays[2] <= 2.0


def test_it_stops_retrying_after_a_bounded_number_of_attempts(railway_client, sandbox):
    sandbox.faults.set("projects", "server_error", times=None)

    with pytest.raises(RailwayUnavailable) as caught:
        railway_client.list_projects()

    assert caught.value.code == "railway_unavailable"
    assert sandbox.calls["projects"] == 5


def test_it_retries_a_slow_answer_that_timed_out(sandbox, postgres_site):
    # Neither depends on the machine's speed: the slow answer can only come after the client
    # gave up, and the retried one has a whole second.
    pages = project_pages(sandbox)
    sandbox.faults.set("projects", "slow", delay=3.0)
    sleep = RecordingSleep()
    with RailwayClient(sandbox.api_url, SANDBOX_TOKEN, timeout=1.0, sleep=sleep) as client:
        projects = client.list_projects()

    assert projects and len(sleep.delays) == 1 and client.calls == 1 + pages


def test_it_retries_a_dropped_connection(railway_client, sandbox, postgres_site):
    pages = project_pages(sandbox)
    sandbox.faults.set("projects", "drop")
    before = sandbox.calls["projects"]

    assert railway_client.list_projects()
    assert sandbox.calls["projects"] - before == 1 + pages


def test_a_create_whose_answer_was_lost_is_found_not_repeated(
    railway_client, sandbox, wordpress_site
):
    sandbox.faults.set("environmentCreate", "drop", after_execute=True)

    env = railway_client.create_environment(
        wordpress_site.project_id, "lost-answer", wordpress_site.production_environment_id
    )
    try:
        assert sandbox.calls["environmentCreate"] == 1
        names = [e.name for e in railway_client.get_project(wordpress_site.project_id).environments]
        assert names.count("lost-answer") == 1
    finally:
        railway_client.delete_environment(env.id)


def test_a_create_that_never_happened_is_sent_again_after_looking(
    railway_client, sandbox, wordpress_site
):
    sandbox.faults.set("environmentCreate", "server_error", status=503)

    env = railway_client.create_environment(
        wordpress_site.project_id, "second-try", wordpress_site.production_environment_id
    )
    try:
        assert sandbox.calls["environmentCreate"] == 2
        assert sandbox.calls["environments"] == 1
    finally:
        railway_client.delete_environment(env.id)


def test_a_create_that_fails_is_an_error_with_railways_message(
    railway_client, sandbox, wordpress_site
):
    sandbox.faults.set("environmentCreate", "create_fails")

    with pytest.raises(RailwayError) as caught:
        railway_client.create_environment(
            wordpress_site.project_id, "refused", wordpress_site.production_environment_id
        )

    assert caught.value.code == "railway_error"
    assert "Failed to create environment" in caught.value.message
    assert railway_client.find_environment(wordpress_site.project_id, "refused") is None


def test_a_tcp_proxy_whose_answer_was_lost_is_not_made_twice(
    railway_client, sandbox, postgres_site
):
    env = railway_client.create_environment(
        postgres_site.project_id, "proxy-lost", postgres_site.production_environment_id
    )
    db = postgres_site.database_service_id
    try:
        sandbox.faults.set("tcpProxyCreate", "drop", after_execute=True)
        proxy = railway_client.create_tcp_proxy(env.id, db, 5432)
        assert railway_client.list_tcp_proxies(env.id, db) == [proxy]
    finally:
        railway_client.delete_environment(env.id)


def test_a_service_domain_whose_answer_was_lost_is_not_made_twice(
    railway_client, sandbox, postgres_site
):
    env = railway_client.create_environment(
        postgres_site.project_id, "domain-lost", postgres_site.production_environment_id
    )
    app = postgres_site.app_service_id
    try:
        sandbox.faults.set("serviceDomainCreate", "drop", after_execute=True)
        domain = railway_client.create_service_domain(env.id, app)
        assert railway_client.list_service_domains(postgres_site.project_id, env.id, app) == [
            domain
        ]
    finally:
        railway_client.delete_environment(env.id)


def test_faults_can_be_switched_over_http(sandbox):
    pages = project_pages(sandbox)
    answer = httpx.post(
        f"{sandbox.base_url}/_sandbox/faults",
        json={"operation": "*", "kind": "server_error", "times": 1, "status": 500},
    )
    assert answer.status_code == 200 and answer.json()["faults"][0]["kind"] == "server_error"

    with RailwayClient(sandbox.api_url, SANDBOX_TOKEN, sleep=RecordingSleep()) as client:
        client.list_projects()
        assert client.calls == 1 + pages

    assert (
        httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"kind": "bogus"}).status_code == 400
    )
    assert httpx.delete(f"{sandbox.base_url}/_sandbox/faults").json() == {"faults": []}
