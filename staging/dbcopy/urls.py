"""Connection URLs: untrusted input from a client's Railway project, validated part by part.

A database URL comes from a variable anyone with access to the client's project can edit, so
every part is checked before it reaches a driver, an option file or a command line:

- no control characters anywhere, before or after percent-decoding (a newline in a password
  used to add lines to the MariaDB client's option file);
- a host name or IP literal (no commas: libpq reads ``a,b`` as two hosts), a port from 1 to
  65535, a plain database name (libpq expands a ``dbname`` holding ``=`` into a whole
  connection string);
- only the query parameters we understand (the TLS mode); everything else (``options``,
  ``passfile``, ``sslkey``, ``service``, ``host``, ``local_infile``, ``init_command``...) is
  dropped, and only its name is kept, for the log;
- the scheme names the engine, and must be the one the caller expects.

Errors never quote the URL: one that does not parse cannot be masked reliably.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from staging.dbcopy.errors import DatabaseUrlInvalid, UnsupportedDatabase
from staging.secrets import MASK

_ENGINES = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
}
_DEFAULT_PORT = {"postgres": 5432, "mysql": 3306}
_DEFAULT_USER = {"postgres": "postgres", "mysql": "root"}

# C0 and C1 control characters and DEL. urlsplit silently removes tabs and newlines from a
# URL, so the raw text is checked before it is split, and every part again once decoded.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HOST_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})$")
# Names Railway and ordinary sites use; nothing libpq would expand or a shell would read.
_DATABASE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_$.-]{0,63}$")
_PARAM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MAX_LENGTH = {"user": 128, "password": 1024, "host": 253}

# The TLS mode each engine's URL may ask for. "prefer" is the floor: TLS whenever the server
# offers it. Modes that verify the certificate need a CA this worker does not hold for a
# client's server, so they are refused rather than silently weakened.
_POSTGRES_TLS = {"disable": "prefer", "allow": "prefer", "prefer": "prefer", "require": "require"}
_MYSQL_TLS = {
    "disabled": "prefer",
    "preferred": "prefer",
    "required": "require",
    "require": "require",
    "prefer": "prefer",
    "true": "require",
    "1": "require",
    "false": "prefer",
    "0": "prefer",
}
_TLS_PARAMS = {
    "postgres": {"sslmode": _POSTGRES_TLS},
    "mysql": {
        "ssl-mode": _MYSQL_TLS,
        "ssl_mode": _MYSQL_TLS,
        "sslmode": _MYSQL_TLS,
        "ssl": _MYSQL_TLS,
    },
}


@dataclass(frozen=True)
class DatabaseUrl:
    """One database: where it is, who connects, and how (``family`` is postgres or mysql).

    ``address`` is the IP the host resolved to when the address policy checked it
    (:mod:`staging.dbcopy.addresses`); every connection goes to that address, never to the
    name again, so a DNS answer that changes after the check changes nothing.
    """

    family: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    masked: str
    tls: str = "prefer"
    dropped_params: tuple[str, ...] = ()
    address: str | None = None

    def __str__(self) -> str:
        return self.masked

    @property
    def connect_address(self) -> str:
        """The checked IP address to connect to; a bug if the policy was not applied."""
        if self.address is None:
            raise RuntimeError(f"{self.masked}: connecting to an address that was not checked")
        return self.address

    def at(self, address: str) -> DatabaseUrl:
        return dataclasses.replace(self, address=address)


def family_of(engine: str) -> str:
    """The family (postgres or mysql) of a site's engine: postgres, mysql or mariadb."""
    found = _ENGINES.get(engine.lower())
    if found is None:
        raise UnsupportedDatabase(
            f"{engine!r} is not an engine Understudy can copy.", details={"engine": engine}
        )
    return found


