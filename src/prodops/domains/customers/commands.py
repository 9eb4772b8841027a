"""CLI: `prodops customers export` and `prodops customers import`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from prodops.domains.customers import queries
from prodops.domains.customers.schemas import AccountFilters, PersonFilters
from prodops.platform import registry
from prodops.platform.db import session_scope
from prodops.platform.errors import ServiceError
from prodops.platform.tabular import write_csv, write_xlsx

console = Console(stderr=True)
app = registry.cli("customers", typer.Typer(help="Customer accounts, people and segments.", no_args_is_help=True))


class EntityChoice(StrEnum):
    accounts = "accounts"
    people = "people"


class FormatChoice(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


@app.command("export")
def export(
    entity: Annotated[EntityChoice, typer.Option(help="What to export.")] = EntityChoice.accounts,
    fmt: Annotated[FormatChoice, typer.Option("--format", help="csv or xlsx.")] = FormatChoice.csv,
    output: Annotated[Path | None, typer.Option(help="File to write (CSV goes to standard output without it).")] = None,
    segment_id: Annotated[int | None, typer.Option(help="Only the members of this saved segment.")] = None,
) -> None:
    """Export accounts or people (all of them, or one segment's) as CSV or XLSX, in the import's column names."""
    try:
        with session_scope() as session:
            if entity is EntityChoice.accounts:
                headers, rows = queries.account_export(session, AccountFilters(segment_id=segment_id))
            else:
                headers, rows = queries.person_export(session, PersonFilters(segment_id=segment_id))
    except ServiceError as exc:
        console.print(f"[red]Error:[/red] {exc.field + ': ' if exc.field else ''}{exc.message}")
        raise typer.Exit(2) from exc
    if fmt is FormatChoice.xlsx:
        if output is None:
            console.print("[red]Error:[/red] --output: XLSX needs a file name, e.g. --output accounts.xlsx")
            raise typer.Exit(2)
        output.write_bytes(write_xlsx(headers, rows, sheet=entity.value))
    elif output is None:
        typer.echo(write_csv(headers, rows, bom=False).decode("utf-8"), nl=False)
    else:
        output.write_bytes(write_csv(headers, rows))
    if output is not None:
        console.print(f"Exported {len(rows):,} {entity.value} to [bold]{output}[/bold].")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A CSV (UTF-8) or XLSX file whose first row names the columns.")],
    *,
    entity: Annotated[EntityChoice, typer.Option(help="What the rows are.")] = EntityChoice.accounts,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row and report; write nothing.")] = False,
    map_options: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help='FIELD=Header: read FIELD from the column "Header" (repeatable). Matching names need no --map.',
        ),
    ] = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet to read (default: the first).")] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of a CSV file.")] = "utf-8",
) -> None:
    """Import accounts or people all or nothing: rows are matched by external id (then domain or e-mail), every
    problem is listed with its row and column, and a file with any problem writes nothing. Re-importing the same
    file changes nothing."""
    from prodops.domains.customers import service
    from prodops.platform.audit import Actor
    from prodops.platform.tabular import TabularError, guess_mapping, parse_map_options, print_report, read_table

    try:
        table = read_table(file.read_bytes(), file.name, encoding=encoding, sheet=sheet)
    except OSError as exc:
        raise typer.BadParameter(f"{file} cannot be read: {exc.strerror}.", param_hint="FILE") from exc
    except TabularError as exc:
        raise typer.BadParameter(exc.message, param_hint="FILE") from exc
    columns = service.import_columns(entity.value, table.headers)
    mapping = {**guess_mapping(table.headers, columns), **parse_map_options(map_options or [], columns)}
    console.print(
        f"Read {len(table.rows):,} rows from [bold]{file.name}[/bold]; columns: "
        + ", ".join(f"{field} ← {header!r}" for field, header in mapping.items()),
        highlight=False,
    )
    with session_scope() as session:
        report = service.import_file(session, Actor.system("cli"), entity.value, table, mapping, dry_run=dry_run)
    print_report(console, report)
    if report.errors:
        raise typer.Exit(1)
