"""One error format for every 4xx and 5xx answer of the API:

    {"error": {"code": "...", "message": "...", "details": {...}}}

Codes are stable (docs/api.md lists them): DRF's own failures get the names below, every
``UnderstudyError`` brings its own, and anything else is a bug reported as ``internal_error``
without its internals.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from staging.errors import RequestTooLarge, UnderstudyError

logger = logging.getLogger(__name__)

# Ordered: a subclass before its base class.
DRF_CODES: tuple[tuple[type[exceptions.APIException], str], ...] = (
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
    (exceptions.ValidationError, "validation_error"),
    (exceptions.ParseError, "parse_error"),
)


class IdempotencyKeyReused(UnderstudyError):
    code = "idempotency_key_reused"
    http_status = 409


class InvalidIdempotencyKey(UnderstudyError):
    code = "invalid_idempotency_key"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's ``EXCEPTION_HANDLER``: every exception of an API view becomes the error format."""
    set_rollback()
    if isinstance(exc, RequestDataTooBig):
        # Django's own limit, met when a session call's CSRF check reads a form body.
        exc = RequestTooLarge(
            "The request body is too large.",
            details={"limit_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
        )
    if isinstance(exc, UnderstudyError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        return _api_exception_response(exc)
    view = context.get("view")
    logger.exception("Unexpected error in API view %s", type(view).__name__)
    return Response(
        error_body("internal_error", "Something went wrong on our side; it has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _api_exception_response(exc: exceptions.APIException) -> Response:
    code = next(
        (name for kind, name in DRF_CODES if isinstance(exc, kind)),
        str(exc.default_code),
    )
    headers: dict[str, str] = {}
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    if isinstance(exc, exceptions.Throttled):
        # DRF rounds down, which can tell a client to retry after 0 seconds.
        headers["Retry-After"] = str(max(1, math.ceil(getattr(exc, "wait", None) or 1)))
    if isinstance(exc, exceptions.ValidationError):
        message = "The request is not valid; see details for each field."
        details: dict[str, Any] = (
            exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        )
    else:
        message = str(exc.detail)
        details = {}
        if isinstance(exc, exceptions.Throttled):
            details = {"retry_after": int(headers["Retry-After"])}
    return Response(error_body(code, message, details), status=exc.status_code, headers=headers)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 handler (portal/urls.py): API paths that no view matches answer in JSON."""
    if _is_api(request):
        body = error_body("not_found", "Nothing is at this address.")
        return JsonResponse(body, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler, for errors raised outside DRF's views (middleware, URL routing)."""
    if _is_api(request):
        body = error_body("internal_error", "Something went wrong on our side; it has been logged.")
        return JsonResponse(body, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return defaults.server_error(request)
