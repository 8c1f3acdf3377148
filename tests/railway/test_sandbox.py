"""The sandbox itself: state that survives a restart, real databases, sites, the demo seed."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from railway_sandbox import Sandbox
from railway_sandbox.seed import php_serialize
from railway_sandbox.site import table_counts
from staging.http import fetch
from staging.railway import RailwayClient
from tests.fixtures_railway import SANDBOX_TOKEN


def _sandbox(state, **options):
    return Sandbox(
        state,
        postgres_url=settings.RAILWAY_SANDBOX_POSTGRES_URL,
        mysql_url=settings.RAILWAY_SANDBOX_MYSQL_URL,
        token=SANDBOX_TOKEN,
        deploy_seconds=0.2,
        **options,
    )


@pytest.fixture
def fresh_sandbox(tmp_path):
    sandbox = _sandbox(tmp_path / "state.json").start()
    yield sandbox
    sandbox.stop()
    _sandbox(tmp_path / "state.json").drop_all_databases()


def test_each_state_file_names_its_own_databases(tmp_path):
    here, there = tmp_path / "a" / "state.json", tmp_path / "b" / "state.json"

    assert _sandbox(here).database_prefix == _sandbox(here).database_prefix
    assert _sandbox(here).database_prefix != _sandbox(there).database_prefix
    assert _sandbox(here).database_prefix.startswith("sbx")


def test_two_sandboxes_never_drop_each_others_databases(tmp_path):
    first = _sandbox(tmp_path / "first.json")
    second = _sandbox(tmp_path / "second.json")
    try:
        kept = first.add_project("Same Name", engine="postgres")
        second.add_project("Same Name", engine="postgres")
        second.drop_all_databases()

        assert first.database_prefix != second.database_prefix
        assert "Same Name" in {p.name for p in first.world.projects.values()}
        with psycopg.connect(kept.database_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        first.drop_all_databases()
        second.drop_all_databases()


def test_a_restarted_sandbox_remembers_everything(tmp_path, fresh_sandbox):
    site = fresh_sandbox.add_project("Restart Co", engine="postgres")
    with RailwayClient(fresh_sandbox.api_url, SANDBOX_TOKEN) as client:
        env = client.create_environment(site.project_id, "kept", site.production_environment_id)
        client.create_tcp_proxy(env.id, site.database_service_id, 5432)
        domain = client.create_service_domain(env.id, site.app_service_id)
        variables = client.get_variables(site.project_id, env.id, site.database_service_id)
    fresh_sandbox.stop()

    again = _sandbox(tmp_path / "state.json").start()
    try:
        with RailwayClient(again.api_url, SANDBOX_TOKEN) as client:
            assert client.find_environment(site.project_id, "kept") == env
            assert client.get_variables(site.project_id, env.id, site.database_service_id) == (
                variables
            )
            listed = client.list_service_domains(site.project_id, env.id, site.app_service_id)
            assert listed == [domain]
            assert len(client.list_tcp_proxies(env.id, site.database_service_id)) == 1
    finally:
        again.stop()


def test_each_tcp_proxy_has_a_port_of_its_own_relayed_to_its_database_across_a_restart(
    tmp_path, fresh_sandbox
):
    first = fresh_sandbox.add_project("Relay One", engine="postgres")
    second = fresh_sandbox.add_project("Relay Two", engine="mariadb")
    with RailwayClient(fresh_sandbox.api_url, SANDBOX_TOKEN) as client:
        one = client.get_variables(
            first.project_id, first.production_environment_id, first.database_service_id
        )["DATABASE_PUBLIC_URL"]
        two = client.get_variables(
            second.project_id, second.production_environment_id, second.database_service_id
        )["MARIADB_URL"]
    ports = {urlsplit(one).port, urlsplit(two).port}

    assert len(ports) == 2 and not ports & {5432, 3306}
    assert _current_database(one) == first.database_url.rsplit("/", 1)[1]
    fresh_sandbox.stop()
    with pytest.raises(psycopg.OperationalError):
        _current_database(one)
    again = _sandbox(tmp_path / "state.json").start()
    try:
        assert _current_database(one) == first.database_url.rsplit("/", 1)[1]
    finally:
        again.stop()


def _current_database(url: str) -> str:
    with psycopg.connect(url, connect_timeout=3) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
        assert row is not None
        return str(row[0])


def test_database_services_are_real_databases_with_their_own_users(railway_client, postgres_site):
    with psycopg.connect(postgres_site.database_url) as conn:
        owner = conn.execute("SELECT current_user").fetchone()
        assert conn.execute("SELECT count(*) FROM invoices").fetchone() == (250,)
    assert owner is not None and owner[0] != "postgres"


def test_a_wordpress_site_page_is_built_from_its_database(sandbox, wordpress_site):
    page = fetch(sandbox.site_url(wordpress_site.app_domain), timeout=5)

    assert page.status_code == 200
    assert "https://tearoom.example" in page.text and "Tea Room" in page.text


def test_a_site_answers_503_until_its_deployment_succeeds(railway_client, sandbox, postgres_site):
    env = postgres_site.production_environment_id
    railway_client.redeploy(env, postgres_site.app_service_id)

    assert fetch(sandbox.site_url(postgres_site.app_domain), timeout=5).status_code == 503
    railway_client.wait_for_deployment(env, postgres_site.app_service_id, interval=0.1)
    assert fetch(sandbox.site_url(postgres_site.app_domain), timeout=5).status_code == 200


def test_an_unknown_domain_is_not_found(sandbox):
    assert fetch(sandbox.site_url("nothing-here.up.railway.localhost"), 5).status_code == 404


def test_documents_that_do_not_match_railways_schema_are_refused(sandbox):
    answer = httpx.post(
        sandbox.api_url,
        json={"query": "query { project(id: 1) { nonsense } }"},
        headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
    )

    assert answer.status_code == 400
    messages = " ".join(e["message"] for e in answer.json()["errors"])
    assert "nonsense" in messages and "String cannot represent" in messages


def test_the_demo_seed_has_realistic_production_data_and_is_idempotent(fresh_sandbox):
    bakery, ledger = fresh_sandbox.seed_demo()
    assert [p.project_id for p in fresh_sandbox.seed_demo()] == [
        bakery.project_id,
        ledger.project_id,
    ]

    production = fresh_sandbox.world.projects[bakery.project_id].environments[
        bakery.production_environment_id
    ]
    backing = production.instances[bakery.database_service_id].database
    counts = table_counts(fresh_sandbox.servers, backing)
    assert counts["wp_posts"] >= 300 and counts["wp_comments"] > 100 and counts["wp_users"] >= 5
    assert set(counts) >= {"wp_options", "wp_postmeta", "wp_term_relationships", "wp_links"}
    with fresh_sandbox.servers.connect_mysql(backing) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT option_value FROM wp_options WHERE option_name = 'widget_text'")
        (widget,) = cursor.fetchone()
    assert f"https://{bakery.app_domain}/contact/" in widget and widget.startswith("a:2:{")
    assert backing.database == f"{fresh_sandbox.database_prefix}_bakery_production"
    ledger_backing = (
        fresh_sandbox.world.projects[ledger.project_id]
        .environments[ledger.production_environment_id]
        .instances[ledger.database_service_id]
        .database
    )
    assert table_counts(fresh_sandbox.servers, ledger_backing)["invoice_lines"] == 7500


def test_php_serialize_counts_bytes_not_characters():
    assert php_serialize({"url": "https://café.example"}) == (
        'a:1:{s:3:"url";s:21:"https://café.example";}'
    )


def test_the_command_refuses_an_unknown_seed():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("railway_sandbox", "--seed", "nonsense")
