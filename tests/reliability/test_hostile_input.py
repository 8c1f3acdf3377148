"""Hostile input at every door: the API, the portal's forms and the management commands.

Each bad input gets a clear 4xx answer (the API's in its error format, with a stable code) and
changes nothing: no environment, run, step, audit event or idempotency record is written and no
job is queued.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from staging import roles
from staging.models import (
    AuditEvent,
    ClientSite,
    EnvironmentStatus,
    IdempotencyRecord,
    Run,
    RunStatus,
    RunStep,
    StagingEnvironment,
)
from tests.factories import make_environment, make_run, make_site
from tests.fixtures_api import Persona, make_persona
from tests.fixtures_portal import PASSWORD, logged_in, make_user

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]

ENVIRONMENTS = "/api/v1/environments/"

# Each is tried as a name, a slug, an id, a number and a filter. What it stands for is the key.
HOSTILE_STRINGS: dict[str, str] = {
    "right-to-left override": "staging\u202egnp.exe",
    "zero-width space": "stag\u200bing",
    "emoji": "staging-\U0001f680",
    "Cyrillic look-alike": "st\u0430ging",
    "SQL injection": "x'; DROP TABLE staging_run; --",
    "SQL tautology": "' OR '1'='1",
    "shell substitution": "$(rm -rf /)",
    "backticks": "`reboot`",
    "path traversal": "../../etc/passwd",
    "encoded path traversal": "..%2F..%2Fetc%2Fpasswd",
    "NUL byte": "staging\x00name",
    "header injection": "ok\r\nX-Injected: 1",
    "10,000 characters": "a" * 10_000,
    "HTML": "<script>alert(1)</script>",
    "production's name": "production",
}
HOSTILE_IDS: dict[str, str] = {
    "path traversal": "../../etc/passwd",
    "encoded path traversal": "..%2F..%2Fetc%2Fpasswd",
    "SQL injection": "1;DROP TABLE staging_run",
    "negative": "-1",
    "beyond bigint": "9" * 30,
    "float": "1.5",
    "unicode digit": "\u0661",
    "emoji": "\U0001f680",
}


def record(record_property: Any, case: str, outcome: str, **figures: Any) -> None:
    record_property("category", "input")
    record_property("case", case)
    record_property("outcome", outcome)
    record_property("figures", json.dumps(figures))


def state() -> tuple[Any, ...]:
    """Everything a bad input could have changed, to compare before and after."""
    return (
        list(StagingEnvironment.objects.order_by("pk").values_list("pk", "name", "status")),
        list(StagingEnvironment.objects.order_by("pk").values_list("expires_at", flat=True)),
        list(Run.objects.order_by("pk").values_list("pk", "status", "cancel_requested")),
        list(ClientSite.objects.order_by("pk").values_list("pk", "slug", "name")),
        RunStep.objects.count(),
        AuditEvent.objects.count(),
        IdempotencyRecord.objects.count(),
    )


@pytest.fixture(autouse=True)
def _own_throttle_counters(isolated_throttles: None) -> None:
    """Dozens of calls per test from one address must not run into another test's counters."""


@pytest.fixture
def unchanged(django_capture_on_commit_callbacks: Any) -> Any:
    """Asserts, when the test ends, that nothing was written and nothing was queued."""
    before = state()
    with django_capture_on_commit_callbacks() as callbacks:
        yield
    assert state() == before
    assert callbacks == [], "a job was queued"


@pytest.fixture
def site() -> ClientSite:
    return make_site(slug="tea-room")


@pytest.fixture
def environment(site: ClientSite) -> StagingEnvironment:
    return make_environment(site, name="spring-sale", status=EnvironmentStatus.READY)


def error_code(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "details"} <= set(body["error"]), body
    return str(body["error"]["code"])


# -- the API --------------------------------------------------------------------------------


@pytest.mark.parametrize("what", HOSTILE_STRINGS)
def test_a_hostile_name_is_refused_by_the_api_and_nothing_is_created(
    what, api_manager, site, environment, record_property, request
):
    request.getfixturevalue("unchanged")
    response = api_manager.client.post(
        ENVIRONMENTS,
        {"site": site.slug, "name": HOSTILE_STRINGS[what], "gdpr_acknowledged": True},
        format="json",
    )

    assert response.status_code == 400
    assert error_code(response) in {"invalid_name", "validation_error"}
    record(record_property, f"API create, name: {what}", f"400 {error_code(response)}")


