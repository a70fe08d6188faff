"""Evaluators over Python lists: STS pairs and triplets; ``model -> {metric: value}``, usable by the Trainer.

Each evaluator is a callable that encodes its sentences with the model it is given and returns its
metrics (x100, as every textcl score), with ``primary_metric`` naming the one to maximise when it
selects the best checkpoint (``Trainer(..., evaluator=ev, metric_for_best=ev.primary_metric)``).
The metrics are sentence-transformers' (``EmbeddingSimilarityEvaluator``, ``TripletEvaluator``) times 100.
:class:`~textcl.evaluation.retrieval.RetrievalEvaluator` is the retrieval one.

Example:
    >>> ev = STSEvaluator(["A man plays."], ["A man is playing."], [4.6], name="dev")  # doctest: +SKIP
    >>> ev(model)   # {"dev_spearman": 81.2, "dev_pearson": 80.9}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from textcl.evaluation.sts import cosine_similarity_rows, sts_correlations
from textcl.settings import check_float, check_int
from textcl.similarity import similarity_pairwise, validate_similarity_fn

__all__ = ["STSEvaluator", "TripletEvaluator", "check_texts", "document_encoder", "encode_texts", "metric_key",
           "query_encoder"]


def check_texts(name: str, texts: Sequence[Any], n: int | None = None) -> list[str]:
    """``texts`` as a list of strings; ``n`` (when given) is the length it must have.

    Raises:
        TypeError: not a list.
        ValueError: empty, a non-string item, or the wrong length (named).
    """
    if isinstance(texts, str) or not isinstance(texts, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a list of sentences, got {type(texts).__name__}")
    texts = list(texts)
    if not texts:
        raise ValueError(f"{name} is empty: pass at least one sentence")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise ValueError(f"{name}[{bad}] is {type(texts[bad]).__name__}, not a sentence (str)")
    if n is not None and len(texts) != n:
        raise ValueError(f"{name} has {len(texts)} sentences but the first list has {n}: pass aligned lists")
    return texts


def encode_texts(encode: Callable[..., Any], texts: list[str], batch_size: int, dtype: str | None = None
                 ) -> np.ndarray:
    """Float32 embeddings (n, d) of ``texts`` by ``encode`` (``model.encode`` or the like), each distinct
    sentence encoded once; ``dtype`` (compute dtype) is passed on unless None."""
    unique = list(dict.fromkeys(texts))
    kwargs = {} if dtype is None else {"dtype": dtype}
    emb = np.asarray(encode(unique, batch_size=batch_size, **kwargs), dtype=np.float32)  # (u, d)
    if emb.ndim != 2 or emb.shape[0] != len(unique):
        raise ValueError(f"model.encode returned shape {emb.shape} for {len(unique)} sentences; "
                         "expected (n_sentences, dim)")
    row = {t: i for i, t in enumerate(unique)}
    return emb[[row[t] for t in texts]]  # (n, d)


def query_encoder(model: Any) -> Callable[..., Any]:
    """``model.encode_query`` (its query prompt, as sentence-transformers' evaluators use), else ``model.encode``."""
    return getattr(model, "encode_query", model.encode)


def document_encoder(model: Any) -> Callable[..., Any]:
    """``model.encode_document`` (its document prompt), else ``model.encode``."""
    return getattr(model, "encode_document", model.encode)


def metric_key(name: str, metric: str) -> str:
    """``name_metric`` (just ``metric`` when the evaluator has no name), as sentence-transformers prefixes."""
    return f"{name}_{metric}" if name else metric


def pair_similarity(a: np.ndarray, b: np.ndarray, fn: str) -> np.ndarray:
    """Row-wise similarity (n,): cosine in float64 (zero vectors score 0), the others as sentence-transformers."""
    return cosine_similarity_rows(a, b) if fn == "cosine" else similarity_pairwise(a, b, fn).astype(np.float64)


class STSEvaluator:
    """Spearman and Pearson correlation (x100) between the pairs' similarity and the gold scores.

    Args:
        sentences1: first sentence of each pair.
        sentences2: second sentence of each pair (aligned with ``sentences1``).
        scores: gold similarity of each pair (any scale).
        name: prefix of the metric names (``"dev"`` -> ``dev_spearman``).
        batch_size: encoding batch size.
        similarity_fn: ``cosine`` (default), ``dot``, ``euclidean`` or ``manhattan``.
        dtype: compute dtype of encoding (default float32, so scores match published figures);
            None: the model's own default (a model whose ``encode`` takes no ``dtype``).

    Raises:
        ValueError: lists of different lengths, fewer than two pairs, non-finite scores or an
            unknown similarity function.
    """

    def __init__(self, sentences1: Sequence[str], sentences2: Sequence[str], scores: Sequence[float],
                 name: str = "", batch_size: int = 64, similarity_fn: str = "cosine",
                 dtype: str | None = "float32") -> None:
        self.sentences1 = check_texts("sentences1", sentences1)
        self.sentences2 = check_texts("sentences2", sentences2, len(self.sentences1))
        try:
            self.scores = np.asarray(scores, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"scores must be numbers ({err})") from err
        if self.scores.shape != (len(self.sentences1),):
            raise ValueError(f"scores has shape {self.scores.shape} but there are {len(self.sentences1)} pairs: "
                             "pass one score per pair")
        if len(self.scores) < 2 or not np.isfinite(self.scores).all():
            raise ValueError("scores need at least two pairs and finite values: drop blank or NaN scores")
        self.name, self.similarity_fn, self.dtype = name, validate_similarity_fn(similarity_fn), dtype
        self.batch_size = check_int("batch_size", batch_size)
        self.primary_metric = metric_key(name, "spearman")

    def __call__(self, model: Any) -> dict[str, float]:
        """Encode the pairs with ``model`` and return ``{name_spearman, name_pearson}`` (x100)."""
        emb = encode_texts(model.encode, self.sentences1 + self.sentences2, self.batch_size, self.dtype)
        n = len(self.sentences1)
        result = sts_correlations(pair_similarity(emb[:n], emb[n:], self.similarity_fn), self.scores)
        return {metric_key(self.name, m): result[m] for m in ("spearman", "pearson")}


class TripletEvaluator:
    """Accuracy (x100) of ``sim(anchor, positive) > sim(anchor, negative) + margin`` over triplets.

    Args:
        anchors, positives, negatives: aligned lists of sentences.
        name: prefix of the metric name (``"dev"`` -> ``dev_accuracy``).
        batch_size: encoding batch size.
        similarity_fn: ``cosine`` (default), ``dot``, ``euclidean`` or ``manhattan``.
        margin: how much more similar the positive must be (default 0: strictly more).
        dtype: compute dtype of encoding (default float32); None: the model's own default.

    Raises:
        ValueError: lists of different lengths, a negative margin or an unknown similarity function.
    """

    def __init__(self, anchors: Sequence[str], positives: Sequence[str], negatives: Sequence[str],
                 name: str = "", batch_size: int = 64, similarity_fn: str = "cosine", margin: float = 0.0,
                 dtype: str | None = "float32") -> None:
        self.anchors = check_texts("anchors", anchors)
        self.positives = check_texts("positives", positives, len(self.anchors))
        self.negatives = check_texts("negatives", negatives, len(self.anchors))
        self.name, self.similarity_fn = name, validate_similarity_fn(similarity_fn)
        self.margin, self.dtype = check_float("margin", margin), dtype
        self.batch_size = check_int("batch_size", batch_size)
        self.primary_metric = metric_key(name, "accuracy")

    def __call__(self, model: Any) -> dict[str, float]:
        """Encode the triplets with ``model`` and return ``{name_accuracy}`` (x100)."""
        a = encode_texts(query_encoder(model), self.anchors, self.batch_size, self.dtype)  # (n, d)
        docs = encode_texts(document_encoder(model), self.positives + self.negatives, self.batch_size, self.dtype)
        p, n = np.split(docs, 2)  # (n, d) each
        pos = similarity_pairwise(a, p, self.similarity_fn)  # float32, as sentence-transformers compares
        neg = similarity_pairwise(a, n, self.similarity_fn)
        return {self.primary_metric: float(np.mean(pos > neg + self.margin) * 100)}
