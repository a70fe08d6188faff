"""Positive views: how a batch of rows becomes the texts the encoder sees.

A view turns rows (tuples of column values) into aligned lists of texts,
``[anchors, positives, (hard negatives)]``, plus labels for labelled pairs.
The other rows of the batch are the negatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

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


class View:
    """Base class: ``num_columns`` columns per row in, a :class:`ViewBatch` out."""

    name: str = ""
    num_columns: int = 0

    def __call__(self, rows: Sequence[Sequence[Any]]) -> ViewBatch:
        for i, row in enumerate(rows):
            if len(row) != self.num_columns:
                raise ValueError(f"{type(self).__name__} needs {self.num_columns} column(s) per row, "
                                 f"row {i} has {len(row)}")
        return self._make(rows)

    def _make(self, rows: Sequence[Sequence[Any]]) -> ViewBatch:
        raise NotImplementedError


class DropoutView(View):
    """Unsupervised SimCSE: each sentence is its own positive.

    The same list is returned twice; encoding both copies in one forward pass
    in training mode gives two different dropout masks, hence two views.
    """

    name, num_columns = "dropout", 1

    def _make(self, rows: Sequence[Sequence[Any]]) -> ViewBatch:
        texts = [r[0] for r in rows]
        return ViewBatch([texts, texts])


class PairView(View):
    """(anchor, positive) rows, e.g. paraphrase pairs."""

    name, num_columns = "pair", 2

    def _make(self, rows: Sequence[Sequence[Any]]) -> ViewBatch:
        return ViewBatch([[r[0] for r in rows], [r[1] for r in rows]])


class TripletView(View):
    """(anchor, positive, hard negative) rows, e.g. NLI (premise, entailment, contradiction)."""

    name, num_columns = "triplet", 3

    def _make(self, rows: Sequence[Sequence[Any]]) -> ViewBatch:
        return ViewBatch([[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]])


class LabeledPairView(View):
    """(text1, text2, label) rows for the pairwise margin loss; label 1 = similar, 0 = dissimilar."""

    name, num_columns = "labeled_pair", 3

    def _make(self, rows: Sequence[Sequence[Any]]) -> ViewBatch:
        try:
            labels = torch.tensor([float(r[2]) for r in rows])
        except (TypeError, ValueError) as err:
            raise ValueError(f"labeled_pair view: the third column must hold 0/1 labels ({err})") from err
        return ViewBatch([[r[0] for r in rows], [r[1] for r in rows]], labels)


VIEWS: dict[str, type[View]] = {v.name: v for v in (DropoutView, PairView, TripletView, LabeledPairView)}


def make_view(name: str) -> View:
    """Build a view by name (``dropout``, ``pair``, ``triplet``, ``labeled_pair``)."""
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r}: choose one of {', '.join(VIEWS)}")
    return VIEWS[name]()
