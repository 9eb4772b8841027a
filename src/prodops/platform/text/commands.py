"""CLI: `prodops text evaluate` and `prodops text train` — classifiers for a labelled CSV/XLSX of your own."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table as RichTable

from prodops.platform import registry
from prodops.platform.tabular import TabularError, progress, read_table
from prodops.platform.text import classify

console = Console(stderr=True)
app = registry.cli(
    "text", typer.Typer(help="Text classifiers trained and evaluated on your own labels.", no_args_is_help=True)
)

DataOption = Annotated[
    Path, typer.Option("--data", help="A CSV (UTF-8) or XLSX file whose first row names the columns.")
]
TextColumn = Annotated[str, typer.Option("--text-column", help="The column holding the texts.")]
LabelColumn = Annotated[str, typer.Option("--label-column", help="The column holding each text's label.")]
FoldsOption = Annotated[int, typer.Option("--folds", min=2, max=20, help="Folds of the stratified cross-validation.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the fold shuffle (same seed, same folds).")]
SheetOption = Annotated[str | None, typer.Option(help="XLSX sheet to read (default: the first).")]
EncodingOption = Annotated[str, typer.Option(help="Text encoding of a CSV file.")]
RecipeOption = Annotated[
    str | None,
    typer.Option(
        "--recipe",
        help=f"How texts become features: {', '.join(sorted(classify.RECIPES))} (default: the best one this installation runs).",
        show_default=False,
    ),
]


def _read(
    path: Path, text_column: str, label_column: str, sheet: str | None, encoding: str
) -> tuple[list[str], list[str]]:
    """The texts and labels; a file problem is a bad --data (exit 2), a row problem is printed by row and column
    (exit 1)."""
    try:
        table = read_table(path.read_bytes(), path.name, encoding=encoding, sheet=sheet)
    except OSError as exc:
        raise typer.BadParameter(f"{path} cannot be read: {exc.strerror}.", param_hint="--data") from exc
    except TabularError as exc:
        raise typer.BadParameter(exc.message, param_hint="--data") from exc
    try:
        return classify.labelled_rows(table, text_column, label_column)
    except classify.ClassifierError as exc:
        _fail(exc)


def _fail(exc: classify.ClassifierError) -> NoReturn:
    for _, message in exc.problems:
        console.print(f"[red]Error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


def _recipe(name: str | None) -> classify.Recipe:
    try:
        return classify.get_recipe(name)
    except classify.ClassifierError as exc:
        raise typer.BadParameter(exc.message, param_hint="--recipe") from exc


def _evaluate(texts: list[str], labels: list[str], folds: int, seed: int, recipe: classify.Recipe) -> classify.Report:
    counts = {label: labels.count(label) for label in sorted(set(labels))}
    console.print(
        f"{len(texts):,} labelled texts, {len(counts)} labels: "
        + ", ".join(f"{label} ({n:,})" for label, n in counts.items()),
        highlight=False,
        markup=False,
    )
    try:
        with progress(console, f"Cross-validating ({folds} folds)", folds) as advance:
            return classify.evaluate(texts, labels, folds=folds, seed=seed, recipe=recipe, progress=advance)
    except classify.ClassifierError as exc:
        _fail(exc)


def print_report(report: classify.Report, out: Console) -> None:
    """Per-class precision, recall, F1 and support, then macro-F1 and accuracy."""
    table = RichTable(
        title=f"Stratified {report.folds}-fold cross-validation (seed {report.seed}, recipe {report.recipe})",
        header_style="bold",
    )
    for column in ("label", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for label, s in report.per_class.items():
        table.add_row(label, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", f"{s.support:,}")
    table.add_section()
    table.add_row("[bold]macro-F1[/bold]", "", "", f"[bold]{report.macro_f1:.3f}[/bold]", f"{report.rows:,}")
    table.add_row("accuracy", "", "", f"{report.accuracy:.3f}", "")
    out.print(table)


@app.command("evaluate")
def evaluate(
    data: DataOption,
    text_column: TextColumn,
    label_column: LabelColumn,
    folds: FoldsOption = 5,
    seed: SeedOption = 0,
    recipe: RecipeOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help='Print {"macro_f1": x, "per_class": {label: {"precision", "recall", "f1", "support"}}}.'
        ),
    ] = False,
    sheet: SheetOption = None,
    encoding: EncodingOption = "utf-8",
) -> None:
    """Score a classifier for the file's labels by stratified cross-validation: per-class precision, recall, F1
    and support, and macro-F1. Nothing is stored. Exit code 1 when a row or column is unusable (each problem names
    its row and column)."""
    chosen = _recipe(recipe)
    texts, labels = _read(data, text_column, label_column, sheet, encoding)
    report = _evaluate(texts, labels, folds, seed, chosen)
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2) + "\n")
        return
    print_report(report, Console())


@app.command("train")
def train(
    data: DataOption,
    text_column: TextColumn,
    label_column: LabelColumn,
    name: Annotated[str | None, typer.Option("--name", help="Name of the model (default: the file's name).")] = None,
    activate: Annotated[
        bool | None,
        typer.Option(
            "--activate/--no-activate",
            help="Put the model in use as the workspace's feedback type classifier (asked when not given).",
            show_default=False,
        ),
    ] = None,
    folds: FoldsOption = 5,
    seed: SeedOption = 0,
    recipe: RecipeOption = None,
    purpose: Annotated[str, typer.Option(help="What the model classifies.")] = "feedback_type",
    sheet: SheetOption = None,
    encoding: EncodingOption = "utf-8",
) -> None:
    """Cross-validate (as `evaluate` does), train on every row and store the model with its scores. With
    --activate (or a yes to the question) its labels become the feedback types and every item is re-analysed."""
    installer = classify.installers().get(purpose)
    if installer is None:
        known = ", ".join(sorted(classify.installers())) or "none"
        raise typer.BadParameter(f"nothing installs {purpose!r} models; known: {known}.", param_hint="--purpose")
    chosen = _recipe(recipe)
    texts, labels = _read(data, text_column, label_column, sheet, encoding)
    report = _evaluate(texts, labels, folds, seed, chosen)
    print_report(report, console)
    with console.status("Training on every row…"):
        model = classify.train(texts, labels, chosen)
    if activate is None:
        activate = sys.stdin.isatty() and typer.confirm(
            f"Use it as the workspace's classifier (macro-F1 {report.macro_f1:.3f}; its labels become the types)?",
            default=False,
            err=True,
        )
    installed = installer(name=name or f"{data.name} ({label_column})", model=model, report=report, activate=activate)
    state = "active" if installed.active else "stored, not active"
    console.print(
        f"Model [bold]#{installed.id}[/bold] {installed.name!r} ({state}): {len(installed.labels)} labels, "
        f"macro-F1 {report.macro_f1:.3f}.",
        highlight=False,
    )
    if not installed.active:
        console.print("Activate it on the admin page Feedback types, or run this again with --activate.")
