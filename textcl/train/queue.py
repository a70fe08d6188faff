"""A momentum encoder and a FIFO queue of its embeddings: extra negatives for InfoNCE (ESimCSE, MoCo).

A momentum encoder is a copy of the model whose weights trail the model's by an
exponential moving average, ``θ_m ← m θ_m + (1 - m) θ`` after every optimizer
step. After each micro-batch it embeds that batch's positives (no gradient,
dropout off), and the embeddings enter a FIFO queue of ``size`` rows. The next
batches append the queue to InfoNCE's negatives (``extra_negatives``): many more
negatives than the batch holds, at the cost of one gradient-free forward pass.
As in ESimCSE, the positives themselves still come from the trained model; the
queue only adds negatives. Under DDP every rank all-gathers the keys of the
global batch (rank order) before enqueuing, so the queue is the same on every
rank. The whole state (queue, ids, pointer, momentum-encoder weights) is in
:meth:`MomentumQueue.state_dict`, saved in training checkpoints.

Reference:
    He, Fan, Wu, Xie and Girshick, "Momentum Contrast for Unsupervised Visual
    Representation Learning", CVPR 2020. https://arxiv.org/abs/1911.05722
    Wu et al., "ESimCSE", COLING 2022, section 3.2. https://arxiv.org/abs/2109.04380
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from textcl.losses.distributed import get_world_size

__all__ = ["MomentumQueue"]


class MomentumQueue:
    """An EMA copy of ``model`` and a FIFO queue of its normalised embeddings with their text ids.

    Args:
        model: the model being trained (copied now; call :meth:`update` after each optimizer step).
        size: rows the queue holds.
        momentum: the EMA factor ``m`` in ``[0, 1)``.
        forward: optional wrapper factory applied to the copy for its forward
            pass (e.g. ``lambda m: LengthBuckets(m, 32)``), same embeddings, faster.

    Use in a training step::

        queue = MomentumQueue(model, size=256, momentum=0.995)
        negatives, ids = queue.negatives()                           # (filled, dim), (filled,)
        loss = InfoNCE()(anchor, positive, extra_negatives=negatives)
        queue.enqueue(queue.keys(positive_features), positive_ids)   # after the loss
        queue.update(model)                                          # after optimizer.step()
    """

    def __init__(self, model: torch.nn.Module, size: int, momentum: float, forward=None) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"queue size must be an int >= 1, got {size!r}")
        if not isinstance(momentum, (int, float)) or not math.isfinite(momentum) or not 0 <= momentum < 1:
            raise ValueError(f"momentum must be a number with 0 <= momentum < 1, got {momentum!r}")
        self.size, self.momentum = size, float(momentum)
        self.encoder = copy.deepcopy(model).requires_grad_(False).eval()
        self._forward = forward(self.encoder) if forward is not None else self.encoder
        device = next(model.parameters()).device
        self.embeddings = torch.zeros(size, model.embedding_dim, device=device)  # (size, dim), float32
        self.ids = torch.zeros(size, dtype=torch.long, device=device)  # (size,)
        self.ptr, self.filled = 0, 0

    def negatives(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The filled part of the queue: ``(filled, dim)`` embeddings and ``(filled,)`` text ids."""
        return self.embeddings[:self.filled], self.ids[:self.filled]

    @torch.no_grad()
    def keys(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Embed tokenized texts with the momentum encoder (eval mode): ``(n, dim)``, L2-normalised."""
        self.encoder.eval()
        return F.normalize(self._forward(features).float(), dim=-1)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor, ids: torch.Tensor) -> None:
        """Append this rank's ``(n, dim)`` keys and ``(n,)`` ids, all-gathered over ranks, oldest rows out."""
        keys = _gather(keys.float())  # (W * n, dim), rank order
        ids = _gather(ids.to(self.ids.device))  # (W * n,)
        keys, ids = keys[-self.size:], ids[-self.size:]  # a batch larger than the queue keeps its last rows
        pos = (self.ptr + torch.arange(len(keys), device=keys.device)) % self.size  # (rows,)
        self.embeddings[pos] = keys.to(self.embeddings.device)
        self.ids[pos] = ids
        self.ptr = (self.ptr + len(keys)) % self.size
        self.filled = min(self.size, self.filled + len(keys))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """One EMA step towards ``model``'s parameters; buffers are copied."""
        for (name, p_m), (other, p) in zip(self.encoder.named_parameters(), model.named_parameters()):
            if name != other:
                raise ValueError(f"the momentum encoder's parameter {name!r} does not match the model's {other!r}")
            p_m.mul_(self.momentum).add_(p.detach(), alpha=1.0 - self.momentum)
        for b_m, b in zip(self.encoder.buffers(), model.buffers()):
            b_m.copy_(b)

    def state_dict(self) -> dict[str, Any]:
        """Queue, ids, pointer, fill level, settings and momentum-encoder weights (tensors on the CPU)."""
        return {"size": self.size, "momentum": self.momentum, "ptr": self.ptr, "filled": self.filled,
                "embeddings": self.embeddings.cpu().clone(), "ids": self.ids.cpu().clone(),
                "encoder": {k: v.detach().cpu().clone() for k, v in self.encoder.state_dict().items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the size and momentum must be this queue's."""
        if state["size"] != self.size or state["momentum"] != self.momentum:
            raise ValueError(f"the checkpoint's queue has size {state['size']} and momentum {state['momentum']}, "
                             f"this run {self.size} and {self.momentum}: resume with the settings of the run")
        self.embeddings.copy_(state["embeddings"])
        self.ids.copy_(state["ids"])
        self.ptr, self.filled = int(state["ptr"]), int(state["filled"])
        self.encoder.load_state_dict(state["encoder"])


def _gather(t: torch.Tensor) -> torch.Tensor:
    """All-gather along dim 0 without gradient (identity in one process)."""
    world = get_world_size()
    if world == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)  # (W * n, ...)
