"""What every encoder over a word-embedding matrix shares (RNN, CNN, word average).

:class:`WordEmbeddingEncoder` owns the tokenizer (a
:class:`~textcl.encoders.word_tokenizer.WordTokenizer` or a Hugging Face
tokenizer used without special tokens), the ``(vocab, word_dim)`` embedding,
the three constructors (GloVe, a word-vector file, a transformer's input
embeddings) and the folder format. Subclasses add their layers, ``forward``
and ``get_config``.

A saved folder holds::

    encoder_config.json   "kind", "tokenizer" and every constructor setting
    model.safetensors     the weights (embedding matrix included)
    tokenizer/            WordTokenizer files or a Hugging Face tokenizer

:meth:`WordEmbeddingEncoder.load` rebuilds the encoder from the config alone.
It accepts the same overrides as every textcl encoder (``pooling``,
``max_length``) and ignores keyword arguments that only mean something to a
transformer (``trust_remote_code``, ``torch_dtype``, ...), because
:class:`textcl.model.SentenceEncoder` passes one set of overrides to every kind.
"""

from __future__ import annotations

import inspect
import json
import os
from typing import Any, ClassVar, Iterator, TypeVar

import numpy as np
import torch
from torch import nn

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
from textcl.settings import check_choice, check_int, check_probability
from textcl.storage.read import read_json, read_safetensors

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "TOKENIZER_DIR",
    "WordEmbeddingEncoder",
    "build_embedding",
    "check_choice",
    "check_int",
    "check_probability",
    "right_padded_lengths",
]

CONFIG_FILE = "encoder_config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_DIR = "tokenizer"
_E = TypeVar("_E", bound="WordEmbeddingEncoder")
# Config keys that describe the folder, not a constructor argument.
_META_KEYS = ("kind", "tokenizer", "format_version")


# --- building blocks --------------------------------------------------------------


def build_embedding(
    tokenizer: Any,
    embeddings: torch.Tensor | np.ndarray | None,
    num_embeddings: int | None,
    word_dim: int | None,
    freeze: bool,
) -> nn.Embedding:
    """An embedding from a matrix, or an empty one of a given size (for load).

    Raises:
        ValueError: if both or neither of ``embeddings`` and the sizes are
            given, the matrix is not 2-d, or it has fewer rows than the
            tokenizer has tokens.
    """
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
        check_int("num_embeddings", num_embeddings)
        check_int("word_dim", word_dim)
        embedding = nn.Embedding(num_embeddings, word_dim)
        embedding.weight.requires_grad_(not freeze)
    if tokenizer_size(tokenizer) > embedding.num_embeddings:
        raise ValueError(
            f"the tokenizer has {tokenizer_size(tokenizer)} tokens but the embedding "
            f"matrix only {embedding.num_embeddings} rows"
        )
    return embedding


def right_padded_lengths(mask: torch.Tensor) -> torch.Tensor:
    """Real-token counts of a right-padded attention mask.

    Shape:
        mask: ``(batch, seq_len)``, ones then zeros; returns ``(batch,)``.

    Raises:
        ValueError: if a row has no token or the mask is not right-padded.
    """
    mask = mask.bool()
    lengths = mask.sum(dim=1)  # (batch,)
    if (lengths == 0).any():
        raise ValueError("a sentence in the batch has no tokens (all-zero attention_mask row)")
    positions = torch.arange(mask.shape[1], device=mask.device)
    if not torch.equal(mask, positions[None, :] < lengths[:, None]):
        raise ValueError("attention_mask must be right-padded (ones, then zeros)")
    return lengths


# --- folder format ------------------------------------------------------------------


