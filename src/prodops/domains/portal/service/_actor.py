"""Audit actors for portal writes: a portal user is never a staff user, so the audit record names them in its
label (``portal: ada@example.com``) and details (``portal_user_id``) and leaves the staff ``actor_id`` empty."""

from __future__ import annotations

from typing import Any

from prodops.domains.portal.models import PortalUser
from prodops.platform.audit import Actor

PREFIX = "portal: "


def portal_actor(user: PortalUser | None) -> Actor:
    """The audit actor for something a portal user did (``portal: anonymous`` without one)."""
    if user is None:
        return Actor(None, PREFIX + "anonymous")
    label = user.email or f"deleted user #{user.id}"
    return Actor(None, (PREFIX + label)[:320])


def portal_details(user: PortalUser | None) -> dict[str, list[Any]]:
    """Audit ``changes`` entries that record which portal user acted (merge them into the record's changes)."""
    return {"portal_user_id": [None, user.id if user is not None else None]}
