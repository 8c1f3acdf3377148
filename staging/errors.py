"""Expected problems, each with a stable code.

A code is chosen once: it is stored on runs, returned by the API and listed in
docs/errors.md with what to do about it. Anything that is not an ``UnderstudyError`` is a bug.
"""

from __future__ import annotations

from typing import Any, ClassVar


class UnderstudyError(Exception):
    """An expected failure with a stable code and a message a person can act on."""

    code: ClassVar[str] = "understudy_error"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidName(UnderstudyError):
    code = "invalid_name"


class NameTaken(UnderstudyError):
    code = "name_taken"
    http_status = 409


class InvalidState(UnderstudyError):
    code = "invalid_state"
    http_status = 409


class AuditEventImmutable(UnderstudyError):
    code = "audit_immutable"
    http_status = 405


class RequestTooLarge(UnderstudyError):
    """A request body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``; raised by the API's parser, which
    DRF loads while its views import, so it lives here rather than in ``staging.api``."""

    code = "request_too_large"
    http_status = 413
