"""Acting on answers: the follow-ups list and page, the rules (administrators), the panel on every account page, and
the import of historical responses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from prodops.domains.surveys import queries
from prodops.domains.surveys import service as surveys
from prodops.domains.surveys.queries import results as results_q
from prodops.domains.surveys.schemas import KIND_LABELS, FollowUpUpdate, RuleIn, RuleUpdate
from prodops.domains.surveys.service.rules import GROUP_LABELS
from prodops.platform import audit, registry
from prodops.platform.deps import ADMIN, VIEWER, AdminUser, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity.models import User
from prodops.platform.identity.service import actor_for
from prodops.platform.tabular import ImportWizard, TabularError
from prodops.platform.web import errors_of, flash, render

router = registry.router(APIRouter(include_in_schema=False))
registry.panel("account", "Surveys and follow-ups", "/surveys/accounts/{id}/panel", order=20)
FOLLOW_UPS = "/surveys/follow-ups"
RULES = "/admin/surveys/rules"


def _users(session: Any) -> list[tuple[int, str]]:
    return [
        (u.id, u.name or u.email)
        for u in session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.name, User.email))
    ]


# --- follow-ups -----------------------------------------------------------------------------------------------------


@router.get(FOLLOW_UPS, response_class=HTMLResponse, dependencies=[VIEWER])
def follow_ups(
    request: Request,
    session: SessionDep,
    user: ViewerUser,
    status: str = "open",
    owner_id: str = "",
    page: int = 1,
    sort: str = "",
) -> Response:
    owner = user.id if owner_id == "me" else (int(owner_id) if owner_id.isdigit() else None)
    found = queries.list_follow_ups(
        session, status=None if status == "all" else status or None, owner_id=owner, sort=sort or None, page=page
    )
    context = {
        "page": found,
        "filters": {"status": status, "owner_id": owner_id, "sort": sort},
        "counts": queries.follow_up_counts(session),
        "users": _users(session),
    }
    return render(request, "surveys/follow_ups.html", context)


@router.get(FOLLOW_UPS + "/{follow_up_id:int}", response_class=HTMLResponse, dependencies=[VIEWER])
def follow_up_page(request: Request, session: SessionDep, follow_up_id: int) -> Response:
    item = queries.get_follow_up(session, follow_up_id)
    context = {
        "item": item,
        "response": queries.get_response(session, item.response_id),
        "users": _users(session),
        "history": audit.history(session, "survey_follow_up", follow_up_id, limit=20),
        "form": {"outcome": item.outcome, "owner_id": item.owner_id or "", "status": item.status},
        "errors": {},
        "kind_labels": KIND_LABELS,
    }
    return render(request, "surveys/follow_up.html", context)


@router.post(FOLLOW_UPS + "/{follow_up_id:int}")
async def follow_up_save(request: Request, session: SessionDep, user: MemberUser, follow_up_id: int) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("outcome", "owner_id", "status")}
    data: dict[str, Any] = {"outcome": values["outcome"], "status": values["status"] or None}
    data["owner_id"] = int(values["owner_id"]) if values["owner_id"].isdigit() else None
    try:
        surveys.update_follow_up(session, actor_for(user), follow_up_id, FollowUpUpdate.model_validate(data))
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        item = queries.get_follow_up(session, follow_up_id)
        context = {
            "item": item,
            "response": queries.get_response(session, item.response_id),
            "users": _users(session),
            "history": audit.history(session, "survey_follow_up", follow_up_id, limit=20),
            "form": values,
            "errors": errors_of(exc),
            "kind_labels": KIND_LABELS,
        }
        return render(request, "surveys/follow_up.html", context, status_code=422)
    flash(
        request,
        "Follow-up done: the outcome shows on the account." if values["status"] == "done" else "Follow-up saved.",
    )
    return RedirectResponse(f"{FOLLOW_UPS}/{follow_up_id}", status_code=303)


# --- the account panel --------------------------------------------------------------------------------------------


@router.get("/surveys/accounts/{account_id:int}/panel", response_class=HTMLResponse, dependencies=[VIEWER])
def account_panel(request: Request, session: SessionDep, account_id: int) -> Response:
    data = queries.account_panel(session, account_id)
    context = {"data": data, "fmt": results_q.fmt, "kind_labels": KIND_LABELS}
    return render(request, "surveys/_account_panel.html", context, partial="surveys/_account_panel.html")


# --- rules ----------------------------------------------------------------------------------------------------------


def _rules_context(session: Any) -> dict[str, Any]:
    all_surveys = queries.list_surveys(session, per_page=500).items
    return {
        "rules": surveys.list_rules(session),
        "surveys": [(s.id, s.name) for s in all_surveys],
        "survey_names": {s.id: s.name for s in all_surveys},
        "users": _users(session),
        "groups": GROUP_LABELS,
        "form": {
            "name": "",
            "survey_id": "",
            "group_name": "detractor",
            "min_arr": "",
            "assignee_id": "",
            "notify_email": True,
        },
        "errors": {},
    }


@router.get(RULES, response_class=HTMLResponse, dependencies=[ADMIN])
def rules_page(request: Request, session: SessionDep) -> Response:
    return render(request, "surveys/rules.html", _rules_context(session))


def _rule_values(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    values: dict[str, Any] = {
        k: str(form.get(k, "")).strip() for k in ("name", "survey_id", "group_name", "min_arr", "assignee_id")
    }
    values["notify_email"] = form.get("notify_email") in ("on", "true", "1")
    data: dict[str, Any] = {
        "name": values["name"],
        "group_name": values["group_name"] or "detractor",
        "notify_email": values["notify_email"],
        "survey_id": values["survey_id"] or None,
        "min_arr": values["min_arr"].replace(",", "") or None,
        "assignee_id": values["assignee_id"] or None,
    }
    return values, data


@router.post(RULES)
async def rule_create(request: Request, session: SessionDep, user: AdminUser) -> Response:
    values, data = _rule_values(await request.form())
    try:
        rule = surveys.create_rule(session, actor_for(user), RuleIn.model_validate(data))
    except (ValidationError, ServiceError) as exc:
        context = {**_rules_context(session), "form": values, "errors": errors_of(exc)}
        return render(request, "surveys/rules.html", context, status_code=422)
    flash(request, f"Rule {rule.name} created: it acts on responses completed from now on.")
    return RedirectResponse(RULES, status_code=303)


@router.post(RULES + "/{rule_id:int}/enabled")
async def rule_toggle(request: Request, session: SessionDep, user: AdminUser, rule_id: int) -> Response:
    form = await request.form()
    enabled = form.get("enabled") in ("on", "true", "1")
    rule = surveys.update_rule(session, actor_for(user), rule_id, RuleUpdate(enabled=enabled))
    flash(request, f"Rule {rule.name} {'enabled' if rule.enabled else 'paused'}.")
    return RedirectResponse(RULES, status_code=303)


@router.post(RULES + "/{rule_id:int}/delete")
def rule_delete(request: Request, session: SessionDep, user: AdminUser, rule_id: int) -> Response:
    surveys.delete_rule(session, actor_for(user), rule_id)
    flash(request, "Rule deleted. The follow-ups it opened stay.")
    return RedirectResponse(RULES, status_code=303)


# --- import ---------------------------------------------------------------------------------------------------------

wizard = ImportWizard(
    title="Import survey responses",
    entity="responses",
    columns=surveys.IMPORT_COLUMNS,
    url="/surveys/import",
    done_url="/surveys",
)


@router.get("/surveys/import", response_class=HTMLResponse)
def import_page(request: Request, user: MemberUser) -> Response:
    return render(request, "tabular/upload.html", wizard.upload_step())


@router.post("/surveys/import")
async def import_upload(request: Request, user: MemberUser, file: UploadFile) -> Response:
    try:
        ctx = wizard.mapping_step(await file.read(), file.filename or "upload.csv")
    except TabularError as exc:
        return render(request, "tabular/upload.html", wizard.upload_step(exc.message), status_code=400)
    return render(request, "tabular/mapping.html", ctx)


@router.post("/surveys/import/check")
async def import_check(request: Request, session: SessionDep, user: MemberUser) -> Response:
    sub = wizard.submitted(await request.form())
    report = surveys.import_responses(session, actor_for(user), sub.table, sub.mapping, dry_run=sub.dry_run)
    return render(request, "tabular/report.html", wizard.report_step(sub, report), status_code=report.status_code)
