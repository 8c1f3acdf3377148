"""A typed client for Railway's public GraphQL API (https://docs.railway.com/integrations/api).

The steps of the pipeline call the domain methods below; nothing above this module sees HTTP,
GraphQL or raw dicts. Every request is counted in ``calls``, because a Hobby workspace may send
1,000 requests an hour and a clone must stay within 40.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Final, TypeVar

import httpx

from staging.railway import operations as ops
from staging.railway.answers import Answer
from staging.railway.errors import (
    RailwayConflict,
    RailwayDeploymentFailed,
    RailwayError,
    RailwayNotFound,
    RailwayProjectTokenGiven,
    RailwayRateLimited,
    RailwayTimeout,
    RailwayUnauthorized,
    RailwayUnavailable,
)
from staging.railway.types import (
    Deployment,
    Environment,
    Project,
    ProjectSummary,
    Service,
    ServiceDomain,
    ServiceInstance,
    TcpProxy,
)
from staging.secrets import mask_text

logger = logging.getLogger(__name__)

T = TypeVar("T")

PAGE_SIZE: Final = 50
_BACKOFF_BASE: Final = 0.5
_BACKOFF_CAP: Final = 8.0

# Railway's CLI polled a background duplication this way (NOTES.md §2.2): 1 s, x1.5, capped at
# 5 s, 40 attempts, about two minutes.
_APPLY_FIRST_DELAY: Final = 1.0
_APPLY_FACTOR: Final = 1.5
_APPLY_MAX_DELAY: Final = 5.0
_APPLY_ATTEMPTS: Final = 40

_UNAUTHORIZED_MESSAGE: Final = (
    "Railway refused the token (RAILWAY_API_TOKEN): check that it is valid and has access to "
    "this project"
)
_WRONG_KIND_OF_CREDENTIAL: Final = (
    "RAILWAY_API_TOKEN is a project token. A project token is limited to one environment and "
    "cannot create environments: use an account or workspace token "
    "(https://docs.railway.com/integrations/api#creating-a-token)"
)


class _AmbiguousFailure(RailwayUnavailable):
    """The request may or may not have been carried out: it was sent, but no answer came back."""


class RailwayClient:
    """Domain methods over Railway's GraphQL API, with retries and typed errors."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 4,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url = api_url
        self.calls = 0
        # Answers of 429, retried or not: a run records its share (staging/lifecycle.py) and
        # /metrics adds them up, so an operator sees the rate limit approach before it fails runs.
        self.rate_limited = 0
        self._token = token
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        # The token is added per request, never to the client's default headers, so that nothing
        # that describes the httpx client can carry it.
        self._http = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": "understudy", "Accept": "application/json"},
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"RailwayClient(api_url={self.api_url!r}, calls={self.calls})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RailwayClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- projects ---------------------------------------------------------------------------

    def list_projects(self) -> list[ProjectSummary]:
        """Projects the token can see. https://docs.railway.com/integrations/api/manage-projects"""
        projects: list[ProjectSummary] = []
        after: str | None = None
        while True:
            data = self._execute(ops.PROJECTS, "projects", {"first": PAGE_SIZE, "after": after})
            connection = data.answer("projects")
            projects += [
                ProjectSummary(id=n.text("id"), name=n.text("name")) for n in connection.nodes()
            ]
            after = connection.next_cursor()
            if after is None:
                return projects

    def get_project(self, project_id: str) -> Project:
        """The project with its environments and services (each service's image).

        https://docs.railway.com/integrations/api/manage-projects
        """
        environments: list[Environment] = []
        services: list[Service] = []
        variables: dict[str, Any] = {"id": project_id, "first": PAGE_SIZE}
        environments_done = services_done = False
        while True:
            project = self._execute(ops.PROJECT, "project", variables).answer("project")
            # A finished list stays on its last cursor, so later pages of the other list do not
            # repeat it.
            if not environments_done:
                page = project.answer("environments")
                environments += [_environment(n) for n in page.nodes()]
                cursor = page.next_cursor()
                environments_done = cursor is None
                variables["environmentsAfter"] = cursor or page.end_cursor()
            if not services_done:
                page = project.answer("services")
                services += [_service(n) for n in page.nodes()]
                cursor = page.next_cursor()
                services_done = cursor is None
                variables["servicesAfter"] = cursor or page.end_cursor()
            if environments_done and services_done:
                return Project(
                    id=project.text("id"),
                    name=project.text("name"),
                    environments=environments,
                    services=services,
                )

    # -- environments -----------------------------------------------------------------------

    def find_environment(self, project_id: str, name: str) -> Environment | None:
        """The project's environment with this name, or None.

        https://docs.railway.com/integrations/api/manage-environments
        """
        for environment in self._environments(project_id):
            if environment.name == name:
                return environment
        return None

    def get_environment(self, environment_id: str) -> Environment:
        """The environment with its service instances (image, latest deployment, domains).

        https://docs.railway.com/integrations/api/manage-environments#get-a-single-environment
        """
        instances: list[ServiceInstance] = []
        after: str | None = None
        while True:
            data = self._execute(
                ops.ENVIRONMENT,
                "environment",
                {"id": environment_id, "first": PAGE_SIZE, "after": after},
            )
            environment = data.answer("environment")
            connection = environment.answer("serviceInstances")
            instances += [_service_instance(n) for n in connection.nodes()]
            after = connection.next_cursor()
            if after is None:
                return Environment(
                    id=environment.text("id"),
                    name=environment.text("name"),
                    service_instances=instances,
                )

    def create_environment(
        self,
        project_id: str,
        name: str,
        source_environment_id: str,
        *,
        skip_initial_deploys: bool = False,
    ) -> Environment:
        """Duplicate an environment (services, configuration, variables; not data) and wait
        until Railway has applied the copy.

        With ``skip_initial_deploys`` the copy is committed but no service starts: nothing runs
        with the copied variables until ``deploy`` is called for it.

        Never makes two: when an attempt fails ambiguously, the environment is looked up by name
        before the create is sent again.
        https://docs.railway.com/integrations/api/manage-environments#create-an-environment
        """
        variables = {
            "input": {
                "projectId": project_id,
                "name": name,
                "sourceEnvironmentId": source_environment_id,
                # Without background mode Railway times out duplicating anything large.
                "applyChangesInBackground": True,
                "skipInitialDeploys": skip_initial_deploys,
            }
        }
        environment = self._create(
            ops.ENVIRONMENT_CREATE,
            "environmentCreate",
            variables,
            read=_environment,
            find_existing=lambda: self.find_environment(project_id, name),
            what=f"environment {name!r}",
        )
        self._wait_until_applied(environment.id)
        return environment

    def delete_environment(self, environment_id: str) -> None:
        """Delete the environment and all its deployments; one already gone is not an error.

        https://docs.railway.com/integrations/api/manage-environments#delete-an-environment
        """
        try:
            self._execute(ops.ENVIRONMENT_DELETE, "environmentDelete", {"id": environment_id})
        except RailwayNotFound:
            logger.info("environmentDelete: environment %s was already gone", environment_id)

    # -- service instances and deployments --------------------------------------------------

    def get_service_instance(self, environment_id: str, service_id: str) -> ServiceInstance:
        """The service in this environment: image, latest deployment status, domains.

        https://docs.railway.com/integrations/api/manage-services
        """
        data = self._execute(
            ops.SERVICE_INSTANCE,
            "serviceInstance",
            {"environmentId": environment_id, "serviceId": service_id},
        )
        return _service_instance(data.answer("serviceInstance"))

    def deploy(self, environment_id: str, service_id: str) -> str:
        """Start a deployment of the service (its first, or a new one); returns its id.

        https://docs.railway.com/integrations/api/manage-deployments
        """
        data = self._execute(
            ops.SERVICE_INSTANCE_DEPLOY_V2,
            "serviceInstanceDeployV2",
            {"environmentId": environment_id, "serviceId": service_id},
        )
        return data.text("serviceInstanceDeployV2")

    def get_deployment(self, deployment_id: str) -> Deployment:
        """One deployment's status. https://docs.railway.com/integrations/api/manage-deployments"""
        data = self._execute(ops.DEPLOYMENT, "deployment", {"id": deployment_id})
        deployment = data.answer("deployment")
        service = deployment.optional_answer("service")
        service_id = deployment.text("serviceId")
        return Deployment(
            id=deployment.text("id"),
            status=deployment.optional_text("status"),
            service_id=service_id,
            service_name=(service and service.optional_text("name")) or service_id,
        )

    def wait_for_deployment(
        self,
        environment_id: str,
        service_id: str,
        *,
        deployment_id: str | None = None,
        timeout: float = 600.0,
        interval: float = 2.0,
        max_interval: float = 15.0,
        previous_deployment_id: str | None = None,
    ) -> Deployment:
        """Poll a deployment until it is SUCCESS; raise on FAILED/CRASHED or after ``timeout``.

        With ``deployment_id`` (what ``deploy`` returned) exactly that deployment is watched;
        otherwise the service's latest, where one whose id is ``previous_deployment_id`` is the
        one being replaced and does not count. The interval grows by half each time so that a
        slow deployment costs few requests. Railway's CLI treats the same statuses as final
        (NOTES.md §2.8). https://docs.railway.com/integrations/api/manage-deployments
        """
        deadline = time.monotonic() + timeout
        delay = interval
        while True:
            if deployment_id is not None:
                deployment = self.get_deployment(deployment_id)
            else:
                instance = self.get_service_instance(environment_id, service_id)
                deployment = Deployment(
                    id=instance.deployment_id,
                    status=instance.deployment_status,
                    service_id=service_id,
                    service_name=instance.service_name,
                )
            current = deployment.id is not None and (
                previous_deployment_id is None or deployment.id != previous_deployment_id
            )
            if current and deployment.succeeded:
                return deployment
            if current and deployment.failed:
                raise RailwayDeploymentFailed(
                    f"The deployment of {deployment.service_name} ended {deployment.status}; "
                    "see its logs on Railway",
                    details={"service_id": service_id, "deployment_id": deployment.id},
                )
            if time.monotonic() + delay > deadline:
                raise RailwayTimeout(
                    f"{deployment.service_name} was not deployed after {timeout:.0f} s "
                    f"(last status {deployment.status})",
                    details={"service_id": service_id, "status": deployment.status},
                )
            self._sleep(delay)
            delay = min(delay * 1.5, max_interval)

    def redeploy(self, environment_id: str, service_id: str) -> None:
        """Redeploy the service instance (e.g. after its variables changed).

        https://docs.railway.com/integrations/api/manage-deployments
        """
        self._execute(
            ops.SERVICE_INSTANCE_REDEPLOY,
            "serviceInstanceRedeploy",
            {"environmentId": environment_id, "serviceId": service_id},
        )

    # -- variables --------------------------------------------------------------------------

    def get_variables(
        self, project_id: str, environment_id: str, service_id: str
    ) -> dict[str, str]:
        """The service's variables as its deployment sees them: references resolved.

        https://docs.railway.com/integrations/api/manage-variables
        """
        data = self._execute(
            ops.VARIABLES_FOR_SERVICE_DEPLOYMENT,
            "variablesForServiceDeployment",
            {"projectId": project_id, "environmentId": environment_id, "serviceId": service_id},
        )
        return data.strings("variablesForServiceDeployment")

    def get_raw_variables(
        self, project_id: str, environment_id: str, service_id: str
    ) -> dict[str, str]:
        """The service's variables as they are defined: references such as
        ``${{Postgres.DATABASE_URL}}`` left as written, Railway's own variables left out.

        https://docs.railway.com/integrations/api/manage-variables
        """
        data = self._execute(
            ops.VARIABLES,
            "variables",
            {
                "projectId": project_id,
                "environmentId": environment_id,
                "serviceId": service_id,
                "unrendered": True,
            },
        )
        return data.strings("variables")

    def upsert_variables(
        self,
        project_id: str,
        environment_id: str,
        service_id: str,
        variables: dict[str, str],
        *,
        skip_deploys: bool = False,
    ) -> None:
        """Set several variables in one request (one redeploy, not one per variable).

        https://docs.railway.com/integrations/api/manage-variables
        """
        self._execute(
            ops.VARIABLE_COLLECTION_UPSERT,
            "variableCollectionUpsert",
            {
                "input": {
                    "projectId": project_id,
                    "environmentId": environment_id,
                    "serviceId": service_id,
                    "variables": variables,
                    "skipDeploys": skip_deploys,
                }
            },
        )

    # -- networking -------------------------------------------------------------------------

    def list_tcp_proxies(self, environment_id: str, service_id: str) -> list[TcpProxy]:
        """The live TCP proxies of the service (public access to a database).

        https://docs.railway.com/networking/tcp-proxy
        """
        data = self._execute(
            ops.TCP_PROXIES,
            "tcpProxies",
            {"environmentId": environment_id, "serviceId": service_id},
        )
        return [
            _tcp_proxy(proxy)
            for proxy in data.answers("tcpProxies")
            if proxy.optional_text("deletedAt") is None
            and proxy.optional_text("syncStatus") not in _GONE
        ]

    def create_tcp_proxy(
        self, environment_id: str, service_id: str, application_port: int
    ) -> TcpProxy:
        """Give the service a public TCP proxy to ``application_port``.

        After an unanswered create, an existing proxy to that port is returned instead of
        making a second one. https://docs.railway.com/networking/tcp-proxy
        """
        variables = {
            "input": {
                "environmentId": environment_id,
                "serviceId": service_id,
                "applicationPort": application_port,
            }
        }
        return self._create(
            ops.TCP_PROXY_CREATE,
            "tcpProxyCreate",
            variables,
            read=_tcp_proxy,
            find_existing=lambda: next(
                (
                    proxy
                    for proxy in self.list_tcp_proxies(environment_id, service_id)
                    if proxy.application_port == application_port
                ),
                None,
            ),
            what=f"a TCP proxy to port {application_port}",
        )

    def list_service_domains(
        self, project_id: str, environment_id: str, service_id: str
    ) -> list[ServiceDomain]:
        """The Railway-provided domains of the service.

        https://docs.railway.com/integrations/api/manage-domains
        """
        data = self._execute(
            ops.DOMAINS,
            "domains",
            {"projectId": project_id, "environmentId": environment_id, "serviceId": service_id},
        )
        return [_service_domain(d) for d in data.answer("domains").answers("serviceDomains")]

    def create_service_domain(
        self, environment_id: str, service_id: str, target_port: int | None = None
    ) -> ServiceDomain:
        """Generate a Railway-provided domain for the service.

        After an unanswered create, a domain the service already has is returned instead of
        making a second one. https://docs.railway.com/integrations/api/manage-domains
        """
        variables: dict[str, Any] = {
            "input": {
                "environmentId": environment_id,
                "serviceId": service_id,
                "targetPort": target_port,
            }
        }
        return self._create(
            ops.SERVICE_DOMAIN_CREATE,
            "serviceDomainCreate",
            variables,
            read=_service_domain,
            find_existing=lambda: next(
                reversed(self._service_domains_of(environment_id, service_id)), None
            ),
            what="a service domain",
        )

    def delete_service_domain(self, service_domain_id: str) -> None:
        """Remove a Railway-provided domain; one already gone is not an error.

        https://docs.railway.com/integrations/api/manage-domains
        """
        try:
            self._execute(
                ops.SERVICE_DOMAIN_DELETE, "serviceDomainDelete", {"id": service_domain_id}
            )
        except RailwayNotFound:
            logger.info("serviceDomainDelete: domain %s was already gone", service_domain_id)

    # -- plumbing ---------------------------------------------------------------------------

    def _create(
        self,
        document: str,
        operation: str,
        variables: dict[str, Any],
        *,
        read: Callable[[Answer], T],
        find_existing: Callable[[], T | None],
        what: str,
    ) -> T:
        """The one retry policy for creates: send the create; when it was sent but no answer came
        back, look for what it may have made before sending it again, with backoff between
        attempts. Never makes two."""
        attempt = 0
        while True:
            try:
                data = self._execute(document, operation, variables, idempotent=False)
                return read(data.answer(operation))
            except _AmbiguousFailure as exc:
                existing = find_existing()
                if existing is not None:
                    logger.info("%s: found %s after an unanswered create", operation, what)
                    return existing
                if attempt >= self._max_retries:
                    raise RailwayUnavailable(
                        f"Railway did not confirm creating {what}: {exc.message}",
                        details={"operation": operation},
                    ) from None
                self._sleep(self._backoff(attempt))
                attempt += 1

    def _service_domains_of(self, environment_id: str, service_id: str) -> list[ServiceDomain]:
        data = self._execute(
            ops.SERVICE_INSTANCE,
            "serviceInstance",
            {"environmentId": environment_id, "serviceId": service_id},
        )
        domains = data.answer("serviceInstance").answer("domains")
        return [_service_domain(d) for d in domains.answers("serviceDomains")]

    def _environments(self, project_id: str) -> Iterator[Environment]:
        after: str | None = None
        while True:
            data = self._execute(
                ops.ENVIRONMENTS,
                "environments",
                {"projectId": project_id, "first": PAGE_SIZE, "after": after},
            )
            connection = data.answer("environments")
            for node in connection.nodes():
                yield _environment(node)
            after = connection.next_cursor()
            if after is None:
                return

    def _wait_until_applied(self, environment_id: str) -> None:
        delay = _APPLY_FIRST_DELAY
        for _ in range(_APPLY_ATTEMPTS):
            patch = self._execute(
                ops.ENVIRONMENT_STAGED_CHANGES,
                "environmentStagedChanges",
                {"environmentId": environment_id},
            ).answer("environmentStagedChanges")
            error = patch.optional_text("lastAppliedError")
            if error:
                raise RailwayError(
                    f"Railway could not apply the new environment: {error}",
                    details={"environment_id": environment_id},
                )
            if patch.optional_text("status") != "APPLYING":
                return
            self._sleep(delay)
            delay = min(delay * _APPLY_FACTOR, _APPLY_MAX_DELAY)
        raise RailwayTimeout(
            "Railway was still applying the new environment after about two minutes",
            details={"environment_id": environment_id},
        )

    def _backoff(self, attempt: int) -> float:
        # Full jitter keeps several workers that failed together from retrying together.
        ceiling = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (not cryptographic)

    def _execute(
        self,
        document: str,
        operation: str,
        variables: dict[str, Any],
        *,
        idempotent: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """Send one operation; retry what is safe to retry; map failures to typed errors."""
        body = {"query": document, "variables": variables, "operationName": operation}
        request_headers = headers or {"Authorization": f"Bearer {self._token}"}
        attempt = 0
        while True:
            started = time.monotonic()
            self.calls += 1
            try:
                response = self._http.post(self.api_url, json=body, headers=request_headers)
            except httpx.ConnectError as exc:
                # Nothing reached Railway, so even a create may be sent again.
                failure = f"cannot connect to Railway ({type(exc).__name__})"
                retry_ambiguous = False
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                failure = f"Railway did not answer ({type(exc).__name__})"
                retry_ambiguous = True
            else:
                elapsed = time.monotonic() - started
                logger.debug(
                    "railway %s -> HTTP %s in %.2fs (attempt %d)",
                    operation,
                    response.status_code,
                    elapsed,
                    attempt + 1,
                )
                if response.status_code == 429:
                    self.rate_limited += 1
                    delay = _retry_after(response)
                    if delay > self._max_retry_after or attempt >= self._max_retries:
                        raise RailwayRateLimited(
                            f"Railway's rate limit was reached ({operation}); "
                            f"retry in {delay:.0f} s",
                            details={"operation": operation, "retry_after": delay},
                        )
                    logger.warning("railway %s: rate limited, waiting %.1fs", operation, delay)
                    self._sleep(delay)
                    attempt += 1
                    continue
                if response.status_code >= 500:
                    failure = f"Railway answered HTTP {response.status_code}"
                    retry_ambiguous = True
                else:
                    return self._data(response, operation)
            if retry_ambiguous and not idempotent:
                logger.warning("railway %s: %s; not repeating a create blindly", operation, failure)
                raise _AmbiguousFailure(failure, details={"operation": operation})
            if attempt >= self._max_retries:
                raise RailwayUnavailable(
                    f"{failure} after {attempt + 1} attempts ({operation})",
                    details={"operation": operation},
                )
            delay = self._backoff(attempt)
            logger.warning("railway %s: %s; retrying in %.1fs", operation, failure, delay)
            self._sleep(delay)
            attempt += 1

    def _data(self, response: httpx.Response, operation: str) -> Answer:
        if response.status_code in (401, 403):
            raise self._unauthorized(operation)
        try:
            payload = response.json()
        except ValueError:
            raise RailwayError(
                f"Railway answered HTTP {response.status_code} without JSON ({operation}); "
                "check RAILWAY_API_URL",
                details={"operation": operation},
            ) from None
        if not isinstance(payload, dict):
            payload = {}
        errors = payload.get("errors")
        if errors:
            first = errors[0] if isinstance(errors, list) else None
            said = first.get("message") if isinstance(first, dict) else None
            message = mask_text(str(said or "unknown error"), [self._token])
            raise self._graphql_error(message, operation)
        if response.status_code >= 400 or not isinstance(payload.get("data"), dict):
            raise RailwayError(
                f"Railway answered HTTP {response.status_code} without data ({operation})",
                details={"operation": operation},
            )
        return Answer(payload["data"], operation)

    def _graphql_error(self, message: str, operation: str) -> RailwayError:
        lowered = message.lower()
        details = {"operation": operation, "railway_message": message}
        if "not authorized" in lowered or "project token not found" in lowered:
            return self._unauthorized(operation)
        if "unique" in lowered or "already exists" in lowered:
            return RailwayConflict(
                f"The name is already taken on Railway: {message}", details=details
            )
        if "not found" in lowered:
            return RailwayNotFound(f"Railway: {message}", details=details)
        if "rate limit" in lowered:
            return RailwayRateLimited(f"Railway: {message}", details=details)
        return RailwayError(f"Railway refused {operation}: {message}", details=details)

    def _unauthorized(self, operation: str) -> RailwayUnauthorized:
        if operation != "projectToken" and self._is_project_token():
            return RailwayProjectTokenGiven(
                _WRONG_KIND_OF_CREDENTIAL, details={"operation": operation}
            )
        return RailwayUnauthorized(_UNAUTHORIZED_MESSAGE, details={"operation": operation})

    def _is_project_token(self) -> bool:
        # Railway answers "Not Authorized" to a project token sent as a bearer token; asking who
        # it is with the project-token header is the only way to tell the user what is wrong.
        try:
            data = self._execute(
                ops.PROJECT_TOKEN,
                "projectToken",
                {},
                headers={"Project-Access-Token": self._token},
            )
            token = data.optional_answer("projectToken")
            return token is not None and bool(token.optional_text("projectId"))
        except RailwayError:
            return False


_GONE = frozenset({"DELETED", "DELETING"})


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _environment(node: Answer) -> Environment:
    return Environment(id=node.text("id"), name=node.text("name"))


def _service(node: Answer) -> Service:
    image = None
    instances = node.optional_answer("serviceInstances")
    for instance in instances.nodes() if instances else []:
        source = instance.optional_answer("source")
        image = (source and source.optional_text("image")) or image
    return Service(id=node.text("id"), name=node.text("name"), image=image)


def _service_instance(node: Answer) -> ServiceInstance:
    deployment = node.optional_answer("latestDeployment")
    source = node.optional_answer("source")
    domains = node.optional_answer("domains")
    return ServiceInstance(
        service_id=node.text("serviceId"),
        service_name=node.text("serviceName"),
        environment_id=node.text("environmentId"),
        image=source.optional_text("image") if source else None,
        deployment_status=deployment.optional_text("status") if deployment else None,
        domains=[
            d.text("domain")
            for kind in ("serviceDomains", "customDomains")
            for d in (domains.answers(kind) if domains else [])
        ],
        deployment_id=deployment.optional_text("id") if deployment else None,
    )


def _tcp_proxy(proxy: Answer) -> TcpProxy:
    return TcpProxy(
        id=proxy.text("id"),
        domain=proxy.text("domain"),
        proxy_port=proxy.integer("proxyPort"),
        application_port=proxy.integer("applicationPort"),
    )


def _service_domain(domain: Answer) -> ServiceDomain:
    return ServiceDomain(id=domain.text("id"), domain=domain.text("domain"))
