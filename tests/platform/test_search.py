"""Search helpers: query terms, BM25, reciprocal rank fusion, escaped highlighting and the float16 vector index."""

from __future__ import annotations

import numpy as np
import pytest

from prodops.platform.text import pack
from prodops.platform.text.search import (
    RRF_K,
    VectorIndex,
    bm25,
    highlight,
    reciprocal_rank_fusion,
    snippet,
    terms,
)


def test_terms_drop_stop_words_and_repeats() -> None:
    assert terms("How do I export the report to PDF? Export!") == ["export", "report", "pdf"]
    assert terms("how to") == ["how", "to"]  # nothing but stop words: keep them
    assert terms("") == []
    assert len(terms(" ".join(f"word{i}" for i in range(20)))) == 8


def test_bm25_prefers_rare_words_and_more_of_them() -> None:
    docs = ["export pdf charts", "export excel", "export csv", "pdf viewer crash", "unrelated text"]
    scores = bm25(docs, ["export", "pdf"])
    assert scores.argmax() == 0
    assert scores[4] == 0
    # "pdf" is rarer than "export" here, so the pdf-only document beats an export-only one.
    assert scores[3] > scores[1]


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]])
    keys = [k for k, _ in fused]
    assert keys[0] == "a"  # 1/61 + 1/62 beats c's 1/63 + 1/61
    assert set(keys) == {"a", "b", "c", "d"}
    assert dict(fused)["d"] == pytest.approx(1 / (RRF_K + 3))


def test_highlight_escapes_and_marks_words() -> None:
    html = str(highlight("<b>Export</b> & exporting", ["export"]))
    assert html == "&lt;b&gt;<mark>Export</mark>&lt;/b&gt; &amp; <mark>export</mark>ing"
    assert "<script>" not in str(highlight("<script>alert(1)</script>", ["alert"]))


def test_snippet_centres_on_the_first_match() -> None:
    text = ("lorem ipsum " * 60) + "the charts are missing " + ("dolor sit " * 60)
    out = str(snippet(text, ["charts"], width=120))
    assert "<mark>charts</mark>" in out and out.startswith("…") and out.endswith("…")
    assert len(out) < 200


def _normalised(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_vector_index_matches_brute_force_across_chunks(dtype: str) -> None:
    rng = np.random.default_rng(1)
    rows = _normalised(rng, 3000, 32)
    index = VectorIndex(32, dtype=dtype, chunk_elements=2048)  # many small chunks
    index.upsert(list(range(100, 3100)), pack(rows))
    queries = _normalised(rng, 7, 32)
    found = index.search(queries, 5)
    exact = queries @ rows.astype(np.float16).astype(np.float32).T
    for q, hits in enumerate(found):
        expected = [int(i) + 100 for i in np.argsort(-exact[q])[:5]]
        assert [h[0] for h in hits] == expected
        assert hits[0][1] == pytest.approx(float(exact[q].max()), abs=1e-5)


def test_vector_index_upserts_removes_skips_and_thresholds() -> None:
    index = VectorIndex(3)
    index.upsert([1, 2, 3], np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32))
    index.upsert([2], np.array([[1, 0, 0]], dtype=np.float32))  # replaced in place
    assert len(index) == 3
    query = np.array([[1, 0, 0]], dtype=np.float32)
    assert [i for i, _ in index.search(query, 3, min_score=0.5)[0]] == [1, 2]
    assert [i for i, _ in index.search(query, 3, min_score=0.5, skip=[1])[0]] == [2]
    index.remove([1, 99])
    assert len(index) == 2 and 1 not in index and 3 in index
    assert [i for i, _ in index.search(query, 1)[0]] == [2]
    assert np.allclose(index.vectors([3, 42]), [[0, 0, 1], [0, 0, 0]])
    index.clear()
    assert index.search(query, 3) == [[]]
