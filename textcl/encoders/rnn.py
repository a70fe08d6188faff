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

from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from textcl.encoders.word_embedding import WordEmbeddingEncoder, build_embedding, right_padded_lengths
from textcl.encoders.word_tokenizer import tokenizer_kind
from textcl.settings import check_choice, check_int, check_probability

__all__ = ["CELLS", "POOLINGS", "RNNEncoder"]

CELLS = ("lstm", "gru")
POOLINGS = ("mean", "max", "last")


class RNNEncoder(WordEmbeddingEncoder):
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

    Constructors ``from_glove``, ``from_word_vectors`` and
    ``from_transformer_embeddings`` and the folder format (``save`` /
    ``load(path, pooling=None, max_length=None)``) come from
    :class:`~textcl.encoders.word_embedding.WordEmbeddingEncoder`.

    Example:
        >>> enc = RNNEncoder.from_glove(vocab_size=20_000, hidden_size=300)
        >>> enc(enc.tokenize(["a man plays guitar ."])).shape
        torch.Size([1, 600])
    """

    kind: ClassVar[str] = "rnn"
    POOLINGS: ClassVar[tuple[str, ...]] = POOLINGS

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
        super().__init__(tokenizer, max_length)
        check_choice("cell", cell, CELLS)
        check_choice("pooling", pooling, POOLINGS)
        check_int("hidden_size", hidden_size)
        check_int("num_layers", num_layers)
        for name, p in (
            ("embedding_dropout", embedding_dropout),
            ("output_dropout", output_dropout),
            ("rnn_dropout", rnn_dropout),
        ):
            check_probability(name, p)
        if rnn_dropout and num_layers == 1:
            raise ValueError("rnn_dropout acts between stacked layers: it needs num_layers > 1")
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bool(bidirectional)
        self.pooling = pooling
        self.freeze_embeddings = bool(freeze_embeddings)

        self.embeddings = build_embedding(
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

    # -- Encoder interface ----------------------------------------------------

    @property
    def embedding_dim(self) -> int:
        return self.hidden_size * (2 if self.bidirectional else 1)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Encode a tokenized batch.

        Shape:
            ``features["input_ids"]``, ``features["attention_mask"]``:
            ``(batch, seq_len)``, right-padded; returns ``(batch, embedding_dim)``.
        """
        input_ids = features["input_ids"]
        mask = features["attention_mask"].bool()  # (batch, seq_len)
        batch, seq_len = input_ids.shape
        lengths = right_padded_lengths(mask)  # (batch,)

        x = self.embedding_dropout(self.embeddings(input_ids))  # (batch, seq_len, word_dim)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        if self._stepwise_path(x) and bool(lengths.min() < lengths.max()):  # equal lengths: torch runs oneDNN
            packed_out, hidden = _stepwise_lstm(self.rnn, packed), None  # the same numbers, less backward work
        else:
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

    def _stepwise_path(self, x: torch.Tensor) -> bool:
        """Whether a training pass runs :func:`_stepwise_lstm` (bit for bit torch's packed CPU LSTM).

        A batch whose sentences all have one length still goes to torch: it runs those through oneDNN.
        """
        return (torch.is_grad_enabled() and x.device.type == "cpu" and x.dtype == torch.float32
                and self.cell == "lstm" and self.num_layers == 1 and self.rnn.bias and self.pooling != "last"
                and not torch.is_autocast_enabled("cpu"))

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

    def extra_repr(self) -> str:
        return f"pooling={self.pooling!r}, max_length={self.max_length}"


def _lstm_steps(data: torch.Tensor, batch_sizes: list[int], weights: list[torch.Tensor], reverse: bool,
                hidden_size: int) -> torch.Tensor:
    """One direction of a one-layer LSTM over packed ``data``, the operations of torch's CPU kernel in its order.

    torch's packed CPU LSTM projects every input once, then cuts each step's rows with ``narrow``;
    the backward pass of each cut writes a zero tensor the size of the whole projection, so a
    sentence batch costs steps x tokens. ``split`` gives the same rows with one backward
    concatenation; every other operation is torch's own, so values and gradients are bitwise equal.

    Shape:
        data: ``(tokens, word_dim)`` in packed order; returns ``(tokens, hidden)`` in the same order.
    """
    w_ih, w_hh, b_ih, b_hh = weights
    steps = torch.addmm(b_ih, data, w_ih.t()).split(batch_sizes)  # per step (rows, 4 * hidden)
    zeros = data.new_zeros(batch_sizes[0], hidden_size)  # the initial state of every sentence
    order = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    rows = batch_sizes[-1] if reverse else batch_sizes[0]
    h, c = zeros.narrow(0, 0, rows), zeros.narrow(0, 0, rows)
    outputs = []
    for t in order:
        if batch_sizes[t] < rows:  # forward: the shortest sentences have ended
            h, c = h.narrow(0, 0, batch_sizes[t]), c.narrow(0, 0, batch_sizes[t])
        elif batch_sizes[t] > rows:  # backward: longer sentences start, from zero states
            extra = zeros.narrow(0, rows, batch_sizes[t] - rows)
            h, c = torch.cat([h, extra]), torch.cat([c, extra])
        rows = batch_sizes[t]
        gates = torch.addmm(b_hh, h, w_hh.t()).add_(steps[t])  # (rows, 4 * hidden)
        in_gate, forget_gate, cell_gate, out_gate = gates.unsafe_chunk(4, 1)
        in_gate, forget_gate = in_gate.sigmoid_(), forget_gate.sigmoid_()
        cell_gate, out_gate = cell_gate.tanh_(), out_gate.sigmoid_()
        c = (forget_gate * c).add_(in_gate * cell_gate)
        h = out_gate * c.tanh()
        outputs.append(h)
    return torch.cat(outputs[::-1] if reverse else outputs)


def _stepwise_lstm(lstm: nn.LSTM, packed: PackedSequence) -> PackedSequence:
    """``lstm(packed)[0]`` for a one-layer LSTM with biases, through :func:`_lstm_steps`."""
    batch_sizes = packed.batch_sizes.tolist()
    weights = lstm._flat_weights  # w_ih, w_hh, b_ih, b_hh per direction
    out = _lstm_steps(packed.data, batch_sizes, weights[:4], False, lstm.hidden_size)  # (tokens, hidden)
    if lstm.bidirectional:
        backward = _lstm_steps(packed.data, batch_sizes, weights[4:], True, lstm.hidden_size)
        out = torch.cat([out, backward], -1)  # (tokens, 2 * hidden)
    return PackedSequence(out, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
