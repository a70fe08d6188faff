"""The ``torch`` backend: the model's own float32 forward pass."""

from __future__ import annotations

from typing import Any

import torch

from textcl.backends.base import PreparedBackend

__all__ = ["TorchBackend"]


class TorchBackend(PreparedBackend):
    """Runs ``model(features)`` in eval mode, float32, without gradients.

    It holds the model itself (no copy): it is the reference the other
    backends are measured against.

    Args:
        model: a :class:`textcl.SentenceEncoder`.
    """

    name = "torch"

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        was_training = self.model.training
        self.model.eval()
        try:
            device = self.model.device
            with torch.no_grad():
                out = self.model({k: v.to(device) for k, v in features.items()})  # (batch, dim)
        finally:
            self.model.train(was_training)
        return out.float().cpu()
