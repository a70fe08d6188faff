"""Losses on scored pairs (CoSENT, AnglE, cosine-similarity regression): two embeddings and a float score per row."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from textcl.settings import check_float

__all__ = ["AnglELoss", "CoSENTLoss", "CosineSimilarityLoss", "pairwise_angle_sim"]


def _check_pair(emb1: torch.Tensor, emb2: torch.Tensor, scores: torch.Tensor, name: str) -> torch.Tensor:
    """Validate ``(N, d)``, ``(N, d)``, ``(N,)``; return the scores as a float ``(N,)`` tensor on ``emb1``'s device."""
    if emb1.dim() != 2 or emb1.shape[0] == 0:
        raise ValueError(f"{name}: emb1 must have shape (N, d) with N >= 1, got {tuple(emb1.shape)}")
    if emb2.shape != emb1.shape:
        raise ValueError(f"{name}: emb1 and emb2 must have the same shape, got {tuple(emb1.shape)} and "
                         f"{tuple(emb2.shape)}")
    scores = torch.as_tensor(scores, device=emb1.device)
    if scores.numel() != emb1.shape[0]:
        raise ValueError(f"{name}: expected {emb1.shape[0]} scores (one per pair), got shape {tuple(scores.shape)}")
    if scores.dtype == torch.bool:
        scores = scores.int()
    return scores.reshape(-1)


