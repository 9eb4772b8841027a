"""Survey tables exposed to the analytics warehouse, so dashboards can chart NPS next to usage.

``survey_responses`` — one row per scored response (no text): when, which survey and kind, the score, the NPS
group (promoter 9–10, passive 7–8, detractor 0–6; empty for CSAT/CES) and the account, person and product.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session

from prodops.domains.surveys.models import Response, Survey
from prodops.platform import registry


@registry.dataset("survey_responses")
def survey_responses(session: Session) -> Select[*tuple[Any, ...]]:
    """Scored survey responses with their survey kind, score and NPS group."""
    group = case(
        (Survey.kind != "nps", None),
        (Response.score >= 9, "promoter"),
        (Response.score >= 7, "passive"),
        else_="detractor",
    )
    return (
        select(
            Response.id.label("id"),
            Response.responded_at.label("responded_at"),
            Response.survey_id.label("survey_id"),
            Survey.kind.label("kind"),
            Response.channel.label("channel"),
            Response.score.label("score"),
            group.label("nps_group"),
            Response.account_id.label("account_id"),
            Response.person_id.label("person_id"),
            Response.product_id.label("product_id"),
        )
        .join(Survey, Survey.id == Response.survey_id)
        .where(Response.score.is_not(None))
        .order_by(Response.id)
    )
