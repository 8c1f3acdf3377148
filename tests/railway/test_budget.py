"""A clone's Railway calls fit the Hobby plan's budget: at most 40, polling included."""

from __future__ import annotations

import time

import pytest

from staging.railway import RailwayClient, database_url
from tests.fixtures_railway import SANDBOX_TOKEN

# Sandbox time runs 100 times faster than Railway's: a database deploys in ~45 s, a duplicated
# environment applies in ~10 s, and the client's own waits shrink in the same proportion.
SCALE = 0.01


@pytest.fixture
def railway_time(sandbox):
    saved = sandbox.deploy_seconds, sandbox.apply_seconds
    sandbox.deploy_seconds, sandbox.apply_seconds = 45 * SCALE, 10 * SCALE
    yield
    sandbox.deploy_seconds, sandbox.apply_seconds = saved


@pytest.mark.parametrize("site_fixture", ["wordpress_site", "postgres_site"])
def test_a_clone_makes_at_most_40_railway_calls(
    request, sandbox, railway_time, site_fixture, record_property
):
    site = request.getfixturevalue(site_fixture)
    engine = site.engine
    port = 5432 if engine == "postgres" else 3306
    client = RailwayClient(
        sandbox.api_url, SANDBOX_TOKEN, sleep=lambda seconds: time.sleep(seconds * SCALE)
    )
    name = f"budget-{engine}"
    project, production, db, app = (
        site.project_id,
        site.production_environment_id,
        site.database_service_id,
        site.app_service_id,
    )

    assert client.find_environment(project, name) is None  # preflight
    env = client.create_environment(project, name, production)
    try:
        client.wait_for_deployment(env.id, db)
        if not client.list_tcp_proxies(env.id, db):
            client.create_tcp_proxy(env.id, db, port)
        source = database_url(engine, client.get_variables(project, production, db))
        target = database_url(engine, client.get_variables(project, env.id, db))
        assert source and target and source != target
        domain = client.create_service_domain(env.id, app)
        before = client.get_service_instance(env.id, app)
        client.upsert_variables(
            project, env.id, app, {"STAGING_URL": f"https://{domain.domain}"}, skip_deploys=True
        )
        client.redeploy(env.id, app)
        client.wait_for_deployment(env.id, app, previous_deployment_id=before.deployment_id)
    finally:
        calls = client.calls
        client.delete_environment(env.id)
        client.close()

    record_property("railway_calls_per_clone", calls)
    print(f"\n{site.name}: a clone made {calls} Railway calls: {dict(sandbox.calls)}")
    assert calls <= 40
