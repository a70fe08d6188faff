"""The averaged-word-vector baseline ("avg. GloVe").

:class:`WordAverageEncoder` returns the mean of the frozen word vectors of a
sentence's tokens. It has no trainable parameters: it is a reference point
for evaluation, not something to train. Saved folders have the same layout as
:class:`~textcl.encoders.rnn.RNNEncoder` (``encoder_config.json`` with
``"kind": "word_average"``, ``model.safetensors``, ``tokenizer/``).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np
import torch

from textcl.encoders.base import Encoder, validate_texts
from textcl.encoders.rnn import (
    CONFIG_FILE,
    _build_embedding,
    _check_int,
    _load_state,
    _read_folder,
    _write_folder,
)
from textcl.encoders.word_tokenizer import (
    count_tokens,
    encode_texts,
    tokenizer_kind,
    unknown_token_id,
)
from textcl.encoders.word_vectors import (
    DEFAULT_GLOVE_VOCAB_SIZE,
    file_embeddings,
    glove_embeddings,
)

__all__ = ["WordAverageEncoder"]


class WordAverageEncoder(Encoder):
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

    Example:
        >>> enc = WordAverageEncoder.from_glove(vocab_size=50_000)
        >>> enc(enc.tokenize(["a man plays guitar ."])).shape
        torch.Size([1, 50])
    """

    kind: ClassVar[str] = "word_average"

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
        super().__init__()
        _check_int("max_length", max_length)
        tokenizer_kind(tokenizer)  # fails fast on an unsupported tokenizer
        self.tokenizer = tokenizer
        self.skip_unknown = bool(skip_unknown)
        self._max_length = max_length
        self.embeddings = _build_embedding(
            tokenizer, embeddings, num_embeddings, word_dim, freeze=True
        )

    @classmethod
    def from_glove(
        cls,
        vocab_size: int | None = DEFAULT_GLOVE_VOCAB_SIZE,
        corpus: list[str] | None = None,
        **kwargs: Any,
    ) -> "WordAverageEncoder":
        """Averaged packaged GloVe 6B 50-d vectors.

        Args:
            vocab_size: keep the ``vocab_size`` most frequent GloVe words (None: all).
            corpus: sentences whose GloVe-known words are kept as well.
            **kwargs: ``skip_unknown``, ``max_length``.
        """
        tokenizer, matrix = glove_embeddings(vocab_size, corpus)
        return cls(tokenizer, matrix, **kwargs)

    @classmethod
    def from_word_vectors(
        cls,
        path: str | os.PathLike,
        lowercase: bool = True,
        vocab_limit: int | None = None,
        **kwargs: Any,
    ) -> "WordAverageEncoder":
        """Averaged vectors of a GloVe / word2vec text file.

        Args:
            path: the vector file.
            lowercase: lowercase input text (False for cased vectors).
            vocab_limit: read at most this many vectors.
            **kwargs: ``skip_unknown``, ``max_length``.
        """
        tokenizer, matrix = file_embeddings(path, lowercase, vocab_limit)
        return cls(tokenizer, matrix, **kwargs)

    @property
    def embedding_dim(self) -> int:
        return self.embeddings.embedding_dim

    @property
    def max_length(self) -> int:
        return self._max_length

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Validate and tokenize sentences into right-padded ``input_ids`` / ``attention_mask``."""
        return encode_texts(self.tokenizer, validate_texts(texts), self.max_length)

    def token_lengths(self, texts: list[str]) -> list[int]:
        """Token counts, capped at ``max_length``."""
        return [min(n, self.max_length) for n in count_tokens(self.tokenizer, texts)]

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

    def save(self, path: str | os.PathLike) -> None:
        """Write ``encoder_config.json``, ``model.safetensors`` and ``tokenizer/`` into ``path``."""
        _write_folder(self, path)

    @classmethod
    def load(
        cls, path: str | os.PathLike, device: str | torch.device = "cpu"
    ) -> "WordAverageEncoder":
        """Rebuild an encoder saved by :meth:`save`, in eval mode.

        Raises:
            FileNotFoundError: if the folder or a file in it is missing.
            ValueError: if the config names another kind or the weights are
                corrupt or do not fit the config.
        """
        config, tokenizer, state = _read_folder(path, cls.kind)
        try:
            encoder = cls(
                tokenizer,
                num_embeddings=config["num_embeddings"],
                word_dim=config["word_dim"],
                skip_unknown=config["skip_unknown"],
                max_length=config["max_length"],
            )
        except KeyError as e:
            raise ValueError(f"{os.path.join(path, CONFIG_FILE)} lacks the setting {e}") from None
        _load_state(encoder, state, path)
        return encoder.to(device).eval()
