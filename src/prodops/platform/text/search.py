"""Hybrid search helpers: query terms, BM25 keyword scores, reciprocal rank fusion, highlighting, and an
in-memory vector index over packed float16 embeddings.

The vector index takes the packed float16 rows the database stores and keeps them as float32 by default: converting
float16 to float32 costs more than the matrix product itself (measured on the 2-core reference machine with 100,000
384-dimensional rows: ~145 ms to convert them all, ~22 ms for the float32 product; NumPy has no fast float16
product), so a converted copy is what makes one query fast. ``dtype="float16"`` halves the memory (77 MB instead
of 154 MB for those rows) and converts one chunk at a time per query instead. Rows are added, replaced and removed
by id, so a caller refreshes it incrementally from the rows that changed.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

import numpy as np
from markupsafe import Markup, escape
from numpy.typing import NDArray

K = TypeVar("K", bound=Hashable)

#: The constant of reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): a document's fused score is
#: the sum over the rankings of 1 / (k + rank). 60 is the paper's value; it keeps one list's top hit from
#: drowning what both lists agree on, and the fused order barely moves between 20 and 100.
RRF_K = 60
MAX_TERMS = 8

# Words too common to search by: they match nearly every text and say nothing about it.
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "after",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "for",
        "from",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "not",
        "of",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
_WORD = re.compile(r"[\w][\w'+#.-]*[\w+#]|[\w]", re.UNICODE)


def terms(query: str, *, max_terms: int = MAX_TERMS) -> list[str]:
    """The words of a query worth matching: lower-case, stop words and one-letter words left out, first
    ``max_terms`` distinct ones. A query of stop words only keeps its words (searching "how to" still works)."""
    words = [w.lower() for w in _WORD.findall(query or "")]
    kept = [w for w in words if len(w) > 1 and w not in STOP_WORDS] or [w for w in words if len(w) > 1]
    return list(dict.fromkeys(kept))[:max_terms]


def bm25(
    docs: Sequence[str],
    query_terms: Sequence[str],
    *,
    doc_freq: Sequence[int] | None = None,
    n_docs: int | None = None,
    k1: float = 1.2,
    b: float = 0.75,
) -> NDArray[np.float64]:
    """Okapi BM25 of each document for the terms (case-insensitive substring counts, as SQL LIKE matches).

    ``doc_freq``/``n_docs`` are the terms' document frequencies in the whole collection; by default they are
    counted in ``docs`` (fine when ``docs`` is the collection, biased when it is only the candidates)."""
    if not docs or not query_terms:
        return np.zeros(len(docs))
    lowered = [d.lower() for d in docs]
    tf = np.array([[d.count(t) for t in query_terms] for d in lowered], dtype=np.float64)
    lengths = np.array([d.count(" ") + 1 for d in lowered], dtype=np.float64)  # words, near enough
    if doc_freq is None:
        df = (tf > 0).sum(axis=0).astype(np.float64)
        n = float(len(docs))
    else:
        df = np.asarray(doc_freq, dtype=np.float64)
        n = float(n_docs if n_docs is not None else len(docs))
    idf = np.log1p((n - df + 0.5) / (df + 0.5))
    norm = k1 * (1 - b + b * lengths / max(1.0, float(lengths.mean())))
    weights = tf * (k1 + 1) / (tf + norm[:, None])
    return np.asarray(weights @ idf, dtype=np.float64)


def reciprocal_rank_fusion(rankings: Iterable[Sequence[K]], *, k: int = RRF_K) -> list[tuple[K, float]]:
    """Fuse ranked lists (best first) into one: ``(key, score)`` best first, ties in first-seen order."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def _pattern(query_terms: Sequence[str]) -> re.Pattern[str] | None:
    wanted = sorted({t for t in query_terms if t}, key=len, reverse=True)
    if not wanted:
        return None
    return re.compile("|".join(re.escape(t) for t in wanted), re.IGNORECASE)


