"""What respondents see: the personal link from an e-mail (``/survey/i/{token}``), the public link
(``/survey/p/{key}``), and the in-app snippet (``/surveys/snippet.js`` and its endpoint).

The pages are plain and accessible, carry the workspace's name and nothing internal, and show one question per page;
each answered page is saved (a partial response is kept). A personal link is single-use: once its response is
complete it shows "thank you" and records nothing more. The public link keeps its response in the visitor's signed
session cookie, so a reload continues where they were.

The snippet reuses the feedback widget's sites: the same public site key, allowed origins (CORS per site, 403 for
others), the same rate limit and a honeypot field. It asks an identified user (``data-email``) the NPS question and
"why?" in a Shadow DOM, unless they were asked in the throttle window.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError

from prodops.domains.customers import service as customers
from prodops.domains.feedback.service import widget
from prodops.domains.feedback.service.widget import RateLimited
from prodops.domains.surveys import service as surveys
from prodops.domains.surveys.schemas import QuestionOut, ResponseIn, SurveyOut
from prodops.domains.surveys.service import distribution, responses
from prodops.platform import registry
from prodops.platform.audit import Actor
from prodops.platform.config import get_settings
from prodops.platform.db import utcnow
from prodops.platform.deps import PUBLIC, PUBLIC_API, SessionDep
from prodops.platform.errors import Conflict, NotFound, ServiceError, ValidationFailed
from prodops.platform.ratelimit import RateLimiter
from prodops.platform.web import render

router = registry.router(APIRouter(include_in_schema=False))
_NO_INDEX = {"X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _page(request: Request, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return render(
        request,
        "surveys/respond.html",
        {"workspace": get_settings().workspace_name, **context},
        status_code=status_code,
        headers=_NO_INDEX,
    )


def _question_context(
    survey: SurveyOut,
    key: str | None,
    language: str,
    action: str,
    *,
    done: bool = False,
    error: str | None = None,
    value: Any = None,
) -> dict[str, Any]:
    question: QuestionOut | None = None
    if key is not None and not done:
        question = responses.question_by_key(survey, key)
    position = next((i for i, q in enumerate(survey.questions) if question and q.key == question.key), 0)
    return {
        "survey": survey,
        "question": question,
        "language": language,
        "action": action,
        "done": done or question is None,
        "error": error,
        "value": value,
        "first": position == 0,
        "intro": survey.intro.get(language, "") if position == 0 else "",
        "thank_you": survey.thank_you.get(language) or next(iter(survey.thank_you.values()), "Thank you!"),
        "step": position + 1,
        "steps": len(survey.questions),
    }


def _raw(form: Any, question: QuestionOut) -> Any:
    if question.qtype == "multi":
        return [v for v in form.getlist("answer") if isinstance(v, str)]
    value = form.get("answer")
    return value if isinstance(value, str) else None


# --- personal links -----------------------------------------------------------------------------------------------


@router.get("/survey/i/{token}", response_class=HTMLResponse, dependencies=[PUBLIC])
def personal_link(request: Request, session: SessionDep, token: str, lang: str = "", score: str = "") -> Response:
    try:
        state = responses.open_link(session, token, lang or None)
    except NotFound:
        return _page(request, {"invalid": True}, status_code=404)
    action = f"/survey/i/{token}"
    if state.survey.status != "active" and not state.completed:
        return _page(request, {"closed": True, "survey": state.survey})
    # A score clicked in the e-mail is only pre-selected: mail scanners follow links, so a GET records nothing.
    value = score if score.isdigit() and state.key == responses.first_key(state.survey) else None
    context = _question_context(state.survey, state.key, state.language, action, done=state.completed, value=value)
    return _page(request, context)


@router.post("/survey/i/{token}", dependencies=[PUBLIC])
async def personal_answer(request: Request, session: SessionDep, token: str) -> Response:
    try:
        state = responses.open_link(session, token)
    except NotFound:
        return _page(request, {"invalid": True}, status_code=404)
    form = await request.form()
    language = str(form.get("lang") or state.language)
    action = f"/survey/i/{token}"
    key = str(form.get("question", ""))
    if state.completed or state.key is None:
        return _page(request, _question_context(state.survey, None, language, action, done=True))
    try:
        question = responses.question_by_key(state.survey, key)
        responses.answer_page(
            session,
            state.survey.id,
            key,
            _raw(form, question),
            invitation_id=state.invitation_id,
            channel="email",
            language=language,
        )
    except NotFound:
        return RedirectResponse(action, status_code=303)
    except ValidationFailed as exc:
        context = _question_context(state.survey, key, language, action, error=exc.message, value=form.get("answer"))
        return _page(request, context, status_code=422)
    except Conflict as exc:
        return _page(
            request, {**_question_context(state.survey, None, language, action, done=True), "notice": exc.message}
        )
    return RedirectResponse(f"{action}?lang={language}", status_code=303)


# --- the public link ----------------------------------------------------------------------------------------------


def _session_key(survey_id: int) -> str:
    return f"survey_response_{survey_id}"


@router.get("/survey/p/{public_key}", response_class=HTMLResponse, dependencies=[PUBLIC])
def public_link(request: Request, session: SessionDep, public_key: str, lang: str = "") -> Response:
    survey = responses.survey_for_public_key(session, public_key)
    if survey is None:
        return _page(request, {"invalid": True}, status_code=404)
    if survey.status != "active":
        return _page(request, {"closed": True, "survey": survey})
    key, done, started_in = responses.response_state(session, survey, request.session.get(_session_key(survey.id)))
    language = responses.language_for(survey, lang or started_in)
    return _page(request, _question_context(survey, key, language, f"/survey/p/{public_key}", done=done))


@router.post("/survey/p/{public_key}", dependencies=[PUBLIC])
async def public_answer(request: Request, session: SessionDep, public_key: str) -> Response:
    survey = responses.survey_for_public_key(session, public_key)
    if survey is None:
        return _page(request, {"invalid": True}, status_code=404)
    form = await request.form()
    language = responses.language_for(survey, str(form.get("lang") or "") or None)
    action = f"/survey/p/{public_key}"
    key = str(form.get("question", ""))
    if form.get("restart"):
        request.session.pop(_session_key(survey.id), None)
        return RedirectResponse(f"{action}?lang={language}", status_code=303)
    try:
        question = responses.question_by_key(survey, key)
        step = responses.answer_page(
            session,
            survey.id,
            key,
            _raw(form, question),
            response_id=request.session.get(_session_key(survey.id)),
            channel="link",
            language=language,
        )
    except NotFound:
        return RedirectResponse(action, status_code=303)
    except ValidationFailed as exc:
        context = _question_context(survey, key, language, action, error=exc.message, value=form.get("answer"))
        return _page(request, context, status_code=422)
    except Conflict as exc:
        return _page(request, {**_question_context(survey, None, language, action, done=True), "notice": exc.message})
    request.session[_session_key(survey.id)] = step.response_id
    return RedirectResponse(f"{action}?lang={language}", status_code=303)


# --- the in-app snippet -------------------------------------------------------------------------------------------


def base_url(request: Request) -> str:
    settings = get_settings()
    if "base_url" in settings.model_fields_set:
        return settings.base_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def snippet(request: Request, survey: SurveyOut) -> str:
    return (
        f'<script src="{base_url(request)}/surveys/snippet.js" data-site="SITE_KEY" data-survey="{survey.id}" '
        'data-email="SIGNED_IN_USER_EMAIL" async></script>'
    )


@cache
def _script() -> bytes:
    return resources.files("prodops.domains.surveys").joinpath("static", "snippet.js").read_bytes()


@router.get("/surveys/snippet.js", dependencies=[PUBLIC_API])
def snippet_script() -> Response:
    headers = {
        "Cache-Control": "public, max-age=3600",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(_script(), media_type="text/javascript; charset=utf-8", headers=headers)


public_api = registry.router(APIRouter(prefix="/api/v1/surveys/in-app", tags=["surveys in-app"]))
limiter = RateLimiter("survey-snippet")


class SnippetAnswer(BaseModel):
    """What the snippet posts: the score, the optional "why?", who answered. ``website`` is a honeypot."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr
    score: int = Field(ge=0, le=10)
    comment: str = Field(default="", max_length=5000)
    language: str | None = Field(default=None, max_length=10)
    website: str = Field(default="", max_length=2000)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]


