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
    source = database_url(engine, client.get_variables(project, production, db))
    assert client.list_tcp_proxies(production, db)
    env = client.create_environment(project, name, production, skip_initial_deploys=True)
    try:
        # configure_staging: compare both services' variables, set staging's, check them.
        client.get_variables(project, production, app)
        for service in (app, db):
            client.get_raw_variables(project, production, service)
            client.get_raw_variables(project, env.id, service)
        client.upsert_variables(project, env.id, app, {"STRIPE_SECRET_KEY": ""}, skip_deploys=True)
        client.get_raw_variables(project, env.id, app)
        client.wait_for_deployment(env.id, db, deployment_id=client.deploy(env.id, db))
        if not client.list_tcp_proxies(env.id, db):
            client.create_tcp_proxy(env.id, db, port)
        target = database_url(engine, client.get_variables(project, env.id, db))
        assert source and target and source != target
        client.create_service_domain(env.id, app)
        client.wait_for_deployment(env.id, app, deployment_id=client.deploy(env.id, app))
    finally:
        calls = client.calls
        client.delete_environment(env.id)
        client.close()

    record_property("railway_calls_per_clone", calls)
    print(f"\n{site.name}: a clone made {calls} Railway calls: {dict(sandbox.calls)}")
    assert calls <= 40
