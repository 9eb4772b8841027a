"""Portal identity, separate from staff identity: the portal session cookie, portal users (one per e-mail,
linked to a customers-domain person), e-mailed magic links, single sign-on handed over from the customer's own
product (an HS256 JWT), and the e-mail confirmation of anonymous posts.

The portal session is its own signed cookie (``prodops_portal``, scoped to ``/p`` so it never travels with a
staff request) holding the portal user's id and ``session_epoch``; bumping the epoch (blocking, deletion) signs
the user out everywhere. Staff sessions are never read or written here.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from fastapi import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, EmailStr, ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.portal.models import Portal, PortalToken, PortalUser
from prodops.domains.portal.service._actor import portal_actor
from prodops.platform import audit
from prodops.platform.config import get_settings
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import PermissionDenied, ValidationFailed
from prodops.platform.identity import security
from prodops.platform.notify.email import send_email_on_commit

COOKIE = "prodops_portal"
#: Portal pages live under /p/; the cookie goes nowhere else (never to staff pages or the staff API).
COOKIE_PATH = "/p"
LOGIN_TTL = dt.timedelta(minutes=15)
VERIFY_POST_TTL = dt.timedelta(hours=24)
#: A single-sign-on token may expire at most this far ahead (plus ``SSO_LEEWAY``): handovers are short-lived.
SSO_MAX_LIFETIME = dt.timedelta(minutes=10)
SSO_LEEWAY = dt.timedelta(seconds=30)


# --- the session cookie ------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="prodops.portal.session")


def encode_session(user_id: int, epoch: int) -> str:
    """The signed cookie value for a portal user's session."""
    return _serializer().dumps({"u": user_id, "e": epoch})


def decode_session(value: str | None) -> tuple[int, int] | None:
    """``(user id, session epoch)`` from a cookie value, or None when it is missing, forged or too old."""
    if not value:
        return None
    max_age = get_settings().session_max_age_days * 86400
    try:
        data = _serializer().loads(value, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("e"), int):
        return None
    return data["u"], data["e"]


