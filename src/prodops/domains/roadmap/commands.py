"""CLI: `prodops roadmap goals list`, `prodops roadmap alignment`, `prodops roadmap remind`,
`prodops roadmap snapshot-metrics` and `prodops roadmap health-summary`."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.roadmap.queries import alignment as alignment_queries
from prodops.domains.roadmap.queries import goals as goal_queries
from prodops.domains.roadmap.schemas.goals import CONFIDENCE_LABELS, AlignmentFilters, GoalFilters
from prodops.domains.roadmap.service import checkins, reminders
from prodops.platform import registry
from prodops.platform.db import session_scope
from prodops.platform.org.models import Product, Team
from prodops.platform.tabular import write_csv

console = Console(stderr=True)
app = registry.cli(
    "roadmap", typer.Typer(help="Goals, key results, initiatives and the alignment report.", no_args_is_help=True)
)
goals_app = typer.Typer(help="Goals and their progress.", no_args_is_help=True)
app.add_typer(goals_app, name="goals")


def _key(session: Session, model: type[Product] | type[Team], key: str | None, option: str) -> int | None:
    if not key:
        return None
    found = session.scalar(select(model.id).where(model.key == key.strip()))
    if found is None:
        raise typer.BadParameter(f"there is no {option.strip('-')} with the key {key!r}", param_hint=option)
    return found


@goals_app.command("list")
def goals_list(
    status: Annotated[
        Literal["active", "achieved", "missed", "archived"] | None, typer.Option(help="Only goals in this status.")
    ] = None,
    product: Annotated[str | None, typer.Option(help="Only goals of this product (its key, e.g. `mobile`).")] = None,
    team: Annotated[str | None, typer.Option(help="Only goals of this team (its key).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"items": [...], "total": N} as JSON.')] = False,
) -> None:
    """List goals as a tree with their rolled-up progress and health."""
    with session_scope() as session:
        filters = GoalFilters(
            status=status,
            product_id=_key(session, Product, product, "--product"),
            team_id=_key(session, Team, team, "--team"),
        )
        goals = goal_queries.list_goals(session, filters)
    if as_json:
        payload = {"items": [g.model_dump(mode="json") for g in goals], "total": len(goals)}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    table = Table("id", "goal", "level", "progress", "health", "owner", "status", title=f"{len(goals):,} goals")
    for g in goals:
        table.add_row(
            str(g.id),
            "  " * g.depth + g.title,
            g.level,
            "—" if g.progress is None else f"{100 * g.progress:.0f}%",
            CONFIDENCE_LABELS[g.health],
            g.owner_name or "",
            g.status,
        )
    Console().print(table)


@app.command("alignment")
def alignment(
    product: Annotated[str | None, typer.Option(help="Only features of this product (its key).")] = None,
    team: Annotated[str | None, typer.Option(help="Only work owned by this team (its key).")] = None,
    unit: Annotated[Literal["points", "person_weeks"], typer.Option(help="The unit effort is shown in.")] = "points",
    csv: Annotated[
        Literal["goals", "initiatives", "unaligned", "unstaffed"] | None,
        typer.Option(help="Print this section as CSV instead of the summary."),
    ] = None,
) -> None:
    """The alignment report: share of planned effort by goal, unaligned work and goals with no planned work."""
    with session_scope() as session:
        filters = AlignmentFilters(
            product_id=_key(session, Product, product, "--product"),
            team_id=_key(session, Team, team, "--team"),
            unit=unit,
        )
        report = alignment_queries.report(session, filters, unaligned_limit=100_000)
    if csv:
        headers, rows = alignment_queries.csv_rows(report, csv)
        typer.echo(write_csv(headers, rows, bom=False).decode("utf-8"), nl=False)
        return
    label = unit.replace("_", "-")
    console.print(
        f"{report.total_features:,} planned features, {report.total_effort:,.1f} {label}; "
        f"{100 * report.aligned_share:.0f}% of the effort serves a goal"
    )
    table = Table("goal", "features", label, "share", title="Planned effort by goal")
    for r in report.by_goal:
        table.add_row(r.title, f"{r.features:,}", f"{r.effort:,.1f}", f"{100 * r.share:.1f}%")
    Console().print(table)
    console.print(
        f"{report.unaligned_total:,} unaligned features; {len(report.unstaffed):,} goals with no planned work"
    )


@app.command("remind")
def remind() -> None:
    """E-mail the owners of key results with no check-in for 7 days now (each owner at most once a week)."""
    with session_scope() as session:
        result = reminders.send_checkin_reminders(session)
    console.print(result.summary())


@app.command("snapshot-metrics")
def snapshot_metrics() -> None:
    """Store each metric key result's live value as today's check-in now (the daily job does this at 05:20 UTC)."""
    with session_scope() as session:
        result = checkins.snapshot_metrics(session)
    console.print(result.summary())


@app.command("health-summary")
def health_summary(
    send: Annotated[
        bool, typer.Option("--send/--dry-run", help="E-mail it to the admins (once per ISO week).")
    ] = False,
) -> None:
    """Show this week's goals-health summary (on/at/off track, worst movers); --send e-mails the admins."""
    with session_scope() as session:
        summary = reminders.send_health_summary(session) if send else reminders.health_summary(session)
    c = summary.counts
    console.print(
        f"{summary.week}: {c['on_track']} on track, {c['at_risk']} at risk, {c['off_track']} off track, "
        f"{c['no_data']} without data"
    )
    for m in summary.movers:
        console.print(f"  {m.title}: {100 * (m.before or 0):.0f}% → {100 * (m.now or 0):.0f}% ({100 * m.change:+.0f})")
    if send:
        console.print("already sent this week" if summary.already_sent else f"sent to {len(summary.sent_to)} admin(s)")
