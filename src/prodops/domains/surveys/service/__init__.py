"""Surveys use cases: the only place that writes surveys, waves, responses, rules and follow-ups.

- build surveys: :func:`create_survey`, :func:`update_survey`, :func:`save_questions`, :func:`delete_survey`;
- distribute them: :func:`create_wave` (personal links by e-mail, sent when due with reminders and the throttle),
  the public link and the in-app snippet (:func:`answer_page`), the API (:func:`record_response`), and history
  from files (:func:`import_responses`);
- score them: :mod:`.scoring` (pure functions from counts or rows, reusable by any caller);
- act on them: :func:`create_rule` … and follow-ups (:func:`update_follow_up`).

Every write is audited and emits a ``surveys.*`` event after commit.
"""

from prodops.domains.surveys.service import scoring
from prodops.domains.surveys.service._shared import (
    FOLLOW_UP_CLOSED,
    FOLLOW_UP_OPENED,
    RESPONSE_COMPLETED,
    RESPONSES_IMPORTED,
    SURVEY_CREATED,
    SURVEY_DELETED,
    SURVEY_UPDATED,
    TOPIC,
    WAVE_SENT,
    get_survey,
    token_for,
)
from prodops.domains.surveys.service.distribution import (
    cancel_wave,
    create_wave,
    get_wave,
    list_waves,
    send_reminders,
    send_wave,
)
from prodops.domains.surveys.service.imports import COLUMNS as IMPORT_COLUMNS
from prodops.domains.surveys.service.imports import import_responses
from prodops.domains.surveys.service.responses import answer_page, open_link, record_response
from prodops.domains.surveys.service.rules import create_rule, delete_rule, list_rules, update_follow_up, update_rule
from prodops.domains.surveys.service.surveys import (
    as_inputs,
    create_survey,
    delete_survey,
    save_questions,
    update_survey,
)

__all__ = [
    "FOLLOW_UP_CLOSED",
    "FOLLOW_UP_OPENED",
    "IMPORT_COLUMNS",
    "RESPONSES_IMPORTED",
    "RESPONSE_COMPLETED",
    "SURVEY_CREATED",
    "SURVEY_DELETED",
    "SURVEY_UPDATED",
    "TOPIC",
    "WAVE_SENT",
    "answer_page",
    "as_inputs",
    "cancel_wave",
    "create_rule",
    "create_survey",
    "create_wave",
    "delete_rule",
    "delete_survey",
    "get_survey",
    "get_wave",
    "import_responses",
    "list_rules",
    "list_waves",
    "open_link",
    "record_response",
    "save_questions",
    "scoring",
    "send_reminders",
    "send_wave",
    "token_for",
    "update_follow_up",
    "update_rule",
    "update_survey",
]
