"""Users' own evaluation tables: a Hugging Face dataset name or local data, as a DatasetDict."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["load_table"]


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
