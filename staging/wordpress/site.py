"""Finding the WordPress installation in a database: its table prefix and its URLs."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass

from pymysql.connections import Connection
from pymysql.cursors import Cursor

from .connection import IDENTIFIER, connect_mysql, parse_database_url
from .errors import WordPressNotFound, WordPressPrefixAmbiguous


@dataclass(frozen=True)
class WordPressSite:
    table_prefix: str
    site_url: str
    home_url: str

    @property
    def production_url(self) -> str:
        """The public address: ``home`` (``siteurl`` may point at a subdirectory install)."""
        return self.home_url or self.site_url


def base_tables(connection: Connection[Cursor]) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
        )
        return [str(row[0]) for row in cursor.fetchall()]


def _site_options(connection: Connection[Cursor], options_table: str) -> dict[str, str] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            (options_table,),
        )
        if not {"option_name", "option_value"} <= {str(row[0]) for row in cursor.fetchall()}:
            return None
        cursor.execute(
            f"SELECT option_name, option_value FROM `{options_table}` "  # noqa: S608 - checked name
            "WHERE option_name IN ('siteurl', 'home')"
        )
        found = {str(name): str(value or "") for name, value in cursor.fetchall()}
    return found if found.get("siteurl") or found.get("home") else None


def find_site(connection: Connection[Cursor], masked_url: str) -> WordPressSite:
    tables = base_tables(connection)
    found: dict[str, dict[str, str]] = {}
    for table in tables:
        prefix = table.removesuffix("options")
        if table == prefix or not IDENTIFIER.match(table):
            continue
        options = _site_options(connection, table)
        if options is not None:
            found[prefix] = options
    if not found:
        raise WordPressNotFound(
            f"No WordPress options table with a siteurl was found in {masked_url}.",
            details={"database": masked_url},
        )
    # A multisite network has one options table per site but one users table.
    candidates = sorted(found)
    if len(candidates) > 1:
        with_users = [prefix for prefix in candidates if f"{prefix}users" in tables]
        candidates = with_users or candidates
    if len(candidates) > 1:
        raise WordPressPrefixAmbiguous(
            f"Several WordPress installations share {masked_url}: table prefixes "
            f"{', '.join(candidates)}. Keep one WordPress per database.",
            details={"database": masked_url, "table_prefixes": candidates},
        )
    prefix = candidates[0]
    options = found[prefix]
    return WordPressSite(
        table_prefix=prefix,
        site_url=options.get("siteurl", "").strip(),
        home_url=options.get("home", "").strip(),
    )


def detect_site(database_url: str) -> WordPressSite:
    """The table prefix and URLs of the one WordPress installation in the database."""
    address = parse_database_url(database_url)
    with closing(connect_mysql(address)) as connection:
        return find_site(connection, address.masked)
