"""Pages with ``next``/``previous`` links: numbered for sites and environments (a count is
useful to a list screen), a cursor for the audit log (append-only, and far too long to count).
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from staging.digits import ascii_int


def _ascii_page_size(request: Request, name: str) -> bool:
    """False when ``page_size`` is written in other digits ("٣"): DRF's int() would read it."""
    value = request.query_params.get(name)
    if value is None:
        return True
    try:
        ascii_int(value)
    except ValueError:
        return False
    return True


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int | None:
        # An unreadable page_size falls back to the default, as DRF does for "abc".
        if not _ascii_page_size(request, self.page_size_query_param):
            return self.page_size
        return super().get_page_size(request)

    def get_page_number(self, request: Request, paginator: Paginator[Any]) -> Any:
        number = super().get_page_number(request, paginator)
        if isinstance(number, str) and number not in self.last_page_strings:
            try:
                ascii_int(number)
            except ValueError:
                raise NotFound(
                    self.invalid_page_message.format(
                        page_number=number, message="That page number is not an integer"
                    )
                ) from None
        return number


class AuditCursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")

    def get_page_size(self, request: Request) -> int | None:
        if not _ascii_page_size(request, self.page_size_query_param):
            return self.page_size
        return super().get_page_size(request)
