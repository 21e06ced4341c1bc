"""The request journal: every vendor request, kept in a bounded in-memory buffer.

``VendorRoute`` records each vendor request after its answer (operation id, namespace, method,
path, query, masked headers, body, HTTP status, vendor code, duration, and whether a fault
answered it). :class:`Journal` keeps them in a store (``append``, ``query``, ``clear``):
:class:`MemoryJournal` in one process, :class:`SqlJournal` in the database when several
processes share it (PostgreSQL, ``--workers N``), so any process lists every process's requests.

Memory stays flat: the buffer holds at most ``settings.journal_size`` entries and about
``settings.journal_bytes`` bytes (the oldest go first whichever bound is reached); a body and
an answer are kept cut at :data:`BODY_LIMIT`, a request's headers at :data:`HEADERS_LIMIT`.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

import orjson
from sqlalchemy import ColumnElement, Engine, String, cast, delete, func, or_, select

from emulator.core import masking
from emulator.core.registry import shared_journal
from emulator.core.sql import HotSql, const, insert_of, param

MASK = masking.MASK
# Bodies are kept as text up to this many characters; the rest is cut (and said so).
BODY_LIMIT = 64 * 1024
# A request's headers are kept up to this many bytes (names and values); the rest are dropped
# (and said so).
HEADERS_LIMIT = 16 * 1024
# What an entry costs beyond its request's and answer's bytes (the object, its fields).
ENTRY_OVERHEAD = 600


class Entry:
    """One recorded vendor request.

    Recording runs on every request and reading seldom, so a request's query, headers and
    body may be given as they came (``raw_query``, ``raw_headers``, ``raw_body``: bytes) and
    are then decoded and masked when first read; ``query``, ``headers``, ``body`` and
    ``body_truncated`` read the same either way.
    """

    __slots__ = (
        "id", "at", "namespace", "operation", "method", "path", "status", "vendor_code",
        "duration_ms", "injected", "fault_id", "faulted_devices", "response",
        "_query", "_headers", "_body", "_raw_query", "_raw_headers", "_raw_body",
        "headers_truncated", "size",
    )  # fmt: skip

    def __init__(
        self, *, id: int, at: int, namespace: str, operation: str, method: str, path: str,
        status: int, vendor_code: int | None, duration_ms: float,
        query: dict[str, str] | None = None, headers: dict[str, str] | None = None,
        body: str | None = None, body_truncated: bool = False,
        raw_query: bytes | None = None, raw_headers: Sequence[tuple[bytes, bytes]] = (),
        raw_body: bytes | None = None,
        injected: bool = False, fault_id: str | None = None,
        faulted_devices: list[str] | None = None, response: bytes | None = None,
        headers_truncated: bool = False,
    ) -> None:  # fmt: skip
        self.id = id
        self.at = at  # emulator clock, ms
        self.namespace = namespace
        self.operation = operation
        self.method = method
        self.path = path
        self.status = status
        self.vendor_code = vendor_code
        self.duration_ms = duration_ms
        self.injected = injected
        self.fault_id = fault_id
        # Devices of a batch that a deviceKey fault failed.
        self.faulted_devices = faulted_devices if faulted_devices is not None else []
        # The answer's body as sent (bytes kept by reference, cut at BODY_LIMIT); decoded and
        # masked only when read, so recording costs nothing more.
        self.response = response
        self._raw_query = raw_query
        self.headers_truncated = headers_truncated
        header_bytes = 0
        if raw_headers:
            raw_headers, header_bytes, cut = _cut_headers(raw_headers)
            self.headers_truncated = self.headers_truncated or cut
        self._raw_headers = raw_headers
        self._query = query if raw_query is None else None
        self._headers = headers if not raw_headers else None
        self._raw_body = raw_body
        self._body: tuple[str | None, bool] | None = None
        if raw_body is None:
            self._body = (body, body_truncated)
        elif len(raw_body) > BODY_LIMIT:
            # Masked now: a large body is not kept whole until it is read.
            self._body = mask_body(raw_body, self.credentials)
            self._raw_body = None
        # About what the entry holds, for the journal's byte bound.
        self.size = ENTRY_OVERHEAD + len(raw_query or b"") + len(response or b"") + header_bytes
        self.size += len(self._raw_body or b"") + len((self._body or ("",))[0] or "")

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            text = (self._raw_query or b"").decode("latin-1")
            self._query = mask_query(
                dict(parse_qsl(text, keep_blank_values=True)), self.credentials
            )
        return self._query

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = mask_headers(
                ((k.decode("latin-1"), v.decode("latin-1")) for k, v in self._raw_headers),
                self.credentials,
            )
        return self._headers

    @property
    def body(self) -> str | None:
        return self._masked_body()[0]

    @property
    def body_truncated(self) -> bool:
        return self._masked_body()[1]

    def _masked_body(self) -> tuple[str | None, bool]:
        if self._body is None:
            self._body = mask_body(self._raw_body or b"", self.credentials)
            self._raw_body = None
        return self._body

    @property
    def credentials(self) -> masking.Credentials:
        """What its vendor declares a credential (core/masking.py)."""
        return masking.of_operation(self.operation)

    def fields(self) -> dict[str, Any]:
        """Every field by its constructor name, the request's parts masked."""
        return {
            "id": self.id, "at": self.at, "namespace": self.namespace,
            "operation": self.operation, "method": self.method, "path": self.path,
            "query": self.query, "headers": self.headers, "body": self.body,
            "body_truncated": self.body_truncated, "status": self.status,
            "vendor_code": self.vendor_code, "duration_ms": self.duration_ms,
            "injected": self.injected, "fault_id": self.fault_id,
            "faulted_devices": self.faulted_devices, "response": self.response,
            "headers_truncated": self.headers_truncated,
        }  # fmt: skip

    def response_value(self) -> Any:
        """The answer as JSON when it parses (its tokens and secrets masked), else the text."""
        if not self.response:
            return None
        text = self.response.decode("utf-8", errors="replace")
        try:
            return _mask_answer(json.loads(text), self.credentials)
        except (ValueError, RecursionError):  # an answer echoing a hostile, deeply nested body
            return text

    def body_value(self) -> Any:
        """The body as JSON when it parses, else the text (``None`` when empty)."""
        if not self.body:
            return None
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):  # a hostile, deeply nested body stays text
            return self.body
        # A \u escape of half a character (a lone surrogate, which fuzzers send) parses, but
        # no UTF-8 answer can carry what it parses to: such a body stays text, as it came.
        if "\\u" in self.body and _utf8_json(value) is None:
            return self.body
        return value

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "namespace": self.namespace,
            "operation": self.operation,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "headersTruncated": self.headers_truncated,
            "body": self.body_value(),
            "bodyTruncated": self.body_truncated,
            "status": self.status,
            "vendorCode": self.vendor_code,
            "durationMs": round(self.duration_ms, 3),
            "injected": self.injected,
            "faultId": self.fault_id,
            "faultedDevices": self.faulted_devices,
            "response": self.response_value(),
            "responseTruncated": self.response is not None and len(self.response) >= BODY_LIMIT,
        }


