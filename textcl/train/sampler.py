"""Batches without repeated texts: a text twice in a batch is a false negative of itself.

With pair or triplet data the same sentence often appears in several rows
(an NLI premise has an entailment and a contradiction, paraphrase sets list
(a, b) and (b, a)). If two such rows share a batch, InfoNCE treats one copy
as a negative of the other. :class:`NoDuplicatesSampler` builds each epoch's
*global* batches (``world_size * batch_size`` rows; rank ``r`` takes the
``r``-th slice, as :meth:`textcl.train.trainer.Trainer._batches` does) so that
no text, in any text column, appears twice in one global batch.

The order is a function of ``(seed, epoch)`` only: the epoch's permutation is
the trainer's (``torch.randperm`` seeded with ``seed + epoch``), and a row that
would repeat a text of the batch being filled is deferred to the next batch,
ahead of the rows not yet seen. :func:`batches_digest` fingerprints an epoch's
batches so a resumed run can check it replays the same ones.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import Iterable, Sequence

import torch

__all__ = ["text_id", "text_ids", "NoDuplicatesSampler", "batches_digest"]


def text_id(text: str) -> int:
    """A stable 63-bit integer id of a text (BLAKE2b), equal for equal strings in every process."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little") >> 1


def text_ids(columns: Sequence[Sequence[str]]) -> torch.Tensor:
    """Ids of ``k`` aligned lists of texts as a ``(n, k)`` int64 tensor (column ``j`` = list ``j``)."""
    return torch.tensor([[text_id(t) for t in col] for col in columns], dtype=torch.long).T.contiguous()


def batches_digest(batches: Iterable[Sequence[int]]) -> str:
    """A short fingerprint of a list of batches of row indices."""
    h = hashlib.blake2b(digest_size=16)
    for b in batches:
        h.update(",".join(map(str, b)).encode())
        h.update(b";")
    return h.hexdigest()


class NoDuplicatesSampler:
    """Global batches in which no text appears twice.

    Args:
        rows: for each data row, its texts (every text column); texts within one
            row may be equal (a row never conflicts with itself).
        batch_size: rows per global batch (``world_size * per-process batch``).
        seed: with the epoch, seeds the permutation.
        full_batches_only: drop batches shorter than ``batch_size`` (needed under
            DDP, where every rank must get an equal slice); otherwise a short
            batch is kept when it has at least 2 rows.

    Raises:
        ValueError: ``batch_size < 1`` or no rows.

    Example:
        >>> s = NoDuplicatesSampler([("a", "b"), ("a", "c"), ("d", "e"), ("f", "g")], batch_size=2, seed=0)
        >>> all(len({t for r in b for t in [("a", "b"), ("a", "c"), ("d", "e"), ("f", "g")][r]}) == 4
        ...     for b in s.batches(0))
        True
    """

    def __init__(self, rows: Sequence[Sequence[str]], batch_size: int, seed: int,
                 full_batches_only: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not rows:
            raise ValueError("no rows to sample batches from")
        self.keys = [frozenset(text_id(t) for t in row) for row in rows]
        self.batch_size, self.seed, self.full_batches_only = batch_size, seed, full_batches_only

    def batches(self, epoch: int) -> list[list[int]]:
        """The global batches of ``epoch``, in order (each a list of row indices)."""
        g = torch.Generator().manual_seed(self.seed + epoch)
        pending = deque(torch.randperm(len(self.keys), generator=g).tolist())
        out: list[list[int]] = []
        while pending:
            batch: list[int] = []
            seen: set[int] = set()
            deferred: list[int] = []
            while pending and len(batch) < self.batch_size:
                row = pending.popleft()
                if seen.isdisjoint(self.keys[row]):
                    batch.append(row)
                    seen.update(self.keys[row])
                else:
                    deferred.append(row)
            pending.extendleft(reversed(deferred))  # deferred rows open the next batch, in their order
            if len(batch) == self.batch_size or (not self.full_batches_only and len(batch) >= 2):
                out.append(batch)
        return out