def pairwise_angle_sim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""AnglE's similarity of row ``i`` of ``x`` and row ``i`` of ``y``: ``|cos + sin|`` after L2 normalisation.

    Each vector is read as a complex vector whose real part is its first half and imaginary part its
    second half (an odd ``d`` is padded with one zero); the value is ``|Re + Im|`` of the normalised
    complex product, i.e. ``|cos(x, y) + Σ (x_im y_re - x_re y_im)|`` with unit-norm ``x``, ``y``.

    Shape:
        - x, y: ``(N, d)``
        - output: ``(N,)``
    """
    if x.shape[-1] % 2:
        x, y = F.pad(x, (0, 1)), F.pad(y, (0, 1))  # (N, d + 1)
    x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
    x_re, x_im = x.chunk(2, dim=-1)  # (N, d/2) each
    y_re, y_im = y.chunk(2, dim=-1)
    cos = (x * y).sum(dim=-1)  # (N,)
    sin = (x_im * y_re - x_re * y_im).sum(dim=-1)  # (N,)
    return (cos + sin).abs()


def _rank_loss(similarity: torch.Tensor, scores: torch.Tensor, scale: float) -> torch.Tensor:
    r"""``log(1 + Σ_{s_i > s_j} exp(scale (sim_j - sim_i)))``: every pair of rows ranked by score.

    Shape: similarity ``(N,)``, scores ``(N,)`` -> scalar.
    """
    if similarity.dtype in (torch.float16, torch.bfloat16):
        similarity = similarity.float()
    sim = similarity * scale  # (N,)
    diff = sim.unsqueeze(0) - sim.unsqueeze(1)  # (N, N): diff[i, j] = sim_j - sim_i
    ranked = scores.unsqueeze(1) > scores.unsqueeze(0)  # (N, N): row i scored above row j
    logits = diff.masked_fill(~ranked, float("-inf")).reshape(-1)  # (N * N,)
    return torch.logsumexp(torch.cat([logits.new_zeros(1), logits]), dim=0)


class CoSENTLoss(nn.Module):
    r"""CoSENT: the cosine similarities of scored pairs must be ranked as their scores are.

    For every two pairs ``i``, ``j`` of the batch whose scores satisfy ``y_i > y_j``, the
    similarity ``s_i`` of pair ``i`` should exceed ``s_j``:

    .. math::
        L = \log\Big(1 + \sum_{y_i > y_j} e^{\lambda (s_j - s_i)}\Big)

    with ``s`` the cosine similarity and ``λ`` the ``scale`` (an inverse temperature). Only the
    order of the scores matters, so any monotone rescaling of them (STS-B's 0-5 or the same
    scores in [0, 1]) gives the same loss: no normalisation of the scores is needed. Pairs with
    equal scores are not compared. This is sentence-transformers' ``CoSENTLoss`` (same value and
    gradient).

    Args:
        scale: ``λ > 0``; sentence-transformers uses 20.

    Shape:
        - emb1, emb2: ``(N, d)``
        - scores: ``(N,)`` float (any scale; bool or int are accepted)
        - output: scalar

    Raises:
        ValueError: a bad ``scale`` or mismatched shapes (named in the message).

    Example:
        >>> loss_fn = CoSENTLoss(scale=20.0)
        >>> e1, e2 = torch.randn(2, 4, 16).unbind(0)
        >>> loss = loss_fn(e1, e2, torch.tensor([4.8, 1.0, 3.2, 0.0]))

    Reference:
        Huang et al., "CoSENT: Consistent Sentence Embedding via Similarity Ranking", IEEE/ACM
        TASLP 2024. https://doi.org/10.1109/TASLP.2024.3402087
    """

    name = "cosent"
    takes_labels = True

    def __init__(self, scale: float = 20.0) -> None:
        super().__init__()
        self.scale = check_float("scale", scale, exclusive_minimum=True)

    def similarity(self, emb1: torch.Tensor, emb2: torch.Tensor) -> torch.Tensor:
        """Row-wise similarity ``(N,)`` of the two ``(N, d)`` embedding matrices (cosine here)."""
        return F.cosine_similarity(emb1, emb2, dim=-1)

    def get_config(self) -> dict[str, Any]:
        """The loss's name and settings, as the run record keeps them."""
        return {"name": self.name, "scale": self.scale}

    def extra_repr(self) -> str:
        return f"scale={self.scale}"

    def forward(self, emb1: torch.Tensor, emb2: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The ranking loss of the pairs ``(emb1[i], emb2[i])`` scored ``labels[i]``; see the class docstring."""
        scores = _check_pair(emb1, emb2, labels, type(self).__name__)
        return _rank_loss(self.similarity(emb1, emb2), scores, self.scale)


class AnglELoss(CoSENTLoss):
    r"""AnglE: CoSENT's ranking loss on the angle similarity :func:`pairwise_angle_sim` instead of the cosine.

    The angle similarity avoids the saturated zones of the cosine, where its gradient vanishes.
    As for CoSENT, only the order of the scores matters (no normalisation needed). This is
    sentence-transformers' ``AnglELoss`` on pairs (same value and gradient).

    Args:
        scale: ``λ > 0``; sentence-transformers uses 20.

    Shape:
        - emb1, emb2: ``(N, d)``; scores: ``(N,)``; output: scalar

    Reference:
        Li and Li, "AoE: Angle-optimized Embeddings for Semantic Textual Similarity", ACL 2024.
        https://aclanthology.org/2024.acl-long.101/
    """

    name = "angle"

    def similarity(self, emb1: torch.Tensor, emb2: torch.Tensor) -> torch.Tensor:
        """Row-wise angle similarity ``(N,)``."""
        return pairwise_angle_sim(emb1, emb2)


class CosineSimilarityLoss(nn.Module):
    r"""Regression of the cosine similarity of each pair onto its score: ``loss_fct(cos(u_i, v_i), y_i)``.

    The default ``loss_fct`` is the mean squared error, so the scores must lie where a cosine
    can reach them, as in sentence-transformers: ``[0, 1]`` (or ``[-1, 1]``). STS-B's 0-5
    scores must be rescaled first: read them with ``ScoredPairView(score_range=(0, 5))``, which
    maps ``[0, 5]`` onto ``[0, 1]``. This is sentence-transformers' ``CosineSimilarityLoss``
    (same value and gradient).

    Args:
        loss_fct: a module ``(predictions (N,), targets (N,)) -> scalar``; default ``nn.MSELoss()``.

    Shape:
        - emb1, emb2: ``(N, d)``; scores: ``(N,)`` float; output: scalar

    Example:
        >>> loss_fn = CosineSimilarityLoss()
        >>> e1, e2 = torch.randn(2, 3, 8).unbind(0)
        >>> loss = loss_fn(e1, e2, torch.tensor([0.9, 0.1, 0.5]))

    Reference:
        Reimers and Gurevych, "Sentence-BERT", EMNLP 2019. https://arxiv.org/abs/1908.10084
    """

    takes_labels = True

    def __init__(self, loss_fct: nn.Module | None = None) -> None:
        super().__init__()
        if loss_fct is not None and not callable(loss_fct):
            raise ValueError(f"loss_fct must be a module such as torch.nn.MSELoss(), got {loss_fct!r}")
        self.loss_fct = loss_fct if loss_fct is not None else nn.MSELoss()

    def get_config(self) -> dict[str, Any]:
        """The loss's name and settings, as the run record keeps them."""
        return {"name": "cosine_similarity", "loss_fct": type(self.loss_fct).__name__}

    def forward(self, emb1: torch.Tensor, emb2: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``loss_fct`` of the pairs' cosine similarities against their scores ``labels``."""
        scores = _check_pair(emb1, emb2, labels, type(self).__name__)
        cos = F.cosine_similarity(emb1, emb2, dim=-1)  # (N,)
        return self.loss_fct(cos, scores.to(cos.dtype))