def highlight(text: str, query_terms: Sequence[str]) -> Markup:
    """``text`` escaped, with each occurrence of a term (case-insensitive) in ``<mark>``."""
    pattern = _pattern(query_terms)
    if pattern is None:
        return escape(text)
    parts: list[Markup] = []
    last = 0
    for match in pattern.finditer(text):
        parts.append(escape(text[last : match.start()]))
        parts.append(Markup("<mark>{}</mark>").format(match.group(0)))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def snippet(text: str, query_terms: Sequence[str], *, width: int = 240) -> Markup:
    """About ``width`` characters of ``text`` around its first matching term, highlighted; the start of the text
    when nothing matches. Cut points fall on spaces, marked with an ellipsis."""
    if len(text) <= width:
        return highlight(text, query_terms)
    pattern = _pattern(query_terms)
    found = pattern.search(text) if pattern is not None else None
    start = 0 if found is None else max(0, found.start() - width // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start + width // 2, end)
        end = space if space > 0 else end
    body = highlight(text[start:end], query_terms)
    return Markup("{}{}{}").format("…" if start else "", body, "…" if end < len(text) else "")


def term_counts(texts: Iterable[str], query_terms: Sequence[str]) -> Counter[str]:
    """In how many texts each term occurs (case-insensitive substring)."""
    counts: Counter[str] = Counter()
    for text in texts:
        lowered = text.lower()
        counts.update(t for t in query_terms if t in lowered)
    return counts


# --- the vector index -----------------------------------------------------------------------------


class VectorIndex:
    """Rows of L2-normalised embeddings by integer id; cosine top-k by float32 matrix products over chunks of rows.

    Safe to search from several threads while another one refreshes it: a search works on the arrays as they
    were when it started."""

    def __init__(self, dim: int, *, dtype: str = "float32", chunk_elements: int = 1 << 22) -> None:
        if dtype not in ("float32", "float16"):
            raise ValueError("dtype is float32 or float16")
        self.dim = dim
        self._dtype = np.dtype("<f4" if dtype == "float32" else "<f2")
        self._chunk_elements = chunk_elements
        self._ids = np.zeros(0, dtype=np.int64)
        self._rows = np.zeros((0, dim), dtype=self._dtype)
        self._size = 0
        self._pos: dict[int, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: object) -> bool:
        return key in self._pos

    def ids(self) -> NDArray[np.int64]:
        return self._ids[: self._size].copy()

    def clear(self) -> None:
        with self._lock:
            self._ids = np.zeros(0, dtype=np.int64)
            self._rows = np.zeros((0, self.dim), dtype=self._dtype)
            self._size = 0
            self._pos = {}

    def _grow(self, needed: int) -> None:
        capacity = len(self._ids)
        if needed <= capacity:
            return
        capacity = max(needed, capacity * 2, 1024)
        ids = np.zeros(capacity, dtype=np.int64)
        rows = np.zeros((capacity, self.dim), dtype=self._dtype)
        ids[: self._size] = self._ids[: self._size]
        rows[: self._size] = self._rows[: self._size]
        self._ids, self._rows = ids, rows

    def upsert(self, ids: Sequence[int], vectors: NDArray[np.floating] | Sequence[bytes]) -> None:
        """Add rows, or replace the rows of ids already there. ``vectors`` is an ``(n, dim)`` array or the
        little-endian float16 blobs that :func:`prodops.platform.text.pack` makes."""
        if len(ids) == 0:
            return
        if isinstance(vectors, np.ndarray):
            # Through float16 either way: the index holds exactly what the database stores.
            rows = np.asarray(vectors, dtype="<f2").reshape(len(ids), self.dim)
        else:
            rows = np.frombuffer(b"".join(vectors), dtype="<f2").reshape(len(ids), self.dim)
        rows = rows.astype(self._dtype)
        with self._lock:
            self._grow(self._size + len(ids))
            for key, row in zip(ids, rows, strict=True):
                pos = self._pos.get(int(key))
                if pos is None:
                    pos = self._size
                    self._pos[int(key)] = pos
                    self._ids[pos] = int(key)
                    self._size += 1
                self._rows[pos] = row

    def remove(self, ids: Iterable[int]) -> None:
        with self._lock:
            for key in ids:
                pos = self._pos.pop(int(key), None)
                if pos is None:
                    continue
                last = self._size - 1
                if pos != last:  # move the last row into the gap
                    moved = int(self._ids[last])
                    self._ids[pos] = moved
                    self._rows[pos] = self._rows[last]
                    self._pos[moved] = pos
                self._size = last

    def vectors(self, ids: Sequence[int]) -> NDArray[np.float32]:
        """The rows of ``ids`` as float32 (a zero row for an id not in the index)."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for n, key in enumerate(ids):
            pos = self._pos.get(int(key))
            if pos is not None:
                out[n] = self._rows[pos]
        return out

    def search(
        self,
        queries: NDArray[np.floating],
        k: int,
        *,
        min_score: float = -1.0,
        skip: Sequence[int | None] | None = None,
    ) -> list[list[tuple[int, float]]]:
        """The ``k`` most similar rows for each query row, as ``(id, cosine)`` best first, keeping scores of at
        least ``min_score``. ``skip`` gives, per query, an id to leave out (the query's own row)."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        size, ids, rows = self._size, self._ids, self._rows
        if size == 0 or k <= 0 or len(q) == 0:
            return [[] for _ in range(len(q))]
        want = min(size, k + (1 if skip is not None else 0))
        chunk = max(256, self._chunk_elements // max(1, len(q)))
        best_scores = np.full((len(q), 0), -np.inf, dtype=np.float32)
        best_pos = np.zeros((len(q), 0), dtype=np.int64)
        for start in range(0, size, chunk):
            block = rows[start : min(size, start + chunk)]
            if block.dtype != np.float32:
                block = block.astype(np.float32)
            scores = q @ block.T
            take = min(want, scores.shape[1])
            part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
            scores_all = np.concatenate([best_scores, np.take_along_axis(scores, part, axis=1)], axis=1)
            pos_all = np.concatenate([best_pos, part + start], axis=1)
            if scores_all.shape[1] > want:
                keep = np.argpartition(-scores_all, want - 1, axis=1)[:, :want]
                scores_all = np.take_along_axis(scores_all, keep, axis=1)
                pos_all = np.take_along_axis(pos_all, keep, axis=1)
            best_scores, best_pos = scores_all, pos_all
        results: list[list[tuple[int, float]]] = []
        for n in range(len(q)):
            order = np.argsort(-best_scores[n], kind="stable")
            own = skip[n] if skip is not None else None
            found: list[tuple[int, float]] = []
            for j in order:
                score = float(best_scores[n, j])
                if score < min_score or math.isnan(score):
                    break
                key = int(ids[best_pos[n, j]])
                if key == own:
                    continue
                found.append((key, score))
                if len(found) == k:
                    break
            results.append(found)
        return results
