"""Prioritisation: the ranked list with inline score editing, the scorecard admin pages, and their JSON API."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from prodops.domains.roadmap.queries import ranking as ranking_q
from prodops.domains.roadmap.schemas.scoring import (
    BUILTINS,
    KIND_LABELS,
    SOURCE_LABELS,
    Ranking,
    RankingFilters,
    ScorecardIn,
    ScorecardOut,
    ScoreChange,
    ScoreValuesIn,
)
from prodops.domains.roadmap.service import scoring
from prodops.domains.roadmap.service.formula import FormulaError, parse
from prodops.platform import registry
from prodops.platform.deps import ADMIN, VIEWER, AdminUser, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError, ValidationFailed
from prodops.platform.identity.service import actor_for
from prodops.platform.org import service as org
from prodops.platform.web import errors_of, flash, render

router = registry.router(APIRouter(include_in_schema=False))
api = registry.router(APIRouter(prefix="/api/v1/roadmap", tags=["roadmap"]))


def _filters(
    scorecard_id: Annotated[str | None, Query()] = None,
    product_id: Annotated[str | None, Query()] = None,
    team_id: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RankingFilters:
    try:
        return RankingFilters(
            scorecard_id=scorecard_id,
            product_id=product_id,
            team_id=team_id,
            status=status,
            q=q,
            page=page,
            per_page=per_page,
        )
    except ValidationError as exc:
        raise ValidationFailed(
            str(exc.errors()[0]["loc"][0]),
            exc.errors()[0]["msg"],
            more=[(str(e["loc"][0]), e["msg"]) for e in exc.errors()[1:]],
        ) from exc


Filters = Annotated[RankingFilters, Depends(_filters)]


def _query(f: RankingFilters, **changes: Any) -> str:
    """The list's query string for these filters (empty values left out)."""
    values = {**f.model_dump(exclude={"per_page"} if f.per_page == 50 else set()), **changes}
    values = {k: v for k, v in values.items() if v not in (None, "") and not (k == "page" and v == 1)}
    return urlencode(values)


def _context(session: Session, f: RankingFilters, found: Ranking | None, **extra: Any) -> dict[str, Any]:
    return {
        "query": _query(f),
        "prev_query": _query(f, page=f.page - 1),
        "next_query": _query(f, page=f.page + 1),
        "filters": f,
        "ranking": found,
        "scorecards": scoring.list_scorecards(session),
        "products": [(p.id, p.name) for p in org.list_products(session)],
        "teams": [(t.id, t.name) for t in org.list_teams(session)],
        "source_labels": SOURCE_LABELS,
        "changed": None,
        "error": None,
        **extra,
    }


@router.get("/roadmap/prioritise", response_class=HTMLResponse)
def prioritise_page(request: Request, session: SessionDep, user: ViewerUser, f: Filters) -> Response:
    found = ranking_q.ranking(session, f)
    return render(request, "roadmap/prioritise.html", _context(session, f, found), partial="roadmap/_ranking.html")


def _hand_values(form: Any, card: ScorecardOut) -> dict[str, float | None]:
    """The row's fields: a number is a hand value, an empty field clears it (evidence or the default again)."""
    values: dict[str, float | None] = {}
    problems: list[tuple[str | None, str]] = []
    for spec in card.inputs:
        raw = form.get(spec.key)
        if raw is None:
            continue
        text = str(raw).strip().replace(",", ".")
        if not text:
            values[spec.key] = None
            continue
        try:
            values[spec.key] = float(text)
        except ValueError:
            problems.append((spec.key, f"{spec.label}: enter a number, not {text[:20]!r}"))
    if problems:
        (field, message), *more = problems
        raise ValidationFailed(field, message, more=more)
    return values


