"""Text classifiers: cross-validated scores, stratified folds, refusals, storage without pickle, the `prodops text` CLI."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import typer
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from prodops.domains.feedback.models import FeedbackType, TextModel
from prodops.platform.tabular import Table
from prodops.platform.text import classify
from prodops.platform.text.commands import app as text_app

runner = CliRunner()
cli = typer.Typer()
cli.add_typer(text_app, name="text")  # as `prodops` mounts it

BUGS = [
    "the app crashes when I open it",
    "crash on startup every time",
    "it freezes and crashes after the update",
    "error message and crash when saving",
    "keeps crashing, broken since yesterday",
    "login fails with an error and crashes",
    "crashes constantly, a bug in the player",
    "the screen goes black then it crashes",
    "bug: sync error then the app crashes",
    "crash crash crash, fix this bug",
]
FEATURES = [
    "please add a dark mode",
    "would love an option to export to PDF",
    "please add offline support",
    "add a widget for the home screen please",
    "I wish there was an option for folders",
    "please add a way to share playlists",
    "it would be great to have a tablet layout",
    "please add support for multiple accounts",
    "an option to mute notifications would be great",
    "please add calendar integration",
]


def _data() -> tuple[list[str], list[str]]:
    return [*BUGS, *FEATURES], ["bug"] * len(BUGS) + ["feature"] * len(FEATURES)


# --- scores ---------------------------------------------------------------------------------------


def test_evaluate_separable_data_scores_perfectly_with_the_exact_json_shape() -> None:
    texts, labels = _data()
    done: list[int] = []
    report = classify.evaluate(texts, labels, folds=5, seed=0, progress=done.append)
    assert done == [1] * 5
    assert report.macro_f1 == 1.0
    assert report.accuracy == 1.0
    assert report.confusion == [[10, 0], [0, 10]]
    body = report.as_json()
    assert set(body) == {"macro_f1", "per_class"}
    assert set(body["per_class"]) == {"bug", "feature"}
    for scores in body["per_class"].values():
        assert scores == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 10}
    json.dumps(body)  # plain JSON types only


def test_score_matches_a_hand_computation() -> None:
    truth = ["a", "a", "b", "b"]
    predicted = ["a", "b", "b", "b"]
    report = classify.score(truth, predicted)
    a, b = report.per_class["a"], report.per_class["b"]
    assert (a.precision, a.recall, a.support) == (1.0, 0.5, 2)
    assert a.f1 == pytest.approx(2 / 3)
    assert (b.precision, b.recall) == (pytest.approx(2 / 3), 1.0)
    assert b.f1 == pytest.approx(0.8)
    assert report.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    assert report.confusion == [[1, 1], [0, 2]]


def test_folds_are_stratified_disjoint_and_reproducible() -> None:
    labels = ["x"] * 50 + ["y"] * 25 + ["z"] * 10
    folds = classify.fold_indices(labels, folds=5, seed=0)
    assert len(folds) == 5
    held_out = np.concatenate([test for _, test in folds])
    assert sorted(held_out.tolist()) == list(range(len(labels)))  # every row held out exactly once
    for train, test in folds:
        assert not set(train) & set(test)
        counts = Counter(labels[i] for i in test)
        assert counts == {"x": 10, "y": 5, "z": 2}  # each label in its share
    again = classify.fold_indices(labels, folds=5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    other = classify.fold_indices(labels, folds=5, seed=1)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other, strict=True))


def test_refuses_labels_with_fewer_examples_than_folds() -> None:
    texts, labels = _data()
    texts, labels = [*texts, "rare one", "rare two"], [*labels, "rare", "rare"]
    with pytest.raises(classify.ClassifierError) as caught:
        classify.evaluate(texts, labels, folds=5)
    assert caught.value.field == "labels"
    assert "'rare' (2)" in caught.value.message and "at least 5" in caught.value.message
    assert classify.evaluate(texts, labels, folds=2).per_class["rare"].support == 2


def test_refuses_a_single_label_and_empty_labels() -> None:
    with pytest.raises(classify.ClassifierError, match="at least 2 different labels"):
        classify.train(BUGS, ["bug"] * len(BUGS))
    with pytest.raises(classify.ClassifierError, match="no label"):
        classify.train(BUGS, ["bug"] * (len(BUGS) - 1) + [""])
    with pytest.raises(classify.ClassifierError, match="at least 2 folds"):
        classify.evaluate(*_data(), folds=1)


def test_labelled_rows_name_the_row_and_column() -> None:
    table = Table(
        headers=["review", "kind"],
        rows=[{"review": "fine", "kind": "praise"}, {"review": "", "kind": "bug"}, {"review": "meh", "kind": " "}],
    )
    with pytest.raises(classify.ClassifierError) as caught:
        classify.labelled_rows(table, "review", "kind")
    messages = [m for _, m in caught.value.problems]
    assert messages == [
        "row 3, column 'review': the text is empty",
        "row 4, column 'kind': the label is empty",
    ]
    with pytest.raises(classify.ClassifierError, match="no column 'label'; its columns are 'review', 'kind'"):
        classify.labelled_rows(table, "review", "label")


# --- storage --------------------------------------------------------------------------------------


def test_round_trip_gives_identical_probabilities_and_holds_no_pickle() -> None:
    texts, labels = _data()
    labels = [*labels[:15], *(["praise"] * 5)]  # three labels: the softmax path
    model = classify.train(texts, labels)
    data = model.to_bytes()
    again = classify.TrainedClassifier.from_bytes(data)
    probe = ["the app crashed twice", "please add folders", "", "great"]
    first = model.predict_proba(probe)
    assert np.array_equal(first, again.predict_proba(probe))
    assert np.allclose(first.sum(axis=1), 1.0)
    assert again.labels == ["bug", "feature", "praise"]
    assert model.predict(["it crashes with an error"])[0][0] == "bug"
    # Every member is a plain .npy array (numbers or bytes): none holds Python objects, so nothing is unpickled.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            array = np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
            assert array.dtype.kind in "fiu", (name, array.dtype)
    assert b"\x80\x04" not in zipfile.ZipFile(io.BytesIO(data)).read("meta.npy")[:200]


def test_two_label_model_round_trips() -> None:
    model = classify.train(*_data())
    again = classify.TrainedClassifier.from_bytes(model.to_bytes())
    probe = ["crashes again", "add export please"]
    assert np.array_equal(model.predict_proba(probe), again.predict_proba(probe))
    assert [label for label, _ in again.predict(probe)] == ["bug", "feature"]


def test_a_recipe_with_embeddings_round_trips_and_refuses_another_embedder() -> None:
    from prodops.platform.text import embed

    recipe = classify.Recipe(
        name="test-tfidf-embedding",
        description="word TF-IDF and the standardised embedding",
        blocks=(classify.TfidfBlock("word", (1, 1)), classify.EmbeddingBlock(weight=1.0, standardize=True)),
    )
    texts, labels = _data()
    model = classify.train(texts, labels, recipe)
    assert model.embedder == embed.get_embedder().name
    assert model.width == len(model.features[0].terms) + embed.get_embedder().dim
    again = classify.TrainedClassifier.from_bytes(model.to_bytes())
    probe = ["crashes again", "add export please"]
    assert np.array_equal(model.predict_proba(probe), again.predict_proba(probe))
    assert classify.evaluate(texts, labels, folds=2, recipe=recipe).macro_f1 > 0.8
    assert again.embedding is not None
    again.embedding.name = "another-model"
    with pytest.raises(classify.EmbedderMismatch, match="another-model"):
        again.predict_proba(probe)


def test_default_recipe_needs_the_embedder_it_was_measured_with(monkeypatch: pytest.MonkeyPatch) -> None:
    from prodops.platform.text import embed

    running = embed.get_embedder().name
    expected = classify.WORDLLAMA if running.startswith("wordllama") else classify.BASELINE
    assert classify.default_recipe() is expected
    assert classify.get_recipe(None) is expected
    assert classify.WORDLLAMA.runs_with("wordllama-l2-supercat-256")
    assert not classify.WORDLLAMA.runs_with("hashing-v1-256")
    assert classify.BASELINE.runs_with("anything")
    measured_here = classify.Recipe(
        name="test-measured-here",
        description="",
        blocks=(classify.TfidfBlock("word", (1, 1)), classify.EmbeddingBlock()),
        embedder=running,
    )
    monkeypatch.setitem(classify.RECIPES, measured_here.name, measured_here)
    monkeypatch.setattr(classify, "PREFERRED", ("tfidf-wordllama-lr-v1", measured_here.name, "tfidf-lr-v1"))
    assert classify.default_recipe() is (classify.WORDLLAMA if expected is classify.WORDLLAMA else measured_here)
    with pytest.raises(classify.ClassifierError, match="no recipe 'nope'"):
        classify.get_recipe("nope")


def test_pickles_and_object_arrays_are_refused() -> None:
    with pytest.raises(classify.ModelUnreadable):
        classify.TrainedClassifier.from_bytes(pickle.dumps({"coef": [1, 2]}))
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array([{"format": classify.FORMAT}], dtype=object))
    with pytest.raises(classify.ModelUnreadable):
        classify.TrainedClassifier.from_bytes(buffer.getvalue())
    model = classify.train(*_data())
    broken = io.BytesIO()
    with np.load(io.BytesIO(model.to_bytes()), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["coef"] = arrays["coef"][:, :-1]
    np.savez(broken, **arrays)
    with pytest.raises(classify.ModelUnreadable, match="do not match"):
        classify.TrainedClassifier.from_bytes(broken.getvalue())


# --- the CLI --------------------------------------------------------------------------------------


def _csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "comment", "label"])
        for n, (text, label) in enumerate(rows, start=1):
            writer.writerow([n, text, label])
    return path


def test_cli_evaluate_prints_json_and_a_table(tmp_path: Path) -> None:
    texts, labels = _data()
    data = _csv(tmp_path / "labels.csv", list(zip(texts, labels, strict=True)))
    args = ["text", "evaluate", "--data", str(data), "--text-column", "comment", "--label-column", "label"]
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["macro_f1"] == 1.0
    assert body["per_class"]["bug"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 10}
    result = runner.invoke(cli, [*args, "--folds", "2"])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.stdout and "2-fold" in result.stdout and "feature" in result.stdout


def test_cli_evaluate_errors_name_rows_and_columns(tmp_path: Path) -> None:
    rows = list(zip(*_data(), strict=True))
    rows[2] = (rows[2][0], "")
    data = _csv(tmp_path / "labels.csv", rows)
    result = runner.invoke(
        cli, ["text", "evaluate", "--data", str(data), "--text-column", "comment", "--label-column", "label"]
    )
    assert result.exit_code == 1
    assert "row 4, column 'label': the label is empty" in result.output
    result = runner.invoke(
        cli, ["text", "evaluate", "--data", str(data), "--text-column", "text", "--label-column", "label"]
    )
    assert result.exit_code == 1
    assert "no column 'text'" in result.output
    result = runner.invoke(
        cli, ["text", "evaluate", "--data", str(tmp_path / "missing.csv"), "--text-column", "a", "--label-column", "b"]
    )
    assert result.exit_code == 2
    few = _csv(tmp_path / "few.csv", [*zip(*_data(), strict=True), ("odd one", "rare")])
    result = runner.invoke(
        cli, ["text", "evaluate", "--data", str(few), "--text-column", "comment", "--label-column", "label"]
    )
    assert result.exit_code == 1
    assert "'rare' (1)" in result.output


def test_cli_train_stores_and_activates_the_model(tmp_path: Path, session: Session) -> None:
    from prodops.platform.registry import load_domains

    load_domains()  # the feedback domain registers where `text train` stores feedback type models
    data = _csv(tmp_path / "labels.csv", list(zip(*_data(), strict=True)))
    args = ["text", "train", "--data", str(data), "--text-column", "comment", "--label-column", "label"]
    result = runner.invoke(cli, [*args, "--name", "Support tickets", "--no-activate"])
    assert result.exit_code == 0, result.output
    stored = session.scalars(select(TextModel).where(TextModel.name == "Support tickets")).one()
    assert (stored.active, stored.labels, stored.training_rows) == (False, ["bug", "feature"], 20)
    assert stored.metrics["macro_f1"] == 1.0 and stored.metrics["status"] == "ready"
    assert classify.TrainedClassifier.from_bytes(stored.payload).predict(["it crashes"])[0][0] == "bug"
    result = runner.invoke(cli, [*args, "--activate"])
    assert result.exit_code == 0, result.output
    assert "(active)" in result.output
    session.rollback()  # a fresh snapshot: the command wrote in its own session
    active = session.scalars(select(TextModel).where(TextModel.active.is_(True))).one()
    assert active.id != stored.id
    types = {t.key: t.active for t in session.scalars(select(FeedbackType))}
    assert types["bug"] and types["feature"]
    assert not types["praise"]  # the default types not in the label set are kept, retired
