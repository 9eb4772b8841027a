"""Survey pages: the list, a new survey, results (Insight pattern), responses, verbatim themes by group, waves and
the builder (settings, questions, languages, branching)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from prodops.domains.customers import service as customers
from prodops.domains.surveys import queries
from prodops.domains.surveys import service as surveys
from prodops.domains.surveys.queries import results as results_q
from prodops.domains.surveys.routes._forms import (
    branches_text,
    describe_branch,
    filters_from,
    options_text,
    parse_branches,
    parse_options,
)
from prodops.domains.surveys.schemas import (
    CHANNEL_LABELS,
    KIND_LABELS,
    QTYPE_LABELS,
    QuestionIn,
    SurveyIn,
    SurveyOut,
    SurveyUpdate,
    WaveIn,
)
from prodops.platform import audit, registry
from prodops.platform.config import get_settings
from prodops.platform.deps import MEMBER, VIEWER, AdminUser, MemberUser, SessionDep, ViewerUser
from prodops.platform.errors import ServiceError
from prodops.platform.identity.service import actor_for
from prodops.platform.org.models import Product
from prodops.platform.web import errors_of, flash, render
from prodops.platform.web.charts import chart

router = registry.router(APIRouter(include_in_schema=False))
PAGE = "/surveys"
GROUP_LABELS = {"promoter": "Promoters", "passive": "Passives", "detractor": "Detractors"}
GROUP_WORDS = {
    "nps": {"promoter": "9–10", "passive": "7–8", "detractor": "0–6"},
    "csat": {"promoter": "4–5", "passive": "3", "detractor": "1–2"},
    "ces": {"promoter": "6–7", "passive": "4–5", "detractor": "1–3"},
}


def _products(session: SessionDep) -> list[tuple[int, str]]:
    from sqlalchemy import select

    return [(p.id, p.name) for p in session.scalars(select(Product).order_by(Product.name))]


def _base(survey: SurveyOut, tab: str) -> dict[str, Any]:
    return {
        "survey": survey,
        "tab": tab,
        "kind_labels": KIND_LABELS,
        "group_labels": GROUP_LABELS,
        "group_words": GROUP_WORDS.get(survey.score_kind or "nps", GROUP_WORDS["nps"]),
    }


def public_url(request: Request, survey: SurveyOut) -> str:
    settings = get_settings()
    base = (
        settings.base_url.rstrip("/") if "base_url" in settings.model_fields_set else str(request.base_url).rstrip("/")
    )
    return f"{base}/survey/p/{survey.public_key}"


# --- list and create ------------------------------------------------------------------------------------------------


@router.get(PAGE, response_class=HTMLResponse, dependencies=[VIEWER])
def surveys_page(
    request: Request, session: SessionDep, q: str = "", status: str = "", sort: str = "", page: int = 1
) -> Response:
    found = queries.list_surveys(session, q=q or None, status=status or None, sort=sort or None, page=page)
    open_follow_ups = queries.follow_up_counts(session).get("open", 0)
    return render(
        request,
        "surveys/list.html",
        {
            "page": found,
            "filters": {"q": q, "status": status, "sort": sort},
            "kind_labels": KIND_LABELS,
            "open_follow_ups": open_follow_ups,
            "fmt": results_q.fmt,
        },
    )


def _new_form() -> dict[str, Any]:
    return {"name": "", "kind": "nps", "languages": "en", "throttle_days": "", "product_id": ""}


@router.get(PAGE + "/new", response_class=HTMLResponse, dependencies=[MEMBER])
def new_page(request: Request, session: SessionDep) -> Response:
    context = {"form": _new_form(), "errors": {}, "kinds": KIND_LABELS, "products": _products(session)}
    return render(request, "surveys/new.html", context)


@router.post(PAGE)
async def create(request: Request, session: SessionDep, user: MemberUser) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("name", "kind", "languages", "throttle_days", "product_id")}
    data: dict[str, Any] = {"name": values["name"], "kind": values["kind"], "languages": values["languages"] or "en"}
    if values["throttle_days"]:
        data["throttle_days"] = values["throttle_days"]
    if values["product_id"]:
        data["product_id"] = values["product_id"]
    try:
        created = surveys.create_survey(session, actor_for(user), SurveyIn.model_validate(data))
    except (ValidationError, ServiceError) as exc:
        context = {"form": values, "errors": errors_of(exc), "kinds": KIND_LABELS, "products": _products(session)}
        return render(request, "surveys/new.html", context, status_code=422)
    flash(
        request, f"Survey {created.name} created as a draft. Check its questions, then send a wave or share its link."
    )
    return RedirectResponse(f"{PAGE}/{created.id}/builder", status_code=303)


# --- results --------------------------------------------------------------------------------------------------------


def _results_context(request: Request, session: SessionDep, survey_id: int) -> dict[str, Any]:
    f = filters_from(request)
    res = results_q.results(session, survey_id, f, interval=request.query_params.get("interval") or None)
    survey = res.survey
    query = request.url.query
    active = [
        (key, f"{label}: {request.query_params[key]}")
        for key, label in (
            ("plan", "Plan"),
            ("segment", "Segment"),
            ("region", "Region"),
            ("since", "From"),
            ("until", "Until"),
        )
        if request.query_params.get(key)
    ]
    saved = customers.list_segments(session)
    if f.segment_id is not None:
        name = next((s.name for s in saved if s.id == f.segment_id), f"#{f.segment_id}")
        active.append(("segment_id", f"Saved segment: {name}"))
    return {
        **_base(survey, "results"),
        "res": res,
        "fmt": results_q.fmt,
        "chart": chart(
            src=f"{PAGE}/{survey.id}/results/chart.json" + (f"?{query}" if query else ""),
            title=f"{res.kind_label} per {res.interval} with its 95% interval",
            height=260,
        ),
        "dimension_labels": results_q.DIMENSION_LABELS,
        "definition": results_q.definition(res.kind),
        "active": active,
        "saved_segments": saved,
        "channel_labels": CHANNEL_LABELS,
    }


@router.get(PAGE + "/{survey_id:int}", response_class=HTMLResponse, dependencies=[VIEWER])
def results_page(request: Request, session: SessionDep, survey_id: int) -> Response:
    return render(request, "surveys/results.html", _results_context(request, session, survey_id))


@router.get(PAGE + "/{survey_id:int}/results/chart.json", dependencies=[VIEWER])
def results_chart(request: Request, session: SessionDep, survey_id: int) -> JSONResponse:
    f = filters_from(request)
    res = results_q.results(session, survey_id, f, interval=request.query_params.get("interval") or None)
    return JSONResponse(results_q.chart_spec(res))


# --- responses and themes -----------------------------------------------------------------------------------------


@router.get(PAGE + "/{survey_id:int}/responses", response_class=HTMLResponse, dependencies=[VIEWER])
def responses_page(
    request: Request, session: SessionDep, survey_id: int, group: str = "", channel: str = "", page: int = 1
) -> Response:
    survey = surveys.get_survey(session, survey_id)
    found = queries.list_responses(
        session, survey_id, survey.score_kind, group=group or None, channel=channel or None, page=page
    )
    context = {
        **_base(survey, "responses"),
        "page": found,
        "filters": {"group": group, "channel": channel},
        "channel_labels": CHANNEL_LABELS,
    }
    return render(request, "surveys/responses.html", context)


@router.get(PAGE + "/{survey_id:int}/themes", response_class=HTMLResponse, dependencies=[VIEWER])
def themes_page(request: Request, session: SessionDep, survey_id: int) -> Response:
    survey = surveys.get_survey(session, survey_id)
    kind = survey.score_kind or "nps"
    groups = queries.themes_by_group(session, survey_id, kind) if survey.score_kind else []
    samples = {g.group: queries.verbatims(session, survey_id, survey.score_kind, g.group, limit=5) for g in groups}
    return render(request, "surveys/themes.html", {**_base(survey, "themes"), "groups": groups, "samples": samples})


# --- waves and distribution ---------------------------------------------------------------------------------------


def _waves_context(request: Request, session: SessionDep, survey: SurveyOut) -> dict[str, Any]:
    from prodops.domains.surveys.routes.public import snippet

    return {
        **_base(survey, "waves"),
        "waves": surveys.list_waves(session, survey.id),
        "segments": customers.list_segments(session),
        "public_url": public_url(request, survey),
        "snippet": snippet(request, survey),
        "form": {
            "name": "",
            "segment_id": "",
            "emails": "",
            "language": "",
            "scheduled_at": "",
            "reminder_after_days": 3,
            "max_reminders": 1,
        },
        "errors": {},
        "throttle_days": survey.throttle_days
        if survey.throttle_days is not None
        else get_settings().survey_throttle_days,
    }


@router.get(PAGE + "/{survey_id:int}/waves", response_class=HTMLResponse, dependencies=[VIEWER])
def waves_page(request: Request, session: SessionDep, survey_id: int) -> Response:
    survey = surveys.get_survey(session, survey_id)
    return render(request, "surveys/waves.html", _waves_context(request, session, survey))


@router.post(PAGE + "/{survey_id:int}/waves")
async def wave_create(request: Request, session: SessionDep, user: MemberUser, survey_id: int) -> Response:
    form = await request.form()
    keys = ("name", "segment_id", "emails", "language", "scheduled_at", "reminder_after_days", "max_reminders")
    values = {k: str(form.get(k, "")).strip() for k in keys}
    data = {k: v for k, v in values.items() if v != ""}
    try:
        wave = surveys.create_wave(session, actor_for(user), survey_id, WaveIn.model_validate(data))
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        survey = surveys.get_survey(session, survey_id)
        context = {**_waves_context(request, session, survey), "form": values, "errors": errors_of(exc)}
        return render(request, "surveys/waves.html", context, status_code=422)
    flash(request, f"Wave {wave.name} scheduled for {wave.scheduled_at:%d %b %Y %H:%M} UTC.")
    return RedirectResponse(f"{PAGE}/{survey_id}/waves", status_code=303)


@router.post(PAGE + "/waves/{wave_id:int}/cancel")
def wave_cancel(request: Request, session: SessionDep, user: MemberUser, wave_id: int) -> Response:
    wave = surveys.cancel_wave(session, actor_for(user), wave_id)
    flash(request, f"Wave {wave.name} cancelled: nobody was e-mailed.")
    return RedirectResponse(f"{PAGE}/{wave.survey_id}/waves", status_code=303)


# --- builder ----------------------------------------------------------------------------------------------------------


def _question_form(survey: SurveyOut, key: str | None) -> dict[str, Any]:
    lang = survey.language
    if key is None:
        return {
            "original_key": "",
            "key": "",
            "qtype": "text",
            "required": False,
            "options": "",
            "branches": "",
            "scale_max": "5",
            **{f"text_{lg}": "" for lg in survey.languages},
        }
    q = next(q for q in survey.questions if q.key == key)
    return {
        "original_key": q.key,
        "key": q.key,
        "qtype": q.qtype,
        "required": q.required,
        "options": options_text(q, lang),
        "branches": branches_text(q),
        "scale_max": str(len(q.options)) if q.qtype == "rating" else "5",
        **{f"text_{lg}": q.text.get(lg, "") for lg in survey.languages},
    }


def _builder_context(session: SessionDep, survey: SurveyOut, history: bool = True) -> dict[str, Any]:
    return {
        **_base(survey, "builder"),
        "qtypes": QTYPE_LABELS,
        "describe_branch": describe_branch,
        "settings_form": {
            "name": survey.name,
            "languages": ", ".join(survey.languages),
            "status": survey.status,
            "throttle_days": "" if survey.throttle_days is None else survey.throttle_days,
            "product_id": survey.product_id or "",
            **{f"intro_{lg}": survey.intro.get(lg, "") for lg in survey.languages},
            **{f"thanks_{lg}": survey.thank_you.get(lg, "") for lg in survey.languages},
        },
        "settings_errors": {},
        "question_form": _question_form(survey, None),
        "question_errors": {},
        "products": _products(session),
        "history": audit.history(session, "survey", survey.id, limit=15) if history else [],
        "default_throttle": get_settings().survey_throttle_days,
    }


@router.get(PAGE + "/{survey_id:int}/builder", response_class=HTMLResponse, dependencies=[VIEWER])
def builder_page(request: Request, session: SessionDep, survey_id: int, edit: str = "") -> Response:
    survey = surveys.get_survey(session, survey_id)
    context = _builder_context(session, survey)
    if edit and any(q.key == edit for q in survey.questions):
        context["question_form"] = _question_form(survey, edit)
    return render(request, "surveys/builder.html", context)


def _texts(form: FormData, prefix: str, languages: list[str]) -> dict[str, str]:
    return {
        lg: str(form.get(f"{prefix}{lg}", "")).strip() for lg in languages if str(form.get(f"{prefix}{lg}", "")).strip()
    }


@router.post(PAGE + "/{survey_id:int}/settings")
async def settings_save(request: Request, session: SessionDep, user: MemberUser, survey_id: int) -> Response:
    survey = surveys.get_survey(session, survey_id)
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("name", "languages", "status", "throttle_days", "product_id")}
    data: dict[str, Any] = {
        "name": values["name"],
        "languages": values["languages"],
        "status": values["status"],
        "throttle_days": values["throttle_days"] or None,
        "product_id": values["product_id"] or None,
        "intro": _texts(form, "intro_", survey.languages),
        "thank_you": _texts(form, "thanks_", survey.languages),
    }
    try:
        surveys.update_survey(session, actor_for(user), survey_id, SurveyUpdate.model_validate(data))
    except (ValidationError, ServiceError) as exc:
        context = _builder_context(session, survey)
        context["settings_form"] = {
            **context["settings_form"],
            **values,
            **{k: v for k, v in form.items() if isinstance(v, str)},
        }
        context["settings_errors"] = errors_of(exc)
        return render(request, "surveys/builder.html", context, status_code=422)
    flash(request, "Survey settings saved.")
    return RedirectResponse(f"{PAGE}/{survey_id}/builder", status_code=303)


@router.post(PAGE + "/{survey_id:int}/questions")
async def question_save(request: Request, session: SessionDep, user: MemberUser, survey_id: int) -> Response:
    """Add a question, or change the one named by ``original_key``; the whole set is validated and saved."""
    survey = surveys.get_survey(session, survey_id)
    form = await request.form()
    values: dict[str, Any] = {
        k: str(form.get(k, "")).strip() for k in ("original_key", "key", "qtype", "options", "branches", "scale_max")
    }
    values["required"] = form.get("required") in ("on", "true", "1")
    values.update({f"text_{lg}": str(form.get(f"text_{lg}", "")).strip() for lg in survey.languages})
    try:
        data = {
            "key": values["key"],
            "qtype": values["qtype"],
            "text": _texts(form, "text_", survey.languages),
            "required": values["required"],
            "options": parse_options(values["options"], survey.language)
            if values["qtype"] in ("single", "multi")
            else [],
            "branches": parse_branches(values["branches"]),
            "scale_max": values["scale_max"] if values["qtype"] == "rating" and values["scale_max"] else None,
        }
        question = QuestionIn.model_validate(data)
        current = surveys.as_inputs(survey)
        original = values["original_key"]
        if original:
            current = [question if q.key == original else q for q in current]
            # Branches elsewhere that pointed at the renamed question follow it.
            if original != question.key:
                for q in current:
                    for b in q.branches:
                        if b.goto == original:
                            b.goto = question.key
        else:
            current.append(question)
        surveys.save_questions(session, actor_for(user), survey_id, current)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ServiceError) and exc.status_code == 404:
            raise
        errors = errors_of(exc)
        # Errors about the whole set are reported as questions.N.field: show them on this form.
        for key, message in list(errors.items()):
            if key.startswith("questions"):
                errors.setdefault(key.rsplit(".", 1)[-1] if "." in key else "_", message)
                errors.setdefault("_", message)
        context = {**_builder_context(session, survey), "question_form": values, "question_errors": errors}
        return render(request, "surveys/builder.html", context, status_code=422)
    flash(request, f"Question {question.key} saved.")
    return RedirectResponse(f"{PAGE}/{survey_id}/builder#q-{question.key}", status_code=303)


@router.post(PAGE + "/{survey_id:int}/questions/{key}/delete")
def question_delete(request: Request, session: SessionDep, user: MemberUser, survey_id: int, key: str) -> Response:
    survey = surveys.get_survey(session, survey_id)
    remaining = [q for q in surveys.as_inputs(survey) if q.key != key]
    try:
        surveys.save_questions(session, actor_for(user), survey_id, remaining)
    except ServiceError as exc:
        flash(request, f"Question {key} was not removed: {exc.message}", "error")
        return RedirectResponse(f"{PAGE}/{survey_id}/builder", status_code=303)
    flash(request, f"Question {key} removed.")
    return RedirectResponse(f"{PAGE}/{survey_id}/builder", status_code=303)


@router.post(PAGE + "/{survey_id:int}/questions/{key}/move")
async def question_move(request: Request, session: SessionDep, user: MemberUser, survey_id: int, key: str) -> Response:
    form = await request.form()
    survey = surveys.get_survey(session, survey_id)
    current = surveys.as_inputs(survey)
    keys = [q.key for q in current]
    if key in keys:
        at = keys.index(key)
        to = at - 1 if form.get("direction") == "up" else at + 1
        if 0 <= to < len(current):
            current[at], current[to] = current[to], current[at]
            try:
                surveys.save_questions(session, actor_for(user), survey_id, current)
            except ServiceError as exc:
                flash(request, f"Not moved: {exc.message}", "error")
    return RedirectResponse(f"{PAGE}/{survey_id}/builder#q-{key}", status_code=303)


@router.post(PAGE + "/{survey_id:int}/delete")
def survey_delete(request: Request, session: SessionDep, user: AdminUser, survey_id: int) -> Response:
    name = surveys.get_survey(session, survey_id).name
    surveys.delete_survey(session, actor_for(user), survey_id)
    flash(request, f"Survey {name} deleted with its responses. Feedback made from its answers stays in the inbox.")
    return RedirectResponse(PAGE, status_code=303)


@router.get(PAGE + "/{survey_id:int}/preview", response_class=HTMLResponse, dependencies=[VIEWER])
def preview(request: Request, session: SessionDep, user: ViewerUser, survey_id: int, lang: str = "") -> Response:
    """Every question as respondents see it, without recording anything."""
    survey = surveys.get_survey(session, survey_id)
    language = lang if lang in survey.languages else survey.language
    return render(
        request,
        "surveys/preview.html",
        {**_base(survey, "builder"), "language": language, "describe_branch": describe_branch},
    )
