"""Domain events and after-commit side effects.

Services call :func:`emit` (a named event with a JSON payload, fanned out to in-process subscribers
and outgoing webhooks) or :func:`on_commit` (any callable, e.g. enqueueing an e-mail) while their
transaction is open. Nothing runs until the transaction commits; a rollback drops everything.
"""

from __future__ import annotations

import fnmatch
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from prodops.platform.db import utcnow

log = logging.getLogger(__name__)

_PENDING = "prodops_pending_effects"
_COMMITTED = "prodops_committed"


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict[str, Any]
    occurred_at: str = field(default_factory=lambda: utcnow().isoformat())


Handler = Callable[[Event], None]
_subscribers: dict[str, list[Handler]] = defaultdict(list)
_catalogue: dict[str, str] = {}


def declare(name: str, description: str) -> str:
    """Declare an event type so that webhook subscriptions can offer it. Returns the name."""
    _catalogue[name] = description
    return name


def catalogue() -> dict[str, str]:
    return dict(sorted(_catalogue.items()))


def subscribe(pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler for events whose name matches ``pattern`` (shell-style, ``*`` for all)."""

    def decorator(handler: Handler) -> Handler:
        _subscribers[pattern].append(handler)
        return handler

    return decorator


def emit(session: Session, name: str, payload: dict[str, Any]) -> None:
    if name not in _catalogue:
        raise ValueError(f"event {name!r} was never declared")
    ev = Event(name, payload)
    on_commit(session, lambda: dispatch(ev))


def on_commit(session: Session, effect: Callable[[], None]) -> None:
    session.info.setdefault(_PENDING, []).append(effect)


def dispatch(ev: Event) -> None:
    for pattern, handlers in list(_subscribers.items()):
        if fnmatch.fnmatchcase(ev.name, pattern):
            for handler in handlers:
                try:
                    handler(ev)
                except Exception:  # one bad subscriber must not stop the others
                    log.exception("event handler %r failed for %s", handler, ev.name)


@sa_event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.get(_PENDING):
        session.info[_COMMITTED] = True


@sa_event.listens_for(Session, "after_transaction_end")
def _run_effects(session: Session, transaction: Any) -> None:
    # Run once the committed transaction has ended and handed its connection back to the pool (after_commit
    # comes earlier, while the connection is still held): an effect that opens a session of its own then
    # never needs a second pooled connection on top of the first, which starved the pool under load.
    if transaction.parent is not None or not session.info.pop(_COMMITTED, False):
        return
    effects = session.info.pop(_PENDING, [])
    for effect in effects:
        try:
            effect()
        except Exception:
            log.exception("after-commit effect failed")


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_effects(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_COMMITTED, None)
