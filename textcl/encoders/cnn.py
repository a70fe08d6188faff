"""A Kim (2014)-style convolutional sentence encoder over word embeddings.

:class:`CNNEncoder` embeds tokens (GloVe, any word-vector file, or a
transformer's input embeddings), runs parallel 1-d convolutions of several
widths over the word vectors, applies ReLU, pools each filter over time and
concatenates the pooled features.

Reference:
    Yoon Kim. "Convolutional Neural Networks for Sentence Classification."
    EMNLP 2014. https://arxiv.org/abs/1408.5882

A saved folder has the layout of every word-embedding encoder
(``encoder_config.json`` with ``"kind": "cnn"``, ``model.safetensors``,
``tokenizer/``; see :mod:`textcl.encoders.word_embedding`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from textcl.encoders.word_embedding import WordEmbeddingEncoder, build_embedding, right_padded_lengths
from textcl.encoders.word_tokenizer import tokenizer_kind
from textcl.settings import check_choice, check_int, check_probability

__all__ = ["POOLINGS", "CNNEncoder"]

POOLINGS = ("max", "mean")


def _check_kernel_sizes(kernel_sizes: Any) -> tuple[int, ...]:
    """Return ``kernel_sizes`` as a tuple of distinct ints >= 1, or raise ``ValueError``."""
    if isinstance(kernel_sizes, (str, bytes)) or not isinstance(kernel_sizes, Sequence):
        raise ValueError(f"kernel_sizes must be a sequence of ints such as (3, 4, 5), got {kernel_sizes!r}")
    if not kernel_sizes:
        raise ValueError("kernel_sizes is empty: give at least one convolution width, e.g. (3, 4, 5)")
    for k in kernel_sizes:
        check_int("each kernel size", k)
    if len(set(kernel_sizes)) != len(kernel_sizes):
        raise ValueError(f"kernel_sizes repeats a width: {list(kernel_sizes)}")
    return tuple(kernel_sizes)


class CNNEncoder(WordEmbeddingEncoder):
    """Word embeddings -> parallel convolutions -> ReLU -> pooling over time -> dropout.

    Each width ``k`` slides ``num_filters`` filters over every window of
    ``k`` consecutive word vectors. Padding never enters a result: padded
    positions are zeroed and only windows that start inside the sentence and
    end in it are pooled. A sentence shorter than ``k`` is zero-padded to
    ``k`` and gets exactly one window (Kim's padding of short sentences), so
    a sentence encodes the same alone and in any batch.

    Args:
        tokenizer: a :class:`~textcl.encoders.word_tokenizer.WordTokenizer` or
            a Hugging Face tokenizer (used without special tokens).
        embeddings: the ``(vocab, word_dim)`` word-vector matrix, row ``i``
            for token id ``i``. Omit it only together with ``num_embeddings``
            and ``word_dim`` (random init; :meth:`load` does this).
        num_embeddings: rows of a randomly initialised embedding.
        word_dim: columns of a randomly initialised embedding.
        kernel_sizes: convolution widths, in tokens (Kim: 3, 4, 5).
        num_filters: filters per width (Kim: 100).
        pooling: ``"max"`` over time (Kim) or ``"mean"`` over the valid
            windows of each filter's ReLU output.
        embedding_dropout: dropout on the word vectors.
        output_dropout: dropout on the concatenated features (Kim: 0.5).
            With ``embedding_dropout`` it makes two train-mode passes over
            one sentence differ, which dropout views rely on.
        freeze_embeddings: keep the word vectors fixed during training.
        max_length: sentences are cut to this many tokens.

    Shape:
        ``forward``: ``input_ids`` / ``attention_mask`` ``(batch, seq_len)``,
        right-padded -> ``(batch, embedding_dim)`` with
        ``embedding_dim = num_filters * len(kernel_sizes)``.

    Constructors ``from_glove``, ``from_word_vectors`` and
    ``from_transformer_embeddings`` and the folder format (``save`` /
    ``load(path, pooling=None, max_length=None)``) come from
    :class:`~textcl.encoders.word_embedding.WordEmbeddingEncoder`.

    Example:
        >>> enc = CNNEncoder.from_glove(vocab_size=20_000, kernel_sizes=(3, 4, 5), num_filters=100)
        >>> enc(enc.tokenize(["a man plays guitar ."])).shape
        torch.Size([1, 300])
    """

    kind: ClassVar[str] = "cnn"
    POOLINGS: ClassVar[tuple[str, ...]] = POOLINGS

    def __init__(
        self,
        tokenizer: Any,
        embeddings: torch.Tensor | np.ndarray | None = None,
        *,
        num_embeddings: int | None = None,
        word_dim: int | None = None,
        kernel_sizes: Sequence[int] = (3, 4, 5),
        num_filters: int = 100,
        pooling: Literal["max", "mean"] = "max",
        embedding_dropout: float = 0.1,
        output_dropout: float = 0.1,
        freeze_embeddings: bool = True,
        max_length: int = 128,
    ) -> None:
        super().__init__(tokenizer, max_length)
        self.kernel_sizes = _check_kernel_sizes(kernel_sizes)
        check_int("num_filters", num_filters)
        check_choice("pooling", pooling, POOLINGS)
        check_probability("embedding_dropout", embedding_dropout)
        check_probability("output_dropout", output_dropout)
        self.num_filters = num_filters
        self.pooling = pooling
        self.freeze_embeddings = bool(freeze_embeddings)

        self.embeddings = build_embedding(
            tokenizer, embeddings, num_embeddings, word_dim, self.freeze_embeddings
        )
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.convs = nn.ModuleList(
            nn.Conv1d(self.embeddings.embedding_dim, num_filters, kernel_size=k)
            for k in self.kernel_sizes
        )
        self.output_dropout = nn.Dropout(output_dropout)

    @property
    def embedding_dim(self) -> int:
        return self.num_filters * len(self.kernel_sizes)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Encode a tokenized batch.

        Shape:
            ``features["input_ids"]``, ``features["attention_mask"]``:
            ``(batch, seq_len)``, right-padded; returns ``(batch, embedding_dim)``.
        """
        input_ids = features["input_ids"]
        mask = features["attention_mask"].bool()  # (batch, seq_len)
        lengths = right_padded_lengths(mask)  # (batch,)

        x = self.embedding_dropout(self.embeddings(input_ids))  # (batch, seq_len, word_dim)
        # Zero the padded positions: whatever the pad row holds, a window that
        # reaches past a short sentence's end sees zeros, alone or in a batch.
        x = x * mask.unsqueeze(-1).to(x.dtype)
        x = x.transpose(1, 2)  # (batch, word_dim, seq_len): Conv1d wants channels first
        widest = max(self.kernel_sizes)
        if x.shape[-1] < widest:
            x = F.pad(x, (0, widest - x.shape[-1]))  # (batch, word_dim, max(seq_len, widest))

        pooled = []
        for k, conv in zip(self.kernel_sizes, self.convs):
            h = conv(x)  # (batch, num_filters, windows), windows = padded_len - k + 1
            # Window t covers tokens t .. t+k-1. It is valid if it ends inside the
            # sentence, or is the one window of a sentence shorter than k.
            valid_windows = (lengths - k + 1).clamp(min=1)  # (batch,)
            starts = torch.arange(h.shape[-1], device=h.device)
            valid = (starts[None, :] < valid_windows[:, None]).unsqueeze(1)  # (batch, 1, windows)
            if self.pooling == "max":
                # ReLU is monotonic: relu(max) == max(relu), on a tensor `windows` times smaller.
                # in place: the convolution's backward needs its input and weights, not its output
                top = h.masked_fill_(~valid, float("-inf")).amax(dim=-1)  # (batch, num_filters)
                pooled.append(F.relu(top))
            else:
                summed = (F.relu(h) * valid.to(h.dtype)).sum(dim=-1)  # (batch, num_filters)
                pooled.append(summed / valid_windows.unsqueeze(1).to(h.dtype))
        features_out = torch.cat(pooled, dim=-1)  # (batch, num_filters * len(kernel_sizes))
        return self.output_dropout(features_out)

    def get_config(self) -> dict[str, Any]:
        """Every setting that shapes the module or its forward pass, plus ``"kind"``."""
        return {
            "kind": self.kind,
            "tokenizer": tokenizer_kind(self.tokenizer),
            "num_embeddings": self.embeddings.num_embeddings,
            "word_dim": self.embeddings.embedding_dim,
            "kernel_sizes": list(self.kernel_sizes),
            "num_filters": self.num_filters,
            "pooling": self.pooling,
            "embedding_dropout": self.embedding_dropout.p,
            "output_dropout": self.output_dropout.p,
            "freeze_embeddings": self.freeze_embeddings,
            "max_length": self.max_length,
        }

    def extra_repr(self) -> str:
        return (
            f"kernel_sizes={self.kernel_sizes}, num_filters={self.num_filters}, "
            f"pooling={self.pooling!r}, max_length={self.max_length}"
        )
