"""`make run` started a second time says the demo is already running and changes nothing: it
looks before migrating or resetting the demo login."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from railway_sandbox import Sandbox, wordpress
from railway_sandbox.management.commands import serve_demo

pytestmark = pytest.mark.django_db


class PortalHealth(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "ok", "checks": {"database": "ok", "redis": "ok"}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def running_portal() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PortalHealth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def other_program() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture(autouse=True)
def nothing_may_change(monkeypatch, tmp_path):
    """A start that got past its checks would migrate first: here that is a failure."""

    def no_migrate(*args, **kwargs):
        raise AssertionError("the second start migrated")

    monkeypatch.setattr(serve_demo, "call_command", no_migrate)
    monkeypatch.setattr(serve_demo, "PID_FILE", tmp_path / "serve_demo.pid")


def start(port: int) -> str:
    out = StringIO()
    call_command("serve_demo", "--addr", f"127.0.0.1:{port}", stdout=out)
    return out.getvalue()


def test_a_second_start_beside_a_running_portal_says_so_and_changes_nothing(running_portal):
    User.objects.create_user(serve_demo.DEMO_USERNAME, password="kept")

    said = start(running_portal)

    assert f"already running at http://127.0.0.1:{running_portal}/admin/" in said
    assert "Nothing was changed." in said
    assert User.objects.get(username=serve_demo.DEMO_USERNAME).check_password("kept")


def test_a_demo_whose_pid_file_names_a_live_process_is_running(other_program, tmp_path):
    serve_demo.PID_FILE.write_text(f"{os.getppid()} 127.0.0.1:8123\n")

    said = start(other_program)

    assert f"already running (pid {os.getppid()}) at http://127.0.0.1:8123/admin/" in said
    assert not User.objects.filter(username=serve_demo.DEMO_USERNAME).exists()


def test_a_port_taken_by_another_program_stops_the_start_before_any_change(other_program):
    with pytest.raises(CommandError, match="Another program listens"):
        start(other_program)

    assert not User.objects.filter(username=serve_demo.DEMO_USERNAME).exists()


@pytest.mark.parametrize("address", ["127.0.0.1:٨٠٠٠", "127.0.0.1:http", "127.0.0.1:70000"])
def test_an_address_without_an_ascii_port_is_refused(address):
    with pytest.raises(CommandError, match="HOST:PORT"):
        call_command("serve_demo", "--addr", address, stdout=StringIO())


def test_the_demo_env_file_is_written_once_for_its_owner_only(tmp_path):
    env_file = tmp_path / ".env"

    assert serve_demo.write_demo_env(env_file, {"DEBUG": "true", "SECRET_KEY": "first"})
    assert not serve_demo.write_demo_env(env_file, {"SECRET_KEY": "second"})

    assert "SECRET_KEY=first\n" in env_file.read_text()
    assert "second" not in env_file.read_text()
    assert env_file.stat().st_mode & 0o777 == 0o600


def test_the_demo_env_holds_what_the_commands_need_to_reach_the_demo(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("RAILWAY_SANDBOX_PORT", "8890")

    values = serve_demo.demo_env_values()

    assert values["DEBUG"] == "true"
    assert values["DATABASE_URL"].startswith("sqlite:///") and values["DATABASE_URL"].endswith(
        "/db.sqlite3"
    )
    assert len(values["SECRET_KEY"]) >= 50
    assert values["SECRET_KEY"] != serve_demo.demo_env_values()["SECRET_KEY"]
    assert values["REDIS_URL"].startswith("redis://")
    assert values["RAILWAY_SANDBOX_PORT"] == "8890"
    assert values["STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES"] == "true"


def test_without_php_the_demo_keeps_the_sandbox_page_and_says_how_to_get_wordpress(monkeypatch):
    monkeypatch.setattr(wordpress, "unavailable", lambda: "php is not installed")
    out = StringIO()
    command = serve_demo.Command(stdout=out)
    environment: dict[str, str] = {}

    php, login = command._start_real_wordpress(StringIO(), environment)

    assert (php, login) == (None, None)
    assert "STAGING_URL_TEMPLATE" not in environment
    assert "apt-get install php-cli php-mysql wordpress" in out.getvalue()


def on_host(domain: str, port: int, method: str, path: str, **options: Any) -> httpx.Response:
    """A request to the PHP server as a browser would send it to ``domain`` (a *.localhost name,
    loopback for browsers, not for the resolver)."""
    return httpx.request(
        method,
        f"http://127.0.0.1:{port}{path}",
        headers={"Host": f"{domain}:{port}"},
        timeout=30,
        **options,
    )


@pytest.fixture
def demo_sandbox(tmp_path, monkeypatch, settings) -> Iterator[Sandbox]:
    """A sandbox seeded as `make run` seeds it, with the demo's files under tmp_path."""
    sandbox = Sandbox(
        tmp_path / "railway-sandbox.json",
        postgres_url=settings.RAILWAY_SANDBOX_POSTGRES_URL,
        mysql_url=settings.RAILWAY_SANDBOX_MYSQL_URL,
        deploy_seconds=0.3,
        token=settings.RAILWAY_SANDBOX_TOKEN,
    ).start()
    monkeypatch.setattr(serve_demo, "SANDBOX_STATE", sandbox.state_path)
    monkeypatch.setattr(serve_demo, "WORDPRESS_DOCROOT", tmp_path / "wordpress")
    monkeypatch.setattr(serve_demo, "WORDPRESS_PASSWORD_FILE", tmp_path / "wp-password")
    settings.RAILWAY_SANDBOX_PORT = sandbox.port
    try:
        sandbox.seed_demo()
        yield sandbox
    finally:
        sandbox.stop()
        sandbox.drop_all_databases()


