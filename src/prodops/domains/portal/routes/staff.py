"""Staff pages for portal ideas (under /portal): the idea list across portals, the moderation queue, an idea's staff
view (internal notes, official answers, proxy votes, voters with accounts and ARR, status, edit, delete, block,
merge), and the "Portal ideas" panel of the feature page. Viewers read; members act."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from prodops.domains.features import service as features
from prodops.domains.portal.queries import staff as queries
from prodops.domains.portal.schemas import (
    CommentEdit,
    IdeaEdit,
    IdeaFilters,
    IdeaOut,
    ModerationIn,
    ProxyVoteIn,
    StaffCommentIn,
)
from prodops.domains.portal.service import merge, moderation, staff
from prodops.platform import audit, registry
from prodops.platform.deps import MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError, ValidationFailed
from prodops.platform.identity.service import actor_for
from prodops.platform.tabular import attachment_headers, write_csv
from prodops.platform.web import errors_of, flash, render
from prodops.platform.web.charts import chart

router = registry.router(APIRouter(include_in_schema=False))
registry.nav("Ideas", "/portal", section="Portal", order=10)
registry.nav("Moderation", "/portal/queue", section="Portal", order=20, min_role="member")
registry.panel("feature", "Portal ideas", "/portal/features/{id}/ideas", order=20)

STATE_LABELS = {
    "pending": "Waiting for approval",
    "published": "Published",
    "rejected": "Rejected",
    "merged": "Merged",
    "deleted": "Deleted",
}
CSV_LIMIT = 10_000
BADGES = {"shipped": "ok", "active": "ok", "planned": "warn", "declined": "bad"}


def _idea_url(idea_id: int, anchor: str = "") -> str:
    return f"/portal/ideas/{idea_id}{'#' + anchor if anchor else ''}"


def _flash_error(request: Request, exc: ServiceError | ValidationError) -> None:
    flash(request, "; ".join(errors_of(exc).values()), "error")


# --- the list and the queue ---------------------------------------------------------------------


@router.get("/portal", response_class=HTMLResponse)
def ideas_page(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    raw = {k: v for k, v in request.query_params.items() if k in IdeaFilters.model_fields}
    errors: dict[str, str] = {}
    try:
        filters = IdeaFilters.model_validate(raw)
    except ValidationError as exc:
        errors = errors_of(exc)
        filters = IdeaFilters()
    page = queries.list_ideas(session, filters)
    names: dict[str, dict[Any, str]] = {
        "portal_id": dict(queries.portal_choices(session)),
        "board_id": dict(queries.board_choices(session)),
        "status": dict(queries.status_choices(session)),
        "state": STATE_LABELS,
    }
    active = [
        (key, f"{label}: {names[key].get(getattr(filters, key), getattr(filters, key))}")
        for key, label in (("portal_id", "Portal"), ("board_id", "Board"), ("state", "State"), ("status", "Status"))
        if getattr(filters, key) is not None
    ]
    if filters.q:
        active.append(("q", f"“{filters.q}”"))
    return render(
        request,
        "portal/staff/ideas.html",
        {
            "page": page,
            "filters": filters,
            "names": names,
            "active": active,
            "errors": errors,
            "queue": queries.queue_size(session),
            "badges": BADGES,
            "states": STATE_LABELS,
        },
        partial="portal/staff/_ideas.html",
    )


CSV_HEADERS = [
    "id",
    "title",
    "portal",
    "board",
    "state",
    "status",
    "votes",
    "comments",
    "author",
    "author_email",
    "feature_id",
    "created_at",
]


@router.get("/portal/ideas.csv")
def ideas_csv(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    """Exactly the ideas the list shows with these filters (every page of them, up to 10,000)."""
    raw = {
        k: v for k, v in request.query_params.items() if k in IdeaFilters.model_fields and k not in ("page", "per_page")
    }
    try:
        filters = IdeaFilters.model_validate(raw)
    except ValidationError as exc:
        raise ValidationFailed(None, "; ".join(errors_of(exc).values())) from exc
    rows: list[list[Any]] = []
    page = 1
    while len(rows) < CSV_LIMIT:
        found = queries.list_ideas(session, filters.model_copy(update={"page": page, "per_page": 500}))
        rows.extend(
            [
                i.id,
                i.title,
                i.portal_slug,
                i.board_name,
                i.state,
                i.status_label,
                i.vote_count,
                i.comment_count,
                i.author_name or "",
                i.author_email or "",
                i.feature_id,
                i.created_at.isoformat(),
            ]
            for i in found.items
        )
        if page * 500 >= found.total:
            break
        page += 1
    return Response(
        write_csv(CSV_HEADERS, rows[:CSV_LIMIT]),
        media_type="text/csv; charset=utf-8",
        headers=attachment_headers("portal-ideas.csv"),
    )


@router.get("/portal/queue", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep, user: ViewerUser) -> Response:
    pending = queries.list_ideas(session, IdeaFilters(state="pending", sort="created", per_page=200))
    return render(
        request,
        "portal/staff/queue.html",
        {"ideas": pending, "comments": queries.pending_comments(session), "badges": BADGES},
    )


class ModerationForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: str = ""
    ideas: list[int] = Field(default_factory=list)
    comments: list[int] = Field(default_factory=list)
    next: str = ""


@router.post("/portal/queue")
def queue_decide(
    request: Request, session: SessionDep, user: MemberUser, form: Annotated[ModerationForm, Form()]
) -> Response:
    try:
        data = ModerationIn.model_validate({"action": form.action, "ideas": form.ideas, "comments": form.comments})
        result = moderation.moderate(session, actor_for(user), data)
    except (ValidationError, ServiceError) as exc:
        _flash_error(request, exc)
    else:
        verb = "approved" if data.action == "approve" else "rejected"
        parts = [
            f"{n} {noun}{'s' if n != 1 else ''}"
            for n, noun in ((result.ideas, "idea"), (result.comments, "comment"))
            if n
        ]
        flash(request, f"{' and '.join(parts)} {verb}.")
    target = form.next if form.next.startswith("/portal") and not form.next.startswith("//") else "/portal/queue"
    return RedirectResponse(target, status_code=303)


# --- one idea -----------------------------------------------------------------------------------


VOTERS_SHOWN = 20


def _idea_context(session: Session, idea: IdeaOut, *, all_voters: bool = False) -> dict[str, Any]:
    comments = queries.comments(session, idea.id)
    threads: dict[int | None, list[Any]] = {}
    for c in comments:
        threads.setdefault(c.parent_id, []).append(c)
    return {
        "idea": idea,
        "voters": queries.voters(session, idea.id, limit=1000 if all_voters else VOTERS_SHOWN),
        "all_voters": all_voters,
        "summary": queries.demand_summary(session, idea.id),
        "threads": threads,
        "statuses": features.statuses_for(session, _product_id(session, idea)),
        "boards": queries.board_choices(session, idea.portal_id),
        "states": STATE_LABELS,
        "badges": BADGES,
        "history": audit.history(session, "portal_idea", idea.id, limit=30),
        "chart": chart(
            src=f"/portal/ideas/{idea.id}/votes.json", title=f"Votes for “{idea.title}” per week", height=180
        ),
    }


def _product_id(session: Session, idea: IdeaOut) -> int | None:
    feature = features.features_by_id(session, [idea.feature_id]).get(idea.feature_id)
    return feature.product_id if feature is not None else None


@router.get("/portal/ideas/{idea_id}", response_class=HTMLResponse)
def idea_page(
    request: Request, session: SessionDep, user: ViewerUser, idea_id: int, voters: Annotated[str, Query()] = ""
) -> Response:
    idea = queries.get_idea(session, idea_id)
    if idea.state == "merged" and idea.merged_into_id is not None:
        flash(request, f"“{idea.title}” was merged into this idea.", "info")
        return RedirectResponse(_idea_url(idea.merged_into_id), status_code=303)
    return render(request, "portal/staff/idea.html", _idea_context(session, idea, all_voters=voters == "all"))


@router.get("/portal/ideas/{idea_id}/votes.json")
def idea_votes_chart(session: SessionDep, user: ViewerUser, idea_id: int) -> JSONResponse:
    queries.get_idea(session, idea_id)
    values = queries.vote_series(session, idea_id)
    return JSONResponse(
        {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "data": {"values": values},
            "mark": {"type": "bar", "tooltip": True},
            "encoding": {
                "x": {"field": "week", "type": "temporal", "timeUnit": "yearweek", "title": None},
                "y": {"field": "votes", "type": "quantitative", "title": "Votes per week"},
                "tooltip": [
                    {"field": "week", "type": "temporal", "timeUnit": "yearmonthdate", "title": "Week of"},
                    {"field": "votes", "type": "quantitative", "title": "Votes"},
                ],
            },
            "height": 140,
            "width": "container",
        }
    )


@router.post("/portal/ideas/{idea_id}/status")
def idea_status(
    request: Request, session: SessionDep, user: MemberUser, idea_id: int, status: Annotated[str, Form()] = ""
) -> Response:
    try:
        feature = staff.change_status(session, actor_for(user), idea_id, status)
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        _flash_error(request, exc)
    else:
        flash(request, f"Status: {feature.status_label}. Followers hear about it when the status says so.")
    return RedirectResponse(_idea_url(idea_id), status_code=303)


@router.post("/portal/ideas/{idea_id}/votes")
def idea_proxy_vote(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    idea_id: int,
    email: Annotated[str, Form()] = "",
    person_id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = ProxyVoteIn.model_validate(
            {"email": email.strip() or None, "person_id": person_id.strip() or None, "name": name}
        )
        staff.proxy_vote(session, actor_for(user), idea_id, data)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        _flash_error(request, exc)
    else:
        flash(request, f"Vote added on behalf of {email.strip() or 'the customer'}.")
    return RedirectResponse(_idea_url(idea_id, "voters"), status_code=303)


@router.post("/portal/ideas/{idea_id}/votes/{vote_id}/delete")
def idea_remove_vote(request: Request, session: SessionDep, user: MemberUser, idea_id: int, vote_id: int) -> Response:
    staff.remove_vote(session, actor_for(user), idea_id, vote_id)
    flash(request, "Vote removed.")
    return RedirectResponse(_idea_url(idea_id, "voters"), status_code=303)


@router.get("/portal/people", response_class=HTMLResponse)
def people_picker(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    q: Annotated[str, Query()] = "",
    email: Annotated[str, Query()] = "",
) -> Response:
    """Options for the "vote on behalf of" field (``q``, or ``email`` when the field itself asks)."""
    text = (q or email)[:200]
    return render(request, "portal/staff/_people.html", {"people": queries.people_search(session, text), "q": text})


@router.post("/portal/ideas/{idea_id}/comments")
def idea_comment(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    idea_id: int,
    body: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "reply",
    parent_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = StaffCommentIn.model_validate(
            {
                "body": body,
                "official": kind == "official",
                "internal": kind == "internal",
                "parent_id": parent_id.strip() or None,
            }
        )
        row = staff.comment(session, actor_for(user), idea_id, data)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        _flash_error(request, exc)
        return RedirectResponse(_idea_url(idea_id, "comment-form"), status_code=303)
    flash(
        request, {"official": "Official answer posted.", "internal": "Internal note added."}.get(kind, "Reply posted.")
    )
    return RedirectResponse(_idea_url(idea_id, f"comment-{row.id}"), status_code=303)


@router.post("/portal/comments/{comment_id}/official")
def comment_official(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    comment_id: int,
    official: Annotated[str, Form()] = "",
) -> Response:
    try:
        row = moderation.edit_comment(session, actor_for(user), comment_id, CommentEdit(official=official == "on"))
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        _flash_error(request, exc)
        return RedirectResponse("/portal", status_code=303)
    return RedirectResponse(_idea_url(row.idea_id, f"comment-{row.id}"), status_code=303)


@router.post("/portal/comments/{comment_id}/edit")
def comment_edit(
    request: Request, session: SessionDep, user: MemberUser, comment_id: int, body: Annotated[str, Form()] = ""
) -> Response:
    try:
        row = moderation.edit_comment(session, actor_for(user), comment_id, CommentEdit.model_validate({"body": body}))
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        _flash_error(request, exc)
        return RedirectResponse("/portal", status_code=303)
    flash(request, "Comment edited.")
    return RedirectResponse(_idea_url(row.idea_id, f"comment-{row.id}"), status_code=303)


@router.post("/portal/comments/{comment_id}/delete")
def comment_delete(
    request: Request, session: SessionDep, user: MemberUser, comment_id: int, reason: Annotated[str, Form()] = ""
) -> Response:
    try:
        row = moderation.delete_comment(session, actor_for(user), comment_id, reason=reason)
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        _flash_error(request, exc)
        return RedirectResponse("/portal", status_code=303)
    flash(request, "Comment deleted.")
    return RedirectResponse(_idea_url(row.idea_id), status_code=303)


@router.get("/portal/ideas/{idea_id}/edit", response_class=HTMLResponse)
def idea_edit_page(request: Request, session: SessionDep, user: MemberUser, idea_id: int) -> Response:
    idea = queries.get_idea(session, idea_id)
    return render(
        request,
        "portal/staff/idea_edit.html",
        {
            "idea": idea,
            "form": idea.model_dump(),
            "errors": {},
            "boards": queries.board_choices(session, idea.portal_id),
        },
    )


@router.post("/portal/ideas/{idea_id}/edit")
def idea_edit(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    idea_id: int,
    title: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    board_id: Annotated[str, Form()] = "",
) -> Response:
    idea = queries.get_idea(session, idea_id)
    values = {"title": title, "body": body, "board_id": board_id or idea.board_id}
    try:
        moderation.edit_idea(session, actor_for(user), idea_id, IdeaEdit.model_validate(values))
    except (ValidationError, ServiceError) as exc:
        return render(
            request,
            "portal/staff/idea_edit.html",
            {
                "idea": idea,
                "form": values,
                "errors": errors_of(exc),
                "boards": queries.board_choices(session, idea.portal_id),
            },
            status_code=422 if not isinstance(exc, ServiceError) else exc.status_code,
        )
    flash(request, "Idea saved.")
    return RedirectResponse(_idea_url(idea_id), status_code=303)


@router.post("/portal/ideas/{idea_id}/delete")
def idea_delete(
    request: Request, session: SessionDep, user: MemberUser, idea_id: int, reason: Annotated[str, Form()] = ""
) -> Response:
    try:
        moderation.delete_idea(session, actor_for(user), idea_id, reason=reason)
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        _flash_error(request, exc)
        return RedirectResponse(_idea_url(idea_id), status_code=303)
    flash(request, "Idea deleted from the portal; its feature stays in the catalogue.")
    return RedirectResponse("/portal", status_code=303)


@router.post("/portal/users/{user_id}/block")
def user_block(
    request: Request,
    session: SessionDep,
    user: MemberUser,
    user_id: int,
    reason: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    try:
        blocked = moderation.block_user(session, actor_for(user), user_id, reason)
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        _flash_error(request, exc)
    else:
        flash(request, f"{blocked.email or 'The user'} is blocked and signed out everywhere.")
    target = next if next.startswith("/portal") and not next.startswith("//") else "/portal"
    return RedirectResponse(target, status_code=303)


@router.post("/portal/users/{user_id}/unblock")
def user_unblock(
    request: Request, session: SessionDep, user: MemberUser, user_id: int, next: Annotated[str, Form()] = ""
) -> Response:
    moderation.unblock_user(session, actor_for(user), user_id)
    flash(request, "Unblocked.")
    target = next if next.startswith("/portal") and not next.startswith("//") else "/portal"
    return RedirectResponse(target, status_code=303)


@router.get("/portal/ideas/{idea_id}/merge", response_class=HTMLResponse)
def idea_merge_page(
    request: Request, session: SessionDep, user: MemberUser, idea_id: int, q: Annotated[str, Query()] = ""
) -> Response:
    idea = queries.get_idea(session, idea_id)
    choices = queries.merge_choices(session, idea, q[:200])
    return render(
        request,
        "portal/staff/merge.html",
        {"idea": idea, "choices": choices, "q": q, "errors": {}, "badges": BADGES},
        partial="portal/staff/_merge_choices.html",
    )


@router.post("/portal/ideas/{idea_id}/merge")
def idea_merge(
    request: Request, session: SessionDep, user: MemberUser, idea_id: int, into: Annotated[str, Form()] = ""
) -> Response:
    idea = queries.get_idea(session, idea_id)
    try:
        if not into.strip().isdigit():
            raise ValidationFailed("into", "pick the idea to keep")
        result = merge.merge_ideas(session, actor_for(user), idea_id, int(into))
    except ServiceError as exc:
        if exc.status_code == 404:
            raise
        choices = queries.merge_choices(session, idea)
        return render(
            request,
            "portal/staff/merge.html",
            {"idea": idea, "choices": choices, "q": "", "errors": errors_of(exc), "badges": BADGES},
            status_code=exc.status_code,
        )
    moved = (
        f"{result.votes_moved} vote(s), {result.comments_moved} comment(s), {result.followers_moved} follower(s) moved"
    )
    if result.votes_dropped:
        moved += f"; {result.votes_dropped} duplicate vote(s) dropped"
    if result.features_merged:
        moved += "; their features were merged too"
    flash(request, f"Merged. {moved}.")
    return RedirectResponse(_idea_url(result.target_id), status_code=303)


# --- the feature page's panel -------------------------------------------------------------------


@router.get("/portal/features/{feature_id}/ideas", response_class=HTMLResponse)
def feature_panel(request: Request, session: SessionDep, user: ViewerUser, feature_id: int) -> Response:
    ideas = queries.ideas_for_feature(session, feature_id)
    return render(request, "portal/staff/_feature_panel.html", {"ideas": ideas, "states": STATE_LABELS})