@pytest.mark.parametrize("what", HOSTILE_STRINGS)
def test_a_hostile_site_is_refused_by_the_api_and_nothing_is_created(
    what, api_manager, site, unchanged, record_property
):
    response = api_manager.client.post(
        ENVIRONMENTS, {"site": HOSTILE_STRINGS[what], "gdpr_acknowledged": True}, format="json"
    )

    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert "site" in response.json()["error"]["details"]
    record(record_property, f"API create, site: {what}", "400 validation_error")


@pytest.mark.parametrize(
    ("what", "value"),
    [
        ("a text", "seven"),
        ("SQL injection", "7; DROP TABLE staging_run"),
        ("a huge number", 10**30),
        ("a negative number", -7),
        ("zero", 0),
        ("a list", [7]),
        ("an object", {"days": 7}),
        ("true", True),
    ],
)
def test_a_hostile_lifetime_is_refused_by_the_api(
    what, value, api_manager, site, environment, unchanged, record_property
):
    created = api_manager.client.post(
        ENVIRONMENTS, {"site": site.slug, "ttl_days": value, "gdpr_acknowledged": True}, "json"
    )
    extended = api_manager.client.post(
        f"{ENVIRONMENTS}{environment.pk}/extend/", {"days": value}, format="json"
    )

    for response in (created, extended):
        assert response.status_code == 400
        assert error_code(response) in {"validation_error", "invalid_lifetime"}
    record(
        record_property,
        f"API create and extend, days: {what}",
        f"400 {error_code(created)} / {error_code(extended)}",
    )


@pytest.mark.parametrize("what", HOSTILE_IDS)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ENVIRONMENTS + "{}/"),
        ("delete", ENVIRONMENTS + "{}/"),
        ("post", ENVIRONMENTS + "{}/refresh/"),
        ("post", ENVIRONMENTS + "{}/extend/"),
        ("post", "/api/v1/runs/{}/cancel/"),
        ("get", "/api/v1/runs/{}/"),
    ],
)
def test_a_hostile_id_in_the_address_is_not_found(
    what, method, path, api_manager, environment, unchanged, record_property
):
    response = getattr(api_manager.client, method)(path.format(HOSTILE_IDS[what]))

    assert response.status_code == 404
    assert error_code(response) == "not_found"
    record(record_property, f"API {method.upper()} {path}, id: {what}", "404 not_found")


@pytest.mark.parametrize("what", HOSTILE_STRINGS)
@pytest.mark.parametrize("field", ["site", "status", "expired"])
def test_a_hostile_filter_is_refused_or_matches_nothing(
    what, field, api_manager, environment, unchanged, record_property
):
    response = api_manager.client.get(ENVIRONMENTS, {field: HOSTILE_STRINGS[what]})

    if response.status_code == 200:
        # An unknown site slug is a filter that matches nothing, not an error.
        assert field == "site"
        assert response.json()["count"] == 0
        outcome = "200, nothing matched"
    else:
        assert response.status_code == 400
        assert error_code(response) == "validation_error"
        outcome = "400 validation_error"
    record(record_property, f"API list, filter {field}: {what}", outcome)


@pytest.mark.parametrize(
    ("what", "path"),
    [
        ("create", ENVIRONMENTS),
        ("extend", ENVIRONMENTS + "{environment}/extend/"),
        ("refresh", ENVIRONMENTS + "{environment}/refresh/"),
        ("cancel", "/api/v1/runs/{run}/cancel/"),
    ],
)
def test_an_oversized_body_is_refused_with_413_before_it_is_read(
    what, path, api_manager, site, environment, record_property, settings, request
):
    run = make_run(environment, status=RunStatus.QUEUED)
    request.getfixturevalue("unchanged")
    body = json.dumps({"site": site.slug, "name": "x" * (2 * 1024 * 1024)})
    url = path.format(environment=environment.pk, run=run.pk)

    response = api_manager.client.generic("POST", url, body, content_type="application/json")

    assert response.status_code == 413
    assert error_code(response) == "request_too_large"
    assert response.json()["error"]["details"]["limit_bytes"] == (
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    )
    record(record_property, f"API {what}, a 2 MiB JSON body", "413 request_too_large")


