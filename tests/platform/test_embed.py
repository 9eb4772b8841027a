"""The default embedding model loads from its installed package, offline, and separates meaning."""

from __future__ import annotations

import numpy as np

from prodops.platform.text import HashingEmbedder, pack, unpack
from prodops.platform.text.embed import WordLlamaEmbedder

PARAPHRASE = ("The app crashes every time I export a report to PDF", "Exporting to PDF makes the whole app crash")
UNRELATED = "I love the new colours of the dashboard"


def test_the_default_model_loads_from_the_package_and_separates_paraphrases() -> None:
    model = WordLlamaEmbedder()  # downloads are disabled: this fails rather than fetch anything
    vectors = model.embed([*PARAPHRASE, UNRELATED, ""])
    assert vectors.shape == (4, model.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, atol=1e-5)
    assert not vectors[3].any(), "an empty text is a zero row"
    paraphrase, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert paraphrase > 0.5 > unrelated + 0.2
    assert model.name.startswith("wordllama-") and model.name.endswith("-l2_supercat-256")


def test_the_fallback_is_deterministic_and_vectors_survive_packing() -> None:
    one, two = HashingEmbedder(), HashingEmbedder()
    a, b = one.embed(list(PARAPHRASE)), two.embed(list(PARAPHRASE))
    assert np.array_equal(a, b)
    restored = unpack(pack(a), one.dim)
    assert np.max(np.abs(restored - a)) < 1e-3
    assert unpack([], one.dim).shape == (0, one.dim)
