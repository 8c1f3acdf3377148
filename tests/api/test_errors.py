from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from staging import api as api_package
from staging import names, runs
from staging.api import views
from staging.api.errors import DRF_CODES
from staging.errors import UnderstudyError
from tests.factories import make_environment

pytestmark = pytest.mark.django_db

API_DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def test_an_unknown_api_address_is_a_json_not_found(api_viewer):
    assert_error(api_viewer.client.get("/api/v1/nothing-here/"), 404, "not_found")


def test_an_unsupported_method_is_method_not_allowed(api_manager):
    environment = make_environment()
    response = api_manager.client.put(f"/api/v1/environments/{environment.pk}/", {})
    assert_error(response, 405, "method_not_allowed")


def test_a_body_that_is_not_json_is_a_parse_error(api_manager):
    response = api_manager.client.post(
        "/api/v1/environments/", "{not json", content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def test_a_form_encoded_body_is_an_unsupported_media_type(api_manager):
    response = api_manager.client.post("/api/v1/environments/", {"site": "x"})
    assert_error(response, 415, "unsupported_media_type")


def test_asking_for_xml_is_not_acceptable(api_viewer):
    response = api_viewer.client.get("/api/v1/sites/", HTTP_ACCEPT="application/xml")
    assert_error(response, 406, "not_acceptable")


def test_field_errors_are_the_details_of_a_validation_error(api_manager):
    response = api_manager.client.post("/api/v1/environments/", {"ttl_days": "soon"}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert set(error["details"]) == {"site", "ttl_days"}


def test_a_bug_is_an_internal_error_that_leaks_nothing(api_viewer, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(views.SiteViewSet, "list", explode)
    response = api_viewer.client.get("/api/v1/sites/")
    error = assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.content.decode()
    assert error["details"] == {}
    assert "RuntimeError" in caplog.text


def test_a_domain_error_keeps_its_code_and_status(api_manager, monkeypatch):
    class Teapot(UnderstudyError):
        code = "teapot"
        http_status = 418

    def refuse(*args, **kwargs):
        raise Teapot("I am a teapot.", details={"spout": "short"})

    monkeypatch.setattr(runs, "start_refresh", refuse)
    environment = make_environment(status="ready")
    response = api_manager.client.post(f"/api/v1/environments/{environment.pk}/refresh/")
    error = assert_error(response, 418, "teapot")
    assert error == {"code": "teapot", "message": "I am a teapot.", "details": {"spout": "short"}}


def raised_error_codes(module: ModuleType) -> set[str]:
    """The codes of the UnderstudyErrors that ``module``'s own code raises."""
    codes = set()
    for node in ast.walk(ast.parse(Path(inspect.getfile(module)).read_text())):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        name = getattr(raised, "id", None) or getattr(raised, "attr", None)
        error = getattr(module, name, None) if name else None
        if isinstance(error, type) and issubclass(error, UnderstudyError):
            codes.add(error.code)
    return codes


def api_error_codes() -> set[str]:
    """Every code an API answer can carry: DRF's failures as the handler names them, a bug,
    and what the API's modules and ``staging.runs`` (its only door to changes) raise."""
    modules = [runs, names] + [
        importlib.import_module(f"staging.api.{info.name}")
        for info in pkgutil.iter_modules(api_package.__path__)
    ]
    raised = set().union(*(raised_error_codes(module) for module in modules))
    return {code for _, code in DRF_CODES} | {"internal_error"} | raised


def test_every_api_error_code_is_documented():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", API_DOCS.read_text(), re.MULTILINE))
    codes = api_error_codes()

    # The scan finds the codes it must (a broken scan would find too few to fail on).
    assert {"validation_error", "name_taken", "invalid_state", "run_in_progress"} <= codes
    assert codes - documented == set()
