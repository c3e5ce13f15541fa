"""The learned layer: a calibrated probability for every tag.

The rule packs say what a council's wording looks like; callers say the same things in words no
pack lists ("must be eleven weeks now, the letter said eight"). A linear model per tag reads:

- what the rules found: hits per rule and speaker, and the rules' own decisions;
- the words: hashed word 1-2 grams of the caller's and the agent's turns (tf-idf);
- what the words mean: WordLlama sentence embeddings (weights inside its PyPI wheel) of the
  caller's opening, the caller's turns, the agent's first turn, turns and closing;
- the call's shape: turns, who spoke last, who spoke most.

Each tag's score goes through a sigmoid fitted on held-out scores (Platt scaling), so a
probability of 0.8 means about 8 in 10 such calls carry the tag (docs/evaluation.md shows the
reliability curve). The model is plain arrays (`weights.npz`, no pickle) and a JSON header in
`models/tagger/`; `pipeline/training.py` makes it.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import wordllama
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer
from wordllama import WordLlama

from pipeline.errors import CallQAError

__all__ = [
    "EMBEDDING_SLOTS",
    "HASH_FEATURES",
    "MODEL_DIRNAME",
    "SHAPE_FEATURES",
    "CallView",
    "Featuriser",
    "TaggerModel",
    "load_embedder",
    "load_model",
]

MODEL_DIRNAME = "tagger"
HASH_FEATURES = 2**15
#: The embedding slots: which turns each one averages.
EMBEDDING_SLOTS = (
    "caller_opening",
    "caller",
    "caller_max",
    "agent_first",
    "agent",
    "agent_closing",
)
_OPENING_TURNS = 2
_CLOSING_TURNS = 2
_EVIDENCE_WORDS = 14


@dataclass(frozen=True)
class CallView:
    """What the learned layer reads of one call: its turns and what the rules made of it."""

    speakers: tuple[str, ...]
    texts: tuple[str, ...]
    rule_counts: Mapping[str, float]  # dense feature name -> value (rule hits, rule tags, PII)


def load_embedder() -> WordLlama:
    """WordLlama's 256-dimension embeddings from the weights inside its wheel; never downloads."""
    try:
        return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    except Exception as err:  # its loader raises bare Exceptions for missing files
        raise CallQAError(
            f"cannot load the WordLlama embeddings from the wordllama package ({err}); "
            "reinstall it with `pip install --force-reinstall wordllama`"
        ) from None


def _slots(speakers: Sequence[str]) -> dict[str, list[int]]:
    """Turn indexes of each embedding slot. `unknown` speakers count for the caller."""
    agent = [i for i, s in enumerate(speakers) if s == "agent"]
    caller = [i for i, s in enumerate(speakers) if s != "agent"]
    return {
        "caller_opening": caller[:_OPENING_TURNS],
        "caller": caller,
        # Max-pooled: one turn that says "it's still not been done" is not averaged away.
        "caller_max": caller,
        "agent_first": agent[:1],
        "agent": agent,
        "agent_closing": agent[-_CLOSING_TURNS:],
    }


def _shape(speakers: Sequence[str], texts: Sequence[str]) -> dict[str, float]:
    words = [len(t.split()) for t in texts]
    caller_words = sum(w for w, s in zip(words, speakers, strict=True) if s != "agent")
    return {
        "shape:log_turns": math.log1p(len(texts)),
        "shape:caller_word_share": caller_words / max(1, sum(words)),
        "shape:last_turn_agent": float(bool(speakers) and speakers[-1] == "agent"),
        "shape:first_turn_agent": float(bool(speakers) and speakers[0] == "agent"),
        "shape:unknown_share": sum(s == "unknown" for s in speakers) / max(1, len(speakers)),
    }


#: The call-shape feature names, in the order `_shape` gives them.
SHAPE_FEATURES = tuple(_shape(["agent"], ["x"]))


