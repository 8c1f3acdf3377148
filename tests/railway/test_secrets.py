"""The token never appears in a log line, an exception message or a repr."""

from __future__ import annotations

import logging

import pytest

from staging.railway import (
    RailwayClient,
    RailwayProjectTokenGiven,
    RailwayUnauthorized,
    RailwayUnavailable,
)
from tests.fixtures_railway import SANDBOX_TOKEN, RecordingSleep


def test_the_token_never_leaks_into_logs_errors_or_reprs(sandbox, caplog, wordpress_site):
    caplog.set_level(logging.DEBUG)
    sandbox.faults.set("*", "server_error", times=None)
    client = RailwayClient(sandbox.api_url, SANDBOX_TOKEN, sleep=RecordingSleep())

    with pytest.raises(RailwayUnavailable) as unavailable:
        client.list_projects()
    sandbox.faults.clear()
    wrong = RailwayClient(sandbox.api_url, "wrong-" + SANDBOX_TOKEN, sleep=RecordingSleep())
    with pytest.raises(RailwayUnauthorized) as unauthorized:
        wrong.get_project(wordpress_site.project_id)

    texts = [
        caplog.text,
        str(unavailable.value),
        repr(unavailable.value),
        str(unavailable.value.details),
        str(unauthorized.value),
        str(unauthorized.value.details),
        repr(client),
        repr(client._http),
        repr(wrong),
    ]
    assert caplog.records, "the client logs its requests"
    for text in texts:
        assert SANDBOX_TOKEN not in text
    client.close()
    wrong.close()


def test_an_invalid_token_is_unauthorized(sandbox, wordpress_site):
    with (
        RailwayClient(sandbox.api_url, "not-a-token") as client,
        pytest.raises(RailwayUnauthorized) as caught,
    ):
        client.get_project(wordpress_site.project_id)

    assert caught.value.code == "railway_unauthorized"
    assert "RAILWAY_API_TOKEN" in caught.value.message


def test_a_project_token_is_named_as_the_problem(sandbox, wordpress_site):
    with (
        RailwayClient(sandbox.api_url, "sandbox-project-token") as client,
        pytest.raises(RailwayProjectTokenGiven) as caught,
    ):
        client.create_environment(
            wordpress_site.project_id,
            "with-project-token",
            wordpress_site.production_environment_id,
        )

    assert caught.value.code == "railway_project_token"
    assert "project token" in caught.value.message
    assert "cannot create environments" in caught.value.message