def test_an_oversized_form_body_on_a_session_call_is_refused_with_413(
    site, unchanged, record_property
):
    manager = make_persona("mona", group=roles.ACCOUNT_MANAGERS)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(manager.user)

    response = client.generic(
        "POST",
        ENVIRONMENTS,
        "name=" + "x" * (2 * 1024 * 1024),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 413
    assert error_code(response) == "request_too_large"
    record(record_property, "API create with a session, a 2 MiB form body", "413")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "application/json-patch+json",
    ],
)
def test_a_body_that_is_not_json_is_refused_with_415(
    content_type, api_manager, site, unchanged, record_property
):
    body = f"site={site.slug}&gdpr_acknowledged=true"

    response = api_manager.client.generic("POST", ENVIRONMENTS, body, content_type=content_type)

    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"
    record(record_property, f"API create as {content_type}", "415 unsupported_media_type")


@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("truncated JSON", b'{"site": "tea-room", '),
        ("not UTF-8", b'{"site": "\xff\xfe"}'),
        ("NaN", b'{"site": "tea-room", "ttl_days": NaN}'),
        ("a trailing comma", b'{"site": "tea-room",}'),
        ("nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000),
        ("a bare quote", b'"'),
    ],
)
def test_malformed_json_is_refused_with_a_parse_error(
    what, body, api_manager, site, unchanged, record_property
):
    response = api_manager.client.generic(
        "POST", ENVIRONMENTS, body, content_type="application/json"
    )

    assert response.status_code == 400
    assert error_code(response) == "parse_error"
    record(record_property, f"API create, {what}", "400 parse_error")