class Featuriser:
    """Turns CallViews into one feature row per call, and a turn's share of a tag's score."""

    def __init__(self, dense_names: Sequence[str], idf: np.ndarray, embedder: WordLlama):
        self.dense_names = tuple(dense_names)
        self.idf = idf  # (2 * HASH_FEATURES,): caller then agent
        self.embedder = embedder
        self._analyse = HashingVectorizer(ngram_range=(1, 2)).build_analyzer()
        self._hasher = FeatureHasher(HASH_FEATURES, input_type="string", alternate_sign=False)

    @property
    def embedding_dim(self) -> int:
        return int(self.embedder.embedding.shape[1])

    @property
    def n_dense(self) -> int:
        return len(self.dense_names) + len(EMBEDDING_SLOTS) * self.embedding_dim

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Hashed word 1-2 gram counts, one row per text."""
        if not texts:  # the hasher cannot take an empty batch
            return sp.csr_matrix((0, HASH_FEATURES), dtype=np.float64)
        return self._hasher.transform(self._analyse(t) for t in texts).tocsr()

    def tfidf(self, counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        """Sublinear tf times idf, each row scaled to unit length."""
        out = counts.astype(np.float32, copy=True)
        out.data = 1.0 + np.log(out.data)
        out = out.multiply(idf.reshape(1, -1)).tocsr()
        norms = np.sqrt(np.asarray(out.multiply(out).sum(axis=1))).ravel()
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ out)

    def side_texts(self, views: Sequence[CallView]) -> tuple[list[str], list[str]]:
        caller = [
            " ".join(t for t, s in zip(v.texts, v.speakers, strict=True) if s != "agent")
            for v in views
        ]
        agent = [
            " ".join(t for t, s in zip(v.texts, v.speakers, strict=True) if s == "agent")
            for v in views
        ]
        return caller, agent

    def turn_embeddings(self, views: Sequence[CallView]) -> list[np.ndarray]:
        """Each call's turns embedded, unit length, (turns, dim)."""
        texts = [t or " " for v in views for t in v.texts]
        flat = np.zeros((len(texts), self.embedding_dim), dtype=np.float32)
        if texts:
            # Shortest first: each batch is padded to its longest text, so like lengths
            # together waste least (the pooled vectors are the same bit for bit).
            order = np.argsort([len(t) for t in texts], kind="stable")
            flat[order] = self.embedder.embed([texts[i] for i in order], norm=True, batch_size=256)
        out, start = [], 0
        for v in views:
            out.append(np.asarray(flat[start : start + len(v.texts)], dtype=np.float32))
            start += len(v.texts)
        return out

    def dense(self, views: Sequence[CallView], embeddings: Sequence[np.ndarray]) -> np.ndarray:
        dim = self.embedding_dim
        rows = np.zeros((len(views), self.n_dense), dtype=np.float32)
        index = {name: i for i, name in enumerate(self.dense_names)}
        for row, (view, emb) in enumerate(zip(views, embeddings, strict=True)):
            values = {**view.rule_counts, **_shape(view.speakers, view.texts)}
            for name, value in values.items():
                if name in index:
                    rows[row, index[name]] = value
            for k, (slot, turns) in enumerate(_slots(view.speakers).items()):
                if turns:
                    start = len(self.dense_names) + k * dim
                    pool = (
                        emb[turns].max(axis=0) if slot.endswith("_max") else emb[turns].mean(axis=0)
                    )
                    rows[row, start : start + dim] = pool
        return rows

    def sparse(self, views: Sequence[CallView]) -> sp.csr_matrix:
        caller, agent = self.side_texts(views)
        return sp.hstack(
            [
                self.tfidf(self.counts(caller), self.idf[:HASH_FEATURES]),
                self.tfidf(self.counts(agent), self.idf[HASH_FEATURES:]),
            ],
            format="csr",
        )

    def turn_grams(self, view: CallView) -> list[tuple[list[str], np.ndarray]]:
        """Each turn's distinct word 1-2 grams and their columns, worked out once per call."""
        per_turn = [sorted(set(self._analyse(text))) for text in view.texts]
        flat = [[g] for grams in per_turn for g in grams]
        # One gram per row through the very hasher the features use, so the columns agree.
        columns = self._hasher.transform(flat).indices if flat else np.zeros(0, np.int32)
        out, start = [], 0
        for grams, speaker in zip(per_turn, view.speakers, strict=True):
            offset = self.n_dense + (HASH_FEATURES if speaker == "agent" else 0)
            out.append((grams, offset + columns[start : start + len(grams)].astype(np.int64)))
            start += len(grams)
        return out

    def evidence(
        self,
        view: CallView,
        embeddings: np.ndarray,
        grams: Sequence[tuple[list[str], np.ndarray]],
        weights: np.ndarray,
        scale: np.ndarray,
        redacted: Sequence[str],
    ) -> tuple[int, str] | None:
        """The turn that raised a tag's score most, and the words in it that did.

        `grams` is `turn_grams(view)`, `weights` the tag's row over all features, `scale` the
        dense standardisation. The words come from `redacted`, the turn texts with personal
        data replaced.
        """
        if not view.texts:
            return None
        dim = self.embedding_dim
        nd = len(self.dense_names)
        score = np.zeros(len(view.texts))
        for k, turns in enumerate(_slots(view.speakers).values()):
            if turns:
                w = (
                    weights[nd + k * dim : nd + (k + 1) * dim]
                    / scale[nd + k * dim : nd + (k + 1) * dim]
                )
                score[turns] += embeddings[turns] @ w / len(turns)
        best_gram = [""] * len(view.texts)
        for turn, (names, columns) in enumerate(grams):
            if len(columns):
                gram_w = weights[columns]
                score[turn] += gram_w.sum() / math.sqrt(len(columns))
                best_gram[turn] = names[int(np.argmax(gram_w))]
        turn = int(np.argmax(score))
        return turn, _window(redacted[turn], best_gram[turn])


