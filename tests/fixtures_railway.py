"""Fixtures for Railway: a sandbox on a free port, and clients pointed at it.

Every database the sandbox makes on the local servers is dropped when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from railway_sandbox import Sandbox, SandboxProject
from staging.railway import RailwayClient

SANDBOX_TOKEN = "sandbox-token-for-tests-7f3a9c"


class RecordingSleep:
    """Records the delays a client asks for, waiting only a moment so time still passes."""

    def __init__(self, cap: float = 0.05) -> None:
        self.delays: list[float] = []
        self.cap = cap

    def __call__(self, seconds: float) -> None:
        import time

        self.delays.append(seconds)
        time.sleep(min(seconds, self.cap))


@pytest.fixture(scope="session")
def railway_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A running sandbox (fast deployments), shared by the session; faults cleared per test.

    Its databases are named after its own state file, so a demo or another test run on the
    machine never loses one to this session's clean-up."""
    state = tmp_path_factory.mktemp("railway") / "sandbox.json"
    sandbox = Sandbox(
        state,
        postgres_url=settings.RAILWAY_SANDBOX_POSTGRES_URL,
        mysql_url=settings.RAILWAY_SANDBOX_MYSQL_URL,
        deploy_seconds=0.3,
        apply_seconds=0.2,
        token=SANDBOX_TOKEN,
    ).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
        sandbox.drop_all_databases()


@pytest.fixture
def sandbox(railway_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session's sandbox with no faults switched on and its call counts reset."""
    railway_sandbox.faults.clear()
    railway_sandbox.reset_calls()
    yield railway_sandbox
    railway_sandbox.faults.clear()


@pytest.fixture(scope="session")
def wordpress_site(railway_sandbox: Sandbox) -> SandboxProject:
    """A WordPress client site on MariaDB with a little production data."""
    return railway_sandbox.add_project(
        "Tea Room",
        engine="mariadb",
        wordpress=True,
        production_data_sql=(
            "CREATE TABLE wp_options (option_id bigint AUTO_INCREMENT PRIMARY KEY, "
            "option_name varchar(191) UNIQUE, option_value longtext, autoload varchar(20));"
            "INSERT INTO wp_options (option_name, option_value, autoload) VALUES "
            "('siteurl', 'https://tearoom.example', 'yes'), ('blogname', 'Tea Room', 'yes');"
            "CREATE TABLE wp_posts (ID bigint AUTO_INCREMENT PRIMARY KEY, post_title text, "
            "post_type varchar(20), post_status varchar(20), post_date datetime);"
        ),
    )


@pytest.fixture(scope="session")
def postgres_site(railway_sandbox: Sandbox) -> SandboxProject:
    """A non-WordPress app on Postgres with a filled production database."""
    return railway_sandbox.add_project(
        "Ledger Test",
        engine="postgres",
        production_data_sql=(
            "CREATE TABLE invoices (id serial PRIMARY KEY, total integer);"
            "INSERT INTO invoices (total) SELECT g FROM generate_series(1, 250) g;"
        ),
    )


@pytest.fixture
def railway_client(sandbox: Sandbox) -> Iterator[RailwayClient]:
    """A client of the sandbox whose waits are recorded (``client.sleep_calls``), not slept."""
    sleep = RecordingSleep()
    with RailwayClient(sandbox.api_url, SANDBOX_TOKEN, timeout=2.0, sleep=sleep) as client:
        client.recorded_sleep = sleep  # type: ignore[attr-defined]
        yield client
