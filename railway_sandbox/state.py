"""The sandbox's world: projects, environments, service instances, deployments.

Kept as plain dataclasses and written to a JSON file atomically after every change, so that a
restarted sandbox knows everything it had made (and which databases to drop).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Engine = Literal["postgres", "mysql", "mariadb"]

# How a deployment moves through Railway's statuses, as fractions of its duration.
_PHASES = (
    (0.1, "QUEUED"),
    (0.25, "INITIALIZING"),
    (0.55, "BUILDING"),
    (1.0, "DEPLOYING"),
)


def new_id() -> str:
    """An id shaped like Railway's (a UUID)."""
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[20:32]}"


def database_prefix_for(state_path: Path) -> str:
    """The prefix of every database and user a sandbox with this state file creates.

    Derived from the state file's absolute path, so that sandboxes on one machine (a demo, a
    test run, a benchmark, another checkout's demo) never name, and so never drop, each other's
    databases, while a restarted sandbox keeps its own.
    """
    digest = hashlib.sha256(str(Path(state_path).resolve()).encode()).hexdigest()
    return f"sbx{digest[:10]}"


def slug(text: str) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in cleaned.split("-") if part) or "x"


@dataclass
class DatabaseBacking:
    """A database on the local server standing in for a Railway database service's volume."""

    engine: Engine
    database: str
    user: str
    password: str


@dataclass
class Deployment:
    id: str
    created_at: float
    duration: float
    outcome: str = "SUCCESS"

    def status(self, now: float) -> str:
        elapsed = now - self.created_at
        if elapsed >= self.duration:
            return self.outcome
        for fraction, status in _PHASES:
            if elapsed < fraction * self.duration:
                return status
        return "DEPLOYING"


@dataclass
class Domain:
    id: str
    domain: str
    target_port: int | None = None


@dataclass
class TcpProxy:
    id: str
    domain: str
    proxy_port: int
    application_port: int


@dataclass
class Instance:
    service_id: str
    environment_id: str
    image: str
    variables: dict[str, str] = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)
    domains: list[Domain] = field(default_factory=list)
    proxies: list[TcpProxy] = field(default_factory=list)
    database: DatabaseBacking | None = None
    id: str = field(default_factory=new_id)

    def latest_deployment(self) -> Deployment | None:
        return self.deployments[-1] if self.deployments else None


@dataclass
class Service:
    id: str
    name: str
    image: str
    engine: Engine | None = None
    wordpress: bool = False


@dataclass
class Environment:
    id: str
    name: str
    project_id: str
    applied_at: float = 0.0
    instances: dict[str, Instance] = field(default_factory=dict)
    # Service instances of a duplication made with stageInitialChanges: they exist only as a
    # staged patch (no variables, no deployments) until the patch is committed.
    staged: dict[str, Instance] = field(default_factory=dict)


@dataclass
class Project:
    id: str
    name: str
    production_environment_id: str
    services: dict[str, Service] = field(default_factory=dict)
    environments: dict[str, Environment] = field(default_factory=dict)


@dataclass
class World:
    projects: dict[str, Project] = field(default_factory=dict)

    def environment(self, environment_id: str) -> Environment | None:
        for project in self.projects.values():
            if environment_id in project.environments:
                return project.environments[environment_id]
        return None

    def instances(self) -> list[tuple[Project, Environment, Instance]]:
        return [
            (project, environment, instance)
            for project in self.projects.values()
            for environment in project.environments.values()
            for instance in environment.instances.values()
        ]

    def backings(self) -> list[DatabaseBacking]:
        return [i.database for _, _, i in self.instances() if i.database is not None]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(asdict(self), indent=1, sort_keys=True)
        # Write then rename, so a crash never leaves half a state file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> World:
        if not path.exists():
            return cls()
        raw: dict[str, Any] = json.loads(path.read_text())
        return cls(projects={k: _project(v) for k, v in raw.get("projects", {}).items()})

    def now(self) -> float:
        return time.time()


def _project(raw: dict[str, Any]) -> Project:
    return Project(
        id=raw["id"],
        name=raw["name"],
        production_environment_id=raw["production_environment_id"],
        services={k: Service(**v) for k, v in raw["services"].items()},
        environments={k: _environment(v) for k, v in raw["environments"].items()},
    )


def _environment(raw: dict[str, Any]) -> Environment:
    return Environment(
        id=raw["id"],
        name=raw["name"],
        project_id=raw["project_id"],
        applied_at=raw["applied_at"],
        instances={k: _instance(v) for k, v in raw["instances"].items()},
        staged={k: _instance(v) for k, v in raw.get("staged", {}).items()},
    )


def _instance(raw: dict[str, Any]) -> Instance:
    database = raw.get("database")
    return Instance(
        id=raw["id"],
        service_id=raw["service_id"],
        environment_id=raw["environment_id"],
        image=raw["image"],
        variables=dict(raw["variables"]),
        deployments=[Deployment(**d) for d in raw["deployments"]],
        domains=[Domain(**d) for d in raw["domains"]],
        proxies=[TcpProxy(**p) for p in raw["proxies"]],
        database=DatabaseBacking(**database) if database else None,
    )