def _window(text: str, gram: str) -> str:
    """Up to _EVIDENCE_WORDS words of `text` around `gram` (its start when absent), cut from
    `text` as it is, so the review page can find and highlight them in the turn."""
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    if not spans:
        return text
    target = gram.split()
    bare = [text[a:b].strip(".,!?;:'\"()").lower() for a, b in spans]
    at = next((i for i in range(len(bare)) if target and bare[i : i + len(target)] == target), 0)
    first = max(0, min(at - _EVIDENCE_WORDS // 3, len(spans) - _EVIDENCE_WORDS))
    last = min(len(spans), first + _EVIDENCE_WORDS) - 1
    return text[spans[first][0] : spans[last][1]]


@dataclass(frozen=True)
class TaggerModel:
    """One linear model per tag over the Featuriser's row, with Platt calibration."""

    version: str
    targets: tuple[str, ...]
    thresholds: np.ndarray  # (targets,): the probability at which a tag is given
    rule_decides: np.ndarray  # (targets,) bool: the rule alone decides (it earned it in training)
    dense_names: tuple[str, ...]
    mean: np.ndarray  # (n_dense,): dense standardisation
    scale: np.ndarray
    idf: np.ndarray  # (2 * HASH_FEATURES,)
    weights: np.ndarray  # (targets, n_dense + 2 * HASH_FEATURES)
    bias: np.ndarray  # (targets,)
    platt_a: np.ndarray  # p = 1 / (1 + exp(a * score + b)), as scikit-learn's calibration
    platt_b: np.ndarray

    # Looked up for every tag of every call: built once per model, not per call.
    @functools.cached_property
    def row(self) -> dict[str, int]:
        return {target: i for i, target in enumerate(self.targets)}

    @functools.cached_property
    def threshold(self) -> dict[str, float]:
        return dict(zip(self.targets, self.thresholds.tolist(), strict=True))

    @functools.cached_property
    def decided_by_rule(self) -> frozenset[str]:
        return frozenset(t for t, r in zip(self.targets, self.rule_decides, strict=True) if r)

    def featuriser(self, embedder: WordLlama) -> Featuriser:
        return Featuriser(self.dense_names, self.idf, embedder)

    def scores(self, dense: np.ndarray, sparse: sp.csr_matrix) -> np.ndarray:
        """Uncalibrated linear scores, (calls, targets)."""
        nd = dense.shape[1]
        z = (dense - self.mean) / self.scale
        return z @ self.weights[:, :nd].T + np.asarray(sparse @ self.weights[:, nd:].T) + self.bias

    def calibrate(self, scores: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(self.platt_a * scores + self.platt_b))

    def save(self, folder: Path, header: Mapping[str, object]) -> None:
        """Write `weights.npz` (arrays only) and `model.json` (version, names, `header`)."""
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            folder / "weights.npz",
            thresholds=self.thresholds,
            rule_decides=self.rule_decides,
            mean=self.mean,
            scale=self.scale,
            idf=self.idf,
            weights=self.weights.astype(np.float32),
            bias=self.bias,
            platt_a=self.platt_a,
            platt_b=self.platt_b,
        )
        (folder / "model.json").write_text(
            json.dumps(
                {
                    "version": self.version,
                    "targets": list(self.targets),
                    "dense_names": list(self.dense_names),
                    **header,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )


def load_model(folder: Path) -> TaggerModel | None:
    """The model in `folder` (`models/tagger/`), or None when there is none."""
    header_path, weights_path = folder / "model.json", folder / "weights.npz"
    if not header_path.exists():
        return None
    try:
        header = json.loads(header_path.read_text(encoding="utf-8"))
        with np.load(weights_path, allow_pickle=False) as arrays:
            data = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError, KeyError) as err:
        raise CallQAError(
            f"{folder}: the trained tagger cannot be read ({err}); restore models/tagger/ "
            "from git or retrain it with `callqa train`"
        ) from None
    try:
        return TaggerModel(
            version=str(header["version"]),
            targets=tuple(header["targets"]),
            dense_names=tuple(header["dense_names"]),
            **data,
        )
    except (KeyError, TypeError) as err:
        raise CallQAError(
            f"{folder}: the trained tagger is from another version of callqa ({err}); "
            "retrain it with `callqa train`"
        ) from None