def test_with_php_bakery_co_is_a_real_wordpress_and_ledger_app_still_answers(
    demo_sandbox, tmp_path
):
    out = StringIO()
    log_path = tmp_path / "demo.log"
    # A real file, as make run's: the PHP server writes its own lines to it.
    log = log_path.open("a", buffering=1)
    environment: dict[str, str] = {}
    command = serve_demo.Command(stdout=out)

    php, login = command._start_real_wordpress(log, environment)
    try:
        assert php is not None and login is not None, out.getvalue() + log_path.read_text()
        port = demo_sandbox.port + 1
        assert environment["STAGING_URL_TEMPLATE"] == f"http://{{domain}}:{port}"
        password = serve_demo.WORDPRESS_PASSWORD_FILE.read_text().strip()
        assert f"{serve_demo.WORDPRESS_ADMIN} / {password}" in login
        projects = {p.name: p for p in demo_sandbox.world.projects.values()}
        bakery, ledger = projects["Bakery Co"], projects["Ledger App"]
        domain = next(
            d.domain
            for i in bakery.environments[bakery.production_environment_id].instances.values()
            for d in i.domains
        )
        home = on_host(domain, port, "GET", "/")
        assert home.status_code == 200
        assert '<meta name="generator" content="WordPress' in home.text
        assert "Saturday sourdough" in home.text
        logged_in = on_host(
            domain,
            port,
            "POST",
            "/wp-login.php",
            data={"log": serve_demo.WORDPRESS_ADMIN, "pwd": password, "testcookie": "1"},
            cookies={"wordpress_test_cookie": "WP Cookie check"},
        )
        assert logged_in.status_code == 302
        assert "/wp-admin/" in logged_in.headers["location"]
        ledger_domain = next(
            d.domain
            for i in ledger.environments[ledger.production_environment_id].instances.values()
            for d in i.domains
        )
        # Not WordPress: the PHP server hands it to the sandbox's own page.
        ledger_page = on_host(ledger_domain, port, "GET", "/")
        assert ledger_page.status_code == 200
        assert "invoices" in ledger_page.text
    finally:
        if php is not None:
            wordpress.stop_server(php)

    # A second start keeps the installed site and its password.
    php, login = command._start_real_wordpress(log, {})
    try:
        assert php is not None
        assert serve_demo.WORDPRESS_PASSWORD_FILE.read_text().strip() == password
        assert '"installed":false' in log_path.read_text()
    finally:
        if php is not None:
            wordpress.stop_server(php)
        log.close()
