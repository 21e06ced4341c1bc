"""Logs of ``iot-emulator serve``: JSON lines on demand, access log on or off."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

from emulator.core import logs
from emulator.core.logs import (
    AccessFormatter,
    AccessLog,
    BufferedStreamHandler,
    JsonFormatter,
    LogSettings,
    MaskQuery,
    log_config,
)
from emulator.testing import free_port
from tests import calls
from tests.processes import start, wait_healthy


def serve_and_read_output(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start(
        ["serve", *args],
        cwd=tmp_path,
        env={"EMULATOR_PORT": str(port), "EMULATOR_DB": ":memory:", **(env or {})},
    )
    try:
        wait_healthy(url, process)
        calls.get(f"{url}/_emulator/devices", params={"vendor": "enos"})
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    return output


def test_json_format_writes_one_object_per_line_with_access_fields(tmp_path: Path) -> None:
    output = serve_and_read_output(tmp_path, "--log-format", "json")

    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    access = [r for r in records if r["logger"] == "uvicorn.access"]

    assert access, output
    devices = [r for r in access if r["path"].startswith("/_emulator/devices")]
    assert devices[0]["method"] == "GET"
    assert devices[0]["status"] == 200
    assert {"time", "level", "message"} <= set(devices[0])
    assert any(r["message"].startswith("iot-emulator ") for r in records)


def test_access_log_can_be_turned_off_by_variable(tmp_path: Path) -> None:
    output = serve_and_read_output(tmp_path, env={"EMULATOR_ACCESS_LOG": "false"})

    assert "/_emulator/health" not in output
    assert "Application startup complete" in output


def test_access_log_is_on_by_default_in_text(tmp_path: Path) -> None:
    output = serve_and_read_output(tmp_path)

    assert '"GET /_emulator/devices?vendor=enos HTTP/1.1" 200' in output


def test_json_formatter_keeps_extra_fields_and_exceptions() -> None:
    record = logging.LogRecord("emulator.x", logging.ERROR, __file__, 1, "boom %s", ("now",), None)
    record.operation = "enos.connect.create_device"
    try:
        raise ValueError("bad")
    except ValueError:
        record.exc_info = sys.exc_info()

    out = json.loads(JsonFormatter().format(record))

    assert out["message"] == "boom now"
    assert out["level"] == "error"
    assert out["operation"] == "enos.connect.create_device"
    assert "ValueError: bad" in out["exception"]


def test_log_settings_read_emulator_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_LOG_FORMAT", "json")
    monkeypatch.setenv("EMULATOR_ACCESS_LOG", "0")

    settings = LogSettings()

    assert (settings.log_format, settings.access_log) == ("json", False)
    assert log_config("debug", "json")["loggers"]["emulator"]["level"] == "DEBUG"


def access_record(status: int, path: str = "/x?y=1") -> logging.LogRecord:
    # What uvicorn's access logger receives for each request.
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", "POST", path, "1.1", status), None,
    )  # fmt: skip


@pytest.mark.parametrize("status", [200, 404, 500, 599])
def test_access_lines_read_as_uvicorns_own(status: int) -> None:
    fmt = log_config()["formatters"]["access"]["fmt"]
    theirs = UvicornAccessFormatter(fmt, use_colors=False)
    ours = AccessFormatter(fmt, use_colors=False)

    assert ours.format(access_record(status)) == theirs.format(access_record(status))


class RecordingStream:
    """A stream that keeps each write and says when one came."""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.written = threading.Event()

    def write(self, text: str) -> None:
        self.writes.append(text)
        self.written.set()

    def flush(self) -> None:
        pass


@contextmanager
def held(handler: logging.Handler) -> Iterator[None]:
    lock = handler.lock
    assert lock is not None
    with lock:
        yield


def test_access_lines_are_written_together_without_a_flush() -> None:
    stream = RecordingStream()
    handler = BufferedStreamHandler(stream)  # type: ignore[arg-type]
    handler.setFormatter(AccessFormatter(log_config()["formatters"]["access"]["fmt"]))
    with held(handler):  # the handler's writer thread waits until all three are pending
        for status in (200, 201, 404):
            handler.handle(access_record(status))
        assert stream.writes == []

    assert stream.written.wait(timeout=30)
    assert len(stream.writes) == 1
    assert [line.split('" ')[-1] for line in stream.writes[0].splitlines()] == [
        "200 OK", "201 Created", "404 Not Found",
    ]  # fmt: skip


def test_flush_writes_what_is_pending_at_once() -> None:
    stream = RecordingStream()
    handler = BufferedStreamHandler(stream)  # type: ignore[arg-type]
    with held(handler):
        handler.handle(access_record(200))
        handler.flush()

    assert stream.writes == ['127.0.0.1:50000 - "POST /x?y=1 HTTP/1.1" 200\n']


class FailingStream(RecordingStream):
    """A stream that refuses writes while ``failing`` (stdout piped into a closed reader)."""

    failing = True

    def write(self, text: str) -> None:
        if self.failing:
            raise BrokenPipeError("the reader went away")
        super().write(text)


def test_a_failing_stream_loses_lines_not_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging, "raiseExceptions", False)  # handleError stays quiet
    monkeypatch.setattr(logs, "MAX_PENDING_LINES", 2)  # every second line is a write
    stream = FailingStream()
    handler = BufferedStreamHandler(stream)  # type: ignore[arg-type]
    with held(handler):  # only the lines' own writes, not the writer thread's
        for n in range(6):
            handler.add_line(f"refused {n}")  # a line handed over without a record: no raise
        stream.failing = False
        handler.add_line("kept 1")
        handler.add_line("kept 2")
    assert stream.writes == ["kept 1\nkept 2\n"]  # the refused batches were dropped


ACCESS_MESSAGE = '%s - "%s %s HTTP/%s" %d'


def access_logger(name: str, formatter: logging.Formatter, *filters: logging.Filter) -> tuple[
    logging.Logger, RecordingStream, BufferedStreamHandler
]:  # fmt: skip
    """A logger set up as log_config sets up uvicorn's access logger, writing to a stream."""
    stream = RecordingStream()
    handler = BufferedStreamHandler(stream)  # type: ignore[arg-type]
    handler.setFormatter(formatter)
    for one in filters:
        handler.addFilter(one)
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream, handler


