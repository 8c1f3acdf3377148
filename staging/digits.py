"""Numbers and ids typed by people: ASCII digits only.

Python's own tests are too generous for input: ``"³".isdigit()`` is true and ``int("³")`` then
raises, while ``int("٣")`` quietly reads an Arabic-Indic digit as 3. Every door that turns
user input into a number or an id (API fields and query parameters, command arguments, portal
forms) goes through this module, so each refuses them with its usual validation error. (The
API's and the forms' integer fields keep their framework's parsing and only refuse text that is
not ASCII first.)
"""

from __future__ import annotations

import math

# Ids fit PostgreSQL's bigint; a longer number can name nothing.
MAX_ID_DIGITS = 18


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty run of 0-9 and nothing else."""
    return text.isascii() and text.isdigit()


def parse_id(text: str) -> int | None:
    """The id ``text`` spells, or None when it is not one (a slug, a name, "³", "٣")."""
    if is_ascii_digits(text) and len(text) <= MAX_ID_DIGITS:
        return int(text)
    return None


def ascii_int(text: str) -> int:
    """``int(text)`` for text in ASCII (sign, digits, surrounding spaces); ValueError otherwise.

    Usable as an argparse ``type``: its ValueError becomes the usual "invalid value" error.
    """
    if not text.isascii():
        raise ValueError(f"not an ASCII integer: {text!r}")
    return int(text)


def ascii_float(text: str) -> float:
    """``float(text)`` for a finite number written in ASCII; ValueError otherwise."""
    if not text.isascii():
        raise ValueError(f"not an ASCII number: {text!r}")
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {text!r}")
    return number


# argparse names the type in its error: "invalid integer value: '³'".
ascii_int.__name__ = "integer"
ascii_float.__name__ = "number"
