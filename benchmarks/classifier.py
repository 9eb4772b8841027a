"""The feedback type classifier as shipped, measured on the app reviews it is trained on.

    uv run python -m benchmarks.classifier [--recipes tfidf-lr-v1,...] [--json results.json] [--write-metrics]

For the plain baseline and the shipped recipe (``platform/text/classify.py``), through the same ``evaluate`` and
``train`` functions the product runs: 5-fold stratified cross-validation (seed 0) on ``app-reviews-4class.csv`` —
macro-F1 and per-class F1 next to the issue's reference baseline — then the time to train on all 4,000 reviews,
to classify 1,000 reviews in one call, one review per call (p50/p95), and the stored model's size. Also the
rules that give the default types the data has no class for: how many reviews fall below the "other" threshold
and how often the model is right there, and how often the question rule fires per class.

``--write-metrics`` stores the measured recipes' cross-validated scores in
``src/prodops/domains/feedback/text_data/builtin_metrics.json`` (keyed by recipe and data hash), which the
built-in model shows instead of re-running the cross-validation on first use.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from prodops.domains.feedback.service import types
from prodops.platform.text import classify

ROOT = Path(__file__).resolve().parent.parent
METRICS_PATH = ROOT / "src" / "prodops" / "domains" / "feedback" / "text_data" / types.METRICS_FILE
#: The issue's plain baseline: word 1–2 + char 2–5 TF-IDF, class-balanced logistic regression, stratified 5-fold.
REFERENCE = {"macro_f1": 0.800, "bug": 0.857, "feature_request": 0.841, "praise": 0.762, "experience": 0.739}
LABELS = ["bug", "feature_request", "praise", "experience"]


def measure(recipe: classify.Recipe, texts: list[str], labels: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    report = classify.evaluate(texts, labels, folds=5, seed=0, recipe=recipe)
    cv_seconds = time.perf_counter() - started
    started = time.perf_counter()
    model = classify.train(texts, labels, recipe)
    train_seconds = time.perf_counter() - started
    batch = texts[:1000]
    model.predict_proba(batch[:10])  # warm-up
    started = time.perf_counter()
    model.predict_proba(batch)
    batch_seconds = time.perf_counter() - started
    single = []
    for text in texts[:200]:
        started = time.perf_counter()
        model.predict_proba([text])
        single.append((time.perf_counter() - started) * 1000)
    single.sort()
    proba = report.probabilities
    assert proba is not None
    top = proba.max(axis=1)
    predicted = np.asarray(report.labels)[proba.argmax(axis=1)]
    right = predicted == np.asarray(labels)
    below = top < types.OTHER_BELOW
    questions = {
        label: sum(1 for t, y in zip(texts, labels, strict=True) if y == label and types.is_help_question(t))
        for label in LABELS
    }
    return {
        "recipe": recipe.name,
        "description": recipe.description,
        "report": report,
        "cv_seconds": cv_seconds,
        "train_seconds": train_seconds,
        "per_1000_seconds": batch_seconds,
        "single_p50_ms": statistics.median(single),
        "single_p95_ms": single[int(len(single) * 0.95) - 1],
        "model_bytes": len(model.to_bytes()),
        "other_share": float(below.mean()),
        "other_accuracy": float(right[below].mean()) if below.any() else None,
        "kept_accuracy": float(right[~below].mean()),
        "question_hits": questions,
        "by_confidence": [
            {
                "from": lo,
                "to": hi,
                "reviews": int(((top >= lo) & (top < hi)).sum()),
                "right": float(right[(top >= lo) & (top < hi)].mean()) if ((top >= lo) & (top < hi)).any() else None,
            }
            for lo, hi in (
                (0.0, 0.35),
                (0.35, 0.40),
                (0.40, 0.45),
                (0.45, 0.50),
                (0.50, 0.60),
                (0.60, 0.80),
                (0.80, 1.01),
            )
        ],
    }


def write_metrics(results: list[dict[str, Any]]) -> None:
    """Store the measured recipes' scores, keeping those of other recipes (or other embedders) already there."""
    try:
        entries = json.loads(METRICS_PATH.read_text(encoding="utf-8")).get("entries", [])
    except (OSError, ValueError):
        entries = []
    for r in results:
        key = types.metrics_key(r["recipe"])
        entries = [e for e in entries if e.get("key") != key]
        entries.append({"key": key, "metrics": r["report"].as_metrics()})
    entries.sort(key=lambda e: json.dumps(e["key"], sort_keys=True))
    METRICS_PATH.write_text(json.dumps({"entries": entries}, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    recipes = [classify.BASELINE.name]
    shipped_name = classify.default_recipe().name
    if shipped_name not in recipes:
        recipes.append(shipped_name)
    parser.add_argument("--recipes", default=",".join(recipes), help="comma-separated recipe names")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--write-metrics", action="store_true", help="store the shipped recipe's scores")
    args = parser.parse_args()
    console = Console()
    texts, labels, digest = types.shipped_data()
    console.print(f"app-reviews-4class.csv: {len(texts):,} reviews (sha256 {digest[:12]}…)")
    results = []
    for name in args.recipes.split(","):
        recipe = classify.get_recipe(name.strip())
        console.print(f"measuring {recipe.name}…")
        results.append(measure(recipe, list(texts), list(labels)))

    table = Table(title="Feedback type classifier, stratified 5-fold (seed 0), app-reviews-4class.csv")
    for column in ("recipe", "macro-F1", *LABELS):
        table.add_column(column, justify="left" if column == "recipe" else "right")
    table.add_row(
        "issue's reference baseline",
        f"{REFERENCE['macro_f1']:.3f}",
        *(f"{REFERENCE[label]:.3f}" for label in LABELS),
    )
    for r in results:
        report: classify.Report = r["report"]
        table.add_row(r["recipe"], f"{report.macro_f1:.3f}", *(f"{report.per_class[label].f1:.3f}" for label in LABELS))
    console.print(table)

    timing = Table(title="Time (this machine) and size")
    for column in ("recipe", "5-fold CV s", "train s", "1,000 reviews s", "one review p50 ms", "p95 ms", "model MB"):
        timing.add_column(column, justify="left" if column == "recipe" else "right")
    for r in results:
        timing.add_row(
            r["recipe"],
            f"{r['cv_seconds']:.1f}",
            f"{r['train_seconds']:.1f}",
            f"{r['per_1000_seconds']:.2f}",
            f"{r['single_p50_ms']:.1f}",
            f"{r['single_p95_ms']:.1f}",
            f"{r['model_bytes'] / 1e6:.1f}",
        )
    console.print(timing)
    for r in results:
        console.print(
            f"{r['recipe']}: best probability < {types.OTHER_BELOW} for {r['other_share']:.1%} of reviews "
            f"(model right {r['other_accuracy']:.1%} of those, {r['kept_accuracy']:.1%} of the rest); question rule "
            "fires on " + ", ".join(f"{k} {v}" for k, v in r["question_hits"].items()),
            highlight=False,
        )
    for r in results:
        console.print(
            f"{r['recipe']}, how often the best label is right by its probability: "
            + "; ".join(
                f"{b['from']:.2f}–{min(b['to'], 1):.2f}: {b['reviews']:,} reviews, "
                + (f"{b['right']:.0%} right" if b["right"] is not None else "none")
                for b in r["by_confidence"]
            ),
            highlight=False,
        )
    if args.write_metrics:
        write_metrics(results)
        console.print(f"wrote {METRICS_PATH.relative_to(ROOT)}")
    if args.json:
        plain = [{k: (v.as_metrics() if isinstance(v, classify.Report) else v) for k, v in r.items()} for r in results]
        args.json.write_text(json.dumps(plain, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
