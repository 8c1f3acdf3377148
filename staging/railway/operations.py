"""Every GraphQL document the client sends, one constant per operation.

The constant's name is the operation's name in upper snake case; the operation name itself is
what Railway's logs and the sandbox's fault switches key on. ``OPERATIONS`` lists them all, and
tests/railway/test_contract.py validates each one against Railway's schema.
"""

from __future__ import annotations

_SERVICE_INSTANCE_FIELDS = """
    id
    serviceId
    serviceName
    environmentId
    source { image repo }
    latestDeployment { id status }
    domains { serviceDomains { id domain } customDomains { id domain } }
"""

PROJECTS = """
query projects($first: Int, $after: String) {
  projects(first: $first, after: $after) {
    edges { node { id name } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

PROJECT = """
query project($id: String!, $first: Int, $environmentsAfter: String, $servicesAfter: String) {
  project(id: $id) {
    id
    name
    environments(first: $first, after: $environmentsAfter) {
      edges { node { id name } }
      pageInfo { hasNextPage endCursor }
    }
    services(first: $first, after: $servicesAfter) {
      edges {
        node {
          id
          name
          serviceInstances(first: 1) { edges { node { environmentId source { image } } } }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

ENVIRONMENTS = """
query environments($projectId: String!, $first: Int, $after: String) {
  environments(projectId: $projectId, first: $first, after: $after) {
    edges { node { id name } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

ENVIRONMENT = f"""
query environment($id: String!, $first: Int, $after: String) {{
  environment(id: $id) {{
    id
    name
    serviceInstances(first: $first, after: $after) {{
      edges {{ node {{ {_SERVICE_INSTANCE_FIELDS} }} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""

ENVIRONMENT_CREATE = """
mutation environmentCreate($input: EnvironmentCreateInput!) {
  environmentCreate(input: $input) { id name }
}
"""

ENVIRONMENT_STAGED_CHANGES = """
query environmentStagedChanges($environmentId: String!) {
  environmentStagedChanges(environmentId: $environmentId) { id status lastAppliedError }
}
"""

ENVIRONMENT_DELETE = """
mutation environmentDelete($id: String!) {
  environmentDelete(id: $id)
}
"""

SERVICE_INSTANCE = f"""
query serviceInstance($environmentId: String!, $serviceId: String!) {{
  serviceInstance(environmentId: $environmentId, serviceId: $serviceId) {{
    {_SERVICE_INSTANCE_FIELDS}
  }}
}}
"""

VARIABLES_FOR_SERVICE_DEPLOYMENT = """
query variablesForServiceDeployment(
  $projectId: String!, $environmentId: String!, $serviceId: String!
) {
  variablesForServiceDeployment(
    projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId
  )
}
"""

VARIABLES = """
query variables(
  $projectId: String!, $environmentId: String!, $serviceId: String, $unrendered: Boolean
) {
  variables(
    projectId: $projectId,
    environmentId: $environmentId,
    serviceId: $serviceId,
    unrendered: $unrendered
  )
}
"""

VARIABLE_COLLECTION_UPSERT = """
mutation variableCollectionUpsert($input: VariableCollectionUpsertInput!) {
  variableCollectionUpsert(input: $input)
}
"""

TCP_PROXIES = """
query tcpProxies($environmentId: String!, $serviceId: String!) {
  tcpProxies(environmentId: $environmentId, serviceId: $serviceId) {
    id domain proxyPort applicationPort syncStatus deletedAt
  }
}
"""

TCP_PROXY_CREATE = """
mutation tcpProxyCreate($input: TCPProxyCreateInput!) {
  tcpProxyCreate(input: $input) { id domain proxyPort applicationPort syncStatus deletedAt }
}
"""

DOMAINS = """
query domains($projectId: String!, $environmentId: String!, $serviceId: String!) {
  domains(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId) {
    serviceDomains { id domain targetPort }
  }
}
"""

SERVICE_DOMAIN_CREATE = """
mutation serviceDomainCreate($input: ServiceDomainCreateInput!) {
  serviceDomainCreate(input: $input) { id domain targetPort }
}
"""

SERVICE_DOMAIN_DELETE = """
mutation serviceDomainDelete($id: String!) {
  serviceDomainDelete(id: $id)
}
"""

SERVICE_INSTANCE_REDEPLOY = """
mutation serviceInstanceRedeploy($environmentId: String!, $serviceId: String!) {
  serviceInstanceRedeploy(environmentId: $environmentId, serviceId: $serviceId)
}
"""

SERVICE_INSTANCE_DEPLOY_V2 = """
mutation serviceInstanceDeployV2($environmentId: String!, $serviceId: String!) {
  serviceInstanceDeployV2(environmentId: $environmentId, serviceId: $serviceId)
}
"""

DEPLOYMENT = """
query deployment($id: String!) {
  deployment(id: $id) { id status serviceId environmentId service { name } }
}
"""

PROJECT_TOKEN = """
query projectToken {
  projectToken { projectId environmentId }
}
"""  # noqa: S105 (a query, not a secret)

OPERATIONS: dict[str, str] = {
    "projects": PROJECTS,
    "project": PROJECT,
    "environments": ENVIRONMENTS,
    "environment": ENVIRONMENT,
    "environmentCreate": ENVIRONMENT_CREATE,
    "environmentStagedChanges": ENVIRONMENT_STAGED_CHANGES,
    "environmentDelete": ENVIRONMENT_DELETE,
    "serviceInstance": SERVICE_INSTANCE,
    "variablesForServiceDeployment": VARIABLES_FOR_SERVICE_DEPLOYMENT,
    "variables": VARIABLES,
    "variableCollectionUpsert": VARIABLE_COLLECTION_UPSERT,
    "tcpProxies": TCP_PROXIES,
    "tcpProxyCreate": TCP_PROXY_CREATE,
    "domains": DOMAINS,
    "serviceDomainCreate": SERVICE_DOMAIN_CREATE,
    "serviceDomainDelete": SERVICE_DOMAIN_DELETE,
    "serviceInstanceRedeploy": SERVICE_INSTANCE_REDEPLOY,
    "serviceInstanceDeployV2": SERVICE_INSTANCE_DEPLOY_V2,
    "deployment": DEPLOYMENT,
    "projectToken": PROJECT_TOKEN,
}
