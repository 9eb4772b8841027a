"""Background jobs (Huey): a SQLite-backed queue by default, Redis when configured, inline in tests.

Domains define tasks in their ``jobs.py`` with ``@huey.task()``; every periodic schedule is listed in
``prodops.worker``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from prodops.platform.config import Settings, get_settings

log = logging.getLogger(__name__)


def make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey("prodops", url=settings.redis_url, immediate=settings.jobs_immediate, utc=True)
    settings.ensure_data_dir()
    return SqliteHuey(
        "prodops",
        filename=str((settings.data_dir / "jobs.db").resolve()),
        immediate=settings.jobs_immediate,
        utc=True,
    )


huey: Huey = make_huey(get_settings())


P = ParamSpec("P")


class Task(Protocol[P]):
    """The typed face of a Huey task: call it to enqueue, ``schedule`` to run it later."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> object: ...

    def call_local(self, *args: P.args, **kwargs: P.kwargs) -> object: ...

    def schedule(
        self, args: tuple[Any, ...] | None = None, kwargs: dict[str, Any] | None = None, *, delay: float
    ) -> object: ...


def task(**options: Any) -> Callable[[Callable[P, None]], Task[P]]:
    """``@huey.task(...)`` with the signature kept for the type checker."""

    def decorate(fn: Callable[P, None]) -> Task[P]:
        wrapped: Task[P] = huey.task(**options)(fn)
        return wrapped

    return decorate


def periodic(cron: Any) -> Callable[[Callable[[], None]], Task[[]]]:
    """``@huey.periodic_task(cron)`` with the signature kept for the type checker (schedules live in worker.py)."""

    def decorate(fn: Callable[[], None]) -> Task[[]]:
        wrapped: Task[[]] = huey.periodic_task(cron)(fn)
        return wrapped

    return decorate


class _QuietConsumer(Consumer):  # type: ignore[misc]  # huey ships no type hints
    def _set_signal_handlers(self) -> None:
        # The web server owns the process signals; it stops us from its lifespan hook.
        return None


class EmbeddedConsumer:
    """A job consumer running on threads inside the web server process (`prodops serve`)."""

    def __init__(self, workers: int) -> None:
        self.consumer = _QuietConsumer(huey, workers=workers, worker_type="thread", periodic=True)
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if not self._started and not huey.immediate:
                self.consumer.start()
                self._started = True
                log.info("embedded job consumer started with %d threads", len(self.consumer.worker_threads))

    def stop(self) -> None:
        with self._lock:
            if self._started:
                self.consumer.stop(graceful=True)
                self._started = False
