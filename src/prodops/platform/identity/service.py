"""Identity use cases. The only place that writes users, tokens and reset links."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import Conflict, NotFound, ValidationFailed
from prodops.platform.identity import security
from prodops.platform.identity.models import ApiToken, PasswordResetToken, User
from prodops.platform.identity.schemas import TokenCreate, UserCreate, UserUpdate

USER_FIELDS = ("email", "name", "role", "is_active")

USER_CREATED = events.declare("identity.user.created", "A user account was created.")
USER_UPDATED = events.declare("identity.user.updated", "A user's name, role or status changed.")


def actor_for(user: User) -> Actor:
    return Actor(user.id, user.email)


def _normalise_email(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == _normalise_email(email)))


def create_user(session: Session, actor: Actor, data: UserCreate) -> User:
    with transaction(session):
        email = _normalise_email(str(data.email))
        if get_user_by_email(session, email) is not None:
            raise Conflict("email", f"a user with e-mail {email} already exists")
        user = User(email=email, name=data.name, role=data.role, password_hash=security.hash_password(data.password))
        session.add(user)
        session.flush()
        audit.record(
            session,
            actor,
            entity_type="user",
            entity_id=user.id,
            action="create",
            changes=audit.diff({}, audit.snapshot(user, USER_FIELDS)),
            entity_label=email,
        )
        events.emit(session, USER_CREATED, {"id": user.id, "email": email, "role": user.role})
        return user


def update_user(session: Session, actor: Actor, user_id: int, data: UserUpdate) -> User:
    with transaction(session):
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        before = audit.snapshot(user, USER_FIELDS)
        changes = data.model_dump(exclude_unset=True, exclude_none=True)
        if user.id == actor.user_id and (changes.get("role", "admin") != "admin" or changes.get("is_active") is False):
            raise ValidationFailed("role", "you cannot demote or deactivate yourself")
        if user.role == "admin" and (changes.get("role", "admin") != "admin" or changes.get("is_active") is False):
            admins = session.scalar(select(func.count()).where(User.role == "admin", User.is_active.is_(True)))
            if (admins or 0) <= 1:
                raise ValidationFailed("role", "the last active administrator cannot be demoted or deactivated")
        for key, value in changes.items():
            setattr(user, key, value)
        if changes.get("is_active") is False:
            user.session_epoch += 1
        delta = audit.diff(before, audit.snapshot(user, USER_FIELDS))
        if delta:
            audit.record(
                session,
                actor,
                entity_type="user",
                entity_id=user.id,
                action="update",
                changes=delta,
                entity_label=user.email,
            )
            events.emit(session, USER_UPDATED, {"id": user.id, "changes": delta})
        return user


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    error: str | None = None


def authenticate(session: Session, email: str, password: str) -> LoginResult:
    """Check a password, counting failures and locking the account after too many."""
    settings = get_settings()
    generic = "Wrong e-mail or password."
    with transaction(session):
        user = get_user_by_email(session, email)
        if user is None or not user.is_active:
            security.verify_password(password, "")
            return LoginResult(None, generic)
        now = utcnow()
        if user.locked_until is not None and user.locked_until > now:
            minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
            return LoginResult(None, f"Too many failed attempts. This account is locked for {minutes} more minute(s).")
        ok, new_hash = security.verify_password(password, user.password_hash)
        if not ok:
            user.failed_logins += 1
            if user.failed_logins >= settings.login_max_failures:
                user.locked_until = now + dt.timedelta(minutes=settings.login_lockout_minutes)
                user.failed_logins = 0
                audit.record(
                    session,
                    Actor.system("login"),
                    entity_type="user",
                    entity_id=user.id,
                    action="lock",
                    entity_label=user.email,
                )
            return LoginResult(None, generic)
        if new_hash:
            user.password_hash = new_hash
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        return LoginResult(user)


def set_password(session: Session, actor: Actor, user_id: int, password: str) -> User:
    if len(password) < 10:
        raise ValidationFailed("password", "use at least 10 characters")
    with transaction(session):
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        user.password_hash = security.hash_password(password)
        user.session_epoch += 1
        user.failed_logins = 0
        user.locked_until = None
        audit.record(session, actor, entity_type="user", entity_id=user.id, action="password", entity_label=user.email)
        return user


def request_password_reset(session: Session, email: str) -> None:
    """E-mail a single-use reset link if the address belongs to an active user (silently otherwise)."""
    settings = get_settings()
    with transaction(session):
        user = get_user_by_email(session, email)
        if user is None or not user.is_active:
            return
        token = secrets.token_urlsafe(32)
        session.add(
            PasswordResetToken(
                user_id=user.id,
                token_hash=security.token_digest(token),
                expires_at=utcnow() + dt.timedelta(minutes=settings.password_reset_ttl_minutes),
            )
        )
        link = f"{settings.base_url.rstrip('/')}/password/reset/{token}"
        from prodops.platform.notify.email import send_email_on_commit

        send_email_on_commit(
            session,
            user.email,
            "Reset your ProdOps password",
            "password_reset",
            {"name": user.display_name, "link": link, "minutes": settings.password_reset_ttl_minutes},
        )


def _valid_reset(session: Session, token: str) -> PasswordResetToken | None:
    row = session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == security.token_digest(token))
    )
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        return None
    return row


def reset_token_is_valid(session: Session, token: str) -> bool:
    return _valid_reset(session, token) is not None


def reset_password(session: Session, token: str, password: str) -> User:
    if len(password) < 10:
        raise ValidationFailed("password", "use at least 10 characters")
    with transaction(session):
        row = _valid_reset(session, token)
        if row is None:
            raise ValidationFailed("token", "this reset link is invalid, expired or already used")
        row.used_at = utcnow()
        user = session.get(User, row.user_id)
        assert user is not None
        return set_password(session, Actor(user.id, user.email), user.id, password)


def create_token(session: Session, actor: Actor, user_id: int, data: TokenCreate) -> tuple[ApiToken, str]:
    """Create a personal API token; the plaintext is returned once and never stored."""
    with transaction(session):
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        if data.scope == "write" and not user.has_role("member"):
            raise ValidationFailed("scope", "viewers can only create read tokens")
        secret = security.new_token()
        token = ApiToken(
            user_id=user.id,
            name=data.name,
            scope=data.scope,
            prefix=secret[: len(security.TOKEN_PREFIX) + 6],
            token_hash=security.token_digest(secret),
        )
        session.add(token)
        session.flush()
        audit.record(
            session,
            actor,
            entity_type="api_token",
            entity_id=token.id,
            action="create",
            changes={"name": [None, data.name], "scope": [None, data.scope]},
            entity_label=f"{data.name} ({user.email})",
        )
        return token, secret


def revoke_token(session: Session, actor: Actor, token_id: int, *, owner_id: int | None) -> ApiToken:
    """Revoke a token. ``owner_id`` limits it to one user's tokens (None: an admin revoking any)."""
    with transaction(session):
        token = session.get(ApiToken, token_id)
        if token is None or (owner_id is not None and token.user_id != owner_id):
            raise NotFound("api_token", token_id)
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            audit.record(
                session, actor, entity_type="api_token", entity_id=token.id, action="revoke", entity_label=token.name
            )
        return token


def touch_token(session: Session, token: ApiToken) -> None:
    """Record use of a token, at most once a minute so reads do not turn into writes."""
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        token_id = token.id
        with transaction(session):
            row = session.get(ApiToken, token_id)
            if row is not None:
                row.last_used_at = now
