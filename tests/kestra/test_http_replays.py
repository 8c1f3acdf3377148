"""The flows' HTTP calls, rendered with test inputs and sent to a live test portal: the status
codes the flows expect, and the JSON fields they read, are the portal's real ones.

No worker runs, so a clone stays queued; a test ends a run itself (cancelling it through the
API, or finishing it in the database as a worker would) where the flow waits for the end.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from staging.models import ApiToken, ClientSite, Run, RunStatus, StagingEnvironment, Trigger
from staging.roles import ACCOUNT_MANAGERS
from tests.fixtures_portal import make_user
from tests.kestra import pebble
from tests.kestra.flows import FLOW_DIR, load
from tests.kestra.replay import replay_flow

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Portal:
    url: str
    key: str
    site: ClientSite

    def context(self, **variables: Any) -> pebble.Context:
        return pebble.Context(
            variables={
                "execution": {"id": uuid.uuid4().hex[:22]},
                "flow": {"namespace": "understudy"},
                "outputs": {},
                **variables,
            },
            secrets={"UNDERSTUDY_API_TOKEN": self.key, "CLONE_WEBHOOK_KEY": "test-webhook-key"},
            kv={"UNDERSTUDY_URL": self.url},
        )

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture
def portal(live_server, transactional_db, job_queue, isolated_throttles) -> Portal:
    user = make_user("kestra-bot", group=ACCOUNT_MANAGERS)
    _, key = ApiToken.issue(user, "Kestra", for_kestra=True)
    site = ClientSite.objects.create(
        name="Bakery Co",
        slug="bakery-co",
        railway_project_id="project-bakery",
        production_environment_id="production-bakery",
        app_service_id="app-bakery",
        database_service_id="db-bakery",
        database_engine="postgres",
    )
    return Portal(live_server.url, key, site)


def ready_environment(site: ClientSite, name: str, *, expired: bool = False) -> StagingEnvironment:
    return StagingEnvironment.objects.create(
        site=site,
        name=name,
        status="ready",
        url=f"https://{name}.example.com",
        expires_at=timezone.now() + timedelta(days=-1 if expired else 7),
    )


# clone_staging


def clone_inputs(portal: Portal, **inputs: Any) -> dict[str, Any]:
    return {
        "site": portal.site.slug,
        "name": None,
        "lifetime": None,
        "personal_data_acknowledged": "yes",
    } | inputs


def test_clone_staging_outputs_the_staging_url_once_the_run_has_succeeded(portal: Portal):
    def finish_like_a_worker(create: dict[str, Any]) -> None:
        body = json.loads(create["body"])
        StagingEnvironment.objects.filter(pk=body["environment"]["id"]).update(
            status="ready", url="https://bakery-co-spring-sale.up.railway.app"
        )
        Run.objects.filter(pk=body["run"]["id"]).update(
            status=RunStatus.SUCCEEDED, progress_percent=100, finished_at=timezone.now()
        )

    replay = replay_flow(
        load(FLOW_DIR / "clone_staging.yaml"),
        portal.context(inputs=clone_inputs(portal, name="spring-sale", lifetime=3)),
        after={"create": finish_like_a_worker},
    )

    assert replay.failure is None, replay.failure
    assert replay.outputs["staging_url"] == "https://bakery-co-spring-sale.up.railway.app"
    assert replay.outputs["environment_name"] == "spring-sale"
    run = Run.objects.get(pk=replay.outputs["run_id"])
    assert run.trigger == Trigger.KESTRA
    assert run.environment.expires_at - run.environment.created_at > timedelta(days=2, hours=23)
    assert "is ready: https://bakery-co-spring-sale" in replay.logs[-1]


def test_clone_staging_fails_with_the_runs_error_code_when_the_run_ends_without_success(
    portal: Portal,
):
    def cancel_through_the_api(create: dict[str, Any]) -> None:
        run_id = json.loads(create["body"])["run"]["id"]
        assert portal.call("POST", f"/api/v1/runs/{run_id}/cancel/").status_code == 200

    replay = replay_flow(
        load(FLOW_DIR / "clone_staging.yaml"),
        portal.context(inputs=clone_inputs(portal)),
        after={"create": cancel_through_the_api},
    )

    assert replay.failure is not None and replay.failure.task_id == "check_finished"
    assert replay.failure.message.startswith("run_cancelled: ")
    assert replay.logs == [f"Staging copy of {portal.site.slug} failed: run_cancelled"]
    assert replay.final_error == "run_cancelled"


def test_clone_staging_sends_the_portal_what_it_expects_and_lets_it_pick_a_name(portal: Portal):
    replay = replay_flow(
        load(FLOW_DIR / "clone_staging.yaml"),
        portal.context(inputs=clone_inputs(portal)),
        after={"create": lambda create: _cancel(portal, create)},
    )
    sent = json.loads(replay.requests[0].content)
    assert sent == {"site": "bakery-co", "name": "", "ttl_days": None, "gdpr_acknowledged": True}
    assert replay.requests[0].headers["X-Understudy-Source"] == "kestra"
    environment = StagingEnvironment.objects.get(site=portal.site)
    assert re.fullmatch(r"staging-\d{8}-1", environment.name)


def _cancel(portal: Portal, create: dict[str, Any]) -> None:
    run_id = json.loads(create["body"])["run"]["id"]
    portal.call("POST", f"/api/v1/runs/{run_id}/cancel/")


def test_clone_staging_fails_with_the_portals_error_code_when_the_site_is_unknown(
    portal: Portal,
):
    replay = replay_flow(
        load(FLOW_DIR / "clone_staging.yaml"),
        portal.context(inputs=clone_inputs(portal, site="no-such-site")),
    )

    assert replay.failure is not None and replay.failure.task_id == "check_created"
    assert replay.failure.message.startswith("validation_error: ")
    assert replay.final_error == "validation_error"
    assert not StagingEnvironment.objects.exists()


def test_clone_staging_passes_on_the_callers_refusal_and_the_portal_refuses_the_copy(
    portal: Portal,
):
    replay = replay_flow(
        load(FLOW_DIR / "clone_staging.yaml"),
        portal.context(inputs=clone_inputs(portal, personal_data_acknowledged="no")),
    )

    assert json.loads(replay.requests[0].content)["gdpr_acknowledged"] is False
    assert replay.final_error == "gdpr_acknowledgement_required"
    assert not StagingEnvironment.objects.exists()


def test_clone_staging_polls_again_after_a_5xx_and_reports_the_end(portal: Portal):
    context = portal.context(inputs=clone_inputs(portal))
    with flaky_proxy(portal.url, failures=2, method="GET") as (proxy, received):
        context.kv["UNDERSTUDY_URL"] = proxy
        replay = replay_flow(
            load(FLOW_DIR / "clone_staging.yaml"),
            context,
            after={"create": lambda create: _cancel(portal, create)},
            env={"POLL_SECONDS": "0.1"},
        )

    assert replay.final_error == "run_cancelled"
    assert received[0] == "POST /api/v1/environments/"
    assert len([request for request in received if request.startswith("GET")]) == 3


def test_a_retried_create_gets_the_first_answer_back_instead_of_a_second_copy(portal: Portal):
    flow = load(FLOW_DIR / "clone_staging.yaml")
    create = flow["tasks"][0]
    context = portal.context(inputs=clone_inputs(portal, name="twice"))
    first = replay_flow({"tasks": [create]}, context).requests[0]
    context.variables["outputs"] = {}
    again = replay_flow({"tasks": [create]}, context)

    assert again.failure is None
    assert json.loads(context.variables["outputs"]["create"]["body"])["environment"]["name"] == (
        "twice"
    )
    assert first.headers["Idempotency-Key"] == again.requests[0].headers["Idempotency-Key"]
    assert StagingEnvironment.objects.filter(site=portal.site).count() == 1


# clone_staging_api: its script calls the portal itself (with retries), so the replay records
# no requests of its own; the tests read the portal's database and a stand-in's request log.


def api_replay(
    portal: Portal,
    body: Any,
    *,
    acknowledged: bool = True,
    url: str | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> Any:
    """The webhook flow called with ``body`` (which carries the caller's acknowledgement),
    polling every 0.2 s; ``meanwhile`` runs in a thread while it waits, as a worker would."""
    if acknowledged and isinstance(body, dict):
        body = {"personal_data_acknowledged": True} | body
    context = portal.context(trigger={"body": body})
    if url is not None:
        context.kv["UNDERSTUDY_URL"] = url
    worker = threading.Thread(target=_in_thread(meanwhile)) if meanwhile else None
    if worker:
        worker.start()
    try:
        return replay_flow(
            load(FLOW_DIR / "clone_staging_api.yaml"), context, env={"POLL_SECONDS": "0.2"}
        )
    finally:
        if worker:
            worker.join(timeout=30)


def _in_thread(action: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            action()
        finally:
            connection.close()

    return run


def _first_run(timeout: float = 20) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.select_related("environment").first()
        if run is not None:
            return run
        time.sleep(0.05)
    raise AssertionError("the flow created no run")


def succeed_like_a_worker() -> None:
    run = _first_run()
    StagingEnvironment.objects.filter(pk=run.environment_id).update(
        status="ready", url="https://bakery-co-spring-sale.up.railway.app"
    )
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, progress_percent=100, finished_at=timezone.now()
    )


def test_the_webhook_flow_answers_with_the_staging_url_and_the_run_once_the_copy_is_ready(
    portal: Portal,
):
    replay = api_replay(
        portal,
        {"site": "bakery-co", "environment_name": "Spring Sale!"},
        meanwhile=succeed_like_a_worker,
    )

    assert replay.failure is None, replay.failure
    run = Run.objects.get()
    assert replay.outputs == {
        "ready": "true",
        "http_status": 200,
        "status": "succeeded",
        "staging_url": "https://bakery-co-spring-sale.up.railway.app",
        "run_id": run.pk,
        "run_url": f"{portal.url}/admin/runs/{run.pk}/",
        "environment_name": "spring-sale",
        "error_code": "",
        "error_message": "",
    }
    assert run.trigger == Trigger.KESTRA
    creator = run.environment.created_by
    assert creator is not None and creator.username == "kestra-bot"


def test_the_webhook_flow_answers_202_with_the_run_when_the_callers_wait_runs_out(
    portal: Portal,
):
    started = time.monotonic()
    replay = api_replay(portal, {"site": "bakery-co", "wait_seconds": 1})

    assert time.monotonic() - started < 15
    run = Run.objects.get()
    assert (replay.outputs["ready"], replay.outputs["http_status"]) == ("false", 202)
    assert replay.outputs["status"] == "queued"
    assert replay.outputs["run_url"] == f"{portal.url}/admin/runs/{run.pk}/"
    assert replay.outputs["staging_url"] == ""


def test_the_webhook_flow_answers_at_once_with_wait_seconds_zero(portal: Portal):
    replay = api_replay(portal, {"client": str(portal.site.pk), "ttl_days": 2, "wait_seconds": 0})

    assert replay.outputs["http_status"] == 202
    assert re.fullmatch(r"staging-\d{8}-1", replay.outputs["environment_name"])
    environment = StagingEnvironment.objects.get()
    assert environment.expires_at - environment.created_at < timedelta(days=2, minutes=1)


def test_the_webhook_flow_answers_502_with_the_runs_error_when_the_copy_fails(portal: Portal):
    def cancel_through_the_api() -> None:
        run = _first_run()
        assert portal.call("POST", f"/api/v1/runs/{run.pk}/cancel/").status_code == 200

    replay = api_replay(portal, {"site": "bakery-co"}, meanwhile=cancel_through_the_api)

    assert replay.outputs["http_status"] == 502
    assert replay.outputs["status"] == "cancelled"
    assert replay.outputs["error_code"] == "run_cancelled"
    assert replay.outputs["error_message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"environment_name": "x"}, "validation_error"),
        ({"site": ""}, "validation_error"),
        ({"site": "bakery-co", "environment_name": "a" * 33}, "invalid_name"),
        ({"site": "bakery-co", "wait_seconds": 3601}, "validation_error"),
        ({"site": "bakery-co", "wait_seconds": "soon"}, "validation_error"),
        (["not", "an", "object"], "validation_error"),
    ],
)
def test_the_webhook_flow_refuses_a_bad_body_with_400_before_calling_the_portal(
    portal: Portal, body, code
):
    replay = api_replay(portal, body)

    assert (replay.outputs["http_status"], replay.outputs["error_code"]) == (400, code)
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"site": "bakery-co", "environment_name": "production"}, 400, "invalid_name"),
        ({"site": "bakery-co", "ttl_days": 365}, 400, "invalid_lifetime"),
        ({"site": "no-such-site"}, 400, "validation_error"),
    ],
)
def test_the_webhook_flow_answers_with_the_portals_status_and_error_code(
    portal: Portal, body, status, code
):
    replay = api_replay(portal, body)

    assert replay.failure is None
    assert (replay.outputs["http_status"], replay.outputs["error_code"]) == (status, code)
    assert replay.outputs["error_message"]
    assert replay.outputs["ready"] == "false"


def test_the_webhook_flow_passes_on_a_missing_acknowledgement_and_answers_the_portals_code(
    portal: Portal,
):
    replay = api_replay(portal, {"site": "bakery-co"}, acknowledged=False)

    assert (replay.outputs["http_status"], replay.outputs["error_code"]) == (
        400,
        "gdpr_acknowledgement_required",
    )
    assert not StagingEnvironment.objects.exists()


def test_the_webhook_flow_reports_a_name_already_taken_with_409(portal: Portal):
    ready_environment(portal.site, "spring-sale")

    replay = api_replay(portal, {"site": "bakery-co", "environment_name": "Spring sale"})

    assert (replay.outputs["http_status"], replay.outputs["error_code"]) == (409, "name_taken")


@contextlib.contextmanager
def flaky_proxy(
    target: str, failures: int, status: int = 503, method: str | None = None
) -> Iterator[tuple[str, list[str]]]:
    """A stand-in for the portal's address that answers ``status`` to the first ``failures``
    requests (of ``method``, when given) and passes the rest to ``target``; yields its address
    and the requests it got."""
    received: list[str] = []
    failed: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _relay(self) -> None:
            received.append(f"{self.command} {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if len(failed) < failures and method in (None, self.command):
                failed.append(self.command)
                answer = json.dumps({"error": {"code": "x", "message": "busy", "details": {}}})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer.encode())
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            relayed = httpx.request(
                self.command, target + self.path, headers=headers, content=body, timeout=30
            )
            self.send_response(relayed.status_code)
            self.send_header("Content-Type", relayed.headers.get("Content-Type", "text/plain"))
            self.end_headers()
            self.wfile.write(relayed.content)

        do_GET = do_POST = _relay

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_the_webhook_flow_retries_a_5xx_and_starts_one_copy(portal: Portal):
    with flaky_proxy(portal.url, failures=2) as (proxy, received):
        replay = api_replay(portal, {"site": "bakery-co", "wait_seconds": 0}, url=proxy)

    assert replay.outputs["http_status"] == 202, replay.outputs
    assert received == ["POST /api/v1/environments/"] * 3
    assert Run.objects.count() == 1


def test_the_webhook_flow_does_not_retry_a_4xx(portal: Portal):
    with flaky_proxy(portal.url, failures=1, status=409) as (proxy, received):
        replay = api_replay(portal, {"site": "bakery-co"}, url=proxy)

    assert (replay.outputs["http_status"], replay.outputs["error_code"]) == (409, "x")
    assert received == ["POST /api/v1/environments/"]
    assert not Run.objects.exists()


def test_the_webhook_flow_answers_502_when_the_portal_cannot_be_reached(portal: Portal):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{unused.getsockname()[1]}"
    replay = api_replay(portal, {"site": "bakery-co"}, url=closed)

    assert (replay.outputs["http_status"], replay.outputs["error_code"]) == (
        502,
        "portal_unreachable",
    )
    assert "4 attempts" in replay.outputs["error_message"]


# list_staging_environments and delete_staging_environment


def test_the_list_flow_outputs_the_count_and_the_environments(portal: Portal):
    ready_environment(portal.site, "live-one")
    ready_environment(portal.site, "old-one", expired=True)
    flow = load(FLOW_DIR / "list_staging_environments.yaml")

    everything = replay_flow(flow, portal.context(inputs={"site": None, "expired": "any"}))
    expired = replay_flow(flow, portal.context(inputs={"site": "bakery-co", "expired": "true"}))
    other = replay_flow(flow, portal.context(inputs={"site": "globex", "expired": "false"}))

    assert everything.failure is None, everything.failure
    assert everything.outputs["count"] == 2
    assert {e["name"] for e in everything.outputs["environments"]} == {"live-one", "old-one"}
    assert [e["name"] for e in expired.outputs["environments"]] == ["old-one"]
    assert other.outputs == {"count": 0, "environments": []}
    assert everything.logs == ["2 staging environment(s)"]


def test_the_delete_flow_queues_a_teardown_and_outputs_its_run(portal: Portal):
    environment = ready_environment(portal.site, "to-go")

    replay = replay_flow(
        load(FLOW_DIR / "delete_staging_environment.yaml"),
        portal.context(inputs={"environment_id": environment.pk}),
    )

    assert replay.failure is None, replay.failure
    run = Run.objects.get(environment=environment)
    assert replay.outputs == {"run_id": run.pk, "status": "queued"}
    assert run.operation == "teardown" and run.trigger == Trigger.KESTRA


def test_the_delete_flow_fails_with_the_portals_error_code(portal: Portal):
    replay = replay_flow(
        load(FLOW_DIR / "delete_staging_environment.yaml"),
        portal.context(inputs={"environment_id": 999_999}),
    )

    assert replay.failure is not None and replay.failure.message.startswith("not_found: ")
    assert replay.logs == ["Teardown of staging environment 999999 failed: not_found"]


# cleanup_expired_staging: the command runs in the portal's image; here, in this repository.


def test_the_cleanup_flows_commands_report_what_the_command_tore_down(portal: Portal):
    flow = load(FLOW_DIR / "cleanup_expired_staging.yaml")
    task = dict(flow["tasks"][0])
    # The image's /app is this repository; the worker runs the commands in it.
    task["commands"] = [
        line.replace("/app/manage.py", str(ROOT / "manage.py")) for line in task["commands"]
    ]
    task["taskRunner"] = {"type": "io.kestra.plugin.core.runner.Process"}
    database = settings.DATABASES["default"]
    context = portal.context()
    context.secrets |= {
        "UNDERSTUDY_DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        "UNDERSTUDY_REDIS_URL": settings.REDIS_URL,
        "UNDERSTUDY_SECRET_KEY": "k" * 60,
        "RAILWAY_API_TOKEN": "",
    }
    ready_environment(portal.site, "not-yet")

    replay = replay_flow(
        {"tasks": [task, flow["tasks"][1]]},
        context,
        env={
            "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        },
    )

    assert replay.failure is None, replay.failure
    assert context.variables["outputs"]["cleanup"]["vars"] == {
        "candidates": 0,
        "torn_down": 0,
        "failed": 0,
    }
    assert replay.logs == ["Tore down 0 of 0 expired staging copies; 0 failed."]
