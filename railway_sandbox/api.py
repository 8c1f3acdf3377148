"""Resolvers for the Railway operations the client sends, over the sandbox's world.

graphql-core executes each request against Railway's own schema: the default field resolver
reads dict keys and calls callables, so nested connections are callables taking their args.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from graphql import GraphQLResolveInfo as _ResolveInfo
from graphql import GraphQLSchema, build_client_schema

import staging.railway as railway_package
from railway_sandbox.state import (
    Deployment,
    Domain,
    Environment,
    Instance,
    Project,
    Service,
    TcpProxy,
    new_id,
    slug,
)

if TYPE_CHECKING:
    from railway_sandbox.server import Sandbox

Info: TypeAlias = "_ResolveInfo[Any]"
# Railway's public schema, as the product ships it (staging/railway/SCHEMA.md says whence).
SCHEMA_PATH = Path(railway_package.__file__).resolve().parent / "schema.json"
DOMAIN_SUFFIX = "up.railway.localhost"

_REFERENCE = re.compile(r"\$\{\{\s*([A-Za-z0-9_.\- ]+?)\s*\}\}")
# Stands in for a TCP proxy that does not exist: a variable built on it renders empty, as
# Railway leaves DATABASE_PUBLIC_URL empty until Public Access is added.
_NO_PROXY = "\x00"


class SandboxGraphQLError(Exception):
    """Becomes one entry of the response's ``errors``, with Railway's wording."""


@cache
def railway_schema(path: Path = SCHEMA_PATH) -> GraphQLSchema:
    with path.open() as handle:
        data = json.load(handle)["data"]
    # Railway's schema breaks one interface rule (NOTES: SOURCE.md); documents still validate.
    return build_client_schema(data, assume_valid=True)


def connection(items: list[Any], first: int | None, after: str | None) -> dict[str, Any]:
    """A Relay connection over ``items``; cursors are positions."""
    start = int(after) + 1 if after else 0
    end = len(items) if first is None else start + first
    page = items[start:end]
    return {
        "edges": [{"node": node, "cursor": str(start + i)} for i, node in enumerate(page)],
        "pageInfo": {
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": str(start) if page else None,
            "endCursor": str(start + len(page) - 1) if page else after,
        },
    }


def _paged(items: Callable[[], list[Any]]) -> Callable[..., dict[str, Any]]:
    def resolve(_info: Info, **args: Any) -> dict[str, Any]:
        return connection(items(), args.get("first"), args.get("after"))

    return resolve


class RailwayApi:
    """The root value: one method per Query/Mutation field the sandbox answers."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world

    # -- lookups ----------------------------------------------------------------------------

    def _project(self, project_id: str) -> Project:
        project = self.world.projects.get(project_id)
        if project is None:
            raise SandboxGraphQLError("Project not found")
        return project

    def _environment(self, environment_id: str) -> Environment:
        environment = self.world.environment(environment_id)
        if environment is None:
            raise SandboxGraphQLError("Environment not found")
        return environment

    def _instance(self, environment_id: str, service_id: str) -> Instance:
        instance = self._environment(environment_id).instances.get(service_id)
        if instance is None:
            raise SandboxGraphQLError("ServiceInstance not found")
        return instance

    def _service(self, instance: Instance) -> Service:
        environment = self._environment(instance.environment_id)
        return self.world.projects[environment.project_id].services[instance.service_id]

    # -- nodes ------------------------------------------------------------------------------

    def _project_node(self, project: Project) -> dict[str, Any]:
        return {
            "id": project.id,
            "name": project.name,
            "environments": _paged(
                lambda: [self._environment_node(e) for e in project.environments.values()]
            ),
            "services": _paged(
                lambda: [self._service_node(project, s) for s in project.services.values()]
            ),
        }

    def _service_node(self, project: Project, service: Service) -> dict[str, Any]:
        def instances() -> list[dict[str, Any]]:
            return [
                self._instance_node(env.instances[service.id])
                for env in project.environments.values()
                if service.id in env.instances
            ]

        return {
            "id": service.id,
            "name": service.name,
            "projectId": project.id,
            "serviceInstances": _paged(instances),
        }

    def _environment_node(self, environment: Environment) -> dict[str, Any]:
        return {
            "id": environment.id,
            "name": environment.name,
            "projectId": environment.project_id,
            "serviceInstances": _paged(
                lambda: [self._instance_node(i) for i in environment.instances.values()]
            ),
        }

    def _instance_node(self, instance: Instance) -> dict[str, Any]:
        service = self._service(instance)
        deployment = instance.latest_deployment()
        now = self.world.now()
        return {
            "id": instance.id,
            "serviceId": instance.service_id,
            "serviceName": service.name,
            "environmentId": instance.environment_id,
            "source": {"image": instance.image, "repo": None},
            "latestDeployment": None
            if deployment is None
            else self._deployment_node(instance, deployment, now),
            "domains": {
                "serviceDomains": [self._domain_node(instance, d) for d in instance.domains],
                "customDomains": [],
            },
        }

    def _deployment_node(
        self, instance: Instance, deployment: Deployment, now: float | None = None
    ) -> dict[str, Any]:
        service = self._service(instance)
        return {
            "id": deployment.id,
            "status": deployment.status(self.world.now() if now is None else now),
            "service": {"id": service.id, "name": service.name},
            "canRedeploy": True,
            "serviceId": instance.service_id,
            "environmentId": instance.environment_id,
        }

    def _domain_node(self, instance: Instance, domain: Domain) -> dict[str, Any]:
        return {
            "id": domain.id,
            "domain": domain.domain,
            "targetPort": domain.target_port,
            "suffix": DOMAIN_SUFFIX,
            "syncStatus": "ACTIVE",
            "environmentId": instance.environment_id,
            "serviceId": instance.service_id,
        }

    def _proxy_node(self, instance: Instance, proxy: TcpProxy) -> dict[str, Any]:
        return {
            "id": proxy.id,
            "domain": proxy.domain,
            "proxyPort": proxy.proxy_port,
            "applicationPort": proxy.application_port,
            "syncStatus": "ACTIVE",
            "deletedAt": None,
            "environmentId": instance.environment_id,
            "serviceId": instance.service_id,
        }

    # -- queries ----------------------------------------------------------------------------

    def projects(self, info: Info, **args: Any) -> dict[str, Any]:
        nodes = [self._project_node(p) for p in self.world.projects.values()]
        return connection(nodes, args.get("first"), args.get("after"))

    def project(self, info: Info, id: str) -> dict[str, Any]:
        return self._project_node(self._project(id))

    def environments(self, info: Info, projectId: str, **args: Any) -> Any:
        project = self._project(projectId)
        nodes = [self._environment_node(e) for e in project.environments.values()]
        return connection(nodes, args.get("first"), args.get("after"))

    def environment(self, info: Info, id: str, **_: Any) -> dict[str, Any]:
        return self._environment_node(self._environment(id))

    def environmentStagedChanges(
        self,
        info: Info,
        environmentId: str,
    ) -> dict[str, Any]:
        environment = self._environment(environmentId)
        applying = self.world.now() < environment.applied_at
        status = "APPLYING" if applying else "STAGED" if environment.staged else "COMMITTED"
        return {
            "id": f"patch-{environment.id}",
            "status": status,
            "lastAppliedError": None,
            "environmentId": environment.id,
        }

    def serviceInstance(
        self,
        info: Info,
        environmentId: str,
        serviceId: str,
    ) -> dict[str, Any]:
        return self._instance_node(self._instance(environmentId, serviceId))

    def variablesForServiceDeployment(
        self,
        info: Info,
        projectId: str,
        environmentId: str,
        serviceId: str,
    ) -> dict[str, str]:
        self._project(projectId)
        return self.render_variables(self._instance(environmentId, serviceId))

    def variables(
        self,
        info: Info,
        projectId: str,
        environmentId: str,
        serviceId: str | None = None,
        unrendered: bool | None = None,
    ) -> dict[str, str]:
        self._project(projectId)
        if serviceId is None:
            return {}  # shared variables: the sandbox's projects have none
        instance = self._instance(environmentId, serviceId)
        if unrendered:
            return dict(sorted(instance.variables.items()))
        return self.render_variables(instance)

    def deployment(self, info: Info, id: str) -> dict[str, Any]:
        for _, _, instance in self.world.instances():
            for candidate in instance.deployments:
                if candidate.id == id:
                    return self._deployment_node(instance, candidate)
        raise SandboxGraphQLError("Deployment not found")

    def tcpProxies(
        self,
        info: Info,
        environmentId: str,
        serviceId: str,
    ) -> list[dict[str, Any]]:
        instance = self._instance(environmentId, serviceId)
        return [self._proxy_node(instance, p) for p in instance.proxies]

    def domains(
        self,
        info: Info,
        projectId: str,
        environmentId: str,
        serviceId: str,
    ) -> dict[str, Any]:
        self._project(projectId)
        instance = self._instance(environmentId, serviceId)
        return {
            "serviceDomains": [self._domain_node(instance, d) for d in instance.domains],
            "customDomains": [],
        }

    def projectToken(self, info: Info) -> dict[str, Any]:
        project = next(iter(self.world.projects.values()), None)
        if project is None:
            raise SandboxGraphQLError("Project Token not found")
        return {
            "id": "project-token",
            "name": "sandbox",
            "projectId": project.id,
            "environmentId": project.production_environment_id,
        }

    # -- mutations --------------------------------------------------------------------------

    def environmentCreate(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        project = self._project(input["projectId"])
        name = input["name"]
        if any(e.name == name for e in project.environments.values()):
            raise SandboxGraphQLError(f"Environment with name {name} already exists")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}", name):
            raise SandboxGraphQLError("Environment name is invalid")
        failure = self.sandbox.faults.take("environmentCreate", ("create_fails",))
        if failure is not None:
            raise SandboxGraphQLError(failure.message)
        source_id = input.get("sourceEnvironmentId")
        source = project.environments.get(source_id) if source_id else None
        if source_id and source is None:
            raise SandboxGraphQLError("Source environment not found")
        environment = Environment(id=new_id(), name=name, project_id=project.id)
        project.environments[environment.id] = environment
        missing = self.sandbox.faults.take("environmentCreate", ("variable_missing",))
        copies: dict[str, Instance] = {}
        for service_id, original in (source.instances if source else {}).items():
            variables = dict(original.variables)
            if missing is not None:
                variables.pop(missing.variable, None)
            copies[service_id] = Instance(
                service_id=service_id,
                environment_id=environment.id,
                image=original.image,
                variables=variables,
            )
        if input.get("stageInitialChanges"):
            # Railway's dashboard behaviour: everything waits in a staged patch, nothing runs.
            environment.staged = copies
        else:
            self._apply(project, environment, copies)
            # Applying starts once the copy exists; in background mode the answer does not wait.
            environment.applied_at = self.world.now() + (
                self.sandbox.apply_seconds if input.get("applyChangesInBackground") else 0.0
            )
            if not input.get("skipInitialDeploys"):
                self._deploy_all(project, environment, "environmentCreate")
        self.sandbox.save()
        return self._environment_node(environment)

    def _apply(
        self, project: Project, environment: Environment, copies: dict[str, Instance]
    ) -> None:
        for service_id, instance in copies.items():
            service = project.services[service_id]
            if service.engine is not None:
                self.sandbox.back_with_database(project, environment, service, instance)
            environment.instances[service_id] = instance

    def _deploy_all(self, project: Project, environment: Environment, operation: str) -> None:
        for service_id, instance in environment.instances.items():
            self.sandbox.deploy(
                instance, project.services[service_id], operation, start=environment.applied_at
            )

    def environmentPatchCommitStaged(
        self,
        info: Info,
        environmentId: str,
        commitMessage: str | None = None,
        skipDeploys: bool | None = None,
    ) -> str:
        environment = self._environment(environmentId)
        project = self.world.projects[environment.project_id]
        staged, environment.staged = environment.staged, {}
        self._apply(project, environment, staged)
        environment.applied_at = self.world.now()
        if not skipDeploys:
            self._deploy_all(project, environment, "environmentPatchCommitStaged")
        self.sandbox.save()
        return f"patch-{environment.id}"

    def environmentDelete(self, info: Info, id: str) -> bool:
        environment = self._environment(id)
        if self.sandbox.faults.take("environmentDelete", ("delete_refused",)) is not None:
            raise SandboxGraphQLError("Failed to delete environment. Please try again later.")
        project = self.world.projects[environment.project_id]
        for instance in environment.instances.values():
            self.sandbox.close_proxies(instance)
            if instance.database is not None:
                self.sandbox.servers.drop(instance.database)
        del project.environments[environment.id]
        self.sandbox.save()
        return True

    def variableCollectionUpsert(self, info: Info, input: dict[str, Any]) -> bool:
        self._project(input["projectId"])
        instance = self._instance(input["environmentId"], input["serviceId"])
        if input.get("replace"):
            instance.variables.clear()
        instance.variables.update({k: str(v) for k, v in (input["variables"] or {}).items()})
        if not input.get("skipDeploys"):
            self.sandbox.deploy(instance, self._service(instance), "variableCollectionUpsert")
        self.sandbox.save()
        return True

    def tcpProxyCreate(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        instance = self._instance(input["environmentId"], input["serviceId"])
        proxy = self.sandbox.open_proxy(instance, input["applicationPort"])
        self.sandbox.save()
        return self._proxy_node(instance, proxy)

    def serviceDomainCreate(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        instance = self._instance(input["environmentId"], input["serviceId"])
        environment = self._environment(instance.environment_id)
        domain = Domain(
            id=new_id(),
            domain=service_domain(self._service(instance).name, environment.name),
            target_port=input.get("targetPort"),
        )
        instance.domains.append(domain)
        self.sandbox.save()
        return self._domain_node(instance, domain)

    def serviceDomainDelete(self, info: Info, id: str) -> bool:
        for project in self.world.projects.values():
            for environment in project.environments.values():
                for instance in environment.instances.values():
                    kept = [domain for domain in instance.domains if domain.id != id]
                    if len(kept) != len(instance.domains):
                        instance.domains = kept
                        self.sandbox.save()
                        return True
        raise SandboxGraphQLError("ServiceDomain not found")

    def serviceInstanceRedeploy(
        self,
        info: Info,
        environmentId: str,
        serviceId: str,
    ) -> bool:
        instance = self._instance(environmentId, serviceId)
        if not instance.deployments:
            # A redeploy repeats the latest deployment; a service never deployed has none.
            raise SandboxGraphQLError("No deployment to redeploy for this service instance")
        self.sandbox.deploy(instance, self._service(instance), "serviceInstanceRedeploy")
        self.sandbox.save()
        return True

    def serviceInstanceDeploy(
        self,
        info: Info,
        environmentId: str,
        serviceId: str,
        commitSha: str | None = None,
        latestCommit: bool | None = None,
    ) -> bool:
        instance = self._instance(environmentId, serviceId)
        self.sandbox.deploy(instance, self._service(instance), "serviceInstanceDeploy")
        self.sandbox.save()
        return True

    def serviceInstanceDeployV2(
        self,
        info: Info,
        environmentId: str,
        serviceId: str,
        commitSha: str | None = None,
    ) -> str:
        instance = self._instance(environmentId, serviceId)
        created = self.sandbox.deploy(instance, self._service(instance), "serviceInstanceDeployV2")
        self.sandbox.save()
        return created.id

    # -- variables --------------------------------------------------------------------------

    def builtin_variables(self, instance: Instance) -> dict[str, str]:
        environment = self._environment(instance.environment_id)
        project = self.world.projects[environment.project_id]
        service = project.services[instance.service_id]
        proxy = instance.proxies[0] if instance.proxies else None
        return {
            "RAILWAY_PROJECT_ID": project.id,
            "RAILWAY_PROJECT_NAME": project.name,
            "RAILWAY_ENVIRONMENT_ID": environment.id,
            "RAILWAY_ENVIRONMENT_NAME": environment.name,
            "RAILWAY_ENVIRONMENT": environment.name,
            "RAILWAY_SERVICE_ID": service.id,
            "RAILWAY_SERVICE_NAME": service.name,
            "RAILWAY_PRIVATE_DOMAIN": f"{slug(service.name)}.railway.internal",
            "RAILWAY_PUBLIC_DOMAIN": instance.domains[0].domain if instance.domains else "",
            "RAILWAY_TCP_PROXY_DOMAIN": proxy.domain if proxy else _NO_PROXY,
            "RAILWAY_TCP_PROXY_PORT": str(proxy.proxy_port) if proxy else _NO_PROXY,
        }

    def render_variables(self, instance: Instance) -> dict[str, str]:
        """The variables with every ``${{...}}`` reference resolved, as a deployment sees them."""
        environment = self._environment(instance.environment_id)
        project = self.world.projects[environment.project_id]
        by_name = {project.services[i.service_id].name: i for i in environment.instances.values()}

        def lookup(owner: Instance, name: str, depth: int) -> str:
            if "." in name:
                service_name, _, variable = name.partition(".")
                other = by_name.get(service_name)
                return "" if other is None else lookup(other, variable, depth + 1)
            if name in owner.variables:
                return render(owner, owner.variables[name], depth + 1)
            return self.builtin_variables(owner).get(name, "")

        def render(owner: Instance, text: str, depth: int) -> str:
            if depth > 10:
                return text
            return _REFERENCE.sub(lambda m: lookup(owner, m.group(1), depth), text)

        rendered = {name: render(instance, value, 0) for name, value in instance.variables.items()}
        rendered.update(
            {k: v for k, v in self.builtin_variables(instance).items() if k not in rendered}
        )
        return {k: ("" if _NO_PROXY in v else v) for k, v in sorted(rendered.items())}


def service_domain(service_name: str, environment_name: str) -> str:
    return f"{slug(service_name)}-{slug(environment_name)}-{secrets.token_hex(2)}.{DOMAIN_SUFFIX}"


def deployment(start: float, duration: float, outcome: str) -> Deployment:
    return Deployment(id=new_id(), created_at=start, duration=duration, outcome=outcome)
