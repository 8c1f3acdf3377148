"""Structured logs: one JSON object a line, with the run and step when there is one."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from staging.secrets import mask_text

CONTEXT_FIELDS = ("run_id", "step", "operation", "site")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        for field in CONTEXT_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["traceback"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)
