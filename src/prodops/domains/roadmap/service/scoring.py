"""Scorecards and scores: configure a product's prioritisation formula, enter inputs by hand, compute scores.

A score's inputs come, for each input of the scorecard, from (1) a value entered by hand for that feature —
which always wins and is marked as such — else (2) the evidence its source names: unique accounts asking,
ARR-weighted demand, linked feedback items and votes (the feedback service's demand facts), or the effort of
the feature plan; else (3) the input's default. An input with none of these leaves the score empty ("waits").
Formulas are parsed by :mod:`.formula` (never ``eval``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.feedback import service as feedback
from prodops.domains.feedback.service import DemandFacts
from prodops.domains.roadmap.models import FeaturePlan, Score, Scorecard
from prodops.domains.roadmap.schemas.scoring import (
    EVIDENCE_SOURCES,
    KIND_LABELS,
    InputValue,
    ScorecardIn,
    ScorecardOut,
    ScoreInputDef,
    ScoreValuesIn,
)
from prodops.domains.roadmap.service.formula import Formula, FormulaError, parse
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction, utcnow
from prodops.platform.errors import NotFound, ValidationFailed
from prodops.platform.org.models import Product

SCORECARD_SAVED = events.declare(
    "roadmap.scorecard.saved", "A scorecard (prioritisation formula) was created or changed: id, name, product_id."
)
SCORECARD_DELETED = events.declare("roadmap.scorecard.deleted", "A scorecard was deleted.")
SCORE_CHANGED = events.declare(
    "roadmap.score.changed",
    "Inputs of a feature's score were entered by hand: scorecard_id, feature_id, score_before, score, inputs.",
)


# --- reading scorecards ------------------------------------------------------------------------


def scorecard_out(card: Scorecard, product_names: Mapping[int, str] | None = None) -> ScorecardOut:
    out = ScorecardOut(
        id=card.id,
        name=card.name,
        product_id=card.product_id,
        kind=card.kind,
        formula=card.formula,
        inputs=[ScoreInputDef.model_validate(i) for i in card.inputs or []],
        active=card.active,
    )
    out.kind_label = KIND_LABELS.get(card.kind, card.kind)
    if product_names is not None and card.product_id is not None:
        out.product_name = product_names.get(card.product_id)
    return out


def _product_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Product.id, Product.name)).all())


def list_scorecards(session: Session) -> list[ScorecardOut]:
    """Every scorecard: the workspace default first, then by product and name."""
    names = _product_names(session)
    cards = session.scalars(select(Scorecard).order_by(Scorecard.product_id.is_not(None), Scorecard.name, Scorecard.id))
    return sorted(
        (scorecard_out(c, names) for c in cards),
        key=lambda c: (c.product_id is not None, (c.product_name or "").lower(), c.name.lower(), c.id),
    )


def get_scorecard(session: Session, scorecard_id: int) -> ScorecardOut:
    card = session.get(Scorecard, scorecard_id)
    if card is None:
        raise NotFound("scorecard", scorecard_id)
    return scorecard_out(card, _product_names(session))


def scorecard_for(session: Session, product_id: int | None) -> ScorecardOut | None:
    """The scorecard a product ranks with: its first active one, else the workspace default, else any active one."""
    cards = list(session.scalars(select(Scorecard).where(Scorecard.active.is_(True)).order_by(Scorecard.id)))
    chosen = next((c for c in cards if product_id is not None and c.product_id == product_id), None)
    chosen = chosen or next((c for c in cards if c.product_id is None), None)
    chosen = chosen or (cards[0] if product_id is None and cards else None)
    return scorecard_out(chosen, _product_names(session)) if chosen else None


def compile_formula(card: ScorecardOut) -> Formula:
    return parse(card.formula, {i.key for i in card.inputs})


# --- computing -------------------------------------------------------------------------------


def uses_evidence(card: ScorecardOut) -> bool:
    return any(i.source in EVIDENCE_SOURCES for i in card.inputs)


def evidence_value(source: str, facts: DemandFacts | None, effort: float | None) -> float | None:
    """The value an input's ``source`` gives a feature (None when the source has nothing: no effort yet)."""
    if source == "effort":
        return effort
    if source == "manual":
        return None
    if facts is None:
        return 0.0  # no evidence at all is a real zero: nobody asked
    return float(
        {
            "reach_accounts": facts.accounts,
            "arr_demand": facts.arr,
            "feedback_items": facts.items,
            "votes": facts.votes,
        }[source]
    )


