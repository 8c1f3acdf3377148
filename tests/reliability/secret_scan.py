"""Finding secrets where they must never be: logs, the portal database, Redis, API answers.

``scan_for_secrets`` is the check; the ``*_texts`` helpers collect what to scan. The report
script (scripts/reliability_report.py) can reuse them on whatever a test run left behind.
"""

from __future__ import annotations

import base64
import contextlib
import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

# Shorter strings would match by chance ("root", "x"); every real secret here is far longer.
MIN_SECRET_LENGTH = 8


def secret_forms(secret: str) -> set[str]:
    """The ways a secret is written where it leaks: as is, in a URL, in JSON, in base64."""
    forms = {
        secret,
        quote(secret, safe=""),
        json.dumps(secret)[1:-1],
        base64.b64encode(secret.encode()).decode().rstrip("="),
    }
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def scan_for_secrets(
    texts: Mapping[str, str] | Iterable[tuple[str, str]], secrets: Mapping[str, str]
) -> list[str]:
    """Every place a secret appears, as ``"<secret name> in <where>"``; empty when clean.

    ``texts`` maps where a text comes from (a log file, ``redis rq:job:...``) to the text;
    ``secrets`` maps a name for each secret (never the value: the findings are printed) to it.
    """
    items = texts.items() if isinstance(texts, Mapping) else texts
    forms = {name: secret_forms(value) for name, value in secrets.items() if value}
    too_short = [name for name, value in secrets.items() if value and not forms[name]]
    if too_short:
        raise ValueError(f"too short to scan for reliably: {', '.join(too_short)}")
    found: list[str] = []
    for where, text in items:
        for name, variants in forms.items():
            if any(variant in text for variant in variants):
                found.append(f"{name} in {where}")
    return found


def readable(value: bytes) -> str:
    """Bytes as text to scan; compressed values (RQ's job data, its tracebacks) unpacked too."""
    texts = [value.decode("utf-8", "replace")]
    with contextlib.suppress(zlib.error):
        texts.append(zlib.decompress(value).decode("utf-8", "replace"))
    return "\n".join(texts)


def redis_texts(connection: Any) -> dict[str, str]:
    """Every key of the connection's Redis database and its value, whatever its type."""
    texts: dict[str, str] = {}
    for raw_key in connection.scan_iter(count=1000):
        key = raw_key.decode("utf-8", "replace")
        kind = connection.type(raw_key).decode()
        values: list[bytes]
        if kind == "string":
            values = [connection.get(raw_key) or b""]
        elif kind == "hash":
            values = [part for pair in connection.hgetall(raw_key).items() for part in pair]
        elif kind == "list":
            values = connection.lrange(raw_key, 0, -1)
        elif kind == "set":
            values = list(connection.smembers(raw_key))
        elif kind == "zset":
            values = connection.zrange(raw_key, 0, -1)
        elif kind == "stream":
            values = [
                part
                for _, fields in connection.xrange(raw_key)
                for pair in fields.items()
                for part in pair
            ]
        else:
            values = [connection.dump(raw_key) or b""]
        texts[f"redis {key}"] = key + "\n" + "\n".join(readable(v) for v in values)
    return texts


def database_texts(connection: Any, prefixes: Iterable[str]) -> dict[str, str]:
    """Every row of every table whose name starts with one of ``prefixes``, as text.

    ``connection`` is Django's; each row is written whole (``t::text`` on PostgreSQL), so every
    text and JSON column is in it.
    """
    prefixes = tuple(prefixes)
    tables = [t for t in connection.introspection.table_names() if t.startswith(prefixes)]
    texts: dict[str, str] = {}
    with connection.cursor() as cursor:
        for table in tables:
            name = connection.ops.quote_name(table)
            if connection.vendor == "postgresql":
                cursor.execute(f"SELECT t::text FROM {name} AS t")  # noqa: S608 - a table name
            else:
                cursor.execute(f"SELECT * FROM {name}")  # noqa: S608 - a table name
            rows = cursor.fetchall()
            texts[f"portal database {table}"] = "\n".join(
                "|".join(
                    readable(bytes(v)) if isinstance(v, bytes | memoryview) else str(v) for v in row
                )
                for row in rows
            )
    return texts
