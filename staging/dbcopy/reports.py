"""The plain values that the copy engine takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CopyProgress:
    phase: str  # "schema" | "data" | "indexes" | "verify"
    bytes_copied: int
    total_bytes: int  # estimated size
    percent: int  # 0..100 of the estimated size
    rows_copied: int


@dataclass(frozen=True)
class PreflightReport:
    engine: str  # "postgres" | "mysql" | "mariadb"
    source_size_bytes: int
    server_version: str
    client_version: str


@dataclass(frozen=True)
class CopyReport:
    engine: str
    method: str
    source_size_bytes: int
    bytes_copied: int
    duration_seconds: float
    attempts: int
    row_counts: dict[str, int] = field(default_factory=dict)
