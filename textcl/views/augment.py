"""Augmentations that make a view's two sides differ: on the texts, or on the input embeddings.

Text-level augmentations (:class:`WordDeletion`, :class:`WordRepetition`,
:class:`TokenShuffle`) rewrite sentences before tokenisation and so work with
every encoder. Embedding-level ones (:class:`TokenCutoff`, :class:`SpanCutoff`,
:class:`FeatureCutoff`, ConSERT's cutoffs) choose what to erase after
tokenisation and zero it in the output of the encoder's token-embedding module
(``Encoder.input_embedding_module()``) during that side's forward pass.

Every augmentation owns a ``torch.Generator`` seeded at construction, so its
draws depend only on its seed and on the texts it has seen; its state is saved
in training checkpoints (:meth:`Augmentation.state_dict`) so a resumed run draws
exactly what an uninterrupted one would.

``side`` says which list of a :class:`~textcl.views.ViewBatch` is augmented:
``"anchor"`` (list 0), ``"positive"`` (list 1) or ``"both"`` (independent draws
for each). Hard negatives (list 2 of a triplet) are never augmented.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

__all__ = ["Augmentation", "TextAugmentation", "EmbeddingAugmentation", "WordDeletion", "WordRepetition",
           "TokenShuffle", "TokenCutoff", "SpanCutoff", "FeatureCutoff", "AUGMENTATIONS", "SIDES"]

SIDES = ("anchor", "positive", "both")


class Augmentation:
    """Base class: a validated rate, a side and an own random generator.

    Args:
        rate: the strength of the augmentation (its meaning is the subclass's);
            ``None`` takes the class default.
        side: ``"anchor"``, ``"positive"`` or ``"both"``; ``None`` takes the class default.
        seed: seeds the augmentation's own ``torch.Generator``.

    Raises:
        ValueError: on a rate outside the allowed range or an unknown side.
    """

    name: ClassVar[str]
    default_rate: ClassVar[float]
    default_side: ClassVar[str] = "both"
    max_rate: ClassVar[float] = 1.0
    rate_may_equal_max: ClassVar[bool] = False

    def __init__(self, rate: float | None = None, side: str | None = None, seed: int = 0) -> None:
        rate = self.default_rate if rate is None else rate
        side = self.default_side if side is None else side
        is_number = isinstance(rate, (int, float)) and not isinstance(rate, bool) and math.isfinite(rate)
        upper_ok = is_number and (rate <= self.max_rate if self.rate_may_equal_max else rate < self.max_rate)
        if not is_number or rate <= 0 or not upper_ok:
            bound = "<=" if self.rate_may_equal_max else "<"
            raise ValueError(f"{type(self).__name__}: rate must be a number with 0 < rate {bound} "
                             f"{self.max_rate}, got {rate!r}")
        if side not in SIDES:
            raise ValueError(f"{type(self).__name__}: side must be one of {', '.join(SIDES)}, got {side!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"{type(self).__name__}: seed must be an int, got {seed!r}")
        self.rate, self.side, self.seed = float(rate), side, seed
        self.generator = torch.Generator().manual_seed(seed)

    def view_indices(self) -> tuple[int, ...]:
        """Which lists of a ViewBatch this augmentation rewrites (0 = anchor, 1 = positive)."""
        return {"anchor": (0,), "positive": (1,), "both": (0, 1)}[self.side]

    def state_dict(self) -> dict[str, Any]:
        """The generator state (a uint8 tensor), for checkpoints."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.generator.set_state(state["generator"])

    def _randint(self, low: int, high: int) -> int:
        """An int in ``[low, high)`` from the augmentation's generator."""
        return int(torch.randint(low, high, (1,), generator=self.generator))

    def get_config(self) -> dict[str, Any]:
        """Name, rate, side and seed (what rebuilds this augmentation)."""
        name = next((n for n, cls in AUGMENTATIONS.items() if cls is type(self)), type(self).__name__)
        return {"name": name, "rate": self.rate, "side": self.side, "seed": self.seed}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rate={self.rate}, side={self.side!r}, seed={self.seed})"


class TextAugmentation(Augmentation):
    """An augmentation that rewrites each sentence's whitespace-separated words."""

    def __call__(self, texts: list[str]) -> list[str]:
        """Augment every text, in order (one text's draws follow the previous one's)."""
        return [self.augment(t) for t in texts]

    def augment(self, text: str) -> str:
        """One augmented sentence; a text without words is returned as it is."""
        words = text.split()
        return " ".join(self.augment_words(words)) if words else text

    def augment_words(self, words: list[str]) -> list[str]:
        """Rewrite a non-empty list of words."""
        raise NotImplementedError


