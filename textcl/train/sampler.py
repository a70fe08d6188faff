"""Each epoch's batches: a seeded permutation cut into (global) batches, optionally without repeated texts.

Batches without repeated texts: a text twice in a batch is a false negative of itself.

With pair or triplet data the same sentence often appears in several rows
(an NLI premise has an entailment and a contradiction, paraphrase sets list
(a, b) and (b, a)). If two such rows share a batch, InfoNCE treats one copy
as a negative of the other. :class:`NoDuplicatesSampler` builds each epoch's
*global* batches (``world_size * batch_size`` rows; rank ``r`` takes the
``r``-th slice, as :class:`EpochBatches` does) so that
no text, in any text column, appears twice in one global batch.

The order is a function of ``(seed, epoch)`` only: the epoch's permutation is
the trainer's (``torch.randperm`` seeded with ``seed + epoch``), and a row that
would repeat a text of the batch being filled is deferred to the next batch,
ahead of the rows not yet seen. :func:`batches_digest` fingerprints an epoch's
batches so a resumed run can check it replays the same ones.

Several datasets (:meth:`EpochBatches.of_datasets`): each dataset is cut into batches as one
dataset is (its permutation seeded from the run's seed and its name), and the epoch interleaves
whole batches, so a batch never mixes datasets. ``proportional`` takes every batch of every dataset
in a seeded random order (larger datasets come up more often); ``round_robin`` takes one batch of
each dataset in turn until the one with the fewest batches runs out (sentence-transformers'
``multi_dataset_batch_sampler`` names and rules).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch

from textcl.settings import check_choice
from textcl.train.config import MULTI_DATASET_BATCH_SAMPLERS

__all__ = [
    "DatasetBatch",
    "EpochBatches",
    "NoDuplicatesSampler",
    "batches_digest",
    "dataset_seed",
    "text_id",
    "text_ids",
]


def text_id(text: str) -> int:
    """A stable 63-bit integer id of a text (BLAKE2b), equal for equal strings in every process."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little") >> 1


def text_ids(columns: Sequence[Sequence[str]]) -> torch.Tensor:
    """Ids of ``k`` aligned lists of texts as a ``(n, k)`` int64 tensor (column ``j`` = list ``j``)."""
    return torch.tensor([[text_id(t) for t in col] for col in columns], dtype=torch.long).T.contiguous()


class DatasetBatch(list):
    """Row indices of one micro-batch of a multi-dataset run, all of the dataset named ``dataset``."""

    def __init__(self, dataset: str, rows: Iterable[int]) -> None:
        super().__init__(rows)
        self.dataset = dataset


def dataset_seed(seed: int, name: str) -> int:
    """The seed of one dataset's batches in a multi-dataset run: the run's seed shifted by the name's id."""
    return (seed + text_id(name)) % 2**63


def batches_digest(batches: Iterable[Sequence[int]]) -> str:
    """A short fingerprint of a list of batches of row indices (and, for a :class:`DatasetBatch`, its dataset)."""
    h = hashlib.blake2b(digest_size=16)
    for b in batches:
        if isinstance(b, DatasetBatch):
            h.update(b.dataset.encode() + b":")
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


