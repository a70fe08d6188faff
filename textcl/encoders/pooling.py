"""Pooling of a transformer's token states into one sentence vector.

The closed set of modes follows SimCSE's evaluation code, with one correction
(see ``first_last_avg``).
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

__all__ = ["PoolingMode", "POOLING_MODES", "validate_pooling", "masked_mean", "masked_max", "pool"]

PoolingMode = Literal["cls", "cls_before_pooler", "mean", "max", "first_last_avg", "last2_avg"]
POOLING_MODES: tuple[str, ...] = get_args(PoolingMode)


def validate_pooling(mode: str) -> str:
    """Return ``mode`` if it is a known pooling mode, else raise ``ValueError`` listing them."""
    if mode not in POOLING_MODES:
        raise ValueError(f"unknown pooling {mode!r}: choose one of {', '.join(POOLING_MODES)}")
    return mode


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real (mask == 1) tokens.

    Shape:
        hidden: (batch, seq, dim); mask: (batch, seq); returns (batch, dim).
    """
    m = mask.unsqueeze(-1).to(hidden.dtype)  # (batch, seq, 1)
    summed = (hidden * m).sum(dim=1)  # (batch, dim)
    count = m.sum(dim=1).clamp(min=1e-9)  # (batch, 1)
    return summed / count


def masked_max(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over the real tokens (padding never wins).

    Shape:
        hidden: (batch, seq, dim); mask: (batch, seq); returns (batch, dim).
    """
    fill = torch.finfo(hidden.dtype).min
    return hidden.masked_fill(~mask.bool().unsqueeze(-1), fill).max(dim=1).values


def pool(
    mode: str,
    hidden_states: tuple[torch.Tensor, ...],
    attention_mask: torch.Tensor,
    pooler_output: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pool a transformer's outputs into sentence vectors.

    Args:
        mode: one of :data:`POOLING_MODES`:

            - ``cls``: the model's own pooler output (BERT: dense + tanh over
              the [CLS] state, which is where SimCSE's converted checkpoints put
              their MLP); the raw [CLS] state when the model has no pooler.
            - ``cls_before_pooler``: the last layer's first-token state.
            - ``mean`` / ``max``: masked mean / max of the last layer.
            - ``first_last_avg``: masked mean of the average of the *first
              transformer layer's output* (``hidden_states[1]``) and the last
              layer. SimCSE's own code averaged ``hidden_states[0]``, the
              embedding output, by mistake; textcl uses the first layer.
            - ``last2_avg``: masked mean of the average of the last two layers.
        hidden_states: the embedding output followed by each layer's output,
            each (batch, seq, dim), as returned with ``output_hidden_states=True``.
        attention_mask: (batch, seq), 1 for real tokens.
        pooler_output: (batch, dim) from the model's pooler, if it has one.

    Returns:
        (batch, dim) sentence vectors.
    """
    last = hidden_states[-1]
    if mode == "cls":
        return pooler_output if pooler_output is not None else last[:, 0]
    if mode == "cls_before_pooler":
        return last[:, 0]
    if mode == "mean":
        return masked_mean(last, attention_mask)
    if mode == "max":
        return masked_max(last, attention_mask)
    if mode == "first_last_avg":
        return masked_mean((hidden_states[1] + last) / 2, attention_mask)
    if mode == "last2_avg":
        return masked_mean((hidden_states[-2] + last) / 2, attention_mask)
    validate_pooling(mode)
    raise AssertionError("unreachable")
