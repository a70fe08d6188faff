"""Training data: Hugging Face datasets, local files or Python lists -> rows of text columns."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import datasets

from textcl.data.files import FORMATS, read_table
from textcl.hub import both_readings_error, hub_errors, is_local_path, missing_local_path_error

__all__ = [
    "FILE_BUILDERS",
    "check_data_file",
    "check_text_columns",
    "folder_splits",
    "is_saved_dataset",
    "load_data",
    "load_local",
    "select_columns",
]

FILE_BUILDERS = {ext: fmt for ext, (fmt, _) in FORMATS.items()}  # extension -> format of the one reader


Columns = str | Sequence[str] | Mapping[str, str]


def load_data(source: Any, split: str = "train", columns: Columns | None = None,
              revision: str | None = None, token: str | bool | None = None, cache_folder: str | None = None,
              name: str | None = None, **load_kwargs: Any) -> datasets.Dataset:
    """Load training rows from almost anything.

    Args:
        source: a ``datasets.Dataset`` / ``DatasetDict``; a list of strings
            (one ``text`` column), of tuples (``text0``, ``text1``, ...) or of
            dicts; a local csv / tsv / json / jsonl / parquet / txt file or a
            folder of them; or a Hugging Face hub dataset repo id
            (``sentence-transformers/all-nli``). Local path or repo id is decided by
            :func:`textcl.hub.is_local_path`.
        split: which split to take from a ``DatasetDict`` or hub dataset.
        columns: the columns to keep, in the order the view reads them: a list,
            a comma-separated string, or a mapping ``{data column: new name}``
            (kept in the mapping's order and renamed); default: all.
        revision: branch, tag or commit of a hub dataset.
        token: hub token for private or gated datasets.
        cache_folder: ``datasets`` cache folder (``cache_dir``) for a hub dataset.
        name: the config of a hub dataset that has several (``sentence-transformers/all-nli``: ``pair``,
            ``triplet``, ``pair-class``, ``pair-score``); ``--data-config`` on the command line.
        **load_kwargs: passed to ``datasets.load_dataset``.

    Returns:
        A ``datasets.Dataset`` holding exactly the requested columns.

    Raises:
        FileNotFoundError: a local path that does not exist (no hub lookup is made).
        OSError: a repo id neither the hub nor the cache has; the message names both readings.
        ValueError: no config ``name`` for a hub dataset with several, or one it does not have (one line
            listing its configs); a ``name`` for data that is not a hub dataset.
    """
    hub = {k: v for k, v in (("revision", revision), ("token", token), ("cache_dir", cache_folder), ("name", name))
           if v is not None}
    ds = _load_any(source, split, load_kwargs, hub)
    if columns is not None:
        ds = select_columns(ds, columns)
    if len(ds) == 0:
        raise ValueError(f"the training data {source!r:.80} has no rows")
    return ds


def _load_any(source: Any, split: str, load_kwargs: dict[str, Any], hub: dict[str, Any]) -> datasets.Dataset:
    if "name" in hub and (not isinstance(source, (str, os.PathLike)) or is_local_path(os.fspath(source))):
        raise ValueError(f"a config name ({hub['name']!r}, --data-config) selects a config of a hub dataset; "
                         f"{source!r:.80} is not one: leave the config out")
    if isinstance(source, datasets.DatasetDict):
        return _pick_split(source, split, "the DatasetDict")
    if isinstance(source, datasets.Dataset):
        return source
    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("the training data is an empty list")
        first = source[0]
        if isinstance(first, str):
            return datasets.Dataset.from_dict({"text": list(source)})
        if isinstance(first, dict):
            return datasets.Dataset.from_list(list(source))
        if isinstance(first, (list, tuple)):
            width = len(first)
            bad = [i for i, r in enumerate(source) if len(r) != width]
            if bad:
                raise ValueError(f"rows have different lengths: row 0 has {width} items, row {bad[0]} "
                                 f"has {len(source[bad[0]])}")
            return datasets.Dataset.from_dict({f"text{j}": [r[j] for r in source] for j in range(width)})
        raise TypeError(f"list items must be str, tuple or dict, got {type(first).__name__}")
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"cannot load training data from a {type(source).__name__}")
    source = os.fspath(source)
    if not is_local_path(source):
        try:
            return datasets.load_dataset(source, split=split, **hub, **load_kwargs)
        except hub_errors() as err:
            raise both_readings_error(source, "the training data", err) from err
        except ValueError as err:
            problem = _config_problem(source, hub)
            if problem is None:
                raise
            raise ValueError(problem) from err
    return load_local(os.path.expanduser(source), split, load_kwargs.get("delimiter"))


def hub_config_names(repo_id: str, revision: str | None = None, token: str | bool | None = None,
                     cache_dir: str | None = None) -> list[str]:
    """The configs of a hub dataset: from the hub, or offline from those prepared in the ``datasets`` cache."""
    try:
        names = datasets.get_dataset_config_names(repo_id, revision=revision, token=token, cache_dir=cache_dir)
    except (*hub_errors(), ValueError):  # unreachable hub, unknown repo: the cache may still know it
        names = []
    if names and names != ["default"]:
        return list(names)
    from datasets.naming import camelcase_to_snakecase

    *namespace, dataset = repo_id.split("/")
    root = os.path.join(os.path.expanduser(str(cache_dir or datasets.config.HF_DATASETS_CACHE)),
                        "___".join([*namespace, camelcase_to_snakecase(dataset)]))
    cached = sorted(d for d in (os.listdir(root) if os.path.isdir(root) else [])
                    if any(os.path.isfile(os.path.join(root, d, v, h, "dataset_info.json"))
                           for v in _listdir(os.path.join(root, d)) for h in _listdir(os.path.join(root, d, v))))
    return cached or list(names)


def _listdir(path: str) -> list[str]:
    return os.listdir(path) if os.path.isdir(path) else []


def _config_problem(source: str, hub: dict[str, Any]) -> str | None:
    """One line saying which config to choose, when ``load_dataset`` failed over the config; else None."""
    names = hub_config_names(source, hub.get("revision"), hub.get("token"), hub.get("cache_dir"))
    name = hub.get("name")
    if name is None and len(names) > 1:
        return (f"{source} has {len(names)} configs: {', '.join(names)}; choose one with --data-config NAME "
                "(load_data(..., name=NAME); a datasets entry's 'config')")
    if name is not None and names and name not in names:
        return f"{source} has no config {name!r}; it has: {', '.join(names)}. Pass one of them with --data-config"
    return None


def is_saved_dataset(path: str) -> bool:
    """True when ``path`` is a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``."""
    return os.path.isdir(path) and any(os.path.isfile(os.path.join(path, f))
                                       for f in ("state.json", "dataset_dict.json"))


_SPLIT_NAMES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
                "val": "validation", "dev": "validation", "test": "test", "testing": "test", "eval": "test"}


def folder_splits(path: str) -> dict[str, list[str]]:
    """The data files of a folder by split, named as ``datasets`` names them (see :func:`load_local`)."""
    files = sorted(os.path.join(root, f) for root, _, names in os.walk(path) for f in names
                   if os.path.splitext(f)[1].lower() in FORMATS and not f.startswith("."))
    if not files:
        raise ValueError(f"{path} holds no data files ({', '.join(FORMATS)}) and is not a saved dataset")
    splits: dict[str | None, list[str]] = {}
    for f in files:
        stem = os.path.splitext(os.path.basename(f))[0].lower()
        name = next((v for k, v in _SPLIT_NAMES.items()
                     if stem == k or stem.startswith((k + "-", k + "_", k + "."))), None)
        splits.setdefault(name, []).append(f)
    if set(splits) == {None}:
        return {"train": splits[None]}
    splits.pop(None, None)
    return splits


def load_local(path: str, split: str = "train", delimiter: str | None = None) -> datasets.Dataset:
    """One split of local data: a file, a ``save_to_disk`` folder, or a folder of data files.

    A folder of files is split by file name as ``datasets`` does (``train*``, ``validation*`` /
    ``dev*``, ``test*``); with no such names every file belongs to ``train``. Every file is read by
    :func:`textcl.data.files.read_table`, so a folder obeys the same rules as one file.
    """
    if os.path.isfile(path):
        return read_table(path, delimiter)
    if is_saved_dataset(path):
        try:
            ds = datasets.load_from_disk(path)
        except Exception as err:  # a damaged Arrow file or state.json
            raise ValueError(f"{path} could not be read as a saved dataset: {_root_cause(err)}") from err
        return _pick_split(ds, split, path) if isinstance(ds, datasets.DatasetDict) else ds
    if os.path.isdir(path):
        splits = folder_splits(path)
        wanted = _SPLIT_NAMES.get(split, split)
        if wanted not in splits:
            raise ValueError(f"{path} has no split {split!r}; it has: {', '.join(splits)}")
        parts = [read_table(f, delimiter) for f in splits[wanted]]
        for f, part in zip(splits[wanted][1:], parts[1:]):
            if part.column_names != parts[0].column_names:
                raise ValueError(f"{f} has columns {', '.join(part.column_names)}, but {splits[wanted][0]} has "
                                 f"{', '.join(parts[0].column_names)}: every file of a split needs the same columns")
        return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
    raise missing_local_path_error(path, "training data")


def check_data_file(path: str, delimiter: str | None = None) -> None:
    """Read a local data file through the one reader and raise on the first problem, naming file and line."""
    read_table(path, delimiter)


def _root_cause(err: BaseException) -> str:
    while err.__cause__ is not None or err.__context__ is not None:
        err = err.__cause__ or err.__context__
    return f"{type(err).__name__}: {err}"


def _pick_split(dd: datasets.DatasetDict, split: str, where: str) -> datasets.Dataset:
    if split not in dd:
        raise ValueError(f"{where} has no split {split!r}; it has: {', '.join(dd)}")
    return dd[split]


def select_columns(ds: datasets.Dataset, columns: Columns) -> datasets.Dataset:
    """Keep ``columns`` in that order; a missing one is an error listing the columns present.

    A mapping ``{data column: new name}`` keeps its keys in order and renames them.
    """
    if isinstance(columns, Mapping):
        renamed = select_columns(ds, list(columns))
        return renamed.rename_columns({k: v for k, v in columns.items() if k != v})
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise ValueError(f"column(s) {', '.join(map(repr, missing))} not found; the data has: "
                         f"{', '.join(ds.column_names)}. Pass --columns with names from that list.")
    ds = ds.select_columns(list(columns))
    # select_columns keeps the dataset's order; views read columns positionally, so reorder.
    return datasets.Dataset.from_dict({c: ds[c] for c in columns}) if ds.column_names != list(columns) else ds


def check_text_columns(ds: datasets.Dataset, text_columns: Sequence[str]) -> None:
    """Raise a ``ValueError`` naming the first row whose text is missing, empty or not a string."""
    for col in text_columns:
        for i, value in enumerate(ds[col]):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"row {i}, column {col!r}: {value!r:.60} is not a non-empty string; "
                                 "clean or filter the data (e.g. ds.filter(...)) before training")
