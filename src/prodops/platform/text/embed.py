"""The `Embedder` interface, the stateless hashing fallback, and packing vectors for storage."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize
from sklearn.random_projection import SparseRandomProjection

from prodops.platform.config import get_settings

log = logging.getLogger(__name__)

Vectors = NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into vectors whose cosine similarity says how alike the texts mean."""

    #: Identifies the model and its version; stored with every result so a model change re-analyses them.
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """``(len(texts), dim)`` float32, each row L2-normalised (a zero row for an empty text)."""
        ...


class HashingEmbedder:
    """Word 1–2-grams and character 3–5-grams, hashed and projected to ``dim`` dimensions with a fixed random
    projection. Stateless (nothing to fit or ship) and fast; it sees spelling, not meaning, so it is the
    fallback when the model package is absent."""

    def __init__(self, dim: int = 256, seed: int = 0) -> None:
        self.dim = dim
        self.name = f"hashing-v1-{dim}"
        features = 2**18
        self._words = HashingVectorizer(
            ngram_range=(1, 2), n_features=features, alternate_sign=False, norm="l2", dtype=np.float32
        )
        self._chars = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            n_features=features,
            alternate_sign=False,
            norm="l2",
            dtype=np.float32,
        )
        # The projection depends only on the input width and the seed: fitting on one empty row draws it.
        self._projection = SparseRandomProjection(n_components=dim, random_state=seed, dense_output=True)
        self._projection.fit(np.zeros((1, features), dtype=np.float32))

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = list(texts)
        hashed = self._words.transform(texts) + self._chars.transform(texts)
        projected = self._projection.transform(hashed)
        return np.asarray(normalize(projected), dtype=np.float32)


class WordLlamaEmbedder:
    """WordLlama's static token embeddings (``l2_supercat``, 256 dimensions), mean-pooled: no network, no GPU,
    thousands of texts per second on two cores. The weights and tokenizer ship inside the ``wordllama`` package;
    loading is pointed at the package folder with downloads disabled, so nothing is ever fetched."""

    dim = 256

    def __init__(self) -> None:
        from importlib.metadata import version
        from pathlib import Path

        import wordllama
        from wordllama import WordLlama

        # The package folder holds weights/ and tokenizers/ laid out as the library's cache expects them.
        self._model = WordLlama.load(
            config="l2_supercat", dim=self.dim, cache_dir=Path(wordllama.__file__).parent, disable_download=True
        )
        self.name = f"wordllama-{version('wordllama')}-l2_supercat-{self.dim}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Each batch is padded to its longest text: embedding in length order with small batches is 2-10x faster.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        vectors[order] = self._model.embed([texts[i] for i in order], norm=False, batch_size=32)
        return np.asarray(normalize(vectors), dtype=np.float32)  # an empty text stays a zero row


_loaders: dict[str, Callable[[], Embedder]] = {"wordllama": WordLlamaEmbedder, "hashing": HashingEmbedder}


def register(name: str, loader: Callable[[], Embedder]) -> None:
    """Make a model available as ``PRODOPS_EMBEDDER=name``; the loader raises ImportError when its package is
    missing (then the next choice is used)."""
    _loaders[name] = loader


@functools.cache
def get_embedder() -> Embedder:
    """The configured embedder (``PRODOPS_EMBEDDER``), loaded once per process. ``auto`` takes the default model
    and falls back to the hashing embedder when its package is not installed."""
    choice = get_settings().embedder
    if choice != "auto":
        return _loaders[choice]()
    try:
        return _loaders["wordllama"]()
    except ImportError:
        log.warning("the wordllama package is not installed: using the hashing embedder (spelling, not meaning)")
        return _loaders["hashing"]()


def pack(vectors: Vectors) -> list[bytes]:
    """Rows as little-endian float16 bytes (half the space; cosine changes by < 1e-3)."""
    return [row.tobytes() for row in np.asarray(vectors, dtype="<f2")]


def unpack(blobs: Sequence[bytes], dim: int) -> Vectors:
    """Stored rows back to a float32 matrix (``(0, dim)`` for none)."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), dim).astype(np.float32)
