"""The portal demo seeder: Acme Ideas with four boards (one Enterprise-only with approval), about 300 ideas on
demo features, thousands of skewed votes, comments with official answers and an internal note, a moderation
queue — consistent counters, filed as demand, idempotent and quick."""

from __future__ import annotations

import random
import time

from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import demo as customers_demo
from prodops.domains.features import demo as features_demo
from prodops.domains.features.models import Feature
from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.feedback.queries import demand
from prodops.domains.feedback.queries.demand import DemandFilters
from prodops.domains.portal import demo
from prodops.domains.portal.models import Board, Comment, Follow, Idea, Portal, Vote
from prodops.platform.demo import SEED, DemoContext, _seed_platform
from tests.conftest import Client


def _count(session: Session, model: type, *where: object) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def test_the_demo_portal(session: Session, admin_client: Client) -> None:
    ctx = DemoContext(rng=random.Random(SEED))
    _seed_platform(session, ctx)
    customers_demo.seed(session, ctx)
    features_demo.seed(session, ctx)
    started = time.perf_counter()
    summary = demo.seed(session, ctx)
    seconds = time.perf_counter() - started
    print(f"portal demo: {seconds:.1f} s — {summary}")
    assert summary.startswith("portal /p/acme: 4 boards")

    portal = session.scalar(select(Portal).where(Portal.slug == "acme"))
    assert portal is not None and portal.name == "Acme Ideas"
    boards = {b.slug: b for b in session.scalars(select(Board))}
    assert set(boards) == {"core", "mobile", "integrations", "enterprise"}
    assert boards["enterprise"].segment_id is not None and boards["enterprise"].require_approval
    assert all(b.product_id is not None for b in boards.values())

    ideas = _count(session, Idea)
    assert 250 <= ideas <= 350
    votes = _count(session, Vote)
    assert votes >= 3_000
    # Skewed: the top ten ideas hold a large share of the votes.
    top = session.scalars(select(Idea.vote_count).order_by(Idea.vote_count.desc()).limit(10))
    assert sum(top) > votes * 0.15
    # Counters agree with the rows, and nobody voted twice.
    counted = {row[0]: row[1] for row in session.execute(select(Vote.idea_id, func.count()).group_by(Vote.idea_id))}
    for idea in session.scalars(select(Idea)):
        assert idea.vote_count == counted.get(idea.id, 0), idea.title
    assert (session.scalar(select(func.count(Vote.user_id.distinct()))) or 0) > 500
    assert _count(session, Vote, Vote.cast_by_id.is_not(None)) > 0
    assert _count(session, Follow) > votes * 0.2
    assert _count(session, Comment, Comment.official.is_(True)) >= 5
    assert _count(session, Comment, Comment.internal.is_(True)) == 1
    assert _count(session, Comment, Comment.parent_id.is_not(None)) >= 1
    assert _count(session, Idea, Idea.state == "pending") == 1
    assert _count(session, Comment, Comment.state == "pending") == 1

    # Filed as demand: the most voted idea's feature ranks with the portal's evidence.
    assert _count(session, FeedbackItem, FeedbackItem.source == "portal") >= votes
    best = session.scalar(select(Idea).order_by(Idea.vote_count.desc()).limit(1))
    assert best is not None
    rows = {r.feature_id: r for r in demand.ranking(session, DemandFilters(per_page=500, sort="-items")).items}
    assert rows[best.feature_id].items >= best.vote_count

    # The staff pages show it.
    page = admin_client.get("/portal/queue")
    assert "Provision users from Okta automatically" in page.text
    assert admin_client.get(f"/portal/ideas/{best.id}").status_code == 200
    assert "Acme Ideas" in admin_client.get("/admin/portals").text

    # The changelog seeder announces shipped demo ideas: the demo products follow the workspace lifecycle, so
    # their features' kinds come from it.
    assert demo.seed_changelog(session, ctx).startswith("4 published entries")
    planned = session.scalar(
        select(Idea.title)
        .join(Feature, Feature.id == Idea.feature_id)
        .where(Feature.status == "planned", Idea.board_id != boards["enterprise"].id, Idea.state == "published")
        .order_by(Idea.vote_count.desc())
        .limit(1)
    )
    assert planned is not None
    assert escape(planned) in admin_client.get("/p/acme/roadmap").text

    assert "already seeded" in demo.seed(session, ctx)
    assert _count(session, Idea) == ideas and _count(session, Vote) == votes
