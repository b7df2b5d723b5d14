"""Structured logs: one JSON object per line, for log pipelines (Loki, Elasticsearch, CloudWatch).

Every line has ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``pid`` and ``msg``; a record
logged with ``extra={"event_id": ...}`` (or ``account_id``, ``partition``, ``offset``) carries it
as its own field, so an operator can follow one event. Faust's and aiokafka's own messages go
through the same formatter. Secrets never reach a log line: tokens and passwords are never
logged, and ClickHouse URLs are printed redacted.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone

FIELDS = ("event_id", "account_id", "partition", "offset")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": os.getpid(),
            "msg": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


# Client libraries that log a failed connection (with a traceback) before they raise it: the
# command line says it once, in one line, instead (streams/cli/main.py).
CLIENT_LOGGERS = ("aiokafka", "kafka", "clickhouse_driver")


def quiet_client_libraries(quiet: bool = True) -> None:
    """Only the error that reaches the caller is shown; the clients' own retries and warnings
    about a server that is not there are not printed first. ``quiet=False`` gives the clients
    their voice back (a running worker logs them)."""
    for name in CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL if quiet else logging.NOTSET)


def logging_config(level: str) -> dict:
    """A ``logging.config.dictConfig`` for the worker (Faust's Worker applies it)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "streams.observe.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }
