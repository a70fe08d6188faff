"""The averaged-word-vector baseline ("avg. GloVe").

:class:`WordAverageEncoder` returns the mean of the frozen word vectors of a
sentence's tokens. It has no trainable parameters: it is a reference point
for evaluation, not something to train. Saved folders have the same layout as
:class:`~textcl.encoders.rnn.RNNEncoder` (``encoder_config.json`` with
``"kind": "word_average"``, ``model.safetensors``, ``tokenizer/``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from textcl.encoders.word_embedding import WordEmbeddingEncoder, build_embedding
from textcl.encoders.word_tokenizer import tokenizer_kind, unknown_token_id

__all__ = ["POOLINGS", "WordAverageEncoder"]

# The average is a mean pooling; "mean" is the one pooling a load override may name.
POOLINGS = ("mean",)


class WordAverageEncoder(WordEmbeddingEncoder):
    """Mean of frozen word vectors over a sentence's tokens.

    Args:
        tokenizer: a :class:`~textcl.encoders.word_tokenizer.WordTokenizer`
            (or a Hugging Face tokenizer).
        embeddings: the ``(vocab, word_dim)`` matrix, row ``i`` for token id
            ``i``; omit only together with ``num_embeddings`` and ``word_dim``.
        num_embeddings: rows of an empty matrix (used by :meth:`load`).
        word_dim: columns of an empty matrix (used by :meth:`load`).
        skip_unknown: leave out-of-vocabulary tokens out of the mean, as the
            SentEval bag-of-vectors baseline does; a sentence with no known
            word then gets the zero vector. False averages the unknown-token
            vector in like any other.
        max_length: sentences are cut to this many tokens.

    Shape:
        ``forward``: ``(batch, seq_len)`` ids and mask -> ``(batch, word_dim)``.

    Constructors ``from_glove``, ``from_word_vectors`` and
    ``from_transformer_embeddings`` and the folder format (``save`` /
    ``load(path, pooling=None, max_length=None)``; ``pooling`` may only be
    ``"mean"``) come from
    :class:`~textcl.encoders.word_embedding.WordEmbeddingEncoder`.

    Example:
        >>> enc = WordAverageEncoder.from_glove(vocab_size=50_000)
        >>> enc(enc.tokenize(["a man plays guitar ."])).shape
        torch.Size([1, 50])
    """

    kind: ClassVar[str] = "word_average"
    POOLINGS: ClassVar[tuple[str, ...]] = POOLINGS

    def __init__(
        self,
        tokenizer: Any,
        embeddings: torch.Tensor | np.ndarray | None = None,
        *,
        num_embeddings: int | None = None,
        word_dim: int | None = None,
        skip_unknown: bool = True,
        max_length: int = 512,
    ) -> None:
        super().__init__(tokenizer, max_length)
        self.skip_unknown = bool(skip_unknown)
        self.embeddings = build_embedding(
            tokenizer, embeddings, num_embeddings, word_dim, freeze=True
        )

    @property
    def embedding_dim(self) -> int:
        return self.embeddings.embedding_dim

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Average the word vectors of the real (and, by default, known) tokens.

        Shape:
            ``features["input_ids"]``, ``features["attention_mask"]``:
            ``(batch, seq_len)``; returns ``(batch, word_dim)``.
        """
        input_ids = features["input_ids"]
        keep = features["attention_mask"].bool()  # (batch, seq_len)
        unk_id = unknown_token_id(self.tokenizer)
        if self.skip_unknown and unk_id is not None:
            keep = keep & (input_ids != unk_id)
        vectors = self.embeddings(input_ids)  # (batch, seq_len, word_dim)
        weights = keep.unsqueeze(-1).to(vectors.dtype)  # (batch, seq_len, 1)
        counts = weights.sum(dim=1).clamp(min=1.0)  # (batch, 1); 0 kept -> zero vector
        return (vectors * weights).sum(dim=1) / counts  # (batch, word_dim)

    def get_config(self) -> dict[str, Any]:
        """Every setting that shapes the module or its forward pass, plus ``"kind"``."""
        return {
            "kind": self.kind,
            "tokenizer": tokenizer_kind(self.tokenizer),
            "num_embeddings": self.embeddings.num_embeddings,
            "word_dim": self.embeddings.embedding_dim,
            "skip_unknown": self.skip_unknown,
            "max_length": self.max_length,
        }
