"""Surveys reads: the survey list, responses, follow-ups, verbatim themes by group; results live in ``.results``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.feedback.service import themes as feedback_themes
from prodops.domains.surveys.models import Answer, FollowUp, Question, Response, Rule, Survey
from prodops.domains.surveys.schemas import AnswerOut, FollowUpOut, ResponseOut
from prodops.domains.surveys.service import scoring
from prodops.platform.errors import NotFound
from prodops.platform.identity.models import User
from prodops.platform.listing import Page, order_by, paginate, search


@dataclass
class SurveyRow:
    id: int
    name: str
    kind: str
    status: str
    languages: list[str]
    responses: int
    score: scoring.Score | None
    last_response_at: dt.datetime | None
    updated_at: dt.datetime


SURVEY_SORTS = {"name": Survey.name, "updated": Survey.updated_at, "status": Survey.status, "kind": Survey.kind}


def list_surveys(
    session: Session,
    *,
    q: str | None = None,
    status: str | None = None,
    sort: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[SurveyRow]:
    stmt = select(Survey)
    if q:
        stmt = stmt.where(search(q, Survey.name))
    if status:
        stmt = stmt.where(Survey.status == status)
    stmt = order_by(stmt, sort, SURVEY_SORTS, "-updated", Survey.id)
    found = paginate(session, stmt, page, per_page)
    ids = [s.id for s in found.items]
    hist: dict[int, dict[int, int]] = {}
    counts: dict[int, tuple[int, Any]] = {}
    if ids:
        for sid, value, n in session.execute(
            select(Response.survey_id, Response.score, func.count())
            .where(Response.survey_id.in_(ids), Response.score.is_not(None))
            .group_by(Response.survey_id, Response.score)
        ):
            hist.setdefault(sid, {})[int(value or 0)] = int(n)
        for sid, n, last in session.execute(
            select(Response.survey_id, func.count(), func.max(Response.responded_at))
            .where(Response.survey_id.in_(ids), Response.completed_at.is_not(None))
            .group_by(Response.survey_id)
        ):
            # SQLite hands an aggregate timestamp back as text.
            when = dt.datetime.fromisoformat(last).replace(tzinfo=dt.UTC) if isinstance(last, str) else last
            counts[sid] = (int(n), when)
    rows = []
    for s in found.items:
        kind = s.kind if s.kind != "custom" else None
        n, last = counts.get(s.id, (0, None))
        rows.append(
            SurveyRow(
                id=s.id,
                name=s.name,
                kind=s.kind,
                status=s.status,
                languages=list(s.languages),
                responses=n,
                score=scoring.score(kind, hist.get(s.id, {})) if kind else None,
                last_response_at=last,
                updated_at=s.updated_at,
            )
        )
    return Page(items=rows, total=found.total, number=found.number, per_page=found.per_page)


# --- responses --------------------------------------------------------------------------------------------------------


def _responses_out(session: Session, rows: Sequence[Response], kind: str | None) -> list[ResponseOut]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    answers: dict[int, list[AnswerOut]] = {}
    stmt = (
        select(Answer, Question.key, Question.qtype)
        .join(Question, Question.id == Answer.question_id)
        .where(Answer.response_id.in_(ids))
        .order_by(Question.position)
    )
    for answer, key, qtype in session.execute(stmt):
        answers.setdefault(answer.response_id, []).append(
            AnswerOut(
                question_key=key,
                qtype=qtype,
                value=answer.value,
                choices=list(answer.choices),
                text=answer.text,
                feedback_item_id=answer.feedback_item_id,
            )
        )
    people = customers.people_by_id(session, [r.person_id for r in rows if r.person_id])
    accounts = customers.accounts_by_id(session, [r.account_id for r in rows if r.account_id])
    found = []
    for r in rows:
        mine = answers.get(r.id, [])
        found.append(
            ResponseOut(
                id=r.id,
                survey_id=r.survey_id,
                wave_id=r.wave_id,
                person_id=r.person_id,
                person_email=people[r.person_id].email if r.person_id in people else None,
                account_id=r.account_id,
                account_name=accounts[r.account_id].name if r.account_id in accounts else None,
                channel=r.channel,
                language=r.language,
                score=r.score,
                group=scoring.group_of(kind, r.score) if kind and r.score is not None else None,
                started_at=r.started_at,
                completed_at=r.completed_at,
                responded_at=r.responded_at,
                partial=r.completed_at is None,
                answers=mine,
                comment="\n\n".join(a.text for a in mine if a.text),
            )
        )
    return found


def list_responses(
    session: Session,
    survey_id: int,
    kind: str | None,
    *,
    group: str | None = None,
    channel: str | None = None,
    partial: bool | None = None,
    account_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[ResponseOut]:
    stmt = select(Response).where(Response.survey_id == survey_id)
    if group and kind:
        lo, hi = _group_range(kind, group)
        stmt = stmt.where(Response.score >= lo, Response.score <= hi)
    if channel:
        stmt = stmt.where(Response.channel == channel)
    if partial is not None:
        stmt = stmt.where(Response.completed_at.is_(None) if partial else Response.completed_at.is_not(None))
    if account_id is not None:
        stmt = stmt.where(Response.account_id == account_id)
    stmt = stmt.order_by(Response.responded_at.desc(), Response.id.desc())
    found = paginate(session, stmt, page, per_page)
    return Page(
        items=_responses_out(session, found.items, kind),
        total=found.total,
        number=found.number,
        per_page=found.per_page,
    )


def get_response(session: Session, response_id: int) -> ResponseOut:
    response = session.get(Response, response_id)
    if response is None:
        raise NotFound("response", response_id)
    kind = session.scalar(select(Survey.kind).where(Survey.id == response.survey_id))
    return _responses_out(session, [response], kind if kind != "custom" else None)[0]


def _group_range(kind: str, group: str) -> tuple[float, float]:
    ranges = {
        "nps": {"detractor": (0, 6), "passive": (7, 8), "promoter": (9, 10)},
        "csat": {"detractor": (1, 2), "passive": (3, 3), "promoter": (4, 5)},
        "ces": {"detractor": (1, 3), "passive": (4, 5), "promoter": (6, 7)},
    }
    return ranges.get(kind, ranges["nps"]).get(group, (-1e9, 1e9))


# --- verbatims and themes -------------------------------------------------------------------------------------------


@dataclass
class GroupThemes:
    group: str
    verbatims: int
    themes: list[tuple[int, str, int]]


def themes_by_group(session: Session, survey_id: int, kind: str) -> list[GroupThemes]:
    """Feedback themes of the survey's verbatims, for promoters, passives and detractors separately."""
    result = []
    for group in ("promoter", "passive", "detractor"):
        lo, hi = _group_range(kind, group)
        items = (
            select(Answer.feedback_item_id)
            .join(Response, Response.id == Answer.response_id)
            .where(
                Response.survey_id == survey_id,
                Response.score >= lo,
                Response.score <= hi,
                Answer.feedback_item_id.is_not(None),
            )
        )
        count = session.scalar(select(func.count()).select_from(items.subquery())) or 0
        result.append(GroupThemes(group, int(count), feedback_themes.theme_counts(session, items, limit=8)))
    return result


