"""Fixtures of the reliability suite. Add fixtures only; helpers live in the test modules."""

from __future__ import annotations

import contextlib
import importlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.apps import apps as django_apps

from staging import roles
from tests.fixtures_api import Persona, make_persona


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A Redis server of this test's own, so restarting it disturbs nobody else's runs."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--daemonize", "yes",
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--pidfile", str(self.directory / "redis.pid"),
                "--logfile", str(self.directory / "redis.log"),
            ],
            check=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self.is_up():
            if time.monotonic() > deadline:
                raise RuntimeError("the private Redis did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop it without saving: what it held is gone, as after a crash of a cache server."""
        if self.is_up():
            client = redis.Redis.from_url(self.url)
            # The server closes the connection as it goes.
            with contextlib.suppress(redis.ConnectionError):
                client.shutdown(nosave=True)
        deadline = time.monotonic() + 10
        while self.is_up() and time.monotonic() < deadline:
            time.sleep(0.05)

    def is_up(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False


@pytest.fixture
def private_redis(tmp_path: Path, settings: Any) -> Iterator[PrivateRedis]:
    """A private Redis, running, that the job queue of this process uses."""
    server = PrivateRedis(tmp_path)
    server.start()
    settings.RQ_QUEUES = {"default": {"URL": server.url, "DEFAULT_TIMEOUT": 3600}}
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def operator_persona(transactional_db: None) -> Persona:
    """An account manager with an API token, in a test whose database is really committed
    (where the groups the migrations made have been flushed away by an earlier test)."""
    migration = importlib.import_module("staging.migrations.0002_roles")
    migration.create_roles(django_apps, None)
    return make_persona("ana", group=roles.ACCOUNT_MANAGERS)