def resolve_inputs(
    card: ScorecardOut, hand: Mapping[str, Any] | None, facts: DemandFacts | None, effort: float | None
) -> list[InputValue]:
    """Each input's value and where it came from: hand > evidence > default > missing."""
    hand = hand or {}
    found: list[InputValue] = []
    for spec in card.inputs:
        if hand.get(spec.key) is not None:
            found.append(InputValue(key=spec.key, label=spec.label, value=float(hand[spec.key]), origin="hand"))
            continue
        value = evidence_value(spec.source, facts, effort)
        if value is not None:
            found.append(InputValue(key=spec.key, label=spec.label, value=value, origin="evidence"))
        elif spec.default is not None:
            found.append(InputValue(key=spec.key, label=spec.label, value=spec.default, origin="default"))
        else:
            found.append(InputValue(key=spec.key, label=spec.label, value=None, origin="missing"))
    return found


def compute(formula: Formula, values: Iterable[InputValue]) -> float | None:
    return formula.evaluate({v.key: v.value for v in values})


def quick_score(
    card: ScorecardOut,
    formula: Formula,
    hand: Mapping[str, Any] | None,
    facts: DemandFacts | None,
    effort: float | None,
) -> float | None:
    """The score :func:`resolve_inputs` + :func:`compute` give, without building the explanation (for ranking
    thousands of features)."""
    values: dict[str, float | None] = {}
    for spec in card.inputs:
        value = hand.get(spec.key) if hand else None
        if value is None:
            value = evidence_value(spec.source, facts, effort)
        values[spec.key] = spec.default if value is None else float(value)
    return formula.evaluate(values)


def efforts(session: Session, feature_ids: Iterable[int] | None = None) -> dict[int, float]:
    """Feature id → effort of its plan (features without a plan or an estimate are left out)."""
    stmt = select(FeaturePlan.feature_id, FeaturePlan.effort).where(FeaturePlan.effort.is_not(None))
    if feature_ids is not None:
        stmt = stmt.where(FeaturePlan.feature_id.in_(list(feature_ids)))
    return {fid: float(e) for fid, e in session.execute(stmt) if e is not None}


def feature_score(session: Session, card: ScorecardOut, feature_id: int) -> tuple[float | None, list[InputValue]]:
    """One feature's score on a scorecard now, with its inputs."""
    row = session.get(Score, (card.id, feature_id))
    facts = feedback.demand_facts(session, [feature_id]).get(feature_id) if uses_evidence(card) else None
    values = resolve_inputs(card, row.inputs if row else None, facts, efforts(session, [feature_id]).get(feature_id))
    return compute(compile_formula(card), values), values


# --- writing scorecards --------------------------------------------------------------------------


def _check(session: Session, data: ScorecardIn) -> None:
    problems: list[tuple[str | None, str]] = []
    try:
        parse(data.formula or "", {i.key for i in data.inputs or []})
    except FormulaError as exc:
        problems.append(("formula", str(exc)))
    if data.product_id is not None and session.get(Product, data.product_id) is None:
        problems.append(("product_id", f"there is no product {data.product_id}"))
    if problems:
        (first_field, first), *more = problems
        raise ValidationFailed(first_field, first, more=more)


def _snapshot(card: Scorecard) -> dict[str, Any]:
    return {
        "name": card.name,
        "product_id": card.product_id,
        "kind": card.kind,
        "formula": card.formula,
        "inputs": list(card.inputs or []),
        "active": card.active,
    }


def _record(session: Session, actor: Actor, card: Scorecard, action: str, changes: dict[str, list[Any]]) -> None:
    audit.record(
        session,
        actor,
        entity_type="scorecard",
        entity_id=card.id,
        action=action,
        changes=changes,
        entity_label=card.name,
    )


def create_scorecard(session: Session, actor: Actor, data: ScorecardIn) -> ScorecardOut:
    """Add a scorecard; the formula must parse over its inputs (the error names the position)."""
    with transaction(session):
        _check(session, data)
        card = Scorecard(
            name=data.name,
            product_id=data.product_id,
            kind=data.kind,
            formula=data.formula,
            inputs=[i.model_dump() for i in data.inputs or []],
            active=data.active,
        )
        session.add(card)
        session.flush()
        _record(session, actor, card, "create", audit.diff({}, _snapshot(card)))
        events.emit(session, SCORECARD_SAVED, {"id": card.id, "name": card.name, "product_id": card.product_id})
        card_id = card.id
    return get_scorecard(session, card_id)


def update_scorecard(session: Session, actor: Actor, scorecard_id: int, data: ScorecardIn) -> ScorecardOut:
    """Replace a scorecard's definition. Hand values of inputs it no longer has are kept (harmless) and come
    back if the input does; stored scores are recomputed."""
    with transaction(session):
        card = session.get(Scorecard, scorecard_id)
        if card is None:
            raise NotFound("scorecard", scorecard_id)
        _check(session, data)
        before = _snapshot(card)
        card.name = data.name
        card.product_id = data.product_id
        card.kind = data.kind
        card.formula = data.formula or ""
        card.inputs = [i.model_dump() for i in data.inputs or []]
        card.active = data.active
        changes = audit.diff(before, _snapshot(card))
        if changes:
            _record(session, actor, card, "update", changes)
            events.emit(session, SCORECARD_SAVED, {"id": card.id, "name": card.name, "product_id": card.product_id})
            session.flush()
            _recompute(session, scorecard_out(card))
    return get_scorecard(session, scorecard_id)


