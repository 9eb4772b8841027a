"""Sentiment: the shipped model scores clear cases with the right sign, stays in −1..1, and round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from prodops.platform.text import sentiment

NEGATIVE = [
    "Terrible app. It crashes every time and I lost all my data, waste of money.",
    "Worst update ever, nothing works anymore and support never answers.",
    "The app crashes when I open the settings.",
    "Useless. Uninstalled after a day.",
]
POSITIVE = [
    "I love this app, it is wonderful and so easy to use!",
    "Great job, the new version is fast and beautiful. Thank you!",
    "Excellent, works perfectly. Five stars.",
    "Awesome app, best I have found.",
]


def test_clear_cases_have_the_right_sign() -> None:
    scores = sentiment.score(NEGATIVE + POSITIVE)
    assert all(s < 0 for s in scores[: len(NEGATIVE)]), scores
    assert all(s > 0 for s in scores[len(NEGATIVE) :]), scores
    assert [sentiment.label(s) for s in scores[len(NEGATIVE) :]] == ["positive"] * len(POSITIVE)
    assert sum(sentiment.label(s) == "negative" for s in scores[: len(NEGATIVE)]) >= 3


def test_scores_stay_in_range_and_empty_text_is_neutral() -> None:
    scores = sentiment.score(["", "!!!", "love love love love love great great great awesome", "crash " * 200])
    assert scores[0] == 0.0 and scores[1] == 0.0
    assert all(-1.0 <= s <= 1.0 for s in scores)
    assert sentiment.score([]) == []


def test_labels_follow_the_documented_bounds() -> None:
    assert sentiment.label(None) is None
    assert sentiment.label(sentiment.NEGATIVE_BELOW - 0.01) == "negative"
    assert sentiment.label(sentiment.NEGATIVE_BELOW) == "neutral"
    assert sentiment.label(0.0) == "neutral"
    assert sentiment.label(sentiment.POSITIVE_ABOVE) == "neutral"
    assert sentiment.label(sentiment.POSITIVE_ABOVE + 0.01) == "positive"


def test_a_fitted_model_learns_the_direction_and_round_trips() -> None:
    texts = ["good and nice", "nice good fine", "bad awful", "awful bad broken", "okay I guess", "fine okay"]
    model = sentiment.fit(texts, [5, 5, 1, 1, 3, 3])
    good, bad = model.score(["good nice", "awful broken"])
    assert good > 0.2 and bad < -0.2
    again = sentiment.SentimentModel.from_bytes(model.to_bytes())
    assert np.allclose(again.score(["good nice", "awful broken"]), [good, bad], atol=1e-2)


def test_fit_refuses_mismatched_ratings() -> None:
    with pytest.raises(ValueError, match="one rating per text"):
        sentiment.fit(["a", "b"], [5])
