"""v1 only grows (docs/api.md, *Versioning*): everything in the committed snapshot of the v1
schema (docs/api/v1-schema.json) is still in the schema the portal serves. Additions are allowed;
a removal or a renaming is a breaking change, which belongs in a v2."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.django_db

SNAPSHOT = Path(__file__).resolve().parents[2] / "docs" / "api" / "v1-schema.json"


def live_schema(client: Any) -> dict[str, Any]:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def _missing_in_schema(
    old: dict[str, Any],
    new: dict[str, Any],
    where: str,
    documents: tuple[dict[str, Any], dict[str, Any]],
    seen: set[tuple[str, str]],
) -> list[str]:
    old_document, new_document = documents
    key = (old.get("$ref", where), new.get("$ref", where))
    if key in seen:
        return []
    seen.add(key)
    old, new = _resolve(old, old_document), _resolve(new, new_document)
    missing = []
    for name, field in old.get("properties", {}).items():
        if name not in new.get("properties", {}):
            missing.append(f"{where}.{name}")
        else:
            missing += _missing_in_schema(
                field, new["properties"][name], f"{where}.{name}", documents, seen
            )
    gone = set(old.get("enum", [])) - set(new.get("enum", old.get("enum", [])))
    missing += [f"{where} = {value!r}" for value in sorted(gone, key=str)]
    if "items" in old:
        missing += _missing_in_schema(
            old["items"], new.get("items", {}), f"{where}[]", documents, seen
        )
    for combinator in ("allOf", "oneOf", "anyOf"):
        for index, part in enumerate(old.get(combinator, [])):
            candidates = new.get(combinator, [])
            target = candidates[index] if index < len(candidates) else {}
            missing += _missing_in_schema(part, target, f"{where}", documents, seen)
    return missing


def missing_from(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What ``old`` promises that ``new`` no longer has: paths, operations, their parameters,
    response codes, response and request fields, enum values."""
    documents = (old, new)
    missing = []
    for path, operations in old["paths"].items():
        if path not in new["paths"]:
            missing.append(path)
            continue
        for method, operation in operations.items():
            live = new["paths"][path].get(method)
            if live is None:
                missing.append(f"{method.upper()} {path}")
                continue
            where = f"{method.upper()} {path}"
            live_parameters = {(p["in"], p["name"]) for p in live.get("parameters", [])}
            for parameter in operation.get("parameters", []):
                if (parameter["in"], parameter["name"]) not in live_parameters:
                    missing.append(f"{where} parameter {parameter['name']}")
            for status, response in operation.get("responses", {}).items():
                if status not in live.get("responses", {}):
                    missing.append(f"{where} {status}")
                    continue
                live_content = live["responses"][status].get("content", {})
                for media_type, body in response.get("content", {}).items():
                    if media_type not in live_content:
                        missing.append(f"{where} {status} {media_type}")
                        continue
                    missing += _missing_in_schema(
                        body.get("schema", {}),
                        live_content[media_type].get("schema", {}),
                        f"{where} {status}",
                        documents,
                        set(),
                    )
            for media_type, body in operation.get("requestBody", {}).get("content", {}).items():
                live_body = live.get("requestBody", {}).get("content", {}).get(media_type)
                if live_body is None:
                    missing.append(f"{where} request {media_type}")
                    continue
                missing += _missing_in_schema(
                    body.get("schema", {}),
                    live_body.get("schema", {}),
                    f"{where} request",
                    documents,
                    set(),
                )
    return missing


def test_everything_in_the_v1_snapshot_is_still_in_the_live_schema(api_anonymous):
    snapshot = json.loads(SNAPSHOT.read_text())
    assert missing_from(snapshot, live_schema(api_anonymous)) == []


def test_the_snapshot_is_of_v1_only():
    snapshot = json.loads(SNAPSHOT.read_text())
    assert all(path.startswith("/api/v1/") for path in snapshot["paths"])


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        (lambda s: s["paths"].pop("/api/v1/audit/"), "/api/v1/audit/"),
        (
            lambda s: s["paths"]["/api/v1/runs/{id}/cancel/"].pop("post"),
            "POST /api/v1/runs/{id}/cancel/",
        ),
        (
            lambda s: s["components"]["schemas"]["Run"]["properties"].pop("staging_url"),
            "GET /api/v1/runs/{id}/ 200.staging_url",
        ),
        (
            lambda s: s["components"]["schemas"]["RunStatusEnum"]["enum"].remove("cancelled"),
            "GET /api/v1/runs/{id}/ 200.status = 'cancelled'",
        ),
        (
            lambda s: s["components"]["schemas"]["Step"]["properties"].pop("label"),
            "GET /api/v1/runs/{id}/ 200.steps[].label",
        ),
    ],
)
def test_a_removal_from_v1_is_reported(api_anonymous, change, reported):
    live = live_schema(api_anonymous)
    shrunk = copy.deepcopy(live)
    change(shrunk)
    assert reported in missing_from(live, shrunk)


def test_an_addition_is_allowed(api_anonymous):
    live = live_schema(api_anonymous)
    grown = copy.deepcopy(live)
    grown["components"]["schemas"]["Run"]["properties"]["eta_seconds"] = {"type": "integer"}
    grown["paths"]["/api/v1/runs/{id}/retry/"] = {"post": {"responses": {}}}
    assert missing_from(live, grown) == []


def test_no_v1_answer_announces_a_deprecation_while_there_is_no_v2(api_viewer):
    response = api_viewer.client.get("/api/v1/sites/")
    assert response.status_code == 200
    assert "Deprecation" not in response and "Sunset" not in response
