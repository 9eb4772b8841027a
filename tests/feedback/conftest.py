"""Helpers shared by the feedback tests (real database through the shared fixtures)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from prodops.domains.feedback import service
from prodops.domains.feedback.schemas import FeedbackIn, FeedbackOut
from prodops.platform.audit import Actor

ACTOR = Actor.system("test")


def make_item(session: Session, **fields: Any) -> FeedbackOut:
    """One feedback item (text defaults to a plausible sentence)."""
    fields.setdefault("text", "Exporting a report to PDF loses the charts.")
    item, _ = service.ingest(session, ACTOR, FeedbackIn.model_validate(fields))
    return item
