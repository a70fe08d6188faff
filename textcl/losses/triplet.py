"""Triplet margin loss on (anchor, positive, negative) embeddings."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from textcl.losses.pairwise import Distance, check_distance_and_margin, paired_distance

__all__ = ["TripletLoss"]


class TripletLoss(nn.Module):
    r"""Triplet loss: each anchor must be closer to its positive than to its
    negative by at least ``margin``.

    .. math::
        L = \frac{1}{N} \sum_i \max\big(0,\; D(a_i, p_i) - D(a_i, n_i) + m\big)

    with ``D`` the (unsquared) Euclidean distance or the cosine distance
    ``1 - cos``, as in Sentence-BERT's triplet objective.

    Args:
        margin: ``m > 0``. With ``distance="cosine"`` it must be ``<= 2``.
        distance: ``"euclidean"`` or ``"cosine"``.

    Shape:
        - anchor, positive, negative: ``(N, d)``
        - output: scalar

    Raises:
        ValueError: unknown distance (the message lists the allowed ones),
            bad margin, or mismatched shapes (named in the message).

    Example:
        >>> loss_fn = TripletLoss(margin=0.5, distance="cosine")
        >>> a, p, n = torch.randn(3, 4, 16).unbind(0)
        >>> loss = loss_fn(a, p, n)

    Reference:
        Schroff, Kalenichenko and Philbin, "FaceNet: A Unified Embedding for
        Face Recognition and Clustering", CVPR 2015.
        https://arxiv.org/abs/1503.03832
        Reimers and Gurevych, "Sentence-BERT", EMNLP 2019, section 3.
        https://arxiv.org/abs/1908.10084
    """

    def __init__(self, margin: float = 0.5, distance: Distance = "cosine") -> None:
        super().__init__()
        check_distance_and_margin(distance, margin)
        self.margin = float(margin)
        self.distance = distance

    def get_config(self) -> dict[str, Any]:
        """The loss's name and settings, as the run record keeps them."""
        return {"name": "triplet", "margin": self.margin, "distance": self.distance}

    def extra_repr(self) -> str:
        return f"margin={self.margin}, distance={self.distance!r}"

    def forward(
        self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
    ) -> torch.Tensor:
        """Mean triplet loss over the triplets ``(anchor[i], positive[i], negative[i])``.

        Args:
            anchor: ``(N, d)``.
            positive: ``(N, d)``.
            negative: ``(N, d)``.

        Returns:
            Scalar loss.
        """
        if anchor.dim() != 2 or anchor.shape[0] == 0:
            raise ValueError(
                f"anchor must have shape (N, d) with N >= 1, got {tuple(anchor.shape)}"
            )
        if positive.shape != anchor.shape or negative.shape != anchor.shape:
            raise ValueError(
                "anchor, positive and negative must have the same shape: anchor "
                f"{tuple(anchor.shape)}, positive {tuple(positive.shape)}, "
                f"negative {tuple(negative.shape)}"
            )
        d_pos = paired_distance(anchor, positive, self.distance)  # (N,)
        d_neg = paired_distance(anchor, negative, self.distance)  # (N,)
        loss = F.relu(d_pos - d_neg + self.margin).mean()
        # finite or loud: an infinite distance would be clipped to a finite loss by the hinge; 0 * inf = NaN
        # carries any non-finite input into the result (the trainer then stops with a clear error)
        return loss + 0.0 * (d_pos.sum() + d_neg.sum())
