"""SimCSE's projection head: Linear + Tanh over the pooled sentence vector."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["ProjectionHead"]


class ProjectionHead(nn.Module):
    """The MLP SimCSE puts on top of the pooled vector during training.

    Args:
        dim: input and output size (the encoder's embedding size).
        mlp_only_train: apply the head only in training mode and return the
            pooled vector unchanged at inference (SimCSE's unsupervised recipe).

    Shape:
        (batch, dim) -> (batch, dim)
    """

    def __init__(self, dim: int, mlp_only_train: bool = False) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.mlp_only_train = mlp_only_train
        self.dense = nn.Linear(dim, dim)
        self.activation = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mlp_only_train and not self.training:
            return x
        return self.activation(self.dense(x))

    def get_config(self) -> dict[str, Any]:
        """Settings that rebuild this head."""
        return {"dim": self.dim, "mlp_only_train": self.mlp_only_train}
