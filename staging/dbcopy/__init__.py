"""The database copy engine: a production database into a staging one, verified.

Services only: everything is passed in, nothing is read from Django (see DESIGN.md).
"""

from staging.dbcopy.addresses import resolve_public_address
from staging.dbcopy.engine import check_staging_marker, copy_database, inspect_source, preflight
from staging.dbcopy.errors import (
    CopyCancelled,
    CopyError,
    CopyStalled,
    CopyTimeout,
    CopyToolIncompatible,
    CopyToolMissing,
    CopyToolTooOld,
    CopyVerificationFailed,
    DatabaseAddressRefused,
    DatabaseUrlInvalid,
    EngineMismatch,
    SourceUnreachable,
    TargetIsSource,
    TargetNotMarked,
    TargetUnreachable,
    UnsupportedDatabase,
)
from staging.dbcopy.reports import CopyProgress, CopyReport, PreflightReport

__all__ = [
    "CopyCancelled",
    "CopyError",
    "CopyProgress",
    "CopyReport",
    "CopyStalled",
    "CopyTimeout",
    "CopyToolIncompatible",
    "CopyToolMissing",
    "CopyToolTooOld",
    "CopyVerificationFailed",
    "DatabaseAddressRefused",
    "DatabaseUrlInvalid",
    "EngineMismatch",
    "PreflightReport",
    "SourceUnreachable",
    "TargetIsSource",
    "TargetNotMarked",
    "TargetUnreachable",
    "UnsupportedDatabase",
    "check_staging_marker",
    "copy_database",
    "inspect_source",
    "preflight",
    "resolve_public_address",
]
