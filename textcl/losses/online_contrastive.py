"""Online contrastive loss on labelled pairs: the margin loss of the batch's hard positives and hard negatives only."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from textcl.losses.pairwise import Distance, check_distance_and_margin, paired_distance

__all__ = ["OnlineContrastiveLoss"]


class OnlineContrastiveLoss(nn.Module):
    r"""Contrastive loss over the hard pairs of the batch (sentence-transformers' ``OnlineContrastiveLoss``).

    With ``D`` the distance of each pair, ``P`` the similar pairs (label 1) and ``Q`` the
    dissimilar ones (label 0), only the pairs that are out of order count: a similar pair farther
    apart than the closest dissimilar one, and a dissimilar pair closer than the farthest similar one:

    .. math::
        L = \sum_{i \in P,\ D_i > \min_{Q} D} D_i^2
          + \sum_{j \in Q,\ D_j < \max_{P} D} \max(0, m - D_j)^2

    (a batch without dissimilar pairs compares the similar ones with their mean distance, and
    conversely). The loss is a sum over the batch, not a mean, as in sentence-transformers.
    With ``distance="cosine"`` (the default, ``1 - cos``) it equals sentence-transformers'
    loss in value and gradient; ``"euclidean"`` is ``||x1 - x2||`` (sentence-transformers adds
    1e-6 to the difference).

    Args:
        margin: ``m > 0``; with ``distance="cosine"`` at most 2.
        distance: ``"cosine"`` or ``"euclidean"``.

    Shape:
        - x1, x2: ``(N, d)``
        - labels: ``(N,)``, values in ``{0, 1}``
        - output: scalar

    Raises:
        ValueError: a bad margin or distance, mismatched shapes, labels outside ``{0, 1}``.

    Example:
        >>> loss_fn = OnlineContrastiveLoss(margin=0.5)
        >>> x1, x2 = torch.randn(2, 4, 16).unbind(0)
        >>> loss = loss_fn(x1, x2, torch.tensor([1, 0, 1, 0]))

    Reference:
        Hadsell, Chopra and LeCun, "Dimensionality Reduction by Learning an Invariant Mapping",
        CVPR 2006; the online (hard-pair) form is sentence-transformers'.
    """

    takes_labels = True

    def __init__(self, margin: float = 0.5, distance: Distance = "cosine") -> None:
        super().__init__()
        check_distance_and_margin(distance, margin)
        self.margin = float(margin)
        self.distance = distance

    def get_config(self) -> dict[str, Any]:
        """The loss's name and settings, as the run record keeps them."""
        return {"name": "online_contrastive", "margin": self.margin, "distance": self.distance}

    def extra_repr(self) -> str:
        return f"margin={self.margin}, distance={self.distance!r}"

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Summed loss of the hard pairs among ``(x1[i], x2[i])``; see the class docstring."""
        if x1.dim() != 2 or x1.shape[0] == 0:
            raise ValueError(f"x1 must have shape (N, d) with N >= 1, got {tuple(x1.shape)}")
        if x2.shape != x1.shape:
            raise ValueError(f"x1 and x2 must have the same shape: x1 {tuple(x1.shape)}, x2 {tuple(x2.shape)}")
        labels = torch.as_tensor(labels, device=x1.device).reshape(-1)
        if labels.shape != (x1.shape[0],):
            raise ValueError(f"labels must have shape (N,) = ({x1.shape[0]},), got {tuple(labels.shape)}")
        if not ((labels == 0) | (labels == 1)).all():
            raise ValueError(f"labels must be 0 (dissimilar) or 1 (similar), got values "
                             f"{torch.unique(labels).tolist()}")
        d = paired_distance(x1, x2, self.distance)  # (N,)
        pos, neg = d[labels == 1], d[labels == 0]  # (P,), (Q,)
        with torch.no_grad():  # the thresholds only choose pairs
            neg_bound = pos.max() if len(pos) else neg.mean()
            pos_bound = neg.min() if len(neg) else pos.mean()
        hard_pos = pos[pos > pos_bound]
        hard_neg = neg[neg < neg_bound]
        return hard_pos.pow(2).sum() + F.relu(self.margin - hard_neg).pow(2).sum()
