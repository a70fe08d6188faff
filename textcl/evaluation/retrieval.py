"""Retrieval evaluation over Python dicts: nDCG, MRR, MAP, recall, precision and accuracy at k.

The corpus is searched with :class:`textcl.search.ExactIndex` (exact cosine top-k); the metrics
are sentence-transformers' ``InformationRetrievalEvaluator`` definitions, times 100. Hits with equal
scores are ordered by corpus id (ascending), as sentence-transformers orders them.

Example:
    >>> ev = RetrievalEvaluator({"q1": "who plays?"}, {"d1": "A man plays.", "d2": "A cat."},
    ...                         {"q1": {"d1"}}, name="dev")  # doctest: +SKIP
    >>> ev(model)["dev_ndcg@10"]
    100.0
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from textcl.evaluation.evaluators import check_texts, document_encoder, encode_texts, metric_key, query_encoder
from textcl.search.exact import ExactIndex
from textcl.settings import check_int

__all__ = ["RetrievalEvaluator", "retrieval_metrics"]


def _ks(name: str, values: Sequence[int]) -> list[int]:
    values = list(values)
    if not values:
        raise ValueError(f"{name} is empty: pass at least one cutoff k (e.g. [10])")
    return sorted({check_int(name, k) for k in values})


def retrieval_metrics(hits: np.ndarray, n_relevant: np.ndarray, mrr_at_k: Sequence[int] = (10,),
                      ndcg_at_k: Sequence[int] = (10,), accuracy_at_k: Sequence[int] = (1, 3, 5, 10),
                      precision_recall_at_k: Sequence[int] = (1, 3, 5, 10), map_at_k: Sequence[int] = (100,)
                      ) -> dict[str, float]:
    """Ranking metrics (x100) from which ranked results are relevant.

    Args:
        hits: (q, r) bool, ``hits[i, j]``: the j-th result of query i is relevant (r may be below a
            cutoff k when the corpus is small; the missing ranks count as misses).
        n_relevant: (q,) relevant documents per query (>= 1).
        mrr_at_k, ndcg_at_k, accuracy_at_k, precision_recall_at_k, map_at_k: cutoffs.

    Returns:
        ``accuracy@k``, ``precision@k``, ``recall@k``, ``mrr@k``, ``ndcg@k``, ``map@k`` (mean over queries).

    Raises:
        ValueError: shapes that do not match, or a query with no relevant document.
    """
    hits = np.asarray(hits, dtype=bool)
    n_rel = np.asarray(n_relevant, dtype=np.float64)  # (q,)
    if hits.ndim != 2 or n_rel.shape != (hits.shape[0],) or not (n_rel >= 1).all():
        raise ValueError(f"need hits (q, r) and n_relevant (q,) >= 1, got {hits.shape} and {n_rel.shape} "
                         "(a query without relevant documents cannot be scored: drop it)")
    max_k = max(max(ks) for ks in (mrr_at_k, ndcg_at_k, accuracy_at_k, precision_recall_at_k, map_at_k))
    rel = np.zeros((hits.shape[0], max_k), dtype=np.float64)  # (q, max_k)
    rel[:, :min(max_k, hits.shape[1])] = hits[:, :max_k]
    ranks = np.arange(1, max_k + 1, dtype=np.float64)  # (max_k,)
    discount = 1.0 / np.log2(ranks + 1)
    out: dict[str, float] = {}
    for k in accuracy_at_k:
        out[f"accuracy@{k}"] = rel[:, :k].any(axis=1).mean()
    for k in precision_recall_at_k:
        correct = rel[:, :k].sum(axis=1)
        out[f"precision@{k}"] = (correct / k).mean()
        out[f"recall@{k}"] = (correct / n_rel).mean()
    for k in mrr_at_k:
        top = rel[:, :k]
        first = top.argmax(axis=1)  # rank of the first relevant hit (0 when there is none: masked below)
        out[f"mrr@{k}"] = np.where(top.any(axis=1), 1.0 / (first + 1), 0.0).mean()
    for k in ndcg_at_k:
        dcg = (rel[:, :k] * discount[:k]).sum(axis=1)
        ideal = np.cumsum(discount[:k])[np.minimum(n_rel, k).astype(int) - 1]  # all relevant documents first
        out[f"ndcg@{k}"] = (dcg / ideal).mean()
    for k in map_at_k:
        top = rel[:, :k]
        precision_at_hit = np.cumsum(top, axis=1) / ranks[:k] * top  # precision at each relevant rank
        out[f"map@{k}"] = (precision_at_hit.sum(axis=1) / np.minimum(n_rel, k)).mean()
    return {key: float(value * 100) for key, value in out.items()}


def _sorted_ids(ids: Iterable[Hashable]) -> list[Hashable]:
    ids = list(ids)
    try:
        return sorted(ids)  # ties go to the lower row, so this orders equal scores by id
    except TypeError:  # ids of mixed types: their given order
        return ids


class RetrievalEvaluator:
    """Rank the corpus for each query; score the ranking against the relevant documents.

    Only queries with at least one relevant document are scored, as in sentence-transformers.

    Args:
        queries: query id -> query text.
        corpus: document id -> document text.
        relevant_docs: query id -> the ids of its relevant documents (a set or any iterable).
        name: prefix of the metric names (``"dev"`` -> ``dev_ndcg@10``).
        batch_size: encoding batch size.
        mrr_at_k, ndcg_at_k, accuracy_at_k, precision_recall_at_k, map_at_k: cutoffs (sentence-transformers'
            defaults). The primary metric is nDCG at the largest ``ndcg_at_k``.
        chunk_size: corpus rows scored at a time by the search.
        dtype: compute dtype of encoding (default float32); None: the model's own default.

    Raises:
        TypeError: queries, corpus or relevant_docs not a dict.
        ValueError: no query with relevant documents, a relevant id missing from the corpus, a query
            id without a query, texts that are not strings, or a bad cutoff.
    """

    def __init__(self, queries: Mapping[Hashable, str], corpus: Mapping[Hashable, str],
                 relevant_docs: Mapping[Hashable, Iterable[Hashable]], name: str = "", batch_size: int = 64,
                 mrr_at_k: Sequence[int] = (10,), ndcg_at_k: Sequence[int] = (10,),
                 accuracy_at_k: Sequence[int] = (1, 3, 5, 10), precision_recall_at_k: Sequence[int] = (1, 3, 5, 10),
                 map_at_k: Sequence[int] = (100,), chunk_size: int = 16384, dtype: str | None = "float32") -> None:
        for arg, value in (("queries", queries), ("corpus", corpus), ("relevant_docs", relevant_docs)):
            if not isinstance(value, Mapping):
                raise TypeError(f"{arg} must be a dict keyed by id, got {type(value).__name__}")
        relevant = {qid: set(ids) for qid, ids in relevant_docs.items() if not isinstance(ids, str)}
        if len(relevant) != len(relevant_docs):
            raise ValueError("relevant_docs values must be sets of document ids, not a string: wrap it, {'d1'}")
        unknown_q = [qid for qid in relevant if relevant[qid] and qid not in queries]
        if unknown_q:
            raise ValueError(f"relevant_docs names query id {unknown_q[0]!r}, which queries lacks")
        self.query_ids = [qid for qid in queries if relevant.get(qid)]
        if not self.query_ids:
            raise ValueError("no query has a relevant document: relevant_docs must map query ids to corpus ids")
        self.corpus_ids = _sorted_ids(corpus)
        known = set(self.corpus_ids)
        for qid in self.query_ids:
            missing = relevant[qid] - known
            if missing:
                raise ValueError(f"relevant_docs[{qid!r}] names document id {next(iter(missing))!r}, "
                                 "which the corpus lacks: add the document or drop the id")
        self.queries = check_texts("queries", [queries[qid] for qid in self.query_ids])
        self.corpus = check_texts("corpus", [corpus[cid] for cid in self.corpus_ids])
        self.relevant = [relevant[qid] for qid in self.query_ids]
        self.cutoffs = {"mrr_at_k": _ks("mrr_at_k", mrr_at_k), "ndcg_at_k": _ks("ndcg_at_k", ndcg_at_k),
                        "accuracy_at_k": _ks("accuracy_at_k", accuracy_at_k),
                        "precision_recall_at_k": _ks("precision_recall_at_k", precision_recall_at_k),
                        "map_at_k": _ks("map_at_k", map_at_k)}
        self.max_k = max(max(ks) for ks in self.cutoffs.values())
        self.name, self.batch_size = name, check_int("batch_size", batch_size)
        self.chunk_size, self.dtype = check_int("chunk_size", chunk_size), dtype
        self.primary_metric = metric_key(name, f"ndcg@{max(self.cutoffs['ndcg_at_k'])}")

    def search(self, model: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, rows)``, each (q, min(max_k, corpus)): every query's best corpus rows, best first."""
        docs = encode_texts(document_encoder(model), self.corpus, self.batch_size, self.dtype)  # (n, d)
        queries = encode_texts(query_encoder(model), self.queries, self.batch_size, self.dtype)  # (q, d)
        return ExactIndex(docs, self.chunk_size).search(queries, self.max_k)

    def __call__(self, model: Any) -> dict[str, float]:
        """Encode queries and corpus with ``model``, search, and return the metrics (x100)."""
        _, rows = self.search(model)
        hits = np.array([[self.corpus_ids[r] in rel for r in row] for row, rel in zip(rows, self.relevant)],
                        dtype=bool).reshape(len(rows), -1)  # (q, r)
        n_relevant = np.array([len(rel) for rel in self.relevant])
        metrics = retrieval_metrics(hits, n_relevant, **self.cutoffs)
        return {metric_key(self.name, k): v for k, v in metrics.items()}
