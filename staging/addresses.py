"""The address of the person or program behind a request, as the login lockout, the API's
throttles and the audit log all see it.

Behind Railway's proxy (or any other) ``REMOTE_ADDR`` is the proxy's own address, the same for
everyone. Each proxy appends the address it was connected from to ``X-Forwarded-For``, so with
``TRUSTED_PROXY_HOPS`` proxies in front of the portal the client is the Nth address from the
right. Addresses further left were written by the client itself and prove nothing, so they are
never used.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, or ``None`` when the request has none (a test client)."""
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    hops: int = settings.TRUSTED_PROXY_HOPS
    if hops == 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if not forwarded:
        # A request that reached the portal without passing the proxies (a health check from
        # inside the network): the connection's own address is the client.
        return remote
    # Fewer entries than hops: every entry was written by a trusted proxy, the first is the
    # client's (the same choice as DRF's NUM_PROXIES).
    return _address(forwarded[-min(hops, len(forwarded))]) or remote


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None
