"""Positive views: how a batch of columns becomes the texts the encoder sees.

A view declares the columns it reads (``columns``, in order; ``text_columns`` are
the ones holding sentences) and turns one batch of them, column by column, into
aligned lists of texts ``[anchors, positives, (hard negatives)]`` plus labels
for labelled pairs. The other rows of the batch are the negatives.

Example:
    >>> DropoutView()({"text": ["a man plays.", "a dog runs."]}).texts
    [['a man plays.', 'a dog runs.'], ['a man plays.', 'a dog runs.']]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

import torch

__all__ = ["ViewBatch", "View", "DropoutView", "PairView", "TripletView", "LabeledPairView",
           "VIEWS", "make_view"]


@dataclass
class ViewBatch:
    """Texts to encode for one batch.

    Attributes:
        texts: ``k`` aligned lists of ``batch`` sentences (k = 2 or 3); the
            trainer encodes them and passes the ``k`` embedding tensors, in
            order, to the loss.
        labels: (batch,) float labels for labelled pairs, else None.
    """

    texts: list[list[str]]
    labels: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        """Rows in the batch (sentences per view)."""
        return len(self.texts[0])


class View:
    """Base class: the columns named in ``columns`` in, a :class:`ViewBatch` out.

    Attributes:
        columns: the columns the view reads, in order; data columns are matched
            to them by position.
        text_columns: the subset of ``columns`` holding sentences.
    """

    columns: ClassVar[tuple[str, ...]] = ()
    text_columns: ClassVar[tuple[str, ...]] = ()

    def __call__(self, batch: Mapping[str, Sequence[Any]]) -> ViewBatch:
        missing = [c for c in self.columns if c not in batch]
        if missing:
            raise ValueError(f"{type(self).__name__} reads columns {', '.join(self.columns)}; the batch lacks "
                             f"{', '.join(missing)}")
        sizes = {c: len(batch[c]) for c in self.columns}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"{type(self).__name__}: columns of different lengths {sizes}")
        return self._make(batch)

    def _make(self, batch: Mapping[str, Sequence[Any]]) -> ViewBatch:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class DropoutView(View):
    """Unsupervised SimCSE: each sentence is its own positive.

    The same list is returned twice; encoding both copies in one forward pass
    in training mode gives two different dropout masks, hence two views.
    """

    columns = text_columns = ("text",)

    def _make(self, batch: Mapping[str, Sequence[Any]]) -> ViewBatch:
        texts = list(batch["text"])
        return ViewBatch([texts, texts])


class PairView(View):
    """(anchor, positive) rows, e.g. paraphrase pairs."""

    columns = text_columns = ("anchor", "positive")

    def _make(self, batch: Mapping[str, Sequence[Any]]) -> ViewBatch:
        return ViewBatch([list(batch["anchor"]), list(batch["positive"])])


class TripletView(View):
    """(anchor, positive, hard negative) rows, e.g. NLI (premise, entailment, contradiction)."""

    columns = text_columns = ("anchor", "positive", "negative")

    def _make(self, batch: Mapping[str, Sequence[Any]]) -> ViewBatch:
        return ViewBatch([list(batch["anchor"]), list(batch["positive"]), list(batch["negative"])])


class LabeledPairView(View):
    """(text1, text2, label) rows for the pairwise margin loss; label 1 = similar, 0 = dissimilar."""

    columns = ("text1", "text2", "label")
    text_columns = ("text1", "text2")

    def _make(self, batch: Mapping[str, Sequence[Any]]) -> ViewBatch:
        try:
            labels = torch.tensor([float(v) for v in batch["label"]])
        except (TypeError, ValueError) as err:
            raise ValueError(f"labeled_pair view: the label column must hold 0/1 labels ({err})") from err
        return ViewBatch([list(batch["text1"]), list(batch["text2"])], labels)


VIEWS: dict[str, type[View]] = {"dropout": DropoutView, "pair": PairView, "triplet": TripletView,
                                "labeled_pair": LabeledPairView}


def make_view(name: str) -> View:
    """Build a view by its CLI name (``dropout``, ``pair``, ``triplet``, ``labeled_pair``)."""
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r}: choose one of {', '.join(VIEWS)}")
    return VIEWS[name]()
