"""Classification heads that map a sentence embedding to class logits.

Two closed modes: ``linear`` (a probe: one ``nn.Linear``) and ``mlp`` (Linear →
GELU → Dropout → Linear). :func:`build_head` validates the mode up front and
each head's :meth:`get_config` rebuilds it exactly.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import torch
from torch import nn

from textcl.settings import check_int

__all__ = ["HeadType", "HEAD_TYPES", "validate_head", "LinearHead", "MLPHead", "build_head"]

HeadType = Literal["linear", "mlp"]
HEAD_TYPES: tuple[str, ...] = get_args(HeadType)


def validate_head(head: str) -> str:
    """Return ``head`` if it is a known head type, else raise ``ValueError`` listing them."""
    if head not in HEAD_TYPES:
        raise ValueError(f"unknown head {head!r}: choose one of {', '.join(HEAD_TYPES)}")
    return head


def _check_sizes(in_dim: int, num_labels: int, dropout: float) -> None:
    if in_dim < 1:
        raise ValueError(f"in_dim must be >= 1, got {in_dim}")
    if num_labels < 2:
        raise ValueError(f"num_labels must be >= 2 (a classifier needs two classes), got {num_labels}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


class LinearHead(nn.Module):
    """Dropout then one linear layer: logistic regression over the embedding.

    Args:
        in_dim: embedding size.
        num_labels: number of classes (>= 2).
        dropout: dropout on the embedding in training (0 = none).

    Shape:
        (batch, in_dim) -> (batch, num_labels)

    Example:
        >>> head = LinearHead(384, 2)
        >>> head(torch.randn(8, 384)).shape
        torch.Size([8, 2])
    """

    head_type = "linear"

    def __init__(self, in_dim: int, num_labels: int, dropout: float = 0.0) -> None:
        super().__init__()
        _check_sizes(in_dim, num_labels, dropout)
        self.in_dim, self.num_labels, self.dropout_p = in_dim, num_labels, dropout
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_dim, num_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(x))

    def get_config(self) -> dict[str, Any]:
        """Settings that rebuild this head (``build_head(**config)``)."""
        return {"head": self.head_type, "in_dim": self.in_dim, "num_labels": self.num_labels,
                "dropout": self.dropout_p}


class MLPHead(nn.Module):
    """A one-hidden-layer MLP: Dropout → Linear → GELU → Dropout → Linear.

    Args:
        in_dim: embedding size.
        num_labels: number of classes (>= 2).
        hidden_dim: hidden layer size (default: ``in_dim``).
        dropout: dropout before each linear layer in training.

    Shape:
        (batch, in_dim) -> (batch, hidden_dim) -> (batch, num_labels)
    """

    head_type = "mlp"

    def __init__(self, in_dim: int, num_labels: int, hidden_dim: int | None = None, dropout: float = 0.1) -> None:
        super().__init__()
        _check_sizes(in_dim, num_labels, dropout)
        hidden_dim = in_dim if hidden_dim is None else hidden_dim
        check_int("hidden_dim", hidden_dim)
        self.in_dim, self.num_labels, self.hidden_dim, self.dropout_p = in_dim, num_labels, hidden_dim, dropout
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden_dim), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(hidden_dim, num_labels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def get_config(self) -> dict[str, Any]:
        """Settings that rebuild this head (``build_head(**config)``)."""
        return {"head": self.head_type, "in_dim": self.in_dim, "num_labels": self.num_labels,
                "hidden_dim": self.hidden_dim, "dropout": self.dropout_p}


def build_head(head: str, in_dim: int, num_labels: int, dropout: float | None = None,
               hidden_dim: int | None = None) -> LinearHead | MLPHead:
    """Build a head by type.

    Args:
        head: ``"linear"`` or ``"mlp"``.
        in_dim: embedding size.
        num_labels: number of classes.
        dropout: dropout (default: 0 for ``linear``, 0.1 for ``mlp``).
        hidden_dim: MLP hidden size (``mlp`` only; default ``in_dim``).

    Raises:
        ValueError: an unknown head, bad sizes, or ``hidden_dim`` with a linear head.
    """
    validate_head(head)
    if head == "linear":
        if hidden_dim is not None:
            raise ValueError("hidden_dim is for the mlp head; the linear head has no hidden layer")
        return LinearHead(in_dim, num_labels, 0.0 if dropout is None else dropout)
    return MLPHead(in_dim, num_labels, hidden_dim, 0.1 if dropout is None else dropout)