def verbatims(session: Session, survey_id: int, kind: str | None, group: str, limit: int = 8) -> list[ResponseOut]:
    stmt = select(Response).where(Response.survey_id == survey_id)
    if kind:
        lo, hi = _group_range(kind, group)
        stmt = stmt.where(Response.score >= lo, Response.score <= hi)
    has_text = select(Answer.response_id).where(Answer.text != "")
    stmt = stmt.where(Response.id.in_(has_text)).order_by(Response.responded_at.desc(), Response.id.desc()).limit(limit)
    return _responses_out(session, list(session.scalars(stmt)), kind)


# --- follow-ups -----------------------------------------------------------------------------------------------------


FOLLOW_UP_SORTS = {"created": FollowUp.created_at, "score": FollowUp.score, "status": FollowUp.status}


def _follow_ups_out(session: Session, rows: Sequence[FollowUp]) -> list[FollowUpOut]:
    if not rows:
        return []
    surveys = dict(
        session.execute(select(Survey.id, Survey.name).where(Survey.id.in_({r.survey_id for r in rows}))).all()
    )
    rules = dict(
        session.execute(select(Rule.id, Rule.name).where(Rule.id.in_({r.rule_id for r in rows if r.rule_id}))).all()
    )
    owners: dict[int, str] = dict(
        session.execute(
            select(User.id, func.coalesce(func.nullif(User.name, ""), User.email)).where(
                User.id.in_({r.owner_id for r in rows if r.owner_id})
            )
        ).all()
    )
    people = customers.people_by_id(session, [r.person_id for r in rows if r.person_id])
    accounts = customers.accounts_by_id(session, [r.account_id for r in rows if r.account_id])
    comments: dict[int, list[str]] = {}
    for rid, text in session.execute(
        select(Answer.response_id, Answer.text).where(
            Answer.response_id.in_([r.response_id for r in rows]), Answer.text != ""
        )
    ):
        comments.setdefault(rid, []).append(text)
    return [
        FollowUpOut(
            id=r.id,
            rule_id=r.rule_id,
            rule_name=rules.get(r.rule_id or 0),
            response_id=r.response_id,
            survey_id=r.survey_id,
            survey_name=surveys.get(r.survey_id, ""),
            account_id=r.account_id,
            account_name=accounts[r.account_id].name if r.account_id in accounts else None,
            person_id=r.person_id,
            person_email=people[r.person_id].email if r.person_id in people else None,
            owner_id=r.owner_id,
            owner_name=owners.get(r.owner_id or 0),
            status=r.status,
            score=r.score,
            comment="\n\n".join(comments.get(r.response_id, [])),
            outcome=r.outcome,
            created_at=r.created_at,
            closed_at=r.closed_at,
        )
        for r in rows
    ]


