"""Sentiment of a text as a number from −1 (angry) to 1 (delighted), offline and fast.

The model is a ridge regression on hashed word 1–2-grams, fitted to real app-store reviews' star ratings
(1★ → −1, 3★ → 0, 5★ → 1) and shipped as a small weight file next to this module (``data/``, with its
provenance). It was chosen by measurement against a lexicon (VADER): on the 8,105 star-rated reviews of
``app-reviews-topics.csv`` it agrees with the stars far better (Spearman 0.68 under 5-fold cross-validation,
against 0.50), it knows that "crashes when I open settings" is bad news (VADER scores it 0), and it needs no
extra dependency. There is no intercept, so text it has no opinion about scores 0.

``benchmarks/intelligence_pipeline.py sentiment`` re-measures it and rebuilds the weight file with :func:`fit`.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import Ridge

#: Stored with every analysed item (through the analysis model version), so a new model re-scores them.
VERSION = "reviews-ridge-v1"
MODEL_FILE = "sentiment-reviews-v1.npz"
N_FEATURES = 2**20
#: Scores below this are "negative", above :data:`POSITIVE_ABOVE` "positive", the rest "neutral". Chosen on the
#: cross-validated scores of the star-rated reviews: 60% of 1–2★ reviews fall below −0.2, 81% of 4–5★ reviews
#: above 0.2, and half of the 3★ reviews in between (see benchmarks/README.md).
NEGATIVE_BELOW = -0.2
POSITIVE_ABOVE = 0.2

Label = Literal["negative", "neutral", "positive"]
LABELS: dict[str, str] = {"negative": "Negative", "neutral": "Neutral", "positive": "Positive"}


def _vectorizer() -> HashingVectorizer:
    return HashingVectorizer(
        ngram_range=(1, 2), n_features=N_FEATURES, alternate_sign=False, norm="l2", dtype=np.float32
    )


class SentimentModel:
    """Hashed word 1–2-grams (L2-normalised) times one weight per hash bucket, clipped to −1..1."""

    def __init__(self, weights: NDArray[np.float32]) -> None:
        if weights.shape != (N_FEATURES,):
            raise ValueError(f"expected {N_FEATURES} weights, got {weights.shape}")
        self.weights = weights
        self._vectorizer = _vectorizer()

    def score(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        features = self._vectorizer.transform(list(texts))
        return np.clip(np.asarray(features @ self.weights, dtype=np.float32), -1.0, 1.0)

    def to_bytes(self) -> bytes:
        """The non-zero weights as (int32 bucket, float16 weight) pairs, compressed (~300 KB)."""
        kept = np.flatnonzero(np.abs(self.weights) > 1e-4).astype(np.int32)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, index=kept, weight=self.weights[kept].astype(np.float16))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SentimentModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            index = np.asarray(stored["index"], dtype=np.int64)
            weights = np.zeros(N_FEATURES, dtype=np.float32)
            weights[index] = stored["weight"].astype(np.float32)
        return cls(weights)


def fit(texts: Sequence[str], ratings: Sequence[float], *, alpha: float = 0.5) -> SentimentModel:
    """A model fitted to 1–5 star ratings (3★ is neutral). Each star value weighs the same in total: reviews are
    mostly 5★, and unweighted the model would call a plain 3★ review positive. About a second for 8,000 reviews."""
    if len(texts) != len(ratings):
        raise ValueError("one rating per text")
    stars = np.asarray(ratings, dtype=np.float64)
    values, inverse, counts = np.unique(stars, return_inverse=True, return_counts=True)
    weights = len(stars) / (len(values) * counts[inverse])
    features = _vectorizer().transform(list(texts))
    model = Ridge(alpha=alpha, fit_intercept=False).fit(features, (stars - 3.0) / 2.0, sample_weight=weights)
    return SentimentModel(np.asarray(model.coef_, dtype=np.float32))


def model_path() -> Path:
    """Where the shipped weight file lives (for rebuilding it)."""
    return Path(str(resources.files("prodops.platform.text").joinpath("data", MODEL_FILE)))


@functools.cache
def default_model() -> SentimentModel:
    """The shipped model, loaded once per process (~50 ms)."""
    data = resources.files("prodops.platform.text").joinpath("data", MODEL_FILE).read_bytes()
    return SentimentModel.from_bytes(data)


def score(texts: Sequence[str]) -> list[float]:
    """One score per text in −1..1 (0 for an empty text), rounded to 3 decimals."""
    return [round(float(v), 3) for v in default_model().score(texts)]


def label(value: float | None) -> Label | None:
    """``negative``, ``neutral`` or ``positive`` for a score (None for no score)."""
    if value is None:
        return None
    if value < NEGATIVE_BELOW:
        return "negative"
    if value > POSITIVE_ABOVE:
        return "positive"
    return "neutral"
