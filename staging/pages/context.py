"""What every portal page shows whatever view renders it: the GDPR banner and the sandbox flag."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def is_sandbox() -> bool:
    """True when Railway is the local sandbox, so nobody mistakes the demo for real clients."""
    return bool(
        getattr(settings, "RAILWAY_SANDBOX", False)
        or getattr(settings, "RAILWAY_SANDBOX_MODE", False)
        or not getattr(settings, "RAILWAY_API_TOKEN", "")
    )


def portal(request: HttpRequest) -> dict[str, object]:
    return {
        "gdpr_banner_text": getattr(settings, "GDPR_BANNER_TEXT", ""),
        "railway_sandbox": is_sandbox(),
    }
