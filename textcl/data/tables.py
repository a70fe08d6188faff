"""Users' own evaluation tables: a Hugging Face dataset name, local data or Python lists, as a DatasetDict.

:func:`read_eval_table` reads the columns of one evaluation kind (:data:`EVAL_COLUMNS`):

* ``sts``: ``sentence1``, ``sentence2``, ``score`` (a number; any scale);
* ``triplet``: ``anchor``, ``positive``, ``negative``;
* ``retrieval``: ``query``, ``document``: each row is one relevant (query, document) pair; the corpus
  is every distinct document; a row with an empty query adds a document that no query finds relevant.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["EVAL_COLUMNS", "as_dataset_dict", "load_table", "read_eval_table"]

#: evaluation kind -> the columns its table must have
EVAL_COLUMNS: dict[str, tuple[str, ...]] = {"sts": ("sentence1", "sentence2", "score"),
                                            "triplet": ("anchor", "positive", "negative"),
                                            "retrieval": ("query", "document")}


def load_table(source: str | os.PathLike, name: str | None = None, **kwargs: Any) -> Any:
    """Load a Hugging Face dataset by name, or local data (a file, a folder, a ``save_to_disk`` folder).

    Local path or hub name is :func:`textcl.hub.is_local_path`'s rule; a local file is read by
    :mod:`textcl.data.files`, the reader every command uses.

    Args:
        source: hub name (``"sentence-transformers/stsb"``) or a local path.
        name: dataset configuration (hub datasets only).
        **kwargs: passed to :func:`datasets.load_dataset` for a hub name.

    Returns:
        A :class:`datasets.DatasetDict` (a local file gives the split ``"train"``).

    Raises:
        FileNotFoundError: a local path that does not exist.
        ValueError: a local file the reader refuses (named, with the fix).
    """
    import datasets  # heavy imports: only when user data is actually evaluated

    from textcl.data.load import folder_splits, is_saved_dataset, load_local
    from textcl.hub import both_readings_error, hub_errors, is_local_path, missing_local_path_error

    source = os.fspath(source)
    if is_local_path(source):
        path = os.path.expanduser(source)
        if not os.path.exists(path):
            raise missing_local_path_error(source, "data file")
        if is_saved_dataset(path):
            ds = datasets.load_from_disk(path)
            return ds if isinstance(ds, datasets.DatasetDict) else datasets.DatasetDict({"train": ds})
        if os.path.isfile(path):
            return datasets.DatasetDict({"train": load_local(path)})
        return datasets.DatasetDict({split: load_local(path, split) for split in folder_splits(path)})
    try:
        return datasets.load_dataset(source, name, **kwargs)
    except hub_errors() as err:
        raise both_readings_error(source, "the evaluation data", err) from err


def _is_columns(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(
        isinstance(v, (list, tuple)) or hasattr(v, "tolist") for v in value.values())


def as_dataset_dict(data: Any, name: str | None = None) -> Any:
    """``data`` as a :class:`datasets.DatasetDict`, whatever form it takes.

    Args:
        data: a ``DatasetDict`` or ``Dataset`` (the split ``"train"``); Python lists as a dict of columns
            (``{"sentence1": [...], "sentence2": [...], "score": [...]}``, the split ``"train"``) or a dict of
            splits of such dicts (``{"train": {...}, "test": {...}}``); else a hub name or local path
            (:func:`load_table`).
        name: dataset configuration (hub datasets only).

    Raises:
        ValueError: columns of different lengths, or a dict that is neither columns nor splits.
    """
    import datasets

    if isinstance(data, datasets.DatasetDict):
        return data
    if isinstance(data, datasets.Dataset):
        return datasets.DatasetDict({"train": data})
    if isinstance(data, Mapping):
        splits = {"train": data} if _is_columns(data) else dict(data)
        for split, table in splits.items():
            if hasattr(table, "column_names"):  # a dataset already (Dataset, IterableDataset)
                continue
            if not _is_columns(table):
                raise ValueError(f"split {split!r} is not a dict of columns (lists of equal length): pass "
                                 "{'sentence1': [...], ...} or {'train': {...}, 'test': {...}}")
            lengths = {k: len(v) for k, v in table.items()}
            if len(set(lengths.values())) != 1:
                raise ValueError(f"columns of different lengths {lengths}: pass one value per row in each")
            splits[split] = datasets.Dataset.from_dict({k: list(v.tolist() if hasattr(v, "tolist") else v)
                                                        for k, v in table.items()})
        return datasets.DatasetDict(splits)
    return load_table(data, name)


def read_eval_table(data: Any, kind: str, split: str | None = None, name: str | None = None) -> dict[str, list]:
    """The columns of one evaluation kind (see the module docstring), checked.

    Args:
        data: anything :func:`as_dataset_dict` takes (a file, a hub name, Python lists).
        kind: ``sts``, ``triplet`` or ``retrieval``.
        split: the split to read; default: ``"test"`` when there is one, else the only split.
        name: dataset configuration (hub datasets only).

    Returns:
        ``{column: values}``: texts as ``str`` (``None`` only for an empty retrieval query), scores as float.

    Raises:
        ValueError: an unknown kind, a missing split or column, an empty table, an empty text or a score
            that is not a number (the row named).
    """
    if kind not in EVAL_COLUMNS:
        raise ValueError(f"unknown evaluation kind {kind!r}: choose one of {', '.join(EVAL_COLUMNS)}")
    where = f"{data!s:.80}" if isinstance(data, (str, os.PathLike)) else "the data"
    dataset = as_dataset_dict(data, name)
    if split is None:
        split = "test" if "test" in dataset or len(dataset) != 1 else next(iter(dataset))
    if split not in dataset:
        raise ValueError(f"{where} has no split {split!r}; splits: {', '.join(dataset)}")
    table = dataset[split]
    wanted = EVAL_COLUMNS[kind]
    missing = [c for c in wanted if c not in table.column_names]
    if missing:
        raise ValueError(f"{where} lacks column(s) {', '.join(missing)} for --kind {kind} (it needs "
                         f"{', '.join(wanted)}); columns: {', '.join(table.column_names) or '(none)'}")
    if len(table) == 0:
        raise ValueError(f"{where} has no rows")
    out = {c: list(table[c]) for c in wanted}
    for column, values in out.items():
        for row, value in enumerate(values, start=1):
            if column == "score":
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                if not ok:
                    raise ValueError(f"{where}: row {row} has score {value!r}, not a number: fill it or drop the row")
                values[row - 1] = float(value)
            elif value is None or str(value) == "":
                if column == "query":  # a document no query finds relevant
                    values[row - 1] = None
                    continue
                raise ValueError(f"{where}: row {row} has an empty {column}: fill it or drop the row")
            else:
                values[row - 1] = str(value)
    return out
