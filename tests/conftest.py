"""Test set-up: a real database (SQLite file, or PostgreSQL when PRODOPS_DATABASE_URL is set), jobs inline.

The environment is fixed before any prodops module is imported, so settings are read once, correctly.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_DATA = Path(tempfile.mkdtemp(prefix="prodops-test-"))
os.environ.update(
    {
        "PRODOPS_ENVIRONMENT": "test",
        "PRODOPS_JOBS_IMMEDIATE": "true",
        "PRODOPS_DATA_DIR": str(_DATA),
        "PRODOPS_SECRET_KEY": "test-secret-key-not-for-production",
        "PRODOPS_EMBEDDED_WORKER": "false",
        "PRODOPS_WEBHOOK_RETRY_BASE_SECONDS": "0",
        # The pipeline's tests use the deterministic spelling-based embedder (thresholds calibrated for it);
        # tests/platform/test_embed.py checks the default model itself.
        "PRODOPS_EMBEDDER": "hashing",
    }
)
os.environ.pop("PRODOPS_REDIS_URL", None)

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from prodops.domains.customers.queries import forget_facets  # noqa: E402
from prodops.platform.audit import Actor  # noqa: E402
from prodops.platform.config import get_settings  # noqa: E402
from prodops.platform.db import Base, get_engine, session_scope  # noqa: E402
from prodops.platform.identity import service as identity  # noqa: E402
from prodops.platform.identity.models import User  # noqa: E402
from prodops.platform.identity.schemas import TokenCreate, UserCreate  # noqa: E402
from prodops.platform.identity.security import login_limiter  # noqa: E402
from prodops.platform.registry import load_domains  # noqa: E402

PASSWORD = "correct-horse-battery"
CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


def _fresh_schema() -> None:
    engine = get_engine()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    from prodops.migrate import upgrade

    upgrade("head")


@pytest.fixture(scope="session", autouse=True)
def _schema() -> Iterator[None]:
    load_domains()
    _fresh_schema()
    yield
    get_engine().dispose()


def _truncate() -> None:
    engine = get_engine()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
                else:
                    for name in tables:
                        conn.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608  # table names come from our metadata
            return
        except OperationalError as exc:
            # A live server's background work (after-commit e-mails, analysis jobs) may still hold a lock when a
            # browser test ends; PostgreSQL then picks the TRUNCATE as a deadlock victim. Wait and clean again.
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))


@pytest.fixture(autouse=True)
def _clean_db() -> Iterator[None]:
    yield
    _truncate()
    login_limiter.reset()
    forget_facets()  # cached counts describe rows that no longer exist


@pytest.fixture
def session() -> Iterator[Session]:
    with session_scope() as s:
        yield s


@pytest.fixture(scope="session")
def app():  # type: ignore[no-untyped-def]
    from prodops.web import create_app

    return create_app()


class Client(TestClient):
    """A TestClient that knows its session's CSRF token once signed in."""

    csrf: str = ""
    user: User | None = None

    def refresh_csrf(self) -> str:
        page = self.get("/login")
        match = CSRF_META.search(page.text)
        assert match, "no CSRF meta tag on the page"
        self.csrf = match.group(1)
        return self.csrf

    def form(self, url: str, data: dict[str, object] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        body = {"csrf_token": self.csrf, **(data or {})}
        return self.post(url, data=body, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def client(app) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    with Client(app, base_url="http://testserver") as c:
        yield c


def make_user(role: str = "member", email: str | None = None, password: str = PASSWORD) -> User:
    email = email or f"{role}-{os.urandom(3).hex()}@example.com"
    with session_scope() as s:
        return identity.create_user(s, Actor.system("test"), UserCreate(email=email, role=role, password=password))  # type: ignore[arg-type]


def login(client: Client, user: User, password: str = PASSWORD) -> Client:
    client.refresh_csrf()
    response = client.form("/login", {"email": user.email, "password": password}, follow_redirects=False)
    assert response.status_code == 303, response.text
    client.refresh_csrf()
    client.user = user
    return client


def make_token(user: User, scope: str = "write") -> str:
    with session_scope() as s:
        _, secret = identity.create_token(s, Actor.system("test"), user.id, TokenCreate(name="test", scope=scope))  # type: ignore[arg-type]
    return secret


@pytest.fixture
def admin_client(client: Client) -> Client:
    return login(client, make_user("admin"))


@pytest.fixture
def member_client(client: Client) -> Client:
    return login(client, make_user("member"))


@pytest.fixture
def viewer_client(client: Client) -> Client:
    return login(client, make_user("viewer"))


@pytest.fixture
def settings():  # type: ignore[no-untyped-def]
    return get_settings()


_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")


@contextmanager
def count_statements() -> Iterator[list[str]]:
    """Record the SQL statements run on the engine (transaction control left out)."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not statement.lstrip().upper().startswith(_CONTROL):
            statements.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def capture_events(pattern: str) -> Iterator[list[Any]]:
    """The events matching ``pattern`` (e.g. ``feedback.*``) dispatched inside the block, after their commit."""
    from prodops.platform import events

    seen: list[events.Event] = []
    events.subscribe(pattern)(seen.append)
    try:
        yield seen
    finally:
        events._subscribers[pattern].remove(seen.append)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real SMTP server (aiosmtpd) on a free port that the settings point at; yields its mailbox."""
    from aiosmtpd.controller import Controller

    from tests.platform.test_email import Mailbox, _free_port

    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings = get_settings()
    for name, value in {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "smtp_username": "",
        "smtp_timeout_seconds": 5.0,
        "mail_from": "ProdOps <prodops@example.com>",
    }.items():
        monkeypatch.setattr(settings, name, value)
    try:
        yield box
    finally:
        controller.stop()
