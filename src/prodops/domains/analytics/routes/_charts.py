"""Vega-Lite specs for insight results (one per kind), shared by pages, dashboards and PNG exports."""

from __future__ import annotations

from typing import Any

from prodops.domains.analytics.service.insights import sql as q
from prodops.domains.analytics.service.insights.types import InsightResult

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
TIME_FORMAT = {"hour": "%d %b %H:%M", "day": "%d %b", "week": "%d %b", "month": "%b %Y"}
PERCENT_UNITS = {"share", "percent"}


def _partial_from(result: InsightResult) -> int | None:
    """Index of the first interval that has not ended by the end of the range (drawn dashed: "so far")."""
    if not result.series or not result.interval:
        return None
    end = result.date_to
    for i, point in enumerate(result.series[0].points):
        if q.add(point.bucket, result.interval) > end:
            return i
    return None


def _time_axis(interval: str | None, fmt: str) -> dict[str, Any]:
    """Ticks on whole intervals only (a day axis never shows the same date twice)."""
    axis: dict[str, Any] = {"format": fmt, "labelOverlap": True}
    if interval in {"hour", "day", "month"}:
        axis["tickCount"] = {"interval": interval, "step": 1}
    return axis


def _time_series(result: InsightResult, height: int, *, percent: bool = False) -> dict[str, Any]:
    """Lines per series; the previous period and the interval still in progress are dashed."""
    partial = _partial_from(result)
    values: list[dict[str, Any]] = []
    for s in result.series:
        for i, p in enumerate(s.points):
            dashed = s.compare or (partial is not None and i >= partial)
            row = {
                "t": p.bucket.isoformat(),
                "series": s.label,
                "value": p.value,
                "dash": "dashed" if dashed else "solid",
            }
            row["part"] = "so far" if partial is not None and i >= partial and not s.compare else "whole"
            values.append(row)
            if not s.compare and partial is not None and i == partial - 1:
                values.append({**row, "dash": "dashed"})  # the dashed piece starts where the solid line ends
    fmt = TIME_FORMAT.get(result.interval or "day", "%d %b")
    y: dict[str, Any] = {"field": "value", "type": "quantitative", "title": None}
    if percent:
        y["axis"] = {"format": ".0%"}
    encoding: dict[str, Any] = {
        "x": {"field": "t", "type": "temporal", "title": None, "axis": _time_axis(result.interval, fmt)},
        "y": y,
        "color": {"field": "series", "type": "nominal", "title": None, "legend": {"orient": "bottom", "columns": 3}},
        "strokeDash": {
            "field": "dash",
            "type": "nominal",
            "scale": {"domain": ["solid", "dashed"], "range": [[1, 0], [5, 4]]},
            "legend": None,
        },
        "tooltip": [
            {"field": "series", "type": "nominal", "title": "Series"},
            {"field": "t", "type": "temporal", "title": "Interval", "format": fmt + (" %Y" if "%Y" not in fmt else "")},
            {"field": "value", "type": "quantitative", "title": "Value", "format": ".1%" if percent else ",.4~f"},
            {"field": "part", "type": "nominal", "title": "Counted"},
        ],
    }
    if len(result.series) <= 1:
        encoding["color"]["legend"] = None
    return {
        "$schema": SCHEMA,
        "data": {"values": values},
        "mark": {"type": "line", "point": len(values) <= 60, "tooltip": True},
        "encoding": encoding,
        "height": height,
    }


def _lifecycle(result: InsightResult, height: int) -> dict[str, Any]:
    values = [
        {"t": p.bucket.isoformat(), "status": s.label, "people": p.value} for s in result.series for p in s.points
    ]
    fmt = TIME_FORMAT.get(result.interval or "day", "%d %b")
    return {
        "$schema": SCHEMA,
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {
                "field": "t",
                "type": "temporal",
                "timeUnit": _time_unit(result.interval),
                "title": None,
                "axis": {"format": fmt},
            },
            "y": {"field": "people", "type": "quantitative", "title": "People", "stack": "zero"},
            "color": {
                "field": "status",
                "type": "nominal",
                "title": None,
                "scale": {
                    "domain": ["New", "Returning", "Resurrecting", "Dormant"],
                    "range": ["#2f9e44", "#1c7ed6", "#f59f00", "#e03131"],
                },
                "legend": {"orient": "bottom"},
            },
            "tooltip": [
                {"field": "status", "type": "nominal", "title": "Status"},
                {"field": "t", "type": "temporal", "title": "Interval", "format": fmt},
                {"field": "people", "type": "quantitative", "title": "People"},
            ],
        },
        "height": height,
    }


