"""Act on responses: rules ("a detractor from an account above ARR X opens a follow-up for the account owner") and
the follow-ups they open. A follow-up e-mails its owner (SMTP, after commit) and emits
``surveys.follow_up.opened`` — which outgoing webhooks deliver like every event; closing one records its outcome,
shown on the follow-ups list and the account's page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.surveys.models import Answer, FollowUp, Response, Rule
from prodops.domains.surveys.schemas import KIND_LABELS, FollowUpUpdate, RuleIn, RuleOut, RuleUpdate, SurveyOut
from prodops.domains.surveys.service._shared import FOLLOW_UP_CLOSED, FOLLOW_UP_OPENED
from prodops.domains.surveys.service.scoring import group_of
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import NotFound, ValidationFailed
from prodops.platform.identity.models import User
from prodops.platform.notify.email import send_email_on_commit

RULE_ENTITY = "survey_rule"
FOLLOW_UP_ENTITY = "survey_follow_up"
RULE_FIELDS = ("name", "survey_id", "group_name", "min_arr", "assignee_id", "notify_email", "enabled")
GROUP_LABELS = {"detractor": "Detractors", "passive": "Passives", "promoter": "Promoters", "any": "Anyone"}


def _check_user(session: Session, user_id: int | None, field: str) -> None:
    if user_id is not None and session.get(User, user_id) is None:
        raise ValidationFailed(field, f"there is no user {user_id}")


def _rule(session: Session, rule_id: int) -> Rule:
    rule = session.get(Rule, rule_id)
    if rule is None:
        raise NotFound("rule", rule_id)
    return rule


def create_rule(session: Session, actor: Actor, data: RuleIn) -> RuleOut:
    with transaction(session):
        _check_user(session, data.assignee_id, "assignee_id")
        if data.survey_id is not None:
            from prodops.domains.surveys.service._shared import survey_row

            survey_row(session, data.survey_id)
        rule = Rule(**data.model_dump())
        session.add(rule)
        session.flush()
        audit.record(
            session,
            actor,
            entity_type=RULE_ENTITY,
            entity_id=rule.id,
            action="create",
            changes=audit.diff({}, audit.snapshot(rule, RULE_FIELDS)),
            entity_label=rule.name,
        )
        out = RuleOut.model_validate(rule)
    return out


def update_rule(session: Session, actor: Actor, rule_id: int, data: RuleUpdate) -> RuleOut:
    changes = data.model_dump(exclude_unset=True)
    with transaction(session):
        rule = _rule(session, rule_id)
        if "assignee_id" in changes:
            _check_user(session, changes["assignee_id"], "assignee_id")
        before = audit.snapshot(rule, RULE_FIELDS)
        for key, value in changes.items():
            if value is None and key in ("name", "group_name", "notify_email", "enabled"):
                raise ValidationFailed(key, "cannot be empty")
            setattr(rule, key, value)
        diff = audit.diff(before, audit.snapshot(rule, RULE_FIELDS))
        if diff:
            audit.record(
                session,
                actor,
                entity_type=RULE_ENTITY,
                entity_id=rule.id,
                action="update",
                changes=diff,
                entity_label=rule.name,
            )
        out = RuleOut.model_validate(rule)
    return out


def delete_rule(session: Session, actor: Actor, rule_id: int) -> None:
    with transaction(session):
        rule = _rule(session, rule_id)
        before = audit.snapshot(rule, RULE_FIELDS)
        session.delete(rule)
        audit.record(
            session,
            actor,
            entity_type=RULE_ENTITY,
            entity_id=rule_id,
            action="delete",
            changes=audit.diff(before, {}),
            entity_label=before["name"],
        )


def list_rules(session: Session) -> list[RuleOut]:
    return [RuleOut.model_validate(r) for r in session.scalars(select(Rule).order_by(Rule.name, Rule.id))]


# --- applying rules ---------------------------------------------------------------------------------------------------


def matches(rule: Rule, kind: str | None, score: float | None, arr: float | None) -> bool:
    """Whether a response (its score kind, score, and its account's ARR) falls under ``rule``."""
    if not rule.enabled:
        return False
    if rule.group_name != "any" and (kind is None or score is None or group_of(kind, score) != rule.group_name):
        return False
    return not (rule.min_arr is not None and (arr is None or arr < rule.min_arr))


def _comment(session: Session, response_id: int) -> str:
    texts = session.scalars(select(Answer.text).where(Answer.response_id == response_id, Answer.text != ""))
    return "\n\n".join(texts)


def apply(session: Session, survey: SurveyOut, response: Response, actor: Actor) -> list[int]:
    """Open the follow-ups the rules call for on a completed response (inside the caller's transaction)."""
    candidates = list(
        session.scalars(
            select(Rule).where(Rule.enabled.is_(True), or_(Rule.survey_id.is_(None), Rule.survey_id == survey.id))
        )
    )
    if not candidates:
        return []
    account = customers.get_account(session, response.account_id) if response.account_id is not None else None
    kind = survey.score_kind
    opened: list[int] = []
    for rule in candidates:
        if not matches(rule, kind, response.score, account.arr if account else None):
            continue
        exists = session.scalar(
            select(FollowUp.id).where(FollowUp.rule_id == rule.id, FollowUp.response_id == response.id)
        )
        if exists:
            continue
        owner_id = (account.owner_id if account else None) or rule.assignee_id
        follow_up = FollowUp(
            rule_id=rule.id,
            response_id=response.id,
            survey_id=survey.id,
            account_id=response.account_id,
            person_id=response.person_id,
            owner_id=owner_id,
            score=response.score,
        )
        session.add(follow_up)
        session.flush()
        opened.append(follow_up.id)
        url = f"{get_settings().base_url.rstrip('/')}/surveys/follow-ups/{follow_up.id}"
        person = (
            customers.people_by_id(session, [response.person_id]).get(response.person_id)
            if response.person_id is not None
            else None
        )
        comment = _comment(session, response.id)
        payload: dict[str, Any] = {
            "id": follow_up.id,
            "rule": rule.name,
            "survey_id": survey.id,
            "survey": survey.name,
            "response_id": response.id,
            "score": response.score,
            "score_kind": kind,
            "account_id": response.account_id,
            "account": account.name if account else None,
            "arr": account.arr if account else None,
            "person_email": person.email if person else None,
            "owner_id": owner_id,
            "comment": comment[:2000],
            "url": url,
        }
        audit.record(
            session,
            actor,
            entity_type=FOLLOW_UP_ENTITY,
            entity_id=follow_up.id,
            action="create",
            changes={"rule": [None, rule.name], "score": [None, response.score]},
            entity_label=f"{survey.name}: {account.name if account else 'no account'}",
        )
        events.emit(session, FOLLOW_UP_OPENED, payload)
        owner = session.get(User, owner_id) if owner_id is not None else None
        if rule.notify_email and owner is not None and owner.is_active:
            score_text = f"{KIND_LABELS.get(kind or '', '')} {response.score:g}" if response.score is not None else ""
            send_email_on_commit(
                session,
                owner.email,
                f"Follow up: {account.name if account else (person.email if person else 'a customer')} "
                f"answered {survey.name} {score_text}".strip(),
                "surveys_follow_up",
                {
                    "owner_name": owner.name or owner.email,
                    "survey": survey.name,
                    "score": score_text,
                    "account": account.name if account else "",
                    "arr": account.arr if account else None,
                    "person": (person.name or person.email) if person else "",
                    "comment": comment,
                    "rule": rule.name,
                    "url": url,
                },
            )
    return opened


# --- follow-ups -----------------------------------------------------------------------------------------------------


def update_follow_up(session: Session, actor: Actor, follow_up_id: int, data: FollowUpUpdate) -> int:
    changes = data.model_dump(exclude_unset=True)
    with transaction(session):
        follow_up = session.get(FollowUp, follow_up_id)
        if follow_up is None:
            raise NotFound("follow-up", follow_up_id)
        if "owner_id" in changes:
            _check_user(session, changes["owner_id"], "owner_id")
        if changes.get("status") is None:
            changes.pop("status", None)
        if "outcome" in changes:
            changes["outcome"] = (changes["outcome"] or "").strip()
        before = audit.snapshot(follow_up, ("status", "outcome", "owner_id"))
        if changes.get("status") == "done" and not (changes.get("outcome") or follow_up.outcome):
            raise ValidationFailed("outcome", "Say what came of it before marking the follow-up done.")
        for key, value in changes.items():
            setattr(follow_up, key, value)
        closing = before["status"] != "done" and follow_up.status == "done"
        if closing:
            follow_up.closed_at = utcnow()
        elif follow_up.status == "open":
            follow_up.closed_at = None
        diff = audit.diff(before, audit.snapshot(follow_up, ("status", "outcome", "owner_id")))
        if diff:
            audit.record(
                session,
                actor,
                entity_type=FOLLOW_UP_ENTITY,
                entity_id=follow_up.id,
                action="update",
                changes=diff,
                entity_label=f"follow-up {follow_up.id}",
            )
        if closing:
            events.emit(
                session,
                FOLLOW_UP_CLOSED,
                {
                    "id": follow_up.id,
                    "survey_id": follow_up.survey_id,
                    "account_id": follow_up.account_id,
                    "outcome": follow_up.outcome[:2000],
                },
            )
    return follow_up_id


def response_ids_of_account(account_id: int) -> Any:
    return select(Response.id).where(Response.account_id == account_id)
