"""Demo surveys: a relationship NPS programme with four quarterly waves over the last year (about 3,000 responses, the
"why?" answers taken from the real app reviews the feedback demo uses), an onboarding CSAT survey, a rule for
detractors at large accounts with the follow-ups it opened, and some answers from the public link and the in-app
snippet. Scores follow each account's satisfaction, the segment, and a trend that improves over the year."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.feedback import service as feedback
from prodops.domains.feedback.schemas import FeedbackIn
from prodops.domains.surveys import service
from prodops.domains.surveys.models import Answer, FollowUp, Invitation, Response, Rule, Survey, Wave
from prodops.domains.surveys.schemas import SurveyIn
from prodops.domains.surveys.service._shared import new_nonce, token_for, token_hash
from prodops.domains.surveys.service.scoring import group_of
from prodops.platform import registry
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.demo import SEED, DemoContext

ACTOR = Actor.system("demo")
NPS_NAME = "Relationship NPS"
CSAT_NAME = "Onboarding CSAT"
WAVES = 4
CHUNK = 1000
OUTCOMES = (
    "Called them: the export bug is fixed in the next release; they will re-try then.",
    "Walked their admin through the new permissions; they are happy now.",
    "Offered a training session for the team; booked for next week.",
    "Their renewal concern was price: passed to the account executive with a discount proposal.",
    "Logged the missing integration as a feature request and linked their feedback.",
)


def _reviews() -> dict[str, list[str]]:
    """Review texts by the NPS group their star rating (or label) suggests."""
    raw = resources.files("prodops.domains.feedback").joinpath("demo_data", "reviews.csv.gz").read_bytes()
    groups: dict[str, list[str]] = {"promoter": [], "passive": [], "detractor": []}
    for row in csv.DictReader(io.StringIO(gzip.decompress(raw).decode("utf-8"))):
        text = row["text"].strip()
        if not 20 <= len(text) <= 600:
            continue
        rating, label = row.get("rating") or "", row.get("label") or ""
        if rating == "5" or label == "praise":
            groups["promoter"].append(text)
        elif rating in ("3", "4") or label in ("feature_request", "experience"):
            groups["passive"].append(text)
        elif rating in ("1", "2") or label == "bug":
            groups["detractor"].append(text)
    return groups


def _score(rng: random.Random, mood: float) -> int:
    """A 0–10 answer around ``mood`` (about −1 unhappy … +1 delighted)."""
    value = 8.2 + 2.6 * mood + rng.gauss(0, 1.7)
    return max(0, min(10, round(value)))


def _chunks(rows: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _people(session: Session) -> tuple[list[tuple[int, int | None, str]], dict[int, dict[str, Any]]]:
    people = [(pid, aid, email) for pid, email, aid in session.execute(customers.person_accounts())]
    facts = {row.account_id: dict(row._mapping) for row in session.execute(customers.account_facts())}
    return people, facts


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for chunk in _chunks(rows):
        ids.extend(session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), chunk))
    return ids


def _responses(
    session: Session,
    survey: Any,
    rows: list[dict[str, Any]],
    comments: list[str | None],
    kinds: str,
) -> tuple[list[int], int]:
    """Insert responses with their score and comment answers; comments become feedback items. Returns (ids, items)."""
    main = survey.main_question
    ids = _insert(session, Response, rows)
    answers = [{"response_id": rid, "question_id": main.id, "value": row["score"], "choices": [], "text": ""}
               for rid, row in zip(ids, rows, strict=True)]  # fmt: skip
    text_rows: list[dict[str, Any]] = []
    keys = {q.key: q.id for q in survey.questions}
    for rid, row, comment in zip(ids, rows, comments, strict=True):
        if comment:
            group = group_of(kinds, row["score"])
            key = "why_low" if group == "detractor" and "why_low" in keys else "why"
            text_rows.append(
                {"response_id": rid, "question_id": keys[key], "value": None, "choices": [], "text": comment}
            )
    for chunk in _chunks(answers):
        session.execute(insert(Answer), chunk)
    answer_ids = _insert(session, Answer, text_rows)
    by_id = dict(zip(ids, rows, strict=True))
    items = []
    for aid, text_row in zip(answer_ids, text_rows, strict=True):
        row = by_id[text_row["response_id"]]
        score = row["score"]
        items.append(
            FeedbackIn(
                text=text_row["text"],
                title=f"{survey.name}: {kinds.upper()} {score:g}",
                source="survey",
                external_id=f"survey-answer:{aid}",
                person_id=row["person_id"],
                account_id=row["account_id"],
                product_id=survey.product_id,
                received_at=row["responded_at"],
                meta={
                    "survey_id": survey.id,
                    "survey": survey.name,
                    "response_id": text_row["response_id"],
                    "score": score,
                    "score_kind": kinds,
                    "group": group_of(kinds, score),
                    "channel": row["channel"],
                },
            )
        )
    item_ids: list[int] = []
    for chunk in _chunks(items):
        item_ids.extend(feedback.ingest_many(session, ACTOR, chunk).ids)
    pairs = [{"id": a, "feedback_item_id": i} for a, i in zip(answer_ids, item_ids, strict=True)]
    for chunk in _chunks(pairs):
        session.execute(update(Answer), chunk)  # ORM bulk UPDATE by primary key
    return ids, len(item_ids)


@dataclass
class _Programme:
    """What the seeder draws from: customers, their moods, the review texts, and a seeded generator."""

    rng: random.Random
    now: dt.datetime
    people: list[tuple[int, int | None, str]]
    facts: dict[int, dict[str, Any]]
    reviews: dict[str, list[str]]
    product: int | None
    user_ids: list[int]
    mood: dict[int, float] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    comments: list[str | None] = field(default_factory=list)
    invitations: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        segment_mood = {"Enterprise": 0.15, "Mid-Market": 0.0, "SMB": -0.12}
        self.mood = {
            aid: self.rng.gauss(0, 0.35) + segment_mood.get(f.get("segment") or "", 0) for aid, f in self.facts.items()
        }

    def _answer(self, survey_id: int, aid: int | None, trend: float, at: dt.datetime, **extra: Any) -> None:
        score = _score(self.rng, self.mood.get(aid or 0, 0) + trend)
        group = group_of("nps", score)
        chance = 0.62 if extra.get("channel", "email") == "email" else 0.4
        self.comments.append(self.rng.choice(self.reviews[group]) if self.rng.random() < chance else None)
        self.rows.append({
            "survey_id": survey_id, "wave_id": None, "invitation_id": None, "person_id": None, "account_id": aid,
            "product_id": self.product, "channel": "email", "language": "en", "external_id": None,
            "score": float(score), "started_at": at, "completed_at": at, "responded_at": at, "next_key": None, **extra,
        })  # fmt: skip

    def wave(self, session: Session, survey_id: int, w: int) -> None:
        """One quarterly wave to everyone: invitations, reminders, and the answers of those who responded."""
        sent = self.now - dt.timedelta(days=91 * (WAVES - w) - 10)
        wave_id = _insert(session, Wave, [{
            "survey_id": survey_id, "name": f"Q{w + 1} relationship survey", "segment_id": None,
            "emails": [], "language": None, "scheduled_at": sent, "reminder_after_days": 4, "max_reminders": 1,
            "status": "sent", "sent_at": sent, "created_by_id": self.user_ids[0] if self.user_ids else None,
            "created_at": sent, "updated_at": sent,
        }])[0]  # fmt: skip
        trend = -0.25 + 0.12 * w  # the programme works: scores rise quarter by quarter
        rate = 0.24 + 0.02 * w
        for pid, aid, email in self.people:
            answered = self.rng.random() < rate
            nonce = new_nonce()
            reminded = not answered or self.rng.random() < 0.3
            opened = answered or self.rng.random() < 0.35
            at = sent + dt.timedelta(hours=self.rng.uniform(0.2, 24 * (6 if reminded else 2)))
            self.invitations.append({
                "wave_id": wave_id, "survey_id": survey_id, "person_id": pid, "email": email.lower(), "nonce": nonce,
                "token_hash": token_hash(token_for(nonce)), "status": "sent", "error": "", "created_at": sent,
                "sent_at": sent, "reminders_sent": 1 if reminded else 0,
                "last_reminded_at": sent + dt.timedelta(days=4) if reminded else None,
                "opened_at": at if opened else None, "completed_at": at if answered else None,
            })  # fmt: skip
            if answered:
                language = "de" if self.rng.random() < 0.15 else "en"
                self._answer(
                    survey_id, aid, trend, at, wave_id=wave_id, person_id=pid, language=language,
                    _email=email.lower(), _wave=wave_id,
                )  # fmt: skip

    def elsewhere(self, survey_id: int, count: int) -> None:
        """Answers from the in-app snippet (identified) and the public link (anonymous), spread over the year."""
        for _ in range(count):
            pid, aid, _email = self.rng.choice(self.people)
            at = self.now - dt.timedelta(days=self.rng.uniform(1, 360))
            trend = -0.25 + 0.12 * min(3, int((365 - (self.now - at).days) / 91))
            if self.rng.random() < 0.67:
                self._answer(survey_id, aid, trend, at, channel="in_app", person_id=pid)
            else:
                self._answer(survey_id, None, trend, at, channel="link")

    def link_invitations(self, session: Session) -> None:
        ids = _insert(session, Invitation, self.invitations)
        by_key = {(inv["wave_id"], inv["email"]): iid for iid, inv in zip(ids, self.invitations, strict=True)}
        for row in self.rows:
            email, wave = row.pop("_email", None), row.pop("_wave", None)
            if email is not None:
                row["invitation_id"] = by_key[(wave, email)]
        # A handful of partial responses: the score given, the "why?" page not.
        for row, comment in zip(self.rows[::97], self.comments[::97], strict=True):
            if comment is None:
                row["completed_at"], row["next_key"] = None, "why_low" if row["score"] <= 6 else "why"

    def csat(self, survey_id: int, count: int) -> list[dict[str, Any]]:
        rows = []
        for _ in range(count):
            pid, aid, _email = self.rng.choice(self.people)
            at = self.now - dt.timedelta(days=self.rng.uniform(1, 180))
            value = max(1, min(5, round(4.0 + 1.2 * self.mood.get(aid or 0, 0) + self.rng.gauss(0, 0.9))))
            rows.append({
                "survey_id": survey_id, "wave_id": None, "invitation_id": None, "person_id": pid, "account_id": aid,
                "product_id": self.product, "channel": "in_app", "language": "en", "external_id": None,
                "score": float(value), "started_at": at, "completed_at": at, "responded_at": at, "next_key": None,
            })  # fmt: skip
        return rows

    def follow_ups(self, session: Session, survey_id: int, response_ids: list[int]) -> list[dict[str, Any]]:
        """The rule for detractors at large accounts, and the follow-ups it opened (most older ones done)."""
        fallback = self.user_ids[1] if len(self.user_ids) > 1 else None
        rule_id = _insert(session, Rule, [{
            "name": "Detractor at an account over $50K ARR", "survey_id": None, "group_name": "detractor",
            "min_arr": 50_000, "assignee_id": fallback, "notify_email": True, "enabled": True,
            "created_at": self.now - dt.timedelta(days=400), "updated_at": self.now - dt.timedelta(days=400),
        }])[0]  # fmt: skip
        owners = {a.id: a.owner_id for a in customers.accounts_by_id(session, list(self.facts)).values()}
        found = []
        for rid, row in zip(response_ids, self.rows, strict=True):
            aid = row["account_id"]
            if aid is None or row["score"] > 6 or (self.facts.get(aid, {}).get("arr") or 0) < 50_000:
                continue
            done = (self.now - row["responded_at"]).days > 30 and self.rng.random() < 0.85
            found.append({
                "rule_id": rule_id, "response_id": rid, "survey_id": survey_id, "account_id": aid,
                "person_id": row["person_id"], "owner_id": owners.get(aid) or fallback,
                "status": "done" if done else "open", "score": row["score"],
                "outcome": self.rng.choice(OUTCOMES) if done else "",
                "closed_at": row["responded_at"] + dt.timedelta(days=self.rng.uniform(1, 9)) if done else None,
                "created_at": row["responded_at"], "updated_at": row["responded_at"],
            })  # fmt: skip
        _insert(session, FollowUp, found)
        return found


@registry.demo_seeder("surveys", order=40)
def seed(session: Session, ctx: DemoContext) -> str:
    existing = session.scalar(select(Survey.id).where(Survey.name == NPS_NAME))
    if existing is not None:
        count = len(list(session.scalars(select(Response.id).where(Response.survey_id == existing))))
        return f"{count:,} NPS responses (0 new)"
    people, facts = _people(session)
    if not people:
        return "no customers to survey"
    product = ctx.product_ids.get("core")
    plan = _Programme(random.Random(SEED + 6), utcnow(), people, facts, _reviews(), product, ctx.user_ids)
    nps = service.create_survey(
        session, ACTOR, SurveyIn(name=NPS_NAME, kind="nps", languages=["en", "de"], status="active", product_id=product)
    )
    csat = service.create_survey(
        session, ACTOR, SurveyIn(name=CSAT_NAME, kind="csat", languages=["en"], status="active", product_id=product)
    )
    with transaction(session):
        for w in range(WAVES):
            plan.wave(session, nps.id, w)
        plan.elsewhere(nps.id, 260)
        plan.link_invitations(session)
        response_ids, items = _responses(session, service.get_survey(session, nps.id), plan.rows, plan.comments, "nps")
        csat_rows = plan.csat(csat.id, 420)
        _responses(session, service.get_survey(session, csat.id), csat_rows, [None] * len(csat_rows), "csat")
        follow_ups = plan.follow_ups(session, nps.id, response_ids)
    open_count = sum(1 for f in follow_ups if f["status"] == "open")
    return (
        f"{len(plan.rows):,} NPS responses in {WAVES} waves ({items:,} verbatims as feedback), {len(csat_rows):,} "
        f"CSAT responses, {len(follow_ups):,} follow-ups ({open_count} open)"
    )
