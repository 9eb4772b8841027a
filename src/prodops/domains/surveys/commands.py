"""CLI: `prodops surveys import FILE [--dry-run]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from prodops.platform import registry

console = Console(stderr=True)
app = registry.cli("surveys", typer.Typer(help="Surveys and NPS: import historical responses.", no_args_is_help=True))


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A CSV (UTF-8) or XLSX file whose first row names the columns.")],
    *,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row and report; write nothing.")] = False,
    map_options: Annotated[
        list[str] | None,
        typer.Option("--map", help="field=Header: read FIELD (email, score, comment, date, survey) from that column."),
    ] = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet to read (default: the first).")] = None,
) -> None:
    """Import historical responses (e-mail, score, comment, date, survey) all or nothing: every problem is printed as
    "row N, column C: reason" and a file with any problem writes nothing (exit code 1). Re-importing changes nothing."""
    from prodops.domains.surveys import service
    from prodops.platform.audit import Actor
    from prodops.platform.db import session_scope
    from prodops.platform.tabular import (
        TabularError,
        guess_mapping,
        parse_map_options,
        print_report,
        progress,
        read_table,
    )

    try:
        table = read_table(file.read_bytes(), file.name, sheet=sheet)
    except OSError as exc:
        raise typer.BadParameter(f"{file} cannot be read: {exc.strerror}.", param_hint="FILE") from exc
    except TabularError as exc:
        raise typer.BadParameter(exc.message, param_hint="FILE") from exc
    mapping = {
        **guess_mapping(table.headers, service.IMPORT_COLUMNS),
        **parse_map_options(map_options or [], service.IMPORT_COLUMNS),
    }
    console.print(
        f"Read {len(table.rows):,} rows from [bold]{file.name}[/bold]; columns: "
        + ", ".join(f"{field} ← {header!r}" for field, header in mapping.items() if header),
        highlight=False,
    )
    with (
        session_scope() as session,
        progress(console, "Checking" if dry_run else "Importing", len(table.rows)) as advance,
    ):
        report = service.import_responses(
            session, Actor.system("cli"), table, mapping, dry_run=dry_run, progress=advance
        )
    print_report(console, report)
    if report.errors:
        raise typer.Exit(1)
