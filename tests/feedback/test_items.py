"""The ingest service: many items at once, all or nothing, idempotent by (source, external id)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.feedback import service
from prodops.domains.feedback.models import FeedbackItem, FeedbackTag
from prodops.domains.feedback.schemas import FeedbackIn, LinkIn
from prodops.platform.audit import AuditRecord
from prodops.platform.errors import ValidationFailed
from tests.conftest import capture_events
from tests.feedback.conftest import ACTOR, make_item


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_ingest_many_returns_each_items_id_in_input_order_with_its_tags(session: Session) -> None:
    kept = make_item(session, text="Old text", source="support_ticket", external_id="T-1", tags=["billing"])
    batch = [
        FeedbackIn(text=f"Review number {n}", source="app_review", external_id=f"R-{n}", tags=[f"t{n}"])
        for n in range(1_200)  # more than one insert chunk
    ]
    batch.insert(700, FeedbackIn(text="New text", source="support_ticket", external_id="T-1", tags=["export"]))
    result = service.ingest_many(session, ACTOR, batch)
    assert (result.created, result.updated) == (1_200, 1)
    assert result.ids[700] == kept.id
    texts = dict(session.execute(select(FeedbackItem.id, FeedbackItem.text)).all())
    for pos in (0, 499, 500, 699, 701, 1_200):
        assert texts[result.ids[pos]] == batch[pos].text
    tags = {(i, t) for i, t in session.execute(select(FeedbackTag.item_id, FeedbackTag.tag)).all()}
    assert (result.ids[1_200], "t1199") in tags
    assert {(kept.id, "billing"), (kept.id, "export")} <= tags  # re-ingest adds tags, never drops them
    created = session.scalar(
        select(func.count())
        .select_from(AuditRecord)
        .where(AuditRecord.entity_type == "feedback", AuditRecord.action == "create")
    )
    assert created == 1_201

    again = service.ingest_many(session, ACTOR, batch)
    assert (again.created, again.updated) == (0, 0)  # same payload: nothing changes
    assert again.ids == result.ids
    assert _count(session, FeedbackItem) == 1_201


def test_ingest_many_is_all_or_nothing_and_names_the_bad_item(session: Session) -> None:
    batch = [FeedbackIn(text=f"Item {n}", external_id=f"E-{n}") for n in range(5)]
    batch.append(FeedbackIn(text="Twice", external_id="E-2"))
    with pytest.raises(ValidationFailed) as err:
        service.ingest_many(session, ACTOR, batch)
    assert err.value.field == "items.5.external_id"
    assert "appears twice" in err.value.message
    bad_account = [FeedbackIn(text="ok"), FeedbackIn(text="no such account", account_id=987_654)]
    with pytest.raises(ValidationFailed) as err:
        service.ingest_many(session, ACTOR, bad_account)
    assert err.value.field == "items.1.account_id"
    assert _count(session, FeedbackItem) == 0


def test_unlinking_emits_an_event_and_returns_the_item_to_triaged(session: Session) -> None:
    from tests.features.conftest import make_feature

    item = make_item(session)
    feature = make_feature(session, title="PDF export")
    link = service.link_feature(session, ACTOR, item.id, LinkIn(feature_id=feature.id))
    with capture_events("feedback.item.*") as seen:
        service.unlink(session, ACTOR, link.id)
    assert [(e.name, e.payload["feature_id"]) for e in seen] == [("feedback.item.unlinked", feature.id)]
    assert session.get(FeedbackItem, item.id).status == "triaged"  # type: ignore[union-attr]
