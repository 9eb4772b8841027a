"""The surveys JSON API under ``/api/v1/surveys``: viewers read, members create surveys, send waves and record
responses, admins delete surveys and configure rules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from prodops.domains.surveys import queries
from prodops.domains.surveys import service as surveys
from prodops.domains.surveys.queries import results as results_q
from prodops.domains.surveys.routes._forms import filters_from
from prodops.domains.surveys.schemas import (
    FollowUpOut,
    FollowUpUpdate,
    QuestionIn,
    ResponseIn,
    ResponseOut,
    RuleIn,
    RuleOut,
    RuleUpdate,
    SurveyIn,
    SurveyOut,
    SurveyUpdate,
    WaveIn,
    WaveOut,
)
from prodops.platform import registry
from prodops.platform.deps import ADMIN, VIEWER, AdminUser, MemberUser, SessionDep
from prodops.platform.identity.service import actor_for
from prodops.platform.tabular import guess_mapping, read_table

api = registry.router(APIRouter(prefix="/api/v1/surveys", tags=["surveys"]))


def _page(found: Any) -> dict[str, Any]:
    return {"items": found.items, "total": found.total, "page": found.number, "per_page": found.per_page}


@api.get("", dependencies=[VIEWER], summary="Surveys, with their response counts and score")
def api_list(
    session: SessionDep, q: str = "", status: str = "", sort: str = "", page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    found = queries.list_surveys(
        session, q=q or None, status=status or None, sort=sort or None, page=page, per_page=per_page
    )
    items = [
        {
            "id": r.id,
            "name": r.name,
            "kind": r.kind,
            "status": r.status,
            "languages": r.languages,
            "responses": r.responses,
            "score": r.score.as_dict() if r.score else None,
            "last_response_at": r.last_response_at,
        }
        for r in found.items
    ]
    return {"items": items, "total": found.total, "page": found.number, "per_page": found.per_page}


@api.post("", status_code=201, summary="Create a survey (NPS, CSAT and CES get their standard questions)")
def api_create(session: SessionDep, user: MemberUser, data: SurveyIn) -> SurveyOut:
    return surveys.create_survey(session, actor_for(user), data)


@api.get("/{survey_id:int}", dependencies=[VIEWER], summary="One survey with its questions")
def api_get(session: SessionDep, survey_id: int) -> SurveyOut:
    return surveys.get_survey(session, survey_id, with_count=True)


@api.patch("/{survey_id:int}", summary="Change a survey (only the fields sent)")
def api_update(session: SessionDep, user: MemberUser, survey_id: int, data: SurveyUpdate) -> SurveyOut:
    return surveys.update_survey(session, actor_for(user), survey_id, data)


@api.put("/{survey_id:int}/questions", summary="Replace the questions (validated as a whole, branching included)")
def api_questions(session: SessionDep, user: MemberUser, survey_id: int, data: list[QuestionIn]) -> SurveyOut:
    return surveys.save_questions(session, actor_for(user), survey_id, data)


@api.delete("/{survey_id:int}", status_code=204, summary="Delete a survey and its responses (administrators)")
def api_delete(session: SessionDep, user: AdminUser, survey_id: int) -> Response:
    surveys.delete_survey(session, actor_for(user), survey_id)
    return Response(status_code=204)


@api.get(
    "/{survey_id:int}/results",
    dependencies=[VIEWER],
    summary="Score with its 95% interval, change vs the previous quarter, per period and by dimension",
    description=(
        "Filters: `since`, `until` (YYYY-MM-DD), `plan`, `segment`, `region` (account fields), `segment_id` (a saved "
        "segment), `wave_id`, `channel`; `interval` = `week` or `month` (default: by the span of the data)."
    ),
)
def api_results(request: Request, session: SessionDep, survey_id: int, interval: str = "") -> dict[str, Any]:
    res = results_q.results(session, survey_id, filters_from(request), interval=interval or None)

    def rows(items: list[results_q.Row]) -> list[dict[str, Any]]:
        return [{"key": r.key, "label": r.label, **r.score.as_dict()} for r in items]

    return {
        "survey_id": survey_id,
        "kind": res.kind,
        "headline": res.headline,
        "overall": res.overall.as_dict() if res.overall else None,
        "current_quarter": res.current.as_dict() if res.current else None,
        "previous_quarter": res.previous.as_dict() if res.previous else None,
        "change": res.change.as_dict() if res.change else None,
        "interval": res.interval,
        "series": rows(res.series),
        "by": {dim: rows(items) for dim, items in res.tables.items()},
        "distribution": res.distribution,
        "waves": [{**w.model_dump(), "response_rate": w.response_rate} for w in res.waves],
        "definition": results_q.definition(res.kind),
    }


@api.get("/{survey_id:int}/responses", dependencies=[VIEWER], summary="Responses, newest first (partial ones too)")
def api_responses(
    session: SessionDep,
    survey_id: int,
    group: str = "",
    channel: str = "",
    partial: bool | None = None,
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    survey = surveys.get_survey(session, survey_id)
    found = queries.list_responses(
        session,
        survey_id,
        survey.score_kind,
        group=group or None,
        channel=channel or None,
        partial=partial,
        page=page,
        per_page=per_page,
    )
    return _page(found)


@api.post(
    "/{survey_id:int}/responses",
    status_code=201,
    summary="Record a response collected elsewhere",
    description=(
        "`answers` maps question keys to values (a number for scores and ratings, an option value or a list of them, "
        "text). The answers are checked against the questions and their branching; every problem is listed "
        "(`loc` = `body`, `answers.<key>`) and nothing is written. Text answers become feedback; rules run."
    ),
)
def api_record(session: SessionDep, user: MemberUser, survey_id: int, data: ResponseIn) -> ResponseOut:
    response_id = surveys.record_response(session, actor_for(user), survey_id, data)
    return queries.get_response(session, response_id)


@api.get("/{survey_id:int}/themes", dependencies=[VIEWER], summary="Feedback themes of the verbatims by group")
def api_themes(session: SessionDep, survey_id: int) -> dict[str, Any]:
    survey = surveys.get_survey(session, survey_id)
    if survey.score_kind is None:
        return {"groups": []}
    groups = queries.themes_by_group(session, survey_id, survey.score_kind)
    return {
        "groups": [
            {
                "group": g.group,
                "verbatims": g.verbatims,
                "themes": [{"theme_id": t, "label": label, "items": n} for t, label, n in g.themes],
            }
            for g in groups
        ]
    }


@api.get("/{survey_id:int}/waves", dependencies=[VIEWER], summary="Waves with their response rates")
def api_waves(session: SessionDep, survey_id: int) -> dict[str, Any]:
    items = [{**w.model_dump(), "response_rate": w.response_rate} for w in surveys.list_waves(session, survey_id)]
    return {"items": items, "total": len(items)}


@api.post("/{survey_id:int}/waves", status_code=201, summary="Schedule a wave of personal links by e-mail")
def api_wave_create(session: SessionDep, user: MemberUser, survey_id: int, data: WaveIn) -> WaveOut:
    return surveys.create_wave(session, actor_for(user), survey_id, data)


@api.get("/waves/{wave_id:int}", dependencies=[VIEWER], summary="One wave")
def api_wave(session: SessionDep, wave_id: int) -> dict[str, Any]:
    wave = surveys.get_wave(session, wave_id)
    return {**wave.model_dump(), "response_rate": wave.response_rate}


@api.post("/waves/{wave_id:int}/cancel", summary="Cancel a scheduled wave")
def api_wave_cancel(session: SessionDep, user: MemberUser, wave_id: int) -> WaveOut:
    return surveys.cancel_wave(session, actor_for(user), wave_id)


@api.post(
    "/import",
    summary="Import historical responses from CSV/XLSX (e-mail, score, comment, date, survey)",
    description="All or nothing; `dry_run=true` checks without writing. 422 lists every bad row and column.",
)
async def api_import(session: SessionDep, user: MemberUser, file: UploadFile, dry_run: bool = False) -> JSONResponse:
    table = read_table(await file.read(), file.filename or "upload.csv")
    mapping = guess_mapping(table.headers, surveys.IMPORT_COLUMNS)
    report = surveys.import_responses(session, actor_for(user), table, mapping, dry_run=dry_run)
    return JSONResponse(
        {**report.as_dict(), "summary": report.summary(), "mapping": mapping}, status_code=report.status_code
    )


# --- follow-ups and rules -------------------------------------------------------------------------------------------


@api.get("/follow-ups", dependencies=[VIEWER], summary="Follow-ups opened by rules (default: open ones)")
def api_follow_ups(
    session: SessionDep,
    status: str = "open",
    owner_id: int | None = None,
    survey_id: int | None = None,
    account_id: int | None = None,
    sort: str = "",
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    found = queries.list_follow_ups(
        session,
        status=None if status == "all" else status or None,
        owner_id=owner_id,
        survey_id=survey_id,
        account_id=account_id,
        sort=sort or None,
        page=page,
        per_page=per_page,
    )
    return _page(found)


@api.patch(
    "/follow-ups/{follow_up_id:int}", summary="Change a follow-up: owner, outcome, status (done needs an outcome)"
)
def api_follow_up_update(session: SessionDep, user: MemberUser, follow_up_id: int, data: FollowUpUpdate) -> FollowUpOut:
    surveys.update_follow_up(session, actor_for(user), follow_up_id, data)
    return queries.get_follow_up(session, follow_up_id)


@api.get("/rules", dependencies=[ADMIN], summary="Rules that open follow-ups (administrators)")
def api_rules(session: SessionDep) -> dict[str, Any]:
    items = surveys.list_rules(session)
    return {"items": items, "total": len(items)}


@api.post("/rules", status_code=201, summary="Create a rule (administrators)")
def api_rule_create(session: SessionDep, user: AdminUser, data: RuleIn) -> RuleOut:
    return surveys.create_rule(session, actor_for(user), data)


@api.patch("/rules/{rule_id:int}", summary="Change a rule (administrators)")
def api_rule_update(session: SessionDep, user: AdminUser, rule_id: int, data: RuleUpdate) -> RuleOut:
    return surveys.update_rule(session, actor_for(user), rule_id, data)


@api.delete("/rules/{rule_id:int}", status_code=204, summary="Delete a rule (its follow-ups stay)")
def api_rule_delete(session: SessionDep, user: AdminUser, rule_id: int) -> Response:
    surveys.delete_rule(session, actor_for(user), rule_id)
    return Response(status_code=204)