@pytest.mark.parametrize(
    ("what", "body"),
    [("a list", []), ("a string", "tea-room"), ("null", None), ("a number", 7)],
)
def test_json_that_is_not_an_object_is_refused(
    what, body, api_manager, site, unchanged, record_property
):
    response = api_manager.client.generic(
        "POST", ENVIRONMENTS, json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 400
    assert error_code(response) in {"validation_error", "gdpr_acknowledgement_required"}
    record(record_property, f"API create, body {what}", f"400 {error_code(response)}")


@pytest.mark.parametrize(
    ("what", "key"),
    [("NUL byte", "key\x00"), ("256 characters", "k" * 256), ("tab", "a\tb")],
)
def test_a_hostile_idempotency_key_is_refused(
    what, key, api_manager, site, unchanged, record_property
):
    response = api_manager.client.post(
        ENVIRONMENTS,
        {"site": site.slug, "gdpr_acknowledged": True},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )

    assert response.status_code == 400
    assert error_code(response) == "invalid_idempotency_key"
    record(record_property, f"API create, Idempotency-Key: {what}", "400")


@pytest.mark.parametrize(
    ("what", "header"),
    [
        ("SQL injection", "Bearer ' OR 1=1 --"),
        # As it arrives: WSGI hands over header bytes decoded as Latin-1.
        ("non-ASCII", "Bearer us_\u202e\U0001f680".encode().decode("latin-1")),
        ("three words", "Bearer us_a us_b"),
        ("10,000 characters", "Bearer us_" + "a" * 10_000),
        ("path traversal", "Bearer ../../etc/passwd"),
    ],
)
def test_a_hostile_authorization_header_fails_authentication(
    what, header, site, unchanged, record_property
):
    client = APIClient(HTTP_AUTHORIZATION=header)

    response = client.post(ENVIRONMENTS, {"site": site.slug, "gdpr_acknowledged": True}, "json")

    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"
    record(record_property, f"API token: {what}", "401 authentication_failed")


# -- who may act -----------------------------------------------------------------------------


def changing_calls(site: ClientSite, environment: StagingEnvironment, run: Run) -> list[Any]:
    return [
        ("post", ENVIRONMENTS, {"site": site.slug, "gdpr_acknowledged": True}),
        ("post", f"{ENVIRONMENTS}{environment.pk}/extend/", {"days": 7}),
        ("post", f"{ENVIRONMENTS}{environment.pk}/refresh/", None),
        ("delete", f"{ENVIRONMENTS}{environment.pk}/", None),
        ("post", f"/api/v1/runs/{run.pk}/cancel/", None),
    ]


def test_a_viewer_changes_nothing_through_the_api(
    api_viewer, site, environment, record_property, request
):
    run = make_run(environment, status=RunStatus.QUEUED)
    request.getfixturevalue("unchanged")

    for method, path, body in changing_calls(site, environment, run):
        response = getattr(api_viewer.client, method)(path, body, format="json")
        assert response.status_code == 403, path
        assert error_code(response) == "permission_denied"
    record(record_property, "API: a viewer creates, extends, refreshes, deletes, cancels", "403")


def test_a_token_of_a_user_without_a_role_changes_and_reads_nothing(
    site, environment, record_property, request
):
    run = make_run(environment, status=RunStatus.QUEUED)
    request.getfixturevalue("unchanged")
    stranger = make_persona("stranger")

    assert stranger.client.get(ENVIRONMENTS).status_code == 403
    for method, path, body in changing_calls(site, environment, run):
        response = getattr(stranger.client, method)(path, body, format="json")
        assert response.status_code == 403, path
        assert error_code(response) == "permission_denied"
    record(record_property, "API: a token of a user with no role", "403 on every call")


@pytest.mark.parametrize("how", ["revoked", "user deactivated"])
def test_a_dead_token_changes_nothing(how, site, environment, record_property, request):
    run = make_run(environment, status=RunStatus.QUEUED)
    request.getfixturevalue("unchanged")
    manager: Persona = make_persona("former", group=roles.ACCOUNT_MANAGERS)
    if how == "revoked":
        manager.token.revoke()
    else:
        manager.user.is_active = False
        manager.user.save()

    for method, path, body in changing_calls(site, environment, run):
        response = getattr(manager.client, method)(path, body, format="json")
        assert response.status_code == 401, path
        assert error_code(response) == "authentication_failed"
    record(record_property, f"API: a manager's token, {how}", "401 on every call")


def test_guessing_tokens_is_throttled_per_address_with_retry_after(
    site, settings, record_property, request
):
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": {"user": "600/min", "anon": "5/min"}
    }
    request.getfixturevalue("unchanged")
    manager = make_persona("anna", group=roles.ACCOUNT_MANAGERS)
    guesses = [f"Bearer us_guess{n}" for n in range(5)]

    answers = [
        APIClient(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=g).get(ENVIRONMENTS).status_code
        for g in guesses
    ]
    throttled = APIClient(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer us_guess6")
    response = throttled.get(ENVIRONMENTS)
    elsewhere = APIClient(REMOTE_ADDR="203.0.113.10", HTTP_AUTHORIZATION=f"Bearer {manager.key}")

    assert answers == [401] * 5
    assert response.status_code == 429
    assert error_code(response) == "throttled"
    assert int(response["Retry-After"]) >= 1
    assert elsewhere.get(ENVIRONMENTS).status_code == 200
    record(
        record_property,
        "API: wrong tokens from one address",
        f"429 after 5 guesses, Retry-After {response['Retry-After']} s",
        guesses_before_throttle=5,
    )


# -- the portal -----------------------------------------------------------------------------


@pytest.fixture
def manager_client(db: None) -> Client:
    return logged_in(make_user("alice", group=roles.ACCOUNT_MANAGERS))


@pytest.mark.parametrize("what", HOSTILE_STRINGS)
def test_a_hostile_name_is_refused_by_the_create_form(
    what, manager_client, site, environment, record_property, request
):
    request.getfixturevalue("unchanged")
    response = manager_client.post(
        f"/admin/sites/{site.pk}/create/",
        {"name": HOSTILE_STRINGS[what], "ttl_days": 7, "gdpr_acknowledged": "on"},
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert "name" in form.errors
    record(record_property, f"portal create form, name: {what}", "form error on name")


@pytest.mark.parametrize(
    ("what", "ttl"), [("text", "seven"), ("SQL", "7;DROP TABLE x"), ("91 days", "91")]
)
def test_a_hostile_lifetime_is_refused_by_the_create_form(
    what, ttl, manager_client, site, unchanged, record_property
):
    response = manager_client.post(
        f"/admin/sites/{site.pk}/create/",
        {"name": "fine-name", "ttl_days": ttl, "gdpr_acknowledged": "on"},
    )

    assert response.status_code == 200
    assert "ttl_days" in response.context["form"].errors
    record(record_property, f"portal create form, lifetime: {what}", "form error on lifetime")


@pytest.mark.parametrize("what", HOSTILE_STRINGS)
def test_the_name_check_answers_a_hostile_name_with_a_reason(
    what, manager_client, site, environment, unchanged, record_property
):
    response = manager_client.get(
        f"/admin/sites/{site.pk}/check-name/", {"name": HOSTILE_STRINGS[what]}
    )

    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert response.json()["message"]
    record(record_property, f"portal name check: {what}", "ok false, with a reason")


@pytest.mark.parametrize("what", HOSTILE_IDS)
@pytest.mark.parametrize(
    "path",
    [
        "/admin/sites/{}/create/",
        "/admin/environments/{}/extend/",
        "/admin/environments/{}/delete/",
        "/admin/environments/{}/refresh/",
        "/admin/runs/{}/cancel/",
    ],
)
def test_a_hostile_id_in_a_portal_address_is_not_found(
    what, path, manager_client, environment, unchanged, record_property
):
    response = manager_client.post(path.format(HOSTILE_IDS[what]))

    assert response.status_code == 404
    record(record_property, f"portal POST {path}, id: {what}", "404")


def test_an_oversized_portal_form_is_refused_before_it_is_read(
    manager_client, site, unchanged, record_property
):
    response = manager_client.post(
        f"/admin/sites/{site.pk}/create/",
        {"name": "x" * (2 * 1024 * 1024), "ttl_days": 7, "gdpr_acknowledged": "on"},
    )

    assert response.status_code == 400
    record(record_property, "portal create form, a 2 MiB body", "400")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "javascript:alert(1)", "/\\evil.example"]
)
def test_extend_does_not_redirect_to_another_site(
    target, manager_client, environment, record_property
):
    response = manager_client.post(
        f"/admin/environments/{environment.pk}/extend/", {"next": target}
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    record(record_property, f"portal extend, next={target}", "302 to the dashboard")


def portal_posts(site: ClientSite, environment: StagingEnvironment, run: Run) -> list[Any]:
    return [
        (f"/admin/sites/{site.pk}/create/", {"name": "csrf-test", "ttl_days": 7}),
        (f"/admin/environments/{environment.pk}/extend/", {}),
        (f"/admin/environments/{environment.pk}/refresh/", {}),
        (f"/admin/environments/{environment.pk}/delete/", {}),
        (f"/admin/runs/{run.pk}/cancel/", {}),
    ]


def test_portal_actions_without_a_csrf_token_are_refused(
    site, environment, record_property, request
):
    run = make_run(environment, status=RunStatus.QUEUED)
    request.getfixturevalue("unchanged")
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("alice", group=roles.ACCOUNT_MANAGERS))

    for path, data in portal_posts(site, environment, run):
        data = {**data, "gdpr_acknowledged": "on"}
        assert client.post(path, data).status_code == 403, path
    record(record_property, "portal: create, extend, refresh, delete, cancel without CSRF", "403")


