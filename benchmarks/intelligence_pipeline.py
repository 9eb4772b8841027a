"""Feedback intelligence: the analysis pipeline, hybrid search, the sentiment model and the near-duplicate
thresholds.

    uv run python -m benchmarks.intelligence_pipeline pipeline [--items 20000] [--singles 200]
    uv run python -m benchmarks.intelligence_pipeline search [--items 100000] [--requests 100]
    uv run python -m benchmarks.intelligence_pipeline sentiment [--write-model]
    uv run python -m benchmarks.intelligence_pipeline calibrate

``pipeline``: a fresh SQLite database with the demo's features, ``--items`` real review texts ingested in one batch
without analysis, then ``analysis.analyse`` over all of them in batches of 1,000 (embed + classify + sentiment +
duplicate check + theme assignment + the writes): items/s and peak memory (tracemalloc for Python objects, and
the process's maximum RSS). Then ``--singles`` new items one at a time, each ingested and analysed on its own:
p50/p95 of ``analyse([id])`` (the latency a new item waits for its analysis).

``search``: ``--items`` analysed items (the texts repeat), then p50/p95 of ``similar.search`` for items and
features over a fixed query list, and of the vector stage alone.

``sentiment``: Spearman correlation of the shipped model with the star ratings of app-reviews-topics.csv (5-fold
cross-validated: each fold scored by a model fitted on the other four), the share of each star value labelled
negative/neutral/positive, and scores/s; ``--write-model`` refits on all reviews and rewrites the shipped weights.

``calibrate``: the cosine similarities the current embedder gives to paraphrases (hand-written pairs of product
feedback below, and those of ``benchmarks/data/paraphrases.csv``) and to unrelated pairs (random pairs of real reviews), and to reviews and the demo feature they are
about (the demo's keyword links) against other features; prints the thresholds ``service/similar.py`` uses.

The review data is ``../shared/data/feedback/`` by default (``--data``).
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "feedback"

# Hand-written paraphrases of product feedback: the same request or problem in other words. Used only to
# calibrate the near-duplicate threshold (they are not in any training data).
PARAPHRASES: list[tuple[str, str]] = [
    ("Exporting a report to PDF loses the charts.", "When I export the report as a PDF the charts are missing."),
    ("Please add a dark mode.", "I would love a dark theme for the app."),
    ("The app crashes every time I open the settings.", "Opening settings makes the app crash, every single time."),
    ("I can't log in after the last update.", "Since updating I am unable to sign in."),
    ("Let me share a list with my team.", "Sharing lists with team members would be great."),
    (
        "The battery drains fast when the app runs in the background.",
        "Huge battery drain while the app is in the background.",
    ),
    ("Notifications arrive hours late.", "I get my notifications several hours after the fact."),
    ("Please add an option to export my data as CSV.", "Can I get a CSV export of my data?"),
    ("The font is too small to read.", "Text is way too small, I can barely read it."),
    ("Sync between my phone and tablet does not work.", "My tablet and phone never sync."),
    ("Too many ads, I'd pay to remove them.", "Let me pay once to get rid of all the ads."),
    ("The app is very slow to start.", "Starting the app takes forever."),
    ("Add support for Google Drive backups.", "Please let me back up to Google Drive."),
    ("The search never finds my old messages.", "Searching for older messages returns nothing."),
    ("I want to schedule messages to send later.", "Scheduling a message for later would be really useful."),
    ("It keeps asking for permissions it doesn't need.", "Why does it need so many permissions?"),
    ("Videos won't play on my Samsung Galaxy.", "Video playback is broken on Samsung Galaxy phones."),
    (
        "Please bring back the old layout, the new design is confusing.",
        "The redesign is confusing, I miss the previous layout.",
    ),
    ("I lost all my data after reinstalling.", "Reinstalling the app wiped all my data."),
    ("Can you add a widget for the home screen?", "A home screen widget would be nice."),
    ("The price of the Pro version is too high.", "Pro is too expensive."),
    ("Offline mode please, I often have no signal.", "It should work without an internet connection."),
    ("Two-factor authentication is missing.", "Please support 2FA for logging in."),
    ("The keyboard covers the text field.", "When typing, the keyboard hides the input box."),
    ("Let me choose a custom notification sound.", "I want to pick my own sound for notifications."),
    ("The app freezes when scrolling a long list.", "Scrolling through long lists makes everything freeze."),
    ("Please translate the app into German.", "A German version of the app would help a lot."),
    ("Uploading photos from the camera fails.", "Camera uploads keep failing."),
    ("I'd like to set reminders for tasks.", "Task reminders would be a great addition."),
    ("The checkout page shows the wrong currency.", "Prices at checkout are in the wrong currency."),
    ("Add keyboard shortcuts for power users.", "Keyboard shortcuts would make me much faster."),
    ("The invoice emails go to spam.", "Your invoice e-mails end up in my spam folder."),
    ("It logs me out every day.", "I get signed out daily and have to log in again."),
    ("Can we have a calendar view?", "Please add a calendar view."),
    ("Importing contacts from a CSV file fails with an error.", "CSV import of contacts errors out."),
    ("The map doesn't load in landscape mode.", "In landscape the map never loads."),
    ("Please let me undo a deleted item.", "An undo for deletions would save me."),
    ("The app uses too much memory.", "Memory usage is far too high."),
    ("Let me pay with PayPal.", "PayPal as a payment option, please."),
    ("Audio cuts out during calls.", "Sound drops in the middle of calls."),
]


def _reviews(data: Path) -> list[dict[str, str]]:
    with (data / "app-reviews-topics.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _demo_texts() -> list[str]:
    from prodops.domains.feedback import demo

    return [r.text for r in demo.load_reviews()]


def _quantiles(values: np.ndarray, qs: tuple[float, ...]) -> str:
    return ", ".join(f"q{q * 100:g} {np.quantile(values, q):.3f}" for q in qs)


# --- calibrate ----------------------------------------------------------------------------------


def calibrate(args: argparse.Namespace) -> None:
    from prodops.domains.features import demo as features_demo
    from prodops.domains.feedback import demo as feedback_demo
    from prodops.platform.text import get_embedder

    embedder = get_embedder()
    rng = random.Random(0)
    print(f"embedder {embedder.name} ({embedder.dim} dimensions)")
    pairs_text = list(PARAPHRASES)
    shared = Path(__file__).resolve().parent / "data" / "paraphrases.csv"  # the embedder comparison's pairs
    if shared.exists():
        with shared.open(encoding="utf-8", newline="") as f:
            pairs_text += [(row["a"], row["b"]) for row in csv.DictReader(f)]
    left = embedder.embed([a for a, _ in pairs_text])
    right = embedder.embed([b for _, b in pairs_text])
    para = np.sum(left * right, axis=1)
    texts = _demo_texts()
    vectors = embedder.embed(texts)
    pairs = [(rng.randrange(len(texts)), rng.randrange(len(texts))) for _ in range(50_000)]
    pairs = [(a, b) for a, b in pairs if a != b and texts[a].lower() != texts[b].lower()]
    unrelated = np.array([float(vectors[a] @ vectors[b]) for a, b in pairs])
    print(f"paraphrases ({len(para)}): min {para.min():.3f}, {_quantiles(para, (0.1, 0.25, 0.5))}")
    print(
        f"unrelated review pairs ({len(unrelated)}): mean {unrelated.mean():.3f} sd {unrelated.std():.3f}, "
        f"{_quantiles(unrelated, (0.5, 0.95, 0.99, 0.999, 0.9999))}"
    )
    # The nearest neighbour of a review among 10,000 others: what a new item meets in a full inbox.
    sample = rng.sample(range(len(texts)), 500)
    pool = vectors[: min(10_000, len(vectors))]
    nearest = []
    for i in sample:
        sims = pool @ vectors[i]
        sims[[j for j in range(len(pool)) if texts[j].lower() == texts[i].lower()]] = -1
        nearest.append(float(sims.max()))
    nn = np.array(nearest)
    print(f"nearest other review among {len(pool):,}: {_quantiles(nn, (0.5, 0.9, 0.95, 0.99))}")
    for t in np.arange(0.30, 0.95, 0.05):
        print(
            f"  item threshold {t:.2f}: paraphrases caught {np.mean(para >= t):.0%}, "
            f"unrelated pairs above {np.mean(unrelated >= t):.4%}, reviews with a match among 10,000 {np.mean(nn >= t):.0%}"
        )
    catalogue = {title: f"{title}\n{description}" for _p, _a, _t, title, _g, description in features_demo.CATALOGUE}
    titles = list(catalogue)
    feature_vectors = embedder.embed([catalogue[t] for t in titles])
    linked, other = [], []
    for i in rng.sample(range(len(texts)), 3000):
        found = feedback_demo.matches(texts[i])
        if not found:
            continue
        title = found[0][0]
        sims = feature_vectors @ vectors[i]
        linked.append(float(sims[titles.index(title)]))
        others = [s for t, s in zip(titles, sims, strict=True) if t not in {m[0] for m in found}]
        other.append(max(others))
    linked_a, other_a = np.array(linked), np.array(other)
    print(f"review → its demo feature ({len(linked_a)}): {_quantiles(linked_a, (0.25, 0.5, 0.75))}")
    print(f"review → best other feature: {_quantiles(other_a, (0.5, 0.9, 0.95, 0.99))}")
    for t in np.arange(0.10, 0.60, 0.05):
        print(
            f"  feature threshold {t:.2f}: linked caught {np.mean(linked_a >= t):.0%}, "
            f"best wrong feature above {np.mean(other_a >= t):.0%}"
        )


# --- sentiment ------------------------------------------------------------------------------------


def sentiment_bench(args: argparse.Namespace) -> None:
    from scipy.stats import spearmanr
    from sklearn.model_selection import KFold

    from prodops.platform.text import sentiment

    rows = _reviews(args.data)
    texts = [r["text"] for r in rows]
    stars = np.array([float(r["rating"]) for r in rows])
    predicted = np.zeros(len(texts))
    for train, test in KFold(5, shuffle=True, random_state=0).split(texts):
        model = sentiment.fit([texts[i] for i in train], stars[train])
        predicted[test] = model.score([texts[i] for i in test])
    print(f"{len(texts):,} star-rated reviews (app-reviews-topics.csv), ratings {np.bincount(stars.astype(int))[1:]}")
    print(f"5-fold cross-validated Spearman with the stars: {spearmanr(predicted, stars).statistic:.3f}")
    shipped = np.array(sentiment.score(texts))
    print(f"shipped model (fitted on all of them, so optimistic): Spearman {spearmanr(shipped, stars).statistic:.3f}")
    print("cross-validated labels by star rating (negative / neutral / positive):")
    for star in range(1, 6):
        p = predicted[stars == star]
        neg = np.mean(p < sentiment.NEGATIVE_BELOW)
        pos = np.mean(p > sentiment.POSITIVE_ABOVE)
        print(f"  {star}★ ({len(p):,}): {neg:.0%} / {1 - neg - pos:.0%} / {pos:.0%}, median {np.median(p):+.2f}")
    started = time.perf_counter()
    sentiment.score(texts * 3)
    print(f"{3 * len(texts) / (time.perf_counter() - started):,.0f} texts/s")
    if args.write_model:
        model = sentiment.fit(texts, stars)
        sentiment.model_path().write_bytes(model.to_bytes())
        print(f"wrote {sentiment.model_path()} ({sentiment.model_path().stat().st_size:,} bytes)")


# --- the pipeline and search, each in a child process on a fresh SQLite database ------------------


def _child(kind: str, args: argparse.Namespace) -> None:
    from benchmarks._server import fresh_backend

    with fresh_backend("sqlite") as base_env:
        env = {**base_env, "PRODOPS_JOBS_IMMEDIATE": "false"}
        cmd = [sys.executable, "-m", "benchmarks.intelligence_pipeline", f"_{kind}", "--data", str(args.data)]
        if args.items:
            cmd += ["--items", str(args.items)]
        cmd += ["--singles", str(args.singles), "--requests", str(args.requests)]
        subprocess.run(cmd, env=env, check=True)


def _setup(session: Any) -> tuple[Any, list[str]]:
    from prodops.domains.features import demo as features_demo
    from prodops.domains.features import service as features
    from prodops.domains.features.schemas import FeatureIn
    from prodops.domains.feedback.service import analysis
    from prodops.platform.audit import Actor

    actor = Actor.system("bench")
    for _p, _a, _t, title, _g, description in features_demo.CATALOGUE:
        features.create_feature(session, actor, FeatureIn(title=title, description=description))
    analysis.refresh_feature_vectors(session)
    return actor, _demo_texts()


def _ingest(session: Any, actor: Any, texts: list[str], n: int, offset: int = 0) -> list[int]:
    from prodops.domains.feedback import service
    from prodops.domains.feedback.schemas import FeedbackIn

    ids: list[int] = []
    for start in range(0, n, 2000):
        batch = [
            FeedbackIn(text=texts[(offset + i) % len(texts)], source="app_review")
            for i in range(start, min(n, start + 2000))
        ]
        ids.extend(service.ingest_many(session, actor, batch).ids)
    return ids


class _Stages:
    """Wall time spent in each stage of the pipeline (wrapped module functions)."""

    def __init__(self) -> None:
        from prodops.domains.feedback.service import analysis

        self.totals: dict[str, float] = {}
        wrap = {
            "embed": (analysis.get_embedder(), "embed"),
            "classify": (analysis.types, "predict"),
            "sentiment": (analysis.sentiment, "score"),
            "duplicates": (analysis.similar, "near_duplicates"),
            "themes": (analysis.themes, "assign"),
            "write insights": (analysis, "_upsert_insights"),
            "write suggestions": (analysis, "_replace_suggestions"),
        }
        for stage, (module, name) in wrap.items():
            setattr(module, name, self._timed(stage, getattr(module, name)))

    def _timed(self, stage: str, fn: Any) -> Any:
        def timed(*a: Any, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.totals[stage] = self.totals.get(stage, 0.0) + time.perf_counter() - started

        return timed


def _pipeline_child(args: argparse.Namespace) -> None:
    from prodops.platform.registry import load_domains

    load_domains()
    from prodops.domains.feedback.service import analysis
    from prodops.platform.db import session_scope
    from prodops.platform.text import get_embedder

    n = args.items or 20_000
    with session_scope() as session:
        actor, texts = _setup(session)
        ids = _ingest(session, actor, texts, n)
        print(f"embedder {get_embedder().name}; {n:,} items from {len(texts):,} distinct review texts; SQLite")
        print(f"model version {analysis.model_version(session)}")
        analysis.analyse(session, ids[:50])  # load every model once (first use), as a running worker has
        stages = _Stages()
        started = time.perf_counter()
        result = analysis.analyse(session, ids)
        seconds = time.perf_counter() - started
        print(
            f"batch analysis: {result.analysed:,} items in {seconds:.1f} s = {result.analysed / seconds:,.0f} items/s "
            f"({60 * result.analysed / seconds:,.0f}/min); {result.suggestions:,} suggestions"
        )
        print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.totals.items()))
        tracemalloc.start()
        analysis.analyse(session, ids)  # the same work again (idempotent), to see its peak Python memory
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"peak Python memory of one analysis run (tracemalloc): {peak / 2**20:,.0f} MB; "
            f"process peak RSS so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB"
        )
        latencies = []
        for i in range(args.singles):
            new = _ingest(session, actor, texts, 1, offset=n + i)
            started = time.perf_counter()
            analysis.analyse(session, new)
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        p50 = statistics.median(latencies)
        p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
        print(
            f"one new item at a time ({args.singles} items, {n:,} already analysed): p50 {p50:.1f} ms, p95 {p95:.1f} ms"
        )


QUERIES = [
    "export to pdf",
    "app crashes when I open it",
    "battery drain",
    "please add dark mode",
    "cannot log in after update",
    "too many ads",
    "sync between devices does not work",
    "notifications arrive late",
    "widget",
    "the app is slow and freezes on long lists",
]


def _search_child(args: argparse.Namespace) -> None:
    from prodops.platform.registry import load_domains

    load_domains()
    from sqlalchemy import insert

    from prodops.domains.feedback.models import FeedbackInsight
    from prodops.domains.feedback.service import analysis, similar
    from prodops.platform.db import session_scope, transaction, utcnow
    from prodops.platform.text import get_embedder, pack

    n = args.items or 100_000
    embedder = get_embedder()
    with session_scope() as session:
        actor, texts = _setup(session)
        ids = _ingest(session, actor, texts, n)
        # Stored embeddings as the analysis writes them (the texts repeat, so embed each distinct text once).
        vectors = pack(embedder.embed(texts))
        version = analysis.model_version(session)
        now = utcnow()
        with transaction(session):
            for start in range(0, n, 5000):
                session.execute(
                    insert(FeedbackInsight),
                    [
                        {
                            "item_id": item_id,
                            "embedding": vectors[(start + k) % len(texts)],
                            "model_version": version,
                            "analysed_at": now,
                            "kind_source": "model",
                        }
                        for k, item_id in enumerate(ids[start : start + 5000])
                    ],
                )
        print(f"embedder {embedder.name} ({embedder.dim} dimensions); {n:,} items; SQLite")
        started = time.perf_counter()
        index = similar.item_index(session)
        print(
            f"vector index load: {len(index):,} rows in {time.perf_counter() - started:.2f} s, "
            f"{index.dim * 4 * len(index) / 2**20:.0f} MB of float32 in memory"
        )
        rows: list[tuple[str, list[float]]] = []
        for kind in ("items", "features"):
            samples = []
            for r in range(args.requests):
                q = QUERIES[r % len(QUERIES)]
                started = time.perf_counter()
                similar.search(session, similar.SearchQuery(q=q, kind=kind))  # type: ignore[arg-type]
                samples.append((time.perf_counter() - started) * 1000)
            rows.append((f"search {kind}", samples))
        vec = embedder.embed(QUERIES)
        samples = []
        for r in range(args.requests):
            started = time.perf_counter()
            index.search(vec[r % len(QUERIES) : r % len(QUERIES) + 1], 400, min_score=0.25)
            samples.append((time.perf_counter() - started) * 1000)
        rows.append(("vector stage alone (top 400 of all items)", samples))
        where = similar._item_filters(similar.SearchQuery(q="x"))
        samples = []
        for r in range(args.requests):
            started = time.perf_counter()
            similar._items_by_keyword(session, similar.textsearch.terms(QUERIES[r % len(QUERIES)]), where)
            samples.append((time.perf_counter() - started) * 1000)
        rows.append(("keyword stage alone (LIKE scan + BM25 of the newest 2,000 matches)", samples))
        for name, samples in rows:
            samples.sort()
            p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
            print(f"{name}: p50 {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms ({len(samples)} queries)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("what", choices=["pipeline", "search", "sentiment", "calibrate", "_pipeline", "_search"])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument("--singles", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--write-model", action="store_true")
    args = parser.parse_args(argv)
    if args.what == "pipeline":
        _child("pipeline", args)
    elif args.what == "search":
        _child("search", args)
    elif args.what == "_pipeline":
        _pipeline_child(args)
    elif args.what == "_search":
        _search_child(args)
    elif args.what == "sentiment":
        sentiment_bench(args)
    else:
        calibrate(args)


if __name__ == "__main__":
    main()
