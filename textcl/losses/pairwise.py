"""Margin-based contrastive loss on labelled pairs (Hadsell, Chopra and LeCun, 2006)."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from textcl.settings import check_float

__all__ = ["PairwiseContrastiveLoss", "paired_distance", "DISTANCES"]

Distance = Literal["euclidean", "cosine"]
DISTANCES: tuple[str, ...] = ("euclidean", "cosine")


def paired_distance(x1: torch.Tensor, x2: torch.Tensor, distance: Distance) -> torch.Tensor:
    """Distance between row ``i`` of ``x1`` and row ``i`` of ``x2``.

    ``"euclidean"`` is ``||x1 - x2||_2`` with a zero (not NaN) gradient where
    the two rows coincide; ``"cosine"`` is ``1 - cos(x1, x2)``, in ``[0, 2]``.

    Args:
        x1: first embeddings.
        x2: second embeddings.
        distance: ``"euclidean"`` or ``"cosine"``.

    Shape:
        - x1, x2: ``(N, d)``
        - output: ``(N,)``
    """
    if distance == "euclidean":
        squared = (x1 - x2).pow(2).sum(dim=-1)  # (N,)
        positive = squared != 0  # not "> 0": a NaN must stay NaN (finite or loud), never become distance 0
        # sqrt has an infinite derivative at 0 and where() would turn 0 * inf
        # into NaN: take the sqrt of a safe value and select afterwards.
        safe = torch.where(positive, squared, torch.ones_like(squared))
        return torch.where(positive, safe.sqrt(), torch.zeros_like(squared))
    if distance == "cosine":
        return 1.0 - F.cosine_similarity(x1, x2, dim=-1)  # (N,)
    raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")


def check_distance_and_margin(distance: str, margin: float) -> None:
    """Raise ``ValueError`` unless ``distance`` is known and ``margin`` fits it."""
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    check_float("margin", margin, exclusive_minimum=True)
    if distance == "cosine" and margin > 2:
        raise ValueError(
            f"margin must be <= 2 with distance='cosine' (1 - cos lies in [0, 2]), got {margin}"
        )


class PairwiseContrastiveLoss(nn.Module):
    r"""Contrastive loss on labelled pairs: pull similar pairs together, push
    dissimilar pairs at least ``margin`` apart.

    With ``y = 1`` for a similar pair, ``y = 0`` for a dissimilar one and
    ``D`` the distance between the two embeddings (Hadsell et al. 2006,
    eq. 4, with the label convention flipped: the paper uses ``Y = 0`` for
    similar pairs):

    .. math::
        L = y \tfrac{1}{2} D^2 + (1 - y) \tfrac{1}{2} \max(0, m - D)^2

    averaged over the batch.

    Args:
        margin: ``m > 0``; dissimilar pairs farther apart than ``m`` cost
            nothing. With ``distance="cosine"`` it must be ``<= 2``.
        distance: ``"euclidean"`` (``||x1 - x2||``, as in the paper) or
            ``"cosine"`` (``1 - cos(x1, x2)``, the usual choice for sentence
            embeddings compared by cosine similarity).

    Shape:
        - x1: ``(N, d)``
        - x2: ``(N, d)``
        - labels: ``(N,)``, values in ``{0, 1}`` (bool, int or float)
        - output: scalar

    Raises:
        ValueError: unknown distance (the message lists the allowed ones),
            bad margin, mismatched shapes or labels outside ``{0, 1}``.

    Example:
        >>> loss_fn = PairwiseContrastiveLoss(margin=0.5, distance="cosine")
        >>> x1, x2 = torch.randn(2, 4, 16).unbind(0)
        >>> loss = loss_fn(x1, x2, torch.tensor([1, 0, 1, 0]))

    Reference:
        Hadsell, Chopra and LeCun, "Dimensionality Reduction by Learning an
        Invariant Mapping", CVPR 2006. https://doi.org/10.1109/CVPR.2006.100
    """

    def __init__(self, margin: float = 0.5, distance: Distance = "cosine") -> None:
        super().__init__()
        check_distance_and_margin(distance, margin)
        self.margin = float(margin)
        self.distance = distance

    def get_config(self) -> dict[str, Any]:
        """The loss's name and settings, as the run record keeps them."""
        return {"name": "pairwise", "margin": self.margin, "distance": self.distance}

    def extra_repr(self) -> str:
        return f"margin={self.margin}, distance={self.distance!r}"

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        """Mean contrastive loss over the pairs ``(x1[i], x2[i])``.

        Args:
            x1: ``(N, d)`` first embeddings.
            x2: ``(N, d)`` second embeddings.
            labels: ``(N,)``, 1 = similar, 0 = dissimilar.

        Returns:
            Scalar loss.
        """
        if x1.dim() != 2 or x1.shape[0] == 0:
            raise ValueError(f"x1 must have shape (N, d) with N >= 1, got {tuple(x1.shape)}")
        if x2.shape != x1.shape:
            raise ValueError(
                f"x1 and x2 must have the same shape: x1 {tuple(x1.shape)}, x2 {tuple(x2.shape)}"
            )
        labels = torch.as_tensor(labels, device=x1.device)
        if labels.shape != (x1.shape[0],):
            raise ValueError(
                f"labels must have shape (N,) = ({x1.shape[0]},) to match x1 "
                f"{tuple(x1.shape)}, got {tuple(labels.shape)}"
            )
        if not ((labels == 0) | (labels == 1)).all():
            raise ValueError(
                "labels must be 0 (dissimilar) or 1 (similar), got values "
                f"{torch.unique(labels).tolist()}"
            )
        y = labels.to(x1.dtype)  # (N,)
        d = paired_distance(x1, x2, self.distance)  # (N,)
        similar = 0.5 * d.pow(2)
        dissimilar = 0.5 * F.relu(self.margin - d).pow(2)
        loss = (y * similar + (1 - y) * dissimilar).mean()
        return loss + 0.0 * d.sum()  # finite or loud: the hinge would clip an infinite distance (0 * inf = NaN)
