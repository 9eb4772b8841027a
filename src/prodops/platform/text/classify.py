"""Text classifiers for any label set: stratified cross-validation, training, and storage without pickle.

A *recipe* names how texts become features and which linear model learns from them. ``evaluate`` scores a recipe on
labelled texts with stratified k-fold cross-validation (per-class precision, recall, F1 and support, and macro-F1,
all from ``sklearn.metrics`` over the pooled out-of-fold predictions); ``train`` fits it on every row and returns a
`TrainedClassifier`. A trained classifier serialises to an ``.npz`` archive of plain numeric and byte arrays plus
JSON (vocabularies, labels, parameters) and is read back with ``allow_pickle=False``: a stored model is data, and
loading one can never run code.

Prediction never calls a fitted scikit-learn object: it counts the stored vocabulary, applies the stored IDF
weights and the linear model itself, so a classifier straight from training and the same classifier read back
from bytes run the same arithmetic on the same numbers and give identical probabilities.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from prodops.platform.errors import ValidationFailed
from prodops.platform.tabular import Table
from prodops.platform.text.embed import get_embedder

FORMAT = "prodops-text-classifier"
FORMAT_VERSION = 1

#: Longer texts are cut (the analysis pipeline reads at most this much of an item too).
MAX_CHARS = 5000
#: A label column with more distinct values than this is almost surely the wrong column.
MAX_LABELS = 50
MAX_LABEL_CHARS = 80
#: Row problems listed in one error (the rest are counted).
MAX_ROW_ERRORS = 20

Analyzer = Literal["word", "char", "char_wb"]
Progress = Callable[[int], None]


class ClassifierError(ValidationFailed):
    """Labelled data a classifier cannot be evaluated or trained on (HTTP 422 naming the field)."""


class ModelUnreadable(ValueError):
    """Bytes that are not a stored classifier of a format this version reads."""


class EmbedderMismatch(RuntimeError):
    """The classifier was trained on features of an embedding model this process does not run."""


# --- recipes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TfidfBlock:
    """TF-IDF over word or character n-grams, L2-normalised on its own (as scikit-learn's FeatureUnion does)."""

    analyzer: Analyzer
    ngram_range: tuple[int, int]
    sublinear_tf: bool = False
    min_df: int = 1


@dataclass(frozen=True)
class EmbeddingBlock:
    """The text's vector from `get_embedder()`, scaled to sit next to the TF-IDF blocks under the linear model's
    single regularisation strength: with ``standardize`` each dimension is centred and scaled to unit variance on the
    training texts and the vector multiplied by ``weight / sqrt(dim)`` (so its squared length is about ``weight²``
    whatever the model's width); without, the L2-normalised vector is multiplied by ``weight``."""

    weight: float = 1.0
    standardize: bool = False


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    blocks: tuple[TfidfBlock | EmbeddingBlock, ...]
    C: float = 1.0
    """Inverse regularisation strength of the logistic regression."""
    max_iter: int = 2000
    embedder: str | None = None
    """For a recipe with an embedding block: the embedding model it was measured with — an ``Embedder.name`` or the
    start of one (``"wordllama"`` matches ``"wordllama-256"``)."""

    def runs_with(self, embedder_name: str) -> bool:
        """Whether this installation's embedder is the one the recipe was measured with (or it needs none)."""
        return self.embedder is None or embedder_name.startswith(self.embedder)

    @property
    def uses_embedder(self) -> bool:
        return any(isinstance(b, EmbeddingBlock) for b in self.blocks)


BASELINE = Recipe(
    name="tfidf-lr-v1",
    description=(
        "Word 1–2-gram and character 2–5-gram TF-IDF, class-balanced logistic regression (C=10): the plain baseline."
    ),
    blocks=(TfidfBlock("word", (1, 2)), TfidfBlock("char", (2, 5))),
    C=10.0,
)

WORDLLAMA = Recipe(
    name="tfidf-wordllama-lr-v1",
    description=(
        "Word 1–2-gram and character 2–5-gram TF-IDF (sublinear tf) and the wordllama embedding (standardised, "
        "weight 0.5/√dim), class-balanced logistic regression (C=10)."
    ),
    blocks=(
        TfidfBlock("word", (1, 2), sublinear_tf=True),
        TfidfBlock("char", (2, 5), sublinear_tf=True),
        EmbeddingBlock(weight=0.5, standardize=True),
    ),
    C=10.0,
    embedder="wordllama",
)

RECIPES: dict[str, Recipe] = {r.name: r for r in (BASELINE, WORDLLAMA)}
#: Recipes new models use, best first: the first whose embedder is the one this installation runs (see
#: :func:`default_recipe`). A recipe measured with an embedding model is only worth its score with that model:
#: TF-IDF ⊕ wordllama scores macro-F1 0.810 on the app reviews where the baseline scores 0.802 (benchmarks/README.md).
PREFERRED: tuple[str, ...] = (WORDLLAMA.name, BASELINE.name)


def default_recipe() -> Recipe:
    """The recipe new models use unless one is named: the best of :data:`PREFERRED` whose embedder (if it needs
    one) is the embedder this process runs, else the TF-IDF baseline."""
    running = get_embedder().name
    for name in PREFERRED:
        recipe = RECIPES[name]
        if recipe.runs_with(running):
            return recipe
    return BASELINE


def get_recipe(name: str | None = None) -> Recipe:
    if name is None:
        return default_recipe()
    try:
        return RECIPES[name]
    except KeyError:
        known = ", ".join(sorted(RECIPES))
        raise ClassifierError("recipe", f"there is no recipe {name!r}; the recipes are {known}") from None


# --- the trained classifier ---------------------------------------------------------------------


class _TfidfFeatures:
    """A fitted TF-IDF block: vocabulary (terms in column order) and IDF weights."""

    def __init__(self, block: TfidfBlock, terms: list[str], idf: NDArray[np.float64]) -> None:
        if len(terms) != idf.shape[0]:
            raise ModelUnreadable("vocabulary and IDF weights differ in length")
        self.block = block
        self.terms = terms
        self.idf = np.asarray(idf, dtype=np.float64)
        self._counter = CountVectorizer(
            analyzer=block.analyzer,
            ngram_range=block.ngram_range,
            vocabulary={term: i for i, term in enumerate(terms)},
            dtype=np.float64,
        )

    @property
    def width(self) -> int:
        return len(self.terms)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        counts = sparse.csr_matrix(self._counter.transform(texts), dtype=np.float64)
        if self.block.sublinear_tf:
            np.log(counts.data, counts.data)
            counts.data += 1.0
        weighted = sparse.csr_matrix(counts.multiply(self.idf[np.newaxis, :]))
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0.0] = 1.0
        return sparse.csr_matrix(sparse.diags(1.0 / norms) @ weighted)