@router.post("/roadmap/prioritise/{scorecard_id}/features/{feature_id}", response_class=HTMLResponse)
async def prioritise_edit(
    request: Request, session: SessionDep, user: MemberUser, scorecard_id: int, feature_id: int
) -> Response:
    """Save a row's hand values and answer with the re-ranked list (HTMX) showing where the feature moved.

    The query string carries the list's filters, so the answer is the list the person was looking at."""
    form = await request.form()
    card = scoring.get_scorecard(session, scorecard_id)
    params = request.query_params
    f = _filters(
        scorecard_id=str(scorecard_id),
        product_id=params.get("product_id"),
        team_id=params.get("team_id"),
        status=params.get("status"),
        q=params.get("q"),
        page=int(params["page"]) if params.get("page", "").isdigit() else 1,
        per_page=int(params["per_page"]) if params.get("per_page", "").isdigit() else 50,
    )
    raw_rank = str(form.get("was_rank") or "").strip()
    was_rank = int(raw_rank) if raw_rank.isdigit() else None
    try:
        values = _hand_values(form, card)
        if not values:
            raise ValidationFailed(None, "nothing to save")
        score_before, score, _ = scoring.set_inputs(
            session, actor_for(user), scorecard_id, feature_id, ScoreValuesIn(values=values)
        )
    except (ValidationError, ServiceError) as exc:
        found = ranking_q.ranking(session, f, card=card)
        errors = errors_of(exc)
        context = _context(session, f, found, error={"feature_id": feature_id, "message": "; ".join(errors.values())})
        return render(request, "roadmap/prioritise.html", context, partial="roadmap/_ranking.html", status_code=422)
    found = ranking_q.ranking(session, f, card=card, locate=feature_id)
    change = ScoreChange(
        feature_id=feature_id,
        score_before=score_before,
        score=score,
        rank_before=was_rank,
        rank=found.located_rank if found else None,
    )
    title = next((r.title for r in found.items if r.feature_id == feature_id), None) if found else None
    context = _context(session, f, found, changed={**change.model_dump(), "title": title})
    return render(request, "roadmap/prioritise.html", context, partial="roadmap/_ranking.html")


# --- scorecard admin ---------------------------------------------------------------------------


def _card_form(card: ScorecardOut | None) -> dict[str, Any]:
    if card is None:
        kind = "rice"
        return {"name": "", "product_id": "", "kind": kind, "formula": "", "active": True, "inputs": []}
    return {
        "name": card.name,
        "product_id": card.product_id or "",
        "kind": card.kind,
        "formula": card.formula if card.kind == "custom" else "",
        "active": card.active,
        "inputs": [i.model_dump() for i in card.inputs],
    }


