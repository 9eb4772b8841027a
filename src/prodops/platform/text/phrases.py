"""Key phrases of groups of texts: what each group says that the others do not.

Class-based TF-IDF (the c-TF-IDF of BERTopic, Grootendorst 2022): every group is one "document" made of its texts,
and a phrase scores by how many of the group's texts use it, weighed by how rare it is across all groups.
Phrases are 1–3 words from one clause (they never run across punctuation) with stop words taken out, so "the charts
are missing from the PDF export" yields "charts missing" and "pdf export". Near-duplicates fold together: "chart",
"charts" and "missing charts" give one phrase, the longer one when it is nearly as typical of the group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

#: Words that say nothing about what a piece of feedback is about, on top of scikit-learn's English list:
#: contractions (split or not), and the filler of reviews and support messages.
EXTRA_STOP_WORDS = frozenset(
    [
        "don",
        "doesn",
        "didn",
        "isn",
        "wasn",
        "aren",
        "weren",
        "won",
        "wouldn",
        "shouldn",
        "couldn",
        "can't",
        "cant",
        "don't",
        "doesn't",
        "didn't",
        "isn't",
        "wasn't",
        "aren't",
        "weren't",
        "won't",
        "wouldn't",
        "shouldn't",
        "couldn't",
        "haven't",
        "hasn't",
        "hadn't",
        "haven",
        "hasn",
        "hadn",
        "i'm",
        "im",
        "i've",
        "ive",
        "i'd",
        "i'll",
        "it's",
        "its",
        "that's",
        "there's",
        "what's",
        "let's",
        "you're",
        "you've",
        "they're",
        "we're",
        "ll",
        "ve",
        "re",
        "just",
        "really",
        "very",
        "much",
        "lot",
        "lots",
        "thing",
        "things",
        "stuff",
        "also",
        "still",
        "even",
        "ever",
        "way",
        "got",
        "get",
        "gets",
        "getting",
        "make",
        "makes",
        "made",
        "like",
        "would",
        "could",
        "should",
        "please",
        "thanks",
        "thank",
        "hi",
        "hello",
        "hey",
        "ok",
        "okay",
        "yes",
        "yeah",
        "oh",
        "use",
        "used",
        "using",
        "want",
        "wants",
        "need",
        "needs",
        "one",
        "two",
        "able",
        "since",
        "though",
        "although",
        "etc",
        "pretty",
        "quite",
        "bit",
        "little",
        "maybe",
        "sure",
        "know",
        "think",
        "good",
        "great",
        "nice",
        "best",
        "app",
        "apps",
        "application",
    ]
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | EXTRA_STOP_WORDS

_CLAUSES = re.compile(r"[.!?;:,()\[\]{}\"“”\n\r\t/|]+|\s[-–—]+\s")
_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
MAX_WORDS = 3


def _words(clause: str) -> list[str]:
    words: list[str] = []
    for raw in _TOKEN.findall(clause):
        token = raw.replace("’", "'").removesuffix("'s")
        if token in STOP_WORDS or (len(token) < 2 and not token.isdigit()):
            continue
        words.append(token)
    return words


def analyse(text: str) -> list[str]:
    """The candidate phrases of one text: 1–3-word runs of the words left in each clause once the stop words are
    out. A phrase of digits alone ("2", "100") is left out; with a word it stays ("android 6")."""
    found: list[str] = []
    for clause in _CLAUSES.split(text.lower()):
        words = _words(clause)
        for n in range(1, MAX_WORDS + 1):
            for start in range(len(words) - n + 1):
                gram = words[start : start + n]
                if all(w.isdigit() for w in gram) or len(set(gram)) < n:
                    continue
                found.append(" ".join(gram))
    return found


def _stem(word: str) -> str:
    """A crude stem, only to tell that two phrases say the same ("crash", "crashes", "crashing")."""
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _stems(phrase: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in phrase.split())


@dataclass(frozen=True)
class Phrase:
    text: str
    score: float
    """The c-TF-IDF weight (comparable within one group only)."""
    share: float
    """Share of the group's texts that contain the phrase."""


