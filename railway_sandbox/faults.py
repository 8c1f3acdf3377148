"""Faults the sandbox can inject, per GraphQL operation name (or ``*`` for any)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

FaultKind = Literal[
    "rate_limit",
    "server_error",
    "slow",
    "drop",
    "deployment_failed",
    "create_fails",
    "delete_refused",
    "variable_missing",
    "site_status",
    "site_redirect",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)


@dataclass
class Fault:
    """One switched-on fault. ``times`` is how often it still fires (None: until cleared).

    ``operation`` is a GraphQL operation name, or for the faults of a service (its deployments,
    its site) the service's name; ``*`` matches anything.

    - ``deployment_failed``: the next deployment ends ``outcome`` (FAILED or CRASHED).
    - ``delete_refused``: ``environmentDelete`` answers an error and deletes nothing.
    - ``variable_missing``: ``environmentCreate`` does not copy the variable ``variable``.
    - ``site_status``: the service's site answers ``status`` (e.g. 404, Railway's "Application
      not found").
    - ``site_redirect``: the service's site redirects to ``location`` (default: the same path on
      the service's production domain).
    """

    operation: str
    kind: FaultKind
    times: int | None = 1
    retry_after: float = 1.0
    status: int = 503
    delay: float = 2.0
    # For "drop" on a mutation: carry the operation out, then drop the connection (the
    # ambiguous case a client must not answer by creating a second one).
    after_execute: bool = False
    message: str = "Failed to create environment. Please try again."
    outcome: str = "FAILED"
    variable: str = ""
    location: str = ""

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Fault:
        kind = raw.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Faults:
    """Thread-safe set of faults; each firing uses one of its ``times``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def set(
        self, operation: str, kind: FaultKind, *, times: int | None = 1, **options: Any
    ) -> Fault:
        fault = Fault(operation=operation, kind=kind, times=times, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, operation: str, kinds: tuple[FaultKind, ...]) -> Fault | None:
        """The first fault of one of these kinds for the operation, counted as fired."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.operation in (operation, "*"):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]