def set_session(response: Response, user_id: int, epoch: int) -> None:
    """Sign the portal user in on ``response``."""
    settings = get_settings()
    response.set_cookie(
        COOKIE,
        encode_session(user_id, epoch),
        max_age=settings.session_max_age_days * 86400,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def clear_session(response: Response) -> None:
    """Sign the portal user out on ``response``."""
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax")


def can_sign_in(user: PortalUser | None) -> bool:
    return user is not None and user.blocked_at is None and user.deleted_at is None and user.email is not None


def user_for_cookie(session: Session, value: str | None) -> PortalUser | None:
    """The signed-in portal user of a cookie value: None when signed out, blocked, deleted or signed out
    everywhere since (epoch changed)."""
    decoded = decode_session(value)
    if decoded is None:
        return None
    user = session.get(PortalUser, decoded[0])
    if user is None or not can_sign_in(user) or user.session_epoch != decoded[1]:
        return None
    return user


# --- portal users ------------------------------------------------------------------------------


class _Email(BaseModel):
    email: EmailStr


def normalise_email(value: str, field: str = "email") -> str:
    """A valid e-mail address, lower-cased, or a field error."""
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(field, "Enter your e-mail address.")
    if len(text) > 320:
        raise ValidationFailed(field, "That e-mail address is too long.")
    try:
        return str(_Email(email=text).email).lower()
    except ValidationError:
        raise ValidationFailed(field, "Enter a valid e-mail address, like name@example.com.") from None


def find_user(session: Session, email: str) -> PortalUser | None:
    return session.scalar(select(PortalUser).where(PortalUser.email == email.lower()))


def ensure_user(session: Session, email: str, name: str = "", *, verified: bool = True) -> PortalUser:
    """The portal user with this e-mail, created if new and linked to the customers-domain person of the address
    (created, with the account of its e-mail domain, when missing). Runs inside the caller's transaction."""
    email = email.lower()
    user = find_user(session, email)
    now = utcnow()
    if user is None:
        user = PortalUser(email=email, name=name.strip()[:200])
        session.add(user)
        session.flush()
        actor = portal_actor(user)
        person = customers.ensure_person(session, actor, email, name.strip()[:200])
        user.person_id = person.id
        audit.record(
            session,
            actor,
            entity_type="portal_user",
            entity_id=user.id,
            action="create",
            changes={"email": [None, email], "name": [None, user.name], "person_id": [None, person.id]},
            entity_label=email,
        )
    elif name.strip() and not user.name:
        user.name = name.strip()[:200]
    if verified and user.email_verified_at is None:
        user.email_verified_at = now
    user.last_seen_at = now
    return user


def _refuse_blocked(user: PortalUser) -> None:
    if user.blocked_at is not None:
        raise PermissionDenied("This account has been blocked from taking part in this portal.")


# --- single-use e-mailed tokens ----------------------------------------------------------------


token_digest = security.token_digest  # the kernel's digest of opaque tokens


def _new_token(
    session: Session, portal: Portal, email: str, purpose: str, payload: dict[str, Any], ttl: dt.timedelta
) -> str:
    raw = secrets.token_urlsafe(32)
    session.add(
        PortalToken(
            token_hash=token_digest(raw),
            portal_id=portal.id,
            email=email,
            purpose=purpose,
            payload=payload,
            expires_at=utcnow() + ttl,
        )
    )
    return raw


def valid_token(session: Session, portal: Portal, raw: str, purpose: str) -> PortalToken | None:
    """The unused, unexpired token of this portal and purpose (reading it uses nothing up)."""
    if not raw or len(raw) > 200:
        return None
    row = session.scalar(
        select(PortalToken).where(
            PortalToken.token_hash == token_digest(raw),
            PortalToken.portal_id == portal.id,
            PortalToken.purpose == purpose,
        )
    )
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        return None
    return row


def _use_token(session: Session, portal: Portal, raw: str, purpose: str) -> PortalToken:
    """Mark the token used, exactly once even when two requests race (inside the caller's transaction)."""
    row = valid_token(session, portal, raw, purpose)
    if row is not None:
        used = session.execute(
            update(PortalToken)
            .where(PortalToken.id == row.id, PortalToken.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if used.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(row)
            return row
    raise ValidationFailed("token", "This link is invalid, has expired or was already used. Ask for a new one below.")


def portal_link(portal: Portal, path: str) -> str:
    return f"{get_settings().base_url.rstrip('/')}/p/{portal.slug}{path}"


def safe_return_to(portal: Portal, value: str | None) -> str:
    """A path on this portal to go back to after signing in (the portal's home for anything else)."""
    home = f"/p/{portal.slug}"
    text = (value or "").strip()
    if (
        not text.startswith(home)
        or (len(text) > len(home) and text[len(home)] not in "/?#")
        or "//" in text
        or "\\" in text
        or any(ord(c) < 33 for c in text)
        or len(text) > 500
    ):
        return home
    return text


# --- magic links -------------------------------------------------------------------------------


def request_magic_link(
    session: Session, portal: Portal, email: str, return_to: str | None, *, may_join: bool = True
) -> None:
    """E-mail a single-use sign-in link (15 minutes) to ``email``. Nothing is sent to a blocked address or, when
    ``may_join`` is False (a private portal the address may not see), to anyone; the answer is the same either
    way so the form does not reveal who has access."""
    address = normalise_email(email)
    with transaction(session):
        existing = find_user(session, address)
        if not may_join or (existing is not None and existing.blocked_at is not None):
            return
        raw = _new_token(session, portal, address, "login", {"return_to": safe_return_to(portal, return_to)}, LOGIN_TTL)
        send_email_on_commit(
            session,
            address,
            f"Sign in to {portal.name}",
            "portal_sign_in",
            {
                "portal_name": portal.name,
                "link": portal_link(portal, f"/signin/{raw}"),
                "minutes": int(LOGIN_TTL.total_seconds() // 60),
            },
        )


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    epoch: int
    return_to: str


def confirm_magic_link(session: Session, portal: Portal, raw: str) -> SignedIn:
    """Use a sign-in link: the portal user (created on first sign-in) is signed in."""
    with transaction(session):
        token = _use_token(session, portal, raw, "login")
        user = ensure_user(session, token.email)
        _refuse_blocked(user)
        return_to = safe_return_to(portal, str(token.payload.get("return_to") or ""))
        return SignedIn(user.id, user.session_epoch, return_to)


# --- single sign-on ----------------------------------------------------------------------------


class SsoError(ValidationFailed):
    """A single-sign-on token that cannot be accepted; the message says why in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__("jwt", message)


def _claims(portal: Portal, token: str) -> dict[str, Any]:
    if not portal.sso_secret:
        raise SsoError("Single sign-on is not set up for this portal.")
    if not token or len(token) > 8000:
        raise SsoError("The sign-in link carries no token. Sign in again from the product you came from.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            portal.sso_secret,
            algorithms=["HS256"],
            options={"require": ["exp", "iat", "email"]},
            leeway=SSO_LEEWAY,
        )
    except jwt.ExpiredSignatureError:
        raise SsoError("This sign-in link has expired. Go back to the product and open the portal again.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise SsoError(f"The sign-in token lacks the '{exc.claim}' claim.") from None
    except jwt.ImmatureSignatureError:
        raise SsoError("The sign-in token was issued in the future; check the clock of the issuing server.") from None
    except jwt.InvalidTokenError:
        raise SsoError("The sign-in token is not valid for this portal (bad signature or format).") from None
    now = utcnow().timestamp()
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp > now + (SSO_MAX_LIFETIME + SSO_LEEWAY).total_seconds():
        raise SsoError("The sign-in token is valid for too long: its 'exp' must be at most 10 minutes ahead.")
    if not isinstance(iat, int | float) or iat > now + SSO_LEEWAY.total_seconds():
        raise SsoError("The sign-in token was issued in the future; check the clock of the issuing server.")
    return claims


_REPLAYED = "This sign-in link was already used. Go back to the product and open the portal again."


def sso_sign_in(session: Session, portal: Portal, token: str) -> SignedIn:
    """Sign in with a JWT handed over by the customer's product (HS256, the portal's ``sso_secret``): ``email``,
    ``exp`` (at most 10 minutes ahead) and ``iat`` required; ``name`` and ``return_to`` (a path on this portal)
    optional. Each token works once."""
    claims = _claims(portal, token)
    email_claim = claims.get("email")
    if not isinstance(email_claim, str):
        raise SsoError("The sign-in token's 'email' claim must be an e-mail address.")
    try:
        email = normalise_email(email_claim, "jwt")
    except ValidationFailed:
        raise SsoError("The sign-in token's 'email' claim is not a valid e-mail address.") from None
    name = claims.get("name")
    name = name.strip()[:200] if isinstance(name, str) else ""
    return_to = claims.get("return_to")
    try:
        with transaction(session):
            # Remember the token as used until it expires, so a copied link cannot sign in twice (the unique
            # hash refuses the second one even when two requests race).
            digest = token_digest(token)
            if session.scalar(select(PortalToken.id).where(PortalToken.token_hash == digest)) is not None:
                raise SsoError(_REPLAYED)
            session.add(
                PortalToken(
                    token_hash=digest,
                    portal_id=portal.id,
                    email=email,
                    purpose="login",
                    payload={"sso": True},
                    expires_at=dt.datetime.fromtimestamp(float(claims["exp"]), dt.UTC),
                    used_at=utcnow(),
                )
            )
            session.flush()
            user = ensure_user(session, email, name)
            _refuse_blocked(user)
            return SignedIn(
                user.id, user.session_epoch, safe_return_to(portal, return_to if isinstance(return_to, str) else "")
            )
    except IntegrityError:
        raise SsoError(_REPLAYED) from None


# --- anonymous posts ---------------------------------------------------------------------------


def request_post_verification(session: Session, portal: Portal, email: str, payload: dict[str, Any]) -> None:
    """Keep an anonymous post until its author confirms their e-mail: the post travels in a ``verify_post`` token
    (24 hours) and is published by :func:`confirm_post`. Nothing is sent to a blocked address."""
    address = normalise_email(email)
    with transaction(session):
        existing = find_user(session, address)
        if existing is not None and existing.blocked_at is not None:
            return
        raw = _new_token(session, portal, address, "verify_post", payload, VERIFY_POST_TTL)
        what = "idea" if payload.get("kind") == "idea" else "comment"
        send_email_on_commit(
            session,
            address,
            f"Confirm your {what} on {portal.name}",
            "portal_verify_post",
            {
                "portal_name": portal.name,
                "what": what,
                "title": str(payload.get("title") or ""),
                "link": portal_link(portal, f"/verify/{raw}"),
                "hours": int(VERIFY_POST_TTL.total_seconds() // 3600),
            },
        )


@dataclass(frozen=True)
class Confirmed(SignedIn):
    idea_id: int


def confirm_post(session: Session, portal: Portal, raw: str) -> Confirmed:
    """Publish an anonymous post once its author opened the e-mailed link (and sign them in)."""
    from prodops.domains.portal.service import access, ideas

    with transaction(session):
        token = _use_token(session, portal, raw, "verify_post")
        user = ensure_user(session, token.email)
        _refuse_blocked(user)
        ctx = access.context_for(session, portal, user)
        payload = dict(token.payload)
        if payload.get("kind") == "idea":
            draft = ideas.IdeaDraft(board_id=int(payload["board_id"]), title=payload["title"], body=payload["body"])
            idea_id = ideas.submit_idea(session, ctx, draft).id
        else:
            idea_id = int(payload["idea_id"])
            parent = payload.get("parent_id")
            draft_c = ideas.CommentDraft(body=payload["body"], parent_id=int(parent) if parent else None)
            ideas.add_comment(session, ctx, idea_id, draft_c)
        return Confirmed(user.id, user.session_epoch, f"/p/{portal.slug}/i/{idea_id}", idea_id)
