"""Applying embedding-level augmentations: keep-masks travel in the features, a hook applies them.

The trainer adds two optional entries to a tokenized batch:

- ``token_keep``: ``(rows, seq)``, 0 at erased token positions (token / span cutoff);
- ``feature_keep``: ``(rows, 1, dim)``, 0 at erased embedding dimensions (feature cutoff).

Carrying them in the features lets them follow every row through length
buckets (rows reordered, sequences cut to each bucket's length; the singleton
axis keeps ``feature_keep``'s width intact) and GradCache chunks. Inside
:func:`masked_input_embeddings`, a pre-hook on the model takes them out of the
features before the encoder sees them, and a hook on the encoder's
token-embedding module multiplies its ``(rows, seq, dim)`` output by them.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch

from textcl.views.base import ViewBatch

__all__ = ["TOKEN_KEEP", "FEATURE_KEEP", "embedding_masks", "masked_input_embeddings", "strip_masks", "tokenize_views"]

TOKEN_KEEP = "token_keep"
FEATURE_KEEP = "feature_keep"


def embedding_masks(vb: ViewBatch, attention_mask: torch.Tensor, dim: int) -> dict[str, torch.Tensor]:
    """Keep-masks for every row of a tokenized view batch (only the kinds some augmentation uses).

    Args:
        vb: the view batch; its ``embedding_augmentations[k]`` act on list ``k``.
        attention_mask: ``(k * batch, seq)``, the lists' rows one after another.
        dim: width of the encoder's input embeddings.

    Returns:
        ``{TOKEN_KEEP: (k * batch, seq), FEATURE_KEEP: (k * batch, 1, dim)}``, each only when used.
    """
    if not vb.embedding_augmentations:
        return {}
    rows, seq = attention_mask.shape
    token = torch.ones(rows, seq)  # (k * batch, seq)
    feature = torch.ones(rows, 1, dim)  # (k * batch, 1, dim)
    used_token = used_feature = False
    n = vb.batch_size
    for k, augs in enumerate(vb.embedding_augmentations):
        side = slice(k * n, (k + 1) * n)
        for aug in augs:
            token_keep, feature_keep = aug.masks(attention_mask[side], dim)
            if token_keep is not None:
                token[side] *= token_keep
                used_token = True
            if feature_keep is not None:
                feature[side, 0] *= feature_keep
                used_feature = True
    out = {}
    if used_token:
        out[TOKEN_KEEP] = token.to(attention_mask.device)
    if used_feature:
        out[FEATURE_KEEP] = feature.to(attention_mask.device)
    return out


def strip_masks(features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The features without the keep-masks (for a forward pass that must not be augmented)."""
    return {k: v for k, v in features.items() if k not in (TOKEN_KEEP, FEATURE_KEEP)}


@contextlib.contextmanager
def masked_input_embeddings(model: torch.nn.Module, embedding_module: torch.nn.Module) -> Iterator[None]:
    """Within the block, ``model(features)`` applies the keep-masks found in ``features``.

    Args:
        model: the module called with the features (a :class:`~textcl.model.SentenceEncoder`).
        embedding_module: its token-embedding module, output ``(rows, seq, dim)``.
    """
    current: dict[str, torch.Tensor] = {}

    def take_masks(_module, args):
        features = args[0]
        if TOKEN_KEEP not in features and FEATURE_KEEP not in features:
            return None
        current.update({k: features[k] for k in (TOKEN_KEEP, FEATURE_KEEP) if k in features})
        return (strip_masks(features), *args[1:])

    def apply_masks(_module, _args, out):
        if not current:
            return None
        if TOKEN_KEEP in current:
            out = out * current[TOKEN_KEEP][:, :out.shape[1], None].to(out.dtype)  # (rows, seq, dim)
        if FEATURE_KEEP in current:
            out = out * current[FEATURE_KEEP].to(out.dtype)  # (rows, seq, dim) * (rows, 1, dim)
        return out

    def forget(_module, _args, _out):
        current.clear()

    handles = [model.register_forward_pre_hook(take_masks), embedding_module.register_forward_hook(apply_masks),
               model.register_forward_hook(forget)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()
        current.clear()


def tokenize_views(tokenize: Callable[[list[str]], dict[str, torch.Tensor]], vb: ViewBatch,
                   embedding_dim: Callable[[], int]) -> dict[str, torch.Tensor]:
    """Tokenize every view of ``vb`` in one call (a view repeated as in DropoutView is tokenized once).

    With embedding-level augmentations the keep-masks join the features (:func:`embedding_masks`,
    ``embedding_dim()`` giving the input-embedding width) so they follow each row through length
    buckets and GradCache chunks.

    Shape: each value (k * batch, seq) for k views (``feature_keep``: (k * batch, 1, dim)).
    """
    if all(t is vb.texts[0] for t in vb.texts):
        one = tokenize(vb.texts[0])
        features = {k: v.repeat(len(vb.texts), 1) for k, v in one.items()}
    else:
        features = tokenize([t for texts in vb.texts for t in texts])
    if vb.embedding_augmentations:
        features.update(embedding_masks(vb, features["attention_mask"], embedding_dim()))
    return features
