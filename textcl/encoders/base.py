"""The contract every textcl encoder fulfils.

An encoder owns its tokenizer and maps a list of sentences to one vector each.
:class:`textcl.model.SentenceEncoder` wraps an encoder (plus an optional
projection head) and never needs to know which kind it holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Iterator

import numpy as np
import torch
from torch import nn

__all__ = ["Encoder", "validate_texts"]


def validate_texts(texts: Any) -> list[str]:
    """Check that ``texts`` is a non-empty list of non-empty strings.

    Args:
        texts: what the caller passed as sentences.

    Returns:
        The texts as a ``list[str]`` (a single string is wrapped in a list).

    Raises:
        TypeError: if an item is not a string (names its index and type).
        ValueError: if the list or an item is empty (names the index).
    """
    if isinstance(texts, str):
        texts = [texts]
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(
            f"texts must be a list of strings, got {type(texts).__name__}"
        ) from None
    if not texts:
        raise ValueError("texts is empty: pass at least one sentence")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(
                f"texts[{i}] is {type(t).__name__} ({t!r:.60}), not str: "
                "convert or drop non-string rows before encoding"
            )
        if not t.strip():
            raise ValueError(
                f"texts[{i}] is empty or whitespace: drop empty rows before encoding"
            )
    return texts


class Encoder(nn.Module, ABC):
    """Base class of sentence encoders (transformer, RNN).

    Subclasses set ``kind`` and implement tokenisation, the forward pass,
    their config and save/load. Everything that changes the forward pass must
    be in :meth:`get_config` so that :meth:`load` rebuilds an identical module.
    """

    kind: ClassVar[str]

    @property
    @abstractmethod
    def embedding_dim(self) -> int:
        """Size of the sentence vectors this encoder returns."""

    @property
    @abstractmethod
    def max_length(self) -> int:
        """Maximum number of tokens kept per sentence (longer ones are cut)."""

    @abstractmethod
    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Turn sentences into padded tensors (``input_ids``, ``attention_mask``, ...)."""

    @abstractmethod
    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Encode a tokenized batch.

        Shape:
            features["input_ids"]: (batch, seq_len); returns (batch, embedding_dim).
        """

    @abstractmethod
    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable settings that, with the weights, rebuild the encoder."""

    @abstractmethod
    def save(self, path: str) -> None:
        """Write weights (safetensors), tokenizer and config into folder ``path``."""

    @classmethod
    @abstractmethod
    def load(cls, path: str, **kwargs: Any) -> "Encoder":
        """Rebuild an encoder saved by :meth:`save`."""

    def token_lengths(self, texts: list[str]) -> list[int]:
        """Approximate token counts, used to sort batches by length before encoding."""
        return [len(t) for t in texts]

    def length_sorted_batches(self, texts: list[str], batch_size: int
                              ) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
        """``(indices, features)`` batches, longest sentences first (by :meth:`token_lengths`), tokenized per batch.

        Encoders that can tokenize once and sort by real token counts override this.
        """
        order = np.argsort([-n for n in self.token_lengths(texts)], kind="stable")
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            yield idx, self.tokenize([texts[i] for i in idx])

    def input_embedding_module(self) -> nn.Embedding:
        """The token-embedding table whose ``(batch, seq, dim)`` output feeds the sequence model.

        Embedding-level augmentations (ConSERT's token / span / feature cutoff)
        hook its output. Encoders over a word-embedding matrix keep it as
        ``self.embeddings``; other encoders override this method.

        Raises:
            NotImplementedError: the encoder has no such table.
        """
        emb = getattr(self, "embeddings", None)
        if isinstance(emb, nn.Embedding):
            return emb
        raise NotImplementedError(f"{type(self).__name__} does not expose a token-embedding table: token, span "
                                  "and feature cutoff need Encoder.input_embedding_module(); use text-level "
                                  "augmentations (word_deletion, word_repetition, token_shuffle) with it")
