"""Logging of ``iot-emulator serve``: uvicorn's access log on or off, plain text or JSON lines.

``EMULATOR_LOG_FORMAT`` (``text`` or ``json``) and ``EMULATOR_ACCESS_LOG`` (``true``/``false``)
are read here beside the serve options; the level is ``Settings.log_level``. The same
configuration goes to uvicorn (``log_config``), so with ``--workers N`` every worker logs the
same way.

The access log is on by default and costs little: its lines are written in batches
(:class:`BufferedStreamHandler`, at most :data:`FLUSH_EVERY_S` late) rather than with a system
call each, and formatted in one step (:class:`AccessFormatter`) when not coloured for a
terminal. Measured under load, a line written and flushed per request cost about a quarter
of the requests a second.
"""

from __future__ import annotations

import functools
import http
import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import IO, Any, Literal

from pydantic_settings import BaseSettings, SettingsConfigDict
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

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


# A pending access line waits at most this long before it is written.
FLUSH_EVERY_S = 0.2
# ... or until this many lines are pending.
MAX_PENDING_LINES = 512


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes its lines in batches: at most :data:`FLUSH_EVERY_S` after
    the first pending one (a thread of its own writes them when the server goes quiet), at
    once past :data:`MAX_PENDING_LINES`, and everything pending when ``serve`` shuts down
    (:func:`flush_logs`) or logging flushes at exit. A server killed outright loses at most
    the last batch."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        # logging.Handler.handle holds self.lock around this call.
        try:
            self._add(self.format(record))
        except Exception:
            self.handleError(record)

    def add_line(self, line: str) -> None:
        """A line formatted already (:class:`AccessLog`), pending like an emitted record's."""
        self.acquire()
        try:
            self._add(line)
        except Exception:
            # As emit: a stream that fails loses lines, never the request that logs one.
            self.handleError(logging.makeLogRecord({"msg": line}))
        finally:
            self.release()

    def _add(self, line: str) -> None:
        self._pending.append(line + self.terminator)
        if len(self._pending) >= MAX_PENDING_LINES:
            self._write_pending()
        elif not self._wake.is_set():
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_soon, name="access-log", daemon=True
                )
                self._writer.start()
            self._wake.set()

    def _write_soon(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(FLUSH_EVERY_S)
            self.acquire()
            try:
                self._wake.clear()
                self._write_pending()
            except Exception:
                self.handleError(logging.makeLogRecord({"msg": "(a batch of access lines)"}))
            finally:
                self.release()

    def _write_pending(self) -> None:
        if self._pending:
            # Taken before the write: a batch the stream refuses is dropped, not kept to
            # grow and fail again with every later line.
            batch, self._pending = "".join(self._pending), []
            self.stream.write(batch)
            if hasattr(self.stream, "flush"):
                self.stream.flush()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write_pending()
        finally:
            self.release()


def flush_logs() -> None:
    """Write what every handler holds (the access log's pending batch)."""
    for name in ("uvicorn.access", "uvicorn", "emulator", ""):
        for handler in logging.getLogger(name).handlers:
            # A closed stream, or one whose writes fail, must not keep the other handlers
            # from writing theirs at shutdown.
            if getattr(getattr(handler, "stream", None), "closed", False):
                continue
            try:
                handler.flush()
            except OSError:
                continue


_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in http.HTTPStatus}


class AccessFormatter(UvicornAccessFormatter):
    """uvicorn's access line, ``INFO:     127.0.0.1:50000 - "GET /x HTTP/1.1" 200 OK``, built
    in one f-string when it is not coloured (uvicorn copies the record and formats it twice);
    coloured for a terminal, uvicorn's own formatter does it."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        args = record.args
        if self.use_colors or not isinstance(args, tuple) or len(args) != 5:
            return super().formatMessage(record)
        client, method, path, version, status = args
        prefix = f"{record.levelname}:".ljust(9)
        return access_line(prefix, client, method, path, version, status)


def access_line(prefix: str, client: object, method: object, path: object, version: object,
                status: object) -> str:  # fmt: skip
    status_line = _STATUS_LINES.get(status) or f"{status} "  # type: ignore[call-overload]
    return f'{prefix} {client} - "{method} {path} HTTP/{version}" {status_line}'


_INFO_PREFIX = "INFO:".ljust(9)


class AccessLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """What uvicorn's access logging calls, ``.info(msg, client, method, path, version,
    status)`` once a request, in place of the ``uvicorn.access`` logger (emulator/server.py).

    When that logger is configured as :func:`log_config` configures it in text (its one handler
    a :class:`BufferedStreamHandler` with an uncoloured :class:`AccessFormatter`, filtered by
    :class:`MaskQuery` or not at all), the line is built here and handed to the handler, the
    same line the record would have become, without the record: the logging machinery around
    a record (the caller's frame looked up, the record made, filtered and formatted) cost
    several times the line itself. Configured any other way, the logger gets the call.
    """

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger)

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        logger = self.logger
        handlers = logger.handlers
        if len(args) == 5 and len(handlers) == 1 and not kwargs and not logger.propagate:
            handler = handlers[0]
            formatter = handler.formatter
            if (
                type(handler) is BufferedStreamHandler
                and type(formatter) is AccessFormatter
                and not formatter.use_colors
                and handler.level <= logging.INFO
                and not logger.filters
                and logger.isEnabledFor(logging.INFO)
            ):
                filters = handler.filters
                client, method, path, version, status = args
                if filters:
                    if len(filters) != 1 or type(filters[0]) is not MaskQuery:
                        logger.info(msg, *args)
                        return
                    if isinstance(path, str) and "?" in path:
                        path = mask_query_string(path)
                handler.add_line(access_line(_INFO_PREFIX, client, method, path, version, status))
                return
        logger.info(msg, *args, **kwargs)


def mask_query_string(path: str) -> str:
    base, _, query = path.partition("?")
    return f"{base}?{_masked_query(query)}"


# Cached: a client sends the same query again and again (a load test, a poll).
@functools.lru_cache(maxsize=1024)
def _masked_query(query: str) -> str:
    from urllib.parse import unquote_plus

    from emulator.core.masking import MASK, any_vendor_field

    parts = []
    for part in query.split("&"):
        name, eq, _value = part.partition("=")
        key = unquote_plus(name) if "%" in name or "+" in name else name
        # The line names no operation: any vendor's credential field is masked.
        hidden = any_vendor_field(key)
        parts.append(f"{name}={MASK}" if eq and hidden else part)
    return "&".join(parts)


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
                "()": "emulator.core.logs.AccessFormatter",
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
                "class": "emulator.core.logs.BufferedStreamHandler",
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
