"""Cross-entropy of a classification head over sentence embeddings (sentence-transformers' ``SoftmaxLoss``
for single sentences): the loss that fine-tunes an encoder and its classifier head together."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SoftmaxLoss"]


class SoftmaxLoss(nn.Module):
    """``cross_entropy(head(embeddings), labels)``; the head's weights train with the encoder.

    Args:
        head: maps ``(batch, dim)`` embeddings to ``(batch, num_labels)`` logits.
    """

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the head's logits against class ids ``labels`` (shape ``(batch,)``)."""
        return F.cross_entropy(self.head(embeddings), labels.long())

    def get_config(self) -> dict[str, Any]:
        """The loss's name and its head's settings, as the run record keeps them."""
        head = self.head.get_config() if hasattr(self.head, "get_config") else {"repr": repr(self.head)}
        return {"name": "softmax", "head": head}
