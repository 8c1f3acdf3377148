"""Connection URLs: parsed once into a value that never shows its password."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from staging.dbcopy.errors import UnsupportedDatabase
from staging.secrets import mask_url

_ENGINES = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
}


@dataclass(frozen=True)
class DatabaseUrl:
    """One database: where it is, who connects, and how (``family`` is postgres or mysql)."""

    family: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    params: tuple[tuple[str, str], ...]
    masked: str

    def __str__(self) -> str:
        return self.masked

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)


def parse_url(url: str) -> DatabaseUrl:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsupportedDatabase(
            f"{mask_url(url)} is not a valid database URL: {error}."
        ) from None
    family = _ENGINES.get(parts.scheme.lower())
    if family is None:
        raise UnsupportedDatabase(
            f"{mask_url(url)}: only postgres://, postgresql://, mysql:// and mariadb:// URLs "
            "can be copied.",
            details={"scheme": parts.scheme},
        )
    database = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not database:
        raise UnsupportedDatabase(f"{mask_url(url)} must name a host and a database.")
    return DatabaseUrl(
        family=family,
        host=parts.hostname,
        port=port or (5432 if family == "postgres" else 3306),
        user=unquote(parts.username or ("postgres" if family == "postgres" else "root")),
        password=unquote(parts.password or ""),
        database=database,
        params=tuple(parse_qsl(parts.query)),
        masked=mask_url(url),
    )
