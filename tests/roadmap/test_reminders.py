"""Check-in reminders and the weekly goals-health summary, delivered to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy.orm import Session

from prodops.domains.roadmap import jobs, service
from prodops.domains.roadmap.schemas.goals import CheckInIn, GoalIn, KeyResultIn
from prodops.domains.roadmap.service import reminders
from prodops.platform.db import transaction, utcnow
from prodops.platform.identity.models import User
from tests.conftest import make_user
from tests.platform.test_email import Mailbox
from tests.roadmap.conftest import ACTOR


def _quiet(box: Mailbox, seconds: float = 0.3) -> int:
    """How many messages arrived, after giving stragglers a moment."""
    time.sleep(seconds)
    return len(box.received)


def _kr(session: Session, goal_id: int, title: str, owner: int | None = None) -> int:
    return service.create_key_result(
        session, ACTOR, goal_id, KeyResultIn(title=title, start_value=0, target_value=10, owner_id=owner)
    ).id


def test_owners_of_due_key_results_get_one_reminder_a_week(session: Session, smtp: Mailbox) -> None:
    ann, bob, gone = make_user("member", "ann@acme.example"), make_user("member", "bob@acme.example"), make_user()
    goal = service.create_goal(session, ACTOR, GoalIn(title="Grow <fast>", owner_id=ann.id)).id
    archived = service.create_goal(session, ACTOR, GoalIn(title="Old", owner_id=bob.id, status="archived")).id
    due_1 = _kr(session, goal, "Revenue")  # owned through the goal: Ann
    due_2 = _kr(session, goal, "Churn & <losses>", owner=ann.id)
    fresh = _kr(session, goal, "Fresh", owner=bob.id)
    _kr(session, archived, "Archived goal's", owner=bob.id)
    stale = _kr(session, goal, "Stale", owner=gone.id)
    service.check_in(session, ACTOR, fresh, CheckInIn(value=1, confidence="on_track"))
    service.check_in(
        session, ACTOR, due_1, CheckInIn(value=2, confidence="at_risk"), at=utcnow() - dt.timedelta(days=8)
    )
    with transaction(session):
        session.get(User, gone.id).is_active = False  # type: ignore[union-attr]
    assert stale  # a deactivated owner gets nothing

    result = jobs.run_checkin_reminders()
    assert result.owners == [ann.id] and result.key_results == 2
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ["ann@acme.example"]
    assert mail.message["Subject"] == "Check-in due: 2 key results"
    text, html = mail.part("plain"), mail.part("html")
    assert "Revenue" in text and "Churn & <losses>" in text
    assert f"/roadmap/key-results/{due_2}" in text and f"/roadmap/key-results/{due_1}" in html
    assert "Churn &amp; &lt;losses&gt;" in html and "<losses>" not in html
    # the next run (the job is daily) sends nothing to Ann for a week
    again = jobs.run_checkin_reminders()
    assert again.owners == [] and again.skipped == 1
    assert _quiet(smtp) == 1
    # a week later she is reminded again, and Bob's check-in has fallen due too
    later = reminders.send_checkin_reminders(session, now=utcnow() + dt.timedelta(days=7, minutes=1))
    assert later.owners == [ann.id, bob.id]
    assert sorted(m.rcpt_tos[0] for m in smtp.wait_for(3)[1:]) == ["ann@acme.example", "bob@acme.example"]


def test_weekly_health_summary_goes_to_admins_once(session: Session, smtp: Mailbox) -> None:
    make_user("admin", "boss@acme.example")
    make_user("member", "dev@acme.example")
    now = utcnow()
    falling = service.create_goal(session, ACTOR, GoalIn(title="Falling")).id
    rising = service.create_goal(session, ACTOR, GoalIn(title="Rising")).id
    service.create_goal(session, ACTOR, GoalIn(title="Unmeasured"))
    service.create_goal(session, ACTOR, GoalIn(title="Done", status="achieved"))
    f = _kr(session, falling, "F")
    r = _kr(session, rising, "R")
    service.check_in(session, ACTOR, f, CheckInIn(value=8, confidence="on_track"), at=now - dt.timedelta(days=10))
    service.check_in(session, ACTOR, f, CheckInIn(value=3, confidence="off_track"), at=now - dt.timedelta(days=1))
    service.check_in(session, ACTOR, r, CheckInIn(value=2, confidence="on_track"), at=now - dt.timedelta(days=10))
    service.check_in(session, ACTOR, r, CheckInIn(value=6, confidence="at_risk"), at=now - dt.timedelta(days=1))

    summary = jobs.run_health_summary()
    assert summary.counts == {"on_track": 0, "at_risk": 1, "off_track": 1, "no_data": 1}
    assert [(m.title, round(m.change, 2)) for m in summary.movers] == [("Falling", -0.5), ("Rising", 0.4)]
    assert summary.sent_to == ["boss@acme.example"]
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ["boss@acme.example"]
    assert mail.message["Subject"].endswith("0 on track, 1 at risk, 1 off track")
    text = mail.part("plain")
    assert "Falling: 80% → 30% (-50 points)" in text and "Average progress: 45%" in text
    assert jobs.run_health_summary().already_sent is True
    assert _quiet(smtp) == 1


def test_schedules_are_listed_in_the_worker() -> None:
    from prodops.worker import SCHEDULES

    for name in ("snapshot_metric_key_results", "remind_checkins", "goals_health_summary"):
        assert name in SCHEDULES and callable(getattr(jobs, name))
