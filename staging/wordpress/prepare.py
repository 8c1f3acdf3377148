"""``prepare_wordpress``: turn a fresh copy of a production WordPress database into staging."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .connection import connect_mysql, parse_database_url
from .errors import WordPressNotFound
from .masking import DEFAULT_SALT, MaskingReport, mask_wordpress
from .options import (
    DEFAULT_ADJUSTMENTS,
    DEFAULT_RESET_OPTIONS,
    OptionAdjustment,
    adjust_options,
    delete_options,
    discourage_search_engines,
)
from .rewrite import rewrite_database
from .site import base_tables, find_site
from .urls import normalize_url, protect_paths, url_replacements


@dataclass(frozen=True)
class PrepareReport:
    table_prefix: str
    production_url: str
    staging_url: str
    rows_rewritten: dict[str, int]
    options_reset: list[str]
    masking: MaskingReport | None
    duration_seconds: float
    tables_skipped: list[str] = field(default_factory=list)
    options_adjusted: list[str] = field(default_factory=list)

    @property
    def total_rows_rewritten(self) -> int:
        return sum(self.rows_rewritten.values())


def rewrite_pairs(production_urls: Sequence[str], staging_url: str) -> list[tuple[str, str]]:
    """The ordered pairs for the rewrite: every URL form, uploads kept on production."""
    pairs: dict[str, str] = {}
    for url in production_urls:
        for search, replacement in url_replacements(url, staging_url):
            pairs.setdefault(search, replacement)
    # "https://shop.example" → "https://staging" is "//shop.example" → "//staging" with the
    # scheme in front: leaving such pairs to the shorter one gives the same text with fewer
    # REPLACE calls over every row.
    needed = {
        search: replacement
        for search, replacement in pairs.items()
        if not any(
            search != shorter
            and search.endswith(shorter)
            and replacement.endswith(new)
            and search[: -len(shorter)] == replacement[: -len(new)]
            for shorter, new in pairs.items()
        )
    }
    ordered = sorted(needed.items(), key=lambda pair: (-len(pair[0]), pair[0]))
    return protect_paths(ordered)


def prepare_wordpress(
    database_url: str,
    staging_url: str,
    *,
    reset_options: Sequence[str] = DEFAULT_RESET_OPTIONS,
    adjustments: Sequence[OptionAdjustment] = DEFAULT_ADJUSTMENTS,
    masking: str = "",
    keep_logins_of: str = "administrator",
    masking_salt: str = DEFAULT_SALT,
) -> PrepareReport:
    """Rewrite URLs (not ``guid``; uploads stay on production), set ``blog_public`` to 0,
    reset ``reset_options``, put mail, payment and backup plugins in their safe mode
    (``adjustments``) and apply the ``masking`` preset, in the staging database."""
    started = time.monotonic()
    address = parse_database_url(database_url)
    staging = normalize_url(staging_url)
    with closing(connect_mysql(address)) as connection:
        site = find_site(connection, address.masked)
        production = site.production_url
        if not production:
            raise WordPressNotFound(f"The WordPress site in {address.masked} has no home URL.")
        production = normalize_url(production)
        # siteurl usually lies under home; when it is on another host it needs its own pairs.
        urls = [production]
        site_url = normalize_url(site.site_url) if site.site_url else production
        if urlsplit(site_url).hostname != urlsplit(production).hostname:
            urls.append(site_url)
        pairs = rewrite_pairs(urls, staging)
        needle = (urlsplit(production).hostname or "").removeprefix("www.")
        prefix = site.table_prefix
        tables = [t for t in base_tables(connection) if t.startswith(prefix)]
        rewritten = rewrite_database(connection, tables, pairs, needle)
        if len(urls) > 1:
            other = (urlsplit(site_url).hostname or "").removeprefix("www.")
            extra = rewrite_database(connection, tables, pairs, other)
            for table, rows in extra.rows_rewritten.items():
                rewritten.rows_rewritten[table] = rewritten.rows_rewritten.get(table, 0) + rows
        options_table = f"{prefix}options"
        discourage_search_engines(connection, options_table)
        removed = delete_options(connection, options_table, reset_options)
        adjusted = adjust_options(connection, options_table, adjustments)
        masking_report = (
            mask_wordpress(
                connection, prefix, masking, keep_logins_of=keep_logins_of, salt=masking_salt
            )
            if masking
            else None
        )
    return PrepareReport(
        table_prefix=prefix,
        production_url=production,
        staging_url=staging,
        rows_rewritten=rewritten.rows_rewritten,
        options_reset=removed,
        masking=masking_report,
        duration_seconds=round(time.monotonic() - started, 3),
        tables_skipped=rewritten.tables_skipped,
        options_adjusted=adjusted,
    )
