"""Themes against the human topics of app-reviews-topics.csv, incremental assignment, stability, and time at scale.

    uv run python -m benchmarks.themes [--data FILE] [--synthetic 100000] [--backend sqlite|postgres|none] [--compare]

1. Embeds the 8,105 reviews with ``get_embedder()`` (whatever it returns today) and clusters them with the product's
   clustering (``service/themes/clustering.py``), then scores the themes against the human topics with adjusted
   mutual information (scikit-learn ``adjusted_mutual_info_score``). Rows have zero to six topics, so two views:
   **single-topic rows** (2,460 rows with exactly one topic: the cleanest reference) and **first topic** (the 5,312
   rows with at least one, scored on the first one listed). All rows are clustered; reviews the product leaves in no
   theme count as one more group. For scale, the same score for the *app* a review is about (37 apps).
2. Incremental assignment: themes fitted on 80% of the reviews, the other 20% joined one by one with the rule
   ``assign`` uses; how many join a theme, and their AMI against the topics.
3. Stability: a second clustering on a 90% subset (another sample); the share of reviews in both that keep their
   theme after Hungarian matching of the centres at the product's floor.
4. Time and memory to cluster 100,000 items (the embeddings duplicated with small noise), in process; and with
   ``--backend``, a whole re-clustering (``themes.recluster``: load, cluster, match, key phrases, write) of 100,000
   stored items in a fresh database, run twice (the second run matches the first's themes).
5. With ``--compare``: the algorithms that were not chosen (k-means, mini-batch k-means, HDBSCAN) against Ward's,
   with this embedder and with a semantic stand-in (TF-IDF + SVD), for the choice recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.metrics import adjusted_mutual_info_score

from benchmarks._server import fresh_backend
from prodops.domains.feedback.service.themes import clustering
from prodops.platform.text import get_embedder
from prodops.platform.text.phrases import distinct_labels, key_phrases

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "feedback" / "app-reviews-topics.csv"


def load(path: Path) -> tuple[list[str], list[list[str]], list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    texts = [r["text"] for r in rows]
    topics = [[t for t in r["topics"].split(";") if t] for r in rows]
    return texts, topics, [r["app"] for r in rows]


def scores(labels: np.ndarray, topics: list[list[str]], apps: list[str]) -> dict[str, float]:
    single = np.asarray([len(t) == 1 for t in topics])
    some = np.asarray([len(t) >= 1 for t in topics])
    first = np.asarray([t[0] if t else "" for t in topics])
    return {
        "single": float(adjusted_mutual_info_score(first[single], labels[single])),
        "first": float(adjusted_mutual_info_score(first[some], labels[some])),
        "app": float(adjusted_mutual_info_score(np.asarray(apps), labels)),
    }


def noisy_copies(vectors: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` rows drawn from ``vectors`` with Gaussian noise (σ 0.02 per dimension), unit length, float16."""
    rng = np.random.default_rng(seed)
    rows = vectors[rng.integers(0, len(vectors), n)].astype(np.float32)
    rows += rng.normal(0, 0.02, rows.shape).astype(np.float32)
    return clustering.unit(rows).astype(np.float16)


def quality(console: Console, texts: list[str], topics: list[list[str]], apps: list[str]) -> dict[str, object]:
    embedder = get_embedder()
    started = time.perf_counter()
    vectors = embedder.embed(texts).astype(np.float16)
    embed_s = time.perf_counter() - started
    ids = np.arange(1, len(texts) + 1, dtype=np.int64)
    started = time.perf_counter()
    found = clustering.cluster(vectors, ids)
    cluster_s = time.perf_counter() - started
    measured = scores(found.labels, topics, apps)
    # Key phrases of each theme, and the human topic most of its single-topic rows carry.
    members = [np.flatnonzero(found.labels == k) for k in range(len(found.sizes))]
    started = time.perf_counter()
    found_phrases = key_phrases(
        [[texts[i] for i in m[:150]] for m in members], [texts[i] for i in np.flatnonzero(found.labels < 0)[:1000]]
    )
    phrases_s = time.perf_counter() - started
    table = Table(title=f"Themes of app-reviews-topics ({embedder.name}), largest first")
    for column in ("theme (key phrases)", "reviews", "most common human topic"):
        table.add_column(column, justify="right" if column == "reviews" else "left")
    order = np.argsort(-found.sizes)
    names = dict(zip(order.tolist(), distinct_labels([found_phrases[k] for k in order]), strict=True))
    for k in order[:12]:
        counts: dict[str, int] = {}
        for i in members[k]:
            for t in topics[i][:1]:
                counts[t] = counts.get(t, 0) + 1
        top = max(counts, key=lambda t: counts[t]) if counts else "—"
        share = counts.get(top, 0) / max(1, sum(counts.values()))
        table.add_row(names[int(k)], f"{found.sizes[k]:,}", f"{top} ({share:.0%} of labelled)")
    console.print(table)

    # Incremental: fit on 80%, join the rest with the rule assign() uses.
    held = (ids * 2_654_435_761 % 2**32) % 5 == 0
    fitted = clustering.cluster(vectors[~held], ids[~held])
    joined, _ = clustering.assign_passing(vectors[held], fitted.centroids)
    held_topics = [t for t, h in zip(topics, held, strict=True) if h]
    held_apps = [a for a, h in zip(apps, held, strict=True) if h]
    incremental = scores(joined, held_topics, held_apps)

    # Stability: another clustering on a 90% subset; items in both that keep their theme after matching.
    subset = (ids * 40_503 % 2**16) % 10 != 0
    other = clustering.cluster(vectors[subset], ids[subset])
    pairs = {new: old for new, old, _ in clustering.match(other.centroids, found.centroids)}
    mine = found.labels[subset]
    theirs = np.asarray([pairs.get(int(k), -2) if k >= 0 else -1 for k in other.labels])
    both = mine >= 0
    kept = float((mine[both] == theirs[both]).mean())

    return {
        "embedder": embedder.name,
        "items": len(texts),
        "embed_s": embed_s,
        "cluster_s": cluster_s,
        "phrases_s": phrases_s,
        "themes": len(found.sizes),
        "chosen_by": found.chosen_by,
        "silhouette": found.silhouette,
        "unthemed": float((found.labels < 0).mean()),
        "ami": measured,
        "incremental_joined": float((joined >= 0).mean()),
        "incremental_ami": incremental,
        "stable": kept,
        "matched": len(pairs),
    }


