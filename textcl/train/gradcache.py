"""Gradient caching (Gao et al., 2021): a large contrastive batch in the memory of a small one.

The loss of an in-batch-negatives objective couples every row, so the batch
cannot simply be split. GradCache splits the *computation* instead:

1. embed the batch chunk by chunk without a graph, remembering each chunk's
   random state;
2. compute the loss on the detached embeddings and backpropagate to them
   (cheap: only (rows, dim) tensors);
3. re-embed each chunk with a graph, replaying its random state so dropout
   draws the same masks as in step 1, and backpropagate the cached embedding
   gradient through it.

The parameter gradient equals that of one full-graph pass over the same chunks.
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch

__all__ = ["RandomState", "gradcache_backward", "split_features"]


class RandomState:
    """Capture the CPU (and CUDA) generator state now; ``replay()`` restores it for a block."""

    def __init__(self) -> None:
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    @contextlib.contextmanager
    def replay(self):
        """Run a block with the captured state, then put the generators back as they were."""
        devices = list(range(torch.cuda.device_count())) if self.cuda is not None else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu)
            if self.cuda is not None:
                torch.cuda.set_rng_state_all(self.cuda)
            yield


def split_features(features: dict[str, torch.Tensor], chunk: int) -> list[dict[str, torch.Tensor]]:
    """Split a tokenized batch into row chunks of at most ``chunk`` rows.

    Shape:
        each value (rows, seq) -> list of (<= chunk, seq)
    """
    rows = next(iter(features.values())).shape[0]
    return [{k: v[i:i + chunk] for k, v in features.items()} for i in range(0, rows, chunk)]


def gradcache_backward(embed: Callable[[dict[str, torch.Tensor]], torch.Tensor],
                       features: dict[str, torch.Tensor], chunk: int,
                       loss_fn: Callable[[torch.Tensor], torch.Tensor],
                       no_sync: Callable[[], contextlib.AbstractContextManager] | None = None,
                       sync: bool = True,
                       autocast_ctx: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                       ) -> torch.Tensor:
    """Backpropagate ``loss_fn(embed(features))`` chunk by chunk; return the (detached) loss.

    Args:
        embed: the model's forward (tokenized features -> embeddings).
        features: the whole tokenized batch, (rows, seq) tensors.
        chunk: rows per forward pass.
        loss_fn: maps all embeddings (rows, dim) to a scalar loss; already
            divided by any gradient-accumulation factor.
        no_sync: for DistributedDataParallel, ``model.no_sync``; gradients are
            then all-reduced only on the last chunk, and only when ``sync``.
        sync: whether this backward ends an optimizer step (the last micro-batch of a
            gradient-accumulation cycle); when False no chunk is all-reduced.
        autocast_ctx: a factory of the precision context for the forward passes.

    Returns:
        The scalar loss (no graph).
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    chunks = split_features(features, chunk)
    states, cached = [], []
    with torch.no_grad():
        for part in chunks:
            states.append(RandomState())
            with autocast_ctx():
                cached.append(embed(part).float())
    reps = torch.cat(cached).requires_grad_(True)  # (rows, dim), leaf
    loss = loss_fn(reps)
    loss.backward()
    grads = reps.grad.split([c.shape[0] for c in cached])
    for i, (part, state, grad) in enumerate(zip(chunks, states, grads)):
        reduce_now = no_sync is None or (sync and i == len(chunks) - 1)
        with (contextlib.nullcontext() if reduce_now else no_sync()), state.replay():
            with autocast_ctx():
                emb = embed(part).float()
            # d(loss)/d(theta) = sum over rows of d(loss)/d(emb) . d(emb)/d(theta)
            torch.dot(emb.flatten(), grad.flatten()).backward()
    return loss.detach()
