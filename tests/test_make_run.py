"""`make run`'s demo started for real (serve_demo, in its own directory and ports): the terminal
shows what a person needs once everything answers, the processes' output goes to the log file,
two workers listen, and a stop stops everything."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings

from railway_sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
READY = "Press Ctrl-C to stop."


def free_port_pair() -> int:
    """A port free together with the next one (the sandbox's and the demo WordPress's)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        with socket.socket() as following:
            try:
                following.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two free ports in a row")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningDemo:
    terminal: str
    directory: Path
    address: str
    process: subprocess.Popen[str]


@pytest.fixture(scope="module")
def running_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    directory = tmp_path_factory.mktemp("make-run")
    redis_url = f"redis://127.0.0.1:6379/{os.environ.get('TEST_REDIS_DB', '15')}"
    redis.Redis.from_url(redis_url).flushdb()
    address = f"127.0.0.1:{free_port()}"
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "ALLOWED_HOSTS"}
    } | {
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
        "REDIS_URL": redis_url,
        "RAILWAY_SANDBOX_PORT": str(free_port_pair()),
        "UNDERSTUDY_DEMO_DIR": str(directory / "var"),
        "UNDERSTUDY_ENV_FILE": str(directory / ".env"),
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve_demo", "--addr", address],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.strip() == READY:
                break
        terminal = "".join(lines)
        assert terminal.rstrip().endswith(READY), terminal
        yield RunningDemo(terminal, directory, address, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        state = directory / "var" / "railway-sandbox.json"
        if state.exists():
            Sandbox(
                state,
                postgres_url=settings.RAILWAY_SANDBOX_POSTGRES_URL,
                mysql_url=settings.RAILWAY_SANDBOX_MYSQL_URL,
            ).drop_all_databases()
        redis.Redis.from_url(redis_url).flushdb()


def test_the_terminal_shows_the_address_the_login_and_where_the_logs_are(running_demo):
    terminal = running_demo.terminal

    assert f"Understudy is running at http://{running_demo.address}/admin/" in terminal
    assert "log in as: demo" in terminal
    assert "password:  " in terminal
    assert (
        "var/demo.log" in terminal or str(running_demo.directory / "var" / "demo.log") in terminal
    )
    # The login comes last, after everything answered: nothing of the processes' own output.
    assert terminal.index("log in as: demo") > terminal.index("Starting Understudy's demo")
    assert len(terminal.splitlines()) <= 14, terminal
    assert '"level"' not in terminal and "Worker" not in terminal and "Applying" not in terminal


def test_the_processes_write_to_the_log_file(running_demo):
    path = running_demo.directory / "var" / "demo.log"
    # The demo says it is ready once both workers are registered; each logs that it listens
    # right after registering.
    deadline = time.monotonic() + 10
    while path.read_text().count("Listening on default") < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    log = path.read_text()

    assert "Applying staging.0001_initial" in log
    assert log.count("Listening on default") >= 2
    assert "Railway sandbox API" in log


def test_two_workers_listen(running_demo):
    health = httpx.get(f"http://{running_demo.address}/healthz", timeout=10).json()

    assert (health["status"], health["workers"]) == ("ok", 2)


def test_the_commands_find_the_demo_through_its_env_file(running_demo):
    env_file = running_demo.directory / ".env"
    environment = {
        name: value
        for name, value in os.environ.items()
        if name
        not in {"DATABASE_URL", "SECRET_KEY", "DEBUG", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
        and name != "RAILWAY_SANDBOX_PORT"
    } | {"UNDERSTUDY_ENV_FILE": str(env_file)}

    listed = subprocess.run(
        [sys.executable, "manage.py", "reconcile_staging", "--json"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert env_file.stat().st_mode & 0o777 == 0o600
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert listed.stderr == ""
    assert '"orphaned_on_railway": []' in listed.stdout


def test_a_second_start_says_the_demo_runs_and_changes_nothing(running_demo):
    again = subprocess.run(
        [sys.executable, "manage.py", "serve_demo", "--addr", running_demo.address],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        | {
            "DEBUG": "true",
            "UNDERSTUDY_DEMO_DIR": str(running_demo.directory / "var"),
            "UNDERSTUDY_ENV_FILE": str(running_demo.directory / ".env"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout and "Nothing was changed." in again.stdout
