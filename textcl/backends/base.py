"""What every prepared backend is, and the error for one that cannot run here."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

__all__ = ["BackendUnavailableError", "PreparedBackend", "parameter_versions", "transformer_of"]


class BackendUnavailableError(RuntimeError):
    """A backend's packages are missing; the message says which and how to install them."""


class PreparedBackend(ABC):
    """A model's eval-mode forward pass, run by some engine.

    Subclasses own their copy of the weights; calling one never changes the
    model it was prepared from.
    """

    #: the backend's name, one of :data:`textcl.backends.BACKENDS`.
    name: str

    @abstractmethod
    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Embed a tokenized batch.

        Args:
            features: ``input_ids`` and ``attention_mask`` (and ``token_type_ids``
                when the tokenizer makes them), each (batch, seq).

        Returns:
            (batch, dim) float32 embeddings on the CPU, not normalised.
        """


def parameter_versions(model: torch.nn.Module) -> tuple[tuple[int, int], ...]:
    """``(id, in-place version)`` of every parameter: changes when the weights do.

    Every in-place update (an optimiser step, ``load_state_dict``, ``fill_``)
    bumps a tensor's version counter, and replacing a parameter changes its id,
    so a cached backend can tell that it is stale without hashing the weights.
    """
    return tuple((id(p), p._version) for p in model.parameters())


def transformer_of(model: Any) -> Any:
    """The :class:`textcl.encoders.TransformerEncoder` inside ``model``, or a clear error."""
    encoder = getattr(model, "encoder", None)
    if getattr(encoder, "kind", None) != "transformer":
        kind = getattr(encoder, "kind", type(encoder).__name__)
        raise ValueError(f"the ONNX backends run transformer encoders only, this model's encoder is "
                         f"{kind!r}: use backend='torch'")
    return encoder
