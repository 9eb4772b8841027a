"""The web shell: templates, page-or-partial rendering, formatting filters, flash messages, charts."""

from __future__ import annotations

import datetime as dt
import math
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import nh3
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader
from markdown_it import MarkdownIt
from markupsafe import Markup
from pydantic import ValidationError

from prodops.platform.config import get_settings
from prodops.platform.errors import ServiceError
from prodops.platform.registry import DOMAINS, panels_for, registry

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
_PACKAGE_DIR = WEB_DIR.parent.parent

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CHF": "CHF "}


def _template_dirs() -> list[Path]:
    dirs = [WEB_DIR / "templates"]
    for domain in DOMAINS:
        candidate = _PACKAGE_DIR / "domains" / domain / "templates"
        if candidate.is_dir():
            dirs.append(candidate)
    return dirs


templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
templates.env.loader = ChoiceLoader([FileSystemLoader(str(d)) for d in _template_dirs()])
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


# --- formatting for people -------------------------------------------------------------------


def fmt_number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def fmt_compact(value: float | int | None) -> str:
    """12400 → 12.4K, 1200000 → 1.2M."""
    if value is None:
        return "—"
    v = float(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= size:
            text = f"{v / size:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{v:,.0f}"


def fmt_money(value: float | int | None, compact: bool = True) -> str:
    if value is None:
        return "—"
    symbol = CURRENCY_SYMBOLS.get(get_settings().currency, get_settings().currency + " ")
    return f"{symbol}{fmt_compact(value) if compact else fmt_number(value)}"


def fmt_ago(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    if value is None:
        return "never"
    now = now or dt.datetime.now(dt.UTC)
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("year", 31536000), ("month", 2592000), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = math.floor(seconds / size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def time_tag(value: dt.datetime | None) -> Markup:
    """A relative time with the exact UTC time on hover."""
    if value is None:
        return Markup("<span>never</span>")
    exact = value.strftime("%Y-%m-%d %H:%M UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(value.isoformat(), exact, fmt_ago(value))


_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")


def render_markdown(text: str | None) -> Markup:
    """Markdown to HTML, sanitised: user text is never trusted."""
    html = _md.render(text or "")
    return Markup(nh3.clean(html, link_rel="noopener noreferrer nofollow"))  # noqa: S704  # sanitised by nh3


def url_with(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters replaced (None or "" removes one).

    Parameters not named keep every value, so repeated filters (``?plan=a&plan=b``) survive; a list
    value sets a repeated parameter.
    """
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    for key, value in changes.items():
        values = value if isinstance(value, list | tuple) else [value]
        params.extend((key, str(v)) for v in values if v is not None and v != "")
    query = urlencode(params)
    return f"{request.url.path}?{query}" if query else request.url.path


def errors_of(exc: ValidationError | ServiceError) -> dict[str, str]:
    """Field name → message for inline form errors (``_`` for the form as a whole)."""
    if isinstance(exc, ServiceError):
        return exc.field_errors()
    found: dict[str, str] = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "_"
        found.setdefault(name, err["msg"].removeprefix("Value error, "))
    return found


# The CSRF token of the request being rendered, readable from macros imported without context.
_current_csrf: ContextVar[str] = ContextVar("current_csrf", default="")

templates.env.filters.update(
    number=fmt_number, compact=fmt_compact, money=fmt_money, ago=fmt_ago, time=time_tag, markdown=render_markdown
)
templates.env.globals.update(url_with=url_with, current_csrf=_current_csrf.get, panels_for=panels_for)


# --- rendering ------------------------------------------------------------------------------


def is_htmx(request: Request) -> bool:
    """True for an HTMX request that wants a fragment, not a whole page (boosted navigations get pages)."""
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


def flash(request: Request, message: str, kind: str = "success") -> None:
    # Reassign rather than append in place: the session only notices assignments.
    request.session["flash"] = [*request.session.get("flash", []), {"message": message, "kind": kind}]


def _nav_for(user: Any) -> list[dict[str, Any]]:
    sections: dict[str, list[Any]] = {}
    if user is None:
        return []
    for entry in registry.nav:
        if user.has_role(entry.min_role):
            sections.setdefault(entry.section, []).append(entry)
    return [{"name": name, "entries": entries} for name, entries in sections.items()]


def _current_nav(path: str) -> str | None:
    """The navigation entry a page belongs to: the longest entry path that is the page's path or a parent of it
    (so /feedback/demand marks "Demand", not "Inbox" at /feedback)."""
    matches = [e.path for e in registry.nav if path == e.path or (e.path != "/" and path.startswith(e.path + "/"))]
    return max(matches, key=len, default=None)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    partial: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page, or its ``partial`` template when HTMX asks for a fragment."""
    from prodops.platform.deps import csrf_token

    principal = getattr(request.state, "principal", None)
    user = principal.view if principal is not None else None
    token = csrf_token(request)
    _current_csrf.set(token)
    ctx: dict[str, Any] = {
        "request": request,
        "user": user,
        "nav": _nav_for(user),
        "current_nav": _current_nav(request.url.path),
        "csrf_token": token,
        "flashes": request.session.pop("flash", []) if "flash" in request.session else [],
        "settings": get_settings(),
    }
    ctx.update(context or {})
    name = partial if partial and is_htmx(request) else template
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)