def _parse_card_form(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The submitted form (to show again) and the payload for :class:`ScorecardIn`. Input rows are
    ``inputs-N-key``, ``-label``, ``-source``, ``-default``; rows without a key are left out."""
    rows: list[dict[str, Any]] = []
    for n in range(25):
        key = str(form.get(f"inputs-{n}-key") or "").strip()
        label = str(form.get(f"inputs-{n}-label") or "").strip()
        source = str(form.get(f"inputs-{n}-source") or "manual").strip()
        default = str(form.get(f"inputs-{n}-default") or "").strip()
        if key or label or default:
            rows.append({"key": key, "label": label, "source": source, "default": default})
    shown = {
        "name": str(form.get("name") or ""),
        "product_id": str(form.get("product_id") or ""),
        "kind": str(form.get("kind") or "rice"),
        "formula": str(form.get("formula") or ""),
        "active": form.get("active") in ("on", "true", "1"),
        "inputs": rows,
    }
    payload: dict[str, Any] = {k: shown[k] for k in ("name", "product_id", "kind", "formula", "active")}
    payload["inputs"] = [{**r, "default": r["default"].replace(",", ".") or None} for r in rows] or None
    return shown, payload


def _admin_context(
    session: Session, form: dict[str, Any], errors: dict[str, str], card: ScorecardOut | None
) -> dict[str, Any]:
    return {
        "form": form,
        "errors": errors,
        "card": card,
        "cards": scoring.list_scorecards(session),
        "products": [(p.id, p.name) for p in org.list_products(session)],
        "kinds": KIND_LABELS,
        "sources": SOURCE_LABELS,
        "builtins": {k: (f, [i.model_dump() for i in inputs]) for k, (f, inputs) in BUILTINS.items()},
    }


@router.get("/admin/roadmap/scorecards", response_class=HTMLResponse)
def scorecards_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    return render(request, "roadmap/scorecards.html", _admin_context(session, _card_form(None), {}, None))


@router.get("/admin/roadmap/scorecards/{scorecard_id}", response_class=HTMLResponse)
def scorecard_page(request: Request, session: SessionDep, user: AdminUser, scorecard_id: int) -> Response:
    card = scoring.get_scorecard(session, scorecard_id)
    return render(request, "roadmap/scorecards.html", _admin_context(session, _card_form(card), {}, card))


def _input_errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        name = "-".join(["inputs", *loc[1:]]) if loc and loc[0] == "inputs" else (loc[0] if loc else "_")
        found.setdefault(name, err["msg"].removeprefix("Value error, "))
    return found


@router.post("/admin/roadmap/scorecards")
async def scorecard_save(request: Request, session: SessionDep, user: AdminUser) -> Response:
    """Create (or, with ``id``, change) a scorecard; errors come back next to their fields."""
    form = await request.form()
    raw_id = str(form.get("id") or "").strip()
    card = scoring.get_scorecard(session, int(raw_id)) if raw_id.isdigit() else None
    shown, payload = _parse_card_form(form)
    try:
        data = ScorecardIn.model_validate(payload)
        saved = (
            scoring.update_scorecard(session, actor_for(user), card.id, data)
            if card
            else scoring.create_scorecard(session, actor_for(user), data)
        )
    except ValidationError as exc:
        context = _admin_context(session, shown, _input_errors(exc), card)
        return render(request, "roadmap/scorecards.html", context, status_code=422)
    except ServiceError as exc:
        context = _admin_context(session, shown, errors_of(exc), card)
        return render(request, "roadmap/scorecards.html", context, status_code=exc.status_code)
    flash(request, f"Scorecard “{saved.name}” saved.")
    return RedirectResponse(f"/admin/roadmap/scorecards/{saved.id}", status_code=303)


@router.post("/admin/roadmap/scorecards/{scorecard_id}/delete")
def scorecard_delete(request: Request, session: SessionDep, user: AdminUser, scorecard_id: int) -> Response:
    scoring.delete_scorecard(session, actor_for(user), scorecard_id)
    flash(request, "Scorecard deleted.")
    return RedirectResponse("/admin/roadmap/scorecards", status_code=303)


@router.post("/admin/roadmap/scorecards/check", response_class=HTMLResponse, dependencies=[ADMIN])
async def scorecard_check(request: Request) -> Response:
    """Checks the formula as it is typed: the message names the position of the first problem."""
    form = await request.form()
    _, payload = _parse_card_form(form)
    try:
        data = ScorecardIn.model_validate(payload)
        parse(data.formula or "", {i.key for i in data.inputs or []})
        message, ok = "The formula is valid.", True
    except ValidationError as exc:
        message, ok = "; ".join(_input_errors(exc).values()), False
    except FormulaError as exc:
        message, ok = str(exc), False
    cls = "ok" if ok else "field-error"
    return HTMLResponse(f'<small class="{cls}" id="formula-check" role="status">{_escape(message)}</small>')


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


# --- API ----------------------------------------------------------------------------------------


@api.get("/scorecards", dependencies=[VIEWER])
def api_scorecards(session: SessionDep) -> dict[str, Any]:
    cards = scoring.list_scorecards(session)
    return {"items": [c.model_dump() for c in cards], "total": len(cards)}


@api.post("/scorecards", status_code=201)
def api_scorecard_create(session: SessionDep, user: AdminUser, data: ScorecardIn) -> ScorecardOut:
    return scoring.create_scorecard(session, actor_for(user), data)


@api.get("/scorecards/{scorecard_id}", dependencies=[VIEWER])
def api_scorecard(session: SessionDep, scorecard_id: int) -> ScorecardOut:
    return scoring.get_scorecard(session, scorecard_id)


@api.put("/scorecards/{scorecard_id}")
def api_scorecard_update(session: SessionDep, user: AdminUser, scorecard_id: int, data: ScorecardIn) -> ScorecardOut:
    return scoring.update_scorecard(session, actor_for(user), scorecard_id, data)


@api.delete("/scorecards/{scorecard_id}", status_code=204)
def api_scorecard_delete(session: SessionDep, user: AdminUser, scorecard_id: int) -> Response:
    scoring.delete_scorecard(session, actor_for(user), scorecard_id)
    return Response(status_code=204)


@api.get("/ranking", dependencies=[VIEWER])
def api_ranking(session: SessionDep, f: Filters) -> Ranking:
    found = ranking_q.ranking(session, f)
    if found is None:
        raise ValidationFailed("scorecard_id", "there is no scorecard yet; an admin creates one first")
    return found


@api.put("/scorecards/{scorecard_id}/scores/{feature_id}")
def api_score_set(
    session: SessionDep, user: MemberUser, scorecard_id: int, feature_id: int, data: ScoreValuesIn
) -> dict[str, Any]:
    """Enter hand values (null clears one); answers the score before and after and each input's origin."""
    before, score, values = scoring.set_inputs(session, actor_for(user), scorecard_id, feature_id, data)
    return {
        "feature_id": feature_id,
        "score_before": before,
        "score": score,
        "inputs": [v.model_dump() for v in values],
    }


@api.get("/scorecards/{scorecard_id}/scores/{feature_id}", dependencies=[VIEWER])
def api_score(session: SessionDep, scorecard_id: int, feature_id: int) -> dict[str, Any]:
    card = scoring.get_scorecard(session, scorecard_id)
    score, values = scoring.feature_score(session, card, feature_id)
    return {"feature_id": feature_id, "score": score, "inputs": [v.model_dump() for v in values]}
