"""The API's JSON parser, with the same body size limit as Django's forms.

DRF reads a JSON body from the request stream, which Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``
does not guard (only ``request.body`` and ``request.POST`` are), so without this an oversized
body would be read whole into memory.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.request import Request

from staging.errors import RequestTooLarge


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            # One byte past the limit tells an oversized body without trusting Content-Length.
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise RequestTooLarge(
                    f"The request body is larger than {limit} bytes.",
                    details={"limit_bytes": limit},
                )
            stream = io.BytesIO(body)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # Deep nesting ("[[[[...") exhausts the JSON decoder's stack well within the limit.
            raise ParseError("JSON parse error - nested too deeply.") from None


def refuse_oversized_body(request: Request) -> None:
    """Refuse a body over the limit by its Content-Length, before authentication, so that
    calls which never read their body (refresh, cancel) refuse it too."""
    limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if limit is not None and length > limit:
        raise RequestTooLarge(
            f"The request body is larger than {limit} bytes.", details={"limit_bytes": limit}
        )
