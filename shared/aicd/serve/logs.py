"""Structured logs: one JSON object per line on stderr (what log shippers and ``docker logs`` expect)."""

from __future__ import annotations

import json
import logging
import sys
import time

__all__ = ["JsonFormatter", "log"]


def log(level: str, event: str, **fields) -> None:
    record = {"ts": round(time.time(), 3), "level": level, "event": event,
              **{k: v for k, v in fields.items() if v is not None}}
    sys.stderr.write(json.dumps(record, default=str) + "\n")
    sys.stderr.flush()


class JsonFormatter(logging.Formatter):
    """For uvicorn's own log records, so every line the server prints is JSON."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": round(record.created, 3), "level": record.levelname.lower(), "event": record.getMessage(),
               "logger": record.name}
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(out, default=str)