class _EmbeddingFeatures:
    """A fitted embedding block: which embedder, and the centring and scale learned on the training texts."""

    def __init__(
        self,
        name: str,
        dim: int,
        weight: float,
        mean: NDArray[np.float64] | None = None,
        scale: NDArray[np.float64] | None = None,
    ) -> None:
        if (mean is None) != (scale is None):
            raise ModelUnreadable("the embedding block has a centre without a scale")
        if mean is not None and scale is not None and (mean.shape != (dim,) or scale.shape != (dim,)):
            raise ModelUnreadable("the embedding block's centring does not match its width")
        self.name = name
        self.dim = dim
        self.weight = weight
        self.mean = mean
        self.scale = scale

    @classmethod
    def fit(cls, block: EmbeddingBlock, vectors: NDArray[np.float64], name: str) -> _EmbeddingFeatures:
        dim = vectors.shape[1]
        if not block.standardize:
            return cls(name, dim, block.weight)
        mean = vectors.mean(axis=0)
        scale = vectors.std(axis=0)
        scale[scale == 0.0] = 1.0
        return cls(name, dim, block.weight / float(np.sqrt(dim)), mean, scale)

    def transform(self, vectors: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.mean is not None and self.scale is not None:
            vectors = (vectors - self.mean) / self.scale
        return np.asarray(vectors * self.weight, dtype=np.float64)


def _embed(texts: Sequence[str], name: str | None = None) -> NDArray[np.float64]:
    """The embedder's vectors of ``texts``, computed in length order (a transformer pads each batch to its longest
    text) and returned in the given order."""
    embedder = get_embedder()
    if name is not None and embedder.name != name:
        raise EmbedderMismatch(
            f"this classifier needs the embedding model {name!r}; this installation runs {embedder.name!r}. "
            "Train it again."
        )
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float64)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.asarray(embedder.embed([texts[i] for i in order]), dtype=np.float64)
    result = np.empty_like(vectors)
    result[order] = vectors
    return result


