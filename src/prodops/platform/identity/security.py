"""Password hashing (argon2), opaque tokens stored as hashes, and a per-address attempt limiter."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import defaultdict, deque

from pwdlib import PasswordHash

_hasher = PasswordHash.recommended()  # argon2id with the library's current parameters

TOKEN_PREFIX = "pdo_"  # noqa: S105  # a public prefix, not a secret


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Whether the password matches, and a new hash when the stored parameters are outdated."""
    if not password_hash:
        _hasher.hash(password)  # spend the same time as a real check
        return False, None
    return _hasher.verify_and_update(password, password_hash)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough to make the stored value useless.
    return hashlib.sha256(token.encode()).hexdigest()


class AttemptLimiter:
    """Sliding-window counter of attempts per key (client address), kept in process memory."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window_seconds: float = 60.0) -> bool:
        """Record an attempt; False when the key has used up its allowance."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - window_seconds:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


login_limiter = AttemptLimiter()
