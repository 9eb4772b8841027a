"""The demo NPS programme: realistic, quick, idempotent, and visible through the real results code."""

from __future__ import annotations

import random
import time
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import demo as customers_demo
from prodops.domains.feedback.models import FeedbackItem
from prodops.domains.surveys import demo
from prodops.domains.surveys.models import FollowUp, Invitation, Response, Survey
from prodops.domains.surveys.queries import results
from prodops.platform.demo import SEED, DemoContext, _seed_platform


def test_demo_programme(session: Session) -> None:
    ctx = DemoContext(rng=random.Random(SEED))
    _seed_platform(session, ctx)
    customers_demo.seed(session, ctx)
    started = time.perf_counter()
    summary = demo.seed(session, ctx)
    seconds = time.perf_counter() - started
    assert seconds < 60, seconds  # part of `make demo`
    assert "NPS responses in 4 waves" in summary
    nps = session.scalar(select(Survey).where(Survey.name == demo.NPS_NAME))
    assert nps is not None
    responses = session.scalar(select(func.count()).select_from(Response).where(Response.survey_id == nps.id))
    assert 2_000 <= responses <= 4_000
    channels = Counter(session.scalars(select(Response.channel).where(Response.survey_id == nps.id)))
    assert {"email", "in_app", "link"} <= set(channels)
    assert session.scalar(select(func.count()).select_from(Invitation)) == 4 * 3_000
    verbatims = session.scalar(select(func.count()).select_from(FeedbackItem).where(FeedbackItem.source == "survey"))
    assert verbatims > 1_000
    statuses = Counter(session.scalars(select(FollowUp.status)))
    assert statuses["open"] > 0 and statuses["done"] > statuses["open"]

    res = results.results(session, nps.id)
    assert res.overall is not None and res.overall.value is not None and -100 < res.overall.value < 100
    assert res.change is not None and res.change.delta is not None and res.change.delta > 0  # the programme works
    assert {r.label for r in res.tables["segment"]} >= {"SMB", "Mid-Market", "Enterprise"}
    assert all(w.response_rate is not None and 15 < w.response_rate < 45 for w in res.waves)

    again = demo.seed(session, ctx)
    assert again.endswith("(0 new)")
    assert session.scalar(select(func.count()).select_from(Response).where(Response.survey_id == nps.id)) == responses