def list_follow_ups(
    session: Session,
    *,
    status: str | None = "open",
    owner_id: int | None = None,
    survey_id: int | None = None,
    account_id: int | None = None,
    sort: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[FollowUpOut]:
    stmt: Select[Any] = select(FollowUp)
    if status:
        stmt = stmt.where(FollowUp.status == status)
    if owner_id is not None:
        stmt = stmt.where(FollowUp.owner_id == owner_id)
    if survey_id is not None:
        stmt = stmt.where(FollowUp.survey_id == survey_id)
    if account_id is not None:
        stmt = stmt.where(FollowUp.account_id == account_id)
    stmt = order_by(stmt, sort, FOLLOW_UP_SORTS, "-created", FollowUp.id)
    found = paginate(session, stmt, page, per_page)
    return Page(
        items=_follow_ups_out(session, found.items), total=found.total, number=found.number, per_page=found.per_page
    )


def get_follow_up(session: Session, follow_up_id: int) -> FollowUpOut:
    row = session.get(FollowUp, follow_up_id)
    if row is None:
        raise NotFound("follow-up", follow_up_id)
    return _follow_ups_out(session, [row])[0]


def follow_up_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(FollowUp.status, func.count()).group_by(FollowUp.status))
    return {status: int(n) for status, n in rows}


@dataclass
class AccountSurveys:
    """What the account page's panel shows: the account's scores per survey, its follow-ups, its latest answers."""

    account_id: int
    scores: list[tuple[int, str, str, scoring.Score]]
    follow_ups: list[FollowUpOut]
    latest: list[ResponseOut]


def account_panel(session: Session, account_id: int) -> AccountSurveys:
    hist: dict[int, dict[int, int]] = {}
    for sid, value, n in session.execute(
        select(Response.survey_id, Response.score, func.count())
        .where(Response.account_id == account_id, Response.score.is_not(None))
        .group_by(Response.survey_id, Response.score)
    ):
        hist.setdefault(sid, {})[int(value or 0)] = int(n)
    surveys = {s.id: s for s in session.scalars(select(Survey).where(Survey.id.in_(list(hist)))) if s.kind != "custom"}
    scores = [
        (sid, surveys[sid].name, surveys[sid].kind, scoring.score(surveys[sid].kind, h))
        for sid, h in hist.items()
        if sid in surveys
    ]
    follow = list(
        session.scalars(
            select(FollowUp)
            .where(FollowUp.account_id == account_id)
            .order_by(case((FollowUp.status == "open", 0), else_=1), FollowUp.created_at.desc())
            .limit(20)
        )
    )
    latest_rows = list(
        session.scalars(
            select(Response)
            .where(Response.account_id == account_id)
            .order_by(Response.responded_at.desc(), Response.id.desc())
            .limit(10)
        )
    )
    kinds = {
        s.id: s.kind for s in session.scalars(select(Survey).where(Survey.id.in_({r.survey_id for r in latest_rows})))
    }
    latest = []
    for r in latest_rows:
        kind = kinds.get(r.survey_id)
        latest.extend(_responses_out(session, [r], kind if kind != "custom" else None))
    return AccountSurveys(account_id, scores, _follow_ups_out(session, follow), latest)
