"""Reading settings from the environment, failing loudly on bad values.

Every secret can also come from ``NAME_FILE`` (a path whose content is the value), which is how
Docker and Railway secrets are usually mounted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from staging.digits import ascii_int

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_PORTAL_DATABASE_SCHEMES = {"postgres", "postgresql", "sqlite"}


def raw(name: str, default: str | None = None) -> str | None:
    """The variable's text, from ``NAME`` or from the file named by ``NAME_FILE``."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE: cannot read {file_name!r} ({exc.strerror})"
            ) from None
    return os.environ.get(name, default)


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
        lowered = text.strip().lower()
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
    return _parsed(
        name,
        default,
        lambda text: [item.strip() for item in text.split(",") if item.strip()],
        "a comma-separated list",
    )


def url(name: str, default: str, schemes: tuple[str, ...]) -> str:
    def parse(text: str) -> str:
        parts = urlsplit(text.strip())
        if parts.scheme not in schemes or not (parts.netloc or parts.path):
            raise ValueError(text)
        return text.strip()

    return _parsed(name, default, parse, f"a URL starting with {' or '.join(schemes)}://")


def database(name: str, default: str) -> dict[str, object]:
    def parse(text: str) -> dict[str, object]:
        if urlsplit(text.strip()).scheme not in _PORTAL_DATABASE_SCHEMES:
            raise ValueError(text)
        config: dict[str, object] = environ.Env.db_url_config(text.strip())
        return config

    # The message never repeats the value: a database URL carries a password.
    value = raw(name)
    try:
        return parse(default if value is None else value)
    except (ValueError, ImproperlyConfigured, KeyError):
        raise ImproperlyConfigured(
            f"{name}: expected a postgres:// or sqlite:/// URL such as "
            "postgres://user:password@host:5432/name"
        ) from None
