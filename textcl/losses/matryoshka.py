"""Matryoshka loss: any textcl loss applied to the embeddings truncated to several sizes, summed with weights."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from textcl.settings import check_float, check_int

__all__ = ["MatryoshkaLoss", "shrink"]


def shrink(embeddings: torch.Tensor, dim: int) -> torch.Tensor:
    """The first ``dim`` dimensions of each vector, L2-normalised (float16 / bfloat16 normalised in float32).

    Shape: ``(..., d)`` -> ``(..., dim)``.
    """
    kept = embeddings[..., :dim]
    if kept.dtype in (torch.float16, torch.bfloat16):
        return F.normalize(kept.float(), dim=-1).to(kept.dtype)
    return F.normalize(kept, dim=-1)


def _takes_labels(loss: nn.Module) -> bool:
    """Whether ``loss`` is called with labels after its embeddings (``takes_labels``, or a ``labels`` parameter)."""
    declared = getattr(loss, "takes_labels", None)
    if declared is not None:
        return bool(declared)
    try:
        return "labels" in inspect.signature(loss.forward).parameters
    except (TypeError, ValueError):
        return False


class MatryoshkaLoss(nn.Module):
    r"""Train embeddings whose leading dimensions are embeddings too (Matryoshka representation learning).

    For each size ``m`` in ``dims``, every embedding is truncated to its first ``m`` dimensions and
    L2-normalised, the inner loss is computed on those, and the losses are summed with ``weights``:

    .. math::
        L = \sum_{m} w_m \, \mathrm{loss}\big(\mathrm{norm}(u_{:m}), \mathrm{norm}(v_{:m}), \dots\big)

    as sentence-transformers' ``MatryoshkaLoss`` does (same value and gradient for the same inner
    loss). Whatever tensor the inner loss takes as an embedding is truncated: the positional
    embeddings, hard negatives ``(N, k, d)`` and ``extra_negatives``; labels pass unchanged,
    except teacher vectors (labels whose last size is the full dimension), which are truncated
    but not normalised, as in sentence-transformers. Other keyword arguments (``text_ids``,
    ``texts``) pass through, and the inner loss's attributes (``mask_duplicates``, ``needs_texts``)
    are this loss's too. A model trained this way is encoded at a smaller size with
    ``model.encode(texts, truncate_dim=m)``; include the full dimension in ``dims`` so that the
    untruncated embedding is trained as well.

    Args:
        loss: any textcl loss taking embeddings (``InfoNCE``, ``CoSENTLoss``, ``MSELoss``, ...).
        dims: the sizes, e.g. ``[384, 256, 128, 64]``; each ``>= 1`` and at most the embedding
            dimension (checked on the first call). Kept sorted from largest to smallest.
        weights: one weight ``>= 0`` per size (default 1 each).

    Raises:
        ValueError: no dims, a size that is not a positive int, weights of another length or
            negative; in ``forward``, a size above the embedding dimension.

    Example:
        >>> loss_fn = MatryoshkaLoss(InfoNCE(), dims=[32, 16, 8])
        >>> a, p = torch.randn(2, 4, 32).unbind(0)
        >>> loss = loss_fn(a, p)

    Reference:
        Kusupati et al., "Matryoshka Representation Learning", NeurIPS 2022.
        https://arxiv.org/abs/2205.13147
    """

    def __init__(self, loss: nn.Module, dims: Sequence[int], weights: Sequence[float] | None = None) -> None:
        super().__init__()
        if not callable(loss):
            raise ValueError(f"loss must be a textcl loss module (InfoNCE(), CoSENTLoss(), ...), got {loss!r}")
        if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence) or not dims:
            raise ValueError(f"dims must be a non-empty list of embedding sizes such as [384, 256, 128, 64], "
                             f"got {dims!r}")
        dims = [check_int("matryoshka_dims", d) for d in dims]
        if weights is None:
            weights = [1.0] * len(dims)
        if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence) or len(weights) != len(dims):
            raise ValueError(f"weights must hold one number per size ({len(dims)}), got {weights!r}")
        weights = [check_float("matryoshka_weights", w) for w in weights]
        ordered = sorted(zip(dims, weights), key=lambda dw: dw[0], reverse=True)
        self.loss = loss
        self.dims = tuple(d for d, _ in ordered)
        self.weights = tuple(w for _, w in ordered)
        self.takes_labels = _takes_labels(loss)

    @property
    def matryoshka_dims(self) -> tuple[int, ...]:
        """The sizes trained, largest first (what the saved model's card records)."""
        return self.dims

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("_") or name in ("loss", "dims", "weights"):
                raise
            return getattr(self._modules["loss"], name)  # mask_duplicates, needs_texts, ... of the inner loss

    def get_config(self) -> dict[str, Any]:
        """The sizes, their weights and the inner loss's config, as the run record keeps them."""
        inner = self.loss.get_config() if hasattr(self.loss, "get_config") else {"repr": repr(self.loss)}
        return {"name": "matryoshka", "dims": list(self.dims), "weights": list(self.weights), "loss": inner}

    def extra_repr(self) -> str:
        return f"dims={list(self.dims)}, weights={list(self.weights)}"

    def forward(self, *inputs: Any, **kwargs: Any) -> torch.Tensor:
        """The weighted sum of the inner loss over the truncated sizes; arguments as the inner loss takes them."""
        embeddings, labels = (inputs[:-1], inputs[-1]) if self.takes_labels else (inputs, None)
        if not embeddings or not isinstance(embeddings[0], torch.Tensor):
            raise ValueError("MatryoshkaLoss takes the inner loss's embeddings first, got none")
        full = embeddings[0].shape[-1]
        too_big = [d for d in self.dims if d > full]
        if too_big:
            raise ValueError(f"matryoshka dims {too_big} exceed the embedding dimension {full}: use sizes <= {full}")
        teacher = (isinstance(labels, torch.Tensor) and labels.is_floating_point() and labels.dim() in (2, 3)
                   and labels.shape[-1] == full)
        total: torch.Tensor | float = 0.0
        for dim, weight in zip(self.dims, self.weights):
            args = [shrink(e, dim) if isinstance(e, torch.Tensor) else e for e in embeddings]
            if self.takes_labels:
                args.append(labels[..., :dim] if teacher else labels)
            extra = {k: shrink(v, dim) if k == "extra_negatives" and isinstance(v, torch.Tensor) else v
                     for k, v in kwargs.items()}
            total = total + weight * self.loss(*args, **extra)
        return total
