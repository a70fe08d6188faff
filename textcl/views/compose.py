"""Compositions: a base view followed by augmentations, and the ``--view`` spec that names one.

A spec is a base view, then augmentations joined with ``+``; each augmentation
may carry a rate (``=0.2``) and a side (``@anchor``, ``@positive``, ``@both``)::

    dropout+word_repetition
    dropout+token_shuffle+feature_cutoff=0.2
    pair+word_deletion=0.1@positive

Order: the base view reads the columns; text-level augmentations then rewrite
the texts in the order written (``word_deletion+word_repetition`` deletes, then
repeats among the surviving words); after tokenisation the embedding-level
ones erase tokens or dimensions. Erasures multiply, so their order does not matter.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from textcl.views.augment import AUGMENTATIONS, SIDES, Augmentation, EmbeddingAugmentation, TextAugmentation
from textcl.views.base import VIEWS, View, ViewBatch

__all__ = ["AugmentedView", "make_view", "parse_view_spec"]


class AugmentedView(View):
    """A base view whose sides are augmented.

    Args:
        base: the view that reads the columns (``DropoutView()``, ``PairView()``, ...).
        augmentations: applied in order; text-level ones to the texts,
            embedding-level ones recorded for the trainer to apply after tokenisation.

    Example:
        >>> view = AugmentedView(DropoutView(), [WordRepetition(seed=0)])
        >>> vb = view({"text": ["a man plays the guitar ."]})
        >>> vb.sources
        [['a man plays the guitar .'], ['a man plays the guitar .']]
    """

    def __init__(self, base: View, augmentations: Sequence[Augmentation]) -> None:
        if isinstance(base, AugmentedView) or not isinstance(base, View):
            raise ValueError(f"base must be a plain view (DropoutView(), PairView(), ...), got {base!r}")
        augmentations = list(augmentations)
        if not augmentations or not all(isinstance(a, Augmentation) for a in augmentations):
            raise ValueError(f"augmentations must be a non-empty list of Augmentation objects, got {augmentations!r}")
        self.base, self.augmentations = base, augmentations
        self.columns, self.text_columns = base.columns, base.text_columns
        self.no_duplicates_by_default = base.no_duplicates_by_default

    def _make(self, batch: Mapping[str, Sequence[Any]]) -> ViewBatch:
        vb = self.base._make(batch)
        texts = list(vb.texts)  # a side's list is replaced only when a text augmentation rewrites it
        on_embeddings: list[list[EmbeddingAugmentation]] = [[] for _ in texts]
        for aug in self.augmentations:
            for side in aug.view_indices():
                if isinstance(aug, TextAugmentation):
                    texts[side] = aug(texts[side])
                elif isinstance(aug, EmbeddingAugmentation):
                    on_embeddings[side].append(aug)
        return ViewBatch(texts, vb.labels, source_texts=vb.texts,
                         embedding_augmentations=on_embeddings if any(on_embeddings) else None)

    @property
    def acts_on_embeddings(self) -> bool:
        return any(isinstance(a, EmbeddingAugmentation) for a in self.augmentations)

    def state_dict(self) -> dict[str, Any]:
        return {"augmentations": [a.state_dict() for a in self.augmentations]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("augmentations", [])
        if len(saved) != len(self.augmentations):
            raise ValueError(f"the checkpoint holds the state of {len(saved)} augmentation(s), this view has "
                             f"{len(self.augmentations)} ({self!r}): resume with the view the run was started with")
        for aug, s in zip(self.augmentations, saved):
            aug.load_state_dict(s)

    def get_config(self) -> dict[str, Any]:
        """The base view's config and each augmentation's."""
        return {**self.base.get_config(), "augmentations": [a.get_config() for a in self.augmentations]}

    def __repr__(self) -> str:
        return f"AugmentedView({self.base!r}, {self.augmentations!r})"


def parse_view_spec(spec: str) -> tuple[str, list[tuple[str, float | None, str | None]]]:
    """Split a ``--view`` spec into the base view's name and ``(augmentation, rate, side)`` triples.

    Raises:
        ValueError: on an unknown name, a bad rate or side, or a spec that does not start with a base view.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"view spec must be a non-empty string such as 'dropout+word_repetition', got {spec!r}")
    base, *rest = [p.strip() for p in spec.split("+")]
    if base not in VIEWS:
        hint = (f" (an augmentation comes after a base view: 'dropout+{base}')"
                if base.split("=")[0].split("@")[0] in AUGMENTATIONS else "")
        raise ValueError(f"unknown view {base!r}{hint}: choose one of {', '.join(VIEWS)}, optionally followed by "
                         f"+augmentation[=rate][@side] with augmentations {', '.join(AUGMENTATIONS)}")
    parts = []
    for item in rest:
        name, _, side = item.partition("@")
        name, _, rate = name.partition("=")
        if name not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {name!r} in view {spec!r}: choose from "
                             f"{', '.join(AUGMENTATIONS)}")
        try:
            value = float(rate) if rate else None
        except ValueError:
            raise ValueError(f"{item!r} in view {spec!r}: the rate after '=' must be a number") from None
        if side and side not in SIDES:
            raise ValueError(f"{item!r} in view {spec!r}: the side after '@' must be one of {', '.join(SIDES)}")
        parts.append((name, value, side or None))
    return base, parts


def make_view(spec: str, seed: int = 0) -> View:
    """Build a view from its CLI spec: ``dropout``, ``pair``, ``triplet``, ``labeled_pair``, or a composition.

    Args:
        spec: a base view name, optionally followed by ``+augmentation[=rate][@side]`` items
            (``dropout+word_repetition``, ``dropout+token_shuffle+feature_cutoff=0.2``).
        seed: seeds the augmentations; the ``i``-th gets its own stream from ``(seed, i)``.

    Returns:
        The base view, or an :class:`AugmentedView` when augmentations are named.
    """
    base, parts = parse_view_spec(spec)
    view = VIEWS[base]()
    if not parts:
        return view
    augs = [AUGMENTATIONS[name](rate=rate, side=side, seed=seed * 1000 + i) for i, (name, rate, side) in
            enumerate(parts)]
    return AugmentedView(view, augs)
