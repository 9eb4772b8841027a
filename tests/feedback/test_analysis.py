"""The analysis pipeline: every item gets a type, sentiment and embedding in the background (jobs run inline in
tests), a type a person chose is kept, running it again changes nothing, a model change re-analyses, a failure
never fails the ingest, and the inbox and API filter and count by type and sentiment."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.features.schemas import FeatureIn, FeatureUpdate
from prodops.domains.feedback import jobs, service
from prodops.domains.feedback.models import FeatureVector, FeedbackInsight, Suggestion
from prodops.domains.feedback.schemas import FeedbackIn
from prodops.domains.feedback.service import analysis, similar
from prodops.platform.db import session_scope
from prodops.platform.text import get_embedder, sentiment
from tests.conftest import Client, count_statements
from tests.feedback.conftest import ACTOR, make_item


@pytest.fixture(autouse=True)
def _fresh_indexes() -> Iterator[None]:
    similar.forget()
    yield
    similar.forget()


def insight(item_id: int) -> FeedbackInsight | None:
    with session_scope() as s:
        row = s.get(FeedbackInsight, item_id)
        if row is not None:
            s.expunge(row)
        return row


def set_insight(item_id: int, **values: object) -> None:
    with session_scope() as s, s.begin():
        s.execute(update(FeedbackInsight).where(FeedbackInsight.item_id == item_id).values(**values))


def test_a_new_item_is_analysed_when_it_arrives(session: Session) -> None:
    item = make_item(session, text="The app crashes every time I open the settings page. Terrible.")
    found = insight(item.id)
    assert found is not None
    assert isinstance(found.kind, str) and found.kind
    assert found.kind_source == "model" and 0.0 <= (found.kind_confidence or 0) <= 1.0
    assert found.sentiment is not None and found.sentiment < 0
    assert found.embedding is not None and len(found.embedding) == 2 * get_embedder().dim
    assert found.model_version == analysis.model_version(session)
    assert analysis.stale_items(session) == []


def test_ingest_through_the_api_triggers_analysis(member_client: Client, session: Session) -> None:
    csrf = {"X-CSRF-Token": member_client.csrf}
    one = member_client.post("/api/v1/feedback", json={"text": "I love the new dashboard, great work!"}, headers=csrf)
    assert one.status_code == 201, one.text
    assert one.json()["sentiment"] is not None and one.json()["sentiment"] > 0  # analysed before the answer
    bulk = member_client.post(
        "/api/v1/feedback/bulk",
        json={"items": [{"text": f"Please add an export to CSV for report {n}."} for n in range(30)]},
        headers=csrf,
    )
    assert bulk.status_code == 200, bulk.text
    ids = bulk.json()["ids"]
    with session_scope() as s:
        analysed = s.scalar(select(func.count()).select_from(FeedbackInsight).where(FeedbackInsight.item_id.in_(ids)))
    assert analysed == 30
    listed = member_client.get("/api/v1/feedback", params={"per_page": 5}).json()["items"]
    assert all(i["kind"] and i["sentiment"] is not None for i in listed)


def test_a_type_set_by_a_person_is_never_replaced(session: Session) -> None:
    item = make_item(session, text="Exporting a report to PDF loses the charts.")
    set_insight(item.id, kind="question", kind_source="user", kind_confidence=1.0)
    analysis.analyse(session, [item.id])
    found = insight(item.id)
    assert found is not None and (found.kind, found.kind_source, found.kind_confidence) == ("question", "user", 1.0)
    assert found.sentiment is not None  # the rest was analysed again


def test_analysing_again_gives_the_same_rows(session: Session) -> None:
    texts = [
        "Exporting a report to PDF loses the charts.",
        "When I export a report to PDF, the charts are lost.",
        "Dark mode please!",
    ]
    ids = [make_item(session, text=t).id for t in texts]

    def snapshot() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        with session_scope() as s:
            insights = s.execute(
                select(
                    FeedbackInsight.item_id,
                    FeedbackInsight.kind,
                    FeedbackInsight.sentiment,
                    FeedbackInsight.embedding,
                    FeedbackInsight.model_version,
                ).order_by(FeedbackInsight.item_id)
            ).all()
            suggestions = s.execute(
                select(Suggestion.item_id, Suggestion.target_type, Suggestion.target_id, Suggestion.score).order_by(
                    Suggestion.item_id, Suggestion.target_id
                )
            ).all()
        return [tuple(r) for r in insights], [tuple(r) for r in suggestions]

    first = snapshot()
    result = analysis.analyse(session, [*ids, 999_999])
    assert result.analysed == 3 and result.missing == 1
    assert snapshot() == first
    assert len(first[0]) == 3


def test_a_model_change_makes_items_stale_and_the_sweep_reanalyses_them(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [make_item(session, text=f"Search is slow when the list has {n} thousand rows.").id for n in range(5)]
    before = analysis.model_version(session)
    monkeypatch.setattr(sentiment, "VERSION", "reviews-ridge-v2")
    after = analysis.model_version(session)
    assert after != before
    assert analysis.stale_items(session) == ids
    assert jobs.run_analysis_sweep() == 5
    with session_scope() as fresh:  # the fixture's session still reads its earlier snapshot
        assert analysis.stale_items(fresh) == []
    assert {insight(i).model_version for i in ids} == {after}  # type: ignore[union-attr]


def test_a_failing_analysis_never_fails_the_ingest(
    member_client: Client, session: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(texts: object) -> list[float]:
        raise RuntimeError("the sentiment model is unreadable")

    monkeypatch.setattr(sentiment, "score", broken)
    with caplog.at_level(logging.ERROR, logger="prodops.domains.feedback.jobs"):
        response = member_client.post(
            "/api/v1/feedback",
            json={"text": "The invoice e-mails go to spam."},
            headers={"X-CSRF-Token": member_client.csrf},
        )
    assert response.status_code == 201, response.text
    item_id = response.json()["id"]
    assert insight(item_id) is None
    assert "analysis of 1 feedback item(s) failed" in caplog.text
    monkeypatch.undo()
    with session_scope() as fresh:
        assert analysis.stale_items(fresh) == [item_id]
    assert jobs.run_analysis_sweep() == 1
    assert insight(item_id) is not None


def test_a_batch_is_written_with_bulk_statements(session: Session) -> None:
    result = service.ingest_many(
        session, ACTOR, [FeedbackIn(text=f"Item number {n} about exporting reports.") for n in range(300)]
    )
    with count_statements() as statements:
        analysis.analyse(session, result.ids)
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert len(writes) <= 8, writes  # one upsert, one delete and one insert per 500 items, not one per row
    assert len(statements) <= 30, len(statements)


def test_feature_vectors_follow_feature_changes(session: Session) -> None:
    def vector(feature_id: int) -> tuple[str, str] | None:
        with session_scope() as s:
            row = s.execute(
                select(FeatureVector.text_hash, FeatureVector.model_version).where(
                    FeatureVector.feature_id == feature_id
                )
            ).first()
            return None if row is None else (row[0], row[1])

    dark = features.create_feature(session, ACTOR, FeatureIn(title="Dark mode", description="A dark theme."))
    night = features.create_feature(session, ACTOR, FeatureIn(title="Night theme"))
    first = vector(dark.id)
    assert first is not None and first[1] == get_embedder().name
    features.update_feature(session, ACTOR, dark.id, FeatureUpdate(description="A dark theme for the mobile app."))
    second = vector(dark.id)
    assert second is not None and second[0] != first[0]
    assert analysis.refresh_feature_vectors(session) == 0  # nothing changed since: nothing re-embedded
    features.merge_features(session, ACTOR, night.id, dark.id)
    assert vector(night.id) is None and vector(dark.id) is not None


# --- the inbox and the API by type and sentiment ---------------------------------------------------


@pytest.fixture
def typed_items(session: Session) -> dict[str, int]:
    made = {
        "bug_negative": make_item(session, text="Crash on start.").id,
        "praise_positive": make_item(session, text="Lovely app.").id,
        "request_neutral": make_item(session, text="Add a CSV export.").id,
    }
    set_insight(made["bug_negative"], kind="bug", kind_source="user", sentiment=-0.8)
    set_insight(made["praise_positive"], kind="praise", kind_source="user", sentiment=0.9)
    set_insight(made["request_neutral"], kind="feature_request", kind_source="user", sentiment=0.05)
    return made


def test_the_api_filters_and_counts_by_type_and_sentiment(viewer_client: Client, typed_items: dict[str, int]) -> None:
    def ids(**params: str) -> set[int]:
        response = viewer_client.get("/api/v1/feedback", params=params)
        assert response.status_code == 200, response.text
        return {i["id"] for i in response.json()["items"]}

    assert ids(kind="bug") == {typed_items["bug_negative"]}
    assert ids(kind="bug,praise") == {typed_items["bug_negative"], typed_items["praise_positive"]}
    assert ids(sentiment="negative") == {typed_items["bug_negative"]}
    assert ids(sentiment="neutral") == {typed_items["request_neutral"]}
    assert ids(sentiment="positive", kind="bug") == set()
    facets = viewer_client.get("/api/v1/feedback/facets", params={"sentiment": "negative"}).json()
    kinds = {v["value"]: v["count"] for v in facets["kind"]}
    assert kinds["bug"] == 1 and kinds["praise"] == 0  # the kind facet keeps the sentiment filter
    moods = {v["value"]: v["count"] for v in facets["sentiment"]}
    assert moods == {"negative": 1, "neutral": 1, "positive": 1}  # its own filter is left out
    item = viewer_client.get(f"/api/v1/feedback/{typed_items['bug_negative']}").json()
    assert (item["kind"], item["kind_confidence"], item["sentiment"]) == ("bug", 1.0, -0.8)
    bad = viewer_client.get("/api/v1/feedback", params={"sentiment": "furious"})
    assert bad.status_code == 422 and "sentiment" in str(bad.json()["detail"])


def test_the_inbox_shows_and_filters_type_and_sentiment(member_client: Client, typed_items: dict[str, int]) -> None:
    page = member_client.get("/feedback", params={"kind": "bug"})
    assert page.status_code == 200
    assert f'id="fb-row-{typed_items["bug_negative"]}"' in page.text
    assert f'id="fb-row-{typed_items["praise_positive"]}"' not in page.text
    assert "Bug</span>" in page.text and "▼ negative" in page.text
    page = member_client.get("/feedback", params={"sentiment": "positive"})
    assert f'id="fb-row-{typed_items["praise_positive"]}"' in page.text
    assert f'id="fb-row-{typed_items["bug_negative"]}"' not in page.text
    facets = member_client.get("/feedback/facets", params={"kind": "bug"})
    assert 'name="kind" value="bug" checked' in facets.text and 'name="sentiment" value="negative"' in facets.text
    detail = member_client.get(f"/feedback/items/{typed_items['bug_negative']}/intelligence")
    assert "Type: <strong>" not in detail.text  # shown once, by the type block with its correction control
    type_block = member_client.get(f"/feedback/items/{typed_items['bug_negative']}/type")
    assert '<option value="bug" selected>' in type_block.text and "set by a person" in type_block.text
    assert "Sentiment: <strong>Negative</strong>" in detail.text
