"""CLI: `prodops feedback import`, `export` and `retrain`."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console

from prodops.domains.feedback.models import SOURCES
from prodops.platform import registry
from prodops.platform.tabular import ColumnSpec

console = Console(stderr=True)
app = registry.cli("feedback", typer.Typer(help="Customer feedback: import and export.", no_args_is_help=True))


class FormatChoice(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


def parse_mapping(options: Sequence[str], headers: Sequence[str], columns: Sequence[ColumnSpec]) -> dict[str, str]:
    """``--map`` options → {field: header}. Each is ``Column=field`` or ``field=Column`` (whichever side names a
    field of the import is the field); ``field=`` leaves a field out (e.g. a column matched by name that should not
    be imported)."""
    fields = {c.name for c in columns}
    known = set(headers)
    mapping: dict[str, str] = {}
    for option in options:
        left, sep, right = (part.strip() for part in option.partition("="))
        if not sep or not left:
            raise typer.BadParameter(
                f'{option!r} is not Column=field (for example "Comment=text").', param_hint="--map"
            )
        if left in fields and not right:
            field, header = left, ""
        elif right in fields and left in known and not (left in fields and right in known):
            field, header = right, left
        elif left in fields and right in known:
            field, header = left, right
        elif right in fields:
            raise typer.BadParameter(
                f"the file has no column {left!r}; its columns are {', '.join(repr(h) for h in headers)}.",
                param_hint="--map",
            )
        elif left in fields:
            raise typer.BadParameter(
                f"the file has no column {right!r}; its columns are {', '.join(repr(h) for h in headers)}.",
                param_hint="--map",
            )
        else:
            raise typer.BadParameter(
                f"neither {left!r} nor {right!r} is a field; the fields are {', '.join(sorted(fields))}.",
                param_hint="--map",
            )
        if field in mapping:
            raise typer.BadParameter(f"{field!r} is mapped twice.", param_hint="--map")
        mapping[field] = header
    return mapping


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A CSV (UTF-8) or XLSX file whose first row names the columns.")],
    *,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row and report; write nothing.")] = False,
    map_options: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help='Column=field: read FIELD from that column (repeatable), e.g. --map "Comment=text"; field= '
            "leaves a field out. Columns named like a field need no --map.",
        ),
    ] = None,
    source: Annotated[str, typer.Option(help="Source of rows without one (e.g. survey, app_review).")] = "import",
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet to read (default: the first).")] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of a CSV file.")] = "utf-8",
) -> None:
    """Import feedback all or nothing: rows are matched by ProdOps id or by source + external id, every problem is
    printed as "row N, column C: reason", and a file with any problem writes nothing (exit code 1). Re-importing
    the same file changes nothing."""
    from prodops.domains.feedback.service import imports
    from prodops.platform.audit import Actor
    from prodops.platform.db import session_scope
    from prodops.platform.errors import ServiceError
    from prodops.platform.tabular import TabularError, print_report, progress, read_table

    default_source = imports.source_of(source)
    if default_source is None:
        raise typer.BadParameter(f"{source!r} is not a source; use one of {', '.join(SOURCES)}.")
    try:
        table = read_table(file.read_bytes(), file.name, encoding=encoding, sheet=sheet)
    except OSError as exc:
        raise typer.BadParameter(f"{file} cannot be read: {exc.strerror}.", param_hint="FILE") from exc
    except TabularError as exc:
        raise typer.BadParameter(exc.message, param_hint="FILE") from exc
    columns = imports.import_columns(table.headers)
    mapping = {**imports.suggest_mapping(table.headers), **parse_mapping(map_options or [], table.headers, columns)}
    used = {k: v for k, v in mapping.items() if v}
    console.print(
        f"Read {len(table.rows):,} rows from [bold]{file.name}[/bold]; columns: "
        + ", ".join(f"{field} ← {header!r}" for field, header in used.items()),
        highlight=False,
    )
    verb = "Checking" if dry_run else "Importing"
    try:
        with session_scope() as session, progress(console, verb, len(table.rows)) as advance:
            report = imports.import_feedback(
                session,
                Actor.system("cli"),
                table,
                used,
                dry_run=dry_run,
                default_source=default_source,
                progress=advance,
            )
    except ServiceError as exc:
        console.print(f"[red]Error:[/red] {exc.field + ': ' if exc.field else ''}{exc.message}")
        raise typer.Exit(2) from exc
    for error in report.errors:
        parts = [f"row {error.row}"] if error.row else []  # row 0: the columns as a whole
        parts += [f"column {error.column}"] if error.column else []
        console.print(f"{', '.join(parts) or 'file'}: {error.message}", highlight=False, markup=False)
    if report.errors:
        console.print(f"[bold red]{report.summary()}[/]")
        raise typer.Exit(1)
    print_report(console, report)


def _since(value: str | None, option: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (use YYYY-MM-DD).", param_hint=option) from exc


def _json_lines(rows: Iterator[dict[str, Any]], out: IO[str]) -> int:
    from prodops.domains.feedback.queries.export import json_row

    count = 0
    out.write("[")
    for row in rows:
        out.write(("\n" if count == 0 else ",\n") + json.dumps(json_row(row), ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def _product_id(session: Any, product: str | None) -> int | None:
    """A product given by key, name or id (case does not matter)."""
    from prodops.platform.org.service import list_products

    if not product:
        return None
    choices: dict[str, int] = {}
    for p in list_products(session):
        choices.update({str(p.id): p.id, p.key.casefold(): p.id, p.name.casefold(): p.id})
    found = choices.get(product.strip().casefold())
    if found is None:
        known = ", ".join(sorted(k for k in choices if not k.isdigit())) or "none yet"
        raise typer.BadParameter(f"there is no product {product!r} (known: {known}).", param_hint="--product")
    return found


def _sources(values: Sequence[str]) -> list[str]:
    from prodops.domains.feedback.service.imports import source_of

    found: list[str] = []
    for value in values:
        source = source_of(value)
        if source is None:
            raise typer.BadParameter(
                f"{value!r} is not a source; use one of {', '.join(SOURCES)}.", param_hint="--source"
            )
        found.append(source)
    return found


def _write(rows: Iterator[dict[str, Any]], fmt: FormatChoice, out: Path | None) -> int:
    """Write the rows as they come; returns how many."""
    from prodops.domains.feedback.queries.export import EXPORT_COLUMNS, flat
    from prodops.platform.tabular import iter_csv, write_xlsx

    if fmt is FormatChoice.json:
        if out is None:
            return _json_lines(rows, sys.stdout)
        with out.open("w", encoding="utf-8") as handle:
            return _json_lines(rows, handle)
    counted = _Counting(flat(r) for r in rows)
    if fmt is FormatChoice.xlsx:
        assert out is not None
        out.write_bytes(write_xlsx(EXPORT_COLUMNS, counted, sheet="feedback"))
        return counted.count
    chunks = iter_csv(EXPORT_COLUMNS, counted, bom=out is not None)
    if out is None:
        for chunk in chunks:
            sys.stdout.write(chunk.decode("utf-8"))
    else:
        with out.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
    return counted.count


@app.command("export")
def export(
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (CSV and JSON go to standard output without it).")
    ] = None,
    fmt: Annotated[FormatChoice, typer.Option("--format", help="csv, xlsx or json.")] = FormatChoice.csv,
    status: Annotated[
        list[str] | None, typer.Option(help="new, triaged, linked or archived (repeatable; default: every status).")
    ] = None,
    source: Annotated[list[str] | None, typer.Option(help="Only this source (repeatable), e.g. email.")] = None,
    product: Annotated[str | None, typer.Option(help="Only this product (key, name or id).")] = None,
    since: Annotated[str | None, typer.Option(help="Received on or after this day (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Received on or before this day (YYYY-MM-DD, UTC).")] = None,
) -> None:
    """Export feedback in the import's column names (a file exported and imported again changes nothing). Rows are
    read in batches and written as they come, so any number of items fits in memory."""
    from pydantic import ValidationError

    from prodops.domains.feedback.queries.export import export_rows
    from prodops.domains.feedback.queries.inbox import FeedbackFilters
    from prodops.platform.db import session_scope
    from prodops.platform.errors import ServiceError

    sources = _sources(source or [])
    if fmt is FormatChoice.xlsx and out is None:
        raise typer.BadParameter("XLSX needs a file name, e.g. --out feedback.xlsx", param_hint="--out")
    try:
        with session_scope() as session:
            try:
                filters = FeedbackFilters.model_validate(
                    {
                        "status": status or ["all"],
                        "source": sources,
                        "product_id": _product_id(session, product),
                        "received_from": _since(since, "--since"),
                        "received_to": _since(until, "--until"),
                    }
                )
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
                raise typer.BadParameter(problems) from exc
            count = _write(export_rows(session, filters), fmt, out)
    except ServiceError as exc:
        console.print(f"[red]Error:[/red] {exc.field + ': ' if exc.field else ''}{exc.message}")
        raise typer.Exit(2) from exc
    where = f" to [bold]{out}[/bold]" if out is not None else ""
    console.print(f"Exported {count:,} feedback item{'s' if count != 1 else ''}{where}.")


class _Counting:
    """An iterator that counts what passes through it."""

    def __init__(self, rows: Iterator[dict[str, Any]]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            self.count += 1
            yield row


# --- feedback types -------------------------------------------------------------------------------------


@app.command("retrain")
def retrain() -> None:
    """Retrain the feedback type classifier on the built-in app-review data plus every type correction made in the
    inbox (corrections weigh 3×), and put it in use when its cross-validated macro-F1 is not worse than the current
    model's; otherwise keep the current one and say why."""
    from prodops.domains.feedback.service import types
    from prodops.platform.audit import Actor
    from prodops.platform.db import session_scope
    from prodops.platform.errors import ServiceError

    try:
        with session_scope() as session, console.status("Cross-validating and training (about a minute)…"):
            result = types.retrain(session, Actor.system("cli"))
    except ServiceError as exc:
        console.print(f"[red]Error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    assert result is not None  # a forced retrain always trains
    console.print(
        f"Trained model #{result.model.id} on {result.model.training_rows:,} texts ({result.corrections:,} corrections)."
    )
    if result.left_out:
        console.print(
            "Not learned yet (a type needs "
            f"{types.MIN_EXAMPLES} corrections): " + ", ".join(f"{k} ({n})" for k, n in result.left_out.items())
        )
    verdict = "[green]Activated[/green]" if result.activated else "[yellow]Not activated[/yellow]"
    console.print(f"{verdict}: {result.reason}.", highlight=False)


def _install_type_model(*, name: str, model: Any, report: Any, activate: bool) -> Any:
    """`prodops text train` stores feedback type models here (the platform CLI imports no domain)."""
    from prodops.domains.feedback.service import text_models, types
    from prodops.platform.audit import Actor
    from prodops.platform.db import session_scope
    from prodops.platform.text import classify

    actor = Actor.system("cli")
    with session_scope() as session:
        stored = text_models.store_model(
            session, actor, name=name, model=model, metrics=report.as_metrics(), source="custom"
        )
        if activate:
            stored = types.activate_model(session, actor, stored.id)
    return classify.InstalledModel(id=stored.id, name=stored.name, active=stored.active, labels=stored.labels)


def _register_installer() -> None:
    from prodops.domains.feedback.service.text_models import PURPOSE
    from prodops.platform.text import classify

    classify.register_installer(PURPOSE, _install_type_model)


_register_installer()
