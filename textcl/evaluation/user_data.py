"""Evaluators built from a user's table: ``textcl eval --user-data FILE --kind`` sts, retrieval or triplet.

The table's columns per kind are :data:`textcl.data.tables.EVAL_COLUMNS` (read by
:func:`textcl.data.tables.read_eval_table`, the one reader of users' evaluation tables):

* ``sts``: ``sentence1``, ``sentence2``, ``score`` -> :class:`~textcl.evaluation.evaluators.STSEvaluator`;
* ``triplet``: ``anchor``, ``positive``, ``negative`` -> :class:`~textcl.evaluation.evaluators.TripletEvaluator`;
* ``retrieval``: ``query``, ``document``, one row per relevant pair; the corpus is every distinct document
  (a row with an empty query adds a document only) -> :class:`~textcl.evaluation.retrieval.RetrievalEvaluator`.
"""

from __future__ import annotations

from typing import Any

from textcl.data.tables import EVAL_COLUMNS, read_eval_table
from textcl.evaluation.evaluators import STSEvaluator, TripletEvaluator
from textcl.evaluation.retrieval import RetrievalEvaluator

__all__ = ["EVAL_KINDS", "retrieval_sets", "user_data_evaluator"]

EVAL_KINDS: tuple[str, ...] = tuple(EVAL_COLUMNS)


def retrieval_sets(queries: list[str | None], documents: list[str]
                   ) -> tuple[dict[int, str], dict[int, str], dict[int, set[int]]]:
    """``(queries, corpus, relevant_docs)`` from relevant (query, document) rows; a None query adds a document.

    Equal texts share one id; ids are numbered in order of first appearance.
    """
    query_ids: dict[str, int] = {}
    doc_ids: dict[str, int] = {}
    relevant: dict[int, set[int]] = {}
    for query, document in zip(queries, documents):
        doc = doc_ids.setdefault(document, len(doc_ids))
        if query is not None:
            relevant.setdefault(query_ids.setdefault(query, len(query_ids)), set()).add(doc)
    return ({i: q for q, i in query_ids.items()}, {i: d for d, i in doc_ids.items()}, relevant)


def user_data_evaluator(data: Any, kind: str, split: str | None = None, name: str = "", batch_size: int = 64,
                        dtype: str | None = "float32", dataset_config: str | None = None) -> Any:
    """The evaluator of ``kind`` over a user's table (a file, a hub dataset or Python lists).

    Args:
        data: anything :func:`textcl.data.tables.read_eval_table` reads.
        kind: ``sts``, ``retrieval`` or ``triplet``.
        split: the split to score (default: ``test`` when there is one, else the only split).
        name: prefix of the metric names.
        batch_size: encoding batch size.
        dtype: compute dtype of encoding (default float32).
        dataset_config: dataset configuration (hub datasets only).

    Returns:
        A ``model -> {metric: value}`` callable with ``primary_metric``.

    Raises:
        ValueError: an unknown kind, missing columns or bad values (one line, naming the fix).
    """
    cols = read_eval_table(data, kind, split=split, name=dataset_config)
    if kind == "sts":
        return STSEvaluator(cols["sentence1"], cols["sentence2"], cols["score"], name=name, batch_size=batch_size,
                            dtype=dtype)
    if kind == "triplet":
        return TripletEvaluator(cols["anchor"], cols["positive"], cols["negative"], name=name,
                                batch_size=batch_size, dtype=dtype)
    queries, corpus, relevant = retrieval_sets(cols["query"], cols["document"])
    if not queries:
        raise ValueError("the retrieval table has no query: fill the query column of the relevant pairs")
    return RetrievalEvaluator(queries, corpus, relevant, name=name, batch_size=batch_size, dtype=dtype)
