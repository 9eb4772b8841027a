"""Check-in reminders to key-result owners and the weekly goals-health summary for admins (e-mail).

- **Reminder**: the owner of a key result of an active goal (the key result's owner, else the goal's) whose last
  person check-in is older than 7 days gets one e-mail listing all their due key results — at most once in any 7
  days (the audit log remembers each reminder).
- **Goals-health summary**: once per ISO week, every active admin gets the counts of active goals on track, at
  risk, off track and without data, and the worst movers: the goals whose progress changed least (fell most) over
  the last 7 days.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.roadmap.models import Goal, KeyResult
from prodops.domains.roadmap.queries import goals as queries
from prodops.platform import audit
from prodops.platform.audit import Actor, AuditRecord
from prodops.platform.config import get_settings
from prodops.platform.db import transaction, utcnow
from prodops.platform.identity.models import User
from prodops.platform.notify.email import send_email_on_commit

REMINDER_TEMPLATE = "roadmap_checkin_reminder"
HEALTH_TEMPLATE = "roadmap_goals_health"
REMINDER_ENTITY = "roadmap_checkin_reminder"
HEALTH_ENTITY = "roadmap_goals_health"
WORST_MOVERS = 5


@dataclass
class ReminderResult:
    owners: list[int] = field(default_factory=list)
    key_results: int = 0
    skipped: int = 0

    def summary(self) -> str:
        return (
            f"reminded {len(self.owners)} owner(s) of {self.key_results} due key result(s); "
            f"{self.skipped} already reminded this week"
        )


def due_key_results(session: Session, now: dt.datetime | None = None) -> dict[int, list[KeyResult]]:
    """Owner id → their due key results of active goals."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=queries.CHECKIN_DAYS)
    rows = session.execute(
        select(KeyResult, Goal.owner_id)
        .join(Goal, Goal.id == KeyResult.goal_id)
        .where(Goal.status == "active")
        .where((KeyResult.last_checkin_at.is_(None)) | (KeyResult.last_checkin_at < cutoff))
        .order_by(KeyResult.goal_id, KeyResult.id)
    ).all()
    found: dict[int, list[KeyResult]] = defaultdict(list)
    for kr, goal_owner in rows:
        owner = kr.owner_id or goal_owner
        if owner is not None:
            found[owner].append(kr)
    return dict(found)


def send_checkin_reminders(session: Session, *, now: dt.datetime | None = None) -> ReminderResult:
    now = now or utcnow()
    result = ReminderResult()
    due = due_key_results(session, now)
    if not due:
        return result
    base = get_settings().base_url.rstrip("/")
    actor = Actor.system("check-in reminders")
    week_ago = now - dt.timedelta(days=7)
    with transaction(session):
        reminded = set(
            session.scalars(
                select(AuditRecord.entity_id).where(
                    AuditRecord.entity_type == REMINDER_ENTITY,
                    AuditRecord.entity_id.in_([str(o) for o in due]),
                    AuditRecord.at > week_ago,
                )
            )
        )
        users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(sorted(due))))}
        goal_titles = {r[0]: r[1] for r in session.execute(select(Goal.id, Goal.title))}
        for owner_id, krs in sorted(due.items()):
            user = users.get(owner_id)
            if user is None or not user.is_active:
                continue
            if str(owner_id) in reminded:
                result.skipped += 1
                continue
            items = [
                {
                    "title": kr.title,
                    "goal": goal_titles.get(kr.goal_id, ""),
                    "last": kr.last_checkin_at.strftime("%Y-%m-%d") if kr.last_checkin_at else "never",
                    "url": f"{base}/roadmap/key-results/{kr.id}",
                }
                for kr in krs
            ]
            context = {"name": user.name or user.email, "items": items, "url": f"{base}/roadmap/check-ins"}
            count = len(items)
            subject = f"Check-in due: {count} key result{'s' if count != 1 else ''}"
            send_email_on_commit(session, user.email, subject, REMINDER_TEMPLATE, context)
            audit.record(
                session,
                actor,
                entity_type=REMINDER_ENTITY,
                entity_id=owner_id,
                action="remind",
                changes={"key_results": [None, [kr.id for kr in krs]]},
                entity_label=user.email,
            )
            result.owners.append(owner_id)
            result.key_results += count
    return result


# --- weekly goals health ---------------------------------------------------------------------------


@dataclass
class Mover:
    goal_id: int
    title: str
    before: float | None
    now: float | None

    @property
    def change(self) -> float:
        return (self.now or 0.0) - (self.before or 0.0)


@dataclass
class HealthSummary:
    week: str
    counts: dict[str, int]
    average: float | None
    movers: list[Mover]
    sent_to: list[str] = field(default_factory=list)
    already_sent: bool = False


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def health_summary(session: Session, *, now: dt.datetime | None = None) -> HealthSummary:
    """The week's figures (nothing sent)."""
    now = now or utcnow()
    tree = queries.load_tree(session, today=now.date())
    past = queries.load_tree(session, today=now.date(), values=queries.values_at(session, now - dt.timedelta(days=7)))
    active = [g for g in tree.goals.values() if g.status == "active"]
    counts = {"on_track": 0, "at_risk": 0, "off_track": 0, "no_data": 0}
    for g in active:
        counts[tree.health.get(g.id, "no_data")] += 1
    measured = [tree.progress[g.id] for g in active if tree.progress.get(g.id) is not None]
    movers = [
        Mover(g.id, g.title, past.progress.get(g.id), tree.progress.get(g.id))
        for g in active
        if tree.progress.get(g.id) is not None
    ]
    movers.sort(key=lambda m: (m.change, m.title.lower()))
    return HealthSummary(
        week=iso_week(now.date()),
        counts=counts,
        average=sum(p for p in measured if p is not None) / len(measured) if measured else None,
        movers=movers[:WORST_MOVERS],
    )


def send_health_summary(session: Session, *, now: dt.datetime | None = None) -> HealthSummary:
    """E-mail the summary to every active admin, once per ISO week."""
    summary = health_summary(session, now=now)
    base = get_settings().base_url.rstrip("/")
    with transaction(session):
        if session.scalar(
            select(AuditRecord.id).where(
                AuditRecord.entity_type == HEALTH_ENTITY, AuditRecord.entity_id == summary.week
            )
        ):
            summary.already_sent = True
            return summary
        admins = list(
            session.scalars(
                select(User.email).where(User.role == "admin", User.is_active.is_(True)).order_by(User.email)
            )
        )
        context = {
            "week": summary.week,
            "counts": summary.counts,
            "total": sum(summary.counts.values()),
            "average": summary.average,
            "movers": [
                {
                    "title": m.title,
                    "before": m.before,
                    "now": m.now,
                    "change": m.change,
                    "url": f"{base}/roadmap/goals/{m.goal_id}",
                }
                for m in summary.movers
            ],
            "url": f"{base}/roadmap/goals",
        }
        c = summary.counts
        subject = (
            f"Goals health {summary.week}: {c['on_track']} on track, {c['at_risk']} at risk, {c['off_track']} off track"
        )
        for email in admins:
            send_email_on_commit(session, email, subject, HEALTH_TEMPLATE, context)
        audit.record(
            session,
            Actor.system("goals health"),
            entity_type=HEALTH_ENTITY,
            entity_id=summary.week,
            action="send",
            changes={"sent_to": [None, len(admins)]},
            entity_label=f"Goals health {summary.week}",
        )
        summary.sent_to = admins
    return summary
