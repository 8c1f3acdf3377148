"""``--personal-data-acknowledged``, shared by the commands that copy production data."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from staging.errors import UnderstudyError
from staging.management.base import EXIT_USAGE
from staging.runs import PersonalDataAcknowledgementRequired


def add_acknowledgement_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--personal-data-acknowledged",
        action="store_true",
        help="Confirm that the copy holds production personal data and will be handled "
        "accordingly (not needed when the site masks personal data); recorded in the audit log.",
    )


def refusal(failure: CommandError, error: UnderstudyError) -> CommandError:
    """A missing acknowledgement is a usage error (exit 2): the same command with the flag
    would run."""
    if isinstance(error, PersonalDataAcknowledgementRequired):
        failure.returncode = EXIT_USAGE
    return failure