def test_an_api_session_call_without_a_csrf_token_is_refused(
    site, environment, record_property, request
):
    request.getfixturevalue("unchanged")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user("alice", group=roles.ACCOUNT_MANAGERS))

    response = client.post(ENVIRONMENTS, {"site": site.slug, "gdpr_acknowledged": True}, "json")

    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
    record(record_property, "API with a session, without CSRF", "403 permission_denied")


def test_a_viewer_changes_nothing_through_the_portal(site, environment, record_property, request):
    run = make_run(environment, status=RunStatus.QUEUED)
    request.getfixturevalue("unchanged")
    client = logged_in(make_user("victor", group=roles.VIEWERS))

    for path, data in portal_posts(site, environment, run):
        assert client.post(path, {**data, "gdpr_acknowledged": "on"}).status_code == 403, path
    record(record_property, "portal: a viewer's create, extend, refresh, delete, cancel", "403")


def admin_login(client: Client, username: str, password: str) -> Any:
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_admin_logins_are_locked_out_after_repeated_wrong_passwords(settings, record_property):
    user = make_user("alice", group=roles.ACCOUNT_MANAGERS)
    here = Client(REMOTE_ADDR="198.51.100.20")
    limit = settings.AXES_FAILURE_LIMIT

    failures = [admin_login(here, "alice", f"guess-{n}").status_code for n in range(limit)]
    locked = admin_login(here, "alice", PASSWORD)
    elsewhere = admin_login(Client(REMOTE_ADDR="198.51.100.21"), "alice", PASSWORD)

    # The login page again with its error, until the failure that reaches the limit.
    assert failures == [200] * (limit - 1) + [429]
    assert locked.status_code == 429
    assert "_auth_user_id" not in here.session
    assert elsewhere.status_code == 302
    assert elsewhere.wsgi_request.user == user
    record(
        record_property,
        "admin login: wrong passwords for one user from one address",
        f"429 after {limit} failures, even with the right password; another address logs in",
        failures_before_lockout=limit,
    )


