"""Imports from the command line: `--map field=Header` options, a progress bar, and a printed report."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table as RichTable

from prodops.platform.tabular.mapping import ColumnSpec, guess_mapping
from prodops.platform.tabular.report import ImportReport, run_import
from prodops.platform.tabular.table import RowError, TabularError, read_table

M = TypeVar("M", bound=BaseModel)


def parse_map_options(options: Sequence[str], columns: Sequence[ColumnSpec]) -> dict[str, str]:
    """``["arr=Annual revenue", "email=E-mail"]`` → ``{"arr": "Annual revenue", "email": "E-mail"}``.

    Raises ``typer.BadParameter`` (shown as an error on ``--map``) for a malformed option or unknown field.
    """
    fields = {c.name for c in columns}
    mapping: dict[str, str] = {}
    for option in options:
        field, sep, header = option.partition("=")
        field, header = field.strip(), header.strip()
        if not sep or not field or not header:
            raise typer.BadParameter(
                f'{option!r} is not FIELD=Header (for example arr="Annual revenue").', param_hint="--map"
            )
        if field not in fields:
            raise typer.BadParameter(
                f"{field!r} is not a field; the fields are {', '.join(sorted(fields))}.", param_hint="--map"
            )
        if field in mapping:
            raise typer.BadParameter(f"{field!r} is mapped twice.", param_hint="--map")
        mapping[field] = header
    return mapping


@contextmanager
def progress(console: Console, description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar; yields ``advance(n)`` for the work to call as it goes."""
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, transient=True, disable=not console.is_terminal,
    )  # fmt: skip
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance


def print_report(console: Console, report: ImportReport, *, limit: int | None = 200) -> None:
    """The outcome in one sentence, and with errors a table naming row, column, field and reason."""
    if report.errors:
        table = RichTable(title=None, show_lines=False, header_style="bold")
        table.add_column("Row", justify="right")
        table.add_column("Column")
        table.add_column("Field")
        table.add_column("Problem", overflow="fold")
        shown = report.errors if limit is None else report.errors[:limit]
        for e in shown:
            table.add_row(str(e.row) if e.row else "—", e.column or "", e.field or "", e.message)
        console.print(table)
        if len(shown) < len(report.errors):
            by_column = ", ".join(f"{c} ({n:,})" for c, n in report.errors_by_column())
            console.print(f"… and {len(report.errors) - len(shown):,} more. Errors by column: {by_column}.")
        console.print(f"[bold red]{report.summary()}[/]")
    elif report.committed:
        console.print(f"[bold green]{report.summary()}[/]")
    else:
        console.print(f"[bold]{report.summary()}[/] Run again without --dry-run to import.")


def cli_import(
    console: Console,
    path: Path,
    columns: Sequence[ColumnSpec],
    model: type[M],
    commit: Callable[[list[tuple[int, M]]], tuple[int, int, int]],
    *,
    dry_run: bool,
    map_options: Sequence[str] = (),
    sheet: str | None = None,
    encoding: str = "utf-8",
    extra_checks: Callable[[list[tuple[int, M]]], list[RowError]] | None = None,
    preview: Callable[[list[tuple[int, M]]], tuple[int, int, int]] | None = None,
) -> ImportReport:
    """Everything a ``<domain> import FILE [--dry-run] [--map field=Header]`` command does; prints the report.

    Unreadable files raise ``typer.BadParameter`` on FILE; a report with errors ends with ``typer.Exit(1)``.
    """
    try:
        table = read_table(path.read_bytes(), path.name, encoding=encoding, sheet=sheet)
    except OSError as exc:
        raise typer.BadParameter(f"{path} cannot be read: {exc.strerror}.", param_hint="FILE") from exc
    except TabularError as exc:
        raise typer.BadParameter(exc.message, param_hint="FILE") from exc
    mapping = {**guess_mapping(table.headers, columns), **parse_map_options(map_options, columns)}
    report = run_import(
        table, mapping, columns, model, commit, dry_run=dry_run, extra_checks=extra_checks, preview=preview
    )
    print_report(console, report)
    if report.errors:
        raise typer.Exit(1)
    return report
