"""Staging environment names: what Railway accepts, and a readable one when none is given."""

from __future__ import annotations

import re
from datetime import date

from staging.errors import InvalidName

MAX_LENGTH = 32
# The name becomes part of the staging domain, so it keeps to what a DNS label allows.
_VALID = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
RESERVED = frozenset({"production", "prod", "main", "master"})


def validate_name(name: str) -> str:
    """The name, if Railway and a domain will take it; otherwise ``InvalidName`` saying why."""
    if not name:
        raise InvalidName("Give the staging environment a name.")
    if len(name) > MAX_LENGTH:
        raise InvalidName(f"A name has at most {MAX_LENGTH} characters.")
    if not _VALID.match(name) or "--" in name:
        raise InvalidName(
            "Use lowercase letters, digits and single hyphens, starting and ending with a "
            "letter or digit (for example staging-spring-sale)."
        )
    if name in RESERVED:
        raise InvalidName(f"'{name}' is kept for production; choose another name.")
    return name


def generate_name(taken: set[str], today: date) -> str:
    """``staging-YYYYMMDD-N`` with the first N not yet taken."""
    prefix = f"staging-{today:%Y%m%d}"
    number = 1
    while f"{prefix}-{number}" in taken:
        number += 1
    return f"{prefix}-{number}"
