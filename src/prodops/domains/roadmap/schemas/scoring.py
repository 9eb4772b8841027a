"""Scorecards and scores: the built-in formulas (RICE, WSJF, value/effort), inputs and where they come from,
hand-entered values, and the ranked list."""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Kind = Literal["rice", "wsjf", "value_effort", "custom"]
Source = Literal["manual", "reach_accounts", "arr_demand", "feedback_items", "votes", "effort"]
Origin = Literal["hand", "evidence", "default", "missing"]

KIND_LABELS: dict[str, str] = {
    "rice": "RICE",
    "wsjf": "WSJF",
    "value_effort": "Value / effort",
    "custom": "Custom formula",
}
SOURCE_LABELS: dict[str, str] = {
    "manual": "Entered by hand",
    "reach_accounts": "Unique accounts asking (feedback and votes)",
    "arr_demand": "ARR-weighted demand (feedback and votes)",
    "feedback_items": "Linked feedback items",
    "votes": "Votes (portal and on behalf of customers)",
    "effort": "Effort from the feature plan",
}
EVIDENCE_SOURCES = frozenset({"reach_accounts", "arr_demand", "feedback_items", "votes"})
MAX_INPUTS = 20
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESERVED = frozenset({"min", "max", "log", "sqrt", "if"})
"""The formula language's function names (see ``service/formula.py``), which inputs cannot be called."""
MAX_VALUE = 1e12

_WRITE = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ScoreInputDef(BaseModel):
    """One variable of a formula. Evidence sources fill it automatically; a value entered by hand always wins."""

    model_config = _WRITE

    key: str = Field(min_length=1, max_length=40, description="The name the formula uses, e.g. `reach`.")
    label: str = Field(default="", max_length=80, description="What people see, e.g. `Reach`.")
    source: Source = Field(default="manual", description="Where the value comes from when none is entered by hand.")
    default: float | None = Field(
        default=None, description="Used when there is neither a hand value nor evidence; empty: the score waits."
    )

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not KEY.fullmatch(v):
            raise ValueError("use letters, digits and '_', starting with a letter (e.g. time_criticality)")
        if v in RESERVED:
            raise ValueError(f"'{v}' is a function name; choose another")
        return v

    @field_validator("default")
    @classmethod
    def _default(cls, v: float | None) -> float | None:
        if v is not None and (not math.isfinite(v) or abs(v) > MAX_VALUE):
            raise ValueError("enter a finite number")
        return v

    @model_validator(mode="after")
    def _label(self) -> ScoreInputDef:
        if not self.label:
            self.label = self.key.replace("_", " ").capitalize()
        return self


def _inputs(*rows: tuple[str, str, str, float | None]) -> list[ScoreInputDef]:
    return [ScoreInputDef(key=k, label=label, source=s, default=d) for k, label, s, d in rows]


#: The built-in scorecards: formula and inputs. Evidence fills reach; effort comes from the feature plan.
BUILTINS: dict[str, tuple[str, list[ScoreInputDef]]] = {
    "rice": (
        "reach * impact * confidence / effort",
        _inputs(
            ("reach", "Reach (accounts asking)", "reach_accounts", 0.0),
            ("impact", "Impact (0.25–3)", "manual", 1.0),
            ("confidence", "Confidence (0–1)", "manual", 0.8),
            ("effort", "Effort", "effort", None),
        ),
    ),
    "wsjf": (
        "(business_value + time_criticality + risk_reduction) / job_size",
        _inputs(
            ("business_value", "Business value (1–20)", "manual", None),
            ("time_criticality", "Time criticality (1–20)", "manual", None),
            ("risk_reduction", "Risk reduction / opportunity (1–20)", "manual", None),
            ("job_size", "Job size", "effort", None),
        ),
    ),
    "value_effort": (
        "value / effort",
        _inputs(("value", "Value (ARR asking)", "arr_demand", 0.0), ("effort", "Effort", "effort", None)),
    ),
}


