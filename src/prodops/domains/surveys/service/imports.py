"""Importing historical responses from CSV/XLSX (e-mail, score, comment, date, survey) through the platform's
tabular pipeline: column mapping, a dry run naming every bad row and column, all or nothing.

Each row becomes a complete response (channel ``import``, dated by its date) with its score, and its comment the
answer to the text question the survey asks after that score (so a detractor's comment answers "what disappointed
you?"); the comment becomes a feedback item like any verbatim. People are matched by e-mail (created if new, joining
the account of their domain). A row already imported (same survey, e-mail and date) is left unchanged, so importing a
file twice changes nothing. Imports open no follow-ups: the rules act on new answers, not on history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.surveys.models import Response, Survey
from prodops.domains.surveys.schemas import SCALES, ImportRow, SurveyOut
from prodops.domains.surveys.service import responses
from prodops.domains.surveys.service._shared import ENTITY, RESPONSES_IMPORTED, get_survey
from prodops.platform import audit, events
from prodops.platform.audit import Actor
from prodops.platform.db import transaction
from prodops.platform.tabular import ColumnSpec, ImportReport, RowError, Table, run_import

COLUMNS = (
    ColumnSpec("email", "E-mail", required=True, aliases=("email address", "e-mail address", "respondent")),
    ColumnSpec("score", "Score", required=True, aliases=("nps", "rating", "answer", "csat", "ces")),
    ColumnSpec("comment", "Comment", aliases=("why", "reason", "verbatim", "feedback", "text")),
    ColumnSpec("date", "Date", required=True, aliases=("responded at", "submitted", "created", "timestamp")),
    ColumnSpec(
        "survey",
        "Survey",
        required=True,
        aliases=("survey name", "survey id", "programme", "program"),
        help="The survey's name or id (it must exist).",
    ),
)

Rows = list[tuple[int, ImportRow]]


def _external_id(row: ImportRow) -> str:
    return f"import:{row.email}:{row.date.isoformat()}"[:200]


def _surveys(session: Session) -> dict[str, int]:
    """Survey name (case-insensitive) or id → survey id."""
    found: dict[str, int] = {}
    for sid, name in session.execute(select(Survey.id, Survey.name)):
        found[str(sid)] = sid
        found.setdefault(name.strip().casefold(), sid)
    return found


def _checks(session: Session, mapping: dict[str, str]) -> tuple[Callable[[Rows], list[RowError]], dict[int, SurveyOut]]:
    names = _surveys(session)
    loaded: dict[int, SurveyOut] = {}
    survey_col, score_col = mapping.get("survey"), mapping.get("score")

    def check(rows: Rows) -> list[RowError]:
        errors: list[RowError] = []
        seen: dict[tuple[int, str], int] = {}
        for number, row in rows:
            sid = names.get(row.survey.strip().casefold()) or names.get(row.survey.strip())
            if sid is None:
                errors.append(RowError(number, survey_col, "survey", f"there is no survey {row.survey!r}"))
                continue
            survey = loaded.get(sid) or loaded.setdefault(sid, get_survey(session, sid))
            kind = survey.score_kind
            if kind is None:
                errors.append(RowError(number, survey_col, "survey", f"{survey.name!r} has no score question"))
                continue
            lo, hi = SCALES[kind]
            if not lo <= row.score <= hi:
                errors.append(
                    RowError(number, score_col, "score", f"{row.score:g} is outside {survey.name!r}'s {lo}–{hi} scale")
                )
            key = (sid, _external_id(row))
            if key in seen:
                errors.append(
                    RowError(number, mapping.get("email"), "email", f"the same person and date are on row {seen[key]}")
                )
            seen[key] = number
        return errors

    return check, loaded


def _known(session: Session, rows: Rows, ids: dict[str, int]) -> set[tuple[int, str]]:
    keys = {
        (
            ids[r.survey.strip().casefold()] if r.survey.strip().casefold() in ids else ids[r.survey.strip()],
            _external_id(r),
        )
        for _, r in rows
    }
    found: set[tuple[int, str]] = set()
    by_survey: dict[int, list[str]] = {}
    for sid, ext in keys:
        by_survey.setdefault(sid, []).append(ext)
    for sid, exts in by_survey.items():
        for start in range(0, len(exts), 500):
            chunk = exts[start : start + 500]
            found.update(
                (sid, e)
                for e in session.scalars(
                    select(Response.external_id).where(Response.survey_id == sid, Response.external_id.in_(chunk))
                )
                if e
            )
    return found


def import_responses(
    session: Session, actor: Actor, table: Table, mapping: dict[str, str], *, dry_run: bool, progress: Any = None
) -> ImportReport:
    """Validate every row; unless ``dry_run``, write them all (or nothing). ``progress(n)`` is told of rows written."""
    check, surveys = _checks(session, mapping)
    ids = _surveys(session)

    def sid_of(row: ImportRow) -> int:
        return ids.get(row.survey.strip().casefold()) or ids[row.survey.strip()]

    def preview(rows: Rows) -> tuple[int, int, int]:
        known = _known(session, rows, ids)
        unchanged = sum(1 for _, r in rows if (sid_of(r), _external_id(r)) in known)
        return len(rows) - unchanged, 0, unchanged

    def commit(rows: Rows) -> tuple[int, int, int]:
        created = 0
        with transaction(session):
            known = _known(session, rows, ids)
            todo = [(n, r) for n, r in rows if (sid_of(r), _external_id(r)) not in known]
            people = customers.ensure_people(session, actor, {r.email: "" for _, r in todo}) if todo else {}
            verbatims: dict[int, list[Any]] = {}
            for _, row in todo:
                survey = surveys[sid_of(row)]
                main = survey.main_question
                assert main is not None
                person_id, account_id = people[row.email]
                response = responses.start(session, survey, channel="import", language=survey.language, now=row.date)
                response.person_id, response.account_id = person_id, account_id
                response.external_id = _external_id(row)
                response.score = row.score
                response.completed_at = row.date
                response.next_key = None
                score = responses.store_answer(session, response, main, responses.Parsed(value=row.score))
                assert score is not None
                if row.comment.strip():
                    follow = responses.next_key(survey, main, responses.Parsed(value=row.score))
                    target = next((q for q in survey.questions if q.key == follow and q.qtype == "text"), None)
                    target = target or next((q for q in survey.questions if q.qtype == "text"), None)
                    if target is not None:
                        answer = responses.store_answer(
                            session, response, target, responses.Parsed(text=row.comment.strip())
                        )
                        verbatims.setdefault(survey.id, []).append((response, target, answer))
                created += 1
                if progress is not None:
                    progress(1)
            session.flush()
            for sid, items in verbatims.items():
                responses.verbatims(session, surveys[sid], items, actor)
            audit.record(
                session,
                actor,
                entity_type=ENTITY,
                entity_id=",".join(str(s) for s in sorted(surveys))[:80] or "-",
                action="import",
                changes={"responses": [0, created]},
                entity_label="response import",
            )
            events.emit(session, RESPONSES_IMPORTED, {"created": created, "survey_ids": sorted(surveys)})
        return created, 0, len(rows) - created

    return run_import(table, mapping, COLUMNS, ImportRow, commit, dry_run=dry_run, extra_checks=check, preview=preview)
