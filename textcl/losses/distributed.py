"""Cross-rank helpers the losses use: rank, world size and an all-gather that keeps gradients.

They live next to the losses (the losses gather their negatives across ranks) so that
``textcl.losses`` never imports the training package; :mod:`textcl.train.distributed`
re-exports them beside the process-group set-up.
"""

from __future__ import annotations

import warnings

import torch
import torch.distributed as dist

__all__ = ["is_distributed", "get_rank", "get_world_size", "gather_with_grad"]


def is_distributed() -> bool:
    """Whether a default process group is initialised in this process."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """Global rank of this process (``0`` when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    """Number of processes in the default group (``1`` when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """All-gather ``tensor`` from every rank, keeping autograd to every rank's input.

    The forward pass concatenates the tensors of ranks ``0 .. W-1`` along
    dim 0, so rows ``r * n .. (r + 1) * n - 1`` of the result are rank ``r``'s
    rows. The backward pass *sums* over ranks the gradient that flows into
    each rank's slice and hands that sum to the rank that owns the slice, so a
    loss computed on every rank from the gathered tensor trains every rank's
    encoder through every other rank's loss.

    Every rank must call this with a tensor of the same shape (the collective
    would fail or hang otherwise) and every rank must later run backward
    through it, since backward is itself a collective.

    Args:
        tensor: this rank's tensor, shape ``(n, *)``.

    Returns:
        ``tensor`` itself when not distributed or with a single process,
        otherwise the gathered tensor.

    Shape:
        - tensor: ``(n, *)``
        - output: ``(world_size * n, *)``
    """
    if get_world_size() == 1:
        return tensor
    # torch marks the autograd-aware all_gather as deprecated in favour of a
    # private functional collective; it still works and is the documented
    # public op with a backward, so silence its warning once per call here
    # rather than in every training step's log.
    from torch.distributed.nn.functional import all_gather

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*all_gather is deprecated", category=FutureWarning
        )
        parts = all_gather(tensor)  # world_size tensors of shape (n, *)
    return torch.cat(parts, dim=0)  # (world_size * n, *)
