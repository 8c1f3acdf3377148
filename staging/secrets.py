"""Keeping secrets out of everything that is shown or stored.

Connection URLs are masked as ``postgresql://user:***@host:5432/db``; any other known secret
(a token, a password) is replaced by ``***`` wherever it appears in a text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"

# scheme://user:password@host: the password runs to the last "@" of the word, so one that
# holds an unencoded "@" is still masked whole (masking too much is the safe side).
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^\s]*(?=@)", re.IGNORECASE)


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***``; the rest is kept for diagnosis."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:{MASK}@{netloc}").geturl()


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with every URL password and every given secret replaced by ``***``."""
    masked = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        masked = masked.replace(secret, MASK)
    return masked