@dataclass
class TrainedClassifier:
    """A fitted classifier: ``predict_proba(texts)`` gives one row per text, one column per label."""

    labels: list[str]
    recipe: str
    features: list[_TfidfFeatures]
    coef: NDArray[np.float64]
    """``(len(labels), width)``, or ``(1, width)`` for two labels (the second label's log-odds)."""
    intercept: NDArray[np.float64]
    embedding: _EmbeddingFeatures | None = None
    """The embedding block, when the recipe has one."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Facts kept with the model (training rows, label counts)."""

    @property
    def width(self) -> int:
        return sum(f.width for f in self.features) + (self.embedding.dim if self.embedding is not None else 0)

    @property
    def embedder(self) -> str | None:
        """Name of the embedding model the features include (None when the recipe uses none)."""
        return self.embedding.name if self.embedding is not None else None

    def _matrix(self, texts: Sequence[str], vectors: NDArray[np.float64] | None) -> sparse.csr_matrix:
        parts: list[Any] = [f.transform(texts) for f in self.features]
        if self.embedding is not None:
            raw = _embed(texts, self.embedding.name) if vectors is None else vectors
            parts.append(sparse.csr_matrix(self.embedding.transform(raw)))
        return sparse.csr_matrix(sparse.hstack(parts, format="csr"))

    def decision(self, texts: Sequence[str], *, vectors: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        matrix = self._matrix(texts, vectors)
        return np.asarray(matrix @ self.coef.T, dtype=np.float64) + self.intercept[np.newaxis, :]

    def predict_proba(self, texts: Sequence[str], *, vectors: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """``(len(texts), len(labels))`` probabilities; each row sums to 1. ``vectors`` are the texts' embeddings
        when the caller has them already (from the same embedder)."""
        if len(texts) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float64)
        scores = self.decision([t or "" for t in texts], vectors=vectors)
        if len(self.labels) == 2:
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(label, probability) of the most likely label of each text."""
        proba = self.predict_proba(texts)
        best = proba.argmax(axis=1) if len(texts) else np.zeros(0, dtype=int)
        return [(self.labels[int(i)], float(proba[row, int(i)])) for row, i in enumerate(best)]

    # --- storage ---

    def to_bytes(self) -> bytes:
        """A compressed ``.npz`` archive of numeric arrays and UTF-8 JSON; no pickled object anywhere."""
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "labels": self.labels,
            "recipe": self.recipe,
            "blocks": [
                {
                    "analyzer": f.block.analyzer,
                    "ngram_range": list(f.block.ngram_range),
                    "sublinear_tf": f.block.sublinear_tf,
                    "min_df": f.block.min_df,
                }
                for f in self.features
            ],
            "embedding": None
            if self.embedding is None
            else {
                "name": self.embedding.name,
                "dim": self.embedding.dim,
                "weight": self.embedding.weight,
                "standardized": self.embedding.mean is not None,
            },
            "extra": self.extra,
        }
        arrays: dict[str, NDArray[Any]] = {
            "meta": _json_bytes(meta),
            "coef": np.ascontiguousarray(self.coef, dtype=np.float64),
            "intercept": np.ascontiguousarray(self.intercept, dtype=np.float64),
        }
        for i, f in enumerate(self.features):
            arrays[f"terms_{i}"] = _json_bytes(f.terms)
            arrays[f"idf_{i}"] = f.idf
        if self.embedding is not None and self.embedding.mean is not None and self.embedding.scale is not None:
            arrays["embedding_mean"] = self.embedding.mean
            arrays["embedding_scale"] = self.embedding.scale
        buffer = io.BytesIO()
        np.savez_compressed(buffer, allow_pickle=False, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainedClassifier:
        """Read a classifier written by `to_bytes`; `ModelUnreadable` for anything else (pickles included)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ModelUnreadable(f"not a stored classifier ({exc})") from exc
        try:
            meta = _from_json_bytes(arrays["meta"])
            if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
                raise ModelUnreadable(f"unknown classifier format {meta.get('format')!r} v{meta.get('version')!r}")
            features = []
            for i, spec in enumerate(meta["blocks"]):
                block = TfidfBlock(
                    analyzer=spec["analyzer"],
                    ngram_range=(int(spec["ngram_range"][0]), int(spec["ngram_range"][1])),
                    sublinear_tf=bool(spec["sublinear_tf"]),
                    min_df=int(spec.get("min_df", 1)),
                )
                terms = _from_json_bytes(arrays[f"terms_{i}"])
                features.append(_TfidfFeatures(block, [str(t) for t in terms], arrays[f"idf_{i}"]))
            embedding = None
            spec = meta.get("embedding")
            if spec is not None:
                standardized = bool(spec.get("standardized"))
                embedding = _EmbeddingFeatures(
                    name=str(spec["name"]),
                    dim=int(spec["dim"]),
                    weight=float(spec["weight"]),
                    mean=np.asarray(arrays["embedding_mean"], dtype=np.float64) if standardized else None,
                    scale=np.asarray(arrays["embedding_scale"], dtype=np.float64) if standardized else None,
                )
            model = cls(
                labels=[str(label) for label in meta["labels"]],
                recipe=str(meta["recipe"]),
                features=features,
                coef=np.asarray(arrays["coef"], dtype=np.float64),
                intercept=np.asarray(arrays["intercept"], dtype=np.float64),
                embedding=embedding,
                extra=dict(meta.get("extra") or {}),
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise ModelUnreadable(f"the stored classifier is incomplete ({exc})") from exc
        expected_rows = 1 if len(model.labels) == 2 else len(model.labels)
        if model.coef.shape != (expected_rows, model.width) or model.intercept.shape != (expected_rows,):
            raise ModelUnreadable("the stored classifier's weights do not match its features")
        return model


def _json_bytes(value: Any) -> NDArray[np.uint8]:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


def _from_json_bytes(array: NDArray[Any]) -> Any:
    if array.dtype != np.uint8:
        raise ModelUnreadable("unexpected array type in a stored classifier")
    return json.loads(array.tobytes().decode("utf-8"))


# --- labelled data -------------------------------------------------------------------------------


def labelled_rows(table: Table, text_column: str, label_column: str) -> tuple[list[str], list[str]]:
    """Texts and labels from two columns of a file. `ClassifierError` names a missing column, or every row (by its
    number in the file) whose text or label is empty or whose label is too long, or a column with too many labels
    to be one."""
    for field_name, column in (("text_column", text_column), ("label_column", label_column)):
        if column not in table.headers:
            known = ", ".join(repr(h) for h in table.headers)
            raise ClassifierError(field_name, f"the file has no column {column!r}; its columns are {known}")
    if text_column == label_column:
        raise ClassifierError("label_column", "the label column must differ from the text column")
    texts: list[str] = []
    labels: list[str] = []
    problems: list[tuple[str | None, str]] = [(None, f"row {e.row}: {e.message}") for e in table.errors]
    for number, row in table.numbered():
        text = (row.get(text_column) or "").strip()
        label = (row.get(label_column) or "").strip()
        if not text:
            problems.append(("text_column", f"row {number}, column {text_column!r}: the text is empty"))
        if not label:
            problems.append(("label_column", f"row {number}, column {label_column!r}: the label is empty"))
        elif len(label) > MAX_LABEL_CHARS:
            problems.append(
                (
                    "label_column",
                    f"row {number}, column {label_column!r}: a label has at most {MAX_LABEL_CHARS} characters",
                )
            )
        texts.append(text[:MAX_CHARS])
        labels.append(label)
    if problems:
        shown = problems[:MAX_ROW_ERRORS]
        if len(problems) > len(shown):
            shown.append((shown[-1][0], f"… and {len(problems) - len(shown):,} more problems"))
        raise ClassifierError(shown[0][0], shown[0][1], more=shown[1:])
    if not texts:
        raise ClassifierError("file", "the file has no data rows")
    distinct = len(set(labels))
    if distinct > MAX_LABELS:
        raise ClassifierError(
            "label_column",
            f"the column {label_column!r} has {distinct:,} different values; a classifier learns at most "
            f"{MAX_LABELS} labels. Is it the right column?",
        )
    return texts, labels


# --- training ------------------------------------------------------------------------------------


def check_data(texts: Sequence[str], labels: Sequence[str], *, folds: int | None = None) -> list[str]:
    """The sorted label set; `ClassifierError` when the data cannot make a classifier (or ``folds`` folds)."""
    if len(texts) != len(labels):
        raise ClassifierError("labels", f"{len(texts):,} texts but {len(labels):,} labels")
    counts = Counter(labels)
    if "" in counts:
        raise ClassifierError("labels", f"{counts['']:,} row(s) have no label")
    if len(counts) < 2:
        only = f" (every row is {next(iter(counts))!r})" if counts else ""
        raise ClassifierError("labels", f"a classifier needs at least 2 different labels; found {len(counts)}{only}")
    if folds is not None:
        if folds < 2:
            raise ClassifierError("folds", "cross-validation needs at least 2 folds")
        few = sorted((n, label) for label, n in counts.items() if n < folds)
        if few:
            listed = ", ".join(f"{label!r} ({n})" for n, label in few[:10])
            raise ClassifierError(
                "labels",
                f"every label needs at least {folds} examples for {folds}-fold cross-validation; too few: {listed}. "
                "Label more examples, merge rare labels, or use fewer folds.",
            )
    return sorted(counts)


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    recipe: Recipe | str | None = None,
    *,
    weights: Sequence[float] | NDArray[np.float64] | None = None,
    vectors: NDArray[np.float64] | None = None,
) -> TrainedClassifier:
    """Fit ``recipe`` on every row. ``weights`` (one per row, default 1) make some examples count more; ``vectors``
    are the texts' embeddings when the caller has them already."""
    recipe = recipe if isinstance(recipe, Recipe) else get_recipe(recipe)
    label_set = check_data(texts, labels)
    texts = [t or "" for t in texts]
    features: list[_TfidfFeatures] = []
    parts: list[Any] = []
    for block in recipe.blocks:
        if isinstance(block, TfidfBlock):
            vectorizer = TfidfVectorizer(
                analyzer=block.analyzer,
                ngram_range=block.ngram_range,
                sublinear_tf=block.sublinear_tf,
                min_df=block.min_df,
                dtype=np.float64,
            )
            parts.append(vectorizer.fit_transform(texts))
            terms = [""] * len(vectorizer.vocabulary_)
            for term, column in vectorizer.vocabulary_.items():
                terms[column] = term
            features.append(_TfidfFeatures(block, terms, vectorizer.idf_))
    embedding: _EmbeddingFeatures | None = None
    for block in recipe.blocks:
        if isinstance(block, EmbeddingBlock):
            raw = _embed(texts) if vectors is None else vectors
            embedding = _EmbeddingFeatures.fit(block, raw, get_embedder().name)
            parts.append(sparse.csr_matrix(embedding.transform(raw)))
    matrix = sparse.csr_matrix(sparse.hstack(parts, format="csr"))
    # newton-cg reaches the same optimum as lbfgs in a handful of iterations on these wide sparse matrices (4 s
    # against 25 s on the 4,000 app reviews).
    model = LogisticRegression(C=recipe.C, class_weight="balanced", solver="newton-cg", max_iter=recipe.max_iter)
    sample_weight = None if weights is None else np.asarray(weights, dtype=np.float64)
    model.fit(matrix, np.asarray(labels), sample_weight=sample_weight)
    if list(model.classes_) != label_set:
        raise AssertionError("scikit-learn ordered the labels differently")
    return TrainedClassifier(
        labels=label_set,
        recipe=recipe.name,
        features=features,
        coef=np.asarray(model.coef_, dtype=np.float64),
        intercept=np.asarray(model.intercept_, dtype=np.float64),
        embedding=embedding,
        extra={"rows": len(texts), "label_counts": dict(sorted(Counter(labels).items()))},
    )


# --- where trained classifiers go --------------------------------------------------------------------


@dataclass(frozen=True)
class InstalledModel:
    id: int
    name: str
    active: bool
    labels: list[str]


class Installer(Protocol):
    """Stores a classifier trained with ``prodops text train`` for a purpose (and, with ``activate``, puts it in
    use). Registered by the domain that owns the purpose, so this package imports no domain."""

    def __call__(self, *, name: str, model: TrainedClassifier, report: Report, activate: bool) -> InstalledModel: ...


_installers: dict[str, Installer] = {}


def register_installer(purpose: str, installer: Installer) -> None:
    _installers[purpose] = installer


def installers() -> dict[str, Installer]:
    return dict(_installers)


# --- evaluation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassScore:
    precision: float
    recall: float
    f1: float
    support: int

    def as_dict(self) -> dict[str, float | int]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "support": self.support}


