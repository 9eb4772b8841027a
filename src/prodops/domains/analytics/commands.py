"""CLI: `prodops analytics ...` — event sources and the warehouse copy of the customers accounts."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from prodops.domains.analytics.service import sources
from prodops.platform import registry
from prodops.platform.audit import Actor
from prodops.platform.db import session_scope
from prodops.platform.errors import ServiceError

console = Console(stderr=True)
app = registry.cli("analytics", typer.Typer(help="Product analytics: event sources, warehouse.", no_args_is_help=True))


@app.command("sources")
def list_sources(
    as_json: Annotated[bool, typer.Option("--json", help="Print the sources (with write keys) as JSON.")] = False,
) -> None:
    """List event sources with their write keys and traffic."""
    with session_scope() as session:
        found = sources.list_sources(session)
    if as_json:
        typer.echo(json.dumps([s.model_dump(mode="json") for s in found], indent=2))
        return
    table = Table("id", "name", "accepts", "write key", "enabled", "events", "last event")
    for s in found:
        last = s.last_event_at.isoformat(timespec="seconds") if s.last_event_at else "—"
        table.add_row(
            str(s.id), s.name, s.kind, s.write_key, "yes" if s.enabled else "no", f"{s.events_received:,}", last
        )
    Console().print(table)


@app.command("create-source")
def create_source(
    name: Annotated[str, typer.Argument(help="A name for the app or service that sends events.")],
    kind: Annotated[str, typer.Option(help="Which endpoints accept the key: any, segment or posthog.")] = "any",
) -> None:
    """Create an event source and print its write key."""
    try:
        data = sources.SourceIn.model_validate({"name": name, "kind": kind})
        with session_scope() as session:
            created = sources.create_source(session, Actor.system("cli"), data)
    except ServiceError as exc:
        console.print(f"[red]Error:[/red] {exc.field + ': ' if exc.field else ''}{exc.message}")
        raise typer.Exit(2) from None
    except ValueError as exc:  # pydantic's ValidationError
        console.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"Created source [bold]{created.name}[/bold] (#{created.id}). Write key:")
    typer.echo(created.write_key)
