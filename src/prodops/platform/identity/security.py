"""Password hashing (argon2), opaque tokens stored as hashes, and the per-address sign-in limiter."""

from __future__ import annotations

import hashlib
import secrets

from pwdlib import PasswordHash

from prodops.platform.ratelimit import RateLimiter

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


login_limiter = RateLimiter("login")
