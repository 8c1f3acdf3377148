"""Every GraphQL document the client can send validates against Railway's schema."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from graphql import GraphQLSchema, OperationDefinitionNode, build_client_schema, parse, validate

from staging.railway import operations

SCHEMA = Path(operations.__file__).resolve().parent / "schema.json"
# Railway's file as published (staging/railway/SCHEMA.md): an edit here is a deliberate refresh.
SCHEMA_SHA256 = "5e849390d4d43a2d7222d2f490005b853142b8158875d657efa1d8c37dbd0815"


@pytest.fixture(scope="module")
def railway_schema() -> GraphQLSchema:
    data = json.loads(SCHEMA.read_text())["data"]
    # Railway's schema breaks one interface rule; documents are still fully validated.
    return build_client_schema(data, assume_valid=True)


@pytest.mark.parametrize("name", sorted(operations.OPERATIONS))
def test_the_operation_validates_against_railways_schema(railway_schema, name):
    document = parse(operations.OPERATIONS[name])

    assert validate(railway_schema, document) == []
    (definition,) = document.definitions
    assert isinstance(definition, OperationDefinitionNode)
    assert definition.name is not None and definition.name.value == name


def test_every_document_in_the_module_is_listed():
    documents = {
        value
        for key, value in vars(operations).items()
        if key.isupper()
        and isinstance(value, str)
        and value.lstrip().startswith(("query", "mutation"))
    }

    assert documents == set(operations.OPERATIONS.values())


def test_the_shipped_schema_is_railways_unchanged():
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
