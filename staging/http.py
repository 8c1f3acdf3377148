"""Fetching a staging site's URL, including the sandbox's ``*.localhost`` domains.

RFC 6761 makes every ``*.localhost`` name loopback. Browsers resolve them themselves, but glibc
does not, so such a URL is fetched from 127.0.0.1 with the original Host header.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx


def fetch(url: str, timeout: float) -> httpx.Response:
    """GET the URL (redirects not followed, so the caller sees what the site answered)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        port = parts.port or (443 if parts.scheme == "https" else 80)
        netloc = f"127.0.0.1:{port}"
        host_header = parts.netloc.rsplit("@", 1)[-1]
        with httpx.Client(timeout=timeout, verify=False) as client:  # noqa: S501 (loopback only)
            return client.get(parts._replace(netloc=netloc).geturl(), headers={"Host": host_header})
    with httpx.Client(timeout=timeout) as client:
        return client.get(url)