def _utf8_json(value: Any) -> str | None:
    """``value`` as JSON text with its characters as they are, or None when it holds half a
    UTF-16 character (a lone surrogate), which no UTF-8 answer can carry."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


def _cut_headers(
    headers: Sequence[tuple[bytes, bytes]],
) -> tuple[Sequence[tuple[bytes, bytes]], int, bool]:
    """The headers up to :data:`HEADERS_LIMIT` bytes, their bytes, and whether some were
    dropped."""
    total = 0
    for index, (name, value) in enumerate(headers):
        size = len(name) + len(value)
        if total + size > HEADERS_LIMIT:
            return list(headers[:index]), total, True
        total += size
    return headers, total, False


def secret_name(name: str) -> bool:
    """Whether a header or query parameter of this name carries a credential, whoever the
    vendor (core/masking.py)."""
    return masking.generic_secret(name)


def mask_headers(
    headers: Iterable[tuple[str, str]], credentials: masking.Credentials = masking.GENERIC
) -> dict[str, str]:
    return {k: (MASK if credentials.header(k) else v) for k, v in headers}


def mask_query(
    query: Mapping[str, str], credentials: masking.Credentials = masking.GENERIC
) -> dict[str, str]:
    return {k: (MASK if credentials.request_field(k) else v) for k, v in query.items()}


def _mask_value(value: Any, secret: Callable[[str], bool]) -> Any:
    if isinstance(value, dict):
        return {
            k: (MASK if v is not None and secret(str(k)) else _mask_value(v, secret))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_value(v, secret) for v in value]
    return value


def _mask_answer(value: Any, credentials: masking.Credentials) -> Any:
    """Answers carry issued tokens and device secrets: masked like the requests' credentials."""
    return _mask_value(value, credentials.answer_field)


