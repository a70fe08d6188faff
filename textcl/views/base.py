"""Base views: how a batch of columns becomes the texts the encoder sees.

A view declares the columns it reads (``columns``, in order; ``text_columns`` are
the ones holding sentences) and turns one batch of them, column by column, into
aligned lists of texts ``[anchors, positives, (hard negatives)]`` plus labels
for labelled pairs. The other rows of the batch are the negatives.

Example:
    >>> DropoutView()({"text": ["a man plays.", "a dog runs."]}).texts
    [['a man plays.', 'a dog runs.'], ['a man plays.', 'a dog runs.']]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

import numpy as np
import torch

if TYPE_CHECKING:
    from textcl.views.augment import EmbeddingAugmentation

__all__ = ["ViewBatch", "View", "DropoutView", "PairView", "TripletView", "LabeledPairView", "ScoredPairView",
           "DistillationView", "VIEWS"]


@dataclass
class ViewBatch:
    """Texts to encode for one batch.

    Attributes:
        texts: ``k`` aligned lists of ``batch`` sentences (k = 2 or 3); the
            trainer encodes them and passes the ``k`` embedding tensors, in
            order, to the loss.
        labels: (batch,) float labels for labelled or scored pairs, (batch, d) teacher vectors for
            distillation, else None.
        source_texts: the ``k`` lists before any text augmentation (the rows as
            read); duplicate texts are found on them. ``None`` means ``texts``.
        embedding_augmentations: per list of ``texts``, the augmentations that act
            on its input embeddings after tokenisation (token / span / feature
            cutoff); ``None`` when there are none.
    """

    texts: list[list[str]]
    labels: torch.Tensor | None = None
    source_texts: list[list[str]] | None = None
    embedding_augmentations: list[list["EmbeddingAugmentation"]] | None = field(default=None)

    @property
    def sources(self) -> list[list[str]]:
        """The texts as read, before augmentation (``source_texts`` or ``texts``)."""
        return self.source_texts if self.source_texts is not None else self.texts

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
        no_duplicates_by_default: whether the trainer's batches avoid repeating a
            text by default (pair and triplet data: a repeated text is a false negative).
    """

    columns: ClassVar[tuple[str, ...]] = ()
    text_columns: ClassVar[tuple[str, ...]] = ()
    no_duplicates_by_default: ClassVar[bool] = False

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

    @property
    def acts_on_embeddings(self) -> bool:
        """Whether some augmentation of this view acts on input embeddings (needs the trainer's hook)."""
        return False

    def state_dict(self) -> dict[str, Any]:
        """Random state of the view (empty for a view without randomness); saved in checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        if state:
            raise ValueError(f"{self!r} has no state, but the checkpoint holds view state {sorted(state)}: "
                             "resume with the view the run was started with")

    def get_config(self) -> dict[str, Any]:
        """What the view is, as the run record keeps it (``{"name": "pair"}``)."""
        return {"name": next((n for n, cls in VIEWS.items() if cls is type(self)), type(self).__name__)}

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
    no_duplicates_by_default = True

    def _make(self, batch: Mapping[str, Sequence[Any]]) -> ViewBatch:
        return ViewBatch([list(batch["anchor"]), list(batch["positive"])])


class TripletView(View):
    """(anchor, positive, hard negative) rows, e.g. NLI (premise, entailment, contradiction)."""

    columns = text_columns = ("anchor", "positive", "negative")
    no_duplicates_by_default = True

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


class ScoredPairView(View):
    """(sentence1, sentence2, score) rows for CoSENT, AnglE and CosineSimilarityLoss; the scores are the labels.

    Scores are floats. ``score_range=(low, high)`` maps them linearly onto ``[0, 1]`` (``(s - low) /
    (high - low)``) and refuses a score outside the range: STS-B's 0-5 scores read with
    ``score_range=(0, 5)`` fit :class:`~textcl.losses.CosineSimilarityLoss`, which regresses the
    cosine onto the score (sentence-transformers expects them in [0, 1] too). CoSENT and AnglE
    depend only on the scores' order, so they need no range. Without a range the scores pass as read.
    """

    columns = ("sentence1", "sentence2", "score")
    text_columns = ("sentence1", "sentence2")

    def __init__(self, score_range: tuple[float, float] | None = None) -> None:
        if score_range is not None:
            ok = (isinstance(score_range, (tuple, list)) and len(score_range) == 2
                  and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                          for v in score_range) and score_range[0] < score_range[1])
            if not ok:
                raise ValueError(f"score_range must be (low, high) with finite low < high, e.g. (0, 5) for STS-B; "
                                 f"got {score_range!r}")
            score_range = (float(score_range[0]), float(score_range[1]))
        self.score_range = score_range

    def _make(self, batch: Mapping[str, Sequence[Any]]) -> ViewBatch:
        try:
            scores = torch.tensor([float(v) for v in batch["score"]])
        except (TypeError, ValueError) as err:
            raise ValueError(f"scored_pair view: the score column must hold numbers ({err})") from err
        if not torch.isfinite(scores).all():
            raise ValueError(f"scored_pair view: the score column holds a non-finite value {scores.tolist()}")
        if self.score_range is not None:
            low, high = self.score_range
            outside = scores[(scores < low) | (scores > high)]
            if len(outside):
                raise ValueError(f"scored_pair view: score {outside[0].item()} is outside score_range "
                                 f"{self.score_range}; pass the range the data's scores use")
            scores = (scores - low) / (high - low)
        return ViewBatch([list(batch["sentence1"]), list(batch["sentence2"])], scores)

    def get_config(self) -> dict[str, Any]:
        return {"name": "scored_pair", "score_range": None if self.score_range is None else list(self.score_range)}

    def __repr__(self) -> str:
        return f"ScoredPairView(score_range={self.score_range})"


class DistillationView(View):
    """(text, label) rows whose label is the teacher's embedding of the text, for :class:`~textcl.losses.MSELoss`.

    Add the teacher column with :func:`textcl.data.teacher.add_teacher_embeddings`. The labels are a
    ``(batch, d)`` float32 tensor.
    """

    columns = ("text", "label")
    text_columns = ("text",)

    def _make(self, batch: Mapping[str, Sequence[Any]]) -> ViewBatch:
        try:
            teacher = torch.as_tensor(np.asarray(batch["label"], dtype=np.float32))
        except (TypeError, ValueError) as err:
            raise ValueError(f"distillation view: the label column must hold one teacher vector per row, all of one "
                             f"length ({err})") from err
        if teacher.dim() != 2:
            raise ValueError(f"distillation view: the label column must hold one teacher vector per row, got shape "
                             f"{tuple(teacher.shape)}")
        return ViewBatch([list(batch["text"])], teacher)


class LabeledTextView(View):
    """(text, label) rows for classification: one view of each sentence, with its class id."""

    columns = ("text", "label")
    text_columns = ("text",)

    def _make(self, batch: Mapping[str, Sequence[Any]]) -> ViewBatch:
        try:
            labels = torch.tensor([int(v) for v in batch["label"]], dtype=torch.long)
        except (TypeError, ValueError) as err:
            raise ValueError(f"labeled_text view: the label column must hold class ids ({err})") from err
        return ViewBatch([list(batch["text"])], labels)

    def get_config(self) -> dict[str, Any]:
        return {"name": "labeled_text"}


# the views ``--view`` names (LabeledTextView is the classifier's, not a contrastive view)
VIEWS: dict[str, type[View]] = {"dropout": DropoutView, "pair": PairView, "triplet": TripletView,
                                "labeled_pair": LabeledPairView, "scored_pair": ScoredPairView,
                                "distillation": DistillationView}
