"""The ingestion pipeline of the server process: accepted requests → write-ahead log → warehouse.

1. An endpoint calls :func:`prepare` (decode, parse, check the write key and the limits — everything that can refuse
   a request happens here, before anything is stored) and then ``await`` :meth:`Pipeline.submit`, which returns once
   the request's record is fsync'ed in the write-ahead log (:mod:`.wal`). Only then does the client get HTTP 200.
2. A flusher thread, every :data:`FLUSH_SECONDS`, rotates the log and moves the closed segment's events into the
   warehouse in one append (thousands of rows; DuckDB appends cost ~1 ms each, so rows are never appended one by one),
   applies identify/alias/group to the identity graph (:mod:`.identity`), writes the changed persons, and only then
   deletes the segment file. If the warehouse refuses, the segment stays and the next round retries.
3. At start-up, segments left by a crash (even ``kill -9`` right after a 200) are replayed the same way.

De-duplication: an event whose id (Segment ``messageId``, PostHog ``uuid``, or an id derived from its content when
the client sent none) is among the last :data:`DEDUPE_WINDOW` ids the warehouse received is dropped. The window is
reloaded from the ``events`` table at start-up, so a client resending a batch after a restart is recognised too.

DuckDB allows one writing process per file, so the pipeline lives in the server process. Call :func:`flush` to make
everything accepted so far visible to queries (insights and tests do).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from prodops.domains.analytics.service import identity, ingest, sources
from prodops.domains.analytics.service.ingest import IngestError, Message, Protocol
from prodops.domains.analytics.service.schema import ensure_schema
from prodops.domains.analytics.service.wal import WriteAheadLog, read_segment, segments
from prodops.platform import events
from prodops.platform.config import get_settings
from prodops.platform.db import session_factory
from prodops.platform.warehouse import DuckDBWarehouse, Warehouse, get_warehouse

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
"""How often buffered events are moved into the warehouse (so they are queryable within about a second)."""
DEDUPE_WINDOW = 1_000_000
"""How many recent event ids are remembered to drop resent events (about 70 MB of memory)."""
CUSTOMERS_REFRESH_SECONDS = 300.0
"""How often the customers facts are re-read even without a change seen in this process (changes made by the CLI)."""

EVENT_COLUMNS = (
    "uuid", "event", "distinct_id", "person_id", "account_id", "timestamp", "received_at", "source_id", "properties",
)  # fmt: skip


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Batch:
    """One accepted request: its source, when it arrived, and its messages."""

    source_id: int
    received_at: dt.datetime
    messages: list[Message]


def _opens() -> Session:
    return session_factory()()


def prepare(
    protocol: Protocol,
    call: str,
    raw: bytes,
    *,
    content_encoding: str | None = None,
    compression: str | None = None,
    header_key: str | None = None,
    lookup: Callable[[str], sources.KeyInfo | None] | None = None,
) -> tuple[Batch, str]:
    """Check and read one request; returns the batch and the text to log. Raises :class:`IngestError`."""
    received_at = _utcnow()
    text = ingest.decode_body(raw, content_encoding, compression)
    top, sizes = ingest.parse(text)
    key = header_key or (ingest.segment_key(top) if protocol == "segment" else ingest.posthog_key(top))
    if not key:
        where = "writeKey in the body, Basic auth or a Bearer token" if protocol == "segment" else "api_key or token"
        raise IngestError(401, "missing_write_key", f"send the source's write key ({where})")
    info = (lookup or functools.partial(sources.lookup_key, _opens))(key)
    if info is None:
        raise IngestError(
            401, "invalid_write_key", "this write key is not known: copy it from Administration › Event sources"
        )
    if not info.enabled:
        raise IngestError(401, "source_disabled", "this event source is disabled")
    if info.kind not in ("any", protocol):
        raise IngestError(
            401, "wrong_endpoint", f"this write key belongs to a {info.kind} source; send to its endpoints"
        )
    messages = ingest.messages_of(protocol, call, top, sizes, info.source_id, received_at, len(text))
    if not messages:
        raise IngestError(400, "empty_batch", "the batch holds no events")
    return Batch(info.source_id, received_at, messages), text


def _record(protocol: str, call: str, batch: Batch, text: str) -> bytes:
    header = json.dumps({"p": protocol, "c": call, "s": batch.source_id, "r": batch.received_at.isoformat()})
    return (header + "\n" + text).encode("utf-8")


def _from_record(payload: bytes) -> Batch | None:
    header, _, text = payload.decode("utf-8").partition("\n")
    meta = json.loads(header)
    received_at = dt.datetime.fromisoformat(meta["r"])
    try:
        top, sizes = ingest.parse(text)
        messages = ingest.messages_of(meta["p"], meta["c"], top, sizes, meta["s"], received_at, len(text))
    except IngestError:  # accepted once, so it parsed once; a later, stricter version must not lose it silently
        log.exception("a logged request no longer parses; skipped")
        return None
    return Batch(meta["s"], received_at, messages)


def _append_events(wh: Warehouse, columns: tuple[list[Any], ...]) -> None:
    """One append of the events' columns: straight from the column lists through Arrow on DuckDB, else through the
    warehouse interface's row append."""
    if not columns[0]:
        return
    if isinstance(wh, DuckDBWarehouse):
        import pyarrow as pa

        types = (pa.string(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.timestamp("us"),
                 pa.timestamp("us"), pa.int32(), pa.string())  # fmt: skip
        table = pa.table(
            {name: pa.array(col, type=t) for name, col, t in zip(EVENT_COLUMNS, columns, types, strict=True)}
        )
        with wh.cursor() as cur:
            cur.register("_ingest_events", table)
            try:
                cur.execute("INSERT INTO events SELECT * FROM _ingest_events")
            finally:
                cur.unregister("_ingest_events")
        return
    wh.append("events", EVENT_COLUMNS, list(zip(*columns, strict=True)))


class RecentIds:
    """A bounded set of the most recent event ids (hashes), oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._order: deque[int] = deque()
        self._set: set[int] = set()

    def __contains__(self, uuid: str) -> bool:
        return hash(uuid) in self._set

    def add_all(self, uuids: list[str]) -> None:
        for uuid in uuids:
            h = hash(uuid)
            if h not in self._set:
                self._set.add(h)
                self._order.append(h)
        while len(self._order) > self.capacity:
            self._set.discard(self._order.popleft())

    def __len__(self) -> int:
        return len(self._set)


class Pipeline:
    """See the module docstring. One per server process (:func:`get_pipeline`)."""

    def __init__(self, wh: Warehouse, directory: Path, *, interval: float = FLUSH_SECONDS) -> None:
        self.wh = wh
        self.directory = directory
        self.interval = interval
        self.identity = identity.IdentityResolver()
        self.recent = RecentIds(DEDUPE_WINDOW)
        self._lock = threading.RLock()
        self._backlog: list[tuple[Path | None, list[Batch]]] = []
        self._usage: dict[int, tuple[int, int, dt.datetime]] = {}
        self._customers_stale = True
        self._customers_read_at = 0.0
        self._stop = threading.Event()
        self.wal: WriteAheadLog | None = None
        self._thread: threading.Thread | None = None
        self.stored = 0
        """Events written to the warehouse by this pipeline (duplicates left out)."""
        self.duplicates = 0

    # --- life cycle -------------------------------------------------------------------------

    def start(self, *, thread: bool = True) -> None:
        with self._lock:
            ensure_schema(self.wh)
            self.identity.load(self.wh)
            self._load_recent()
            self._refresh_customers(force=True)
            self.directory.mkdir(parents=True, exist_ok=True)
            left = segments(self.directory)
            if left:
                self._replay(left)
            self.wal = WriteAheadLog(self.directory)
        if thread:
            self._thread = threading.Thread(target=self._run, name="analytics-flusher", daemon=True)
            self._thread.start()

    def _load_recent(self) -> None:
        """Fill the de-duplication window with the ids of the most recently received events, oldest first."""
        sql = "SELECT uuid FROM (SELECT uuid, received_at FROM events ORDER BY received_at DESC LIMIT $n) ORDER BY received_at"
        params = {"n": self.recent.capacity}
        if not isinstance(self.wh, DuckDBWarehouse):
            self.recent.add_all([r[0] for r in self.wh.query(sql, params).rows])
            return
        with self.wh.cursor() as cur:  # in chunks: a million ids at once would be a few hundred MB of text
            cur.execute(sql, params)
            while chunk := cur.fetchmany(100_000):
                self.recent.add_all([r[0] for r in chunk])

    def stop(self) -> None:
        """Store what is buffered and stop (a clean shutdown leaves no segment behind)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            self.flush()
        finally:
            if self.wal is not None:
                self.wal.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # keep flushing later; the segments are still on disk
                log.exception("analytics flush failed; retrying in %.1f s", self.interval)

    def _replay(self, paths: list[Path]) -> None:
        total = 0
        for path in paths:
            batches = [b for b in (_from_record(p) for p in read_segment(path)) if b is not None]
            ids = list({m[0] for b in batches for m in b.messages if m[0] not in self.recent})
            if ids:  # stored before the crash but not yet deleted: the events table knows them
                known = self.wh.query("SELECT uuid FROM events WHERE uuid IN (SELECT unnest($ids))", {"ids": ids})
                self.recent.add_all([r[0] for r in known.rows])
            total += self._store(batches)
            path.unlink()
        log.info("replayed %d write-ahead log segment(s): %d new events", len(paths), total)

    # --- accepting --------------------------------------------------------------------------

    def submit(self, protocol: str, call: str, batch: Batch, text: str) -> Any:
        """Log the batch durably; returns a ``concurrent.futures.Future`` resolved once it is on disk."""
        assert self.wal is not None, "start() the pipeline first"
        return self.wal.submit(_record(protocol, call, batch, text), batch)

    async def accept(self, protocol: str, call: str, batch: Batch, text: str) -> None:
        await asyncio.wrap_future(self.submit(protocol, call, batch, text))

    # --- storing ----------------------------------------------------------------------------

    def customers_changed(self) -> None:
        self._customers_stale = True

    def _refresh_customers(self, *, force: bool = False) -> None:
        due = time.monotonic() - self._customers_read_at > CUSTOMERS_REFRESH_SECONDS
        if not (force or self._customers_stale or due):
            return
        self._customers_stale = False
        self._customers_read_at = time.monotonic()
        with _opens() as session:
            self.identity.load_customers(session)
            identity.sync_accounts(session, self.wh)
        self.identity.write(self.wh)

    def flush(self) -> int:
        """Move everything accepted so far into the warehouse; returns the number of events stored."""
        stored = 0
        with self._lock:
            self._refresh_customers()
            if self.wal is not None:
                path, batches = self.wal.rotate()
                if path is not None:
                    self._backlog.append((path, batches))
            while self._backlog:
                path, batches = self._backlog[0]
                stored += self._store(batches)
                if path is not None:
                    path.unlink(missing_ok=True)
                self._backlog.pop(0)
            self._write_usage()
        return stored

    def _store(self, batches: list[Batch]) -> int:
        """Append the batches' new events and the identity changes they cause; returns the events appended."""
        columns: tuple[list[Any], ...] = tuple([] for _ in EVENT_COLUMNS)
        uuids, names, distinct_ids, person_ids, account_ids, timestamps, received_ats, source_ids, props_json = columns
        usage: dict[int, tuple[int, int, dt.datetime]] = {}
        seen: set[str] = set()
        resolver = self.identity
        person_of = resolver.person_of
        has_accounts = resolver.has_accounts()
        recent = self.recent
        dumps = json.dumps  # parsed from JSON, so always serialisable: the fast default encoder
        for batch in batches:
            received, source_id = batch.received_at, batch.source_id
            stored_before = len(uuids)
            for uuid, event, distinct_id, timestamp, props, op, group_key in batch.messages:
                if uuid in seen or uuid in recent:
                    self.duplicates += 1
                    continue
                seen.add(uuid)
                if op is not None:
                    resolver.apply(op, distinct_id, timestamp)
                pid = person_of.get(distinct_id) or resolver.resolve(distinct_id, timestamp)
                uuids.append(uuid)
                names.append(event)
                distinct_ids.append(distinct_id)
                person_ids.append(pid)
                account_ids.append(resolver.account_of(pid, group_key) if has_accounts or group_key else None)
                timestamps.append(timestamp)
                props_json.append(dumps(props))
            added = len(uuids) - stored_before
            received_ats.extend([received] * added)
            source_ids.extend([source_id] * added)
            n, r, last = usage.get(source_id, (0, 0, received))
            usage[source_id] = (n + len(batch.messages), r + 1, max(last, received))
        _append_events(self.wh, columns)
        for source_id, (n, r, last) in usage.items():
            n0, r0, last0 = self._usage.get(source_id, (0, 0, last))
            self._usage[source_id] = (n0 + n, r0 + r, max(last0, last))
        recent.add_all(list(seen))
        resolver.write(self.wh)
        self.stored += len(uuids)
        return len(uuids)

    def _write_usage(self) -> None:
        if not self._usage:
            return
        usage = {k: (n, r, last.replace(tzinfo=dt.UTC)) for k, (n, r, last) in self._usage.items()}
        try:
            with _opens() as session:
                sources.record_usage(session, usage)
        except Exception:  # counters are best effort; the events are safe
            log.warning("could not update the event sources' counters; will retry", exc_info=True)
            return
        self._usage.clear()


# --- the process-wide pipeline ------------------------------------------------------------------


class _Current:
    pipeline: Pipeline | None = None


_current = _Current()
_pipeline_lock = threading.Lock()


def wal_directory() -> Path:
    return get_settings().ensure_data_dir() / "analytics-wal"


def get_pipeline() -> Pipeline:
    """The server process's pipeline, started (replaying any left-over log) on first use."""
    if _current.pipeline is None:
        with _pipeline_lock:
            if _current.pipeline is None:
                pipeline = Pipeline(get_warehouse(), wal_directory())
                pipeline.start()
                _current.pipeline = pipeline
    return _current.pipeline


def running() -> Pipeline | None:
    return _current.pipeline


def flush() -> int:
    """Make every event accepted so far visible in the warehouse (no-op when this process ingests nothing)."""
    pipe = _current.pipeline
    return pipe.flush() if pipe is not None else 0


def stop_pipeline() -> None:
    """Store what is buffered and stop the pipeline (server shutdown, tests, before re-seeding the warehouse)."""
    with _pipeline_lock:
        if _current.pipeline is not None:
            try:
                _current.pipeline.stop()
            finally:
                _current.pipeline = None


def sync_customers() -> dict[str, int]:
    """Copy the customers accounts into the warehouse and re-link every identified person now."""
    pipe = get_pipeline()
    with pipe._lock:
        pipe._customers_stale = True
        pipe._refresh_customers()
        persons = sum(1 for p in pipe.identity.persons.values() if p.customer_person_id is not None)
    return {"accounts": int(pipe.wh.query("SELECT count(*) FROM accounts").scalar() or 0), "persons": persons}


@events.subscribe("customers.*")
def _customers_changed(event: events.Event) -> None:
    if _current.pipeline is not None:
        _current.pipeline.customers_changed()
