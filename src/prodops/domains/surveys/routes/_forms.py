"""Form helpers of the survey pages: the builder's compact text for options and branching, and filter parsing."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from fastapi import Request

from prodops.domains.surveys.queries.results import Filters
from prodops.domains.surveys.schemas import QuestionOut
from prodops.platform.errors import ValidationFailed

_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:-|–|to|\.\.)\s*(-?\d+(?:\.\d+)?)\s*$")
_ONE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*$")


def parse_options(text: str, language: str) -> list[dict[str, Any]]:
    """``value | label`` per line (the label in the survey's first language; a line without ``|`` is both)."""
    found = []
    for line in text.splitlines():
        if not line.strip():
            continue
        value, _, label = line.partition("|")
        value = value.strip()
        found.append({"value": value, "label": {language: (label.strip() or value)}})
    return found


def options_text(question: QuestionOut, language: str) -> str:
    if question.qtype == "rating":
        return ""
    return "\n".join(f"{o.value} | {o.label.get(language) or o.value}" for o in question.options)


def parse_branches(text: str) -> list[dict[str, Any]]:
    """One rule per line: ``0-6 -> why_low``, ``9 -> end``, ``choice: price, speed -> why_price``, ``always -> end``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        when, arrow, goto = line.partition("->")
        if not arrow:
            raise ValidationFailed("branches", f"line {number}: write it as ‘0-6 -> question_key’ (with an arrow ->)")
        when, goto = when.strip(), goto.strip()
        rule: dict[str, Any] = {"goto": goto}
        if when.lower() in ("always", "else", "otherwise", "*"):
            pass
        elif when.lower().startswith("choice"):
            rule["choices"] = [c.strip() for c in when.partition(":")[2].split(",") if c.strip()]
            if not rule["choices"]:
                raise ValidationFailed("branches", f"line {number}: list the choices after ‘choice:’")
        elif match := _RANGE.match(when):
            rule["min"], rule["max"] = float(match.group(1)), float(match.group(2))
        elif match := _ONE.match(when):
            rule["min"] = rule["max"] = float(match.group(1))
        else:
            raise ValidationFailed(
                "branches", f"line {number}: {when!r} is not a range (0-6), a number, ‘choice: a, b’ or ‘always’"
            )
        found.append(rule)
    return found


def branches_text(question: QuestionOut) -> str:
    lines = []
    for b in question.branches:
        if b.get("choices"):
            when = "choice: " + ", ".join(b["choices"])
        elif b.get("min") is not None or b.get("max") is not None:
            lo, hi = b.get("min"), b.get("max")
            when = f"{lo:g}" if lo == hi else f"{(lo if lo is not None else 0):g}-{(hi if hi is not None else 10):g}"
        else:
            when = "always"
        lines.append(f"{when} -> {b['goto']}")
    return "\n".join(lines)


def describe_branch(b: Mapping[str, Any]) -> str:
    target = "the end" if b["goto"] == "end" else f"“{b['goto']}”"
    if b.get("choices"):
        return f"if {', '.join(b['choices'])} → {target}"
    if b.get("min") is not None or b.get("max") is not None:
        lo, hi = b.get("min"), b.get("max")
        low = "…" if lo is None else f"{lo:g}"
        high = "…" if hi is None else f"{hi:g}"
        return f"if {low} → {target}" if lo == hi else f"if {low}–{high} → {target}"
    return f"then → {target}"


def _date(value: str | None, field: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(field, "give a date as YYYY-MM-DD") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _int(value: str | None, field: str) -> int | None:
    if not value:
        return None
    if not value.strip().isdigit():
        raise ValidationFailed(field, "give a whole number")
    return int(value)


def filters_from(request: Request) -> Filters:
    """Results filters from the query string (bad values → 422 naming the parameter)."""
    p = request.query_params
    until = _date(p.get("until"), "until")
    return Filters(
        since=_date(p.get("since"), "since"),
        until=until + dt.timedelta(days=1) if until else None,
        segment_id=_int(p.get("segment_id"), "segment_id"),
        plan=p.get("plan") or None,
        segment=p.get("segment") or None,
        region=p.get("region") or None,
        wave_id=_int(p.get("wave_id"), "wave_id"),
        channel=p.get("channel") or None,
    )
