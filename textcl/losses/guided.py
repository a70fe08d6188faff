"""GISTEmbed: in-batch negatives chosen by a guide model, which masks the candidates it scores above the positive."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from textcl.settings import check_choice, check_float

__all__ = ["MARGIN_STRATEGIES", "GISTEmbedLoss"]

MARGIN_STRATEGIES = ("absolute", "relative")


def _cos_matrix(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every row of ``x`` with every row of ``y``: ``(N, d), (M, d) -> (N, M)``."""
    return F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).T


class GISTEmbedLoss(nn.Module):
    r"""InfoNCE over in-batch negatives that a guide model does not take for positives (GISTEmbed).

    As in InfoNCE, anchor ``i`` must pick its positive ``p_i`` among the batch's candidates by
    cosine similarity over ``temperature``. The candidates are the other positives, the other
    anchors (``contrast_anchors``), the other positives seen from ``p_i`` (``contrast_positives``)
    and the hard negatives. A frozen guide model embeds the same texts; with ``g`` its cosine
    similarity and ``g_i = g(a_i, p_i)`` the guide's score of the true pair, a candidate ``c`` is
    removed from row ``i`` when the guide finds it at least as close as the positive:

    - ``margin_strategy="absolute"``: ``g(·, c) > g_i - margin``
    - ``margin_strategy="relative"``: ``g(·, c) > g_i - |g_i| · margin``

    so in-batch false negatives (paraphrases of the anchor in other rows) do not push the anchor
    away. The true positive is never removed. This is sentence-transformers' ``GISTEmbedLoss``
    (same value and gradient) within one process.

    The guide is any object with ``encode(list[str], convert_to_tensor=True)`` (a textcl
    :class:`~textcl.model.SentenceEncoder`, a sentence-transformers model); it is held as a plain
    attribute, not a submodule, so it is neither trained, saved with the loss nor moved by
    ``.to()``. It must be a model other than the one being trained. The loss needs the batch's texts:
    the trainer passes them (``texts=``, one list per view) because ``needs_texts`` is true.

    Args:
        guide: the guide model.
        temperature: ``τ > 0``; sentence-transformers uses 0.01.
        margin_strategy: ``"absolute"`` or ``"relative"``.
        margin: ``>= 0``; 0 removes exactly the candidates scored above the positive.
        contrast_anchors: also contrast each anchor with the other anchors.
        contrast_positives: also contrast each positive with the other positives.

    Shape:
        - anchor, positive: ``(N, d)``; negative: ``None`` or ``(N, d)``
        - texts: 2 or 3 lists of ``N`` strings (anchor, positive, negative texts)
        - output: scalar

    Raises:
        ValueError: bad arguments, a guide without ``encode``, texts that do not match the embeddings.

    Example:
        >>> guide = SentenceEncoder("sentence-transformers/all-MiniLM-L6-v2")
        >>> loss_fn = GISTEmbedLoss(guide, temperature=0.01)
        >>> loss = loss_fn(anchor_emb, positive_emb, texts=[anchors, positives])

    Reference:
        Solatorio, "GISTEmbed: Guided In-sample Selection of Training Negatives for Text Embedding
        Fine-tuning", 2024. https://arxiv.org/abs/2402.16829
    """

    needs_texts = True

    def __init__(self, guide: Any, temperature: float = 0.01, margin_strategy: str = "absolute",
                 margin: float = 0.0, contrast_anchors: bool = True, contrast_positives: bool = True) -> None:
        super().__init__()
        if not callable(getattr(guide, "encode", None)):
            raise ValueError(f"guide must have encode(list[str], convert_to_tensor=True) (a SentenceEncoder), "
                             f"got {type(guide).__name__}")
        self.temperature = check_float("temperature", temperature, exclusive_minimum=True)
        check_choice("margin_strategy", margin_strategy, MARGIN_STRATEGIES)
        self.margin = check_float("margin", margin)
        for name, value in (("contrast_anchors", contrast_anchors), ("contrast_positives", contrast_positives)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be a bool, got {value!r}")
        self.margin_strategy = margin_strategy
        self.contrast_anchors, self.contrast_positives = contrast_anchors, contrast_positives
        object.__setattr__(self, "guide", guide)  # a plain attribute: never a submodule, never trained

    def get_config(self) -> dict[str, Any]:
        """The loss's name and settings, as the run record keeps them (the guide by its name)."""
        guide = (getattr(self.guide, "name_or_path", None) or getattr(self.guide, "source", None)
                 or type(self.guide).__name__)
        return {"name": "gist_embed", "guide": str(guide), "temperature": self.temperature,
                "margin_strategy": self.margin_strategy, "margin": self.margin,
                "contrast_anchors": self.contrast_anchors, "contrast_positives": self.contrast_positives}

    def extra_repr(self) -> str:
        return (f"temperature={self.temperature}, margin_strategy={self.margin_strategy!r}, margin={self.margin}, "
                f"contrast_anchors={self.contrast_anchors}, contrast_positives={self.contrast_positives}")

    def _guide_embeddings(self, texts: Sequence[Sequence[str]], n: int, like: torch.Tensor) -> list[torch.Tensor]:
        """The guide's embeddings of each list of texts: ``k x (N, d_guide)``, constants on ``like``'s device."""
        flat = [t for column in texts for t in column]
        with torch.no_grad():
            emb = self.guide.encode(flat, convert_to_tensor=True)
        emb = torch.as_tensor(emb).detach().to(device=like.device, dtype=like.dtype)  # (k * N, d_guide)
        return list(emb.split(n))

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor | None = None, *,
                texts: Sequence[Sequence[str]] | None = None) -> torch.Tensor:
        """The guided InfoNCE loss; see the class docstring."""
        if anchor.dim() != 2 or anchor.shape[0] == 0 or positive.shape != anchor.shape:
            raise ValueError(f"anchor and positive must have the same shape (N, d) with N >= 1, got "
                             f"{tuple(anchor.shape)} and {tuple(positive.shape)}")
        if negative is not None and negative.shape != anchor.shape:
            raise ValueError(f"negative must have the anchor's shape {tuple(anchor.shape)}, got "
                             f"{tuple(negative.shape)}")
        views = 2 if negative is None else 3
        n = anchor.shape[0]
        if texts is None or len(texts) != views or any(len(column) != n for column in texts):
            raise ValueError(f"GISTEmbedLoss needs the batch's texts for its guide: texts=[anchors, positives"
                             f"{', negatives' if views == 3 else ''}], {views} lists of {n} strings (the trainer "
                             "passes them)")
        guide = self._guide_embeddings(texts, n, anchor)  # views x (N, d_guide)
        guided_ap = _cos_matrix(guide[0], guide[1])  # (N, N)
        true_score = guided_ap.diagonal().unsqueeze(1)  # (N, 1): the guide's score of each true pair
        if self.margin_strategy == "absolute":
            bound = true_score - self.margin
        else:
            bound = true_score - true_score.abs() * self.margin
        rows = torch.arange(n, device=anchor.device)

        def masked(sim: torch.Tensor, guided: torch.Tensor, drop_diagonal: bool, keep_diagonal: bool) -> torch.Tensor:
            mask = guided > bound  # (N, M): the guide finds the candidate at least as close as the positive
            if keep_diagonal:
                mask[rows, rows] = False  # the true positive stays
            if drop_diagonal:
                mask[rows, rows] = True  # an anchor (positive) is not its own negative
            return sim.masked_fill(mask, float("-inf"))

        scores = [masked(_cos_matrix(anchor, positive), guided_ap, False, True)]  # (N, N)
        if self.contrast_anchors:
            scores.append(masked(_cos_matrix(anchor, anchor), _cos_matrix(guide[0], guide[0]), True, False))
        if self.contrast_positives:
            scores.append(masked(_cos_matrix(positive, positive), _cos_matrix(guide[1], guide[1]), True, False))
        if negative is not None:
            scores.append(masked(_cos_matrix(anchor, negative), _cos_matrix(guide[0], guide[2]), False, False))
        logits = torch.cat(scores, dim=1) / self.temperature  # (N, N * parts)
        return F.cross_entropy(logits, rows)
