"""Form parsing and chart specs shared by the goals, initiatives, alignment and evidence pages."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from prodops.domains.roadmap.schemas.goals import CheckInOut, KeyResultOut, ProgressPoint
from prodops.platform.tabular import attachment_headers, write_csv


class _Form(BaseModel):
    """Raw form fields as typed by a person; validation happens in the schemas so errors show inline."""

    model_config = ConfigDict(extra="ignore")


class GoalForm(_Form):
    title: str = ""
    description: str = ""
    level: str = "company"
    parent_id: str = ""
    product_id: str = ""
    team_id: str = ""
    owner_id: str = ""
    period_start: str = ""
    period_end: str = ""
    status: str = "active"
    weight: str = "1"


class KeyResultForm(_Form):
    title: str = ""
    unit: str = ""
    start_value: str = "0"
    target_value: str = ""
    source: str = "manual"
    metric_key: str = ""
    weight: str = "1"
    owner_id: str = ""


class CheckInForm(_Form):
    value: str = ""
    confidence: str = ""
    narrative: str = ""


class InitiativeForm(_Form):
    title: str = ""
    description: str = ""
    product_id: str = ""
    team_id: str = ""
    owner_id: str = ""
    status: str = "proposed"
    start_date: str = ""
    end_date: str = ""
    goal_ids: list[str] = []


class PlanForm(_Form):
    initiative_id: str = ""
    effort: str = ""
    effort_unit: str = "points"
    team_id: str = ""


def payload(form: _Form, numbers: tuple[str, ...] = ()) -> dict[str, Any]:
    """Form fields as schema input: blanks stay blank (the schemas turn them into null), numbers keep their text
    so the schema names a field that is not a number."""
    data = form.model_dump()
    for key in numbers:
        if isinstance(data.get(key), str) and not data[key].strip():
            data.pop(key)
    return data


def values_of(obj: BaseModel, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    values = {k: ("" if v is None else v) for k, v in obj.model_dump().items()}
    values.update(extra or {})
    return values


def csv_response(filename: str, headers: list[str], rows: list[list[Any]]) -> Response:
    return Response(
        write_csv(headers, rows), media_type="text/csv; charset=utf-8", headers=attachment_headers(filename)
    )


# --- charts ------------------------------------------------------------------------------------------------

_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


def progress_chart(points: list[ProgressPoint], title: str) -> dict[str, Any]:
    """The goal's rolled-up progress per week, 0–100 %."""
    values = [
        {"day": p.day.isoformat(), "progress": round(100 * p.progress, 1)} for p in points if p.progress is not None
    ]
    return {
        "$schema": _SCHEMA,
        "description": title,
        "data": {"values": values},
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {"field": "day", "type": "temporal", "title": None},
            "y": {"field": "progress", "type": "quantitative", "title": "Progress (%)", "scale": {"domain": [0, 100]}},
            "tooltip": [
                {"field": "day", "type": "temporal", "title": "Week ending"},
                {"field": "progress", "type": "quantitative", "title": "Progress (%)"},
            ],
        },
        "height": 200,
        "width": "container",
    }


def checkin_chart(kr: KeyResultOut, checkins: list[CheckInOut]) -> dict[str, Any]:
    """Values over time (person check-ins and metric snapshots), with the start and target as lines."""
    values = [
        {
            "at": c.created_at.isoformat(),
            "value": c.value,
            "source": "Metric snapshot" if c.source == "metric" else "Check-in",
        }
        for c in sorted(checkins, key=lambda c: c.created_at)
    ]
    rules = [{"label": "Start", "value": kr.start_value}, {"label": "Target", "value": kr.target_value}]
    unit = f" ({kr.unit})" if kr.unit else ""
    return {
        "$schema": _SCHEMA,
        "description": f"{kr.title}: values over time",
        "layer": [
            {
                "data": {"values": values},
                "mark": {"type": "line", "point": True, "tooltip": True},
                "encoding": {
                    "x": {"field": "at", "type": "temporal", "title": None},
                    "y": {"field": "value", "type": "quantitative", "title": f"Value{unit}"},
                    "color": {"field": "source", "type": "nominal", "title": None, "legend": {"orient": "top"}},
                },
            },
            {
                "data": {"values": rules},
                "mark": {"type": "rule", "strokeDash": [4, 4]},
                "encoding": {
                    "y": {"field": "value", "type": "quantitative"},
                    "tooltip": [{"field": "label"}, {"field": "value", "type": "quantitative"}],
                },
            },
        ],
        "height": 200,
        "width": "container",
    }


def share_chart(rows: list[Any], title: str, unit: str) -> dict[str, Any]:
    """Horizontal bars: planned effort per goal or initiative, with the share in the tooltip."""
    values = [
        {"title": r.title, "effort": r.effort, "share": round(100 * r.share, 1), "features": r.features}
        for r in rows[:25]
    ]
    return {
        "$schema": _SCHEMA,
        "description": title,
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "y": {"field": "title", "type": "nominal", "sort": None, "title": None, "axis": {"labelLimit": 260}},
            "x": {"field": "effort", "type": "quantitative", "title": f"Planned effort ({unit})"},
            "tooltip": [
                {"field": "title", "title": "Name"},
                {"field": "effort", "type": "quantitative", "title": f"Effort ({unit})"},
                {"field": "share", "type": "quantitative", "title": "Share (%)"},
                {"field": "features", "type": "quantitative", "title": "Features"},
            ],
        },
        "height": {"step": 22},
        "width": "container",
    }


def metric_chart(title: str, points: list[tuple[Any, float]]) -> dict[str, Any]:
    return {
        "$schema": _SCHEMA,
        "description": title,
        "data": {"values": [{"day": d.isoformat(), "value": v} for d, v in points]},
        "mark": {"type": "line", "tooltip": True},
        "encoding": {
            "x": {"field": "day", "type": "temporal", "title": None},
            "y": {"field": "value", "type": "quantitative", "title": None},
        },
        "height": 120,
        "width": "container",
    }
