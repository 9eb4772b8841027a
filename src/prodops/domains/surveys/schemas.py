"""Surveys API shapes: surveys and questions (with branching), waves, responses, rules and follow-ups."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

Kind = Literal["nps", "csat", "ces", "custom"]
Status = Literal["draft", "active", "closed"]
QType = Literal["nps", "csat", "ces", "rating", "single", "multi", "text"]
Channel = Literal["email", "in_app", "link", "api", "import"]
GroupName = Literal["detractor", "passive", "promoter", "any"]

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
MAX_TEXT = 5000
#: Numeric scale of each scored question type.
SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
KIND_LABELS = {"nps": "NPS", "csat": "CSAT", "ces": "CES", "custom": "Custom"}
QTYPE_LABELS = {
    "nps": "NPS (0–10)",
    "csat": "CSAT (1–5)",
    "ces": "CES (1–7)",
    "rating": "Rating",
    "single": "Single choice",
    "multi": "Multiple choice",
    "text": "Free text",
}
CHANNEL_LABELS = {"email": "E-mail", "in_app": "In-app", "link": "Public link", "api": "API", "import": "Import"}


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _texts(value: Any) -> Any:
    """Per-language texts: a dict, or one string meaning the default language ``en``."""
    if isinstance(value, str):
        return {"en": value} if value.strip() else {}
    if isinstance(value, dict):
        return {str(k).strip(): (v.strip() if isinstance(v, str) else v) for k, v in value.items()}
    return value


def _split_languages(value: Any) -> Any:
    if isinstance(value, str):
        return [p for p in re.split(r"[\s,]+", value) if p]
    return value


def _check_languages(value: list[str]) -> list[str]:
    bad = [lang for lang in value if not LANG.match(lang)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a language code like en, de or pt-BR")
    return list(dict.fromkeys(value))


class OptionIn(_Input):
    value: str = Field(min_length=1, max_length=60)
    label: dict[str, str] = Field(default_factory=dict, description="Language → label; default: the value.")

    _label = field_validator("label", mode="before")(classmethod(lambda cls, v: _texts(v)))


class BranchIn(_Input):
    """After this question, go to ``goto`` (a question key, or ``end``) when the answer is within ``min``..``max``
    (numbers) or is one of ``choices``; a branch with neither always applies. The first matching rule wins; otherwise
    the next question by position."""

    min: float | None = None
    max: float | None = None
    choices: list[str] = Field(default_factory=list, max_length=50)
    goto: str = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _condition(self) -> BranchIn:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"the range {self.min:g}–{self.max:g} is empty: min is above max")
        if self.goto != "end" and not KEY.match(self.goto):
            raise ValueError(f"goto must be a question key or 'end', not {self.goto!r}")
        return self


class QuestionIn(_Input):
    key: str = Field(min_length=1, max_length=40, description="Names the question in branching rules.")
    qtype: QType
    text: dict[str, str] = Field(description="Language → the question.")
    options: list[OptionIn] = Field(default_factory=list, max_length=50)
    required: bool = False
    branches: list[BranchIn] = Field(default_factory=list, max_length=20)
    scale_max: int | None = Field(default=None, ge=2, le=10, description="Top of a rating scale (1..N).")

    _text = field_validator("text", mode="before")(classmethod(lambda cls, v: _texts(v)))

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not KEY.match(v):
            raise ValueError("a key is lower-case letters, digits and _, starting with a letter (e.g. why_low)")
        return v

    @model_validator(mode="after")
    def _shape(self) -> QuestionIn:
        if not any(t for t in self.text.values()):
            raise ValueError("write the question in at least one language")
        if self.qtype in ("single", "multi") and len(self.options) < 2:
            raise ValueError("a choice question needs at least two options")
        if self.qtype not in ("single", "multi") and self.options and self.qtype != "rating":
            raise ValueError(f"a {QTYPE_LABELS[self.qtype]} question has no options")
        values = [o.value for o in self.options]
        if len(set(values)) != len(values):
            raise ValueError("two options have the same value")
        return self


class SurveyIn(_Input):
    """A new survey. NPS, CSAT and CES surveys get their standard questions (score, then "why?", with a different
    follow-up question for low scores) unless ``questions`` are given."""

    name: str = Field(min_length=1, max_length=200)
    kind: Kind = "nps"
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1, max_length=20)
    intro: dict[str, str] = Field(default_factory=dict)
    thank_you: dict[str, str] = Field(default_factory=dict)
    throttle_days: int | None = Field(default=None, ge=0, le=3650)
    product_id: int | None = None
    status: Status = "draft"
    questions: list[QuestionIn] | None = Field(default=None, max_length=50)

    _t = field_validator("intro", "thank_you", mode="before")(classmethod(lambda cls, v: _texts(v)))

    @field_validator("languages", mode="before")
    @classmethod
    def _langs(cls, v: Any) -> Any:
        return _split_languages(v)

    @field_validator("languages")
    @classmethod
    def _check_langs(cls, v: list[str]) -> list[str]:
        return _check_languages(v)


class SurveyUpdate(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    languages: list[str] | None = Field(default=None, min_length=1, max_length=20)
    intro: dict[str, str] | None = None
    thank_you: dict[str, str] | None = None
    throttle_days: int | None = Field(default=None, ge=0, le=3650)
    product_id: int | None = None
    status: Status | None = None

    _t = field_validator("intro", "thank_you", mode="before")(classmethod(lambda cls, v: _texts(v)))

    @field_validator("languages", mode="before")
    @classmethod
    def _langs(cls, v: Any) -> Any:
        return _split_languages(v)

    @field_validator("languages")
    @classmethod
    def _check_langs(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _check_languages(v)


class OptionOut(BaseModel):
    value: str
    label: dict[str, str] = Field(default_factory=dict)


class QuestionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    position: int
    qtype: str
    text: dict[str, str]
    options: list[OptionOut]
    required: bool
    branches: list[dict[str, Any]]

    def text_in(self, language: str) -> str:
        return self.text.get(language) or next((t for t in self.text.values() if t), "")

    def label_of(self, value: str, language: str) -> str:
        for option in self.options:
            if option.value == value:
                return option.label.get(language) or next(iter(option.label.values()), "") or option.value
        return value

    @property
    def scale(self) -> tuple[int, int] | None:
        if self.qtype in SCALES:
            return SCALES[self.qtype]
        if self.qtype == "rating":
            return (1, len(self.options) or 5)
        return None


class SurveyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    status: str
    languages: list[str]
    intro: dict[str, str]
    thank_you: dict[str, str]
    throttle_days: int | None
    product_id: int | None
    public_key: str
    created_at: dt.datetime
    updated_at: dt.datetime
    questions: list[QuestionOut] = Field(default_factory=list)
    responses: int | None = None
    """Completed responses (in ``GET /api/v1/surveys/{id}``)."""

    @property
    def language(self) -> str:
        return self.languages[0] if self.languages else "en"

    @property
    def main_question(self) -> QuestionOut | None:
        """The scored question results are about (the first NPS/CSAT/CES question)."""
        return next((q for q in self.questions if q.qtype in SCALES), None)

    @property
    def score_kind(self) -> str | None:
        q = self.main_question
        return q.qtype if q else None


class WaveIn(_Input):
    """A wave: personal links e-mailed at ``scheduled_at`` to a saved customer segment, or to a list of addresses."""

    name: str = Field(min_length=1, max_length=200)
    segment_id: int | None = None
    emails: list[EmailStr] = Field(default_factory=list, max_length=50_000)
    language: str | None = Field(default=None, max_length=10)
    scheduled_at: dt.datetime | None = Field(default=None, description="When to send; default now.")
    reminder_after_days: int = Field(default=3, ge=0, le=60)
    max_reminders: int = Field(default=1, ge=0, le=5)

    @field_validator("emails", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p for p in re.split(r"[\s,;]+", v) if p]
        return v

    @field_validator("scheduled_at", mode="after")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        return v if v is None or v.tzinfo else v.replace(tzinfo=dt.UTC)

    @model_validator(mode="after")
    def _audience(self) -> WaveIn:
        if self.segment_id is None and not self.emails:
            raise ValueError("choose a segment or list the e-mail addresses to invite")
        if self.segment_id is not None and self.emails:
            raise ValueError("choose a segment or list addresses, not both")
        self.emails = list(dict.fromkeys(e.lower() for e in self.emails))
        return self


class WaveOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    survey_id: int
    name: str
    segment_id: int | None
    segment_name: str | None = None
    audience_size: int = 0
    language: str | None
    scheduled_at: dt.datetime
    reminder_after_days: int
    max_reminders: int
    status: str
    sent_at: dt.datetime | None
    invited: int = 0
    """Invitations e-mailed."""
    throttled: int = 0
    unsubscribed: int = 0
    failed: int = 0
    opened: int = 0
    completed: int = 0
    reminders: int = 0

    @property
    def response_rate(self) -> float | None:
        return None if not self.invited else 100 * self.completed / self.invited


Answers = dict[str, float | int | str | list[str] | None]


class ResponseIn(_Input):
    """A response collected elsewhere (``POST /api/v1/surveys/{id}/responses``): answers by question key."""

    answers: Answers = Field(description="Question key → a number, a choice value, a list of values, or text.")
    person_email: EmailStr | None = None
    person_id: int | None = None
    language: str | None = Field(default=None, max_length=10)
    channel: Channel = "api"
    responded_at: dt.datetime | None = None
    external_id: str | None = Field(default=None, max_length=200, description="Your id: sending it twice is refused.")
    complete: bool = True

    @field_validator("responded_at", mode="after")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        return v if v is None or v.tzinfo else v.replace(tzinfo=dt.UTC)

    @model_validator(mode="after")
    def _one_person(self) -> ResponseIn:
        if self.person_id is not None and self.person_email is not None:
            raise ValueError("give person_id or person_email, not both")
        return self


class AnswerOut(BaseModel):
    question_key: str
    qtype: str
    value: float | None
    choices: list[str]
    text: str
    feedback_item_id: int | None


class ResponseOut(BaseModel):
    id: int
    survey_id: int
    wave_id: int | None
    person_id: int | None
    person_email: str | None = None
    account_id: int | None
    account_name: str | None = None
    channel: str
    language: str
    score: float | None
    group: str | None = None
    started_at: dt.datetime
    completed_at: dt.datetime | None
    responded_at: dt.datetime
    partial: bool
    answers: list[AnswerOut] = Field(default_factory=list)
    comment: str = ""


class RuleIn(_Input):
    """When a response's score falls in ``group`` (and its account's ARR is at least ``min_arr``), open a follow-up
    for the account owner (or ``assignee_id``), e-mail them, and emit ``surveys.follow_up.opened``."""

    name: str = Field(min_length=1, max_length=200)
    survey_id: int | None = Field(default=None, description="None: every survey.")
    group_name: GroupName = "detractor"
    min_arr: float | None = Field(default=None, ge=0, le=1e11)
    assignee_id: int | None = None
    notify_email: bool = True
    enabled: bool = True


class RuleUpdate(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    group_name: GroupName | None = None
    min_arr: float | None = Field(default=None, ge=0, le=1e11)
    assignee_id: int | None = None
    notify_email: bool | None = None
    enabled: bool | None = None


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    survey_id: int | None
    group_name: str
    min_arr: float | None
    assignee_id: int | None
    notify_email: bool
    enabled: bool
    created_at: dt.datetime


class FollowUpUpdate(_Input):
    status: Literal["open", "done"] | None = None
    outcome: str | None = Field(default=None, max_length=MAX_TEXT)
    owner_id: int | None = None

    @model_validator(mode="after")
    def _outcome_when_done(self) -> FollowUpUpdate:
        if self.status == "done" and not (self.outcome or "").strip():
            raise ValueError("say what came of it before marking the follow-up done")
        return self


class FollowUpOut(BaseModel):
    id: int
    rule_id: int | None
    rule_name: str | None = None
    response_id: int
    survey_id: int
    survey_name: str = ""
    account_id: int | None
    account_name: str | None = None
    person_id: int | None
    person_email: str | None = None
    owner_id: int | None
    owner_name: str | None = None
    status: str
    score: float | None
    comment: str = ""
    outcome: str
    created_at: dt.datetime
    closed_at: dt.datetime | None


class ImportRow(_Input):
    """One row of a historical responses file."""

    email: EmailStr
    score: float = Field(ge=0, le=10)
    comment: str = Field(default="", max_length=MAX_TEXT)
    date: dt.datetime
    survey: str = Field(min_length=1, max_length=200)

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()):
            return v.strip() + "T00:00:00"
        return v

    @field_validator("date", mode="after")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        return v if v.tzinfo else v.replace(tzinfo=dt.UTC)

    @field_validator("score")
    @classmethod
    def _whole(cls, v: float) -> float:
        if v != int(v):
            raise ValueError("a score is a whole number")
        return v

    @field_validator("email", mode="after")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()
