"""Which addresses the worker may connect to for a client's database.

A database host comes from the client's project, so it could name the portal's own database,
Redis, a cloud metadata service or any machine on the worker's network. The host is resolved
once; every address it resolves to must be public (not loopback, private, link-local,
unspecified, multicast or reserved) unless the deployment allows private addresses (the
sandbox and the tests run their servers on 127.0.0.1); and the connection then goes to that
checked address, so a DNS answer that changes after the check (DNS rebinding) changes nothing.
"""

from __future__ import annotations

import ipaddress
import socket

from staging.dbcopy.errors import CopyError, DatabaseAddressRefused
from staging.dbcopy.urls import DatabaseUrl

# Whether private addresses are allowed when a caller does not say: no, unless the deployment
# said otherwise at start-up (staging.apps reads STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES). The
# package reads no settings itself: it also runs without Django (benchmarks), where no is right.
_allow_private_by_default = False


def allow_private_addresses_by_default(allowed: bool) -> None:
    """The deployment's answer for callers that pass ``allow_private=None``."""
    global _allow_private_by_default
    _allow_private_by_default = allowed


def private_addresses_allowed() -> bool:
    return _allow_private_by_default


def refusal(ip: str) -> str | None:
    """Why an address is refused, or None when it is public."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved"
    return None


def resolve_public_address(
    host: str,
    port: int,
    *,
    allow_private: bool,
    unreachable: type[CopyError] = CopyError,
) -> str:
    """The one address to connect to for ``host``, checked against the policy.

    Every address the name resolves to is checked (a name that also resolves to 127.0.0.1 is
    refused even if its first answer is public), and the first one is used.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise unreachable(
            f"The database host {host} could not be resolved.", details={"host": host}
        ) from None
    addresses: list[str] = []
    for info in infos:
        ip = str(info[4][0]).split("%", 1)[0]
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise unreachable(f"The database host {host} has no address.", details={"host": host})
    if not allow_private:
        for ip in addresses:
            reason = refusal(ip)
            if reason is not None:
                raise DatabaseAddressRefused(
                    f"The database host {host} resolves to {ip}, a {reason} address: "
                    "Understudy connects only to public database addresses (the TCP proxy "
                    "Railway reports for the service).",
                    details={"host": host, "address": ip, "kind": reason},
                )
    return addresses[0]


def checked(
    url: DatabaseUrl,
    *,
    allow_private: bool | None = None,
    unreachable: type[CopyError] = CopyError,
) -> DatabaseUrl:
    """The URL with its address resolved and checked (``allow_private`` None: the setting)."""
    if url.address is not None:
        return url
    allow = private_addresses_allowed() if allow_private is None else allow_private
    return url.at(
        resolve_public_address(url.host, url.port, allow_private=allow, unreachable=unreachable)
    )
