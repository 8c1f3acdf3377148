"""A local stand-in for Railway's API, backed by the local PostgreSQL and MariaDB servers."""

from staging.railway.sandbox.faults import FAULT_KINDS, Fault, Faults
from staging.railway.sandbox.server import Sandbox, SandboxProject

__all__ = ["FAULT_KINDS", "Fault", "Faults", "Sandbox", "SandboxProject"]
