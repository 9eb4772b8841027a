"""Key phrases (class-based TF-IDF): readable, distinctive, near-duplicates folded."""

from __future__ import annotations

from prodops.platform.text.phrases import Phrase, analyse, coverage, key_phrases, label

PDF = [
    "The PDF export has charts missing.",
    "Charts missing in the PDF export again!",
    "pdf export: the charts are missing",
    "When I run a PDF export, charts missing and fonts wrong",
    "PDF export broken, charts missing from page two",
    "Our PDF export shows charts missing since Monday",
]
LOGIN = [
    "Password reset e-mails never arrive",
    "I requested a password reset twice, nothing came",
    "The password reset link has expired already",
    "password reset is broken for our team",
    "Password reset takes hours to arrive",
    "No password reset e-mail in my inbox",
]


def test_candidates_drop_stop_words_and_stay_within_a_clause() -> None:
    found = analyse("The charts are missing from the PDF export! Android 6 crashes; it doesn't work")
    assert "charts missing" in found and "pdf export" in found and "charts missing pdf" in found
    assert "android 6" in found and "6" not in found  # digits only with a word
    assert not any("export android" in p for p in found)  # no phrase across the "!"
    assert not any(w in p.split() for p in found for w in ("the", "are", "from", "doesn't", "it"))


def test_labels_name_what_each_group_says() -> None:
    pdf, login = key_phrases([PDF, LOGIN])
    assert set(label(pdf).split(" · ")) == {"pdf export", "charts missing"}
    assert label(login).startswith("password reset")
    # Each phrase is in most of its group's texts, and in none of the other group's.
    assert pdf[0].share == 1.0 and coverage("pdf export", LOGIN) == 0.0


def test_near_duplicates_fold_into_one_phrase() -> None:
    texts = ["Chart export fails", "Charts export fails", "charting export failed", "chart exports fail"]
    found, _ = key_phrases([texts, ["Billing is wrong", "Invoice missing"]])
    words = [p.text for p in found]
    # "chart", "charts", "export", "exports"... give one phrase each, not one per spelling.
    assert len([w for w in words if w.startswith("chart") and " " not in w]) <= 1
    assert not ({"export", "exports"} <= set(words))


def test_a_longer_phrase_replaces_a_shorter_one_only_when_nearly_as_common() -> None:
    texts = ["pdf export slow", "pdf export broken today", "pdf export crash", "pdf export fails", "pdf"]
    found, _ = key_phrases([texts, ["dark mode please", "login broken"]])
    words = [p.text for p in found]
    assert "pdf export" in words and "pdf" not in words  # "pdf export" is in 4 of the 5 texts that say "pdf"
    assert not any(len(w.split()) == 3 for w in words)  # each in one text only: an anecdote


def test_background_makes_common_words_less_distinctive() -> None:
    group = ["saving fails with an error", "saving fails again, error", "error: saving fails on mobile"]
    background = [f"Error number {n} in the product, another error" for n in range(30)]
    alone, _ = key_phrases([group, ["dark mode please", "dark mode at night"]])
    (against,) = key_phrases([group], background)
    assert against[0].text == "saving fails"

    def weight(found: list[Phrase], text: str) -> float:
        scores = {p.text: p.score for p in found}
        return scores.get(text, 0.0) / scores["saving fails"]

    # The background says "error" all the time: it weighs far less against "saving fails" than without it.
    assert weight(against, "error") < 0.5 * weight(alone, "error")


def test_nothing_to_say_gives_no_phrases() -> None:
    assert key_phrases([]) == []
    assert key_phrases([["the and of", "it is"], []]) == [[], []]
    assert label([]) == "Miscellaneous"
