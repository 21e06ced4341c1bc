"""Logging of ``iot-emulator serve``: uvicorn's access log on or off, plain text or JSON lines.

``EMULATOR_LOG_FORMAT`` (``text`` or ``json``) and ``EMULATOR_ACCESS_LOG`` (``true``/``false``)
are read here beside the serve options; the level is ``Settings.log_level``. The same
configuration goes to uvicorn (``log_config``), so with ``--workers N`` every worker logs the
same way.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

LogFormat = Literal["text", "json"]

# The fields of a LogRecord that are not the caller's ``extra=``.
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


class LogSettings(BaseSettings):
    """How the server logs. Environment: ``EMULATOR_LOG_FORMAT``, ``EMULATOR_ACCESS_LOG``."""

    model_config = SettingsConfigDict(env_prefix="EMULATOR_", extra="ignore")

    log_format: LogFormat = "text"
    access_log: bool = True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and for
    uvicorn's access log the client, method, path, HTTP version and status as fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            if len(record.args) == 5:
                client, method, path, version, status = record.args
                out.update(
                    client=client, method=method, path=path, httpVersion=version, status=status
                )
        for key, value in vars(record).items():
            if key not in _RESERVED and key not in out:
                out[key] = value if _plain(value) else repr(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class MaskQuery(logging.Filter):
    """Masks credentials in the access log's request line: query parameters named like a
    secret (``password``, ``refreshToken``, ``access_token``...) as the journal masks them.
    Quectel's accessKeyLogin and refreshToken take theirs in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            if isinstance(path, str) and "?" in path:
                record.args = (client, method, mask_query_string(path), version, status)
        return True


def mask_query_string(path: str) -> str:
    from urllib.parse import unquote_plus

    from emulator.core.masking import MASK, any_vendor_field

    base, _, query = path.partition("?")
    parts = []
    for part in query.split("&"):
        name, eq, _value = part.partition("=")
        key = unquote_plus(name)
        # The line names no operation: any vendor's credential field is masked.
        hidden = any_vendor_field(key)
        parts.append(f"{name}={MASK}" if eq and hidden else part)
    return f"{base}?{'&'.join(parts)}"


def _plain(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)


def log_config(level: str = "info", fmt: LogFormat = "text") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn and the emulator's own loggers."""
    level = level.upper()
    if fmt == "json":
        formatters: dict[str, Any] = {
            "default": {"()": "emulator.core.logs.JsonFormatter"},
            "access": {"()": "emulator.core.logs.JsonFormatter"},
        }
    else:
        formatters = {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(message)s",
                "use_colors": None,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
                "use_colors": None,
            },
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "formatter": "access",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "filters": ["mask_query"],
            },
        },
        "filters": {"mask_query": {"()": "emulator.core.logs.MaskQuery"}},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            "emulator": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }
