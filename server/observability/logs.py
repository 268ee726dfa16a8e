"""Log formatting: plain text or one JSON object per line (`log_format = "json"`), scrubbed either way."""

from __future__ import annotations

import logging
import time
from typing import Literal

from server import jsontext
from server.observability import context
from server.observability.scrub import scrub

# Loggers that install their own handlers (uvicorn); they are sent through ours instead.
FOREIGN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, var in (("request_id", context.request_id), ("session_id", context.session_id)):
            value = var.get()
            if value:
                entry[key] = value
        for key in ("method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return scrub(jsontext.dumps(entry))


def configure(level: str, log_format: Literal["text", "json"]) -> None:
    """One handler on the root logger, with our formatter; uvicorn's loggers propagate to it."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
