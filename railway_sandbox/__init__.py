"""A local stand-in for Railway's API, backed by the local PostgreSQL and MariaDB servers."""

from railway_sandbox.faults import FAULT_KINDS, Fault, Faults
from railway_sandbox.server import Sandbox, SandboxProject

__all__ = ["FAULT_KINDS", "Fault", "Faults", "Sandbox", "SandboxProject"]