class ScorecardIn(BaseModel):
    """A scorecard. For ``rice``, ``wsjf`` and ``value_effort`` the formula is the built-in one and the inputs
    default to the built-in ones (their labels, sources and defaults may be changed, not their keys); ``custom``
    takes any formula over its inputs."""

    model_config = _WRITE

    name: str = Field(min_length=1, max_length=120)
    product_id: int | None = Field(default=None, description="The product it ranks; empty: the workspace default.")
    kind: Kind = "rice"
    formula: str | None = Field(default=None, max_length=1000)
    inputs: list[ScoreInputDef] | None = Field(default=None, max_length=MAX_INPUTS)
    active: bool = True

    @field_validator("product_id", "formula", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @model_validator(mode="after")
    def _complete(self) -> ScorecardIn:
        if self.kind == "custom":
            if not self.inputs:
                raise ValueError("a custom formula needs at least one input")
            if not self.formula:
                raise ValueError("enter the formula")
        else:
            formula, inputs = BUILTINS[self.kind]
            wanted = [i.key for i in inputs]
            if self.inputs is None:
                self.inputs = [i.model_copy() for i in inputs]
            elif sorted(i.key for i in self.inputs) != sorted(wanted):
                raise ValueError(f"{KIND_LABELS[self.kind]} has the inputs {', '.join(wanted)}")
            self.formula = formula
        keys = [i.key for i in self.inputs]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"input {twice[0]!r} is listed twice")
        return self


class ScorecardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    product_id: int | None
    product_name: str | None = None
    kind: Kind
    kind_label: str = ""
    formula: str
    inputs: list[ScoreInputDef]
    active: bool


class ScoreValuesIn(BaseModel):
    """Hand values for one feature: input key → number, or null to go back to evidence or the default."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, float | None] = Field(min_length=1, max_length=MAX_INPUTS)

    @field_validator("values")
    @classmethod
    def _finite(cls, v: dict[str, float | None]) -> dict[str, float | None]:
        for key, value in v.items():
            if value is not None and (not math.isfinite(value) or abs(value) > MAX_VALUE):
                raise ValueError(f"{key}: enter a finite number")
        return v


class InputValue(BaseModel):
    key: str
    label: str
    value: float | None
    origin: Origin
    """``hand``: entered by a person (wins over evidence); ``evidence``: from feedback, votes or the plan;
    ``default``: the scorecard's default; ``missing``: nothing yet, so the score waits."""


class RankedRow(BaseModel):
    rank: int | None
    """Position in the ranking (None: not scored yet, listed last)."""
    feature_id: int
    title: str
    product_id: int | None
    product_name: str | None = None
    status: str
    status_label: str = ""
    team_id: int | None = None
    team_name: str | None = None
    score: float | None
    inputs: list[InputValue]


class Ranking(BaseModel):
    scorecard: ScorecardOut
    items: list[RankedRow]
    total: int
    scored: int
    page: int
    per_page: int
    located_rank: int | None = None
    """The rank of the feature asked for with ``locate``, on whichever page it is."""

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class RankingFilters(BaseModel):
    """Filters of the ranked list (page and API)."""

    model_config = ConfigDict(extra="forbid")

    scorecard_id: int | None = Field(
        default=None, description="The scorecard (default: the product's, else the workspace's)."
    )
    product_id: int | None = None
    team_id: int | None = Field(default=None, description="The feature plan's team, else the feature's.")
    status: str | None = Field(
        default=None, max_length=40, description="A status key, `open` (default: not shipped or declined) or `all`."
    )
    q: str | None = Field(default=None, max_length=200)
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=500)

    @field_validator("scorecard_id", "product_id", "team_id", "status", "q", mode="before")
    @classmethod
    def _blank(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip()
            return v or None
        return v


class ScoreChange(BaseModel):
    """What an edit did to one feature's place in the ranking."""

    feature_id: int
    score_before: float | None
    score: float | None
    rank_before: int | None
    rank: int | None
