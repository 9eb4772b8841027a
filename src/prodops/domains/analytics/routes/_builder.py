"""The insight builder's form: query parameters ⇄ insight queries, so every built insight has a shareable URL.

Names: ``kind``, ``date_from``, ``date_to``, ``interval``; trends ``event``/``math``/``property`` (repeated, one
per series) and ``compare``; ``bd_source``/``bd_property``/``bd_limit`` (breakdown); filters ``f_source``/
``f_property``/``f_op``/``f_value`` (repeated); funnels ``step`` (repeated), ``order``, ``window``, ``window_unit``;
retention ``target_event``, ``return_event``, ``cohort``, ``periods``; adoption ``feature_name``, ``events``
(comma-separated), ``feature_id``; datasets ``dataset``, ``date_column``, ``where_column``, ``where_value``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.datastructures import ImmutableMultiDict

from prodops.domains.analytics.service import insights
from prodops.domains.analytics.service.insights import InsightQuery

SERIES_ROWS = 3
FILTER_ROWS = 3
STEP_ROWS = 6
PARAM_NAMES = [
    "kind",
    "date_from",
    "date_to",
    "interval",
    "event",
    "math",
    "property",
    "compare",
    "bd_source",
    "bd_property",
    "bd_limit",
    "f_source",
    "f_property",
    "f_op",
    "f_value",
    "step",
    "order",
    "window",
    "window_unit",
    "target_event",
    "return_event",
    "cohort",
    "periods",
    "feature_name",
    "events",
    "feature_id",
    "dataset",
    "date_column",
    "where_column",
    "where_value",
]


def _get(params: ImmutableMultiDict[str, str], name: str) -> str:
    return (params.get(name) or "").strip()


def _list(params: ImmutableMultiDict[str, str], name: str) -> list[str]:
    return [v.strip() for v in params.getlist(name)]


def query_data(params: ImmutableMultiDict[str, str]) -> dict[str, Any]:
    """The query the form describes, as JSON-like data (not validated yet)."""
    kind = _get(params, "kind") or "trends"
    data: dict[str, Any] = {"kind": kind, "date_from": _get(params, "date_from") or "-30d"}
    if _get(params, "date_to"):
        data["date_to"] = _get(params, "date_to")
    filters = []
    for source, prop, op, value in zip(
        _list(params, "f_source"),
        _list(params, "f_property"),
        _list(params, "f_op"),
        _list(params, "f_value"),
        strict=False,
    ):
        if prop:
            filters.append({"source": source or "event", "property": prop, "op": op or "eq", "value": value or None})
    data["filters"] = filters
    breakdown = None
    if _get(params, "bd_property"):
        breakdown = {
            "source": _get(params, "bd_source") or "account",
            "property": _get(params, "bd_property"),
            "limit": _get(params, "bd_limit") or 5,
        }
    interval = _get(params, "interval")
    if kind == "trends":
        events, maths, props = _list(params, "event"), _list(params, "math"), _list(params, "property")
        series = []
        for i in range(max(len(events), 1)):
            event = events[i] if i < len(events) else ""
            math = maths[i] if i < len(maths) else "total"
            prop = props[i] if i < len(props) else ""
            if i > 0 and not event:
                continue
            series.append({"event": event or None, "math": math or "total", "property": prop or None})
        data.update(
            series=series, interval=interval or "day", breakdown=breakdown, compare=bool(_get(params, "compare"))
        )
    elif kind == "funnel":
        data.update(
            steps=[{"event": s} for s in _list(params, "step") if s],
            order=_get(params, "order") or "ordered",
            window=_get(params, "window") or 14,
            window_unit=_get(params, "window_unit") or "day",
            breakdown=breakdown,
        )
    elif kind == "retention":
        data.update(
            target_event=_get(params, "target_event"),
            return_event=_get(params, "return_event") or _get(params, "target_event"),
            cohort=_get(params, "cohort") or "first_time",
            interval=interval or "week",
            periods=_get(params, "periods") or 8,
        )
    elif kind in {"stickiness", "lifecycle"}:
        events = [e for e in _list(params, "event") if e]
        data.update(event=events[0] if events else None, interval=interval or "day")
    elif kind == "adoption":
        data.update(
            feature_name=_get(params, "feature_name"),
            events=[e.strip() for e in _get(params, "events").split(",") if e.strip()],
            feature_id=_get(params, "feature_id") or None,
            interval=interval or "week",
        )
    elif kind == "dataset":
        data.update(
            dataset=_get(params, "dataset"),
            date_column=_get(params, "date_column"),
            where_column=_get(params, "where_column") or None,
            where_value=_get(params, "where_value") or None,
            interval=interval or "day",
        )
        data.pop("filters")
    return data


def parse(params: ImmutableMultiDict[str, str]) -> tuple[InsightQuery | None, dict[str, str]]:
    """The validated query, or None and field → message (names as in the form: ``step``, ``f_property``...)."""
    try:
        return insights.parse_query(query_data(params)), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p in insights.KINDS)]
            errors.setdefault(_form_name(loc), err["msg"].removeprefix("Value error, "))
        return None, errors


def _form_name(loc: list[Any]) -> str:
    if not loc:
        return "_"
    head = str(loc[0])
    if head == "series":
        return {"property": "property", "math": "math"}.get(str(loc[-1]), "event")
    if head == "steps":
        return "step"
    if head == "filters":
        return "f_" + ("value" if len(loc) < 3 else str(loc[-1]).replace("value", "value"))
    if head == "breakdown":
        return "bd_" + (str(loc[-1]) if len(loc) > 1 else "property")
    return head


def params_of(query: InsightQuery) -> list[tuple[str, str]]:
    """The form parameters that describe ``query`` (the inverse of :func:`query_data`)."""
    data = query.model_dump(mode="json")
    out: list[tuple[str, str]] = [("kind", data["kind"]), ("date_from", data["date_from"])]
    if data.get("date_to"):
        out.append(("date_to", data["date_to"]))
    if "interval" in data:
        out.append(("interval", data["interval"]))
    for f in data.get("filters", []):
        out += [("f_source", f["source"]), ("f_property", f["property"]), ("f_op", f["op"])]
        value = f["value"]
        out.append(("f_value", "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))))
    bd = data.get("breakdown")
    if bd:
        out += [("bd_source", bd["source"]), ("bd_property", bd["property"]), ("bd_limit", str(bd["limit"]))]
    kind = data["kind"]
    if kind == "trends":
        for s in data["series"]:
            out += [("event", s["event"] or ""), ("math", s["math"]), ("property", s["property"] or "")]
        if data["compare"]:
            out.append(("compare", "1"))
    elif kind == "funnel":
        out += [("step", s["event"]) for s in data["steps"]]
        out += [("order", data["order"]), ("window", str(data["window"])), ("window_unit", data["window_unit"])]
    elif kind == "retention":
        out += [
            ("target_event", data["target_event"]),
            ("return_event", data["return_event"]),
            ("cohort", data["cohort"]),
            ("periods", str(data["periods"])),
        ]
    elif kind in {"stickiness", "lifecycle"}:
        out.append(("event", data["event"] or ""))
    elif kind == "adoption":
        out += [("feature_name", data["feature_name"]), ("events", ", ".join(data["events"]))]
        if data.get("feature_id"):
            out.append(("feature_id", str(data["feature_id"])))
    elif kind == "dataset":
        out += [("dataset", data["dataset"]), ("date_column", data["date_column"])]
        if data.get("where_column"):
            out += [("where_column", data["where_column"]), ("where_value", data["where_value"] or "")]
    return out


def form_state(params: ImmutableMultiDict[str, str]) -> dict[str, Any]:
    """What the builder template reads: single values, and padded lists for the repeated rows."""
    state: dict[str, Any] = {name: _get(params, name) for name in PARAM_NAMES}
    state["kind"] = state["kind"] or "trends"
    state["date_from"] = state["date_from"] or "-30d"

    def rows(names: list[str], n: int) -> list[dict[str, str]]:
        lists = {name: _list(params, name) for name in names}
        count = max(n, *[len(v) for v in lists.values()])
        return [{name: (lists[name][i] if i < len(lists[name]) else "") for name in names} for i in range(count)]

    state["series_rows"] = rows(["event", "math", "property"], SERIES_ROWS)
    state["filter_rows"] = rows(["f_source", "f_property", "f_op", "f_value"], FILTER_ROWS)
    state["step_rows"] = [r["step"] for r in rows(["step"], STEP_ROWS)]
    return state
