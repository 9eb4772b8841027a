"""The customers demo seeder: realistic, idempotent and fast."""

from __future__ import annotations

import random
import statistics
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import demo
from prodops.domains.customers.models import Account, Person, Segment
from prodops.platform.audit import AuditRecord
from prodops.platform.demo import DemoContext
from tests.conftest import make_user
from tests.customers.conftest import audit_count


def _count(session: Session, model: type) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_seeder_is_idempotent_realistic_and_fast(session: Session) -> None:
    owners = [make_user("member").id for _ in range(3)]
    ctx = DemoContext(rng=random.Random(1), user_ids=owners)
    started = time.perf_counter()
    summary = demo.seed(session, ctx)
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"seeding took {elapsed:.1f}s"
    assert "800 accounts (800 new)" in summary
    assert (_count(session, Account), _count(session, Person), _count(session, Segment)) == (800, 3000, 4)
    seeds = session.scalars(select(AuditRecord).where(AuditRecord.action == "seed")).all()
    assert len(seeds) == 1  # one summary record, not 3,800
    audits = audit_count(session)

    # Heavy-tailed ARR: most accounts pay a few thousand, a few pay millions; segments follow ARR.
    arr = sorted(session.scalars(select(Account.arr)))
    assert 2_000 <= statistics.median(arr) <= 12_000
    assert arr[-1] >= 1_000_000
    assert sum(a >= 1_000_000 for a in arr) <= 15
    for segment, low, high in (("SMB", 0, 20_000), ("Mid-Market", 20_000, 100_000), ("Enterprise", 100_000, 1e12)):
        values = session.scalars(select(Account.arr).where(Account.segment == segment)).all()
        assert values and all(low <= v < high for v in values), segment
    assert set(session.scalars(select(Account.region).distinct())) == {"NA", "EMEA", "APAC", "LATAM"}
    assert set(session.scalars(select(Account.owner_id).distinct())) <= {*owners, None}
    # People's e-mails are at their account's domain.
    mismatched = session.scalar(
        select(func.count())
        .select_from(Person)
        .join(Account, Person.account_id == Account.id)
        .where(~Person.email.endswith("@" + Account.domain))
    )
    assert mismatched == 0
    sample = session.scalars(select(Account.attributes).limit(5)).all()
    assert all({"industry", "seats", "health_score"} <= set(a) for a in sample)

    again = demo.seed(session, ctx)
    assert "(0 new)" in again
    assert (_count(session, Account), _count(session, Person), _count(session, Segment)) == (800, 3000, 4)
    assert audit_count(session) == audits


def test_generation_is_deterministic() -> None:
    first = demo.generate([1, 2, 3])
    second = demo.generate([1, 2, 3])
    assert [a["name"] for a in first[0]] == [a["name"] for a in second[0]]
    assert [p["email"] for p in first[1]] == [p["email"] for p in second[1]]
    assert len({a["domain"] for a in first[0]}) == 800
    assert len({p["email"] for p in first[1]}) == 3000
