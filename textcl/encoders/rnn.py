"""An LSTM / GRU sentence encoder over word embeddings.

:class:`RNNEncoder` embeds tokens (GloVe, any word-vector file, or a
transformer's input embeddings), runs a packed (bi)directional LSTM or GRU
and pools the per-token states into one vector per sentence.

A saved folder holds::

    encoder_config.json   every setting of the forward pass, "kind": "rnn"
    model.safetensors     the weights (embedding matrix included)
    tokenizer/            WordTokenizer files or a Hugging Face tokenizer
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textcl.encoders.base import Encoder, validate_texts
from textcl.encoders.word_tokenizer import (
    count_tokens,
    encode_texts,
    load_tokenizer,
    save_tokenizer,
    tokenizer_kind,
    tokenizer_size,
)
from textcl.encoders.word_vectors import (
    DEFAULT_GLOVE_VOCAB_SIZE,
    file_embeddings,
    glove_embeddings,
    transformer_input_embeddings,
)

__all__ = ["CELLS", "POOLINGS", "RNNEncoder"]

CELLS = ("lstm", "gru")
POOLINGS = ("mean", "max", "last")
CONFIG_FILE = "encoder_config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_DIR = "tokenizer"


# --- helpers shared with word_average.py --------------------------------------


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        allowed_text = ", ".join(map(repr, allowed))
        raise ValueError(f"unknown {name} {value!r}; expected one of {allowed_text}")


def _check_int(name: str, value: Any, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_probability(name: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a float in [0, 1), got {value!r}")


def _build_embedding(
    tokenizer: Any,
    embeddings: torch.Tensor | np.ndarray | None,
    num_embeddings: int | None,
    word_dim: int | None,
    freeze: bool,
) -> nn.Embedding:
    """An embedding from a matrix, or an empty one of a given size (for load)."""
    if embeddings is not None:
        if num_embeddings is not None or word_dim is not None:
            raise ValueError("pass either embeddings or num_embeddings and word_dim, not both")
        if not torch.is_tensor(embeddings):
            embeddings = torch.as_tensor(np.asarray(embeddings))
        if embeddings.ndim != 2:
            raise ValueError(
                f"embeddings must be a (vocab, dim) matrix, got shape {tuple(embeddings.shape)}"
            )
        # clone: never share memory with a caller's array or a memory-mapped file
        weight = embeddings.detach().to(torch.float32).clone()
        embedding = nn.Embedding.from_pretrained(weight, freeze=freeze)
    else:
        if num_embeddings is None or word_dim is None:
            raise ValueError("pass embeddings, or both num_embeddings and word_dim")
        _check_int("num_embeddings", num_embeddings)
        _check_int("word_dim", word_dim)
        embedding = nn.Embedding(num_embeddings, word_dim)
        embedding.weight.requires_grad_(not freeze)
    if tokenizer_size(tokenizer) > embedding.num_embeddings:
        raise ValueError(
            f"the tokenizer has {tokenizer_size(tokenizer)} tokens but the embedding "
            f"matrix only {embedding.num_embeddings} rows"
        )
    return embedding


def _write_folder(encoder: Encoder, path: str | os.PathLike) -> None:
    """Write config, safetensors weights and tokenizer of ``encoder`` into ``path``."""
    from safetensors.torch import save_file

    os.makedirs(path, exist_ok=True)
    config = encoder.get_config()
    # Written first: it decides the tokenizer kind saved in the config.
    config["tokenizer"] = save_tokenizer(encoder.tokenizer, os.path.join(path, TOKENIZER_DIR))
    with open(os.path.join(path, CONFIG_FILE), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    state = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    save_file(state, os.path.join(path, WEIGHTS_FILE))


def _read_folder(
    path: str | os.PathLike, kind: str
) -> tuple[dict[str, Any], Any, dict[str, torch.Tensor]]:
    """Read ``(config, tokenizer, state_dict)`` of a folder written by :func:`_write_folder`.

    Raises:
        FileNotFoundError: if the folder or one of its files is missing.
        ValueError: if the config is not JSON or names another kind, or the
            weights file cannot be read.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"encoder folder not found: {path}")
    config_path = os.path.join(path, CONFIG_FILE)
    weights_path = os.path.join(path, WEIGHTS_FILE)
    for p in (config_path, weights_path):
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{os.path.basename(p)} not found in encoder folder {path}")
    try:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{config_path} is not valid JSON: {e}") from None
    if config.get("kind") != kind:
        raise ValueError(f"{config_path} describes a {config.get('kind')!r} encoder, not {kind!r}")
    tokenizer = load_tokenizer(os.path.join(path, TOKENIZER_DIR), config.get("tokenizer", "word"))
    try:
        state = load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"could not read weights {weights_path}: {e}") from None
    return config, tokenizer, state