def _write_folder(encoder: "WordEmbeddingEncoder", path: str | os.PathLike) -> None:
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

    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"encoder folder not found: {path}")
    config_path = os.path.join(path, CONFIG_FILE)
    weights_path = os.path.join(path, WEIGHTS_FILE)
    for p in (config_path, weights_path):
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{os.path.basename(p)} not found in encoder folder {path}")
    config = read_json(config_path)
    if not isinstance(config, dict) or config.get("kind") != kind:
        found = config.get("kind") if isinstance(config, dict) else None
        raise ValueError(f"{config_path} describes a {found!r} encoder, not {kind!r}")
    tokenizer = load_tokenizer(os.path.join(path, TOKENIZER_DIR), config.get("tokenizer", "word"))
    try:
        state = read_safetensors(weights_path)
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"could not read weights {weights_path}: {e}") from None
    return config, tokenizer, state


# --- the shared base class ---------------------------------------------------------


class WordEmbeddingEncoder(Encoder):
    """Base of encoders that embed tokens with one ``(vocab, word_dim)`` matrix.

    Subclasses call ``super().__init__(tokenizer, max_length)``, build
    ``self.embeddings`` with :func:`build_embedding`, set ``POOLINGS`` (the
    pooling modes :meth:`load` accepts as an override) and make
    :meth:`get_config` return exactly their constructor's keyword arguments
    plus ``"kind"`` and ``"tokenizer"``.
    """

    POOLINGS: ClassVar[tuple[str, ...]]

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        super().__init__()
        check_int("max_length", max_length)
        tokenizer_kind(tokenizer)  # fails fast on an unsupported tokenizer
        self.tokenizer = tokenizer
        self._max_length = max_length

    # -- constructors ---------------------------------------------------------

    @classmethod
    def from_glove(
        cls: type[_E],
        vocab_size: int | None = DEFAULT_GLOVE_VOCAB_SIZE,
        corpus: list[str] | None = None,
        **kwargs: Any,
    ) -> _E:
        """An encoder over packaged GloVe 6B 50-d vectors (lowercased words).

        Args:
            vocab_size: keep the ``vocab_size`` most frequent GloVe words
                (None: all 400,000, an 80 MB matrix).
            corpus: sentences whose GloVe-known words are kept as well.
            **kwargs: any other constructor argument (``pooling``, ...).
        """
        tokenizer, matrix = glove_embeddings(vocab_size, corpus)
        return cls(tokenizer, matrix, **kwargs)

    @classmethod
    def from_word_vectors(
        cls: type[_E],
        path: str | os.PathLike,
        lowercase: bool = True,
        vocab_limit: int | None = None,
        **kwargs: Any,
    ) -> _E:
        """An encoder over a GloVe / word2vec text file.

        Args:
            path: the vector file.
            lowercase: lowercase input text (False for cased vectors).
            vocab_limit: read at most this many vectors.
            **kwargs: any other constructor argument.
        """
        tokenizer, matrix = file_embeddings(path, lowercase, vocab_limit)
        return cls(tokenizer, matrix, **kwargs)

    @classmethod
    def from_transformer_embeddings(cls: type[_E], name_or_path: str | os.PathLike, **kwargs: Any) -> _E:
        """An encoder over a Hugging Face model's tokenizer and input embeddings.

        Args:
            name_or_path: a local model folder or a cached hub name.
            **kwargs: any other constructor argument.
        """
        tokenizer, weight = transformer_input_embeddings(name_or_path)
        return cls(tokenizer, weight, **kwargs)

    # -- Encoder interface ----------------------------------------------------

    @property
    def max_length(self) -> int:
        return self._max_length

    @max_length.setter
    def max_length(self, value: int) -> None:
        self._max_length = check_int("max_length", value)

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Validate and tokenize sentences into right-padded ``input_ids`` / ``attention_mask``."""
        return encode_texts(self.tokenizer, validate_texts(texts), self.max_length)

    def token_lengths(self, texts: list[str]) -> list[int]:
        """Token counts, capped at ``max_length``."""
        return [min(n, self.max_length) for n in count_tokens(self.tokenizer, texts)]

    def length_sorted_batches(
        self, texts: list[str], batch_size: int
    ) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
        """Tokenize each sentence once, then yield batches of similar token length.

        :meth:`textcl.model.SentenceEncoder.encode` uses this instead of
        counting tokens and tokenizing again batch by batch (word splitting
        was half of a CNN's encode time on STS-B). Sentences are tokenized
        and sorted in chunks of ``64 * batch_size`` (at least 4,096), so
        memory stays bounded on huge inputs.

        Yields:
            ``(indices, features)``: positions in ``texts`` of the batch's
            sentences (longest first), and their right-padded
            ``input_ids`` / ``attention_mask``, each ``(len(indices), seq)``
            with ``seq`` the batch's own longest sentence.
        """
        texts = validate_texts(texts)
        chunk = max(64 * batch_size, 4096)
        for chunk_start in range(0, len(texts), chunk):
            chunk_texts = texts[chunk_start : chunk_start + chunk]
            enc = encode_texts(self.tokenizer, chunk_texts, self.max_length)  # (chunk, longest)
            lengths = enc["attention_mask"].sum(dim=1).numpy()  # (chunk,)
            order = np.argsort(-lengths, kind="stable")
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                rows = torch.from_numpy(idx)
                longest = int(lengths[idx[0]])
                features = {k: v[rows, :longest] for k, v in enc.items()}  # (len(idx), longest)
                yield idx + chunk_start, features

    def save(self, path: str | os.PathLike) -> None:
        """Write ``encoder_config.json``, ``model.safetensors`` and ``tokenizer/`` into ``path``."""
        _write_folder(self, path)

    @classmethod
    def load(
        cls: type[_E],
        path: str | os.PathLike,
        pooling: str | None = None,
        max_length: int | None = None,
        device: str | torch.device = "cpu",
        **ignored: Any,
    ) -> _E:
        """Rebuild an encoder saved by :meth:`save`, in eval mode.

        Args:
            path: the folder.
            pooling: use this pooling instead of the saved one; one of the
                class's ``POOLINGS``.
            max_length: cut sentences to this many tokens instead of the
                saved limit.
            device: where to put the weights.
            **ignored: transformer-only options (``trust_remote_code``,
                ``torch_dtype``, ...). :class:`textcl.model.SentenceEncoder`
                passes one set of overrides to every encoder kind; they mean
                nothing to a word-embedding encoder and are ignored.

        Raises:
            FileNotFoundError: if the folder or a file in it is missing.
            ValueError: if an override is invalid, the config names another
                kind or lacks a setting, or the weights are corrupt or do not
                fit the config.
        """
        if pooling is not None:
            check_choice(f"pooling for a {cls.kind!r} encoder", pooling, cls.POOLINGS)
        if max_length is not None:
            check_int("max_length", max_length)
        config, tokenizer, state = _read_folder(path, cls.kind)
        config_path = os.path.join(os.fspath(path), CONFIG_FILE)
        settings = {k: v for k, v in config.items() if k not in _META_KEYS}
        expected = [
            name
            for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        missing = [k for k in expected if k not in settings]
        if missing:
            raise ValueError(f"{config_path} lacks the setting(s) {', '.join(map(repr, missing))}")
        unknown = sorted(set(settings) - set(expected))
        if unknown:
            raise ValueError(
                f"{config_path} has unknown setting(s) {', '.join(map(repr, unknown))}: it was "
                "written by another textcl version; load it with that version"
            )
        if pooling is not None and "pooling" in settings:
            settings["pooling"] = pooling
        if max_length is not None:
            settings["max_length"] = max_length
        try:
            encoder = cls(tokenizer, **settings)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{config_path} holds an invalid setting: {e}") from None
        try:
            encoder.load_state_dict(state)
        except RuntimeError as e:
            weights_path = os.path.join(os.fspath(path), WEIGHTS_FILE)
            raise ValueError(f"weights in {weights_path} do not fit the config: {e}") from None
        return encoder.to(device).eval()
