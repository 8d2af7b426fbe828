"""``serve --log-format json``: one JSON object per log record and line, for log collectors.

python-json-logger does the encoding (escaping, exceptions as one string, extra fields); we
only choose the fields: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, and
``exc_info`` when the record carries a traceback.
"""

from __future__ import annotations

import logging
import time

__all__ = ["json_formatter"]

_FIELDS = ("asctime", "levelname", "name", "message")
_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}


def json_formatter() -> logging.Formatter:
    """A formatter writing each record as one line of JSON (the ``server`` extra brings it)."""
    from pythonjsonlogger.json import JsonFormatter

    formatter: logging.Formatter = JsonFormatter(
        list(_FIELDS),
        rename_fields=_RENAMED,
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        json_ensure_ascii=False,
    )
    formatter.converter = time.gmtime
    return formatter
