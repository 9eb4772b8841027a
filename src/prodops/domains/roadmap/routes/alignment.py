"""The alignment report: share of planned effort by goal and by initiative, unaligned features, goals with no
planned work — filterable by team and product, with charts and CSV export (definitions in
``queries/alignment.py``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from prodops.domains.roadmap.queries import alignment
from prodops.domains.roadmap.queries._names import product_names, team_names
from prodops.domains.roadmap.routes._forms import csv_response, share_chart
from prodops.domains.roadmap.schemas.goals import UNIT_LABELS, AlignmentFilters
from prodops.platform import registry
from prodops.platform.deps import SessionDep, ViewerUser
from prodops.platform.web import render
from prodops.platform.web.charts import chart

router = registry.router(APIRouter(include_in_schema=False))

AlignmentQuery = Annotated[AlignmentFilters, Query()]
#: Rows of each table on the page; the CSV export has them all.
PAGE_ROWS = 100


@router.get("/roadmap/alignment", response_class=HTMLResponse)
def alignment_page(request: Request, session: SessionDep, user: ViewerUser, filters: AlignmentQuery) -> Response:
    report = alignment.report(session, filters, unaligned_limit=PAGE_ROWS)
    products, teams = product_names(session), team_names(session)
    unit = UNIT_LABELS[filters.unit]
    scope = []
    if filters.team_id is not None:
        scope.append(f"team {teams.get(filters.team_id, f'#{filters.team_id}')}")
    if filters.product_id is not None:
        scope.append(f"product {products.get(filters.product_id, f'#{filters.product_id}')}")
    context = {
        "report": report,
        "filters": filters,
        "products": products,
        "teams": teams,
        "units": UNIT_LABELS,
        "unit": unit,
        "scope": " and ".join(scope) or "all teams and products",
        "goal_chart": chart(share_chart(report.by_goal, "Planned effort by goal", unit), title="Planned effort by goal")
        if report.by_goal
        else None,
        "initiative_chart": chart(
            share_chart(report.by_initiative, "Planned effort by initiative", unit),
            title="Planned effort by initiative",
        )
        if report.by_initiative
        else None,
        "query": str(request.url.query),
        "rows": PAGE_ROWS,
    }
    return render(request, "roadmap/alignment.html", context)


@router.get("/roadmap/alignment.csv")
def alignment_csv(
    session: SessionDep,
    user: ViewerUser,
    filters: AlignmentQuery,
    section: Annotated[Literal["goals", "initiatives", "unaligned", "unstaffed"], Query()] = "goals",
) -> Response:
    report = alignment.report(session, filters, unaligned_limit=100_000)
    headers, rows = alignment.csv_rows(report, section)
    return csv_response(f"alignment-{section}.csv", headers, rows)