class EmbeddingAugmentation(Augmentation):
    """An augmentation that zeroes parts of the input embeddings of one side's forward pass."""

    def masks(self, attention_mask: torch.Tensor, dim: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Keep-masks for one side's rows (1 keeps, 0 erases).

        Args:
            attention_mask: ``(n, seq)``; nonzero marks real tokens.
            dim: width of the input embeddings.

        Returns:
            ``(token_keep, feature_keep)``: ``(n, seq)`` over token positions
            and ``(n, dim)`` over embedding dimensions, either ``None`` when
            the augmentation does not act on it.
        """
        raise NotImplementedError


class WordDeletion(TextAugmentation):
    """Delete each word independently with probability ``rate`` (at least one word is kept).

    When every word draws a deletion, the word with the largest draw is kept.
    Default side: both.

    Reference:
        Wu, Wang, Huang, Wang, Ma and Luo, "CLEAR: Contrastive Learning for
        Sentence Representation", 2020 (word deletion). https://arxiv.org/abs/2012.15466
    """

    name = "word_deletion"
    default_rate = 0.1

    def augment_words(self, words: list[str]) -> list[str]:
        draws = torch.rand(len(words), generator=self.generator)  # (words,)
        keep = draws >= self.rate
        if not keep.any():
            keep[int(draws.argmax())] = True
        return [w for w, k in zip(words, keep.tolist()) if k]


class WordRepetition(TextAugmentation):
    """ESimCSE's word repetition: repeat a random number of words in place.

    For a sentence of ``L`` words, ``n`` is drawn uniformly from
    ``0 .. max(2, int(rate * L))`` (capped at ``L``) and ``n`` distinct word
    positions, drawn uniformly, are each written twice. The length changes
    without changing the meaning, so the model cannot tell positives by length.
    ESimCSE repeats words on the positive only (default side: positive) and
    uses ``rate = 0.32``.

    Reference:
        Wu, Wang, Zhang, Zhang, Wang and Hu, "ESimCSE: Enhanced Sample Building
        Method for Contrastive Learning of Unsupervised Sentence Embedding",
        COLING 2022, section 3.1. https://arxiv.org/abs/2109.04380
    """

    name = "word_repetition"
    default_rate = 0.32
    default_side = "positive"
    rate_may_equal_max = True

    def augment_words(self, words: list[str]) -> list[str]:
        n = min(self._randint(0, max(2, int(self.rate * len(words))) + 1), len(words))
        repeat = set(torch.randperm(len(words), generator=self.generator)[:n].tolist())
        out: list[str] = []
        for i, w in enumerate(words):
            out.extend([w, w] if i in repeat else [w])
        return out


class TokenShuffle(TextAugmentation):
    """ConSERT's token shuffle: with probability ``rate`` a sentence's words are put in a random order.

    ConSERT shuffles every sentence (``rate = 1``, the default) by permuting a
    transformer's position ids; here the words themselves are permuted, which
    works for RNN and CNN encoders too (a transformer then sees each word's
    sub-word pieces still in order). Default side: both.

    Reference:
        Yan, Li, Wang, Zhang, Wu and Xu, "ConSERT: A Contrastive Framework for
        Self-Supervised Sentence Representation Transfer", ACL 2021, section 3.3.
        https://arxiv.org/abs/2105.11741
    """

    name = "token_shuffle"
    default_rate = 1.0
    rate_may_equal_max = True

    def augment_words(self, words: list[str]) -> list[str]:
        draw = float(torch.rand(1, generator=self.generator))
        order = torch.randperm(len(words), generator=self.generator).tolist()
        return [words[i] for i in order] if draw < self.rate else list(words)


def _real_positions(attention_mask: torch.Tensor) -> list[torch.Tensor]:
    """For each row, the positions of its real tokens (in order)."""
    return [row.nonzero().flatten().cpu() for row in attention_mask]


class TokenCutoff(EmbeddingAugmentation):
    """ConSERT's token cutoff: erase ``int(rate * L)`` token positions, drawn uniformly, of each sentence.

    ``L`` counts the real tokens (special tokens included). The erased
    positions' input embeddings are zeroed (ConSERT zeroes the rows of the
    embedding matrix it feeds the encoder); the attention mask is unchanged.
    With a transformer the hook sits on the token-embedding table, so the
    position embedding of an erased token remains. Default side: both.

    Reference:
        Yan et al., "ConSERT", ACL 2021, section 3.3 (after Shen et al.,
        "A Simple but Tough-to-Beat Data Augmentation Approach", 2020).
        https://arxiv.org/abs/2105.11741
    """

    name = "token_cutoff"
    default_rate = 0.1

    def masks(self, attention_mask, dim):
        keep = torch.ones(attention_mask.shape, dtype=torch.float32)  # (n, seq)
        for i, real in enumerate(_real_positions(attention_mask)):
            cut = int(self.rate * len(real))
            keep[i, real[torch.randperm(len(real), generator=self.generator)[:cut]]] = 0.0
        return keep, None


class SpanCutoff(EmbeddingAugmentation):
    """ConSERT's span cutoff: erase one contiguous span of ``int(rate * L)`` real tokens per sentence.

    The span's start is uniform over the positions where it fits. Erasing
    works as in :class:`TokenCutoff`. Default side: both.

    Reference:
        Yan et al., "ConSERT", ACL 2021, section 3.3. https://arxiv.org/abs/2105.11741
    """

    name = "span_cutoff"
    default_rate = 0.1

    def masks(self, attention_mask, dim):
        keep = torch.ones(attention_mask.shape, dtype=torch.float32)  # (n, seq)
        for i, real in enumerate(_real_positions(attention_mask)):
            cut = int(self.rate * len(real))
            start = self._randint(0, len(real) - cut + 1)
            keep[i, real[start:start + cut]] = 0.0
        return keep, None


class FeatureCutoff(EmbeddingAugmentation):
    """ConSERT's feature cutoff: zero ``int(rate * dim)`` input-embedding dimensions of each sentence.

    The dimensions, drawn uniformly per sentence, are zeroed at every token
    position. Default side: both.

    Reference:
        Yan et al., "ConSERT", ACL 2021, section 3.3. https://arxiv.org/abs/2105.11741
    """

    name = "feature_cutoff"
    default_rate = 0.2

    def masks(self, attention_mask, dim):
        keep = torch.ones(attention_mask.shape[0], dim)  # (n, dim)
        cut = int(self.rate * dim)
        for i in range(attention_mask.shape[0]):
            keep[i, torch.randperm(dim, generator=self.generator)[:cut]] = 0.0
        return None, keep


AUGMENTATIONS: dict[str, type[Augmentation]] = {
    cls.name: cls for cls in (TokenCutoff, SpanCutoff, FeatureCutoff, WordDeletion, TokenShuffle, WordRepetition)}
