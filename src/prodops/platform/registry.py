"""Extension points: navigation entries, page panels, demo seeders, CLI sub-commands, warehouse datasets.

Domains register here at import time; :func:`load_domains` imports every installed domain's modules
so the web app, CLI, worker and migrations all see the same set. The platform never imports a domain
by name in code, only through this list.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy.orm import Session

    from prodops.platform.demo import DemoContext

#: Installed domains, lowest tier first (see ARCHITECTURE.md).
DOMAINS: tuple[str, ...] = ("customers", "features", "analytics", "feedback", "portal", "surveys", "roadmap")

#: The modules a domain may provide, imported in this order.
_DOMAIN_MODULES = ("models", "service", "jobs", "routes", "commands", "demo", "datasets")

Role = Literal["viewer", "member", "admin"]


@dataclass(frozen=True)
class NavEntry:
    label: str
    path: str
    section: str = "Workspace"
    order: int = 100
    min_role: Role = "viewer"
    icon: str = ""


@dataclass(frozen=True)
class DemoSeeder:
    name: str
    order: int
    seed: Callable[[Session, DemoContext], str]
    """Seeds one domain's demo data and returns a one-line summary; must be idempotent."""


@dataclass(frozen=True)
class Panel:
    """A section a higher-tier domain adds to a lower one's page, loaded by HTMX from ``url``.

    ``url`` is a format string filled with the page's identifiers, e.g. ``/feedback/features/{id}/evidence``.
    """

    slot: str
    title: str
    url: str
    order: int = 100


@dataclass
class Registry:
    nav: list[NavEntry] = field(default_factory=list)
    routers: list[APIRouter] = field(default_factory=list)
    demo_seeders: list[DemoSeeder] = field(default_factory=list)
    cli_apps: dict[str, typer.Typer] = field(default_factory=dict)
    datasets: dict[str, Callable[..., Any]] = field(default_factory=dict)
    panels: list[Panel] = field(default_factory=list)
    loaded: bool = False


registry = Registry()


def nav(label: str, path: str, *, section: str = "Workspace", order: int = 100, min_role: Role = "viewer") -> None:
    entry = NavEntry(label, path, section, order, min_role)
    if entry not in registry.nav:
        registry.nav.append(entry)
        registry.nav.sort(key=lambda e: (e.section != "Workspace", e.section, e.order, e.label))


def panel(slot: str, title: str, url: str, *, order: int = 100) -> None:
    """Add a panel to every page that shows ``slot`` (e.g. ``"feature"``); see :class:`Panel`."""
    entry = Panel(slot, title, url, order)
    if entry not in registry.panels:
        registry.panels.append(entry)
        registry.panels.sort(key=lambda p: (p.slot, p.order, p.title))


def panels_for(slot: str, **ids: object) -> list[dict[str, str]]:
    """The panels of ``slot`` with their URLs filled in, for a template to load."""
    return [{"title": p.title, "url": p.url.format(**ids)} for p in registry.panels if p.slot == slot]


def router(r: APIRouter) -> APIRouter:
    # Identity, not ==: Starlette routers compare equal by their routes, and every router is empty when registered.
    if not any(known is r for known in registry.routers):
        registry.routers.append(r)
    return r


def demo_seeder(
    name: str, order: int = 100
) -> Callable[[Callable[[Session, DemoContext], str]], Callable[[Session, DemoContext], str]]:
    def decorator(fn: Callable[[Session, DemoContext], str]) -> Callable[[Session, DemoContext], str]:
        if not any(s.name == name for s in registry.demo_seeders):
            registry.demo_seeders.append(DemoSeeder(name, order, fn))
            registry.demo_seeders.sort(key=lambda s: s.order)
        return fn

    return decorator


def cli(name: str, app: typer.Typer) -> typer.Typer:
    registry.cli_apps[name] = app
    return app


def dataset(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a table a domain exposes to the analytics warehouse."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        registry.datasets[name] = fn
        return fn

    return decorator


def load_domains() -> Registry:
    """Import the platform's own feature modules and every installed domain (idempotent)."""
    if registry.loaded:
        return registry
    for module in (
        "prodops.platform.home",
        "prodops.platform.identity.routes",
        "prodops.platform.org.routes",
        "prodops.platform.audit_routes",
        "prodops.platform.notify.models",
        "prodops.platform.notify.jobs",
        "prodops.platform.notify.routes",
        "prodops.platform.notify.optout_routes",
        "prodops.platform.identity.commands",
        "prodops.platform.text.commands",
    ):
        importlib.import_module(module)
    for domain in DOMAINS:
        for part in _DOMAIN_MODULES:
            name = f"prodops.domains.{domain}.{part}"
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
    registry.loaded = True
    return registry