class EpochBatches:
    """Row indices of each micro-batch of an epoch, for one rank; the same order on resume.

    With ``W`` processes each step takes the next ``W * batch_size`` rows of
    the epoch's permutation and rank ``r`` gets the ``r``-th slice of them,
    so ``W`` ranks with batch ``B`` see exactly the batches (and, after
    InfoNCE's all-gather, the row order) of one process with batch ``W * B``.
    Only full global batches are kept: the gathered labels need equal local batches.
    With ``no_duplicates`` the global batches come from :class:`NoDuplicatesSampler`
    (no text twice in a global batch, all text columns and ranks together).

    Args:
        rows: rows of the training data.
        batch_size: rows per micro-batch and rank.
        seed: the run's seed; epoch ``e`` uses the permutation seeded with ``seed + e``.
        rank, world_size: this process and the number of processes.
        no_duplicates: build batches with no repeated text.
        text_rows: returns the texts of every row (a tuple per row), read only when ``no_duplicates``.
    """

    def __init__(self, rows: int, batch_size: int, seed: int, rank: int, world_size: int, no_duplicates: bool,
                 text_rows: Callable[[], list[tuple[str, ...]]]) -> None:
        self.rows, self.batch_size, self.seed = rows, batch_size, seed
        self.rank, self.world_size, self.no_duplicates = rank, world_size, no_duplicates
        self._text_rows = text_rows
        self._sampler: NoDuplicatesSampler | None = None
        self._datasets: dict[str, EpochBatches] = {}
        self.mix = "single"

    @classmethod
    def of_datasets(cls, datasets: Mapping[str, EpochBatches], seed: int, mix: str = "proportional") -> EpochBatches:
        """The batches of several datasets, interleaved whole (each is a :class:`DatasetBatch`).

        Args:
            datasets: each dataset's own batches, by name (built with :func:`dataset_seed` and the
                same rank and world size); the names' order is the round-robin order.
            seed: the run's seed; epoch ``e`` orders the proportional draw with ``seed + e``.
            mix: ``proportional`` or ``round_robin``.
        """
        check_choice("multi_dataset_batch_sampler", mix, MULTI_DATASET_BATCH_SAMPLERS)
        if not datasets:
            raise ValueError("no datasets to sample batches from")
        first = next(iter(datasets.values()))
        out = cls(sum(d.rows for d in datasets.values()), first.batch_size, seed, first.rank, first.world_size,
                  any(d.no_duplicates for d in datasets.values()), list)
        out._datasets, out.mix = dict(datasets), mix
        return out

    def batches(self, epoch: int) -> list[list[int]]:
        """The micro-batches of ``epoch`` for this rank."""
        if self._datasets:
            return self._interleaved(epoch)
        g = torch.Generator().manual_seed(self.seed + epoch)
        order = torch.randperm(self.rows, generator=g).tolist()
        bs = self.batch_size
        if self.world_size > 1:
            bs = min(bs, len(order) // self.world_size)  # tiny data: smaller, still equal, shards
            if bs == 0:
                raise ValueError(f"the training data has {len(order)} rows, fewer than the "
                                 f"{self.world_size} processes")
            step_rows = bs * self.world_size
            if self.no_duplicates:
                return [b[self.rank * bs:(self.rank + 1) * bs] for b in self._no_duplicate_batches(step_rows, epoch)]
            return [order[i + self.rank * bs:i + (self.rank + 1) * bs]
                    for i in range(0, len(order) - step_rows + 1, step_rows)]
        if self.no_duplicates:
            return self._no_duplicate_batches(bs, epoch)
        batches = [order[i:i + bs] for i in range(0, len(order), bs)]
        if len(batches) > 1 and len(batches[-1]) < 2:  # a lone row has no in-batch negative
            batches = batches[:-1]
        return batches

    def _interleaved(self, epoch: int) -> list[list[int]]:
        """Every dataset's batches of ``epoch``, interleaved whole by ``self.mix``; the same on every rank."""
        own: dict[str, list[list[int]]] = {}
        for name, d in self._datasets.items():
            try:
                own[name] = d.batches(epoch)
            except ValueError as err:
                raise ValueError(f"dataset {name!r}: {err}") from err
        empty = [name for name, b in own.items() if not b]
        if empty:
            raise ValueError(f"dataset {empty[0]!r} gives no batch of epoch {epoch}: it has too few rows for the "
                             "batch size and number of processes; add rows or leave it out")
        if self.mix == "round_robin":
            rounds = min(len(b) for b in own.values())
            return [DatasetBatch(name, own[name][i]) for i in range(rounds) for name in own]
        names = [name for name, b in own.items() for _ in b]  # dataset k once per batch it has
        g = torch.Generator().manual_seed(self.seed + epoch)
        taken = dict.fromkeys(own, 0)
        out: list[list[int]] = []
        for i in torch.randperm(len(names), generator=g).tolist():
            name = names[i]
            out.append(DatasetBatch(name, own[name][taken[name]]))
            taken[name] += 1
        return out

    def _no_duplicate_batches(self, global_rows: int, epoch: int) -> list[list[int]]:
        """The epoch's global batches of ``global_rows`` rows with no repeated text."""
        if self._sampler is None or self._sampler.batch_size != global_rows:
            self._sampler = NoDuplicatesSampler(self._text_rows(), global_rows, self.seed,
                                                full_batches_only=self.world_size > 1)
        batches = self._sampler.batches(epoch)
        if not batches:
            raise ValueError(f"no batch of {global_rows} rows without a repeated text can be formed from the "
                             f"{self.rows} training rows: the data repeats its texts too often. Use "
                             "--allow-duplicates (TrainConfig(no_duplicates=False)) or a smaller batch size")
        return batches