def delete_scorecard(session: Session, actor: Actor, scorecard_id: int) -> None:
    with transaction(session):
        card = session.get(Scorecard, scorecard_id)
        if card is None:
            raise NotFound("scorecard", scorecard_id)
        _record(session, actor, card, "delete", audit.diff(_snapshot(card), {}))
        events.emit(session, SCORECARD_DELETED, {"id": card.id, "name": card.name})
        session.delete(card)


def _recompute(session: Session, card: ScorecardOut) -> None:
    """Refresh the stored score of every feature with hand values on this card (inside the caller's transaction)."""
    rows = list(session.scalars(select(Score).where(Score.scorecard_id == card.id)))
    if not rows:
        return
    formula = compile_formula(card)
    ids = [r.feature_id for r in rows]
    facts = feedback.demand_facts(session, ids) if uses_evidence(card) else {}
    effort = efforts(session, ids)
    now = utcnow()
    for row in rows:
        row.score = compute(
            formula, resolve_inputs(card, row.inputs, facts.get(row.feature_id), effort.get(row.feature_id))
        )
        row.computed_at = now


# --- hand values ---------------------------------------------------------------------------------


def set_inputs(
    session: Session, actor: Actor, scorecard_id: int, feature_id: int, data: ScoreValuesIn
) -> tuple[float | None, float | None, list[InputValue]]:
    """Enter (or, with null, clear) hand values of a feature's inputs; returns (score before, score, inputs).

    Every key must be an input of the scorecard; nothing is written when one is not."""
    with transaction(session):
        card_row = session.get(Scorecard, scorecard_id)
        if card_row is None:
            raise NotFound("scorecard", scorecard_id)
        card = scorecard_out(card_row)
        keys = {i.key for i in card.inputs}
        unknown = [k for k in data.values if k not in keys]
        if unknown:
            problems = [
                (f"values.{k}", f"'{k}' is not an input of “{card.name}” ({', '.join(sorted(keys))})") for k in unknown
            ]
            (first_field, first), *more = problems
            raise ValidationFailed(first_field, first, more=more)
        feature = features.get_feature(session, feature_id)
        if feature.merged_into_id is not None:
            raise ValidationFailed("feature_id", f"feature {feature_id} was merged into {feature.merged_into_id}")
        score_before, _ = feature_score(session, card, feature_id)
        row = session.get(Score, (scorecard_id, feature_id))
        if row is None:
            row = Score(scorecard_id=scorecard_id, feature_id=feature_id, inputs={})
            session.add(row)
        before = dict(row.inputs or {})
        after = dict(before)
        for key, value in data.values.items():
            if value is None:
                after.pop(key, None)
            else:
                after[key] = value
        row.inputs = after
        session.flush()
        score, values = feature_score(session, card, feature_id)
        row.score = score
        row.computed_at = utcnow()
        changes = audit.diff(before, after)
        if changes:
            audit.record(
                session,
                actor,
                entity_type="feature_score",
                entity_id=f"{scorecard_id}:{feature_id}",
                action="update",
                changes={**changes, "score": [score_before, score]},
                entity_label=f"{feature.title} ({card.name})",
            )
            events.emit(
                session,
                SCORE_CHANGED,
                {
                    "scorecard_id": scorecard_id,
                    "feature_id": feature_id,
                    "score_before": score_before,
                    "score": score,
                    "inputs": after,
                },
            )
    return score_before, score, values


def scores_for(session: Session, card: ScorecardOut, feature_ids: list[int]) -> dict[int, float | None]:
    """The current score of each feature on ``card`` (three statements for any number of features)."""
    if not feature_ids:
        return {}
    hand: dict[int, dict[str, Any]] = {}
    for chunk in range(0, len(feature_ids), 1000):
        ids = feature_ids[chunk : chunk + 1000]
        stmt = select(Score.feature_id, Score.inputs).where(Score.scorecard_id == card.id, Score.feature_id.in_(ids))
        hand.update(dict(session.execute(stmt).all()))
    facts: Mapping[int, DemandFacts] = {}
    if uses_evidence(card):
        # Past a thousand features one grouped statement over all evidence beats several restricted ones.
        facts = feedback.demand_facts(session, feature_ids if len(feature_ids) <= 1000 else None)
    effort = efforts(session, feature_ids) if any(i.source == "effort" for i in card.inputs) else {}
    formula = compile_formula(card)
    return {fid: quick_score(card, formula, hand.get(fid), facts.get(fid), effort.get(fid)) for fid in feature_ids}