def semantic_stand_in(texts: list[str]) -> np.ndarray:
    """Vectors with some meaning in them, for comparing algorithms: TF-IDF reduced to 150 dimensions (LSA), fitted
    on these reviews themselves (so it flatters a little)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(stop_words="english", min_df=2, sublinear_tf=True).fit_transform(texts)
    return clustering.unit(TruncatedSVD(150, random_state=0).fit_transform(tfidf)).astype(np.float16)


def compare(console: Console, texts: list[str], topics: list[list[str]], apps: list[str]) -> None:
    """The algorithms tried, on the same sample and the same number of themes (40, the size rule for 8,105)."""
    from sklearn.cluster import HDBSCAN, KMeans, MiniBatchKMeans

    k = clustering.size_rule(len(texts))
    ids = np.arange(1, len(texts) + 1, dtype=np.int64)
    table = Table(title=f"Algorithms compared ({k} themes, fitted on a {clustering.FIT_SAMPLE:,} sample)")
    for column in ("vectors", "algorithm", "AMI single-topic", "AMI first topic", "no theme", "seconds"):
        table.add_column(column, justify="left" if column in ("vectors", "algorithm") else "right")
    for name, vectors in (
        (get_embedder().name, get_embedder().embed(texts).astype(np.float16)),
        ("TF-IDF + SVD (semantic stand-in)", semantic_stand_in(texts)),
    ):
        sample = clustering.sample_positions(ids, clustering.FIT_SAMPLE)
        fitted = np.asarray(vectors[sample], dtype=np.float32)

        def nearest_of(found: np.ndarray, rows: np.ndarray = fitted, everything: np.ndarray = vectors) -> np.ndarray:
            kept = sorted(set(found.tolist()) - {-1})
            if not kept:
                return np.full(len(everything), -1)
            centres = clustering.unit(np.stack([rows[found == j].mean(axis=0) for j in kept]))
            return clustering.nearest(everything, centres)[0]

        runs = {
            "Ward + nearest centre (chosen)": lambda v=vectors: clustering.cluster(v, ids).labels,
            "k-means + nearest centre": lambda f=fitted, n=nearest_of: n(
                KMeans(k, n_init=2, random_state=0).fit(f).labels_
            ),
            "mini-batch k-means + nearest": lambda f=fitted, n=nearest_of: n(
                MiniBatchKMeans(k, n_init=3, random_state=0, batch_size=1024).fit(f).labels_
            ),
            "HDBSCAN (min cluster 15), noise kept": lambda f=fitted: (
                HDBSCAN(min_cluster_size=15, copy=True).fit(f).labels_
            ),
        }
        for algorithm, run in runs.items():
            started = time.perf_counter()
            labels = np.asarray(run())
            seconds = time.perf_counter() - started
            if len(labels) != len(vectors):  # HDBSCAN labels the sample only: score the sample
                measured = scores(labels, [topics[i] for i in sample], [apps[i] for i in sample])
            else:
                measured = scores(labels, topics, apps)
            table.add_row(
                name,
                algorithm,
                f"{measured['single']:.3f}",
                f"{measured['first']:.3f}",
                f"{(labels < 0).mean():.0%}",
                f"{seconds:.1f}",
            )
    console.print(table)


def at_scale(vectors: np.ndarray, n: int) -> dict[str, float]:
    big = noisy_copies(vectors, n)
    tracemalloc.start()
    started = time.perf_counter()
    found = clustering.cluster(big, np.arange(1, n + 1, dtype=np.int64))
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"items": n, "seconds": seconds, "peak_mb": peak / 2**20, "themes": len(found.sizes)}


# A whole re-clustering of stored items, in its own process with its own database.
RECLUSTER_SCRIPT = r"""
import datetime as dt, json, resource, sys, time
import numpy as np
from sqlalchemy import insert
from prodops.platform.registry import load_domains
load_domains()
from prodops.platform.db import session_scope, transaction
from prodops.platform.text import get_embedder, pack
from prodops.domains.feedback.models import FeedbackInsight, FeedbackItem
from prodops.domains.feedback.service import themes
from benchmarks.themes import load, noisy_copies
from pathlib import Path
texts, _, _ = load(Path(sys.argv[1]))
n = int(sys.argv[2])
vectors = noisy_copies(get_embedder().embed(texts), n)
source = np.random.default_rng(1).integers(0, len(texts), n)
now = dt.datetime.now(dt.UTC)
with session_scope() as s, transaction(s):
    for start in range(0, n, 5000):
        stop = min(n, start + 5000)
        s.execute(insert(FeedbackItem), [
            {"id": i + 1, "text": texts[source[i]], "received_at": now - dt.timedelta(minutes=5 * i), "meta": {},
             "status": "archived" if i % 5 == 0 else "new"} for i in range(start, stop)])
        s.execute(insert(FeedbackInsight), [
            {"item_id": i + 1, "embedding": blob, "model_version": "bench"}
            for i, blob in zip(range(start, stop), pack(vectors[start:stop]))])
