"""Exact top-k cosine search over a matrix of sentence embeddings.

The corpus matrix is read in chunks (it may be a ``numpy.memmap`` of an .npy
written by ``textcl encode``), each chunk normalised and scored against the
queries, and the running top-k merged, so memory stays
``O(queries * (chunk_size + k))`` whatever the corpus size. With ``faiss``
importable, ``backend="auto"`` uses its exact inner-product index instead.

Example:
    >>> scores, ids = cosine_top_k(model.encode(["a man plays guitar"]), np.load("emb.npy", mmap_mode="r"), k=5)
    >>> hits = semantic_search(model, ["a man plays guitar"], corpus, top_k=5)
    >>> hits[0][0].text, hits[0][0].score
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

__all__ = ["Hit", "cosine_top_k", "semantic_search", "faiss_available", "SearchBackend"]

SearchBackend = Literal["auto", "numpy", "faiss"]


@dataclass(frozen=True)
class Hit:
    """One search result.

    Attributes:
        corpus_id: row of the corpus matrix.
        score: cosine similarity with the query.
        text: the corpus sentence, when the corpus texts are known.
    """

    corpus_id: int
    score: float
    text: str | None = None


def faiss_available() -> bool:
    """True when ``faiss`` can be imported."""
    return importlib.util.find_spec("faiss") is not None


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def _as_matrix(x: Any, name: str) -> np.ndarray:
    x = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (rows, dim) matrix, got shape {x.shape}")
    return x


def cosine_top_k(queries: Any, corpus: Any, k: int = 5, chunk_size: int = 65536,
                 backend: SearchBackend = "auto") -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` corpus rows most cosine-similar to each query, best first.

    Exact search; ties are broken by the lower corpus row. ``k`` larger than the
    corpus returns every row.

    Args:
        queries: (q, d) or (d,) query embeddings.
        corpus: (n, d) corpus embeddings (an array or a memmap; read in chunks).
        k: results per query (>= 1).
        chunk_size: corpus rows scored at a time (numpy backend).
        backend: ``numpy``, ``faiss`` (exact ``IndexFlatIP``), or ``auto``
            (faiss when importable).

    Returns:
        ``(scores, ids)``, each (q, min(k, n)): float32 cosines and int64 corpus rows.

    Raises:
        ValueError: bad ``k`` / ``chunk_size`` / backend, or different embedding sizes.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if backend not in ("auto", "numpy", "faiss"):
        raise ValueError(f"unknown backend {backend!r}: choose auto, numpy or faiss")
    q = _normalize(_as_matrix(queries, "queries"))
    corpus = _as_matrix(corpus, "corpus")
    if q.shape[1] != corpus.shape[1]:
        raise ValueError(f"query embeddings have {q.shape[1]} dimensions but the corpus has {corpus.shape[1]}: "
                         "encode both with the same model")
    k = min(k, corpus.shape[0])
    if backend == "faiss" or (backend == "auto" and faiss_available()):
        return _faiss_top_k(q, corpus, k, chunk_size)
    best_scores = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(q), 0), dtype=np.int64)
    for start in range(0, corpus.shape[0], chunk_size):
        scores = q @ _normalize(corpus[start:start + chunk_size]).T  # (q, chunk)
        ids = np.broadcast_to(np.arange(start, start + scores.shape[1], dtype=np.int64), scores.shape)
        # keep the running top-k: merge the previous best with this chunk, then trim
        scores = np.concatenate([best_scores, scores], axis=1)  # (q, k + chunk)
        ids = np.concatenate([best_ids, ids], axis=1)
        best_scores, best_ids = _top_k_rows(scores, ids, k)
    return best_scores, best_ids


def _top_k_rows(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k best (score desc, id asc) of ``scores`` / ``ids`` (both (q, m))."""
    if scores.shape[1] > k:
        # argpartition finds a superset candidate set cheaply; ties at the boundary are resolved below
        kth = np.partition(scores, -k, axis=1)[:, -k][:, None]  # (q, 1) k-th largest score
        keep = scores >= kth
        rows = []
        for r in range(scores.shape[0]):
            cand = np.flatnonzero(keep[r])
            order = np.lexsort((ids[r, cand], -scores[r, cand]))[:k]
            rows.append(cand[order])
        sel = np.stack(rows)  # (q, k)
    else:
        sel = np.stack([np.lexsort((ids[r], -scores[r])) for r in range(scores.shape[0])])
    return np.take_along_axis(scores, sel, axis=1), np.take_along_axis(ids, sel, axis=1)


def _faiss_top_k(q: np.ndarray, corpus: np.ndarray, k: int, chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    index = faiss.IndexFlatIP(corpus.shape[1])
    for start in range(0, corpus.shape[0], chunk_size):
        index.add(np.ascontiguousarray(_normalize(corpus[start:start + chunk_size])))
    scores, ids = index.search(np.ascontiguousarray(q), k)
    return scores.astype(np.float32), ids.astype(np.int64)


def semantic_search(model: Any, queries: str | Sequence[str], corpus: Sequence[str] | None = None,
                    corpus_embeddings: Any = None, top_k: int = 5, batch_size: int = 64,
                    backend: SearchBackend = "auto") -> list[list[Hit]]:
    """Find the corpus sentences nearest to each query.

    Args:
        model: anything with ``encode(texts, batch_size=...) -> (n, d)`` (a SentenceEncoder).
        queries: a query or a list of queries.
        corpus: the corpus sentences (encoded here unless ``corpus_embeddings`` is given).
        corpus_embeddings: precomputed (n, d) corpus embeddings, e.g. ``np.load("emb.npy", mmap_mode="r")``.
        top_k: hits per query.
        batch_size: encoding batch size.
        backend: see :func:`cosine_top_k`.

    Returns:
        One list of :class:`Hit` per query, best first (``text`` set when ``corpus`` is given).

    Raises:
        ValueError: neither corpus nor embeddings, or their row counts differ.
    """
    queries = [queries] if isinstance(queries, str) else list(queries)
    if corpus is None and corpus_embeddings is None:
        raise ValueError("pass the corpus sentences, their embeddings, or both")
    if corpus_embeddings is None:
        corpus_embeddings = model.encode(list(corpus), batch_size=batch_size)
    elif corpus is not None and len(corpus) != len(corpus_embeddings):
        raise ValueError(f"the corpus has {len(corpus)} sentences but {len(corpus_embeddings)} embedding rows: "
                         "re-encode the corpus with the same input file and options")
    scores, ids = cosine_top_k(model.encode(queries, batch_size=batch_size), corpus_embeddings, top_k,
                               backend=backend)
    return [[Hit(int(i), float(s), corpus[int(i)] if corpus is not None else None) for s, i in zip(sr, ir)]
            for sr, ir in zip(scores, ids)]
