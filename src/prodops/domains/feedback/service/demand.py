"""Demand facts for other domains: how much customers want each feature, as the demand ranking counts it."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel
from sqlalchemy.orm import Session

from prodops.domains.feedback.queries import demand


class DemandFacts(BaseModel):
    """One feature's evidence, with the definitions of the demand ranking (README "Demand")."""

    feature_id: int
    items: int = 0
    """Linked feedback items."""
    votes: int = 0
    """Votes (cast on the portal or by staff on a customer's behalf)."""
    people: int = 0
    accounts: int = 0
    """Distinct accounts among the linked items' accounts and the voters' accounts ("unique accounts asking")."""
    arr: float = 0.0
    """ARR-weighted demand: the current ARR of those accounts, each once."""
    score: float = 0.0
    """Importance-weighted score of the links."""


def demand_facts(session: Session, feature_ids: Sequence[int] | None = None) -> dict[int, DemandFacts]:
    """Every surviving feature with evidence (or only ``feature_ids``) → its demand facts, in one statement.

    Features without evidence are left out: callers treat them as zero."""
    ids = None if feature_ids is None else sorted(set(feature_ids))
    if ids is not None and not ids:
        return {}
    found: dict[int, DemandFacts] = {}
    # Chunk explicit ids so no statement carries an unbounded IN list.
    chunks: list[Sequence[int] | None] = (
        [None] if ids is None else [ids[i : i + 1000] for i in range(0, len(ids), 1000)]
    )
    for chunk in chunks:
        for row in demand.evidence_rows(session, chunk):
            found[row.feature_id] = DemandFacts.model_construct(  # counts straight from grouped SQL
                feature_id=row.feature_id,
                items=int(row.items or 0),
                votes=int(row.votes or 0),
                people=int(row.people or 0),
                accounts=int(row.accounts or 0),
                arr=float(row.arr or 0),
                score=float(row.score or 0),
            )
    return found