def answer_body(content: object) -> bytes | None:
    """What the journal keeps of an answer's body: the bytes, cut at BODY_LIMIT."""
    if not isinstance(content, bytes):
        return None
    return content if len(content) < BODY_LIMIT else content[:BODY_LIMIT]


def mask_body(
    raw: bytes, credentials: masking.Credentials = masking.GENERIC
) -> tuple[str | None, bool]:
    """The body as text with its credential fields masked (JSON or a form), and whether it
    was cut."""
    if not raw:
        return None, False
    text = raw.decode("utf-8", errors="replace")
    # Parsing costs: only a body that names a credential is parsed and rewritten.
    if credentials.names_in_text.search(text):
        text = _masked_text(text, credentials)
    if len(text) > BODY_LIMIT:
        return text[:BODY_LIMIT], True
    return text, False


def _masked_text(text: str, credentials: masking.Credentials) -> str:
    try:
        masked = _mask_value(json.loads(text), credentials.request_field)
        # Escaped when it holds a lone surrogate (see Entry.body_value): kept as text, it must
        # still encode.
        as_is = _utf8_json(masked)
        return as_is if as_is is not None else json.dumps(masked)
    except (ValueError, RecursionError):
        pass
    if "=" in text and not text.lstrip().startswith(("{", "[")):
        # A form (Quectel's and MCS's logins post them): its fields masked by name.
        pairs = parse_qsl(text, keep_blank_values=True)
        if pairs:
            masked = [(k, MASK if credentials.request_field(k) else v) for k, v in pairs]
            return urlencode(masked, safe="*")
    return "(a body that is neither JSON nor a form and names a credential: not recorded)"


