"""The "Close the loop" panel on every feature page: the send log, who would be told now, and for admins a
preview of the e-mail and "send now". JSON: ``/api/v1/feedback/features/{id}/loop``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from prodops.domains.feedback.service import loop
from prodops.domains.feedback.service.loop import OUTCOME_LABELS, LoopSummary
from prodops.platform import registry
from prodops.platform.deps import VIEWER, AdminUser, SessionDep, ViewerUser
from prodops.platform.errors import Conflict
from prodops.platform.web import flash, is_htmx, render

router = registry.router(APIRouter(include_in_schema=False))
api = registry.router(APIRouter(prefix="/api/v1/feedback", tags=["feedback close the loop"]))

registry.panel("feature", "Close the loop", "/feedback/features/{id}/loop", order=20)


def _context(data: LoopSummary) -> dict[str, object]:
    return {"data": data, "outcomes": OUTCOME_LABELS, "panel_url": f"/feedback/features/{data.feature_id}/loop"}


@router.get("/feedback/features/{feature_id}/loop", response_class=HTMLResponse)
def loop_panel(request: Request, session: SessionDep, user: ViewerUser, feature_id: int) -> Response:
    data = loop.summary(session, feature_id)
    return render(request, "feedback/loop.html", _context(data), partial="feedback/_loop.html")


@router.get("/feedback/features/{feature_id}/loop/preview", response_class=HTMLResponse)
def loop_preview(request: Request, session: SessionDep, user: AdminUser, feature_id: int) -> Response:
    data = loop.summary(session, feature_id)
    to, subject, text, html = loop.preview(session, feature_id)
    context = {**_context(data), "to": to, "subject": subject, "text": text, "html": html}
    return render(request, "feedback/loop_preview.html", context)


def _refuse_quiet_status(data: LoopSummary) -> None:
    if not data.notifies:
        raise Conflict(
            None,
            f"“{data.status_label}” does not tell people by itself, so there is nothing to send now. Mark the "
            "status to notify in the feature status settings first.",
        )


@router.post("/feedback/features/{feature_id}/loop/send")
def loop_send(request: Request, session: SessionDep, user: AdminUser, feature_id: int) -> Response:
    before = loop.summary(session, feature_id)
    _refuse_quiet_status(before)
    session.rollback()
    loop.send_now(feature_id)
    message = (
        f"Telling {before.pending} {'person' if before.pending == 1 else 'people'} that the feature is "
        f"{before.status_label.lower()}."
        if before.pending
        else "Everyone who asked was already told about this status."
    )
    if is_htmx(request):
        data = loop.summary(session, feature_id)
        return render(request, "feedback/_loop.html", {**_context(data), "notice": message})
    flash(request, message)
    return RedirectResponse(f"/features/{feature_id}", status_code=303)


@api.get(
    "/features/{feature_id}/loop",
    response_model=LoopSummary,
    dependencies=[VIEWER],
    summary="A feature's close-the-loop send log and who would be told now",
)
def api_loop(session: SessionDep, feature_id: int) -> LoopSummary:
    return loop.summary(session, feature_id)


@api.post(
    "/features/{feature_id}/loop/send",
    response_model=LoopSummary,
    status_code=202,
    summary="Tell the people not told yet about the feature's current status, if it notifies (admins)",
)
def api_loop_send(session: SessionDep, user: AdminUser, feature_id: int) -> LoopSummary:
    _refuse_quiet_status(loop.summary(session, feature_id))  # and 404 for an unknown feature
    session.rollback()
    loop.send_now(feature_id)
    return loop.summary(session, feature_id)