@pytest.mark.parametrize(
    "path", ["/x", "/x?y=1", "/v2/quecauth/accessKeyAuthrize/accessKeyLogin?password=pw&u=1"]
)
@pytest.mark.parametrize("status", [200, 404, 599])
def test_access_lines_without_a_record_are_the_records_lines(path: str, status: int) -> None:
    fmt = log_config()["formatters"]["access"]["fmt"]
    args = ("127.0.0.1:50000", "POST", path, "1.1", status)
    lines = []
    for how in ("record", "line"):
        logger, stream, handler = access_logger(
            f"test.access.{how}", AccessFormatter(fmt), MaskQuery()
        )
        if how == "record":
            logger.info(ACCESS_MESSAGE, *args)
        else:
            AccessLog(logger).info(ACCESS_MESSAGE, *args)
        handler.flush()
        lines.append(stream.writes)

    assert lines[0] == lines[1]
    assert "pw" not in "".join(lines[1])


def test_an_access_logger_set_up_otherwise_gets_the_record() -> None:
    logger, stream, handler = access_logger("test.access.json", JsonFormatter())

    AccessLog(logger).info(ACCESS_MESSAGE, "127.0.0.1:50000", "GET", "/x", "1.1", 200)
    handler.flush()

    assert json.loads(stream.writes[0])["message"] == '127.0.0.1:50000 - "GET /x HTTP/1.1" 200'


def test_an_access_logger_above_info_writes_nothing() -> None:
    logger, stream, handler = access_logger("test.access.quiet", AccessFormatter())
    logger.setLevel(logging.WARNING)

    AccessLog(logger).info(ACCESS_MESSAGE, "127.0.0.1:50000", "GET", "/x", "1.1", 200)
    handler.flush()

    assert stream.writes == []


def test_a_closed_stream_does_not_keep_the_others_from_flushing_at_shutdown(
    tmp_path: Path,
) -> None:
    closed = open(tmp_path / "closed.log", "w")
    closed.close()
    gone = logging.StreamHandler(closed)
    out = open(tmp_path / "access.log", "w")
    pending = BufferedStreamHandler(out)
    pending.add_line("a line not yet written")
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    root.addHandler(gone)
    access.addHandler(pending)
    try:
        logs.flush_logs()
    finally:
        root.removeHandler(gone)
        access.removeHandler(pending)
        out.close()
    assert (tmp_path / "access.log").read_text() == "a line not yet written\n"
