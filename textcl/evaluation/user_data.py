"""Users' own evaluation tables: a Hugging Face dataset name or a local file, as a DatasetDict."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["load_table"]


def load_table(source: str | os.PathLike, name: str | None = None, **kwargs: Any) -> Any:
    """Load a Hugging Face dataset by name, or a local csv/tsv/json/jsonl/parquet file.

    Only reads what the user points at: a hub name needs a network connection
    (or the local Hugging Face cache), a local file never does.

    Args:
        source: hub name (``"sentence-transformers/stsb"``) or a file path.
        name: dataset configuration (hub datasets only).
        **kwargs: passed to :func:`datasets.load_dataset`.

    Returns:
        A :class:`datasets.DatasetDict` (a local file gives the split ``"train"``).

    Raises:
        FileNotFoundError: a path-like source that does not exist.
        ValueError: a local file with an unsupported extension.
    """
    import datasets  # heavy imports: only when user data is actually evaluated

    from textcl.data import FILE_BUILDERS

    path = Path(source).expanduser()
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix not in FILE_BUILDERS:
            raise ValueError(f"{path}: unsupported file type {suffix!r}; use one of "
                             f"{', '.join(sorted(FILE_BUILDERS))}")
        if suffix == ".tsv":
            kwargs.setdefault("delimiter", "\t")
        return datasets.load_dataset(FILE_BUILDERS[suffix], data_files=str(path), **kwargs)
    if path.suffix.lower() in FILE_BUILDERS or str(source).startswith((".", "/", "~")):
        raise FileNotFoundError(f"data file {path} does not exist")
    return datasets.load_dataset(str(source), name, **kwargs)
