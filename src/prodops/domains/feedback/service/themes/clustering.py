"""The maths of themes, without the database: fitting clusters on a sample, choosing how many, assigning every
vector to a centre, and matching a new clustering to the themes people already know.

Chosen by measurement on ``app-reviews-topics.csv`` (see benchmarks/README.md, "Themes"): Ward's hierarchical
clustering of a sample, then every item to its nearest centre, scored higher against the human topics than
k-means or mini-batch k-means at every number of themes tried (20–64), with the hashing embedder and with a
semantic stand-in (TF-IDF + SVD), and is deterministic (no random start), which keeps themes stable between runs.
HDBSCAN left 54–96% of the reviews as noise. Ward's tree of a 4,000-item sample takes a few seconds and ~70 MB; everything else is a matrix product per
chunk of items, so 100,000 items cluster in bounded time and memory.

Centres are stored as the plain mean of the members' unit vectors, not normalised: its direction is the theme,
its length (at most 1) the members' mean cosine to that direction, i.e. how tight the theme is. That length sets
how close a new item must be to join (see :func:`thresholds`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import silhouette_score

Matrix = NDArray[np.floating]

#: Items Ward's tree is built on (its memory grows with the square of this: 4,000 → ~64 MB of distances).
FIT_SAMPLE = 4_000
#: Items the silhouette is measured on, for each candidate number of themes.
SILHOUETTE_SAMPLE = 1_500
#: The most themes one clustering makes: a list a person can read.
MAX_THEMES = 40
#: Numbers of themes tried when the data might fall into clearly separate groups.
CANDIDATE_KS = (2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 35, 40)
#: A mean silhouette (cosine) from which the data's own grouping decides the number of themes. Clearly separate
#: topics score well above it; real feedback does not (app-reviews-topics: −0.06 to 0.02 at every k from 2 to 60),
#: and then the number follows :func:`size_rule`.
SEPARATED = 0.1
#: A cluster smaller than this many items, or than this share of all items, is dissolved: its items get no theme.
MIN_THEME_ITEMS = 5
MIN_THEME_SHARE = 0.002
#: An item joins a theme when its cosine to the theme's direction is at least ``ASSIGN_RATIO`` × the theme's
#: tightness (its members' mean cosine) and at least ``MIN_COSINE``. Calibrated on app-reviews-topics: the
#: nearest-centre members that fail it are the loosest 5–7% (hashing embedder: 5th percentile of cosine/tightness
#: 0.43, 10th 0.59; a semantic stand-in: 0.49 and 0.60); with it a full clustering keeps 96% of the reviews in a
#: theme and 95% of held-out reviews join one (benchmarks/themes.py).
ASSIGN_RATIO = 0.5
MIN_COSINE = 0.15
#: Centre cosine from which a new cluster is the same theme as an old one (Hungarian matching). Between two
#: clusterings of app-reviews-topics from different samples, pairs above 0.9 share 20–80% of their members; below
#: it, most pairs share almost none.
MATCH_FLOOR = 0.9
#: Rows per matrix product.
CHUNK = 8_192


def unit(rows: Matrix) -> NDArray[np.float32]:
    """Rows scaled to length 1 (zero rows stay zero)."""
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0), dtype=np.float32)


def thresholds(centroids: Matrix) -> NDArray[np.float32]:
    """How close (cosine) an item must be to each theme to join it, from the stored (unnormalised) centres."""
    tightness = np.linalg.norm(np.asarray(centroids, dtype=np.float32), axis=1)
    return np.asarray(np.maximum(MIN_COSINE, ASSIGN_RATIO * tightness), dtype=np.float32)


def size_rule(n: int) -> int:
    """How many themes when the data does not say: √(n/4), between 2 and :data:`MAX_THEMES` (8,000 items → 40)."""
    return int(min(MAX_THEMES, max(2, round(math.sqrt(n / 4)))))


def min_theme_size(n: int) -> int:
    return max(MIN_THEME_ITEMS, math.ceil(MIN_THEME_SHARE * n))


def sample_positions(ids: NDArray[np.int64], limit: int) -> NDArray[np.intp]:
    """Positions of a deterministic sample of ``limit`` ids: the ones with the smallest multiplicative hash. The same
    items give the same sample, and a few new items change it only a little, so themes stay put between runs."""
    if len(ids) <= limit:
        return np.arange(len(ids))
    keys = (ids.astype(np.uint64) * np.uint64(2_654_435_761)) % np.uint64(2**32)
    return np.sort(np.argpartition(keys, limit)[:limit])


def _chunks(n: int) -> Iterator[slice]:
    for start in range(0, n, CHUNK):
        yield slice(start, min(n, start + CHUNK))


@dataclass(frozen=True)
class Fit:
    centres: NDArray[np.float32]
    """(k, dim) unit rows: the clusters of the sample."""
    chosen_by: str
    """``separation`` (the silhouette found clearly separate groups) or ``size`` (the size rule)."""
    silhouette: float


def _ward_labels(tree: NDArray[np.float64], k: int) -> NDArray[np.intp]:
    return np.asarray(fcluster(tree, k, "maxclust"), dtype=np.intp) - 1


def _centres(sample: NDArray[np.float32], labels: NDArray[np.intp]) -> NDArray[np.float32]:
    k = int(labels.max()) + 1
    return unit(np.stack([sample[labels == j].mean(axis=0) for j in range(k)]))


def fit(sample: NDArray[np.float32], n_total: int) -> Fit:
    """Ward's tree of the sample, cut at the number of themes the data supports (see :data:`SEPARATED`)."""
    size = len(sample)
    most = min(MAX_THEMES, size // MIN_THEME_ITEMS)
    if most < 2:
        return Fit(unit(sample.mean(axis=0, keepdims=True)), "size", 0.0)
    tree = linkage(np.asarray(sample, dtype=np.float64), "ward")
    probe = np.arange(min(size, SILHOUETTE_SAMPLE))
    if size > SILHOUETTE_SAMPLE:
        probe = np.linspace(0, size - 1, SILHOUETTE_SAMPLE).astype(np.intp)
    probed = np.asarray(sample[probe], dtype=np.float64)
    distances = np.clip(1.0 - probed @ probed.T, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    best_k, best_score = 0, -1.0
    for k in (k for k in CANDIDATE_KS if k <= most):
        labels = _ward_labels(tree, k)[probe]
        if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(probe):
            continue
        score = float(silhouette_score(distances, labels, metric="precomputed"))
        if score > best_score:
            best_k, best_score = k, score
    if best_k and best_score >= SEPARATED:
        k, chosen_by = best_k, "separation"
    else:
        k, chosen_by = min(size_rule(n_total), most), "size"
    return Fit(_centres(sample, _ward_labels(tree, k)), chosen_by, best_score)


def nearest(vectors: Matrix, centres: Matrix) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """Each vector's nearest centre (unit rows) and the cosine to it."""
    centres32 = np.asarray(centres, dtype=np.float32)
    labels = np.empty(len(vectors), dtype=np.intp)
    scores = np.empty(len(vectors), dtype=np.float32)
    for part in _chunks(len(vectors)):
        sims = np.asarray(vectors[part], dtype=np.float32) @ centres32.T
        labels[part] = sims.argmax(axis=1)
        scores[part] = sims.max(axis=1)
    return labels, scores


def assign_passing(
    vectors: Matrix, centroids: Matrix, limits: NDArray[np.float32] | None = None
) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """Each vector's closest centre among those it is close enough to join (``-1`` when none), with the cosine to
    it (to the closest centre when it joins none). ``centroids`` are the stored, unnormalised centres."""
    directions = unit(centroids)
    limits = thresholds(centroids) if limits is None else limits
    labels = np.full(len(vectors), -1, dtype=np.intp)
    scores = np.zeros(len(vectors), dtype=np.float32)
    if len(directions) == 0:
        return labels, scores
    for part in _chunks(len(vectors)):
        sims = np.asarray(vectors[part], dtype=np.float32) @ directions.T
        allowed = np.where(sims >= limits, sims, -np.inf)
        best = allowed.argmax(axis=1)
        ok = np.isfinite(allowed[np.arange(len(best)), best])
        labels[part] = np.where(ok, best, -1)
        scores[part] = np.where(ok, sims[np.arange(len(best)), best], sims.max(axis=1))
    return labels, scores


def means(vectors: Matrix, labels: NDArray[np.intp], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """The (unnormalised) mean vector and the size of each of ``k`` clusters (``-1`` labels left out)."""
    dim = vectors.shape[1]
    sums = np.zeros((k, dim), dtype=np.float64)
    for part in _chunks(len(vectors)):
        lab = labels[part]
        keep = lab >= 0
        if not keep.any():
            continue
        rows = np.flatnonzero(keep)
        onehot = sparse.csr_matrix((np.ones(len(rows)), (lab[keep], rows)), shape=(k, len(lab)))
        sums += onehot @ np.asarray(vectors[part], dtype=np.float64)
    sizes = np.bincount(labels[labels >= 0], minlength=k).astype(np.int64)
    centroids = np.divide(sums, sizes[:, None], out=np.zeros_like(sums), where=sizes[:, None] > 0)
    return centroids.astype(np.float32), sizes


@dataclass(frozen=True)
class Clustering:
    labels: NDArray[np.intp]
    """Each vector's cluster, ``-1`` for none (an empty text, a dissolved tiny cluster, too far from any)."""
    scores: NDArray[np.float32]
    """Cosine to the cluster's direction (to the closest one for unclustered vectors)."""
    centroids: NDArray[np.float32]
    """(k, dim) unnormalised means of the members."""
    sizes: NDArray[np.int64]
    fitted_k: int
    chosen_by: str
    silhouette: float
    sampled: int


def settle(
    vectors: Matrix, centroids: Matrix, min_size: int, protected: NDArray[np.bool_] | None = None
) -> tuple[NDArray[np.intp], NDArray[np.float32], NDArray[np.float32], NDArray[np.int64]]:
    """Assign every vector to the centres it is close enough to join, then recompute the centres from their
    members; a centre left with fewer than ``min_size`` members is dissolved (its members join none) unless it is
    ``protected``. Returns (labels, scores, centroids, sizes) with the centres' order kept (an empty centre's row
    is zeros)."""
    labels, scores = assign_passing(vectors, centroids)
    new, sizes = means(vectors, labels, len(centroids))
    small = (sizes < min_size) & (sizes > 0)
    if protected is not None:
        small &= ~protected
    if small.any():
        labels = np.where(np.isin(labels, np.flatnonzero(small)), -1, labels)
        new, sizes = means(vectors, labels, len(centroids))
    return labels, scores, new, sizes


def cluster(vectors: Matrix, ids: NDArray[np.int64], fit_mask: NDArray[np.bool_] | None = None) -> Clustering:
    """Cluster every vector: fit on a deterministic sample of the ``fit_mask`` vectors (all when None), assign all
    to the nearest centre, dissolve the tiny clusters, then keep in each cluster only the items close enough to
    join it (the same rule as for new items)."""
    n = len(vectors)
    usable = np.linalg.norm(np.asarray(vectors, dtype=np.float32), axis=1) > 0
    pool = np.flatnonzero(usable if fit_mask is None else usable & fit_mask)
    if len(pool) == 0:
        empty = np.zeros((0, vectors.shape[1]), dtype=np.float32)
        return Clustering(np.full(n, -1, np.intp), np.zeros(n, np.float32), empty, np.zeros(0, np.int64), 0, "", 0.0, 0)
    sample = pool[sample_positions(ids[pool], FIT_SAMPLE)]
    fitted = fit(np.asarray(vectors[sample], dtype=np.float32), len(pool))
    min_size = min_theme_size(int(usable.sum()))
    first, _ = nearest(vectors, fitted.centres)
    first = np.where(usable, first, -1)
    sizes = np.bincount(first[first >= 0], minlength=len(fitted.centres))
    survivors = fitted.centres[sizes >= min_size]
    if len(survivors) == 0:
        survivors = fitted.centres[[int(sizes.argmax())]]
    second, _ = nearest(vectors, survivors)
    second = np.where(usable, second, -1)
    centroids, _ = means(vectors, second, len(survivors))
    labels, scores, centroids, sizes = settle(vectors, centroids, min_size)
    kept = np.flatnonzero(sizes > 0)
    remap = np.full(len(sizes), -1, dtype=np.intp)
    remap[kept] = np.arange(len(kept))
    labels = np.where(labels >= 0, remap[np.maximum(labels, 0)], -1)
    return Clustering(
        labels=labels,
        scores=scores,
        centroids=centroids[kept],
        sizes=sizes[kept],
        fitted_k=len(fitted.centres),
        chosen_by=fitted.chosen_by,
        silhouette=fitted.silhouette,
        sampled=len(sample),
    )


def match(new: Matrix, old: Matrix, floor: float = MATCH_FLOOR) -> list[tuple[int, int, float]]:
    """Pairs (new index, old index, cosine) of the one-to-one matching of new centres to old ones that maximises the
    total cosine (Hungarian algorithm), keeping the pairs at or above ``floor``."""
    if len(new) == 0 or len(old) == 0:
        return []
    sims = unit(new) @ unit(old).T
    rows, cols = linear_sum_assignment(-sims)
    return [(int(r), int(c), float(sims[r, c])) for r, c in zip(rows, cols, strict=True) if sims[r, c] >= floor]


def split(vectors: Matrix, ids: NDArray[np.int64], parts: int) -> NDArray[np.intp]:
    """Divide one theme's vectors into ``parts`` groups: Ward's tree of a sample cut at ``parts``, then every
    vector to its nearest part. A part may come out empty when the items cannot be told apart."""
    usable = np.flatnonzero(np.linalg.norm(np.asarray(vectors, dtype=np.float32), axis=1) > 0)
    labels = np.full(len(vectors), -1, dtype=np.intp)
    if len(usable) < parts:
        return labels
    sample = usable[sample_positions(ids[usable], FIT_SAMPLE)]
    tree = linkage(np.asarray(vectors[sample], dtype=np.float64), "ward")
    centres = _centres(np.asarray(vectors[sample], dtype=np.float32), _ward_labels(tree, parts))
    found, _ = nearest(vectors[usable], centres)
    labels[usable] = found
    return labels


def order_by_size(labels: Sequence[int]) -> list[int]:
    """Label values by how many items carry them, largest first (``-1`` left out)."""
    values, counts = np.unique(np.asarray([v for v in labels if v >= 0], dtype=np.intp), return_counts=True)
    return [int(v) for v in values[np.argsort(-counts, kind="stable")]]
