"""Exact top-k cosine search over a (possibly memory-mapped) embedding matrix.

The corpus is read in chunks of ``chunk_size`` rows: each chunk is checked
for non-finite values, normalised, scored against the queries, and merged into
the running top-k, so memory stays ``O(queries * (chunk_size + k))`` whatever
the corpus size, and a ``numpy.memmap`` of a 100M-row ``.npy`` is never loaded
whole. Ties go to the lower corpus row.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from textcl.similarity import as_matrix, check_finite

__all__ = ["ExactIndex", "cosine_top_k", "as_matrix", "normalize_rows", "check_finite"]


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """float32 copy of ``x`` with unit-length rows (all-zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def prepare_queries(queries: Any, dim: int | None) -> np.ndarray:
    """Checked, normalised (q, dim) float32 queries."""
    q = as_matrix(queries, "query embeddings")
    check_finite(q, "query embedding")
    if dim is not None and q.shape[1] != dim:
        raise ValueError(f"query embeddings have {q.shape[1]} dimensions but the corpus has {dim}: "
                         "encode both with the same model")
    return normalize_rows(q)


class ExactIndex:
    """Exact cosine search over a corpus matrix, scored chunk by chunk.

    Args:
        embeddings: (n, d) corpus embeddings, an array or ``np.load(path, mmap_mode="r")``.
        chunk_size: corpus rows read and scored at a time.

    Example:
        >>> index = ExactIndex(np.load("emb.npy", mmap_mode="r"))
        >>> scores, ids = index.search(model.encode(["a man plays guitar"]), k=5)
    """

    def __init__(self, embeddings: Any, chunk_size: int = 16384):
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.embeddings = as_matrix(embeddings, "corpus embeddings")
        self.chunk_size = chunk_size

    @property
    def ntotal(self) -> int:
        """Rows in the corpus."""
        return self.embeddings.shape[0]

    @property
    def dim(self) -> int:
        """Embedding size."""
        return self.embeddings.shape[1]

    def search(self, queries: Any, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` corpus rows most cosine-similar to each query, best first.

        Args:
            queries: (q, d) or (d,) query embeddings.
            k: results per query (>= 1); more than the corpus returns every row.

        Returns:
            ``(scores, ids)``, each (q, min(k, n)): float32 cosines and int64 corpus rows.

        Raises:
            ValueError: bad ``k``, different embedding sizes, or a non-finite query or
                corpus row (named; corpus rows are checked as their chunk is read).
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        q = prepare_queries(queries, self.dim)  # (q, d)
        k = min(k, self.ntotal)
        best_scores = np.empty((len(q), 0), dtype=np.float32)
        best_ids = np.empty((len(q), 0), dtype=np.int64)
        for start in range(0, self.ntotal, self.chunk_size):
            chunk = np.asarray(self.embeddings[start:start + self.chunk_size])  # (c, d), read from disk here
            check_finite(chunk, "corpus embedding", offset=start)
            scores = q @ normalize_rows(chunk).T  # (q, c)
            ids = np.broadcast_to(np.arange(start, start + len(chunk), dtype=np.int64), scores.shape)
            # previous best first: its ids are all below this chunk's, so column order is id order among ties
            best_scores, best_ids = top_k_rows(np.concatenate([best_scores, scores], axis=1),
                                               np.concatenate([best_ids, ids], axis=1), k)  # (q, k)
        return best_scores, best_ids


def top_k_rows(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` best of ``scores`` / ``ids`` (both (q, m)), by score desc then id asc.

    Among equal scores, ``ids`` must increase with the column (``ExactIndex.search`` keeps that
    order), so a stable sort on the score alone breaks ties by id.
    """
    m = scores.shape[1]
    if m > k:
        cand = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (q, k) some k best, ties at the edge arbitrary
        kth = np.take_along_axis(scores, cand, axis=1).min(axis=1)  # (q,)
        tied = (scores >= kth[:, None]).sum(axis=1) > k  # rows whose k-th score is shared beyond the cut
        for r in np.flatnonzero(tied):  # rare with real embeddings: settle those rows exactly
            cand[r] = np.argsort(-scores[r], kind="stable")[:k]
        cand = np.sort(cand, axis=1)  # column order, so that the stable sort below breaks ties by id
    else:
        cand = np.broadcast_to(np.arange(m), scores.shape)
    order = np.argsort(-np.take_along_axis(scores, cand, axis=1), axis=1, kind="stable")  # (q, k)
    sel = np.take_along_axis(cand, order, axis=1)
    return np.take_along_axis(scores, sel, axis=1), np.take_along_axis(ids, sel, axis=1)


def cosine_top_k(queries: Any, corpus: Any, k: int = 5, chunk_size: int = 16384,
                 backend: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k cosine search: ``ExactIndex(corpus, chunk_size).search(queries, k)``.

    Args:
        queries: (q, d) or (d,) query embeddings.
        corpus: (n, d) corpus embeddings (an array or a memmap; read in chunks).
        k: results per query (>= 1).
        chunk_size: corpus rows scored at a time.
        backend: deprecated and ignored: every former value (``auto``, ``numpy``,
            ``faiss``) ran exact search, which this function always does. For
            approximate search use :class:`textcl.search.FaissIndex`.

    Returns:
        ``(scores, ids)``, each (q, min(k, n)): float32 cosines and int64 corpus rows, best
        first, ties to the lower row.

    Raises:
        ValueError: bad ``k`` / ``chunk_size`` / ``backend``, different embedding sizes, or
            non-finite embeddings.
    """
    if backend is not None:
        if backend not in ("auto", "numpy", "faiss"):
            raise ValueError(f"unknown backend {backend!r}; backend= is deprecated: drop it (search is exact)")
        warnings.warn("cosine_top_k(backend=...) is deprecated and ignored: search is always exact; "
                      "use textcl.search.FaissIndex for approximate search", DeprecationWarning, stacklevel=2)
    return ExactIndex(corpus, chunk_size).search(queries, k)