def _fold(ranked: Iterable[Phrase], top: int, longer_ratio: float, scan: int = 300) -> list[Phrase]:
    """Keep the best phrases, folding near-duplicates (compared on stemmed words): a candidate whose words are all
    inside a kept phrase adds nothing and is dropped; a candidate that contains kept phrases replaces them, at the
    best one's place, when it is in at least ``longer_ratio`` as many of the group's texts as the phrase first kept
    there ("pdf" → "pdf export", but not "pdf export" → "pdf export charts" when few texts mention charts). Only
    the first ``scan`` candidates are looked at."""
    kept: list[tuple[Phrase, float]] = []  # (phrase, share of the phrase first kept at that place)
    for seen, cand in enumerate(ranked):
        if seen >= scan:
            break
        stems = _stems(cand.text)
        if any(stems <= _stems(k.text) for k, _ in kept):
            continue
        inside = [(k, base) for k, base in kept if _stems(k.text) < stems]
        if inside:
            base = max(b for _, b in inside)
            if cand.share >= longer_ratio * base:
                pos = kept.index(inside[0])
                kept = [entry for entry in kept if entry not in inside]
                kept.insert(pos, (cand, base))
            continue
        if len(kept) < top:
            kept.append((cand, cand.share))
    return [phrase for phrase, _ in kept[:top]]


def key_phrases(
    groups: Sequence[Sequence[str]],
    background: Sequence[str] = (),
    *,
    top: int = 8,
    min_texts: int = 2,
    longer_ratio: float = 0.4,
) -> list[list[Phrase]]:
    """The ``top`` key phrases of each group of texts, best first.

    ``background`` holds texts that belong to no group (e.g. feedback without a theme): they make common phrases
    less distinctive without getting phrases of their own. A phrase must appear in at least ``min_texts`` of a
    group's texts (one text is an anecdote, not a theme); a group with fewer texts gets its single best phrases.
    """
    texts = [t for group in groups for t in group] + list(background)
    if not texts:
        return [[] for _ in groups]
    vectorizer = CountVectorizer(analyzer=analyse, binary=True, dtype=np.float64)
    try:
        docs = vectorizer.fit_transform(texts)
    except ValueError:  # no phrase at all (every word a stop word)
        return [[] for _ in groups]
    vocabulary = vectorizer.get_feature_names_out()
    # Texts → groups (the background is one more row); each cell: how many of the group's texts use the phrase.
    owners = np.concatenate(
        [np.full(len(g), i) for i, g in enumerate(groups)] + [np.full(len(background), len(groups))]
    )
    membership = sparse.csr_matrix(
        (np.ones(len(texts)), (owners.astype(np.int64), np.arange(len(texts)))), shape=(len(groups) + 1, len(texts))
    )
    counts = np.asarray((membership @ docs).todense())
    words_per_group = counts.sum(axis=1)
    average = float(words_per_group[words_per_group > 0].mean()) if (words_per_group > 0).any() else 1.0
    frequency = counts.sum(axis=0)
    idf = np.log1p(average / np.maximum(frequency, 1.0))
    # Phrases of more words are rarer by nature; a mild boost lets "pdf export" beat "pdf" when both are typical.
    boost = np.sqrt(np.fromiter((v.count(" ") + 1 for v in vocabulary), dtype=np.float64, count=len(vocabulary)))
    found: list[list[Phrase]] = []
    for g, group in enumerate(groups):
        size = len(group)
        if size == 0:
            found.append([])
            continue
        row = counts[g]
        tf = row / max(float(words_per_group[g]), 1.0)
        score = tf * idf * boost
        needed = min(min_texts, size)
        candidates = np.flatnonzero(row >= needed)
        order = candidates[np.argsort(-score[candidates], kind="stable")]
        ranked = (Phrase(str(vocabulary[i]), float(score[i]), float(row[i]) / size) for i in order)
        found.append(_fold(ranked, top, longer_ratio))
    return found


def label(phrases: Sequence[Phrase | str], words: int = 2, fallback: str = "Miscellaneous") -> str:
    """A short readable label from the best phrases: "pdf export · charts missing"."""
    texts = [p.text if isinstance(p, Phrase) else p for p in phrases][:words]
    return " · ".join(texts) if texts else fallback


def distinct_labels(found: Sequence[Sequence[Phrase]], words: int = 2, fallback: str = "Miscellaneous") -> list[str]:
    """A label per group (give the groups largest first) that tells it apart from the groups before it: each
    label takes the group's best phrases not already used in an earlier label, and falls back to its best phrases
    when it has no others. Common words ("free", "love") then name one theme, not five."""
    used: set[frozenset[str]] = set()
    labels: list[str] = []
    for group in found:
        fresh = [p for p in group if _stems(p.text) not in used]
        chosen = (fresh if len(fresh) >= min(words, len(group)) else list(group))[:words]
        used.update(_stems(p.text) for p in chosen)
        labels.append(label(chosen, words, fallback))
    return labels


def coverage(phrase: str, texts: Sequence[str]) -> float:
    """Share of ``texts`` whose candidate phrases include ``phrase`` (for tests and explanations)."""
    if not texts:
        return 0.0
    return sum(1 for t in texts if phrase in set(analyse(t))) / len(texts)


__all__ = ["STOP_WORDS", "Phrase", "analyse", "coverage", "distinct_labels", "key_phrases", "label"]