def vendor_code(payload: Any) -> int | None:
    """The vendor's code in an answer: top-level ``code`` (EnOS, Quectel) or MCS's
    ``results.code``; ``None`` when the answer carries none (MCS success)."""
    if not isinstance(payload, dict):
        return None
    code = payload.get("code")
    if code is None and isinstance(payload.get("results"), dict):
        code = payload["results"].get("code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.lstrip("-").isdigit():
        return int(code)
    return None


class JournalStore(Protocol):
    """Where a :class:`Journal`'s entries live: one process's memory, or the database several
    processes share."""

    @property
    def bytes(self) -> int: ...

    def next_id(self) -> int: ...

    def append(self, entry: Entry) -> None: ...

    def query(self, namespace: str | None, operation: str | None, limit: int) -> list[Entry]:
        """At most ``limit`` matching entries, newest first; ``None`` filters nothing."""
        ...

    def clear(self, namespace: str | None) -> int: ...


class Journal:
    """The recorded requests, oldest first: at most ``size`` entries, kept by a store chosen
    once where the emulator is built (core/context.py); by default :class:`MemoryJournal`,
    bounded to about ``max_bytes`` bytes too."""

    def __init__(
        self, size: int, max_bytes: int | None = None, store: JournalStore | None = None
    ) -> None:
        self.size = size
        self.store: JournalStore = store if store is not None else MemoryJournal(size, max_bytes)
        # Called with every recorded entry (the app's metrics subscribe here). An observer
        # must be fast and must not raise; an exception is logged by the caller and the
        # request is still answered.
        self.observers: list[Callable[[Entry], None]] = []

    def next_id(self) -> int:
        return self.store.next_id()

    @property
    def bytes(self) -> int:
        """About what the kept entries hold (in memory; 0 in the database)."""
        return self.store.bytes

    def append(self, entry: Entry) -> None:
        if self.size > 0:
            self.store.append(entry)

    def query(
        self,
        *,
        namespace: str | None = None,
        operation: str | None = None,
        limit: int | None = None,
    ) -> list[Entry]:
        """Matching entries, newest first; ``None`` filters nothing."""
        return self.store.query(namespace, operation, self.size if limit is None else limit)

    def clear(self, namespace: str | None = None) -> int:
        """Drop the entries of a namespace (every entry with ``None``); returns how many."""
        return self.store.clear(namespace)


class MemoryJournal:
    """The entries of one process: a bounded, thread-safe deque, the oldest going first when
    ``size`` entries or about ``max_bytes`` bytes are reached."""

    def __init__(self, size: int, max_bytes: int | None = None) -> None:
        self._entries: deque[Entry] = deque(maxlen=size)
        self.max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        # itertools.count: one atomic step under the GIL, no lock.
        self._ids = itertools.count(1)

    @property
    def bytes(self) -> int:
        return self._bytes

    def next_id(self) -> int:
        return next(self._ids)

    def append(self, entry: Entry) -> None:
        with self._lock:
            entries = self._entries
            if entries.maxlen is not None and len(entries) == entries.maxlen and entries:
                self._bytes -= entries.popleft().size
            entries.append(entry)
            self._bytes += entry.size
            if self.max_bytes is not None:
                while self._bytes > self.max_bytes and len(entries) > 1:
                    self._bytes -= entries.popleft().size

    def query(self, namespace: str | None, operation: str | None, limit: int) -> list[Entry]:
        with self._lock:
            snapshot = list(self._entries)
        out: list[Entry] = []
        for entry in reversed(snapshot):
            if len(out) >= limit:
                break
            if namespace is not None and entry.namespace != namespace:
                continue
            if operation is not None and entry.operation != operation:
                continue
            out.append(entry)
        return out

    def clear(self, namespace: str | None) -> int:
        with self._lock:
            before = len(self._entries)
            if namespace is None:
                self._entries.clear()
            else:
                kept = [e for e in self._entries if e.namespace != namespace]
                self._entries.clear()
                self._entries.extend(kept)
            self._bytes = sum(e.size for e in self._entries)
            return before - len(self._entries)


class SqlJournal:
    """The entries of several processes on one database (table ``emulator_journal``), so any
    process answers for the requests of all. Each entry is written before its answer leaves
    (the client that got an answer finds it in the journal of any process); past ``size``
    entries the oldest are trimmed, every :data:`TRIM_EVERY` appends."""

    TRIM_EVERY = 128
    bytes = 0  # the entries are the database's to keep

    def __init__(self, size: int, engine: Engine) -> None:
        self._size = size
        self._engine = engine
        self._appended = 0

    def next_id(self) -> int:
        return 0  # the database numbers the entry when it is appended

    def append(self, entry: Entry) -> None:
        row = {"ns": entry.namespace, "operation": entry.operation, "entry": dump_entry(entry)}
        # On PostgreSQL the engine is autocommit without a disk flush (core/db.py): one round trip.
        with self._engine.begin() as conn:
            entry.id = int(_JOURNAL_INSERT.first(conn, row)[0])  # type: ignore[index]
            self._appended += 1
            if self._appended % self.TRIM_EVERY == 0:
                JOURNAL_TRIM.execute(conn, {"keep": self._size})

    def query(self, namespace: str | None, operation: str | None, limit: int) -> list[Entry]:
        params: dict[str, Any] = {"ns": namespace, "op": operation, "lim": limit}
        with self._engine.connect() as conn:
            rows = _JOURNAL_QUERY.execute(conn, params).fetchall()
        return [_load(row[0], row[1]) for row in rows]

    def clear(self, namespace: str | None) -> int:
        with self._engine.begin() as conn:
            return _JOURNAL_CLEAR.rowcount(conn, {"ns": namespace})


def dump_entry(entry: Entry) -> str:
    """An entry as the JSON text of the shared journal's ``entry`` column (:func:`entry_data`)."""
    return json_text(entry_data(entry))


def json_text(value: Any) -> str:
    """``value`` as compact JSON text, all ASCII (non-ASCII characters escaped), so any
    database encoding stores it. orjson writes it at about a fifth of the standard encoder's
    CPU (on PostgreSQL the journal's writer thread spent 5% of the process's CPU encoding).
    Where orjson's text is not ASCII (a body with accents or CJK), or orjson refuses the value
    (half a UTF-16 character in a recorded body, an integer past 64 bits), the standard
    encoder writes it instead."""
    try:
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        pass
    else:
        if text.isascii():
            return text
    return json.dumps(value, separators=(",", ":"))


def entry_data(entry: Entry) -> dict[str, Any]:
    """What the shared journal keeps of an entry, as JSON values. A request's parts
    not read yet are kept as they came, and decoded and masked when read back (:func:`_load`),
    as :class:`MemoryJournal` keeps them: recording, on every request, costs the less. Bytes
    round-trip through latin-1 exactly; json escapes what a text column refuses."""
    data: dict[str, Any] = {
        "at": entry.at, "namespace": entry.namespace, "operation": entry.operation,
        "method": entry.method, "path": entry.path, "status": entry.status,
        "vendor_code": entry.vendor_code, "duration_ms": entry.duration_ms,
        "injected": entry.injected, "fault_id": entry.fault_id,
        "faulted_devices": entry.faulted_devices, "headers_truncated": entry.headers_truncated,
        "response": None if entry.response is None else entry.response.decode("latin-1"),
    }  # fmt: skip
    if entry._query is None:
        data["raw_query"] = (entry._raw_query or b"").decode("latin-1")
    else:
        data["query"] = entry._query
    if entry._headers is None:
        data["raw_headers"] = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in entry._raw_headers
        ]
    else:
        data["headers"] = entry._headers
    # The raw body first: a reader masking it meanwhile sets the masked one, then drops it.
    raw_body, body = entry._raw_body, entry._body
    if body is None:
        data["raw_body"] = (raw_body or b"").decode("latin-1")
    else:
        data["body"], data["body_truncated"] = body
    return data