def _load_state(
    encoder: nn.Module, state: dict[str, torch.Tensor], path: str | os.PathLike
) -> None:
    try:
        encoder.load_state_dict(state)
    except RuntimeError as e:
        weights_path = os.path.join(path, WEIGHTS_FILE)
        raise ValueError(f"weights in {weights_path} do not fit the config: {e}") from None


# --- the encoder ---------------------------------------------------------------


class RNNEncoder(Encoder):
    """Word embeddings -> packed LSTM/GRU -> pooling -> dropout.

    Args:
        tokenizer: a :class:`~textcl.encoders.word_tokenizer.WordTokenizer` or
            a Hugging Face tokenizer (used without special tokens).
        embeddings: the ``(vocab, word_dim)`` word-vector matrix, row ``i``
            for token id ``i``. Omit it only together with ``num_embeddings``
            and ``word_dim`` (random init; :meth:`load` does this).
        num_embeddings: rows of a randomly initialised embedding.
        word_dim: columns of a randomly initialised embedding.
        cell: ``"lstm"`` or ``"gru"``.
        hidden_size: size of each direction's hidden state.
        num_layers: stacked RNN layers.
        bidirectional: run a backward RNN too and concatenate.
        pooling: ``"mean"`` / ``"max"`` over the real tokens' top-layer states,
            or ``"last"``: the final state (bidirectional: the forward state at
            the last real token next to the backward state at the first token).
        embedding_dropout: dropout on the word vectors.
        output_dropout: dropout on the pooled sentence vector. Together with
            ``embedding_dropout`` it makes two train-mode passes over one
            sentence differ, which unsupervised dropout views rely on.
        rnn_dropout: dropout between stacked layers (needs ``num_layers > 1``).
        freeze_embeddings: keep the word vectors fixed during training.
        max_length: sentences are cut to this many tokens.

    Shape:
        ``forward``: ``input_ids`` / ``attention_mask`` ``(batch, seq_len)``,
        right-padded -> ``(batch, embedding_dim)`` with
        ``embedding_dim = hidden_size * (2 if bidirectional else 1)``.

    Example:
        >>> enc = RNNEncoder.from_glove(vocab_size=20_000, hidden_size=300)
        >>> enc(enc.tokenize(["a man plays guitar ."])).shape
        torch.Size([1, 600])
    """

    kind: ClassVar[str] = "rnn"

    def __init__(
        self,
        tokenizer: Any,
        embeddings: torch.Tensor | np.ndarray | None = None,
        *,
        num_embeddings: int | None = None,
        word_dim: int | None = None,
        cell: Literal["lstm", "gru"] = "lstm",
        hidden_size: int = 256,
        num_layers: int = 1,
        bidirectional: bool = True,
        pooling: Literal["mean", "max", "last"] = "mean",
        embedding_dropout: float = 0.1,
        output_dropout: float = 0.1,
        rnn_dropout: float = 0.0,
        freeze_embeddings: bool = True,
        max_length: int = 128,
    ) -> None:
        super().__init__()
        _check_choice("cell", cell, CELLS)
        _check_choice("pooling", pooling, POOLINGS)
        _check_int("hidden_size", hidden_size)
        _check_int("num_layers", num_layers)
        _check_int("max_length", max_length)
        for name, p in (
            ("embedding_dropout", embedding_dropout),
            ("output_dropout", output_dropout),
            ("rnn_dropout", rnn_dropout),
        ):
            _check_probability(name, p)
        if rnn_dropout and num_layers == 1:
            raise ValueError("rnn_dropout acts between stacked layers: it needs num_layers > 1")
        tokenizer_kind(tokenizer)  # fails fast on an unsupported tokenizer
        self.tokenizer = tokenizer
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bool(bidirectional)
        self.pooling = pooling
        self.freeze_embeddings = bool(freeze_embeddings)
        self._max_length = max_length

        self.embeddings = _build_embedding(
            tokenizer, embeddings, num_embeddings, word_dim, self.freeze_embeddings
        )
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        rnn_class = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_class(
            self.embeddings.embedding_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=self.bidirectional,
            dropout=rnn_dropout,
        )
        self.output_dropout = nn.Dropout(output_dropout)

    # -- constructors ---------------------------------------------------------

    @classmethod
    def from_glove(
        cls,
        vocab_size: int | None = DEFAULT_GLOVE_VOCAB_SIZE,
        corpus: list[str] | None = None,
        **rnn_kwargs: Any,
    ) -> "RNNEncoder":
        """An encoder over packaged GloVe 6B 50-d vectors (lowercased words).

        Args:
            vocab_size: keep the ``vocab_size`` most frequent GloVe words
                (None: all 400,000, an 80 MB matrix).
            corpus: sentences whose GloVe-known words are kept as well.
            **rnn_kwargs: any other constructor argument (``cell``, ``pooling``, ...).
        """
        tokenizer, matrix = glove_embeddings(vocab_size, corpus)
        return cls(tokenizer, matrix, **rnn_kwargs)

    @classmethod
    def from_word_vectors(
        cls,
        path: str | os.PathLike,
        lowercase: bool = True,
        vocab_limit: int | None = None,
        **rnn_kwargs: Any,
    ) -> "RNNEncoder":
        """An encoder over a GloVe / word2vec text file.

        Args:
            path: the vector file.
            lowercase: lowercase input text (False for cased vectors).
            vocab_limit: read at most this many vectors.
            **rnn_kwargs: any other constructor argument.
        """
        tokenizer, matrix = file_embeddings(path, lowercase, vocab_limit)
        return cls(tokenizer, matrix, **rnn_kwargs)

    @classmethod
    def from_transformer_embeddings(
        cls, name_or_path: str | os.PathLike, **rnn_kwargs: Any
    ) -> "RNNEncoder":
        """An encoder over a Hugging Face model's tokenizer and input embeddings.

        Args:
            name_or_path: a local model folder or a cached hub name.
            **rnn_kwargs: any other constructor argument.
        """
        tokenizer, weight = transformer_input_embeddings(name_or_path)
        return cls(tokenizer, weight, **rnn_kwargs)

    # -- Encoder interface ----------------------------------------------------

    @property
    def embedding_dim(self) -> int:
        return self.hidden_size * (2 if self.bidirectional else 1)

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
        """Encode a tokenized batch.

        Shape:
            ``features["input_ids"]``, ``features["attention_mask"]``:
            ``(batch, seq_len)``, right-padded; returns ``(batch, embedding_dim)``.
        """
        input_ids = features["input_ids"]
        mask = features["attention_mask"].bool()  # (batch, seq_len)
        batch, seq_len = input_ids.shape
        lengths = mask.sum(dim=1)  # (batch,)
        if (lengths == 0).any():
            raise ValueError("a sentence in the batch has no tokens (all-zero attention_mask row)")
        positions = torch.arange(seq_len, device=mask.device)
        if not torch.equal(mask, positions[None, :] < lengths[:, None]):
            raise ValueError("attention_mask must be right-padded (ones, then zeros)")

        x = self.embedding_dropout(self.embeddings(input_ids))  # (batch, seq_len, word_dim)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, hidden = self.rnn(packed)
        directions = 2 if self.bidirectional else 1

        if self.pooling == "last":
            h_n = hidden[0] if self.cell == "lstm" else hidden  # (layers * dirs, batch, hidden)
            # Packing makes h_n the state at each sentence's own last real token
            # (forward) and at its first token (backward), in input order.
            # (layers * dirs, batch, hidden) -> (layers, dirs, batch, hidden) -> top layer
            top = h_n.view(self.num_layers, directions, batch, self.hidden_size)[-1]
            # (dirs, batch, hidden) -> (batch, dirs, hidden) -> (batch, dirs * hidden)
            pooled = top.transpose(0, 1).reshape(batch, self.embedding_dim)
        else:
            out, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=seq_len)
            # out: (batch, seq_len, dirs * hidden), zeros on padding
            real = mask.unsqueeze(-1)  # (batch, seq_len, 1)
            if self.pooling == "mean":
                pooled = (out * real).sum(dim=1) / lengths.unsqueeze(1).to(out.dtype)
            else:
                pooled = out.masked_fill(~real, float("-inf")).max(dim=1).values
        return self.output_dropout(pooled)  # (batch, embedding_dim)

    def get_config(self) -> dict[str, Any]:
        """Every setting that shapes the module or its forward pass, plus ``"kind"``."""
        return {
            "kind": self.kind,
            "tokenizer": tokenizer_kind(self.tokenizer),
            "num_embeddings": self.embeddings.num_embeddings,
            "word_dim": self.embeddings.embedding_dim,
            "cell": self.cell,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "pooling": self.pooling,
            "embedding_dropout": self.embedding_dropout.p,
            "output_dropout": self.output_dropout.p,
            "rnn_dropout": self.rnn.dropout,
            "freeze_embeddings": self.freeze_embeddings,
            "max_length": self.max_length,
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write ``encoder_config.json``, ``model.safetensors`` and ``tokenizer/`` into ``path``."""
        _write_folder(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> "RNNEncoder":
        """Rebuild an encoder saved by :meth:`save`, in eval mode.

        Args:
            path: the folder.
            device: where to put the weights.

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
                cell=config["cell"],
                hidden_size=config["hidden_size"],
                num_layers=config["num_layers"],
                bidirectional=config["bidirectional"],
                pooling=config["pooling"],
                embedding_dropout=config["embedding_dropout"],
                output_dropout=config["output_dropout"],
                rnn_dropout=config["rnn_dropout"],
                freeze_embeddings=config["freeze_embeddings"],
                max_length=config["max_length"],
            )
        except KeyError as e:
            raise ValueError(f"{os.path.join(path, CONFIG_FILE)} lacks the setting {e}") from None
        _load_state(encoder, state, path)
        return encoder.to(device).eval()

    def extra_repr(self) -> str:
        return f"pooling={self.pooling!r}, max_length={self.max_length}"
