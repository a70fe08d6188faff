"""Teacher embeddings for distillation: a teacher model's vectors, or a precomputed ``.npy``, as a dataset column."""

from __future__ import annotations

import os
from typing import Any

import datasets
import numpy as np

from textcl.storage.read import read_npy

__all__ = ["add_teacher_embeddings"]


def add_teacher_embeddings(data: datasets.Dataset, teacher: Any = None, embeddings: str | os.PathLike | None = None,
                           text_column: str | None = None, label_column: str = "label",
                           batch_size: int = 256) -> datasets.Dataset:
    """The text column with the teacher's embedding of each row beside it, as ``DistillationView`` reads them.

    Give exactly one source: ``teacher``, anything with ``encode(list[str]) -> (n, d)`` array (a textcl
    :class:`~textcl.model.SentenceEncoder`, a sentence-transformers model) or a plain callable doing
    the same; or ``embeddings``, a ``.npy`` file of shape ``(rows, d)`` whose row ``i`` embeds row ``i``
    of ``data`` (e.g. written by ``textcl encode``). Train on the result with ``DistillationView()``
    and :class:`~textcl.losses.MSELoss`.

    Args:
        data: the texts.
        teacher: the teacher model (or an encode callable).
        embeddings: a precomputed ``.npy`` of the teacher's embeddings.
        text_column: the column holding the texts (default: the only column).
        label_column: the name of the new column.
        batch_size: texts per ``encode`` call.

    Returns:
        A dataset with two columns, ``text_column`` then ``label_column`` (float32 vectors).

    Raises:
        ValueError: no source or both, an unknown or ambiguous text column, a teacher or ``.npy``
            whose rows do not match the data's, non-finite teacher values.
    """
    if (teacher is None) == (embeddings is None):
        raise ValueError("give exactly one teacher source: teacher=MODEL (with encode()) or embeddings=FILE.npy")
    if text_column is None:
        if len(data.column_names) != 1:
            raise ValueError(f"the data has columns {', '.join(data.column_names)}: name the text one with "
                             "text_column=...")
        text_column = data.column_names[0]
    if text_column not in data.column_names:
        raise ValueError(f"text_column {text_column!r} is not a column of the data ({', '.join(data.column_names)})")
    if label_column == text_column:
        raise ValueError(f"label_column must differ from the text column {text_column!r}")
    texts = data[text_column]
    if embeddings is not None:
        vectors = np.asarray(read_npy(embeddings, mmap_mode="r"))
        source = os.fspath(embeddings)
    else:
        encode = teacher.encode if callable(getattr(teacher, "encode", None)) else teacher
        if not callable(encode):
            raise ValueError(f"teacher must have encode(list[str]) or be a callable, got {type(teacher).__name__}")
        parts = [np.asarray(encode(list(texts[i:i + batch_size]))) for i in range(0, len(texts), batch_size)]
        vectors = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
        source = "the teacher"
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise ValueError(f"{source} gives embeddings of shape {vectors.shape}, but the data has {len(texts)} rows: "
                         f"it needs one row per text, (rows, dim) = ({len(texts)}, dim)")
    vectors = vectors.astype(np.float32)
    if not np.isfinite(vectors).all():
        raise ValueError(f"{source} gives non-finite embeddings (row {int(np.argmin(np.isfinite(vectors).all(1)))})")
    return datasets.Dataset.from_dict({text_column: list(texts), label_column: list(vectors)})
