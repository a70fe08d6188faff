"""Similarity functions between embeddings, as sentence-transformers names them.

=============  ==================================  ==================================
name           ``similarity(a, b)`` (n, m)           ``similarity_pairwise(a, b)`` (n,)
=============  ==================================  ==================================
``cosine``     cosine of the angle                  row-wise cosine
``dot``        inner product                        row-wise inner product
``euclidean``  minus the L2 distance                minus the row-wise L2 distance
``manhattan``  minus the L1 distance                minus the row-wise L1 distance
=============  ==================================  ==================================

Distances are negated so that, for every function, larger means more similar
(sentence-transformers' convention). The choice is saved with the model
(``similarity_fn_name`` in ``textcl_config.json``).
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

__all__ = ["SimilarityFn", "SIMILARITY_FNS", "validate_similarity_fn", "similarity_matrix", "similarity_pairwise"]

SimilarityFn = Literal["cosine", "dot", "euclidean", "manhattan"]
SIMILARITY_FNS: tuple[str, ...] = get_args(SimilarityFn)


def validate_similarity_fn(name: str) -> str:
    """Return ``name`` if it is a known similarity function, else raise naming the choices."""
    if name not in SIMILARITY_FNS:
        raise ValueError(f"unknown similarity function {name!r}: choose one of {', '.join(SIMILARITY_FNS)}")
    return name


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.clip(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12, None)


def similarity_matrix(a: np.ndarray, b: np.ndarray, fn: str = "cosine") -> np.ndarray:
    """All-pairs similarity.

    Shape:
        a: (n, d), b: (m, d) -> (n, m) float32
    """
    validate_similarity_fn(fn)
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    if fn == "cosine":
        return (_unit(a) @ _unit(b).T).astype(np.float32)
    if fn == "dot":
        return (a @ b.T).astype(np.float32)
    diff = a[:, None, :] - b[None, :, :]  # (n, m, d); fine for the sizes similarity() is used on
    if fn == "euclidean":
        return (-np.sqrt((diff ** 2).sum(-1))).astype(np.float32)
    return (-np.abs(diff).sum(-1)).astype(np.float32)


def similarity_pairwise(a: np.ndarray, b: np.ndarray, fn: str = "cosine") -> np.ndarray:
    """Row-wise similarity of aligned rows.

    Shape:
        a: (n, d), b: (n, d) -> (n,) float32
    """
    validate_similarity_fn(fn)
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    if a.shape != b.shape:
        raise ValueError(f"similarity_pairwise needs aligned rows of equal shape, got {a.shape} and {b.shape}")
    if fn == "cosine":
        return (_unit(a) * _unit(b)).sum(-1).astype(np.float32)
    if fn == "dot":
        return (a * b).sum(-1).astype(np.float32)
    if fn == "euclidean":
        return (-np.sqrt(((a - b) ** 2).sum(-1))).astype(np.float32)
    return (-np.abs(a - b).sum(-1)).astype(np.float32)