def parse_url(url: str, *, family: str | None = None, role: str = "database") -> DatabaseUrl:
    """Validate a database URL; ``family`` (postgres or mysql), when given, must match."""

    def invalid(reason: str) -> DatabaseUrlInvalid:
        return DatabaseUrlInvalid(
            f"The {role} URL is not valid: {reason}. Check the variable on Railway.",
            details={"role": role, "reason": reason},
        )

    if not isinstance(url, str) or not url:
        raise invalid("it is empty")
    if _CONTROL.search(url):
        raise invalid("it contains a control character (a newline, a tab or a NUL byte)")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise invalid("it cannot be read as a URL") from None
    scheme = parts.scheme.lower()
    found = _ENGINES.get(scheme)
    if found is None:
        raise UnsupportedDatabase(
            f"The {role} URL is not a database URL Understudy can copy: only postgres://, "
            "postgresql://, mysql:// and mariadb:// URLs can be.",
            details={"role": role, "scheme": scheme if scheme.isalnum() else "?"},
        )
    if family is not None and found != family:
        raise invalid(f"it is a {found} URL where a {family} database was expected")
    if parts.fragment:
        raise invalid("it has a #fragment")

    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    if not at:
        userinfo, hostinfo = "", parts.netloc
    raw_user, colon, raw_password = userinfo.partition(":")
    user = _decoded(raw_user, "user", invalid) or _DEFAULT_USER[found]
    password = _decoded(raw_password, "password", invalid) if colon else ""
    host, port = _host_and_port(hostinfo, invalid)
    port = port or _DEFAULT_PORT[found]

    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    database = _decoded(path, "database name", invalid)
    if not database:
        raise invalid("it does not name a database")
    if not _DATABASE.match(database):
        raise invalid(
            "its database name is not a plain name (letters, digits, _ $ . -, at most 64)"
        )

    tls = "prefer"
    dropped: list[str] = []
    for pair in parts.query.split("&") if parts.query else []:
        raw_name, _, raw_value = pair.partition("=")
        name = _decoded(raw_name, "query parameter", invalid).lower()
        value = _decoded(raw_value, "query parameter", invalid).lower()
        modes = _TLS_PARAMS[found].get(name)
        if modes is None:
            dropped.append(name if _PARAM_NAME.match(name) else "?")
            continue
        if value not in modes:
            raise invalid(
                f"its {name} parameter asks for a mode Understudy does not support "
                f"(use one of: {', '.join(sorted(modes))})"
            )
        tls = "require" if "require" in (tls, modes[value]) else "prefer"

    shown_host = f"[{host}]" if ":" in host else host
    credentials = quote(user, safe="") + (f":{MASK}" if password else "")
    return DatabaseUrl(
        family=found,
        host=host,
        port=port,
        user=user,
        password=password,
        database=database,
        masked=f"{scheme}://{credentials}@{shown_host}:{port}/{database}",
        tls=tls,
        dropped_params=tuple(sorted(set(dropped))),
    )


def _decoded(raw: str, what: str, invalid: Callable[[str], DatabaseUrlInvalid]) -> str:
    try:
        value = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise invalid(f"its {what} is not valid UTF-8 once decoded") from None
    if _CONTROL.search(value):
        raise invalid(
            f"its {what} contains a control character (a newline, a tab or a NUL byte) once decoded"
        )
    limit = _MAX_LENGTH.get(what)
    if limit is not None and len(value) > limit:
        raise invalid(f"its {what} is longer than {limit} characters")
    return value


def _host_and_port(
    hostinfo: str, invalid: Callable[[str], DatabaseUrlInvalid]
) -> tuple[str, int | None]:
    if hostinfo.startswith("["):
        literal, bracket, rest = hostinfo[1:].partition("]")
        if not bracket:
            raise invalid("its IPv6 address is not closed with ]")
        try:
            host = str(ipaddress.IPv6Address(literal))
        except ValueError:
            raise invalid("its host is not a valid IPv6 address") from None
        if rest and not rest.startswith(":"):
            raise invalid("its host is followed by something other than a port")
        port_text = rest[1:] if rest else ""
    else:
        raw_host, _, port_text = hostinfo.partition(":")
        host = _decoded(raw_host, "host", invalid).lower().rstrip(".")
        if not host:
            raise invalid("it does not name a host")
        try:
            host = str(ipaddress.IPv4Address(host))
        except ValueError:
            if not all(_HOST_LABEL.match(label) for label in host.split(".")):
                raise invalid(
                    "its host is not a host name (letters, digits, - and _, in dot-separated "
                    "labels) or an IP address"
                ) from None
    if not port_text:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise invalid("its port is not a number from 1 to 65535")
    return host, int(port_text)
