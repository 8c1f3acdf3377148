"""Links to the production site left in a staging page: what the health check looks for.

A staging copy whose pages still link to production sends a visitor (and a tester) to the live
site on the first click. The rewrite should leave none, uploads aside; this finds any it missed.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from .serialized import HOST_BOUNDARY
from .urls import UPLOADS_PATH

# A GUID is an identifier, never rewritten (WordPress's rule); feeds and the REST API show it.
_GUIDS = re.compile(
    r'<guid\b[^>]*>[^<]*</guid>|"guid"\s*:\s*\{\s*"rendered"\s*:\s*"[^"]*"\s*\}', re.IGNORECASE
)
# Where a URL spelled in HTML, JSON or a query string ends.
_URL_END = re.compile(r"""["'<>\s)\]},;&]|\\["']""")
_SHOWN = 120


def production_links(text: str, production_host: str, *, limit: int = 10) -> list[str]:
    """The distinct URLs in ``text`` that point at ``production_host`` outside its uploads.

    Every spelling a page uses counts: ``https://``, ``http://``, protocol-relative ``//``,
    JSON-escaped ``\\/\\/`` and URL-encoded ``%2F%2F``, with or without ``www.``, with any port
    unless ``production_host`` names one. A host that only starts with the production host
    (``shop.example.org``, ``shop.examples.com``) is another site, a host named in plain text
    without ``//`` is not a link, and GUIDs are identifiers: none of these is reported. At most
    ``limit`` URLs are returned, each cut to 120 characters.
    """
    host, _, port = production_host.strip().lower().partition(":")
    host = host.removeprefix("www.")
    if not host:
        return []
    port_pattern = f":{re.escape(port)}" if port else r"(?::[0-9]+)?"
    pattern = re.compile(
        r"(?://|\\/\\/|%2F%2F)(?:www\.)?" + re.escape(host) + port_pattern + HOST_BOUNDARY,
        re.IGNORECASE,
    )
    text = _GUIDS.sub("", text)
    found: list[str] = []
    for match in pattern.finditer(text):
        rest = text[match.end() : match.end() + 400]
        end = _URL_END.search(rest)
        path = rest[: end.start()] if end else rest
        readable = unquote(path.replace("\\/", "/"))
        if readable.startswith(UPLOADS_PATH):
            continue
        url = (match.group() + path)[:_SHOWN]
        if url not in found:
            found.append(url)
            if len(found) >= limit:
                break
    return found