runs = []
for _ in range(2):
    started = time.perf_counter()
    with session_scope() as s:
        result = themes.recluster(s)
    runs.append({"seconds": time.perf_counter() - started, "themes": result.themes, "created": result.created,
                 "kept": result.kept, "clustered": result.clustered})
print(json.dumps({"runs": runs, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def recluster_db(backend: str, data: Path, n: int) -> dict[str, object]:
    root = str(Path(__file__).resolve().parents[1])
    with fresh_backend(backend) as base:
        env = {**base, "PYTHONPATH": os.pathsep.join(p for p in (root, base.get("PYTHONPATH", "")) if p)}
        done = subprocess.run(
            [sys.executable, "-c", RECLUSTER_SCRIPT, str(data), str(n)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="app-reviews-topics.csv")
    parser.add_argument("--synthetic", type=int, default=100_000, help="items for the timing at scale")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "none"], default="sqlite")
    parser.add_argument("--compare", action="store_true", help="also run the algorithms that were not chosen")
    args = parser.parse_args()
    console = Console()
    texts, topics, apps = load(args.data)
    if args.compare:
        compare(console, texts, topics, apps)
    found = quality(console, texts, topics, apps)
    ami = found["ami"]
    incremental = found["incremental_ami"]
    assert isinstance(ami, dict) and isinstance(incremental, dict)
    table = Table(title="Themes against the human topics (adjusted mutual information; 0 = chance, 1 = identical)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("embedder", str(found["embedder"]))
    table.add_row("reviews clustered", f"{found['items']:,}")
    table.add_row(
        "themes (how the number was chosen)",
        f"{found['themes']} ({found['chosen_by']}, silhouette {found['silhouette']:.3f})",
    )
    table.add_row("reviews in no theme", f"{found['unthemed']:.1%}")
    table.add_row("AMI, single-topic rows (2,460)", f"{ami['single']:.3f}")
    table.add_row("AMI, first topic (5,312 rows with a topic)", f"{ami['first']:.3f}")
    table.add_row("AMI against the app instead (37 apps)", f"{ami['app']:.3f}")
    table.add_row("incremental: held-out reviews that joined a theme", f"{found['incremental_joined']:.1%}")
    table.add_row("incremental: AMI of held-out reviews, single-topic", f"{incremental['single']:.3f}")
    table.add_row(
        "stability: reviews keeping their theme (90% subset)",
        f"{found['stable']:.1%} ({found['matched']} themes matched)",
    )
    table.add_row("embedding time", f"{found['embed_s']:.1f} s")
    table.add_row("clustering time", f"{found['cluster_s']:.1f} s")
    table.add_row("key phrases time", f"{found['phrases_s']:.1f} s")
    console.print(table)
    vectors = get_embedder().embed(texts)
    scale = at_scale(vectors, args.synthetic)
    console.print(
        f"Clustering {scale['items']:,} synthetic items in process: {scale['seconds']:.1f} s, "
        f"peak {scale['peak_mb']:.0f} MB of allocations, {scale['themes']:.0f} themes."
    )
    if args.backend != "none":
        db = recluster_db(args.backend, args.data, args.synthetic)
        runs = db["runs"]
        assert isinstance(runs, list)
        table = Table(title=f"Whole re-clustering of {args.synthetic:,} stored items ({args.backend})")
        for column in ("run", "seconds", "themes", "created", "kept", "items in a theme"):
            table.add_column(column, justify="right")
        for n, run in enumerate(runs, start=1):
            table.add_row(
                str(n),
                f"{run['seconds']:.1f}",
                str(run["themes"]),
                str(run["created"]),
                str(run["kept"]),
                f"{run['clustered']:,}",
            )
        console.print(table)
        console.print(f"Peak RSS of the re-clustering process: {db['max_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
