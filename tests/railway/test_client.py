"""The client's domain methods against the sandbox."""

from __future__ import annotations

import psycopg
import pytest

from railway_sandbox.site import table_counts
from staging.railway import (
    RailwayClient,
    RailwayConflict,
    RailwayDeploymentFailed,
    RailwayNotFound,
    database_url,
    detect_database_engine,
)
from tests.fixtures_railway import SANDBOX_TOKEN


def _new_environment(client, site, name):
    return client.create_environment(site.project_id, name, site.production_environment_id)


def test_it_lists_the_projects_the_token_can_see(railway_client, wordpress_site, postgres_site):
    names = {p.name for p in railway_client.list_projects()}

    assert {"Tea Room", "Ledger Test"} <= names


def test_it_reads_a_project_with_its_environments_and_services(railway_client, wordpress_site):
    project = railway_client.get_project(wordpress_site.project_id)

    assert project.name == "Tea Room"
    assert [e.name for e in project.environments][:1] == ["production"]
    engines = {s.name: s.database_engine for s in project.services}
    assert engines == {"WordPress": None, "MariaDB": "mariadb"}


def test_it_follows_pagination_of_environments(railway_client, sandbox, postgres_site, monkeypatch):
    created = [_new_environment(railway_client, postgres_site, f"paged-{n}") for n in (1, 2)]
    try:
        world = sandbox.world.projects[postgres_site.project_id]
        expected = sorted(environment.name for environment in world.environments.values())
        monkeypatch.setattr("staging.railway.client.PAGE_SIZE", 1)
        sandbox.reset_calls()

        project = railway_client.get_project(postgres_site.project_id)
        project_pages = sandbox.calls["project"]
        found = railway_client.find_environment(postgres_site.project_id, "paged-2")

        assert sorted(environment.name for environment in project.environments) == expected
        assert len(project.services) == 2
        # One environment per page: every page was asked for once.
        assert project_pages == len(expected) >= 3
        assert found == created[-1]
        assert sandbox.calls["environments"] >= 2
    finally:
        for environment in created:
            railway_client.delete_environment(environment.id)


def test_it_finds_an_environment_by_name_or_returns_none(railway_client, wordpress_site):
    found = railway_client.find_environment(wordpress_site.project_id, "production")

    assert found is not None and found.id == wordpress_site.production_environment_id
    assert railway_client.find_environment(wordpress_site.project_id, "nope") is None


def test_it_duplicates_an_environment_and_waits_until_it_is_applied(sandbox, postgres_site):
    waits: list[float] = []

    def railway_applies_while_the_client_waits(seconds: float) -> None:
        waits.append(seconds)
        for environment in sandbox.world.projects[postgres_site.project_id].environments.values():
            environment.applied_at = 0.0

    saved, sandbox.apply_seconds = sandbox.apply_seconds, 3600.0
    client = RailwayClient(
        sandbox.api_url, SANDBOX_TOKEN, sleep=railway_applies_while_the_client_waits
    )
    try:
        env = _new_environment(client, postgres_site, "dup-1")
    finally:
        sandbox.apply_seconds = saved
    try:
        # Asked once while applying, waited once, asked again and found it applied.
        assert sandbox.calls["environmentStagedChanges"] == 2 and len(waits) == 1
        full = client.get_environment(env.id)
        assert {i.service_name for i in full.service_instances} == {"App", "Postgres"}
        assert all(i.deployment_status for i in full.service_instances)
    finally:
        client.delete_environment(env.id)
        client.close()


def test_the_duplicated_database_is_new_and_empty_with_template_variables(
    railway_client, sandbox, postgres_site
):
    env = _new_environment(railway_client, postgres_site, "dup-db")
    try:
        db = postgres_site.database_service_id
        variables = railway_client.get_variables(postgres_site.project_id, env.id, db)
        assert variables["DATABASE_PUBLIC_URL"] == ""
        assert variables["DATABASE_URL"].startswith("postgresql://")
        assert {"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"} <= set(variables)
        assert variables["PGDATABASE"] != postgres_site.database_url.rsplit("/", 1)[1]

        proxy = railway_client.create_tcp_proxy(env.id, db, 5432)
        public = database_url(
            "postgres", railway_client.get_variables(postgres_site.project_id, env.id, db)
        )
        assert public is not None and f"@127.0.0.1:{proxy.proxy_port}/" in public
        assert proxy.proxy_port != 5432  # the proxy's own port, not the database server's
        backing = sandbox.world.environment(env.id).instances[db].database
        assert table_counts(sandbox.servers, backing) == {}
        with psycopg.connect(public, connect_timeout=5) as conn:  # through the proxy's relay
            assert conn.execute("SELECT current_database()").fetchone() == (backing.database,)
    finally:
        railway_client.delete_environment(env.id)


def test_a_taken_name_is_a_conflict(railway_client, wordpress_site):
    with pytest.raises(RailwayConflict) as caught:
        _new_environment(railway_client, wordpress_site, "production")

    assert caught.value.code == "railway_name_taken"


def test_deleting_an_environment_drops_its_databases_and_is_idempotent(
    railway_client, sandbox, wordpress_site
):
    env = _new_environment(railway_client, wordpress_site, "to-delete")
    backing = (
        sandbox.world.environment(env.id).instances[wordpress_site.database_service_id].database
    )

    railway_client.delete_environment(env.id)
    railway_client.delete_environment(env.id)

    with sandbox.servers._mysql_admin() as cursor:
        cursor.execute("SHOW DATABASES LIKE %s", (backing.database,))
        assert cursor.fetchone() is None
    assert railway_client.find_environment(wordpress_site.project_id, "to-delete") is None


