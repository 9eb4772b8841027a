"""The ranked list: every feature scored on a scorecard, best first. Never commits.

Three statements whatever the number of features: the features with their plan's effort and team and their hand
values (one join), the demand facts of every feature with evidence (one grouped statement, only when the
scorecard has an evidence input), and the lifecycles for status labels. The formula is compiled once and
evaluated per feature in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.feedback import service as feedback
from prodops.domains.roadmap.models import FeaturePlan, Score
from prodops.domains.roadmap.schemas.scoring import RankedRow, Ranking, RankingFilters, ScorecardOut
from prodops.domains.roadmap.service import scoring
from prodops.platform.errors import NotFound, ValidationFailed
from prodops.platform.org.models import Product, Team

CLOSED_KINDS = frozenset({"shipped", "declined"})


@dataclass(frozen=True)
class Lifecycle:
    """Status labels and kinds per product (``None``: the workspace default)."""

    by_product: dict[int | None, dict[str, tuple[str, str]]]

    def find(self, product_id: int | None, status: str) -> tuple[str, str]:
        """(label, kind) of a status key for a product's features."""
        known = self.by_product.get(product_id) or self.by_product.get(None) or {}
        return known.get(status, (status.replace("_", " ").capitalize(), "idea"))


def lifecycles(session: Session, product_ids: set[int | None]) -> Lifecycle:
    found: dict[int | None, dict[str, tuple[str, str]]] = {}
    for pid in {None, *product_ids}:
        found[pid] = {s.key: (s.label, s.kind) for s in features.statuses_for(session, pid)}
    return Lifecycle(found)


def choose_scorecard(session: Session, f: RankingFilters) -> ScorecardOut | None:
    if f.scorecard_id is not None:
        try:
            return scoring.get_scorecard(session, f.scorecard_id)
        except NotFound as exc:
            raise ValidationFailed("scorecard_id", f"there is no scorecard {f.scorecard_id}") from exc
    return scoring.scorecard_for(session, f.product_id)


def _rows(session: Session, card: ScorecardOut, f: RankingFilters) -> list[Any]:
    feats = features.feature_facts().subquery("f")
    team = func.coalesce(FeaturePlan.team_id, feats.c.team_id)
    stmt = (
        select(
            feats.c.feature_id,
            feats.c.title,
            feats.c.product_id,
            feats.c.status,
            team.label("team_id"),
            FeaturePlan.effort,
            Score.inputs,
        )
        .select_from(feats)
        .outerjoin(FeaturePlan, FeaturePlan.feature_id == feats.c.feature_id)
        .outerjoin(Score, and_(Score.feature_id == feats.c.feature_id, Score.scorecard_id == card.id))
        .where(feats.c.merged_into_id.is_(None))
    )
    product_id = card.product_id if card.product_id is not None else f.product_id
    if product_id is not None:
        stmt = stmt.where(feats.c.product_id == product_id)
    if f.team_id is not None:
        stmt = stmt.where(team == f.team_id)
    if f.q:
        stmt = stmt.where(feats.c.title.icontains(f.q, autoescape=True))
    if f.status and f.status not in ("open", "all"):
        stmt = stmt.where(feats.c.status == f.status)
    return list(session.execute(stmt))


def ranking(
    session: Session, f: RankingFilters, *, card: ScorecardOut | None = None, locate: int | None = None
) -> Ranking | None:
    """One page of the features ranked by their score on the chosen scorecard (None when there is none).

    Features whose score cannot be computed yet (an input with no value) come last, by title. Ties keep the
    older feature first. ``locate``: a feature whose rank is wanted wherever it is (``Ranking.located_rank``)."""
    card = card or choose_scorecard(session, f)
    if card is None:
        return None
    rows = _rows(session, card, f)
    life = lifecycles(session, {r.product_id for r in rows})
    if not f.status or f.status == "open":
        rows = [r for r in rows if life.find(r.product_id, r.status)[1] not in CLOSED_KINDS]
    facts = feedback.demand_facts(session) if scoring.uses_evidence(card) else {}
    formula = scoring.compile_formula(card)
    scored: list[tuple[float | None, Any]] = []
    for r in rows:
        effort = float(r.effort) if r.effort is not None else None
        scored.append((scoring.quick_score(card, formula, r.inputs, facts.get(r.feature_id), effort), r))
    scored.sort(
        key=lambda t: (t[0] is None, -(t[0] or 0.0), t[1].title.lower() if t[0] is None else "", t[1].feature_id)
    )
    ranked_total = sum(1 for s in scored if s[0] is not None)
    located = None
    if locate is not None:
        located = next(
            (n for n, s in enumerate(scored, start=1) if s[1].feature_id == locate and s[0] is not None), None
        )
    start = (f.page - 1) * f.per_page
    page = scored[start : start + f.per_page]
    products = dict(session.execute(select(Product.id, Product.name)).all())
    teams = dict(session.execute(select(Team.id, Team.name)).all())
    items = [
        RankedRow(
            rank=start + n if score is not None else None,
            feature_id=r.feature_id,
            title=r.title,
            product_id=r.product_id,
            product_name=products.get(r.product_id) if r.product_id is not None else None,
            status=r.status,
            status_label=life.find(r.product_id, r.status)[0],
            team_id=r.team_id,
            team_name=teams.get(r.team_id) if r.team_id is not None else None,
            score=score,
            inputs=scoring.resolve_inputs(
                card, r.inputs, facts.get(r.feature_id), float(r.effort) if r.effort is not None else None
            ),
        )
        for n, (score, r) in enumerate(page, start=1)
    ]
    return Ranking(
        scorecard=card,
        items=items,
        total=len(scored),
        scored=ranked_total,
        page=f.page,
        per_page=f.per_page,
        located_rank=located,
    )


def rank_of(ranking_: Ranking, feature_id: int) -> int | None:
    return next((r.rank for r in ranking_.items if r.feature_id == feature_id), None)
