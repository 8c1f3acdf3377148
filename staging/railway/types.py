"""Typed answers of the Railway client: frozen dataclasses, never raw dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

DatabaseEngine = Literal["postgres", "mysql", "mariadb"]

# Railway's DeploymentStatus enum values that end a deployment.
DEPLOYMENT_SUCCEEDED = "SUCCESS"
DEPLOYMENT_FAILED_STATUSES = frozenset({"FAILED", "CRASHED"})


def detect_database_engine(image: str | None) -> DatabaseEngine | None:
    """The engine of a service image such as ``ghcr.io/railwayapp-templates/postgres-ssl:18``."""
    if not image:
        return None
    name = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0].lower()
    if name.startswith("postgres"):
        return "postgres"
    if name.startswith("mysql"):
        return "mysql"
    if name.startswith("mariadb"):
        return "mariadb"
    return None


@dataclass(frozen=True)
class ProjectSummary:
    id: str
    name: str


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    image: str | None

    @property
    def database_engine(self) -> DatabaseEngine | None:
        return detect_database_engine(self.image)


@dataclass(frozen=True)
class ServiceInstance:
    service_id: str
    service_name: str
    environment_id: str
    image: str | None
    deployment_status: str | None
    domains: list[str] = field(default_factory=list)
    deployment_id: str | None = None

    @property
    def database_engine(self) -> DatabaseEngine | None:
        return detect_database_engine(self.image)


@dataclass(frozen=True)
class Deployment:
    """One deployment of a service in an environment, as last read."""

    id: str | None
    status: str | None
    service_id: str
    service_name: str

    @property
    def succeeded(self) -> bool:
        return self.status == DEPLOYMENT_SUCCEEDED

    @property
    def failed(self) -> bool:
        return self.status in DEPLOYMENT_FAILED_STATUSES


@dataclass(frozen=True)
class Environment:
    id: str
    name: str
    service_instances: list[ServiceInstance] = field(default_factory=list)


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    environments: list[Environment]
    services: list[Service]

    def environment_named(self, name: str) -> Environment | None:
        return next((env for env in self.environments if env.name == name), None)


@dataclass(frozen=True)
class TcpProxy:
    id: str
    domain: str
    proxy_port: int
    application_port: int


@dataclass(frozen=True)
class ServiceDomain:
    id: str
    domain: str


# Where each database template puts its connection URLs (NOTES.md §5). The MariaDB template's
# MARIADB_URL goes through the TCP proxy, so it is the public one.
_URL_VARIABLES: dict[DatabaseEngine, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "postgres": (("DATABASE_PUBLIC_URL",), ("DATABASE_URL",)),
    "mysql": (("MYSQL_PUBLIC_URL",), ("MYSQL_URL",)),
    "mariadb": (("MARIADB_URL", "MYSQL_PUBLIC_URL"), ("MARIADB_PRIVATE_URL", "MYSQL_URL")),
}


def database_url(
    engine: DatabaseEngine, variables: dict[str, str], *, public: bool = True
) -> str | None:
    """The database service's connection URL from its rendered variables, or None.

    Railway renders a public URL with an empty host until a TCP proxy exists; that counts as none.
    """
    public_names, private_names = _URL_VARIABLES[engine]
    for name in public_names if public else private_names:
        value = variables.get(name, "")
        try:
            has_host = bool(value and urlsplit(value).hostname)
        except ValueError:
            # Not even a URL (an unclosed "["): returned, so that the caller's validation
            # refuses it with a stable code instead of this failing as a bug.
            has_host = True
        if has_host:
            return value
    return None
