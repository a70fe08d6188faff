"""Positive views: how a batch of columns becomes the texts the encoder sees, and their augmentations.

A view declares the columns it reads (``columns``, in order; ``text_columns`` are
the ones holding sentences) and turns one batch of them, column by column, into
aligned lists of texts ``[anchors, positives, (hard negatives)]`` plus labels
for labelled pairs. The other rows of the batch are the negatives. Augmentations
(:mod:`textcl.views.augment`) compose with a base view (:mod:`textcl.views.compose`):
``make_view("dropout+word_repetition")``. See ``docs/views.md``.

Example:
    >>> DropoutView()({"text": ["a man plays.", "a dog runs."]}).texts
    [['a man plays.', 'a dog runs.'], ['a man plays.', 'a dog runs.']]
"""

from textcl.views.augment import (
                                  AUGMENTATIONS,
                                  Augmentation,
                                  EmbeddingAugmentation,
                                  FeatureCutoff,
                                  SpanCutoff,
                                  TextAugmentation,
                                  TokenCutoff,
                                  TokenShuffle,
                                  WordDeletion,
                                  WordRepetition,
)
from textcl.views.base import (
                               VIEWS,
                               DistillationView,
                               DropoutView,
                               LabeledPairView,
                               PairView,
                               ScoredPairView,
                               TripletView,
                               View,
                               ViewBatch,
)
from textcl.views.compose import AugmentedView, make_view, parse_view_spec

__all__ = ["ViewBatch", "View", "DropoutView", "PairView", "TripletView", "LabeledPairView", "ScoredPairView",
           "DistillationView", "VIEWS", "make_view",
           "parse_view_spec", "AugmentedView", "Augmentation", "TextAugmentation", "EmbeddingAugmentation",
           "WordDeletion", "WordRepetition", "TokenShuffle", "TokenCutoff", "SpanCutoff", "FeatureCutoff",
           "AUGMENTATIONS"]
