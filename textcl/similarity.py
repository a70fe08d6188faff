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

from typing import Any, Literal, get_args

import numpy as np
import torch

__all__ = ["SimilarityFn", "SIMILARITY_FNS", "validate_similarity_fn", "similarity_matrix", "similarity_pairwise",
           "as_matrix", "check_finite"]

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


def as_matrix(x: Any, name: str) -> np.ndarray:
    """``x`` as a non-empty (rows, dim) array; a single (dim,) vector becomes (1, dim).

    Raises:
        ValueError: any other shape, or no rows.
    """
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (rows, dim) matrix, got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"{name} must hold numbers, got dtype {x.dtype}")
    return x


def check_finite(x: np.ndarray | torch.Tensor, name: str, offset: int = 0, texts: list[str] | None = None) -> None:
    """Raise when a row of ``x`` holds NaN or inf, naming the first such row (``offset`` + its index).

    Args:
        x: (rows, dim) embeddings, a NumPy array or a torch tensor (checked where it lives).
        name: what the rows are (``"query embedding"``).
        offset: the row number of ``x[0]`` in the whole matrix.
        texts: the sentences of the rows, to quote the first bad one.

    Raises:
        ValueError: ``"{name} row R is not finite (nan): ..."``.
    """
    if isinstance(x, torch.Tensor):
        finite_t = torch.isfinite(x).all(dim=1)
        if bool(finite_t.all()):
            return
        finite, x = finite_t.cpu().numpy(), x[int(torch.argmin(finite_t.int()))][None].detach().float().cpu().numpy()
        row = int(np.argmin(finite))
        bad = "nan" if np.isnan(x[0]).any() else "inf"
    else:
        finite = np.isfinite(x).all(axis=1)  # (rows,)
        if finite.all():
            return
        row = int(np.argmin(finite))
        bad = "nan" if np.isnan(x[row]).any() else "inf"
    quoted = f" (sentence {texts[row]!r:.60})" if texts is not None else ""
    raise ValueError(f"{name} row {offset + row}{quoted} is not finite ({bad}), {int((~finite).sum())} of "
                     f"{len(finite)} rows: the model's weights are broken (a diverged training run?) or the dtype "
                     "overflows; reload a good checkpoint, use dtype='float32', or re-encode with a model that "
                     "gives finite embeddings")