@dataclass(frozen=True)
class Report:
    """Stratified k-fold scores of a recipe on labelled texts (pooled out-of-fold predictions)."""

    macro_f1: float
    per_class: dict[str, ClassScore]
    folds: int
    seed: int
    recipe: str
    rows: int
    accuracy: float
    labels: list[str]
    confusion: list[list[int]]
    """``confusion[i][j]``: rows labelled ``labels[i]`` predicted as ``labels[j]``."""
    probabilities: NDArray[np.float64] | None = None
    """Out-of-fold probabilities (rows in input order, columns in ``labels`` order), for threshold studies."""

    def as_json(self) -> dict[str, Any]:
        """Exactly ``{"macro_f1": x, "per_class": {label: {"precision", "recall", "f1", "support"}}}``."""
        return {"macro_f1": self.macro_f1, "per_class": {k: v.as_dict() for k, v in self.per_class.items()}}

    def as_metrics(self) -> dict[str, Any]:
        """What a stored model keeps: the JSON plus the folds, seed, accuracy and confusion matrix."""
        return {
            **self.as_json(),
            "folds": self.folds,
            "seed": self.seed,
            "recipe": self.recipe,
            "rows": self.rows,
            "accuracy": self.accuracy,
            "labels": self.labels,
            "confusion": self.confusion,
        }


