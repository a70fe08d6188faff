"""Where a corpus's sentences come from: a text file, or a Hugging Face dataset column.

A source yields ``(line, text)`` rows in a fixed order, counts them, and
describes itself (:meth:`identity`) so that a resumed job can check it reads
the same input as the run it continues. Neither kind holds the corpus in
memory: a file is streamed, a dataset is an Arrow table memory-mapped from the
``datasets`` cache (a counting pass is needed anyway, because the output
``.npy`` is created at its final shape, so streaming mode buys nothing here).
"""

from __future__ import annotations

import os
from typing import Any, Iterator, Protocol

from textcl.data.files import count_text_rows, file_sha256, iter_text_rows

__all__ = ["CorpusSource", "TextFileSource", "DatasetSource"]

class CorpusSource(Protocol):
    """What :func:`textcl.corpus.encode_file` reads from."""

    description: str

    def identity(self) -> dict[str, Any]:
        """JSON-able facts that change when the input changes (compared on ``resume``)."""

    def iter_rows(self) -> Iterator[tuple[int, str]]:
        """``(line, text)`` for every kept row, in order."""

    def count(self) -> int:
        """Number of rows :meth:`iter_rows` yields (checks every row)."""


class TextFileSource:
    """Rows of a ``.txt`` / ``.jsonl`` / ``.csv`` / ``.tsv`` file (see :mod:`textcl.data.files`).

    Args:
        path: the file.
        text_col: column holding the text (jsonl, csv, tsv).
        skip_empty: drop empty rows instead of failing; lines are 1-based file lines.
    """

    def __init__(self, path: str, text_col: str = "text", skip_empty: bool = False) -> None:
        self.path = os.fspath(path)
        self.text_col = text_col
        self.skip_empty = skip_empty
        self.description = self.path

    def identity(self) -> dict[str, Any]:
        """Size and SHA-256 of the whole file (the path is recorded, not compared: a file may move)."""
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"input file {self.path} does not exist")
        return {"kind": "file", "size": os.path.getsize(self.path), "sha256": file_sha256(self.path),
                "text_col": self.text_col, "skip_empty": self.skip_empty}

    def iter_rows(self) -> Iterator[tuple[int, str]]:
        """Rows with 1-based file line numbers."""
        return iter_text_rows(self.path, self.text_col, self.skip_empty)

    def count(self) -> int:
        """Rows kept (reads and checks the whole file)."""
        return count_text_rows(self.path, self.text_col, self.skip_empty)


class DatasetSource:
    """One text column of a Hugging Face dataset: a hub/builder name, a local data folder or a saved dataset.

    ``name`` may be a folder written by ``Dataset.save_to_disk`` /
    ``DatasetDict.save_to_disk`` (read with ``datasets.load_from_disk``), or
    anything ``datasets.load_dataset`` accepts (a hub id, a local folder of data
    files, or a builder such as ``"parquet"`` with ``data_files``).

    Args:
        name: see above.
        split: the split to read (``train``, ``test[:1000]``, ...).
        column: the text column.
        skip_empty: drop empty/``None`` texts instead of failing; "lines" are then
            0-based dataset row indices.
        config: the dataset configuration name, if it has several.
        data_files: passed to ``load_dataset`` (e.g. for the ``parquet`` builder).
        chunk_rows: rows read from the Arrow table at a time.
    """

    def __init__(self, name: str, split: str = "train", column: str = "text", skip_empty: bool = False,
                 config: str | None = None, data_files: Any = None, chunk_rows: int = 8192) -> None:
        self.name = os.fspath(name)
        self.split = split
        self.column = column
        self.skip_empty = skip_empty
        self.config = config
        self.data_files = data_files
        self.chunk_rows = chunk_rows
        self.description = f"dataset {self.name!r} split {split!r} column {column!r}"
        self._dataset = None

    @property
    def dataset(self):
        """The ``datasets.Dataset`` (loaded on first use; memory-mapped Arrow)."""
        if self._dataset is None:
            self._dataset = self._load()
        return self._dataset

    def _load(self):
        import datasets

        from textcl.data.load import load_local
        from textcl.hub import is_local_path

        if self.data_files is None and is_local_path(self.name):
            ds = load_local(os.path.expanduser(self.name), self.split)
        else:
            try:
                ds = datasets.load_dataset(self.name, self.config, split=self.split, data_files=self.data_files)
            except ValueError as err:  # a bad split name: datasets says which exist
                raise ValueError(f"{self.description}: {err}") from err
        if self.column not in ds.column_names:
            raise ValueError(f"{self.description}: no column {self.column!r}; the dataset has: "
                             f"{', '.join(ds.column_names)}. Pick one with --column")
        return ds.select_columns([self.column])

    def identity(self) -> dict[str, Any]:
        """Name, split, column, row count and the dataset's content fingerprint."""
        ds = self.dataset
        return {"kind": "dataset", "name": self.name, "config": self.config, "split": self.split,
                "column": self.column, "skip_empty": self.skip_empty, "num_rows": len(ds),
                "fingerprint": getattr(ds, "_fingerprint", None)}

    def iter_rows(self) -> Iterator[tuple[int, str]]:
        """Rows with 0-based dataset row indices, read ``chunk_rows`` at a time."""
        ds = self.dataset
        for start in range(0, len(ds), self.chunk_rows):
            texts = ds[start:start + self.chunk_rows][self.column]
            for i, text in enumerate(texts, start=start):
                if isinstance(text, (int, float)) and not isinstance(text, bool):
                    text = str(text)  # a text column of numbers (see textcl.data.files)
                if text is not None and not isinstance(text, str):
                    raise ValueError(f"{self.description}: row {i} is {type(text).__name__} ({text!r:.40}), "
                                     "not a string")
                if not text or not text.strip():
                    if self.skip_empty:
                        continue
                    raise ValueError(f"{self.description}: row {i} is empty; remove empty rows or pass "
                                     "--skip-empty (the output then skips them and records the kept row indices)")
                yield i, text

    def count(self) -> int:
        """Rows kept (reads and checks the whole column)."""
        return sum(1 for _ in self.iter_rows())
