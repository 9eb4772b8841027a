"""Sliding-window rate limits per key (a client address, a site and address...).

With ``PRODOPS_REDIS_URL`` set the counts live in Redis, so every server process and worker shares one allowance;
otherwise they live in this process's memory, which is exact for the single-process default. Each limiter has a
name, so the login limit and the widget limit never share counts.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from typing import Any, Protocol

from prodops.platform.config import get_settings

# Drop timestamps older than the window, then admit the hit only when fewer than ``limit`` remain; one atomic step.
_REDIS_HIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(ARGV[2] * 1000))
return 1
"""


class _Store(Protocol):
    def hit(self, key: str, limit: int, window: float) -> bool: ...
    def oldest(self, key: str) -> float | None: ...
    def reset(self) -> None: ...


class _MemoryStore:
    _SWEEP_EVERY = 1000

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def hit(self, key: str, limit: int, window: float) -> bool:
        now = time.time()
        with self._lock:
            self._calls += 1
            if self._calls % self._SWEEP_EVERY == 0:  # public endpoints see many addresses: forget idle ones
                for idle in [k for k, h in self._hits.items() if not h or h[-1] <= now - window]:
                    del self._hits[idle]
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            return True

    def oldest(self, key: str) -> float | None:
        with self._lock:
            hits = self._hits.get(key)
            return hits[0] if hits else None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class _RedisStore:
    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self._client: Any = redis.Redis.from_url(url)
        self._prefix = prefix
        self._script = self._client.register_script(_REDIS_HIT)

    def hit(self, key: str, limit: int, window: float) -> bool:
        now = time.time()
        return bool(self._script(keys=[self._prefix + key], args=[now, window, limit, f"{now}:{uuid.uuid4().hex}"]))

    def oldest(self, key: str) -> float | None:
        first = self._client.zrange(self._prefix + key, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def reset(self) -> None:
        keys = list(self._client.scan_iter(match=self._prefix + "*", count=1000))
        if keys:
            self._client.delete(*keys)


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds for each key."""

    def __init__(self, name: str, redis_url: str | None = None) -> None:
        self.name = name
        self._redis_url = redis_url
        self._store: _Store | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> _Store:
        with self._lock:
            if self._store is None:
                url = self._redis_url if self._redis_url is not None else get_settings().redis_url
                self._store = _RedisStore(url, f"prodops:ratelimit:{self.name}:") if url else _MemoryStore()
            return self._store

    def hit(self, key: str, limit: int, window: float = 60.0) -> bool:
        """Record an attempt; False (and nothing recorded) when the key has used up its allowance."""
        return self.store.hit(key, limit, window)

    def retry_after(self, key: str, window: float = 60.0) -> int:
        """Whole seconds until the key may try again (at least 1)."""
        oldest = self.store.oldest(key)
        if oldest is None:
            return 1
        return max(1, math.ceil(oldest + window - time.time()))

    def reset(self) -> None:
        """Forget every count (tests; an admin clearing a lock-out)."""
        self.store.reset()
