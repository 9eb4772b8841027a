"""The operational database: engine, declarative base, and the one way to get a session outside HTTP."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from prodops.platform.config import get_settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


SQLITE_WRITE_WAIT_SECONDS = 120.0
"""How long a write transaction waits its turn for SQLite's write lock before failing."""


def _sqlite_begin(conn: Connection) -> None:
    # A write transaction takes the lock at BEGIN, so concurrent writers queue on busy_timeout
    # instead of failing when a read snapshot is upgraded; reads stay deferred and never block.
    write = conn.get_execution_options().get("prodops_write", False)
    if not write:
        conn.exec_driver_sql("BEGIN")
        return
    # SQLite's busy handler is not a queue: under many concurrent writers one can lose every retry for the
    # whole busy_timeout. Nothing has happened yet when BEGIN IMMEDIATE fails, so it is safe to try again.
    deadline = time.monotonic() + SQLITE_WRITE_WAIT_SECONDS
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if "database is locked" not in str(exc.orig) or time.monotonic() > deadline:
                raise


def make_engine(url: str | None = None, echo: bool | None = None) -> Engine:
    settings = get_settings()
    url = url or settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.ensure_data_dir()
        engine = create_engine(
            url,
            echo=settings.database_echo if echo is None else echo,
            connect_args={"check_same_thread": False, "timeout": 10, "isolation_level": None},
            # Every request thread (AnyIO runs up to 40) may hold a connection while its write waits its turn on
            # busy_timeout; a smaller pool made concurrent writers fail with pool timeouts instead of queueing.
            # SQLite connections are cheap: a file handle each.
            pool_size=20,
            max_overflow=40,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        echo=settings.database_echo if echo is None else echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
    )


_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None


def get_engine() -> Engine:
    global _engine, _factory  # noqa: PLW0603  # the process-wide engine, created on first use
    if _engine is None:
        _engine = make_engine()
        _factory = sessionmaker(bind=_engine, expire_on_commit=False)
    return _engine


def session_factory() -> sessionmaker[Session]:
    get_engine()
    assert _factory is not None
    return _factory


def reset_engine() -> None:
    """Drop the cached engine (tests switch databases; settings are re-read)."""
    global _engine, _factory  # noqa: PLW0603  # the process-wide engine, created on first use
    if _engine is not None:
        _engine.dispose()
    _engine = None
    _factory = None


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session for the CLI, jobs and tests. Services open their own transaction inside it."""
    session = session_factory()()
    try:
        yield session
    finally:
        session.close()


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """The one write transaction of a use case; services wrap their work in it.

    Nested calls (a service calling another service) join the outer transaction. A read snapshot
    opened earlier by the caller's queries is closed first: routes never write, so nothing is lost.
    """
    depth = session.info.get("tx_depth", 0)
    if depth:
        session.info["tx_depth"] = depth + 1
        try:
            yield session
        finally:
            session.info["tx_depth"] = depth
        return
    if session.in_transaction():
        session.rollback()
    session.info["tx_depth"] = 1
    try:
        with session.begin():
            session.connection(execution_options={"prodops_write": True})
            yield session
    finally:
        session.info["tx_depth"] = 0
