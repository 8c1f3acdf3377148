"""Expected failures of the database copy, each with a stable code.

The codes are stored on runs and returned by the API: they are chosen once.
"""

from __future__ import annotations

from staging.errors import UnderstudyError


class CopyError(UnderstudyError):
    """The copy failed for a reason a person can act on."""

    code = "copy_failed"
    http_status = 502


class CopyToolMissing(CopyError):
    code = "copy_tool_missing"


class CopyToolTooOld(CopyError):
    code = "copy_tool_too_old"


class CopyToolIncompatible(CopyError):
    code = "copy_tool_incompatible"


class SourceUnreachable(CopyError):
    code = "source_unreachable"


class TargetUnreachable(CopyError):
    code = "target_unreachable"


class TargetIsSource(CopyError):
    code = "target_is_source"
    http_status = 409


class CopyTimeout(CopyError):
    code = "copy_timeout"
    http_status = 504


class CopyCancelled(CopyError):
    code = "copy_cancelled"
    http_status = 409


class CopyVerificationFailed(CopyError):
    code = "copy_verification_failed"


class UnsupportedDatabase(CopyError):
    code = "unsupported_database"
    http_status = 400


class EngineMismatch(CopyError):
    code = "engine_mismatch"
    http_status = 400


class TransientCopyError(CopyError):
    """A dropped connection or a restarted server: the attempt may be retried from scratch.

    It keeps the ``copy_failed`` code because it reaches the caller only once the attempts are
    exhausted, and then the copy has simply failed.
    """


class DatabaseUrlInvalid(CopyError):
    """A database URL read from Railway is malformed or carries something we refuse.

    The message never quotes the URL: a URL that does not parse cannot be masked reliably.
    """

    code = "database_url_invalid"
    http_status = 400


class DatabaseAddressRefused(CopyError):
    """The database host resolves to an address the worker must not connect to."""

    code = "database_address_refused"
    http_status = 422


class TargetNotMarked(CopyError):
    """The target is neither empty nor marked as the staging copy of this environment."""

    code = "staging_target_not_marked"
    http_status = 409


class CopyStalled(CopyTimeout):
    """A server stopped answering in the middle of a copy (nothing moved for too long)."""

    code = "copy_stalled"
