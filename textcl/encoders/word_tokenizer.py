"""Word-level tokenisation for the RNN and word-average encoders.

:class:`WordTokenizer` splits text into words and punctuation the way GloVe 6B
was tokenised (Stanford/PTB style, lowercased: ``"don't"`` -> ``do n't``,
``"U.S."`` -> ``u.s.``) and maps them to ids of a fixed vocabulary.

The module-level functions (:func:`encode_texts`, :func:`count_tokens`,
:func:`save_tokenizer`, :func:`load_tokenizer`, ...) let a Hugging Face
tokenizer stand in for a :class:`WordTokenizer`, so that an encoder can hold
either and never branch on which one it has.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import torch

from textcl.storage.read import read_json

__all__ = [
    "TokenizerKind",
    "WordTokenizer",
    "count_tokens",
    "encode_texts",
    "load_tokenizer",
    "pad_batch",
    "save_tokenizer",
    "split_words",
    "tokenizer_kind",
    "tokenizer_size",
    "unknown_token_id",
]

TokenizerKind = Literal["word", "huggingface"]

VOCAB_FILE = "vocab.txt"
CONFIG_FILE = "word_tokenizer_config.json"

# Order matters: the first alternative that matches at a position wins.
_TOKEN_RE = re.compile(
    r"""
      \w+(?=n't\b)             # "do" of "don't", "ca" of "can't" (GloVe splits n't off)
    | n't\b
    | '(?:s|re|ve|ll|m|d)\b    # clitics: 's 're 've 'll 'm 'd
    | (?:[^\W\d_]\.){2,}       # abbreviations: u.s. e.g. a.m.
    | \d+(?:[.,:/]\d+)*        # numbers: 1,000 3.5 10:30 1/2
    | \w+(?:-\w+)*             # words, hyphenated ones included (e-mail)
    | \.\.\.|--
    | [^\w\s]                  # any other single symbol
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Curly quotes do not occur in GloVe 6B; the straight ones do.
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def split_words(text: str, lowercase: bool = True) -> list[str]:
    """Split a sentence into words and punctuation, vocabulary-free.

    Args:
        text: one sentence.
        lowercase: lowercase the text first (GloVe 6B is lowercased).

    Returns:
        The tokens, e.g. ``"Don't stop, U.S.!"`` -> ``["do", "n't", "stop", ",",
        "u.s.", "!"]``. Any non-blank text gives at least one token.
    """
    text = text.translate(_QUOTES)
    if lowercase:
        text = text.lower()
    return _TOKEN_RE.findall(text)


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad token id lists into a batch.

    Args:
        ids: one list of token ids per sentence.
        pad_id: id written into the padding positions.

    Returns:
        ``input_ids`` and ``attention_mask``, both LongTensors of shape
        ``(batch, longest)`` with the mask 1 on real tokens and 0 on padding.
    """
    lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))  # (batch,)
    longest = int(lengths.max())
    mask = np.arange(longest)[None, :] < lengths[:, None]  # (batch, longest): row-major order = token order
    input_ids = np.full((len(ids), longest), pad_id, dtype=np.int64)
    input_ids[mask] = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask.astype(np.int64))}


def _check_max_length(max_length: int) -> None:
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
        raise ValueError(f"max_length must be an int >= 1, got {max_length!r}")


class WordTokenizer:
    """A regex word tokenizer over a fixed vocabulary.

    Words missing from the vocabulary become ``unk_token``; a hyphenated word
    that is missing (``"state-of-the-arts"``) is first split at its hyphens
    and each part looked up on its own.

    Args:
        vocab: the tokens; a token's id is its position (the first one wins if
            a token is listed twice). Must contain ``unk_token`` and
            ``pad_token``; tokens may not contain a newline.
        lowercase: lowercase the text before splitting (True for GloVe 6B;
            False for cased vectors such as word2vec GoogleNews).
        unk_token: the token for out-of-vocabulary words.
        pad_token: the token used to pad a batch.

    Example:
        >>> tok = WordTokenizer(["<pad>", "<unk>", "the", "cat"])
        >>> tok(["The cat sat"], max_length=8)["input_ids"]
        tensor([[2, 3, 1]])
    """

    def __init__(
        self,
        vocab: Sequence[str],
        lowercase: bool = True,
        unk_token: str = "<unk>",
        pad_token: str = "<pad>",
    ) -> None:
        vocab = list(vocab)
        for i, token in enumerate(vocab):
            if not isinstance(token, str):
                raise TypeError(f"vocab[{i}] is {type(token).__name__}, not str")
            if "\n" in token:
                raise ValueError(f"vocab[{i}] ({token!r}) contains a newline")
        if unk_token == pad_token:
            raise ValueError(f"unk_token and pad_token must differ, both are {unk_token!r}")
        self.vocab = vocab
        self.lowercase = bool(lowercase)
        self.unk_token = unk_token
        self.pad_token = pad_token
        self.token_to_id: dict[str, int] = {}
        for i, token in enumerate(vocab):
            self.token_to_id.setdefault(token, i)
        for name, token in (("unk_token", unk_token), ("pad_token", pad_token)):
            if token not in self.token_to_id:
                raise ValueError(
                    f"{name} {token!r} is not in the vocabulary: add it to vocab "
                    "(the word_vectors helpers put '<pad>' and '<unk>' first)"
                )
        self.unk_id = self.token_to_id[unk_token]
        self.pad_id = self.token_to_id[pad_token]

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={len(self)}, lowercase={self.lowercase})"

    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` into vocabulary-aware tokens (hyphen fallback applied)."""
        tokens = []
        for word in split_words(text, self.lowercase):
            if word in self.token_to_id or "-" not in word or word.strip("-") == "":
                tokens.append(word)
            else:
                tokens.extend(part for part in re.split(r"(-)", word) if part)
        return tokens

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """Token ids of one sentence, cut to ``max_length`` tokens if given."""
        ids = [self.token_to_id.get(t, self.unk_id) for t in self.tokenize(text)]
        return ids if max_length is None else ids[:max_length]

    def __call__(self, texts: str | Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
        """Tokenize and right-pad a batch.

        Args:
            texts: sentences (a single string is treated as a batch of one).
            max_length: longer sentences are cut to this many tokens.

        Returns:
            ``input_ids`` and ``attention_mask`` LongTensors,
            shape ``(batch, min(longest, max_length))``.

        Raises:
            ValueError: if a sentence has no tokens (it is blank).
        """
        _check_max_length(max_length)
        if isinstance(texts, str):
            texts = [texts]
        ids = [self.encode(t, max_length) for t in texts]
        if not ids:
            raise ValueError("texts is empty: pass at least one sentence")
        for i, row in enumerate(ids):
            if not row:
                raise ValueError(f"texts[{i}] has no tokens: drop blank rows")
        return pad_batch(ids, self.pad_id)

    def token_lengths(self, texts: Iterable[str]) -> list[int]:
        """Number of tokens of each sentence, before any truncation."""
        return [len(self.tokenize(t)) for t in texts]

    def save(self, folder: str | os.PathLike) -> None:
        """Write ``vocab.txt`` (one token a line) and ``word_tokenizer_config.json``."""
        os.makedirs(folder, exist_ok=True)
        # newline="" keeps "\r" inside a token from being rewritten on Windows.
        with open(os.path.join(folder, VOCAB_FILE), "w", encoding="utf-8", newline="") as f:
            f.write("\n".join(self.vocab) + "\n")
        config = {
            "type": "word",
            "lowercase": self.lowercase,
            "unk_token": self.unk_token,
            "pad_token": self.pad_token,
        }
        with open(os.path.join(folder, CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "WordTokenizer":
        """Rebuild a tokenizer written by :meth:`save`.

        Raises:
            FileNotFoundError: if the folder or one of its two files is missing.
        """
        vocab_path = os.path.join(folder, VOCAB_FILE)
        config_path = os.path.join(folder, CONFIG_FILE)
        for p in (vocab_path, config_path):
            if not os.path.isfile(p):
                raise FileNotFoundError(f"word tokenizer file not found: {p}")
        with open(vocab_path, encoding="utf-8", newline="") as f:
            vocab = f.read().split("\n")
        if vocab and vocab[-1] == "":  # the trailing newline written by save()
            vocab.pop()
        config = read_json(config_path)
        return cls(
            vocab,
            lowercase=config["lowercase"],
            unk_token=config["unk_token"],
            pad_token=config["pad_token"],
        )


# --- one interface over WordTokenizer and Hugging Face tokenizers -------------


def tokenizer_kind(tokenizer: Any) -> TokenizerKind:
    """``"word"`` for a :class:`WordTokenizer`, ``"huggingface"`` for a HF tokenizer.

    Raises:
        TypeError: for anything else.
    """
    if isinstance(tokenizer, WordTokenizer):
        return "word"
    from transformers import PreTrainedTokenizerBase  # slow import, only when needed

    if isinstance(tokenizer, PreTrainedTokenizerBase):
        return "huggingface"
    raise TypeError(
        "tokenizer must be a textcl WordTokenizer or a Hugging Face tokenizer "
        f"(AutoTokenizer), got {type(tokenizer).__name__}"
    )


def tokenizer_size(tokenizer: Any) -> int:
    """Number of ids the tokenizer can produce (the embedding needs that many rows)."""
    return len(tokenizer)


def unknown_token_id(tokenizer: Any) -> int | None:
    """Id of the unknown token, or None if the tokenizer has none (byte-level BPE)."""
    if isinstance(tokenizer, WordTokenizer):
        return tokenizer.unk_id
    return tokenizer.unk_token_id


def encode_texts(tokenizer: Any, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
    """Tokenize with either kind of tokenizer into right-padded tensors.

    A Hugging Face tokenizer is called without special tokens ([CLS], [SEP]):
    a word-level encoder sees only the words. Its padding token is not needed
    (padding positions are masked out), so tokenizers without one work too.

    Args:
        tokenizer: a :class:`WordTokenizer` or a Hugging Face tokenizer.
        texts: already validated sentences.
        max_length: longer sentences are cut to this many tokens.

    Returns:
        ``input_ids`` and ``attention_mask``, shape ``(batch, seq_len)``.
    """
    if isinstance(tokenizer, WordTokenizer):
        return tokenizer(texts, max_length)
    _check_max_length(max_length)
    ids = tokenizer(
        texts, add_special_tokens=False, truncation=True, max_length=max_length
    )["input_ids"]
    for i, row in enumerate(ids):
        if not row:  # e.g. only characters the tokenizer drops
            if tokenizer.unk_token_id is None:
                raise ValueError(f"texts[{i}] ({texts[i]!r:.60}) gives no tokens")
            row.append(tokenizer.unk_token_id)
    return pad_batch(ids, tokenizer.pad_token_id or 0)


def count_tokens(tokenizer: Any, texts: list[str]) -> list[int]:
    """Untruncated token counts with either kind of tokenizer (no special tokens)."""
    if isinstance(tokenizer, WordTokenizer):
        return tokenizer.token_lengths(texts)
    return [len(row) for row in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def save_tokenizer(tokenizer: Any, folder: str | os.PathLike) -> TokenizerKind:
    """Save either kind of tokenizer into ``folder``; returns its kind for the config."""
    kind = tokenizer_kind(tokenizer)
    if kind == "word":
        tokenizer.save(folder)
    else:
        tokenizer.save_pretrained(str(folder))
    return kind


def load_tokenizer(folder: str | os.PathLike, kind: TokenizerKind) -> Any:
    """Load a tokenizer written by :func:`save_tokenizer`.

    Raises:
        FileNotFoundError: if ``folder`` does not exist.
        ValueError: if ``kind`` is not ``"word"`` or ``"huggingface"``.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"tokenizer folder not found: {folder}")
    if kind == "word":
        return WordTokenizer.load(folder)
    if kind == "huggingface":
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(folder))
    raise ValueError(f"unknown tokenizer kind {kind!r}; expected 'word' or 'huggingface'")
