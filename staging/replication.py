"""Did Railway's duplication copy a service's variables? Production's and staging's, compared.

Variables are compared as they are defined (references such as ``${{Postgres.DATABASE_URL}}``
unresolved), so a reference that resolves differently in each environment is not a
difference. What may differ is listed with its reason; anything else missing or different
means the copy is not the site it claims to be, and the run stops before any data is copied.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

# Reasons a variable may differ between production and its staging copy, as the run log says.
RAILWAY = "Railway's own"
DATABASE = "database credentials and hosts"
DOMAINS = "domains"
OVERRIDES = "site overrides"
NEUTRALISED = "neutralised"

# Host names Railway gives each environment its own of: public service domains, private
# network names, TCP proxies (and the sandbox's stand-in for public domains).
_RAILWAY_HOST = re.compile(
    r"[a-z0-9][a-z0-9.-]*\.(?:up\.railway\.app|railway\.internal|proxy\.rlwy\.net|"
    r"up\.railway\.localhost)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Comparison:
    service: str
    expected: dict[str, list[str]] = field(default_factory=dict)  # reason -> names
    missing: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)

    @property
    def replicated(self) -> bool:
        return not self.missing and not self.different

    def describe(self) -> str:
        expected = "; ".join(
            f"{reason}: {', '.join(names)}" for reason, names in self.expected.items() if names
        )
        text = f"{self.service}: as production" + (f" except {expected}" if expected else "")
        if self.missing:
            text += f"; MISSING: {', '.join(self.missing)}"
        if self.different:
            text += f"; DIFFERENT: {', '.join(self.different)}"
        return text


def compare(
    service: str,
    production: Mapping[str, str],
    staging: Mapping[str, str],
    *,
    database_service: bool = False,
    overrides: Collection[str] = (),
    neutralised: Collection[str] = (),
) -> Comparison:
    """Names only in the result: values are production's secrets."""
    expected: dict[str, list[str]] = {
        RAILWAY: [],
        DATABASE: [],
        DOMAINS: [],
        OVERRIDES: [],
        NEUTRALISED: [],
    }
    missing: list[str] = []
    different: list[str] = []
    for name in sorted(production):
        value = production[name]
        if name.upper().startswith("RAILWAY_"):
            if staging.get(name) != value:
                expected[RAILWAY].append(name)
        elif name in overrides:
            expected[OVERRIDES].append(name)
        elif name in neutralised:
            expected[NEUTRALISED].append(name)
        elif name not in staging:
            missing.append(name)
        elif staging[name] == value:
            continue
        elif database_service:
            # Each environment's database service has its own database, user and password.
            expected[DATABASE].append(name)
        elif _RAILWAY_HOST.sub("", staging[name]) == _RAILWAY_HOST.sub("", value):
            expected[DOMAINS].append(name)
        else:
            different.append(name)
    return Comparison(
        service=service,
        expected={reason: names for reason, names in expected.items() if names},
        missing=missing,
        different=different,
    )
