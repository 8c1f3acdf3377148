"""The database copy engine: a production database into a staging one, verified.

Services only: everything is passed in, nothing is read from Django (see DESIGN.md).
"""

from staging.dbcopy.engine import copy_database, inspect_source, preflight
from staging.dbcopy.errors import (
    CopyCancelled,
    CopyError,
    CopyTimeout,
    CopyToolIncompatible,
    CopyToolMissing,
    CopyToolTooOld,
    CopyVerificationFailed,
    EngineMismatch,
    SourceUnreachable,
    TargetIsSource,
    TargetUnreachable,
    UnsupportedDatabase,
)
from staging.dbcopy.reports import CopyProgress, CopyReport, PreflightReport

__all__ = [
    "CopyCancelled",
    "CopyError",
    "CopyProgress",
    "CopyReport",
    "CopyTimeout",
    "CopyToolIncompatible",
    "CopyToolMissing",
    "CopyToolTooOld",
    "CopyVerificationFailed",
    "EngineMismatch",
    "PreflightReport",
    "SourceUnreachable",
    "TargetIsSource",
    "TargetUnreachable",
    "UnsupportedDatabase",
    "copy_database",
    "inspect_source",
    "preflight",
]
