"""Reading settings from the environment with django-environ, failing loudly on bad values.

django-environ's ``FileAwareEnv`` reads every variable from ``NAME`` or, when ``NAME_FILE`` is
set, from the file it names (how Docker and Railway mount secrets), and parses integers, lists
and database URLs. What it lacks is said here once: a bad value stops start-up with a message
that names the variable, and a boolean is only ever one of the words below (django-environ reads
any unknown word as false).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from staging.digits import ascii_int

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_PORTAL_DATABASE_SCHEMES = {"postgres", "postgresql", "sqlite"}

# Settings are read once per process; a cache would only hide a rotated secret file from a test.
_environ = environ.FileAwareMapping(cache=False)


def raw(name: str, default: str | None = None) -> str | None:
    """The variable's text, from ``NAME`` or from the file named by ``NAME_FILE``."""
    try:
        # The mapping, not Env.str(): that one reads a value starting with "$" as the name of
        # another variable, and Django's generated secret keys may start with one.
        value: str = _environ[name]
    except KeyError:
        return default
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE: cannot read the file ({exc.strerror})") from None
    # A mounted secret file usually ends with a newline that belongs to no token or password.
    return value.strip()


def _parsed(name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
    value = raw(name)
    if value is None:
        return default
    try:
        return parse(value)
    except (ValueError, ImproperlyConfigured):
        raise ImproperlyConfigured(f"{name}: expected {expected}, got {value!r}") from None


def string(name: str, default: str = "") -> str:
    value = raw(name)
    return default if value is None else value


def boolean(name: str, default: bool) -> bool:
    def parse(text: str) -> bool:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(text)

    return _parsed(name, default, parse, "true or false")


def integer(name: str, default: int, minimum: int | None = None) -> int:
    def parse(text: str) -> int:
        number = ascii_int(text)
        if minimum is not None and number < minimum:
            raise ValueError(text)
        return number

    expected = "an integer" if minimum is None else f"an integer of at least {minimum}"
    return _parsed(name, default, parse, expected)


def string_list(name: str, default: list[str]) -> list[str]:
    def parse(text: str) -> list[str]:
        items: list[str] = environ.Env.parse_value(text, list)
        return [item.strip() for item in items if item.strip()]

    return _parsed(name, default, parse, "a comma-separated list")


def url(name: str, default: str, schemes: tuple[str, ...]) -> str:
    def parse(text: str) -> str:
        parts = urlsplit(text)
        if parts.scheme not in schemes or not (parts.netloc or parts.path):
            raise ValueError(text)
        return text

    return _parsed(name, default, parse, f"a URL starting with {' or '.join(schemes)}://")


def database(name: str, default: str) -> dict[str, object]:
    value = raw(name)
    text = default if value is None else value
    try:
        if urlsplit(text).scheme not in _PORTAL_DATABASE_SCHEMES:
            raise ValueError(name)
        config: dict[str, object] = environ.Env.db_url_config(text)
    except (ValueError, ImproperlyConfigured, KeyError):
        # The message never repeats the value: a database URL carries a password.
        raise ImproperlyConfigured(
            f"{name}: expected a postgres:// or sqlite:/// URL such as "
            "postgres://user:password@host:5432/name"
        ) from None
    return config
