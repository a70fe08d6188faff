"""Alignment and uniformity of an embedding space (Wang & Isola, 2020).

Both are computed on L2-normalised embeddings; lower is better for each:

* alignment  = E_{(x, y) ~ positive pairs} ||f(x) - f(y)||^2
* uniformity = log E_{x, y ~ data, i.i.d.} exp(-2 ||f(x) - f(y)||^2)

As in SimCSE (Gao et al., 2021), positive pairs are STS-B pairs with a gold
score >= 4 and the data distribution is the STS-B sentences (here: of one
split, test by default, so a full evaluation encodes nothing extra).

Reference: Wang & Isola, "Understanding Contrastive Representation Learning
through Alignment and Uniformity on the Hypersphere", ICML 2020.

Example:
    >>> alignment_uniformity(model.encode, "../shared/data")  # doctest: +SKIP
    {'alignment': 0.330, 'uniformity': -3.819, 'n_pairs': 338, 'n_sentences': 2551}
"""

from __future__ import annotations

import os

import numpy as np
from scipy.special import logsumexp

from textcl.data.senteval import PairData, load_task
from textcl.evaluation.sts import Encode, encode_pairs

__all__ = [
    "l2_normalize",
    "alignment",
    "uniformity",
    "alignment_uniformity_data",
    "alignment_uniformity",
]


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, in float64 (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def alignment(x: np.ndarray, y: np.ndarray, alpha: float = 2.0) -> float:
    """Mean ``||f(x) - f(y)||^alpha`` over positive pairs, after L2 normalisation.

    Args:
        x: first embeddings of the positive pairs, shape ``(n, d)``.
        y: second embeddings, shape ``(n, d)``.
        alpha: distance exponent (2 as in SimCSE).

    Returns:
        The alignment loss, in ``[0, 2^alpha]``.
    """
    x, y = l2_normalize(x), l2_normalize(y)
    if x.shape != y.shape or len(x) == 0:
        raise ValueError(f"need two non-empty (n, d) arrays of the same shape, got {x.shape}, {y.shape}")
    return float(np.mean(np.linalg.norm(x - y, axis=1) ** alpha))


def uniformity(x: np.ndarray, t: float = 2.0) -> float:
    """``log`` of the mean Gaussian potential over all distinct pairs ``i < j``.

    Same estimator as Wang & Isola's ``torch.pdist(x).pow(2).mul(-t).exp().mean().log()``,
    computed with a log-sum-exp for stability.

    Args:
        x: embeddings, shape ``(n, d)`` with ``n >= 2``.
        t: temperature of the potential (2 as in SimCSE).

    Returns:
        The uniformity loss, in ``[-4t, 0]`` for unit vectors.
    """
    x = l2_normalize(x)
    n = len(x)
    if n < 2:
        raise ValueError(f"uniformity needs at least 2 embeddings, got {n}")
    gram = x @ x.T  # (n, n)
    iu = np.triu_indices(n, k=1)
    sq_dist = np.clip(2.0 - 2.0 * gram[iu], 0.0, None)  # ||a-b||^2 = 2 - 2 a.b for unit vectors
    return float(logsumexp(-t * sq_dist) - np.log(len(sq_dist)))


def alignment_uniformity_data(encode: Encode, data: PairData, threshold: float = 4.0,
                              max_sentences: int = 5000, seed: int = 0) -> dict[str, float]:
    """Alignment over pairs scored ``>= threshold``, uniformity over the data's sentences.

    Args:
        encode: sentences -> embeddings.
        data: scored pairs (e.g. STS-B test).
        threshold: minimum gold score of a positive pair.
        max_sentences: uniformity uses at most this many distinct sentences,
            drawn at random (its cost is quadratic).
        seed: seed of that draw.

    Returns:
        ``{"alignment", "uniformity", "n_pairs", "n_sentences"}``.
    """
    emb1, emb2 = encode_pairs(encode, data)
    positive = np.asarray(data.scores) >= threshold
    if not positive.any():
        raise ValueError(f"no pair has a gold score >= {threshold}")
    sentences = data.texts()
    all_emb = np.concatenate([emb1, emb2])  # (2n, d), same order as data.texts()
    first = {s: i for i, s in reversed(list(enumerate(sentences)))}
    unique = np.asarray(sorted(first.values()))
    if len(unique) > max_sentences:
        unique = np.sort(np.random.default_rng(seed).choice(unique, max_sentences, replace=False))
    return {"alignment": alignment(emb1[positive], emb2[positive]),
            "uniformity": uniformity(all_emb[unique]),
            "n_pairs": int(positive.sum()), "n_sentences": int(len(unique))}


def alignment_uniformity(encode: Encode, data_dir: str | os.PathLike, split: str = "test",
                         threshold: float = 4.0) -> dict[str, float]:
    """Alignment and uniformity on an STS-B split (default test).

    Args:
        encode: sentences -> embeddings.
        data_dir: SentEval's downstream folder.
        split: STS-B split.
        threshold: minimum gold score of a positive pair.

    Returns:
        ``{"alignment", "uniformity", "n_pairs", "n_sentences"}``.
    """
    data = load_task("stsb", data_dir, (split,))[split]
    return alignment_uniformity_data(encode, data, threshold)
