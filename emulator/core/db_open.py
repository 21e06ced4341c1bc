"""Opening the database at start-up: each mistake a user makes with ``--db`` becomes one line
saying what is wrong (:class:`DatabaseOpenError`), and a PostgreSQL server that does not
answer yet (compose starts it beside the emulator) is waited for, visibly and for a bounded
time (``EMULATOR_DB_WAIT``)."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from emulator.core.db import (
    CONNECT_TIMEOUT_S,
    STATEMENT_TIMEOUT_S,
    SchemaTooNewError,
    database_url,
    init_db,
    make_engine,
)

logger = logging.getLogger(__name__)

POSTGRES_EXTRA = "pip install 'iot-emulator[postgres]'"
# PostgreSQL refusals that end when the server has finished starting or restarting.
_NOT_READY = ("starting up", "not yet accepting", "recovery mode", "shutting down")
# Seconds between two attempts while waiting.
_RETRY_EVERY = 0.5


class DatabaseOpenError(RuntimeError):
    """The database named by ``--db`` cannot be used; the message says why, in one line."""


def open_database(
    db: str,
    wait: float = 0,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    statement_timeout: float = STATEMENT_TIMEOUT_S,
) -> Engine:
    """The engine of ``db`` with its schema created or upgraded.

    A PostgreSQL server that cannot be reached is tried again for up to ``wait`` seconds;
    ``connect_timeout`` and ``statement_timeout`` are :func:`make_engine`'s.
    Raises :class:`DatabaseOpenError`.
    """
    url = database_url(db)
    if url.startswith("sqlite"):
        _check_sqlite_path(db, url)
    try:
        engine = make_engine(db, connect_timeout, statement_timeout)
    except NoSuchModuleError:
        raise DatabaseOpenError(_unknown_scheme(url)) from None
    except ArgumentError:
        raise DatabaseOpenError(
            "not a database URL: write driver://user@host:port/dbname"
        ) from None
    except ValueError as exc:  # a port that is not a number, an unclosed IPv6 bracket
        raise DatabaseOpenError(f"not a database URL ({exc})") from None
    except ImportError as exc:
        raise DatabaseOpenError(
            f"the database driver is not installed ({exc.name or exc}): {POSTGRES_EXTRA}"
        ) from None
    if engine.dialect.name == "postgresql":
        _wait_for_postgresql(engine, wait)
    try:
        init_db(engine)
    except SchemaTooNewError as exc:
        engine.dispose()
        raise DatabaseOpenError(str(exc)) from None
    except DBAPIError as exc:
        engine.dispose()
        raise DatabaseOpenError(_cause(exc)) from None
    return engine


def _check_sqlite_path(db: str, url: str) -> None:
    if url in ("sqlite://", "sqlite:///:memory:"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    hint = " (a URL is written driver://...)" if ":" in db.split("/")[0] else ""
    if path.is_dir():
        raise DatabaseOpenError("is a directory: name an SQLite file (created if missing)")
    if not path.parent.is_dir():
        raise DatabaseOpenError(
            f"cannot create the SQLite file: directory {str(path.parent)!r} does not exist{hint}"
        )
    if path.exists():
        with path.open("rb") as file:
            head = file.read(16)
        if head and head != b"SQLite format 3\x00":
            raise DatabaseOpenError("is not an SQLite database: name a new file or a database")


def _unknown_scheme(url: str) -> str:
    scheme = url.split("://", 1)[0]
    if scheme.split("+")[0] == "postgres":
        return (
            f"unknown scheme {scheme + '://'!r}: SQLAlchemy spells PostgreSQL "
            "'postgresql+psycopg://user@host:port/dbname'"
        )
    return (
        f"unknown database scheme {scheme!r}: use an SQLite file path, ':memory:' or "
        "postgresql+psycopg://user@host:port/dbname"
    )


def _wait_for_postgresql(engine: Engine, wait: float) -> None:
    """Returns once the server accepts a connection; waits up to ``wait`` seconds while it
    cannot be reached or is starting up. A refusal (role, password, database) ends it."""
    url = engine.url
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    deadline = time.monotonic() + wait
    said = False
    while True:
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            cause = _cause(exc)
            if _answered(cause):
                engine.dispose()
                raise DatabaseOpenError(f"PostgreSQL at {where} refused: {cause}") from None
            left = deadline - time.monotonic()
            if left <= 0:
                engine.dispose()
                waited = f" after waiting {wait:g} s (EMULATOR_DB_WAIT)" if wait else ""
                raise DatabaseOpenError(
                    f"PostgreSQL at {where} is not reachable{waited}: {cause}"
                ) from None
            if not said:
                logger.warning(
                    "waiting for PostgreSQL at %s (up to %g s, EMULATOR_DB_WAIT): %s",
                    where, wait, cause,
                )  # fmt: skip
                said = True
            time.sleep(min(_RETRY_EVERY, left))
            continue
        connection.close()
        if said:
            logger.info("PostgreSQL at %s answers", where)
        return


def _answered(cause: str) -> bool:
    """Whether the server itself turned the connection down, for good (FATAL, not starting)."""
    return "FATAL" in cause and not any(reason in cause for reason in _NOT_READY)


def _cause(exc: DBAPIError) -> str:
    """The driver's message, on one line, without the connection string it may repeat."""
    lines = str(exc.orig).strip().splitlines() or [type(exc.orig).__name__]
    text = " ".join(lines[0].split())
    text = re.sub(r"^connection failed: ", "", text)
    text = re.sub(r'connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed: ', "", text)
    return text.replace("FATAL:  ", "FATAL: ")


def shown(db: str) -> str:
    """``db`` as a message may show it: a URL's password hidden."""
    if "://" not in db:
        return db
    try:
        return make_url(db).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", db)
