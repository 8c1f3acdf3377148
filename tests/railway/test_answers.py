"""Railway's answers are read field by field: a missing or mistyped field is one clear error,
and every create follows the same retry policy. Railway is played by an httpx MockTransport
here, because the sandbox always answers well."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from staging.railway import (
    RailwayClient,
    RailwayError,
    RailwayUnavailable,
    RailwayUnexpectedResponse,
)

Handler = Callable[[str, dict[str, Any]], httpx.Response]


class FakeRailway:
    """Answers each GraphQL operation with what the test's handler returns; keeps the order."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.operations: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.operations.append(body["operationName"])
        return self.handler(body["operationName"], body["variables"])

    def client(self, max_retries: int = 2) -> RailwayClient:
        return RailwayClient(
            "https://railway.invalid/graphql/v2",
            "token-never-shown",
            max_retries=max_retries,
            sleep=lambda _seconds: None,
            transport=httpx.MockTransport(self),
        )


def data(**fields: Any) -> httpx.Response:
    return httpx.Response(200, json={"data": fields})


def test_a_created_environment_without_an_id_is_an_unexpected_response():
    railway = FakeRailway(lambda op, _v: data(environmentCreate={"name": "qa"}))

    with pytest.raises(RailwayUnexpectedResponse) as caught:
        railway.client().create_environment("p1", "qa", "e1")

    assert caught.value.code == "railway_unexpected_response"
    assert caught.value.details == {
        "operation": "environmentCreate",
        "field": "data.environmentCreate.id",
    }
    assert "environmentCreate" in caught.value.message
    assert "data.environmentCreate.id" in caught.value.message


def test_a_tcp_proxy_port_that_is_not_a_number_is_an_unexpected_response():
    proxy = {"id": "t1", "domain": "x.proxy.rlwy.net", "applicationPort": 5432}
    railway = FakeRailway(
        lambda op, _v: data(tcpProxies=[proxy | {"proxyPort": "secret-looking-value"}])
    )

    with pytest.raises(RailwayUnexpectedResponse) as caught:
        railway.client().list_tcp_proxies("e1", "s1")

    assert caught.value.details["field"] == "data.tcpProxies[0].proxyPort"
    # Values may be connection URLs with passwords: the error names fields only.
    assert "secret-looking-value" not in caught.value.message


def test_a_variables_answer_that_is_not_a_map_is_an_unexpected_response():
    railway = FakeRailway(lambda op, _v: data(variablesForServiceDeployment=["A=1"]))

    with pytest.raises(RailwayUnexpectedResponse) as caught:
        railway.client().get_variables("p1", "e1", "s1")

    assert caught.value.details["field"] == "data.variablesForServiceDeployment"


def test_a_deployment_without_its_service_is_read_with_the_service_id():
    railway = FakeRailway(
        lambda op, _v: data(deployment={"id": "d1", "status": "SUCCESS", "serviceId": "s1"})
    )

    deployment = railway.client().get_deployment("d1")

    assert (deployment.id, deployment.status, deployment.service_name) == ("d1", "SUCCESS", "s1")


def test_an_answer_that_is_not_json_data_is_a_railway_error_not_a_crash():
    railway = FakeRailway(lambda op, _v: httpx.Response(200, json=["not", "an", "object"]))

    with pytest.raises(RailwayError) as caught:
        railway.client().list_projects()

    assert caught.value.code == "railway_error"


def test_every_create_looks_for_what_an_unanswered_attempt_made_before_sending_it_again():
    def handler(operation: str, _variables: dict[str, Any]) -> httpx.Response:
        if operation == "serviceDomainCreate":
            raise httpx.ReadTimeout("no answer")
        return data(serviceInstance={"domains": {"serviceDomains": []}})

    railway = FakeRailway(handler)

    with pytest.raises(RailwayUnavailable) as caught:
        railway.client(max_retries=2).create_service_domain("e1", "s1")

    assert railway.operations == ["serviceDomainCreate", "serviceInstance"] * 3
    assert "did not confirm creating a service domain" in caught.value.message


@pytest.mark.parametrize(
    ("operation", "lookup", "found", "create", "made_id"),
    [
        (
            "environmentCreate",
            "environments",
            {
                "environments": {
                    "edges": [{"node": {"id": "e2", "name": "qa"}}],
                    "pageInfo": {"hasNextPage": False, "endCursor": None},
                }
            },
            lambda client: client.create_environment("p1", "qa", "e1"),
            "e2",
        ),
        (
            "tcpProxyCreate",
            "tcpProxies",
            {
                "tcpProxies": [
                    {
                        "id": "t1",
                        "domain": "x.proxy.rlwy.net",
                        "proxyPort": 12345,
                        "applicationPort": 5432,
                    }
                ]
            },
            lambda client: client.create_tcp_proxy("e1", "s1", 5432),
            "t1",
        ),
        (
            "serviceDomainCreate",
            "serviceInstance",
            {"serviceInstance": {"domains": {"serviceDomains": [{"id": "d1", "domain": "a.b"}]}}},
            lambda client: client.create_service_domain("e1", "s1"),
            "d1",
        ),
    ],
)
def test_a_create_whose_answer_was_lost_returns_what_it_made_without_sending_it_again(
    operation, lookup, found, create, made_id
):
    def handler(name: str, _variables: dict[str, Any]) -> httpx.Response:
        if name == operation:
            return httpx.Response(502)
        if name == lookup:
            return data(**found)
        return data(environmentStagedChanges={"id": "x", "status": "COMMITTED"})

    railway = FakeRailway(handler)

    made = create(railway.client())

    assert made.id == made_id
    assert railway.operations.count(operation) == 1
