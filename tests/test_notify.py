"""Notifications when a run ends. The Slack webhook's URL is its only secret: it is never
logged, whatever the log level of the portal."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from staging import notify
from staging.models import RunStatus
from tests.factories import make_run

pytestmark = pytest.mark.django_db
SECRET_PATH = "/services/T0AGENCY/B0UNDERSTUDY/s3cr3tW3bh00kPathXyZ"


class Slack(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        Slack.received.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        """The stand-in's own access log is not the portal's."""


@pytest.fixture
def slack(settings) -> Iterator[list[bytes]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slack)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Slack.received = []
    settings.SLACK_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}{SECRET_PATH}"
    yield Slack.received
    server.shutdown()
    server.server_close()


def test_a_finished_run_is_posted_to_slack_without_logging_the_webhook_url(slack, caplog):
    run = make_run(status=RunStatus.SUCCEEDED)

    with caplog.at_level(logging.DEBUG):
        notify.run_finished(run)

    assert len(slack) == 1
    assert b"is ready" in slack[0]
    secret = SECRET_PATH.rsplit("/", 1)[-1]
    assert all(secret not in record.getMessage() for record in caplog.records)
    assert all("B0UNDERSTUDY" not in str(record.args) for record in caplog.records)


def test_a_failing_webhook_is_logged_by_its_kind_of_error_only(settings, caplog):
    settings.SLACK_WEBHOOK_URL = f"http://127.0.0.1:9{SECRET_PATH}"  # nothing listens there
    run = make_run(status=RunStatus.FAILED, error_code="copy_failed", error_message="no")

    with caplog.at_level(logging.DEBUG):
        notify.run_finished(run)

    messages = [record.getMessage() for record in caplog.records]
    assert any("Slack notification failed: ConnectError" in message for message in messages)
    assert all("s3cr3t" not in message for message in messages)