def fold_indices(
    labels: Sequence[str], *, folds: int = 5, seed: int = 0
) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """(training rows, held-out rows) of each fold: stratified (every fold holds each label in about its share of
    the data) and shuffled with ``seed``, so the same labels and seed give the same folds."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train, test) for train, test in splitter.split(np.zeros(len(labels)), np.asarray(labels))]


def evaluate(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    recipe: Recipe | str | None = None,
    weights: Sequence[float] | None = None,
    progress: Progress | None = None,
) -> Report:
    """Stratified ``folds``-fold cross-validation (shuffled with ``seed``): each fold's model is trained on the other
    folds (with their ``weights``) and predicts its held-out rows; the scores are computed once over all held-out
    predictions. ``progress(1)`` is called after each fold."""
    recipe = recipe if isinstance(recipe, Recipe) else get_recipe(recipe)
    label_set = check_data(texts, labels, folds=folds)
    texts = [t or "" for t in texts]
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    # Embeddings do not depend on the fold: computed once, not once per fold.
    vectors = _embed(texts) if recipe.uses_embedder else None
    proba = np.zeros((len(texts), len(label_set)), dtype=np.float64)
    for train_rows, test_rows in fold_indices(labels, folds=folds, seed=seed):
        model = train(
            [texts[i] for i in train_rows],
            [labels[i] for i in train_rows],
            recipe,
            weights=None if w is None else w[train_rows],
            vectors=None if vectors is None else vectors[train_rows],
        )
        fold_proba = model.predict_proba(
            [texts[i] for i in test_rows], vectors=None if vectors is None else vectors[test_rows]
        )
        columns = np.asarray([label_set.index(label) for label in model.labels], dtype=np.intp)
        proba[np.ix_(test_rows, columns)] = fold_proba
        if progress is not None:
            progress(1)
    predicted = np.asarray(label_set)[proba.argmax(axis=1)]
    return score(labels, list(predicted), recipe=recipe.name, folds=folds, seed=seed, probabilities=proba)


def score(
    truth: Sequence[str],
    predicted: Sequence[str],
    *,
    recipe: str = "",
    folds: int = 0,
    seed: int = 0,
    probabilities: NDArray[np.float64] | None = None,
) -> Report:
    """The report for given predictions (``sklearn.metrics``), labels in sorted order."""
    label_set = sorted(set(truth) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=label_set, zero_division=0
    )
    index = {label: i for i, label in enumerate(label_set)}
    confusion = [[0] * len(label_set) for _ in label_set]
    for t, p in zip(truth, predicted, strict=True):
        confusion[index[t]][index[p]] += 1
    return Report(
        macro_f1=float(f1_score(truth, predicted, labels=label_set, average="macro", zero_division=0)),
        per_class={
            label: ClassScore(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
            for i, label in enumerate(label_set)
        },
        folds=folds,
        seed=seed,
        recipe=recipe,
        rows=len(truth),
        accuracy=float(np.mean(np.asarray(truth) == np.asarray(predicted))) if len(truth) else 0.0,
        labels=label_set,
        confusion=confusion,
        probabilities=probabilities,
    )


__all__ = [
    "BASELINE",
    "PREFERRED",
    "RECIPES",
    "WORDLLAMA",
    "ClassScore",
    "ClassifierError",
    "EmbedderMismatch",
    "EmbeddingBlock",
    "InstalledModel",
    "Installer",
    "ModelUnreadable",
    "Recipe",
    "Report",
    "TfidfBlock",
    "TrainedClassifier",
    "check_data",
    "default_recipe",
    "evaluate",
    "fold_indices",
    "get_recipe",
    "installers",
    "labelled_rows",
    "register_installer",
    "score",
    "train",
]