def test_it_reads_a_service_instance_and_waits_for_its_deployment(railway_client, postgres_site):
    env = _new_environment(railway_client, postgres_site, "deploys")
    try:
        first = railway_client.get_service_instance(env.id, postgres_site.database_service_id)
        assert first.image == "ghcr.io/railwayapp-templates/postgres-ssl:18"
        assert first.database_engine == "postgres"
        assert first.deployment_status in {"QUEUED", "INITIALIZING", "BUILDING", "DEPLOYING"}

        done = railway_client.wait_for_deployment(
            env.id, postgres_site.database_service_id, interval=0.1
        )
        assert done.status == "SUCCESS"
    finally:
        railway_client.delete_environment(env.id)


def test_an_unknown_service_instance_is_not_found(railway_client, postgres_site):
    with pytest.raises(RailwayNotFound):
        railway_client.get_service_instance(postgres_site.production_environment_id, "missing")


def test_upserting_variables_renders_them_and_redeploys(railway_client, sandbox, postgres_site):
    env = _new_environment(railway_client, postgres_site, "vars")
    app = postgres_site.app_service_id
    try:
        before = railway_client.get_service_instance(env.id, app).deployment_id
        railway_client.upsert_variables(
            postgres_site.project_id, env.id, app, {"MAIL_URL": "smtp://sink:1025", "X": "1"}
        )
        rendered = railway_client.get_variables(postgres_site.project_id, env.id, app)
        assert rendered["MAIL_URL"] == "smtp://sink:1025"
        assert rendered["DATABASE_URL"].startswith("postgresql://")
        assert railway_client.get_service_instance(env.id, app).deployment_id != before

        railway_client.upsert_variables(
            postgres_site.project_id, env.id, app, {"X": "2"}, skip_deploys=True
        )
        assert sandbox.calls["variableCollectionUpsert"] == 2
    finally:
        railway_client.delete_environment(env.id)


def test_it_lists_and_creates_tcp_proxies(railway_client, wordpress_site):
    env = _new_environment(railway_client, wordpress_site, "proxies")
    db = wordpress_site.database_service_id
    try:
        assert railway_client.list_tcp_proxies(env.id, db) == []
        proxy = railway_client.create_tcp_proxy(env.id, db, 3306)
        assert railway_client.list_tcp_proxies(env.id, db) == [proxy]
        assert (proxy.domain, proxy.application_port) == ("127.0.0.1", 3306)
        assert proxy.proxy_port != 3306  # a port of its own, not the database server's
    finally:
        railway_client.delete_environment(env.id)


def test_it_lists_and_creates_service_domains_that_the_sandbox_serves(
    railway_client, sandbox, postgres_site
):
    from staging.http import fetch

    env = _new_environment(railway_client, postgres_site, "domains")
    app = postgres_site.app_service_id
    try:
        assert railway_client.list_service_domains(postgres_site.project_id, env.id, app) == []
        domain = railway_client.create_service_domain(env.id, app, target_port=8080)
        assert domain.domain.startswith("app-domains-")
        assert domain.domain.endswith(".up.railway.localhost")
        listed = railway_client.list_service_domains(postgres_site.project_id, env.id, app)
        assert listed == [domain]

        railway_client.wait_for_deployment(env.id, app, interval=0.1)
        # The staging database is still empty, so the app fails as a real one would.
        assert fetch(sandbox.site_url(domain.domain), timeout=5).status_code == 500
        production = fetch(sandbox.site_url(postgres_site.app_domain), timeout=5)
        assert production.status_code == 200 and "250" in production.text
    finally:
        railway_client.delete_environment(env.id)


def test_redeploying_starts_a_new_deployment(railway_client, postgres_site):
    env = postgres_site.production_environment_id
    before = railway_client.get_service_instance(env, postgres_site.app_service_id)

    railway_client.redeploy(env, postgres_site.app_service_id)

    after = railway_client.wait_for_deployment(
        env, postgres_site.app_service_id, interval=0.1, previous_deployment_id=before.deployment_id
    )
    assert after.id != before.deployment_id and after.succeeded


def test_a_failed_deployment_raises(railway_client, sandbox, postgres_site):
    env = postgres_site.production_environment_id
    sandbox.faults.set("serviceInstanceRedeploy", "deployment_failed")

    railway_client.redeploy(env, postgres_site.app_service_id)

    with pytest.raises(RailwayDeploymentFailed) as caught:
        railway_client.wait_for_deployment(env, postgres_site.app_service_id, interval=0.1)
    assert caught.value.code == "railway_deployment_failed"
    railway_client.redeploy(env, postgres_site.app_service_id)
    railway_client.wait_for_deployment(env, postgres_site.app_service_id, interval=0.1)


@pytest.mark.parametrize(
    ("image", "engine"),
    [
        ("ghcr.io/railwayapp-templates/postgres-ssl:18", "postgres"),
        ("postgres:16", "postgres"),
        ("mysql:9.4", "mysql"),
        ("mariadb:11", "mariadb"),
        ("wordpress:6.8-php8.3-apache", None),
        (None, None),
    ],
)
def test_the_database_engine_is_detected_from_the_image(image, engine):
    assert detect_database_engine(image) == engine


def test_deleting_a_service_domain_removes_it_and_tolerates_one_already_gone(
    railway_client, wordpress_site
):
    env = _new_environment(railway_client, wordpress_site, "domain-undo")
    try:
        app = wordpress_site.app_service_id
        domain = railway_client.create_service_domain(env.id, app)

        railway_client.delete_service_domain(domain.id)
        railway_client.delete_service_domain(domain.id)

        domains = railway_client.list_service_domains(wordpress_site.project_id, env.id, app)
        assert domain.id not in {d.id for d in domains}
    finally:
        railway_client.delete_environment(env.id)
