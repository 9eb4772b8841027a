"""Offline text understanding shared by every domain: embeddings, classifiers, sentiment and key phrases.

Nothing here reaches the network: the default embedding model loads from an installed package, and a stateless
hashing embedder keeps every feature working without it."""

from prodops.platform.text.embed import (
    Embedder,
    HashingEmbedder,
    get_embedder,
    pack,
    unpack,
)

__all__ = ["Embedder", "HashingEmbedder", "get_embedder", "pack", "unpack"]
