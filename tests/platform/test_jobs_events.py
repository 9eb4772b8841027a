"""Events fire only after commit; the job queue works on SQLite and on Redis for real."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import redis
from huey import Huey
from huey.consumer import Consumer
from sqlalchemy import text
from sqlalchemy.orm import Session

from prodops.platform import events
from prodops.platform.config import Settings
from prodops.platform.db import transaction
from prodops.platform.jobs import make_huey

TEST_EVENT = events.declare("test.thing.happened", "Used by the tests.")
REDIS_URL = os.environ.get("PRODOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def seen() -> list[events.Event]:
    received: list[events.Event] = []
    handler = events.subscribe("test.*")(received.append)
    yield received
    events._subscribers["test.*"].remove(handler)


def test_events_are_dispatched_after_commit_only(session: Session, seen: list[events.Event]) -> None:
    with transaction(session):
        events.emit(session, TEST_EVENT, {"n": 1})
        assert seen == []  # not before the commit
    assert [e.payload for e in seen] == [{"n": 1}]

    with pytest.raises(RuntimeError), transaction(session):
        events.emit(session, TEST_EVENT, {"n": 2})
        raise RuntimeError("roll back")
    assert [e.payload for e in seen] == [{"n": 1}]  # nothing for the rolled-back transaction


def test_undeclared_events_are_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="never declared"), transaction(session):
        events.emit(session, "test.undeclared", {})


def test_nested_transactions_commit_once(session: Session, seen: list[events.Event]) -> None:
    with transaction(session):
        with transaction(session):
            events.emit(session, TEST_EVENT, {"inner": True})
        assert seen == []
    assert len(seen) == 1


def _roundtrip(queue: Huey, out: Path) -> None:
    @queue.task()
    def write(value: str) -> str:
        out.write_text(value, encoding="utf-8")
        return value.upper()

    result = write("hello")
    consumer = Consumer(queue, workers=1, worker_type="thread", periodic=False)
    consumer._set_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=consumer.start, daemon=True)
    thread.start()
    try:
        assert result.get(blocking=True, timeout=10) == "HELLO"
        assert out.read_text(encoding="utf-8") == "hello"
    finally:
        consumer.stop(graceful=True)


def test_sqlite_queue_runs_jobs_in_a_consumer(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, jobs_immediate=False)
    queue = make_huey(settings)
    assert type(queue.storage).__name__ == "SqliteStorage"
    _roundtrip(queue, tmp_path / "out.txt")


def _redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def test_redis_queue_runs_jobs_in_a_consumer(tmp_path: Path) -> None:
    if not _redis_available():
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}; CI must start it")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    settings = Settings(data_dir=tmp_path, redis_url=REDIS_URL, jobs_immediate=False)
    queue = make_huey(settings)
    assert type(queue.storage).__name__ == "RedisStorage"
    _roundtrip(queue, tmp_path / "out.txt")


def test_sqlite_runs_with_wal_and_foreign_keys(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_embedded_consumer_is_not_started_in_immediate_mode() -> None:
    from prodops.platform.jobs import EmbeddedConsumer, huey

    assert huey.immediate
    consumer = EmbeddedConsumer(1)
    consumer.start()
    assert consumer._started is False


def test_effects_run_after_the_transaction_gave_its_connection_back(session: Session) -> None:
    # An effect that opens a session of its own must not need a second pooled connection on top of the first:
    # under load that starved the pool (every request thread holding one and waiting for another).
    from prodops.platform.db import get_engine

    pool = get_engine().pool
    seen: list[int] = []
    with transaction(session):
        session.execute(text("SELECT 1"))
        events.on_commit(session, lambda: seen.append(pool.checkedout()))  # type: ignore[attr-defined]
        assert pool.checkedout() >= 1  # type: ignore[attr-defined]
    assert seen == [0]