def _load(entry_id: int, text: str) -> Entry:
    data = json.loads(text)
    response = data.pop("response")
    # Entries of an older emulator hold their parts masked already (query, headers, body).
    if "raw_query" in data:
        data["raw_query"] = data["raw_query"].encode("latin-1")
    if "raw_headers" in data:
        data["raw_headers"] = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in data["raw_headers"]
        ]
    if "raw_body" in data:
        data["raw_body"] = data["raw_body"].encode("latin-1")
    return Entry(
        id=int(entry_id),
        response=None if response is None else response.encode("latin-1"),
        **data,
    )


_J = shared_journal.c


def _any_or(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """``column = :name``, or true when the value passed is None."""
    return or_(cast(param(name), String).is_(None), column == param(name))


_JOURNAL_INSERT = HotSql(insert_of(shared_journal, ("ns", "operation", "entry")).returning(_J.id))
JOURNAL_TRIM = HotSql(
    delete(shared_journal).where(_J.id <= select(func.max(_J.id)).scalar_subquery() - param("keep"))
)
# SQLite writes an OFFSET after every LIMIT: a constant here, not a value to pass.
_JOURNAL_QUERY = HotSql(
    select(_J.id, _J.entry)
    .where(_any_or(_J.ns, "ns"), _any_or(_J.operation, "op"))
    .order_by(_J.id.desc())
    .limit(param("lim"))
    .offset(const(0))
)
_JOURNAL_CLEAR = HotSql(delete(shared_journal).where(_any_or(_J.ns, "ns")))