def _time_unit(interval: str | None) -> str:
    return {"hour": "yearmonthdatehours", "day": "yearmonthdate", "week": "yearmonthdate", "month": "yearmonth"}.get(
        interval or "day", "yearmonthdate"
    )


def _funnel(result: InsightResult, height: int) -> dict[str, Any]:
    groups = result.breakdowns or []
    if groups:
        values = [
            {
                "step": f"{s.step}. {s.label}",
                "group": g.breakdown,
                "people": s.count,
                "conversion": s.conversion_from_first,
            }
            for g in groups
            for s in g.steps
        ]
    else:
        values = [
            {"step": f"{s.step}. {s.label}", "group": "All", "people": s.count, "conversion": s.conversion_from_first}
            for s in result.steps
        ]
    encoding: dict[str, Any] = {
        "x": {"field": "step", "type": "ordinal", "title": None, "sort": None, "axis": {"labelAngle": 0}},
        "y": {
            "field": "conversion",
            "type": "quantitative",
            "title": "Conversion from step 1",
            "axis": {"format": ".0%"},
        },
        "tooltip": [
            {"field": "step", "type": "ordinal", "title": "Step"},
            {"field": "group", "type": "nominal", "title": "Group"},
            {"field": "people", "type": "quantitative", "title": "People", "format": ","},
            {"field": "conversion", "type": "quantitative", "title": "Conversion", "format": ".1%"},
        ],
    }
    if groups:
        encoding["xOffset"] = {"field": "group"}
        encoding["color"] = {"field": "group", "type": "nominal", "title": None, "legend": {"orient": "bottom"}}
    return {
        "$schema": SCHEMA,
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": encoding,
        "height": height,
    }


def _retention(result: InsightResult, height: int) -> dict[str, Any]:
    unit = (result.interval or "week").title()
    values = [{"period": f"{unit} {k}", "k": k, "share": share} for k, share in result.curve if share is not None]
    return {
        "$schema": SCHEMA,
        "data": {"values": values},
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {
                "field": "period",
                "type": "ordinal",
                "sort": {"field": "k"},
                "title": None,
                "axis": {"labelAngle": 0},
            },
            "y": {
                "field": "share",
                "type": "quantitative",
                "title": "Returned",
                "axis": {"format": ".0%"},
                "scale": {"domain": [0, 1]},
            },
            "tooltip": [
                {"field": "period", "type": "ordinal", "title": "Period"},
                {"field": "share", "type": "quantitative", "title": "Returned", "format": ".1%"},
            ],
        },
        "height": height,
    }


def _stickiness(result: InsightResult, height: int) -> dict[str, Any]:
    values = [{"n": row[0], "people": row[1]} for row in result.rows]
    return {
        "$schema": SCHEMA,
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {
                "field": "n",
                "type": "ordinal",
                "title": result.columns[0] if result.columns else None,
                "axis": {"labelAngle": 0},
            },
            "y": {"field": "people", "type": "quantitative", "title": "People"},
            "tooltip": [
                {"field": "n", "type": "ordinal", "title": result.columns[0] if result.columns else "Intervals"},
                {"field": "people", "type": "quantitative", "title": "People", "format": ","},
            ],
        },
        "height": height,
    }


def spec_for(result: InsightResult, height: int = 260, *, title: str | None = None) -> dict[str, Any]:
    """The chart of a result; ``title`` is drawn inside the chart (PNG exports carry their title)."""
    if result.kind == "funnel":
        spec = _funnel(result, height)
    elif result.kind == "retention":
        spec = _retention(result, height)
    elif result.kind == "stickiness":
        spec = _stickiness(result, height)
    elif result.kind == "lifecycle":
        spec = _lifecycle(result, height)
    else:
        spec = _time_series(result, height, percent=result.unit in PERCENT_UNITS)
    if title:
        spec["title"] = title
    return spec
