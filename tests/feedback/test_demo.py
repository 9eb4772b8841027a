"""The features and feedback demo seeders: about 150 features and 20,000 items from real reviews, realistic links,
idempotent, and quick enough for `make demo`."""

from __future__ import annotations

import datetime as dt
import random
import re
import statistics
import time
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import demo as customers_demo
from prodops.domains.customers.models import Account
from prodops.domains.features import demo as features_demo
from prodops.domains.features.models import Feature, FeatureVote
from prodops.domains.feedback import demo
from prodops.domains.feedback.models import FeedbackItem, FeedbackLink, LoopNotice
from prodops.domains.feedback.queries import demand
from prodops.platform.demo import SEED, DemoContext, _seed_platform


def _count(session: Session, model: type, *where: object) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def test_rules_name_real_features_and_match_what_they_say() -> None:
    titles = {row[3] for row in features_demo.CATALOGUE}
    assert 140 <= len(features_demo.CATALOGUE) <= 160 and len(titles) == len(features_demo.CATALOGUE)
    assert {title for title, _ in demo.LINK_RULES} <= titles
    assert {d for d, s in features_demo.MERGES} <= titles and {s for d, s in features_demo.MERGES} <= titles
    found = [t for t, _ in demo.matches("The app drains my battery overnight")]
    assert found[0] == "Reduce battery drain in the background"
    assert next(t for t, _ in demo.matches("Please add a DARK theme")) == "Dark mode"
    assert demo.matches("Lovely, thanks") == []
    # The literal pre-check never changes a result.
    reviews = demo.load_reviews()
    assert len(reviews) == 11_646
    for review in random.Random(3).sample(reviews, 400):
        lowered = review.text.lower()
        slow = [t for t, p in demo.LINK_RULES if re.search(p, lowered)]
        assert [t for t, _ in demo.matches(review.text)] == slow


def test_seeders_build_a_realistic_idempotent_demo(session: Session) -> None:
    ctx = DemoContext(rng=random.Random(SEED))
    _seed_platform(session, ctx)
    customers_demo.seed(session, ctx)
    started = time.perf_counter()
    summary = features_demo.seed(session, ctx)
    features_seconds = time.perf_counter() - started
    assert "150 features (150 new" in summary and "3 merged" in summary
    started = time.perf_counter()
    summary = demo.seed(session, ctx)
    feedback_seconds = time.perf_counter() - started
    assert summary.startswith("20,000 items (20,000 new")
    # Seeding is part of `make demo`: it must stay quick even on a busy 2-core machine.
    assert features_seconds < 20 and feedback_seconds < 90, (features_seconds, feedback_seconds)

    # Features: both products, a realistic status mix, release notes on shipped ones, a few merged.
    statuses = Counter(session.scalars(select(Feature.status).where(Feature.merged_into_id.is_(None))))
    assert statuses["idea"] > statuses["planned"] > 0 and 15 <= statuses["shipped"] <= 40 and statuses["declined"] > 0
    assert _count(session, Feature, Feature.merged_into_id.is_not(None)) == 3
    shipped_notes = session.scalars(select(Feature.release_note).where(Feature.status == "shipped")).all()
    assert all("is now available" in note for note in shipped_notes)
    assert len(set(session.scalars(select(Feature.product_id)))) == 2
    assert _count(session, FeatureVote) > 200

    # Feedback: 20,000 items from the real texts, mixed channels, over the last year and growing.
    assert _count(session, FeedbackItem) == 20_000
    sources = Counter(session.scalars(select(FeedbackItem.source)))
    assert {"app_review", "support_ticket", "email", "sales_call", "interview"} <= set(sources)
    assert 0.35 < sources["app_review"] / 20_000 < 0.55
    ratings = [
        m.get("rating") for m in session.scalars(select(FeedbackItem.meta).where(FeedbackItem.source == "app_review"))
    ]
    assert all(r in (1, 2, 3, 4, 5) for r in ratings)
    now = dt.datetime.now(dt.UTC)
    received = session.scalars(select(FeedbackItem.received_at)).all()
    assert min(received) > now - dt.timedelta(days=366) and max(received) <= now
    recent_half = sum(1 for r in received if r > now - dt.timedelta(days=182))
    assert recent_half > 0.6 * len(received), "volume grows over the year"
    texts = {r.text for r in demo.load_reviews()}
    sample = session.scalars(select(FeedbackItem.text).limit(200)).all()
    assert all(t in texts for t in sample)

    # People and accounts: almost everything is attributed, and big accounts speak more.
    with_account = _count(session, FeedbackItem, FeedbackItem.account_id.is_not(None))
    assert with_account > 0.9 * 20_000
    arr_of_items = session.scalars(select(Account.arr).join(FeedbackItem, FeedbackItem.account_id == Account.id)).all()
    assert statistics.mean(arr_of_items) > 1.5 * statistics.mean(session.scalars(select(Account.arr)).all())

    # About 40% linked, to the feature the text is about, with the matching sentence highlighted.
    linked = session.scalar(select(func.count(FeedbackLink.item_id.distinct()))) or 0
    assert 0.35 < linked / 20_000 < 0.45
    assert _count(session, FeedbackItem, FeedbackItem.status == "linked") == linked
    battery = session.scalar(select(Feature.id).where(Feature.title == "Reduce battery drain in the background"))
    battery_texts = session.scalars(
        select(FeedbackItem.text)
        .join(FeedbackLink, FeedbackLink.item_id == FeedbackItem.id)
        .where(FeedbackLink.feature_id == battery)
    ).all()
    assert len(battery_texts) > 50 and all(re.search(r"battery|drain", t, re.I) for t in battery_texts)
    highlights = session.execute(
        select(FeedbackItem.text, FeedbackLink.highlight, FeedbackLink.highlight_start, FeedbackLink.highlight_end)
        .join(FeedbackLink, FeedbackLink.item_id == FeedbackItem.id)
        .where(FeedbackLink.highlight != "")
        .limit(300)
    ).all()
    assert len(highlights) == 300
    assert all(text[start:end] == highlight for text, highlight, start, end in highlights)
    importance = Counter(session.scalars(select(FeedbackLink.importance)))
    assert set(importance) == {"not", "nice", "important", "critical"}
    assert (
        _count(
            session,
            FeedbackLink,
            FeedbackLink.feature_id.in_(select(Feature.id).where(Feature.merged_into_id.is_not(None))),
        )
        == 0
    )

    # The demand ranking has a long tail, and shipped features have a send log.
    ranking = demand.ranking(session, demand.DemandFilters(per_page=500))
    assert ranking.total > 100
    accounts = [r.accounts for r in ranking.items]
    assert accounts[0] > 5 * statistics.median(accounts)
    assert _count(session, LoopNotice) > 200
    assert set(session.scalars(select(LoopNotice.outcome).distinct())) <= {"sent", "unsubscribed", "failed"}

    # Seeding again adds nothing.
    assert "(0 new" in features_demo.seed(session, ctx)
    assert demo.seed(session, ctx) == "20,000 items (0 new)"
    assert _count(session, FeedbackItem) == 20_000 and _count(session, Feature) == 150
