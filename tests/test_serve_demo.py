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

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

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
