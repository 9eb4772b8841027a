"""CLI: `prodops features list` and `prodops features export`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from prodops.domains.features import queries
from prodops.platform import registry
from prodops.platform.db import session_scope
from prodops.platform.errors import ServiceError
from prodops.platform.tabular import write_csv

console = Console(stderr=True)
app = registry.cli("features", typer.Typer(help="The catalogue of features and ideas.", no_args_is_help=True))

ProductOption = Annotated[str | None, typer.Option("--product", help="Only this product (its key, e.g. `mobile`).")]
StatusOption = Annotated[str | None, typer.Option("--status", help="Only this status key, e.g. `planned`.")]


def _filters(session: Session, product: str | None, status: str | None) -> dict[str, Any]:
    filters: dict[str, Any] = {"status": status.strip() if status else None}
    if product:
        product_id = queries.product_id_for_key(session, product.strip())
        if product_id is None:
            raise typer.BadParameter(f"there is no product with the key {product!r}", param_hint="--product")
        filters["product_id"] = product_id
    return filters


def _fail(exc: ServiceError) -> typer.Exit:
    console.print(f"[red]Error:[/red] {exc.field + ': ' if exc.field else ''}{exc.message}")
    return typer.Exit(2)


@app.command("list")
def list_(
    product: ProductOption = None,
    status: StatusOption = None,
    sort: Annotated[str, typer.Option(help="title, status, votes, updated_at...; `-` for descending.")] = "-votes",
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many features to show.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"items": [...], "total": N} as JSON.')] = False,
) -> None:
    """List features (most votes first), optionally of one product or in one status."""
    try:
        with session_scope() as session:
            page = queries.list_features(session, **_filters(session, product, status), sort=sort, per_page=limit)
    except ServiceError as exc:
        raise _fail(exc) from exc
    if as_json:
        payload = {"items": [f.model_dump(mode="json") for f in page.items], "total": page.total}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    table = Table("id", "title", "status", "product", "area", "votes", "followers", title=f"{page.total:,} features")
    for f in page.items:
        table.add_row(
            str(f.id),
            f.title,
            f.status_label,
            f.product_name or "",
            f.area or "",
            f"{f.vote_count:,}",
            f"{f.subscriber_count:,}",
        )
    Console().print(table)
    if page.total > len(page.items):
        console.print(f"Showing {len(page.items):,} of {page.total:,}; use --limit or `prodops features export`.")


@app.command("export")
def export(
    product: ProductOption = None,
    status: StatusOption = None,
    output: Annotated[Path | None, typer.Option(help="File to write (standard output without it).")] = None,
) -> None:
    """Export every feature (or one product's, or one status's) as CSV, most votes first."""
    try:
        with session_scope() as session:
            headers, rows = queries.feature_export(session, **_filters(session, product, status))
    except ServiceError as exc:
        raise _fail(exc) from exc
    if output is None:
        typer.echo(write_csv(headers, rows, bom=False).decode("utf-8"), nl=False)
        return
    output.write_bytes(write_csv(headers, rows))
    console.print(f"Exported {len(rows):,} features to [bold]{output}[/bold].")
