"""The outside world as the steps see it, built once per run from the settings.

Tests build a ``Services`` pointing at the Railway sandbox and the local database servers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings

from staging import dbcopy, wordpress
from staging.http import fetch
from staging.railway import RailwayClient


@dataclass
class Services:
    railway: RailwayClient
    url_template: str = "https://{domain}"
    copy_database: Callable[..., dbcopy.CopyReport] = dbcopy.copy_database
    inspect_database: Callable[[str], dbcopy.PreflightReport] = dbcopy.inspect_source
    # Asks both servers who they are: refuses a target that is the source in disguise.
    check_copy: Callable[..., dbcopy.PreflightReport] = dbcopy.preflight
    prepare_wordpress: Callable[..., wordpress.PrepareReport] = wordpress.prepare_wordpress
    mask_columns: Callable[..., wordpress.MaskingReport] = wordpress.mask_columns
    default_reset_options: Sequence[str] = wordpress.DEFAULT_RESET_OPTIONS
    fetch: Callable[[str, float], httpx.Response] = fetch
    sleep: Callable[[float], None] = field(default=time.sleep)

    def public_url(self, domain: str) -> str:
        return self.url_template.format(domain=domain)

    def close(self) -> None:
        self.railway.close()


def default_services() -> Services:
    def copy(source: str, target: str, **options: Any) -> dbcopy.CopyReport:
        return dbcopy.copy_database(
            source,
            target,
            timeout=settings.COPY_TIMEOUT_SECONDS or None,
            attempts=settings.COPY_ATTEMPTS,
            jobs=settings.COPY_JOBS,
            stall_timeout=settings.COPY_STALL_TIMEOUT_SECONDS,
            **options,
        )

    return Services(
        railway=RailwayClient(settings.RAILWAY_API_URL, settings.RAILWAY_API_TOKEN),
        url_template=settings.STAGING_URL_TEMPLATE,
        copy_database=copy,
    )
