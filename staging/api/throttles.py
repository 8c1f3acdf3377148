"""Rate limits: per token (or session user) when authenticated, per IP address otherwise.

Rates are read on each request rather than at import, as DRF does, so that a settings change
(in tests, or a reload) takes effect.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

from staging.addresses import client_ip
from staging.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    scope = "user"

    def get_rate(self) -> str | None:
        return _rate(self.scope)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(AnonRateThrottle):
    def get_rate(self) -> str | None:
        return _rate(self.scope)

    def get_ident(self, request: Request) -> str:
        # The same address as the login lockout and the audit log (TRUSTED_PROXY_HOPS).
        return client_ip(request._request) or ""


def _rate(scope: str | None) -> str | None:
    rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
    rate = rates.get(scope or "")
    return None if rate is None else str(rate)
