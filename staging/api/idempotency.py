"""``Idempotency-Key`` on POST: a retried request gets the first answer instead of a second run.

The record is inserted before the action, in the action's transaction. A concurrent request
with the same key waits on the unique index until the first commits, then replays its answer;
if the first fails, its record rolls back with it, so errors are not remembered and the client
may retry with the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from staging.api.errors import IdempotencyKeyReused, InvalidIdempotencyKey
from staging.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Headers worth replaying: the rest are recomputed by the middleware.
_KEPT_HEADERS = ("Location",)

View = TypeVar("View", bound=Callable[..., Response])


def fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    text = f"{request.method}\n{request.path}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def idempotent(view: View) -> View:
    """Decorate a POST action of a viewset so that its ``Idempotency-Key`` is honoured."""

    @wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view(self, request, *args, **kwargs)
        if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
            raise InvalidIdempotencyKey(
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters, e.g. a UUID.",
                details={"header": HEADER},
            )
        digest = fingerprint(request)
        with transaction.atomic():
            record = _claim(request, key, digest)
            if record.response_status:
                return _replay(record)
            response = view(self, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                record.response_status = response.status_code
                record.response_body = response.data
                record.response_headers = {
                    name: response[name] for name in _KEPT_HEADERS if name in response
                }
                record.save(update_fields=["response_status", "response_body", "response_headers"])
            else:
                transaction.set_rollback(True)
            return response

    return wrapper  # type: ignore[return-value]


def _claim(request: Request, key: str, digest: str) -> IdempotencyRecord:
    """This key's record: a new, empty one to fill, or the answered one to replay."""
    user: Any = request.user
    record: IdempotencyRecord | None
    while True:
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(user=user, key=key, fingerprint=digest)
            forget_expired()
            return record
        except IntegrityError:
            record = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if record is None:
            continue
        if record.is_expired:
            record.delete()
            continue
        if record.fingerprint != digest:
            raise IdempotencyKeyReused(
                f"This {HEADER} was already used for a different request; use a new key.",
                details={"header": HEADER},
            )
        return record


def _replay(record: IdempotencyRecord) -> Response:
    headers = {**record.response_headers, REPLAYED_HEADER: "true"}
    return Response(record.response_body, status=record.response_status, headers=headers)


def forget_expired() -> int:
    """Delete records past their lifetime; returns how many."""
    cutoff = timezone.now() - IdempotencyRecord.LIFETIME
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lte=cutoff).delete()
    return deleted