def test_a_successful_login_resets_the_count_of_failures(settings, record_property):
    make_user("alice", group=roles.ACCOUNT_MANAGERS)
    client = Client(REMOTE_ADDR="198.51.100.22")
    limit = settings.AXES_FAILURE_LIMIT

    for n in range(limit - 1):
        admin_login(client, "alice", f"guess-{n}")
    assert admin_login(client, "alice", PASSWORD).status_code == 302
    client.logout()
    for n in range(limit - 1):
        admin_login(client, "alice", f"guess-again-{n}")

    assert admin_login(client, "alice", PASSWORD).status_code == 302
    record(record_property, "admin login: failures below the limit, then success", "not locked")


def test_the_lockout_ends_after_the_cool_off(settings, record_property):
    make_user("alice", group=roles.ACCOUNT_MANAGERS)
    client = Client(REMOTE_ADDR="198.51.100.23")
    for n in range(settings.AXES_FAILURE_LIMIT):
        admin_login(client, "alice", f"guess-{n}")
    assert admin_login(client, "alice", PASSWORD).status_code == 429

    from axes.models import AccessAttempt

    cool_off = timedelta(hours=settings.AXES_COOLOFF_TIME)
    AccessAttempt.objects.update(attempt_time=timezone.now() - cool_off - timedelta(seconds=1))

    assert admin_login(client, "alice", PASSWORD).status_code == 302
    record(record_property, "admin login: after the cool-off", "the right password works again")


# -- the management commands ----------------------------------------------------------------

# A command line cannot carry a NUL byte (argv is C strings), so that one is left out here.
COMMAND_STRINGS = {k: v for k, v in HOSTILE_STRINGS.items() if "\x00" not in v}


@pytest.mark.parametrize("what", COMMAND_STRINGS)
def test_clone_staging_refuses_a_hostile_site(what, site, unchanged, record_property):
    with pytest.raises(CommandError) as raised:
        call_command("clone_staging", COMMAND_STRINGS[what], "--json")

    assert raised.value.returncode == 1
    record(record_property, f"clone_staging, site: {what}", "exit 1, no such site")


@pytest.mark.parametrize("what", COMMAND_STRINGS)
def test_clone_staging_refuses_a_hostile_name(
    what, site, environment, unchanged, record_property, capsys
):
    with pytest.raises(CommandError) as raised:
        call_command(
            "clone_staging",
            site.slug,
            "--name",
            COMMAND_STRINGS[what],
            "--personal-data-acknowledged",
            "--json",
        )

    assert raised.value.returncode == 1
    document = json.loads(capsys.readouterr().out)
    assert document["error"]["code"] in {"invalid_name", "name_taken"}
    record(
        record_property, f"clone_staging, --name: {what}", f"exit 1, {document['error']['code']}"
    )


@pytest.mark.parametrize("what", ["seven", "7;rm -rf /", "$(reboot)", "-1", "0", "9" * 30])
def test_clone_staging_refuses_a_hostile_lifetime(what, site, unchanged, record_property):
    with pytest.raises(CommandError):
        call_command(
            "clone_staging", site.slug, f"--ttl-days={what}", "--personal-data-acknowledged"
        )
    record(record_property, f"clone_staging, --ttl-days {what}", "refused")


@pytest.mark.parametrize("command", ["refresh_staging", "teardown_staging"])
@pytest.mark.parametrize("what", COMMAND_STRINGS)
def test_environment_commands_refuse_a_hostile_reference(
    command, what, environment, unchanged, record_property
):
    with pytest.raises(CommandError) as raised:
        call_command(command, COMMAND_STRINGS[what])

    assert raised.value.returncode in {1, 2}
    record(record_property, f"{command}, environment: {what}", f"exit {raised.value.returncode}")