def _cors(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": "Retry-After", "Vary": "Origin"}


def _error(exc: ServiceError, headers: dict[str, str]) -> JSONResponse:
    detail: Any = exc.as_detail() if exc.status_code in (400, 422) else exc.message
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


def _site(session: SessionDep, site_key: str, origin: str | None) -> tuple[Any, dict[str, str]]:
    site = widget.site_for_key(session, site_key)
    if site is None:
        raise NotFound("site", "with this key")
    widget.check_origin(site, origin)
    assert origin is not None
    return site, _cors(origin)


def _rate(site_id: int, request: Request) -> None:
    allowed, window = widget.rate_limit()
    key = f"{site_id}:{request.client.host if request.client else 'unknown'}"
    if not limiter.hit(key, allowed, window):
        raise RateLimited(limiter.retry_after(key, window))


def _nps_survey(session: SessionDep, survey_id: int) -> SurveyOut:
    survey = surveys.get_survey(session, survey_id)
    if survey.status != "active" or survey.score_kind != "nps":
        raise NotFound("survey", survey_id)
    return survey


@public_api.options("/{site_key}/{survey_id}", dependencies=[PUBLIC_API], summary="CORS preflight for the snippet")
def snippet_preflight(request: Request, session: SessionDep, site_key: str, survey_id: int) -> Response:
    try:
        _, headers = _site(session, site_key, request.headers.get("origin"))
    except ServiceError as exc:
        return _error(exc, {"Vary": "Origin"})
    headers |= {
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=204, headers=headers)


@public_api.get(
    "/{site_key}/{survey_id}",
    dependencies=[PUBLIC_API],
    summary="Should the snippet ask this user now? The question texts when it should",
)
def snippet_ask(
    request: Request, session: SessionDep, site_key: str, survey_id: int, email: str = "", lang: str = ""
) -> Response:
    try:
        site, headers = _site(session, site_key, request.headers.get("origin"))
        _rate(site.id, request)
        survey = _nps_survey(session, survey_id)
    except RateLimited as exc:
        return _error(exc, {"Vary": "Origin", "Retry-After": str(exc.retry_after)})
    except ServiceError as exc:
        return _error(exc, {"Vary": "Origin"})
    language = responses.language_for(survey, lang or None)
    person = customers.person_by_email(session, email) if email else None
    ask = bool(email)
    if person is not None:
        days = survey.throttle_days if survey.throttle_days is not None else get_settings().survey_throttle_days
        if days and distribution.recently_asked(session, [person.id], utcnow() - dt.timedelta(days=days)):
            ask = False
    main = survey.main_question
    assert main is not None
    why = {q.key: q.text_in(language) for q in survey.questions if q.qtype == "text"}
    low = next((b for b in main.branches if b.get("max") is not None), None)
    body = {
        "ask": ask,
        "language": language,
        "question": main.text_in(language),
        "why": why.get("why", next(iter(why.values()), "")),
        "why_low": why.get("why_low", why.get("why", "")),
        "low_max": low.get("max") if low else 6,
        "thank_you": survey.thank_you.get(language) or next(iter(survey.thank_you.values()), "Thank you!"),
    }
    return JSONResponse(body, headers=headers)


@public_api.post(
    "/{site_key}/{survey_id}",
    status_code=202,
    dependencies=[PUBLIC_API],
    summary="Record an answer given in the in-app snippet",
)
def snippet_answer(request: Request, session: SessionDep, site_key: str, survey_id: int, body: RawBody) -> Response:
    try:
        site, headers = _site(session, site_key, request.headers.get("origin"))
    except ServiceError as exc:
        return _error(exc, {"Vary": "Origin"})
    try:
        _rate(site.id, request)
        survey = _nps_survey(session, survey_id)
        try:
            data = SnippetAnswer.model_validate_json(body)
        except ValidationError as exc:
            problems = [
                (".".join(str(p) for p in e["loc"]) or None, e["msg"].removeprefix("Value error, "))
                for e in exc.errors()
            ]
            (f, m), *rest = problems
            raise ValidationFailed(f, m, more=rest) from None
        if data.website:
            return JSONResponse({"status": "received"}, status_code=202, headers=headers)
        main = survey.main_question
        assert main is not None
        answers: dict[str, Any] = {main.key: data.score}
        follow = responses.next_key(survey, main, responses.Parsed(value=float(data.score)))
        if data.comment and follow is not None:
            answers[follow] = data.comment
        surveys.record_response(
            session,
            Actor(None, f"in-app survey: {site.name}"[:320]),
            survey.id,
            ResponseIn(answers=answers, person_email=data.email, channel="in_app", language=data.language),
        )
    except RateLimited as exc:
        return _error(exc, {**headers, "Retry-After": str(exc.retry_after)})
    except ServiceError as exc:
        return _error(exc, headers)
    return JSONResponse({"status": "received"}, status_code=202, headers=headers)
