"""What the surveys services share: event names, the standard questions, personal-link tokens, row → schema."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prodops.domains.surveys.models import Question, Response, Survey
from prodops.domains.surveys.schemas import QuestionIn, QuestionOut, SurveyOut
from prodops.platform import events
from prodops.platform.config import get_settings
from prodops.platform.errors import NotFound
from prodops.platform.identity import security
from prodops.platform.notify import optout

SURVEY_CREATED = events.declare("surveys.survey.created", "A survey was created.")
SURVEY_UPDATED = events.declare("surveys.survey.updated", "A survey or its questions changed.")
SURVEY_DELETED = events.declare("surveys.survey.deleted", "A survey was deleted.")
WAVE_SENT = events.declare("surveys.wave.sent", "A wave of survey invitations was e-mailed.")
RESPONSE_COMPLETED = events.declare(
    "surveys.response.completed", "Someone finished a survey (payload: survey, score, group, person, account)."
)
RESPONSES_IMPORTED = events.declare("surveys.responses.imported", "Historical survey responses were imported.")
FOLLOW_UP_OPENED = events.declare(
    "surveys.follow_up.opened", "A survey rule opened a follow-up (e.g. a detractor at a large account)."
)
FOLLOW_UP_CLOSED = events.declare("surveys.follow_up.closed", "A survey follow-up was marked done, with its outcome.")

TOPIC = optout.declare_topic("surveys", "survey invitations and reminders")
ENTITY = "survey"

# --- the standard questions of NPS, CSAT and CES surveys ----------------------------------------------------------

_WHY = {
    "en": "What is the main reason for your score?",
    "de": "Was ist der wichtigste Grund für Ihre Bewertung?",
    "fr": "Quelle est la principale raison de votre note ?",
    "es": "¿Cuál es el motivo principal de su puntuación?",
}
_WHY_LOW = {
    "en": "We're sorry to hear that. What disappointed you most?",
    "de": "Das tut uns leid. Was hat Sie am meisten enttäuscht?",
    "fr": "Nous en sommes désolés. Qu'est-ce qui vous a le plus déçu ?",
    "es": "Lamentamos oír eso. ¿Qué es lo que más le decepcionó?",
}
_SCORE = {
    "nps": {
        "en": "How likely are you to recommend us to a friend or colleague?",
        "de": "Wie wahrscheinlich ist es, dass Sie uns einem Freund oder Kollegen empfehlen?",
        "fr": "Quelle est la probabilité que vous nous recommandiez à un ami ou un collègue ?",
        "es": "¿Qué probabilidad hay de que nos recomiende a un amigo o colega?",
    },
    "csat": {
        "en": "How satisfied are you with us?",
        "de": "Wie zufrieden sind Sie mit uns?",
        "fr": "Dans quelle mesure êtes-vous satisfait de nos services ?",
        "es": "¿Qué tan satisfecho está con nosotros?",
    },
    "ces": {
        "en": "How easy was it to get what you needed?",
        "de": "Wie einfach war es, das zu bekommen, was Sie brauchten?",
        "fr": "Dans quelle mesure a-t-il été facile d'obtenir ce dont vous aviez besoin ?",
        "es": "¿Qué tan fácil fue conseguir lo que necesitaba?",
    },
}
#: The low scores that get the "what disappointed you?" question.
LOW = {"nps": (0, 6), "csat": (1, 2), "ces": (1, 3)}
THANK_YOU = {
    "en": "Thank you! Your answers help us improve.",
    "de": "Vielen Dank! Ihre Antworten helfen uns, besser zu werden.",
    "fr": "Merci ! Vos réponses nous aident à nous améliorer.",
    "es": "¡Gracias! Sus respuestas nos ayudan a mejorar.",
}


def _in(texts: dict[str, str], languages: list[str]) -> dict[str, str]:
    """The texts for the survey's languages (English for one we have no translation of: the builder shows it)."""
    return {lang: texts.get(lang) or texts.get(lang.split("-")[0]) or texts["en"] for lang in languages}


def standard_questions(kind: str, languages: list[str]) -> list[QuestionIn]:
    """Score, then "what disappointed you?" for low scores or "why?" for the others; empty for custom surveys."""
    if kind not in _SCORE:
        return []
    low_min, low_max = LOW[kind]
    return [
        QuestionIn(
            key="score",
            qtype=kind,
            text=_in(_SCORE[kind], languages),
            required=True,
            branches=[{"min": low_min, "max": low_max, "goto": "why_low"}, {"goto": "why"}],
        ),
        QuestionIn(key="why_low", qtype="text", text=_in(_WHY_LOW, languages), branches=[{"goto": "end"}]),
        QuestionIn(key="why", qtype="text", text=_in(_WHY, languages)),
    ]


def default_thank_you(languages: list[str]) -> dict[str, str]:
    return _in(THANK_YOU, languages)


# --- personal links -------------------------------------------------------------------------------------------------

TOKEN_PREFIX = "i_"  # noqa: S105  # a prefix that marks personal-link tokens, not a secret


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def token_for(nonce: str) -> str:
    """The personal link's token: derived from the stored nonce with the secret key, so the database alone (a
    backup, a replica) cannot forge or reveal working links, and a reminder repeats the same link."""
    key = get_settings().secret_key.encode()
    digest = hmac.new(key, f"survey-invitation:{nonce}".encode(), hashlib.sha256).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


token_hash = security.token_digest  # the kernel's digest of opaque tokens


def new_public_key() -> str:
    return secrets.token_urlsafe(12)


# --- rows to schemas --------------------------------------------------------------------------------------------------


def question_out(q: Question) -> QuestionOut:
    return QuestionOut.model_validate(q)


def survey_out(session: Session, survey: Survey, *, with_count: bool = False) -> SurveyOut:
    questions = session.scalars(
        select(Question).where(Question.survey_id == survey.id).order_by(Question.position, Question.id)
    )
    out = SurveyOut.model_validate(survey)
    out.questions = [question_out(q) for q in questions]
    if with_count:  # a count of every response: only where it is shown, never on the answering path
        done = session.scalar(
            select(func.count())
            .select_from(Response)
            .where(Response.survey_id == survey.id, Response.completed_at.is_not(None))
        )
        out.responses = int(done or 0)
    return out


def get_survey(session: Session, survey_id: int, *, with_count: bool = False) -> SurveyOut:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFound("survey", survey_id)
    return survey_out(session, survey, with_count=with_count)


def survey_row(session: Session, survey_id: int) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFound("survey", survey_id)
    return survey


def snapshot(survey: Survey) -> dict[str, Any]:
    return {
        "name": survey.name,
        "kind": survey.kind,
        "status": survey.status,
        "languages": list(survey.languages),
        "throttle_days": survey.throttle_days,
        "product_id": survey.product_id,
    }
